"""The plotnine charts (bpsreport/charts.py) and the chart font (bpsreport/style.py).

Everything here runs on the SYNTHETIC fixture in tests/fixtures/synthetic/charts/ (see its
README): a small catalog and observations modelled on seed figures, with a few invented
values to reach every status.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from fontTools.ttLib import TTFont
from PIL import Image

from bpsreport import charts
from bpsreport.catalog import load_catalog
from bpsreport.errors import FontMissingError, PipelineError
from bpsreport.progress import StatusRules, assess_observations
from bpsreport.style import (configure_fonts, font_covers, load_font_config, status_fill,
                             status_styles)

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "synthetic" / "charts"
LANGS = ("zh", "en")
PALETTE = {s.fill for s in status_styles().values()}


@pytest.fixture(scope="module")
def synthetic_catalog():
    return load_catalog(FIXTURE, root=FIXTURE)


@pytest.fixture(scope="module")
def observations_all_years() -> pd.DataFrame:
    frame = pd.read_csv(FIXTURE / "observations.csv", dtype=str, keep_default_na=False)
    frame["year"] = frame["year"].astype(int)
    frame["value"] = frame["value"].astype(float)
    frame["derived"] = frame["derived"].eq("yes")
    return frame


@pytest.fixture(scope="module")
def observations(observations_all_years) -> pd.DataFrame:
    return observations_all_years[observations_all_years["year"] == 2017].reset_index(drop=True)


@pytest.fixture(scope="module")
def assessment(observations) -> pd.DataFrame:
    return assess_observations(observations, StatusRules(met_at=100, nearly_met_at=90))


def _draw(chart):
    """Draw the figure, returning the warnings raised while drawing."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure = chart.plot.draw()
        figure.canvas.draw()  # lays out every text, so a missing glyph warns here
    plt.close(figure)
    return [str(w.message) for w in caught]


def _fills(chart) -> set[str]:
    """Fill colours of the status marks (bars, dots) after the plot is built."""
    figure = chart.plot.draw()
    plt.close(figure)
    fills = set()
    for layer in chart.plot.layers:
        if "fill" in layer.mapping and "fill" in layer.data:
            fills |= {str(f).upper() for f in layer.data["fill"].dropna()}
    return fills


# --- every chart builds, in both languages ------------------------------------------------


@pytest.mark.parametrize("lang", LANGS)
def test_every_chart_builds_and_draws_without_missing_glyphs(
        lang, assessment, observations, observations_all_years, synthetic_catalog):
    built = [charts.domain_chart(assessment, synthetic_catalog, d, lang)
             for d in synthetic_catalog.domain_ids()]
    built = [c for c in built if c is not None]
    built += [charts.overview_status_chart(assessment, synthetic_catalog, lang),
              charts.funding_chart(observations, synthetic_catalog, lang),
              charts.satisfaction_chart(observations_all_years, synthetic_catalog, lang)]
    names = [c.name for c in built]
    assert sorted(names) == sorted([
        f"public_transport-targets-{lang}", f"housing_security-targets-{lang}",
        f"employment_security-targets-{lang}", f"environment-targets-{lang}",
        f"overview-status-{lang}", f"funding-{lang}", f"satisfaction-{lang}"])
    for chart in built:
        assert chart.alt and chart.caption
        messages = _draw(chart)
        # A glyph missing from the font would be drawn as a tofu box.
        assert not [m for m in messages if "missing from" in m.lower() or "glyph" in m.lower()], chart.name


def test_domain_without_any_target_has_no_chart(assessment, synthetic_catalog):
    # The fixture's education indicator has an actual but no target.
    assert charts.domain_chart(assessment, synthetic_catalog, "education", "zh") is None


def test_chart_text_is_in_the_chart_language(assessment, synthetic_catalog):
    zh = charts.domain_chart(assessment, synthetic_catalog, "housing_security", "zh")
    en = charts.domain_chart(assessment, synthetic_catalog, "housing_security", "en")
    assert zh.caption.startswith("住房保障")
    assert en.caption.startswith("Housing security")
    assert "已完成" in zh.alt and "基本完成" in zh.alt and "未完成" in zh.alt
    assert "(met)" in en.alt and "(nearly met)" in en.alt and "(not met)" in en.alt


# --- alt text carries the formatted figures ---------------------------------------------------


def test_alt_text_states_completion_rates(assessment, synthetic_catalog):
    zh = charts.domain_chart(assessment, synthetic_catalog, "employment_security", "zh").alt
    en = charts.domain_chart(assessment, synthetic_catalog, "employment_security", "en").alt
    assert "城镇新增就业：148.9万人，完成年度任务的135.4%" in zh
    assert "172.6%" in zh and "17.26万人" in zh
    assert "New urban jobs: 1.489 million people, 135.4% of the annual target (met)" in en


