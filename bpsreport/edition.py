"""Starting the next edition: ``pipeline.py new-year <year>``.

``year`` is the summary year of the new edition: the 2018 edition summarises 2018, reports
on the 2018 key task list (published with the 2017 edition) and publishes the 2019 list.
:func:`new_year` writes, and only ever *creates*:

- ``reports/<year>/{zh,en}/``: the page and part structure of the previous edition (the
  same pages, ``_parts/``, includes and embeds, with the year substituted), rendered from
  the Jinja2 templates in ``templates/edition/`` with the bilingual phrases of
  ``templates/edition/text.yml``. Narrative is replaced by short skeleton text: each
  domain's part lists the domain's tasks of the ``<year>`` task list (number, title,
  departments, status variable) for staff to report on. Sentences a person must write
  are marked ``TODO``, which ``pipeline.py check`` lists.
- an ``editions.<year>`` entry appended to ``config/edition.yml`` (as text: comments and
  earlier entries stay byte-identical) when there is none; values a person must confirm
  (document number, date of issue, catalog source id) are ``TODO``;
- the edition's sidebar (its pages, ``id: <lang>-<year>``) appended to
  ``_quarto-zh.yml`` and ``_quarto-en.yml`` the same way, so Quarto and the built-in
  renderer give the new edition's pages their own navigation;
- ``submissions/<year>/<department_id>.xlsx``: one submission template per department
  (:func:`bpsreport.submissions.write_department_templates`), a hand-out folder outside
  ``data/raw/``.

Nothing is ever overwritten: every file is opened with exclusive creation, so re-running
reports what exists and leaves it byte-identical. Nothing is written outside those three
places; data is read from ``data/raw/`` (validated in memory), never from or to
``data/clean/``.

Sentences about the year's figures are not written here: they depend on data that keeps
arriving after ``new-year`` (a target's actual, handed in later). The skeleton includes
``/reports/<year>/<lang>/_generated/results-<domain_id>.qmd`` (and ``results-overview``,
``overview-figures``, ``difficulties-counts``) instead, which the build re-writes from
the data every time (:func:`bpsreport.generate.results_parts`); staff replace the include
line with their own text when they are ready. The include path starts at the project
root, so it means the same under Quarto's rule for nested includes and the built-in
renderer's.

Task progress ("上一年度重点工作任务落实情况"): each domain part lists its tasks of the
``<year>`` list as an ordered list with their own numbers, title, departments and the
status variable ``y<year>.tasks.<task_no>.status`` (written by the build from the
departments' submissions, 未报送 / Not reported until one arrives), followed by ``TODO`` for
the narrative, after a line counting the domain's tasks by status
(``y<year>.domains.<domain_id>.tasks_<status>``, labels from ``config/labels.yml``). The
generated ``_generated/task-status-<domain_id>.qmd`` parts list the same tasks again and
are therefore not included by the skeleton; staff may include them instead of the list.

The next year's task list (二、<year+1>年重点工作任务) comes from ``_generated/tasks-*.qmd``
as in the previous edition; until ``data/raw/tasks/<unit>/<year+1>/tasks.csv`` exists the
build writes a marked placeholder there (:func:`bpsreport.generate.missing_task_list_parts`),
so the skeleton needs no change when the list arrives.

Examples
--------
>>> report = new_year(Path("."), 2018)                                  # doctest: +SKIP
>>> print(report)                                                       # doctest: +SKIP
New edition 2018 (gd-province) · 新一年度报告 2018年
Created · 已新建 (95):
  reports/2018/zh/index.qmd
  ...
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
import pandas as pd
import yaml

from .catalog import Catalog, load_catalog, split_list
from .errors import PipelineError
from .formatting import LANGS
from .generate import GENERATED_DIR, indicator_sentence, markdown_escape, var_shortcode  # noqa: F401
from .progress import StatusRules, assess_observations
from .submissions import STATUS_ORDER, TemplateError, task_status_count
from .variables import EDITION_CONFIG, EDITION_TEXT_FIELDS, EditionConfigError, indicator_variables
from bpsreport import yamlio

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = PROJECT_ROOT / "templates" / "edition"
TEXT_FILE = "text.yml"
CROSS_CUTTING = "cross_cutting"
# The status of a task of the year's list, a variable written by the build from the
# departments' submissions (docs/yearly-workflow.md §2-3).
TASK_STATUS_VARIABLE = "y{year}.tasks.{task_no}.status"
TASK_NOTE_VARIABLE = "y{year}.tasks.{task_no}.note"

# Pages of one language: (output path, template), as in reports/2017/<lang>/.
PAGES = (
    ("index.qmd", "index.qmd.j2"),
    ("report.qmd", "report.qmd.j2"),
    ("summary.qmd", "summary.qmd.j2"),
    ("tasks.qmd", "tasks.qmd.j2"),
    ("targets.qmd", "targets.qmd.j2"),
    ("sources.qmd", "sources.qmd.j2"),
)
# Parts of one language (``_parts/<name>.qmd`` from ``_parts/<name>.qmd.j2``); the ten
# domain parts and pages come from ``_parts/domain.qmd.j2`` and ``domains/domain.qmd.j2``.
PARTS = ("notice", "overview", "summary", "summary-overview", "main-work", "results-overview",
         "difficulties", "tasks", "tasks-overview", "measures", "appendix", "sources-intro",
         "status-note")


class NewYearError(PipelineError):
    """The new edition cannot be started as asked (bad year or unit, unusable config)."""

    exit_code = 2


# --- the report ------------------------------------------------------------------------------

@dataclass
class NewYearReport:
    """What :func:`new_year` did: files created, entries appended, files already there.

    ``str(report)`` is the bilingual summary printed for the person who ran the command.
    """

    root: Path
    unit_id: str
    year: int
    created: list[Path] = field(default_factory=list)
    appended: list[Path] = field(default_factory=list)
    existing: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a person must do or know

    @property
    def changed(self) -> bool:
        """True when anything was created or appended."""
        return bool(self.created or self.appended)

    def shown(self, path: Path) -> str:
        try:
            return str(Path(path).relative_to(self.root))
        except ValueError:
            return str(path)

    def __str__(self) -> str:
        lines = [f"New edition {self.year} ({self.unit_id}) · 新一年度报告 {self.year}年"]
        lines.append(f"Created · 已新建 ({len(self.created)}):")
        lines += [f"  {self.shown(p)}" for p in self.created] or ["  (nothing)"]
        if self.appended:
            lines.append(f"Added the {self.year} entry to · 已添加{self.year}年条目:")
            lines += [f"  {self.shown(p)}" for p in self.appended]
        lines.append(f"Already there, left unchanged · 已存在，未改动 ({len(self.existing)}):")
        lines += [f"  {self.shown(p)}" for p in self.existing] or ["  (nothing)"]
        if self.notes:
            lines.append("Notes · 说明:")
            lines += [f"  - {note}" for note in self.notes]
        lines += [
            "Next steps · 下一步:",
            f"  1. Confirm the values marked TODO in config/edition.yml (editions.{self.year}).",
            f"     核对 config/edition.yml 中 {self.year} 年条目里标有 TODO 的内容（文号、印发日期等）。",
            f"  2. Hand out submissions/{self.year}/<department>.xlsx; put the filled files in "
            f"data/raw/submissions/{self.unit_id}/{self.year}/.",
            f"     将 submissions/{self.year}/ 中的报送表发给各部门，收回后放入 "
            f"data/raw/submissions/{self.unit_id}/{self.year}/。",
            f"  3. Staff rewrite the TODO sentences in reports/{self.year}/zh/ and en/, then run "
            f"python pipeline.py build --year {self.year}.",
            f"     各部门改写 reports/{self.year}/ 中标有 TODO 的句子，然后运行 "
            f"python pipeline.py build --year {self.year}。",
        ]
        return "\n".join(lines)


# --- what the skeleton cites -------------------------------------------------------------------

@dataclass
class YearData:
    """One year of one unit as the build will see it, read from ``data/raw/`` in memory."""

    year: int
    assessment: pd.DataFrame
    tasks: pd.DataFrame | None
    fields: dict[str, dict]  # indicator_id -> the y<year>.<id>.* fields the build writes

    @property
    def has_variables(self) -> bool:
        """The build writes ``y<year>.*`` only for a year with an assessment (any figure)."""
        return not self.assessment.empty


def read_year(root: Path, catalog: Catalog, unit_id: str, year: int,
              rules: StatusRules) -> YearData:
    """Validate and assess one unit-year of ``data/raw/`` without writing anything."""
    from .ingest import ingest_edition

    result = ingest_edition(root / "data" / "raw", catalog, unit_id, year, root=root)
    observations = result.observations
    assessment = (assess_observations(observations, rules) if len(observations)
                  else pd.DataFrame(columns=["indicator_id", "domain_id"]))
    tasks = result.tasks if result.tasks is not None and len(result.tasks) else None
    fields = indicator_variables(assessment, catalog) if len(assessment) else {}
    return YearData(year=year, assessment=assessment, tasks=tasks, fields=fields)


def _shortcode_var(key: str, lang: str) -> str:
    return var_shortcode(key, lang)


def domain_context(domain_id: str, catalog: Catalog, current: YearData, previous: YearData,
                   lang: str, text: dict) -> dict:
    """What the templates need about one domain in one language."""
    tasks = []
    status_counts: list[str] = []
    if current.tasks is not None:
        own_tasks = current.tasks[current.tasks["domain_id"] == domain_id].sort_values("task_no")
        if len(own_tasks):
            status_counts = [task_status_count(
                status, _shortcode_var(f"y{current.year}.domains.{domain_id}.tasks_{status}", lang), lang)
                for status in STATUS_ORDER]
        for rec in own_tasks.to_dict("records"):
            task_no = int(rec["task_no"])
            tasks.append({
                "task_no": task_no,
                "title": str(rec[f"title_{lang}"]).strip().rstrip("。.").strip(),
                "departments": catalog.department_names(split_list(rec["departments"]), lang),
                "status": _shortcode_var(TASK_STATUS_VARIABLE.format(year=current.year, task_no=task_no),
                                         lang),
                # The department's own note, as it was entered (empty when there is none).
                "note": _shortcode_var(TASK_NOTE_VARIABLE.format(year=current.year, task_no=task_no),
                                       lang),
            })
    return {
        "domain_id": domain_id,
        "name": str(catalog.domains.at[domain_id, f"name_{lang}"]),
        "tasks": tasks,
        "task_count": _shortcode_var(f"y{current.year}.domains.{domain_id}.tasks", lang),
        "task_status_counts": status_counts,
    }


# --- rendering ---------------------------------------------------------------------------------

def load_text(template_dir: Path = TEMPLATE_DIR) -> dict:
    with open(Path(template_dir) / TEXT_FILE, encoding="utf-8") as fh:
        return yamlio.safe_load(fh)


def _yaml_scalar(value: object) -> str:
    """A double-quoted YAML string (JSON strings are valid YAML), characters kept as they are."""
    return json.dumps(str(value), ensure_ascii=False)


def environment(template_dir: Path = TEMPLATE_DIR) -> jinja2.Environment:
    """Jinja2 with ``[[ ]]`` / ``[% %]`` / ``[# #]`` delimiters.

    Quarto's own ``{{< … >}}`` shortcodes and ``{#sec-…}`` ids then pass through the
    templates as plain text.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
        variable_start_string="[[", variable_end_string="]]",
        block_start_string="[%", block_end_string="%]",
        comment_start_string="[#", comment_end_string="#]",
    )
    env.filters["md"] = markdown_escape
    env.filters["yaml"] = _yaml_scalar
    return env


