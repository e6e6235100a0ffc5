"""The parameterized notebooks: planning, papermill runs, failures, stored nbval copies.

The real templates (``notebooks/domain.ipynb``, ``notebooks/overview.ipynb``) run on the
SYNTHETIC fixture in ``tests/fixtures/synthetic/notebooks`` (two domains and the overview,
both languages). nbval itself re-executes the stored copies in ``tests/notebooks/``
(configured in ``pyproject.toml``); the tests here check that those copies are current.
"""

from __future__ import annotations

import base64
import fnmatch
import html
import re
import sys
import tomllib
from pathlib import Path

import nbformat
import pandas as pd
import pytest

from bpsreport.catalog import load_catalog
from bpsreport.notebooks import (DOMAIN_TEMPLATE, FIXTURE_DIR, OVERVIEW_TEMPLATE,
                                 STORED_NOTEBOOK_DIR, CellFailure, NoCleanData, NotebookFailed,
                                 NotebookJob, NotebookOutputs, NotebookResult, UnknownDomain,
                                 _cell_title, build_fixture_clean, check_kernel,
                                 load_edition_data, plan_edition_jobs, raise_for_failures,
                                 read_clean_catalog, run_jobs)

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_CLEAN = FIXTURE_DIR / "clean"
UNIT, YEAR = "test-unit", 2017
LABEL = re.compile(r"^#\|\s*label:\s*(\S+)", re.M)
CAPTION = re.compile(r"^#\|\s*(fig|tbl)-cap:\s*(.+)$", re.M)
CJK = re.compile(r"[\u4e00-\u9fff]")

DOMAIN_LABELS = ["fig-targets-zh", "fig-targets-en", "tbl-targets-zh", "tbl-targets-en",
                 "tbl-indicators-zh", "tbl-indicators-en"]
OVERVIEW_LABELS = [f"{kind}-{lang}" for lang in ("zh", "en") for kind in
                   ("fig-status-overview", "fig-funding", "fig-satisfaction", "tbl-all-targets",
                    "tbl-tasks")]


# --- helpers --------------------------------------------------------------------------------

def executed_labels(domain_id: str) -> list[str]:
    """The template's labels as the runner rewrites them for one domain's executed copy."""
    return [re.sub(r"^(fig|tbl)-", rf"\1-{domain_id}-", label) for label in DOMAIN_LABELS]


def labelled_cells(path: Path) -> dict[str, nbformat.NotebookNode]:
    nb = nbformat.read(str(path), as_version=4)
    cells = {}
    for cell in nb.cells:
        match = LABEL.search(cell.source) if cell.cell_type == "code" else None
        if match:
            cells[match.group(1)] = cell
    return cells


def caption(cell) -> tuple[str, str]:
    match = CAPTION.search(cell.source)
    assert match, f"cell has no fig-cap / tbl-cap:\n{cell.source}"
    return match.group(1), match.group(2).strip()


def single_display(cell) -> dict:
    outputs = [o for o in cell.outputs if o.output_type == "display_data"]
    others = [o for o in cell.outputs if o.output_type != "display_data"]
    assert not others, f"unexpected outputs (streams or errors): {others}"
    assert len(outputs) == 1, f"expected one display output, found {len(outputs)}"
    return outputs[0].data


def svg_from_img(html: str) -> bytes:
    match = re.search(r'src="data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)"', html)
    assert match, "the chart's HTML is not an <img> of an SVG data URI"
    return base64.b64decode(match.group(1))


def assert_chart_output(cell, lang: str) -> dict:
    """A chart cell offers what Quarto picks per format (display-data.ts): text/html for
    the site (the SVG as an <img> with its alt text), image/svg+xml for Typst (vector
    charts in the PDF), and the alt text as text/plain."""
    data = single_display(cell)
    assert set(data) == {"text/html", "image/svg+xml", "text/plain"}
    assert svg_from_img(data["text/html"]) == data["image/svg+xml"].encode("utf-8")
    assert data["image/svg+xml"].lstrip().startswith("<?xml")
    alt = data["text/plain"]
    attribute = re.search(r' alt="([^"]*)"', data["text/html"])
    assert alt and attribute and html.unescape(attribute.group(1)) == alt
    assert bool(CJK.search(alt)) == (lang == "zh")
    return data


def assert_table_output(cell) -> dict:
    """A table cell offers Great Tables' HTML for the site and, for Typst, a text/markdown
    raw Typst block with the same table (Quarto ranks text/markdown first for Typst)."""
    data = single_display(cell)
    assert set(data) == {"text/html", "text/markdown", "text/plain"}
    assert "<table" in data["text/html"]
    markdown = data["text/markdown"]
    assert markdown.startswith("```{=typst}\n#official-data-table(") and markdown.rstrip().endswith("```")
    return data


