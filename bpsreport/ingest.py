"""Validating raw submissions against the catalog (the ingest stage).

Reads ``data/raw/observations/<unit_id>/<year>/<domain_id>.(csv|xlsx)``,
``data/raw/tasks/<unit_id>/<year>/tasks.csv`` and the filled department templates in
``data/raw/submissions/<unit_id>/<year>/<department_id>.xlsx`` (through
:mod:`bpsreport.submissions`; layout and rules: ``docs/data-model.md``), checks every
cell, and returns clean DataFrames. Every problem in every file is collected
and raised together as one :class:`~bpsreport.errors.InputValidationError`, each naming
the file, sheet, row, column, the value found and what was expected. Raw files are only
read, never written.

Examples
--------
>>> from bpsreport.catalog import load_catalog
>>> cat = load_catalog(Path("data/raw"))                                   # doctest: +SKIP
>>> editions = ingest_all(Path("data/raw"), cat, root=Path("."))           # doctest: +SKIP
>>> editions[("gd-province", 2017)].observations.head()                    # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from .catalog import Catalog, split_list
from .cell_text import LINE, LINES, vet_columns
from .errors import InputValidationError, ProblemCollector
from .limits import load_limits
from .raw_files import entry_problem, list_entries
from .readers import NotFinite, RawTable, normalise_number, read_table, shown_path

OBSERVATION_COLUMNS = [
    "unit_id", "year", "domain_id", "indicator_id", "measure", "target_type", "value",
    "unit", "source", "derived", "formula", "note", "stated_outcome", "source_file",
    "source_sheet", "source_row",
]
TASK_COLUMNS = [
    "task_no", "domain_id", "title_zh", "title_en", "summary_zh", "summary_en",
    "departments", "indicators", "source",
]
REQUIRED_OBSERVATION_COLUMNS = ("indicator_id", "year", "measure", "value", "unit", "source")
MEASURES = ("actual", "target", "completion_rate")
TARGET_TYPES = ("count", "min", "max")
# Which text columns are single-line and which may hold several lines (bpsreport.cell_text;
# docs/data-model.md). Columns read but ignored (indicator, the names staff see) are not
# published and not checked.
OBSERVATION_TEXT = {
    "indicator_id": LINE, "year": LINE, "measure": LINE, "target_type": LINE, "value": LINE,
    "unit": LINE, "source": LINE, "derived": LINE, "formula": LINE, "note": LINES,
}
TASK_TEXT = {
    "task_no": LINE, "domain_id": LINE, "title_zh": LINE, "title_en": LINE,
    "summary_zh": LINES, "summary_en": LINES, "departments": LINE, "indicators": LINE,
    "source": LINE,
}

# What the source says of a target it gives no actual for (column stated_outcome, target
# rows only); the Chinese words are accepted for the same ids.
STATED_OUTCOMES = {"met": "met", "完成": "met", "已完成": "met",
                   "exceeded": "exceeded", "超额完成": "exceeded"}
# A stated completion rate may well exceed 100% (城镇新增就业 135.4%), but not tenfold.
COMPLETION_RATE_BOUND = 1000.0
SUBMISSION_SUFFIXES = (".csv", ".xlsx")
TASKS_FILE = "tasks.csv"
# The folders of data/raw/ that hold <unit_id>/<year>/ editions.
RAW_KINDS = ("observations", "tasks", "submissions")
CROSS_CUTTING = "cross_cutting"

_YES = frozenset({"yes", "y", "true", "是"})
_NO = frozenset({"no", "n", "false", "否", ""})

# How a column is described to the person filling in the form.
_COLUMN_WORDS = {
    "task_no": "task_no (序号)",
    "status": "status (落实情况)",
    "indicator_id": "indicator_id (指标编码)",
    "year": "year (年份)",
    "measure": "measure (类型): actual, target or completion_rate",
    "value": "value (数值)",
    "unit": "unit (单位)",
    "source": "source (来源): document and section",
}
_SOURCE_EXAMPLE = "粤财办〔2018〕6号 一(二)8(1)"
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class InputFile:
    """One raw file that went into an edition, for the clean-data manifest."""

    path: str
    sha256: str
    rows: int


@dataclass
class IngestResult:
    """The validated content of one report unit and year.

    ``task_status`` (every task of the year's list with its reported status, see
    :func:`bpsreport.submissions.task_status_frame`) is ``None`` when the year has no
    task list.
    """

    observations: pd.DataFrame
    tasks: pd.DataFrame | None
    inputs: list[InputFile] = field(default_factory=list)
    task_status: pd.DataFrame | None = None
    # What the department submissions settled without stopping (bpsreport.submissions).
    warnings: list = field(default_factory=list)


@dataclass(frozen=True)
class CellRef:
    """Where a value sits, so a check can report it in one call."""

    table: RawTable
    row: int

    def report(self, problems: ProblemCollector, column: str, found: object, expected: str) -> None:
        problems.add(self.table.shown, expected, sheet=self.table.sheet, row=self.row,
                     column=column, found=found)

    def place(self) -> str:
        sheet = f", sheet {self.table.sheet}" if self.table.sheet else ""
        return f"{self.table.shown}{sheet}, row {self.row}"


# Where an observation (indicator_id, year, measure) was first given, across the domain
# files and the department submissions of one unit and year.
SeenRows = dict[tuple[str, int, str], CellRef]


# --- editions --------------------------------------------------------------------------

def discover_editions(raw_dir: Path) -> list[tuple[str, int]]:
    """Every (unit_id, year) that has an observations, tasks or submissions folder, sorted.

    Folders whose name is not a 4-digit year are left out here; :func:`ingest_all`
    reports them.

    Examples
    --------
    >>> discover_editions(Path("data/raw"))                   # doctest: +SKIP
    [('gd-province', 2017), ('gd-province', 2018)]
    """
    raw_dir = Path(raw_dir)
    return _scan_editions(raw_dir, raw_dir, ProblemCollector())


def ingest_all(raw_dir: Path, catalog: Catalog, *,
               root: Path) -> dict[tuple[str, int], IngestResult]:
    """Validate every edition under ``raw_dir``.

    Parameters
    ----------
    raw_dir
        The ``data/raw`` folder.
    catalog
        The loaded catalog (:func:`bpsreport.catalog.load_catalog`).
    root
        The project root; paths in messages are shown relative to it.

    Returns
    -------
    dict
        ``(unit_id, year)`` → :class:`IngestResult`, in sorted order.

    Raises
    ------
    InputValidationError
        Once, listing every problem of every file of every edition.
    """
    raw_dir, root = Path(raw_dir), Path(root)
    problems = ProblemCollector()
    _check_raw_folders(raw_dir, root, problems)
    editions = _scan_editions(raw_dir, root, problems)
    for unit_id in sorted({unit_id for unit_id, _ in editions}):
        _check_unit_folders(raw_dir, catalog, unit_id, root, problems)
    results = {
        (unit_id, year): _ingest_edition(raw_dir, catalog, unit_id, year, root, problems)
        for unit_id, year in editions
    }
    problems.raise_if_any()
    return results


def ingest_edition(raw_dir: Path, catalog: Catalog, unit_id: str, year: int, *,
                   root: Path) -> IngestResult:
    """Validate the observations and the task list of one report unit and year.

    Parameters
    ----------
    raw_dir
        The ``data/raw`` folder.
    catalog
        The loaded catalog.
    unit_id, year
        The edition: files are read from ``observations/<unit_id>/<year>/`` and
        ``tasks/<unit_id>/<year>/tasks.csv``. Either folder may be absent.
    root
        The project root; paths in messages are shown relative to it.

    Raises
    ------
    InputValidationError
        With every problem found in the edition's files.
    """
    problems = ProblemCollector()
    _check_unit_folders(Path(raw_dir), catalog, unit_id, Path(root), problems)
    result = _ingest_edition(Path(raw_dir), catalog, unit_id, int(year), Path(root), problems)
    problems.raise_if_any()
    return result


def _check_raw_folders(raw_dir: Path, root: Path, problems: ProblemCollector) -> None:
    """data/raw/ holds the catalog and the three kinds of edition folders, nothing else:
    a misspelt folder (observation/) would otherwise be skipped with all its figures."""
    if not raw_dir.is_dir():
        return
    known = {"catalog", *RAW_KINDS}
    for path in list_entries(raw_dir, root, problems):
        if path.name not in known or not path.is_dir():
            problems.add(shown_path(path, root), "only the folders " + ", ".join(
                f"{name}/" for name in ("catalog", *RAW_KINDS)) + " in data/raw/",
                found=path.name)


def _scan_editions(raw_dir: Path, root: Path, problems: ProblemCollector) -> list[tuple[str, int]]:
    """Editions found in the folder layout; stray files and bad year folders are problems."""
    editions: set[tuple[str, int]] = set()
    limits = load_limits(root)
    for kind in RAW_KINDS:
        base = raw_dir / kind
        refused = entry_problem(base, root) if base.is_symlink() else None
        if refused is not None:
            problems.add(shown_path(base, root), refused[1], found=refused[0])
            continue
        if not base.is_dir():
            continue
        for unit_dir in list_entries(base, root, problems):
            if not unit_dir.is_dir():
                problems.add(shown_path(unit_dir, root), "only one folder per report unit "
                             f"in {kind}/ (e.g. {kind}/gd-province/2017/)", found=unit_dir.name)
                continue
            for year_dir in list_entries(unit_dir, root, problems):
                name = year_dir.name
                if (year_dir.is_dir() and re.fullmatch(r"\d{4}", name)
                        and limits.year_ok(int(name))):
                    editions.add((unit_dir.name, int(name)))
                elif year_dir.is_dir() and re.fullmatch(r"\d{4}", name):
                    problems.add(shown_path(year_dir, root), "a folder named after the year of "
                                 f"its figures: {limits.years_words()}", found=name)
                else:
                    problems.add(shown_path(year_dir, root), "a folder named after a 4-digit "
                                 f"year, e.g. {kind}/{unit_dir.name}/2017/", found=name)
    return sorted(editions)


def _check_unit_folders(raw_dir: Path, catalog: Catalog, unit_id: str, root: Path,
                        problems: ProblemCollector) -> None:
    """A unit folder must be named after a catalog report unit (reported once per folder)."""
    if unit_id in catalog.report_units.index:
        return
    for kind in RAW_KINDS:
        folder = raw_dir / kind / unit_id
        if folder.is_dir():
            problems.add(shown_path(folder, root), "a folder named after a report unit "
                         "listed in catalog/report_units.csv ("
                         + ", ".join(catalog.report_units.index) + ")", found=unit_id)


def _ingest_edition(raw_dir: Path, catalog: Catalog, unit_id: str, year: int, root: Path,
                    problems: ProblemCollector) -> IngestResult:
    # Imported here: bpsreport.submissions builds on this module's row checks.
    from .submissions import ingest_submissions, task_status_frame

    obs_dir = raw_dir / "observations" / unit_id / str(year)
    task_dir = raw_dir / "tasks" / unit_id / str(year)
    sub_dir = raw_dir / "submissions" / unit_id / str(year)
    obs_files = []
    # Litter (.DS_Store, Excel lock files, README notes) is skipped; hidden files, links
    # out of the project and pipes are refused (bpsreport.raw_files).
    for path in (list_entries(obs_dir, root, problems) if obs_dir.is_dir() else []):
        if path.is_dir():
            problems.add(shown_path(path, root), "only domain files (<domain_id>.csv or "
                         ".xlsx) in this folder, no subfolders", found=path.name)
        else:
            obs_files.append(path)
    seen: SeenRows = {}
    observations = ingest_observations(obs_files, catalog, unit_id=unit_id, year=year,
                                       root=root, problems=problems, seen=seen)

    tasks, task_path = None, task_dir / TASKS_FILE
    if task_dir.is_dir():
        for path in list_entries(task_dir, root, problems):
            if path.name != TASKS_FILE:
                problems.add(shown_path(path, root), f"only the file {TASKS_FILE} in this folder",
                             found=path.name)
        if task_path.is_file():
            tasks = ingest_tasks(task_path, catalog, unit_id=unit_id, year=year, root=root,
                                 problems=problems)
        elif os.path.lexists(task_path):
            pass  # a link or pipe in its place: refused by list_entries above
        else:
            problems.add(shown_path(task_dir, root), f"a file {TASKS_FILE} with the task list "
                         f"for {year}", found="(missing)")

    sub_files = []
    for path in (list_entries(sub_dir, root, problems) if sub_dir.is_dir() else []):
        if path.is_dir():
            problems.add(shown_path(path, root), "only filled submission templates "
                         "(<department_id>.xlsx) in this folder, no subfolders", found=path.name)
        else:
            sub_files.append(path)
    submitted = ingest_submissions(sub_files, catalog, unit_id=unit_id, year=year, tasks=tasks,
                                   root=root, problems=problems, seen=seen)
    if len(submitted.observations):
        observations = _observation_frame(
            pd.concat([observations, submitted.observations], ignore_index=True)
            .to_dict("records"), catalog)
    task_status = None if tasks is None else task_status_frame(tasks, submitted.statuses)

    inputs = [InputFile(shown_path(p, root), _sha256(p),
                        int((observations["source_file"] == shown_path(p, root)).sum()))
              for p in obs_files]
    if tasks is not None:
        inputs.append(InputFile(shown_path(task_path, root), _sha256(task_path), len(tasks)))
    inputs += [InputFile(shown_path(p, root), _sha256(p), submitted.rows.get(shown_path(p, root), 0))
               for p in sub_files]
    return IngestResult(observations=observations, tasks=tasks, inputs=inputs,
                        task_status=task_status, warnings=submitted.warnings)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(path: Path, root: Path, problems: ProblemCollector) -> RawTable | None:
    """read_table, with its problems added to the shared collector."""
    try:
        return read_table(path, root=root)
    except InputValidationError as exc:
        problems.problems.extend(exc.problems)
        return None


def require_columns(table: RawTable, required: Iterable[str], problems: ProblemCollector) -> bool:
    """True when the table has every required column; a problem for each one missing."""
    present = list(table.frame.columns)
    ok = True
    for column in required:
        if column not in present:
            ok = False
            problems.add(table.shown, f"a column headed {_COLUMN_WORDS.get(column, column)}; "
                         "the header row has: " + ", ".join(present), sheet=table.sheet,
                         row=table.header_row, column=column, found="(missing)")
    return ok


# --- observations ----------------------------------------------------------------------

def ingest_observations(files: Iterable[Path], catalog: Catalog, *, unit_id: str, year: int,
                        root: Path, problems: ProblemCollector,
                        seen: SeenRows | None = None) -> pd.DataFrame:
    """Validate the observation files of one unit and year.

    Parameters
    ----------
    files
        ``<domain_id>.csv`` or ``<domain_id>.xlsx`` files of one
        ``observations/<unit_id>/<year>/`` folder.
    catalog
        The loaded catalog.
    unit_id, year
        The edition the files belong to (from the folder names).
    root
        The project root; paths in messages are shown relative to it.
    problems
        Every problem found is added here; nothing is raised.
    seen
        Where each (indicator_id, year, measure) was first given; shared with the
        department submissions of the same unit and year, so that a figure given twice is
        reported wherever the second one is. A fresh dict when omitted.

    Returns
    -------
    pandas.DataFrame
        The valid rows, with columns :data:`OBSERVATION_COLUMNS`, sorted by domain order,
        indicator and measure (actual, target, completion_rate). ``value`` is float,
        ``derived`` bool, ``source_sheet`` empty for CSV files.
    """
    records: list[dict] = []
    seen_rows: SeenRows = {} if seen is None else seen
    seen_domains: dict[str, str] = {}
    for path in sorted(Path(f) for f in files):
        shown = shown_path(path, root)
        domain_id = path.stem
        if domain_id not in catalog.domains.index:
            problems.add(shown, "a file named after a domain id, e.g. employment_security.csv ("
                         + ", ".join(catalog.domains.index) + ")", found=path.name)
            continue
        if domain_id in seen_domains:
            problems.add(shown, f"one file per domain; {seen_domains[domain_id]} already holds "
                         f"the {domain_id} figures", found=path.name)
        seen_domains.setdefault(domain_id, shown)
        table = _read(path, root, problems)
        if table is None or not require_columns(table, REQUIRED_OBSERVATION_COLUMNS, problems):
            continue
        vet_columns(table, OBSERVATION_TEXT, problems)
        folder = shown_path(path.parent, root)
        for i, cells in enumerate(table.frame.to_dict("records")):
            where = CellRef(table, table.rows[i])
            record = check_observation(cells, where, catalog, unit_id=unit_id,
                                       domain_id=domain_id, year=year, folder=folder,
                                       seen=seen_rows, problems=problems)
            if record is not None:
                records.append(record)
    return _observation_frame(records, catalog)


def check_observation(cells: dict[str, str], where: CellRef, catalog: Catalog, *, unit_id: str,
                      domain_id: str, year: int, folder: str, seen: SeenRows,
                      problems: ProblemCollector) -> dict | None:
    """Check one observation row of a domain file or a department submission.

    Every rule of ``docs/data-model.md`` is applied; problems name ``where`` (file, sheet,
    row) and the column. A row whose (indicator_id, year, measure) was already given
    anywhere in ``seen`` is a problem naming both places.

    Returns
    -------
    dict or None
        The clean record (keys :data:`OBSERVATION_COLUMNS`) when every cell passed.
    """
    record = _observation_row(cells, where, catalog, domain_id, year, folder, problems)
    if record is None:
        return None
    key = (record["indicator_id"], record["year"], record["measure"])
    if key in seen:
        where.report(problems, "indicator_id", " / ".join(map(str, key)),
                     f"one {key[2]} row per indicator and year; this one is already "
                     f"given at {seen[key].place()}")
        return None
    seen[key] = where
    if not record.pop("_valid"):
        return None
    return {"unit_id": unit_id, "domain_id": domain_id, **record,
            "source_file": where.table.shown, "source_sheet": where.table.sheet or "",
            "source_row": where.row}


def _observation_row(cells: dict[str, str], where: CellRef, catalog: Catalog, domain_id: str,
                     year: int, folder: str, problems: ProblemCollector) -> dict | None:
    """Check one row. ``None`` when the row cannot even be keyed for duplicate checks;
    otherwise the record with ``_valid`` telling whether every cell passed."""
    before = len(problems.problems)
    indicator = _check_indicator(cells["indicator_id"], where, catalog, domain_id, problems)
    row_year = _check_year(cells["year"], where, year, folder, problems)
    measure = _check_measure(cells["measure"], where, problems)
    keyed = len(problems.problems) == before

    unit = _check_unit(cells["unit"], where, catalog, indicator, measure, problems)
    target_type = _check_target_type(cells.get("target_type", ""), where, catalog, indicator,
                                     measure, problems)
    value = _check_value(cells["value"], where, catalog, indicator, measure, problems)
    source = cells["source"]
    if not source:
        where.report(problems, "source", source, "the document and section the figure comes "
                     f"from, e.g. {_SOURCE_EXAMPLE}")
    derived = _check_derived(cells.get("derived", ""), cells.get("formula", ""), where, problems)
    outcome = _check_stated_outcome(cells.get("stated_outcome", ""), where, measure, problems)
    if not keyed:
        return None
    return {"year": row_year, "indicator_id": indicator, "measure": measure,
            "target_type": target_type, "value": value, "unit": unit, "source": source,
            "derived": derived, "formula": cells.get("formula", ""),
            "note": cells.get("note", ""), "stated_outcome": outcome,
            "_valid": len(problems.problems) == before}


def _indicator_label(catalog: Catalog, indicator_id: str) -> str:
    return f"{catalog.indicators.at[indicator_id, 'name_zh']} ({indicator_id})"


def _domain_label(catalog: Catalog, domain_id: str) -> str:
    return f"{catalog.domains.at[domain_id, 'name_zh']} ({domain_id})"


def _check_indicator(text, where, catalog, domain_id, problems) -> str | None:
    """The indicator id when it is in the catalog and in the file's domain."""
    if text not in catalog.indicators.index:
        in_domain = list(catalog.indicators.index[catalog.indicators["domain_id"] == domain_id])
        listing = ", ".join(in_domain[:8]) + (", ..." if len(in_domain) > 8 else "")
        where.report(problems, "indicator_id", text, "an indicator id that the catalog lists "
                     f"for {_domain_label(catalog, domain_id)}: {listing or '(none yet)'}")
        return None
    owner = catalog.indicators.at[text, "domain_id"]
    if owner != domain_id:
        where.report(problems, "indicator_id", text, "an indicator of "
                     f"{_domain_label(catalog, domain_id)}, the domain this file is for; "
                     f"{text} belongs to {_domain_label(catalog, owner)}, so it goes in "
                     f"{owner}.csv")
        return None
    return text


