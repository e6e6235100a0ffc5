"""The pre-publication check: ``pipeline.py check`` (read-only).

Staff run it before they hand in their figures and narrative. It reads the files as they
are now, validates and resolves them exactly as ``pipeline.py build`` would, and lists
every problem like a compiler does, grouped by file, with the line (or spreadsheet row)
to open and what to do::

    reports/2018/zh/_parts/employment_security.qmd
      3: error: number-contradicts: 城镇新增就业 is 148.9万人 in the data (2017 actual), but
         the text says 149.0万人; correct the figure ...

    2 errors (错误), 1 warning (警告): 1 number-contradicts, 1 fullwidth-shortcode, ...

A project that the check passes does not fail to build on input it could have seen: the
raw data (catalog, domain files, task lists and department submissions) goes through the
build's own validation (:func:`bpsreport.ingest.ingest_all`), the data variables and
generated parts are made from it in memory as the build's stage 3 makes them, and every
page and ``report.qmd`` is resolved for its target (HTML, Typst) by the build's resolver
(:mod:`bpsreport.resolution`). What only running the notebooks, pandoc or Typst can show
is not checked here.

:func:`run_checks` returns :class:`Finding` objects, :func:`format_findings` prints them
and :func:`blocks_publication` says whether any is an ``error`` (``pipeline.py check``
then exits with code 6, and ``pipeline.py build`` marks the edition as a draft). With
``department``, only what that department must fix is returned: its workbook, the
narrative files it edits and its tasks and figures (:func:`department_files`). The check
never writes anything into the project.

Findings (code: severity: what it means)
----------------------------------------
``data-invalid`` (error), ``indicator-no-source`` (error)
    A raw file does not validate, exactly as the build's data stage would refuse it: the
    message names the sheet, column, the value found and what was expected (a missing
    source is ``indicator-no-source``). ``given-twice``, ``not-reporting-department``
    (warnings): two workbooks give the same figure or status, or a department gives one
    another department reports (:mod:`bpsreport.submissions`).
``var-unknown`` (error), ``var-wrong-language`` (error)
    ``{{< var key >}}`` names no data variable, or a variable of the other language. The
    hint names the closest key and ``reports/<year>/VARIABLES.md`` (the list of every
    variable with its value, written by the build).
``figure-uncited`` (warning)
    A figure of the edition year (an indicator with an actual, a target or a completion
    rate) that no text of one language cites, neither the staff's nor a generated part
    they include. One finding per indicator and language, naming the department that
    reports it and the variable to use.
``lang-missing-file``, ``lang-missing-section``, ``lang-empty-section`` (errors)
    The Chinese and English sources mirror each other: files pair by their path below
    ``reports/<year>/<lang>/``; headings pair by their ``{#sec-…}`` id, headings without an
    id by their order; a section (the text up to the next heading, and the text before
    the first heading) that is empty in one language must be empty in the other.
``fullwidth-shortcode``, ``shortcode-malformed``, ``fullwidth-markup``, ``markup-space``,
``invisible-character``, ``unbalanced-emphasis``, ``unclosed-div``, ``heading-skipped`` (errors)
    Markup that would be published as literal text (typed full-width, pasted from Word):
    see :mod:`bpsreport.markup`.
``include-missing``, ``embed-missing``, ``xref-missing``, ``link-missing``,
``meta-unknown``, ``unsupported-syntax``, ``front-matter``, ``render-error`` (errors)
    The render stage's resolver refuses a page or ``report.qmd`` (the first problem of
    each document, at the file and line that causes it).
``number-typed`` (warning), ``number-contradicts`` (error)
    See *Typed numbers* below.
``task-no-status`` (error; warning for the first edition)
    A task of the edition year's task list has no status in the department submissions
    (as they are now). The first edition in ``config/edition.yml`` (the seed edition) was
    written before statuses were collected, so there a missing status is a warning.
``target-no-actual`` (warning), ``value-not-reported`` (warning)
    An indicator with a target but no actual in the edition year (one per indicator, at
    the submission row that should hold the actual or else the raw row of the target,
    naming the department that reports it); a submission row left empty for an indicator
    without a target.
``todo-left`` (error)
    A ``TODO`` marker in a file under ``reports/<year>/`` or in the ``<year>`` entry of
    ``config/edition.yml``.
``file-encoding`` (error)
    A ``.qmd`` file that is not UTF-8.
``edition-missing``, ``edition-config`` (errors)
    There is no ``reports/<year>/``, or ``config/edition.yml`` has no valid entry for the
    year (the data variables are then checked without the ``edition.*`` keys).

Typed numbers
-------------
Narrative text is what is left of a source after removing YAML front matter, code,
comments, shortcodes, attributes (``{#sec-…}``), cross-references, links and HTML. In it,
a number counts only when a unit the catalog knows follows it (``148.9万人``,
``1.489 million people``, ``92.1%``); years, list and section numbers and task numbers
carry no unit and so are never findings. Numbers after words of change (增加, 提高,
``up by`` …) are differences, not figures, and are skipped.

- ``number-typed``: the number and unit equal a value that a variable of that language
  provides (values are compared as each edition prints them, so the Chinese 148.9万人 and
  the English 1.489 million people both match). The finding names the variable to use.
  A value shared by more than two indicators (100%) is only reported when one of them is
  mentioned in the same sentence.
- ``number-contradicts``: the sentence names an indicator (its catalog name), the number
  follows that name (or, when no name comes before it, precedes the next one) with no
  other figure in that indicator's unit in between (a cited variable is such a figure),
  and the number equals none of the indicator's values in any year, not even rounded to
  the digits typed (149万人 is 148.9万人 rounded, 149.0万人 is not). Numbers qualified as
  approximate or as bounds (约, 超过, 不低于, ``about``, ``more than`` …) and sentences about
  the previous year (上年, ``a year earlier``) are never contradictions.

Examples
--------
>>> findings = run_checks(Path("."), 2017)                    # doctest: +SKIP
>>> print(format_findings(findings))                           # doctest: +SKIP
No problems found (没有发现问题).
>>> blocks_publication(findings)                               # doctest: +SKIP
False
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import yaml

from .errors import PipelineError
from .variables import REFERENCE_FILE  # reports/<year>/VARIABLES.md, written by the build
from .variables import RESERVED as RESERVED_KEYS  # keys under y<year> that are not indicators
from bpsreport import yamlio

ERROR, WARNING = "error", "warning"
SEVERITIES = (ERROR, WARNING)
LANGS = ("zh", "en")
LANG_NAMES = {"zh": "Chinese", "en": "English"}
GENERATED_DIR = "_generated"
EDITION_CONFIG = Path("config") / "edition.yml"
NO_STATUS = "no_status"
STATUS_WORDS = ("completed 已完成 / in_progress 推进中 / not_started 未启动 / "
                "not_applicable 不适用")
# Fields of an indicator variable that hold a figure (name and status hold words).
FIGURE_FIELDS = ("actual", "target_amount", "target", "completion")
# The department that compiles the report edits the parts that are not a domain's.
COMPILING_DEPARTMENT = "finance"


class UnknownDepartment(PipelineError):
    """``--department`` names no department of the catalog."""

    exit_code = 2


@dataclass(frozen=True)
class Finding:
    """One problem: where it is, how serious, a short code and what to do about it.

    ``path`` is relative to the project root; ``line`` is 1-based (a spreadsheet row for
    data files) or ``None`` when the finding concerns the whole file. ``departments`` are
    the departments the finding concerns beyond the file's own (a figure they report).
    """

    path: str
    line: int | None
    severity: str
    code: str
    message: str
    departments: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, not {self.severity!r}")

    @property
    def location(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"

    def __str__(self) -> str:
        return f"{self.location}: {self.severity}: {self.code}: {self.message}"


def _sort_key(f: Finding) -> tuple:
    return (f.path, f.line or 0, SEVERITIES.index(f.severity), f.code, f.message)


def blocks_publication(findings: Iterable[Finding]) -> bool:
    """True when any finding is an error (warnings never block publication)."""
    return any(f.severity == ERROR for f in findings)


def count_line(findings: Iterable[Finding]) -> str:
    """``2 errors (错误), 1 warning (警告): 2 var-unknown, 1 figure-uncited. …``"""
    findings = list(findings)
    errors = sum(f.severity == ERROR for f in findings)
    warnings = len(findings) - errors
    kinds = Counter(f.code for f in findings)
    per_kind = ", ".join(f"{n} {code}" for code, n in sorted(kinds.items(), key=lambda x: (-x[1], x[0])))
    tail = ("Errors block publication: fix them and run the check again."
            if errors else "Warnings do not block publication.")
    return (f"{errors} error{'s' if errors != 1 else ''} (错误), "
            f"{warnings} warning{'s' if warnings != 1 else ''} (警告): {per_kind}. {tail}")


def format_findings(findings: Iterable[Finding], *, errors_only: bool = False) -> str:
    """The findings grouped by file, sorted by line, then one line counting each kind.

    With ``errors_only`` the warnings are left out of the list (not out of the count).

    >>> print(format_findings([Finding("a.qmd", 3, "warning", "figure-uncited", "…")]))
    a.qmd
      3: warning: figure-uncited: …
    <BLANKLINE>
    0 errors (错误), 1 warning (警告): 1 figure-uncited. Warnings do not block publication.
    """
    findings = sorted(findings, key=_sort_key)
    if not findings:
        return "No problems found (没有发现问题)."
    lines: list[str] = []
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.severity == ERROR or not errors_only:
            by_file[f.path].append(f)
    for path, own in by_file.items():
        lines.append(path)
        data_file = path.endswith((".xlsx", ".csv"))
        for f in own:
            where = "" if f.line is None else (f"row {f.line}: " if data_file else f"{f.line}: ")
            lines.append(f"  {where}{f.severity}: {f.code}: {f.message}")
        lines.append("")
    return "\n".join([*lines, count_line(findings)])


# --- the edition's data, read once from data/raw ------------------------------------------------

@dataclass
class _Figure:
    """One figure a variable prints, parsed back: ``148.9万人`` → 148.9, ``万人``."""

    key: str
    indicator: str
    field: str
    year: int
    value: float
    decimals: int
    unit: str
    text: str


@dataclass
class _Data:
    """What the build would make of ``data/raw`` and ``config`` now, held in memory."""

    root: Path
    year: int
    unit_id: str
    catalog: object | None = None              # bpsreport.catalog.Catalog
    nested: dict | None = None                 # the variables as _variables.yml would hold them
    variables: dict[str, str] | None = None    # flat key -> text
    assessment: pd.DataFrame | None = None
    observations: pd.DataFrame | None = None
    tasks: pd.DataFrame | None = None          # the edition year's own task list
    task_status: pd.DataFrame | None = None
    tables: dict[int, dict] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    # Key prefixes whose variables could not be computed, so citing them is not an error.
    unverifiable: list[str] = field(default_factory=list)
    parts: dict[str, dict[str, str]] = field(default_factory=dict)  # generated parts by language

    def rel(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


def run_checks(root: Path | str, year: int, *, unit_id: str | None = None,
               department: str | None = None,
               data_cache: tuple[Path, str] | None = None) -> list[Finding]:
    """Check one edition before publication; see the module docstring for every finding.

    Parameters
    ----------
    root
        The project folder.
    year
        The summary year of the edition (``reports/<year>/``).
    unit_id
        The report unit; by default the edition's ``unit_id`` in ``config/edition.yml``,
        else the catalog's default unit.
    department
        A department id: keep only what that department must fix (:func:`department_files`).
    data_cache
        ``(file, key)``: keep what the data says in ``file`` between runs, valid while
        ``key`` (a digest of data/raw, config/, templates/ and the code) stays the same
        (:func:`_load_data_cached`). The build passes one, so that a narrative edit does
        not read data/raw again.

    Returns
    -------
    list of Finding
        Sorted by file and line. Nothing is written anywhere (but ``data_cache``).
    """
    from .markup import markup_problems

    root = Path(root)
    year = int(year)
    data = _load_data(root, year, unit_id) if data_cache is None else \
        _load_data_cached(root, year, unit_id, *data_cache)
    findings = list(data.findings)
    sources, unreadable = _read_sources(root, year)
    findings += unreadable
    if not sources and not unreadable:
        findings.append(Finding(f"reports/{year}", None, ERROR, "edition-missing",
                                f"there is no reports/{year}/zh/ or reports/{year}/en/; start the "
                                f"edition with `pipeline.py new-year {year}`"))
    for src in sources:
        findings += [Finding(src.rel, p.line, ERROR, p.code, p.message)
                     for p in markup_problems(src.lines, body_start=src.body_start)]
    findings += _check_mirror(sources)
    findings += _check_variables(data, sources)
    findings += _check_numbers(data, sources)
    findings += _check_todo(root, year)
    findings += _check_targets(data, _submission_rows(data))
    findings += _check_task_status(data)
    if sources:
        findings += _check_resolution(data, findings)
    refused = {(f.path, f.line) for f in data.findings if f.code == "data-invalid"}
    findings = [f for f in findings if not (f.code == "task-no-status" and (f.path, f.line) in refused)]
    findings = sorted(set(findings), key=_sort_key)
    if department:
        findings = for_department(findings, data, department)
    return findings


def _edition_entry(root: Path, year: int) -> tuple[dict | None, int | None]:
    """The ``editions.<year>`` entry of config/edition.yml and the first edition's year."""
    try:
        config = yamlio.safe_load((root / EDITION_CONFIG).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None, None
    editions = config.get("editions") if isinstance(config, dict) else None
    if not isinstance(editions, dict):
        return None, None
    years = sorted(int(y) for y in editions if str(y).isdigit())
    entry = editions.get(year, editions.get(str(year)))
    return (entry if isinstance(entry, dict) else None), (years[0] if years else None)


def _problem_finding(problem) -> Finding:
    """An ingestion problem (:class:`bpsreport.errors.InputProblem`) as a finding."""
    where = ", ".join(x for x in (problem.sheet and f"sheet {problem.sheet}",
                                  problem.column and f"column {problem.column}") if x)
    found = "" if problem.found is None else f"found {problem.found!r}; "
    code = "indicator-no-source" if problem.column == "source" else "data-invalid"
    return Finding(problem.file, problem.row, ERROR, code,
                   f"{where + ': ' if where else ''}{found}expected {problem.expected}")


# The inputs of what `check` makes of the data (besides data/raw): path prefixes of the
# files in the fingerprint (_check_fingerprint) that the data half reads.
_DATA_INPUT_PREFIXES = ("config/", "templates/", "bpsreport/")


def _load_data_cached(root: Path, year: int, unit_id: str | None, cache: Path, key: str) -> _Data:
    """:func:`_load_data`, kept in ``cache`` (a pickle in the build folder, which only the
    pipeline writes) while ``key`` stays the same: a narrative edit is then checked
    without reading and validating every raw file again."""
    import pickle

    try:
        with open(cache, "rb") as fh:
            saved_key, data = pickle.load(fh)
        if saved_key == key and isinstance(data, _Data):
            data.root = root
            return data
    except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ValueError, TypeError):
        pass
    data = _load_data(root, year, unit_id)
    from .clean_store import write_bytes_atomic

    try:
        write_bytes_atomic(Path(cache), pickle.dumps((key, data), protocol=pickle.HIGHEST_PROTOCOL))
    except (OSError, pickle.PicklingError):
        pass  # the check still ran; it is only slower next time
    return data


