"""What real Quarto did with this repository (../shared/QUARTO.md), as tests of the built-in
renderer that run without Quarto.

Each item of QUARTO.md is a rule here, written from Quarto's source and observed
behaviour (docs/rendering.md):

1. render globs match at any depth             -> test_report_sources.py (globs), below
2. nested includes resolve against the page     -> test_render_qmd.py, below (real sources)
3. tables must reach Typst with a body          -> below: every table float has its table
4. charts reach Typst as SVG                    -> below
5. no Typst package needed by the official PDF  -> below: no callout, no #import
6. Typst 0.13 (Quarto 1.7, 1.8) is refused      -> test_typst_versions.py, test_backends.py
7. language switch and downloads on every page  -> below, and test_site.py
8. one title per page                           -> below
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LANGS = ("zh", "en")


def typst_source(lang: str) -> str:
    path = ROOT / "build" / "gd-province" / "2017" / "typst" / lang / "report.typ"
    assert path.is_file(), f"{path} is written by the build"
    return path.read_text(encoding="utf-8")


def floats(typst: str, kind: str) -> list[tuple[str, str]]:
    """``(label, body)`` of every ``#figure`` of the kind, as Quarto writes them:
    ``#figure([body], caption: figure.caption(…), kind: "quarto-float-<kind>", …)\n<label>``."""
    out = []
    starts = [m.start() for m in re.finditer(r"#figure\(\[", typst)] + [len(typst)]
    for start, end in zip(starts, starts[1:]):
        chunk = typst[start:end]
        m = re.search(r'kind: "quarto-float-(\w+)", supplement: "[^"]*", \)\n<([^>]+)>', chunk)
        if not m or m.group(1) != kind:
            continue
        head = chunk[: m.start()]
        cut = head.rfind("], caption: figure.caption(")
        body = head[len("#figure(["): cut if cut != -1 else head.rfind("], ")]
        out.append((m.group(2), body))
    return out


@pytest.mark.parametrize("lang", LANGS)
def test_every_table_float_of_the_pdf_has_its_table(edition_2017, lang):
    """QUARTO.md item 3: with the tables offered as HTML only, Quarto's Typst had a caption
    over an empty body. The cells now offer a raw Typst table in text/markdown, which
    Typst output prefers; the built-in renderer takes the same output."""
    tables = floats(typst_source(lang), "tbl")
    assert len(tables) >= 11  # ten domains and the target table at least
    for label, body in tables:
        assert "official-data-table(" in body, label
        assert "header: (" in body and "rows: (" in body, label


@pytest.mark.parametrize("lang", LANGS)
def test_charts_reach_typst_as_svg(edition_2017, lang):
    """QUARTO.md item 4: a chart cell offers image/svg+xml, so the PDF's charts are vector."""
    figures = floats(typst_source(lang), "fig")
    images = [re.findall(r'image\("([^"]+)"', body) for _, body in figures]
    with_image = [i for i in images if i]
    assert len(with_image) >= 5
    assert all(path.endswith(".svg") for paths in with_image for path in paths)


@pytest.mark.parametrize("lang", LANGS)
def test_the_official_pdf_needs_no_typst_package(edition_2017, lang):
    """QUARTO.md item 5: a callout makes Quarto import @preview/fontawesome (downloaded by
    Quarto 1.7, bundled from 1.9 on); the official PDF's sources use none."""
    from bpsreport.render.project import load_project
    from bpsreport.render.qmd import resolve_document

    doc = resolve_document(ROOT / "reports" / "2017" / lang / "report.qmd",
                           project=load_project(ROOT, lang), lang=lang, target="typst")
    assert not re.search(r"^:::+\s*\{[^}]*\.callout-", doc.markdown, re.MULTILINE)
    assert "#import" not in typst_source(lang)


@pytest.mark.parametrize("lang", LANGS)
def test_every_page_has_the_language_switch_and_the_downloads(edition_2017, lang):
    """QUARTO.md item 7: made by the post-render script, for both renderers."""
    pages = sorted((ROOT / "_site" / lang / "reports" / "2017" / lang).rglob("*.html"))
    assert len(pages) == 15
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert text.count('class="bps-lang"') == 1, page
        assert 'class="bps-downloads"' in text and "report-bilingual.pdf" in text, page


@pytest.mark.parametrize("lang", LANGS)
def test_the_target_page_shows_its_title_once(edition_2017, lang):
    """QUARTO.md item 8: the targets page showed its title twice (the page title and the
    first heading of the included part); the table's own title was a third copy."""
    from html.parser import HTMLParser

    class Headings(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.texts, self._in = [], None

        def handle_starttag(self, tag, attrs):
            if tag in ("h1", "h2", "h3", "figcaption", "caption") or \
                    ("class", "gt_title") in attrs:
                self._in = [tag, ""]

        def handle_data(self, data):
            if self._in is not None:
                self._in[1] += data

        def handle_endtag(self, tag):
            if self._in is not None and tag == self._in[0]:
                self.texts.append(" ".join(self._in[1].split()))
                self._in = None

    page = ROOT / "_site" / lang / "reports" / "2017" / lang / "targets.html"
    parser = Headings()
    parser.feed(page.read_text(encoding="utf-8"))
    title = parser.texts[0]
    assert [t for t in parser.texts if t == title] == [title], parser.texts


def test_both_renderers_read_markdown_with_east_asian_line_breaks():
    """A line break between two Chinese characters prints no space (pandoc's
    east_asian_line_breaks), in Quarto through `format: from:` and in the built-in
    renderer's pandoc runs alike."""
    import yaml

    from bpsreport.render.pdf import MARKDOWN_READER, markdown_to_ast

    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    assert config["format"]["html"]["from"] == MARKDOWN_READER
    assert config["format"]["typst"]["from"] == MARKDOWN_READER
    ast = markdown_to_ast("第一行结尾。\n第二行开头。\n", {}, "test")
    kinds = [node["t"] for node in ast["blocks"][0]["c"]]
    assert "Space" not in kinds and "SoftBreak" not in kinds
