"""Department submission templates (XLSX), their ingestion, and task statuses.

Every year each department gets one workbook to fill in (``docs/yearly-workflow.md`` §2):

    write_department_templates(root, unit_id, year, out_dir)     hand-out: <department_id>.xlsx
    data/raw/submissions/<unit_id>/<year>/<department_id>.xlsx    the filled file, dropped unchanged
    bpsreport.ingest → ingest_submissions                         clean observations + task_status

A template has five sheets:

- ``instructions``: what to fill in and how, Chinese beside English (text in
  ``config/labels.yml``, ``submission_template``);
- ``data``: one row per indicator the department reports (the catalog's
  ``reporting_department``) that has a target for the year or an actual in an earlier
  year. Identity, unit, the target (for reference) and ``measure = actual`` are prefilled
  and locked; ``value``, ``source``, ``derived``, ``formula`` and ``note`` are input cells
  with data validation;
- ``tasks``: one row per task of the year's list the department leads (named first in
  ``tasks.departments``), with a ``status`` list and a ``note``;
- ``context`` (read only, never read back): the figures of the department's domains that
  other departments report, and the shared tasks other departments lead;
- ``metadata`` (hidden, locked): the unit, year and department the workbook was made
  for, which ingestion compares with the folder the filled file is put in.

So no two workbooks ask for the same figure or status. When two still give one (an edited
workbook), the reporting department's value wins if they agree, with a warning naming
both files; if they disagree, that is a problem naming both files and both values.

A filled template is read with the same header normalisation and the same row checks as a
domain file (:func:`bpsreport.ingest.check_observation`), so its errors name the
template's own sheet, Excel row and column. In a submission an empty ``value`` means
*not reported* and an empty ``status`` means the department left the task to a
co-responsible department; neither is an error (``pipeline.py check`` lists them).

Task statuses are ``completed``, ``in_progress``, ``not_started`` and ``not_applicable``
(:data:`TASK_STATUSES`); a filled template may also use the Chinese labels of
``config/labels.yml`` (已完成, 推进中, 未启动, 不适用). A task nobody reported on has
:data:`NO_STATUS` in the clean ``task_status`` table.

Examples
--------
>>> written = write_department_templates(Path("."), "gd-province", 2018,
...                                      Path("submissions/2018"))     # doctest: +SKIP
>>> [p.name for p in written][:3]                                      # doctest: +SKIP
['finance.xlsx', 'edu.xlsx', 'health.xlsx']
>>> parse_task_status("推进中")
'in_progress'
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.workbook.protection import WorkbookProtection
from openpyxl.worksheet.datavalidation import DataValidation

from .catalog import Catalog, load_catalog, split_list
from .errors import InputValidationError, PipelineError, ProblemCollector
from .formatting import LANGS, format_target
from .cell_text import LINE, LINES, vet_columns
from .ingest import (OBSERVATION_TEXT, REQUIRED_OBSERVATION_COLUMNS, CellRef, SeenRows,
                     _observation_frame, check_observation, require_columns)
from .readers import read_sheets, shown_path
from bpsreport import yamlio

LABELS_FILE = Path(__file__).resolve().parent.parent / "config" / "labels.yml"

#: The statuses a department may report, in display order.
TASK_STATUSES = ("completed", "in_progress", "not_started", "not_applicable")
#: The status of a task that nobody reported on.
NO_STATUS = "no_status"
#: Every status of the clean ``task_status`` table, in display order.
STATUS_ORDER = (*TASK_STATUSES, NO_STATUS)
#: Columns of ``data/clean/<unit_id>/<year>/task_status.{parquet,csv}``.
TASK_STATUS_COLUMNS = ["task_no", "domain_id", "status", "note", "department_id",
                       "source_file", "source_row"]

INSTRUCTIONS_SHEET, DATA_SHEET, TASKS_SHEET = "instructions", "data", "tasks"
#: The read-only reference sheet (figures and tasks other departments report) and the
#: hidden sheet that says which unit, year and department the workbook was made for.
CONTEXT_SHEET, METADATA_SHEET = "context", "metadata"
#: Fields of the metadata sheet, one per row from row 2, the value in column B.
METADATA_FIELDS = ("unit_id", "year", "department_id", "template_version")
#: Version 2: one reporting department per figure and task, and the metadata sheet.
TEMPLATE_VERSION = 2
#: Columns of the template's data sheet; the first six are prefilled and locked.
DATA_COLUMNS = ("indicator_id", "indicator", "unit", "target", "year", "measure",
                "value", "source", "derived", "formula", "note")
DATA_INPUTS = ("value", "source", "derived", "formula", "note")
#: Columns of the template's tasks sheet; ``status`` and ``note`` are input cells.
TASK_SHEET_COLUMNS = ("task_no", "task", "departments", "status", "note")
TASK_INPUTS = ("status", "note")
#: Text policy of the tasks sheet (bpsreport.cell_text): the note may hold several lines.
TASK_SHEET_TEXT = {"task_no": LINE, "status": LINE, "note": LINES}
SUBMISSIONS_DIR = Path("data") / "raw" / "submissions"

_WIDTHS = {"indicator_id": 30, "indicator": 34, "unit": 10, "target": 14, "year": 8,
           "measure": 10, "value": 14, "source": 34, "derived": 12, "formula": 26,
           "note": 36, "task_no": 8, "task": 40, "departments": 28, "status": 16}
_LOCKED_FILL = PatternFill("solid", fgColor="EDEFF2")
_INPUT_FILL = PatternFill("solid", fgColor="FFF6D5")
_HEADER_FILL = PatternFill("solid", fgColor="D9DEE5")
_BOLD = Font(bold=True)
_WRAP = Alignment(wrap_text=True, vertical="top")


class TemplateError(PipelineError):
    """A template cannot be written (no clean data yet, or the file already exists)."""

    exit_code = 2


# --- labels and the status vocabulary ---------------------------------------------------------

@lru_cache(maxsize=4)
def _labels(path: Path = LABELS_FILE) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yamlio.safe_load(fh)


def _text(key: str, lang: str, **fields: object) -> str:
    node = _labels()
    for part in key.split("."):
        node = node[part]
    text = str(node[lang])
    return text.format(**fields) if fields else text


def task_status_label(status: str, lang: str) -> str:
    """The label of a task status: ``task_status_label("in_progress", "zh")`` → ``推进中``."""
    if status not in STATUS_ORDER:
        raise ValueError(f"unknown task status {status!r}; expected one of {', '.join(STATUS_ORDER)}")
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, not {lang!r}")
    return str(_labels()["task_status"][status][lang])


def task_status_fill(status: str) -> str:
    """The light background colour of a status cell (``config/labels.yml``)."""
    return str(_labels()["task_status"][status]["fill"])


def task_status_count(status: str, count: int, lang: str) -> str:
    """``已完成2项`` / ``Completed: 2``."""
    return _text("task_status.count", lang, label=task_status_label(status, lang), count=count)


def _status_aliases() -> dict[str, str]:
    aliases = {}
    for status in TASK_STATUSES:
        for name in (status, *(task_status_label(status, lang) for lang in LANGS)):
            aliases[_fold(name)] = status
    return aliases


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKC", str(text)).strip().casefold()
    return re.sub(r"[\s\-]+", "_", text)


def parse_task_status(text: str) -> str | None:
    """The status id a cell stands for, or ``None`` when it is not a status.

    English ids and the zh/en labels of ``config/labels.yml`` are accepted, ignoring case,
    full-width characters and spaces (``In progress`` and ``in-progress`` both work).

    >>> parse_task_status(" Completed ")
    'completed'
    >>> parse_task_status("不适用")
    'not_applicable'
    >>> parse_task_status("done") is None
    True
    """
    return _status_aliases().get(_fold(text))


def status_choices() -> list[str]:
    """What the template's status list offers: the ids, then the Chinese labels."""
    return [*TASK_STATUSES, *(task_status_label(s, "zh") for s in TASK_STATUSES)]