def _check_year(text, where, year, folder, problems) -> int | None:
    text = unicodedata.normalize("NFKC", text).strip()
    if re.fullmatch(r"\d{4}", text) and int(text) == year:
        return year
    where.report(problems, "year", text, f"{year}, the year of the folder {folder}")
    return None


def _check_measure(text, where, problems) -> str | None:
    measure = text.strip().lower()
    if measure in MEASURES:
        return measure
    where.report(problems, "measure", text, "one of actual (实际值), target (目标值) or "
                 "completion_rate (完成率, a rate the source states)")
    return None


def _expected_unit(catalog, indicator, measure) -> str | None:
    if measure == "completion_rate":
        return "%"
    if indicator is None:
        return None
    return str(catalog.indicators.at[indicator, "unit"])


def _check_unit(text, where, catalog, indicator, measure, problems) -> str:
    expected = _expected_unit(catalog, indicator, measure)
    if expected is None or measure is None:
        return text  # the indicator or measure is already reported; nothing to compare with
    if unicodedata.normalize("NFKC", text).strip() != unicodedata.normalize("NFKC", expected):
        if measure == "completion_rate":
            words = "% (a completion rate is always a percentage)"
        else:
            words = (f"the unit {expected} that the catalog gives for "
                     f"{_indicator_label(catalog, indicator)}")
        where.report(problems, "unit", text, words)
    return expected


