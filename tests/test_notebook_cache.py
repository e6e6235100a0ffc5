"""The notebook cache, the kernels it runs in, and determinism (issues 11 and 12 §4).

Fast tests check the keys (which change of the clean data re-runs which notebook), the
state logic (an output not as recorded is re-made) and the kernel trace, without running
a notebook. Slow tests run the real notebooks: the slices a notebook is keyed by give the
same charts and tables as the full data; forked kernels give the same bytes as plain
papermill one notebook at a time; two cold builds give the same files; and the yearly
scenarios re-run exactly the notebooks whose inputs changed.
"""

from __future__ import annotations

import hashlib
import re
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bpsreport.build import build_clean
from bpsreport.kernels import KernelTrace
from bpsreport.notebook_cache import NotebookCache, job_slices, slices_digest
from bpsreport.paths import ProjectPaths

ROOT = Path(__file__).resolve().parents[1]
UNIT = "gd-province"
DOMAINS = ("education", "public_health", "culture_sports", "public_transport", "public_safety",
           "living_security", "housing_security", "employment_security", "medical_security",
           "environment")


def _hashes(folder: Path, *, skip: tuple[str, ...] = ()) -> dict[str, str]:
    # A published version's folder is named by the time and process that made it
    # (build/publish/v-<time>-<pid>): the name differs by design, the contents may not.
    return {re.sub(r"(^|/)v-\d{8}-\d{6}-\d+(/|$)", r"\1v-*\2", p.relative_to(folder).as_posix()):
            hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*"))
            if p.is_file() and not any(part in skip for part in p.relative_to(folder).parts)}


# --- keys: which change re-runs which notebook ------------------------------------------------

