"""Department submission templates: their structure, a filled one through ingestion into
clean observations and task statuses, errors naming the template's sheet/row/column, and
the task statuses in variables, generated parts and the task table.

All figures and statuses put into templates here are SYNTHETIC
(tests/fixtures/submissions/, see its README).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
import yaml

from bpsreport import tables
from bpsreport.build import build_clean
from bpsreport.catalog import load_catalog
from bpsreport.errors import InputValidationError
from bpsreport.generate import generate_edition_parts, generated_names
from bpsreport.ingest import ingest_all, ingest_edition
from bpsreport.paths import ProjectPaths
from bpsreport.readers import normalise_header
from bpsreport.submissions import (
    DATA_COLUMNS, NO_STATUS, STATUS_ORDER, TASK_SHEET_COLUMNS, TASK_STATUS_COLUMNS,
    TASK_STATUSES, TemplateError, fill_template, parse_task_status, task_status_label,
    write_department_template, write_department_templates)
from bpsreport.variables import build_variables

ROOT = Path(__file__).resolve().parents[1]

FIXTURE = ROOT / "tests" / "fixtures" / "submissions" / "hrss-2018-synthetic.yml"
UNIT, YEAR = "gd-province", 2018
DROP = Path("data/raw/submissions") / UNIT / str(YEAR)
HRSS_TASKS = [6, 20, 24, 25, 26, 28]  # 粤财办〔2018〕6号 二: tasks naming 省人力资源社会保障厅


def synthetic() -> dict:
    data = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    assert data["synthetic"] is True
    return data


def tree_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


# --- fixtures -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """A project copy (raw data, config) with clean data and the 2018 templates written."""
    dest = tmp_path_factory.mktemp("submissions") / "project"
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    shutil.copytree(ROOT / "config", dest / "config")
    build_clean(ProjectPaths.at(dest))
    write_department_templates(dest, None, YEAR, dest / "submissions" / str(YEAR))
    return dest


@pytest.fixture(scope="module")
def template(base) -> Path:
    return base / "submissions" / str(YEAR) / "hrss.xlsx"


@pytest.fixture(scope="module")
def filled(base, template, tmp_path_factory) -> Path:
    """A copy of ``base`` with the SYNTHETIC hrss submission dropped in and built clean."""
    dest = tmp_path_factory.mktemp("filled") / "project"
    shutil.copytree(base, dest)
    fixture = synthetic()
    fill_template(template, dest / DROP / "hrss.xlsx", data=fixture["data"], tasks=fixture["tasks"])
    build_clean(ProjectPaths.at(dest))
    return dest


@pytest.fixture(scope="module")
def clean_2018(filled) -> dict[str, pd.DataFrame]:
    folder = filled / "data" / "clean" / UNIT / str(YEAR)
    return {p.stem: pd.read_parquet(p) for p in folder.glob("*.parquet")}


def rows_by_key(ws) -> dict[str, int]:
    """First-column value → Excel row number."""
    return {str(ws.cell(row=r, column=1).value): r for r in range(2, ws.max_row + 1)}


def column_letter(columns, name: str) -> str:
    return openpyxl.utils.get_column_letter(columns.index(name) + 1)


# --- the template ---------------------------------------------------------------------------------

def test_template_has_its_sheets_and_ingestible_headers(template):
    book = openpyxl.load_workbook(template)
    assert book.sheetnames == ["instructions", "data", "tasks", "context", "metadata"]
    assert book["metadata"].sheet_state == "hidden" and book["metadata"].protection.sheet
    assert book["context"].protection.sheet and book["context"].sheet_state == "visible"
    for sheet, columns in (("data", DATA_COLUMNS), ("tasks", TASK_SHEET_COLUMNS)):
        header = [c.value for c in book[sheet][1]]
        assert [normalise_header(h) for h in header] == list(columns)
        assert all(" " in h for h in header), "each header carries a Chinese label"
    assert book.security.lockStructure


def test_hrss_template_prefills_the_2018_targets(template, catalog):
    ws = openpyxl.load_workbook(template)["data"]
    rows = rows_by_key(ws)
    target = column_letter(DATA_COLUMNS, "target")
    # 粤财办〔2018〕6号 二(八)24 and 二(六)20, 二(九)28
    assert ws[f"{target}{rows['urban_new_jobs']}"].value == "110万人"
    assert ws[f"{target}{rows['urban_registered_unemployment_rate']}"].value == "≤ 3.5%"
    assert ws[f"{target}{rows['resident_basic_pension_min']}"].value == "≥ 130元/月"
    assert ws[f"{target}{rows['case_based_payment_disease_types']}"].value == "≥ 1000个"
    for indicator_id, r in rows.items():
        assert catalog.reporting_department(indicator_id) == "hrss", indicator_id
        assert ws[f"{column_letter(DATA_COLUMNS, 'year')}{r}"].value == YEAR
        assert ws[f"{column_letter(DATA_COLUMNS, 'measure')}{r}"].value == "actual"
        assert ws[f"{column_letter(DATA_COLUMNS, 'unit')}{r}"].value == catalog.indicators.at[indicator_id, "unit"]
        assert ws[f"{column_letter(DATA_COLUMNS, 'value')}{r}"].value is None


def test_template_lists_the_departments_tasks(template):
    ws = openpyxl.load_workbook(template)["tasks"]
    numbers = [ws.cell(row=r, column=1).value for r in range(2, ws.max_row + 1)]
    assert numbers == HRSS_TASKS
    assert ws[f"B{2 + HRSS_TASKS.index(24)}"].value == "保持就业局势稳中有升"
    assert "省卫生计生委" in ws["C2"].value  # task 6 is shared


def test_prefilled_cells_are_locked_and_input_cells_open(template):
    book = openpyxl.load_workbook(template)
    for sheet, columns, inputs in (("data", DATA_COLUMNS, {"value", "source", "derived", "formula", "note"}),
                                   ("tasks", TASK_SHEET_COLUMNS, {"status", "note"})):
        ws = book[sheet]
        assert ws.protection.sheet and not ws.protection.password
        for r in range(2, ws.max_row + 1):
            for c, name in enumerate(columns, start=1):
                assert ws.cell(row=r, column=c).protection.locked == (name not in inputs), (sheet, r, name)
    assert book["instructions"].protection.sheet


def _validations_covering(ws, cell: str):
    return [dv for dv in ws.data_validations.dataValidation if cell in dv.sqref]


def test_input_cells_carry_data_validation(template, catalog):
    book = openpyxl.load_workbook(template)
    ws = book["data"]
    rows = rows_by_key(ws)
    value, derived = column_letter(DATA_COLUMNS, "value"), column_letter(DATA_COLUMNS, "derived")
    for indicator_id, r in rows.items():
        (check,) = _validations_covering(ws, f"{value}{r}")
        assert check.type == "decimal" and check.formula1 == "0"
        upper = catalog.upper_bound(indicator_id)
        if upper is None:
            assert check.operator == "greaterThanOrEqual"
        else:
            assert check.operator == "between" and float(check.formula2) == upper
        (flag,) = _validations_covering(ws, f"{derived}{r}")
        assert flag.type == "list" and flag.formula1 == '"yes,no"'
    rate = rows["urban_registered_unemployment_rate"]
    assert _validations_covering(ws, f"{value}{rate}")[0].formula2 == "100"

    tasks = book["tasks"]
    status = column_letter(TASK_SHEET_COLUMNS, "status")
    for r in range(2, tasks.max_row + 1):
        (check,) = _validations_covering(tasks, f"{status}{r}")
        assert check.type == "list"
        choices = check.formula1.strip('"').split(",")
        assert set(TASK_STATUSES) <= set(choices)
        assert {"已完成", "推进中", "未启动", "不适用"} <= set(choices)


def test_instructions_are_bilingual_and_say_where_to_drop_the_file(template):
    ws = openpyxl.load_workbook(template)["instructions"]
    zh = "\n".join(str(c.value) for c in ws["A"] if c.value)
    en = "\n".join(str(c.value) for c in ws["B"] if c.value)
    drop = (DROP / "hrss.xlsx").as_posix()
    assert drop in zh and drop in en
    assert "省人力资源社会保障厅" in zh and "Human Resources and Social Security" in en
    for status in TASK_STATUSES:
        assert status in zh and task_status_label(status, "zh") in zh and status in en
    assert "derived" in en and "formula" in zh and "省财政厅" in zh


def test_templates_are_written_once_and_never_overwritten(base, catalog, template):
    out = base / "submissions" / str(YEAR)
    names = sorted(p.name for p in out.glob("*.xlsx"))
    # 省中医药局 reports no figure and leads no task (it shares tasks 5 and 6): no workbook.
    assert "hrss.xlsx" in names and "finance.xlsx" in names and "tcm.xlsx" not in names
    assert len(names) == len(catalog.departments) - 1
    before = tree_hashes(out)
    assert write_department_templates(base, UNIT, YEAR, out) == []
    assert tree_hashes(out) == before
    with pytest.raises(TemplateError, match="already exists"):
        write_department_template(template, catalog, UNIT, YEAR, "hrss",
                                  clean_dir=base / "data" / "clean")
    assert tree_hashes(out) == before


def test_template_leaves_out_indicators_already_given_elsewhere(base, catalog, tmp_path):
    clean = tmp_path / "clean"
    shutil.copytree(base / "data" / "clean", clean)
    path = clean / UNIT / str(YEAR) / "observations.parquet"
    obs = pd.read_parquet(path)
    extra = obs[obs["indicator_id"] == "urban_new_jobs"].assign(
        measure="actual", value=1.0, source_file="data/raw/observations/x.csv")  # SYNTHETIC
    pd.concat([obs, extra], ignore_index=True).to_parquet(path)
    book = openpyxl.load_workbook(write_department_template(
        tmp_path / "hrss.xlsx", catalog, UNIT, YEAR, "hrss", clean_dir=clean))
    assert "urban_new_jobs" not in rows_by_key(book["data"])
    assert "hard_to_employ_employed" in rows_by_key(book["data"])


def test_status_words_accept_ids_and_labels():
    assert [parse_task_status(s) for s in ("completed", "已完成", "In progress", "推进中",
                                            "not-started", "未启动", "不适用", "Not applicable")] == [
        "completed", "completed", "in_progress", "in_progress", "not_started", "not_started",
        "not_applicable", "not_applicable"]
    assert parse_task_status("done") is None and parse_task_status("") is None


# --- a filled template ----------------------------------------------------------------------------

def test_filled_template_becomes_clean_observations(clean_2018, template):
    fixture = synthetic()
    obs = clean_2018["observations"]
    got = obs[obs["source_file"] == (DROP / "hrss.xlsx").as_posix()]
    assert sorted(got["indicator_id"]) == sorted(fixture["data"])
    rows = rows_by_key(openpyxl.load_workbook(template)["data"])
    for rec in got.to_dict("records"):
        expected = fixture["data"][rec["indicator_id"]]
        assert rec["value"] == pytest.approx(expected["value"])
        assert rec["measure"] == "actual" and rec["year"] == YEAR
        assert rec["source"] == expected["source"] and rec["source_sheet"] == "data"
        assert rec["source_row"] == rows[rec["indicator_id"]]
    pension = got.set_index("indicator_id").loc["resident_basic_pension_min"]
    assert bool(pension["derived"]) and pension["formula"] == "SYNTHETIC 120 + 28"
    # The 2018 targets from the domain files are still there, now next to the actuals.
    assessment = clean_2018["assessment"].set_index("indicator_id")
    assert assessment.at["urban_new_jobs", "target"] == 110
    assert assessment.at["urban_new_jobs", "actual"] == pytest.approx(123.4)


def test_filled_template_gives_every_task_a_status_row(clean_2018, filled):
    status = clean_2018["task_status"]
    assert list(status.columns) == TASK_STATUS_COLUMNS
    assert status["task_no"].tolist() == list(range(1, 35))
    by_no = status.set_index("task_no")
    expected = {20: "in_progress", 24: "completed", 25: "in_progress", 26: "not_started",
                28: "not_applicable"}
    for number, value in expected.items():
        assert by_no.at[number, "status"] == value
        assert by_no.at[number, "department_id"] == "hrss"
        assert by_no.at[number, "source_file"] == (DROP / "hrss.xlsx").as_posix()
    assert by_no.at[24, "note"] == "SYNTHETIC 合成数据，非真实情况"
    assert by_no.at[24, "source_row"] == 2 + HRSS_TASKS.index(24)
    others = by_no.drop(index=list(expected))
    assert (others["status"] == NO_STATUS).all() and others["source_row"].isna().all()
    assert (filled / "data" / "clean" / UNIT / str(YEAR) / "task_status.csv").is_file()


def test_manifest_lists_the_submission(filled):
    manifest = json.loads((filled / "data" / "clean" / UNIT / str(YEAR) / "manifest.json")
                          .read_text(encoding="utf-8"))
    inputs = {i["path"]: i for i in manifest["inputs"]}
    entry = inputs[(DROP / "hrss.xlsx").as_posix()]
    assert entry["rows"] == len(synthetic()["data"]) + len(synthetic()["tasks"])
    assert entry["sha256"] == hashlib.sha256((filled / DROP / "hrss.xlsx").read_bytes()).hexdigest()
    assert {o["path"] for o in manifest["outputs"]} >= {"task_status.parquet", "task_status.csv"}


def test_a_year_without_a_task_list_has_no_task_status(filled):
    assert not (filled / "data" / "clean" / UNIT / "2017" / "task_status.parquet").exists()


def test_ingestion_leaves_raw_files_unchanged(base, template, tmp_path):
    project = tmp_path / "project"
    shutil.copytree(base / "data" / "raw", project / "data" / "raw")
    shutil.copytree(base / "config", project / "config")
    fixture = synthetic()
    fill_template(template, project / DROP / "hrss.xlsx", data=fixture["data"], tasks=fixture["tasks"])
    before = tree_hashes(project / "data" / "raw")
    build_clean(ProjectPaths.at(project))
    assert tree_hashes(project / "data" / "raw") == before


# --- bad fills ------------------------------------------------------------------------------------

def ingest_with(base: Path, template: Path, tmp_path: Path, *, data=None, tasks=None, edit=None,
                name: str = "hrss") -> list:
    """Drop a filled (and optionally hand-edited) template into a raw copy; the problems."""
    raw = tmp_path / "project" / "data" / "raw"
    shutil.copytree(base / "data" / "raw", raw)
    dest = fill_template(template, raw.parent.parent / DROP / f"{name}.xlsx",
                         data=data or {}, tasks=tasks or {})
    if edit is not None:
        book = openpyxl.load_workbook(dest)
        edit(book)
        book.save(dest)
    catalog = load_catalog(raw, root=raw.parent.parent)
    with pytest.raises(InputValidationError) as caught:
        ingest_edition(raw, catalog, UNIT, YEAR, root=raw.parent.parent)
    return caught.value.problems


def only(problems, **where):
    found = [p for p in problems if all(getattr(p, k) == v for k, v in where.items())]
    assert len(found) == 1, [str(p) for p in problems]
    return found[0]


def test_non_numeric_value_names_sheet_row_and_column(base, template, tmp_path):
    row = rows_by_key(openpyxl.load_workbook(template)["data"])["urban_new_jobs"]
    problems = ingest_with(base, template, tmp_path, data={
        "urban_new_jobs": {"value": "约一百万", "source": "SYNTHETIC"}})
    problem = only(problems, sheet="data", row=row, column="value")
    assert problem.file == (DROP / "hrss.xlsx").as_posix() and problem.found == "约一百万"
    assert "a number in 万人" in problem.expected
    assert f"sheet 'data', row {row}, column 'value'" in str(problem)


def test_value_above_the_catalog_bound_is_refused(base, template, tmp_path):
    row = rows_by_key(openpyxl.load_workbook(template)["data"])["urban_registered_unemployment_rate"]
    problems = ingest_with(base, template, tmp_path, data={
        "urban_registered_unemployment_rate": {"value": 135, "source": "SYNTHETIC"}})
    assert "from 0 to 100" in only(problems, sheet="data", row=row, column="value").expected


def test_status_not_in_the_list(base, template, tmp_path):
    problems = ingest_with(base, template, tmp_path, tasks={24: {"status": "done"}})
    problem = only(problems, sheet="tasks", row=2 + HRSS_TASKS.index(24), column="status")
    assert problem.found == "done" and "completed (已完成)" in problem.expected


def test_note_without_status(base, template, tmp_path):
    problems = ingest_with(base, template, tmp_path, tasks={24: {"note": "SYNTHETIC"}})
    assert only(problems, sheet="tasks", row=2 + HRSS_TASKS.index(24), column="status")


def test_task_of_another_department(base, template, tmp_path):
    row = 2 + HRSS_TASKS.index(25)

    def renumber(book):  # task 1 is 省教育厅's (粤财办〔2018〕6号 二(一)1)
        book["tasks"].cell(row=row, column=1, value=1)

    problems = ingest_with(base, template, tmp_path, tasks={25: {"status": "completed"}},
                           edit=renumber)
    problem = only(problems, sheet="tasks", row=row, column="task_no")
    assert "task 1 is the responsibility of 省教育厅 (edu)" in problem.expected
    assert "6, 20, 24, 25, 26, 28" in problem.expected


def test_task_number_not_in_the_list(base, template, tmp_path):
    row = 2 + HRSS_TASKS.index(25)

    def renumber(book):
        book["tasks"].cell(row=row, column=1, value=99)

    problems = ingest_with(base, template, tmp_path, tasks={25: {"status": "completed"}},
                           edit=renumber)
    assert "1 to 34" in only(problems, sheet="tasks", row=row, column="task_no").expected


def ingest_ok(base: Path, tmp_path: Path, files: dict[str, Path]):
    """Drop workbooks into a raw copy and ingest the edition (it must validate)."""
    raw = tmp_path / "project" / "data" / "raw"
    if not raw.is_dir():
        shutil.copytree(base / "data" / "raw", raw)
    for name, book in files.items():
        (raw.parent.parent / DROP).mkdir(parents=True, exist_ok=True)
        shutil.copy(book, raw.parent.parent / DROP / f"{name}.xlsx")
    catalog = load_catalog(raw, root=raw.parent.parent)
    return ingest_edition(raw, catalog, UNIT, YEAR, root=raw.parent.parent)


def add_data_row(path: Path, indicator_id: str, unit: str, value, *, source="SYNTHETIC") -> int:
    """A hand-edited workbook: one more data row (the sheet's protection is no lock)."""
    book = openpyxl.load_workbook(path)
    ws = book["data"]
    row = ws.max_row + 1
    cells = {"indicator_id": indicator_id, "unit": unit, "year": YEAR, "measure": "actual",
             "value": value, "source": source}
    for name, text in cells.items():
        ws.cell(row=row, column=DATA_COLUMNS.index(name) + 1, value=text)
    book.save(path)
    return row


def add_task_row(path: Path, task_no: int, status: str) -> int:
    book = openpyxl.load_workbook(path)
    ws = book["tasks"]
    row = ws.max_row + 1
    ws.cell(row=row, column=1, value=task_no)
    ws.cell(row=row, column=TASK_SHEET_COLUMNS.index("status") + 1, value=status)
    book.save(path)
    return row


def test_each_figure_and_task_is_asked_for_in_one_workbook_only(base, catalog):
    """Issue 9 §2: no two templates list the same indicator or the same task."""
    asked: dict[str, str] = {}
    tasks_asked: dict[int, str] = {}
    for path in sorted((base / "submissions" / str(YEAR)).glob("*.xlsx")):
        book = openpyxl.load_workbook(path)
        for indicator_id in rows_by_key(book["data"]):
            assert indicator_id not in asked, (indicator_id, asked.get(indicator_id), path.name)
            asked[indicator_id] = path.stem
            assert catalog.reporting_department(indicator_id) == path.stem
        for task_no in rows_by_key(book["tasks"]):
            assert int(task_no) not in tasks_asked, (task_no, path.name)
            tasks_asked[int(task_no)] = path.stem
    assert "urban_new_jobs" in asked and sorted(tasks_asked) == list(range(1, 35))


def test_the_context_sheet_shows_the_domains_other_figures_read_only(base):
    book = openpyxl.load_workbook(base / "submissions" / str(YEAR) / "hrss.xlsx")
    ws = book["context"]
    cells = [[c.value for c in row] for row in ws.iter_rows()]
    listed = {row[0]: row for row in cells if row and row[0]}
    # 公共卫生 is co-led by hrss; 全科医生培养培训 is the health commission's figure
    # (粤财办〔2018〕6号 二(二)5), so hrss sees it here and is not asked for it.
    assert "general_practitioners_trained" in listed
    assert "省卫生计生委 (health)" in listed["general_practitioners_trained"]
    assert "general_practitioners_trained" not in rows_by_key(book["data"])
    assert all(c.protection.locked for row in ws.iter_rows() for c in row)
    assert "只读" in str(ws["A1"].value) and "Read only" in str(ws["A1"].value)
    # tasks shared with hrss but led by another department: none in 2018 (hrss leads 6).
    health = openpyxl.load_workbook(base / "submissions" / str(YEAR) / "health.xlsx")["context"]
    health_cells = {row[0].value: [c.value for c in row] for row in health.iter_rows() if row[0].value}
    assert 6 in health_cells and "省人力资源社会保障厅 (hrss)" in health_cells[6]


def test_a_figure_from_a_department_that_does_not_report_it_is_used_with_a_warning(base, template, tmp_path):
    hrss = fill_template(template, tmp_path / "hrss.xlsx", data={})
    row = add_data_row(hrss, "village_bus_access_rate", "%", 93)  # 省交通运输厅 reports it
    result = ingest_ok(base, tmp_path, {"hrss": hrss})
    obs = result.observations
    got = obs[(obs["indicator_id"] == "village_bus_access_rate") & (obs["measure"] == "actual")]
    assert list(got["value"]) == [93.0] and list(got["source_row"]) == [row]
    (warning,) = [w for w in result.warnings if w.code == "not-reporting-department"]
    assert (warning.file, warning.sheet, warning.row) == ((DROP / "hrss.xlsx").as_posix(), "data", row)
    assert "省交通运输厅 (transport)" in warning.message and "transport.xlsx" in warning.message
    assert set(warning.departments) == {"hrss", "transport"}


def test_the_same_figure_in_two_workbooks_agreeing_the_owner_wins_with_one_warning(base, template, tmp_path):
    hrss = fill_template(template, tmp_path / "hrss.xlsx",
                         data={"urban_new_jobs": {"value": 123.4, "source": "SYNTHETIC"}})
    owner_row = rows_by_key(openpyxl.load_workbook(hrss)["data"])["urban_new_jobs"]
    # An edited workbook of 省残联 gives the same figure (a leftover of an older template).
    other = fill_template(base / "submissions" / str(YEAR) / "disabled_federation.xlsx",
                          tmp_path / "disabled_federation.xlsx", data={})
    other_row = add_data_row(other, "urban_new_jobs", "万人", 123.4)
    result = ingest_ok(base, tmp_path, {"hrss": hrss, "disabled_federation": other})
    obs = result.observations
    got = obs[(obs["indicator_id"] == "urban_new_jobs") & (obs["measure"] == "actual")]
    assert list(got["source_file"]) == [(DROP / "hrss.xlsx").as_posix()]
    assert list(got["source_row"]) == [owner_row]
    (warning,) = result.warnings
    assert warning.code == "given-twice"
    assert (warning.file, warning.row) == ((DROP / "disabled_federation.xlsx").as_posix(), other_row)
    assert (DROP / "hrss.xlsx").as_posix() in warning.message
    assert (DROP / "disabled_federation.xlsx").as_posix() in warning.message
    assert "省人力资源社会保障厅 (hrss) reports it" in warning.message


def test_the_same_figure_in_two_workbooks_disagreeing_is_one_problem_naming_both(base, template, tmp_path):
    hrss = fill_template(template, tmp_path / "hrss.xlsx",
                         data={"urban_new_jobs": {"value": 123.4, "source": "SYNTHETIC"}})
    other = fill_template(base / "submissions" / str(YEAR) / "disabled_federation.xlsx",
                          tmp_path / "disabled_federation.xlsx", data={})
    other_row = add_data_row(other, "urban_new_jobs", "万人", 120)

    def drop_other(book):
        shutil.copy(other, tmp_path / "project" / DROP / "disabled_federation.xlsx")

    problems = ingest_with(base, hrss, tmp_path, edit=drop_other)
    problem = only(problems)
    assert (problem.file, problem.sheet, problem.row, problem.column, problem.found) == (
        (DROP / "disabled_federation.xlsx").as_posix(), "data", other_row, "value", "120")
    assert "123.4" in problem.expected and (DROP / "hrss.xlsx").as_posix() in problem.expected


def test_a_shared_task_status_given_twice_the_lead_wins_when_they_agree(base, template, tmp_path):
    # Task 6 names three departments (hrss, health, tcm), hrss first: hrss reports it.
    hrss = fill_template(template, tmp_path / "hrss.xlsx", tasks={6: {"status": "in_progress"}})
    health = fill_template(base / "submissions" / str(YEAR) / "health.xlsx", tmp_path / "health.xlsx")
    assert 6 not in [int(n) for n in rows_by_key(openpyxl.load_workbook(health)["tasks"])]
    row = add_task_row(health, 6, "推进中")
    result = ingest_ok(base, tmp_path, {"hrss": hrss, "health": health})
    status = result.task_status.set_index("task_no").loc[6]
    assert status["status"] == "in_progress" and status["department_id"] == "hrss"
    (warning,) = result.warnings
    assert (warning.file, warning.sheet, warning.row) == ((DROP / "health.xlsx").as_posix(), "tasks", row)
    assert "task 6" in warning.message and "hrss.xlsx" in warning.message


def test_a_shared_task_status_given_twice_differently_is_one_problem(base, template, tmp_path):
    health = fill_template(base / "submissions" / str(YEAR) / "health.xlsx", tmp_path / "health.xlsx")
    row = add_task_row(health, 6, "completed")

    def drop_health(book):
        shutil.copy(health, tmp_path / "project" / DROP / "health.xlsx")

    problems = ingest_with(base, template, tmp_path, tasks={6: {"status": "in_progress"}},
                           edit=drop_health)
    problem = only(problems)
    assert (problem.file, problem.sheet, problem.row, problem.column) == (
        (DROP / "health.xlsx").as_posix(), "tasks", row, "status")
    assert "hrss.xlsx" in problem.expected and "in_progress" in problem.expected


# --- the workbook says which unit, year and department it is for (issue 12 §2) ---------------

@pytest.mark.parametrize("folder, name, row, found, words", [
    (Path("data/raw/submissions/qingyuan") / str(YEAR), "hrss", 2, "gd-province",
     ["qingyuan, the report unit of the folder data/raw/submissions/qingyuan/2018/",
      "move it to data/raw/submissions/gd-province/2018/hrss.xlsx"]),
    (Path("data/raw/submissions") / UNIT / "2019", "hrss", 3, "2018",
     ["2019, the year of the folder data/raw/submissions/gd-province/2019/",
      "move it to data/raw/submissions/gd-province/2018/hrss.xlsx"]),
    (DROP, "edu", 4, "hrss",
     ["edu, the department the file is named after (edu.xlsx)", "name the file hrss.xlsx"]),
])
def test_a_workbook_in_the_wrong_folder_is_refused_naming_the_cell(base, template, tmp_path,
                                                                   folder, name, row, found, words):
    project = tmp_path / "project"
    shutil.copytree(base / "data" / "raw", project / "data" / "raw")
    dest = fill_template(template, project / folder / f"{name}.xlsx",
                         data={"urban_new_jobs": {"value": 123.4, "source": "SYNTHETIC"}})
    catalog = load_catalog(project / "data" / "raw", root=project)
    with pytest.raises(InputValidationError) as caught:
        ingest_all(project / "data" / "raw", catalog, root=project)
    problem = only(caught.value.problems, sheet="metadata")
    assert problem.file == (folder / f"{name}.xlsx").as_posix() == dest.relative_to(project).as_posix()
    assert (problem.row, problem.column, problem.found) == (row, "value", found)
    assert f"cell B{row}" in problem.expected
    for text in words:
        assert text in problem.expected


def test_an_older_workbook_without_metadata_is_refused_with_the_fix(base, template, tmp_path):
    def strip_metadata(book):
        del book["metadata"]

    problems = ingest_with(base, template, tmp_path, data={
        "urban_new_jobs": {"value": 123.4, "source": "SYNTHETIC"}}, edit=strip_metadata)
    problem = only(problems)
    assert problem.file == (DROP / "hrss.xlsx").as_posix() and problem.found == "no metadata sheet"
    assert "submissions/2018/hrss.xlsx" in problem.expected and "new-year 2018" in problem.expected


def test_duplicate_with_a_domain_file_names_both_places(base, template, tmp_path):
    row = rows_by_key(openpyxl.load_workbook(template)["data"])["urban_new_jobs"]

    def also_in_domain_file(book):
        domain_file = tmp_path / "project" / "data" / "raw" / "observations" / UNIT / "2018" / "employment_security.csv"
        with open(domain_file, "a", encoding="utf-8") as fh:
            fh.write("urban_new_jobs,城镇新增就业,2018,actual,,120,万人,SYNTHETIC,,,SYNTHETIC\n")

    problems = ingest_with(base, template, tmp_path, data={
        "urban_new_jobs": {"value": 123.4, "source": "SYNTHETIC"}}, edit=also_in_domain_file)
    problem = only(problems, sheet="data", row=row, column="indicator_id")
    assert problem.file == (DROP / "hrss.xlsx").as_posix()
    assert f"data/raw/observations/{UNIT}/2018/employment_security.csv, row 5" in problem.expected


def test_unknown_department_file_is_named(base, template, tmp_path):
    problems = ingest_with(base, template, tmp_path, data={}, name="hr_dept")
    problem = only(problems, file=(DROP / "hr_dept.xlsx").as_posix())
    assert problem.found == "hr_dept.xlsx" and "hrss" in problem.expected


def test_missing_or_extra_sheets(base, template, tmp_path):
    def restructure(book):
        del book["tasks"]
        book.create_sheet("Sheet2")

    problems = ingest_with(base, template, tmp_path, edit=restructure)
    assert "a sheet named tasks" in only(problems, sheet=None).expected
    assert "only the sheets data, tasks" in only(problems, sheet="Sheet2").expected
    assert "metadata" not in {p.sheet for p in problems}


def test_measure_other_than_actual(base, template, tmp_path):
    row = rows_by_key(openpyxl.load_workbook(template)["data"])["urban_new_jobs"]

    def as_target(book):
        book["data"].cell(row=row, column=DATA_COLUMNS.index("measure") + 1, value="target")

    problems = ingest_with(base, template, tmp_path, data={
        "urban_new_jobs": {"value": 100, "source": "SYNTHETIC"}}, edit=as_target)
    assert "actual" in only(problems, sheet="data", row=row, column="measure").expected


def test_missing_source_on_a_reported_value(base, template, tmp_path):
    row = rows_by_key(openpyxl.load_workbook(template)["data"])["hard_to_employ_employed"]
    problems = ingest_with(base, template, tmp_path, data={"hard_to_employ_employed": {"value": 10}})
    assert only(problems, sheet="data", row=row, column="source")


# --- the report --------------------------------------------------------------------------------------

def test_variables_expose_statuses_notes_and_counts(filled, catalog):
    clean = filled / "data" / "clean"
    data = build_variables(clean, catalog, UNIT, [2017, 2018], edition_year=YEAR)
    tasks = data["y2018"]["tasks"]
    assert sorted(tasks, key=int) == [str(n) for n in range(1, 35)]
    assert tasks["24"]["status"] == {"zh": "已完成", "en": "Completed"}
    assert tasks["24"]["note"] == {"zh": "SYNTHETIC 合成数据，非真实情况", "en": "SYNTHETIC 合成数据，非真实情况"}
    assert tasks["1"]["status"] == {"zh": "未报送", "en": "Not reported"} and tasks["1"]["note"]["zh"] == "—"  # no note: a dash, not an empty sentence
    employment = data["y2018"]["domains"]["employment_security"]
    assert {k: employment[f"tasks_{k}"]["zh"] for k in STATUS_ORDER} == {
        "completed": "1", "in_progress": "1", "not_started": "1", "not_applicable": "0",
        "no_status": "1"}
    assert data["y2018"]["summary"]["tasks_no_status"]["en"] == "29"
    # The 2017 edition publishes the 2018 list but does not report on it.
    published = build_variables(clean, catalog, UNIT, [2017, 2018], edition_year=2017)
    assert "tasks" not in published["y2018"]
    assert "tasks_completed" not in published["y2018"]["summary"]


def test_generated_task_status_parts(filled, catalog, clean_2018):
    written = generate_edition_parts(filled, UNIT, YEAR, catalog=catalog)
    names = {g.path.name for g in written if g.path.name.startswith("task-status-")}
    expected = {n for n in generated_names(catalog, None, status_tasks=clean_2018["tasks"])
                if n.startswith("task-status-")}
    assert names == expected and len(names) == 11  # 10 domains + all
    for lang, label, counts in (("zh", "已完成", "本领域4项任务：已完成1项，推进中1项，未启动1项，未报送1项。"),
                                ("en", "Completed", "Status of the domain's 4 tasks: Completed: 1; In progress: 1; "
                                                    "Not started: 1; Not reported: 1.")):
        folder = filled / "reports" / str(YEAR) / lang / "_generated"
        part = (folder / "task-status-employment_security.qmd").read_text(encoding="utf-8")
        assert counts in part
        assert f"24. **" in part and f"**{label}**" in part and "SYNTHETIC 合成数据，非真实情况" in part
        every = (folder / "task-status-all.qmd").read_text(encoding="utf-8")
        assert all(f"\n{n}. **" in every for n in range(1, 35))
        assert "{#sec-task-status-employment-security}" in every


def test_2017_edition_gets_no_task_status_parts(filled, catalog):
    written = generate_edition_parts(filled, UNIT, 2017, catalog=catalog)
    assert not [g for g in written if g.path.name.startswith("task-status-")]


def test_task_table_gets_a_coloured_status_column(clean_2018, catalog):
    tasks, status = clean_2018["tasks"], clean_2018["task_status"]
    rows = tables.task_rows(tasks, catalog, "zh", statuses=status)
    by_no = rows.set_index("task_no")
    assert by_no.at[24, "status"] == "已完成" and by_no.at[1, "status"] == "未报送"
    html = tables.table_html(tables.task_table(tasks, catalog, "en", statuses=status))
    assert ">Status<" in html
    assert 'background-color: #E2F1E8;' in html  # completed, config/labels.yml
    plain = tables.table_html(tables.task_table(tasks, catalog, "en"))
    assert ">Status<" not in plain and "status" not in tables.task_rows(tasks, catalog, "en").columns
