"""The one visual style: the status palette (shared by charts and tables), fonts, theme.

The palette and status labels are data in ``config/status.yml``; this module only
reads them, so a chart and a table can never disagree on what "not met" looks like.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .progress import TargetStatus, load_status_config


@dataclass(frozen=True)
class StatusStyle:
    status: TargetStatus
    label_zh: str
    label_en: str
    fill: str
    text: str

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en


@lru_cache(maxsize=1)
def status_styles() -> dict[TargetStatus, StatusStyle]:
    """Label and colours per status, in display order (best first)."""
    config = load_status_config()["statuses"]
    return {
        s: StatusStyle(s, config[s.value]["zh"], config[s.value]["en"],
                       config[s.value]["fill"], config[s.value]["text"])
        for s in TargetStatus
    }


def status_fill(status: str | TargetStatus) -> str:
    return status_styles()[TargetStatus(status)].fill


def status_label(status: str | TargetStatus, lang: str) -> str:
    return status_styles()[TargetStatus(status)].label(lang)
