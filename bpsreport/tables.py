"""The report's tables, built with Great Tables: target completion and the key-task list.

Two tables, each in either language, each as a ``great_tables.GT`` ready for a notebook
cell or for :func:`table_html`:

- :func:`target_table`, the target-completion table (目标完成情况表): one row per
  indicator, grouped by domain in the seed's order, with the columns indicator | unit |
  target | actual | completion | status. Status cells carry the one status palette of
  ``config/status.yml``. Values computed rather than stated are footnoted with their
  formula; the source documents and sections are listed under the table.
- :func:`task_table`, the key tasks of a year: number, task, responsible departments
  and the targets (formatted as the edition prints them) of the indicators each task
  quantifies; with the year's task statuses (``task_status``, reported by the
  departments, see :mod:`bpsreport.submissions`) also a lightly coloured status column.

Numbers go through :mod:`bpsreport.formatting`, so a table, a chart and the narrative
print a figure the same way (148.9万人 in Chinese, 1.489 million people in English).
Every string that is not data (headers, titles, footnote phrases) is in
``config/labels.yml``.

The ``*_rows`` functions return the formatted cells as a plain DataFrame: that is what
the tests check, and what another renderer (e.g. the PDF) can reuse without HTML.

Output is deterministic: every table has a fixed id (``tbl-targets-<domain|all>-<lang>``,
``tbl-tasks-<domain|all>-<lang>``), rows are ordered by the catalog, never by input
order, and :func:`table_html` refuses a table without a fixed id. The HTML is
self-contained: CSS in one ``<style>`` block, no web fonts, no external URLs.

Examples
--------
>>> from bpsreport.catalog import load_catalog                      # doctest: +SKIP
>>> catalog = load_catalog(Path("data/raw"))                        # doctest: +SKIP
>>> gt = target_table(assessment, catalog, "zh",
...                   domain_id="employment_security", observations=observations)  # doctest: +SKIP
>>> html = table_html(gt)                                           # doctest: +SKIP
"""

from __future__ import annotations

import html as html_lib
import math
import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import pandas as pd
import yaml
from great_tables import GT, loc, style

from .catalog import Catalog, split_list
from .citations import format_document, format_section, format_source, split_source
from .formatting import (LANGS, english_scale, format_formula, format_percent, format_target,
                         format_target_number, format_value, unit_label)
from .progress import StatusRules, TargetStatus
from .style import load_font_config, status_label, status_styles
from .submissions import NO_STATUS, STATUS_ORDER, task_status_fill, task_status_label
from bpsreport import yamlio

LABELS_FILE = Path(__file__).resolve().parent.parent / "config" / "labels.yml"

#: Display columns of the target-completion table, in order (the stub is ``indicator``).
TARGET_COLUMNS = ["indicator", "unit", "target", "actual", "completion", "status"]
#: Display columns of the key-task table, in order.
TASK_COLUMNS = ["number", "task", "departments", "targets"]
#: The extra display column of the key-task table when task statuses are given.
TASK_STATUS_COLUMN = "status"
# Which footnote column of the rows belongs to which displayed column.
_NOTE_COLUMNS = {"target": "target_note", "actual": "actual_note", "completion": "completion_note",
                 "status": "status_note"}
_TRUE = {"true", "yes", "1", "y"}


# --- labels ---------------------------------------------------------------------------

@lru_cache(maxsize=4)
def load_labels(path: Path = LABELS_FILE) -> dict:
    """The whole of ``config/labels.yml``."""
    with open(path, encoding="utf-8") as fh:
        return yamlio.safe_load(fh)


def label(key: str, lang: str, **fields: object) -> str:
    """The ``lang`` string at the dotted ``key`` of ``config/labels.yml``, filled in.

    >>> label("target_table.columns.status", "en")
    'Status'
    >>> label("target_table.targets.title", "zh", year=2017)
    '2017年基本公共服务均等化目标完成情况表'
    """
    _check_lang(lang)
    node = load_labels()
    for part in key.split("."):
        node = node[part]
    return str(node[lang]).format(**fields) if fields else str(node[lang])


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, not {lang!r}")


# --- small helpers ----------------------------------------------------------------------