def _check_target_type(text, where, catalog, indicator, measure, problems) -> str:
    target_type = text.strip().lower()
    if measure is None:
        return target_type
    if measure != "target":
        if target_type:
            where.report(problems, "target_type", text, "an empty cell: target_type is only "
                         "filled in on target rows")
        return ""
    if target_type not in TARGET_TYPES:
        where.report(problems, "target_type", text, "count (assessed by the completion rate), "
                     "min (at least this value) or max (at most this value)")
        return target_type
    if indicator is not None:
        direction = catalog.indicators.at[indicator, "direction"]
        label = _indicator_label(catalog, indicator)
        if direction == "lower" and target_type != "max":
            where.report(problems, "target_type", text, f"max, because a lower {label} is "
                         "better (min and count are for indicators where higher is better)")
        elif direction == "higher" and target_type == "max":
            where.report(problems, "target_type", text, f"min or count, because a higher "
                         f"{label} is better (max is for indicators where lower is better)")
    return target_type


def _check_value(text, where, catalog, indicator, measure, problems) -> float | None:
    unit = _expected_unit(catalog, indicator, measure)
    in_unit = f" in {unit}" if unit else ""
    try:
        value = normalise_number(text)
    except NotFinite:
        where.report(problems, "value", text, f"a finite number{in_unit}: this one is too large "
                     "to compute with")
        return None
    except ValueError:
        where.report(problems, "value", text, f"a number{in_unit}, digits only (e.g. 148.9)")
        return None
    if unicodedata.normalize("NFKC", text).strip().endswith("%") and unit not in (None, "%"):
        where.report(problems, "value", text, f"a number in {unit} without a percent sign")
        return value
    if unit is None:
        return value  # bounds depend on the indicator and measure, already reported
    low, high, origin = catalog.value_range(indicator, measure)
    if not low <= value <= high:
        where.report(problems, "value", text,
                     _range_words(catalog, indicator, measure, low, high, origin))
    return value