def _language_globals(lang: str, year: int, unit_id: str, text: dict) -> dict:
    years = {"year": year, "next_year": year + 1, "prev_year": year - 1, "unit_id": unit_id}

    def t(key: str, **values) -> str:
        return str(text[key][lang]).format(**{**years, **values})

    def var(key: str) -> str:
        return _shortcode_var(key, lang)

    def include(path: str) -> str:
        # ``path`` is relative to reports/<year>/<lang>/ (or already from the project
        # root). Written from the project root, because Quarto resolves an include against
        # the page being rendered, not against the part that holds it (../shared/QUARTO.md
        # item 2): a part included by pages at different depths must not use a relative path.
        full = path if path.startswith("/") else edition_path(path)
        return "{{< include " + full + " >}}"

    def edition_path(rel: str) -> str:
        """A file of this edition and language from the project root, the way every include
        is written (Quarto resolves a nested include against the top-level page; a root
        path means the same wherever it stands, ../shared/QUARTO.md item 2)."""
        return f"/reports/{year}/{lang}/{rel}"

    def generated(name: str) -> str:
        """A note for staff, then the include of a part the build writes from the data."""
        path = edition_path(f"{GENERATED_DIR}/{name}")
        return t("generated_include", path=path) + "\n" + include(path)

    def exhibits(name: str) -> str:
        """The include of a generated part that places charts and tables, with its note."""
        path = edition_path(f"{GENERATED_DIR}/exhibits-{name}.qmd")
        return t("generated_exhibits_include", path=path) + "\n" + include(path)

    def embed(notebook: str, label: str) -> str:
        return ("{{< embed " + f"/build/{unit_id}/{year}/notebooks/{notebook}.ipynb#{label}-{lang}"
                + " >}}")

    return {"t": t, "var": var, "include": include, "embed": embed, "generated": generated,
            "exhibits": exhibits,
            "edition_path": edition_path, "lang": lang, **years}