def _load_data(root: Path, year: int, unit_id: str | None) -> _Data:
    """Catalog, validated raw data, variables and generated parts, as the build makes them."""
    from .catalog import load_catalog
    from .errors import InputValidationError, PipelineError
    from .ingest import discover_editions, ingest_all, ingest_edition
    from .progress import StatusRules, assess_observations

    data = _Data(root=root, year=year, unit_id=unit_id or "")
    raw = root / "data" / "raw"
    entry, _ = _edition_entry(root, year)
    try:
        data.catalog = load_catalog(raw, root=root)
    except InputValidationError as exc:
        data.findings += [_problem_finding(p) for p in exc.problems]
        data.unverifiable.append("")  # nothing can be checked against the data
    except (OSError, PipelineError) as exc:
        data.findings.append(Finding("data/raw/catalog", None, ERROR, "data-invalid", str(exc)))
        data.unverifiable.append("")
    if not data.unit_id:
        if entry and entry.get("unit_id"):
            data.unit_id = str(entry["unit_id"])
        elif data.catalog is not None:
            data.unit_id = data.catalog.default_unit
        else:
            data.unit_id = "gd-province"
    if data.catalog is None:
        return data

    try:
        results = ingest_all(raw, data.catalog, root=root)
    except InputValidationError as exc:
        data.findings += [_problem_finding(p) for p in exc.problems]
        # Check the text against every year that does validate on its own.
        results = {}
        for key in discover_editions(raw):
            if key[0] != data.unit_id:
                continue
            try:
                results[key] = ingest_edition(raw, data.catalog, *key, root=root)
            except InputValidationError:
                data.unverifiable.append(f"y{key[1]}.")
        if f"y{year}." in data.unverifiable:
            # The task list and the statuses that do validate still tell which tasks
            # have none; the figures of the year are not used (see _structurally_unknown).
            partial = _partial_edition(raw, data.catalog, data.unit_id, year, root)
            data.tasks, data.task_status = partial.tasks, partial.task_status
    for result in results.values():
        for w in result.warnings:
            data.findings.append(Finding(w.file, w.row, WARNING, w.code, w.message,
                                         departments=tuple(w.departments)))
    rules = StatusRules.from_config(root / "config" / "status.yml")
    for (unit, y), result in sorted(results.items()):
        if unit != data.unit_id or y > year + 1 or not len(result.observations):
            continue
        data.tables[y] = {"assessment": assess_observations(result.observations, rules),
                          "tasks": result.tasks, "task_status": result.task_status,
                          "observations": result.observations}
    own = results.get((data.unit_id, year))
    if own is not None:
        data.observations = own.observations
        data.tasks, data.task_status = own.tasks, own.task_status
    if year in data.tables:
        data.assessment = data.tables[year]["assessment"]
    elif not any(p in ("", f"y{year}.") for p in data.unverifiable):
        data.findings.append(Finding(
            f"data/raw/observations/{data.unit_id}/{year}", None, ERROR, "data-missing",
            f"there is no figure for {data.unit_id} {year} in data/raw/ (domain files or "
            f"department submissions in data/raw/submissions/{data.unit_id}/{year}/), so the "
            f"{year} edition cannot be built"))
    _compute_variables(data, entry)
    _generate_parts(data)
    return data


