"""The English edition reads as English: figures written as an English report writes them,
one unit per figure, no Chinese where English is expected, tables whose columns fit.

Three layers, so that a new case of each class is caught wherever it comes from:

- the formatting rules themselves (:mod:`bpsreport.formatting`, :mod:`bpsreport.citations`),
  on cases chosen to cover every branch;
- every English text the real data produces (all variables of the 2017 edition, every
  table row, every formula and source reference), without a build;
- the built 2017 edition: the English site's HTML (text and attributes), its search index,
  the chart alt texts and the English PDF's text.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bpsreport import tables
from bpsreport.citations import format_document, format_section, format_source
from bpsreport.formatting import (english_scale, format_formula, format_quantity, format_target,
                                  format_value, unit_label)

ROOT = Path(__file__).resolve().parents[1]
# Chinese characters, CJK punctuation and full-width forms.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]+")
# Chinese that the English edition may show, and why. Nothing else.
ALLOWED_CHINESE = {
    "中文": "the language switch names the Chinese edition in Chinese",
}
# An amount a reader should never meet: "0.1726 million", "0.2 billion", "40 thousand".
MACHINE_SCALE = re.compile(r"\b0\.\d+ (?:million|billion)\b|\bthousand\b")

JOBS = {"unit": "万人", "unit_en": "million people", "en_factor": 0.01, "decimals": 1,
        "decimals_en": 3}
YUAN = {"unit": "亿元", "unit_en": "billion yuan", "en_factor": 0.1, "decimals": 0,
        "decimals_en": 1}
WAN_YUAN = {"unit": "万元", "unit_en": "million yuan", "en_factor": 0.01, "decimals": 0,
            "decimals_en": 0}
COUNT = {"unit": "次", "unit_en": "inspections", "en_factor": 1, "decimals": 0, "decimals_en": 0}
PERCENT = {"unit": "%", "unit_en": "%", "en_factor": 1, "decimals": 2, "decimals_en": 2}
MONTHLY = {"unit": "万元/月", "unit_en": "thousand yuan/month", "en_factor": 10, "decimals": 1,
           "decimals_en": 0}


# --- the rules ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, indicator, decimals, zh, en", [
    # Millions where the amount reaches a million, with the source's precision.
    (148.9, JOBS, 1, "148.9万人", "1.489 million people"),
    # Below a million: in full, grouped; never "0.1726 million people".
    (17.26, JOBS, 2, "17.26万人", "172,600 people"),
    (4, JOBS, 0, "4万人", "40,000 people"),
    # Zeros the source wrote as decimals are precision; integer zeros are not.
    (150.0, JOBS, 1, "150.0万人", "1.500 million people"),
    (7500, WAN_YUAN, 0, "7500万元", "75 million yuan"),
    # 亿元: "200 million yuan", not "0.2 billion yuan"; billions keep their decimals.
    (2, YUAN, 0, "2亿元", "200 million yuan"),
    (10589, YUAN, 0, "10589亿元", "1,058.9 billion yuan"),
    (23.58, YUAN, 2, "23.58亿元", "2.358 billion yuan"),
    # An exact count of a million or more stays exact rather than 1.576205 million.
    (1576205, COUNT, 0, "1576205次", "1,576,205 inspections"),
    # Rates are never scaled; a scaled rate unit becomes its base unit.
    (1.2, MONTHLY, 1, "1.2万元/月", "12,000 yuan/month"),
    (97.63, PERCENT, 2, "97.63%", "97.63%"),
])
def test_quantities_read_as_an_english_report_writes_them(value, indicator, decimals, zh, en):
    indicator = {**indicator, "decimals": decimals}
    assert format_quantity(value, indicator, "zh") == zh
    assert format_quantity(value, indicator, "en") == en


def test_one_figure_has_one_scale_chosen_from_its_largest_value():
    # 2017 new urban jobs: target 110万, actual 148.9万: both in millions.
    scale = english_scale([110, 148.9], JOBS)
    assert (format_value(110, JOBS, "en", scale), format_value(148.9, JOBS, "en", scale),
            unit_label(JOBS, "en", scale)) == ("1.100", "1.489", "million people")
    assert format_target(110, "count", JOBS, "en", scale) == "1.1 million people"
    # A row entirely below a million is written in full.
    small = english_scale([10, 17.26], {**JOBS, "decimals": 2})
    assert unit_label(JOBS, "en", small) == "people"


@pytest.mark.parametrize("formula, indicator, scale_values, en", [
    ("148.9 ÷ 135.4% = 109.97 ≈ 110.0", JOBS, [110, 148.9], "1.489 ÷ 135.4% = 1.0997 ≈ 1.100"),
    ("17.26 ÷ 172.6% = 10.00", {**JOBS, "decimals": 2}, [10, 17.26], "172,600 ÷ 172.6% = 100,000"),
    # The 1 of a growth factor is a pure number, whatever the unit.
    ("2384 ÷ (1 + 32.1%) = 1804.69 ≈ 1805", YUAN, [1805], "238.4 ÷ (1 + 32.1%) = 180.469 ≈ 180.5"),
    ("9648 ÷ (1 + 8.2%) = 8916.8 ≈ 8917", COUNT, [8917], "9,648 ÷ (1 + 8.2%) = 8,916.8 ≈ 8,917"),
    ("83.64 − 7.44", PERCENT, [76.2], "83.64 − 7.44"),
])
def test_formulas_compute_in_the_unit_the_edition_prints(formula, indicator, scale_values, en):
    assert format_formula(formula, indicator, "zh") == formula
    assert format_formula(formula, indicator, "en", english_scale(scale_values, indicator)) == en


@pytest.mark.parametrize("source, en", [
    ("粤财办〔2018〕6号 一(二)8(1)", "Yue Cai Ban [2018] No. 6, Part I (2) 8 (1)"),
    ("粤财办〔2018〕6号 二(十一)", "Yue Cai Ban [2018] No. 6, Part II (11)"),
    ("粤财办〔2018〕6号 一(三)", "Yue Cai Ban [2018] No. 6, Part I (3)"),
    ("粤财办〔2018〕6号 二(九)29", "Yue Cai Ban [2018] No. 6, Part II (9) 29"),
    ("粤府办〔2010〕46号 第六章二(八)", "Yue Fu Ban [2010] No. 46, Chapter 6, Part II (8)"),
    ("粤财办〔2019〕1号 （三）2", "Yue Cai Ban [2019] No. 1, (3) 2"),
])
def test_source_references_have_an_english_form(source, en):
    assert format_source(source, "zh") == source
    assert format_source(source, "en") == en


def test_a_reference_the_rules_do_not_know_is_left_as_written():
    # Left alone, so that the site test below reports it rather than a garbled English form.
    assert format_section("附表3", "en") == "附表3"
    assert format_document("某某文件", "en") == "某某文件"


# --- every English text the real data produces ------------------------------------------------

@pytest.fixture(scope="module")
def edition(catalog):
    """The 2017 edition's clean tables, validated in memory from data/raw (nothing written)."""
    from bpsreport.ingest import ingest_edition
    from bpsreport.progress import assess_observations

    raw = ROOT / "data" / "raw"
    years = {}
    for year in (2016, 2017, 2018):
        obs = ingest_edition(raw, catalog, "gd-province", year, root=ROOT).observations
        years[year] = (obs, assess_observations(obs))
    return years


