"""Integrity of the real catalog in data/raw/catalog/, and the loader's error reporting."""

import math
import shutil

import pandas as pd
import pytest

from bpsreport.catalog import load_catalog
from bpsreport.errors import InputValidationError

DOMAIN_ORDER = ["cross_cutting", "education", "public_health", "culture_sports", "public_transport",
                "public_safety", "living_security", "housing_security", "employment_security",
                "medical_security", "environment"]


def test_domains_follow_the_seed_order(catalog):
    assert catalog.domain_ids() == DOMAIN_ORDER


def test_every_domain_has_indicators(catalog):
    used = set(catalog.indicators["domain_id"])
    assert set(DOMAIN_ORDER) <= used, set(DOMAIN_ORDER) - used


def test_indicator_fields_are_complete_and_consistent(catalog):
    ind = catalog.indicators
    assert ind.index.is_unique
    for col in ("name_zh", "name_en", "unit", "unit_en", "definition_zh", "definition_en"):
        assert (ind[col].str.len() > 0).all(), col
    assert set(ind["direction"]) <= {"higher", "lower"}
    assert (ind["en_factor"] > 0).all()
    # Percent values are never rescaled, and a % unit stays % in English.
    pct = ind[ind["unit"] == "%"]
    assert (pct["en_factor"] == 1).all() and (pct["unit_en"] == "%").all()
    # Scaled units: the factor must equal (Chinese multiplier) / (English multiplier),
    # e.g. 万人 -> million people is 1e4 / 1e6 = 0.01, 万元 -> thousand yuan is 10.
    zh_mult = {"万": 1e4, "亿": 1e8}
    en_mult = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "hundred million": 1e8}
    checked = 0
    for ind_id, row in ind.iterrows():
        zm = zh_mult.get(row["unit"][0], 1)
        em = next((m for word, m in sorted(en_mult.items(), key=lambda kv: -len(kv[0]))
                   if row["unit_en"].startswith(word)), 1)
        assert row["en_factor"] == pytest.approx(zm / em), (ind_id, row["unit"], row["unit_en"])
        checked += zm != 1
    assert checked >= 10


def test_known_lower_is_better_indicator(catalog):
    assert catalog.indicators.at["urban_registered_unemployment_rate", "direction"] == "lower"


def test_upper_bounds(catalog):
    assert catalog.upper_bound("village_bus_access_rate") == 100          # the range of %
    assert catalog.value_range("urban_new_jobs") == (0, 20000, "unit")    # 万人, value_ranges.yml
    assert catalog.value_range("safety_reinspection_rate") == (0, 1000, "catalog")  # max_value
    assert catalog.value_range("urban_new_jobs", "completion_rate") == (0, 1000, "completion_rate")


def test_one_default_unit_the_province(catalog):
    assert catalog.default_unit == "gd-province"
    assert {"gd-province", "prd", "qingyuan", "qingcheng"} <= set(catalog.report_units.index)


def test_catalog_problems_are_all_reported_with_their_location(tmp_path, root):
    raw = tmp_path / "data" / "raw"
    shutil.copytree(root / "data" / "raw" / "catalog", raw / "catalog")
    path = raw / "catalog" / "indicators" / "employment_security.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    row = frame.index[frame["indicator_id"] == "urban_new_jobs"][0]
    frame.loc[row, "direction"] = "up"
    frame.loc[row, "domain_id"] = "jobs"
    frame.to_csv(path, index=False)
    with pytest.raises(InputValidationError) as info:
        load_catalog(raw, root=tmp_path)
    found = {(p.file, p.row, p.column, p.found) for p in info.value.problems}
    shown = "data/raw/catalog/indicators/employment_security.csv"
    assert (shown, int(row) + 2, "direction", "up") in found
    assert (shown, int(row) + 2, "domain_id", "jobs") in found
