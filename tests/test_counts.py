"""Counts that add up: every total a page shows equals the sum of the parts shown with it.

- The overview chart counts every indicator of the year, the cross-cutting funding and
  performance evaluation part included, so its rows add up to the headline total
  (``y<year>.summary.indicators``); its alt text states each domain's total and parts.
- Every paragraph of the narrative that cites a count of indicators with a target
  (``with_target``, for the year or for one domain) cites status counts of the same scope
  that add up to it, in both languages, and so do the sentence patterns that
  ``pipeline.py new-year`` writes.
- On the built site, the overview page's chart states the same totals as its headline.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from bpsreport import charts
from bpsreport.progress import TargetStatus

ROOT = Path(__file__).resolve().parents[1]
STATUS_COUNTS = [s.value for s in TargetStatus if s is not TargetStatus.NO_TARGET]
VAR = re.compile(r"\{\{<\s*var\s+(y\d{4})\.(summary|domains\.(\w+))\.(\w+)\.(zh|en)\s*>\}\}")


@pytest.fixture(scope="module")
def year_2017(catalog):
    from bpsreport.ingest import ingest_edition
    from bpsreport.progress import assess_observations

    obs = ingest_edition(ROOT / "data" / "raw", catalog, "gd-province", 2017, root=ROOT).observations
    return assess_observations(obs)


def parse_overview_alt(alt: str) -> tuple[int, dict[str, tuple[int, list[int]]]]:
    """``171 indicators for 2017, by domain and status: Public education, 12 (12 without
    a target); …`` -> (171, {"Public education": (12, [12]), …}); Chinese likewise
    (``…共171项，按完成情况分：公共教育12项，其中无目标12项；…``)."""
    head, body = re.split(r"[:：]", alt, maxsplit=1)
    total = int(re.search(r"共(\d+)项|^(\d+) indicators", head).group(0).strip("共项 indicators"))
    domains = {}
    for item in re.split(r"[;；]\s*", body.rstrip("。.")):
        m = re.match(r"(.+?)[,，]?\s*(\d+)项?\s*(?:\(|，其中)(.*)$", item)
        if m is None:
            continue  # "no indicators yet: …"
        numbers = re.findall(r"(\d+)项", m.group(3)) if "其中" in item else re.findall(r"\d+", m.group(3))
        domains[m.group(1).strip()] = (int(m.group(2)), [int(n) for n in numbers])
    return total, domains


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_overview_chart_counts_every_indicator_of_the_year(year_2017, catalog, lang):
    chart = charts.overview_status_chart(year_2017, catalog, lang)
    total, domains = parse_overview_alt(chart.alt)
    assert total == len(year_2017)
    assert sum(n for n, _ in domains.values()) == total
    for name, (n, parts) in domains.items():
        assert sum(parts) == n, name
    # Every domain with indicators is a row, the cross-cutting part included.
    expected = year_2017.groupby("domain_id").size()
    names = {str(catalog.domains.at[d, f"name_{lang}"]): int(n) for d, n in expected.items()}
    assert {k: v[0] for k, v in domains.items()} == names
    assert str(catalog.domains.at["cross_cutting", f"name_{lang}"]) in domains
    # The bars count exactly the indicators with a target.
    bars = chart.plot.data
    assert int(bars["n"].sum()) == int((year_2017["status"] != TargetStatus.NO_TARGET.value).sum())


def _paragraphs(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    out, line_no = [], 1
    for block in re.split(r"\n\s*\n", text):
        out.append((line_no, block))
        line_no += block.count("\n") + 2
    return out


def _sources() -> list[Path]:
    return sorted(p for p in (ROOT / "reports").glob("*/*/**/*.qmd") if "_generated" not in p.parts)


def test_every_cited_total_of_indicators_with_a_target_equals_its_cited_parts(cold_build):
    from bpsreport.variables import build_edition_variables, flatten

    values = flatten(build_edition_variables(cold_build.root, "gd-province", 2017))
    checked, problems = 0, []
    for path in _sources():
        for line, block in _paragraphs(path):
            cited = [m for m in VAR.finditer(block)]
            totals = [m for m in cited if m.group(4) == "with_target"]
            for total in totals:
                scope = total.group(0).split(".with_target.")[0]
                parts = {m.group(4): m.group(0) for m in cited
                         if m.group(0).startswith(scope + ".") and m.group(4) in STATUS_COUNTS}
                key = lambda m: m.group(0)[len("{{< var "):].split(" >}}")[0].strip()
                whole = int(values[key(total)].replace(",", ""))
                summed = sum(int(values[key(VAR.search(v))].replace(",", "")) for v in parts.values())
                checked += 1
                if summed != whole:
                    missing = [s for s in STATUS_COUNTS if s not in parts]
                    problems.append(f"{path.relative_to(root)}:{line}: {whole} with a target, "
                                    f"parts cited add to {summed} (not cited: {', '.join(missing)})")
    assert checked >= 4   # the overview and the results overview, in both languages, at least
    assert problems == []


def test_new_edition_sentence_patterns_list_every_status_with_the_total():
    """The skeleton's count sentences (templates/edition/text.yml) give all the parts."""
    text = yaml.safe_load((ROOT / "templates" / "edition" / "text.yml").read_text(encoding="utf-8"))
    checked = 0
    for key, entry in text.items():
        if not isinstance(entry, dict):
            continue
        for lang, sentence in entry.items():
            if isinstance(sentence, str) and "{with_target}" in sentence:
                checked += 1
                for status in STATUS_COUNTS:
                    assert "{" + status + "}" in sentence, (key, lang, status)
    assert checked >= 4


class _Images(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.alts: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img" and a.get("alt"):
            self.alts.append(a["alt"])


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_overview_page_chart_states_the_headline_totals(edition_2017, lang):
    from bpsreport.variables import build_edition_variables

    page = edition_2017 / "_site" / lang / "reports" / "2017" / lang / "index.html"
    parser = _Images()
    parser.feed(page.read_text(encoding="utf-8"))
    summary = build_edition_variables(edition_2017, "gd-province", 2017)["y2017"]["summary"]
    headline = int(summary["indicators"][lang].replace(",", ""))
    with_target = int(summary["with_target"][lang].replace(",", ""))
    overview = [alt for alt in parser.alts if re.search(r"by domain and status|按完成情况分", alt)]
    assert len(overview) == 1
    total, domains = parse_overview_alt(overview[0])
    assert total == headline
    assert sum(n for n, _ in domains.values()) == headline
    no_target = "without a target" if lang == "en" else "无目标"
    untargeted = sum(int(n) for n in re.findall(rf"(\d+) {no_target}" if lang == "en"
                                                else rf"{no_target}(\d+)项", overview[0]))
    assert headline - untargeted == with_target