def _plain(number: float) -> str:
    """1800 → ``1800``; 1e9 → ``1,000,000,000`` (no exponent a clerk must decode)."""
    return f"{number:g}" if abs(number) < 1e6 else f"{number:,.0f}"


def _range_words(catalog, indicator, measure, low, high, origin) -> str:
    label = _indicator_label(catalog, indicator)
    unit = _expected_unit(catalog, indicator, measure)
    source = catalog.ranges.source
    confirm = (f"; if the figure is right, give {indicator} a max_value in the catalog "
               "(data/raw/catalog/indicators/), which is reviewed like any data change")
    if measure == "completion_rate":
        return f"a completion rate from {low:g} to {high:g}% for {label} ({source})"
    if unit == "%" and origin != "catalog":
        return f"a percentage from {low:g} to {high:g} for {label}{confirm}"
    space = "" if unit == "%" else " "
    span = f"from {_plain(low)} to {_plain(high)}{space}{unit}"
    if origin == "catalog":
        return f"a value {span} for {label} (the max_value the catalog gives for it)"
    where = f"the plausible range of {unit}" if origin == "unit" else "the default range"
    return f"a value {span} for {label} ({where} in {source}){confirm}"


def _check_derived(text, formula, where, problems) -> bool:
    flag = text.strip().lower()
    if flag not in _YES | _NO:
        where.report(problems, "derived", text, "yes (是) when the value was computed rather "
                     "than stated, otherwise no (否) or empty")
        return False
    derived = flag in _YES
    if derived and not formula.strip():
        where.report(problems, "formula", formula, "how the value was computed, because "
                     "derived is yes: the calculation in the catalog unit, e.g. 148.9 ÷ 135.4% = 109.97; "
                     "words go in note")
    return derived


