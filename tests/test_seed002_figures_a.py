"""Spot checks of the figures extracted from seed 002 (粤财办〔2018〕6号), part A.

Part A covers the cross-cutting part and the domains education, public_health,
culture_sports, public_transport and public_safety. Each case quotes a short evidence
passage from the seed and checks that the raw observation files hold the same number.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

PROJECT = Path(__file__).resolve().parents[1]
SEED = Path(__file__).resolve().parents[2] / "shared/seeds/002_5e5fa8c7b57dc6dd.txt"
OBSERVATIONS = PROJECT / "data/raw/observations/gd-province"
INDICATORS = PROJECT / "data/raw/catalog/indicators"

DOMAINS = ("cross_cutting", "education", "public_health", "culture_sports",
           "public_transport", "public_safety")

CATALOG_COLUMNS = ["indicator_id", "domain_id", "name_zh", "name_en", "unit", "unit_en",
                   "en_factor", "direction", "decimals", "decimals_en", "max_value",
                   "definition_zh", "definition_en", "reporting_department", "reporting_reason"]
OBSERVATION_COLUMNS = ["indicator_id", "indicator", "year", "measure", "target_type", "value",
                       "unit", "source", "derived", "formula", "note"]
# Optional, after the others: a file that needs it has it (docs/data-model.md).
OPTIONAL_OBSERVATION_COLUMNS = ["stated_outcome"]


def _squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _read_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def _observation_files(domains=DOMAINS) -> list[Path]:
    return sorted(p for p in OBSERVATIONS.glob("*/*.csv") if p.stem in domains)


def _all_observations() -> pd.DataFrame:
    """Every raw province observation file (all helpers' domains), one frame."""
    frames = []
    for path in sorted(OBSERVATIONS.glob("*/*.csv")):
        frame = _read_csv(path)
        frame["file_year"] = path.parent.name
        frame["file_domain"] = path.stem
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def _our_observations() -> pd.DataFrame:
    frames = []
    for path in _observation_files():
        frame = _read_csv(path)
        frame["file_year"] = path.parent.name
        frame["file_domain"] = path.stem
        frames.append(frame)
    frame = pd.concat(frames, ignore_index=True)
    # gd-province also holds the 2020 goals of 粤财办〔2019〕1号; this file checks seed 002 only.
    return frame[frame["source"].str.startswith("粤财办〔2018〕6号")].reset_index(drop=True)


def _our_catalog() -> pd.DataFrame:
    return pd.concat([_read_csv(INDICATORS / f"{d}.csv") for d in DOMAINS], ignore_index=True)


@pytest.fixture(scope="module")
def seed_text() -> str:
    return _squeeze(SEED.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def observations() -> pd.DataFrame:
    return _all_observations()


def _value_of(observations: pd.DataFrame, indicator_id: str, year: int, measure: str) -> float:
    rows = observations[(observations.indicator_id == indicator_id)
                        & (observations.year == str(year))
                        & (observations.measure == measure)]
    assert len(rows) == 1, f"expected one row for {(indicator_id, year, measure)}, found {len(rows)}"
    return float(rows.iloc[0]["value"])


def _digits(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


# (evidence passage quoted from the seed, indicator_id, year, measure, expected value)
STATED = [
    ("组织实施104项基本公共服务", "basic_public_services_listed", 2017, "actual", 104),
    ("民生类支出完成10589亿元", "livelihood_spending", 2017, "actual", 10589),
    ("占一般公共预算支出的70.4%", "livelihood_spending_share", 2017, "actual", 70.4),
    ("转移支付补助支出合计3591亿元", "transfers_to_cities_counties", 2017, "actual", 3591),
    ("的比重达67.1%", "transfers_share_provincial_spending", 2017, "actual", 67.1),
    ("以惠州市等7各地市为试点市", "pilot_cities", 2017, "actual", 7),
    ("对全省21个地市实施", "cities_evaluated", 2017, "actual", 21),
    ("11个地市考评结果为优秀", "cities_rated_excellent", 2017, "actual", 11),
    ("10个为良好", "cities_rated_good", 2017, "actual", 10),
    ("公众满意度达到83.64%", "public_satisfaction", 2017, "actual", 83.64),
    ("常住人口已达到1.1亿", "resident_population", 2016, "actual", 1.1),
    ("外省籍来粤务工人员超过2500万人", "migrant_workers_from_other_provinces", 2016, "actual", 2500),
    ("相关资金2384亿元", "provincial_livelihood_budget", 2018, "target", 2384),
    ("专项转移支付1204.34亿元", "less_developed_special_transfers", 2018, "target", 1204.34),
    ("下达建设维护资金2亿元", "special_education_funding", 2017, "actual", 2),
    ("省财政共安排1亿元", "vocational_reform_demo_city_funding", 2017, "actual", 1),
    ("韶关等4市现代职业教育综合改革示范市", "vocational_reform_demo_cities", 2017, "actual", 4),
    ("支持18所院校开展一流高职院校建设", "first_class_vocational_colleges_supported", 2017, "actual", 18),
    ("5所高职院校首期工程均已取得可研批复", "vocational_base_colleges_approved", 2017, "actual", 5),
    ("14所转型试点高校", "transition_pilot_universities", 2017, "actual", 14),
    ("单独立项45门应用型人才培养课程项目", "applied_talent_courses", 2017, "actual", 45),
    ("全省近4万名校长教师参与交流", "teacher_principal_exchange", 2017, "actual", 4),
    ("月均工资水平比去年增长7%", "ebnw_teacher_pay_growth", 2017, "actual", 7),
    ("新增68个珠江学者岗位", "pearl_river_scholar_posts_added", 2017, "actual", 68),
    ("98名珠江学者人选", "pearl_river_scholars_selected", 2017, "actual", 98),
    ("全年举办16场", "pearl_river_scholar_lectures", 2017, "actual", 16),
    ("统筹各级财政安排500亿元", "primary_care_capacity_funding", 2019, "target", 500),
    ("18大项目年度任务如期完成", "primary_care_projects_on_schedule", 2017, "actual", 18),
    ("47家卫生院升级建设全部开工", "health_centre_upgrades_started", 2017, "actual", 47),
    ("54家县办公立医院升级建设顺利开工", "county_hospital_upgrades_started", 2017, "actual", 54),
    ("4000个村卫生站规范化建设基本完成", "village_clinics_standardised", 2017, "actual", 4000),
    ("491个乡镇卫生院标准化建设全部动工", "township_health_centres_standardisation_started", 2017, "actual", 491),
    ("21个地市全部开展医联体建设", "cities_with_medical_alliances", 2017, "actual", 21),
    ("县域内住院率平均达到80%", "county_inpatient_share", 2017, "actual", 80),
    ("全人群覆盖率超过40%", "family_doctor_coverage", 2017, "actual", 40),
    ("重点人群签约服务覆盖率达到63.36%", "family_doctor_priority_coverage", 2017, "actual", 63.36),
    ("发放奖励扶助金23.58亿元", "family_planning_reward_funds", 2017, "actual", 23.58),
    ("奖励扶助对象达156.66万人", "family_planning_reward_recipients", 2017, "actual", 156.66),
    ("基本公共卫生计生服务覆盖率达到90%", "migrant_public_health_coverage", 2017, "actual", 90),
    ("82个县（市、区）建成出生缺陷", "counties_with_birth_defect_centres", 2017, "actual", 82),
    ("约90万人获得免费孕前优生健康检查", "free_preconception_checkups", 2017, "actual", 90),
    ("47家卫生院基本完成主体基建工程", "health_centre_upgrades_main_works", 2018, "target", 47),
    ("开工建设28家县级中医院", "county_tcm_hospitals_construction_started", 2018, "target", 28),
    ("43家县人民医院", "county_peoples_hospitals_construction_started", 2018, "target", 43),
    ("完成27家县级中医院的设备配置", "county_tcm_hospitals_equipped", 2018, "target", 27),
    ("完成年度5080名全科医生", "general_practitioners_trained", 2018, "target", 5080),
    ("1360名产科儿科医师培养培训任务", "obstetric_paediatric_doctors_trained", 2018, "target", 1360),
    ("推进163家公共博物馆免费开放", "public_museums_free_admission", 2017, "target", 163),
    ("全省共建成13986个行政村", "village_cultural_centres", 2017, "actual", 13986),
    ("覆盖率达54.18%", "village_cultural_centre_coverage", 2017, "actual", 54.18),
    ("选取5个地级市开展广东公共文化云", "culture_cloud_pilot_cities", 2017, "actual", 5),
    ("选取4个单位开展云平台特色应用项目建设", "culture_cloud_application_units", 2017, "actual", 4),
    ("全省新建100多个社区体育公园", "community_sports_parks_built", 2017, "actual", 100),
    ("近3000多个公共体育场馆", "public_sports_venues_open", 2017, "actual", 3000),
    ("有3600多所具备开放条件的学校", "schools_opening_sports_grounds", 2017, "actual", 3600),
    ("成功举办10站南粤古驿道定向大赛", "orienteering_race_stages", 2017, "actual", 10),
    ("全省拥有社会体育指导员近25万名", "social_sports_instructors", 2017, "actual", 25),
    ("建立服务点达9648个", "fitness_guidance_points", 2017, "actual", 9648),
    ("上岗人数达到153059人", "sports_instructors_on_duty", 2017, "actual", 153059),
    ("平均每个上岗点服务人数达到1.5人", "instructors_per_service_point", 2017, "actual", 1.5),
    ("完成26万场农村公益电影放映", "rural_public_film_screenings", 2018, "target", 26),
    ("全省完成窄路基路面拓宽改造988公里", "narrow_road_widening", 2017, "actual", 988),
    ("公路安全生命防护工程1057公里", "road_safety_protection_works", 2017, "actual", 1057),
    ("农村客运候车亭建设544个", "rural_bus_shelters_built", 2017, "actual", 544),
    ("实现新增通客车行政村711个", "villages_newly_served_by_bus", 2017, "actual", 711),
    ("客运班车通达率达92.1%", "village_bus_access_rate", 2017, "actual", 92.1),
    ("客运班车通达率达到95%以上", "village_bus_access_rate", 2018, "target", 95),
    ("已累计完成14个地市与全国互联互通", "transport_card_interconnected_cities", 2017, "actual", 14),
    ("在全省21个地市的全面互联互通", "transport_card_interconnected_cities", 2018, "target", 21),
    ("完成12979台公交机具", "bus_card_terminals_upgraded", 2017, "actual", 12979),
    ("全省138个县（市、区，含功能区）", "county_legal_service_centres", 2017, "actual", 138),
    ("1621个乡镇镇（街道）公共法律", "township_legal_service_centres", 2017, "actual", 1621),
    ("25793个村（社区）公共法律服务站", "village_legal_service_stations", 2017, "actual", 25793),
    ("三级148个服务标识", "legal_aid_windows", 2017, "actual", 148),
    ("提供电话咨询服务73万余人次", "legal_hotline_consultations", 2017, "actual", 73),
    ("电话接通率达97.63%", "legal_hotline_connection_rate", 2017, "actual", 97.63),
    ("群众满意度达99.54%", "legal_hotline_satisfaction", 2017, "actual", 99.54),
    ("全省人民调解组织33750个", "people_mediation_organisations", 2017, "actual", 33750),
    ("人民调解员181441名", "people_mediators", 2017, "actual", 181441),
    ("全省共调解矛盾纠纷361079件", "disputes_mediated", 2017, "actual", 361079),
    ("调解成功率达96%以上", "mediation_success_rate", 2017, "actual", 96),
    ("监督检查各类生产经营单位584746个", "safety_inspected_units", 2017, "actual", 584746),
    ("监督检查企业1576205次", "safety_enterprise_inspections", 2017, "actual", 1576205),
    ("监督检查覆盖率为94.4%", "safety_inspection_coverage", 2017, "actual", 94.4),
    ("复查率为169.5%", "safety_reinspection_rate", 2017, "actual", 169.5),
    ("共处理事故隐患1934642项", "hazards_handled", 2017, "actual", 1934642),
    ("其中一般事故隐患1934514项", "general_hazards_handled", 2017, "actual", 1934514),
    ("重大事故隐患128", "major_hazards_handled", 2017, "actual", 128),
    ("隐患整改率分别是93.8%", "general_hazard_rectification_rate", 2017, "actual", 93.8),
    ("93.8%和100%", "major_hazard_rectification_rate", 2017, "actual", 100),
    ("配备5名以上工作人员", "county_correction_centre_staff", 2018, "target", 5),
    ("每个司法所有1名以上专职", "judicial_office_correction_staff", 2018, "target", 1),
]


@pytest.mark.parametrize("passage, indicator_id, year, measure, expected", STATED,
                         ids=[f"{c[1]}-{c[2]}-{c[3]}" for c in STATED])
def test_stated_figure_matches_seed_and_raw_data(seed_text, observations, passage,
                                                 indicator_id, year, measure, expected):
    squeezed = _squeeze(passage)
    assert squeezed in seed_text, f"passage not found in seed 002: {passage!r}"
    assert _digits(expected) in squeezed, f"{expected} does not occur in {passage!r}"
    assert _value_of(observations, indicator_id, year, measure) == pytest.approx(expected)


# (indicator_id, year, measure, expected value, recomputation from stated figures, decimals)
DERIVED = [
    ("livelihood_spending_share", 2016, "actual", 67.4, 70.4 - 3, 1),
    ("public_satisfaction", 2016, "actual", 82.97, 83.64 - 0.67, 2),
    ("public_satisfaction", 2011, "actual", 76.20, 83.64 - 7.44, 2),
    ("provincial_livelihood_budget", 2017, "target", 1805, 2384 / 1.321, 0),
    ("fitness_guidance_points", 2016, "actual", 8917, 9648 / 1.082, 0),
    ("safety_inspected_units", 2016, "actual", 415421, 584746 / 1.4076, 0),
    ("safety_enterprise_inspections", 2016, "actual", 985498, 1576205 / 1.5994, 0),
]


@pytest.mark.parametrize("indicator_id, year, measure, expected, recomputed, decimals", DERIVED,
                         ids=[f"{c[0]}-{c[1]}" for c in DERIVED])
def test_derived_value_recomputes_from_stated_figures(observations, indicator_id, year, measure,
                                                      expected, recomputed, decimals):
    assert round(recomputed, decimals) == pytest.approx(expected)
    assert _value_of(observations, indicator_id, year, measure) == pytest.approx(expected)
    row = observations[(observations.indicator_id == indicator_id)
                       & (observations.year == str(year)) & (observations.measure == measure)]
    assert row.iloc[0]["derived"] == "yes"


def test_every_derived_row_has_a_formula():
    obs = _our_observations()
    derived = obs[obs.derived == "yes"]
    assert len(derived) >= len(DERIVED)
    missing = derived[derived.formula.str.strip() == ""]
    assert missing.empty, missing[["indicator_id", "year", "measure"]].to_dict("records")
    assert set(obs.derived) <= {"", "yes"}


def test_files_have_contract_columns():
    for domain in DOMAINS:
        assert list(_read_csv(INDICATORS / f"{domain}.csv").columns) == CATALOG_COLUMNS
    for path in _observation_files():
        columns = list(_read_csv(path).columns)
        assert columns[:len(OBSERVATION_COLUMNS)] == OBSERVATION_COLUMNS, path
        assert set(columns[len(OBSERVATION_COLUMNS):]) <= set(OPTIONAL_OBSERVATION_COLUMNS), path


def test_observation_indicators_exist_in_catalog_with_matching_unit_and_domain():
    catalog = _our_catalog().set_index("indicator_id")
    assert catalog.index.is_unique
    obs = _our_observations()
    problems = []
    for row in obs.itertuples():
        if row.indicator_id not in catalog.index:
            problems.append((row.indicator_id, "not in catalog"))
            continue
        entry = catalog.loc[row.indicator_id]
        expected_unit = "%" if row.measure == "completion_rate" else entry["unit"]
        if row.unit != expected_unit:
            problems.append((row.indicator_id, f"unit {row.unit!r} != {expected_unit!r}"))
        if entry["domain_id"] != row.file_domain:
            problems.append((row.indicator_id, f"domain {entry['domain_id']} in {row.file_domain}.csv"))
        if row.indicator != entry["name_zh"]:
            problems.append((row.indicator_id, f"name {row.indicator!r} != {entry['name_zh']!r}"))
    assert problems == []


def test_observation_rows_follow_contract_rules():
    catalog = _our_catalog().set_index("indicator_id")
    obs = _our_observations()
    assert (obs.year == obs.file_year).all()
    assert not obs.duplicated(["indicator_id", "year", "measure"]).any()
    assert set(obs.measure) <= {"actual", "target", "completion_rate"}
    assert obs.source.str.match(r"^粤财办〔2018〕6号 [一二]\(").all()
    for row in obs.itertuples():
        direction = catalog.loc[row.indicator_id, "direction"]
        if row.measure == "target":
            allowed = {"max"} if direction == "lower" else {"min", "count"}
            assert row.target_type in allowed, (row.indicator_id, row.target_type)
        else:
            assert row.target_type == "", row.indicator_id
        value = float(row.value)
        cap = catalog.loc[row.indicator_id, "max_value"]
        limit = float(cap) if cap else (100.0 if row.unit == "%" else float("inf"))
        assert 0 <= value <= limit, (row.indicator_id, value, limit)


def test_every_catalog_indicator_is_used_and_complete():
    catalog = _our_catalog()
    used = set(_our_observations().indicator_id)
    assert set(catalog.indicator_id) == used
    required = [c for c in CATALOG_COLUMNS if c != "max_value"]
    assert (catalog[required] != "").all().all()
    assert set(catalog.direction) <= {"higher", "lower"}
    percent = catalog[catalog.unit == "%"]
    assert (percent.unit_en == "%").all() and (percent.en_factor == "1").all()


def _decimals(text: str) -> int:
    exponent = Decimal(text).as_tuple().exponent
    return max(0, -exponent)


def test_derived_targets_reproduce_stated_completion_rates():
    """Dataset-wide: a target derived from a stated completion rate must give it back.

    Part A's domains state no completion rates, so this checks every domain's files.
    """
    obs = _all_observations()
    rates = obs[obs.measure == "completion_rate"]
    if rates.empty:
        pytest.skip("no stated completion rates in the raw province data yet")
    checked = 0
    for rate in rates.itertuples():
        same = obs[(obs.indicator_id == rate.indicator_id) & (obs.year == rate.year)]
        target = same[(same.measure == "target") & (same.derived == "yes")]
        actual = same[same.measure == "actual"]
        if target.empty or actual.empty:
            continue
        t, a, r = target.iloc[0]["value"], actual.iloc[0]["value"], rate.value
        reproduced = float(a) / float(t) * 100
        # Half a unit in the rate's last place, plus the effect of rounding the target.
        tolerance = 0.5 * 10 ** -_decimals(r) + float(r) * 0.5 * 10 ** -_decimals(t) / float(t)
        assert abs(reproduced - float(r)) <= tolerance + 1e-9, (rate.indicator_id, a, t, r)
        checked += 1
    assert checked > 0
