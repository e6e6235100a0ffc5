"""Ingesting a small valid raw tree: output columns, order, types, manifest inputs, and
raw files left untouched."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest

from bpsreport.catalog import load_catalog
from bpsreport.errors import InputValidationError
from bpsreport.ingest import (
    OBSERVATION_COLUMNS, TASK_COLUMNS, discover_editions, ingest_all, ingest_edition,
)

FIXTURE = Path(__file__).parent / "fixtures" / "bad_inputs" / "valid_tree"
OBS17 = "data/raw/observations/gd-province/2017"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(FIXTURE, root)
    return root


@pytest.fixture
def tiny_catalog(project: Path):
    return load_catalog(project / "data" / "raw", root=project)


def hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_discover_editions(project: Path) -> None:
    (project / "data/raw/observations/gd-province/notes").mkdir()  # not a year: skipped
    assert discover_editions(project / "data" / "raw") == [("gd-province", 2017),
                                                            ("gd-province", 2018)]


def test_valid_tree_ingests_to_documented_columns(project: Path, tiny_catalog) -> None:
    results = ingest_all(project / "data" / "raw", tiny_catalog, root=project)
    assert list(results) == [("gd-province", 2017), ("gd-province", 2018)]

    obs = results[("gd-province", 2017)].observations
    assert list(obs.columns) == OBSERVATION_COLUMNS
    # Domain order (public_transport = 4 before employment_security = 8), then indicator,
    # then measure in the order actual, target, completion_rate.
    assert list(zip(obs["indicator_id"], obs["measure"])) == [
        ("village_bus_access_rate", "actual"),
        ("urban_new_jobs", "actual"),
        ("urban_new_jobs", "target"),
        ("urban_new_jobs", "completion_rate"),
        ("urban_registered_unemployment_rate", "actual"),
    ]
    assert obs["value"].dtype == "float64"
    assert obs["derived"].dtype == bool
    assert obs["year"].dtype == "int64" and obs["source_row"].dtype == "int64"
    jobs_target = obs.iloc[2]
    assert jobs_target["value"] == pytest.approx(109.97)
    assert jobs_target["derived"] and jobs_target["formula"].startswith("148.9 ÷ 135.4%")
    assert jobs_target["target_type"] == "count"
    assert jobs_target["source_file"] == f"{OBS17}/employment_security.csv"
    assert jobs_target["source_sheet"] == "" and jobs_target["source_row"] == 3
    assert set(obs["unit_id"]) == {"gd-province"} and set(obs["year"]) == {2017}
    assert obs.loc[obs["measure"] == "completion_rate", "unit"].tolist() == ["%"]
    assert results[("gd-province", 2017)].tasks is None


def test_tasks_ingest(project: Path, tiny_catalog) -> None:
    result = ingest_edition(project / "data" / "raw", tiny_catalog, "gd-province", 2018,
                            root=project)
    tasks = result.tasks
    assert list(tasks.columns) == TASK_COLUMNS
    assert tasks["task_no"].tolist() == [1, 2, 3]
    assert tasks["task_no"].dtype == "int64"
    assert tasks.loc[2, "indicators"] == "urban_new_jobs;urban_registered_unemployment_rate"
    assert tasks.loc[0, "departments"] == "transport"


def test_inputs_list_hashes_and_row_counts(project: Path, tiny_catalog) -> None:
    result = ingest_edition(project / "data" / "raw", tiny_catalog, "gd-province", 2018,
                            root=project)
    by_path = {f.path: f for f in result.inputs}
    tasks_file = "data/raw/tasks/gd-province/2018/tasks.csv"
    assert by_path[tasks_file].rows == 3
    digest = hashlib.sha256((project / tasks_file).read_bytes()).hexdigest()
    assert by_path[tasks_file].sha256 == digest
    assert by_path["data/raw/observations/gd-province/2018/employment_security.csv"].rows == 2
    assert len(by_path) == 4


def test_notes_hidden_and_lock_files_are_not_submissions(project: Path, tiny_catalog) -> None:
    raw = project / "data" / "raw"
    (raw / "observations" / "README.md").write_text("where the figures come from\n")
    (raw / OBS17.replace("data/raw/", "") / ".gitkeep").write_text("")
    (raw / OBS17.replace("data/raw/", "") / "~$employment_security.xlsx").write_bytes(b"lock")
    results = ingest_all(raw, tiny_catalog, root=project)
    assert len(results[("gd-province", 2017)].inputs) == 2


def test_raw_files_are_byte_identical_after_ingestion(project: Path, tiny_catalog) -> None:
    raw = project / "data" / "raw"
    before = hashes(raw)
    ingest_all(raw, tiny_catalog, root=project)
    assert hashes(raw) == before


def test_raw_files_are_byte_identical_after_failed_ingestion(project: Path, tiny_catalog) -> None:
    raw = project / "data" / "raw"
    path = raw / "observations/gd-province/2017/employment_security.csv"
    path.write_bytes(path.read_bytes().replace(b"148.9,", "１４８x,".encode("utf-8")))
    before = hashes(raw)
    with pytest.raises(InputValidationError):
        ingest_all(raw, tiny_catalog, root=project)
    assert hashes(raw) == before


def test_xlsx_submission_ingests_like_csv(project: Path, tiny_catalog) -> None:
    import openpyxl
    raw = project / "data" / "raw"
    csv_path = raw / "observations/gd-province/2017/employment_security.csv"
    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "data"
    ws.append(["数值 value" if c == "value" else c for c in frame.columns])
    for record in frame.itertuples(index=False):
        ws.append([float(v) if name == "value" else (int(v) if name == "year" else v or None)
                   for name, v in zip(frame.columns, record)])
    book.create_sheet("instructions")
    book.save(csv_path.with_suffix(".xlsx"))
    csv_path.unlink()

    obs = ingest_edition(raw, tiny_catalog, "gd-province", 2017, root=project).observations
    xlsx_rows = obs[obs["domain_id"] == "employment_security"]
    assert xlsx_rows["value"].tolist() == [148.9, 109.97, 135.4, 2.47]
    assert set(xlsx_rows["source_sheet"]) == {"data"}
    assert xlsx_rows["source_row"].tolist() == [2, 3, 4, 5]


def test_derived_accepts_chinese_and_short_forms(project: Path, tiny_catalog) -> None:
    raw = project / "data" / "raw"
    path = raw / "observations/gd-province/2017/employment_security.csv"
    text = path.read_text(encoding="utf-8")
    text = text.replace(",yes,", ",是,")
    source = "粤财办〔2018〕6号 一(二)8(1)"
    text = text.replace(f"万人,{source},no,", f"万人,{source},N,")
    path.write_text(text, encoding="utf-8")
    obs = ingest_edition(raw, tiny_catalog, "gd-province", 2017, root=project).observations
    assert obs.set_index(["indicator_id", "measure"])["derived"].to_dict() == {
        ("village_bus_access_rate", "actual"): False,
        ("urban_new_jobs", "actual"): False,
        ("urban_new_jobs", "target"): True,
        ("urban_new_jobs", "completion_rate"): False,
        ("urban_registered_unemployment_rate", "actual"): False,
    }


def _with_stated_outcome(project: Path, outcome: str, measure: str = "target") -> Path:
    """The fixture's urban_new_jobs rows with a stated_outcome column; ``outcome`` on the
    row of ``measure``."""
    path = project / OBS17 / "employment_security.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    out = [lines[0] + ",stated_outcome"]
    for line in lines[1:]:
        out.append(line + ("," + outcome if f",{measure}," in line and "urban_new_jobs" in line else ","))
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("written, stored", [("exceeded", "exceeded"), ("超额完成", "exceeded"),
                                             ("met", "met"), ("已完成", "met")])
def test_stated_outcome_is_read_on_target_rows(project: Path, tiny_catalog, written, stored) -> None:
    _with_stated_outcome(project, written)
    obs = ingest_edition(project / "data" / "raw", tiny_catalog, "gd-province", 2017,
                         root=project).observations
    by_row = obs.set_index(["indicator_id", "measure"])["stated_outcome"].to_dict()
    assert by_row[("urban_new_jobs", "target")] == stored
    assert by_row[("urban_new_jobs", "actual")] == ""


@pytest.mark.parametrize("written, measure, words", [
    ("done", "target", "met (已完成) or exceeded (超额完成)"),
    ("exceeded", "actual", "only filled in on target rows"),
])
def test_stated_outcome_errors_name_file_row_and_column(project: Path, tiny_catalog, written,
                                                         measure, words) -> None:
    path = _with_stated_outcome(project, written, measure)
    with pytest.raises(InputValidationError) as caught:
        ingest_edition(project / "data" / "raw", tiny_catalog, "gd-province", 2017, root=project)
    [problem] = caught.value.problems
    assert problem.file.endswith(path.name) and problem.column == "stated_outcome"
    assert problem.found == written and words in problem.expected
    assert problem.row == (2 if measure == "actual" else 3)


def test_catalog_max_value_bounds_a_value(project: Path) -> None:
    raw = project / "data" / "raw"
    indicators = raw / "catalog/indicators/living_security.csv"
    indicators.write_text(indicators.read_text(encoding="utf-8").replace(",0,0,,", ",0,0,1800,"),
                          encoding="utf-8")
    catalog = load_catalog(raw, root=project)
    with pytest.raises(InputValidationError) as caught:
        ingest_edition(raw, catalog, "gd-province", 2018, root=project)
    [problem] = caught.value.problems
    assert (problem.row, problem.column, problem.found) == (2, "value", "1890")
    assert "from 0 to 1800 元/年" in problem.expected


def test_edition_without_folders_is_empty(project: Path, tiny_catalog) -> None:
    result = ingest_edition(project / "data" / "raw", tiny_catalog, "qingyuan", 2017,
                            root=project)
    assert result.observations.empty
    assert list(result.observations.columns) == OBSERVATION_COLUMNS
    assert result.tasks is None and result.inputs == []