# --- who reports what ---------------------------------------------------------------------------
#
# Every figure and every task status has exactly one department that reports it, so that two
# workbooks never ask for the same thing: an indicator's ``reporting_department`` in the
# catalog, and a task's lead department, the first of its ``departments`` (粤财办〔2018〕6号
# names the lead first, e.g. 负责部门：省卫生计生委、省中医药局). Departments that share a
# domain or a task see the others' rows on the read-only ``context`` sheet.

def department_domains(catalog: Catalog, department_id: str) -> list[str]:
    """The domains a department leads (``lead_departments``), in the seed's order."""
    return [str(d) for d, leads in catalog.domains["lead_departments"].items()
            if department_id in split_list(leads)]


def task_lead(departments: object) -> str:
    """The department that reports a task's status: the first one the task names.

    >>> task_lead("health;tcm")
    'health'
    """
    ids = split_list(departments)
    return ids[0] if ids else ""


def department_tasks(tasks: pd.DataFrame | None, department_id: str) -> pd.DataFrame:
    """The tasks of a list whose status a department reports (it is named first)."""
    if tasks is None or tasks.empty:
        return pd.DataFrame(columns=["task_no", "domain_id", "title_zh", "departments"])
    mine = tasks["departments"].map(lambda ids: task_lead(ids) == department_id)
    return tasks[mine].sort_values("task_no", kind="stable")


def shared_tasks(tasks: pd.DataFrame | None, department_id: str) -> pd.DataFrame:
    """Tasks a department shares but another department leads (shown read-only)."""
    if tasks is None or tasks.empty:
        return pd.DataFrame(columns=["task_no", "domain_id", "title_zh", "departments"])
    shared = tasks["departments"].map(
        lambda ids: department_id in split_list(ids) and task_lead(ids) != department_id)
    return tasks[shared].sort_values("task_no", kind="stable")


def _department_label(catalog: Catalog, department_id: str) -> str:
    if department_id in catalog.departments.index:
        return f"{catalog.departments.at[department_id, 'name_zh']} ({department_id})"
    return department_id


