"""The 2018 key task list checked against the model document (粤财办〔2018〕6号, part 二).

The seed text is parsed here on purpose, independently of the package: these tests are the
evidence that ``data/raw/tasks/gd-province/2018/tasks.csv`` says what the document says
(task numbers, domains, responsible departments) without repeating its sentences.
"""

from __future__ import annotations

import csv
import re
from functools import lru_cache
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SEED = Path(__file__).resolve().parents[2] / "shared/seeds/002_5e5fa8c7b57dc6dd.txt"
TASKS_CSV = PROJECT / "data/raw/tasks/gd-province/2018/tasks.csv"
CATALOG = PROJECT / "data/raw/catalog"
DOC_NUMBER = "粤财办〔2018〕6号"
NUMERALS = "一二三四五六七八九十"
TASK_COUNT = 34
# Summaries must not share a run this long with the seed (whitespace ignored).
MAX_SHARED_RUN = 15

# The indicator ids agreed for the 2018 targets, by domain.
FIXED_INDICATORS = {
    "cross_cutting": {
        "livelihood_spending", "livelihood_spending_share", "transfers_to_cities_counties",
        "transfers_share_provincial_spending", "public_satisfaction", "cities_rated_excellent",
        "cities_rated_good", "provincial_livelihood_budget", "less_developed_special_transfers",
    },
    "public_health": {
        "health_centre_upgrades_main_works", "county_tcm_hospitals_construction_started",
        "county_peoples_hospitals_construction_started", "county_tcm_hospitals_equipped",
        "general_practitioners_trained", "obstetric_paediatric_doctors_trained",
    },
    "culture_sports": {"rural_public_film_screenings"},
    "public_transport": {"village_bus_access_rate", "transport_card_interconnected_cities"},
    "public_safety": {"county_correction_centre_staff", "judicial_office_correction_staff"},
    "living_security": {
        "extreme_poverty_support_ratio", "disability_living_allowance",
        "severe_disability_care_allowance", "resident_basic_pension_min",
        "resident_medical_insurance_subsidy", "accessibility_retrofit_households",
        "accessibility_retrofit_funding",
    },
    "housing_security": {"rural_dilapidated_housing_renovations"},
    "employment_security": {
        "urban_new_jobs", "reemployed_unemployed", "hard_to_employ_employed",
        "urban_registered_unemployment_rate",
    },
    "medical_security": {"case_based_payment_disease_types", "public_hospitals_clinical_pathway_share"},
    "environment": {
        "circular_economy_pilot_parks", "cleaner_production_audits", "carbon_sink_afforestation",
        "ecological_forest_belt", "villages_greened", "poor_villages_greened", "new_forest_parks",
        "new_wetland_parks",
    },
}
ALL_FIXED = set().union(*FIXED_INDICATORS.values())


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def _squeeze(text: str) -> str:
    """The text without whitespace and without the Markdown bold markers of tasks 17-20."""
    return re.sub(r"\s+", "", text).replace("**", "")


