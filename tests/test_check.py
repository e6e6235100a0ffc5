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
    "var-unused": {(EN_RESULTS, 6, WARNING, "var-unused")},
    "lang-missing-section": {(ZH_RESULTS, 10, ERROR, "lang-missing-section")},
    # The empty English section also leaves the bus access rate uncited in English.
    "lang-empty-section": {(EN_RESULTS, 6, ERROR, "lang-empty-section"),
                           (EN_RESULTS, 6, WARNING, "var-unused")},
    "lang-missing-file": {("reports/2018/zh/_parts/extra.qmd", 1, ERROR, "lang-missing-file")},
    "include-missing": {("reports/2018/zh/index.qmd", 10, ERROR, "include-missing")},
    "number-typed": {(ZH_RESULTS, 5, WARNING, "number-typed")},
    "number-contradicts": {(ZH_RESULTS, 5, ERROR, "number-contradicts"),
                           (EN_RESULTS, 4, ERROR, "number-contradicts")},
    "todo-left-report": {(ZH_RESULTS, 8, ERROR, "todo-left")},
    "todo-left-config": {("config/edition.yml", 28, ERROR, "todo-left")},
    # Ingestion rejects the row too, so the build fails and data/clean is left stale.
    "indicator-no-source": {(f"{RAW_2018}/public_transport.csv", 3, ERROR, "indicator-no-source"),
                            ("data/clean", None, ERROR, "data-stale")},
    "target-no-actual": {(f"{RAW_2018}/employment_security.csv", 6, WARNING, "target-no-actual")},
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
                         "task-no-status", "lang-empty-section", "var-unused")}


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


def test_unused_variable_is_one_finding_per_indicator(case_findings):
    unused = [f for f in case_findings["var-unused"] if f.code == "var-unused"]
    assert len(unused) == 1
    assert "bus_access_rate" in unused[0].message
    assert "{{< var y2018.bus_access_rate.actual.en >}}" in unused[0].message


# --- publication: errors block, warnings do not ----------------------------------------------

@pytest.mark.parametrize("case", ["var-unused", "number-typed", "target-no-actual"])
def test_a_fixture_with_only_warnings_does_not_block_publication(tmp_path, case):
    findings = run_checks(make_project(tmp_path, case), YEAR)
    assert findings and all(f.severity == WARNING for f in findings)
    assert blocks_publication(findings) is False


def test_an_error_blocks_publication(case_findings):
    assert blocks_publication(case_findings["number-contradicts"]) is True
    assert blocks_publication([]) is False


def test_output_reads_like_a_compiler(case_findings):
    text = format_findings(case_findings["number-contradicts"])
    lines = text.splitlines()
    assert lines[0].startswith("reports/2018/en/_parts/results.qmd:4: error: number-contradicts: ")
    assert lines[1].startswith("reports/2018/zh/_parts/results.qmd:5: error: number-contradicts: ")
    assert lines[-1].startswith("2 errors (错误), 0 warnings (警告).")
    assert format_findings([]) == "No problems found (没有发现问题)."
    whole_file = Finding("data/clean", None, ERROR, "data-stale", "run the build")
    assert str(whole_file) == "data/clean: error: data-stale: run the build"


def test_severity_must_be_error_or_warning():
    with pytest.raises(ValueError, match="severity"):
        Finding("a.qmd", 1, "info", "x", "y")


# --- data that is missing, stale or unreadable --------------------------------------------------

def test_without_clean_data_it_says_to_build_and_checks_the_rest(tmp_path):
    dest = tmp_path / "unbuilt"
    shutil.copytree(FIXTURES / "base", dest)
    shutil.copytree(FIXTURES / "cases" / "todo-left-report", dest, dirs_exist_ok=True)
    findings = run_checks(dest, YEAR)
    assert where(findings) == {("data/clean/test-unit/2018", None, ERROR, "data-missing"),
                               (ZH_RESULTS, 8, ERROR, "todo-left")}
    assert "pipeline.py build --year 2018" in _one(findings, "data-missing").message


