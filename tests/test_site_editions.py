"""A site that holds every edition: publishing one never changes another.

The SYNTHETIC render fixture gets a second edition (2018, a draft: its pages are the
2017 ones with the year moved on) and both are rendered into one site, the way `build`
publishes them: 2017 first, then 2018 into a copy of the live site. The tests prove, with
byte-for-byte hashes, that the 2017 pages, PDFs, downloads and search index did not
change; that the root page lists both editions, newest first, with their PDFs; that each
edition's pages say which edition they are (and that 2018 is a draft); and, in a real
browser, that a 2017 page offers the same page of 2018 and that one search finds both
years, each hit labelled with its year.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from bpsreport.render import RenderRequest, select_backend

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "render"

pytestmark = pytest.mark.slow


def add_2018_edition(project: Path) -> None:
    """reports/2018 and build/test-unit/2018 as copies of 2017, a 2018 edition entry, and
    _variables.yml saying that 2018 is a draft (as the build writes it)."""
    for lang in ("zh", "en"):
        src, dest = project / "reports/2017" / lang, project / "reports/2018" / lang
        shutil.copytree(src, dest)
        for path in dest.rglob("*.qmd"):
            text = path.read_text(encoding="utf-8")
            path.write_text(text.replace("/reports/2017/", "/reports/2018/")
                            .replace("/build/test-unit/2017/", "/build/test-unit/2018/")
                            .replace("合成", "合成二〇一八").replace("Synthetic", "Synthetic 2018"),
                            encoding="utf-8")
    shutil.copytree(project / "build/test-unit/2017", project / "build/test-unit/2018")
    config = project / "config/edition.yml"
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    entry = dict(data["editions"][2017], summary_year=2018, task_year=2019)
    data["editions"][2018] = entry
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def set_variables_edition(project: Path, year: int, draft: bool) -> None:
    path = project / "_variables.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["edition"] = {**(data.get("edition") or {}),
                       "year": {"zh": str(year), "en": str(year)},
                       "draft": {"zh": "征求意见稿" if draft else "", "en": "DRAFT" if draft else ""}}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")


def render(project: Path, year: int, site: Path, tmp: Path, draft: bool):
    set_variables_edition(project, year, draft)
    request = RenderRequest(root=project, unit_id="test-unit", year=year, site_dir=site,
                            pdf_dir=tmp / f"pdf-{year}", work_dir=tmp / f"typst-{year}", draft=draft)
    return select_backend("builtin").render(request)


def hashes(site: Path, year: int) -> dict[str, str]:
    files = [p for p in site.rglob("*") if p.is_file() and (
        f"/reports/{year}/" in p.as_posix() or f"/downloads/{year}/" in p.as_posix()
        or p.name.startswith(f"{year}-"))]
    return {p.relative_to(site).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


@pytest.fixture(scope="module")
def two_editions(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("editions")
    project = tmp / "project"
    shutil.copytree(FIXTURE, project)
    add_2018_edition(project)
    site = tmp / "site"
    render(project, 2017, site, tmp, draft=False)
    before = hashes(site, 2017)
    render(project, 2018, site, tmp, draft=True)
    return site, before


def test_publishing_2018_changes_no_file_of_2017(two_editions):
    site, before = two_editions
    assert len(before) > 20 and any(k.endswith("report-bilingual.pdf") for k in before)
    assert any(k.startswith("_bps/search/2017-") for k in before)
    assert hashes(site, 2017) == before


def test_root_page_lists_both_editions_newest_first_with_their_pdfs(two_editions):
    site, _ = two_editions
    text = (site / "index.html").read_text(encoding="utf-8")
    assert text.index('data-year="2018"') < text.index('data-year="2017"')
    for year in (2017, 2018):
        for name in ("report-zh.pdf", "report-en.pdf", "report-bilingual.pdf"):
            assert f'href="downloads/{year}/{name}"' in text
    card_2018 = text[text.index('data-year="2018"'):text.index('data-year="2017"')]
    assert "征求意见稿" in card_2018 and "DRAFT" in card_2018  # the draft says so
    assert "征求意见稿" not in text[text.index('data-year="2017"'):]


def test_each_page_says_its_edition_and_a_draft_says_it_is_one(two_editions):
    site, _ = two_editions
    old = (site / "zh/reports/2017/zh/targets.html").read_text(encoding="utf-8")
    new = (site / "zh/reports/2018/zh/targets.html").read_text(encoding="utf-8")
    assert '<span class="bps-edition">2017年版</span>' in old and 'class="bps-draft"' not in old
    assert '<span class="bps-edition">2018年版</span>' in new and 'class="bps-draft"' in new
    en = (site / "en/reports/2018/en/index.html").read_text(encoding="utf-8")
    assert "<strong>DRAFT</strong>" in en
    registry = json.loads((site / "_bps/editions.json").read_text(encoding="utf-8"))
    assert {k: v["draft"] for k, v in registry["editions"].items()} == {"2017": False, "2018": True}


def test_search_indexes_hold_each_edition_with_its_year(two_editions):
    site, _ = two_editions
    for year in (2017, 2018):
        js = (site / f"_bps/search/{year}-zh.js").read_text(encoding="utf-8")
        entries = json.loads(js[js.index("] = ") + 4:].rstrip().rstrip(";"))
        assert entries and {e["year"] for e in entries} == {year}
        assert all(e["href"].startswith(f"zh/reports/{year}/zh/") for e in entries)


def test_in_a_browser_a_2017_page_offers_2018_and_search_finds_both_years(two_editions,
                                                                             tmp_path_factory):
    from test_site_browser import SEARCH_JS, Browser, LocalSite, chromium_binary

    if chromium_binary() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    site, _ = two_editions
    server = LocalSite(site)
    browser = Browser(chromium_binary(), tmp_path_factory.mktemp("chromium-editions"))
    try:
        tab = browser.new_page()
        tab.navigate(f"{server.base}zh/reports/2017/zh/domains/education.html")
        others = tab.evaluate("Array.from(document.querySelectorAll('.bps-others a'))"
                              ".map(a => [a.textContent, a.getAttribute('href')])")
        assert others == [["2018年版", "../../../../../zh/reports/2018/zh/domains/education.html"]]
        assert tab.evaluate("document.querySelector('.bps-others .bps-badge').textContent") == "征求意见稿"
        options = tab.evaluate("Array.from(document.querySelectorAll('#bps-search-scope option'))"
                               ".map(o => o.value)")
        assert options == ["", "2018", "2017"]
        hits = tab.evaluate(f"({SEARCH_JS})('主要工作', null)", await_promise=True)
        assert {h["year"] for h in hits} == {"2017", "2018"}
        assert {h["label"] for h in hits} == {"2017年版", "2018年版"}
        only = tab.evaluate(f"({SEARCH_JS})('主要工作', '2017')", await_promise=True)
        assert only and {h["year"] for h in only} == {"2017"}
        tab.click_and_wait(".bps-others a")
        assert tab.evaluate("location.pathname") == "/zh/reports/2018/zh/domains/education.html"
    finally:
        browser.close()
        server.close()
