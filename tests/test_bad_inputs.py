"""A corpus of bad (and awkward but acceptable) submissions.

Each case copies the minimal valid raw tree from ``tests/fixtures/bad_inputs/valid_tree``
into a temporary project, breaks or rewrites one or two files, runs the whole ingestion,
and checks either the exact location of every problem reported (file, sheet, row, column,
value found) or, for inputs that must be accepted, the parsed value.
"""

from __future__ import annotations

import csv
from collections import Counter
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import openpyxl
import pytest

from bpsreport.catalog import load_catalog
from bpsreport.errors import InputValidationError
from bpsreport.ingest import ingest_all

FIXTURE = Path(__file__).parent / "fixtures" / "bad_inputs" / "valid_tree"
OBS = "data/raw/observations/gd-province"
EMP17 = f"{OBS}/2017/employment_security.csv"
EMP17_XLSX = f"{OBS}/2017/employment_security.xlsx"
EMP18 = f"{OBS}/2018/employment_security.csv"
TRANSPORT17 = f"{OBS}/2017/public_transport.csv"
LIVING18 = f"{OBS}/2018/living_security.csv"
TRANSPORT18 = f"{OBS}/2018/public_transport.csv"
TASKS18 = "data/raw/tasks/gd-province/2018/tasks.csv"

# Row numbers in the fixture's employment_security.csv for 2017 (header = row 1).
JOBS_ACTUAL, JOBS_TARGET, JOBS_RATE, UNEMPLOYMENT = 2, 3, 4, 5
COLUMN = {name: i for i, name in enumerate(
    ["indicator_id", "indicator", "year", "measure", "target_type", "value", "unit", "source",
     "derived", "formula", "note"])}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    return root


def run(root: Path):
    catalog = load_catalog(root / "data" / "raw", root=root)
    return ingest_all(root / "data" / "raw", catalog, root=root)


# --- building bad files ----------------------------------------------------------------

def rows_of(root: Path, rel: str) -> list[list[str]]:
    with open(root / rel, encoding="utf-8", newline="") as handle:
        return list(csv.reader(handle))


def write_rows(root: Path, rel: str, rows: list[list[str]], encoding: str = "utf-8") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding=encoding, newline="") as handle:
        csv.writer(handle, lineterminator="\r\n").writerows(rows)


def set_cell(rel: str, row: int, column: str, text: str):
    """A builder that puts ``text`` into one cell (row = spreadsheet row number)."""
    def build(root: Path) -> None:
        rows = rows_of(root, rel)
        rows[row - 1][COLUMN[column]] = text
        write_rows(root, rel, rows)
    return build


def reencode(rel: str, encoding: str):
    def build(root: Path) -> None:
        write_rows(root, rel, rows_of(root, rel), encoding=encoding)
    return build


def drop_column(rel: str, column: str):
    def build(root: Path) -> None:
        rows = rows_of(root, rel)
        write_rows(root, rel, [r[:COLUMN[column]] + r[COLUMN[column] + 1:] for r in rows])
    return build


def write_bytes(rel: str, data: bytes):
    def build(root: Path) -> None:
        (root / rel).write_bytes(data)
    return build


def as_workbook(rel_csv: str, *, rel_xlsx: str | None = None, keep_csv: bool = False,
                only_rows: list[int] | None = None, edit: Callable | None = None,
                extra_sheets: tuple[str, ...] = ()):
    """A builder that turns a fixture CSV into an XLSX workbook with a ``data`` sheet."""
    def build(root: Path) -> None:
        rows = rows_of(root, rel_csv)
        if only_rows is not None:
            rows = [rows[0]] + [rows[n - 1] for n in only_rows]
        book = openpyxl.Workbook()
        ws = book.active
        ws.title = "data"
        for row in rows:
            ws.append([_typed(cell) for cell in row])
        for name in extra_sheets:
            book.create_sheet(name)["A1"] = "notes for the person filling in the form"
        if edit is not None:
            edit(ws)
        book.save(root / (rel_xlsx or rel_csv.replace(".csv", ".xlsx")))
        if not keep_csv:
            (root / rel_csv).unlink()
    return build


def _typed(cell: str):
    """Numbers as Excel numbers, like a clerk typing them in."""
    try:
        return int(cell)
    except ValueError:
        try:
            return float(cell)
        except ValueError:
            return cell or None