def _partial_edition(raw: Path, catalog, unit_id: str, year: int, root: Path):
    """One unit-year as ingestion reads it, with the rows that failed left out."""
    from .errors import ProblemCollector
    from .ingest import _ingest_edition

    return _ingest_edition(raw, catalog, unit_id, year, root, ProblemCollector())


def _compute_variables(data: _Data, entry: dict | None) -> None:
    """The edition's variables, as the build would write them to ``_variables.yml``."""
    from .progress import StatusRules
    from .variables import EditionConfigError, flatten, load_edition, variables_from_tables

    root, year = data.root, data.year
    edition = None
    try:
        edition = load_edition(root / EDITION_CONFIG, year)
    except (EditionConfigError, yaml.YAMLError, OSError) as exc:
        problem = str(exc).replace(str(root / EDITION_CONFIG), "").lstrip(": ")
        data.findings.append(Finding(
            EDITION_CONFIG.as_posix(), _yaml_line(exc), ERROR, "edition-config",
            f"the {year} edition's details cannot be read: {problem}"))
        data.unverifiable.append("edition.")
    tables = {y: t for y, t in data.tables.items() if len(t["assessment"])}
    if year not in tables:
        return
    try:
        data.nested = variables_from_tables(
            tables, data.catalog, data.unit_id, edition=edition, edition_year=year,
            rules=StatusRules.from_config(root / "config" / "status.yml"))
    except (ValueError, KeyError) as exc:
        data.findings.append(Finding(EDITION_CONFIG.as_posix(), None, ERROR, "edition-config",
                                     f"the {year} edition's details cannot be used: {exc}"))
        data.unverifiable.append("edition.")
        data.nested = variables_from_tables(
            tables, data.catalog, data.unit_id, edition=None, edition_year=year,
            rules=StatusRules.from_config(root / "config" / "status.yml"))
    data.variables = flatten(data.nested)


def _generate_parts(data: _Data) -> None:
    """The edition's ``_generated/`` parts, as the build's stage 3 would write them."""
    from .generate import render_parts

    if data.year not in data.tables:
        return
    frames = [t["observations"] for y, t in sorted(data.tables.items()) if y <= data.year]
    following = data.tables.get(data.year + 1)
    if following is not None:
        frames.append(following["observations"][following["observations"]["measure"] == "target"])
    observations = pd.concat(frames, ignore_index=True)
    previous = data.tables.get(data.year - 1, {}).get("assessment")
    for lang in LANGS:
        try:
            data.parts[lang] = render_parts(
                following["tasks"] if following is not None else None, observations, data.catalog,
                unit_id=data.unit_id, year=data.year, lang=lang, status_tasks=data.tasks,
                task_status=data.task_status, assessment=data.assessment,
                previous_assessment=previous)
        except ValueError as exc:
            data.findings.append(Finding(f"data/raw/tasks/{data.unit_id}", None, ERROR,
                                         "data-invalid", f"the task lists cannot be printed: {exc}"))
            return


def _yaml_line(exc: Exception) -> int | None:
    mark = getattr(exc, "problem_mark", None)
    return mark.line + 1 if mark is not None else None


# --- what the render stage would refuse ----------------------------------------------------------

def _check_resolution(data: _Data, earlier: list[Finding]) -> list[Finding]:
    """Every page and report.qmd resolved by the build's resolver (bpsreport.resolution)."""
    from .resolution import resolve_edition

    if data.catalog is None:
        return []
    problems = resolve_edition(data.root, data.unit_id, data.year, catalog=data.catalog,
                               variables=data.nested, parts=data.parts)
    # The same problem found by a line check already, with a better message: keep that one.
    known = {(f.path, f.line) for f in earlier if f.severity == ERROR}
    out = []
    for p in problems:
        if (p.path, p.line) in known:
            continue
        # A title citing a variable is a front-matter problem of the same kind.
        unknown_var = p.code == "var-unknown" or (
            p.code == "front-matter" and "no single value in _variables.yml" in p.message)
        if unknown_var and (data.variables is None or any(
                u and u in p.message for u in data.unverifiable) or "" in data.unverifiable):
            continue  # the data could not be read: reported as such
        message = p.message
        if p.code == "var-unknown":
            message += f" (every variable with its value: reports/{data.year}/VARIABLES.md)"
        out.append(Finding(p.path, p.line, ERROR, p.code, message))
    return out


# --- the build's question: is the edition still a draft? ------------------------------------

CHECK_STATE = "check-state.json"
CHECK_DATA_CACHE = "check-data.pickle"  # beside the state file: what the data said (_load_data_cached)
# What a check reads besides data/raw (hashed by bpsreport.build.raw_state): a change to
# any of these can change its findings.
_CHECK_INPUTS = (("reports", "**/*.qmd"), ("config", "*.yml"), ("templates", "**/*"),
                 ("notebooks", "*.ipynb"), (".", "_quarto*.yml"), ("bpsreport", "**/*.py"))


def _check_fingerprint(root: Path, year: int, unit_id: str | None) -> dict:
    import hashlib

    from .build import raw_state
    from .paths import ProjectPaths

    files = {}
    for folder, pattern in _CHECK_INPUTS:
        for path in sorted((root / folder).glob(pattern)):
            if path.is_file() and GENERATED_DIR not in path.parts and "__pycache__" not in path.parts:
                files[path.relative_to(root).as_posix()] = hashlib.sha256(path.read_bytes()).hexdigest()
    return {"year": int(year), "unit_id": unit_id or "", "raw": raw_state(ProjectPaths.at(root)),
            "files": files}


