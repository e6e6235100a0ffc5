"""The reviewer site made by the built-in renderer and the project's post-render step:
layout, navigation, links, the edition bar (language switch, downloads, search over every
edition), the root page, and no external request.

Rendered from the SYNTHETIC fixture project (``tests/fixtures/render/``) through the
built-in backend (pages, PDF, then ``scripts/post-render.py`` as Quarto runs it) and, when
a build has produced it, from the real 2017 site as well.
"""

from __future__ import annotations

import json
import posixpath
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from bpsreport.render import RenderRequest, select_backend
from bpsreport.render.html import render_site

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "render"
RESOURCE_TAGS = {"link", "script", "img", "iframe", "source", "video", "audio", "embed", "object"}


class PageParser(HTMLParser):
    """Every href/src of a page with its tag, every id, and the language switch."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.refs: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()
        self.switch: list[str] = []
        self.styles: list[str] = []
        self._in_style = False
        self.lang = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang", "")
        if a.get("id"):
            self.ids.add(a["id"])
        for key in ("href", "src", "data", "poster"):
            if a.get(key) is not None:
                self.refs.append((tag, key, a[key]))
        if tag == "a" and "bps-lang" in (a.get("class") or "").split():
            self.switch.append(a["href"])
        if tag == "meta" and (a.get("http-equiv") or "").lower() == "refresh":
            url = (a.get("content") or "").split("url=", 1)[-1]
            self.refs.append(("meta", "refresh", url))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        if tag == "style":
            self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)


def parse(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def is_external(value: str) -> bool:
    if value.startswith("data:"):
        return False  # inline (an embedded chart): nothing is fetched
    return bool(re.match(r"^[a-z][a-z0-9+.-]*:", value, re.I)) or value.startswith("//")


def resolve(page: Path, value: str) -> tuple[Path, str]:
    parts = urlsplit(value)
    target = page if not parts.path else (page.parent / unquote(parts.path))
    return Path(posixpath.normpath(str(target))), unquote(parts.fragment)


# --- checks shared by the fixture site and the real site ------------------------------------------

def check_site(site: Path, langs=("zh", "en")) -> dict:
    pages = sorted(site.rglob("*.html"))
    assert pages, f"no page in {site}"
    parsed = {p: parse(p) for p in pages}
    problems = []
    for page, info in parsed.items():
        for tag, attr, value in info.refs:
            if value.startswith("data:"):
                continue
            if is_external(value):
                if tag in RESOURCE_TAGS or tag == "meta":
                    problems.append(f"{page.relative_to(site)}: external resource <{tag} {attr}={value!r}>")
                continue
            target, fragment = resolve(page, value)
            if not target.exists():
                problems.append(f"{page.relative_to(site)}: <{tag} {attr}={value!r}> -> missing {target}")
            elif fragment and target.suffix == ".html":
                if fragment not in parsed.get(target, parse(target)).ids:
                    problems.append(f"{page.relative_to(site)}: {value!r}: no id {fragment!r} in {target.name}")
        for css in info.styles:
            if re.search(r"@import|url\(\s*['\"]?(https?:)?//", css):
                problems.append(f"{page.relative_to(site)}: <style> loads something external: {css[:80]!r}")
    assert not problems, "\n".join(problems)
    # No stylesheet or script the site ships refers to the network either.
    for asset in list(site.rglob("*.css")) + list(site.rglob("*.js")):
        text = asset.read_text(encoding="utf-8")
        assert not re.search(r"url\(\s*['\"]?(https?:)?//|@import|https?://", text), asset
    return parsed


def check_language_switch(site: Path, parsed: dict, langs=("zh", "en")) -> int:
    """Every page of each language links to the same page in the other language."""
    count = 0
    for page, info in parsed.items():
        rel = page.relative_to(site).parts
        if len(rel) < 2 or rel[0] not in langs:
            continue
        lang = rel[0]
        [other] = [x for x in langs if x != lang]
        expected = site.joinpath(*[other if part == lang else part for part in rel])
        assert info.switch, f"{page}: no language switch"
        target, _ = resolve(page, info.switch[0])
        assert target == expected, f"{page}: switch goes to {target}, expected {expected}"
        assert target.is_file()
        count += 1
    return count


# --- the fixture site ------------------------------------------------------------------------------

def render_fixture(tmp_path: Path, project_name: str = "project"):
    import shutil

    project = tmp_path / project_name  # a copy: the backend keeps its page cache under build/
    shutil.copytree(FIXTURE, project)
    request = RenderRequest(root=project, unit_id="test-unit", year=2017,
                            site_dir=tmp_path / "site", pdf_dir=tmp_path / "pdf",
                            work_dir=tmp_path / "typst")
    return project, select_backend("builtin").render(request)


@pytest.fixture(scope="module")
def fixture_site(rendered_fixture):
    return rendered_fixture.site_dir, rendered_fixture


def test_pages_exist_for_both_languages_in_the_contract_layout(fixture_site):
    site, result = fixture_site
    for lang in ("zh", "en"):
        base = site / lang / "reports" / "2017" / lang
        assert sorted(p.relative_to(base).as_posix() for p in base.rglob("*.html")) == [
            "domains/education.html", "domains/environment.html", "index.html", "targets.html"]
        # The PDF goes where Quarto puts it, beside the pages; post-render publishes it.
        assert (base / "report.pdf").read_bytes().startswith(b"%PDF")
    # parts and the typst-only report are not pages
    assert not list(site.rglob("_parts")) and not list(site.rglob("report.html"))
    assert set(result.pdfs) == {"zh", "en", "bilingual"}


def test_every_internal_link_resolves_and_nothing_is_fetched_from_outside(fixture_site):
    site, _ = fixture_site
    parsed = check_site(site)
    assert len(parsed) == 11  # 8 pages, the root page and one index page per language


def test_language_switch_of_every_page_lands_on_the_same_page(fixture_site):
    site, _ = fixture_site
    parsed = {p: v for p, v in check_site(site).items() if "reports" in p.parts}
    assert check_language_switch(site, parsed) == 8


def test_root_page_lists_the_editions_in_both_languages_without_redirecting(fixture_site):
    site, _ = fixture_site
    info = parse(site / "index.html")
    assert not [r for r in info.refs if r[0] == "meta"]  # no silent redirect
    hrefs = [v for t, k, v in info.refs if t == "a"]
    assert "zh/reports/2017/zh/index.html" in hrefs and "en/reports/2017/en/index.html" in hrefs
    assert "downloads/2017/report-bilingual.pdf" in hrefs
    text = (site / "index.html").read_text(encoding="utf-8")
    assert "2017年版" in text and "2017 edition" in text and 'data-pick="en"' in text


def test_navigation_is_the_profile_navbar_with_labels_in_the_page_language(fixture_site):
    site, _ = fixture_site
    zh = (site / "zh/reports/2017/zh/domains/education.html").read_text(encoding="utf-8")
    nav = zh.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    assert '<a href="../index.html">概览</a>' in nav
    assert '<a href="education.html" aria-current="page">公共教育（合成）</a>' in nav  # title of the page
    assert '<a href="../targets.html">目标完成情况表</a>' in nav
    en = (site / "en/reports/2017/en/index.html").read_text(encoding="utf-8")
    assert ">Target table</a>" in en and ">Overview</a>" in en and '<html lang="en"' in en


def test_edition_bar_names_the_edition_and_offers_the_downloads_that_exist(fixture_site):
    site, _ = fixture_site
    page = (site / "zh/reports/2017/zh/index.html").read_text(encoding="utf-8")
    main = page.split('<main id="content"', 1)[1]
    bar = main[: main.index("<!-- /bps-edition-bar -->")]
    assert '<span class="bps-edition">2017年版</span>' in bar
    menu = bar.split('<details class="bps-downloads">', 1)[1].split("</details>", 1)[0]
    hrefs = re.findall(r'href="([^"]+)"', menu)
    assert hrefs == ["../../../../downloads/2017/report-zh.pdf",
                     "../../../../downloads/2017/report-en.pdf",
                     "../../../../downloads/2017/report-bilingual.pdf",
                     "../../../../downloads/2017/assessment-2017.csv"]
    assert "中英文合订本" in menu  # the combined PDF is named for what it is
    for href in hrefs:
        assert (site / "zh/reports/2017/zh" / href).resolve().is_file()
    assert "征求意见稿" not in bar  # the fixture edition is not a draft
    # Written by bpsreport.downloads: UTF-8 with BOM for Excel, names next to the ids.
    data = (site / "downloads/2017/assessment-2017.csv").read_text(encoding="utf-8-sig")
    assert data.startswith("unit_id,year,domain_id,domain_name_zh,domain_name_en,indicator_id,")
    assert "公共教育（合成）,Public education (synthetic),test_indicator,合成指标" in data


def test_search_index_covers_every_page_with_its_year_and_without_footnote_marks(fixture_site):
    site, _ = fixture_site
    for lang, word, heading in (("zh", "合成", "主要工作"), ("en", "synthetic", "Main work")):
        js = (site / f"_bps/search/2017-{lang}.js").read_text(encoding="utf-8")
        entries = json.loads(js[js.index("] = ") + 4:].rstrip().rstrip(";"))
        pages = {e["href"].split("#")[0] for e in entries}
        assert pages == {f"{lang}/reports/2017/{lang}/{p}.html" for p in
                         ("index", "targets", "domains/education", "domains/environment")}
        assert all(e["year"] == 2017 for e in entries)
        assert any(heading in e["section"] and e["href"].endswith("#sec-work") for e in entries)
        assert any(word in e["text"].lower() for e in entries)
    registry = json.loads((site / "_bps/editions.json").read_text(encoding="utf-8"))
    assert registry["editions"]["2017"]["pages"]["en"]


def test_pages_carry_the_chart_table_and_numbered_headings(fixture_site):
    site, _ = fixture_site
    page = (site / "zh/reports/2017/zh/targets.html").read_text(encoding="utf-8")
    assert '<div id="tbl-targets-zh" class="float float-table">' in page
    assert 'alt="条形图' in page and "data:image/svg+xml;base64," in page
    assert "fonts.googleapis.com" not in page
    index = (site / "zh/reports/2017/zh/index.html").read_text(encoding="utf-8")
    assert '<span class="header-section-number">一、</span>总体情况' in index


def test_post_render_runs_again_without_changing_anything(fixture_site, tmp_path):
    """The step is idempotent: running it twice on the same output changes no byte."""
    import os
    import shutil
    import subprocess
    import sys

    site = tmp_path / "site"
    shutil.copytree(fixture_site[0], site)
    before = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    files = "\n".join(str(p) for p in (site / "en").rglob("*.html"))
    env = dict(os.environ, QUARTO_PROJECT_OUTPUT_DIR=str(site / "en"), QUARTO_PROFILE="en",
               QUARTO_PROJECT_OUTPUT_FILES=files)
    subprocess.run([sys.executable, str(FIXTURE / "scripts/post-render.py")], cwd=FIXTURE, env=env,
                   check=True)
    after = {p: p.read_bytes() for p in site.rglob("*") if p.is_file()}
    assert after == before


# --- the real 2017 project -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_site(edition_2017):
    site = ROOT / "_site"
    assert (site / "zh" / "reports" / "2017" / "zh" / "index.html").is_file()
    return site


def test_real_site_pages_links_switch_and_no_external_request(real_site):
    parsed = check_site(real_site)
    for lang in ("zh", "en"):
        base = real_site / lang / "reports" / "2017" / lang
        for name in ("index", "summary", "tasks", "targets", "sources"):
            assert (base / f"{name}.html").is_file(), f"{lang}/{name}.html"
        assert len(list((base / "domains").glob("*.html"))) == 10
    pages = {p: v for p, v in parsed.items() if "reports" in p.parts and "2017" in p.parts}
    assert check_language_switch(real_site, pages) == len(pages)


def test_unchanged_pages_come_from_the_cache_and_a_changed_source_re_renders_only_its_page(
        tmp_path, monkeypatch):
    import shutil
    import subprocess

    project = tmp_path / "project"
    shutil.copytree(FIXTURE, project)
    cache = tmp_path / "cache"
    first = render_site(project, tmp_path / "site1", langs=("zh", "en"), cache_dir=cache)

    calls = []
    real_run = subprocess.run

    def counting_run(args, *a, **k):
        if "--lua-filter" in args:
            calls.append(args)
        return real_run(args, *a, **k)

    monkeypatch.setattr(subprocess, "run", counting_run)
    second = render_site(project, tmp_path / "site2", langs=("zh", "en"), cache_dir=cache)
    assert calls == []  # nothing changed: no pandoc run
    for a, b in zip(first.pages, second.pages):
        assert a.html_path.read_bytes() == b.html_path.read_bytes()

    part = project / "reports/2017/en/domains/environment.qmd"
    part.write_text(part.read_text(encoding="utf-8") + "\nOne more synthetic sentence.\n", encoding="utf-8")
    third = render_site(project, tmp_path / "site3", langs=("zh", "en"), cache_dir=cache)
    assert len(calls) == 1
    page = next(r for r in third.pages if r.page.rel.name == "environment.qmd" and r.page.lang == "en")
    assert "One more synthetic sentence." in page.html_path.read_text(encoding="utf-8")