def both(*builders):
    def build(root: Path) -> None:
        for builder in builders:
            builder(root)
    return build


def merge_header(ws) -> None:
    ws.merge_cells("J1:K1")  # formula + note headers


def formula_in_value(ws) -> None:
    ws["F2"] = "=100+48.9"


def tasks_edit(edit: Callable[[list[list[str]]], None]):
    def build(root: Path) -> None:
        rows = rows_of(root, TASKS18)
        edit(rows)
        write_rows(root, TASKS18, rows)
    return build


def gbk_with_chinese_headers(root: Path) -> None:
    rows = rows_of(root, EMP17)
    rows[0] = ["指标编码", "指标名称", "年份", "类型", "目标类型", "数值", "单位",
               "来源", "是否推算", "推算方法", "备注"]
    rows[JOBS_TARGET - 1][COLUMN["derived"]] = "是"
    write_rows(root, EMP17, rows, encoding="gbk")


# --- the corpus ------------------------------------------------------------------------

Where = tuple  # (file, sheet, row, column, found)


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], None]
    problems: list[Where] = field(default_factory=list)  # empty: ingestion must succeed
    check: Callable | None = None  # for accepted inputs: called with the results


def value_of(results, year, indicator, measure="actual"):
    obs = results[("gd-province", year)].observations
    hit = obs[(obs["indicator_id"] == indicator) & (obs["measure"] == measure)]
    assert len(hit) == 1
    return hit.iloc[0]


def bom_parsed(results) -> bool:
    return value_of(results, 2017, "urban_new_jobs")["value"] == 148.9


def gbk_parsed(results) -> bool:
    actual = value_of(results, 2017, "urban_new_jobs")
    target = value_of(results, 2017, "urban_new_jobs", "target")
    return (actual["value"] == 148.9 and actual["source"] == "粤财办〔2018〕6号 一(二)8(1)"
            and bool(target["derived"]))


def normalised_numbers_parsed(results) -> bool:
    return (value_of(results, 2017, "urban_new_jobs")["value"] == 148.9
            and value_of(results, 2017, "urban_new_jobs", "completion_rate")["value"] == 135.4
            and value_of(results, 2018, "disability_living_allowance", "target")["value"] == 1890
            and value_of(results, 2018, "village_bus_access_rate", "target")["value"] == 95)


def xlsx_location_kept(results) -> bool:
    row = value_of(results, 2017, "urban_registered_unemployment_rate")
    return row["source_sheet"] == "data" and row["source_row"] == UNEMPLOYMENT