def run_checks_cached(root: Path | str, year: int, *, unit_id: str | None,
                      state_file: Path) -> list[Finding]:
    """:func:`run_checks`, or its stored result when none of its inputs changed.

    The build asks this at every run (is the edition a draft?); an unchanged project then
    costs a few file hashes instead of a full check.
    """
    import json

    root = Path(root)
    fingerprint = _check_fingerprint(root, year, unit_id)
    try:
        saved = json.loads(Path(state_file).read_text(encoding="utf-8"))
        if saved.get("inputs") == fingerprint:
            return [Finding(f["path"], f["line"], f["severity"], f["code"], f["message"],
                            tuple(f.get("departments") or ())) for f in saved["findings"]]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    import hashlib
    import sys

    data_key = hashlib.sha256(json.dumps(
        [sys.version, fingerprint["year"], fingerprint["unit_id"], fingerprint["raw"],
         {k: v for k, v in fingerprint["files"].items() if k.startswith(_DATA_INPUT_PREFIXES)}],
        sort_keys=True, default=str).encode()).hexdigest()
    findings = run_checks(root, year, unit_id=unit_id,
                          data_cache=(Path(state_file).with_name(CHECK_DATA_CACHE), data_key))
    from .clean_store import write_json_atomic

    Path(state_file).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(state_file), {"inputs": fingerprint, "findings": [
        {"path": f.path, "line": f.line, "severity": f.severity, "code": f.code,
         "message": f.message, "departments": list(f.departments)} for f in findings]})
    return findings


# --- who must fix what -------------------------------------------------------------------------

def department_files(data: _Data, department: str) -> set[str]:
    """The files a department owns: its workbook and the narrative parts of its domains.

    A domain's part ``_parts/<domain_id>.qmd`` (both languages) belongs to the domain's
    lead departments; every other part and page belongs to the compiling department
    (省财政厅, which also leads the cross-cutting part).
    """
    from .catalog import split_list

    files = {f"data/raw/submissions/{data.unit_id}/{data.year}/{department}.xlsx"}
    catalog = data.catalog
    domains = set()
    if catalog is not None:
        domains = {str(d) for d, leads in catalog.domains["lead_departments"].items()
                   if department in split_list(leads)}
    base = data.root / "reports" / str(data.year)
    for path in (base.rglob("*.qmd") if base.is_dir() else []):
        rel = path.relative_to(data.root).as_posix()
        if GENERATED_DIR in path.parts:
            continue
        if path.parent.name == "_parts" and path.stem in (catalog.domains.index if catalog is not None else ()):
            if path.stem in domains:
                files.add(rel)
        elif department == COMPILING_DEPARTMENT:
            files.add(rel)
    if department == COMPILING_DEPARTMENT:
        files.add(EDITION_CONFIG.as_posix())
    return files


def for_department(findings: list[Finding], data: _Data, department: str) -> list[Finding]:
    """The findings a department must act on (see :func:`department_files`)."""
    if data.catalog is not None and department not in data.catalog.departments.index:
        raise UnknownDepartment(f"unknown department {department!r}; expected one of "
                                + ", ".join(data.catalog.departments.index))
    files = department_files(data, department)
    return [f for f in findings if f.path in files or department in f.departments]

# --- the .qmd sources -------------------------------------------------------------------------

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_HEADING = re.compile(r"^(#{1,6})[ \t]+(.*?)[ \t]*$")
_ATTRS = re.compile(r"\{([^{}]*)\}\s*$")
_ID = re.compile(r"#([\w:.-]+)")
_DIV_FENCE = re.compile(r"^\s*:{3,}")
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
_VAR = re.compile(r"(?<!\{)\{\{<\s*var\s+([^\s>]+)\s*>\}\}(?!\})")
_INCLUDE = re.compile(r"(?<!\{)\{\{<\s*include\s+([^\s>]+)\s*>\}\}(?!\})")


@dataclass
class _Heading:
    line: int            # 1-based
    level: int
    title: str
    anchor: str | None   # the {#id}, if any


@dataclass
class _Source:
    """One .qmd file: its raw lines and the same lines with code and comments blanked."""

    path: Path
    rel: str             # relative to the root
    key: str             # relative to reports/<year>/<lang>/
    lang: str
    lines: list[str]
    code_free: list[str]
    body_start: int      # 0-based index of the first line after the front matter
    headings: list[_Heading] = field(default_factory=list)


def _read_sources(root: Path, year: int) -> tuple[list[_Source], list[Finding]]:
    sources, findings = [], []
    for lang in LANGS:
        base = root / "reports" / str(year) / lang
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.qmd")):
            key = path.relative_to(base).as_posix()
            if GENERATED_DIR in key.split("/") or any(p.startswith(".") for p in key.split("/")):
                continue
            try:
                sources.append(_parse_source(path, root, key, lang))
            except UnicodeDecodeError:
                findings.append(Finding(path.relative_to(root).as_posix(), None, ERROR,
                                        "file-encoding", "this file is not UTF-8 text; save it "
                                        "as UTF-8 (编码: UTF-8) and run the check again"))
    return sources, findings


def _parse_source(path: Path, root: Path, key: str, lang: str) -> _Source:
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    body_start = 0
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                body_start = i + 1
                break
    code_free = _blank_code(lines)
    source = _Source(path, path.relative_to(root).as_posix(), key, lang, lines, code_free, body_start)
    for i in range(body_start, len(lines)):
        m = _HEADING.match(code_free[i])
        if not m:
            continue
        text = m.group(2)
        anchor = None
        attrs = _ATTRS.search(text)
        if attrs:
            found = _ID.search(attrs.group(1))
            anchor = found.group(1) if found else None
            text = text[:attrs.start()]
        source.headings.append(_Heading(i + 1, len(m.group(1)), text.strip().rstrip("#").strip(), anchor))
    return source


def _blank_code(lines: list[str]) -> list[str]:
    """The lines with fenced code, code spans and HTML comments replaced by spaces."""
    out, fence = [], None
    for line in lines:
        m = _FENCE.match(line)
        if fence is not None:
            out.append(" " * len(line))
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            out.append(" " * len(line))
            continue
        out.append(_CODE_SPAN.sub(lambda s: " " * len(s.group(0)), line))
    text = "\n".join(out)
    text = re.sub(r"<!--.*?(-->|$)", lambda m: re.sub(r"[^\n]", " ", m.group(0)), text, flags=re.S)
    return text.split("\n") if lines else []


def _pairs(sources: list[_Source]) -> dict[str, dict[str, _Source]]:
    by_key: dict[str, dict[str, _Source]] = defaultdict(dict)
    for s in sources:
        by_key[s.key][s.lang] = s
    return by_key


# --- mirror: the two languages have the same files, sections and filled sections --------------

@dataclass
class _Section:
    ident: str            # "#sec-x", "position 3" or "top"
    label: str            # how a message names it
    line: int
    has_text: bool


def _sections(source: _Source) -> list[_Section]:
    """The text before the first heading, then every heading with its own text."""
    bounds = [h.line - 1 for h in source.headings] + [len(source.lines)]
    sections = [_Section("top", "the text before the first heading", source.body_start + 1,
                         _has_text(source, source.body_start, bounds[0]))]
    position = 0
    for i, h in enumerate(source.headings):
        if h.anchor:
            ident, label = f"#{h.anchor}", f"«{h.title}» {{#{h.anchor}}}"
        else:
            position += 1
            ident, label = f"position {position}", f"«{h.title}» (heading {position} without an id)"
        sections.append(_Section(ident, label, h.line, _has_text(source, h.line, bounds[i + 1])))
    return sections


def _has_text(source: _Source, start: int, stop: int) -> bool:
    return any(line.strip() and not _DIV_FENCE.match(line) for line in source.code_free[start:stop])