def _read_clean(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / f"{name}.parquet"
    return pd.read_parquet(path) if path.exists() else None


def _unit_observations(clean_dir: Path, unit_id: str) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in sorted((Path(clean_dir) / unit_id).glob("*/observations.parquet"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["year", "indicator_id", "measure", "value", "target_type", "source_file"])


def _year_rows(catalog: Catalog, unit_id: str, year: int, *, clean_dir: Path) -> list[dict]:
    """Indicators to ask for in ``year``, in catalog order, whoever reports them.

    An indicator is asked for when it has a target for ``year`` or an actual in an
    earlier year (clean data of ``unit_id``), unless a domain file already gives its
    ``year`` actual (a figure is given in one place only).
    """
    obs = _unit_observations(clean_dir, unit_id)
    obs = obs[obs["indicator_id"].isin(catalog.indicators.index)]
    targets = obs[(obs["year"] == year) & (obs["measure"] == "target")].set_index("indicator_id")
    earlier = set(obs.loc[(obs["year"] < year) & (obs["measure"] == "actual"), "indicator_id"])
    from_submissions = obs["source_file"].astype(str).str.startswith(SUBMISSIONS_DIR.as_posix() + "/")
    given = set(obs.loc[(obs["year"] == year) & (obs["measure"] == "actual") & ~from_submissions,
                        "indicator_id"])
    rows = []
    for domain_id in catalog.domains.index:
        for indicator_id, ind in catalog.indicators[catalog.indicators["domain_id"] == domain_id].iterrows():
            if indicator_id in given or (indicator_id not in targets.index and indicator_id not in earlier):
                continue
            target = _text("submission_template.no_target", "zh")
            if indicator_id in targets.index:
                rec = targets.loc[indicator_id]
                kind = rec["target_type"] if isinstance(rec["target_type"], str) else "count"
                target = format_target(float(rec["value"]), kind, ind, "zh")
            rows.append({"indicator_id": str(indicator_id), "indicator": str(ind["name_zh"]),
                         "unit": str(ind["unit"]), "target": target, "domain_id": str(domain_id),
                         "reported_by": str(ind["reporting_department"]),
                         "upper": catalog.upper_bound(indicator_id)})
    return rows


def template_rows(catalog: Catalog, unit_id: str, year: int, department_id: str, *,
                  clean_dir: Path) -> list[dict]:
    """The data-sheet rows of one department's template, in catalog order.

    An indicator is listed when the department reports it (the catalog's
    ``reporting_department``, whatever its domain) and it has a target for ``year`` or an
    actual in an earlier year (clean data of ``unit_id``). An indicator whose ``year``
    actual a domain file already gives is left out, since a figure is given in one place
    only.

    Returns
    -------
    list of dict
        ``indicator_id``, ``indicator`` (zh name), ``unit``, ``target`` (as the Chinese
        edition prints it, e.g. ``≥ 95%``, ``110万人``; ``—`` without a target),
        ``domain_id``, ``reported_by`` and ``upper`` (the value's upper bound or ``None``).
    """
    return [r for r in _year_rows(catalog, unit_id, int(year), clean_dir=clean_dir)
            if r["reported_by"] == department_id]


def context_rows(catalog: Catalog, unit_id: str, year: int, department_id: str, *,
                 clean_dir: Path) -> list[dict]:
    """Figures of the domains a department leads that other departments report.

    Shown on the template's read-only ``context`` sheet so that a department sees its
    whole domain without being asked for another department's figure (same keys as
    :func:`template_rows`).
    """
    domains = set(department_domains(catalog, department_id))
    return [r for r in _year_rows(catalog, unit_id, int(year), clean_dir=clean_dir)
            if r["domain_id"] in domains and r["reported_by"] != department_id]


# --- writing templates ----------------------------------------------------------------------------

def write_department_template(path: Path, catalog: Catalog, unit_id: str, year: int,
                              department_id: str, *, clean_dir: Path) -> Path:
    """Write one department's submission template (a new file; never overwrites).

    Parameters
    ----------
    path
        The ``.xlsx`` file to create, usually ``submissions/<year>/<department_id>.xlsx``.
    catalog
        The loaded catalog.
    unit_id, year
        The report unit and the year the figures and statuses are for.
    department_id
        A catalog department.
    clean_dir
        ``data/clean``: the year's targets and task list and earlier actuals are read here.

    Raises
    ------
    TemplateError
        When ``path`` already exists or the department is unknown.
    """
    path = Path(path)
    if department_id not in catalog.departments.index:
        raise TemplateError(f"unknown department {department_id!r}; expected one of "
                            + ", ".join(catalog.departments.index))
    year = int(year)
    rows = template_rows(catalog, unit_id, year, department_id, clean_dir=clean_dir)
    context = context_rows(catalog, unit_id, year, department_id, clean_dir=clean_dir)
    task_list = _read_clean(Path(clean_dir) / unit_id / str(year), "tasks")
    book = _template_book(catalog, unit_id, year, department_id, rows,
                          department_tasks(task_list, department_id), context,
                          shared_tasks(task_list, department_id))
    buffer = io.BytesIO()
    book.save(buffer)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "xb") as fh:  # exclusive: a filled-in copy is never overwritten
            fh.write(buffer.getvalue())
    except FileExistsError:
        raise TemplateError(f"{path} already exists and is left as it is") from None
    return path


def write_department_templates(root: Path, unit_id: str | None, year: int,
                               out_dir: Path) -> list[Path]:
    """Write the template of every department that has figures or tasks to report.

    Departments come in catalog order. A template that already exists in ``out_dir`` is
    left untouched (it may be filled in already) and is not in the returned list.

    Parameters
    ----------
    root
        The project root (``data/raw/catalog`` and ``data/clean`` are read).
    unit_id
        The report unit; ``None`` for the default (the province).
    year
        The year the figures and task statuses are for.
    out_dir
        The hand-out folder, e.g. ``submissions/<year>`` (outside ``data/raw``).

    Returns
    -------
    list of Path
        The templates written.

    Raises
    ------
    TemplateError
        When there is no clean data for the unit yet (run the build first).
    """
    root = Path(root)
    catalog = load_catalog(root / "data" / "raw", root=root)
    unit_id = unit_id or catalog.default_unit
    clean_dir = root / "data" / "clean"
    if not (clean_dir / unit_id).is_dir():
        raise TemplateError(f"{clean_dir / unit_id}: no clean data for {unit_id}; run "
                            "`pipeline.py build` first, then write the templates")
    tasks = _read_clean(clean_dir / unit_id / str(year), "tasks")
    written = []
    for department_id in catalog.departments.index:
        path = Path(out_dir) / f"{department_id}.xlsx"
        if path.exists():
            continue
        rows = template_rows(catalog, unit_id, int(year), department_id, clean_dir=clean_dir)
        if not rows and department_tasks(tasks, department_id).empty:
            continue  # nothing to report this year (what it shares, others report)
        written.append(write_department_template(path, catalog, unit_id, year, department_id,
                                                 clean_dir=clean_dir))
    return written


def _template_book(catalog: Catalog, unit_id: str, year: int, department_id: str,
                   rows: list[dict], tasks: pd.DataFrame, context: list[dict],
                   shared: pd.DataFrame) -> Workbook:
    book = Workbook()
    names = {lang: str(catalog.departments.at[department_id, f"name_{lang}"]) for lang in LANGS}
    units = {lang: str(catalog.report_units.at[unit_id, f"name_{lang}"])
             if unit_id in catalog.report_units.index else unit_id for lang in LANGS}
    book.properties.title = _text("submission_template.title", "en", department=names["en"],
                                  year=year, unit=units["en"])
    book.properties.creator = "bpsreport"
    _instructions_sheet(book.active, catalog, unit_id, year, department_id, names, units)
    _data_sheet(book.create_sheet(DATA_SHEET), year, rows)
    _tasks_sheet(book.create_sheet(TASKS_SHEET), catalog, tasks)
    _context_sheet(book.create_sheet(CONTEXT_SHEET), catalog, context, shared)
    _metadata_sheet(book.create_sheet(METADATA_SHEET), unit_id, year, department_id)
    # Sheets can be neither added, deleted nor renamed; no password, as the point is to
    # keep the structure intact, not to keep anyone out.
    book.security = WorkbookProtection(lockStructure=True)
    return book


def _instructions_sheet(ws, catalog, unit_id, year, department_id, names, units) -> None:
    ws.title = INSTRUCTIONS_SHEET
    drop = (SUBMISSIONS_DIR / unit_id / str(year) / f"{department_id}.xlsx").as_posix()
    domains = {lang: _text("separators.list", lang).join(
        str(catalog.domains.at[d, f"name_{lang}"]) for d in department_domains(catalog, department_id))
        for lang in LANGS}
    statuses = {lang: "\n".join(
        f"{s} {task_status_label(s, 'zh')}" + (f" ({task_status_label(s, 'en')})" if lang == "en" else "")
        + ("：" if lang == "zh" else ": ") + _text(f"task_status.{s}.meaning", lang)
        for s in TASK_STATUSES) for lang in LANGS}
    ws.column_dimensions["A"].width = 70
    ws.column_dimensions["B"].width = 70
    for column, lang in (("A", "zh"), ("B", "en")):
        cell = ws[f"{column}1"]
        cell.value = _text("submission_template.title", lang, department=names[lang],
                           year=year, unit=units[lang])
        cell.font = Font(bold=True, size=13)
        cell.alignment = _WRAP
    row = 3
    for entry in _labels()["submission_template"]["instructions"]:
        for column, lang in (("A", "zh"), ("B", "en")):
            fields = {"department": names[lang], "department_id": department_id,
                      "unit": units[lang], "unit_id": unit_id, "year": year,
                      "domains": domains[lang] or "—", "path": drop, "statuses": statuses[lang]}
            head = ws[f"{column}{row}"]
            head.value = str(entry["heading"][lang])
            head.font = _BOLD
            body = ws[f"{column}{row + 1}"]
            body.value = str(entry["text"][lang]).format(**fields)
            body.alignment = _WRAP
        row += 3
    ws.protection.sheet = True


def _header(ws, columns: Iterable[str]) -> None:
    words = _labels()["submission_template"]["columns"]
    for i, column in enumerate(columns, start=1):
        cell = ws.cell(row=1, column=i, value=f"{column} {words[column]}")
        cell.font = _BOLD
        cell.fill = _HEADER_FILL
        cell.alignment = _WRAP
        ws.column_dimensions[get_column_letter(i)].width = _WIDTHS[column]
    ws.freeze_panes = "A2"


def _protect(ws) -> None:
    """Lock the sheet (no password) but let staff resize columns and rows."""
    ws.protection.sheet = True
    ws.protection.formatColumns = False
    ws.protection.formatRows = False


def _column_range(columns: tuple[str, ...], name: str, first: int, last: int) -> str:
    letter = get_column_letter(columns.index(name) + 1)
    return f"{letter}{first}:{letter}{last}"


def _data_sheet(ws, year: int, rows: list[dict]) -> None:
    _header(ws, DATA_COLUMNS)
    for r, row in enumerate(rows, start=2):
        values = {**row, "year": year, "measure": "actual"}
        for c, column in enumerate(DATA_COLUMNS, start=1):
            cell = ws.cell(row=r, column=c, value=values.get(column))
            if column in DATA_INPUTS:
                cell.protection = Protection(locked=False)
                cell.fill = _INPUT_FILL
                if column != "value":
                    cell.number_format = "@"  # text: "no" must not become FALSE
            else:
                cell.fill = _LOCKED_FILL
    if rows:
        _value_validations(ws, year, rows)
        derived = DataValidation(type="list", formula1='"yes,no"', allow_blank=True,
                                 showErrorMessage=True, showInputMessage=True,
                                 promptTitle=_bilingual_title("derived_title"),
                                 prompt=_bilingual("derived_prompt"))
        derived.add(_column_range(DATA_COLUMNS, "derived", 2, len(rows) + 1))
        ws.add_data_validation(derived)
    _protect(ws)


def _value_validations(ws, year: int, rows: list[dict]) -> None:
    """Decimal ≥ 0, bounded above by the catalog; one validation per distinct bound."""
    letter = get_column_letter(DATA_COLUMNS.index("value") + 1)
    by_bound: dict[float | None, list[int]] = {}
    for r, row in enumerate(rows, start=2):
        by_bound.setdefault(row["upper"], []).append(r)
    for upper, numbers in by_bound.items():
        if upper is None:
            check = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0",
                                   error=_bilingual("value_error"))
        else:
            check = DataValidation(type="decimal", operator="between", formula1="0",
                                   formula2=f"{upper:g}",
                                   error=_bilingual("value_error_bounded", upper=f"{upper:g}"))
        check.allow_blank = True
        check.showErrorMessage = check.showInputMessage = True
        check.errorTitle = check.promptTitle = _bilingual_title("value_title")
        check.prompt = _bilingual("value_prompt", year=year)
        for number in numbers:
            check.add(f"{letter}{number}")
        ws.add_data_validation(check)


