"""The report's charts, built with plotnine from the clean data.

Each builder returns a :class:`Chart`: the plot, alt text written from the same data, a
caption, and a file stem. Every figure is drawn in one language (``"zh"`` or ``"en"``):
names come from the catalog (``name_zh`` / ``name_en``), status labels and colours from
``config/status.yml`` (via :mod:`bpsreport.style`), numbers and units from
:mod:`bpsreport.formatting`, so a figure, its table and its alt text agree.

The charts
----------
``domain_chart``
    One row per indicator with a target. Count targets show the completion rate as a
    bar against tick marks at 100%; threshold targets (≥ / ≤) show the actual value as a
    dot against tick marks at the threshold. A shaded zone marks where the target counts
    as met, so a ceiling (≤, lower is better) reads as clearly as a floor (≥). Each row has
    its own value axis (indicators do not share units); count rows share one axis so
    their completion rates compare.
``overview_status_chart``
    Indicators by status in each of the ten domains, in the seed's order.
``funding_chart``
    The funding figures as calm bars with value labels; amounts in the same unit share an
    axis.
``satisfaction_chart``
    Public satisfaction over the years; values derived from stated changes are hollow
    points labelled as derived.

Output: :func:`save_chart` writes ``<name>.svg`` (text as paths, so no font is needed to
view it) and ``<name>.png`` at 300 dpi, byte-identical for identical input.

Examples
--------
>>> chart = domain_chart(assessment, catalog, "employment_security", "zh")  # doctest: +SKIP
>>> chart.alt                                                                # doctest: +SKIP
'就业保障2017年目标完成情况：城镇新增就业：148.9万人，完成年度任务的135.4%（已完成）；…'
>>> save_chart(chart, Path("build/figures"))                                 # doctest: +SKIP
{'svg': PosixPath('build/figures/employment_security-targets-zh.svg'), 'png': ...}
"""

from __future__ import annotations

import math
import re
import textwrap
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from plotnine import (aes, coord_flip, element_blank, element_text, facet_wrap, geom_blank,
                      geom_col, geom_line, geom_point, geom_rect, geom_segment, geom_text, ggplot,
                      guide_legend, guides, labs, position_stack, scale_color_identity,
                      scale_fill_manual, scale_shape_manual, scale_x_continuous,
                      scale_x_discrete, scale_y_continuous, theme)

from .catalog import Catalog
from .formatting import (LANGS, english_scale, format_number, format_percent, format_quantity,
                         format_target, scaled_value, unit_label)
from .progress import TargetStatus
from .style import (CHART_BASE_SIZE, CHART_WIDTH_CM, INK, INK_MUTED, NEUTRAL_FILL, REFERENCE,
                    ZONE, chart_theme, configure_fonts, status_label, status_styles)

PNG_DPI = 300
# Fixed salt for the ids matplotlib writes into SVG files (clip paths, glyphs): the same
# chart gives the same bytes on every run.
SVG_HASH_SALT = "bpsreport"

# The cross-cutting funding figures, in the order they are drawn (present ones only).
FUNDING_INDICATORS = (
    "livelihood_spending",
    "livelihood_spending_share",
    "transfers_to_cities_counties",
    "transfers_share_provincial_spending",
)
SATISFACTION_INDICATOR = "public_satisfaction"