def _missing(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA


def _flag(x: object) -> bool:
    """A yes/no cell as stored in Parquet (bool) or CSV ('True', 'yes', '')."""
    if _missing(x):
        return False
    if isinstance(x, str):
        return x.strip().lower() in _TRUE
    return bool(x)


def _text(x: object) -> str:
    return "" if _missing(x) else str(x).strip()


def _one(frame: pd.DataFrame, column: str, what: str):
    """The single value of ``column`` (unit or year): the tables are for one unit and year."""
    if column not in frame.columns or frame.empty:
        return None
    values = frame[column].dropna().unique()
    if len(values) > 1:
        raise ValueError(f"{what}: expected data for one {column}, found {sorted(map(str, values))}")
    return values[0] if len(values) else None


def _unit_name(catalog: Catalog, unit_id: object, lang: str) -> str:
    if unit_id is None:
        unit_id = catalog.default_unit
    if unit_id in catalog.report_units.index:
        return str(catalog.report_units.at[unit_id, f"name_{lang}"])
    return str(unit_id)


def _indicator(catalog: Catalog, indicator_id: str) -> Mapping:
    try:
        return catalog.indicators.loc[indicator_id]
    except KeyError:
        raise ValueError(f"indicator {indicator_id!r} is not in the catalog "
                         "(data/raw/catalog/indicators/)") from None


def _check_domain(catalog: Catalog, domain_id: str | None) -> None:
    if domain_id is not None and domain_id not in catalog.domains.index:
        raise ValueError(f"unknown domain {domain_id!r}; expected one of "
                         f"{', '.join(catalog.domains.index)}")


def _catalog_order(catalog: Catalog, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the seed's domain order, then the catalog's indicator order."""
    domain_rank = {d: i for i, d in enumerate(catalog.domains.index)}
    indicator_rank = {ind: i for i, ind in enumerate(catalog.indicators.index)}
    for ind in frame["indicator_id"]:
        _indicator(catalog, ind)
    keys = pd.DataFrame({
        "d": frame["domain_id"].map(domain_rank).fillna(len(domain_rank)),
        "i": frame["indicator_id"].map(indicator_rank),
    }, index=frame.index)
    return frame.loc[keys.sort_values(["d", "i"], kind="stable").index]


def _stated_decimals(rate: float) -> int:
    """Decimals of a rate as the source writes it (76.55% keeps two, 100% none), at most 2."""
    text = f"{rate:.6f}".rstrip("0").rstrip(".")
    return min(2, len(text.split(".")[1])) if "." in text else 0


def _derived_note(observations: pd.DataFrame | None, indicator: Mapping, measure: str,
                  source: str, lang: str, scale) -> str:
    """The footnote of a derived value: its calculation in the row's unit, and its source."""
    formula = ""
    if observations is not None and not observations.empty:
        match = observations[(observations["indicator_id"] == indicator.name)
                             & (observations["measure"] == measure)]
        if not match.empty and "formula" in match.columns:
            formula = _text(match["formula"].iloc[0])
    source = format_source(source, lang)
    if formula:
        return label("footnotes.derived", lang, formula=format_formula(formula, indicator, lang, scale),
                     unit=unit_label(indicator, lang, scale), source=source)
    return label("footnotes.derived_without_formula", lang, source=source)


# --- target-completion table --------------------------------------------------------------

def target_rows(assessment: pd.DataFrame, catalog: Catalog, lang: str, *,
                domain_id: str | None = None,
                observations: pd.DataFrame | None = None,
                include_no_target: bool = False) -> pd.DataFrame:
    """The formatted cells of the target-completion table, one row per indicator.

    Parameters
    ----------
    assessment
        Clean assessment rows (``docs/data-model.md``) for one unit and year.
    catalog
        The loaded catalog.
    lang
        ``"zh"`` or ``"en"``.
    domain_id
        Only this domain's indicators; all domains when ``None``.
    observations
        Clean observations of the same unit and year; when given, derived values are
        footnoted with their ``formula``.
    include_no_target
        Also list indicators that have an actual but no target (status ``no_target``).
        Off for the target-completion table; on for a domain page's table of all its
        indicators.

    Returns
    -------
    pandas.DataFrame
        In catalog order, with ``domain_id``, ``indicator_id``, ``status_id`` (the status
        value), the display columns :data:`TARGET_COLUMNS` plus ``domain`` (group label),
        the footnote texts ``target_note``, ``actual_note``, ``completion_note``,
        ``status_note`` (empty when none) and ``actual_source``, ``target_source``.
        English rows print target and actual in one unit (:func:`english_scale`).
    """
    _check_lang(lang)
    _check_domain(catalog, domain_id)
    frame = assessment if domain_id is None else assessment[assessment["domain_id"] == domain_id]
    if not include_no_target:
        frame = frame[frame["status"] != TargetStatus.NO_TARGET.value]
    frame = _catalog_order(catalog, frame)
    rows = []
    for rec in frame.to_dict("records"):
        ind = _indicator(catalog, rec["indicator_id"])
        status = TargetStatus(rec["status"])
        target_type = _text(rec.get("target_type"))
        actual, target, rate = rec.get("actual"), rec.get("target"), rec.get("completion_rate")
        actual_source, target_source = _text(rec.get("actual_source")), _text(rec.get("target_source"))
        stated = _flag(rec.get("completion_rate_stated"))

        if _missing(rate):
            completion = format_percent(None, lang)
        else:
            completion = format_percent(float(rate), lang,
                                        _stated_decimals(float(rate)) if stated else 1)
        # One unit per row: target and actual share the English scale (1.1 / 1.489
        # million people), and so do the footnotes on them.
        scale = english_scale([x for x in (actual, target) if not _missing(x)], ind) \
            if lang == "en" else None
        row = {
            "domain_id": rec["domain_id"],
            "domain": str(catalog.domains.at[rec["domain_id"], f"name_{lang}"]),
            "indicator_id": rec["indicator_id"],
            "status_id": status.value,
            "indicator": str(ind[f"name_{lang}"]),
            "unit": unit_label(ind, lang, scale),
            "target": format_target_number(None if _missing(target) else float(target),
                                           target_type, ind, lang, scale),
            "actual": format_value(None if _missing(actual) else float(actual), ind, lang, scale),
            "completion": completion,
            "status": status_label(status, lang),
            "actual_note": "", "target_note": "", "completion_note": "", "status_note": "",
            "actual_source": actual_source, "target_source": target_source,
        }
        if _flag(rec.get("actual_derived")) and not _missing(actual):
            row["actual_note"] = _derived_note(observations, ind, "actual", actual_source, lang, scale)
        if _flag(rec.get("target_derived")) and not _missing(target):
            row["target_note"] = _derived_note(observations, ind, "target", target_source, lang, scale)
        if not _missing(rate) and not stated:
            row["completion_note"] = label("footnotes.computed_rate", lang)
        if status is TargetStatus.MET_AS_STATED:
            row["status_note"] = label(f"footnotes.stated_outcome.{_text(rec.get('stated_outcome'))}",
                                       lang, source=format_source(target_source, lang))
        rows.append(row)
    columns = ["domain_id", "domain", "indicator_id", "status_id", *TARGET_COLUMNS,
               "target_note", "actual_note", "completion_note", "status_note",
               "actual_source", "target_source"]
    return pd.DataFrame(rows, columns=columns).reset_index(drop=True)


def target_table(assessment: pd.DataFrame, catalog: Catalog, lang: str, *,
                 domain_id: str | None = None,
                 observations: pd.DataFrame | None = None,
                 include_no_target: bool = False) -> GT:
    """The target-completion table (目标完成情况表) as a ``GT``.

    Grouped by domain in the seed's order (one domain, ungrouped, when ``domain_id`` is
    given); status cells coloured with the shared palette; derived values and computed
    completion rates footnoted; sources and the status rule in the source notes. The
    table id is ``tbl-targets-<domain_id or "all">-<lang>``; with ``include_no_target``
    (every indicator, titled "key indicators") it is ``tbl-indicators-...``.

    See :func:`target_rows` for the parameters.
    """
    rows = target_rows(assessment, catalog, lang, domain_id=domain_id, observations=observations,
                       include_no_target=include_no_target)
    year = _one(assessment, "year", "target_table")
    unit_id = _one(assessment, "unit_id", "target_table")
    kind = "indicators" if include_no_target else "targets"
    table_id = f"tbl-{kind}-{domain_id or 'all'}-{lang}"

    data = rows[["domain", *TARGET_COLUMNS]].assign(target=rows["target"].map(_no_break))
    gt = GT(data, rowname_col="indicator",
            groupname_col=None if domain_id else "domain", id=table_id)
    if domain_id:
        gt = gt.cols_hide("domain")
        title = label(f"target_table.{kind}.domain_title", lang, year=year,
                      domain=catalog.domains.at[domain_id, f"name_{lang}"])
    else:
        title = label(f"target_table.{kind}.title", lang, year=year)
    gt = (
        gt.tab_header(title=title,
                      subtitle=label("target_table.subtitle", lang,
                                     unit=_unit_name(catalog, unit_id, lang)))
        .tab_stubhead(label=label("target_table.stubhead", lang))
        .cols_label(**{c: label(f"target_table.columns.{c}", lang) for c in TARGET_COLUMNS[1:]})
        .cols_align("left", columns=["unit"])
        .cols_align("right", columns=["target", "actual", "completion"])
        .cols_align("center", columns=["status"])
        .cols_width(**content_widths(
            {c: list(data[c]) for c in TARGET_COLUMNS},
            {"indicator": label("target_table.stubhead", lang),
             **{c: label(f"target_table.columns.{c}", lang) for c in TARGET_COLUMNS[1:]}},
            lang, flexible={"indicator": 1.0}, marks=_mark_digits(rows), bold=("status",)))
    )
    gt = _style_status(gt, rows)
    gt = _add_footnotes(gt, rows)
    if rows.empty:
        gt = gt.tab_source_note(label(f"target_table.{kind}.empty", lang))
    in_row_order = [s for pair in zip(rows["actual_source"], rows["target_source"]) for s in pair]
    sources = _sources_note(in_row_order, catalog, lang)
    if sources:
        gt = gt.tab_source_note(sources)
    rules = StatusRules.from_config()
    gt = gt.tab_source_note(label("source_note.status_rule", lang,
                                  met_at=_number(rules.met_at),
                                  nearly_met_at=_number(rules.nearly_met_at)))
    return _house_style(gt)


def has_targets(assessment: pd.DataFrame, domain_id: str | None = None) -> bool:
    """Whether any indicator (of ``domain_id``) has a target or a stated completion rate:
    the rows of the target-completion table and of the domain's target chart."""
    frame = assessment if domain_id is None else assessment[assessment["domain_id"] == domain_id]
    return bool(len(frame) and (frame["status"] != TargetStatus.NO_TARGET.value).any())


def has_indicators(assessment: pd.DataFrame, domain_id: str) -> bool:
    """Whether the domain has any indicator with a figure in ``assessment``."""
    return bool(len(assessment) and (assessment["domain_id"] == domain_id).any())


INDICATOR_COLUMNS = ["indicator", "unit", "actual"]


def indicator_table(assessment: pd.DataFrame, catalog: Catalog, lang: str, *, domain_id: str,
                    observations: pd.DataFrame | None = None) -> GT:
    """A domain's indicators with their values for the year (主要指标), for a domain that
    has figures but no target: what it does have, instead of an empty target table.

    Indicator, unit and the year's value; derived values footnoted with their formula;
    the sources in a note. The table id is ``tbl-indicators-<domain_id>-<lang>``.
    """
    rows = target_rows(assessment, catalog, lang, domain_id=domain_id, observations=observations,
                       include_no_target=True)
    # Only the value is shown: its notes are the only ones that apply.
    rows = rows.assign(target_note="", completion_note="", status_note="")
    year = _one(assessment, "year", "indicator_table")
    unit_id = _one(assessment, "unit_id", "indicator_table")
    data = rows[INDICATOR_COLUMNS].copy()
    gt = GT(data, rowname_col="indicator", id=f"tbl-indicators-{domain_id}-{lang}")
    headers = {"indicator": label("target_table.stubhead", lang),
               "unit": label("target_table.columns.unit", lang),
               "actual": label("target_table.columns.actual", lang)}
    gt = (
        gt.tab_header(title=label("target_table.indicators.domain_title", lang, year=year,
                                  domain=catalog.domains.at[domain_id, f"name_{lang}"]),
                      subtitle=label("target_table.subtitle", lang,
                                     unit=_unit_name(catalog, unit_id, lang)))
        .tab_stubhead(label=headers["indicator"])
        .cols_label(unit=headers["unit"], actual=headers["actual"])
        .cols_align("left", columns=["unit"])
        .cols_align("right", columns=["actual"])
        .cols_width(**content_widths({c: list(data[c]) for c in INDICATOR_COLUMNS}, headers, lang,
                                     flexible={"indicator": 1.0}, marks=_mark_digits(rows)))
    )
    gt = _add_footnotes(gt, rows)
    sources = _sources_note(list(rows["actual_source"]), catalog, lang)
    if sources:
        gt = gt.tab_source_note(sources)
    return _house_style(gt)


# --- column widths -----------------------------------------------------------------------

PDF_CONFIG_FILE = Path(__file__).resolve().parent.parent / "config" / "pdf.yml"
# Cell padding left and right (the PDF template's 4 pt inset, the site's 5 px), in em.
_CELL_PADDING_EM = 1.0
# A footnote mark (a superscript number) after a cell's text, per digit, in em.
_MARK_EM = 0.4


@lru_cache(maxsize=2)
def table_measure_em(lang: str) -> float:
    """How many ems of table type fit across the PDF's text block (``config/pdf.yml``):
    156 mm at 五号 10.5 pt in Chinese, 9 pt in English."""
    with open(PDF_CONFIG_FILE, encoding="utf-8") as fh:
        config = yamlio.safe_load(fh)
    page = config["page"]
    width_mm = _mm(page["width"]) - _mm(page["margin"]["left"]) - _mm(page["margin"]["right"])
    size_pt = float(str(config["languages"][lang]["table_size"]).removesuffix("pt"))
    return width_mm / (size_pt * 25.4 / 72)


def _mm(length: str) -> float:
    return float(str(length).removesuffix("mm"))


def text_em(text: str) -> float:
    """The printed width of ``text`` in em, estimated per character: a Chinese character
    is one em, Latin letters and digits about half, spaces and narrow marks less."""
    width = 0.0
    for ch in text:
        if unicodedata.east_asian_width(ch) in "WF":
            width += 1.0
        elif ch in " .,;:'|!()[]":
            width += 0.3
        elif ch.isupper() or ch in "%—mw≥≤":
            width += 0.72
        else:
            width += 0.56
    return width


def _longest_piece(text: str) -> float:
    """The widest part of ``text`` that cannot wrap: a Latin word or a Chinese character
    (comparator and number stay together, see :func:`_no_break`)."""
    pieces = re.findall(r"[^\s\u1100-\uffff]+|[\u1100-\uffff]", text.replace("\u00a0", "_"))
    return max((text_em(p) for p in pieces), default=0.0)


def content_widths(cells: Mapping[str, list[str]], headers: Mapping[str, str], lang: str, *,
                   flexible: Mapping[str, float], marks: Mapping[str, int] | None = None,
                   bold: tuple[str, ...] = ()) -> dict[str, str]:
    """Column widths, in percent of the table, from what the columns hold.

    Every column that is not ``flexible`` gets the width of its longest cell (numbers,
    units and statuses on one line) and of its header, at least of the header's longest
    word; ``marks`` adds room for footnote marks (the number of digits of the largest);
    ``bold`` columns (status cells) set their text in bold, which is wider.
    The ``flexible`` columns (names, task texts) share what is left in the given
    proportions, and wrap. When the fixed columns leave the flexible ones less than
    their longest word, or less than ``min_share`` of the measure, the fixed columns give
    way down to their own longest word (a header such as "Completion" never breaks, so
    two header words can never run together). The measure is the PDF's
    (:func:`table_measure_em`); the site's tables take the same proportions.
    """
    marks = marks or {}
    measure = table_measure_em(lang)
    natural, minimum = {}, {}
    for column, values in cells.items():
        header = headers[column]
        extra = _MARK_EM * marks.get(column, 0) + _CELL_PADDING_EM
        weight = 1.08 if column in bold else 1.0
        longest_value = max((text_em(v) for v in values), default=0.0) * weight
        longest_piece = max((_longest_piece(v) for v in values), default=0.0) * weight
        head_word = _longest_piece(header) * 1.08   # headers are bold
        if column in flexible:
            natural[column] = max(longest_value, text_em(header) * 1.08) + extra
            minimum[column] = max(longest_piece, head_word) + extra
        else:
            natural[column] = max(longest_value, text_em(header) * 1.08) + extra
            minimum[column] = max(longest_piece, head_word, min(longest_value, measure / 6)) + extra
    fixed = [c for c in cells if c not in flexible]
    min_flexible = max(sum(minimum[c] for c in flexible), 0.34 * measure)
    room = measure - min_flexible
    widths = {c: natural[c] for c in fixed}
    if sum(widths.values()) > room:
        # Shrink the fixed columns towards their minimum, each by the same share of its slack.
        slack = sum(natural[c] - minimum[c] for c in fixed)
        over = sum(widths.values()) - room
        ratio = min(1.0, over / slack) if slack > 0 else 1.0
        widths = {c: natural[c] - (natural[c] - minimum[c]) * ratio for c in fixed}
    left = max(measure - sum(widths.values()), min_flexible)
    total_weight = sum(flexible.values())
    for column, weight in flexible.items():
        widths[column] = max(minimum[column], left * weight / total_weight)
    total = sum(widths.values())
    percents = {c: round(widths[c] / total * 100, 1) for c in cells}
    # Rounding must not make the columns overflow the table.
    first = next(iter(flexible))
    percents[first] = round(percents[first] + 100 - sum(percents.values()), 1)
    return {c: f"{percents[c]:g}%" for c in cells}


def _mark_digits(rows: pd.DataFrame) -> dict[str, int]:
    """Digits of the largest footnote mark each column may carry."""
    notes = [n for c in _NOTE_COLUMNS.values() for n in rows[c] if n] if len(rows) else []
    digits = len(str(len(set(notes)))) if notes else 0
    return {column: digits for column, note in _NOTE_COLUMNS.items()
            if len(rows) and rows[note].astype(bool).any()}


def _no_break(text: str) -> str:
    """Keep a comparator on the line of its number (``≥ 95`` must not wrap after ``≥``)."""
    return text.replace("≥ ", "≥\u00a0").replace("≤ ", "≤\u00a0")


def _html_items(items: list[str]) -> str:
    """Items of one cell (already HTML), one per line; a wrapped item is indented so
    where the next one starts stays visible."""
    return "".join(f'<div style="padding-left:1em;text-indent:-1em">{item}</div>'
                   for item in items)


def _number(x: float) -> str:
    return f"{x:g}"


def _style_status(gt: GT, rows: pd.DataFrame) -> GT:
    """Colour each status cell with the palette of ``config/status.yml``."""
    for status, look in status_styles().items():
        idx = [int(i) for i in rows.index[rows["status_id"] == status.value]]
        if idx:
            gt = gt.tab_style(
                style=[style.fill(color=look.fill), style.text(color=look.text, weight="bold")],
                locations=loc.body(columns="status", rows=idx),
            )
    return gt


def _add_footnotes(gt: GT, rows: pd.DataFrame) -> GT:
    """One footnote per distinct text, attached to every cell it explains.

    Great Tables numbers the marks by position in the table, so the order here only
    needs to be stable; it is the rows' order, then the column order.
    """
    cells: dict[str, list[tuple[str, int]]] = {}
    for i, rec in rows.iterrows():
        for column in ("target", "actual", "completion", "status"):
            note = rec[_NOTE_COLUMNS[column]]
            if note:
                cells.setdefault(note, []).append((column, int(i)))
    for note, where in cells.items():
        gt = gt.tab_footnote(
            footnote=note,
            locations=[loc.body(columns=column, rows=[i]) for column, i in where],
            placement="right",
        )
    return gt


def _sources_note(sources: list[str], catalog: Catalog, lang: str) -> str:
    """Every source document with its sections, in the order given (the table's order)."""
    by_doc: dict[str, list[str]] = {}
    for source in sources:
        if not source:
            continue
        doc, section = split_source(source)
        sections = by_doc.setdefault(doc, [])
        section = format_section(section, lang)
        if section and section not in sections:
            sections.append(section)
    if not by_doc:
        return ""
    titles = {}
    if "doc_number" in catalog.sources.columns:
        for rec in catalog.sources.to_dict("records"):
            titles.setdefault(str(rec["doc_number"]), str(rec[f"title_{lang}"]))
    sep = label("separators.list", lang)
    parts = []
    for doc, sections in by_doc.items():
        document = label("source_note.document", lang, doc=format_document(doc, lang),
                         title=titles[doc]) if doc in titles else format_document(doc, lang)
        parts.append(label("source_note.with_sections", lang, document=document,
                           sections=sep.join(sections)) if sections else document)
    return (label("source_note.prefix", lang) + label("separators.documents", lang).join(parts)
            + label("separators.end", lang))


def table_fonts() -> list[str]:
    """The CSS font stack: the charts' CJK families (``config/fonts.yml``), then a generic
    family. Named, locally installed fonts only: no web fonts, the site works offline."""
    return [*load_font_config()["chart_families"], "sans-serif"]


# The column widths (content_widths) are the PDF's proportions; on a screen they are only a
# preference. Great Tables lays a table out with `table-layout: fixed` and hides what does
# not fit in a cell, which on a phone cut numbers in half ("36,75(") and ran header words
# together. Automatic layout never makes a column narrower than its longest word or number;
# a table wider than the screen scrolls sideways in its own box instead of being clipped.
_SCREEN_CSS = """
#{id} .gt_table {{ table-layout: auto !important; }}
#{id} .gt_col_heading, #{id} .gt_row, #{id} .gt_stub {{ overflow-x: visible !important; }}
#{id} .gt_col_heading {{ white-space: nowrap; }}
#{id} {{ overflow-x: auto; max-width: 100%; }}
"""


def _house_style(gt: GT) -> GT:
    """Options shared by every table: local fonts only, compact, Quarto leaves it alone,
    and on a narrow screen a table scrolls instead of clipping its cells."""
    table_id = gt._options.table_id.value
    if table_id:
        gt = gt.opt_css(_SCREEN_CSS.format(id=table_id))
    return gt.tab_options(
        table_font_names=table_fonts(),
        table_font_size="14px",
        table_width="100%",
        heading_title_font_size="16px",
        heading_subtitle_font_size="13px",
        column_labels_font_weight="bold",
        row_group_font_weight="bold",
        row_group_background_color="#F5F6F8",
        data_row_padding="5px",
        source_notes_font_size="12px",
        # Quarto would otherwise restyle the table with Bootstrap and drop the palette.
        quarto_disable_processing=True,
    )


# --- key-task table ---------------------------------------------------------------------------

def task_rows(tasks: pd.DataFrame, catalog: Catalog, lang: str, *,
              assessment: pd.DataFrame | None = None,
              domain_id: str | None = None,
              statuses: pd.DataFrame | None = None) -> pd.DataFrame:
    """The formatted cells of the key-task table, one row per task.

    Parameters
    ----------
    tasks
        Clean task rows (``docs/data-model.md``) of one unit and year.
    catalog
        The loaded catalog.
    lang
        ``"zh"`` or ``"en"``.
    assessment
        Assessment rows of the task year; their targets are printed next to each linked
        indicator. Without it, linked indicators are listed without targets.
    domain_id
        Only this domain's tasks.
    statuses
        The clean ``task_status`` rows of the same list (``task_no``, ``status``,
        ``note``); a task missing from it counts as ``no_status``.

    Returns
    -------
    pandas.DataFrame
        Ordered by domain (seed order) then task number, with ``domain_id``, ``domain``,
        the display columns :data:`TASK_COLUMNS` (``departments`` and ``targets`` hold one
        line per department or linked indicator, separated by ``\\n``), ``task_no``,
        ``linked`` (the same targets as ``(indicator name, formatted target or "")`` pairs)
        and ``source``; with ``statuses`` also ``status_id``, ``status`` (its label from
        ``config/labels.yml``) and ``note``.
    """
    _check_lang(lang)
    _check_domain(catalog, domain_id)
    if assessment is not None:
        task_year, year = _one(tasks, "year", "task_table"), _one(assessment, "year", "task_table")
        if task_year is not None and year is not None and int(task_year) != int(year):
            raise ValueError(f"task_table: the tasks are for {task_year} but the assessment "
                             f"(targets) is for {year}; pass the assessment of {task_year}")
    targets = {} if assessment is None else {
        rec["indicator_id"]: rec for rec in assessment.to_dict("records")}
    reported = None if statuses is None else {
        int(rec["task_no"]): rec for rec in statuses.to_dict("records")}
    frame = tasks if domain_id is None else tasks[tasks["domain_id"] == domain_id]
    domain_rank = {d: i for i, d in enumerate(catalog.domains.index)}
    frame = frame.assign(_d=frame["domain_id"].map(domain_rank),
                         _n=frame["task_no"].astype(int))
    unknown = frame.loc[frame["_d"].isna(), "domain_id"]
    if not unknown.empty:
        raise ValueError(f"task_table: unknown domain {unknown.iloc[0]!r}")
    frame = frame.sort_values(["_d", "_n"], kind="stable")
    rows = []
    for rec in frame.to_dict("records"):
        linked = []
        for indicator_id in split_list(rec.get("indicators")):
            ind = _indicator(catalog, indicator_id)
            found = targets.get(indicator_id)
            target = "" if found is None or _missing(found.get("target")) else format_target(
                float(found["target"]), _text(found.get("target_type")), ind, lang)
            linked.append((str(ind[f"name_{lang}"]), target))
        rows.append({
            "domain_id": rec["domain_id"],
            "domain": str(catalog.domains.at[rec["domain_id"], f"name_{lang}"]),
            "task_no": int(rec["_n"]),
            "number": str(int(rec["_n"])),
            "task": _text(rec.get(f"title_{lang}")),
            "departments": "\n".join(catalog.department_names(_text(rec.get("departments")), lang)),
            "targets": "\n".join(_linked_line(name, target, lang) for name, target in linked),
            "linked": linked,
            "source": _text(rec.get("source")),
        })
        if reported is not None:
            found = reported.get(int(rec["_n"]), {})
            status_id = _text(found.get("status")) or NO_STATUS
            rows[-1].update(status_id=status_id, status=task_status_label(status_id, lang),
                            note=_text(found.get("note")))
    columns = ["domain_id", "domain", "task_no", *TASK_COLUMNS, "linked", "source"]
    if reported is not None:
        columns += ["status_id", TASK_STATUS_COLUMN, "note"]
    return pd.DataFrame(rows, columns=columns).reset_index(drop=True)


def _style_task_status(gt: GT, rows: pd.DataFrame) -> GT:
    """A light fill per task status; the text stays dark, so it reads in greyscale too."""
    for status in STATUS_ORDER:
        idx = [int(i) for i in rows.index[rows["status_id"] == status]]
        if idx:
            gt = gt.tab_style(style=style.fill(color=task_status_fill(status)),
                              locations=loc.body(columns=TASK_STATUS_COLUMN, rows=idx))
    return gt


def _linked_line(name: str, target: str, lang: str, *, markup: bool = False) -> str:
    """One linked indicator with its target; as escaped HTML when ``markup``."""
    if markup:
        name = html_lib.escape(name)
        # The target ("≥ 130元/月") stays on one line.
        target = f'<span style="white-space:nowrap">{html_lib.escape(target)}</span>' if target else ""
    if target:
        return label("task_table.linked_target", lang, indicator=name, target=target)
    return label("task_table.linked_without_target", lang, indicator=name)


def task_table(tasks: pd.DataFrame, catalog: Catalog, lang: str, *,
               assessment: pd.DataFrame | None = None,
               domain_id: str | None = None,
               statuses: pd.DataFrame | None = None) -> GT:
    """The key tasks of a year as a ``GT``: number, task, departments, quantified targets.

    Grouped by domain in the seed's order (ungrouped when ``domain_id`` is given). The
    table id is ``tbl-tasks-<domain_id or "all">-<lang>``. With ``statuses`` (the clean
    ``task_status`` of the same list) a status column follows, each cell lightly coloured
    by status (labels and colours: ``task_status`` in ``config/labels.yml``). See
    :func:`task_rows`.
    """
    rows = task_rows(tasks, catalog, lang, assessment=assessment, domain_id=domain_id,
                     statuses=statuses)
    columns = [*TASK_COLUMNS, TASK_STATUS_COLUMN] if statuses is not None else TASK_COLUMNS
    year = _one(tasks, "year", "task_table")
    if year is None and assessment is not None:
        year = _one(assessment, "year", "task_table")
    unit_id = _one(tasks, "unit_id", "task_table")
    if unit_id is None and assessment is not None:
        unit_id = _one(assessment, "unit_id", "task_table")
    # Several departments or targets in one cell: one per line. These cells are marked as
    # formatted HTML below, so their text is escaped here.
    data = rows[["domain", *columns]].assign(
        departments=rows["departments"].map(
            lambda text: _html_items([html_lib.escape(x) for x in text.split("\n") if x])),
        targets=rows["linked"].map(lambda pairs: _html_items(
            [_linked_line(name, target, lang, markup=True) for name, target in pairs])))
    gt = GT(data, groupname_col=None if domain_id else "domain",
            id=f"tbl-tasks-{domain_id or 'all'}-{lang}")
    if domain_id:
        gt = gt.cols_hide("domain")
    title = (label("task_table.title", lang, year=year) if year is not None
             else label("task_table.title_no_year", lang))
    gt = (
        gt.tab_header(title=title,
                      subtitle=label("task_table.subtitle", lang,
                                     unit=_unit_name(catalog, unit_id, lang)))
        .cols_label(**{c: label(f"task_table.columns.{c}", lang) for c in columns})
        .fmt(lambda s: s, columns=["departments", "targets"])
        .cols_align("center", columns=["number"])
        .cols_align("left", columns=["task", "departments", "targets"])
    )
    # One line per department or target: the widths see each line on its own.
    contents = {
        "number": list(rows["number"]), "task": list(rows["task"]),
        "departments": [x for text in rows["departments"] for x in text.split("\n") if x],
        "targets": [_linked_line(name, target, lang) for pairs in rows["linked"]
                    for name, target in pairs],
    }
    if statuses is not None:
        contents[TASK_STATUS_COLUMN] = list(rows[TASK_STATUS_COLUMN])
    gt = gt.cols_width(**content_widths(
        contents, {c: label(f"task_table.columns.{c}", lang) for c in columns}, lang,
        flexible={"task": 1.2, "departments": 0.8, "targets": 1.0}))
    if statuses is not None:
        gt = gt.cols_align("center", columns=[TASK_STATUS_COLUMN])
        gt = _style_task_status(gt, rows)
    sources = _sources_note(list(rows["source"]), catalog, lang)
    if sources:
        gt = gt.tab_source_note(sources)
    return _house_style(gt)


# --- output --------------------------------------------------------------------------------

def split_heading(gt: GT) -> tuple[str, GT]:
    """The table's title and the table without its heading.

    A notebook cell shows the title as the cell's caption (the numbered caption of the
    float in both renderers), so the table itself carries no title: a page never prints
    it twice. The subtitle (the report unit) is dropped with it; the page and the
    edition name the unit.
    """
    from great_tables._gt_data import Heading

    heading = gt._heading
    title = heading.title if heading is not None else None
    text = "" if title is None else str(getattr(title, "text", title))
    return " ".join(text.split()), gt._replace(_heading=Heading())


def table_html(gt: GT) -> str:
    """The table as a self-contained HTML fragment, byte-identical across runs.

    Raises
    ------
    ValueError
        When the table has no fixed id (Great Tables would invent a random one) or its CSS
        imports anything (a web font would break the offline site).
    """
    if gt._options.table_id.value is None:
        raise ValueError("the table has no fixed id; build it with GT(..., id=...) so its "
                         "HTML is the same on every run")
    text = gt.as_raw_html()
    if "@import" in text:
        raise ValueError("the table's CSS imports a web font or stylesheet; the site must work "
                         "offline, so use locally installed fonts (config/labels.yml)")
    return text if text.endswith("\n") else text + "\n"
