"""Targets of the planning documents (seeds 000, 001, 003, 004) stored as raw observations.

Each spot check quotes the seed passage a target comes from (evidence, not narrative),
then checks that the passage is really in the seed, that the value is written in it, and
that the raw CSV under ``data/raw/observations/<unit_id>/<year>/`` holds that value.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

PROJECT = Path(__file__).resolve().parents[1]
RAW = PROJECT / "data" / "raw"
CATALOG = RAW / "catalog"
OBSERVATIONS = RAW / "observations"
SEEDS = PROJECT.parent / "shared" / "seeds"

PLAN_UNITS = ("prd", "qingyuan", "qingcheng")

# Ids shared with the province catalog files: (domain_id, unit).
FIXED_IDS = {
    "livelihood_spending": ("cross_cutting", "亿元"),
    "livelihood_spending_share": ("cross_cutting", "%"),
    "transfers_to_cities_counties": ("cross_cutting", "亿元"),
    "transfers_share_provincial_spending": ("cross_cutting", "%"),
    "public_satisfaction": ("cross_cutting", "%"),
    "cities_rated_excellent": ("cross_cutting", "个"),
    "cities_rated_good": ("cross_cutting", "个"),
    "provincial_livelihood_budget": ("cross_cutting", "亿元"),
    "less_developed_special_transfers": ("cross_cutting", "亿元"),
    "health_centre_upgrades_main_works": ("public_health", "家"),
    "county_tcm_hospitals_construction_started": ("public_health", "家"),
    "county_peoples_hospitals_construction_started": ("public_health", "家"),
    "county_tcm_hospitals_equipped": ("public_health", "家"),
    "general_practitioners_trained": ("public_health", "名"),
    "obstetric_paediatric_doctors_trained": ("public_health", "名"),
    "rural_public_film_screenings": ("culture_sports", "万场"),
    "village_bus_access_rate": ("public_transport", "%"),
    "transport_card_interconnected_cities": ("public_transport", "个"),
    "county_correction_centre_staff": ("public_safety", "名"),
    "judicial_office_correction_staff": ("public_safety", "名"),
    "extreme_poverty_support_ratio": ("living_security", "倍"),
    "disability_living_allowance": ("living_security", "元/年"),
    "severe_disability_care_allowance": ("living_security", "元/年"),
    "resident_basic_pension_min": ("living_security", "元/月"),
    "resident_medical_insurance_subsidy": ("living_security", "元/年"),
    "accessibility_retrofit_households": ("living_security", "户"),
    "accessibility_retrofit_funding": ("living_security", "万元"),
    "rural_dilapidated_housing_renovations": ("housing_security", "户"),
    "urban_new_jobs": ("employment_security", "万人"),
    "reemployed_unemployed": ("employment_security", "万人"),
    "hard_to_employ_employed": ("employment_security", "万人"),
    "urban_registered_unemployment_rate": ("employment_security", "%"),
    "case_based_payment_disease_types": ("medical_security", "个"),
    "public_hospitals_clinical_pathway_share": ("medical_security", "%"),
    "circular_economy_pilot_parks": ("environment", "家"),
    "cleaner_production_audits": ("environment", "家"),
    "carbon_sink_afforestation": ("environment", "万亩"),
    "ecological_forest_belt": ("environment", "公里"),
    "villages_greened": ("environment", "个"),
    "poor_villages_greened": ("environment", "个"),
    "new_forest_parks": ("environment", "个"),
    "new_wetland_parks": ("environment", "个"),
}

SEED_000 = "000_ff49d47904995ec9.txt"
SEED_001 = "001_9a8a1d0fc930cd2a.txt"
SEED_003 = "003_4fa0446f592abd31.txt"
SEED_004 = "004_42e03bd87683f984.txt"

# Where each plan unit's figures may come from (the `source` column starts with one of these).
SOURCE_PREFIXES = {
    "prd": ("粤府办〔2010〕46号 ",),
    "qingyuan": ("清远市推进基本公共服务均等化意见 ", "清城区均等化综合改革实施方案 "),
    "qingcheng": ("清城区均等化综合改革实施方案 ",),
}
SEED_003_SOURCE = "粤财办〔2019〕1号"

# (seed file, passage quoted from the seed, unit_id, indicator_id, year, measure, value)
SPOT_CHECKS = [
    (SEED_000, "加体育活动的人数达到总人口的45",
     "prd", "regular_exercise_participation_rate", 2012, "target", 45),
    (SEED_000, "怀孕夫妇孕前优生健康检查率达90",
     "prd", "preconception_health_check_rate", 2012, "target", 90),
    (SEED_000, "开发 120 个工种职业培训课程标准",
     "prd", "vocational_training_course_standards", 2012, "target", 120),
    (SEED_000, "每年开发 150 个工种的职业培训课程标准",
     "prd", "vocational_training_course_standards", 2017, "target", 150),
    (SEED_000, "车条件的行政村班车通达率 100",
     "prd", "village_bus_access_rate", 2012, "target", 100),
    (SEED_000, " 米范围公交站点覆盖率大于 80",
     "prd", "bus_stop_500m_coverage", 2020, "target", 80),
    (SEED_000, "力争实现 200",
     "prd", "paperless_exam_occupations", 2020, "target", 200),
    (SEED_001, "保险覆盖率2012年达到68.5",
     "qingyuan", "urban_employee_pension_coverage", 2012, "target", 68.5),
    (SEED_001, "8.5%以上，2014年达到74",
     "qingyuan", "urban_employee_pension_coverage", 2014, "target", 74),
    (SEED_001, "口执业（助理）医师数达到1.88",
     "qingyuan", "physicians_per_1000", 2016, "target", 1.88),
    (SEED_001, "婴儿死亡率低于6‰",
     "qingyuan", "infant_mortality_rate", 2016, "target", 6),
    (SEED_001, "每年完成全科医生培训不少于40名",
     "qingyuan", "general_practitioners_trained", 2014, "target", 40),
    (SEED_001, "农村文化室1021个以上",
     "qingyuan", "rural_cultural_rooms_built", 2016, "target", 1021),
    (SEED_001, "市人均拥有体育场地面积达到1.2",
     "qingyuan", "sports_ground_area_per_capita", 2015, "target", 1.2),
    (SEED_001, "、区）城镇低保补差水平达到396",
     "qingyuan", "urban_dibao_supplement_level", 2015, "target", 396),
    (SEED_001, "全市建设（筹建）公租房30357",
     "qingyuan", "public_rental_housing_units", 2016, "target", 30357),
    (SEED_001, "全市农村建成80所老年人日间照料中心",
     "qingyuan", "rural_elderly_daycare_centres", 2015, "target", 80),
    (SEED_003, "均基本公共服务支出差距控制在30",
     "gd-province", "regional_per_capita_bps_spending_gap", 2020, "target", 30),
    (SEED_004, "区学前教育三年毛入园率保持在98",
     "qingcheng", "preschool_gross_enrolment_rate", 2020, "target", 98),
    (SEED_004, "培训助理全科医生31名",
     "qingcheng", "assistant_gps_trained", 2020, "target", 31),
    (SEED_004, "含室外文化设施面积）达到1170",
     "qingcheng", "public_cultural_facility_area_per_10k", 2020, "target", 1170),
    (SEED_004, "底全区行政村客车通达率达到100",
     "qingcheng", "village_bus_access_rate", 2019, "target", 100),
    (SEED_004, "城乡居民养老保险参保率不低于99%",
     "qingcheng", "resident_pension_participation_rate", 2020, "target", 99),
    (SEED_004, "房保障计划。实施保障户数为290",
     "qingcheng", "housing_security_households", 2019, "target", 290),
    (SEED_004, "公共服务均等化累计支出22.68",
     "qingcheng", "basic_public_service_spending", 2018, "actual", 22.68),
    (SEED_004, "从22.68亿元增加到24.49",
     "qingcheng", "basic_public_service_spending", 2019, "target", 24.49),
    (SEED_004, "基本公共服务领域的财政资金732",
     "qingyuan", "basic_public_service_fiscal_input_cumulative", 2021, "target", 732),
]

_SPACE = re.compile(r"\s+")


def _squeeze(text: str) -> str:
    return _SPACE.sub("", text)


def _seed_text(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


def _number_text(value: float) -> str:
    """How the value is written: 68.5 -> '68.5', 45.0 -> '45'."""
    return f"{value:g}"


def _read_catalog(name: str) -> pd.DataFrame:
    return pd.read_csv(CATALOG / name, dtype=str, keep_default_na=False)


def _plan_targets() -> pd.DataFrame:
    return _read_catalog("indicators/plan_targets.csv")


def _observation_files(units=PLAN_UNITS) -> list[Path]:
    return [p for unit in units for p in sorted((OBSERVATIONS / unit).glob("*/*.csv"))]


def _read_observations(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _all_plan_rows() -> pd.DataFrame:
    """Every row in the plan units' folders, plus the province rows citing seed 003."""
    frames = []
    for path in _observation_files():
        frame = _read_observations(path)
        frame["unit_id"], frame["folder_year"], frame["file_domain"] = (
            path.parts[-3], path.parts[-2], path.stem)
        frames.append(frame)
    # The province folder also holds other sources' files: keep only the rows citing seed 003.
    for path in sorted((OBSERVATIONS / "gd-province").glob("*/*.csv")):
        frame = _read_observations(path)
        frame = frame[frame["source"].str.startswith(SEED_003_SOURCE)].copy()
        if len(frame):
            frame["unit_id"], frame["folder_year"], frame["file_domain"] = (
                "gd-province", path.parts[-2], path.stem)
            frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _catalog_units() -> dict[str, tuple[str, str]]:
    """indicator_id -> (domain_id, unit) for plan_targets.csv and the fixed ids."""
    plan = _plan_targets()
    known = dict(FIXED_IDS)
    known.update({row.indicator_id: (row.domain_id, row.unit) for row in plan.itertuples()})
    return known