CASES = [
    Case("utf16_encoding", reencode(EMP17, "utf-16"),
         [(EMP17, None, None, None, "UTF-16 text")]),
    Case("missing_column", drop_column(EMP17, "unit"),
         [(EMP17, None, 1, "unit", "(missing)")]),
    Case("unknown_indicator", set_cell(EMP17, JOBS_ACTUAL, "indicator_id", "urban_new_job"),
         [(EMP17, None, JOBS_ACTUAL, "indicator_id", "urban_new_job")]),
    Case("indicator_of_another_domain",
         set_cell(EMP17, UNEMPLOYMENT, "indicator_id", "village_bus_access_rate"),
         [(EMP17, None, UNEMPLOYMENT, "indicator_id", "village_bus_access_rate")]),
    Case("non_numeric_value", set_cell(EMP17, JOBS_ACTUAL, "value", "148.9万"),
         [(EMP17, None, JOBS_ACTUAL, "value", "148.9万")]),
    Case("percentage_above_100", set_cell(TRANSPORT17, 2, "value", "192.1"),
         [(TRANSPORT17, None, 2, "value", "192.1")]),
    Case("completion_rate_above_1000", set_cell(EMP17, JOBS_RATE, "value", "1354"),
         [(EMP17, None, JOBS_RATE, "value", "1354")]),
    Case("negative_value", set_cell(EMP17, UNEMPLOYMENT, "value", "-2.47"),
         [(EMP17, None, UNEMPLOYMENT, "value", "-2.47")]),
    Case("percent_sign_on_non_percent_unit",
         set_cell(EMP17, JOBS_ACTUAL, "value", "148.9%"),
         [(EMP17, None, JOBS_ACTUAL, "value", "148.9%")]),
    Case("duplicate_row_across_two_files",
         as_workbook(EMP17, keep_csv=True, only_rows=[JOBS_ACTUAL]),
         [(EMP17_XLSX, None, None, None, "employment_security.xlsx"),
          (EMP17_XLSX, "data", 2, "indicator_id", "urban_new_jobs / 2017 / actual")]),
    Case("wrong_year", set_cell(EMP17, JOBS_ACTUAL, "year", "2016"),
         [(EMP17, None, JOBS_ACTUAL, "year", "2016")]),
    Case("unknown_measure", set_cell(EMP17, JOBS_ACTUAL, "measure", "实际"),
         [(EMP17, None, JOBS_ACTUAL, "measure", "实际")]),
    Case("empty_file", write_bytes(EMP17, b""),
         [(EMP17, None, None, None, "an empty file")]),
    Case("header_only", write_bytes(EMP17, b"indicator_id,year,measure,value,unit,source\r\n"),
         [(EMP17, None, 2, None, "no data rows")]),
    Case("merged_header_cells", as_workbook(EMP17, edit=merge_header),
         [(EMP17_XLSX, "data", 1, "formula", "J1:K1")]),
    Case("formula_cell", as_workbook(EMP17, edit=formula_in_value),
         [(EMP17_XLSX, "data", 2, "value", "=100+48.9")]),
    Case("extra_sheet", as_workbook(EMP17, extra_sheets=("instructions", "Sheet2")),
         [(EMP17_XLSX, "Sheet2", None, None, "Sheet2")]),
    Case("unit_mismatch", set_cell(EMP17, JOBS_ACTUAL, "unit", "人"),
         [(EMP17, None, JOBS_ACTUAL, "unit", "人")]),
    Case("completion_rate_not_percent", set_cell(EMP17, JOBS_RATE, "unit", "万人"),
         [(EMP17, None, JOBS_RATE, "unit", "万人")]),
    Case("min_target_for_lower_is_better", set_cell(EMP18, 3, "target_type", "min"),
         [(EMP18, None, 3, "target_type", "min")]),
    Case("max_target_for_higher_is_better", set_cell(EMP18, 2, "target_type", "max"),
         [(EMP18, None, 2, "target_type", "max")]),
    Case("target_without_target_type", set_cell(EMP18, 2, "target_type", ""),
         [(EMP18, None, 2, "target_type", "")]),
    Case("target_type_on_actual", set_cell(EMP17, JOBS_ACTUAL, "target_type", "min"),
         [(EMP17, None, JOBS_ACTUAL, "target_type", "min")]),
    Case("derived_without_formula", set_cell(EMP17, JOBS_TARGET, "formula", ""),
         [(EMP17, None, JOBS_TARGET, "formula", "")]),
    Case("derived_not_yes_or_no", set_cell(EMP17, JOBS_TARGET, "derived", "maybe"),
         [(EMP17, None, JOBS_TARGET, "derived", "maybe")]),
    Case("missing_source", set_cell(EMP17, UNEMPLOYMENT, "source", ""),
         [(EMP17, None, UNEMPLOYMENT, "source", "")]),
    Case("unknown_unit_folder",
         lambda root: shutil.copytree(root / OBS, root / "data/raw/observations/shenzhen"),
         [("data/raw/observations/shenzhen", None, None, None, "shenzhen")]),
    Case("year_folder_not_a_year",
         lambda root: (root / OBS / "2017").rename(root / OBS / "17"),
         [(f"{OBS}/17", None, None, None, "17")]),
    Case("file_not_named_after_a_domain",
         lambda root: (root / EMP17).rename(root / OBS / "2017" / "jobs.csv"),
         [(f"{OBS}/2017/jobs.csv", None, None, None, "jobs.csv")]),
    Case("task_numbers_with_gap_and_duplicate",
         tasks_edit(lambda rows: rows[3].__setitem__(0, "2")),
         [(TASKS18, None, 4, "task_no", "2"), (TASKS18, None, None, "task_no", "no task 3")]),
    Case("task_unknown_department",
         tasks_edit(lambda rows: rows[1].__setitem__(6, "transport;traffic")),
         [(TASKS18, None, 2, "departments", "traffic")]),
    Case("task_in_cross_cutting_domain",
         tasks_edit(lambda rows: rows[2].__setitem__(1, "cross_cutting")),
         [(TASKS18, None, 3, "domain_id", "cross_cutting")]),
    Case("task_zh_and_en_swapped",
         tasks_edit(lambda rows: rows[1].__setitem__(2, rows[1][3])),
         [(TASKS18, None, 2, "title_zh", "Bus service for every village")]),
    # --- awkward but acceptable ---
    Case("utf8_bom_is_accepted", reencode(EMP17, "utf-8-sig"), check=bom_parsed),
    Case("gbk_with_chinese_headers_is_accepted", gbk_with_chinese_headers, check=gbk_parsed),
    Case("full_width_digits_and_thousands_separators_are_accepted",
         both(set_cell(EMP17, JOBS_ACTUAL, "value", "１４８．９"),
              set_cell(LIVING18, 2, "value", "1,890"),
              set_cell(TRANSPORT18, 2, "value", "９５％"),
              set_cell(EMP17, JOBS_RATE, "value", "135.4%")),
         check=normalised_numbers_parsed),
    Case("xlsx_with_instructions_sheet_is_accepted",
         as_workbook(EMP17, extra_sheets=("说明",)), check=xlsx_location_kept),
]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in CASES])
def test_bad_input_corpus(project: Path, case: Case) -> None:
    case.build(project)
    if not case.problems:
        results = run(project)
        assert case.check(results)
        return
    with pytest.raises(InputValidationError) as caught:
        run(project)
    found = Counter((p.file, p.sheet, p.row, p.column, p.found) for p in caught.value.problems)
    assert found == Counter(case.problems)
    assert all(p.expected for p in caught.value.problems)