@pytest.fixture(scope="module")
def clean_project(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("keys") / "project"
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    shutil.copytree(ROOT / "config", dest / "config")
    build_clean(ProjectPaths.at(dest))
    return dest


def _digests(clean: Path) -> dict[tuple[int, str], str]:
    return {(year, name): slices_digest(job_slices(clean, UNIT, year, domain))
            for year in (2017, 2018)
            for name, domain in [*((d, d) for d in DOMAINS), ("overview", None)]}


def _edit(path: Path, change) -> None:
    frame = pd.read_parquet(path)
    change(frame)
    frame.to_parquet(path, index=False)


@pytest.fixture
def clean(clean_project, tmp_path) -> Path:
    dest = tmp_path / "clean"
    shutil.copytree(clean_project / "data" / "clean", dest)
    return dest


def _changed(before: dict, after: dict) -> set:
    return {key for key in before if before[key] != after[key]}


def test_a_department_figure_for_2018_changes_only_its_domain_and_the_2018_overview(clean):
    before = _digests(clean)
    obs = clean / UNIT / "2018" / "observations.parquet"
    frame = pd.read_parquet(obs)
    row = frame[frame["domain_id"] == "employment_security"].iloc[0].copy()
    row["measure"], row["value"], row["source"] = "actual", 123.4, "SYNTHETIC test value"
    pd.concat([frame, row.to_frame().T.astype(frame.dtypes.to_dict())],
              ignore_index=True).to_parquet(obs, index=False)
    _edit(clean / UNIT / "2018" / "assessment.parquet", lambda f: f.__setitem__(
        "actual", f["actual"].where(f["domain_id"] != "employment_security", 123.4)))
    assert _changed(before, _digests(clean)) == {(2018, "employment_security"), (2018, "overview")}


def test_next_years_actuals_leave_this_edition_but_its_printed_targets_do_not(clean):
    before = _digests(clean)
    assessment = clean / UNIT / "2018" / "assessment.parquet"
    _edit(assessment, lambda f: f.__setitem__("actual", 1.0))       # 2018 actuals arrive
    assert (2017, "overview") not in _changed(before, _digests(clean))
    assert not {k for k in _changed(before, _digests(clean)) if k[0] == 2017}
    tasks = pd.read_parquet(clean / UNIT / "2018" / "tasks.parquet")
    linked = next(i for cell in tasks["indicators"] if cell for i in str(cell).split(";"))
    _edit(assessment, lambda f: f.__setitem__(
        "target", f["target"].where(f["indicator_id"] != linked.strip(), 999.0)))
    assert {k for k in _changed(before, _digests(clean)) if k[0] == 2017} == {(2017, "overview")}


def test_an_earlier_year_feeds_the_overview_only(clean):
    before = _digests(clean)
    _edit(clean / UNIT / "2016" / "observations.parquet", lambda f: f.__setitem__("note", "x"))
    assert _changed(before, _digests(clean)) == {(2017, "overview"), (2018, "overview")}


def test_catalog_rows_re_run_only_the_notebooks_that_use_them(clean):
    before = _digests(clean)
    indicators = clean / "catalog" / "indicators.parquet"
    _edit(indicators, lambda f: f.__setitem__(
        "name_en", f["name_en"].where(f["domain_id"] != "public_safety", "Renamed")))
    changed = _changed(before, _digests(clean))
    assert {name for _, name in changed} == {"public_safety", "overview"}
    # A new document in the sources list that no figure cites changes nothing.
    before = _digests(clean)
    sources = clean / "catalog" / "sources.parquet"
    frame = pd.read_parquet(sources)
    extra = frame.iloc[[0]].assign(source_id="synthetic-doc", doc_number="SYNTHETIC〔2099〕1号")
    pd.concat([frame, extra], ignore_index=True).to_parquet(sources, index=False)
    assert _changed(before, _digests(clean)) == set()


# --- the state: outputs verified by hash ---------------------------------------------------------

class _Job:
    def __init__(self, root: Path, name: str, domain_id: str | None):
        self.name, self.domain_id = name, domain_id
        self.template_path = ROOT / "notebooks" / ("overview.ipynb" if domain_id is None else "domain.ipynb")
        self.output_path = root / "build" / UNIT / "2017" / "notebooks" / f"{name}.ipynb"
        self.parameters = {"unit_id": UNIT, "year": 2017, "domain_id": domain_id}


def _finished_run(root: Path, job: _Job) -> KernelTrace:
    """Stand in for a notebook run: its executed copy and one chart, and the trace of it."""
    chart = root / "build" / UNIT / "2017" / "charts" / "zh" / f"{job.name}.png"
    for path, data in ((job.output_path, b'{"cells": []}'), (chart, b"\x89PNG synthetic bytes")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return KernelTrace(reads=[str(root / "config" / "status.yml")], writes=[str(chart)],
                       modules=[str(ROOT / "bpsreport" / "charts.py")])


@pytest.fixture
def cached_project(clean_project, tmp_path) -> tuple[Path, list[_Job]]:
    root = tmp_path / "project"
    shutil.copytree(clean_project / "data", root / "data")
    shutil.copytree(clean_project / "config", root / "config")
    jobs = [_Job(root, "education", "education"), _Job(root, "overview", None)]
    cache = NotebookCache(root, UNIT, 2017, root / "build" / UNIT / "2017")
    for job in jobs:
        cache.record(job, _finished_run(root, job))
    cache.save(jobs)
    return root, jobs


def _plan(root: Path, jobs):
    return NotebookCache(root, UNIT, 2017, root / "build" / UNIT / "2017").plan(jobs)


def test_recorded_runs_are_reused_when_nothing_changed(cached_project):
    root, jobs = cached_project
    plan = _plan(root, jobs)
    assert [j.name for j in plan.reused] == ["education", "overview"] and not plan.run


@pytest.mark.parametrize("damage", ["empty", "truncated", "missing", "edited"])
def test_an_output_not_as_written_re_runs_its_notebook_only(cached_project, damage):
    root, jobs = cached_project
    chart = root / "build" / UNIT / "2017" / "charts" / "zh" / "education.png"
    if damage == "empty":
        chart.write_bytes(b"")
    elif damage == "truncated":
        chart.write_bytes(chart.read_bytes()[:5])
    elif damage == "missing":
        chart.unlink()
    else:
        jobs[0].output_path.write_text('{"cells": [1]}')
    plan = _plan(root, jobs)
    assert [j.name for j in plan.run] == ["education"]
    assert "output" in plan.reasons["education"]


def test_config_the_kernel_read_is_part_of_the_key(cached_project):
    root, jobs = cached_project
    status = root / "config" / "status.yml"
    status.write_text(status.read_text(encoding="utf-8") + "\n# edited\n", encoding="utf-8")
    assert {j.name for j in _plan(root, jobs).run} == {"education", "overview"}


def test_a_run_without_a_trace_or_one_about_to_run_is_never_recorded(cached_project):
    root, jobs = cached_project
    cache = NotebookCache(root, UNIT, 2017, root / "build" / UNIT / "2017")
    cache.forget(["overview"])          # what the build does before starting a run
    cache.record(jobs[0], None)         # a run whose outputs cannot be attributed
    cache.save(jobs)
    state = json.loads((root / "build" / UNIT / "2017" / "notebooks-state.json").read_text())
    assert state["notebooks"] == {}
    assert {j.name for j in _plan(root, jobs).run} == {"education", "overview"}


# --- the kernel trace and the normalised notebook ------------------------------------------------

def test_the_kernel_trace_records_reads_writes_and_loaded_modules(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "x.yml").write_text("a: 1\n")
    trace_file = tmp_path / "trace.json"
    code = f"""
import os, sys
sys.path.insert(0, {str(ROOT)!r})
from bpsreport.kernels import install_trace, write_trace
install_trace({str(tmp_path)!r})
import bpsreport.formatting
open({str(tmp_path / 'config' / 'x.yml')!r}).read()
with open({str(tmp_path / 'out.png')!r}, 'wb') as fh: fh.write(b'x')
os.close(os.open({str(tmp_path / 'raw.bin')!r}, os.O_WRONLY | os.O_CREAT))
open('/etc/hostname').read() if os.path.exists('/etc/hostname') else None
write_trace({str(trace_file)!r})
"""
    subprocess.run([sys.executable, "-c", code], check=True)
    trace = KernelTrace.load(trace_file)
    assert trace.reads == [str(tmp_path / "config" / "x.yml")]
    assert trace.writes == [str(tmp_path / "out.png"), str(tmp_path / "raw.bin")]
    assert str(ROOT / "bpsreport" / "formatting.py") in trace.modules


def test_an_executed_notebook_keeps_no_clock_time_and_no_random_id(tmp_path):
    import nbformat

    from bpsreport.notebooks import NotebookJob, normalise_executed_notebook

    template = ROOT / "notebooks" / "domain.ipynb"
    nb = nbformat.read(str(template), as_version=4)
    injected = nbformat.v4.new_code_cell("year = 2017", id="f7e4bc6a")
    nb.cells.insert(2, injected)
    nb.metadata["papermill"] = {"start_time": "2026-01-01T00:00:00", "end_time": "x", "duration": 1.5,
                                "input_path": str(ROOT / "notebooks" / "domain.ipynb"),
                                "output_path": str(tmp_path / "build" / "education.ipynb"),
                                "parameters": {"year": 2017}, "exception": None}
    for cell in nb.cells:
        cell.metadata["papermill"] = {"start_time": "t", "end_time": "t", "duration": 0.1,
                                      "status": "completed", "exception": False}
        cell.metadata["execution"] = {"iopub.status.busy": "t"}
    nb.cells[3].source = "#| label: fig-targets-zh\nx = 1"
    path = tmp_path / "build" / "education.ipynb"
    path.parent.mkdir(parents=True)
    nbformat.write(nb, str(path))
    job = NotebookJob("education", "education", template, path, {}, cwd=tmp_path)
    normalise_executed_notebook(path, job)
    text = path.read_text(encoding="utf-8")
    assert "start_time" not in text and "duration" not in text and "iopub" not in text
    assert "f7e4bc6a" not in text and '"id": "injected-3"' in text
    out = json.loads(text)
    assert out["metadata"]["papermill"]["output_path"] == "build/education.ipynb"
    assert out["metadata"]["papermill"]["parameters"] == {"year": 2017}
    assert all(c["metadata"]["papermill"]["status"] == "completed" for c in out["cells"])
    assert "fig-education-targets-zh" in "".join(out["cells"][3]["source"])
    once = path.read_bytes()
    normalise_executed_notebook(path, job)   # idempotent
    assert path.read_bytes() == once


# --- slow: the real notebooks ---------------------------------------------------------------------

def _run_cells(template: Path, params: dict, data, out_dir: Path) -> list:
    """Execute a template's code cells in this process on ``data``; return what they display."""
    import nbformat

    import bpsreport.notebooks as nbmod

    shown = []
    nb = nbformat.read(str(template), as_version=4)
    namespace = dict(params)
    real_load, real_display = nbmod.load_edition_data, nbmod._display
    nbmod.load_edition_data = lambda *a, **k: data
    nbmod._display = lambda bundle, metadata=None: shown.append((dict(bundle), dict(metadata or {})))
    try:
        for cell in nb.cells:
            if cell.cell_type == "code" and "parameters" not in cell.metadata.get("tags", []):
                exec(compile(cell.source, "<cell>", "exec"), namespace)
    finally:
        nbmod.load_edition_data, nbmod._display = real_load, real_display
    return shown


def _sliced_edition_data(clean: Path, year: int, domain_id: str | None):
    from bpsreport.catalog import Catalog
    from bpsreport.ingest import TASK_COLUMNS
    from bpsreport.notebooks import EditionData
    from bpsreport.progress import ASSESSMENT_COLUMNS

    s = job_slices(clean, UNIT, year, domain_id)
    catalog = Catalog(**{name: s[f"catalog.{name}"].set_index(s[f"catalog.{name}"].columns[0])
                         for name in ("domains", "departments", "indicators", "report_units",
                                      "sources")})
    if domain_id is not None:
        return EditionData(UNIT, year, catalog, s["observations"], s["assessment"],
                           s["observations"], pd.DataFrame(columns=TASK_COLUMNS), None)
    earlier = [s[k] for k in sorted(s) if k.startswith("observations.")]
    targets = s["task_targets_next_year"]
    task_assessment = None
    if targets is not None:  # the key keeps the targets, and the years and units of the rest
        task_assessment = targets["targets"]
        if task_assessment.empty and targets["years"]:
            task_assessment = pd.DataFrame({"indicator_id": [""], "target": [float("nan")],
                                            "target_type": [None]})
        task_assessment = task_assessment.assign(year=targets["years"][0] if targets["years"] else None,
                                                 unit_id=targets["units"][0] if targets["units"] else None)
    return EditionData(UNIT, year, catalog, s["observations"],
                       s["assessment"] if s["assessment"] is not None
                       else pd.DataFrame(columns=ASSESSMENT_COLUMNS),
                       pd.concat([*earlier, s["observations"]], ignore_index=True),
                       s["tasks_next_year"] if s["tasks_next_year"] is not None
                       else pd.DataFrame(columns=TASK_COLUMNS), task_assessment)


@pytest.mark.slow
@pytest.mark.parametrize("year, domain_id", [(2017, d) for d in DOMAINS]
                         + [(2017, None), (2018, "employment_security"), (2018, None)])
def test_the_slices_a_notebook_is_keyed_by_give_the_same_charts_and_tables(
        clean_project, tmp_path, year, domain_id):
    """Everything outside a notebook's key can change without changing its outputs."""
    from bpsreport.notebooks import load_edition_data

    clean = clean_project / "data" / "clean"
    template = ROOT / "notebooks" / ("overview.ipynb" if domain_id is None else "domain.ipynb")
    params = {"unit_id": UNIT, "year": year, "langs": ["zh", "en"], "clean_dir": str(clean)}
    if domain_id:
        params["domain_id"] = domain_id
    full = _run_cells(template, {**params, "output_dir": str(tmp_path / "full")},
                      load_edition_data(clean, UNIT, year), tmp_path / "full")
    sliced = _run_cells(template, {**params, "output_dir": str(tmp_path / "sliced")},
                        _sliced_edition_data(clean, year, domain_id), tmp_path / "sliced")
    assert sliced == full
    assert _hashes(tmp_path / "sliced") == _hashes(tmp_path / "full")


def test_forked_kernels_give_the_bytes_of_plain_papermill_one_notebook_at_a_time(cold_build, tmp_path):
    """The build's notebooks (forked kernels, two at a time) against a cold reference run."""
    from conftest import copy_project

    from bpsreport.catalog import load_catalog
    from bpsreport.notebooks import plan_edition_jobs, raise_for_failures, run_jobs

    built = cold_build.root / "build" / UNIT / "2017"
    project = copy_project(cold_build.root, tmp_path / "project")
    edition = project / "build" / UNIT / "2017"
    for name in ("notebooks", "charts", "tables"):
        shutil.rmtree(edition / name)
    jobs = plan_edition_jobs(project, UNIT, 2017, load_catalog(project / "data" / "raw", root=project))
    raise_for_failures(run_jobs(jobs, parallel=1, kernels="plain"))
    for name in ("notebooks", "charts", "tables"):
        assert _hashes(edition / name) == _hashes(built / name), name


def test_two_cold_builds_give_identical_files(cold_build, tmp_path):
    from conftest import copy_project, run_pipeline

    project = copy_project(ROOT, tmp_path / "project", with_outputs=False)
    proc = run_pipeline(project, "build", "--year", "2017")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # Logs are named and stamped by time, by design. The built-in renderer's page cache
    # (render-cache/) names its entries by a key that includes the project's absolute path;
    # it is a cache, not an output. So is check-data.pickle (what `check` made of
    # data/raw, kept for the next narrative edit): pickled sets follow the process's
    # string-hash seed. Neither is published. Everything else must match byte for byte.
    skip = ("logs", "render-cache", "check-data.pickle")
    first, second = _hashes(cold_build.root, skip=skip), _hashes(project, skip=skip)
    assert sorted(first) == sorted(second)
    assert [p for p in first if first[p] != second[p]] == []


def test_a_damaged_chart_re_runs_its_notebook_only_and_is_made_again(cold_build, tmp_path):
    from conftest import copy_project, run_pipeline

    project = copy_project(cold_build.root, tmp_path / "project")
    chart = project / "build" / UNIT / "2017" / "charts" / "en" / "housing_security-targets-en.png"
    good = chart.read_bytes()
    chart.write_bytes(good[: len(good) // 3])   # a truncated file, as a killed build leaves
    proc = run_pipeline(project, "build", "--year", "2017")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "notebooks: 1 run, 10 reused" in proc.stdout
    assert chart.read_bytes() == good


def test_a_department_workbook_for_2018_re_runs_its_domains_and_not_2017(cold_build, tmp_path):
    """Issue 11's scenarios: one department's 2018 figures, then 2017 rebuilt."""
    from conftest import copy_project, run_pipeline

    from bpsreport.submissions import fill_template

    project = copy_project(cold_build.root, tmp_path / "project")
    assert run_pipeline(project, "new-year", "2018").returncode == 0
    first = run_pipeline(project, "build", "--year", "2018")
    assert first.returncode == 0 and "notebooks: 11 run, 0 reused" in first.stdout, first.stdout[-3000:]

    fixture = yaml.safe_load((ROOT / "tests/fixtures/submissions/hrss-2018-synthetic.yml")
                             .read_text(encoding="utf-8"))
    assert fixture["synthetic"] is True
    dropped = project / "data/raw/submissions" / UNIT / "2018" / "hrss.xlsx"
    dropped.parent.mkdir(parents=True)
    fill_template(project / "submissions/2018/hrss.xlsx", dropped, data=fixture["data"],
                  tasks={int(k): v for k, v in fixture["tasks"].items()})
    from bpsreport.catalog import load_catalog
    catalog = load_catalog(project / "data" / "raw", root=project)
    affected = {catalog.indicators.at[i, "domain_id"] for i in fixture["data"]}
    second = run_pipeline(project, "build", "--year", "2018", "--verbose")
    assert second.returncode == 0, second.stdout[-3000:]
    ran = set(__import__("re").findall(r"ran (\w+):", second.stdout))
    assert ran == affected | {"overview"}
    assert f"notebooks: {len(ran)} run, {11 - len(ran)} reused" in second.stdout

    again_2017 = run_pipeline(project, "build", "--year", "2017")
    assert again_2017.returncode == 0, again_2017.stdout[-3000:]
    assert "notebooks: 0 run, 11 reused" in again_2017.stdout