# ---------------------------------------------------------------- spot checks
@pytest.mark.parametrize(
    "seed, passage, unit_id, indicator_id, year, measure, value", SPOT_CHECKS,
    ids=[f"{c[2]}-{c[3]}-{c[4]}" for c in SPOT_CHECKS])
def test_spot_check_target_traces_to_its_seed_passage(seed, passage, unit_id, indicator_id,
                                                      year, measure, value):
    # (a) the quoted passage is in the seed
    assert _squeeze(passage) in _squeeze(_seed_text(seed)), f"passage not found in {seed}"
    # (b) the value is written in the passage
    assert _number_text(value) in _squeeze(passage)
    # (c) the raw CSV holds the value
    domain_id = _catalog_units()[indicator_id][0]
    path = OBSERVATIONS / unit_id / str(year) / f"{domain_id}.csv"
    frame = _read_observations(path)
    rows = frame[(frame["indicator_id"] == indicator_id) & (frame["year"] == str(year))
                 & (frame["measure"] == measure)]
    assert len(rows) == 1, f"expected one {measure} row for {indicator_id} in {path}"
    assert float(rows.iloc[0]["value"]) == pytest.approx(value)


def test_spot_checks_cover_all_four_planning_seeds():
    assert {case[0] for case in SPOT_CHECKS} == {SEED_000, SEED_001, SEED_003, SEED_004}
    assert len(SPOT_CHECKS) >= 15