def assert_caption_language(cell, kind: str, lang: str) -> None:
    cap_kind, text = caption(cell)
    assert cap_kind == kind
    assert bool(CJK.search(text)) == (lang == "zh"), text


# --- planning -------------------------------------------------------------------------------

def test_plan_edition_jobs_gives_ten_domains_then_the_overview(root, catalog):
    jobs = plan_edition_jobs(root, "gd-province", 2017, catalog)

    domains = [d for d in catalog.domain_ids() if d != "cross_cutting"]
    assert [j.name for j in jobs] == domains + ["overview"]
    assert len(jobs) == 11
    build = root / "build" / "gd-province" / "2017" / "notebooks"
    for job in jobs:
        assert job.output_path == build / f"{job.name}.ipynb"
        assert job.cwd == root.resolve()
        assert job.parameters["clean_dir"] == "data/clean"
        assert job.parameters["output_dir"] == "build/gd-province/2017"
        assert job.parameters["langs"] == ["zh", "en"]
        assert job.parameters["year"] == 2017 and job.parameters["unit_id"] == "gd-province"
    assert all(j.template_path == DOMAIN_TEMPLATE and j.parameters["domain_id"] == j.domain_id
               for j in jobs[:-1])
    assert jobs[-1].template_path == OVERVIEW_TEMPLATE
    assert jobs[-1].domain_id is None and "domain_id" not in jobs[-1].parameters


def test_the_kernel_is_this_projects_python():
    assert Path(check_kernel("python3")).parent == Path(sys.executable).parent


# --- one real run: two domains, the overview, and one notebook that fails ------------------

@pytest.fixture(scope="module")
def edition_run(tmp_path_factory):
    """Run the real templates on the SYNTHETIC fixture, two at a time, into a scratch build."""
    root = tmp_path_factory.mktemp("project")
    catalog = read_clean_catalog(FIXTURE_CLEAN / "catalog")
    jobs = plan_edition_jobs(root, UNIT, YEAR, catalog, clean_dir=FIXTURE_CLEAN)
    bad = NotebookJob(name="no_such_domain", domain_id="no_such_domain",
                      template_path=DOMAIN_TEMPLATE,
                      output_path=jobs[0].output_path.parent / "no_such_domain.ipynb",
                      parameters={**jobs[0].parameters, "domain_id": "no_such_domain"},
                      cwd=jobs[0].cwd)
    # The failing notebook goes first so the others run after (and alongside) it.
    results = run_jobs([bad, *jobs], parallel=2, timeout_s=300)
    build = root / "build" / UNIT / str(YEAR)
    return {"root": root, "build": build, "jobs": jobs, "bad": bad,
            "results": {r.job.name: r for r in results}}


def test_fixture_plan_has_the_fixtures_two_domains_and_the_overview(edition_run):
    assert [j.name for j in edition_run["jobs"]] == ["education", "environment", "overview"]
    # The clean data lies outside the scratch root, so it is passed as an absolute path.
    assert Path(edition_run["jobs"][0].parameters["clean_dir"]).is_absolute()


def test_every_good_notebook_finishes_and_is_kept(edition_run):
    for name in ("education", "environment", "overview"):
        result = edition_run["results"][name]
        assert result.ok, result.describe()
        assert (edition_run["build"] / "notebooks" / f"{name}.ipynb").exists()


def test_domain_notebook_has_labelled_chart_and_table_cells(edition_run):
    cells = labelled_cells(edition_run["build"] / "notebooks" / "education.ipynb")
    # The executed copy carries the domain in its labels (unique ids across a document).
    assert list(cells) == executed_labels("education")
    for lang in ("zh", "en"):
        chart = cells[f"fig-education-targets-{lang}"]
        assert_caption_language(chart, "fig", lang)
        assert_chart_output(chart, lang)
        table = cells[f"tbl-education-targets-{lang}"]
        assert_caption_language(table, "tbl", lang)
        html = assert_table_output(table)["text/html"]
        assert f'id="tbl-targets-education-{lang}"' in html and "<table" in html
        # The caption is the table's own title, naming the domain; the table carries no
        # title of its own, so a page never shows it twice.
        name = "公共教育" if lang == "zh" else "Public education"
        assert name in caption(table)[1] and name in caption(chart)[1]
        assert "gt_title" not in html.split("</style>", 1)[-1]
        # A domain with targets shows them; its indicators' table is not made.
        assert cells[f"tbl-education-indicators-{lang}"].outputs == []


