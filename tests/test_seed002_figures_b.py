"""Spot checks of the figures taken from seed 002 (粤财办〔2018〕6号) for the domains
living_security, housing_security, employment_security, medical_security and environment.

Each case quotes a short passage of the seed as evidence, and checks that the raw
observation files hold the number that passage states.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

PROJECT = Path(__file__).resolve().parents[1]
SEED = Path(__file__).resolve().parents[2] / "shared/seeds/002_5e5fa8c7b57dc6dd.txt"
RAW = PROJECT / "data" / "raw"
OBSERVATIONS = RAW / "observations" / "gd-province"
DOMAINS = ("living_security", "housing_security", "employment_security",
           "medical_security", "environment")


def squeeze(text: str) -> str:
    """Text without any whitespace (the seed breaks lines and spaces digits from CJK)."""
    return re.sub(r"\s+", "", text)


def read_observations(domains: tuple[str, ...] | None = None) -> pd.DataFrame:
    """All province observation CSVs (optionally only some domains), values kept as text."""
    frames = []
    for path in sorted(OBSERVATIONS.glob("*/*.csv")):
        if domains is not None and path.stem not in domains:
            continue
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        frames.append(frame.assign(file_year=path.parent.name, file_domain=path.stem))
    return pd.concat(frames, ignore_index=True)


def read_catalog() -> pd.DataFrame:
    frames = [pd.read_csv(RAW / "catalog" / "indicators" / f"{d}.csv", dtype=str,
                          keep_default_na=False, encoding="utf-8-sig") for d in DOMAINS]
    return pd.concat(frames, ignore_index=True).set_index("indicator_id")


def plain_number(value: float) -> str:
    """1.0 -> '1', 148.90 -> '148.9': the digits as the seed writes them."""
    return f"{value:f}".rstrip("0").rstrip(".")


@pytest.fixture(scope="module")
def seed_text() -> str:
    return squeeze(SEED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def observations() -> pd.DataFrame:
    return read_observations()


@pytest.fixture(scope="module")
def own_observations() -> pd.DataFrame:
    return read_observations(DOMAINS)


# (passage quoted from the seed, indicator_id, year, measure, expected value)
CASES = [
    # 一(二)6 生活保障
    ("中有30个已实现城乡统一标准", "counties_unified_dibao_standard", 2017, "actual", 30),
    ("全省城乡低保对象共有169万人", "dibao_recipients", 2017, "actual", 169),
    ("落实保障资金76.97亿元", "dibao_funding", 2017, "actual", 76.97),
    ("分别提高到457元/月、206元/月", "dibao_min_topup_urban", 2017, "actual", 457),
    ("分别提高到457元/月、206元/月", "dibao_min_topup_rural", 2017, "actual", 206),
    ("全省农村特困供养人员22.3万人", "rural_extreme_poverty_supported", 2017, "actual", 22.3),
    ("当地城乡最低生活保障标准的1.6倍", "extreme_poverty_support_ratio", 2017, "actual", 1.6),
    ("落实保障资金22.49亿元", "extreme_poverty_support_funding", 2017, "actual", 22.49),
    ("15家商业银行", "assistance_check_partner_banks", 2017, "actual", 15),
    ("目前全省共有48个县、区", "social_insurance_service_halls_funded", 2017, "actual", 48),
    ("五大险种累计参保2.9亿人次", "social_insurance_enrolments", 2017, "actual", 2.9),
    ("基金征缴收入4967亿元", "social_insurance_contribution_income", 2017, "actual", 4967),
    ("累计结余13349亿元", "social_insurance_fund_balance", 2017, "actual", 13349),
    ("常住人口持卡率95.3%", "social_security_card_coverage", 2017, "actual", 95.3),
    ("2000户改造任务按时高质完成", "accessibility_retrofit_households", 2017, "target", 2000),
    ("平均养老金水平约达2700元/月", "enterprise_retiree_avg_pension", 2017, "actual", 2700),
    ("差距缩小至1.5:1", "pension_gap_prd_to_other_regions", 2017, "actual", 1.5),
    ("基础养老金最低标准提高至120元", "resident_basic_pension_min", 2017, "actual", 120),
    ("报销比例分别达87%和76%", "employee_medical_inpatient_reimbursement", 2017, "actual", 87),
    ("报销比例分别达87%和76%", "resident_medical_inpatient_reimbursement", 2017, "actual", 76),
    ("“二次报销”比例不低于50%", "critical_illness_secondary_reimbursement", 2017, "actual", 50),
    ("由2016年的420元提高至450元", "resident_medical_insurance_subsidy", 2016, "actual", 420),
    ("由2016年的420元提高至450元", "resident_medical_insurance_subsidy", 2017, "actual", 450),
    ("月人均水平达1295元和3270元", "unemployment_benefit_monthly", 2017, "actual", 1295),
    ("月人均水平达1295元和3270元", "work_injury_allowance_monthly", 2017, "actual", 3270),
    ("分别比2016年增长0.7%和5.5%", "unemployment_benefit_growth", 2017, "actual", 0.7),
    ("分别比2016年增长0.7%和5.5%", "work_injury_allowance_growth", 2017, "actual", 5.5),
    # 二(六) 2018 生活保障
    ("不低于当地最低生活保障标准的1.6倍", "extreme_poverty_support_ratio", 2018, "target", 1.6),
    ("困难残疾人生活补贴提高到1890元/年", "disability_living_allowance", 2018, "target", 1890),
    ("重度残疾人护理补贴提高到2520元/年", "severe_disability_care_allowance", 2018, "target", 2520),
    ("分别提高到130元和480元", "resident_basic_pension_min", 2018, "target", 130),
    ("分别提高到130元和480元", "resident_medical_insurance_subsidy", 2018, "target", 480),
    ("安排资金3500万元", "accessibility_retrofit_funding", 2018, "target", 3500),
    # 一(二)7 住房保障, 二(七)
    ("新开工棚户区改造住房38367套", "shantytown_renovation_starts", 2017, "actual", 38367),
    ("占年度目标任务比例为104.4%", "shantytown_renovation_starts", 2017, "completion_rate", 104.4),
    ("新增发放租赁补贴5728户", "rental_subsidy_new_households", 2017, "actual", 5728),
    ("占年度目标任务比例为164.2%", "rental_subsidy_new_households", 2017, "completion_rate", 164.2),
    ("保障性安居工程住房75116套", "affordable_housing_basic_completions", 2017, "actual", 75116),
    ("占年度目标任务比例为143.4%", "affordable_housing_basic_completions", 2017, "completion_rate", 143.4),
    ("分别新增分配50687套和14009套", "public_rental_housing_allocated_2013_batch", 2017, "actual", 50687),
    ("分别新增分配50687套和14009套", "public_rental_housing_allocated_2014_batch", 2017, "actual", 14009),
    ("比例为106.7%和112.11%", "public_rental_housing_allocated_2013_batch", 2017, "completion_rate", 106.7),
    ("比例为106.7%和112.11%", "public_rental_housing_allocated_2014_batch", 2017, "completion_rate", 112.11),
    ("已开工建设79607户", "rural_dilapidated_housing_starts", 2017, "actual", 79607),
    ("竣工60940户，竣工率为76.55%", "rural_dilapidated_housing_renovations", 2017, "actual", 60940),
    ("竣工60940户，竣工率为76.55%", "rural_dilapidated_housing_renovations", 2017, "completion_rate", 76.55),
    ("补助资金22.51亿元", "rural_dilapidated_housing_subsidy", 2017, "actual", 22.51),
    ("中央财政补助资金3.14亿元", "rural_dilapidated_housing_central_subsidy", 2017, "actual", 3.14),
    ("资金的40407户", "rural_dilapidated_housing_renovations", 2018, "target", 40407),
    # 一(二)8 就业保障, 二(八)
    ("城镇新增就业148.9万人", "urban_new_jobs", 2017, "actual", 148.9),
    ("分别完成年度任务135.4%", "urban_new_jobs", 2017, "completion_rate", 135.4),
    ("失业人员实现再就业61.95万人", "reemployed_unemployed", 2017, "actual", 61.95),
    ("135.4%、123.9%", "reemployed_unemployed", 2017, "completion_rate", 123.9),
    ("就业困难人员实现就业17.26万人", "hard_to_employ_employed", 2017, "actual", 17.26),
    ("123.9%和172.6%", "hard_to_employ_employed", 2017, "completion_rate", 172.6),
    ("使用25.57亿元", "employment_fund_used", 2017, "actual", 25.57),
    ("享受政策495万人次", "employment_policy_beneficiaries", 2017, "actual", 495),
    ("年末城镇登记失业率2.47%", "urban_registered_unemployment_rate", 2017, "actual", 2.47),
    ("全省技工院校共162所", "technical_schools", 2017, "actual", 162),
    ("在校生55.37万人", "technical_school_students", 2017, "actual", 55.37),
    ("就业率达97.97%", "technical_school_graduate_employment_rate", 2017, "actual", 97.97),
    ("全省共有750483名就业年龄段残疾人", "working_age_disabled_persons", 2017, "actual", 750483),
    ("已就业人数为277797人", "working_age_disabled_employed", 2017, "actual", 277797),
    ("城镇新增就业110万人", "urban_new_jobs", 2018, "target", 110),
    ("就业困难人员实现就业10万人", "hard_to_employ_employed", 2018, "target", 10),
    ("城镇登记失业率控制在3.5%", "urban_registered_unemployment_rate", 2018, "target", 3.5),
    # 一(二)9 医疗保障, 二(九)
    ("医疗救助保障资金32.85亿元", "medical_assistance_funding", 2017, "actual", 32.85),
    ("惠及411万困难群众", "medical_assistance_beneficiaries", 2017, "actual", 411),
    ("病种数不少于1000个", "case_based_payment_disease_types", 2018, "target", 1000),
    # 一(二)10 生态环境, 二(十)
    ("淘汰黄标车14.68万余辆", "yellow_label_vehicles_retired", 2017, "actual", 14.68),
    ("水质优良比例达到81.7%", "surface_water_good_quality_share", 2017, "actual", 81.7),
    ("劣V类断面比例控制在8.5%", "surface_water_worse_than_v_share", 2017, "actual", 8.5),
    ("已有191个完成整治", "black_odorous_water_bodies_remediated", 2017, "actual", 191),
    ("完成率为78.6%", "black_odorous_water_bodies_remediated", 2017, "completion_rate", 78.6),
    ("资源化利用率达71%", "livestock_waste_utilisation_rate", 2017, "actual", 71),
    ("81个国家级生态乡镇", "national_eco_townships", 2017, "actual", 81),
    ("占全省任务数的73.61%", "counties_ppp_village_sewage", 2017, "completion_rate", 73.61),
    ("新确立省循环化改造试点园区25家", "circular_economy_pilot_parks", 2017, "actual", 25),
    ("安排7500万元支持13个园区", "circular_economy_project_funding", 2017, "actual", 7500),
    ("完成森林碳汇工程95.2万亩", "carbon_sink_afforestation", 2017, "actual", 95.2),
    ("新建生态景观林带184.7公里", "ecological_forest_belt_new", 2017, "actual", 184.7),
    ("对1986个村庄实施绿化美化", "villages_greened", 2017, "actual", 1986),
    ("新建森林公园165处", "new_forest_parks", 2017, "actual", 165),
    ("湿地公园总数达到224个", "wetland_parks_total", 2017, "actual", 224),
    ("试点园区15家", "circular_economy_pilot_parks", 2018, "target", 15),
    ("完成清洁生产审核2000家", "cleaner_production_audits", 2018, "target", 2000),
    ("森林碳汇工程造林96万亩", "carbon_sink_afforestation", 2018, "target", 96),
    ("完善提升生态景观林带606公里", "ecological_forest_belt", 2018, "target", 606),
    ("全省计划绿化美化村庄1643个", "villages_greened", 2018, "target", 1643),
    ("完成1000个省定贫困村绿化美化", "poor_villages_greened", 2018, "target", 1000),
    ("计划新建森林公园23个", "new_forest_parks", 2018, "target", 23),
    ("计划新增湿地公园19个", "new_wetland_parks", 2018, "target", 19),
]


@pytest.mark.parametrize(("passage", "indicator_id", "year", "measure", "expected"), CASES,
                         ids=[f"{c[1]}-{c[2]}-{c[3]}" for c in CASES])
def test_figure_matches_seed_passage(seed_text, observations, passage, indicator_id, year,
                                     measure, expected):
    assert squeeze(passage) in seed_text, "the quoted passage is not in seed 002"
    assert plain_number(expected) in squeeze(passage), "the passage does not state the value"
    rows = observations[(observations["indicator_id"] == indicator_id)
                        & (observations["year"] == str(year))
                        & (observations["measure"] == measure)]
    assert len(rows) == 1, f"expected one {measure} row for {indicator_id} {year}, found {len(rows)}"
    assert float(rows["value"].iloc[0]) == pytest.approx(expected)


def test_every_derived_row_has_a_formula(own_observations):
    derived = own_observations[own_observations["derived"] == "yes"]
    assert len(derived) > 0
    missing = derived[derived["formula"].str.strip() == ""]
    assert missing.empty, missing[["indicator_id", "year", "measure"]].to_string()


def test_only_known_derived_flags(own_observations):
    assert set(own_observations["derived"]) <= {"", "yes", "no"}


def test_observations_match_catalog_unit_and_domain(own_observations):
    catalog = read_catalog()
    unknown = sorted(set(own_observations["indicator_id"]) - set(catalog.index))
    assert not unknown, f"indicators missing from the catalog: {unknown}"
    for rec in own_observations.to_dict("records"):
        entry = catalog.loc[rec["indicator_id"]]
        where = f"{rec['file_year']}/{rec['file_domain']}.csv {rec['indicator_id']} {rec['measure']}"
        assert entry["domain_id"] == rec["file_domain"], where
        expected_unit = "%" if rec["measure"] == "completion_rate" else entry["unit"]
        assert rec["unit"] == expected_unit, where
        assert rec["year"] == rec["file_year"], where


def test_catalog_files_hold_only_their_domain():
    for domain in DOMAINS:
        frame = pd.read_csv(RAW / "catalog" / "indicators" / f"{domain}.csv", dtype=str,
                            keep_default_na=False)
        assert set(frame["domain_id"]) == {domain}
        assert frame["indicator_id"].is_unique


def test_values_within_bounds_and_target_types_fit_direction(own_observations):
    catalog = read_catalog()
    for rec in own_observations.to_dict("records"):
        entry = catalog.loc[rec["indicator_id"]]
        value = float(rec["value"])
        if rec["measure"] == "completion_rate":
            bound = 1000.0
        elif entry["max_value"]:
            bound = float(entry["max_value"])
        else:
            bound = 100.0 if entry["unit"] == "%" else float("inf")
        assert 0 <= value <= bound, rec
        if rec["measure"] == "target":
            allowed = {"max"} if entry["direction"] == "lower" else {"min", "count"}
            assert rec["target_type"] in allowed, rec
        else:
            assert rec["target_type"] == "", rec


def test_no_duplicate_observations(own_observations):
    keys = own_observations[["indicator_id", "year", "measure"]]
    assert not keys.duplicated().any(), keys[keys.duplicated()].to_string()


def test_derived_targets_reproduce_stated_completion_rates(own_observations):
    """actual ÷ implied target, rounded as the source rounds its rate, gives the stated rate."""
    obs = own_observations
    rates = obs[obs["measure"] == "completion_rate"]
    assert len(rates) >= 10
    for rate in rates.to_dict("records"):
        same = obs[(obs["indicator_id"] == rate["indicator_id"]) & (obs["year"] == rate["year"])]
        actual = same[same["measure"] == "actual"]
        target = same[(same["measure"] == "target") & (same["derived"] == "yes")]
        assert len(actual) == 1 and len(target) == 1, rate["indicator_id"]
        decimals = len(rate["value"].partition(".")[2])
        computed = float(actual["value"].iloc[0]) / float(target["value"].iloc[0]) * 100
        assert round(computed, decimals) == pytest.approx(float(rate["value"])), rate["indicator_id"]


@pytest.mark.parametrize(("indicator_id", "growth_id"), [
    ("unemployment_benefit_monthly", "unemployment_benefit_growth"),
    ("work_injury_allowance_monthly", "work_injury_allowance_growth"),
])
def test_derived_2016_values_reproduce_stated_growth(observations, indicator_id, growth_id):
    def value(iid, year):
        row = observations[(observations["indicator_id"] == iid) & (observations["year"] == year)
                           & (observations["measure"] == "actual")]
        return float(row["value"].iloc[0])

    growth = (value(indicator_id, "2017") / value(indicator_id, "2016") - 1) * 100
    assert round(growth, 1) == pytest.approx(value(growth_id, "2017"))


def test_ecological_forest_belt_2017_is_new_plus_upgraded(observations):
    def actual(iid):
        row = observations[(observations["indicator_id"] == iid) & (observations["year"] == "2017")
                           & (observations["measure"] == "actual")]
        return float(row["value"].iloc[0])

    assert actual("ecological_forest_belt") == pytest.approx(
        actual("ecological_forest_belt_new") + actual("ecological_forest_belt_upgraded"))