def _bilingual(key: str, **fields: object) -> str:
    return "\n".join(_text(f"submission_template.validation.{key}", lang, **fields) for lang in LANGS)


def _bilingual_title(key: str) -> str:
    return _text(f"submission_template.validation.{key}", "zh")[:32]


def _tasks_sheet(ws, catalog: Catalog, tasks: pd.DataFrame) -> None:
    _header(ws, TASK_SHEET_COLUMNS)
    sep = _text("separators.list", "zh")
    for r, rec in enumerate(tasks.to_dict("records"), start=2):
        values = {"task_no": int(rec["task_no"]), "task": str(rec["title_zh"]),
                  "departments": sep.join(catalog.department_names(rec["departments"], "zh"))}
        for c, column in enumerate(TASK_SHEET_COLUMNS, start=1):
            cell = ws.cell(row=r, column=c, value=values.get(column))
            cell.alignment = _WRAP
            if column in TASK_INPUTS:
                cell.protection = Protection(locked=False)
                cell.fill = _INPUT_FILL
                cell.number_format = "@"
            else:
                cell.fill = _LOCKED_FILL
    if len(tasks):
        status = DataValidation(type="list", formula1='"' + ",".join(status_choices()) + '"',
                                allow_blank=True, showErrorMessage=True, showInputMessage=True,
                                errorTitle=_bilingual_title("status_title"),
                                error=_bilingual("status_error"),
                                promptTitle=_bilingual_title("status_title"),
                                prompt=_bilingual("status_prompt"))
        status.add(_column_range(TASK_SHEET_COLUMNS, "status", 2, len(tasks) + 1))
        ws.add_data_validation(status)
    _protect(ws)


