"""The completion-status rules (bpsreport/progress.py), each with real cases from the seeds."""

import math

import pandas as pd
import pytest

from bpsreport.progress import (StatusRules, TargetStatus, assess, assess_observations,
                                load_status_config)

RULES = StatusRules(met_at=100, nearly_met_at=90)


@pytest.mark.parametrize(
    "case, actual, target, target_type, stated, status, rate",
    [
        # 粤财办〔2018〕6号 一(二)8(1): 城镇新增就业148.9万人, 完成年度任务135.4%; the 2018 list sets 110万人.
        ("urban new jobs vs 110", 148.9, 110, "count", None, TargetStatus.MET, 135.3636),
        ("urban new jobs, stated rate wins", 148.9, 110, "count", 135.4, TargetStatus.MET, 135.4),
        # 一(二)8(1): 就业困难人员实现就业17.26万人, 完成年度任务172.6% (implied target 10万人).
        ("hard-to-employ", 17.26, 10, "count", 172.6, TargetStatus.MET, 172.6),
        # 一(二)7(1): 棚户区改造住房38367套, 占年度目标任务比例为104.4%.
        ("shanty-town renovation", 38367, None, "count", 104.4, TargetStatus.MET, 104.4),
        # 一(二)7(2): 竣工60940户, 竣工率为76.55% -> well below 90.
        ("rural housing completion", 60940, None, "count", 76.55, TargetStatus.NOT_MET, 76.55),
        # 一(二)10(2): 53个县 ... 占全省任务数的73.61%.
        ("county sewage PPP", 53, None, "count", 73.61, TargetStatus.NOT_MET, 73.61),
        # Nearly met: 一(二)10(1): 黑臭水体 191 of 243 = 78.6% is not; a 92% rate would be nearly met.
        ("black-odorous water bodies", 191, 243, "count", None, TargetStatus.NOT_MET, 78.6008),
        ("boundary: exactly 90% is nearly met", 90, 100, "count", None, TargetStatus.NEARLY_MET, 90.0),
        ("boundary: exactly 100% is met", 21, 21, "count", None, TargetStatus.MET, 100.0),
        # 一(二)4(1) and 二(四)10: 客运班车通达率92.1% against ≥95%.
        ("village bus access vs >=95", 92.1, 95, "min", None, TargetStatus.NOT_MET, None),
        # 一(二)8(1) and 二(八)24: 城镇登记失业率2.47% against ≤3.5% (lower is better).
        ("unemployment rate vs <=3.5", 2.47, 3.5, "max", None, TargetStatus.MET, None),
        ("unemployment above the ceiling", 3.6, 3.5, "max", None, TargetStatus.NOT_MET, None),
        # 一(二)6(2) and 二(六)18: 特困供养标准达到低保标准的1.6倍 against ≥1.6.
        ("extreme poverty support ratio at threshold", 1.6, 1.6, "min", None, TargetStatus.MET, None),
        # 2018 targets with no 2018 actual yet.
        ("2018 target, no actual", None, 110, "count", None, TargetStatus.NO_DATA, None),
        ("2018 threshold, no actual", None, 95, "min", None, TargetStatus.NO_DATA, None),
        # 一(二)3(1): 13986个综合性文化服务中心: an actual without a target.
        ("actual without target", 13986, None, None, None, TargetStatus.NO_TARGET, None),
    ],
)
def test_status_rules(case, actual, target, target_type, stated, status, rate):
    result = assess(actual, target, target_type, stated_completion_rate=stated, rules=RULES)
    assert result.status is status, case
    if rate is None:
        assert result.completion_rate is None
    else:
        assert result.completion_rate == pytest.approx(rate, abs=1e-4)
        assert result.completion_rate_stated is (stated is not None)


def test_thresholds_come_from_config():
    config = load_status_config()
    rules = StatusRules.from_config()
    assert rules.met_at == config["count_target"]["met_at"]
    assert rules.nearly_met_at == config["count_target"]["nearly_met_at"]
    # A stricter config changes the outcome of the same numbers: 95% is nearly met by default ...
    assert assess(95, 100, "count", rules=rules).status is TargetStatus.NEARLY_MET
    # ... and not met when "nearly" starts at 96%.
    assert assess(95, 100, "count", rules=StatusRules(100, 96)).status is TargetStatus.NOT_MET


def test_config_lists_every_status_with_both_labels_and_a_colour():
    statuses = load_status_config()["statuses"]
    assert list(statuses) == [s.value for s in TargetStatus]
    for key, spec in statuses.items():
        assert spec["zh"] and spec["en"], key
        assert spec["fill"].startswith("#") and len(spec["fill"]) == 7, key


