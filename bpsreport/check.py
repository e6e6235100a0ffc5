"""The pre-publication check: ``pipeline.py check`` (read-only, fast).

Staff run it before they hand in their narrative and figures. It lists every problem it
finds like a compiler does, one per line, with the file and line to open::

    reports/2017/zh/_parts/employment_security.qmd:3: error: number-contradicts: 城镇新增就业
    is 148.9万人 in the data (2017 actual), but the text says 149.0万人; correct the figure ...

:func:`run_checks` returns :class:`Finding` objects, :func:`format_findings` prints them
and :func:`blocks_publication` says whether any is an ``error`` (``pipeline.py check``
then exits with code 6). The check never runs the build and writes nothing.

What it reads
-------------
- ``reports/<year>/{zh,en}/**/*.qmd`` (not ``_generated/``, which the build writes); every
  file is checked as itself, so a finding in an included part names that part's line;
- the data variables of the edition, computed in memory from ``data/clean`` by
  :func:`bpsreport.variables.build_edition_variables` (``_variables.yml`` is only a
  fallback when the clean data cannot be read, and is compared with the data when it
  belongs to the same edition);
- the clean catalog, assessment, observations and ``task_status`` of the edition year;
- the raw observation files and department submissions of the report unit (for sources),
  the year's task list, and ``config/edition.yml``.

Findings (code: severity: what it means)
----------------------------------------
``data-missing`` (error), ``data-stale`` (error), ``data-changed`` (error), ``variables-stale`` (warning)
    There is no clean data for the edition, ``data/raw`` changed since the last build, a
    file of ``data/clean`` no longer matches its ``manifest.json`` (edited by hand; one
    finding per file), or ``_variables.yml`` differs from the data. Run the build;
    everything that can be checked without it is still checked.
``var-unknown`` (error), ``var-wrong-language`` (error)
    ``{{< var key >}}`` names no data variable, or a variable of the other language.
``var-unused`` (warning)
    An indicator of the edition year with both an actual and a target that the text of one
    language never cites. One finding per indicator (when neither language cites it, one
    finding in the Chinese file says so).
``lang-missing-file``, ``lang-missing-section``, ``lang-empty-section`` (errors)
    The Chinese and English sources mirror each other: files pair by their path below
    ``reports/<year>/<lang>/``; headings pair by their ``{#sec-…}`` id, headings without an
    id by their order; a section (the text up to the next heading, and the text before
    the first heading) that is empty in one language must be empty in the other.
``include-missing`` (error)
    ``{{< include … >}}`` names a file that does not exist (``_generated/`` parts are
    written by the build and are not required yet).
``number-typed`` (warning), ``number-contradicts`` (error)
    See *Typed numbers* below.
``task-no-status`` (error; warning for the first edition)
    A task of the edition year's task list has no status in
    ``data/clean/<unit>/<year>/task_status.parquet`` (or that table is absent). Only the
    year's own list counts: the 2017 edition reports on the 2017 tasks, which the data does
    not hold, so it has nothing to check. The first edition in ``config/edition.yml`` (the
    seed edition) was written before statuses were collected, so there a missing status is
    only a warning.
``indicator-no-source`` (error)
    A row of a raw observation file or department submission of the report unit (any year:
    ingestion validates them all) with an empty ``source``. Submission rows without a value
    (not reported) need no source.
``target-no-actual`` (warning), ``value-not-reported`` (warning)
    An indicator with a target but no actual in the edition year (one per indicator, at
    the submission row that should hold the actual or else the raw row of the target,
    naming the responsible department); a submission row left empty for an indicator
    without a target.
``todo-left`` (error)
    A ``TODO`` marker in a file under ``reports/<year>/`` or in the ``<year>`` entry of
    ``config/edition.yml``.
``raw-unreadable``, ``file-encoding`` (errors)
    A raw file the check cannot read (``pipeline.py validate`` explains why), or a
    ``.qmd`` file that is not UTF-8.
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
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import yaml

from .variables import RESERVED as RESERVED_KEYS  # keys under y<year> that are not indicators

ERROR, WARNING = "error", "warning"
SEVERITIES = (ERROR, WARNING)
LANGS = ("zh", "en")
LANG_NAMES = {"zh": "Chinese", "en": "English"}
GENERATED_DIR = "_generated"
EDITION_CONFIG = Path("config") / "edition.yml"
VARIABLES_FILE = "_variables.yml"
TASK_STATUS_FILE = "task_status.parquet"
NO_STATUS = "no_status"
STATUS_WORDS = ("completed 已完成 / in_progress 推进中 / not_started 未启动 / "
                "not_applicable 不适用")
# Fields of an indicator variable that hold a figure (name and status hold words).
FIGURE_FIELDS = ("actual", "target_amount", "target", "completion")


@dataclass(frozen=True)
class Finding:
    """One problem: where it is, how serious, a short code and what to do about it.

    ``path`` is relative to the project root; ``line`` is 1-based (a spreadsheet row for
    data files) or ``None`` when the finding concerns the whole file.
    """

    path: str
    line: int | None
    severity: str
    code: str
    message: str

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


def format_findings(findings: Iterable[Finding]) -> str:
    """One line per finding, sorted by file and line, then a count.

    >>> print(format_findings([Finding("a.qmd", 3, "warning", "var-unused", "…")]))
    a.qmd:3: warning: var-unused: …
    0 errors (错误), 1 warning (警告). Warnings do not block publication.
    """
    findings = sorted(findings, key=_sort_key)
    if not findings:
        return "No problems found (没有发现问题)."
    errors = sum(f.severity == ERROR for f in findings)
    warnings = len(findings) - errors
    tail = ("Errors block publication: fix them and run the check again."
            if errors else "Warnings do not block publication.")
    count = (f"{errors} error{'s' if errors != 1 else ''} (错误), "
             f"{warnings} warning{'s' if warnings != 1 else ''} (警告). {tail}")
    return "\n".join([*map(str, findings), count])


# --- the edition's data, read once ------------------------------------------------------------

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
    root: Path
    year: int
    unit_id: str
    catalog: object | None = None              # bpsreport.catalog.Catalog
    variables: dict[str, str] | None = None    # flat key -> text
    assessment: pd.DataFrame | None = None
    observations: pd.DataFrame | None = None
    task_status: pd.DataFrame | None = None
    fresh: bool = False
    findings: list[Finding] = field(default_factory=list)
    # Key prefixes whose variables could not be computed, so citing them is not an error.
    unverifiable: list[str] = field(default_factory=list)

    def rel(self, path: Path) -> str:
        try:
            return Path(path).resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


def run_checks(root: Path | str, year: int, *, unit_id: str | None = None) -> list[Finding]:
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

    Returns
    -------
    list of Finding
        Sorted by file and line. Nothing is written anywhere.
    """
    root = Path(root)
    year = int(year)
    data = _load_data(root, year, unit_id)
    findings = list(data.findings)
    sources, unreadable = _read_sources(root, year)
    findings += unreadable
    if not sources and not unreadable:
        findings.append(Finding(f"reports/{year}", None, ERROR, "edition-missing",
                                f"there is no reports/{year}/zh/ or reports/{year}/en/; start the "
                                f"edition with `pipeline.py new-year {year}`"))
    findings += _check_mirror(sources)
    findings += _check_includes(root, sources)
    findings += _check_variables(data, sources)
    findings += _check_numbers(data, sources)
    findings += _check_todo(root, year)
    observation_rows, submission_rows, unreadable = _raw_rows(data)
    findings += unreadable
    findings += _check_raw_sources(data, observation_rows, submission_rows)
    findings += _check_targets(data, submission_rows)
    findings += _check_task_status(data)
    return sorted(set(findings), key=_sort_key)


