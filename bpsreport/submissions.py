"""Department submission templates (XLSX), their ingestion, and task statuses.

Every year each department gets one workbook to fill in (``docs/yearly-workflow.md`` §2):

    write_department_templates(root, unit_id, year, out_dir)     hand-out: <department_id>.xlsx
    data/raw/submissions/<unit_id>/<year>/<department_id>.xlsx    the filled file, dropped unchanged
    bpsreport.ingest → ingest_submissions                         clean observations + task_status

A template has three sheets:

- ``instructions``: what to fill in and how, Chinese beside English (text in
  ``config/labels.yml``, ``submission_template``);
- ``data``: one row per indicator of the domains the department leads
  (``catalog.domains.lead_departments``) that has a target for the year or an actual in an
  earlier year. Identity, unit, the target (for reference) and ``measure = actual`` are
  prefilled and locked; ``value``, ``source``, ``derived``, ``formula`` and ``note`` are
  input cells with data validation;
- ``tasks``: one row per task of the year's list the department is responsible for
  (``tasks.departments``), with a ``status`` list and a ``note``.

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
        return yaml.safe_load(fh)


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

def department_domains(catalog: Catalog, department_id: str) -> list[str]:
    """The domains a department leads (``lead_departments``), in the seed's order."""
    return [str(d) for d, leads in catalog.domains["lead_departments"].items()
            if department_id in split_list(leads)]


def department_tasks(tasks: pd.DataFrame | None, department_id: str) -> pd.DataFrame:
    """The tasks of a list a department is responsible for (alone or with others)."""
    if tasks is None or tasks.empty:
        return pd.DataFrame(columns=["task_no", "domain_id", "title_zh", "departments"])
    mine = tasks["departments"].map(lambda ids: department_id in split_list(ids))
    return tasks[mine].sort_values("task_no", kind="stable")


def _department_label(catalog: Catalog, department_id: str) -> str:
    return f"{catalog.departments.at[department_id, 'name_zh']} ({department_id})"


def _read_clean(folder: Path, name: str) -> pd.DataFrame | None:
    path = folder / f"{name}.parquet"
    return pd.read_parquet(path) if path.exists() else None


def _unit_observations(clean_dir: Path, unit_id: str) -> pd.DataFrame:
    frames = [pd.read_parquet(p) for p in sorted((Path(clean_dir) / unit_id).glob("*/observations.parquet"))]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["year", "indicator_id", "measure", "value", "target_type", "source_file"])


def template_rows(catalog: Catalog, unit_id: str, year: int, department_id: str, *,
                  clean_dir: Path) -> list[dict]:
    """The data-sheet rows of one department's template, in catalog order.

    An indicator is listed when it belongs to a domain the department leads and has a
    target for ``year`` or an actual in an earlier year (clean data of ``unit_id``). An
    indicator whose ``year`` actual is already given by another file (a domain file or
    another department's submission) is left out, since a figure is reported in one
    place only.

    Returns
    -------
    list of dict
        ``indicator_id``, ``indicator`` (zh name), ``unit``, ``target`` (as the Chinese
        edition prints it, e.g. ``≥ 95%``, ``110万人``; ``—`` without a target),
        ``upper`` (the value's upper bound or ``None``).
    """
    domains = set(department_domains(catalog, department_id))
    obs = _unit_observations(clean_dir, unit_id)
    obs = obs[obs["indicator_id"].isin(catalog.indicators.index)]
    targets = obs[(obs["year"] == year) & (obs["measure"] == "target")].set_index("indicator_id")
    earlier = set(obs.loc[(obs["year"] < year) & (obs["measure"] == "actual"), "indicator_id"])
    own_file = (SUBMISSIONS_DIR / unit_id / str(year) / f"{department_id}.xlsx").as_posix()
    given = set(obs.loc[(obs["year"] == year) & (obs["measure"] == "actual")
                        & (obs["source_file"].astype(str) != own_file), "indicator_id"])
    rows = []
    for domain_id in catalog.domains.index:
        if domain_id not in domains:
            continue
        for indicator_id, ind in catalog.indicators[catalog.indicators["domain_id"] == domain_id].iterrows():
            if indicator_id in given or (indicator_id not in targets.index and indicator_id not in earlier):
                continue
            target = _text("submission_template.no_target", "zh")
            if indicator_id in targets.index:
                rec = targets.loc[indicator_id]
                kind = rec["target_type"] if isinstance(rec["target_type"], str) else "count"
                target = format_target(float(rec["value"]), kind, ind, "zh")
            rows.append({"indicator_id": str(indicator_id), "indicator": str(ind["name_zh"]),
                         "unit": str(ind["unit"]), "target": target,
                         "upper": catalog.upper_bound(indicator_id)})
    return rows


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
    tasks = department_tasks(_read_clean(Path(clean_dir) / unit_id / str(year), "tasks"), department_id)
    book = _template_book(catalog, unit_id, year, department_id, rows, tasks)
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
            continue  # nothing to report this year
        written.append(write_department_template(path, catalog, unit_id, year, department_id,
                                                 clean_dir=clean_dir))
    return written


def _template_book(catalog: Catalog, unit_id: str, year: int, department_id: str,
                   rows: list[dict], tasks: pd.DataFrame) -> Workbook:
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