def _context_sheet(ws, catalog: Catalog, context: list[dict], shared: pd.DataFrame) -> None:
    """Read-only: the domain's figures and the shared tasks other departments report."""
    words = _labels()["submission_template"]["context"]
    ws.column_dimensions["A"].width = 30
    for letter, width in zip("BCDE", (34, 12, 16, 34)):
        ws.column_dimensions[letter].width = width
    note = ws.cell(row=1, column=1, value="\n".join(str(words["note"][lang]) for lang in LANGS))
    note.font = _BOLD
    note.alignment = _WRAP
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=5)
    ws.row_dimensions[1].height = 48
    sep = _text("separators.list", "zh")
    row = 3
    sections = (
        ("figures", ("indicator_id", "indicator", "unit", "target", "reported_by"),
         [{**r, "reported_by": _department_label(catalog, r["reported_by"])} for r in context]),
        ("tasks", ("task_no", "task", "departments", "reported_by"),
         [{"task_no": int(t["task_no"]), "task": str(t["title_zh"]),
           "departments": sep.join(catalog.department_names(t["departments"], "zh")),
           "reported_by": _department_label(catalog, task_lead(t["departments"]))}
          for t in shared.to_dict("records")]),
    )
    for key, columns, records in sections:
        ws.cell(row=row, column=1, value=str(words[key]["zh"]) + " · " + str(words[key]["en"])).font = _BOLD
        row += 1
        for c, column in enumerate(columns, start=1):
            cell = ws.cell(row=row, column=c, value=f"{column} {words['columns'][column]}")
            cell.font, cell.fill, cell.alignment = _BOLD, _HEADER_FILL, _WRAP
        for rec in records or [{columns[0]: str(words["none"]["zh"]) + " · " + str(words["none"]["en"])}]:
            row += 1
            for c, column in enumerate(columns, start=1):
                cell = ws.cell(row=row, column=c, value=rec.get(column))
                cell.fill, cell.alignment = _LOCKED_FILL, _WRAP
        row += 2
    ws.protection.sheet = True  # every cell locked: for reference only


def _metadata_sheet(ws, unit_id: str, year: int, department_id: str) -> None:
    """Hidden and locked: which unit, year and department the workbook was made for.

    Ingestion compares these cells with the folder the filled workbook is put in
    (``data/raw/submissions/<unit_id>/<year>/<department_id>.xlsx``).
    """
    ws.append(["field", "value", "note"])
    values = {"unit_id": unit_id, "year": int(year), "department_id": department_id,
              "template_version": TEMPLATE_VERSION}
    for name in METADATA_FIELDS:
        ws.append([name, values[name], "written by pipeline.py new-year; do not change"])
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 18
    ws.sheet_state = "hidden"
    ws.protection.sheet = True


def fill_template(template: Path, dest: Path, *,
                  data: Mapping[str, Mapping[str, object]] | None = None,
                  tasks: Mapping[int, Mapping[str, object]] | None = None) -> Path:
    """Fill a template's input cells by script and save it as a new file.

    For a department that exports its figures from another system, and for tests.
    Only input cells are written (``value``, ``source``, ``derived``, ``formula``,
    ``note``; ``status``, ``note``); the template itself is left unchanged.

    Parameters
    ----------
    template
        A template written by :func:`write_department_template`.
    dest
        The new file, e.g. ``data/raw/submissions/<unit_id>/<year>/<department_id>.xlsx``;
        it must not exist yet.
    data
        ``{indicator_id: {column: value}}`` for rows of the data sheet.
    tasks
        ``{task_no: {"status": ..., "note": ...}}`` for rows of the tasks sheet.

    Raises
    ------
    ValueError
        When an indicator or task is not in the template, or a column is not an input.
    """
    from openpyxl import load_workbook

    book = load_workbook(template)
    for sheet, columns, inputs, wanted in ((DATA_SHEET, DATA_COLUMNS, DATA_INPUTS, data),
                                           (TASKS_SHEET, TASK_SHEET_COLUMNS, TASK_INPUTS, tasks)):
        ws = book[sheet]
        rows = {str(ws.cell(row=r, column=1).value): r for r in range(2, ws.max_row + 1)}
        for key, cells in (wanted or {}).items():
            if str(key) not in rows:
                raise ValueError(f"{template}: sheet {sheet} has no row for {key!r}")
            for column, value in cells.items():
                if column not in inputs:
                    raise ValueError(f"{column!r} is not an input column of sheet {sheet} "
                                     f"({', '.join(inputs)})")
                ws.cell(row=rows[str(key)], column=columns.index(column) + 1, value=value)
    buffer = io.BytesIO()
    book.save(buffer)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest, "xb") as fh:
        fh.write(buffer.getvalue())
    return dest


