"""The domain and department catalog files (``data/raw/catalog/``)."""

from __future__ import annotations

import csv
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
CATALOG = PROJECT / "data/raw/catalog"
DOMAIN_IDS = [
    "cross_cutting", "education", "public_health", "culture_sports", "public_transport",
    "public_safety", "living_security", "housing_security", "employment_security",
    "medical_security", "environment",
]


def _read_csv(name: str) -> list[dict[str, str]]:
    with (CATALOG / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(";") if part.strip()]


def test_eleven_domains_in_the_seed_order():
    domains = _read_csv("domains.csv")
    assert len(domains) == 11
    ordered = sorted(domains, key=lambda row: int(row["order"]))
    assert [row["domain_id"] for row in ordered] == DOMAIN_IDS


def test_domain_orders_are_unique_and_run_from_zero_to_ten():
    orders = [int(row["order"]) for row in _read_csv("domains.csv")]
    assert sorted(orders) == list(range(11))


def test_domain_names_are_filled_in_both_languages():
    for row in _read_csv("domains.csv"):
        assert row["name_zh"].strip() and row["name_en"].strip(), row["domain_id"]
    names = {row["domain_id"]: (row["name_zh"], row["name_en"]) for row in _read_csv("domains.csv")}
    assert names["education"] == ("公共教育", "Public education")
    assert names["environment"] == ("生态环境保障", "Environmental protection")


def test_every_domain_has_lead_departments_that_exist():
    known = {row["department_id"] for row in _read_csv("departments.csv")}
    for row in _read_csv("domains.csv"):
        leads = _split(row["lead_departments"])
        assert leads, row["domain_id"]
        assert set(leads) <= known, (row["domain_id"], set(leads) - known)


def test_cross_cutting_part_is_led_by_the_finance_department():
    domains = {row["domain_id"]: row for row in _read_csv("domains.csv")}
    departments = {row["department_id"]: row for row in _read_csv("departments.csv")}
    assert _split(domains["cross_cutting"]["lead_departments"]) == ["finance"]
    assert departments["finance"]["name_zh"] == "省财政厅"


def test_department_ids_and_names_are_unique_and_filled():
    departments = _read_csv("departments.csv")
    for column in ("department_id", "name_zh", "name_en"):
        values = [row[column].strip() for row in departments]
        assert all(values), column
        assert len(values) == len(set(values)), column


def test_lead_departments_are_those_of_the_domains_2018_tasks():
    tasks = PROJECT / "data/raw/tasks/gd-province/2018/tasks.csv"
    with tasks.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected: dict[str, list[str]] = {}
    for row in rows:
        leads = expected.setdefault(row["domain_id"], [])
        leads.extend(d for d in _split(row["departments"]) if d not in leads)
    for row in _read_csv("domains.csv"):
        if row["domain_id"] != "cross_cutting":
            assert _split(row["lead_departments"]) == expected[row["domain_id"]], row["domain_id"]


# --- who reports each indicator (issue 9 §2) ------------------------------------------------

def _indicators() -> list[dict[str, str]]:
    rows = []
    for path in sorted((CATALOG / "indicators").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            rows += list(csv.DictReader(fh))
    return rows


def test_every_indicator_has_exactly_one_known_reporting_department_and_a_reason():
    departments = {row["department_id"] for row in _read_csv("departments.csv")}
    for row in _indicators():
        assert row["reporting_department"] in departments, row["indicator_id"]
        assert ";" not in row["reporting_department"], row["indicator_id"]
        assert row["reporting_reason"].strip(), row["indicator_id"]


def test_an_indicator_a_task_quantifies_is_reported_by_one_of_that_tasks_departments():
    """Derived from the source: 粤财办〔2018〕6号 二 names the departments of each task."""
    by_id = {row["indicator_id"]: row for row in _indicators()}
    checked = 0
    for tasks in sorted((PROJECT / "data/raw/tasks").glob("*/*/tasks.csv")):
        with tasks.open(encoding="utf-8-sig", newline="") as fh:
            for task in csv.DictReader(fh):
                for indicator_id in _split(task["indicators"]):
                    row = by_id[indicator_id]
                    assert row["reporting_department"] in _split(task["departments"]), indicator_id
                    assert task["source"].split(" ")[1] in row["reporting_reason"], indicator_id
                    checked += 1
    assert checked >= 30


def test_a_reason_is_either_a_cited_source_or_a_marked_judgement():
    for row in _indicators():
        reason = row["reporting_reason"]
        assert reason.startswith("judgement: ") or any(
            ref in reason for ref in ("粤财办〔", "seed 001 item", "seed 00")), (row["indicator_id"], reason)
