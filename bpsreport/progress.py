"""Completion status: how an indicator stands against its target.

All status rules of the report live here, in the manner of Open SDG's
``ProgressMeasure``: one documented, tested algorithm; thresholds come from
``config/status.yml`` (:class:`StatusRules`), not from code.

The rules
---------
Given, for one indicator in one year, an *actual* value, an optional *target* with a
*target type*, optionally a *completion rate stated by the source*, and optionally the
source's statement that the target was *met or exceeded* (``stated_outcome``, from the
target row's ``stated_outcome`` column: ``met`` for "已完成", ``exceeded`` for "超额完成"):

1. No target                       -> ``NO_TARGET``
2. A target, no actual and no stated rate, but the source states it was met or exceeded
   ("截至年底已超额完成", with no figure)  -> ``MET_AS_STATED``: shown as met, with the
   source's words in a note. An actual or a stated rate, when there is one, decides instead.
3. A target but no actual          -> ``NO_DATA``
4. ``count`` target (an amount to achieve, "完成年度任务135.4%"):
   completion rate = the stated rate if the source gives one, else actual / target x 100.
   rate >= ``met_at`` (100)         -> ``MET``
   rate >= ``nearly_met_at`` (90)   -> ``NEARLY_MET``
   otherwise                        -> ``NOT_MET``
   A count target is only valid for a higher-is-better indicator.
5. ``min`` threshold ("≥95%"):   actual >= target -> ``MET``, else ``NOT_MET``.
6. ``max`` threshold ("≤3.5%"):  actual <= target -> ``MET``, else ``NOT_MET``
   (used for lower-is-better indicators such as the registered unemployment rate).
   Thresholds are pass/fail: a near miss of a threshold is still not met.

Examples
--------
>>> rules = StatusRules(met_at=100, nearly_met_at=90)
>>> assess(148.9, 110, "count", rules=rules).status        # 城镇新增就业
<TargetStatus.MET: 'met'>
>>> assess(92.1, 95, "min", rules=rules).status            # 客运班车通达率
<TargetStatus.NOT_MET: 'not_met'>
>>> assess(2.47, 3.5, "max", rules=rules).status           # 城镇登记失业率
<TargetStatus.MET: 'met'>
>>> assess(None, 163, "count", stated_outcome="exceeded", rules=rules).status  # 免费开放博物馆
<TargetStatus.MET_AS_STATED: 'met_as_stated'>
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

import yaml
from bpsreport import yamlio

if TYPE_CHECKING:  # the status rules alone (summaries, labels) need no pandas
    import pandas as pd

CONFIG_FILE = Path(__file__).resolve().parent.parent / "config" / "status.yml"


class TargetStatus(str, Enum):
    """Where an indicator stands; the order of members is the display order."""

    MET = "met"
    MET_AS_STATED = "met_as_stated"   # the source says met or exceeded, without a figure
    NEARLY_MET = "nearly_met"
    NOT_MET = "not_met"
    NO_TARGET = "no_target"
    NO_DATA = "no_data"


class StatedOutcome(str, Enum):
    """What the source says of a target it gives no actual for (``stated_outcome``)."""

    MET = "met"             # 已完成 / 完成
    EXCEEDED = "exceeded"   # 超额完成


class TargetType(str, Enum):
    COUNT = "count"   # an amount to achieve; assessed by completion rate
    MIN = "min"       # actual must be at least the target (≥)
    MAX = "max"       # actual must be at most the target (≤)


@dataclass(frozen=True)
class StatusRules:
    """Thresholds for count targets, in percent of the target."""

    met_at: float = 100.0
    nearly_met_at: float = 90.0

    def __post_init__(self):
        if not 0 < self.nearly_met_at <= self.met_at:
            raise ValueError(
                f"config/status.yml: count_target.nearly_met_at ({self.nearly_met_at}) must be "
                f"above 0 and at most met_at ({self.met_at})")

    @classmethod
    def from_config(cls, path: Path = CONFIG_FILE) -> "StatusRules":
        section = load_status_config(path)["count_target"]
        return cls(met_at=float(section["met_at"]), nearly_met_at=float(section["nearly_met_at"]))


def load_status_config(path: Path = CONFIG_FILE) -> dict:
    """The whole of ``config/status.yml``: thresholds, labels and palette."""
    with open(path, encoding="utf-8") as fh:
        return yamlio.safe_load(fh)


@dataclass(frozen=True)
class Assessment:
    status: TargetStatus
    completion_rate: float | None = None   # percent; count targets only
    completion_rate_stated: bool = False   # True when taken from the source text


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def assess(actual: float | None, target: float | None, target_type: str | None, *,
           stated_completion_rate: float | None = None,
           stated_outcome: str | None = None,
           rules: StatusRules | None = None) -> Assessment:
    """Apply the rules in the module docstring to one indicator-year."""
    rules = rules or StatusRules.from_config()
    if _missing(target) and _missing(stated_completion_rate):
        return Assessment(TargetStatus.NO_TARGET)
    if stated_outcome and _missing(actual) and _missing(stated_completion_rate):
        StatedOutcome(stated_outcome)  # an unknown word is a bug upstream, not a status
        return Assessment(TargetStatus.MET_AS_STATED)
    kind = TargetType(target_type or TargetType.COUNT)
    if kind is TargetType.COUNT:
        if not _missing(stated_completion_rate):
            rate, stated = float(stated_completion_rate), True
        elif _missing(actual):
            return Assessment(TargetStatus.NO_DATA)
        elif target == 0:
            raise ValueError("a count target of 0 has no completion rate")
        else:
            rate, stated = float(actual) / float(target) * 100.0, False
        if rate >= rules.met_at:
            status = TargetStatus.MET
        elif rate >= rules.nearly_met_at:
            status = TargetStatus.NEARLY_MET
        else:
            status = TargetStatus.NOT_MET
        return Assessment(status, rate, stated)
    if _missing(actual):
        return Assessment(TargetStatus.NO_DATA)
    met = actual >= target if kind is TargetType.MIN else actual <= target
    return Assessment(TargetStatus.MET if met else TargetStatus.NOT_MET)


ASSESSMENT_COLUMNS = [
    "unit_id", "year", "domain_id", "indicator_id", "actual", "target", "target_type",
    "completion_rate", "completion_rate_stated", "status", "actual_derived", "target_derived",
    "actual_source", "target_source", "stated_outcome",
]


def assess_observations(observations: pd.DataFrame, rules: StatusRules | None = None) -> pd.DataFrame:
    """One assessment row per indicator that has an actual, a target or a stated rate.

    ``observations`` has the clean observation columns (``docs/data-model.md``) for one
    unit and year. Row order follows the input (domain order, then indicator).
    """
    rules = rules or StatusRules.from_config()
    rows = []
    for (unit_id, year, domain_id, indicator_id), group in observations.groupby(
            ["unit_id", "year", "domain_id", "indicator_id"], sort=False):
        by_measure = {m: r for m, r in zip(group["measure"], group.to_dict("records"))}
        actual, target = by_measure.get("actual"), by_measure.get("target")
        stated = by_measure.get("completion_rate")
        outcome = str((target or {}).get("stated_outcome") or "").strip()
        result = assess(
            actual["value"] if actual else None,
            target["value"] if target else None,
            target["target_type"] if target else None,
            stated_completion_rate=stated["value"] if stated else None,
            stated_outcome=outcome or None,
            rules=rules,
        )
        rows.append({
            "unit_id": unit_id, "year": year, "domain_id": domain_id,
            "indicator_id": indicator_id,
            "actual": actual["value"] if actual else math.nan,
            "target": target["value"] if target else math.nan,
            "target_type": target["target_type"] if target else ("count" if stated else ""),
            "completion_rate": math.nan if result.completion_rate is None else result.completion_rate,
            "completion_rate_stated": result.completion_rate_stated,
            "status": result.status.value,
            "actual_derived": bool(actual["derived"]) if actual else False,
            "target_derived": bool(target["derived"]) if target else False,
            "actual_source": actual["source"] if actual else "",
            "target_source": target["source"] if target else (stated["source"] if stated else ""),
            # Kept only where it decided the status (no actual, no stated rate).
            "stated_outcome": outcome if result.status is TargetStatus.MET_AS_STATED else "",
        })
    import pandas as pd

    return pd.DataFrame(rows, columns=ASSESSMENT_COLUMNS)