def _edition_entry(root: Path, year: int) -> tuple[dict | None, int | None]:
    """The ``editions.<year>`` entry of config/edition.yml and the first edition's year."""
    try:
        config = yaml.safe_load((root / EDITION_CONFIG).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return None, None
    editions = config.get("editions") if isinstance(config, dict) else None
    if not isinstance(editions, dict):
        return None, None
    years = sorted(int(y) for y in editions if str(y).isdigit())
    entry = editions.get(year, editions.get(str(year)))
    return (entry if isinstance(entry, dict) else None), (years[0] if years else None)


def _load_data(root: Path, year: int, unit_id: str | None) -> _Data:
    """Catalog, variables and clean tables of the edition, each as far as it can be read."""
    from .catalog import load_catalog
    from .errors import PipelineError

    data = _Data(root=root, year=year, unit_id=unit_id or "")
    clean = root / "data" / "clean"
    try:
        from .notebooks import read_clean_catalog
        data.catalog = read_clean_catalog(clean / "catalog")
    except (OSError, PipelineError, ValueError, KeyError):
        try:
            data.catalog = load_catalog(root / "data" / "raw", root=root)
        except (OSError, PipelineError, ValueError, KeyError):
            data.catalog = None
    entry, _ = _edition_entry(root, year)
    if not unit_id:
        if entry and entry.get("unit_id"):
            data.unit_id = str(entry["unit_id"])
        elif data.catalog is not None:
            data.unit_id = data.catalog.default_unit
        else:
            data.unit_id = "gd-province"

    data.fresh = _check_freshness(data)
    year_dir = clean / data.unit_id / str(year)
    for name, file in (("assessment", "assessment.parquet"), ("observations", "observations.parquet"),
                       ("task_status", TASK_STATUS_FILE)):
        # check takes no lock: a build may swap data/clean while it reads. A table that is
        # gone or unreadable counts as absent (the freshness finding says to rebuild).
        try:
            setattr(data, name, pd.read_parquet(year_dir / file))
        except (OSError, ValueError):
            pass

    from .variables import _literal_tree

    computed = _compute_variables(data)
    stored = _stored_variables(root, year)
    if computed is not None:
        data.variables = computed
        if stored is not None and _comparable(stored) != _comparable(_literal_tree(computed)):
            data.findings.append(Finding(
                VARIABLES_FILE, None, WARNING, "variables-stale",
                f"{VARIABLES_FILE} does not match the data in data/clean; run `pipeline.py "
                f"build --year {year}` so that the site shows the current figures"))
    elif stored is not None:
        data.variables = stored
    return data


def _compute_variables(data: _Data) -> dict[str, str] | None:
    """The edition's variables, flat; without ``edition.*`` when config/edition.yml is broken."""
    from .errors import PipelineError
    from .progress import StatusRules
    from .variables import (EditionConfigError, build_edition_variables, build_variables,
                            edition_years, flatten)

    root, year = data.root, data.year
    try:
        return flatten(build_edition_variables(root, data.unit_id, year))
    except (EditionConfigError, yaml.YAMLError) as exc:
        problem = str(exc).replace(str(root / EDITION_CONFIG), "").lstrip(": ")
        data.findings.append(Finding(
            EDITION_CONFIG.as_posix(), _yaml_line(exc), ERROR, "edition-config",
            f"the {year} edition's details cannot be read: {problem}"))
        data.unverifiable.append("edition.")
    except (OSError, PipelineError, ValueError, KeyError) as exc:
        if data.fresh:  # a missing or stale build is reported already
            data.findings.append(Finding("data/clean", None, ERROR, "data-missing",
                                         f"the data variables cannot be computed ({exc}); run "
                                         f"`pipeline.py build --year {year}`"))
        return None
    try:  # the data variables, without the edition's details
        clean = root / "data" / "clean"
        return flatten(build_variables(clean, data.catalog, data.unit_id,
                                       edition_years(clean, data.unit_id, year),
                                       rules=StatusRules.from_config(root / "config" / "status.yml")))
    except (OSError, PipelineError, ValueError, KeyError, AttributeError):
        return None


def _yaml_line(exc: Exception) -> int | None:
    mark = getattr(exc, "problem_mark", None)
    return mark.line + 1 if mark is not None else None


def _comparable(variables: dict) -> dict:
    """The variables without the draft mark, which the build sets from check itself."""
    out = dict(variables)
    edition = dict(out.get("edition") or {})
    edition.pop("draft", None)
    out["edition"] = edition
    return out


def _stored_variables(root: Path, year: int) -> dict[str, str] | None:
    """``_variables.yml`` flattened, when it was written for this edition."""
    from .variables import flatten

    path = root / VARIABLES_FILE
    if not path.exists():
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        stored = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}
    except yaml.YAMLError:
        return None
    flat = flatten(stored)
    return flat if flat.get("edition.summary_year.zh") == str(year) else None