def _check_mirror(sources: list[_Source]) -> list[Finding]:
    findings = []
    for key, pair in sorted(_pairs(sources).items()):
        if len(pair) == 1:
            (lang, src), = pair.items()
            other = "en" if lang == "zh" else "zh"
            expected = src.rel.replace(f"/{lang}/", f"/{other}/", 1)
            findings.append(Finding(src.rel, 1, ERROR, "lang-missing-file",
                                    f"this file has no {LANG_NAMES[other]} counterpart {expected}; "
                                    f"write it (same headings and section ids) or remove this one"))
            continue
        sections = {lang: _sections(src) for lang, src in pair.items()}
        index = {lang: {s.ident: s for s in secs} for lang, secs in sections.items()}
        for lang in LANGS:
            other = "en" if lang == "zh" else "zh"
            for sec in sections[lang]:
                twin = index[other].get(sec.ident)
                if twin is None:
                    findings.append(Finding(
                        pair[lang].rel, sec.line, ERROR, "lang-missing-section",
                        f"section {sec.label} is missing in the {LANG_NAMES[other]} file "
                        f"{pair[other].rel}; add it there (with the same id) or remove it here"))
                elif not sec.has_text and twin.has_text:
                    findings.append(Finding(
                        pair[lang].rel, sec.line, ERROR, "lang-empty-section",
                        f"{sec.label} has no text in {LANG_NAMES[lang]}, but the "
                        f"{LANG_NAMES[other]} version has ({pair[other].rel}:{twin.line}); "
                        f"write the {LANG_NAMES[lang]} text"))
    return findings



# --- data variables ---------------------------------------------------------------------------

def _citations(sources: Iterable[_Source]) -> list[tuple[_Source, int, str]]:
    return [(src, i + 1, m.group(1)) for src in sources
            for i, line in enumerate(src.code_free) for m in _VAR.finditer(line)]


def _generated_citations(data: _Data, sources: list[_Source], lang: str) -> set[str]:
    """Variables cited by the generated parts that the staff's files of a language include."""
    included = {Path(m.group(1)).name for src in sources if src.lang == lang
                for line in src.code_free for m in _INCLUDE.finditer(line)
                if GENERATED_DIR in m.group(1)}
    keys: set[str] = set()
    for name, text in data.parts.get(lang, {}).items():
        if name in included:
            keys.update(m.group(1) for m in _VAR.finditer(text))
    return keys


_FIELDS = ("name", "actual", "target", "target_amount", "completion", "status")


def _structurally_unknown(data: _Data, key: str, lang: str) -> str | None:
    """The message for a key that can be no indicator variable whatever the data holds
    (an indicator id or field that does not exist), else None. Used for years whose data
    does not validate yet, where the variables themselves cannot be computed."""
    m = _INDICATOR_KEY.match(key)
    if m is None or data.catalog is None or m.group(2) in RESERVED_KEYS:
        return None
    indicator, fld = m.group(2), m.group(3)
    known = list(data.catalog.indicators.index)
    if indicator in known and fld in _FIELDS:
        return None
    fixed_ind = indicator if indicator in known else next(
        iter(difflib.get_close_matches(indicator, known, n=1, cutoff=0.75)), None)
    fixed_fld = fld if fld in _FIELDS else next(iter(difflib.get_close_matches(fld, _FIELDS, n=1)), None)
    hint = (f"; did you mean y{m.group(1)}.{fixed_ind}.{fixed_fld}.{m.group(4)}?"
            if fixed_ind and fixed_fld else "; check the spelling")
    return (f"there is no data variable {key}: "
            + (f"no indicator {indicator} in the catalog" if indicator not in known
               else f"no field {fld} (fields: {', '.join(_FIELDS)})")
            + f"{hint} (every variable with its value: reports/{data.year}/VARIABLES.md, "
            "written by the build)")


def _check_variables(data: _Data, sources: list[_Source]) -> list[Finding]:
    findings = []
    if data.variables is None:
        for src, line, key in _citations(sources):
            message = _structurally_unknown(data, key, src.lang)
            if message:
                findings.append(Finding(src.rel, line, ERROR, "var-unknown", message))
        return findings
    variables = data.variables
    cited: dict[str, set[str]] = {lang: _generated_citations(data, sources, lang) for lang in LANGS}
    for src, line, key in _citations(sources):
        cited[src.lang].add(key)
        if any(key.startswith(p) for p in data.unverifiable):
            message = _structurally_unknown(data, key, src.lang)
            if message:
                findings.append(Finding(src.rel, line, ERROR, "var-unknown", message))
            continue
        if key in variables:
            if key.rsplit(".", 1)[-1] in LANGS and not key.endswith(f".{src.lang}"):
                fixed = key.rsplit(".", 1)[0] + f".{src.lang}"
                findings.append(Finding(src.rel, line, ERROR, "var-wrong-language",
                                        f"{{{{< var {key} >}}}} is the other language's text; in a "
                                        f"{LANG_NAMES[src.lang]} file write {{{{< var {fixed} >}}}}"))
            continue
        findings.append(Finding(src.rel, line, ERROR, "var-unknown",
                                _unknown_message(key, variables, src.lang, data.year)))
    findings += _uncited(data, sources, cited)
    return findings


def _unknown_message(key: str, variables: Mapping[str, str], lang: str, year: int) -> str:
    message = f"there is no data variable {key}"
    reference = f"every variable with its value: reports/{year}/VARIABLES.md, written by the build"
    if f"{key}.{lang}" in variables:
        return f"{message}: add the language, {{{{< var {key}.{lang} >}}}}"
    own = [k for k in variables if k.endswith(f".{lang}")]
    close = difflib.get_close_matches(key, own, n=1, cutoff=0.75)
    if close:
        return f"{message}; did you mean {close[0]}? ({reference})"
    return (f"{message}; check the spelling, or whether the data has this figure for that "
            f"year ({reference})")


_INDICATOR_KEY = re.compile(r"^y(\d{4})\.([^.]+)\.([^.]+)\.(zh|en)$")


def _uncited(data: _Data, sources: list[_Source], cited: dict[str, set[str]]) -> list[Finding]:
    """Figures of the edition year that the text of a language never cites."""
    prefix = f"y{data.year}."
    fields: dict[str, set[str]] = defaultdict(set)
    for key in data.variables:
        m = _INDICATOR_KEY.match(key)
        if m and int(m.group(1)) == data.year and m.group(2) not in RESERVED_KEYS:
            fields[m.group(2)].add(m.group(3))
    cited_ind = {lang: {k.split(".")[1] for k in keys if k.startswith(prefix) and k.count(".") >= 2}
                 for lang, keys in cited.items()}
    where: dict[tuple[str, str], tuple[_Source, int]] = {}
    for src, line, key in _citations(sources):
        if key.startswith(prefix) and key.count(".") >= 2:
            where.setdefault((src.lang, key.split(".")[1]), (src, line))
    own_sources = {lang: [s for s in sources if s.lang == lang] for lang in LANGS}
    findings = []
    order = list(data.catalog.indicators.index) if data.catalog is not None else []
    for ind in sorted((i for i, f in fields.items() if set(FIGURE_FIELDS) & f),
                      key=lambda i: (order.index(i) if i in order else len(order), i)):
        figure = next(f for f in ("actual", "target", "completion") if f in fields[ind])
        owner = _reporting_department(data, ind)
        for lang in [lang for lang in LANGS if own_sources[lang] and ind not in cited_ind[lang]]:
            other = "en" if lang == "zh" else "zh"
            name = data.variables.get(f"{prefix}{ind}.name.{lang}", ind)
            value = data.variables.get(f"{prefix}{ind}.{figure}.{lang}", "")
            path, line = (_mirrored(where[(other, ind)], own_sources[lang]) if (other, ind) in where
                          else None) or _home(data, own_sources[lang], ind)
            words = {"actual": "actual", "target": "target", "completion": "completion rate"}[figure]
            findings.append(Finding(
                path, line, WARNING, "figure-uncited",
                f"{name} ({ind}) has a {data.year} {words} ({value}), reported by "
                f"{_department_names(data, [owner] if owner else [])}, but no "
                f"{LANG_NAMES[lang]} text cites it; cite it with "
                f"{{{{< var {prefix}{ind}.{figure}.{lang} >}}}} (every variable: "
                f"reports/{data.year}/VARIABLES.md)",
                departments=(owner,) if owner else ()))
    return findings