# --- ingestion --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class InputWarning:
    """Something in a submission that does not stop the build but a person must act on.

    ``departments`` are the departments concerned (for ``pipeline.py check --department``).
    """

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    code: str
    message: str
    departments: tuple[str, ...] = ()

    def __str__(self) -> str:
        where = ", ".join(x for x in (self.file, self.sheet and f"sheet {self.sheet}",
                                      self.row is not None and f"row {self.row}") if x)
        return f"{where}: {self.message}"


@dataclass
class SubmissionResult:
    """What the department submissions of one unit and year contributed.

    ``observations`` has the clean observation columns; ``statuses`` holds one record per
    reported task (:data:`TASK_STATUS_COLUMNS`); ``rows`` counts the rows taken from each
    file (by its shown path), for the manifest; ``warnings`` lists what was settled
    without stopping the build (a figure given by two workbooks with the same value).
    """

    observations: pd.DataFrame
    statuses: list[dict] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    warnings: list[InputWarning] = field(default_factory=list)


@dataclass
class _Given:
    """One figure or task status a workbook gives, before the workbooks are compared."""

    key: tuple
    department_id: str
    owner: str             # the department that reports it
    where: CellRef
    column: str            # the cell that holds it: value or status
    value: object          # compared between workbooks
    shown: str             # the value as a person wrote it
    record: dict

    @property
    def by_owner(self) -> bool:
        return self.department_id == self.owner