def _check_stated_outcome(text, where, measure, problems) -> str:
    """``met`` / ``exceeded`` on a target row the source reports as met without a figure."""
    word = unicodedata.normalize("NFKC", text or "").strip().lower()
    if not word:
        return ""
    outcome = STATED_OUTCOMES.get(word)
    if outcome is None:
        where.report(problems, "stated_outcome", text, "met (已完成) or exceeded (超额完成), when the "
                     "source says the target was reached without giving the actual figure; "
                     "otherwise leave it empty")
        return ""
    if measure is not None and measure != "target":
        where.report(problems, "stated_outcome", text, "an empty cell: stated_outcome is only "
                     "filled in on target rows (quote the source's words in note)")
        return ""
    return outcome


def _observation_frame(records: list[dict], catalog: Catalog) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(records, columns=OBSERVATION_COLUMNS)
    frame = frame.astype({"year": "int64", "value": "float64", "derived": "bool",
                          "source_row": "int64"})
    order = catalog.domains["order"].to_dict()
    frame = frame.assign(_domain=frame["domain_id"].map(order),
                         _measure=frame["measure"].map(MEASURES.index))
    frame = frame.sort_values(["_domain", "indicator_id", "_measure"], kind="stable")
    return frame.drop(columns=["_domain", "_measure"]).reset_index(drop=True)