def _mirrored(cited_at: tuple[_Source, int], sources: list[_Source]) -> tuple[str, int] | None:
    """The same file and section in the other language as a citation's."""
    src, line = cited_at
    twin = next((s for s in sources if s.key == src.key), None)
    if twin is None:
        return None
    before = [sec for sec in _sections(src) if sec.line <= line]
    if not before:  # cited in the front matter
        return twin.rel, 1
    section = before[-1]
    match = next((sec for sec in _sections(twin) if sec.ident == section.ident), None)
    return twin.rel, (match.line if match else 1)


def _home(data: _Data, sources: list[_Source], indicator: str) -> tuple[str, int]:
    """Where an indicator's figures belong: its domain's part, else the file citing most
    of its domain's figures."""
    catalog = data.catalog
    domain = (str(catalog.indicators.at[indicator, "domain_id"])
              if catalog is not None and indicator in catalog.indicators.index else None)
    part = "main-work" if domain == "cross_cutting" else domain
    for key in (f"_parts/{part}.qmd", f"domains/{domain}.qmd"):
        for src in sources:
            if src.key == key:
                return src.rel, 1
    siblings = ({i for i, d in catalog.indicators["domain_id"].items() if d == domain}
                if domain else set())
    best, best_count, best_line = None, 0, 1
    for src in sources:
        lines = [line for _, line, key in _citations([src])
                 if key.startswith(f"y{data.year}.") and key.split(".")[1] in siblings]
        if len(lines) > best_count:
            best, best_count, best_line = src, len(lines), lines[0]
    if best is not None:
        return best.rel, best_line
    return sources[0].rel, 1


# --- typed numbers ----------------------------------------------------------------------------

_DIGITS = str.maketrans("０１２３４５６７８９．％", "0123456789.%")
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.\-/])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
_VALUE = re.compile(r"^(?:[≥≤]\s*)?(\d[\d,]*)(?:\.(\d+))?\s*(.*)$")
_EXCLUDED = re.compile(
    r"\{\{\{?[<%].*?[>%]\}\}\}?"               # shortcodes
    r"|\{[#.][^{}]*\}|\{[^{}]*=[^{}]*\}"        # attributes
    r"|@(?:fig|tbl|sec|eq)-[\w:.-]+"            # cross-references
    r"|\]\([^)]*\)"                             # link targets
    r"|<[^<>\n]+>"                              # HTML tags
    r"|https?://\S+"                            # URLs
    r"|^[ \t]*(?:[-*+][ \t]+)?(?:\d+[.)、]|[（(]\d+[）)])", re.M)  # list markers
_SENTENCE_END = re.compile(r"[。！？!?；;]|\.(?=\s|$)")
# Words that make the number after them a difference, not a figure: skipped altogether.
_CHANGE_ZH = re.compile(r"(增加|增长|减少|下降|提高|降低|上升|增幅|降幅|增速|提升|高出|低于上年|多出|少了|同比)\s*(了)?\s*$")
_CHANGE_EN = re.compile(r"\b(by|increase[sd]?\s+of|rise\s+of|growth\s+of|fall\s+of|drop\s+of|"
                        r"up|down)\s+$", re.I)
# Words that make the number approximate or a bound: typed, but never a contradiction.
_APPROX_ZH = re.compile(r"(约|近|超过|逾|不足|不到|不低于|不高于|不少于|不超过|达到?近|将近|大约|至少|最多|力争)\s*$")
_APPROX_ZH_AFTER = re.compile(r"^\s*(以上|以下|左右|余|多|上下)")
_APPROX_EN = re.compile(r"\b(about|around|nearly|almost|over|more\s+than|less\s+than|fewer\s+than|"
                        r"some|roughly|approximately|at\s+least|at\s+most|up\s+to|under|below|"
                        r"above|exceeding|close\s+to|no\s+less\s+than|no\s+more\s+than)\s+$", re.I)
_PREVIOUS_YEAR = re.compile(r"上年|去年|上一年|同期|previous\s+year|year\s+before|year\s+earlier|"
                            r"last\s+year|a\s+year\s+ago", re.I)
# Units that look like a catalog unit but are not one (percentage points, not per cent).
_PSEUDO_UNITS = {"zh": ("个百分点",), "en": ("percentage point", "percentage points")}
_PERCENT_WORDS = re.compile(r"^(per\s*cent|percent)\b", re.I)


@dataclass
class _Typed:
    start: int
    end: int
    value: float
    decimals: int
    unit: str
    text: str            # as written, with the unit
    change: bool
    approx: bool


def _figures(data: _Data, lang: str) -> dict[str, _Figure]:
    out = {}
    for key, text in (data.variables or {}).items():
        m = _INDICATOR_KEY.match(key)
        if not m or m.group(4) != lang or m.group(3) not in FIGURE_FIELDS or m.group(2) in RESERVED_KEYS:
            continue
        v = _VALUE.match(str(text).strip())
        if not v or not v.group(3):
            continue
        out[key] = _Figure(key, m.group(2), m.group(3), int(m.group(1)),
                           float(v.group(1).replace(",", "") + "." + (v.group(2) or "0")),
                           len(v.group(2) or ""), v.group(3).strip(), str(text))
    return out


def _units(data: _Data, figures: Mapping[str, _Figure], lang: str) -> list[str]:
    units = {f.unit for f in figures.values()} | {"%"}
    if data.catalog is not None:
        column = "unit" if lang == "zh" else "unit_en"
        units |= {str(u) for u in data.catalog.indicators[column].dropna() if str(u).strip()}
    units |= set(_PSEUDO_UNITS[lang])
    return sorted(units, key=len, reverse=True)


def _unit_after(rest: str, units: list[str], lang: str) -> str | None:
    rest = rest.lstrip(" \u00a0\u2009")
    if lang == "en" and _PERCENT_WORDS.match(rest):
        return "%"
    for unit in units:
        if lang == "zh" and rest.startswith(unit):
            return unit
        if lang == "en" and rest[:len(unit)].lower() == unit.lower():
            after = rest[len(unit):len(unit) + 1]
            if not (after.isalpha() or (unit[-1:].isalpha() and after == "-")):
                return unit
    return None


def _typed_numbers(text: str, excluded: list[tuple[int, int]], units: list[str],
                   lang: str) -> list[_Typed]:
    found = []
    for m in _NUMBER.finditer(text):
        if any(a <= m.start() < b for a, b in excluded):
            continue
        rest = text[m.end():]
        unit = _unit_after(rest, units, lang)
        if unit is None or unit in _PSEUDO_UNITS[lang]:
            continue  # no unit: a year, a list, section or task number, or a plain count
        gap = len(rest) - len(rest.lstrip(" \u00a0\u2009"))
        percent_words = _PERCENT_WORDS.match(rest[gap:]) if lang == "en" else None
        unit_end = m.end() + gap + (percent_words.end() if percent_words else len(unit))
        before = text[max(0, m.start() - 30):m.start()]
        if lang == "zh":
            change = bool(_CHANGE_ZH.search(before))
            approx = bool(_APPROX_ZH.search(before) or _APPROX_ZH_AFTER.match(text[unit_end:unit_end + 4]))
        else:
            change = bool(_CHANGE_EN.search(before))
            approx = bool(_APPROX_EN.search(before))
        whole, frac = m.group(1).replace(",", ""), m.group(2) or ""
        found.append(_Typed(m.start(), m.end(), float(f"{whole}.{frac or '0'}"), len(frac), unit,
                            text[m.start():unit_end], change, approx))
    return found


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def _rounds_to(data_value: float, typed: _Typed) -> bool:
    """The data value, rounded to the digits typed, is the typed number (149 for 148.9)."""
    return abs(data_value - typed.value) <= 0.5 * 10 ** (-typed.decimals) + 1e-9


def _blocks(src: _Source) -> list[tuple[str, list[int]]]:
    """Paragraphs of narrative (headings and list items on their own) with each line's number."""
    blocks, text_lines, numbers = [], [], []

    def close():
        if text_lines:
            blocks.append(("\n".join(text_lines), list(numbers)))
            text_lines.clear()
            numbers.clear()

    for i in range(src.body_start, len(src.code_free)):
        line = src.code_free[i]
        if not line.strip() or _DIV_FENCE.match(line):
            close()
            continue
        if _HEADING.match(line) or re.match(r"^\s*(?:[-*+]|\d+[.)])\s", line) or line.lstrip().startswith("|"):
            close()
        text_lines.append(line.translate(_DIGITS))
        numbers.append(i + 1)
        if _HEADING.match(line):
            close()
    close()
    return blocks


