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
import math
import os
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

from .cell_text import excerpt, garbled_cells, needs_vetting
from .errors import ProblemCollector
from .limits import Limits, load_limits
from .raw_files import check_readable

# Column names the ingestion stage knows (observations and tasks). A header cell is
# mapped onto one of these; unknown headers are kept as normalised text.
KNOWN_COLUMNS = frozenset({
    # observations
    "indicator_id", "indicator", "year", "measure", "target_type", "value", "unit",
    "source", "derived", "formula", "note", "stated_outcome",
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
    "原文所述完成情况": "stated_outcome",
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
    needs_vetting
        False when no cell holds a control, line-break or invisible character, so that
        :func:`bpsreport.cell_text.vet_columns` has nothing to look at.
    """

    frame: pd.DataFrame
    rows: list[int]
    sheet: str | None
    shown: str
    header_row: int = 1
    needs_vetting: bool = True


def shown_path(path: Path, root: Path) -> str:
    """The path as shown in messages: relative to ``root`` when inside it.

    Links are not resolved: a link is shown where it is, not where it points.
    """
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        pass
    try:
        return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):
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
        When the text is not a plain number after this clean-up; :class:`NotFinite`
        (a ``ValueError``) when it is one too large to be finite (``1e400``).

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
    value = float(s)
    if not math.isfinite(value):
        raise NotFinite(f"not a finite number: {text!r}")
    return value


class NotFinite(ValueError):
    """A number too large for any computation (``1e400`` reads as infinity)."""


def read_table(path: Path, *, root: Path) -> RawTable:
    """Read one CSV or XLSX submission into a :class:`RawTable`.

    Parameters
    ----------
    path
        A ``.csv`` or ``.xlsx`` file.
    root
        The project root; paths in messages are shown relative to it, links may not
        leave it, and its ``config/limits.yml`` holds the limits (:mod:`bpsreport.limits`).

    Raises
    ------
    InputValidationError
        With every problem found in the file: not a regular file inside the project, past
        a limit, an encoding other than UTF-8/GB18030 (or text that only decoded by
        accident), a broken quote or another delimiter, extra sheets, formula cells,
        merged header cells, duplicate column names, values without a header, no data rows.
    """
    path = Path(path)
    shown = shown_path(path, root)
    problems = ProblemCollector()
    limits = load_limits(root)
    suffix = path.suffix.lower()
    grid, sheet, data = None, None, None
    if suffix not in (".csv", ".xlsx"):
        problems.add(shown, "a .csv or .xlsx file", found=path.suffix or "(no extension)")
    elif check_readable(path, root, shown, limits, problems):
        if suffix == ".csv":
            data = path.read_bytes()
            grid = csv_grid(data, shown, problems, limits=limits)
        else:
            grid, sheet = _xlsx_grid(path, shown, problems, limits)
    table = None if grid is None else _table_from_grid(grid, shown, sheet, problems,
                                                       limits=limits, raw=data)
    problems.raise_if_any()
    assert table is not None
    return table


# --- CSV -------------------------------------------------------------------------------

# First bytes of files that are not text at all, and what to do about each.
_NOT_TEXT = (
    (b"PK\x03\x04", "an Excel workbook (.xlsx) or another zip archive with a .csv name",
     "rename it to .xlsx if it is a workbook (or open it in Excel and save as CSV UTF-8)"),
    (b"PK\x05\x06", "an empty zip archive with a .csv name", "a CSV text file"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook (.xls) with a .csv name",
     "a CSV text file: open it in Excel and save as CSV UTF-8"),
    (b"%PDF", "a PDF document with a .csv name", "a CSV text file with the figures"),
    (b"\x1f\x8b", "a gzip archive with a .csv name", "a CSV text file: unpack it first"),
)
_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32 text"), (b"\x00\x00\xfe\xff", "UTF-32 text"),
         (b"\xff\xfe", "UTF-16 text"), (b"\xfe\xff", "UTF-16 text"))
# Encodings a wrongly saved file is tried in, to name it; with the characters that file
# would mostly contain if the guess were right.
_GUESSES = (
    ("shift_jis", "Shift-JIS (Japanese)", re.compile(r"[\u3040-\u30ff\uff66-\uff9f\u4e00-\u9fff]")),
    ("big5", "Big5 (traditional Chinese)", re.compile(r"[\u4e00-\u9fff\u3000-\u303f]")),
    ("euc_kr", "EUC-KR (Korean)", re.compile(r"[\uac00-\ud7af]")),
    ("cp1252", "Windows-1252 (Western European \"ANSI\")", re.compile(r"[A-Za-z\u00c0-\u00ff]")),
)
_CJK_TEXT = re.compile(r"[\u3400-\u9fff]")
_LINE_ENDS = re.compile(r"\r\n|\r|\n")
_OTHER_DELIMITERS = ((";", "semicolons (;)"), ("\t", "tabs"), ("|", "vertical bars (|)"))


def csv_grid(data: bytes, shown: str, problems: ProblemCollector, *, limits: Limits,
             encodings: tuple[str, ...] = ("utf-8", "gb18030")) -> Grid | None:
    """Decode and split the bytes of a CSV file into (row number, cells) pairs.

    Everything that could make rows vanish or cells lie is a problem here, named with its
    line: a NUL byte, two encodings in one file, a quote that swallows the rest of the
    file (or rows of it), another delimiter than the comma, more rows than the limit.
    ``encodings`` are those accepted: ``utf-8`` (with or without BOM) and ``gb18030``.
    """
    text = _decode(data, shown, problems, encodings)
    if text is None:
        return None
    records = _parse_csv(text, shown, problems, limits)
    if records is None or not _comma_separated(records, shown, problems):
        return None
    _check_swallowed_rows(records, shown, problems)
    # A spreadsheet shows one row per CSV record (even when a quoted cell holds a line
    # break), so the record count is the row number a person sees.
    return [(number, cells) for number, _, _, cells in records]


def _decode(data: bytes, shown: str, problems: ProblemCollector,
            encodings: tuple[str, ...]) -> str | None:
    """Strict UTF-8 (BOM dropped) first, then GB18030; anything else is a problem."""
    accepted = ACCEPTED_ENCODINGS if "gb18030" in encodings else "UTF-8 (with or without BOM)"
    expected = f"a CSV file saved as {accepted} ({SAVE_AS_HINT})"
    for magic, found, what in _NOT_TEXT:
        if data.startswith(magic):
            problems.add(shown, what, found=found)
            return None
    for bom, found in _BOMS:
        if data.startswith(bom):
            problems.add(shown, expected, found=found)
            return None
    nul = data.find(b"\x00")
    if nul >= 0:
        if _looks_utf16(data):
            problems.add(shown, expected, found="UTF-16 text")
        else:
            line = data.count(b"\n", 0, nul) + 1
            problems.add(shown, "text without NUL bytes: the file is damaged or is not a CSV "
                         f"file; open it in Excel and save it again ({SAVE_AS_HINT})",
                         row=line, found=f"a NUL byte (character 0) on line {line}")
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    mixed = _lines_in_another_encoding(data)
    if mixed:
        for line, text in mixed[:5]:
            problems.add(shown, "one encoding for the whole file: other lines are UTF-8, this "
                         "one is not (probably GBK, pasted from another file); save the whole "
                         f"file again ({SAVE_AS_HINT})", row=line, found=excerpt(text))
        if len(mixed) > 5:
            problems.add(shown, "one encoding for the whole file",
                         found=f"{len(mixed) - 5} more lines not in UTF-8")
        return None
    if "gb18030" in encodings:
        try:
            text = data.decode("gb18030")
        except UnicodeDecodeError:
            text = None
        # GB18030 decodes almost any bytes; a header with no column we know means the
        # file was really in some other encoding.
        if text is not None and _header_makes_sense(text):
            return text
    problems.add(shown, expected, found="an unrecognised encoding" + _guess_words(data))
    return None


def _looks_utf16(data: bytes) -> bool:
    """NUL bytes on every other position: UTF-16 without its byte-order mark."""
    sample = data[:4096]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    most, least = max(even, odd), min(even, odd)
    return most >= 0.2 * (len(sample) / 2) and most >= 10 * (least + 1)


def _lines_in_another_encoding(data: bytes) -> list[tuple[int, str]]:
    """Lines that are not UTF-8 in a file whose other lines are UTF-8 with Chinese text."""
    utf8_chinese, other = 0, []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            utf8_chinese += bool(_CJK_TEXT.search(line.decode("utf-8")))
        except UnicodeDecodeError:
            other.append((number, line.decode("gb18030", errors="replace").strip()))
    return other if utf8_chinese and other else []


def guess_encoding(data: bytes) -> str | None:
    """The encoding the bytes most plausibly are in, in words, or None."""
    best, best_share = None, 0.6
    sample = data[:65536]
    for encoding, words, script in _GUESSES:
        try:
            text = sample.decode(encoding)
        except UnicodeDecodeError:
            continue
        special = [c for c in text if ord(c) > 127]
        if not special:
            continue
        share = sum(1 for c in special if script.match(c)) / len(special)
        if share > best_share:
            best, best_share = words, share
    return best


def _guess_words(data: bytes) -> str:
    guess = guess_encoding(data)
    return f", probably {guess}" if guess else ""


def _header_makes_sense(text: str) -> bool:
    first = next((line for line in text.splitlines() if line.strip()), "")
    cells = next(csv.reader([first]), [])
    return any(normalise_header(c) in KNOWN_COLUMNS for c in cells)


Record = tuple[int, int, int, list]  # (row number, first line, last line, cells)


def _parse_csv(text: str, shown: str, problems: ProblemCollector,
               limits: Limits) -> list[Record] | None:
    """Records with their physical lines; a broken quote or too many rows is a problem."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records: list[Record] = []
    line = 0
    try:
        for cells in reader:
            records.append((len(records) + 1, line + 1, reader.line_num, cells))
            line = reader.line_num
            if len(records) > limits.max_rows + 1:
                problems.add(shown, f"at most {limits.max_rows:,} data rows (tables.max_rows "
                             f"in {limits.source}); split the file", found=f"more than "
                             f"{limits.max_rows:,} rows")
                return None
    except csv.Error as exc:
        row, opened = len(records) + 1, line + 1
        message = str(exc)
        if "unexpected end of data" in message:
            problems.add(shown, "every quoted cell closed by a second quote (\"): from line "
                         f"{opened} to the end of the file (line {reader.line_num}) everything "
                         "would be read into one cell, and those rows would be lost. Add the "
                         "closing quote, or write a quote inside a cell as two quotes (\"\")",
                         row=row, found=f"a quote opened on line {opened} and never closed")
        elif "expected after" in message:
            problems.add(shown, "a comma right after the closing quote of a quoted cell; a "
                         "quote inside a cell is written as two quotes (\"\")", row=row,
                         found=f"text after a closing quote on line {reader.line_num}")
        elif "field larger than field limit" in message:
            problems.add(shown, f"a cell of at most {limits.max_cell_chars:,} characters "
                         f"(tables.max_cell_chars in {limits.source})", row=row,
                         found=f"a cell of more than {csv.field_size_limit():,} characters")
        else:
            problems.add(shown, "a well-formed CSV file", row=row, found=message)
        return None
    return records


def _comma_separated(records: list[Record], shown: str, problems: ProblemCollector) -> bool:
    """A header that is one cell holding semicolons or tabs: another delimiter was used."""
    first = next((r for r in records if any(c.strip() for c in r[3])), None)
    if first is None or len(first[3]) != 1:
        return True
    for delimiter, words in _OTHER_DELIMITERS:
        if delimiter in first[3][0]:
            problems.add(shown, f"values separated by commas (,); this file separates them by "
                         f"{words}. In Excel use Save As > CSV UTF-8 (Comma delimited)",
                         row=first[0], found=excerpt(first[3][0]))
            return False
    return True


def _check_swallowed_rows(records: list[Record], shown: str, problems: ProblemCollector) -> None:
    """A quoted cell over several lines whose lines look like rows: a stray quote ate them.

    A genuine multi-line note is fine; lines that hold (nearly) as many commas as a row
    has separators are rows lost into one cell.
    """
    width = max((len(r[3]) for r in records[:1]), default=0)
    enough = max(3, width - 2)  # commas + 1 on the line: a full row has `width`
    for row, first, last, cells in records:
        if first == last:
            continue
        for i, cell in enumerate(cells):
            lines = _LINE_ENDS.split(cell)[1:]
            rowlike = sum(1 for text in lines if text.count(",") + 1 >= enough)
            if rowlike:
                column = normalise_header(records[0][3][i]) if i < width else None
                problems.add(shown, f"a cell closed by its quote: the quote (\") that opens this "
                             f"cell on line {first} closes only on line {last}, so {rowlike} "
                             "line(s) that look like rows of their own were read into this one "
                             "cell. Close the quote where the cell ends, or write a quote "
                             "inside a cell as two quotes (\"\")", row=row,
                             column=column or get_column_letter(i + 1), found=excerpt(cell))


# --- XLSX ------------------------------------------------------------------------------

def _xlsx_grid(path: Path, shown: str, problems: ProblemCollector,
               limits: Limits) -> tuple[Grid | None, str | None]:
    """Read the data sheet of a workbook into (row number, cells) pairs."""
    book = _load_book(path, shown, problems, limits)
    if book is None:
        return None, None
    sheet = _pick_data_sheet(book.sheetnames, shown, problems)
    if sheet is None:
        return None, None
    return _sheet_grid(book[sheet], shown, sheet, problems), sheet


def _zip_within_limits(path: Path, shown: str, problems: ProblemCollector, limits: Limits) -> bool:
    """Check the workbook's zip directory (declared sizes) before anything is unpacked."""
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        with open(path, "rb") as fh:
            head = fh.read(4096)
        if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
            problems.add(shown, "an .xlsx workbook: open it in Excel and save it as Excel "
                         "Workbook (.xlsx)", found="an Excel 97-2003 workbook (.xls) with an "
                         ".xlsx name")
        elif head and b"\x00" not in head and _decodes(head):
            problems.add(shown, "an Excel workbook (.xlsx); if the figures are in this text "
                         "file, name it .csv", found="a text (CSV) file with an .xlsx name")
        else:
            problems.add(shown, "an Excel workbook (.xlsx) that opens in Excel",
                         found="a damaged or unknown file (not a zip archive)")
        return False
    ok = True
    if len(parts) > limits.max_xlsx_parts:
        problems.add(shown, f"a workbook of at most {limits.max_xlsx_parts:,} parts "
                     f"(xlsx.max_parts in {limits.source})", found=f"{len(parts):,} parts")
        ok = False
    total = sum(p.file_size for p in parts)
    if total > limits.max_xlsx_uncompressed_bytes:
        problems.add(shown, f"a workbook of at most {limits.max_xlsx_uncompressed_bytes:,} bytes "
                     f"once unpacked (xlsx.max_uncompressed_bytes in {limits.source})",
                     found=f"{total:,} bytes once unpacked")
        ok = False
    for part in parts:
        if part.file_size < max(limits.ratio_checked_from, 1):
            continue
        ratio = part.file_size / part.compress_size if part.compress_size else float("inf")
        if ratio > limits.max_xlsx_ratio:
            problems.add(shown, f"parts that expand at most {limits.max_xlsx_ratio:g} times "
                         f"(xlsx.max_compression_ratio in {limits.source})",
                         found=f"{part.filename} expands {ratio:,.0f} times")
            ok = False
    return ok


def _decodes(data: bytes) -> bool:
    for encoding in ("utf-8", "gb18030"):
        try:
            data.decode(encoding)
            return True
        except UnicodeDecodeError as exc:
            if exc.start >= len(data) - 4:  # a character cut at the end of the sample
                return True
    return False


def _load_book(path: Path, shown: str, problems: ProblemCollector, limits: Limits):
    if not _zip_within_limits(path, shown, problems, limits):
        return None
    try:
        # Not read-only and not data_only: read-only sheets do not expose merged ranges,
        # and since any formula is refused we need the formula text, not its cached value.
        # Submissions are a few dozen rows, and the zip check above bounds the size.
        return openpyxl.load_workbook(path, data_only=False)
    except Exception as exc:  # noqa: BLE001 - whatever openpyxl trips on is in the file
        problems.add(shown, "an Excel workbook (.xlsx) that opens in Excel; open it in Excel "
                     "and save it again", found=f"a damaged workbook ({exc.__class__.__name__}: "
                     f"{excerpt(str(exc).splitlines()[0] if str(exc) else '', 0, 80)})")
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
    limits = load_limits(root)
    book = None
    if check_readable(path, root, shown, limits, problems):
        book = _load_book(path, shown, problems, limits)
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
            table = _table_from_grid(grid, shown, actual, problems, allow_empty=allow_empty,
                                     limits=limits)
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
                     problems: ProblemCollector, *, limits: Limits, allow_empty: bool = False,
                     raw: bytes | None = None) -> RawTable | None:
    """Turn (row number, cells) pairs into a RawTable, checking the header and the cells.

    ``raw`` (the bytes of a CSV file) is used to name the likely encoding when the text
    looks decoded with the wrong one.
    """
    grid = [(n, [str(c).strip() for c in cells]) for n, cells in grid]
    filled = [(n, cells) for n, cells in grid if any(cells)]
    if not filled:
        problems.add(shown, "a header row and at least one data row", sheet=sheet,
                     found="an empty file" if sheet is None else "an empty sheet")
        return None
    (header_row, header_cells), body = filled[0], filled[1:]
    if len(body) > limits.max_rows:
        problems.add(shown, f"at most {limits.max_rows:,} data rows (tables.max_rows in "
                     f"{limits.source}); split the file", sheet=sheet,
                     found=f"{len(body):,} rows")
        return None
    if not body and not allow_empty:
        problems.add(shown, "at least one data row below the header", sheet=sheet,
                     row=header_row + 1, found="no data rows")
        return None

    names = [normalise_header(c) for c in header_cells]
    width = max([len(names), *(len(cells) for _, cells in body)])
    names += [""] * (width - len(names))
    keep = _check_header(names, header_cells, body, header_row, shown, sheet, problems)
    _check_cells(filled, names, shown, sheet, problems, limits, raw)

    records = []
    for _, cells in body:
        cells = cells + [""] * (width - len(cells))
        records.append([cells[i] for i in keep])
    frame = pd.DataFrame(records, columns=[names[i] for i in keep], dtype=str)
    return RawTable(frame=frame, rows=[n for n, _ in body], sheet=sheet, shown=shown,
                    header_row=header_row,
                    needs_vetting=needs_vetting(text for row in records for text in row))


def _check_cells(filled: Grid, names: list[str], shown: str, sheet: str | None,
                 problems: ProblemCollector, limits: Limits, raw: bytes | None) -> None:
    """Cells past the size limit, and text that shows a wrong encoding (any column)."""
    def label(i: int) -> str:
        return (names[i] if i < len(names) else "") or get_column_letter(i + 1)

    cells = [(number, label(i), text) for number, row in filled for i, text in enumerate(row)]
    for number, column, text in cells:
        if len(text) > limits.max_cell_chars:
            problems.add(shown, f"a cell of at most {limits.max_cell_chars:,} characters "
                         f"(tables.max_cell_chars in {limits.source})", sheet=sheet,
                         row=number, column=column, found=f"{len(text):,} characters: "
                         + excerpt(text, 0, 40))
    garbled = garbled_cells(cells)
    if not garbled:
        return
    guess = guess_encoding(raw) if raw else None
    saved = (f"the file is probably in {guess}; " if guess else "")
    for number, column, found, looks in garbled[:5]:
        problems.add(shown, f"readable text; this looks like {looks}: {saved}save it again "
                     f"({SAVE_AS_HINT if sheet is None else 'retype the text in Excel'})",
                     sheet=sheet, row=number, column=column, found=found)
    if len(garbled) > 5:
        problems.add(shown, "readable text (see the cells listed above)", sheet=sheet,
                     found=f"{len(garbled) - 5} more cells like these")


def _check_header(names, header_cells, body, header_row, shown, sheet, problems) -> list[int]:
    """Indexes of the columns to keep; problems for duplicate and missing headers."""
    keep, first_seen = [], {}
    for i, name in enumerate(names):
        letter = get_column_letter(i + 1)
        if not name:
            # Columns with neither a header nor values are just unused spreadsheet space;
            # a value in one is reported where it is (a stray cell, an extra comma).
            for number, cells in body:
                if i < len(cells) and cells[i]:
                    problems.add(shown, f"no value in column {letter}, which has no header: "
                                 "delete the stray value (or the extra separator before it), "
                                 "or give the column a header", sheet=sheet, row=number,
                                 column=letter, found=cells[i])
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


__all__ = ["RawTable", "read_table", "read_sheets", "csv_grid", "guess_encoding", "normalise_header",
           "normalise_number", "shown_path", "KNOWN_COLUMNS", "CHINESE_HEADERS"]
