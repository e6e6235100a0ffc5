"""Sentences about the year's figures are written from the data at every build, and a
reference of every variable is written for staff (issue 9 §5).

The assessments here are SYNTHETIC rows on real catalog indicators.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest

from bpsreport.generate import MARKER, results_part_names, results_parts
from bpsreport.variables import flatten, variables_from_tables, variables_reference

VAR = re.compile(r"\{\{<\s*var\s+(\S+)\s*>\}\}")


def assessment(rows: list[dict]) -> pd.DataFrame:
    """SYNTHETIC assessment rows (the columns bpsreport.progress writes)."""
    base = {"unit_id": "gd-province", "year": 2018, "actual": None, "target": None,
            "target_type": None, "completion_rate": None, "completion_rate_stated": False,
            "status": "no_target", "actual_derived": False, "target_derived": False,
            "actual_source": "SYNTHETIC", "target_source": "SYNTHETIC"}
    return pd.DataFrame([{**base, **r} for r in rows])


TARGET_ONLY = {"indicator_id": "urban_new_jobs", "domain_id": "employment_security",
               "target": 110.0, "target_type": "count", "status": "no_data"}
ARRIVED = {**TARGET_ONLY, "actual": 133.2, "completion_rate": 121.1, "status": "met"}
PREVIOUS = {"indicator_id": "urban_new_jobs", "domain_id": "employment_security", "year": 2017,
            "actual": 148.9, "status": "no_target"}


def parts(catalog, current, previous=None, lang="zh", tasks=None) -> dict[str, str]:
    return results_parts(catalog, unit_id="gd-province", year=2018, lang=lang,
                         assessment=current, previous=previous, tasks=tasks)


def test_the_sentence_follows_the_data_when_the_actual_arrives(catalog):
    before = parts(catalog, assessment([TARGET_ONLY]))["results-employment_security.qmd"]
    assert "实际值尚未报送" in before and "y2018.urban_new_jobs.actual" not in before
    after = parts(catalog, assessment([ARRIVED]), assessment([PREVIOUS]))["results-employment_security.qmd"]
    assert "实际值尚未报送" not in after
    cited = VAR.findall(after)
    for field in ("name", "target", "actual", "completion", "status"):
        assert f"y2018.urban_new_jobs.{field}.zh" in cited
    assert "y2017.urban_new_jobs.actual.zh" in cited     # last year's figure beside it
    assert "TODO" not in after and after.startswith(MARKER)


def test_a_domain_without_figures_says_so_and_names_last_years_indicators(catalog):
    out = parts(catalog, assessment([ARRIVED]), assessment([PREVIOUS | {"indicator_id": "special_education_funding",
                                                                        "domain_id": "education"}]), lang="en")
    education = out["results-education.qmd"]
    assert "no figures for this domain for 2018" in education
    assert "Special education construction and maintenance funds" in education
    assert VAR.findall(education) == [] and "TODO" not in education


def test_every_part_is_written_every_time_and_overview_counts_follow_the_data(catalog):
    empty = parts(catalog, None)
    assert sorted(empty) == sorted(results_part_names(catalog))
    assert "尚无指标数据" in empty["overview-figures.qmd"]
    tasks = pd.DataFrame({"task_no": [1], "domain_id": ["education"]})
    full = parts(catalog, assessment([ARRIVED]), tasks=tasks)
    assert "y2018.summary.met.zh" in VAR.findall(full["results-overview.qmd"])
    assert full["overview-figures.qmd"].count("\n- ") == 2   # the counts, and the task count
    assert "y2018.summary.tasks.zh" in VAR.findall(full["overview-figures.qmd"])


def test_every_variable_a_generated_part_cites_exists(catalog):
    current = assessment([ARRIVED])
    previous = assessment([PREVIOUS])
    tables = {2017: {"assessment": previous}, 2018: {"assessment": current}}
    known = set(flatten(variables_from_tables(tables, catalog, "gd-province", edition_year=2018)))
    for lang in ("zh", "en"):
        for name, text in parts(catalog, current, previous, lang=lang).items():
            assert set(VAR.findall(text)) <= known, name


def test_the_variables_reference_lists_every_variable_with_both_values(catalog):
    tables = {2018: {"assessment": assessment([ARRIVED])}}
    data = variables_from_tables(tables, catalog, "gd-province", edition_year=2018)
    text = variables_reference(data, catalog, "gd-province", 2018)
    assert text.startswith("<!-- GENERATED")
    assert "| `y2018.urban_new_jobs.actual` | 133.2万人 | 1.332 million people | 省人力资源社会保障厅 (hrss) |" in text
    bases = {k.rsplit(".", 1)[0] for k in flatten(data)}
    for base in bases:
        assert f"`{base}`" in text, base
    assert "{{< var y2018.urban_new_jobs.actual.zh >}}" in text


@pytest.mark.parametrize("value", ["a|b", "第一|第二"])
def test_a_bar_in_a_value_does_not_break_the_table(catalog, value):
    text = variables_reference({"edition": {"title": {"zh": value, "en": value}}}, catalog, "gd-province", 2018)
    row = next(line for line in text.splitlines() if "`edition.title`" in line)
    assert len(re.findall(r"(?<!\\)\|", row)) == 4 and row.count("\\|") == 2


EMBED = re.compile(r"\{\{< embed (\S+) >\}\}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_exhibits_embed_only_what_the_data_draws(catalog, lang):
    """A domain with a target gets its chart and table, cited; a domain with figures but no
    target its indicators' table; a domain without figures nothing. The funding and
    satisfaction charts are placed only when their figures exist: no empty exhibit."""
    no_target = {"indicator_id": "special_education_funding", "domain_id": "education",
                 "actual": 2.0, "status": "no_target"}
    out = parts(catalog, assessment([TARGET_ONLY, no_target]), lang=lang)
    nb = "/build/gd-province/2018/notebooks/"
    employment = out["exhibits-employment_security.qmd"]
    assert EMBED.findall(employment) == [
        f"{nb}employment_security.ipynb#fig-employment_security-targets-{lang}",
        f"{nb}employment_security.ipynb#tbl-employment_security-targets-{lang}"]
    assert f"@fig-employment_security-targets-{lang}" in employment  # cited where it stands
    education = out["exhibits-education.qmd"]
    assert EMBED.findall(education) == [f"{nb}education.ipynb#tbl-education-indicators-{lang}"]
    assert f"@tbl-education-indicators-{lang}" in education
    assert EMBED.findall(out["exhibits-public_health.qmd"]) == []
    assert EMBED.findall(out["exhibits-overview.qmd"]) == [
        f"{nb}overview.ipynb#fig-status-overview-{lang}"]
    assert EMBED.findall(out["exhibits-cross_cutting.qmd"]) == []  # no funding figure yet
    funding = pd.DataFrame([{"indicator_id": "livelihood_spending", "measure": "actual", "year": 2018,
                             "value": 1.0}])
    with_funding = results_parts(catalog, unit_id="gd-province", year=2018, lang=lang,
                                 assessment=assessment([TARGET_ONLY]), previous=None, tasks=None,
                                 observations=funding)["exhibits-cross_cutting.qmd"]
    assert EMBED.findall(with_funding) == [f"{nb}overview.ipynb#fig-funding-{lang}"]
    assert set(out) >= {name for name in results_part_names(catalog) if name.startswith("exhibits-")}