def _check_freshness(data: _Data) -> bool:
    """Whether data/clean was built from the raw files as they are now (a finding if not)."""
    from .build import STATE_FILE, raw_state  # the build's own notion of "current"
    from .paths import ProjectPaths

    paths = ProjectPaths.at(data.root)
    state_file = paths.clean / STATE_FILE
    year_dir = paths.clean / data.unit_id / str(data.year)
    build = f"`pipeline.py build --year {data.year}`"
    if not state_file.exists() or not (year_dir / "assessment.parquet").exists():
        data.findings.append(Finding(
            data.rel(year_dir), None, ERROR, "data-missing",
            f"there is no clean data for {data.unit_id} {data.year}; run {build}. Until then "
            "data variables, typed numbers and targets cannot be checked against the data"))
        return False
    try:
        saved = json.loads(state_file.read_text(encoding="utf-8")).get("state") or {}
    except (OSError, ValueError):
        saved = {}
    now = raw_state(paths)
    if saved == now:
        return _check_clean_integrity(data, paths, [paths.clean / "catalog", year_dir])
    before, after = saved.get("raw") or {}, now["raw"]
    changed = sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))
    what = ", ".join(changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
    reason = f"changed since the last build: {what}" if changed else "the rules or the pipeline changed"
    data.findings.append(Finding(
        data.rel(paths.clean), None, ERROR, "data-stale",
        f"data/clean is out of date ({reason}); run {build}. This check compares the text "
        "with the data of the last build"))
    return False


def _check_clean_integrity(data: _Data, paths, folders: list[Path]) -> bool:
    """Whether the clean files still match their manifests (a finding per file if not)."""
    from .clean_store import verify_folder

    mismatches = [m for folder in folders for m in verify_folder(folder)]
    for m in mismatches:
        data.findings.append(Finding(
            data.rel(m.path), None, ERROR, "data-changed",
            f"{m.problem}; clean data is made only by the build: run `pipeline.py build "
            f"--year {data.year}` (it rebuilds data/clean from data/raw) and correct figures "
            "in data/raw"))
    return not mismatches


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


def _check_includes(root: Path, sources: list[_Source]) -> list[Finding]:
    findings = []
    for src in sources:
        for i, line in enumerate(src.code_free):
            for m in _INCLUDE.finditer(line):
                target = m.group(1).strip("\"'")
                if GENERATED_DIR in Path(target).parts:
                    continue  # written by the build
                path = root / target.lstrip("/") if target.startswith("/") else src.path.parent / target
                if not path.is_file():
                    findings.append(Finding(src.rel, i + 1, ERROR, "include-missing",
                                            f"the included file {target} does not exist; "
                                            "fix the path or create the file"))
    return findings


# --- data variables ---------------------------------------------------------------------------

def _citations(sources: Iterable[_Source]) -> list[tuple[_Source, int, str]]:
    return [(src, i + 1, m.group(1)) for src in sources
            for i, line in enumerate(src.code_free) for m in _VAR.finditer(line)]


def _generated_citations(root: Path, year: int, lang: str) -> set[str]:
    folder = root / "reports" / str(year) / lang / GENERATED_DIR
    keys: set[str] = set()
    for path in (folder.rglob("*.qmd") if folder.is_dir() else []):
        keys.update(m.group(1) for m in _VAR.finditer(path.read_text(encoding="utf-8")))
    return keys


def _check_variables(data: _Data, sources: list[_Source]) -> list[Finding]:
    if data.variables is None:
        return []
    variables = data.variables
    findings = []
    cited: dict[str, set[str]] = {lang: _generated_citations(data.root, data.year, lang) for lang in LANGS}
    for src, line, key in _citations(sources):
        cited[src.lang].add(key)
        if any(key.startswith(p) for p in data.unverifiable):
            continue
        if key in variables:
            if key.rsplit(".", 1)[-1] in LANGS and not key.endswith(f".{src.lang}"):
                fixed = key.rsplit(".", 1)[0] + f".{src.lang}"
                findings.append(Finding(src.rel, line, ERROR, "var-wrong-language",
                                        f"{{{{< var {key} >}}}} is the other language's text; in a "
                                        f"{LANG_NAMES[src.lang]} file write {{{{< var {fixed} >}}}}"))
            continue
        findings.append(Finding(src.rel, line, ERROR, "var-unknown", _unknown_message(key, variables, src.lang)))
    findings += _unused(data, sources, cited)
    return findings


def _unknown_message(key: str, variables: Mapping[str, str], lang: str) -> str:
    message = f"there is no data variable {key}"
    if f"{key}.{lang}" in variables:
        return f"{message}: add the language, {{{{< var {key}.{lang} >}}}}"
    own = [k for k in variables if k.endswith(f".{lang}")]
    close = difflib.get_close_matches(key, own, n=1, cutoff=0.75)
    if close:
        return f"{message}; did you mean {close[0]}? (keys are listed in bpsreport/variables.py)"
    return (f"{message}; check the spelling, or whether the data has this figure for that "
            "year (keys are listed in bpsreport/variables.py)")


_INDICATOR_KEY = re.compile(r"^y(\d{4})\.([^.]+)\.([^.]+)\.(zh|en)$")


def _unused(data: _Data, sources: list[_Source], cited: dict[str, set[str]]) -> list[Finding]:
    """Indicators of the edition year with an actual and a target that a language never cites."""
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
    for ind in sorted(i for i, f in fields.items() if {"actual", "target"} <= f):
        missing = [lang for lang in LANGS if own_sources[lang] and ind not in cited_ind[lang]]
        if not missing:
            continue
        lang = missing[0]
        other = "en" if lang == "zh" else "zh"
        name = data.variables.get(f"{prefix}{ind}.name.{lang}", ind)
        path, line = (_mirrored(where[(other, ind)], own_sources[lang]) if (other, ind) in where
                      else None) or _home(data, own_sources[lang], ind)
        said = ("neither the Chinese nor the English text cites it" if len(missing) == 2
                else f"the {LANG_NAMES[lang]} text never cites it")
        findings.append(Finding(
            path, line, WARNING, "var-unused",
            f"{name} ({ind}) has an actual and a target for {data.year}, but {said}; report it, "
            f"e.g. {{{{< var {prefix}{ind}.actual.{lang} >}}}} against {{{{< var "
            f"{prefix}{ind}.target.{lang} >}}}}"))
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
    """Where an indicator's figures belong: the file citing most of its domain's figures."""
    catalog = data.catalog
    domain = (str(catalog.indicators.at[indicator, "domain_id"])
              if catalog is not None and indicator in catalog.indicators.index else None)
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
    for key in (f"_parts/{domain}.qmd", f"domains/{domain}.qmd", "index.qmd"):
        for src in sources:
            if src.key == key:
                return src.rel, 1
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
                   and GENERATED_DIR not in p.relative_to(base).parts) if base.is_dir() else []
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


