"""The 2017 report as its readers meet it: the PDFs page by page, and the site's pages.

Each test states a class of defect seen when the report was read as PNG pages and in a
browser, and looks for the whole class in the real 2017 edition (built by the README's
command; ``edition_2017``):

- no page left holding a line or two, no half-empty page (except before a part opener
  and at the end);
- every figure and table after its first citation and near it, numbered in reading order;
- no empty figure or table: a domain without targets shows its indicators with their
  values, and nothing is numbered that has no content;
- captions that name what they show;
- one title per site page; search entries without footnote marks.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
UNIT, YEAR = "gd-province", 2017
PDF_DIR = ROOT / "build" / UNIT / str(YEAR) / "pdf"

# A page holds at least this many lines of text, unless it is the last page, or a part
# opener, or the page before one (the end of a part may be short by design).
MIN_LINES = 5
# ... and its text reaches at least this far down the text block.
MIN_FILL = 0.5

needs_poppler = pytest.mark.skipif(not (shutil.which("pdftotext") and shutil.which("pdftoppm")),
                                   reason="poppler-utils (pdftotext, pdftoppm) is not installed")


def page_texts(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", "-enc", "UTF-8", str(pdf), "-"],
                          capture_output=True, text=True, check=True).stdout
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


PAGE_NUMBER = re.compile(r"^\s*[—-]\s*\d+\s*[—-]\s*$")


def text_lines(page: str) -> list[str]:
    return [line for line in page.splitlines() if line.strip() and not PAGE_NUMBER.match(line)]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def part_titles(pdf: Path) -> list[str]:
    """The part titles: top-level entries of the PDF outline without a number."""
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    return [item.title for item in reader.outline
            if not isinstance(item, list) and not re.match(r"^\s*([一二三四五六七八九十]+、|\d+\.)", item.title)]


def ink_fill(pdf: Path, tmp: Path) -> list[float]:
    """How far down the text block each page's ink reaches (0 = top, 1 = bottom)."""
    from PIL import Image

    config = yaml.safe_load((ROOT / "config" / "pdf.yml").read_text(encoding="utf-8"))
    page = config["page"]
    mm = lambda s: float(str(s).removesuffix("mm"))  # noqa: E731
    height, top, bottom = mm(page["height"]), mm(page["margin"]["top"]), mm(page["margin"]["bottom"])
    out = tmp / pdf.stem
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-r", "30", "-gray", "-png", str(pdf), str(out / "p")], check=True)
    fills = []
    for png in sorted(out.glob("p-*.png"), key=lambda p: int(p.stem.split("-")[1])):
        image = Image.open(png).convert("L")
        w, h = image.size
        y0, y1 = int(h * top / height), int(h * (height - bottom) / height)
        pixels = image.load()
        last = y0
        for y in range(y0, y1):
            if any(pixels[x, y] < 160 for x in range(0, w, 2)):
                last = y
        fills.append((last - y0) / max(1, y1 - y0))
    return fills


@pytest.fixture(scope="module")
def pdfs(edition_2017) -> dict[str, Path]:
    return {lang: PDF_DIR / f"report-{lang}.pdf" for lang in ("zh", "en")}


# --- print ------------------------------------------------------------------------------------

@needs_poppler
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_page_is_an_orphan_or_half_empty(pdfs, lang, tmp_path):
    pdf = pdfs[lang]
    pages = page_texts(pdf)
    fills = ink_fill(pdf, tmp_path)
    assert len(fills) == len(pages)
    openers = set()
    for title in part_titles(pdf):
        for i, page in enumerate(pages):
            if squeeze(page)[:120].startswith(squeeze(title)[:12]):
                openers.add(i)
    assert len(openers) >= 2, f"no part opener found in the {lang} PDF: {part_titles(pdf)}"
    problems = []
    for i, page in enumerate(pages[:-1]):
        lines = text_lines(page)
        if len(lines) < MIN_LINES and i not in openers:
            problems.append(f"page {i + 1}: {len(lines)} lines of text: {lines}")
        if fills[i] < MIN_FILL and i not in openers and i + 1 not in openers:
            problems.append(f"page {i + 1}: text ends {fills[i]:.0%} down the text block")
    assert problems == [], "\n".join(problems)


