"""The great-tables tables (bpsreport/tables.py) on the SYNTHETIC fixture.

The fixture (tests/fixtures/synthetic/tables/, see its README) mixes real 2017 figures of
粤财办〔2018〕6号 with made-up targets so that every status, target type and footnote case
occurs. Snapshots of the HTML are in tests/snapshots/tables/; regenerate them with
``UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/test_tables.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from great_tables import GT

from bpsreport import tables
from bpsreport.catalog import load_catalog
from bpsreport.progress import assess_observations
from bpsreport.style import load_font_config, status_fill, status_label, status_styles

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "synthetic" / "tables"
SNAPSHOTS = ROOT / "tests" / "snapshots" / "tables"


# --- fixture loading ---------------------------------------------------------------------

def read_observations(year: int) -> pd.DataFrame:
    """A SYNTHETIC clean observations table, typed as data/clean/ stores it."""
    frame = pd.read_csv(FIXTURE / f"observations_{year}.csv", dtype=str, keep_default_na=False)
    frame["year"] = frame["year"].astype(int)
    frame["value"] = frame["value"].astype(float)
    frame["derived"] = frame["derived"].eq("yes")
    return frame


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(FIXTURE)


@pytest.fixture(scope="module")
def obs2017():
    return read_observations(2017)


@pytest.fixture(scope="module")
def assessment(obs2017):
    return assess_observations(obs2017)


@pytest.fixture(scope="module")
def assessment2018():
    return assess_observations(read_observations(2018))


@pytest.fixture(scope="module")
def tasks():
    frame = pd.read_csv(FIXTURE / "tasks_2018.csv", dtype=str, keep_default_na=False)
    frame["year"] = frame["year"].astype(int)
    frame["task_no"] = frame["task_no"].astype(int)
    return frame


def row(rows: pd.DataFrame, indicator_id: str) -> pd.Series:
    match = rows[rows["indicator_id"] == indicator_id]
    assert len(match) == 1, indicator_id
    return match.iloc[0]


class Cells(HTMLParser):
    """Body cells of a Great Tables table: (tag, attrs, text), plus the footer text.

    ``marked`` holds the positions (in ``cells``) of cells carrying a footnote mark.
    """

    def __init__(self):
        super().__init__()
        self.cells: list[tuple[str, dict, str]] = []
        self.marked: set[int] = set()
        self._open: tuple[str, dict] | None = None
        self._text: list[str] = []
        self.in_tfoot = False
        self.footer: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "tfoot":
            self.in_tfoot = True
        if tag in ("td", "th"):
            self._open, self._text = (tag, dict(attrs)), []
        if (tag == "span" and self._open and not self.in_tfoot
                and "gt_footnote_marks" in dict(attrs).get("class", "")):
            self.marked.add(len(self.cells))

    def handle_endtag(self, tag):
        if tag == "tfoot":
            self.in_tfoot = False
        if tag in ("td", "th") and self._open:
            text = "".join(self._text).strip()
            if self.in_tfoot:
                self.footer.append(text)
            else:
                self.cells.append((*self._open, text))
            self._open = None

    def handle_data(self, data):
        if self._open:
            self._text.append(data)

    def column(self, table_id: str, column: str) -> list[tuple[dict, str]]:
        """Body cells of one column, top to bottom."""
        return [(a, t) for _, a, t in self._body(table_id, column)]

    def marks(self, table_id: str, column: str) -> list[bool]:
        """Whether each body cell of one column carries a footnote mark."""
        return [i in self.marked for i, _, _ in self._body(table_id, column)]

    def _body(self, table_id, column):
        suffix = f"{table_id}-{column}"
        return [(i, a, t) for i, (tag, a, t) in enumerate(self.cells)
                if tag == "td" and a.get("headers", "").split()[-1:] == [suffix]]

    def stub(self) -> list[str]:
        return [t for tag, a, t in self.cells if tag == "th" and a.get("scope") == "row"]


def parse(html: str) -> Cells:
    cells = Cells()
    cells.feed(html)
    return cells


# --- target table: content -----------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_row_has_a_status_cell_in_the_shared_palette(assessment, obs2017, catalog, lang):
    rows = tables.target_rows(assessment, catalog, lang, observations=obs2017,
                              include_no_target=True)
    assert len(rows) == len(assessment) == 11
    assert set(rows["status_id"]) == {"met", "nearly_met", "not_met", "no_target", "no_data"}
    html = tables.table_html(tables.target_table(assessment, catalog, lang, observations=obs2017,
                                                 include_no_target=True))
    status_cells = parse(html).column(f"tbl-indicators-all-{lang}", "status")
    assert len(status_cells) == len(rows)
    for (attrs, text), status in zip(status_cells, rows["status_id"]):
        assert text == status_label(status, lang)
        assert f"background-color: {status_fill(status)}" in attrs["style"]
        assert f"color: {status_styles()[status].text}" in attrs["style"]


def test_target_table_lists_only_indicators_with_a_target(assessment, catalog):
    # Actuals without a target (民生类支出, 公众满意度) have nothing to complete.
    rows = tables.target_rows(assessment, catalog, "zh")
    assert len(rows) == 9
    assert "no_target" not in set(rows["status_id"])
    assert {"livelihood_spending", "public_satisfaction"}.isdisjoint(rows["indicator_id"])


def test_rows_follow_the_seed_domain_order_not_the_input_order(assessment, obs2017, catalog):
    rows = tables.target_rows(assessment, catalog, "zh", include_no_target=True)
    order = list(catalog.domains.index)
    ranks = [order.index(d) for d in rows["domain_id"]]
    assert ranks == sorted(ranks)
    # Within a domain, the catalog's indicator order.
    employment = rows.loc[rows["domain_id"] == "employment_security", "indicator_id"].tolist()
    assert employment == ["urban_new_jobs", "reemployed_unemployed", "hard_to_employ_employed",
                          "urban_registered_unemployment_rate"]
    shuffled = assessment.sample(frac=1, random_state=7)
    assert not shuffled["indicator_id"].equals(assessment["indicator_id"])
    assert (tables.table_html(tables.target_table(shuffled, catalog, "zh", observations=obs2017))
            == tables.table_html(tables.target_table(assessment, catalog, "zh", observations=obs2017)))


def test_groups_are_domains_in_the_seed_order(assessment, catalog):
    html = tables.table_html(tables.target_table(assessment, catalog, "zh"))
    groups = [t for tag, a, t in parse(html).cells if "gt_group_heading" in a.get("class", "")]
    assert groups == ["公共交通", "生活保障", "住房保障", "就业保障", "生态环境保障"]
    html = tables.table_html(tables.target_table(assessment, catalog, "zh", include_no_target=True))
    groups = [t for tag, a, t in parse(html).cells if "gt_group_heading" in a.get("class", "")]
    assert groups[0] == "资金投入与绩效考评"


@pytest.mark.parametrize(
    "lang, indicator_id, unit, actual, target",
    [
        # 一(二)8(1): 城镇新增就业148.9万人; the Chinese edition keeps 万人, English scales.
        ("zh", "urban_new_jobs", "万人", "148.9", "110"),
        ("en", "urban_new_jobs", "million people", "1.489", "1.1"),
        # 一(一)2: 民生类支出10589亿元.
        ("zh", "livelihood_spending", "亿元", "10589", "—"),
        ("en", "livelihood_spending", "billion yuan", "1,058.9", "—"),
        ("zh", "hard_to_employ_employed", "万人", "17.26", "10"),
        # English writes what is below a million in full (172,600 people, not 0.1726 million).
        ("en", "hard_to_employ_employed", "people", "172,600", "100,000"),
        ("en", "shantytown_renovation_starts", "units", "38,367", "—"),
        ("zh", "disability_living_allowance", "元/年", "—", "1890"),
        ("en", "disability_living_allowance", "yuan/year", "—", "1,890"),
    ],
)
def test_numbers_and_units_per_language(assessment, catalog, lang, indicator_id, unit, actual, target):
    r = row(tables.target_rows(assessment, catalog, lang, include_no_target=True), indicator_id)
    assert (r["unit"], r["actual"], r["target"]) == (unit, actual, target)


def test_number_and_unit_read_as_the_formatting_module_prints_them(assessment, catalog):
    # The table splits number and unit into two columns; together they read as
    # formatting.format_quantity does: 148.9万人 / 1.489 million people.
    zh = row(tables.target_rows(assessment, catalog, "zh"), "urban_new_jobs")
    en = row(tables.target_rows(assessment, catalog, "en"), "urban_new_jobs")
    assert zh["actual"] + zh["unit"] == "148.9万人"
    assert f'{en["actual"]} {en["unit"]}' == "1.489 million people"


@pytest.mark.parametrize("lang, status_text", [("zh", "已完成"), ("en", "Met")])
def test_lower_is_better_threshold_is_met_below_the_ceiling(assessment, catalog, lang, status_text):
    # 一(二)8(1): 城镇登记失业率2.47%; 二(八)24 sets ≤ 3.5% (paired in the fixture).
    r = row(tables.target_rows(assessment, catalog, lang), "urban_registered_unemployment_rate")
    assert r["target"] == "≤ 3.5"   # targets drop trailing zeros (catalog has two decimals)
    assert r["actual"] == "2.47"
    assert r["unit"] == "%"
    assert r["status_id"] == "met" and r["status"] == status_text
    assert r["completion"] == "—"     # thresholds have no completion rate


def test_lower_is_better_above_the_ceiling_is_not_met(obs2017, catalog):
    worse = obs2017.copy()
    mask = (worse["indicator_id"] == "urban_registered_unemployment_rate") & (worse["measure"] == "actual")
    worse.loc[mask, "value"] = 3.6
    r = row(tables.target_rows(assess_observations(worse), catalog, "en"),
            "urban_registered_unemployment_rate")
    assert (r["actual"], r["status_id"], r["status"]) == ("3.60", "not_met", "Not met")


def test_higher_is_better_threshold_below_target_is_not_met(assessment, catalog):
    # 一(二)4(1): 客运班车通达率92.1% against ≥ 95%.
    r = row(tables.target_rows(assessment, catalog, "zh"), "village_bus_access_rate")
    assert (r["target"], r["actual"], r["status_id"]) == ("≥ 95", "92.1", "not_met")


def test_completion_rates_keep_the_source_precision(assessment, catalog):
    rows = tables.target_rows(assessment, catalog, "zh")
    assert row(rows, "urban_new_jobs")["completion"] == "135.4%"                   # stated
    assert row(rows, "rural_dilapidated_housing_renovations")["completion"] == "76.55%"  # stated
    assert row(rows, "hard_to_employ_employed")["completion"] == "172.6%"          # computed
    assert row(rows, "circular_economy_pilot_parks")["completion"] == "93.3%"      # 14/15
    assert row(rows, "circular_economy_pilot_parks")["status_id"] == "nearly_met"


# --- target table: footnotes and sources ---------------------------------------------------------

def test_derived_values_are_footnoted_with_formula_and_source(assessment, obs2017, catalog):
    rows = tables.target_rows(assessment, catalog, "zh", observations=obs2017,
                              include_no_target=True)
    jobs = row(rows, "urban_new_jobs")
    assert jobs["target_note"] == ("推算值（万人）：148.9 ÷ 135.4% (SYNTHETIC test formula)。"
                                   "依据：粤财办〔2018〕6号 一(二)8(1)。")
    assert jobs["actual_note"] == "" and jobs["completion_note"] == ""
    satisfaction = row(rows, "public_satisfaction")
    assert satisfaction["actual_note"].startswith("推算值（%）：83.64 − 0.67")
    # English computes in the unit of the row (million people), cites in English.
    en = row(tables.target_rows(assessment, catalog, "en", observations=obs2017), "urban_new_jobs")
    assert en["unit"] == "million people"
    assert en["target_note"].startswith("Derived value (million people): 1.489 ÷ 135.4%")
    assert en["target_note"].endswith("Source: Yue Cai Ban [2018] No. 6, Part I (2) 8 (1).")
    # Without the observations the formula is unknown, but the value is still marked.
    bare = row(tables.target_rows(assessment, catalog, "en"), "urban_new_jobs")
    assert bare["target_note"] == "Derived value. Source: Yue Cai Ban [2018] No. 6, Part I (2) 8 (1)."


def test_only_derived_or_computed_cells_carry_a_footnote_mark(assessment, obs2017, catalog):
    html = tables.table_html(tables.target_table(assessment, catalog, "zh", observations=obs2017,
                                                 include_no_target=True))
    cells = parse(html)
    names = cells.stub()
    marked = {(name, column) for column in ("target", "actual", "completion")
              for name, mark in zip(names, cells.marks("tbl-indicators-all-zh", column)) if mark}
    assert marked == {
        ("公众满意度", "actual"),            # derived actual
        ("城镇新增就业", "target"),          # derived target
        ("失业人员实现再就业", "target"),    # derived target
        ("就业困难人员实现就业", "completion"),  # computed rate
        ("新确立省循环化改造试点园区", "completion"),  # computed rate
    }
    # The two computed rates share one footnote: four distinct footnotes in all.
    footnotes = [t for t in cells.footer if t.startswith(("1", "2", "3", "4", "5"))]
    assert len(footnotes) == 4
    assert sum("完成率由实际值除以目标值算得" in t for t in footnotes) == 1


def test_sources_are_listed_by_document_with_their_sections(assessment, catalog):
    zh = tables.table_html(tables.target_table(assessment, catalog, "zh"))
    assert ("资料来源：粤财办〔2018〕6号 一(二)4(1)、一(二)7(1)、一(二)7(2)、一(二)8(1)；"
            "SYNTHETIC-A s1、s4、s3、s2、s5。") in zh   # row order
    en = tables.table_html(tables.target_table(assessment, catalog, "en", include_no_target=True))
    # English names the document by its English number and its catalog title, and the
    # sections in English (bpsreport/citations.py).
    assert ("Sources: Yue Cai Ban [2018] No. 6 (Equalization summary and tasks (test title)), "
            "Part I (1) 2, ") in en


def test_status_rule_note_uses_the_configured_thresholds(assessment, catalog):
    html = tables.table_html(tables.target_table(assessment, catalog, "en"))
    assert "met at a completion rate of 100% and nearly met at 90%" in html


# --- target table: per domain, ids, errors ---------------------------------------------------------

def test_domain_table_has_only_that_domain_and_its_own_id(assessment, obs2017, catalog):
    gt = tables.target_table(assessment, catalog, "en", domain_id="employment_security",
                             observations=obs2017)
    html = tables.table_html(gt)
    assert 'id="tbl-targets-employment_security-en"' in html
    cells = parse(html)
    assert cells.stub() == ["New urban jobs", "Unemployed people re-employed",
                            "People with employment difficulties placed in jobs",
                            "Registered urban unemployment rate"]
    assert not [a for tag, a, t in cells.cells if "gt_group_heading" in a.get("class", "")]
    assert "Employment security: target completion in 2017" in html
    assert "Guangdong Province" in html


def test_domain_without_indicators_gives_an_empty_table_with_a_note(assessment, catalog):
    html = tables.table_html(tables.target_table(assessment, catalog, "zh", domain_id="education"))
    assert parse(html).stub() == []
    assert "本年度本领域没有设定目标的指标。" in html
    html = tables.table_html(tables.target_table(assessment, catalog, "en", domain_id="education",
                                                 include_no_target=True))
    assert "No indicator data for this domain yet." in html
    # A domain whose only indicators have no target: empty target table, full indicator table.
    assert parse(tables.table_html(tables.target_table(
        assessment, catalog, "zh", domain_id="cross_cutting"))).stub() == []
    html = tables.table_html(tables.target_table(assessment, catalog, "zh", domain_id="cross_cutting",
                                                 include_no_target=True))
    assert parse(html).stub() == ["民生类支出", "公众满意度"]
    assert "2017年资金投入与绩效考评主要指标" in html


def test_unknown_domain_and_indicator_are_errors(assessment, catalog):
    with pytest.raises(ValueError, match="unknown domain 'schools'"):
        tables.target_table(assessment, catalog, "zh", domain_id="schools")
    stray = assessment.assign(indicator_id=assessment["indicator_id"].replace(
        "urban_new_jobs", "urban_jobs_typo"))
    with pytest.raises(ValueError, match="urban_jobs_typo"):
        tables.target_rows(stray, catalog, "zh")


def test_one_unit_and_year_per_table(assessment, assessment2018, catalog):
    both = pd.concat([assessment, assessment2018], ignore_index=True)
    with pytest.raises(ValueError, match="one year"):
        tables.target_table(both, catalog, "zh")


def test_unknown_language_is_an_error(assessment, catalog):
    with pytest.raises(ValueError, match="language"):
        tables.target_rows(assessment, catalog, "fr")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_table_ids_are_fixed(assessment, tasks, assessment2018, catalog, lang):
    assert f'<div id="tbl-targets-all-{lang}"' in tables.table_html(
        tables.target_table(assessment, catalog, lang))
    assert f'<div id="tbl-indicators-housing_security-{lang}"' in tables.table_html(
        tables.target_table(assessment, catalog, lang, domain_id="housing_security",
                            include_no_target=True))
    assert f'<div id="tbl-tasks-all-{lang}"' in tables.table_html(
        tables.task_table(tasks, catalog, lang, assessment=assessment2018))
    assert f'<div id="tbl-tasks-living_security-{lang}"' in tables.table_html(
        tables.task_table(tasks, catalog, lang, assessment=assessment2018, domain_id="living_security"))


def test_table_without_fixed_id_is_refused():
    with pytest.raises(ValueError, match="fixed id"):
        tables.table_html(GT(pd.DataFrame({"a": [1]})))


# --- key-task table ----------------------------------------------------------------------------

def test_tasks_are_ordered_and_grouped_by_domain(tasks, assessment2018, catalog):
    rows = tables.task_rows(tasks, catalog, "zh", assessment=assessment2018)
    assert rows["task_no"].tolist() == [1, 2, 3, 4, 5]   # the CSV is shuffled
    assert rows["domain"].tolist() == ["公共教育", "公共卫生", "公共交通", "生活保障", "就业保障"]


@pytest.mark.parametrize(
    "lang, task_no, departments",
    [
        ("zh", 2, "省人力资源社会保障厅\n省卫生计生委\n省中医药局"),
        ("en", 2, "Provincial Department of Human Resources and Social Security\n"
                  "Provincial Health and Family Planning Commission\n"
                  "Provincial Bureau of Traditional Chinese Medicine"),
        ("en", 3, "Provincial Department of Transport"),
    ],
)
def test_task_departments_in_the_language_and_seed_order(tasks, catalog, lang, task_no, departments):
    rows = tables.task_rows(tasks, catalog, lang)
    assert rows.loc[rows["task_no"] == task_no, "departments"].item() == departments


@pytest.mark.parametrize(
    "lang, task_no, targets",
    [
        # 二(四)10: 通达率 ≥ 95%; 二(八)24: 110万人 and ≤ 3.5%; 二(六)19: 1890元/年.
        ("zh", 3, "行政村客运班车通达率：≥ 95%"),
        ("en", 3, "Share of villages served by scheduled buses: ≥ 95%"),
        ("zh", 5, "城镇新增就业：110万人\n城镇登记失业率：≤ 3.5%"),
        ("en", 5, "New urban jobs: 1.1 million people\nRegistered urban unemployment rate: ≤ 3.5%"),
        # A linked indicator without a 2018 target in the data says so instead of vanishing.
        ("zh", 4, "困难残疾人生活补贴标准：1890元/年\n失业人员实现再就业：—"),
        ("en", 1, ""),
    ],
)
def test_task_linked_targets(tasks, assessment2018, catalog, lang, task_no, targets):
    rows = tables.task_rows(tasks, catalog, lang, assessment=assessment2018)
    assert rows.loc[rows["task_no"] == task_no, "targets"].item() == targets


def test_task_table_html_has_one_line_per_target(tasks, assessment2018, catalog):
    html = tables.table_html(tables.task_table(tasks, catalog, "zh", assessment=assessment2018))
    item, nowrap = '<div style="padding-left:1em;text-indent:-1em">', '<span style="white-space:nowrap">'
    assert (f"{item}城镇新增就业：{nowrap}110万人</span></div>"
            f"{item}城镇登记失业率：{nowrap}≤ 3.5%</span></div>") in html
    assert f"{item}省人力资源社会保障厅</div>{item}省卫生计生委</div>{item}省中医药局</div>" in html
    assert "2018年重点工作任务" in html
    assert "资料来源：粤财办〔2018〕6号 二(一)1、二(二)6、二(四)10、二(六)19、二(八)24。" in html


def test_task_targets_must_come_from_the_task_year(tasks, assessment, catalog):
    with pytest.raises(ValueError, match="tasks are for 2018 but the assessment"):
        tables.task_table(tasks, catalog, "zh", assessment=assessment)


def test_tasks_without_assessment_list_indicators_without_targets(tasks, catalog):
    rows = tables.task_rows(tasks, catalog, "en")
    assert rows.loc[rows["task_no"] == 3, "targets"].item() == "Share of villages served by scheduled buses: —"


# --- labels -------------------------------------------------------------------------------------

def test_every_label_exists_in_both_languages():
    def walk(node, path=""):
        if isinstance(node, dict) and set(node) == {"zh", "en"}:
            assert all(isinstance(node[k], str) and node[k] for k in ("zh", "en")), path
            return 1
        if isinstance(node, dict):
            return sum(walk(v, f"{path}.{k}") for k, v in node.items())
        return 0
    labels = tables.load_labels()
    assert walk(labels) >= 25


@pytest.mark.parametrize("lang, headers", [
    ("zh", ["指标", "单位", "目标", "实际值", "完成率", "完成情况"]),
    ("en", ["Indicator", "Unit", "Target", "Actual", "Completion", "Status"]),
])
def test_column_headers_come_from_the_labels(assessment, catalog, lang, headers):
    html = tables.table_html(tables.target_table(assessment, catalog, lang))
    found = [t for tag, a, t in parse(html).cells if "gt_col_heading" in a.get("class", "")]
    assert found == headers


# --- determinism, snapshots, offline ------------------------------------------------------------

def _render_all(assessment, obs2017, tasks, assessment2018, catalog) -> dict[str, str]:
    out = {}
    for lang in ("zh", "en"):
        out[f"targets-all-{lang}"] = tables.table_html(
            tables.target_table(assessment, catalog, lang, observations=obs2017))
        out[f"targets-employment_security-{lang}"] = tables.table_html(
            tables.target_table(assessment, catalog, lang, domain_id="employment_security",
                                observations=obs2017))
        out[f"indicators-all-{lang}"] = tables.table_html(
            tables.target_table(assessment, catalog, lang, observations=obs2017,
                                include_no_target=True))
        out[f"tasks-all-{lang}"] = tables.table_html(
            tables.task_table(tasks, catalog, lang, assessment=assessment2018))
    return out


def test_two_renders_are_byte_identical(assessment, obs2017, tasks, assessment2018, catalog):
    first = _render_all(assessment, obs2017, tasks, assessment2018, catalog)
    second = _render_all(assessment, obs2017, tasks, assessment2018, catalog)
    assert first == second


_SUBPROCESS = """
import sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
import test_tables as t
from bpsreport import tables
from bpsreport.catalog import load_catalog
from bpsreport.progress import assess_observations
obs = t.read_observations(2017)
html = tables.table_html(tables.target_table(assess_observations(obs), load_catalog(t.FIXTURE),
                                             "zh", observations=obs))