# --- raw data: sources, not-reported values, targets without actuals ------------------------

@dataclass
class _RawRow:
    path: str
    row: int
    cells: dict[str, str]
    year: int | None
    department: str | None   # for submissions: the file's department id


def _raw_rows(data: _Data) -> tuple[list[_RawRow], list[_RawRow], list[Finding]]:
    """Rows of the unit's observation files and of the data sheets of its submissions."""
    from .errors import InputValidationError
    from .readers import read_table

    observations, submissions, findings = [], [], []
    raw = data.root / "data" / "raw"
    for path in _visible_files(raw / "observations" / data.unit_id, (".csv", ".xlsx")):
        try:
            table = read_table(path, root=data.root)
        except InputValidationError as exc:
            first = exc.problems[0]
            findings.append(Finding(data.rel(path), first.row, ERROR, "raw-unreadable",
                                    f"this file cannot be read ({first.expected}); run "
                                    "`pipeline.py validate` for every problem in it"))
            continue
        year = _folder_year(path)
        observations += [_RawRow(table.shown, row, cells, year, None)
                         for row, cells in zip(table.rows, table.frame.to_dict("records"))]
    for path in _visible_files(raw / "submissions" / data.unit_id, (".xlsx",)):
        rows = _sheet_rows(path, "data")
        if rows is None:
            findings.append(Finding(data.rel(path), None, ERROR, "raw-unreadable",
                                    "this workbook cannot be opened or has no sheet named data; "
                                    "run `pipeline.py validate` for details"))
            continue
        submissions += [_RawRow(data.rel(path), row, cells, _folder_year(path), path.stem)
                        for row, cells in rows]
    return observations, submissions, findings