# Every word a chart prints that is not a catalog name, number or status label. Bilingual
# text lives here, keyed by language, rather than in branches through the code.
_TEXT: dict[str, dict[str, str]] = {
    "zh": {
        "count_row": "{name}：{actual}，完成年度任务的{rate}（{status}）",
        "count_row_rate_only": "{name}：完成年度任务的{rate}（{status}）",
        "threshold_row": "{name}：{actual}，目标{target}（{status}）",
        "no_data_row": "{name}：目标{target}，尚无实际数据（{status}）",
        "stated_row": "{name}：目标{target}，{outcome}，未列明实际值（{status}）",
        "stated_met": "原文称已完成",
        "stated_exceeded": "原文称超额完成",
        "derived": "（推算）",
        "list_sep": "；",
        "end": "。",
        "domain_alt": "{domain}{year}年目标完成情况：{items}",
        "domain_title": "{domain}：{year}年指标目标完成情况",
        "domain_caption": "{domain}：{year}年目标完成情况。阴影为达到目标的区间，深色短竖线标出目标值（计数类指标为完成年度任务的100%）。",
        "overview_alt": "{year}年各领域指标共{total}项，按完成情况分：{items}",
        "overview_title": "{year}年各领域指标完成情况",
        "overview_domain": "{domain}{total}项，其中{parts}",
        "overview_part": "{label}{n}项",
        "overview_part_sep": "、",
        "overview_none": "尚无指标的领域：{domains}",
        "overview_caption": "{year}年各领域及资金投入与绩效考评部分有目标指标的完成情况（指标个数）；灰字为未设目标的指标个数。",
        "overview_no_target": "另有{n}项无目标",
        "overview_axis": "指标个数",
        "funding_row": "{name}：{value}",
        "funding_alt": "{year}年资金投入：{items}",
        "funding_title": "{year}年民生投入与转移支付",
        "funding_caption": "{year}年民生投入与对欠发达地区的转移支付",
        "satisfaction_point": "{year}年{value}{derived}",
        "satisfaction_alt": "{name}：{items}",
        "satisfaction_title": "{name}",
        "satisfaction_caption": "{name}（绩效考评）。空心点为根据文件所述增幅推算的数值。",
        "satisfaction_axis": "{name}（{unit}）",
        "stated": "文件所述",
        "derived_legend": "推算",
    },
    "en": {
        "count_row": "{name}: {actual}, {rate} of the annual target ({status})",
        "count_row_rate_only": "{name}: {rate} of the annual target ({status})",
        "threshold_row": "{name}: {actual} against a target of {target} ({status})",
        "no_data_row": "{name}: target {target}, no actual figure yet ({status})",
        "stated_row": "{name}: target {target}, {outcome}, no actual figure given ({status})",
        "stated_met": "stated as met in the source",
        "stated_exceeded": "stated as exceeded in the source",
        "derived": " (derived)",
        "list_sep": "; ",
        "end": ".",
        "domain_alt": "{domain}, progress against {year} targets: {items}",
        "domain_title": "{domain}: progress against {year} targets",
        "domain_caption": "{domain}: progress against {year} targets. Shading marks where a target is met; the dark ticks mark the target (100% of the annual task for count targets).",
        "overview_alt": "{total} indicators for {year}, by domain and status: {items}",
        "overview_title": "Indicator status by domain, {year}",
        "overview_domain": "{domain}, {total} ({parts})",
        "overview_part": "{n} {label}",
        "overview_part_no_target": "{n} without a target",
        "overview_part_no_data": "{n} without an actual value",
        "overview_part_sep": ", ",
        "overview_none": "no indicators yet: {domains}",
        "overview_caption": "Indicators with a target by status, in each domain and in funding and performance evaluation, {year} (number of indicators); grey text counts indicators without a target.",
        "overview_no_target": "+{n} without a target",
        "overview_axis": "Number of indicators",
        "funding_row": "{name}: {value}",
        "funding_alt": "Funding in {year}: {items}",
        "funding_title": "Public-service spending and transfers, {year}",
        "funding_caption": "Spending on public services and transfers to less-developed areas, {year}",
        "satisfaction_point": "{value} in {year}{derived}",
        "satisfaction_alt": "{name}: {items}",
        "satisfaction_title": "{name}",
        "satisfaction_caption": "{name} (performance evaluation). Hollow points are derived from changes stated in the source.",
        "satisfaction_axis": "{name} ({unit})",
        "stated": "stated",
        "derived_legend": "derived",
    },
}

# Display width of a strip line, in half-width characters (a Chinese character counts 2).
_STRIP_WIDTH = 100
_LABEL_WIDTH = 26


@dataclass
class Chart:
    """A chart ready to show or save.

    ``plot`` is a plotnine ``ggplot``; ``alt``, ``caption`` and ``title`` are in the chart's
    language; ``title`` is the short line a report prints as the figure's numbered caption
    (图1　就业保障：2017年指标目标完成情况), ``caption`` says how to read the chart.
    ``name`` is the file stem (it ends with the language, so both editions can share a
    folder). ``width_cm`` / ``height_cm`` are the printed size.
    """

    plot: ggplot
    alt: str
    caption: str
    name: str
    title: str = ""
    width_cm: float = CHART_WIDTH_CM
    height_cm: float = 9.0


# --- helpers -------------------------------------------------------------------------------

def _text(lang: str) -> dict[str, str]:
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, not {lang!r}")
    return _TEXT[lang]