def _line_of(offset: int, text: str, numbers: list[int]) -> int:
    return numbers[text.count("\n", 0, offset)]


def _check_numbers(data: _Data, sources: list[_Source]) -> list[Finding]:
    if data.variables is None:
        return []
    findings = []
    for lang in LANGS:
        figures = _figures(data, lang)
        if not figures:
            continue
        units = _units(data, figures, lang)
        by_unit: dict[str, list[_Figure]] = defaultdict(list)
        for fig in figures.values():
            by_unit[fig.unit].append(fig)
        names = _indicator_names(data, figures, lang)
        for src in (s for s in sources if s.lang == lang):
            for text, numbers in _blocks(src):
                excluded = [m.span() for m in _EXCLUDED.finditer(text)]
                typed = _typed_numbers(text, excluded, units, lang)
                if not typed:
                    continue
                start = 0
                for end_match in [*_SENTENCE_END.finditer(text), None]:
                    end = end_match.end() if end_match else len(text)
                    in_sentence = [t for t in typed if start <= t.start < end]
                    if in_sentence:
                        findings += _check_sentence(data, src, text, numbers, start, end, in_sentence,
                                                    excluded, figures, by_unit, names, lang)
                    start = end
    return findings


def _indicator_names(data: _Data, figures: Mapping[str, _Figure], lang: str) -> list[tuple[str, str]]:
    """(name, indicator id) of the indicators that have figures, longest names first."""
    if data.catalog is None:
        return []
    ids = {f.indicator for f in figures.values()}
    column = f"name_{lang}"
    names = [(str(data.catalog.indicators.at[i, column]), i) for i in ids
             if i in data.catalog.indicators.index]
    minimum = 2 if lang == "zh" else 4
    return sorted(((n if lang == "zh" else n.lower(), i) for n, i in names if len(n) >= minimum),
                  key=lambda p: -len(p[0]))


@dataclass
class _Mention:
    pos: int
    indicator: str
    quantity_unit: str | None   # a cited variable prints a figure in this unit


def _mentions(text: str, start: int, end: int, excluded, figures, names, lang) -> list[_Mention]:
    sentence = text[start:end] if lang == "zh" else text[start:end].lower()
    taken: list[tuple[int, int]] = []
    found = []
    for name, ind in names:
        for m in re.finditer(re.escape(name), sentence):
            a, b = start + m.start(), start + m.end()
            if lang == "en" and ((a > 0 and text[a - 1].isalnum()) or (b < len(text) and text[b].isalnum())):
                continue
            if any(x <= a < y for x, y in excluded) or any(x < b and a < y for x, y in taken):
                continue
            taken.append((a, b))
            found.append(_Mention(a, ind, None))
    for m in _VAR.finditer(text, start, end):
        key = m.group(1)
        parts = key.split(".")
        if len(parts) == 4 and parts[0].startswith("y") and parts[1] not in RESERVED_KEYS:
            fig = figures.get(key)
            found.append(_Mention(m.start(), parts[1], fig.unit if fig else None))
    return sorted(found, key=lambda x: x.pos)


def _check_sentence(data, src, text, numbers, start, end, typed, excluded, figures, by_unit,
                    names, lang) -> list[Finding]:
    mentions = _mentions(text, start, end, excluded, figures, names, lang)
    quantities = [(t.start, t.unit) for t in typed] + [(m.pos, m.quantity_unit) for m in mentions if m.quantity_unit]
    previous_year = bool(_PREVIOUS_YEAR.search(text[start:end]))
    units_of = defaultdict(set)
    for fig in figures.values():
        if fig.field != "completion":
            units_of[fig.indicator].add(fig.unit)
    mentioned = {m.indicator for m in mentions}
    findings = []
    for t in typed:
        if t.change:
            continue
        owner = _attribute(t, mentions, quantities, units_of)
        line = _line_of(t.start, text, numbers)
        own = [f for f in by_unit.get(t.unit, []) if f.indicator == owner and f.field != "completion"]
        rounded = [f for f in own if _rounds_to(f.value, t)]
        exact = [f for f in by_unit.get(t.unit, []) if _same(f.value, t.value)]
        if rounded:
            findings.append(_typed_finding(src, line, t, _best(rounded, data.year, mentioned)))
            continue
        if exact:
            indicators = {f.indicator for f in exact}
            if len(indicators) <= 2 or indicators & mentioned:
                findings.append(_typed_finding(src, line, t, _best(exact, data.year, mentioned)))
            continue
        if owner is None or not own or t.approx or previous_year:
            continue
        shown = _best(own, data.year, {owner})
        name = data.variables.get(f"y{shown.year}.{owner}.name.{lang}", owner)
        findings.append(Finding(
            src.rel, line, ERROR, "number-contradicts",
            f"{name} is {shown.text} in the data ({_field_words(shown)}), but the text says "
            f"{t.text}; correct the figure, and write {{{{< var {shown.key} >}}}} instead of "
            f"typing it (if the data is wrong, correct data/raw)"))
    return findings


def _attribute(t: _Typed, mentions: list[_Mention], quantities, units_of) -> str | None:
    """The indicator a typed number belongs to: the nearest mention with nothing between."""
    def free(a: int, b: int) -> bool:
        return not any(a <= pos < b and unit == t.unit and pos != t.start for pos, unit in quantities)

    for m in reversed([m for m in mentions if m.pos < t.start]):
        if t.unit in units_of.get(m.indicator, ()):
            return m.indicator if free(m.pos, t.start) else None
    for m in (m for m in mentions if m.pos > t.start):
        if t.unit in units_of.get(m.indicator, ()):
            return m.indicator if free(t.end, m.pos + 1) else None
    return None


def _best(figures: list[_Figure], year: int, mentioned: set[str]) -> _Figure:
    return min(figures, key=lambda f: (f.indicator not in mentioned, f.year != year,
                                       abs(f.year - year), FIGURE_FIELDS.index(f.field), f.key))


def _field_words(fig: _Figure) -> str:
    words = {"actual": "actual", "target": "target", "target_amount": "target",
             "completion": "completion rate"}
    return f"{fig.year} {words[fig.field]}"


def _typed_finding(src: _Source, line: int, t: _Typed, fig: _Figure) -> Finding:
    same = "is" if _same(fig.value, t.value) else f"is {fig.text} rounded; it is"
    return Finding(src.rel, line, WARNING, "number-typed",
                   f"{t.text} is typed into the text and {same} a data figure ({fig.indicator}, "
                   f"{_field_words(fig)}); write {{{{< var {fig.key} >}}}} so that the text "
                   "follows the data")


# --- TODO markers -----------------------------------------------------------------------------

_TODO = re.compile(r"(?<![A-Za-z0-9_])TODO(?![A-Za-z0-9_])")


def _check_todo(root: Path, year: int) -> list[Finding]:
    findings = []
    base = root / "reports" / str(year)
    files = sorted(p for p in base.rglob("*") if p.is_file() and p.suffix in (".qmd", ".md", ".yml", ".yaml")
                   and GENERATED_DIR not in p.relative_to(base).parts
                   and p.name != REFERENCE_FILE) if base.is_dir() else []
    for path in files:
        rel = path.relative_to(root).as_posix()
        for i, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines()):
            if _TODO.search(line):
                findings.append(Finding(rel, i + 1, ERROR, "todo-left",
                                        f"a TODO placeholder is left: «{_excerpt(line)}»; write the "
                                        "text (in both languages) and remove the marker"))
    config = root / EDITION_CONFIG
    if config.is_file():
        lines = config.read_text(encoding="utf-8").splitlines()
        first, last = _entry_lines(lines, year)
        for i in range(first, last):
            if _TODO.search(lines[i]):
                findings.append(Finding(EDITION_CONFIG.as_posix(), i + 1, ERROR, "todo-left",
                                        f"the {year} edition's details are not confirmed: "
                                        f"«{_excerpt(lines[i])}»; fill in the value and remove TODO"))
    return findings


