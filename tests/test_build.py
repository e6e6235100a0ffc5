"""The build command end to end on the real raw data, in a scratch copy of the project."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import file_hashes
from bpsreport.build import build_clean
from bpsreport.cli import main
from bpsreport.paths import ProjectPaths


# Runs the build's stages on project copies: end-to-end (slow).
pytestmark = pytest.mark.slow


@pytest.fixture
def built(project_copy):
    """The data stage of a build (the later stages are exercised by the script test)."""
    build_clean(ProjectPaths.at(project_copy))
    return project_copy


def test_build_writes_clean_province_2017_and_2018_with_statuses(built):
    for year in (2017, 2018):
        folder = built / "data" / "clean" / "gd-province" / str(year)
        for name in ("observations", "assessment"):
            assert (folder / f"{name}.parquet").is_file() and (folder / f"{name}.csv").is_file()
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["inputs"] and all(len(i["sha256"]) == 64 for i in manifest["inputs"])
    assessment = pd.read_parquet(built / "data/clean/gd-province/2017/assessment.parquet").set_index("indicator_id")
    # The three cases the issue names, on the real data.
    assert assessment.at["urban_new_jobs", "status"] == "met"
    assert assessment.at["urban_new_jobs", "completion_rate"] == pytest.approx(135.4)
    assert assessment.at["urban_registered_unemployment_rate", "actual"] == pytest.approx(2.47)
    a2018 = pd.read_parquet(built / "data/clean/gd-province/2018/assessment.parquet").set_index("indicator_id")
    assert a2018.at["village_bus_access_rate", "target"] == 95
    assert a2018.at["village_bus_access_rate", "status"] == "no_data"
    tasks = pd.read_parquet(built / "data/clean/gd-province/2018/tasks.parquet")
    assert list(tasks["task_no"]) == list(range(1, 35))


def test_seed_document_yields_well_over_100_observations(built):
    obs = pd.concat(pd.read_parquet(p) for p in (built / "data/clean/gd-province").glob("*/observations.parquet"))
    from_002 = obs[obs["source"].str.startswith("粤财办〔2018〕6号")]
    assert len(from_002) > 100
    assert from_002["source"].str.match(r"粤财办〔2018〕6号 [一二]").all()


def test_other_report_units_are_built_as_target_only_data(built):
    clean = built / "data" / "clean"
    for unit in ("prd", "qingyuan", "qingcheng"):
        frames = [pd.read_parquet(p) for p in (clean / unit).glob("*/observations.parquet")]
        assert frames, unit
        obs = pd.concat(frames)
        assert (obs["measure"] == "target").sum() > 0, unit


def test_rebuild_with_nothing_changed_rewrites_nothing(built):
    before = file_hashes(built / "data" / "clean")
    mtimes = {p: p.stat().st_mtime_ns for p in (built / "data/clean/gd-province").rglob("*.parquet")}
    result = build_clean(ProjectPaths.at(built))
    assert not any(e.rewritten for e in result.editions.values())
    assert file_hashes(built / "data" / "clean") == before
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_bad_input_fails_with_location_and_leaves_clean_data_and_raw_files_intact(built, capsys):
    clean_before = file_hashes(built / "data" / "clean")
    bad = built / "data/raw/observations/gd-province/2017/employment_security.csv"
    text = bad.read_text(encoding="utf-8")
    assert "148.9" in text
    bad.write_text(text.replace("148.9", "148.9万", 1), encoding="utf-8")
    raw_before = file_hashes(built / "data" / "raw")
    capsys.readouterr()
    assert main(["--root", str(built), "build", "--year", "2017"]) == 2
    err = capsys.readouterr().err
    assert "employment_security.csv" in err and "148.9万" in err and "value" in err
    assert file_hashes(built / "data" / "clean") == clean_before
    assert file_hashes(built / "data" / "raw") == raw_before


def test_unknown_year_is_a_clear_error(project_copy, capsys):
    assert main(["--root", str(project_copy), "build", "--year", "2031"]) == 2
    err = capsys.readouterr().err
    assert "no raw data for gd-province 2031" in err.lower().replace("there is ", "")


def test_pipeline_script_runs_as_a_user_would(cold_build, tmp_path):
    """The whole build through the command line, from nothing, in a copy of the project."""
    from conftest import copy_project, run_pipeline

    out = cold_build.stdout
    assert "gd-province" in out and "2018" in out
    assert "已完成" in out   # the status summary, with bilingual labels
    assert "notebooks: 11 run, 0 reused" in out
    edition = cold_build.root / "build" / "gd-province" / "2017"
    assert len(list((edition / "notebooks").glob("*.ipynb"))) == 11
    assert (edition / "charts" / "zh" / "employment_security-targets-zh.svg").is_file()
    # A second run with nothing changed reruns nothing (in a copy: the shared build stays).
    project = copy_project(cold_build.root, tmp_path / "project")
    again = run_pipeline(project, "build", "--year", "2017")
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "notebooks: 0 run, 11 reused" in again.stdout
    assert "unchanged, nothing to render" in again.stdout