def test_alt_text_keeps_the_stated_precision_of_a_rate(assessment, synthetic_catalog):
    alt = charts.domain_chart(assessment, synthetic_catalog, "housing_security", "zh").alt
    assert "76.55%" in alt          # stated with two decimals in the fixture
    assert "95.5%" in alt           # computed 5728 / 6000 = 95.47%: one decimal
    assert "38367套" in alt and "104.4%" in alt


@pytest.mark.parametrize("rate, stated, expected", [
    (76.55, True, 2), (135.4, True, 1), (100.0, True, 0), (95.4666667, False, 1), (100.0, False, 1)])
def test_rate_decimals_follow_the_source_when_stated(rate, stated, expected):
    assert charts._rate_decimals(rate, stated) == expected


def test_alt_text_of_funding_and_satisfaction(observations, observations_all_years, synthetic_catalog):
    zh = charts.funding_chart(observations, synthetic_catalog, "zh").alt
    en = charts.funding_chart(observations, synthetic_catalog, "en").alt
    assert "10589亿元" in zh and "70.4%" in zh and "3591亿元" in zh and "67.1%" in zh
    assert "1,058.9 billion yuan" in en and "359.1 billion yuan" in en
    sat_zh = charts.satisfaction_chart(observations_all_years, synthetic_catalog, "zh").alt
    sat_en = charts.satisfaction_chart(observations_all_years, synthetic_catalog, "en").alt
    assert "2011年76.20%（推算）" in sat_zh and "2016年82.97%（推算）" in sat_zh
    assert "2017年83.64%" in sat_zh and "2017年83.64%（推算）" not in sat_zh
    assert "76.20% in 2011 (derived)" in sat_en and "83.64% in 2017" in sat_en


def test_overview_alt_counts_statuses_per_domain(assessment, synthetic_catalog):
    zh = charts.overview_status_chart(assessment, synthetic_catalog, "zh").alt
    en = charts.overview_status_chart(assessment, synthetic_catalog, "en").alt
    assert "住房保障3项，其中已完成1项、基本完成1项、未完成1项" in zh
    assert "就业保障4项，其中已完成4项" in zh
    assert "Housing security, 3 (1 met, 1 nearly met, 1 not met)" in en
    # The cross-cutting part is counted too, so the parts add up to every indicator.
    assert "资金投入与绩效考评5项，其中无目标5项" in zh
    assert "Funding and performance evaluation, 5 (5 without a target)" in en
    assert en.startswith(f"{len(assessment)} indicators for 2017")
    # Domains without indicators are named, not dropped.
    assert "公共卫生" in zh and "Medical security" in en


# --- status colours come from the one palette -------------------------------------------------


@pytest.mark.parametrize("domain_id", ["housing_security", "employment_security", "public_transport"])
def test_status_marks_use_the_palette(domain_id, assessment, synthetic_catalog):
    chart = charts.domain_chart(assessment, synthetic_catalog, domain_id, "en")
    fills = _fills(chart)
    assert fills and fills <= {f.upper() for f in PALETTE}


def test_each_status_gets_its_own_palette_colour(assessment, synthetic_catalog):
    chart = charts.domain_chart(assessment, synthetic_catalog, "housing_security", "zh")
    assert _fills(chart) == {status_fill(s).upper() for s in ("met", "nearly_met", "not_met")}
    overview = charts.overview_status_chart(assessment, synthetic_catalog, "zh")
    assert _fills(overview) == {status_fill(s).upper() for s in ("met", "nearly_met", "not_met", "no_data")}


# --- lower-is-better thresholds ----------------------------------------------------------------


def _row(chart, indicator_id):
    data = chart.plot.data
    return data[data["indicator_id"] == indicator_id].iloc[0]


def test_ceiling_target_met_zone_lies_below_the_threshold(assessment, synthetic_catalog):
    chart = charts.domain_chart(assessment, synthetic_catalog, "employment_security", "zh")
    row = _row(chart, "registered_unemployment_rate")
    assert row["kind"] == "max" and row["status"] == "met"
    assert row["reference"] == pytest.approx(3.5) and row["value"] == pytest.approx(2.47)
    assert math.isinf(row["zone_min"]) and row["zone_min"] < 0 and row["zone_max"] == pytest.approx(3.5)
    assert "城镇登记失业率：2.47%，目标≤ 3.5%（已完成）" in chart.alt
    # A floor (≥) is the other way round.
    bus = _row(charts.domain_chart(assessment, synthetic_catalog, "public_transport", "zh"),
               "village_bus_access_rate")
    assert bus["zone_min"] == pytest.approx(95) and math.isinf(bus["zone_max"]) and bus["zone_max"] > 0


def test_ceiling_exceeded_is_not_met_and_drawn_in_the_not_met_colour(observations, synthetic_catalog):
    worse = observations.copy()
    mask = (worse["indicator_id"] == "registered_unemployment_rate") & (worse["measure"] == "actual")
    worse.loc[mask, "value"] = 3.6
    assessment = assess_observations(worse, StatusRules(met_at=100, nearly_met_at=90))
    chart = charts.domain_chart(assessment, synthetic_catalog, "employment_security", "en")
    assert _row(chart, "registered_unemployment_rate")["status"] == "not_met"
    assert status_fill("not_met").upper() in _fills(chart)
    assert "3.60% against a target of ≤ 3.5% (not met)" in chart.alt