def _exhibits(pages: list[str], lang: str) -> tuple[dict, dict]:
    """(captions, first citations): {("图"|"表", n): page index}. A caption is a centred
    line that opens with the label; a citation is the label anywhere else (looked for in
    the page's text without line breaks, which may fall inside "图\n1")."""
    label = r"(图|表)(\d+)" if lang == "zh" else r"(Figure|Table) (\d+)"
    caption = re.compile(r"^\s{6,}" + label + (r"\s" if lang == "zh" else r"\. "))
    captions, cited = {}, {}
    for i, page in enumerate(pages):
        rest = []
        for line in page.splitlines():
            m = caption.match(line)
            if m:
                key = (m.group(1), int(m.group(2)))
                assert key not in captions, f"{key} is captioned twice"
                captions[key] = i
            else:
                rest.append(line.strip())
        flowing = ("" if lang == "zh" else " ").join(rest)
        for c in re.finditer(label.replace(" ", r"\s*"), flowing):
            cited.setdefault((c.group(1), int(c.group(2))), i)
    return captions, cited


@needs_poppler
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_figures_and_tables_follow_their_first_citation_in_reading_order(pdfs, lang):
    captions, cited = _exhibits(page_texts(pdfs[lang]), lang)
    assert captions, "no caption found"
    for kind in {k for k, _ in captions}:
        numbers = sorted(n for k, n in captions if k == kind)
        assert numbers == list(range(1, len(numbers) + 1)), (kind, numbers)
        pages = [captions[(kind, n)] for n in numbers]
        assert pages == sorted(pages), f"{kind} numbers do not rise with the pages: {pages}"
    late = {key: (cited[key] + 1, page + 1) for key, page in captions.items()
            if key in cited and not (cited[key] <= page <= cited[key] + 1)}
    assert late == {}, f"(first cited on page, placed on page): {late}"
    # Every figure is cited in the text (a table may stand alone: the annex's is the annex).
    assert sorted(k for k in captions if k not in cited and k[0] in ("图", "Figure")) == []


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_domain_without_targets_shows_its_indicators_and_no_empty_exhibit(edition_2017, lang):
    from bpsreport.tables import has_indicators, has_targets

    assessment = pd.read_parquet(ROOT / "data" / "clean" / UNIT / str(YEAR) / "assessment.parquet")
    catalog = pd.read_csv(ROOT / "data" / "clean" / "catalog" / "domains.csv")
    domains = [d for d in catalog["domain_id"] if d != "cross_cutting"]
    without = [d for d in domains if not has_targets(assessment, d)]
    assert len(without) == 5  # the 2017 data: five domains have no target
    for domain_id in domains:
        part = (ROOT / "reports" / str(YEAR) / lang / "_generated" / f"exhibits-{domain_id}.qmd").read_text(
            encoding="utf-8")
        embeds = re.findall(r"\{\{< embed \S+#(\S+) >\}\}", part)
        if domain_id in without:
            assert embeds == [f"tbl-{domain_id}-indicators-{lang}"] if has_indicators(assessment, domain_id) \
                else embeds == []
        else:
            assert embeds == [f"fig-{domain_id}-targets-{lang}", f"tbl-{domain_id}-targets-{lang}"]
    # Every embedded cell has an output: nothing numbered is empty.
    import nbformat

    notebooks = ROOT / "build" / UNIT / str(YEAR) / "notebooks"
    outputs = {}
    for path in notebooks.glob("*.ipynb"):
        for cell in nbformat.read(str(path), as_version=4).cells:
            m = re.search(r"#\| label: (\S+)", cell.get("source", ""))
            if m:
                outputs[m.group(1)] = bool(cell.get("outputs"))
    used = set()
    for qmd in (ROOT / "reports" / str(YEAR) / lang).rglob("*.qmd"):
        used |= set(re.findall(r"\{\{< embed \S+#(\S+) >\}\}", qmd.read_text(encoding="utf-8")))
    assert {label for label in used if not outputs.get(label)} == set()
    # The education table lists all of education's indicators with their values.
    site = ROOT / "_site" / lang / "reports" / str(YEAR) / lang / "domains" / "education.html"
    html = site.read_text(encoding="utf-8")
    table = html[html.index('id="tbl-indicators-education-' + lang):]
    table = table[:table.index("</table>")]
    rows = len(re.findall(r"<tr", table.split("<tbody", 1)[1].split("</tbody>", 1)[0]))
    assert rows == int((assessment["domain_id"] == "education").sum()) == 12