def _english_problems(text: str) -> list[str]:
    problems = [m.group(0) for m in CJK.finditer(text)]
    problems += [m.group(0) for m in MACHINE_SCALE.finditer(text)]
    return problems


def test_every_english_variable_is_english_and_scaled_sensibly(cold_build):
    from bpsreport.variables import build_edition_variables, flatten

    variables = flatten(build_edition_variables(cold_build.root, "gd-province", 2017))
    bad = {k: v for k, v in variables.items() if k.endswith(".en") and _english_problems(v)
           and not k.startswith("y2018.tasks.")}   # task notes are entered in one language
    assert bad == {}


def test_every_english_table_row_is_english_in_one_unit(edition, catalog):
    for year, (obs, assessment) in edition.items():
        rows = tables.target_rows(assessment, catalog, "en", observations=obs,
                                  include_no_target=True)
        for rec in rows.to_dict("records"):
            shown = " ".join(str(rec[c]) for c in ("indicator", "unit", "target", "actual",
                                                    "completion", "status", "target_note",
                                                    "actual_note", "completion_note",
                                                    "status_note"))
            assert _english_problems(shown) == [], (year, rec["indicator_id"], shown)
            # Target and actual share the row's unit: neither is a fraction of a million.
            for column in ("target", "actual"):
                if rec["unit"].startswith(("million", "billion")) and rec[column] != "—":
                    number = float(rec[column].lstrip("≥≤ \u00a0").replace(",", ""))
                    assert number >= 0.1, (year, rec["indicator_id"], column, rec[column])


def test_every_formula_and_source_of_the_province_prints_in_english(edition, catalog):
    for year, (obs, _) in edition.items():
        for rec in obs.to_dict("records"):
            ind = catalog.indicators.loc[rec["indicator_id"]]
            source = format_source(rec["source"], "en")
            assert CJK.search(source) is None, (year, rec["indicator_id"], source)
            if rec["derived"]:
                formula = format_formula(rec["formula"], ind, "en")
                assert CJK.search(formula) is None, (year, rec["indicator_id"], rec["formula"])
                # The formula is a calculation: words belong in the note.
                assert not re.search(r"[A-Za-z]", rec["formula"]), (year, rec["indicator_id"])


def test_task_titles_and_summaries_are_english(edition, catalog):
    tasks = pd.read_csv(ROOT / "data/raw/tasks/gd-province/2018/tasks.csv", dtype=str)
    rows = tables.task_rows(tasks.assign(year=2018), catalog, "en", assessment=edition[2018][1])
    for rec in rows.to_dict("records"):
        text = " ".join([rec["task"], rec["departments"], rec["targets"],
                         format_source(rec["source"], "en")])
        assert _english_problems(text) == [], (rec["task_no"], text)