def _is_yes(value) -> bool:
    """``derived`` may be a boolean or the contract's ``yes``."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return str(value).strip().lower() in {"yes", "true", "1", "y"}


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _char_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def _text_width(text: str) -> int:
    return sum(_char_width(ch) for ch in text)


# Closing punctuation stays on the line before it.
_NO_LINE_START = set("，。、；：）》」』】,.;:)%")
_NO_LINE_END = set("（《「『【(")


def wrap_label(text: str, width: int) -> str:
    """Wrap mixed Chinese / English text to ``width`` half-width characters per line.

    Latin words are kept whole; Chinese may break between any two characters except
    before closing punctuation.

    >>> wrap_label("New households receiving rental subsidies", 20)
    'New households\\nreceiving rental\\nsubsidies'
    >>> wrap_label("省对市县税收返还和转移支付", 12)
    '省对市县税收\\n返还和转移支\\n付'
    """
    if all(_char_width(ch) == 1 for ch in text):
        return "\n".join(textwrap.wrap(text, width=width, break_long_words=False))
    if _text_width(text) <= width:
        return text
    # Tokens: a Latin word (with its trailing space) or one wide character.
    raw = re.findall(r"[^\s\u1100-\uffff]+\s*|\s+|.", text)
    tokens: list[str] = []
    for token in raw:  # opening punctuation travels with what follows it
        if tokens and tokens[-1] and tokens[-1][-1] in _NO_LINE_END:
            tokens[-1] += token
        else:
            tokens.append(token)
    lines, line = [], ""
    for token in tokens:
        fits = _text_width(line + token.rstrip()) <= width
        if line and not fits and token[0] not in _NO_LINE_START:
            lines.append(line.rstrip())
            line = token.lstrip()
        else:
            line += token
    if line.strip():
        lines.append(line.rstrip())
    return "\n".join(lines)


def _rate_decimals(rate: float, stated: bool) -> int:
    """Decimals of a completion rate: a rate the source states keeps its own precision
    (76.55%, 135.4%, 100%; at most two); a computed one (5728 / 6000 = 95.466...%) shows
    one decimal. The same rule as the target table (bpsreport/tables.py)."""
    if not stated:
        return 1
    text = f"{rate:.6f}".rstrip("0").rstrip(".")
    return min(2, len(text.split(".")[1])) if "." in text else 0


def _indicator(catalog: Catalog, indicator_id: str) -> Mapping:
    if indicator_id not in catalog.indicators.index:
        raise KeyError(f"indicator {indicator_id!r} is not in the catalog")
    return catalog.indicators.loc[indicator_id]


def _name(frame: pd.DataFrame, key: str, lang: str) -> str:
    return str(frame.at[key, f"name_{lang}"])


def _year(frame: pd.DataFrame) -> str:
    years = sorted({int(y) for y in frame["year"].dropna()}) if "year" in frame else []
    return str(years[-1]) if years else ""


def _status_scale(statuses: Iterable[str], lang: str):
    """Fill scale mapping status labels to the one palette; the legend lists the statuses
    present, in display order."""
    present = set(statuses)
    styles = list(status_styles().values())
    return scale_fill_manual(values={s.label(lang): s.fill for s in styles},
                             breaks=[s.label(lang) for s in styles if s.status.value in present])


def _status_order(lang: str) -> list[str]:
    return [s.label(lang) for s in status_styles().values()]


def _tick_labels(lang: str):
    def labels(breaks):
        out = []
        for b in breaks:
            decimals = 0 if float(b).is_integer() else max(0, min(3, -int(math.floor(math.log10(abs(b) % 1 or 1)))))
            out.append(format_number(b, decimals, lang))
        return out
    return labels


def _count_breaks(limits) -> list[int]:
    """Whole-number breaks for an axis of counts."""
    top = max(1, math.ceil(limits[1]))
    step = max(1, math.ceil(top / 6))
    return list(range(0, top + 1, step))


def _size_theme(width_cm: float, height_cm: float):
    return theme(figure_size=(width_cm / 2.54, height_cm / 2.54))


def _base(font_family: str, width_cm: float, height_cm: float):
    return chart_theme(font_family) + _size_theme(width_cm, height_cm)


# --- per-domain targets --------------------------------------------------------------------

def _target_rows(assessment: pd.DataFrame, catalog: Catalog, domain_id: str, lang: str) -> pd.DataFrame:
    """One row per indicator of the domain that has a target, in catalog order."""
    text = _text(lang)
    rows = assessment[(assessment["domain_id"] == domain_id)
                      & (assessment["status"] != TargetStatus.NO_TARGET.value)]
    order = {ind: i for i, ind in enumerate(catalog.indicators.index)}
    rows = rows.assign(_order=rows["indicator_id"].map(order)).sort_values(["_order", "indicator_id"], kind="stable")
    out = []
    for rec in rows.to_dict("records"):
        ind = _indicator(catalog, rec["indicator_id"])
        kind = rec.get("target_type") or "count"
        kind = "count" if _missing(kind) else str(kind)
        status = str(rec["status"])
        name = str(ind[f"name_{lang}"])
        status_text = status_label(status, lang).lower()
        actual, target, rate = rec.get("actual"), rec.get("target"), rec.get("completion_rate")
        # Target and actual in one unit (formatting.english_scale): one axis, one scale.
        scale = english_scale([x for x in (actual, target) if not _missing(x)], ind) \
            if lang == "en" else None
        actual_text = "" if _missing(actual) else format_quantity(actual, ind, lang, scale) + (
            text["derived"] if _is_yes(rec.get("actual_derived")) else "")
        target_text = "" if _missing(target) else format_target(target, kind, ind, lang, scale) + (
            text["derived"] if _is_yes(rec.get("target_derived")) else "")
        outcome = str(rec.get("stated_outcome") or "") if status == TargetStatus.MET_AS_STATED.value else ""
        if kind == "count":
            value = np.nan if _missing(rate) else float(rate)
            reference = 100.0
            stated = _is_yes(rec.get("completion_rate_stated"))
            value_label = "" if _missing(rate) else format_percent(rate, lang, _rate_decimals(rate, stated))
            if outcome:
                sentence = text["stated_row"].format(name=name, target=target_text, status=status_text,
                                                     outcome=text[f"stated_{outcome}"])
            elif _missing(rate):
                sentence = text["no_data_row"].format(name=name, target=target_text, status=status_text)
            elif actual_text:
                sentence = text["count_row"].format(name=name, actual=actual_text, rate=value_label, status=status_text)
            else:
                sentence = text["count_row_rate_only"].format(name=name, rate=value_label, status=status_text)
        else:
            value = np.nan if _missing(actual) else scaled_value(actual, ind, lang, scale)
            reference = scaled_value(target, ind, lang, scale)
            value_label = "" if _missing(actual) else format_quantity(actual, ind, lang, scale)
            if outcome:
                sentence = text["stated_row"].format(name=name, target=target_text, status=status_text,
                                                     outcome=text[f"stated_{outcome}"])
            elif _missing(actual):
                sentence = text["no_data_row"].format(name=name, target=target_text, status=status_text)
            else:
                sentence = text["threshold_row"].format(name=name, actual=actual_text, target=target_text,
                                                        status=status_text)
        out.append({
            "indicator_id": rec["indicator_id"], "kind": kind, "status": status,
            "status_label": status_label(status, lang), "value": value, "reference": reference,
            "value_label": value_label, "sentence": sentence,
            "stated_label": text[f"stated_{outcome}"] if outcome else "",
            "facet": wrap_label(sentence, _STRIP_WIDTH),
        })
    return pd.DataFrame(out)


def domain_chart(assessment: pd.DataFrame, catalog: Catalog, domain_id: str, lang: str) -> Chart | None:
    """How each indicator of a domain with a target stands against it.

    Parameters
    ----------
    assessment
        The clean ``assessment`` table for one unit and year.
    catalog
        From :func:`bpsreport.catalog.load_catalog`.
    domain_id
        A domain id, e.g. ``"employment_security"``.
    lang
        ``"zh"`` or ``"en"``.

    Returns
    -------
    Chart or None
        ``None`` when no indicator of the domain has a target (or a stated completion
        rate) that year.
    """
    text = _text(lang)
    font = configure_fonts()
    rows = _target_rows(assessment, catalog, domain_id, lang)
    if rows.empty:
        return None
    facets = list(dict.fromkeys(rows["facet"]))
    rows["facet"] = pd.Categorical(rows["facet"], categories=facets, ordered=True)

    # Axis range per row: count rows share one range so completion rates compare; a
    # threshold row spans zero to its larger value. Extra room on the right for labels.
    count_top = max([100.0] + [v for v in rows.loc[rows["kind"] == "count", "value"] if not _missing(v)])
    def top(r):
        if r["kind"] == "count":
            return count_top
        return max(r["reference"], 0 if _missing(r["value"]) else r["value"])
    rows["x_max"] = [top(r) * 1.18 for r in rows.to_dict("records")]
    rows["x_min"] = 0.0
    rows["label_x"] = rows["value"].fillna(0)
    # The zone where the target is met: above the floor, or below the ceiling (≤).
    rows["zone_min"] = np.where(rows["kind"] == "max", -np.inf, rows["reference"])
    rows["zone_max"] = np.where(rows["kind"] == "max", rows["reference"], np.inf)

    bars = rows[(rows["kind"] == "count") & rows["value"].notna()]
    dots = rows[(rows["kind"] != "count") & rows["value"].notna()]
    # Met as the source states it: a diamond on the target, no bar (there is no figure).
    stated = rows[rows["value"].isna() & (rows["stated_label"] != "")]
    no_data = rows[rows["value"].isna() & (rows["stated_label"] == "")]
    limits = pd.concat([rows.assign(x=rows["x_min"]), rows.assign(x=rows["x_max"])])

    plot = (
        ggplot(rows)
        + geom_blank(aes(x="x", y=1), data=limits)
        + geom_rect(aes(xmin="zone_min", xmax="zone_max", ymin=0.5, ymax=1.5), fill=ZONE, color=None)
    )
    # plotnine cannot draw a layer with no rows, so each mark is added only when used.
    if not bars.empty:
        plot += geom_rect(aes(xmin=0, xmax="value", ymin=0.72, ymax=1.28, fill="status_label"), data=bars)
    if not dots.empty:
        plot += geom_segment(aes(x=0, xend="value", y=1, yend=1), data=dots, color=INK_MUTED, size=0.6)
        plot += geom_point(aes(x="value", y=1, fill="status_label"), data=dots, size=3.6, stroke=0.5,
                           color="white", shape="o", show_legend=bars.empty)
    # The target as marks above and below the bar, so that a value label next to the bar
    # never sits on top of it; the edge of the shaded zone continues the line.
    for y0, y1 in ((0.5, 0.68), (1.32, 1.5)):
        plot += geom_segment(aes(x="reference", xend="reference"), y=y0, yend=y1, color=REFERENCE, size=0.9)
    # Value labels right of the bar end or the dot (spaces clear the dot's radius).
    for marks, pad in ((bars, "  "), (dots, "    ")):
        if not marks.empty:
            plot += geom_text(aes(x="label_x", y=1, label="value_label"), data=marks, ha="left",
                              size=CHART_BASE_SIZE * 0.9, color=INK, family=font.family,
                              format_string=pad + "{}")
    if not stated.empty:
        plot += geom_point(aes(x="reference", y=1, fill="status_label"), data=stated, size=4.2,
                           stroke=0.5, color=INK, shape="D", show_legend=bars.empty and dots.empty)
        # Left of the diamond: the target sits near the right edge of the row.
        plot += geom_text(aes(x="reference", y=1, label="stated_label"), data=stated, ha="right",
                          size=CHART_BASE_SIZE * 0.9, color=INK, family=font.family,
                          format_string="{}    ")
    if not no_data.empty:
        plot += geom_text(aes(x=0, y=1, label="status_label"), data=no_data, ha="left",
                          size=CHART_BASE_SIZE * 0.9, color=INK_MUTED, family=font.family,
                          format_string=" {}")
    plot += [
        facet_wrap("facet", ncol=1, scales="free_x"),
        scale_x_continuous(labels=_tick_labels(lang), expand=(0, 0)),
        scale_y_continuous(limits=(0.5, 1.5), breaks=[], expand=(0, 0)),
        labs(x="", y=""),
    ]
    if not (bars.empty and dots.empty and stated.empty):
        plot += _status_scale(pd.concat([bars, dots, stated])["status"], lang)
    n = len(rows)
    extra_lines = sum(label.count("\n") for label in facets)
    height = max(3.6, 1.6 + 1.55 * n + 0.42 * extra_lines)
    plot = plot + _base(font.family, CHART_WIDTH_CM, height) + theme(
        panel_grid_major_y=element_blank(),
        axis_text_y=element_blank(),
        panel_spacing_y=0.025,
    )
    year = _year(assessment)
    domain = _name(catalog.domains, domain_id, lang)
    items = text["list_sep"].join(rows["sentence"])
    return Chart(
        plot=plot,
        alt=text["domain_alt"].format(domain=domain, year=year, items=items) + text["end"],
        caption=text["domain_caption"].format(domain=domain, year=year),
        title=text["domain_title"].format(domain=domain, year=year),
        name=f"{domain_id}-targets-{lang}",
        height_cm=height,
    )


# --- overview of statuses --------------------------------------------------------------------

def overview_status_chart(assessment: pd.DataFrame, catalog: Catalog, lang: str) -> Chart:
    """Indicators with a target, by status, in every domain of the catalog (seed's order,
    the cross-cutting funding and performance evaluation part first, as in the tables).

    The bars count indicators with a target (met, met as stated, nearly met, not met, no
    data); the number reported without a target follows each bar as muted text, so the
    statuses stay readable even where most indicators are descriptive. Every domain keeps
    its row, so the chart's counts add up to the report's totals (``summary.indicators``).
    """
    text = _text(lang)
    font = configure_fonts()
    domain_ids = list(catalog.domain_ids())
    names = {d: wrap_label(_name(catalog.domains, d, lang), _LABEL_WIDTH) for d in domain_ids}
    axis_order = [names[d] for d in reversed(domain_ids)]  # first domain at the top
    styles = status_styles()
    status_rank = {s.value: i for i, s in enumerate(styles)}
    domain_rank = {d: i for i, d in enumerate(domain_ids)}
    counts = (assessment[assessment["domain_id"].isin(domain_ids)]
              .groupby(["domain_id", "status"]).size().rename("n").reset_index())
    counts = counts[counts["n"] > 0]
    counts = counts.assign(
        _d=counts["domain_id"].map(domain_rank), _s=counts["status"].map(status_rank)
    ).sort_values(["_d", "_s"]).reset_index(drop=True)

    no_target = TargetStatus.NO_TARGET.value
    bars = counts[counts["status"] != no_target].copy()
    bars["domain"] = pd.Categorical(bars["domain_id"].map(names), categories=axis_order, ordered=True)
    bars["status_label"] = pd.Categorical([status_label(s, lang) for s in bars["status"]],
                                          categories=_status_order(lang), ordered=True)
    bars["text_color"] = [styles[TargetStatus(s)].text for s in bars["status"]]
    bars["label"] = bars["n"].astype(int).astype(str)
    # Label positions computed here (centre of each segment), so a label can never end up
    # on another status's segment.
    ends = bars.groupby("domain_id", sort=False)["n"].cumsum()
    bars["label_y"] = ends - bars["n"] / 2
    totals = bars.groupby("domain_id")["n"].sum()
    notes = counts[counts["status"] == no_target].copy()
    notes["domain"] = pd.Categorical(notes["domain_id"].map(names), categories=axis_order, ordered=True)
    notes["y"] = notes["domain_id"].map(totals).fillna(0).astype(float)
    notes["label"] = [text["overview_no_target"].format(n=int(n)) for n in notes["n"]]
    # Room on the right for the muted notes.
    top = max(1.0, float(totals.max()) if len(totals) else 1.0) / (0.62 if len(notes) else 0.95)

    plot = ggplot(bars, aes(x="domain", y="n"))
    if not bars.empty:
        plot += [
            # A thin outline keeps the near-white "no data" status visible.
            geom_col(aes(fill="status_label"), position=position_stack(reverse=True), width=0.68,
                     color="#B8BEC6", size=0.25),
            geom_text(aes(x="domain", y="label_y", label="label", color="text_color"), inherit_aes=False,
                      size=CHART_BASE_SIZE * 0.85, family=font.family),
            _status_scale(bars["status"], lang),
        ]
    if not notes.empty:
        plot += geom_text(aes(x="domain", y="y", label="label"), data=notes, inherit_aes=False, ha="left",
                          size=CHART_BASE_SIZE * 0.85, color=INK_MUTED, family=font.family,
                          format_string="  {}")
    plot += [
        coord_flip(),
        scale_color_identity(),
        scale_x_discrete(limits=axis_order),
        scale_y_continuous(limits=(0, top), expand=(0, 0), breaks=_count_breaks, labels=_tick_labels(lang)),
        labs(x="", y=text["overview_axis"]),
        guides(fill=guide_legend(nrow=1)),
    ]
    height = 9.0
    plot = plot + _base(font.family, CHART_WIDTH_CM, height) + theme(
        panel_grid_major_y=element_blank(),
        axis_text_y=element_text(color=INK, size=CHART_BASE_SIZE, ha="right"),
    )

    parts_by_domain = []
    empty = []
    for d in domain_ids:
        sub = counts[counts["domain_id"] == d]
        if sub.empty:
            empty.append(_name(catalog.domains, d, lang))
            continue
        parts = text["overview_part_sep"].join(
            text.get(f"overview_part_{s}", text["overview_part"]).format(
                label=status_label(s, lang).lower(), n=int(n))
            for s, n in zip(sub["status"], sub["n"]))
        parts_by_domain.append(text["overview_domain"].format(
            domain=_name(catalog.domains, d, lang), total=int(sub["n"].sum()), parts=parts))
    if empty:
        parts_by_domain.append(text["overview_none"].format(domains=text["overview_part_sep"].join(empty)))
    year = _year(assessment)
    return Chart(
        plot=plot,
        alt=text["overview_alt"].format(year=year, total=int(counts["n"].sum()),
                                        items=text["list_sep"].join(parts_by_domain)) + text["end"],
        caption=text["overview_caption"].format(year=year),
        title=text["overview_title"].format(year=year),
        name=f"overview-status-{lang}",
        height_cm=height,
    )


# --- funding -----------------------------------------------------------------------------------

def funding_chart(observations: pd.DataFrame, catalog: Catalog, lang: str,
                  indicators: Iterable[str] = FUNDING_INDICATORS) -> Chart | None:
    """The year's funding figures as bars with value labels.

    Each figure has its own row; figures in the same unit share an axis (amounts compare
    with amounts, shares with shares). ``indicators`` lists the ids drawn, in order; ids
    without an actual value that year are left out.

    Raises
    ------
    ValueError
        When none of the funding indicators has an actual value.
    """
    text = _text(lang)
    font = configure_fonts()
    wanted = list(indicators)
    actual = observations[(observations["measure"] == "actual") & observations["indicator_id"].isin(wanted)]
    year = _year(actual)
    if year:
        actual = actual[actual["year"].astype(int) == int(year)]
    if actual.empty:
        return None  # e.g. a new edition before the funding figures are in
    records = []
    # Amounts in one unit share an axis, so they share one English scale too.
    by_unit: dict[str, list[float]] = {}
    for ind_id in wanted:
        for value in actual.loc[actual["indicator_id"] == ind_id, "value"].head(1):
            by_unit.setdefault(str(_indicator(catalog, ind_id)["unit"]), []).append(float(value))
    for ind_id in wanted:
        sub = actual[actual["indicator_id"] == ind_id]
        if sub.empty:
            continue
        rec = sub.iloc[0]
        ind = _indicator(catalog, ind_id)
        scale = english_scale(by_unit[str(ind["unit"])], ind) if lang == "en" else None
        derived = text["derived"] if _is_yes(rec.get("derived")) else ""
        label = format_quantity(rec["value"], ind, lang, scale) + derived
        name = str(ind[f"name_{lang}"])
        records.append({
            "indicator_id": ind_id, "unit": str(ind["unit"]),
            "value": scaled_value(rec["value"], ind, lang, scale), "label": label,
            "sentence": text["funding_row"].format(name=name, value=label),
            "facet": wrap_label(name, _STRIP_WIDTH),
        })
    rows = pd.DataFrame(records)
    rows["facet"] = pd.Categorical(rows["facet"], categories=list(dict.fromkeys(rows["facet"])), ordered=True)
    unit_top = rows.groupby("unit")["value"].max()
    # Shares are drawn on a full 0-100% axis; amounts up to the largest with room for labels.
    rows["x_max"] = [max(100.0, unit_top[u]) * 1.1 if u == "%" else unit_top[u] * 1.22 for u in rows["unit"]]
    limits = pd.concat([rows.assign(x=0.0), rows.assign(x=rows["x_max"])])

    plot = (
        ggplot(rows)
        + geom_blank(aes(x="x", y=1), data=limits)
        + geom_rect(aes(xmin=0, xmax="value", ymin=0.72, ymax=1.28), fill=NEUTRAL_FILL)
        + geom_text(aes(x="value", y=1, label="label"), ha="left", size=CHART_BASE_SIZE * 0.9,
                    color=INK, family=font.family, format_string="  {}")
        + facet_wrap("facet", ncol=1, scales="free_x")
        + scale_x_continuous(labels=_tick_labels(lang), expand=(0, 0))
        + scale_y_continuous(limits=(0.5, 1.5), breaks=[], expand=(0, 0))
        + labs(x="", y="")
    )
    extra_lines = sum(str(label).count("\n") for label in rows["facet"].cat.categories)
    height = max(5.0, 1.0 + 1.5 * len(rows) + 0.42 * extra_lines)
    plot = plot + _base(font.family, CHART_WIDTH_CM, height) + theme(
        panel_grid_major_y=element_blank(),
        axis_text_y=element_blank(),
        panel_spacing_y=0.025,
    )
    return Chart(
        plot=plot,
        alt=text["funding_alt"].format(year=year, items=text["list_sep"].join(rows["sentence"])) + text["end"],
        caption=text["funding_caption"].format(year=year),
        title=text["funding_title"].format(year=year),
        name=f"funding-{lang}",
        height_cm=height,
    )


# --- public satisfaction -------------------------------------------------------------------------

def satisfaction_chart(observations_all_years: pd.DataFrame, catalog: Catalog, lang: str,
                       indicator_id: str = SATISFACTION_INDICATOR) -> Chart | None:
    """Public satisfaction across the years given or implied by the sources.

    Values marked ``derived`` (computed from a stated change, e.g. "比上年提高0.67个百分点")
    are hollow points labelled as derived.
    """
    text = _text(lang)
    font = configure_fonts()
    ind = _indicator(catalog, indicator_id)
    obs = observations_all_years[(observations_all_years["indicator_id"] == indicator_id)
                                 & (observations_all_years["measure"] == "actual")]
    if obs.empty:
        return None  # no satisfaction survey result yet
    obs = obs.assign(year=obs["year"].astype(int)).sort_values("year", kind="stable").drop_duplicates("year", keep="last")
    name = str(ind[f"name_{lang}"])
    scale = english_scale(obs["value"], ind) if lang == "en" else None  # one axis, one unit
    kind_stated, kind_derived = text["stated"], text["derived_legend"]
    rows = pd.DataFrame({
        "year": obs["year"].to_numpy(),
        "value": [scaled_value(v, ind, lang, scale) for v in obs["value"]],
        "derived": [_is_yes(d) for d in obs.get("derived", pd.Series([False] * len(obs)))],
    })
    rows["kind"] = pd.Categorical([kind_derived if d else kind_stated for d in rows["derived"]],
                                  categories=[kind_stated, kind_derived], ordered=True)
    rows["label"] = [format_quantity(v, ind, lang, scale) for v in obs["value"]]
    rows["point_label"] = [lab + (text["derived"] if d else "") for lab, d in zip(rows["label"], rows["derived"])]
    items = text["list_sep"].join(
        text["satisfaction_point"].format(year=y, value=lab, derived=text["derived"] if d else "")
        for y, lab, d in zip(rows["year"], rows["label"], rows["derived"]))

    low, high = rows["value"].min(), rows["value"].max()
    span = max(high - low, 1.0)
    y_min = math.floor((low - span * 0.6) / 5) * 5
    y_max = math.ceil((high + span * 0.5) / 5) * 5
    years = rows["year"].tolist()
    plot = (
        ggplot(rows, aes(x="year", y="value"))
        + geom_line(color=INK_MUTED, size=0.6)
        + geom_point(aes(shape="kind", fill="kind"), size=3.2, color=INK, stroke=0.8)
        # Labels above the points; the latest year's to its right, so the two most recent
        # (often consecutive) years never collide.
        + geom_text(aes(label="point_label"), data=rows.iloc[:-1], nudge_y=span * 0.1, va="bottom",
                    size=CHART_BASE_SIZE * 0.9, color=INK, family=font.family)
        + geom_text(aes(label="point_label"), data=rows.iloc[-1:], ha="left", format_string="   {}",
                    size=CHART_BASE_SIZE * 0.9, color=INK, family=font.family)
        + scale_shape_manual(values={kind_stated: "o", kind_derived: "o"}, drop=False)
        + scale_fill_manual(values={kind_stated: INK, kind_derived: "#FFFFFF"}, drop=False)
        + scale_x_continuous(breaks=years, labels=[str(y) for y in years],
                             limits=(min(years) - 0.6, max(years) + max(1.5, (max(years) - min(years)) * 0.25)))
        + scale_y_continuous(limits=(y_min, y_max), labels=_tick_labels(lang))
        + labs(x="", y=text["satisfaction_axis"].format(name=name, unit=unit_label(ind, lang, scale)))
    )
    height = 8.0
    plot = plot + _base(font.family, CHART_WIDTH_CM, height) + theme(panel_grid_major_x=element_blank())
    return Chart(
        plot=plot,
        alt=text["satisfaction_alt"].format(name=name, items=items) + text["end"],
        caption=text["satisfaction_caption"].format(name=name),
        title=text["satisfaction_title"].format(name=name),
        name=f"satisfaction-{lang}",
        height_cm=height,
    )


# --- output ------------------------------------------------------------------------------------

def save_chart(chart: Chart, out_dir: Path) -> dict[str, Path]:
    """Write ``<name>.svg`` and ``<name>.png`` (300 dpi) into ``out_dir``.

    Both files are byte-identical for identical charts: the SVG has no date and fixed
    ids (``svg.hashsalt``), its text is drawn as paths (no font needed to view it); the
    PNG carries no software version.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    configure_fonts()
    paths = {"svg": out_dir / f"{chart.name}.svg", "png": out_dir / f"{chart.name}.png"}
    rc = {"svg.hashsalt": SVG_HASH_SALT, "svg.fonttype": "path"}
    # Drawn once, saved twice: plotnine's draw (scales, facets, layout) is most of a
    # chart's cost, and ggplot.save would redo it for each format. The SVG comes out as a
    # separate save would make it; the PNG, saved from the same figure, is as deterministic.
    import matplotlib.pyplot as plt
    from plotnine._utils.context import plot_context  # what ggplot.save saves within

    with matplotlib.rc_context(rc):
        view = chart.plot.save_helper(paths["svg"], format="svg", width=chart.width_cm,
                                      height=chart.height_cm, units="cm", dpi=PNG_DPI,
                                      verbose=False, metadata={"Date": None, "Creator": None})
        try:
            with plot_context(chart.plot).rc_context:
                view.figure.savefig(**view.kwargs)
                view.figure.savefig(paths["png"], format="png", dpi=PNG_DPI,
                                    metadata={"Software": None})
        finally:
            plt.close(view.figure)
    return paths
