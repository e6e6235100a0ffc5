"""Reading one CSV/XLSX submission: headers, numbers, encodings, sheets and row numbers."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from bpsreport.errors import InputValidationError
from bpsreport.readers import normalise_header, normalise_number, read_table

HEADER = "indicator_id,year,measure,value,unit,source\r\n"
ROW = "urban_new_jobs,2017,actual,148.9,万人,粤财办〔2018〕6号 一(二)8(1)\r\n"


@pytest.mark.parametrize("header, column", [
    ("indicator_id", "indicator_id"),
    ("  Indicator ID ", "indicator_id"),
    ("indicator-id", "indicator_id"),
    ("ＶＡＬＵＥ", "value"),                 # full-width Latin letters
    ("Target Type", "target_type"),
    ("指标编码", "indicator_id"),
    ("指标", "indicator"),
    ("指标名称", "indicator"),
    ("年份", "year"),
    ("年度", "year"),
    ("类型", "measure"),
    ("度量", "measure"),
    ("目标类型", "target_type"),
    ("数值", "value"),
    ("值", "value"),
    ("单位", "unit"),
    ("来源", "source"),
    ("出处", "source"),
    ("推算", "derived"),
    ("是否推算", "derived"),
    ("公式", "formula"),
    ("推算方法", "formula"),
    ("备注", "note"),
    ("value 数值", "value"),
    ("数值 value", "value"),
    ("数值（value）", "value"),             # full-width brackets
    ("indicator id 指标编码", "indicator_id"),
    ("目标类型/target type", "target_type"),
    ("Remarks", "remarks"),                # unknown headers are kept, normalised
])
def test_header_normalisation(header: str, column: str) -> None:
    assert normalise_header(header) == column


@pytest.mark.parametrize("text, number", [
    ("148.9", 148.9),
    (" 148.9 ", 148.9),
    ("１４８．９", 148.9),
    ("10,589", 10589.0),
    ("10，589", 10589.0),
    ("1,234,567.5", 1234567.5),
    ("92.1%", 92.1),
    ("92.1％", 92.1),
    ("１３５．４％", 135.4),
    ("0", 0.0),
    (".5", 0.5),
    ("-2.5", -2.5),                        # the sign is ingest's business, not the parser's
    ("1 890", 1890.0),
])
def test_number_normalisation(text: str, number: float) -> None:
    assert normalise_number(text) == number


@pytest.mark.parametrize("text", [
    "", "abc", "148.9万", "1,5", "12,34", "1.2.3", "nan", "inf", "--1", "%", "约150",
])
def test_number_normalisation_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        normalise_number(text)


def test_csv_row_numbers_skip_blank_rows(tmp_path: Path) -> None:
    path = tmp_path / "employment_security.csv"
    path.write_text(HEADER + ROW + ",,,,,\r\n\r\n" + ROW.replace("148.9", "61.95")
                    + "\r\n,,,,,\r\n", encoding="utf-8")
    table = read_table(path, root=tmp_path)
    assert table.rows == [2, 5]
    assert list(table.frame["value"]) == ["148.9", "61.95"]
    assert table.sheet is None
    assert table.shown == "employment_security.csv"


def test_csv_quoted_line_break_counts_as_one_row(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text(HEADER.replace("\r\n", ",note\r\n") + ROW.replace("\r\n", ',"two\nlines"\r\n')
                    + ROW.replace("\r\n", ",\r\n"), encoding="utf-8")
    table = read_table(path, root=tmp_path)
    assert table.rows == [2, 3]
    assert table.frame.at[0, "note"] == "two\nlines"


def test_csv_cells_are_strings_and_blanks_empty(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("indicator_id,year,note\r\n urban_new_jobs ,2017,\r\n", encoding="utf-8")
    table = read_table(path, root=tmp_path)
    assert table.frame.to_dict("records") == [
        {"indicator_id": "urban_new_jobs", "year": "2017", "note": ""}]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk"])
def test_csv_accepted_encodings(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "x.csv"
    text = "指标编码,数值,单位\r\nurban_new_jobs,148.9,万人\r\n"
    path.write_bytes(text.encode(encoding))
    table = read_table(path, root=tmp_path)
    assert list(table.frame.columns) == ["indicator_id", "value", "unit"]
    assert table.frame.at[0, "unit"] == "万人"


@pytest.mark.parametrize("data, found", [
    ((HEADER + ROW).encode("utf-16"), "UTF-16 text"),
    ((HEADER + ROW).encode("utf-16-le"), "UTF-16 text"),          # no BOM
    # Latin-1 decodes as GB18030, but not into a header we know; the likely encoding is named
    (b"Jahr f\xfcr,Wert\r\n2017,1\r\n", "an unrecognised encoding, probably Windows-1252"),
    (b"note\r\ncaf\xe9 cr\xe8me\r\n", "an unrecognised encoding, probably Windows-1252"),
])
def test_csv_refused_encodings(tmp_path: Path, data: bytes, found: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(data)
    with pytest.raises(InputValidationError) as caught:
        read_table(path, root=tmp_path)
    [problem] = caught.value.problems
    assert (problem.file, problem.row) == ("x.csv", None)
    assert problem.found.startswith(found)
    assert "UTF-8, UTF-8 with BOM, or GB18030/GBK" in problem.expected


def test_duplicate_header_after_normalisation(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("indicator_id,value,数值\r\nurban_new_jobs,1,2\r\n", encoding="utf-8")
    with pytest.raises(InputValidationError) as caught:
        read_table(path, root=tmp_path)
    [problem] = caught.value.problems
    assert (problem.row, problem.column, problem.found) == (1, "C", "数值")


def test_values_under_an_empty_header(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("indicator_id,,value\r\nurban_new_jobs,,1\r\nurban_new_jobs,oops,1\r\n",
                    encoding="utf-8")
    with pytest.raises(InputValidationError) as caught:
        read_table(path, root=tmp_path)
    [problem] = caught.value.problems
    assert (problem.row, problem.column, problem.found) == (3, "B", "oops")  # where the value is


def _workbook(path: Path, rows: list[list], title: str = "data", start_row: int = 1):
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = title
    for offset, row in enumerate(rows):
        for col, value in enumerate(row, start=1):
            ws.cell(row=start_row + offset, column=col, value=value)
    return book, ws


def test_xlsx_row_numbers_are_excel_rows(tmp_path: Path) -> None:
    path = tmp_path / "employment_security.xlsx"
    book, ws = _workbook(path, [
        ["indicator_id", "year", "value"],
        ["urban_new_jobs", 2017, 148.9],
        [None, None, None],
        ["urban_registered_unemployment_rate", 2017, 2.47],
    ], start_row=2)
    ws.cell(row=9, column=1).number_format = "0.00"  # formatted but empty trailing row
    book.save(path)
    table = read_table(path, root=tmp_path)
    assert table.header_row == 2
    assert table.rows == [3, 5]
    assert table.sheet == "data"
    assert list(table.frame["year"]) == ["2017", "2017"]
    assert list(table.frame["value"]) == ["148.9", "2.47"]


def test_xlsx_percent_formatted_cell_reads_as_typed(tmp_path: Path) -> None:
    path = tmp_path / "public_transport.xlsx"
    book, ws = _workbook(path, [["indicator_id", "value"], ["village_bus_access_rate", 0.921]])
    ws["B2"].number_format = "0.0%"
    book.save(path)
    assert read_table(path, root=tmp_path).frame.at[0, "value"] == "92.1%"


def test_xlsx_single_sheet_of_any_name_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    book, _ = _workbook(path, [["indicator_id", "value"], ["urban_new_jobs", 110]], title="Sheet1")
    book.create_sheet("说明")
    book.save(path)
    table = read_table(path, root=tmp_path)
    assert table.sheet == "Sheet1"
    assert table.frame.at[0, "value"] == "110"


def test_xlsx_without_data_sheet_among_several(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    book, _ = _workbook(path, [["indicator_id"], ["urban_new_jobs"]], title="2017")
    book.create_sheet("2018")
    book.save(path)
    with pytest.raises(InputValidationError) as caught:
        read_table(path, root=tmp_path)
    [problem] = caught.value.problems
    assert problem.found == "sheets 2017, 2018"


def test_xlsx_collects_every_problem_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    book, ws = _workbook(path, [
        ["indicator_id", "year", "value", "note"],
        ["urban_new_jobs", 2017, "=SUM(1,2)", None],
        ["urban_new_jobs", "=2016+1", 3, None],
    ])
    ws.merge_cells("D1:E1")
    book.create_sheet("Sheet3")
    book.save(path)
    with pytest.raises(InputValidationError) as caught:
        read_table(path, root=tmp_path)
    assert {(p.sheet, p.row, p.column, p.found) for p in caught.value.problems} == {
        ("Sheet3", None, None, "Sheet3"),
        ("data", 1, "note", "D1:E1"),
        ("data", 2, "value", "=SUM(1,2)"),
        ("data", 3, "year", "=2016+1"),
    }


def test_xlsx_header_only(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    book, _ = _workbook(path, [["indicator_id", "value"]])
    book.save(path)
    with pytest.raises(InputValidationError) as caught:
        read_table(path, root=tmp_path)
    [problem] = caught.value.problems
    assert (problem.sheet, problem.row, problem.found) == ("data", 2, "no data rows")


def test_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "x.xlsx"
    path.write_bytes(b"indicator_id,value\r\n")
    with pytest.raises(InputValidationError) as caught:
        read_table(path, root=tmp_path)
    assert caught.value.problems[0].found == "a text (CSV) file with an .xlsx name"


def test_other_suffix_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0")
    with pytest.raises(InputValidationError) as caught:
        read_table(path, root=tmp_path)
    assert caught.value.problems[0].found == ".xls"