def read_metadata(path: Path) -> dict[str, tuple[int, str]] | None:
    """``{field: (Excel row, text)}`` of a workbook's metadata sheet; ``None`` without one."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - an unreadable workbook is reported by read_sheets
        return None
    try:
        names = {n.strip().casefold(): n for n in book.sheetnames}
        if METADATA_SHEET not in names:
            return None
        found: dict[str, tuple[int, str]] = {}
        for number, values in enumerate(book[names[METADATA_SHEET]].iter_rows(values_only=True), start=1):
            if number == 1 or not values or values[0] is None:
                continue
            value = values[1] if len(values) > 1 else None
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            found[str(values[0]).strip()] = (number, "" if value is None else str(value).strip())
        return found
    finally:
        book.close()


def _check_metadata(path: Path, shown: str, catalog: Catalog, *, unit_id: str, year: int,
                    department_id: str, problems: ProblemCollector) -> bool:
    """The workbook was made for the folder it is in; False (with a problem) if not."""
    meta = read_metadata(path)
    folder = (SUBMISSIONS_DIR / unit_id / str(year)).as_posix()
    if meta is None:
        problems.add(shown, f"a workbook written by `pipeline.py new-year {year}`: since template "
                     f"version {TEMPLATE_VERSION} each one carries a hidden sheet named "
                     f"{METADATA_SHEET} with its report unit, year and department, so that a file "
                     f"put in the wrong folder is caught. This workbook has none (it was made "
                     f"before, or by hand): copy its figures and statuses into "
                     f"submissions/{year}/{department_id}.xlsx (`pipeline.py new-year {year}` "
                     f"writes it when it is missing) and put that file here instead",
                     found=f"no {METADATA_SHEET} sheet")
        return False
    expected = {"unit_id": unit_id, "year": str(year), "department_id": department_id}
    ok = True
    for name, want in expected.items():
        row, text = meta.get(name, (None, ""))
        if text == want:
            continue
        ok = False
        cell = f"cell B{row}" if row else f"a row {name}"
        if name == "unit_id":
            unit_name = (f" ({catalog.report_units.at[text, 'name_zh']})"
                         if text in catalog.report_units.index else "")
            made = meta.get("year", (None, str(year)))[1]
            fix = (f"this workbook was made for {text}{unit_name}: if that is right, move it to "
                   f"{SUBMISSIONS_DIR.as_posix()}/{text}/{made}/{path.name}; otherwise take the "
                   f"template written for {unit_id}")
        elif name == "year":
            fix = (f"this workbook was made for {text or 'no year'}: if that is right, move it to "
                   f"{SUBMISSIONS_DIR.as_posix()}/{unit_id}/{text}/{path.name}; otherwise use the "
                   f"template written by `pipeline.py new-year {year}`")
        else:
            fix = (f"this workbook was made for {_department_label(catalog, text)}: if that is "
                   f"right, name the file {text}.xlsx; otherwise use the template of "
                   f"{_department_label(catalog, department_id)}")
        where_from = {"unit_id": f"the report unit of the folder {folder}/",
                      "year": f"the year of the folder {folder}/",
                      "department_id": f"the department the file is named after ({path.name})"}[name]
        problems.add(shown, f"{cell}: {want}, {where_from}; {fix}", sheet=METADATA_SHEET,
                     row=row, column="value", found=text or "(empty)")
    return ok


def ingest_submissions(files: Iterable[Path], catalog: Catalog, *, unit_id: str, year: int,
                       tasks: pd.DataFrame | None, root: Path, problems: ProblemCollector,
                       seen: SeenRows) -> SubmissionResult:
    """Validate the filled templates of one ``submissions/<unit_id>/<year>/`` folder.

    Each workbook must have been made for this folder (its hidden metadata sheet names the
    unit, year and department). A figure or task status is reported by one department
    (:func:`template_rows`, :func:`department_tasks`); when several workbooks still give
    it (an edited or older workbook), the reporting department's value is used and the
    others are listed as warnings naming both files when they agree, or as a problem
    naming both files and both values when they do not. Nothing is dropped silently.

    Parameters
    ----------
    files
        The files of the folder (``<department_id>.xlsx``).
    catalog
        The loaded catalog.
    unit_id, year
        The edition (from the folder names).
    tasks
        The year's validated task list, or ``None`` when there is none.
    root
        The project root; paths in messages are shown relative to it.
    problems
        Every problem found is added here; nothing is raised.
    seen
        Where each (indicator_id, year, measure) was given in a domain file of the same unit
        and year: a submission giving it again is a problem naming both places.
    """
    result = SubmissionResult(observations=pd.DataFrame())
    figures: dict[tuple, list[_Given]] = {}
    statuses: dict[tuple, list[_Given]] = {}
    taken: dict[str, int] = {}
    for path in sorted(Path(f) for f in files):
        shown = shown_path(path, root)
        department_id = path.stem
        if path.suffix.lower() != ".xlsx":
            problems.add(shown, "a filled submission template saved as Excel "
                         "(<department_id>.xlsx)", found=path.name)
            continue
        if department_id not in catalog.departments.index:
            problems.add(shown, "a file named after a department id, as the template was "
                         "named (" + ", ".join(catalog.departments.index) + ")", found=path.name)
            continue
        try:
            sheets = read_sheets(path, (DATA_SHEET, TASKS_SHEET), root=root,
                                 also_ignored=(CONTEXT_SHEET, METADATA_SHEET))
        except InputValidationError as exc:
            problems.problems.extend(exc.problems)
            continue
        if not _check_metadata(path, shown, catalog, unit_id=unit_id, year=year,
                               department_id=department_id, problems=problems):
            continue  # figures made for another folder are not read as this one's
        taken[shown] = 0
        for given in _data_rows(sheets[DATA_SHEET], catalog, department_id, unit_id=unit_id,
                                year=year, folder=shown_path(path.parent, root), problems=problems):
            if given.key in seen:
                given.where.report(problems, "indicator_id", " / ".join(map(str, given.key)),
                                   f"one {given.key[2]} row per indicator and year; this one is "
                                   f"already given at {seen[given.key].place()}")
                continue
            figures.setdefault(given.key, []).append(given)
        for given in _task_rows(sheets[TASKS_SHEET], catalog, department_id, year=year,
                                tasks=tasks, problems=problems):
            statuses.setdefault(given.key, []).append(given)
    records = []
    for key, candidates in figures.items():
        chosen = _settle(candidates, catalog, problems, result.warnings, what=_figure_words(catalog, key))
        seen[key] = chosen.where
        records.append(chosen.record)
        taken[chosen.where.table.shown] += 1
    for key, candidates in sorted(statuses.items()):
        chosen = _settle(candidates, catalog, problems, result.warnings,
                         what=f"the status of task {key[0]}")
        result.statuses.append(chosen.record)
        taken[chosen.where.table.shown] += 1
    result.rows = taken
    result.observations = _observation_frame(records, catalog)
    return result


def _figure_words(catalog: Catalog, key: tuple) -> str:
    indicator_id, year, measure = key
    return f"{catalog.indicators.at[indicator_id, 'name_zh']} ({indicator_id}), {year} {measure},"


def _settle(candidates: list[_Given], catalog: Catalog, problems: ProblemCollector,
            warnings: list[InputWarning], *, what: str) -> _Given:
    """The one value to use when several workbooks give the same figure or task status."""
    chosen = next((g for g in candidates if g.by_owner), candidates[0])
    owner = _department_label(catalog, chosen.owner)
    owner_file = (Path(chosen.where.table.shown).parent / f"{chosen.owner}.xlsx").as_posix()
    for other in candidates:
        if other is chosen:
            continue
        both = f"{chosen.where.place()} and {other.where.place()}"
        if other.value == chosen.value:
            why = (f"{owner} reports it, so its workbook's value is used" if chosen.by_owner
                   else f"{chosen.where.table.shown}'s value is used")
            warnings.append(InputWarning(
                other.where.table.shown, other.where.table.sheet, other.where.row, other.column,
                "given-twice",
                f"{what} is given in both {both}, with the same value {other.shown}; {why}. "
                f"Leave the cell empty in {other.where.table.shown}",
                departments=tuple(dict.fromkeys((other.department_id, chosen.department_id, chosen.owner)))))
        else:
            other.where.report(problems, other.column, other.shown,
                               f"the value {chosen.shown} that {chosen.where.place()} gives for "
                               f"{what.rstrip(',')}: two workbooks give different values, and "
                               f"{owner} reports it. Agree on the figure, correct it in "
                               f"{chosen.where.table.shown} if need be, and leave this cell empty")
    if not chosen.by_owner:
        warnings.append(InputWarning(
            chosen.where.table.shown, chosen.where.table.sheet, chosen.where.row, chosen.column,
            "not-reporting-department",
            f"{what} is reported by {owner}, whose workbook ({owner_file}) does not give it; "
            f"the value {chosen.shown} given here is used. {owner} should enter it in its own "
            "workbook and this cell be left empty",
            departments=tuple(dict.fromkeys((chosen.department_id, chosen.owner)))))
    return chosen


def _data_rows(table, catalog: Catalog, department_id: str, *, unit_id: str, year: int,
               folder: str, problems: ProblemCollector) -> list[_Given]:
    if not require_columns(table, REQUIRED_OBSERVATION_COLUMNS, problems):
        return []
    vet_columns(table, OBSERVATION_TEXT, problems)
    own_rows: SeenRows = {}  # a figure given twice in one workbook is a problem there
    found = []
    for i, cells in enumerate(table.frame.to_dict("records")):
        if not cells["value"]:
            continue  # not reported (yet); `pipeline.py check` lists these
        where = CellRef(table, table.rows[i])
        indicator_id = cells["indicator_id"]
        if indicator_id not in catalog.indicators.index:
            mine = [i for i in catalog.indicators.index
                    if catalog.reporting_department(i) == department_id]
            listing = ", ".join(mine[:6]) + (", ..." if len(mine) > 6 else "")
            where.report(problems, "indicator_id", indicator_id, "an indicator id as the "
                         f"template lists it (those {_department_label(catalog, department_id)} "
                         f"reports: {listing or 'none'})")
            continue
        if cells["measure"].strip().lower() != "actual":
            where.report(problems, "measure", cells["measure"], "actual: a department "
                         "submission reports actual values (targets come from the task list)")
            continue
        owner_domain = str(catalog.indicators.at[indicator_id, "domain_id"])
        record = check_observation(cells, where, catalog, unit_id=unit_id, domain_id=owner_domain,
                                   year=year, folder=folder, seen=own_rows, problems=problems)
        if record is None:
            continue
        key = (record["indicator_id"], record["year"], record["measure"])
        found.append(_Given(key, department_id, catalog.reporting_department(indicator_id), where,
                            "value", round(float(record["value"]), 9), cells["value"], record))
    return found


def _task_rows(table, catalog: Catalog, department_id: str, *, year: int,
               tasks: pd.DataFrame | None, problems: ProblemCollector) -> list[_Given]:
    if not require_columns(table, ("task_no", "status"), problems):
        return []
    vet_columns(table, TASK_SHEET_TEXT, problems)
    listed = {} if tasks is None else {int(r["task_no"]): r for r in tasks.to_dict("records")}
    own = [n for n, r in listed.items() if department_id in split_list(r["departments"])]
    label = _department_label(catalog, department_id)
    found, own_rows = [], {}
    for i, cells in enumerate(table.frame.to_dict("records")):
        where = CellRef(table, table.rows[i])
        status_text, note = cells["status"], cells.get("note", "")
        if not status_text and not note:
            continue  # not reported yet
        number_text = unicodedata.normalize("NFKC", cells["task_no"]).strip()
        number = int(number_text) if re.fullmatch(r"\d+", number_text) else None
        if tasks is None:
            where.report(problems, "task_no", cells["task_no"], f"no task rows: there is no "
                         f"task list for {year} (data/raw/tasks/), so leave the tasks sheet empty")
            continue
        if number not in listed:
            where.report(problems, "task_no", cells["task_no"], f"a task number of the {year} "
                         f"task list (1 to {len(listed)}), as the template lists it")
            continue
        if number not in own:
            names = ", ".join(_department_label(catalog, d)
                              for d in split_list(listed[number]["departments"]))
            where.report(problems, "task_no", number_text, f"a task {label} is responsible "
                         f"for ({', '.join(map(str, own)) or 'none'}); task {number} is the "
                         f"responsibility of {names}")
            continue
        status = parse_task_status(status_text)
        if status is None:
            words = ", ".join(f"{s} ({task_status_label(s, 'zh')})" for s in TASK_STATUSES)
            found_text = status_text or "(empty, but the note is filled in)"
            where.report(problems, "status", found_text, f"one of {words}")
            continue
        if number in own_rows:
            where.report(problems, "task_no", number_text, f"one row per task; task {number} "
                         f"already has one at {own_rows[number].place()}")
            continue
        own_rows[number] = where
        # Line breaks (normalised to "\n" by vet_columns) are kept; runs of spaces are not.
        note = "\n".join(" ".join(line.split()) for line in note.split("\n"))
        record = {"task_no": number, "status": status, "note": note,
                  "department_id": department_id, "source_file": table.shown,
                  "source_row": where.row}
        found.append(_Given((number,), department_id, task_lead(listed[number]["departments"]),
                            where, "status", status, status_text, record))
    return found


def task_status_frame(tasks: pd.DataFrame, statuses: Iterable[Mapping]) -> pd.DataFrame:
    """Every task of the list with its reported status (:data:`NO_STATUS` when none).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TASK_STATUS_COLUMNS`, sorted by ``task_no``; ``source_row`` is a
        nullable integer (empty for unreported tasks), the other text columns are ``""``
        when unreported.
    """
    reported = {int(s["task_no"]): s for s in statuses}
    rows = []
    for rec in tasks.sort_values("task_no").to_dict("records"):
        number = int(rec["task_no"])
        found = reported.get(number)
        rows.append({
            "task_no": number, "domain_id": rec["domain_id"],
            "status": found["status"] if found else NO_STATUS,
            "note": found["note"] if found else "",
            "department_id": found["department_id"] if found else "",
            "source_file": found["source_file"] if found else "",
            "source_row": found["source_row"] if found else None,
        })
    frame = pd.DataFrame(rows, columns=TASK_STATUS_COLUMNS)
    return frame.astype({"task_no": "int64", "source_row": "Int64"}).reset_index(drop=True)


def status_counts(task_status: pd.DataFrame) -> dict[str, int]:
    """How many tasks have each status (every status of :data:`STATUS_ORDER`, 0 included)."""
    return {s: int((task_status["status"] == s).sum()) for s in STATUS_ORDER}