def test_corpus_is_large_enough() -> None:
    assert sum(1 for c in CASES if c.problems) >= 14
    assert sum(1 for c in CASES if not c.problems) >= 3


def test_messages_say_what_was_expected_in_clerk_words(project: Path) -> None:
    both(set_cell(EMP17, JOBS_ACTUAL, "unit", "人"),
         set_cell(EMP17, UNEMPLOYMENT, "value", "247"),
         set_cell(EMP18, 3, "target_type", "min"))(project)
    with pytest.raises(InputValidationError) as caught:
        run(project)
    expected = {(p.file, p.column): p.expected for p in caught.value.problems}
    assert expected[(EMP17, "unit")] == \
        "the unit 万人 that the catalog gives for 城镇新增就业 (urban_new_jobs)"
    assert "a percentage from 0 to 100 for 城镇登记失业率" in expected[(EMP17, "value")]
    assert "max, because a lower 城镇登记失业率" in expected[(EMP18, "target_type")]


def test_duplicate_message_names_the_first_place(project: Path) -> None:
    as_workbook(EMP17, keep_csv=True, only_rows=[JOBS_ACTUAL])(project)
    with pytest.raises(InputValidationError) as caught:
        run(project)
    duplicate = next(p for p in caught.value.problems if p.column == "indicator_id")
    assert f"{EMP17}, row {JOBS_ACTUAL}" in duplicate.expected


def test_problems_in_several_files_are_raised_together(project: Path) -> None:
    both(set_cell(EMP17, JOBS_ACTUAL, "value", "abc"),
         set_cell(EMP17, UNEMPLOYMENT, "year", "2018"),
         reencode(TRANSPORT17, "utf-16"),
         set_cell(EMP18, 2, "unit", "人"),
         tasks_edit(lambda rows: rows[1].__setitem__(6, "")),
         as_workbook(LIVING18, edit=lambda ws: ws.__setitem__("F2", "=1800+90")))(project)
    with pytest.raises(InputValidationError) as caught:
        run(project)
    problems = caught.value.problems
    assert {(p.file, p.row, p.column) for p in problems} == {
        (EMP17, JOBS_ACTUAL, "value"),
        (EMP17, UNEMPLOYMENT, "year"),
        (TRANSPORT17, None, None),
        (EMP18, 2, "unit"),
        (TASKS18, 2, "departments"),
        (LIVING18.replace(".csv", ".xlsx"), 2, "value"),
    }
    summary = str(caught.value)
    assert summary.startswith("6 problems in 5 input files")
    assert all(p.file in summary for p in problems)
