"""Reading one submitted CSV or XLSX file into a table of strings.

Departments submit their figures as CSV (often exported by a Chinese Excel, so in
GB18030/GBK) or as XLSX filled in from the template. :func:`read_table` turns either into
a :class:`RawTable`: every cell a trimmed string (``""`` for blanks), normalised column
names, and for every row the row number a person sees in a spreadsheet program, so that
later checks can point at the exact cell.

Nothing here knows what the columns mean; :mod:`bpsreport.ingest` checks that.

Examples
--------
>>> normalise_header("Value 数值")
'value'
>>> normalise_header("指标编码")
'indicator_id'
>>> normalise_number("１０，５８９．５")
10589.5
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException

from .errors import ProblemCollector

# Column names the ingestion stage knows (observations and tasks). A header cell is
# mapped onto one of these; unknown headers are kept as normalised text.
KNOWN_COLUMNS = frozenset({
    # observations
    "indicator_id", "indicator", "year", "measure", "target_type", "value", "unit",
    "source", "derived", "formula", "note",
    # tasks
    "task_no", "domain_id", "title_zh", "title_en", "summary_zh", "summary_en",
    "departments", "indicators",
    # department submission templates (bpsreport.submissions): the read-only target shown
    # for reference, and the task sheet's title and status
    "target", "task", "status",
})

# Chinese headers that staff commonly type in place of the English column names.
CHINESE_HEADERS = {
    "指标编码": "indicator_id", "指标代码": "indicator_id", "指标id": "indicator_id",
    "指标": "indicator", "指标名称": "indicator",
    "年份": "year", "年度": "year",
    "类型": "measure", "度量": "measure",
    "目标类型": "target_type",
    "数值": "value", "值": "value",
    "单位": "unit",
    "来源": "source", "出处": "source",
    "推算": "derived", "是否推算": "derived",
    "公式": "formula", "推算方法": "formula",
    "备注": "note",
    "目标": "target", "目标值": "target",
    "序号": "task_no", "任务序号": "task_no",
    "任务": "task", "任务名称": "task",
    "状态": "status", "落实情况": "status",
}

ACCEPTED_ENCODINGS = "UTF-8, UTF-8 with BOM, or GB18030/GBK"
SAVE_AS_HINT = "in Excel use Save As > CSV UTF-8"

# Sheets a workbook may carry besides the data sheet; their content is ignored.
IGNORED_SHEETS = frozenset({"instructions", "说明"})
DATA_SHEET = "data"

# Control characters (other than tab and line breaks), the replacement character and the
# private-use area never occur in a genuine submission: they mean the bytes were decoded
# with the wrong encoding.
_GARBLED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd\ue000-\uf8ff]")
# Runs of CJK ideographs (and CJK punctuation) versus everything else, used to split
# bilingual headers such as "value 数值" or "数值(value)".
_HEADER_TOKENS = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff]+|[A-Za-z0-9_\- ]+")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(,\d{3})+(\.\d+)?")

Grid = list[tuple[int, list]]  # (spreadsheet row number, cells) pairs of one sheet


@dataclass(frozen=True)
class RawTable:
    """One data table read from a submitted file.

    Attributes
    ----------
    frame
        All cells as stripped strings, ``""`` for blanks; columns are normalised names
        (see :func:`normalise_header`). Fully empty rows are left out.
    rows
        For each row of ``frame``, its spreadsheet row number (the header is row 1 in a
        CSV file; in XLSX the actual Excel row).
    sheet
        The sheet read (``None`` for CSV).
    shown
        The file's path relative to the project root, as used in error messages.
    header_row
        The spreadsheet row number of the header row.
    """

    frame: pd.DataFrame
    rows: list[int]
    sheet: str | None
    shown: str
    header_row: int = 1


def shown_path(path: Path, root: Path) -> str:
    """The path as shown in messages: relative to ``root`` when inside it."""
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except ValueError:
        return str(path)


def normalise_header(text: object) -> str:
    """Map a header cell onto a known column name where possible.

    Full-width characters become half-width (NFKC), case is folded, spaces and hyphens
    become ``_``, and common Chinese headers map to their column (``数值`` → ``value``).
    In a bilingual header (``value 数值``, ``数值（value）``) the first part that is a
    known column name wins. Anything else is returned in its normalised form.

    Examples
    --------
    >>> normalise_header(" Indicator-ID ")
    'indicator_id'
    >>> normalise_header("目标类型 target type")
    'target_type'
    """
    text = unicodedata.normalize("NFKC", "" if text is None else str(text)).strip()
    whole = _snake(text)
    if whole in KNOWN_COLUMNS:
        return whole
    if text in CHINESE_HEADERS:
        return CHINESE_HEADERS[text]
    for token in _HEADER_TOKENS.findall(text):
        name = _snake(token)
        name = CHINESE_HEADERS.get(name, name)
        if name in KNOWN_COLUMNS:
            return name
    return whole


def _snake(text: str) -> str:
    return re.sub(r"[\s\-_]+", "_", text.strip().lower()).strip("_")


def normalise_number(text: object) -> float:
    """Parse a number as staff type it.

    Accepts full-width digits and punctuation (``１４８．９``), spaces, thousands
    separators (``10,589``, ``10，589``) and a trailing ``%`` or ``％``. Whether a percent
    sign is allowed for the indicator is decided by the caller.

    Raises
    ------
    ValueError
        When the text is not a plain number after this clean-up.

    Examples
    --------
    >>> normalise_number("135.4％")
    135.4
    >>> normalise_number("10,589")
    10589.0
    """
    s = unicodedata.normalize("NFKC", str(text))
    s = re.sub(r"\s+", "", s)
    if s.endswith("%"):
        s = s[:-1]
    if "," in s:
        # Only commas that group digits by thousands; "1,5" is ambiguous, so refuse it.
        if not _GROUPED_NUMBER.fullmatch(s):
            raise ValueError(f"not a number: {text!r}")
        s = s.replace(",", "")
    if not _PLAIN_NUMBER.fullmatch(s):
        raise ValueError(f"not a number: {text!r}")
    return float(s)


def read_table(path: Path, *, root: Path) -> RawTable:
    """Read one CSV or XLSX submission into a :class:`RawTable`.

    Parameters
    ----------
    path
        A ``.csv`` or ``.xlsx`` file.
    root
        The project root; paths in messages are shown relative to it.

    Raises
    ------
    InputValidationError
        With every problem found in the file: an encoding other than
        UTF-8/GB18030, extra sheets, formula cells, merged header cells, duplicate
        column names, no data rows.
    """
    path = Path(path)
    shown = shown_path(path, root)
    problems = ProblemCollector()
    suffix = path.suffix.lower()
    if suffix == ".csv":
        grid, sheet = _csv_grid(path, shown, problems), None
    elif suffix == ".xlsx":
        grid, sheet = _xlsx_grid(path, shown, problems)
    else:
        problems.add(shown, "a .csv or .xlsx file", found=path.suffix or "(no extension)")
        grid, sheet = None, None
    table = None if grid is None else _table_from_grid(grid, shown, sheet, problems)
    problems.raise_if_any()
    assert table is not None
    return table


# --- CSV -------------------------------------------------------------------------------

def _csv_grid(path: Path, shown: str, problems: ProblemCollector) -> Grid | None:
    """Decode a CSV file and split it into (row number, cells) pairs."""
    data = path.read_bytes()
    text = _decode(data, shown, problems)
    if text is None:
        return None
    # A spreadsheet shows one row per CSV record (even when a quoted cell holds a line
    # break), so the record count is the row number a person sees.
    records = csv.reader(io.StringIO(text, newline=""))
    return [(number, cells) for number, cells in enumerate(records, start=1)]


def _decode(data: bytes, shown: str, problems: ProblemCollector) -> str | None:
    """Strict UTF-8 (BOM dropped) first, then GB18030; anything else is a problem."""
    expected = f"a CSV file saved as {ACCEPTED_ENCODINGS} ({SAVE_AS_HINT})"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        problems.add(shown, expected, found="UTF-16 text")
        return None
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if _GARBLED.search(text):
            # NUL bytes between ASCII letters are what UTF-16 without a BOM looks like.
            found = "UTF-16 text" if "\x00" in text else "characters that are not text"
            problems.add(shown, expected, found=found)
            return None
        # GB18030 decodes almost any bytes; a header with no column we know means the
        # file was really in some other encoding.
        if encoding == "gb18030" and not _header_makes_sense(text):
            problems.add(shown, expected, found="an unrecognised encoding")
            return None
        return text
    problems.add(shown, expected, found="an unrecognised encoding")
    return None


def _header_makes_sense(text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip()), "")
    cells = next(csv.reader([first]), [])
    return any(normalise_header(c) in KNOWN_COLUMNS for c in cells)


# --- XLSX ------------------------------------------------------------------------------

def _xlsx_grid(path: Path, shown: str,
               problems: ProblemCollector) -> tuple[Grid | None, str | None]:
    """Read the data sheet of a workbook into (row number, cells) pairs."""
    book = _load_book(path, shown, problems)
    if book is None:
        return None, None
    sheet = _pick_data_sheet(book.sheetnames, shown, problems)
    if sheet is None:
        return None, None
    return _sheet_grid(book[sheet], shown, sheet, problems), sheet


def _load_book(path: Path, shown: str, problems: ProblemCollector):
    try:
        # Not read-only and not data_only: read-only sheets do not expose merged ranges,
        # and since any formula is refused we need the formula text, not its cached value.
        # Submissions are a few dozen rows, so the full load costs nothing noticeable.
        return openpyxl.load_workbook(path, data_only=False)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError) as exc:
        problems.add(shown, "an Excel workbook (.xlsx) that opens in Excel",
                     found=f"an unreadable file ({exc.__class__.__name__})")
        return None


def _sheet_grid(ws, shown: str, sheet: str, problems: ProblemCollector) -> Grid:
    """One sheet as (row number, cell texts) pairs; merged cells and formulas are problems."""
    grid = [(cells[0].row, cells) for cells in ws.iter_rows() if cells]
    header_row, header = _header_by_column(grid)
    _check_merged(ws, header_row, header, shown, sheet, problems)
    _check_formulas(grid, header, shown, sheet, problems)
    return [(number, [_cell_text(c) for c in cells]) for number, cells in grid]


def read_sheets(path: Path, sheets: tuple[str, ...] | list[str], *, root: Path,
                allow_empty: bool = True,
                also_ignored: tuple[str, ...] = ()) -> dict[str, RawTable]:
    """Read several named sheets of one XLSX workbook, e.g. a department submission.

    A submission template (:mod:`bpsreport.submissions`) has a ``data`` and a ``tasks``
    sheet besides its instructions. Each sheet is read exactly like the single sheet of a
    domain file (same header normalisation, same checks on merged cells and formulas).

    Parameters
    ----------
    path
        An ``.xlsx`` file.
    sheets
        The sheets to read; names are matched ignoring case and surrounding spaces. Every
        one must be present; any other sheet must be an instructions sheet.
    root
        The project root; paths in messages are shown relative to it.
    allow_empty
        A sheet with a header row but no data rows gives an empty table rather than a
        problem (a template's task sheet for a department without tasks).
    also_ignored
        Further sheets the workbook may carry and that are not read here (a template's
        read-only reference sheet and its metadata sheet, read by the caller).

    Returns
    -------
    dict
        Requested sheet name → :class:`RawTable` (``RawTable.sheet`` is the name as spelt
        in the workbook).

    Raises
    ------
    InputValidationError
        With every problem found in the workbook.
    """
    path = Path(path)
    shown = shown_path(path, root)
    problems = ProblemCollector()
    tables: dict[str, RawTable] = {}
    if path.suffix.lower() != ".xlsx":
        problems.add(shown, "an Excel workbook (.xlsx)", found=path.suffix or "(no extension)")
        problems.raise_if_any()
    book = _load_book(path, shown, problems)
    if book is not None:
        by_key = {name.strip().casefold(): name for name in book.sheetnames}
        wanted = {name.strip().casefold() for name in sheets}
        for extra in book.sheetnames:
            key = extra.strip().casefold()
            if key not in wanted and key not in IGNORED_SHEETS and \
                    key not in {name.strip().casefold() for name in also_ignored}:
                problems.add(shown, "only the sheets " + ", ".join(sheets) + " (and optionally "
                             "one named instructions or 说明); move or delete this sheet",
                             sheet=extra, found=extra)
        for name in sheets:
            actual = by_key.get(name.strip().casefold())
            if actual is None:
                problems.add(shown, f"a sheet named {name} (as in the template)",
                             found="sheets " + ", ".join(book.sheetnames))
                continue
            grid = _sheet_grid(book[actual], shown, actual, problems)
            table = _table_from_grid(grid, shown, actual, problems, allow_empty=allow_empty)
            if table is not None:
                tables[name] = table
    problems.raise_if_any()
    return tables


def _pick_data_sheet(names: list[str], shown: str, problems: ProblemCollector) -> str | None:
    """The sheet holding the figures; every other sheet must be an instructions sheet."""
    candidates = [n for n in names if n.strip().casefold() not in IGNORED_SHEETS]
    data = [n for n in candidates if n.strip().casefold() == DATA_SHEET]
    if data:
        for extra in candidates:
            if extra != data[0]:
                problems.add(shown, "only a sheet named data (and optionally one named "
                             "instructions or 说明); move or delete this sheet", sheet=extra,
                             found=extra)
        return data[0]
    if len(candidates) == 1:
        return candidates[0]  # a workbook with a single sheet: whatever its name
    problems.add(shown, "a sheet named data holding the figures",
                 found="sheets " + ", ".join(names) if names else "no sheets")
    return None


def _header_by_column(grid) -> tuple[int, dict[int, str]]:
    """The header row (the first non-empty row) and its column index → normalised name."""
    for number, cells in grid:
        texts = {c.column: _cell_text(c) for c in cells}
        if any(texts.values()):
            return number, {col: normalise_header(t) for col, t in texts.items() if t}
    return 1, {}


def _column_label(column: int, header: dict[int, str]) -> str:
    """Name a column by its header when it has one, else by its letter (A, B, ...)."""
    return header.get(column) or get_column_letter(column)


def _check_merged(ws, header_row, header, shown, sheet, problems) -> None:
    for merged in sorted(ws.merged_cells.ranges, key=lambda r: (r.min_row, r.min_col)):
        if merged.min_row <= header_row <= merged.max_row:
            expected = "one header cell per column (unmerge these cells)"
            row = header_row
        else:
            # A merged data cell keeps its value in the top-left cell only; the other
            # rows would silently read as blanks.
            expected = "one value per cell (unmerge these cells and fill in each row)"
            row = merged.min_row
        problems.add(shown, expected, sheet=sheet, row=row,
                     column=_column_label(merged.min_col, header), found=merged.coord)


def _check_formulas(grid, header, shown, sheet, problems) -> None:
    for number, cells in grid:
        for cell in cells:
            if cell.data_type == "f":
                formula = getattr(cell.value, "text", cell.value)
                problems.add(shown, "a typed value, not a formula (copy the column and use "
                             "Paste Special > Values)", sheet=sheet, row=number,
                             column=_column_label(cell.column, header), found=formula)


def _cell_text(cell) -> str:
    """A cell's value as staff see it, as a string."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        if "%" in (cell.number_format or ""):
            # Excel stores 92.1% as 0.921; give back what the clerk typed.
            return _number_text(round(value * 100, 10)) + "%"
        return _number_text(value)
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(getattr(value, "text", value)).strip()


def _number_text(value: int | float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


# --- shared ----------------------------------------------------------------------------

def _table_from_grid(grid: Grid, shown: str, sheet: str | None,
                     problems: ProblemCollector, *, allow_empty: bool = False) -> RawTable | None:
    """Turn (row number, cells) pairs into a RawTable, checking the header."""
    grid = [(n, [str(c).strip() for c in cells]) for n, cells in grid]
    filled = [(n, cells) for n, cells in grid if any(cells)]
    if not filled:
        problems.add(shown, "a header row and at least one data row", sheet=sheet,
                     found="an empty file" if sheet is None else "an empty sheet")
        return None
    (header_row, header_cells), body = filled[0], filled[1:]
    if not body and not allow_empty:
        problems.add(shown, "at least one data row below the header", sheet=sheet,
                     row=header_row + 1, found="no data rows")
        return None

    names = [normalise_header(c) for c in header_cells]
    width = max([len(names), *(len(cells) for _, cells in body)])
    names += [""] * (width - len(names))
    keep = _check_header(names, header_cells, body, header_row, shown, sheet, problems)

    records = []
    for _, cells in body:
        cells = cells + [""] * (width - len(cells))
        records.append([cells[i] for i in keep])
    frame = pd.DataFrame(records, columns=[names[i] for i in keep], dtype=str)
    return RawTable(frame=frame, rows=[n for n, _ in body], sheet=sheet, shown=shown,
                    header_row=header_row)


def _check_header(names, header_cells, body, header_row, shown, sheet, problems) -> list[int]:
    """Indexes of the columns to keep; problems for duplicate and missing headers."""
    keep, first_seen = [], {}
    for i, name in enumerate(names):
        letter = get_column_letter(i + 1)
        if not name:
            # Columns with neither a header nor values are just unused spreadsheet space.
            for number, cells in body:
                if i < len(cells) and cells[i]:
                    problems.add(shown, "a header above every column that holds values",
                                 sheet=sheet, row=header_row, column=letter, found="")
                    break
            continue
        if name in first_seen:
            original = header_cells[i] if i < len(header_cells) else name
            problems.add(shown, f"each column only once (column {first_seen[name]} is "
                         f"already {name})", sheet=sheet, row=header_row, column=letter,
                         found=original)
            continue
        first_seen[name] = letter
        keep.append(i)
    return keep


__all__ = ["RawTable", "read_table", "read_sheets", "normalise_header", "normalise_number", "shown_path",
           "KNOWN_COLUMNS", "CHINESE_HEADERS"]