# ---------------------------------------------------------------- catalog
def test_every_indicator_used_is_in_plan_targets_or_a_fixed_id():
    known = _catalog_units()
    used = set(_all_plan_rows()["indicator_id"])
    assert used <= set(known), sorted(used - set(known))


def test_plan_target_ids_are_unique_and_do_not_shadow_fixed_ids():
    ids = _plan_targets()["indicator_id"]
    assert ids.is_unique
    assert not set(ids) & set(FIXED_IDS)
    assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)


def test_plan_target_rows_have_real_domains_and_complete_fields():
    domains = set(_read_catalog("domains.csv")["domain_id"])
    plan = _plan_targets()
    assert set(plan["domain_id"]) <= domains
    for col in ("name_zh", "name_en", "unit", "unit_en", "en_factor", "direction",
                "decimals", "decimals_en", "definition_zh", "definition_en"):
        assert (plan[col].str.strip() != "").all(), col
    assert set(plan["direction"]) <= {"higher", "lower"}
    assert (plan.loc[plan["unit"] == "%", "en_factor"] == "1").all()
    assert (plan.loc[plan["unit"] == "亿元", "en_factor"] == "0.1").all()
    assert (plan.loc[plan["unit"] == "万元", "en_factor"] == "0.01").all()


def test_lower_is_better_plan_indicators():
    direction = _plan_targets().set_index("indicator_id")["direction"]
    lower = set(direction[direction == "lower"].index)
    assert lower == {"infant_mortality_rate", "maternal_mortality_rate",
                     "regional_per_capita_bps_spending_gap"}