@dataclass
class SubmissionResult:
    """What the department submissions of one unit and year contributed.

    ``observations`` has the clean observation columns; ``statuses`` holds one record per
    reported task (:data:`TASK_STATUS_COLUMNS`); ``rows`` counts the rows taken from each
    file (by its shown path), for the manifest.
    """

    observations: pd.DataFrame
    statuses: list[dict] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def ingest_submissions(files: Iterable[Path], catalog: Catalog, *, unit_id: str, year: int,
                       tasks: pd.DataFrame | None, root: Path, problems: ProblemCollector,
                       seen: SeenRows) -> SubmissionResult:
    """Validate the filled templates of one ``submissions/<unit_id>/<year>/`` folder.

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
        Where each (indicator_id, year, measure) was first given, shared with the domain
        files: a figure given twice is a problem naming both places.
    """
    records: list[dict] = []
    result = SubmissionResult(observations=pd.DataFrame())
    seen_tasks: dict[int, CellRef] = {}
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
            sheets = read_sheets(path, (DATA_SHEET, TASKS_SHEET), root=root)
        except InputValidationError as exc:
            problems.problems.extend(exc.problems)
            continue
        taken = _data_rows(sheets[DATA_SHEET], catalog, department_id, unit_id=unit_id,
                           year=year, folder=shown_path(path.parent, root), seen=seen,
                           problems=problems)
        statuses = _task_rows(sheets[TASKS_SHEET], catalog, department_id, year=year,
                              tasks=tasks, seen_tasks=seen_tasks, problems=problems)
        records += taken
        result.statuses += statuses
        result.rows[shown] = len(taken) + len(statuses)
    result.observations = _observation_frame(records, catalog)
    return result


def _data_rows(table, catalog: Catalog, department_id: str, *, unit_id: str, year: int,
               folder: str, seen: SeenRows, problems: ProblemCollector) -> list[dict]:
    if not require_columns(table, REQUIRED_OBSERVATION_COLUMNS, problems):
        return []
    vet_columns(table, OBSERVATION_TEXT, problems)
    domains = department_domains(catalog, department_id)
    records = []
    for i, cells in enumerate(table.frame.to_dict("records")):
        if not cells["value"]:
            continue  # not reported (yet); `pipeline.py check` lists these
        where = CellRef(table, table.rows[i])
        indicator_id = cells["indicator_id"]
        if indicator_id not in catalog.indicators.index:
            where.report(problems, "indicator_id", indicator_id, "an indicator id as the "
                         "template lists it (the indicators of "
                         + _domains_words(catalog, domains) + ")")
            continue
        owner = str(catalog.indicators.at[indicator_id, "domain_id"])
        if owner not in domains:
            leads = ", ".join(_department_label(catalog, d)
                              for d in split_list(catalog.domains.at[owner, "lead_departments"]))
            where.report(problems, "indicator_id", indicator_id, "an indicator of the domains "
                         f"{_department_label(catalog, department_id)} reports on ("
                         f"{_domains_words(catalog, domains)}); {indicator_id} belongs to "
                         f"{catalog.domains.at[owner, 'name_zh']} ({owner}), reported by {leads}")
            continue
        if cells["measure"].strip().lower() != "actual":
            where.report(problems, "measure", cells["measure"], "actual: a department "
                         "submission reports actual values (targets come from the task list)")
            continue
        record = check_observation(cells, where, catalog, unit_id=unit_id, domain_id=owner,
                                   year=year, folder=folder, seen=seen, problems=problems)
        if record is not None:
            records.append(record)
    return records


def _domains_words(catalog: Catalog, domains: list[str]) -> str:
    return ", ".join(f"{catalog.domains.at[d, 'name_zh']} ({d})" for d in domains) or "no domain"


def _task_rows(table, catalog: Catalog, department_id: str, *, year: int,
               tasks: pd.DataFrame | None, seen_tasks: dict[int, CellRef],
               problems: ProblemCollector) -> list[dict]:
    if not require_columns(table, ("task_no", "status"), problems):
        return []
    vet_columns(table, TASK_SHEET_TEXT, problems)
    listed = {} if tasks is None else {int(r["task_no"]): r for r in tasks.to_dict("records")}
    own = [n for n, r in listed.items() if department_id in split_list(r["departments"])]
    label = _department_label(catalog, department_id)
    statuses = []
    for i, cells in enumerate(table.frame.to_dict("records")):
        where = CellRef(table, table.rows[i])
        status_text, note = cells["status"], cells.get("note", "")
        if not status_text and not note:
            continue  # left to a co-responsible department, or not reported yet
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
            found = status_text or "(empty, but the note is filled in)"
            where.report(problems, "status", found, f"one of {words}")
            continue
        if number in seen_tasks:
            where.report(problems, "task_no", number_text, f"one status per task; task {number} "
                         f"already has one at {seen_tasks[number].place()} (the responsible "
                         "departments agree on one and leave the other row empty)")
            continue
        seen_tasks[number] = where
        # Line breaks (normalised to "\n" by vet_columns) are kept; runs of spaces are not.
        note = "\n".join(" ".join(line.split()) for line in note.split("\n"))
        statuses.append({"task_no": number, "status": status, "note": note,
                         "department_id": department_id, "source_file": table.shown,
                         "source_row": where.row})
    return statuses


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