def _entry_lines(lines: list[str], year: int) -> tuple[int, int]:
    """0-based [first, last) line range of ``editions: <year>:`` in config/edition.yml."""
    in_editions, first, indent = False, None, 0
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(line.lstrip())
        if first is not None and depth <= indent:
            return first, i
        if depth == 0:
            in_editions = stripped.startswith("editions:")
            continue
        if in_editions and first is None and re.match(rf"""^['"]?{year}['"]?\s*:""", stripped):
            first, indent = i, depth
    return (first, len(lines)) if first is not None else (0, 0)


def _excerpt(line: str, width: int = 60) -> str:
    """The line, or the part of it around the TODO marker when it is long."""
    line = line.strip()
    if len(line) <= width:
        return line
    m = _TODO.search(line)
    start = max(0, min((m.start() if m else 0) - width // 3, len(line) - width))
    text = line[start:start + width]
    return ("…" if start else "") + text + ("…" if start + width < len(line) else "")

# --- figures not reported, targets without actuals ------------------------------------------

@dataclass
class _RawRow:
    path: str
    row: int
    cells: dict[str, str]
    department: str   # the submission's department id


def _submission_rows(data: _Data) -> list[_RawRow]:
    """Rows of the data sheets of the edition year's submissions (unreadable ones skipped:
    ingestion reports them)."""
    folder = data.root / "data" / "raw" / "submissions" / data.unit_id / str(data.year)
    rows = []
    for path in _visible_files(folder, (".xlsx",)):
        rows += [_RawRow(data.rel(path), row, cells, path.stem)
                 for row, cells in _sheet_rows(path, "data") or []]
    return rows


def _visible_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes
                  and not p.name.startswith((".", "~$")))


def _sheet_rows(path: Path, sheet: str) -> list[tuple[int, dict[str, str]]] | None:
    """(Excel row, {normalised column: text}) of one sheet; None if the sheet is not there."""
    import openpyxl

    from .readers import normalise_header

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - an unreadable workbook is reported by ingestion
        return None
    try:
        names = {n.strip().casefold(): n for n in book.sheetnames}
        if sheet not in names:
            return None
        header, rows = None, []
        for number, values in enumerate(book[names[sheet]].iter_rows(values_only=True), start=1):
            texts = ["" if v is None else str(v).strip() for v in values]
            if not any(texts):
                continue
            if header is None:
                header = [normalise_header(t) for t in texts]
                continue
            rows.append((number, {h: (texts[i] if i < len(texts) else "")
                                  for i, h in enumerate(header) if h}))
        return rows
    finally:
        book.close()


def _indicator_words(data: _Data, indicator_id: str) -> str:
    catalog = data.catalog
    if catalog is not None and indicator_id in catalog.indicators.index:
        return f"{catalog.indicators.at[indicator_id, 'name_zh']} ({indicator_id})"
    return indicator_id or "this indicator"


def _department_names(data: _Data, department_ids: Iterable[str]) -> str:
    catalog = data.catalog
    names = []
    for d in department_ids:
        if catalog is not None and d in catalog.departments.index:
            names.append(f"{catalog.departments.at[d, 'name_zh']} ({d})")
        else:
            names.append(d)
    return "、".join(names) or "the responsible department"


def _reporting_department(data: _Data, indicator_id: str) -> str | None:
    catalog = data.catalog
    if catalog is None or indicator_id not in catalog.indicators.index:
        return None
    return catalog.reporting_department(indicator_id)


def _check_targets(data: _Data, submission_rows: list[_RawRow]) -> list[Finding]:
    """Targets of the edition year without an actual, and submission rows left empty."""
    empty_rows = {r.cells.get("indicator_id", ""): r for r in submission_rows if not r.cells.get("value")}
    findings = []
    targeted: set[str] = set()
    assessment = data.assessment
    if assessment is not None and len(assessment):
        missing = assessment[assessment["target"].notna() & assessment["actual"].isna()]
        for rec in missing.sort_values("indicator_id").to_dict("records"):
            ind = str(rec["indicator_id"])
            targeted.add(ind)
            owner = _reporting_department(data, ind)
            row = empty_rows.get(ind)
            if row is not None:
                path, line = row.path, row.row
            else:
                path, line = _target_row(data, ind)
            folder = f"data/raw/submissions/{data.unit_id}/{data.year}"
            target = (data.variables or {}).get(f"y{data.year}.{ind}.target.zh") or f"{float(rec['target']):g}"
            findings.append(Finding(
                path, line, WARNING, "target-no-actual",
                f"{_indicator_words(data, ind)} has a {data.year} target ({target}) but no actual; "
                f"{_department_names(data, [owner] if owner else [])} reports the {data.year} "
                f"figure (实际值) in {folder}/{owner or '<department>'}.xlsx",
                departments=(owner,) if owner else ()))
        targeted |= set(assessment.loc[assessment["target"].notna(), "indicator_id"].astype(str))
    for ind, row in sorted(empty_rows.items()):
        if ind in targeted:
            continue
        findings.append(Finding(row.path, row.row, WARNING, "value-not-reported",
                                f"{_indicator_words(data, ind)}: no value was reported for "
                                f"{data.year} (the value cell is empty); fill it in, or leave it "
                                "empty if there is no figure this year"))
    return findings


def _target_row(data: _Data, indicator_id: str) -> tuple[str, int | None]:
    obs = data.observations
    if obs is not None and len(obs):
        rows = obs[(obs["indicator_id"] == indicator_id) & (obs["measure"] == "target")]
        if len(rows):
            rec = rows.iloc[0]
            row = rec.get("source_row")
            return str(rec["source_file"]), (int(row) if pd.notna(row) and str(row).strip() else None)
    return f"data/raw/observations/{data.unit_id}/{data.year}", None


# --- task statuses ----------------------------------------------------------------------------

def _check_task_status(data: _Data) -> list[Finding]:
    """Every task of the edition year's own list needs a status in the submissions."""
    from .catalog import split_list
    from .submissions import task_lead

    if data.tasks is None or not len(data.tasks):
        return []
    _, first_edition = _edition_entry(data.root, data.year)
    severity = WARNING if first_edition is not None and data.year <= first_edition else ERROR
    statuses: dict[int, str] = {}
    if data.task_status is not None:
        statuses = {int(r["task_no"]): str(r["status"]) for r in data.task_status.to_dict("records")}
    rows_by_task = _submission_task_rows(data)
    list_file = f"data/raw/tasks/{data.unit_id}/{data.year}/tasks.csv"
    findings = []
    for row, rec in enumerate(data.tasks.sort_values("task_no").to_dict("records"), start=2):
        number = int(rec["task_no"])
        if statuses.get(number, NO_STATUS) != NO_STATUS:
            continue
        lead = task_lead(rec["departments"])
        others = [d for d in split_list(rec["departments"]) if d != lead]
        folder = f"data/raw/submissions/{data.unit_id}/{data.year}"
        where = rows_by_task.get((lead, number))
        path, line = where if where else (f"{folder}/{lead}.xlsx", None)
        if not where and not (data.root / path).is_file():
            path, line = list_file, row
        shared = f" (shared with {_department_names(data, others)}, who agree the status with it)" if others else ""
        findings.append(Finding(
            path, line, severity, "task-no-status",
            f"task {number} «{rec['title_zh']}» has no status (完成情况); "
            f"{_department_names(data, [lead])}{shared} enters {STATUS_WORDS} in the tasks "
            f"sheet of {folder}/{lead}.xlsx",
            departments=(lead,)))
    return findings


def _submission_task_rows(data: _Data) -> dict[tuple[str, int], tuple[str, int]]:
    """(department, task number) → (submission file, row) of its tasks-sheet row."""
    folder = data.root / "data" / "raw" / "submissions" / data.unit_id / str(data.year)
    found: dict[tuple[str, int], tuple[str, int]] = {}
    for path in _visible_files(folder, (".xlsx",)):
        for row, cells in _sheet_rows(path, "tasks") or []:
            text = cells.get("task_no", "").strip()
            number = int(float(text)) if re.fullmatch(r"\d+(\.0)?", text) else None
            if number is not None:
                found.setdefault((path.stem, number), (data.rel(path), row))
    return found