def test_clean_files_changed_by_hand_are_errors_naming_each_file(tmp_path):
    dest = make_project(tmp_path)
    folder = dest / "data" / "clean" / "test-unit" / str(YEAR)
    csv = folder / "observations.csv"
    csv.write_text(csv.read_text(encoding="utf-8-sig") + "\n", encoding="utf-8-sig")
    parquet = folder / "assessment.parquet"
    parquet.write_bytes(parquet.read_bytes()[:100])    # unreadable now: no crash either
    findings = run_checks(dest, YEAR)
    changed = {(f.path, f.severity) for f in findings if f.code == "data-changed"}
    assert changed == {(f"data/clean/test-unit/{YEAR}/observations.csv", ERROR),
                       (f"data/clean/test-unit/{YEAR}/assessment.parquet", ERROR)}
    assert all(f"pipeline.py build --year {YEAR}" in f.message and "from data/raw" in f.message
               for f in findings if f.code == "data-changed")
    assert blocks_publication(findings)


def test_a_stale_variables_file_is_a_warning(tmp_path):
    dest = make_project(tmp_path)
    text = dump_variables(build_edition_variables(dest, "test-unit", YEAR))
    (dest / "_variables.yml").write_text(text.replace("123.4万人", "120.0万人"), encoding="utf-8")
    assert where(run_checks(dest, YEAR)) == {("_variables.yml", None, WARNING, "variables-stale")}
    (dest / "_variables.yml").write_text(text, encoding="utf-8")
    assert run_checks(dest, YEAR) == []


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

def _replace_clean_table(root: Path, name: str, frame: pd.DataFrame) -> None:
    """Rewrite one table of the 2018 clean set the way the build writes clean data (with
    its manifest), so that the check trusts it."""
    import json

    from bpsreport import clean_store

    folder = root / "data" / "clean" / "test-unit" / str(YEAR)
    manifest = json.loads((folder / clean_store.MANIFEST).read_text(encoding="utf-8"))
    tables = {p.stem: pd.read_parquet(p) for p in folder.glob("*.parquet")} | {name: frame}
    clean_store.write_edition(root / "data" / "clean", "test-unit", YEAR, tables,
                              manifest["inputs"], config_hash=manifest["config_sha256"])


def test_statuses_in_the_clean_table_count(tmp_path):
    dest = make_project(tmp_path, "task-no-status")
    _replace_clean_table(dest, "task_status", pd.DataFrame({
        "task_no": [1, 2], "domain_id": ["employment_security", "public_transport"],
        "status": ["completed", "no_status"], "note": ["synthetic", ""],
        "department_id": ["hrss", ""], "source_file": ["", ""], "source_row": [None, None],
    }))
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

def write_submission(path: Path, data_rows: list[list], task_rows: list[list]) -> None:
    """A filled department template: instructions, data and tasks sheets (synthetic)."""
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
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)


def test_submission_rows_without_value_or_source(tmp_path):
    dest = make_project(tmp_path, "target-no-actual")
    sub = "data/raw/submissions/test-unit/2018/hrss.xlsx"
    write_submission(dest / sub, [
        ["vocational_training", "职业技能培训", "万人次", "50", 2018, "actual", None, None, None, None, None],
        ["unemployment_rate", "登记失业率", "%", "≤ 4%", 2018, "actual", 2.5, None, None, None, "synthetic"],
    ], [])
    findings = run_checks(dest, YEAR)
    # The target without an actual now points at the row that should hold the actual.
    assert (sub, 2, WARNING, "target-no-actual") in where(findings)
    assert (sub, 3, ERROR, "indicator-no-source") in where(findings)
    assert not [f for f in findings if f.code == "target-no-actual" and f.path != sub]


def test_a_value_left_empty_without_a_target_is_not_reported(tmp_path):
    dest = make_project(tmp_path)
    sub = "data/raw/submissions/test-unit/2018/hrss.xlsx"
    write_submission(dest / sub, [
        ["vocational_training", "职业技能培训", "万人次", None, 2018, "actual", None, None, None, None, None],
    ], [])
    assert (sub, 2, WARNING, "value-not-reported") in where(run_checks(dest, YEAR))


def test_a_task_left_without_status_points_at_the_submission_row(tmp_path):
    dest = make_project(tmp_path, "task-no-status")
    sub = "data/raw/submissions/test-unit/2018/trans.xlsx"
    write_submission(dest / sub, [], [[2, "农村客运", "trans", None, None]])
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
                    ignore=shutil.ignore_patterns("_generated"))
    build_clean(ProjectPaths.at(dest))
    return dest


def test_the_real_2017_edition_has_no_errors(real_2017):
    findings = run_checks(real_2017, 2017)
    assert not blocks_publication(findings), format_findings(findings)
    # The narrative cites every figure through a variable: nothing typed, nothing unknown.
    assert not {f.code for f in findings} & {"number-typed", "var-unknown", "var-unused",
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