def test_domain_without_targets_shows_its_indicators_and_no_empty_chart(edition_run):
    """No chart and no empty target table: the cells display nothing (the report embeds
    nothing for them, bpsreport.generate.exhibits_parts), and the indicators' table lists
    what the domain has, with the year's values."""
    cells = labelled_cells(edition_run["build"] / "notebooks" / "environment.ipynb")
    assert list(cells) == executed_labels("environment")
    for lang in ("zh", "en"):
        assert cells[f"fig-environment-targets-{lang}"].outputs == []
        assert cells[f"tbl-environment-targets-{lang}"].outputs == []
        table = cells[f"tbl-environment-indicators-{lang}"]
        html = assert_table_output(table)["text/html"]
        assert f'id="tbl-indicators-environment-{lang}"' in html
        name = "生态环境保障" if lang == "zh" else "Environmental protection"
        assert name in caption(table)[1]
    assert not (edition_run["build"] / "charts" / "zh" / "environment-targets-zh.svg").exists()


def test_overview_notebook_has_every_cross_cutting_cell(edition_run):
    cells = labelled_cells(edition_run["build"] / "notebooks" / "overview.ipynb")
    assert sorted(cells) == sorted(OVERVIEW_LABELS)
    for label, cell in cells.items():
        lang = label.rsplit("-", 1)[1]
        if label.startswith("fig-"):
            assert_caption_language(cell, "fig", lang)
            assert_chart_output(cell, lang)
        else:
            assert_caption_language(cell, "tbl", lang)
            assert_table_output(cell)
    tasks_zh = single_display(cells["tbl-tasks-zh"])["text/html"]
    # The task list published with the 2017 edition is the 2018 one, with 2018 targets.
    assert "示例任务一（合成）" in tasks_zh and "≥ 96" in tasks_zh


def test_charts_and_tables_are_saved_next_to_the_notebooks(edition_run):
    build = edition_run["build"]
    cells = labelled_cells(build / "notebooks" / "education.ipynb")
    for lang in ("zh", "en"):
        stem = build / "charts" / lang / f"education-targets-{lang}"
        data = single_display(cells[f"fig-education-targets-{lang}"])
        assert stem.with_suffix(".svg").read_bytes() == svg_from_img(data["text/html"])
        assert stem.with_suffix(".png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        assert Path(f"{stem}.alt.txt").read_text(encoding="utf-8") == data["text/plain"] + "\n"
        table = build / "tables" / lang / "targets-education.html"
        assert table.read_text(encoding="utf-8") == single_display(cells[f"tbl-education-targets-{lang}"])["text/html"]
    for name in ("overview-status", "funding", "satisfaction"):
        assert (build / "charts" / "en" / f"{name}-en.svg").exists()
    assert (build / "tables" / "zh" / "tasks-all.html").exists()


def test_a_failing_notebook_names_domain_cell_and_exception_and_keeps_its_copy(edition_run):
    result = edition_run["results"]["no_such_domain"]
    assert not result.ok
    failure = result.failure
    assert failure.ename == "UnknownDomain"
    assert "no_such_domain" in failure.evalue
    assert failure.cell == "from bpsreport import charts, tables"  # first line of the setup cell
    assert failure.position == 4 and failure.execution_count is not None

    copy = edition_run["bad"].output_path
    nb = nbformat.read(str(copy), as_version=4)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert [e.ename for e in errors] == ["UnknownDomain"]

    with pytest.raises(NotebookFailed) as raised:
        raise_for_failures(edition_run["results"].values())
    message = str(raised.value)
    assert "1 of 4 notebooks failed" in message
    assert "domain 'no_such_domain'" in message
    assert "in cell 4" in message and "'from bpsreport import charts, tables'" in message
    assert "UnknownDomain: unknown domain 'no_such_domain'" in message
    assert "build/test-unit/2017/notebooks/no_such_domain.ipynb" in message
    assert raised.value.failed == [result]


def test_no_failures_raise_nothing(edition_run):
    raise_for_failures(r for r in edition_run["results"].values() if r.ok)


@pytest.mark.slow  # starts a Jupyter kernel
def test_a_cell_timeout_names_the_cell(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("#| label: fig-slow\nimport time\ntime.sleep(120)"),
                nbformat.v4.new_code_cell("y = 2")]
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i}"
    template = tmp_path / "slow.ipynb"
    nbformat.write(nb, str(template))
    job = NotebookJob("slow", "education", template, tmp_path / "out" / "slow.ipynb", {}, tmp_path)

    [result] = run_jobs([job], timeout_s=2)

    assert result.failure.ename == "CellTimeoutError"
    assert result.failure.cell == "fig-slow" and result.failure.position == 2
    assert job.output_path.exists()