# --- tasks -----------------------------------------------------------------------------

def ingest_tasks(path: Path, catalog: Catalog, *, unit_id: str, year: int, root: Path,
                 problems: ProblemCollector) -> pd.DataFrame:
    """Validate the key task list of one unit and year.

    Parameters
    ----------
    path
        ``tasks/<unit_id>/<year>/tasks.csv``.
    catalog
        The loaded catalog.
    unit_id, year
        The edition (from the folder names).
    root
        The project root; paths in messages are shown relative to it.
    problems
        Every problem found is added here; nothing is raised.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TASK_COLUMNS`, sorted by ``task_no`` (int). ``departments`` and
        ``indicators`` stay ``;``-separated id lists.
    """
    table = _read(Path(path), root, problems)
    if table is None or not require_columns(table, TASK_COLUMNS, problems):
        return pd.DataFrame(columns=TASK_COLUMNS)
    vet_columns(table, TASK_TEXT, problems)
    records, numbers = [], {}
    for i, cells in enumerate(table.frame.to_dict("records")):
        where = CellRef(table, table.rows[i])
        before = len(problems.problems)
        task_no = _check_task_no(cells["task_no"], where, numbers, problems)
        record = {"task_no": task_no,
                  "domain_id": _check_task_domain(cells["domain_id"], where, catalog, problems),
                  **_check_texts(cells, where, problems),
                  "departments": _check_ids(cells, "departments", where,
                                            catalog.departments.index, "department", problems),
                  "indicators": _check_ids(cells, "indicators", where,
                                           catalog.indicators.index, "indicator", problems)}
        if len(problems.problems) == before:
            records.append(record)
    _check_task_sequence(numbers, len(table.frame), table, problems)
    frame = pd.DataFrame.from_records(records, columns=TASK_COLUMNS).astype({"task_no": "int64"})
    return frame.sort_values("task_no").reset_index(drop=True)


