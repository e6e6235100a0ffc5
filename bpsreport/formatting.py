"""Numbers and units as each edition prints them.

The Chinese edition keeps the source's units and precision (148.9万人, 10589亿元).

The English edition writes figures the way an English official report does: the amount
in plain units (people, yuan, households), grouped in thousands, and scaled to million or
billion only when it is that large (172,600 people; 1.489 million people; 200 million
yuan; 1,058.9 billion yuan). The rule, in one place:

1. The catalog says how the source unit relates to English units: ``en_factor`` and
   ``unit_en`` (万人 -> 0.01 x "million people"), so 1 万人 is 10^4 people. The *base*
   unit is ``unit_en`` without its scale word ("people"); the value in base units is the
   source value times that multiplier.
2. The source's precision is kept: 148.9万人 is stated to the thousand people, 17.26万人
   to the hundred. A value is never printed with more or fewer significant places than
   the source gave (no "0.1726 million", no "1.5 million" for 148.9万).
3. The scale is the largest of billion and million that the amount reaches, provided the
   source's precision needs at most :data:`MAX_SCALED_DECIMALS` decimals at that scale;
   otherwise the amount is written in full (1,576,205 inspections, not 1.576205 million).
4. Trailing zeros that stand for Chinese integer digits are not precision (7500万元 is 75
   million yuan, not 75.00 million); zeros the source wrote as decimals are (150.0万人 is
   1.500 million people).
5. One figure, one unit: a table row, a chart axis or a footnote that shows several values
   of one indicator uses one scale for all of them, chosen from the largest
   (:func:`english_scale`); a value on its own (narrative, alt text) gets its own.

Percentages and rates (``%``, yuan/month, per 1,000 ...) are never scaled. Charts,
tables, alt text, footnotes and narrative variables all format through here, so one
figure reads the same everywhere.

Examples
--------
>>> row = {"unit": "万人", "unit_en": "million people", "en_factor": 0.01,
...        "decimals": 1, "decimals_en": 3}
>>> format_quantity(148.9, row, "zh")
'148.9万人'
>>> format_quantity(148.9, row, "en")
'1.489 million people'
>>> format_quantity(17.26, {**row, "decimals": 2}, "en")
'172,600 people'
>>> yuan = {"unit": "亿元", "unit_en": "billion yuan", "en_factor": 0.1, "decimals": 0}
>>> format_quantity(2, yuan, "en"), format_quantity(10589, yuan, "en")
('200 million yuan', '1,058.9 billion yuan')
>>> format_target(3.5, "max", {"unit": "%", "unit_en": "%", "en_factor": 1,
...               "decimals": 2, "decimals_en": 2}, "en")
'≤ 3.5%'
>>> format_target(110, "count", row, "en")
'1.1 million people'
>>> format_formula("148.9 ÷ 135.4% = 109.97 ≈ 110.0", row, "en")
'1.489 ÷ 135.4% = 1.0997 ≈ 1.100'
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

LANGS = ("zh", "en")
_COMPARATOR = {"min": "≥", "max": "≤", "count": "", "": "", None: ""}
# Units written straight after the number in both languages (no space).
_TIGHT_UNITS = {"%", "‰"}
#: A figure is scaled only if the source's precision needs at most this many decimals at
#: that scale (1,505,000 people stated to the hundred stays in full, not 1.5050 million).
MAX_SCALED_DECIMALS = 3
# English scale words, largest first, with their power of ten. "thousand" is not one:
# English reports write 172,600 people, not 172.6 thousand people.
_SCALES = (("billion", 9), ("million", 6))
# Scale words a catalog ``unit_en`` may start with, and their power of ten.
_UNIT_SCALE_WORDS = (("hundred million", 8), ("thousand", 3), ("million", 6), ("billion", 9))


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, not {lang!r}")


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class Scale:
    """How an English figure is scaled: ``exponent`` 0 (in full), 6 (million) or 9 (billion)."""

    exponent: int = 0
    word: str = ""


NO_SCALE = Scale()


@dataclass(frozen=True)
class EnglishUnit:
    """The English base unit of an indicator and how the source unit converts to it."""

    base: str           # "people", "yuan", "%"
    multiplier: float   # one source unit in base units (万人 -> 10000)
    scalable: bool      # amounts scale to million / billion; rates and percentages do not


def english_unit(indicator: Mapping) -> EnglishUnit:
    """``万人`` / ``million people`` / 0.01 -> people, 10000.

    >>> english_unit({"unit": "万元/月", "unit_en": "thousand yuan/month", "en_factor": 10})
    EnglishUnit(base='yuan/month', multiplier=10000.0, scalable=True)
    """
    unit_en = str(indicator["unit_en"]).strip()
    factor = float(indicator["en_factor"])
    for word, exponent in _UNIT_SCALE_WORDS:
        if unit_en.lower().startswith(word + " "):
            base = unit_en[len(word) + 1:].strip()
            return EnglishUnit(base, factor * 10.0 ** exponent, True)
    return EnglishUnit(unit_en, factor, unit_en not in _TIGHT_UNITS)


def _step_exponent(indicator: Mapping, decimals: int | None = None) -> int:
    """Power of ten of the smallest step the source states, in English base units:
    148.9万人 (one decimal of 10^4) -> 3."""
    multiplier = english_unit(indicator).multiplier
    places = int(indicator["decimals"]) if decimals is None else int(decimals)
    return round(math.log10(multiplier)) - places if multiplier > 0 else -places


def english_scale(values: Iterable[float], indicator: Mapping, *,
                  step_exponent: int | None = None) -> Scale:
    """The one scale for a set of values of one indicator (a table row, a chart axis).

    Chosen from the largest value (rule 3 of the module docstring).

    >>> jobs = {"unit": "万人", "unit_en": "million people", "en_factor": 0.01, "decimals": 1}
    >>> english_scale([110, 148.9], jobs)
    Scale(exponent=6, word='million')
    >>> english_scale([10, 17.26], {**jobs, "decimals": 2})
    Scale(exponent=0, word='')
    """
    unit = english_unit(indicator)
    if not unit.scalable:
        return NO_SCALE
    present = [abs(float(v)) for v in values if not _missing(v)]
    if not present:
        return NO_SCALE
    largest = max(present) * unit.multiplier
    step = _step_exponent(indicator) if step_exponent is None else step_exponent
    for word, exponent in _SCALES:
        if largest >= 10.0 ** exponent and exponent - step <= MAX_SCALED_DECIMALS:
            return Scale(exponent, word)
    return NO_SCALE


def scaled_value(value: float, indicator: Mapping, lang: str, scale: Scale | None = None) -> float:
    """The value in the unit the edition prints (English: base units over the scale)."""
    _check_lang(lang)
    if lang == "zh":
        return float(value)
    if scale is None:
        scale = english_scale([value], indicator)
    return float(value) * english_unit(indicator).multiplier / 10.0 ** scale.exponent


def format_number(value: float, decimals: int, lang: str) -> str:
    """Fixed decimals; English groups thousands with commas, Chinese does not (as the source)."""
    _check_lang(lang)
    if _missing(value):
        return "—"
    text = f"{float(value):,.{int(decimals)}f}" if lang == "en" else f"{float(value):.{int(decimals)}f}"
    return "0" + text[2:] if text.startswith("-0") and float(text.replace(",", "")) == 0 else text


def unit_label(indicator: Mapping, lang: str, scale: Scale | None = None) -> str:
    """The unit as printed: ``万人``; in English ``people`` or, scaled, ``million people``."""
    _check_lang(lang)
    if lang == "zh":
        return str(indicator["unit"])
    base = english_unit(indicator).base
    scale = scale or NO_SCALE
    return f"{scale.word} {base}" if scale.word else base


def _english_number(value: float, indicator: Mapping, scale: Scale, decimals: int) -> str:
    """``value`` (source unit, stated to ``decimals`` places) in English at ``scale``."""
    unit = english_unit(indicator)
    step = round(math.log10(unit.multiplier)) - decimals if unit.multiplier > 0 else -decimals
    places = max(0, scale.exponent - step)
    text = format_number(float(value) * unit.multiplier / 10.0 ** scale.exponent, places, "en")
    if decimals == 0 and "." in text:
        # Rule 4: these zeros were integer digits in the source (7500万元 -> 75 million).
        text = text.rstrip("0").rstrip(".")
    return text


def format_value(value: float, indicator: Mapping, lang: str, scale: Scale | None = None) -> str:
    """The number alone, as the edition prints it (English at ``scale``, by default the
    value's own)."""
    _check_lang(lang)
    if _missing(value):
        return "—"
    if lang == "zh":
        return format_number(float(value), indicator["decimals"], lang)
    if scale is None:
        scale = english_scale([value], indicator)
    return _english_number(float(value), indicator, scale, int(indicator["decimals"]))


def _with_unit(number: str, unit: str, lang: str) -> str:
    if lang == "zh" or unit in _TIGHT_UNITS:
        return f"{number}{unit}"
    return f"{number} {unit}"


def format_quantity(value: float, indicator: Mapping, lang: str, scale: Scale | None = None) -> str:
    """Number and unit: ``148.9万人`` / ``1.489 million people`` / ``92.1%``."""
    if _missing(value):
        return "—"
    if lang == "en" and scale is None:
        scale = english_scale([value], indicator)
    return _with_unit(format_value(value, indicator, lang, scale), unit_label(indicator, lang, scale), lang)


def _trim_zeros(number: str) -> str:
    """``95.0`` -> ``95``, ``3.50`` -> ``3.5``: targets are round numbers in the source."""
    if "." not in number:
        return number
    return number.rstrip("0").rstrip(".")


def format_target_number(value: float, target_type: str | None, indicator: Mapping, lang: str,
                         scale: Scale | None = None) -> str:
    """A target without its unit, for a table whose unit has its own column: ``≥ 95``."""
    if _missing(value):
        return "—"
    if lang == "en" and scale is None:
        scale = english_scale([value], indicator)
    number = _trim_zeros(format_value(value, indicator, lang, scale))
    sign = _COMPARATOR.get(target_type or "", "")
    return f"{sign} {number}" if sign else number


def format_target(value: float, target_type: str | None, indicator: Mapping, lang: str,
                  scale: Scale | None = None) -> str:
    """A target with its comparator: ``≥ 95%``, ``≤ 3.5%``, or a plain amount.

    Targets are set as round figures ("不低于95%", "110万人"), so trailing zeros that the
    indicator's precision would add are dropped: ``110万人``, not ``110.0万人``.
    """
    if _missing(value):
        return "—"
    if lang == "en" and scale is None:
        scale = english_scale([value], indicator)
    number = _trim_zeros(format_value(value, indicator, lang, scale))
    text = _with_unit(number, unit_label(indicator, lang, scale), lang)
    sign = _COMPARATOR.get(target_type or "", "")
    return f"{sign} {text}" if sign else text


def format_percent(rate: float, lang: str, decimals: int = 1) -> str:
    """A completion rate: ``135.4%``."""
    if _missing(rate):
        return "—"
    return f"{format_number(rate, decimals, lang)}%"


# --- formulas of derived values -------------------------------------------------------------

# A number in a formula, with an optional percent sign.
_FORMULA_NUMBER = re.compile(r"(?<![\w.])(\d+)(?:\.(\d+))?(%?)")
# The growth factor of "x ÷ (1 + 8.2%)": its 1 is a pure number, not an amount.
_GROWTH_ONE = re.compile(r"\(\s*$")
_GROWTH_REST = re.compile(r"^\s*[+\-−]\s*\d+(?:\.\d+)?%")


def format_formula(formula: str, indicator: Mapping, lang: str, scale: Scale | None = None) -> str:
    """How a derived value was computed, in the units the edition prints.

    A formula (observation column ``formula``) is a calculation in the source's unit:
    numbers are amounts of the indicator, numbers with ``%`` are percentages, and the 1
    of a growth factor ``(1 + 8.2%)`` is a pure number. Chinese prints it as written.
    English converts every amount to the figure's scale (the table row's, by default
    the scale of the largest amount in the formula), keeping each number's own written
    precision, and groups thousands.

    >>> homes = {"unit": "套", "unit_en": "units", "en_factor": 1, "decimals": 0}
    >>> format_formula("38367 ÷ 104.4% = 36750.00 ≈ 36750", homes, "en")
    '38,367 ÷ 104.4% = 36,750.00 ≈ 36,750'
    >>> yuan = {"unit": "亿元", "unit_en": "billion yuan", "en_factor": 0.1, "decimals": 0}
    >>> format_formula("2384 ÷ (1 + 32.1%) = 1804.69 ≈ 1805", yuan, "en")
    '238.4 ÷ (1 + 32.1%) = 180.469 ≈ 180.5'
    """
    _check_lang(lang)
    formula = str(formula).strip()
    if lang == "zh" or not formula:
        return formula
    amounts = []
    for m in _FORMULA_NUMBER.finditer(formula):
        if not m.group(3) and not _is_growth_one(formula, m):
            amounts.append(float(m.group(0)))
    if scale is None:
        scale = english_scale(amounts, indicator)

    def replace(m: re.Match) -> str:
        whole, fraction, percent = m.group(1), m.group(2) or "", m.group(3)
        if percent or _is_growth_one(formula, m):
            return format_number(float(f"{whole}.{fraction or 0}"), len(fraction), "en") + percent
        return _english_number(float(f"{whole}.{fraction or 0}"), indicator, scale, len(fraction))

    return _FORMULA_NUMBER.sub(replace, formula)


def _is_growth_one(formula: str, m: re.Match) -> bool:
    return (m.group(0) == "1" and bool(_GROWTH_ONE.search(formula[:m.start()]))
            and bool(_GROWTH_REST.match(formula[m.end():])))