@needs_poppler
def test_chart_captions_name_the_domain(pdfs):
    domains = pd.read_csv(ROOT / "data" / "clean" / "catalog" / "domains.csv").set_index("domain_id")
    for lang, pdf in pdfs.items():
        text = "\n".join(page_texts(pdf))
        lines = [line.strip() for line in text.splitlines()
                 if re.match(r"^\s{6,}(图\d+\s|Figure \d+\. )", line)]
        generic = [line for line in lines if re.sub(r"^(图\d+|Figure \d+\.)\s*", "", line)
                   in ("指标目标完成情况", "Progress against targets")]
        assert generic == []
        named = [line for line in lines if any(str(n) in line for n in domains[f"name_{lang}"])]
        assert len(named) >= 5, lines


# --- site ---------------------------------------------------------------------------------------

class _Titles(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.found: list[tuple[str, str]] = []
        self._text: list[str] | None = None
        self._tag = ""

    def handle_starttag(self, tag, attrs):
        classes = dict(attrs).get("class") or ""
        kind = tag if tag in ("h1", "h2", "h3", "figcaption", "caption") else (
            "gt_title" if "gt_title" in classes else "")
        if kind and self._text is None:
            self._text, self._tag = [], kind

    def handle_endtag(self, tag):
        if self._text is not None and (tag == self._tag or (self._tag == "gt_title" and tag == "td")):
            self.found.append((self._tag, " ".join("".join(self._text).split())))
            self._text = None

    def handle_data(self, data):
        if self._text is not None:
            self._text.append(data)


def test_each_site_page_has_one_title(edition_2017):
    site = ROOT / "_site"
    pages = sorted((site / "zh" / "reports" / str(YEAR)).rglob("*.html")) + sorted(
        (site / "en" / "reports" / str(YEAR)).rglob("*.html"))
    assert len(pages) >= 30
    for page in pages:
        parser = _Titles()
        parser.feed(page.read_text(encoding="utf-8"))
        h1 = [t for tag, t in parser.found if tag == "h1"]
        assert len(h1) == 1, (page, h1)
        again = [(tag, t) for tag, t in parser.found if tag != "h1" and squeeze(t).endswith(squeeze(h1[0]))]
        assert again == [], (page.relative_to(site), h1[0], again)
        assert not [t for tag, t in parser.found if tag == "gt_title"], page  # the caption is the title


def test_search_entries_carry_no_footnote_marks(edition_2017):
    """A value with a footnote mark ("110" with mark 11) is indexed as the value alone."""
    from bpsreport.postrender import read_search_index

    site = ROOT / "_site"
    mark = re.compile(r"([\d.,]+)\s*(?:<[^>]+>\s*)*<span class=\"gt_footnote_marks\"[^>]*>(?:<[^>]+>)*\s*(\d+)")
    checked = 0
    for lang in ("zh", "en"):
        text = " ".join(e["text"] for e in read_search_index(site, YEAR, lang))
        for page in (site / lang / "reports" / str(YEAR) / lang).rglob("*.html"):
            for value, number in mark.findall(page.read_text(encoding="utf-8")):
                glued = value + number
                assert not re.search(rf"(?<![\d.,]){re.escape(glued)}(?![\d.,])", text), (page, glued)
                assert re.search(rf"(?<![\d.,]){re.escape(value)}(?![\d.,])", text), (page, value)
                checked += 1
    assert checked >= 10  # the 2017 tables carry footnoted values in both languages


@needs_poppler
def test_the_model_documents_headings_signature_and_annex(pdfs):
    """Level-3 and level-4 headings run into their paragraph ("1.完善制度设计。经省政府
    同意……") unless a subheading follows; the signature never stands alone; 附件 is set
    top-left on the annex's first page, its title centred below."""
    pages = page_texts(pdfs["zh"])
    lines = [squeeze(line) for page in pages for line in text_lines(page)]
    assert any(line.startswith("1.完善制度设计。") and len(line) > len("1.完善制度设计。") for line in lines)
    assert any(re.match(r"^（1）\S+。\S", line) for line in lines)       # level 4, run in
    assert "1.公共教育均等化方面。" in lines                              # followed by （1）: alone
    signature_page = next(i for i, page in enumerate(pages) if "2018年3月26日" in squeeze(page))
    assert len(text_lines(pages[signature_page])) >= MIN_LINES
    annex = next(page for page in pages if text_lines(page) and squeeze(text_lines(page)[0]) == "附件")
    first, title = text_lines(annex)[:2]
    assert len(first) - len(first.lstrip()) <= 2                          # at the left margin
    assert squeeze(title) == "目标完成情况表" and len(title) - len(title.lstrip()) > 10  # centred