sys.stdout.buffer.write(html.encode("utf-8"))
"""


def test_render_is_identical_in_a_fresh_process(assessment, obs2017, catalog):
    here = tables.table_html(tables.target_table(assessment, catalog, "zh", observations=obs2017))
    code = _SUBPROCESS.format(root=str(ROOT), tests=str(ROOT / "tests"))
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, env=env)
    assert out.stdout.decode("utf-8") == here


@pytest.mark.parametrize("name", [
    "targets-all-zh", "targets-all-en", "targets-employment_security-zh",
    "targets-employment_security-en", "indicators-all-zh", "indicators-all-en",
    "tasks-all-zh", "tasks-all-en",
])
def test_html_matches_snapshot(name, assessment, obs2017, tasks, assessment2018, catalog):
    html = _render_all(assessment, obs2017, tasks, assessment2018, catalog)[name]
    path = SNAPSHOTS / f"{name}.html"
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8", newline="\n")
    assert path.exists(), f"no snapshot {path}; run with UPDATE_SNAPSHOTS=1 to create it"
    assert html == path.read_text(encoding="utf-8"), (
        f"{name} differs from {path}; if the change is intended, rerun with UPDATE_SNAPSHOTS=1 "
        "and review the diff")


def test_html_makes_no_external_requests(assessment, obs2017, tasks, assessment2018, catalog):
    for name, html in _render_all(assessment, obs2017, tasks, assessment2018, catalog).items():
        lowered = html.lower()
        for needle in ("http://", "https://", "@import", "url(", "<link", "<script",
                       "fonts.googleapis"):
            assert needle not in lowered, (name, needle)
        assert "<style>" in html, name   # CSS is inline, in the fragment itself
        # The charts' CJK font, named explicitly, so both render Chinese the same way.
        assert load_font_config()["chart_families"][0] in html, name


# --- the real 2017 edition (data/raw, validated in memory; nothing is written) -----------------

@pytest.fixture(scope="module")
def real():
    from bpsreport.ingest import ingest_edition
    raw = ROOT / "data" / "raw"
    catalog = load_catalog(raw, root=ROOT)
    e2017 = ingest_edition(raw, catalog, "gd-province", 2017, root=ROOT)
    e2018 = ingest_edition(raw, catalog, "gd-province", 2018, root=ROOT)
    return {"catalog": catalog, "obs2017": e2017.observations,
            "assessment2017": assess_observations(e2017.observations),
            "assessment2018": assess_observations(e2018.observations), "tasks2018": e2018.tasks}


def test_real_2017_target_table_states_the_seed_figures(real):
    # 粤财办〔2018〕6号 一(二)8(1): 城镇新增就业148.9万人, 完成年度任务135.4%;
    # 一(二)7(2): 竣工率76.55%.
    zh = tables.target_rows(real["assessment2017"], real["catalog"], "zh", observations=real["obs2017"])
    jobs = row(zh, "urban_new_jobs")
    assert (jobs["actual"], jobs["unit"], jobs["completion"], jobs["status_id"]) == (
        "148.9", "万人", "135.4%", "met")
    assert row(zh, "rural_dilapidated_housing_renovations")["completion"] == "76.55%"
    en = row(tables.target_rows(real["assessment2017"], real["catalog"], "en"), "urban_new_jobs")
    assert f'{en["actual"]} {en["unit"]}' == "1.489 million people"
    html = tables.table_html(tables.target_table(real["assessment2017"], real["catalog"], "zh",
                                                 observations=real["obs2017"]))
    assert "http" not in html


def test_real_2018_task_table_lists_the_34_tasks_with_their_targets(real):
    rows = tables.task_rows(real["tasks2018"], real["catalog"], "zh",
                            assessment=real["assessment2018"])
    assert rows["task_no"].tolist() == list(range(1, 35))
    assert (rows["departments"] != "").all()
    by_no = rows.set_index("task_no")["targets"]
    # 二(四)10: 通达率达到95%以上; 二(八)24: 城镇新增就业110万人.
    assert "行政村客运班车通达率：≥ 95%" in by_no[10].split("\n")
    assert "城镇新增就业：110万人" in by_no[24].split("\n")


@pytest.mark.parametrize("lang, label, words", [
    ("zh", "已完成（据原文）", "称该目标已超额完成，未列明实际值"),
    ("en", "Met as stated", "Stated as exceeded in Yue Cai Ban [2018] No. 6, Part I (2) 3 (1)"),
])
def test_real_museums_target_is_met_as_the_source_states_it(real, lang, label, words):
    # 一(二)3(1): 163 museums free to enter, "截至年底已超额完成", no count given.
    r = row(tables.target_rows(real["assessment2017"], real["catalog"], lang),
            "public_museums_free_admission")
    assert (r["status_id"], r["status"], r["actual"], r["completion"]) == (
        "met_as_stated", label, "—", "—")
    assert words in r["status_note"]
    html = tables.table_html(tables.target_table(real["assessment2017"], real["catalog"], lang))
    assert words in html and status_fill("met_as_stated").upper() in html.upper()


# --- a domain without targets: its indicators with their values ------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_indicator_table_lists_every_indicator_of_a_domain_with_its_value(assessment, catalog,
                                                                           obs2017, lang):
    domains = [d for d in assessment["domain_id"].unique() if not tables.has_targets(assessment, d)]
    assert domains, "the fixture has a domain without targets"
    domain_id = domains[0]
    own = assessment[assessment["domain_id"] == domain_id]
    gt = tables.indicator_table(assessment, catalog, lang, domain_id=domain_id, observations=obs2017)
    html = tables.table_html(gt)
    table_id = f"tbl-indicators-{domain_id}-{lang}"
    assert f'id="{table_id}"' in html
    cells = parse(html)
    names = [str(catalog.indicators.at[i, f"name_{lang}"]) for i in own["indicator_id"]]
    assert sorted(cells.stub()) == sorted(names)
    values = [t for _, t in cells.column(table_id, "actual")]
    assert len(values) == len(own) and all(v and v != "—" for v in values), values
    # Only indicator, unit and value: no target, completion or status column to stand empty.
    assert not cells.column(table_id, "target") and not cells.column(table_id, "status")


def test_has_targets_and_has_indicators_agree_with_the_target_table(assessment, catalog):
    for domain_id in catalog.domains.index:
        rows = tables.target_rows(assessment, catalog, "zh", domain_id=domain_id)
        assert tables.has_targets(assessment, domain_id) == (len(rows) > 0)
        assert tables.has_indicators(assessment, domain_id) == bool(
            (assessment["domain_id"] == domain_id).any())
