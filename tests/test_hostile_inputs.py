"""A corpus of hostile but fair inputs (issue 12 §2): broken data is never accepted silently.

Every case starts from the minimal valid raw tree (``tests/fixtures/bad_inputs/valid_tree``,
with the project's ``config/``) whose clean data was built once, breaks it in one way
(all inputs made here are SYNTHETIC), and then checks, through the command line:

- ``pipeline.py validate`` and ``pipeline.py build`` both exit with 2 (never 1, never 0)
  and report exactly the same problems;
- each problem names the file and says what was expected, and the problems the case
  expects are there, with their row, column and the value found;
- ``data/clean/`` is byte-identical afterwards, and no command blocks (a named pipe).

The classes: silent data loss (quotes that swallow rows), impossible numbers, encodings
that decode by accident, files that are not what they seem, data problems that used to be
reported as bugs, limits, misleading messages, and line breaks or control characters in
single-line text. A few awkward inputs that must be accepted close the corpus.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import signal
import socket
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import openpyxl
import pytest

from bpsreport import cli
from bpsreport.build import build_clean
from bpsreport.catalog import load_catalog
from bpsreport.errors import InputValidationError
from bpsreport.ingest import ingest_all
from bpsreport.paths import ProjectPaths

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "bad_inputs" / "valid_tree"
OBS = "data/raw/observations/gd-province"
EMP17 = f"{OBS}/2017/employment_security.csv"
EMP17_XLSX = f"{OBS}/2017/employment_security.xlsx"
TRANSPORT17 = f"{OBS}/2017/public_transport.csv"
TASKS18 = "data/raw/tasks/gd-province/2018/tasks.csv"
CATALOG = "data/raw/catalog"
EMP_CATALOG = f"{CATALOG}/indicators/employment_security.csv"
SOURCES = f"{CATALOG}/sources.csv"
HEADER = ["indicator_id", "indicator", "year", "measure", "target_type", "value", "unit",
          "source", "derived", "formula", "note"]
COL = {name: i for i, name in enumerate(HEADER)}
JOBS_ACTUAL, JOBS_TARGET, JOBS_RATE, UNEMPLOYMENT = 2, 3, 4, 5  # rows of EMP17
_PRINT_PROBLEMS = cli._print_problems


# --- the project ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def built_template(tmp_path_factory) -> Path:
    """The valid tree with config/ and its clean data built once."""
    root = tmp_path_factory.mktemp("template") / "project"
    shutil.copytree(FIXTURE, root)
    shutil.copytree(ROOT / "config", root / "config")
    build_clean(ProjectPaths.at(root))
    return root


@pytest.fixture
def project(built_template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(built_template, root, symlinks=True)
    return root


def tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@contextmanager
def never_blocks(seconds: int = 120):
    """Turn a hang (a pipe opened for reading) into a failure instead of a stuck run."""
    def stuck(signum, frame):
        raise AssertionError(f"blocked for {seconds} s: a pipe or device was opened")
    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_cli(root: Path, *args: str, monkeypatch) -> tuple[int, list]:
    """Exit code of ``pipeline.py --root ROOT ARGS`` and the problems it printed."""
    printed: list = []

    def record(rep, err):
        printed.extend(err.problems)
        _PRINT_PROBLEMS(rep, err)
    monkeypatch.setattr(cli, "_print_problems", record)
    with never_blocks():
        code = cli.main(["--root", str(root), *args])
    return code, printed


# --- building bad inputs -------------------------------------------------------------------------

def rows_of(root: Path, rel: str) -> list[list[str]]:
    with open(root / rel, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def csv_text(rows: list[list[str]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue()


def write_text(rel: str, text: str, encoding: str = "utf-8", errors: str = "strict"):
    def build(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(text.encode(encoding, errors=errors))
    return build


def edit_rows(rel: str, edit: Callable[[list[list[str]]], None], encoding: str = "utf-8",
              errors: str = "strict"):
    def build(root: Path) -> None:
        rows = rows_of(root, rel)
        edit(rows)
        (root / rel).write_bytes(csv_text(rows).encode(encoding, errors=errors))
    return build


def set_cell(rel: str, row: int, column: int | str, text: str):
    index = COL[column] if isinstance(column, str) else column
    return edit_rows(rel, lambda rows: rows[row - 1].__setitem__(index, text))


def set_catalog(rel: str, indicator_id: str, column: str, text: str):
    def edit(rows):
        at = rows[0].index(column)
        next(r for r in rows if r[0] == indicator_id)[at] = text
    return edit_rows(rel, edit)


def raw_bytes(rel: str, data: bytes):
    def build(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return build


def fixture_text(rel: str) -> str:
    return (FIXTURE / rel).read_text(encoding="utf-8")


def lines_of(rel: str) -> list[str]:
    return fixture_text(rel).splitlines()


def as_workbook(rel_csv: str, edit: Callable | None = None, *, rel_xlsx: str | None = None):
    """The CSV as a workbook with a data sheet (numbers typed as numbers), CSV removed."""
    def build(root: Path) -> None:
        book = openpyxl.Workbook()
        ws = book.active
        ws.title = "data"
        for row in rows_of(root, rel_csv):
            ws.append([_typed(c) for c in row])
        if edit is not None:
            edit(ws)
        book.save(root / (rel_xlsx or rel_csv.replace(".csv", ".xlsx")))
        (root / rel_csv).unlink()
    return build


def _typed(cell: str):
    try:
        return float(cell) if "." in cell else int(cell)
    except ValueError:
        return cell or None


def rewrite_zip(rel_xlsx: str, change: Callable[[str, bytes], bytes]):
    """Rewrite the parts of a workbook (after as_workbook made it)."""
    def build(root: Path) -> None:
        path = root / rel_xlsx
        parts = {}
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                parts[info.filename] = change(info.filename, archive.read(info))
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in parts.items():
                archive.writestr(name, data)
    return build


SUBMISSION = "data/raw/submissions/gd-province/2018/hrss.xlsx"


def submission(data: dict | None = None, note: str = "SYNTHETIC progress note",
               edit: Callable | None = None):
    """A filled department workbook (SYNTHETIC figures) for hrss, 2018: one actual, one status."""
    from bpsreport.submissions import (DATA_COLUMNS, METADATA_SHEET, TASK_SHEET_COLUMNS,
                                       _metadata_sheet)

    def build(root: Path) -> None:
        row = {"indicator_id": "urban_new_jobs", "indicator": "城镇新增就业", "unit": "万人",
               "target": "110万人", "year": 2018, "measure": "actual", "value": 120,
               "source": "SYNTHETIC test workbook", "derived": "no", "formula": None, "note": None,
               **(data or {})}
        book = openpyxl.Workbook()
        book.active.title = "instructions"
        ws = book.create_sheet("data")
        ws.append(list(DATA_COLUMNS))
        ws.append([row[c] for c in DATA_COLUMNS])
        tasks = book.create_sheet("tasks")
        tasks.append(list(TASK_SHEET_COLUMNS))
        tasks.append([3, "SYNTHETIC task", "hrss", "completed", note])
        # The hidden sheet `pipeline.py new-year` writes: which unit, year and department.
        _metadata_sheet(book.create_sheet(METADATA_SHEET), "gd-province", 2018, "hrss")
        if edit is not None:
            edit(book)
        (root / SUBMISSION).parent.mkdir(parents=True, exist_ok=True)
        book.save(root / SUBMISSION)
    return build


def both(*builders):
    def build(root: Path) -> None:
        for builder in builders:
            builder(root)
    return build


def move_out(rel: str, dest: str):
    def build(root: Path) -> None:
        (root / dest).parent.mkdir(parents=True, exist_ok=True)
        os.replace(root / rel, root / dest)
    return build


def link(rel: str, target: str | Callable[[Path], Path]):
    def build(root: Path) -> None:
        path = root / rel
        to = target(root) if callable(target) else target
        if path.exists() or path.is_symlink():
            path.unlink()
        os.symlink(to, path)
    return build


def outside_copy(rel: str) -> Callable[[Path], Path]:
    """A valid copy of a fixture file outside the project (next to it)."""
    def place(root: Path) -> Path:
        dest = root.parent / "outside" / Path(rel).name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, dest)
        return dest
    return place


def fifo(rel: str):
    def build(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        if (root / rel).exists():
            (root / rel).unlink()
        os.mkfifo(root / rel)
    return build


def unix_socket(rel: str):
    def build(root: Path) -> None:
        # AF_UNIX paths are short; bind from inside the folder with a relative name.
        here = os.getcwd()
        os.chdir((root / rel).parent)
        try:
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(Path(rel).name)
            sock.close()
        finally:
            os.chdir(here)
    return build


def mkdir(rel: str):
    def build(root: Path) -> None:
        (root / rel).mkdir(parents=True)
    return build


def copy_dir(src: str, dest: str):
    def build(root: Path) -> None:
        shutil.copytree(root / src, root / dest)
    return build


def limit(**settings):
    """Tighten config/limits.yml of the project (section.key=value)."""
    def build(root: Path) -> None:
        import yaml
        path = root / "config" / "limits.yml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for key, value in settings.items():
            section, name = key.split("__")
            data[section][name] = value
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return build


def sparse(rel: str, size: int):
    def build(root: Path) -> None:
        with open(root / rel, "r+b") as fh:
            fh.truncate(size)
    return build


def many_rows(rel: str, n: int):
    def build(root: Path) -> None:
        rows = rows_of(root, rel)
        body = rows[1:]
        extra = [body[i % len(body)] for i in range(n)]
        (root / rel).write_text(csv_text([rows[0], *extra]), encoding="utf-8")
    return build


def zip_bomb(rel: str, unpacked: int):
    """A workbook whose extra part is ``unpacked`` zero bytes (compressing ~1000 times)."""
    def build(root: Path) -> None:
        with zipfile.ZipFile(root / rel, "a", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("xl/media/padding.bin", b"\0" * unpacked)
    return build


def gbk_line(rel: str, row: int):
    """One line of a UTF-8 file re-encoded in GBK (pasted from another file)."""
    def build(root: Path) -> None:
        lines = (root / rel).read_bytes().split(b"\n")
        lines[row - 1] = lines[row - 1].decode("utf-8").encode("gbk")
        (root / rel).write_bytes(b"\n".join(lines))
    return build


def cp1252_mojibake(text: str, source: str = "gbk") -> str:
    """What Chinese text looks like after being read as Windows-1252 and saved again."""
    return text.encode(source).decode("cp1252", errors="replace")


# --- the corpus ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Expect:
    """A problem that must be reported: ``None`` fields are not compared; ``found`` and
    ``expected`` are substrings."""

    file: str
    row: int | None = None
    column: str | None = None
    found: str | None = None
    expected: str = ""
    sheet: str | None = None

    def matches(self, p) -> bool:
        return (p.file == self.file and (self.row is None or p.row == self.row)
                and (self.column is None or p.column == self.column)
                and (self.sheet is None or p.sheet == self.sheet)
                and (self.found is None or (p.found is not None and self.found in p.found))
                and self.expected in p.expected)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], None]
    expect: list[Expect] = field(default_factory=list)  # empty: must be accepted
    check: Callable | None = None  # for accepted inputs: called with ingest's results


# A note cell whose opening quote is never closed: the 3 rows after it vanish into it.
_UNCLOSED = "\r\n".join(lines_of(EMP17)[:2]) .replace(",no,,", ',no,,"the note starts here') \
    + "\r\n" + "\r\n".join(lines_of(EMP17)[2:]) + "\r\n"
# A stray quote opens a note on row 2 and a later note closes it: rows 3-4 are swallowed.
_SWALLOWED = (lines_of(EMP17)[0] + "\r\n"
              + lines_of(EMP17)[1].replace(",no,,", ',no,,"note with a stray quote') + "\r\n"
              + lines_of(EMP17)[2] + "\r\n" + lines_of(EMP17)[3] + "\r\n"
              + lines_of(EMP17)[4].replace(",no,,", ',no,,closing quote"') + "\r\n")

SILENT_DATA_LOSS = [
    Case("unterminated_quote_swallows_the_rest", write_text(EMP17, _UNCLOSED),
         [Expect(EMP17, 2, None, "never closed", "closing quote")]),
    Case("stray_quote_swallows_rows_in_between", write_text(EMP17, _SWALLOWED),
         [Expect(EMP17, 2, "note", "note with a stray quote", "look like rows of their own")]),
    Case("text_after_a_closing_quote",
         write_text(EMP17, fixture_text(EMP17).replace(",no,,\n", ',no,,"a" b\n', 1)),
         [Expect(EMP17, 2, None, "after a closing quote", "two quotes")]),
]

IMPOSSIBLE_NUMBERS = [
    Case("value_1e400_is_not_finite", set_cell(EMP17, JOBS_ACTUAL, "value", "1e400"),
         [Expect(EMP17, JOBS_ACTUAL, "value", "1e400", "a finite number")]),
    Case("value_1e300_is_implausible", set_cell(EMP17, JOBS_ACTUAL, "value", "1e300"),
         [Expect(EMP17, JOBS_ACTUAL, "value", "1e300", "from 0 to 20000 万人")]),
    Case("values_inf_nan_infinity",
         both(set_cell(EMP17, JOBS_ACTUAL, "value", "inf"),
              set_cell(EMP17, JOBS_TARGET, "value", "NaN"),
              set_cell(EMP17, UNEMPLOYMENT, "value", "-Infinity")),
         [Expect(EMP17, JOBS_ACTUAL, "value", "inf", "a number"),
          Expect(EMP17, JOBS_TARGET, "value", "NaN", "a number"),
          Expect(EMP17, UNEMPLOYMENT, "value", "-Infinity", "a number")]),
    Case("value_above_the_range_of_its_unit", set_cell(EMP17, JOBS_ACTUAL, "value", "148900"),
         [Expect(EMP17, JOBS_ACTUAL, "value", "148900", "config/value_ranges.yml")]),
    Case("completion_rate_out_of_range", set_cell(EMP17, JOBS_RATE, "value", "13540"),
         [Expect(EMP17, JOBS_RATE, "value", "13540", "from 0 to 1000%")]),
    Case("xlsx_value_1e400", as_workbook(EMP17, lambda ws: ws.__setitem__("F2", "1e400")),
         [Expect(EMP17_XLSX, 2, "value", "1e400", "a finite number", sheet="data")]),
    Case("catalog_en_factor_inf", set_catalog(EMP_CATALOG, "urban_new_jobs", "en_factor", "inf"),
         [Expect(EMP_CATALOG, 2, "en_factor", "inf", "a number")]),
    Case("catalog_en_factor_nan_zero_huge",
         both(set_catalog(EMP_CATALOG, "urban_new_jobs", "en_factor", "0"),
              set_catalog(EMP_CATALOG, "urban_registered_unemployment_rate", "en_factor", "1e400")),
         [Expect(EMP_CATALOG, 2, "en_factor", "0", "from 0.000001 to 1,000,000"),
          Expect(EMP_CATALOG, 3, "en_factor", "1e400", "a number")]),
    Case("catalog_decimals_not_whole_or_absurd",
         both(set_catalog(EMP_CATALOG, "urban_new_jobs", "decimals", "1.5"),
              set_catalog(EMP_CATALOG, "urban_registered_unemployment_rate", "decimals_en", "inf")),
         [Expect(EMP_CATALOG, 2, "decimals", "1.5", "a whole number from 0 to 6"),
          Expect(EMP_CATALOG, 3, "decimals_en", "inf", "a whole number")]),
    Case("catalog_decimals_99", set_catalog(EMP_CATALOG, "urban_new_jobs", "decimals", "99"),
         [Expect(EMP_CATALOG, 2, "decimals", "99", "from 0 to 6")]),
    Case("catalog_max_value_inf", set_catalog(EMP_CATALOG, "urban_new_jobs", "max_value", "inf"),
         [Expect(EMP_CATALOG, 2, "max_value", "inf", "greater than 0 and at most 1,000,000,000,000")]),
]

SJIS_TEXT = fixture_text(EMP17)
WRONG_ENCODING = [
    Case("shift_jis_file", write_text(EMP17, SJIS_TEXT, "shift_jis", "replace"),
         [Expect(EMP17, None, None, None, "Shift-JIS")]),
    Case("big5_file", write_text(EMP17, SJIS_TEXT, "big5", "replace"),
         [Expect(EMP17, None, None, None, "save it again")]),
    Case("cp1252_file", write_text(EMP17, SJIS_TEXT, "cp1252", "replace"),
         [Expect(EMP17, None, None, "probably Windows-1252", "CSV UTF-8")]),
    # Only ASCII is left, so the file decodes as UTF-8: the question marks give it away.
    Case("cp1252_with_chinese_replaced_by_question_marks",
         write_text(EMP17, SJIS_TEXT.replace("÷", "/"), "cp1252", "replace"),
         [Expect(EMP17, JOBS_ACTUAL, "indicator", "??", "question marks in place of characters"),
          Expect(EMP17, JOBS_ACTUAL, "source", "???", "question marks in place of characters")]),
    Case("gbk_read_as_cp1252_and_saved_as_utf8",
         set_cell(EMP17, JOBS_ACTUAL, "source", cp1252_mojibake("粤财办〔2018〕6号")),
         [Expect(EMP17, JOBS_ACTUAL, "source", None, "GBK text read as Windows-1252")]),
    Case("utf8_read_as_cp1252_and_saved_again",
         set_cell(EMP17, JOBS_ACTUAL, "source", cp1252_mojibake("粤财办〔2018〕6号", "utf-8")),
         [Expect(EMP17, JOBS_ACTUAL, "source", None, "UTF-8 text read as Windows-1252")]),
    Case("replacement_character", set_cell(EMP17, JOBS_ACTUAL, "source", "粤财办\ufffd6号"),
         [Expect(EMP17, JOBS_ACTUAL, "source", "\ufffd", "replacement character")]),
    Case("japanese_kana", set_cell(EMP17, UNEMPLOYMENT, "note", "ｼﾞｮﾌﾞ"),
         [Expect(EMP17, UNEMPLOYMENT, "note", "ｼﾞｮﾌﾞ", "Japanese kana")]),
]


def _valid_row_elsewhere(root: Path) -> Path:
    return root / "shared-data" / "employment_security.csv"


NOT_WHAT_THEY_SEEM = [
    Case("symlink_to_a_file_outside_the_project", link(EMP17, outside_copy(EMP17)),
         [Expect(EMP17, None, None, "outside the project", "copy the file here")]),
    Case("symlinked_unit_folder_outside_the_project",
         both(lambda root: shutil.copytree(root / OBS, root.parent / "elsewhere"),
              lambda root: shutil.rmtree(root / OBS),
              link(OBS, lambda root: root.parent / "elsewhere")),
         [Expect(OBS, None, None, "outside the project")]),
    Case("dangling_symlink", link(f"{OBS}/2017/living_security.csv", "no-such-file.csv"),
         [Expect(f"{OBS}/2017/living_security.csv", None, None, "does not exist")]),
    Case("symlink_loop", link(f"{OBS}/2017/living_security.csv", "living_security.csv"),
         [Expect(f"{OBS}/2017/living_security.csv", None, None, "a link to living_security.csv")]),
    Case("hidden_data_file", move_out(EMP17, f"{OBS}/2017/.employment_security.csv"),
         [Expect(f"{OBS}/2017/.employment_security.csv", None, None, "hidden file",
                 "does not start with a dot")]),
    Case("hidden_folder", mkdir(f"{OBS}/2017/.ipynb_checkpoints"),
         [Expect(f"{OBS}/2017/.ipynb_checkpoints", None, None, "hidden folder")]),
    Case("year_folder_0000", copy_dir(f"{OBS}/2017", f"{OBS}/0000"),
         [Expect(f"{OBS}/0000", None, None, "0000", "from 1990 to 2100")]),
    Case("year_folder_9999_even_when_empty", mkdir("data/raw/tasks/gd-province/9999"),
         [Expect("data/raw/tasks/gd-province/9999", None, None, "9999", "from 1990 to 2100")]),
    Case("duplicated_catalog_column",
         edit_rows(EMP_CATALOG, lambda rows: [r.append(r[2]) for r in rows]),
         [Expect(EMP_CATALOG, 1, "name_zh", "name_zh", "each column once")]),
    Case("misnamed_catalog_file", raw_bytes(f"{CATALOG}/indicator.csv", b"indicator_id\n"),
         [Expect(f"{CATALOG}/indicator.csv", None, None, "indicator.csv", "only ")]),
    Case("misspelt_raw_folder", copy_dir("data/raw/observations", "data/raw/observation"),
         [Expect("data/raw/observation", None, None, "observation", "only the folders")]),
    Case("fifo_as_a_domain_file", fifo(f"{OBS}/2017/living_security.csv"),
         [Expect(f"{OBS}/2017/living_security.csv", None, None, "named pipe", "regular file")]),
    Case("fifo_replacing_the_task_list", fifo(TASKS18),
         [Expect(TASKS18, None, None, "named pipe")]),
    Case("fifo_in_the_catalog", fifo(f"{CATALOG}/indicators/housing_security.csv"),
         [Expect(f"{CATALOG}/indicators/housing_security.csv", None, None, "named pipe")]),
    Case("fifo_as_a_catalog_table", fifo(SOURCES),
         [Expect(SOURCES, None, None, "named pipe")]),
    Case("socket_in_a_year_folder", unix_socket(f"{OBS}/2017/s.csv"),
         [Expect(f"{OBS}/2017/s.csv", None, None, "socket")]),
]

FORMERLY_BUGS = [
    Case("corrupt_sheet_xml",
         both(as_workbook(EMP17), rewrite_zip(EMP17_XLSX, lambda name, data:
              data[: len(data) // 2] if name == "xl/worksheets/sheet1.xml" else data)),
         [Expect(EMP17_XLSX, None, None, "a damaged workbook", "opens in Excel")]),
    Case("cell_of_140_kb_in_csv", set_cell(EMP17, UNEMPLOYMENT, "note", "长" * 140_000),
         [Expect(EMP17, UNEMPLOYMENT, None, None, "at most 10,000 characters")]),
    Case("cell_of_40_kb_in_csv", set_cell(EMP17, UNEMPLOYMENT, "note", "x" * 40_000),
         [Expect(EMP17, UNEMPLOYMENT, "note", "40,000 characters", "tables.max_cell_chars")]),
    Case("cell_of_40_kb_in_xlsx", as_workbook(EMP17, lambda ws: ws.__setitem__("K5", "x" * 40_000)),
         # openpyxl cuts a cell at Excel's own limit of 32,767 characters
         [Expect(EMP17_XLSX, UNEMPLOYMENT, "note", "32,767 characters", "at most 10,000")]),
    Case("sources_date_with_slashes",
         edit_rows(SOURCES, lambda rows: rows[1].__setitem__(6, "2018/03/26")),
         [Expect(SOURCES, 2, "issued", "2018/03/26", "YYYY-MM-DD")]),
    Case("sources_date_impossible",
         edit_rows(SOURCES, lambda rows: rows[1].__setitem__(6, "2018-02-30")),
         [Expect(SOURCES, 2, "issued", "2018-02-30", "YYYY-MM-DD")]),
]

LIMITS = [
    Case("file_over_the_size_limit", sparse(EMP17, 10_000_001),
         [Expect(EMP17, None, None, "10,000,001 bytes", "files.max_bytes")]),
    Case("rows_over_the_limit", many_rows(EMP17, 20_001),
         [Expect(EMP17, None, None, "rows", "tables.max_rows")]),
    Case("rows_over_a_tightened_limit", both(limit(tables__max_rows=40), many_rows(EMP17, 41)),
         [Expect(EMP17, None, None, "rows", "at most 40 data rows")]),
    Case("zip_bomb_over_the_unpacked_size", both(as_workbook(EMP17), zip_bomb(EMP17_XLSX, 25_000_000)),
         [Expect(EMP17_XLSX, None, None, "bytes once unpacked", "xlsx.max_uncompressed_bytes"),
          Expect(EMP17_XLSX, None, None, "xl/media/padding.bin expands", "xlsx.max_compression_ratio")]),
    Case("limits_config_not_a_number", limit(tables__max_rows="many"),
         [Expect("config/limits.yml", None, None, "many", "a whole number ≥ 1 for tables.max_rows")]),
    Case("zip_bomb_by_ratio_alone", both(as_workbook(EMP17), zip_bomb(EMP17_XLSX, 5_000_000)),
         [Expect(EMP17_XLSX, None, None, "expands", "at most 100 times")]),
]

MISLEADING_MESSAGES = [
    Case("semicolon_delimited", write_text(EMP17, fixture_text(EMP17).replace(",", ";")),
         [Expect(EMP17, 1, None, "indicator_id;indicator", "semicolons")]),
    Case("tab_delimited", write_text(EMP17, fixture_text(EMP17).replace(",", "\t")),
         [Expect(EMP17, 1, None, None, "separates them by tabs")]),
    Case("stray_extra_cell_on_row_3",
         edit_rows(EMP17, lambda rows: rows[2].append("stray")),
         [Expect(EMP17, 3, "L", "stray", "no value in column L")]),
    Case("nul_byte_on_row_3",
         write_text(EMP17, fixture_text(EMP17).replace("109.97", "109\x0097")),
         [Expect(EMP17, 3, None, "NUL byte", "without NUL bytes")]),
    Case("mixed_utf8_and_gbk", gbk_line(EMP17, UNEMPLOYMENT),
         [Expect(EMP17, UNEMPLOYMENT, None, None, "one encoding for the whole file")]),
    Case("xlsx_renamed_csv", both(as_workbook(EMP17, rel_xlsx=f"{OBS}/2017/x.xlsx"),
                                  move_out(f"{OBS}/2017/x.xlsx", EMP17)),
         [Expect(EMP17, None, None, "with a .csv name", "rename it to .xlsx")]),
    Case("csv_renamed_xlsx", move_out(EMP17, EMP17_XLSX),
         [Expect(EMP17_XLSX, None, None, "a text (CSV) file with an .xlsx name", "name it .csv")]),
    Case("xls_renamed_xlsx", raw_bytes(EMP17_XLSX, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600),
         [Expect(EMP17_XLSX, None, None, "Excel 97-2003", "save it as Excel Workbook")]),
    Case("utf16_without_bom", write_text(EMP17, fixture_text(EMP17), "utf-16-le"),
         [Expect(EMP17, None, None, "UTF-16 text")]),
]

SINGLE_LINE_TEXT = [
    Case("line_break_in_a_source", set_cell(EMP17, JOBS_ACTUAL, "source", "粤财办〔2018〕6号\n# 标题"),
         [Expect(EMP17, JOBS_ACTUAL, "source", "6号\n#", "one line of text")]),
    Case("lone_carriage_return_in_a_unit", set_cell(EMP17, JOBS_ACTUAL, "unit", "万\r人"),
         [Expect(EMP17, JOBS_ACTUAL, "unit", "万\r人", "carriage return")]),
    Case("vertical_tab_and_form_feed_in_a_formula",
         both(set_cell(EMP17, JOBS_TARGET, "formula", "148.9\v÷ 135.4%"),
              set_cell(EMP17, JOBS_RATE, "source", "粤财办\f〔2018〕6号")),
         [Expect(EMP17, JOBS_TARGET, "formula", None, "vertical tab"),
          Expect(EMP17, JOBS_RATE, "source", None, "form feed")]),
    Case("unicode_line_separator_in_a_task_title",
         edit_rows(TASKS18, lambda rows: rows[1].__setitem__(2, "行政村\u2028通客车")),
         [Expect(TASKS18, 2, "title_zh", None, "line separator (U+2028)")]),
    Case("paragraph_separator_in_an_english_title",
         edit_rows(TASKS18, lambda rows: rows[1].__setitem__(3, "Bus\u2029service")),
         [Expect(TASKS18, 2, "title_en", None, "U+2029")]),
    Case("tab_in_an_indicator_id", set_cell(EMP17, JOBS_ACTUAL, "indicator_id", "urban_new\tjobs"),
         [Expect(EMP17, JOBS_ACTUAL, "indicator_id", None, "a tab (U+0009)")]),
    Case("control_character_in_a_note", set_cell(EMP17, JOBS_ACTUAL, "note", "bell\x07"),
         [Expect(EMP17, JOBS_ACTUAL, "note", None, "control characters")]),
    Case("right_to_left_override_in_a_source",
         set_cell(EMP17, JOBS_ACTUAL, "source", "粤财办\u202e〔2018〕6号"),
         [Expect(EMP17, JOBS_ACTUAL, "source", None, "invisible formatting")]),
    Case("zero_width_space_in_a_summary",
         edit_rows(TASKS18, lambda rows: rows[1].__setitem__(5, "Villages\u200bget a bus")),
         [Expect(TASKS18, 2, "summary_en", None, "zero-width space")]),
    Case("line_break_in_a_catalog_name",
         set_catalog(EMP_CATALOG, "urban_new_jobs", "name_zh", "城镇新增\n就业"),
         [Expect(EMP_CATALOG, 2, "name_zh", None, "one line of text")]),
    Case("line_break_in_a_catalog_unit",
         set_catalog(EMP_CATALOG, "urban_new_jobs", "unit_en", "million\npeople"),
         [Expect(EMP_CATALOG, 2, "unit_en", None, "one line of text")]),
    Case("alt_enter_in_an_xlsx_source",
         as_workbook(EMP17, lambda ws: ws.__setitem__("H2", "粤财办〔2018〕6号\n一(二)8(1)")),
         [Expect(EMP17_XLSX, 2, "source", None, "Alt+Enter", sheet="data")]),
]


def _obs(results, indicator, measure="actual"):
    obs = results[("gd-province", 2017)].observations
    return obs[(obs["indicator_id"] == indicator) & (obs["measure"] == measure)].iloc[0]


ACCEPTED = [
    Case("multi_line_note_is_kept_with_plain_line_breaks",
         set_cell(EMP17, JOBS_ACTUAL, "note", "first line\r\nsecond\rthird\u2028fourth"),
         check=lambda r: _obs(r, "urban_new_jobs")["note"] == "first line\nsecond\nthird\nfourth"),
    Case("multi_line_task_summary_is_kept",
         edit_rows(TASKS18, lambda rows: rows[1].__setitem__(5, "Line one.\r\nLine two.")),
         check=lambda r: r[("gd-province", 2018)].tasks.loc[0, "summary_en"] == "Line one.\nLine two."),
    Case("alt_enter_in_an_xlsx_note",
         as_workbook(EMP17, lambda ws: ws.__setitem__("K2", "两行\n说明")),
         check=lambda r: _obs(r, "urban_new_jobs")["note"] == "两行\n说明"),
    Case("catalog_decimals_written_1_0",
         set_catalog(EMP_CATALOG, "urban_new_jobs", "decimals", "1.0"),
         check=lambda r: True),
    Case("value_above_the_unit_range_confirmed_by_max_value",
         both(set_cell(EMP17, JOBS_ACTUAL, "value", "25000"),
              set_catalog(EMP_CATALOG, "urban_new_jobs", "max_value", "30000")),
         check=lambda r: _obs(r, "urban_new_jobs")["value"] == 25000),
    Case("litter_is_ignored",
         both(raw_bytes(f"{OBS}/2017/.DS_Store", b"\0\0\0\1Bud1"),
              raw_bytes(f"{OBS}/2017/~$employment_security.xlsx", b"lock"),
              raw_bytes(f"{OBS}/2017/._employment_security.csv", b"\x00\x05\x16\x07" + b"\0" * 60),
              raw_bytes(f"{OBS}/2017/Thumbs.db", b"\0" * 16)),
         check=lambda r: len(r[("gd-province", 2017)].inputs) == 2),
    Case("link_inside_the_project_is_followed",
         both(move_out(EMP17, "shared-data/employment_security.csv"),
              link(EMP17, lambda root: Path("../../../../../shared-data/employment_security.csv"))),
         check=lambda r: _obs(r, "urban_new_jobs")["value"] == 148.9),
    Case("submission_task_note_keeps_its_lines",
         submission(note="第一行\r\n第二行  有空格"),
         check=lambda r: r[("gd-province", 2018)].task_status.set_index("task_no")
         .at[3, "note"] == "第一行\n第二行 有空格"),
    Case("a_question_mark_and_latin_letters_are_fine",
         both(set_cell(EMP17, JOBS_ACTUAL, "note", "Is 148.9 final? Yes, confirmed (café)."),
              set_cell(EMP17, UNEMPLOYMENT, "note", "−2.47 ± 0.1 m² ×÷ ①")),
         check=lambda r: _obs(r, "urban_new_jobs")["note"].endswith("(café).")),
]

SUBMISSIONS = [
    Case("submission_source_with_alt_enter",
         submission({"source": "SYNTHETIC\nsecond line"}),
         [Expect(SUBMISSION, 2, "source", "SYNTHETIC\nsecond", "one line of text", sheet="data")]),
    Case("submission_value_1e400", submission({"value": "1e400"}),
         [Expect(SUBMISSION, 2, "value", "1e400", "a finite number", sheet="data")]),
    Case("submission_value_implausible", submission({"value": 1.2e6}),
         [Expect(SUBMISSION, 2, "value", "1200000", "from 0 to 20000 万人", sheet="data")]),
    # openpyxl cannot even write a control character; a bidirectional override it can.
    Case("submission_task_note_with_an_override", submission(note="done \u202egnirts"),
         [Expect(SUBMISSION, 2, "note", None, "right-to-left override", sheet="tasks")]),
    Case("submission_zip_bomb", both(submission(), zip_bomb(SUBMISSION, 5_000_000)),
         [Expect(SUBMISSION, None, None, "expands", "xlsx.max_compression_ratio")]),
    Case("submission_damaged", both(submission(), rewrite_zip(SUBMISSION, lambda name, data:
         data[:40] if name == "xl/worksheets/sheet2.xml" else data)),
         [Expect(SUBMISSION, None, None, "a damaged workbook")]),
]

REFUSED = (SUBMISSIONS + SILENT_DATA_LOSS + IMPOSSIBLE_NUMBERS + WRONG_ENCODING + NOT_WHAT_THEY_SEEM
           + FORMERLY_BUGS + LIMITS + MISLEADING_MESSAGES + SINGLE_LINE_TEXT)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in REFUSED])
def test_refused_by_validate_and_build_alike(project: Path, case: Case, monkeypatch) -> None:
    clean_before = tree_hashes(project / "data" / "clean")
    case.build(project)
    raw_before = tree_hashes(project / "data" / "raw")

    code_validate, from_validate = run_cli(project, "validate", monkeypatch=monkeypatch)
    code_build, from_build = run_cli(project, "build", "--year", "2017", monkeypatch=monkeypatch)

    assert (code_validate, code_build) == (2, 2), "a data problem is exit 2 for both commands"
    assert from_validate == from_build, "validate and build report the same problems"
    assert from_validate, "the problems are listed"
    for problem in from_validate:
        assert problem.file and problem.expected, problem
    for wanted in case.expect:
        assert any(wanted.matches(p) for p in from_validate), (
            f"{wanted} not among:\n" + "\n".join(map(str, from_validate)))
    assert tree_hashes(project / "data" / "clean") == clean_before, "data/clean untouched"
    assert tree_hashes(project / "data" / "raw") == raw_before, "raw files never modified"


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in ACCEPTED])
def test_awkward_but_acceptable(project: Path, case: Case, monkeypatch) -> None:
    case.build(project)
    catalog = load_catalog(project / "data" / "raw", root=project)
    results = ingest_all(project / "data" / "raw", catalog, root=project)
    assert case.check(results)
    code, problems = run_cli(project, "validate", monkeypatch=monkeypatch)
    assert (code, problems) == (0, [])


def test_corpus_covers_every_class() -> None:
    for group in (SUBMISSIONS, SILENT_DATA_LOSS, IMPOSSIBLE_NUMBERS, WRONG_ENCODING, NOT_WHAT_THEY_SEEM,
                  FORMERLY_BUGS, LIMITS, MISLEADING_MESSAGES, SINGLE_LINE_TEXT, ACCEPTED):
        assert len(group) >= 3
    assert len({c.name for c in REFUSED + ACCEPTED}) == len(REFUSED + ACCEPTED)


def test_removing_the_bad_entry_is_enough(project: Path, monkeypatch) -> None:
    """The build's fingerprint of data/raw covers pipes and links, so a build after a refusal
    validates again (no stale "unchanged" shortcut either way)."""
    bad = project / f"{OBS}/2017/living_security.csv"
    os.symlink("no-such-file.csv", bad)
    assert run_cli(project, "build", "--year", "2017", monkeypatch=monkeypatch)[0] == 2
    bad.unlink()
    os.mkfifo(bad)
    assert run_cli(project, "build", "--year", "2017", monkeypatch=monkeypatch)[0] == 2
    bad.unlink()
    before = tree_hashes(project / "data" / "clean")
    with never_blocks():
        result = build_clean(ProjectPaths.at(project))
    assert sorted(result.editions) == [("gd-province", 2017), ("gd-province", 2018)]
    assert tree_hashes(project / "data" / "clean") == before  # same inputs, same clean data
