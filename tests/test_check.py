"""`pipeline.py check`: every kind of finding on a purpose-made fixture, and the real 2017 edition.

The fixtures in tests/fixtures/check/ are SYNTHETIC (see their README): a tiny project
`base/` that gives no finding, and one overlay per finding kind in `cases/`.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from bpsreport.build import build_clean
from bpsreport.check import (ERROR, WARNING, Finding, blocks_publication, format_findings,
                             run_checks)
from bpsreport.errors import InputValidationError
from bpsreport.paths import ProjectPaths
from bpsreport.variables import build_edition_variables, dump_variables

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "check"
YEAR = 2018
ZH_RESULTS = "reports/2018/zh/_parts/results.qmd"
EN_RESULTS = "reports/2018/en/_parts/results.qmd"
RAW_2018 = "data/raw/observations/test-unit/2018"


def make_project(tmp_path: Path, case: str | None = None) -> Path:
    """The base fixture with clean data built, then the case's files laid over it.

    The clean data is rebuilt after the overlay, as the build would; when the overlay makes
    the raw data invalid the build fails and the clean data of the base stays (stale).
    """
    dest = tmp_path / (case or "base")
    shutil.copytree(FIXTURES / "base", dest)
    build_clean(ProjectPaths.at(dest))
    if case is not None:
        shutil.copytree(FIXTURES / "cases" / case, dest, dirs_exist_ok=True)
        try:
            build_clean(ProjectPaths.at(dest))
        except InputValidationError:
            pass
    return dest


def where(findings: list[Finding]) -> set[tuple]:
    return {(f.path, f.line, f.severity, f.code) for f in findings}


def tree_digest(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- one fixture per finding kind ------------------------------------------------------------

CASES = {
    "var-unknown": {(ZH_RESULTS, 3, ERROR, "var-unknown")},
    "var-wrong-language": {(ZH_RESULTS, 8, ERROR, "var-wrong-language")},
    "figure-uncited": {(EN_RESULTS, 6, WARNING, "figure-uncited")},
    "lang-missing-section": {(ZH_RESULTS, 10, ERROR, "lang-missing-section")},
    # The empty English section also leaves the bus access rate uncited in English.
    "lang-empty-section": {(EN_RESULTS, 6, ERROR, "lang-empty-section"),
                           (EN_RESULTS, 6, WARNING, "figure-uncited")},
    "lang-missing-file": {("reports/2018/zh/_parts/extra.qmd", 1, ERROR, "lang-missing-file")},
    "include-missing": {("reports/2018/zh/index.qmd", 10, ERROR, "include-missing")},
    "number-typed": {(ZH_RESULTS, 5, WARNING, "number-typed")},
    "number-contradicts": {(ZH_RESULTS, 5, ERROR, "number-contradicts"),
                           (EN_RESULTS, 4, ERROR, "number-contradicts")},
    "todo-left-report": {(ZH_RESULTS, 8, ERROR, "todo-left")},
    "todo-left-config": {("config/edition.yml", 28, ERROR, "todo-left")},
    # Ingestion rejects the row, as the build would: the text cannot be checked against
    # the 2018 data, so that is all there is to say.
    "indicator-no-source": {(f"{RAW_2018}/public_transport.csv", 3, ERROR, "indicator-no-source")},
    # The new target is also a figure no text cites yet, in either language.
    "target-no-actual": {(f"{RAW_2018}/employment_security.csv", 6, WARNING, "target-no-actual"),
                         (ZH_RESULTS, 3, WARNING, "figure-uncited"),
                         (EN_RESULTS, 3, WARNING, "figure-uncited")},
    "task-no-status": {("data/raw/tasks/test-unit/2018/tasks.csv", 2, ERROR, "task-no-status"),
                       ("data/raw/tasks/test-unit/2018/tasks.csv", 3, ERROR, "task-no-status")},
}


def test_every_case_folder_has_an_expectation():
    assert {p.name for p in (FIXTURES / "cases").iterdir()} == set(CASES)


def test_the_base_fixture_has_no_finding(tmp_path):
    assert run_checks(make_project(tmp_path), YEAR) == []


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_gives_exactly_its_findings(tmp_path, case):
    findings = run_checks(make_project(tmp_path, case), YEAR)
    assert where(findings) == CASES[case]
    assert all(f.message for f in findings)


@pytest.fixture(scope="module")
def case_findings(tmp_path_factory) -> dict[str, list[Finding]]:
    base = tmp_path_factory.mktemp("cases")
    return {case: run_checks(make_project(base, case), YEAR)
            for case in ("var-unknown", "number-contradicts", "number-typed", "target-no-actual",
                         "task-no-status", "lang-empty-section", "figure-uncited")}


def _one(findings: list[Finding], code: str, path: str | None = None) -> Finding:
    found = [f for f in findings if f.code == code and (path is None or f.path == path)]
    assert len(found) == 1, found
    return found[0]


def test_contradiction_names_the_indicator_the_data_value_and_the_typed_one(case_findings):
    zh = _one(case_findings["number-contradicts"], "number-contradicts", ZH_RESULTS)
    assert "新增就业 is 123.4万人 in the data" in zh.message
    assert "the text says 123.0万人" in zh.message
    assert "{{< var y2018.new_jobs.actual.zh >}}" in zh.message
    # English compares the figure after scaling: 123.4万人 prints as 1.234 million people.
    en = _one(case_findings["number-contradicts"], "number-contradicts", EN_RESULTS)
    assert "New jobs is 1.234 million people in the data" in en.message
    assert "the text says 1.240 million people" in en.message


def test_typed_number_suggests_the_variable(case_findings):
    typed = _one(case_findings["number-typed"], "number-typed")
    assert "123.4万人" in typed.message
    assert "{{< var y2018.new_jobs.actual.zh >}}" in typed.message


def test_unknown_variable_suggests_the_close_key(case_findings):
    unknown = _one(case_findings["var-unknown"], "var-unknown")
    assert "y2018.new_jobs.targt.zh" in unknown.message
    assert "did you mean y2018.new_jobs.target.zh" in unknown.message


def test_target_without_actual_names_the_responsible_department(case_findings):
    finding = _one(case_findings["target-no-actual"], "target-no-actual")
    assert "职业技能培训 (vocational_training)" in finding.message
    assert "50万人次" in finding.message
    assert "测试人社厅 (hrss)" in finding.message  # the domain's lead department


def test_task_without_status_names_task_department_and_statuses(case_findings):
    first = sorted(case_findings["task-no-status"], key=lambda f: f.line)[0]
    assert "task 1 «稳定就业»" in first.message
    assert "测试人社厅 (hrss)" in first.message
    assert "data/raw/submissions/test-unit/2018/hrss.xlsx" in first.message
    assert "in_progress 推进中" in first.message


def test_empty_section_points_at_the_text_in_the_other_language(case_findings):
    empty = _one(case_findings["lang-empty-section"], "lang-empty-section")
    assert "«Transport» {#sec-transport}" in empty.message
    assert f"{ZH_RESULTS}:6" in empty.message


def test_an_uncited_figure_is_one_finding_naming_its_department_and_variable(case_findings):
    uncited = [f for f in case_findings["figure-uncited"] if f.code == "figure-uncited"]
    assert len(uncited) == 1
    assert "bus_access_rate" in uncited[0].message
    assert "{{< var y2018.bus_access_rate.actual.en >}}" in uncited[0].message
    assert "测试交通厅 (trans)" in uncited[0].message and uncited[0].departments == ("trans",)
    assert "reports/2018/VARIABLES.md" in uncited[0].message


# --- publication: errors block, warnings do not ----------------------------------------------

@pytest.mark.parametrize("case", ["figure-uncited", "number-typed", "target-no-actual"])
def test_a_fixture_with_only_warnings_does_not_block_publication(tmp_path, case):
    findings = run_checks(make_project(tmp_path, case), YEAR)
    assert findings and all(f.severity == WARNING for f in findings)
    assert blocks_publication(findings) is False


def test_an_error_blocks_publication(case_findings):
    assert blocks_publication(case_findings["number-contradicts"]) is True
    assert blocks_publication([]) is False


def test_output_is_grouped_by_file_and_ends_with_a_count_per_kind(case_findings):
    findings = case_findings["number-contradicts"] + [
        Finding("data/raw/submissions/test-unit/2018/hrss.xlsx", 7, WARNING, "given-twice", "…")]
    lines = format_findings(findings).splitlines()
    assert lines[0] == "data/raw/submissions/test-unit/2018/hrss.xlsx"
    assert lines[1] == "  row 7: warning: given-twice: …"
    assert lines[3] == "reports/2018/en/_parts/results.qmd"
    assert lines[4].startswith("  4: error: number-contradicts: ")
    assert lines[6] == "reports/2018/zh/_parts/results.qmd"
    assert lines[-1].startswith("2 errors (错误), 1 warning (警告): 2 number-contradicts, 1 given-twice.")
    assert "warning" not in format_findings(findings, errors_only=True).splitlines()[1]
    assert format_findings([]) == "No problems found (没有发现问题)."
    whole_file = Finding("reports/2018", None, ERROR, "edition-missing", "start it")
    assert str(whole_file) == "reports/2018: error: edition-missing: start it"


def test_severity_must_be_error_or_warning():
    with pytest.raises(ValueError, match="severity"):
        Finding("a.qmd", 1, "info", "x", "y")


# --- data that is missing, stale or unreadable --------------------------------------------------

def test_without_any_build_it_checks_everything(tmp_path):
    """check reads data/raw itself: no clean data, no _variables.yml, nothing built."""
    dest = tmp_path / "unbuilt"
    shutil.copytree(FIXTURES / "base", dest)
    shutil.copytree(FIXTURES / "cases" / "number-contradicts", dest, dirs_exist_ok=True)
    findings = run_checks(dest, YEAR)
    assert where(findings) == CASES["number-contradicts"]
    assert not (dest / "data" / "clean").exists() and not (dest / "_variables.yml").exists()


def test_the_raw_data_as_it_is_now_counts_not_the_last_build(tmp_path):
    dest = make_project(tmp_path)  # built
    raw = dest / RAW_2018 / "employment_security.csv"
    raw.write_text(raw.read_text(encoding="utf-8").replace(",123.4,", ",120.0,"), encoding="utf-8")
    stale = dump_variables(build_edition_variables(dest, "test-unit", YEAR))
    (dest / "_variables.yml").write_text(stale, encoding="utf-8")  # still says 123.4万人
    findings = run_checks(dest, YEAR)
    assert findings == [], "the text cites the variables, which follow the raw data"
    part = dest / ZH_RESULTS
    part.write_text(part.read_text(encoding="utf-8").replace(
        "{{< var y2018.new_jobs.actual.zh >}}", "123.4万人"), encoding="utf-8")
    contradiction = _one(run_checks(dest, YEAR), "number-contradicts")
    assert "is 120.0万人 in the data" in contradiction.message


def test_a_broken_edition_config_is_reported_and_data_variables_are_still_checked(tmp_path):
    dest = make_project(tmp_path, "var-unknown")
    config = dest / "config" / "edition.yml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        'en: "Test [2099] No. 2"', "en: Test [2099] No. 2"), encoding="utf-8")
    findings = run_checks(dest, YEAR)
    # The index pages cite edition.title, which cannot be verified now: no finding for it.
    assert where(findings) == {("config/edition.yml", 28, ERROR, "edition-config"),
                               (ZH_RESULTS, 3, ERROR, "var-unknown")}


# --- task statuses ---------------------------------------------------------------------------

def test_statuses_come_from_the_submissions_as_they_are_now(tmp_path):
    """A status just entered counts, though no build has run since (issue 9 §3)."""
    dest = make_project(tmp_path, "task-no-status")
    write_submission(dest / "data/raw/submissions/test-unit/2018/hrss.xlsx", "hrss", [],
                     [[1, "稳定就业", "hrss", "已完成", "synthetic"]])
    assert where(run_checks(dest, YEAR)) == {
        ("data/raw/tasks/test-unit/2018/tasks.csv", 3, ERROR, "task-no-status")}


def test_the_first_edition_only_warns_about_statuses(tmp_path):
    dest = make_project(tmp_path, "task-no-status")
    config = dest / "config" / "edition.yml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    del data["editions"][2017]
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    findings = run_checks(dest, YEAR)
    assert {f.code for f in findings} == {"task-no-status"}
    assert all(f.severity == WARNING for f in findings)


# --- department submissions (a SYNTHETIC workbook written here) ------------------------------

def write_submission(path: Path, department: str, data_rows: list[list], task_rows: list[list],
                     *, unit: str = "test-unit", year: int = YEAR) -> None:
    """A filled department template: instructions, data, tasks and metadata (synthetic)."""
    book = openpyxl.Workbook()
    book.active.title = "instructions"
    book.active.append(["SYNTHETIC test submission for tests/test_check.py"])
    data = book.create_sheet("data")
    data.append(["indicator_id", "indicator", "unit", "target", "year", "measure", "value",
                 "source", "derived", "formula", "note"])
    for row in data_rows:
        data.append(row)
    tasks = book.create_sheet("tasks")
    tasks.append(["task_no", "task", "departments", "status", "note"])
    for row in task_rows:
        tasks.append(row)
    meta = book.create_sheet("metadata")
    for row in (["field", "value"], ["unit_id", unit], ["year", year],
                ["department_id", department], ["template_version", 2]):
        meta.append(row)
    meta.sheet_state = "hidden"
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def test_submission_rows_without_value_or_source(tmp_path):
    dest = make_project(tmp_path, "target-no-actual")
    sub = "data/raw/submissions/test-unit/2018/hrss.xlsx"
    empty = ["vocational_training", "职业技能培训", "万人次", "50", 2018, "actual", None, None, None, None, None]
    write_submission(dest / sub, "hrss", [empty], [])
    findings = run_checks(dest, YEAR)
    # The target without an actual now points at the row that should hold the actual.
    assert (sub, 2, WARNING, "target-no-actual") in where(findings)
    assert not [f for f in findings if f.code == "target-no-actual" and f.path != sub]
    (dest / sub).unlink()
    write_submission(dest / sub, "hrss", [empty, [
        "vocational_training", "职业技能培训", "万人次", "50", 2018, "actual", 2.5, None, None, None, "synthetic"]], [])
    source = _one(run_checks(dest, YEAR), "indicator-no-source")
    assert (source.path, source.line) == (sub, 3) and "column source" in source.message


def test_a_value_left_empty_without_a_target_is_not_reported(tmp_path):
    dest = make_project(tmp_path)
    sub = "data/raw/submissions/test-unit/2018/hrss.xlsx"
    write_submission(dest / sub, "hrss", [
        ["vocational_training", "职业技能培训", "万人次", None, 2018, "actual", None, None, None, None, None],
    ], [])
    assert (sub, 2, WARNING, "value-not-reported") in where(run_checks(dest, YEAR))


def test_a_task_left_without_status_points_at_the_submission_row(tmp_path):
    dest = make_project(tmp_path, "task-no-status")
    sub = "data/raw/submissions/test-unit/2018/trans.xlsx"
    write_submission(dest / sub, "trans", [], [[2, "农村客运", "trans", None, None]])
    findings = [f for f in run_checks(dest, YEAR) if f.code == "task-no-status"]
    assert where(findings) == {("data/raw/tasks/test-unit/2018/tasks.csv", 2, ERROR, "task-no-status"),
                               (sub, 2, ERROR, "task-no-status")}


# --- typed numbers: what is not a finding ------------------------------------------------------

def _with_extra_text(tmp_path: Path, zh: str, en: str) -> Path:
    dest = make_project(tmp_path)
    for rel, extra in ((ZH_RESULTS, zh), (EN_RESULTS, en)):
        path = dest / rel
        path.write_text(path.read_text(encoding="utf-8") + "\n" + extra + "\n", encoding="utf-8")
    return dest


def test_years_list_section_and_task_numbers_are_not_findings(tmp_path):
    dest = _with_extra_text(
        tmp_path,
        "2018年，按测试〔2099〕1号二(一)1的要求完成第2项任务（任务2）。\n\n"
        "1. 2017—2019年三年行动。\n2. （1）新增就业：见第3节。",
        "In 2018, task 2 of section 2.1.3 was completed under Test [2099] No. 1.\n\n"
        "1. The 2017–2019 plan.\n2. New jobs: see section 3 and tasks 1–2.")
    assert run_checks(dest, YEAR) == []


def test_differences_and_approximations_are_not_contradictions(tmp_path):
    dest = _with_extra_text(
        tmp_path,
        "新增就业比上年增加12.5万人。新增就业约125万人。新增就业超过120万人。",
        "New jobs were up by 0.125 million people. New jobs came to about 1.3 million people.")
    assert run_checks(dest, YEAR) == []


def test_rounded_figures_are_typed_not_contradictions(tmp_path):
    dest = _with_extra_text(tmp_path, "新增就业123万人。",
                            "Buses reached 88.8 per cent of villages.")
    findings = run_checks(dest, YEAR)
    assert {(f.path, f.severity, f.code) for f in findings} == {
        (ZH_RESULTS, WARNING, "number-typed"), (EN_RESULTS, WARNING, "number-typed")}
    assert any("{{< var y2018.bus_access_rate.actual.en >}}" in f.message for f in findings)


def test_shortcodes_code_and_front_matter_are_not_narrative(tmp_path):
    dest = _with_extra_text(
        tmp_path,
        "`新增就业123.0万人` 仅为代码示例。\n\n```\n新增就业123.0万人\n```\n\n<!-- 新增就业123.0万人 -->",
        "`1.240 million people` is only code.\n\n```\nNew jobs 1.240 million people\n```")
    assert run_checks(dest, YEAR) == []


# --- the real 2017 edition --------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_2017(tmp_path_factory) -> Path:
    """A scratch copy of the real 2017 sources, raw data and config, with clean data built."""
    dest = tmp_path_factory.mktemp("real2017") / "project"
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    shutil.copytree(ROOT / "config", dest / "config")
    shutil.copytree(ROOT / "reports" / "2017", dest / "reports" / "2017",
                    ignore=shutil.ignore_patterns("_generated", "VARIABLES.md"))
    for path in ROOT.glob("_quarto*.yml"):
        shutil.copy2(path, dest / path.name)
    build_clean(ProjectPaths.at(dest))
    return dest


def test_the_real_2017_edition_has_no_errors(real_2017):
    findings = run_checks(real_2017, 2017)
    assert not blocks_publication(findings), format_findings(findings)
    # The narrative cites every figure through a variable: nothing typed, nothing unknown.
    assert not {f.code for f in findings} & {"number-typed", "var-unknown",
                                               "lang-missing-section", "lang-empty-section"}


def test_check_writes_nothing(real_2017):
    before = tree_digest(real_2017)
    run_checks(real_2017, 2017)
    assert tree_digest(real_2017) == before


def test_a_retyped_figure_in_the_real_edition_is_caught(real_2017, tmp_path):
    dest = tmp_path / "project"
    shutil.copytree(real_2017, dest)
    part = dest / "reports" / "2017" / "zh" / "_parts" / "employment_security.qmd"
    text = part.read_text(encoding="utf-8")
    line = 1 + text[:text.index("{{< var y2017.urban_new_jobs.actual.zh >}}")].count("\n")
    part.write_text(text.replace("{{< var y2017.urban_new_jobs.actual.zh >}}", "149.0万人", 1),
                    encoding="utf-8")
    finding = _one(run_checks(dest, 2017), "number-contradicts")
    assert (finding.path, finding.line) == ("reports/2017/zh/_parts/employment_security.qmd", line)
    assert "城镇新增就业 is 148.9万人 in the data" in finding.message
    assert "the text says 149.0万人" in finding.message


def test_module_examples_run():
    import doctest

    import bpsreport.check
    assert doctest.testmod(bpsreport.check).failed == 0


# --- the build's cached check ----------------------------------------------------------------

def test_the_cached_check_reads_data_raw_again_only_when_the_data_changed(tmp_path, monkeypatch):
    """The build's check keeps what the data says (check-data.pickle): a narrative edit
    reuses it, a data edit reads data/raw again, and both give what a full check gives."""
    import bpsreport.check as check

    root = make_project(tmp_path)
    state = root / "build" / "test-unit" / str(YEAR) / "check-state.json"
    loads = []
    real_load = check._load_data
    monkeypatch.setattr(check, "_load_data", lambda *a: loads.append(a) or real_load(*a))

    def cached() -> list[Finding]:
        return check.run_checks_cached(root, YEAR, unit_id=None, state_file=state)

    assert cached() == [] and len(loads) == 1
    for case in ("number-typed", "var-unknown"):            # narrative: the data is reused
        shutil.copytree(FIXTURES / "cases" / case, root, dirs_exist_ok=True)
        assert where(cached()) == where(run_checks(root, YEAR)) != set()
        assert len(loads) == 1 + 1, case  # the uncached run_checks above read it, not cached()
        loads.pop()
    shutil.copytree(FIXTURES / "cases" / "target-no-actual", root, dirs_exist_ok=True)
    found = cached()                                         # data: read again
    assert len(loads) == 2
    assert "target-no-actual" in {f.code for f in found}
    assert where(found) == where(run_checks(root, YEAR))