def _visible_files(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in suffixes
                  and not p.name.startswith((".", "~$")))


def _folder_year(path: Path) -> int | None:
    return int(path.parent.name) if re.fullmatch(r"\d{4}", path.parent.name) else None


def _sheet_rows(path: Path, sheet: str) -> list[tuple[int, dict[str, str]]] | None:
    """(Excel row, {normalised column: text}) of one sheet; None if the sheet is not there."""
    import openpyxl

    from .readers import normalise_header

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - any unreadable workbook is a finding, not a crash
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


def _check_raw_sources(data: _Data, observations: list[_RawRow],
                       submissions: list[_RawRow]) -> list[Finding]:
    """Rows with a figure but an empty ``source`` (ingestion rejects them too)."""
    findings = []
    examples: dict[str, str] = {}
    for r in [*observations, *submissions]:
        if r.cells.get("source"):
            examples.setdefault(r.path, r.cells["source"])
    fallback = next(iter(examples.values()), None)
    files_without_column = set()
    for r in [*observations, *submissions]:
        example = examples.get(r.path, fallback)
        hint = f", e.g. {example}" if example else ""
        if "source" not in r.cells:
            if r.path not in files_without_column:
                files_without_column.add(r.path)
                findings.append(Finding(r.path, 1, ERROR, "indicator-no-source",
                                        "there is no source column (来源); add one and give the "
                                        f"document and section of every figure{hint}"))
            continue
        if r.department is not None and not r.cells.get("value"):
            continue  # not reported: no figure, so no source needed
        if not r.cells["source"]:
            what = " ".join(x for x in (r.cells.get("year", ""), r.cells.get("measure", "")) if x)
            findings.append(Finding(
                r.path, r.row, ERROR, "indicator-no-source",
                f"{_indicator_words(data, r.cells.get('indicator_id', ''))}"
                f"{' ' + what if what else ''}: the source (来源) is empty; give the document "
                f"and section the figure comes from{hint}"))
    return findings