# --- failure text ------------------------------------------------------------------------------

@pytest.mark.parametrize("source, expected", [
    ("#| label: tbl-targets-en\n#| tbl-cap: Indicators\nout.show_table(x)", "tbl-targets-en"),
    ("# a comment\n\ndata = load_edition_data(clean_dir, unit_id, year)\nmore()",
     "data = load_edition_data(clean_dir, unit_id, year)"),
    (["x = ", "1\n", "y = 2"], "x = 1"),
    ("", "(empty cell)"),
])
def test_a_cell_is_named_by_its_label_or_first_line_of_code(source, expected):
    assert _cell_title(source) == expected


def test_a_failure_before_any_cell_says_so():
    job = NotebookJob("overview", None, OVERVIEW_TEMPLATE, Path("/nonexistent/overview.ipynb"))
    result = NotebookResult(job, CellFailure(None, None, "", "NoSuchKernel", "No such kernel named x"))
    assert "notebook 'overview' failed before any cell ran: NoSuchKernel: No such kernel named x" \
        in result.describe()
    assert "no executed copy was written" in result.describe()


# --- kernel side: inputs and outputs ----------------------------------------------------------

def test_edition_data_reads_this_year_all_earlier_years_and_next_years_tasks():
    data = load_edition_data(FIXTURE_CLEAN, UNIT, YEAR)
    assert set(data.observations["year"]) == {2017}
    assert set(data.assessment["year"]) == {2017}
    assert sorted(set(data.observations_all_years["year"])) == [2015, 2016, 2017]
    assert list(data.tasks["task_no"]) == [1, 2, 3]
    assert set(data.task_assessment["year"]) == {2018}
    assert list(data.catalog.domains.index) == ["cross_cutting", "education", "environment"]
    assert data.catalog.indicators.at["sample_new_school_places", "en_factor"] == 0.01


def test_edition_data_for_a_year_without_clean_data_says_what_to_do():
    with pytest.raises(NoCleanData, match="no clean data for test-unit 2030.*run the build"):
        load_edition_data(FIXTURE_CLEAN, UNIT, 2030)


def test_the_cross_cutting_part_is_not_a_domain_notebook():
    data = load_edition_data(FIXTURE_CLEAN, UNIT, YEAR)
    data.require_domain("education")
    with pytest.raises(UnknownDomain, match="expected one of: education, environment"):
        data.require_domain("cross_cutting")


def test_outputs_refuse_an_unknown_language():
    with pytest.raises(ValueError, match="langs must be among"):
        NotebookOutputs(None, ["zh", "fr"])


def test_outputs_go_to_the_build_folder_or_a_temporary_one(tmp_path):
    assert NotebookOutputs(tmp_path).chart_dir("zh") == tmp_path / "charts" / "zh"
    assert NotebookOutputs(tmp_path).table_dir("en") == tmp_path / "tables" / "en"
    scratch = NotebookOutputs(None)
    assert scratch.root.is_dir() and ROOT not in scratch.root.parents


# --- the SYNTHETIC fixture and the stored nbval notebooks ------------------------------------

def test_fixture_clean_data_is_regenerated_identically_from_its_sources(tmp_path):
    build_fixture_clean(FIXTURE_DIR / "source", tmp_path)
    committed = sorted(p.relative_to(FIXTURE_CLEAN) for p in FIXTURE_CLEAN.rglob("*.parquet"))
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*.parquet"))
    assert committed == fresh
    for rel in committed:
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / rel), pd.read_parquet(FIXTURE_CLEAN / rel),
                                      obj=f"{rel} (run python -m bpsreport.notebooks "
                                          "--refresh-test-notebooks after editing the sources)")


def test_fixture_is_labelled_synthetic():
    assert "SYNTHETIC" in (FIXTURE_DIR / "README.md").read_text(encoding="utf-8")
    obs = pd.read_csv(FIXTURE_DIR / "source" / "observations.csv", dtype=str)
    assert obs["source"].str.startswith("SYNTHETIC").all()
    assert obs["note"].str.contains("SYNTHETIC").all()
    catalog = load_catalog(FIXTURE_DIR / "source", root=FIXTURE_DIR)
    assert catalog.sources["doc_number"].tolist() == ["SYNTHETIC"]


def _template_sources(path: Path) -> list[tuple[str, str]]:
    nb = nbformat.read(str(path), as_version=4)
    return [(c.cell_type, c.source) for c in nb.cells
            if "injected-parameters" not in c.metadata.get("tags", [])]