def test_exactly_one_default_report_unit_the_province():
    units = _read_catalog("report_units.csv")
    assert list(units["unit_id"]) == ["gd-province", "prd", "qingyuan", "qingcheng"]
    assert list(units.loc[units["is_default"] == "yes", "unit_id"]) == ["gd-province"]
    assert set(units["is_default"]) <= {"yes", "no"}
    assert set(units["level"]) == {"province", "region", "city", "district"}


def test_every_unit_folder_is_a_report_unit():
    units = set(_read_catalog("report_units.csv")["unit_id"])
    folders = {p.name for p in OBSERVATIONS.iterdir() if p.is_dir()}
    assert folders <= units, folders - units


def test_every_source_names_an_existing_seed_file():
    sources = _read_catalog("sources.csv")
    assert len(sources) == 5
    for row in sources.itertuples():
        assert (SEEDS / row.seed_file).is_file(), row.seed_file
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row.issued), row.issued
        assert row.title_zh and row.title_en and row.issuer_zh and row.issuer_en


def test_source_doc_numbers_and_dates():
    sources = _read_catalog("sources.csv").set_index("source_id")
    assert sources.loc["yuefubanfa-2010-46", "doc_number"] == "粤府办〔2010〕46号"
    assert sources.loc["yuecaiban-2018-6", "doc_number"] == "粤财办〔2018〕6号"
    assert sources.loc["yuecaiban-2019-1", "doc_number"] == "粤财办〔2019〕1号"
    assert sources.loc["qingyuan-2012-opinions", "doc_number"] == ""
    assert sources.loc["qingcheng-2019-reform-plan", "doc_number"] == ""
    # Each doc number and date is printed in its seed (dates in the seeds' own notation).
    seed_dates = {"yuefubanfa-2010-46": "二〇一〇年七月三十日",
                  "qingyuan-2012-opinions": "2012年9月8日",
                  "yuecaiban-2018-6": "2018年3月26日印发",
                  "yuecaiban-2019-1": "2019年1月9日"}
    for source_id, printed in seed_dates.items():
        assert printed in _seed_text(sources.loc[source_id, "seed_file"]), source_id
    for source_id in ("yuefubanfa-2010-46", "yuecaiban-2018-6", "yuecaiban-2019-1"):
        row = sources.loc[source_id]
        assert row["doc_number"] in _seed_text(row["seed_file"])