def _department_names(data: _Data, department_ids: Iterable[str]) -> str:
    catalog = data.catalog
    names = []
    for d in department_ids:
        if catalog is not None and d in catalog.departments.index:
            names.append(f"{catalog.departments.at[d, 'name_zh']} ({d})")
        else:
            names.append(d)
    return "、".join(names) or "the responsible department"


def _lead_departments(data: _Data, indicator_id: str) -> list[str]:
    from .catalog import split_list

    catalog = data.catalog
    if catalog is None or indicator_id not in catalog.indicators.index:
        return []
    domain = catalog.indicators.at[indicator_id, "domain_id"]
    return split_list(catalog.domains.at[domain, "lead_departments"]) if domain in catalog.domains.index else []


def _check_targets(data: _Data, submission_rows: list[_RawRow]) -> list[Finding]:
    """Targets of the edition year without an actual, and submission rows left empty."""
    submissions = [r for r in submission_rows if r.year == data.year]
    empty_rows = {r.cells.get("indicator_id", ""): r for r in submissions if not r.cells.get("value")}
    findings = []
    targeted: set[str] = set()
    assessment = data.assessment
    if assessment is not None and len(assessment):
        missing = assessment[assessment["target"].notna() & assessment["actual"].isna()]
        for rec in missing.sort_values("indicator_id").to_dict("records"):
            ind = str(rec["indicator_id"])
            targeted.add(ind)
            row = empty_rows.get(ind)
            if row is not None:
                path, line, departments = row.path, row.row, [row.department]
            else:
                path, line = _target_row(data, ind)
                departments = _lead_departments(data, ind)
            target = (data.variables or {}).get(f"y{data.year}.{ind}.target.zh") or f"{float(rec['target']):g}"
            findings.append(Finding(
                path, line, WARNING, "target-no-actual",
                f"{_indicator_words(data, ind)} has a {data.year} target ({target}) but no actual; {_department_names(data, departments)} "
                f"should report the {data.year} figure (实际值)"))
    if assessment is not None:
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
    """Every task of the edition year's own list needs a status (see the module docstring)."""
    from .catalog import split_list
    from .errors import InputValidationError
    from .readers import read_table

    list_path = data.root / "data" / "raw" / "tasks" / data.unit_id / str(data.year) / "tasks.csv"
    if not list_path.is_file():
        return []
    try:
        table = read_table(list_path, root=data.root)
    except InputValidationError:
        return []  # reported by ingestion; nothing to check against
    _, first_edition = _edition_entry(data.root, data.year)
    severity = WARNING if first_edition is not None and data.year <= first_edition else ERROR
    statuses: dict[int, Mapping] = {}
    if data.task_status is not None:
        for rec in data.task_status.to_dict("records"):
            number = pd.to_numeric(rec.get("task_no"), errors="coerce")
            if pd.notna(number):
                statuses[int(number)] = rec
    rows_by_task = _submission_task_rows(data)
    findings = []
    for row, cells in zip(table.rows, table.frame.to_dict("records")):
        number_text = cells.get("task_no", "")
        if not re.fullmatch(r"\d+", number_text.strip()):
            continue
        number = int(number_text)
        status = statuses.get(number, {}).get("status")
        if isinstance(status, str) and status.strip() and status != NO_STATUS:
            continue
        departments = split_list(cells.get("departments", ""))
        where = rows_by_task.get(number)
        path, line = where if where else (table.shown, row)
        title = cells.get("title_zh", "")
        folder = f"data/raw/submissions/{data.unit_id}/{data.year}"
        files = " or ".join(f"{folder}/{d}.xlsx" for d in departments) or f"{folder}/<department_id>.xlsx"
        hand_in = f"in the tasks sheet of {path}" if where else f"in the tasks sheet of {files}"
        findings.append(Finding(
            path, line, severity, "task-no-status",
            f"task {number} «{title}» has no status (完成情况); {_department_names(data, departments)} "
            f"enters {STATUS_WORDS} {hand_in}, then run the build"))
    return findings


def _submission_task_rows(data: _Data) -> dict[int, tuple[str, int]]:
    """Task number → (submission file, row) of the first tasks-sheet row naming it."""
    folder = data.root / "data" / "raw" / "submissions" / data.unit_id / str(data.year)
    found: dict[int, tuple[str, int]] = {}
    for path in _visible_files(folder, (".xlsx",)):
        for row, cells in _sheet_rows(path, "tasks") or []:
            text = cells.get("task_no", "").strip()
            number = int(float(text)) if re.fullmatch(r"\d+(\.0)?", text) else None
            if number is not None and number not in found:
                found[number] = (data.rel(path), row)
    return found