@lru_cache(maxsize=None)
def seed_text() -> str:
    return _squeeze(SEED.read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def seed_tasks() -> dict[int, dict]:
    """Each task of part 二 as {number: {heading, text, departments}} parsed from the seed.

    ``heading`` is the index (1..10) of the （一）..（十） domain heading above the task.
    """
    text = seed_text()
    start = text.index("二、2018年重点工作任务")
    end = text.index("（十一）工作措施", start)
    part = text[start:end]
    # A task number starts the text, follows a domain heading ("。") or a department
    # clause ("）"), and is an ASCII dot not followed by a digit (so not "3.5%").
    starts = list(re.finditer(r"(?<=[。）])(\d{1,2})\.(?!\d)", part))
    headings = [(m.start(), NUMERALS.index(m.group(1)) + 1)
                for m in re.finditer(r"（([一二三四五六七八九十])）", part)]
    tasks = {}
    for i, match in enumerate(starts):
        body = part[match.end(): starts[i + 1].start() if i + 1 < len(starts) else len(part)]
        clause = re.search(r"（负责部门：(.+?)）", body)
        heading = max(num for pos, num in headings if pos < match.start())
        tasks[int(match.group(1))] = {
            "heading": heading,
            "text": body,
            "departments": clause.group(1).split("、") if clause else [],
        }
    return tasks


@lru_cache(maxsize=None)
def task_rows() -> dict[int, dict[str, str]]:
    return {int(row["task_no"]): row for row in _read_csv(TASKS_CSV)}


@lru_cache(maxsize=None)
def domain_order() -> dict[str, int]:
    return {row["domain_id"]: int(row["order"]) for row in _read_csv(CATALOG / "domains.csv")}


@lru_cache(maxsize=None)
def department_zh() -> dict[str, str]:
    return {row["department_id"]: row["name_zh"] for row in _read_csv(CATALOG / "departments.csv")}


def test_seed_parser_finds_every_task_with_a_department_clause():
    tasks = seed_tasks()
    assert sorted(tasks) == list(range(1, TASK_COUNT + 1))
    assert all(t["departments"] for t in tasks.values())
    # Task 24's clause sits on its own line in the seed; it must still be found.
    assert tasks[24]["departments"] == ["省人力资源社会保障厅"]


def test_task_numbers_are_continuous_from_one():
    numbers = [int(row["task_no"]) for row in _read_csv(TASKS_CSV)]
    assert numbers == list(range(1, TASK_COUNT + 1))


@pytest.mark.parametrize("task_no", range(1, TASK_COUNT + 1))
def test_departments_match_the_seed_clause_in_order(task_no):
    ids = _split(task_rows()[task_no]["departments"])
    names = [department_zh()[i] for i in ids]
    assert names == seed_tasks()[task_no]["departments"]


@pytest.mark.parametrize("task_no", range(1, TASK_COUNT + 1))
def test_domain_matches_the_heading_the_task_sits_under(task_no):
    row = task_rows()[task_no]
    assert domain_order()[row["domain_id"]] == seed_tasks()[task_no]["heading"]


@pytest.mark.parametrize("task_no", range(1, TASK_COUNT + 1))
def test_source_cites_part_two_section_and_task(task_no):
    row = task_rows()[task_no]
    numeral = NUMERALS[seed_tasks()[task_no]["heading"] - 1]
    assert row["source"] == f"{DOC_NUMBER} 二({numeral}){task_no}"


def test_domains_appear_in_domain_order():
    orders = [domain_order()[row["domain_id"]] for row in _read_csv(TASKS_CSV)]
    assert orders == sorted(orders)
    assert set(orders) == set(range(1, 11))  # every domain has tasks; cross_cutting has none


def test_indicator_ids_are_fixed_ids_of_the_tasks_domain():
    for row in _read_csv(TASKS_CSV):
        for indicator_id in _split(row["indicators"]):
            assert indicator_id in ALL_FIXED, (row["task_no"], indicator_id)
            assert indicator_id in FIXED_INDICATORS[row["domain_id"]], (row["task_no"], indicator_id)


def test_each_2018_target_indicator_is_tied_to_exactly_one_task():
    seen = [i for row in _read_csv(TASKS_CSV) for i in _split(row["indicators"])]
    assert len(seen) == len(set(seen))
    # Spot checks: the task that states each target.
    owners = {i: int(row["task_no"]) for row in _read_csv(TASKS_CSV) for i in _split(row["indicators"])}
    assert owners["village_bus_access_rate"] == 10
    assert owners["urban_new_jobs"] == 24
    assert owners["disability_living_allowance"] == 19
    assert owners["new_wetland_parks"] == 34


@pytest.mark.parametrize("task_no", range(1, TASK_COUNT + 1))
def test_title_is_the_official_name_in_the_seed(task_no):
    """A task's title is its official name: the seed's words up to the first 。, exactly
    (the seed's spaces around numbers are PDF-extraction artefacts, its ** are markup)."""
    official = seed_tasks()[task_no]["text"].split("。", 1)[0]
    title = task_rows()[task_no]["title_zh"]
    assert title == official
    assert not re.search(r"\s", title)


@pytest.mark.parametrize("task_no", range(1, TASK_COUNT + 1))
def test_summary_does_not_repeat_the_title(task_no):
    """The description after the title is written anew: it does not restate the title
    or a clause of it."""
    row = task_rows()[task_no]
    summary = _squeeze(row["summary_zh"])
    for clause in re.split("[，、]", row["title_zh"]):
        if len(clause) >= 8:
            assert clause not in summary, clause


@pytest.mark.parametrize("task_no", range(1, TASK_COUNT + 1))
def test_summary_is_written_anew(task_no):
    summary = _squeeze(task_rows()[task_no]["summary_zh"])
    seed = seed_text()
    copied = [summary[i:i + MAX_SHARED_RUN] for i in range(len(summary) - MAX_SHARED_RUN + 1)
              if summary[i:i + MAX_SHARED_RUN] in seed]
    assert copied == []


@pytest.mark.parametrize("task_no", range(1, TASK_COUNT + 1))
def test_every_number_in_the_chinese_summary_is_in_the_seed_task(task_no):
    numbers = re.findall(r"\d+(?:\.\d+)?", task_rows()[task_no]["summary_zh"])
    task_text = seed_tasks()[task_no]["text"]
    assert [n for n in numbers if n not in task_text] == []


@pytest.mark.parametrize("task_no", range(1, TASK_COUNT + 1))
def test_all_text_columns_are_filled(task_no):
    row = task_rows()[task_no]
    for column in ("title_zh", "title_en", "summary_zh", "summary_en"):
        assert row[column].strip(), column
    assert re.search(r"[\u4e00-\u9fff]", row["summary_zh"])
    assert not re.search(r"[\u4e00-\u9fff]", row["title_en"] + row["summary_en"])


def test_quantified_targets_are_kept_in_the_summaries():
    rows = task_rows()
    assert "95%" in rows[10]["summary_zh"] and "95%" in rows[10]["summary_en"]
    assert "110万人" in rows[24]["summary_zh"] and "1.1 million" in rows[24]["summary_en"]
    assert "3.5%" in rows[24]["summary_zh"] and "3.5%" in rows[24]["summary_en"]
    assert "1890元" in rows[19]["summary_zh"] and "1,890 yuan" in rows[19]["summary_en"]
    assert "40407户" in rows[23]["summary_zh"] and "40,407" in rows[23]["summary_en"]