# ---------------------------------------------------------------- observation rows
def test_rows_sit_in_the_folder_of_their_year_and_domain():
    rows = _all_plan_rows()
    known = _catalog_units()
    assert (rows["year"] == rows["folder_year"]).all()
    domains = rows["indicator_id"].map(lambda i: known[i][0])
    assert (domains == rows["file_domain"]).all()


def test_units_match_the_catalog():
    rows = _all_plan_rows()
    known = _catalog_units()
    expected = rows["indicator_id"].map(lambda i: known[i][1])
    bad = rows[rows["unit"] != expected]
    assert bad.empty, bad[["indicator_id", "unit"]].to_dict("records")


def test_measures_and_target_types_agree_with_direction():
    rows = _all_plan_rows()
    direction = {**{i: "higher" for i in FIXED_IDS},
                 "urban_registered_unemployment_rate": "lower",
                 **_plan_targets().set_index("indicator_id")["direction"].to_dict()}
    assert set(rows["measure"]) <= {"target", "actual"}
    targets = rows[rows["measure"] == "target"]
    assert set(targets["target_type"]) <= {"count", "min", "max"}
    for row in targets.itertuples():
        if row.target_type == "max":
            assert direction[row.indicator_id] == "lower", row.indicator_id
        else:
            assert direction[row.indicator_id] == "higher", row.indicator_id
    assert (rows.loc[rows["measure"] == "actual", "target_type"] == "").all()


def test_values_are_non_negative_numbers_and_percentages_at_most_100():
    rows = _all_plan_rows()
    values = rows["value"].astype(float)
    assert (values >= 0).all()
    assert (values[rows["unit"] == "%"] <= 100).all()


def test_no_duplicate_indicator_year_measure_within_a_unit():
    rows = _all_plan_rows()
    dup = rows.duplicated(["unit_id", "indicator_id", "year", "measure"], keep=False)
    assert not dup.any(), rows[dup][["unit_id", "indicator_id", "year"]].to_dict("records")


def test_sources_cite_the_right_document_with_a_section():
    rows = _all_plan_rows()
    for row in rows.itertuples():
        prefixes = SOURCE_PREFIXES.get(row.unit_id, (SEED_003_SOURCE + " ",))
        assert row.source.startswith(prefixes), (row.unit_id, row.source)
        section = row.source.split(" ", 1)[1]
        assert section.strip(), row.source


def test_province_rows_from_the_2019_mechanism_plan_are_for_2019_to_2022():
    rows = _all_plan_rows()
    province = rows[rows["unit_id"] == "gd-province"]
    assert len(province) >= 1
    assert province["year"].astype(int).between(2019, 2022).all()
    gap = province[province["indicator_id"] == "regional_per_capita_bps_spending_gap"]
    assert gap[["year", "target_type", "value"]].values.tolist() == [["2020", "max", "30"]]


def test_derived_rows_state_a_formula_that_gives_the_value():
    rows = _all_plan_rows()
    derived = rows[rows["derived"] == "yes"]
    assert len(derived) == 5  # four disability allowances and one unit conversion
    for row in derived.itertuples():
        assert row.formula, row.indicator_id
        factors = re.match(r"\s*([\d.]+)\D+?×\s*([\d.]+)", row.formula)
        assert factors, row.formula
        product = float(factors.group(1)) * float(factors.group(2))
        assert product == pytest.approx(float(row.value)), row.formula


def test_monthly_disability_allowances_become_yearly_amounts():
    seed = _squeeze(_seed_text(SEED_004))
    assert "生活补贴提高到每人每月165元" in seed
    path = OBSERVATIONS / "qingcheng" / "2019" / "living_security.csv"
    frame = _read_observations(path).set_index("indicator_id")
    assert float(frame.loc["disability_living_allowance", "value"]) == 165 * 12
    assert frame.loc["disability_living_allowance", "unit"] == "元/年"