def params_domain(path: Path) -> str | None:
    return nbformat.read(str(path), as_version=4).metadata["papermill"]["parameters"].get("domain_id")


@pytest.mark.parametrize("stored, template", [
    ("domain-education.ipynb", DOMAIN_TEMPLATE),
    ("domain-environment.ipynb", DOMAIN_TEMPLATE),
    ("overview.ipynb", OVERVIEW_TEMPLATE),
])
def test_stored_nbval_notebooks_are_current_executions_of_the_templates(stored, template):
    path = STORED_NOTEBOOK_DIR / stored
    # The runner puts the domain into the labels of executed domain notebooks.
    domain = params_domain(path)
    expected = _template_sources(template)
    if domain:
        expected = [(kind, re.sub(r"^(#\|\s*label:\s*)(fig|tbl)-", rf"\1\2-{domain}-", src, flags=re.M))
                    for kind, src in expected]
    # The runner also writes each cell's caption from its output (the chart's or table's
    # title, notebooks.finalise_executed_notebook); the rest of the source is the template's.
    no_caption = lambda pairs: [(k, re.sub(r"^#\|\s*(fig|tbl)-cap:.*$", "#| cap", src, flags=re.M))
                                for k, src in pairs]
    assert no_caption(_template_sources(path)) == no_caption(expected), (
        f"{path.name} is out of date: run python -m bpsreport.notebooks --refresh-test-notebooks")
    nb = nbformat.read(str(path), as_version=4)
    params = nb.metadata["papermill"]["parameters"]
    assert params["output_dir"] is None
    assert (STORED_NOTEBOOK_DIR / params["clean_dir"]).resolve() == FIXTURE_CLEAN.resolve()
    cells = labelled_cells(path)
    shown = {label for label, c in cells.items() if c.outputs}
    targets = {f"{k}-{domain}-targets-{lang}" for k in ("fig", "tbl") for lang in ("zh", "en")}
    indicators = {f"tbl-{domain}-indicators-{lang}" for lang in ("zh", "en")}
    # A domain shows its target chart and table, or, without targets, its indicators.
    assert shown in (targets, indicators) if domain else shown == set(cells), sorted(shown)
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
                if o.output_type in ("error", "stream")]


def test_pytest_runs_nbval_on_the_stored_notebooks_only():
    options = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert "tests" in options["testpaths"]
    addopts = options["addopts"].split()
    assert "--nbval" in addopts and "--nbval-current-env" in addopts
    assert "--nbval-lax" not in addopts
    skipped = options["norecursedirs"]
    assert "fixtures" in skipped

    # --nbval collects every .ipynb pytest walks into: only the stored copies are reached.
    def collected(path: Path) -> bool:
        folders = path.relative_to(ROOT / "tests").parts[:-1]
        return not any(fnmatch.fnmatch(part, pattern) for part in folders for pattern in skipped)

    notebooks = sorted(p.relative_to(ROOT / "tests") for p in (ROOT / "tests").rglob("*.ipynb")
                       if collected(p))
    assert notebooks == sorted(Path("notebooks") / n for n in
                               ("domain-education.ipynb", "domain-environment.ipynb", "overview.ipynb"))


def test_a_kernel_that_dies_before_its_first_cell_is_started_again(tmp_path, monkeypatch):
    """Ports race between processes: a kernel may die before it answers. No cell ran, so
    the notebook is started again; a failure inside a cell is never run twice."""
    import bpsreport.notebooks as nb
    from bpsreport.notebooks import CellFailure, NotebookJob, NotebookResult, run_jobs

    calls = []
    dead = CellFailure(None, None, "", "RuntimeError", "Kernel died before replying to kernel_info")
    in_cell = CellFailure(3, 2, "chart", "ValueError", "bad value")
    outcomes = {"flaky": [dead, None], "broken": [in_cell, None], "dead": [dead] * 5}

    def fake_run_one(job, **_):
        calls.append(job.name)
        return NotebookResult(job, outcomes[job.name].pop(0))

    monkeypatch.setattr(nb, "_run_one", fake_run_one)
    monkeypatch.setattr(nb, "check_kernel", lambda name: name)
    jobs = [NotebookJob(name, None, tmp_path / "t.ipynb", tmp_path / f"{name}.ipynb")
            for name in ("flaky", "broken", "dead")]
    flaky, broken, dead_result = run_jobs(jobs, parallel=1, kernels="plain")
    assert flaky.ok
    assert broken.failure == in_cell
    assert dead_result.failure == dead
    assert calls.count("flaky") == 2 and calls.count("broken") == 1
    assert calls.count("dead") == nb.KERNEL_START_ATTEMPTS