def test_target_without_actual_is_shown_as_no_data(assessment, synthetic_catalog):
    chart = charts.domain_chart(assessment, synthetic_catalog, "environment", "zh")
    row = _row(chart, "afforestation")
    assert row["status"] == "no_data" and math.isnan(row["value"])
    assert "目标400万亩" in chart.alt and "无数据" in chart.alt


# --- satisfaction: derived points are marked ------------------------------------------------------


def test_derived_satisfaction_points_are_hollow(observations_all_years, synthetic_catalog):
    chart = charts.satisfaction_chart(observations_all_years, synthetic_catalog, "zh")
    data = chart.plot.data.set_index("year")
    assert list(data.index) == [2011, 2016, 2017]
    assert list(data["derived"]) == [True, True, False]
    figure = chart.plot.draw()
    plt.close(figure)
    points = next(layer for layer in chart.plot.layers if type(layer.geom).__name__ == "geom_point")
    fill_by_year = dict(zip(points.data["x"].astype(int), points.data["fill"].str.upper()))
    assert fill_by_year[2011] == fill_by_year[2016] == "#FFFFFF"
    assert fill_by_year[2017] != "#FFFFFF"
    assert "（推算）" in data.at[2016, "point_label"] and "（推算）" not in data.at[2017, "point_label"]


# --- saving: SVG + PNG, 300 dpi, byte-identical -----------------------------------------------------


def test_save_chart_writes_svg_and_png_deterministically(tmp_path, assessment, synthetic_catalog):
    chart = charts.domain_chart(assessment, synthetic_catalog, "employment_security", "zh")
    first = charts.save_chart(chart, tmp_path / "a")
    second = charts.save_chart(chart, tmp_path / "b")
    assert set(first) == {"svg", "png"}
    assert first["svg"].name == "employment_security-targets-zh.svg"
    assert first["png"].name == "employment_security-targets-zh.png"
    for kind in ("svg", "png"):
        assert first[kind].read_bytes() == second[kind].read_bytes(), kind
    with Image.open(first["png"]) as png:
        dpi_x, dpi_y = png.info["dpi"]
        assert dpi_x >= 200 and dpi_y >= 200
        # 16 cm wide at 300 dpi.
        assert png.width == pytest.approx(16 / 2.54 * 300, abs=2)
    svg = first["svg"].read_text(encoding="utf-8")
    assert "<dc:date>" not in svg           # no timestamp
    assert "<text" not in svg               # text drawn as paths: no font needed to view


def test_rebuilt_chart_saves_identical_bytes(tmp_path, observations_all_years, synthetic_catalog):
    one = charts.satisfaction_chart(observations_all_years, synthetic_catalog, "en")
    two = charts.satisfaction_chart(observations_all_years, synthetic_catalog, "en")
    a = charts.save_chart(one, tmp_path / "a")
    b = charts.save_chart(two, tmp_path / "b")
    assert a["svg"].read_bytes() == b["svg"].read_bytes()
    assert a["png"].read_bytes() == b["png"].read_bytes()


# --- fonts -------------------------------------------------------------------------------------------


def test_configured_font_is_a_cjk_font():
    font = configure_fonts()
    assert font.family in load_font_config()["chart_families"]
    # Checked independently of style.font_covers: read the cmap of the very face used.
    face = TTFont(str(font.path), fontNumber=font.face_index, lazy=True)
    cmap = face.getBestCmap()
    face.close()
    assert ord("城") in cmap and ord("镇") in cmap
    assert font_covers(font.path, "城镇新增就业", font.face_index)
    assert plt.rcParams["font.sans-serif"][0] == font.family


def test_missing_font_names_the_package_to_install():
    with pytest.raises(FontMissingError) as caught:
        configure_fonts(["No Such Font 9f3c", "Another Missing Font"])
    message = str(caught.value)
    assert "apt-get install fonts-noto-cjk" in message
    assert "No Such Font 9f3c" in message and "config/fonts.yml" in message
    assert isinstance(caught.value, PipelineError)
    # The working configuration is still usable afterwards.
    assert configure_fonts().family


# --- label wrapping ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, width, expected", [
    ("城镇新增就业", 20, "城镇新增就业"),
    ("省对市县税收返还和转移支付", 12, "省对市县税收\n返还和转移支\n付"),
    # Closing punctuation never starts a line, opening punctuation never ends one.
    ("城镇登记失业率：2.47%，目标≤ 3.50%（已完成）", 20, "城镇登记失业率：\n2.47%，目标≤ 3.50%\n（已完成）"),
    ("New households receiving rental subsidies", 20, "New households\nreceiving rental\nsubsidies"),
])
def test_wrap_label(text, width, expected):
    assert charts.wrap_label(text, width) == expected