def test_bad_thresholds_are_refused_with_the_config_named():
    with pytest.raises(ValueError, match="config/status.yml"):
        StatusRules(met_at=90, nearly_met_at=95)


def test_assess_observations_pairs_actual_target_and_stated_rate():
    base = {"unit_id": "gd-province", "year": 2017, "domain_id": "employment_security",
            "unit": "万人", "note": "", "formula": "", "source_file": "x.csv", "source_sheet": None}
    obs = pd.DataFrame([
        {**base, "indicator_id": "urban_new_jobs", "measure": "actual", "target_type": "", "value": 148.9,
         "derived": False, "source": "粤财办〔2018〕6号 一(二)8(1)", "source_row": 2},
        {**base, "indicator_id": "urban_new_jobs", "measure": "completion_rate", "target_type": "",
         "value": 135.4, "unit": "%", "derived": False, "source": "粤财办〔2018〕6号 一(二)8(1)", "source_row": 3},
        {**base, "indicator_id": "urban_new_jobs", "measure": "target", "target_type": "count", "value": 110.0,
         "derived": True, "formula": "148.9 ÷ 135.4%", "source": "粤财办〔2018〕6号 一(二)8(1)", "source_row": 4},
        {**base, "indicator_id": "urban_registered_unemployment_rate", "measure": "actual", "target_type": "",
         "value": 2.47, "unit": "%", "derived": False, "source": "粤财办〔2018〕6号 一(二)8(1)", "source_row": 5},
    ])
    out = assess_observations(obs, RULES).set_index("indicator_id")
    jobs = out.loc["urban_new_jobs"]
    assert jobs["status"] == "met"
    assert jobs["completion_rate"] == pytest.approx(135.4)
    assert bool(jobs["completion_rate_stated"]) and bool(jobs["target_derived"])
    rate = out.loc["urban_registered_unemployment_rate"]
    assert rate["status"] == "no_target" and math.isnan(rate["completion_rate"])


# --- a target the source states as met or exceeded, without a figure ---------------------------

@pytest.mark.parametrize("outcome", ["met", "exceeded"])
@pytest.mark.parametrize("target_type", ["count", "min"])
def test_a_target_stated_as_met_without_a_figure_is_met_as_stated(outcome, target_type):
    # 粤财办〔2018〕6号 一(二)3(1): "推进163家公共博物馆免费开放" ... 截至年底已超额完成 (no count given).
    result = assess(None, 163, target_type, stated_outcome=outcome, rules=RULES)
    assert result.status is TargetStatus.MET_AS_STATED
    assert result.completion_rate is None


def test_an_actual_or_a_stated_rate_decides_before_the_stated_outcome():
    assert assess(150, 163, "count", stated_outcome="exceeded", rules=RULES).status \
        is TargetStatus.NEARLY_MET
    assert assess(None, 163, "count", stated_completion_rate=101.0, stated_outcome="met",
                  rules=RULES).status is TargetStatus.MET


def test_an_unknown_stated_outcome_is_refused():
    with pytest.raises(ValueError):
        assess(None, 163, "count", stated_outcome="done", rules=RULES)


def test_assess_observations_reads_the_stated_outcome_of_the_target_row():
    rows = pd.DataFrame([{
        "unit_id": "gd-province", "year": 2017, "domain_id": "culture_sports",
        "indicator_id": "public_museums_free_admission", "measure": "target",
        "target_type": "count", "value": 163.0, "source": "粤财办〔2018〕6号 一(二)3(1)",
        "derived": False, "stated_outcome": "exceeded",
    }])
    [row] = assess_observations(rows, RULES).to_dict("records")
    assert (row["status"], row["stated_outcome"]) == ("met_as_stated", "exceeded")
    assert math.isnan(row["completion_rate"]) and math.isnan(row["actual"])


def test_every_status_has_labels_and_colours_and_met_as_stated_keeps_the_others():
    statuses = load_status_config()["statuses"]
    assert list(statuses) == [s.value for s in TargetStatus]
    for status in TargetStatus:
        assert {"zh", "en", "fill", "text"} <= set(statuses[status.value])
    # The statuses that existed before keep their colours; the new one has its own.
    assert statuses["met"]["fill"] == "#2E7D5B" and statuses["not_met"]["fill"] == "#B23A3A"
    fills = [statuses[s]["fill"] for s in statuses]
    assert len(set(fills)) == len(fills)