def render_skeleton(catalog: Catalog, unit_id: str, current: YearData, previous: YearData, *,
                    template_dir: Path = TEMPLATE_DIR) -> dict[str, str]:
    """Every file of the new edition: ``{"zh/index.qmd": text, ...}`` (paths under reports/<year>/)."""
    env = environment(template_dir)
    text = load_text(template_dir)
    year = current.year
    domain_ids = [d for d in catalog.domains.index if d != CROSS_CUTTING]
    out: dict[str, str] = {}
    for lang in LANGS:
        context = _language_globals(lang, year, unit_id, text)
        domains = [domain_context(d, catalog, current, previous, lang, text) for d in domain_ids]
        context.update(
            domains=domains,
            task_list_missing=current.tasks is None,
            task_list_path=f"data/raw/tasks/{unit_id}/{year}/tasks.csv",
        )
        for rel, name in PAGES:
            out[f"{lang}/{rel}"] = env.get_template(name).render(context)
        for part in PARTS:
            out[f"{lang}/_parts/{part}.qmd"] = env.get_template(f"_parts/{part}.qmd.j2").render(context)
        for domain in domains:
            d = domain["domain_id"]
            out[f"{lang}/domains/{d}.qmd"] = env.get_template("domains/domain.qmd.j2").render(
                context, domain=domain)
            out[f"{lang}/_parts/{d}.qmd"] = env.get_template("_parts/domain.qmd.j2").render(
                context, domain=domain)
    return out


