"""Numbers and units as each edition prints them.

The Chinese edition keeps the source's units and precision (148.9万人, 10589亿元). The
English edition scales to international units with the catalog's ``en_factor`` and
``unit_en`` (1.489 million people, 1,058.9 billion yuan). Charts, tables, alt text and
narrative variables all format through here, so one figure reads the same everywhere.

Examples
--------
>>> row = {"unit": "万人", "unit_en": "million people", "en_factor": 0.01,
...        "decimals": 1, "decimals_en": 3}
>>> format_quantity(148.9, row, "zh")
'148.9万人'
>>> format_quantity(148.9, row, "en")
'1.489 million people'
>>> format_target(3.5, "max", {"unit": "%", "unit_en": "%", "en_factor": 1,
...               "decimals": 2, "decimals_en": 2}, "en")
'≤ 3.5%'
>>> format_target(110, "count", row, "en")
'1.1 million people'
"""

from __future__ import annotations

import math
from collections.abc import Mapping

LANGS = ("zh", "en")
_COMPARATOR = {"min": "≥", "max": "≤", "count": "", "": "", None: ""}
# Units written straight after the number in both languages (no space).
_TIGHT_UNITS = {"%", "‰"}


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, not {lang!r}")


def scaled_value(value: float, indicator: Mapping, lang: str) -> float:
    """The value in the unit the edition prints (English values are scaled)."""
    _check_lang(lang)
    return float(value) * float(indicator["en_factor"]) if lang == "en" else float(value)


def format_number(value: float, decimals: int, lang: str) -> str:
    """Fixed decimals; English groups thousands with commas, Chinese does not (as the source)."""
    _check_lang(lang)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    text = f"{float(value):,.{int(decimals)}f}" if lang == "en" else f"{float(value):.{int(decimals)}f}"
    return "0" + text[2:] if text.startswith("-0") and float(text.replace(",", "")) == 0 else text


def unit_label(indicator: Mapping, lang: str) -> str:
    _check_lang(lang)
    return str(indicator["unit"] if lang == "zh" else indicator["unit_en"])


def format_value(value: float, indicator: Mapping, lang: str) -> str:
    """The number alone, scaled and rounded for the edition."""
    decimals = indicator["decimals"] if lang == "zh" else indicator["decimals_en"]
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format_number(scaled_value(value, indicator, lang), decimals, lang)


def format_quantity(value: float, indicator: Mapping, lang: str) -> str:
    """Number and unit: ``148.9万人`` / ``1.489 million people`` / ``92.1%``."""
    number = format_value(value, indicator, lang)
    if number == "—":
        return number
    unit = unit_label(indicator, lang)
    if lang == "zh" or unit in _TIGHT_UNITS:
        return f"{number}{unit}"
    return f"{number} {unit}"


def _trim_zeros(number: str) -> str:
    """``95.0`` -> ``95``, ``3.50`` -> ``3.5``: targets are round numbers in the source."""
    if "." not in number:
        return number
    return number.rstrip("0").rstrip(".")


def format_target(value: float, target_type: str | None, indicator: Mapping, lang: str) -> str:
    """A target with its comparator: ``≥ 95%``, ``≤ 3.5%``, or a plain amount.

    Targets are set as round figures ("不低于95%", "110万人"), so trailing zeros that the
    indicator's precision would add are dropped: ``110万人``, not ``110.0万人``.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    number = _trim_zeros(format_value(value, indicator, lang))
    unit = unit_label(indicator, lang)
    text = f"{number}{unit}" if lang == "zh" or unit in _TIGHT_UNITS else f"{number} {unit}"
    sign = _COMPARATOR.get(target_type or "", "")
    return f"{sign} {text}" if sign and text != "—" else text


def format_percent(rate: float, lang: str, decimals: int = 1) -> str:
    """A completion rate: ``135.4%``."""
    if rate is None or (isinstance(rate, float) and math.isnan(rate)):
        return "—"
    return f"{format_number(rate, decimals, lang)}%"