# --- column widths ---------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_header_word_fits_its_column(edition, catalog, lang):
    """A header never breaks inside a word (so two headers cannot run together, as
    "ActualCompletion" did), and numbers fit on one line."""
    obs, assessment = edition[2017]
    tasks = pd.read_csv(ROOT / "data/raw/tasks/gd-province/2018/tasks.csv", dtype=str)
    built = [tables.target_table(assessment, catalog, lang, observations=obs),
             tables.target_table(assessment, catalog, lang, observations=obs,
                                 include_no_target=True),
             tables.task_table(tasks.assign(year=2018), catalog, lang,
                               assessment=edition[2018][1])]
    measure = tables.table_measure_em(lang)
    for gt in built:
        data = gt._tbl_data
        for col in gt._boxhead:
            if col.column_width is None:
                continue
            width = float(col.column_width.rstrip("%")) / 100 * measure
            label = str(col.column_label)
            words = label.split() if lang == "en" else [label]
            assert max(tables.text_em(w) for w in words) * 1.08 < width, (label, col.column_width)
            if col.var in ("target", "actual", "completion", "number"):
                longest = max(tables.text_em(str(v)) for v in data[col.var])
                assert longest < width, (col.var, col.column_width)


# --- the built edition ---------------------------------------------------------------------------

class _Text(HTMLParser):
    """Text a reader meets: page text and alt/title/aria-label/placeholder attributes, with
    the language switch set apart."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.switch: list[str] = []
        self._skip = 0
        self._in_switch = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("script", "style"):
            self._skip += 1
        # The link to the Chinese page is Chinese on purpose, and marked so (lang="zh").
        if tag == "a" and (a.get("lang") or "").startswith("zh"):
            self._in_switch += 1
        for key in ("alt", "title", "aria-label", "placeholder"):
            if a.get(key):
                (self.switch if self._in_switch else self.text).append(a[key])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1
        if tag == "a" and self._in_switch:
            self._in_switch -= 1

    def handle_data(self, data):
        if self._skip:
            return
        (self.switch if self._in_switch else self.text).append(data)


def _chinese_outside_allow_list(text: str) -> list[str]:
    return [m.group(0) for m in CJK.finditer(text) if m.group(0) not in ALLOWED_CHINESE]


def test_english_site_and_pdf_show_no_chinese_outside_the_allow_list(edition_2017):
    found = {}
    site = edition_2017 / "_site" / "en"
    labels = yaml.safe_load((ROOT / "config" / "labels.yml").read_text(encoding="utf-8"))["site"]
    switch_words = {labels["language-switch"]["en"], labels["language-switch-title"]["en"]}
    pages = sorted(site.rglob("*.html"))
    assert len(pages) >= 15
    for page in pages:
        parser = _Text()
        parser.feed(page.read_text(encoding="utf-8"))
        leaks = _chinese_outside_allow_list(" ".join(parser.text))
        if leaks:
            found[str(page.relative_to(site))] = leaks
        assert set(parser.switch) <= switch_words, page
    from bpsreport.postrender import read_search_index

    for entry in read_search_index(edition_2017 / "_site", 2017, "en"):
        text = " ".join(str(v) for v in entry.values() if isinstance(v, str))
        leaks = _chinese_outside_allow_list(text)
        if leaks:
            found[f"search index: {entry.get('href', '?')}"] = leaks
    for alt in sorted((edition_2017 / "build/gd-province/2017/charts/en").glob("*.alt.txt")):
        leaks = _chinese_outside_allow_list(alt.read_text(encoding="utf-8"))
        if leaks:
            found[alt.name] = leaks
    if shutil.which("pdftotext"):
        pdf = edition_2017 / "build/gd-province/2017/pdf/report-en.pdf"
        text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                              capture_output=True, text=True).stdout
        leaks = _chinese_outside_allow_list(text)
        if leaks:
            found["report-en.pdf"] = leaks
    assert found == {}


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext is not installed")
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_table_headers_in_the_pdfs_are_separate_words(edition_2017, lang):
    """Every header row of the target tables prints each header as a word of its own: two
    header cells never run together ("ActualCompletion")."""
    pdf = edition_2017 / f"build/gd-province/2017/pdf/report-{lang}.pdf"
    text = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    stub = tables.label("target_table.stubhead", lang)
    headers = [tables.label(f"target_table.columns.{c}", lang) for c in tables.TARGET_COLUMNS[1:]]
    header_rows = [line for line in text.splitlines()
                   if line.strip().startswith(stub) and headers[-1] in line]
    assert header_rows, "no header row of a target table found in the PDF text"
    for line in header_rows:
        for header in headers:
            assert re.search(rf"(^|\s){re.escape(header)}(\s|$)", line), (header, line)