# --- writing without overwriting -------------------------------------------------------------

def create_file(path: Path, data: str | bytes, report: NewYearReport) -> bool:
    """Create ``path`` with ``data`` unless it exists (exclusive creation); record which."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if isinstance(data, bytes):
            with open(path, "xb") as fh:
                fh.write(data)
        else:
            with open(path, "x", encoding="utf-8", newline="\n") as fh:
                fh.write(data)
    except FileExistsError:
        report.existing.append(path)
        return False
    report.created.append(path)
    return True


# --- config/edition.yml ------------------------------------------------------------------------

_DOC_NUMBER_ZH = re.compile(r"〔(\d{4})〕\d+号")
_DOC_NUMBER_EN = re.compile(r"\[(\d{4})\] No\. \d+")


def _next_doc_number(previous: dict | None) -> dict[str, str]:
    """The previous number with the year moved on and the serial number left ``TODO``.

    >>> _next_doc_number({"zh": "粤财办〔2018〕6号", "en": "Yue Cai Ban [2018] No. 6"})
    {'zh': '粤财办〔2019〕TODO号', 'en': 'Yue Cai Ban [2019] No. TODO'}
    """
    previous = previous or {}
    zh, en = str(previous.get("zh", "")), str(previous.get("en", ""))
    out = {"zh": "TODO", "en": "TODO"}
    if _DOC_NUMBER_ZH.search(zh):
        out["zh"] = _DOC_NUMBER_ZH.sub(lambda m: f"〔{int(m.group(1)) + 1}〕TODO号", zh)
    if _DOC_NUMBER_EN.search(en):
        out["en"] = _DOC_NUMBER_EN.sub(lambda m: f"[{int(m.group(1)) + 1}] No. TODO", en)
    return out


def edition_entry_text(config: dict, year: int, unit_id: str, *,
                       template_dir: Path = TEMPLATE_DIR) -> str:
    """The YAML text of a new ``editions.<year>`` entry, indented to sit under ``editions:``.

    Texts are carried over from the latest earlier entry; the document number gets the next
    year and a ``TODO`` serial; the date of issue and the catalog source id are ``TODO``.
    """
    editions = config.get("editions") or {}
    earlier = sorted(int(y) for y in editions if int(y) < year)
    previous_year = earlier[-1] if earlier else None
    previous = {}
    if previous_year is not None:
        previous = editions.get(previous_year, editions.get(str(previous_year))) or {}
    fields = []
    for name in EDITION_TEXT_FIELDS:
        if name == "doc_number":
            fields.append({"name": name, "value": _next_doc_number(previous.get(name)),
                           "comment": "the serial number is a placeholder until the document is numbered"})
            continue
        value = previous.get(name)
        if isinstance(value, dict) and all(lang in value for lang in LANGS):
            fields.append({"name": name, "value": {lang: value[lang] for lang in LANGS}, "comment": ""})
        else:
            fields.append({"name": name, "value": {lang: "TODO" for lang in LANGS}, "comment": ""})
    return environment(template_dir).get_template("edition-entry.yml.j2").render(
        year=year, unit_id=unit_id, previous_year=previous_year, fields=fields)


def append_edition_entry(config_file: Path, year: int, unit_id: str, report: NewYearReport, *,
                         template_dir: Path = TEMPLATE_DIR) -> bool:
    """Append an ``editions.<year>`` entry to ``config/edition.yml`` unless it has one.

    The file is only appended to, so its comments and earlier entries stay byte-identical.
    The appended text is checked first: the file must still parse, keep every earlier entry
    and gain exactly this one (this fails when ``editions:`` is not the file's last key).
    """
    config_file = Path(config_file)
    text = config_file.read_text(encoding="utf-8")
    config = yamlio.safe_load(text) or {}
    editions = config.get("editions") or {}
    if int(year) in editions or str(year) in editions:
        report.existing.append(config_file)
        return False
    addition = ("" if text.endswith("\n") else "\n") + "\n" + edition_entry_text(
        config, year, unit_id, template_dir=template_dir)
    try:
        combined = yamlio.safe_load(text + addition) or {}
    except yaml.YAMLError:
        combined = {}
    new_editions = combined.get("editions") or {}
    kept = {k: v for k, v in new_editions.items() if k != year}
    if year not in new_editions or kept != editions or \
            {k: v for k, v in combined.items() if k != "editions"} != \
            {k: v for k, v in config.items() if k != "editions"}:
        raise EditionConfigError(
            f"{config_file}: cannot append an entry for {year} safely: `editions:` must be the "
            f"last key of the file. Add the entry by hand (copy the last one) and run again.")
    with open(config_file, "a", encoding="utf-8", newline="\n") as fh:
        fh.write(addition)
    report.appended.append(config_file)
    report.notes.append(
        f"{report.shown(config_file)}: added the {year} entry; confirm the values marked TODO "
        f"(document number, date of issue, source id) · 已添加{year}年条目，请核对标有 TODO 的内容")
    return True


def append_sidebar(root: Path, year: int, lang: str, catalog: Catalog, unit_id: str,
                   report: NewYearReport, *, template_dir: Path = TEMPLATE_DIR) -> bool:
    """Append the edition's sidebar to ``_quarto-<lang>.yml`` unless it has one.

    Each edition has its own sidebar (``id: <lang>-<year>``), which Quarto shows on the
    pages it lists; the profile is only appended to (comments and earlier sidebars stay
    byte-identical), and the result must parse with exactly this sidebar added, which
    needs ``website: sidebar:`` to be the file's last list.
    """
    profile = Path(root) / f"_quarto-{lang}.yml"
    if not profile.is_file():
        return False
    text = profile.read_text(encoding="utf-8")
    config = yamlio.safe_load(text) or {}
    bars = ((config.get("website") or {}).get("sidebar")) or []
    if any(isinstance(b, dict) and b.get("id") == f"{lang}-{year}" for b in bars):
        report.existing.append(profile)
        return False
    env = environment(template_dir)
    texts = load_text(template_dir)
    globals_ = _language_globals(lang, year, unit_id, texts)
    domain_ids = [d for d in catalog.domains.index if d != CROSS_CUTTING]
    addition = ("" if text.endswith("\n") else "\n") + env.get_template("sidebar.yml.j2").render(
        **globals_, domain_ids=domain_ids)
    try:
        combined = yamlio.safe_load(text + addition) or {}
    except yaml.YAMLError:
        combined = {}
    new_bars = (combined.get("website") or {}).get("sidebar") or []
    if [b for b in new_bars if b.get("id") != f"{lang}-{year}"] != list(bars) or \
            len(new_bars) != len(bars) + 1:
        raise EditionConfigError(
            f"{profile}: cannot append the {year} sidebar safely: `website: sidebar:` must be "
            f"the last list of the file. Add it by hand (copy the last edition's sidebar and "
            f"change the year) and run again.")
    with open(profile, "a", encoding="utf-8", newline="\n") as fh:
        fh.write(addition)
    report.appended.append(profile)
    return True


# --- department templates ----------------------------------------------------------------------

def write_submission_templates(root: Path, unit_id: str, year: int, report: NewYearReport) -> None:
    """``submissions/<year>/<department_id>.xlsx``: one template per department, never replaced.

    The workbooks are made in a temporary folder by
    :func:`bpsreport.submissions.write_department_templates`, then each is copied in with
    exclusive creation, so a template someone already has (or has started filling in) is
    never replaced.
    """
    from .submissions import write_department_templates

    out_dir = Path(root) / "submissions" / str(year)
    with tempfile.TemporaryDirectory(prefix="bpsreport-templates-") as tmp:
        try:
            write_department_templates(Path(root), unit_id, int(year), Path(tmp))
        except TemplateError as exc:
            # The templates need clean data (targets, task list): the report files stand,
            # and running new-year again after a build adds the templates.
            report.notes.append(
                f"department templates not written: {exc}. After `python pipeline.py build`, "
                f"run new-year {year} again to write them · 部门报送表未生成：请先运行 build，"
                f"再运行 new-year {year}")
            return
        for made in sorted(Path(tmp).iterdir()):
            if made.is_file():
                create_file(out_dir / made.name, made.read_bytes(), report)


# --- the command -------------------------------------------------------------------------------

def new_year(root: Path, year: int, *, unit_id: str | None = None,
             template_dir: Path = TEMPLATE_DIR) -> NewYearReport:
    """Start the edition of summary year ``year``; never overwrite anything (module docstring).

    Parameters
    ----------
    root
        The project folder.
    year
        The summary year of the new edition (2018: the 2018 summary and the 2019 task list).
    unit_id
        The report unit (default: the catalog's default unit, the province).

    Returns
    -------
    NewYearReport
        The files created, the config entry appended, and what was already there.

    Raises
    ------
    InputValidationError
        The raw data of ``year`` or the year before does not validate.
    NewYearError
        Unknown unit or an implausible year.
    EditionConfigError
        ``config/edition.yml`` cannot be appended to safely.
    """
    root = Path(root).resolve()
    year = int(year)
    if not 1900 < year < 3000:
        raise NewYearError(f"{year} is not a plausible summary year (e.g. 2018)")
    catalog = load_catalog(root / "data" / "raw", root=root)
    unit_id = unit_id or catalog.default_unit
    if unit_id not in catalog.report_units.index:
        raise NewYearError(f"unknown report unit {unit_id!r}; expected one of: "
                           + ", ".join(catalog.report_units.index))
    rules = StatusRules.from_config(root / "config" / "status.yml")
    current = read_year(root, catalog, unit_id, year, rules)
    previous = read_year(root, catalog, unit_id, year - 1, rules)

    files = render_skeleton(catalog, unit_id, current, previous, template_dir=template_dir)
    report = NewYearReport(root=root, unit_id=unit_id, year=year)
    reports_dir = root / "reports" / str(year)
    for rel, text in files.items():
        create_file(reports_dir / rel, text, report)
    append_edition_entry(root / EDITION_CONFIG, year, unit_id, report, template_dir=template_dir)
    for lang in LANGS:
        append_sidebar(root, year, lang, catalog, unit_id, report, template_dir=template_dir)
    write_submission_templates(root, unit_id, year, report)
    return report