def _check_task_no(text, where, numbers: dict[int, int], problems) -> int | None:
    text = unicodedata.normalize("NFKC", text).strip()
    if not re.fullmatch(r"\d+", text) or int(text) < 1:
        where.report(problems, "task_no", text, "a whole number from 1 (the task's number)")
        return None
    number = int(text)
    if number in numbers:
        where.report(problems, "task_no", text, f"a task number not used before (row "
                     f"{numbers[number]} already has task {number})")
        return None
    numbers[number] = where.row
    return number


def _check_task_sequence(numbers: dict[int, int], n_rows: int, table: RawTable, problems) -> None:
    """Task numbers run 1..N without gaps (N = number of task rows)."""
    missing = sorted(set(range(1, n_rows + 1)) - set(numbers))
    if missing:
        problems.add(table.shown, f"task numbers 1 to {n_rows} without gaps, one per row",
                     sheet=table.sheet, column="task_no",
                     found="no task " + ", ".join(map(str, missing)))


def _check_task_domain(text, where, catalog, problems) -> str:
    domains = [d for d in catalog.domains.index if d != CROSS_CUTTING]
    if text not in domains:
        where.report(problems, "domain_id", text, "one of the ten domain ids: "
                     + ", ".join(domains))
    return text


def _check_texts(cells, where, problems) -> dict[str, str]:
    texts = {}
    for column in ("title_zh", "title_en", "summary_zh", "summary_en", "source"):
        text = cells[column]
        if not text:
            where.report(problems, column, text, "text (this column is required)")
        elif column.endswith("_zh") and not _CJK.search(text):
            # Catches the Chinese and English columns being swapped.
            where.report(problems, column, text, "Chinese text (this is the 中文 column)")
        texts[column] = text
    return texts


def _check_ids(cells, column, where, known, what, problems) -> str:
    ids = split_list(cells[column])
    if column == "departments" and not ids:
        where.report(problems, column, cells[column], "at least one responsible department id "
                     "(from catalog/departments.csv), separated by ;")
    for item in ids:
        if item not in known:
            where.report(problems, column, item, f"a {what} id from the catalog")
    return ";".join(ids)
