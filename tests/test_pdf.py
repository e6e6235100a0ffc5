"""The PDF editions: official-document frame, numbering, tables, geometry, both languages.

Two sources:

- the SYNTHETIC fixture of ``tests/fixtures/pdf/`` (always): a hand-written body per
  language with an embedded chart and a Great Tables table built from the synthetic clean
  data, typeset through the real template and settings;
- the real 2017 edition (``reports/2017/*/report.qmd``) when the build has produced what it
  embeds (``_variables.yml`` and the executed notebooks); otherwise those tests are skipped
  with the command that produces them.

Text is read back with ``pdftotext`` (poppler-utils) and pages are looked at as images
with ``pdftoppm``; tests that need them skip, saying so, when poppler is not installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bpsreport.render import pdf as pdfmod

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "pdf"
SYNTHETIC_CLEAN = ROOT / "tests" / "fixtures" / "synthetic" / "notebooks" / "clean"
MM = 72 / 25.4  # PDF points per millimetre
A4 = (210 * MM, 297 * MM)
MARGINS = {"top": 37, "bottom": 35, "left": 28, "right": 26}  # GB/T 9704, in mm
BUILD_HINT = "run `.venv/bin/python pipeline.py build --year 2017` first"

needs_poppler = pytest.mark.skipif(
    shutil.which("pdftotext") is None or shutil.which("pdftoppm") is None,
    reason="pdftotext/pdftoppm (poppler-utils) are not installed; ./run test installs them")


# --- reading PDFs back ------------------------------------------------------------------------

def pdf_text(path: Path, first: int | None = None, last: int | None = None) -> str:
    cmd = ["pdftotext", "-enc", "UTF-8"]
    if first:
        cmd += ["-f", str(first)]
    if last:
        cmd += ["-l", str(last)]
    return subprocess.run(cmd + [str(path), "-"], capture_output=True, check=True).stdout.decode("utf-8")


def page_texts(path: Path) -> list[str]:
    return pdf_text(path).split("\f")[:page_count(path)]


def page_count(path: Path) -> int:
    from pypdf import PdfReader

    return len(PdfReader(str(path)).pages)


def squeeze(text: str) -> str:
    """Text without any whitespace, so line breaks cannot split what a test looks for."""
    return re.sub(r"\s+", "", text)


def plain_quotes(text: str) -> str:
    """English text with typographic quotes as typed ones (the PDF sets smart quotes)."""
    return text.translate(str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"}))


def text_lines(path: Path, page: int) -> list[dict]:
    """Lines of one page with their boxes (points, origin top left), from pdftotext."""
    out = subprocess.run(["pdftotext", "-bbox-layout", "-f", str(page), "-l", str(page),
                          str(path), "-"], capture_output=True, check=True).stdout.decode("utf-8")
    lines = []
    for m in re.finditer(r'<line xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">'
                         r"(.*?)</line>", out, re.DOTALL):
        words = re.findall(r">([^<]*)</word>", m.group(5))
        lines.append({"x0": float(m.group(1)), "y0": float(m.group(2)), "x1": float(m.group(3)),
                      "y1": float(m.group(4)), "text": "".join(words)})
    return lines


def page_image(path: Path, page: int, tmp: Path, dpi: int = 60):
    from PIL import Image

    stem = tmp / f"{path.stem}-p{page}-{dpi}"
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", "-f", str(page), "-l", str(page),
                    "-singlefile", str(path), str(stem)], check=True, capture_output=True)
    return Image.open(f"{stem}.png").convert("RGB")


def colour_pixels(image, hex_colour: str, tolerance: int = 40) -> int:
    import numpy as np

    want = np.array([int(hex_colour.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)])
    pixels = np.asarray(image, dtype=int)
    return int((np.abs(pixels - want) <= tolerance).all(axis=2).sum())


def red_mask(image):
    import numpy as np

    px = np.asarray(image, dtype=int)
    return (px[:, :, 0] > 180) & (px[:, :, 1] < 90) & (px[:, :, 2] < 90)


def red_rows(image, min_share: float = 0.5) -> list[int]:
    """Rows of the image where red spans at least ``min_share`` of the width."""
    mask = red_mask(image)
    return [int(y) for y in range(mask.shape[0]) if mask[y].sum() >= min_share * mask.shape[1]]


# --- the synthetic fixture ------------------------------------------------------------------------

def _fixture_chart(path: Path) -> None:
    """A plain bar chart PNG at 200 dpi (the notebooks' charts are 300 dpi PNGs)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (1600, 700), "white")
    draw = ImageDraw.Draw(image)
    for i, height in enumerate((500, 300, 420)):
        draw.rectangle([200 + i * 450, 650 - height, 500 + i * 450, 650], fill="#7A8794")
    image.save(path, dpi=(200, 200))


def _fixture_table(lang: str) -> tuple[str, pd.DataFrame]:
    """The fixture's target table as its notebook cell offers it to Typst: the
    ``text/markdown`` raw Typst block of :func:`bpsreport.notebooks.table_bundle`."""
    from bpsreport import tables
    from bpsreport.notebooks import load_edition_data
    from bpsreport.table_typst import typst_markdown

    data = load_edition_data(SYNTHETIC_CLEAN, "test-unit", 2017)
    gt = tables.target_table(data.assessment, data.catalog, lang, observations=data.observations)
    _, body = tables.split_heading(gt)
    rows = tables.target_rows(data.assessment, data.catalog, lang)
    return typst_markdown(tables.table_html(body)), rows


@pytest.fixture(scope="module")
def fixture_pdfs(tmp_path_factory) -> dict:
    """zh, en and bilingual PDFs of the synthetic fixture, plus what went into them."""
    from bpsreport.postrender import combine_pdfs

    tmp = tmp_path_factory.mktemp("pdf-fixture")
    _fixture_chart(tmp / "chart.png")
    metadata = yaml.safe_load((FIXTURE / "metadata.yml").read_text(encoding="utf-8"))
    fonts = pdfmod.font_dirs(pdfmod.load_pdf_config())
    out: dict = {"tmp": tmp, "rows": {}, "typ": {}}
    for lang in ("zh", "en"):
        table, rows = _fixture_table(lang)
        body = (FIXTURE / f"report-{lang}.md").read_text(encoding="utf-8").replace(
            "{{FIGURE}}", f"![{'合成图' if lang == 'zh' else 'Synthetic chart'}](chart.png)"
                          f"{{#fig-fixture-{lang}}}").replace("placeholder", table.strip())
        meta = pdfmod.document_metadata_for_pdf(metadata[lang], 2017, lang, root=ROOT)
        out["rows"][lang] = rows
        typ = pdfmod.write_edition_typst(body, meta, lang=lang, work_dir=tmp / "work",
                                         name=f"report-{lang}", source_dir=tmp, root=ROOT)
        out["typ"][lang] = typ.read_text(encoding="utf-8")
        out[lang] = tmp / f"report-{lang}.pdf"
        out[f"warnings-{lang}"] = pdfmod.compile_typst(typ, out[lang], font_paths=fonts)
    out["bilingual"] = combine_pdfs([out["zh"], out["en"]], tmp / "report-bilingual.pdf")
    return out


def test_fixture_compiles_without_warnings(fixture_pdfs):
    # A warning would be an unknown font family or markup Typst ignored.
    assert fixture_pdfs["warnings-zh"] == []
    assert fixture_pdfs["warnings-en"] == []


@needs_poppler
def test_zh_masthead_document_number_and_title_open_the_first_page(fixture_pdfs):
    lines = [line for line in pdf_text(fixture_pdfs["zh"], 1, 1).splitlines() if line.strip()]
    assert lines[0] == "广东省财政厅文件"
    assert lines[1] == "粤财办〔2018〕6号"
    assert squeeze("".join(lines[2:4])).startswith("关于印发合成测试文件的通知")


@needs_poppler
def test_zh_masthead_is_red_above_a_full_width_red_rule(fixture_pdfs):
    image = page_image(fixture_pdfs["zh"], 1, fixture_pdfs["tmp"], dpi=72)
    assert colour_pixels(image, "#E60012") > 2000  # the large red mark
    rule = red_rows(image, min_share=0.5)
    assert rule, "no red rule spanning the text block"
    reds = [int(x) for x in red_mask(image)[rule[0]].nonzero()[0]]
    # The rule runs from the left to the right margin (28 mm / 26 mm at 72 dpi = points).
    assert abs(reds[0] - MARGINS["left"] * MM) < 3
    assert abs(reds[-1] - (A4[0] - MARGINS["right"] * MM)) < 3


@needs_poppler
def test_zh_headings_are_numbered_in_the_official_style(fixture_pdfs):
    lines = [squeeze(line) for line in pdf_text(fixture_pdfs["zh"]).splitlines()]
    for heading in ("一、合成工作总结", "（一）合成主要工作",
                    "二、合成重点工作任务", "（一）合成领域甲", "（二）合成领域乙"):
        assert heading in lines, heading
    # Levels 3 and 4 run into their paragraph, ending with 。 (the model: "1.完善制度设计。……").
    for heading in ("1.合成第三级标题。合成数字", "（1）合成第四级标题。第四级标题之后"):
        assert any(line.startswith(heading) for line in lines), heading
    # Unnumbered part titles stay unnumbered and do not use up a number.
    assert "合成测试文件正文" in lines and "附件" in lines
    assert not any(line.endswith("合成测试文件正文") and line != "合成测试文件正文" for line in lines)


@needs_poppler
def test_zh_key_tasks_keep_their_numbers_and_departments(fixture_pdfs):
    text = squeeze(pdf_text(fixture_pdfs["zh"]))
    assert "1.合成任务一。" in text and "2.合成任务二。" in text
    assert "3.合成任务三。" in text  # numbering continues across sections
    assert "（负责部门：示例厅）" in text and "（负责部门：示例厅、示例局）" in text


@needs_poppler
def test_zh_full_lines_hold_28_characters(fixture_pdfs):
    source = (FIXTURE / "report-zh.md").read_text(encoding="utf-8")
    target = next(p for p in source.split("\n\n") if p.startswith("版心每行应排")).strip()
    lines = [line.strip() for line in pdf_text(fixture_pdfs["zh"]).splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith("版心每行应排"))
    paragraph = []
    for line in lines[start:]:
        paragraph.append(line)
        if "".join(paragraph) == target:
            break
    assert "".join(paragraph) == target and len(paragraph) >= 4
    assert len(paragraph[0]) == 26  # two characters of first-line indent
    assert all(len(line) == 28 for line in paragraph[1:-1]), [len(x) for x in paragraph]


@needs_poppler
def test_page_is_a4_with_gbt_9704_margins(fixture_pdfs):
    from pypdf import PdfReader

    reader = PdfReader(str(fixture_pdfs["zh"]))
    box = reader.pages[0].mediabox
    assert abs(float(box.width) - A4[0]) < 0.5 and abs(float(box.height) - A4[1]) < 0.5
    # Page 2 is all body text: its lines start at the left margin, full lines end at the
    # right margin, and text stays inside the 156 x 225 mm text block.
    lines = text_lines(fixture_pdfs["zh"], 2)
    body = [ln for ln in lines if ln["y1"] < A4[1] - MARGINS["bottom"] * MM + 1]
    footer = [ln for ln in lines if ln not in body]
    assert body and footer
    left = min(ln["x0"] for ln in body)
    right = max(ln["x1"] for ln in body)
    assert abs(left - MARGINS["left"] * MM) < 2
    assert abs(right - (A4[0] - MARGINS["right"] * MM)) < 2.5
    # Line boxes include the font's ascent and descent: compare their middles.
    middles = [(ln["y0"] + ln["y1"]) / 2 for ln in body]
    pitch = (A4[1] - (MARGINS["top"] + MARGINS["bottom"]) * MM) / 22
    assert MARGINS["top"] * MM < min(middles) < MARGINS["top"] * MM + pitch
    assert max(middles) < A4[1] - MARGINS["bottom"] * MM
    # The page number sits below the text block, about 7 mm under it.
    assert all(ln["y0"] > A4[1] - MARGINS["bottom"] * MM for ln in footer)


@needs_poppler
def test_page_numbers_are_dashed_and_on_the_outer_side(fixture_pdfs):
    path = fixture_pdfs["zh"]
    for page in (1, 2):
        footer = [ln for ln in text_lines(path, page) if ln["y0"] > A4[1] - MARGINS["bottom"] * MM]
        assert len(footer) == 1 and re.fullmatch(rf"—\s*{page}\s*—", footer[0]["text"])
        middle = (footer[0]["x0"] + footer[0]["x1"]) / 2
        # Odd pages on the right, even pages on the left (GB/T 9704 7.5).
        assert (middle > A4[0] / 2) == (page % 2 == 1)


@needs_poppler
def test_cross_references_print_label_and_number(fixture_pdfs):
    assert "详见图1和表1，另见一、合成工作总结。" in squeeze(pdf_text(fixture_pdfs["zh"]))
    en = " ".join(pdf_text(fixture_pdfs["en"]).split())
    assert "See Figure 1 and Table 1, and 1. Synthetic work summary." in en


@needs_poppler
def test_target_table_keeps_status_labels_and_colours(fixture_pdfs):
    rows = fixture_pdfs["rows"]["zh"]
    from bpsreport.style import status_styles

    styles = {s.value: look for s, look in status_styles().items()}
    path = fixture_pdfs["zh"]
    table_page = next(i + 1 for i, text in enumerate(page_texts(path)) if "完成情况" in text
                      and "资料来源" in text)
    text = squeeze(pdf_text(path, table_page, table_page))
    image = page_image(path, table_page, fixture_pdfs["tmp"], dpi=60)
    for status in rows["status_id"].unique():
        look = styles[status]
        assert look.label_zh in text
        assert colour_pixels(image, look.fill, tolerance=12) > 40, f"no {status} fill {look.fill}"
    for name in rows["indicator"]:
        assert squeeze(name) in squeeze(pdf_text(path))


def test_typst_table_carries_the_status_palette(fixture_pdfs):
    from bpsreport.style import status_styles

    present = set(fixture_pdfs["rows"]["zh"]["status_id"])
    for status, look in status_styles().items():
        mark = f'fill: "{look.fill.lstrip("#").upper()}"'
        assert (mark in fixture_pdfs["typ"]["zh"]) == (status.value in present), status


@needs_poppler
def test_closing_block_lists_disclosure_copies_and_issue_date(fixture_pdfs):
    last = squeeze(pdf_text(fixture_pdfs["zh"]).split("\f")[page_count(fixture_pdfs["zh"]) - 1])
    assert "公开方式：依申请公开" in last
    assert "抄送：各地级以上市人民政府" in last
    assert "广东省财政厅办公室" in last and "2018年3月26日印发" in last


@needs_poppler
def test_addressee_line_starts_at_the_margin(fixture_pdfs):
    lines = text_lines(fixture_pdfs["zh"], 1)
    addressee = next(ln for ln in lines if ln["text"].startswith("示例单位"))
    paragraph = next(ln for ln in lines if ln["text"].startswith("这是合成的通知"))
    assert abs(addressee["x0"] - MARGINS["left"] * MM) < 1.5
    assert paragraph["x0"] - addressee["x0"] > 25  # the next paragraph is indented two characters


@needs_poppler
def test_notice_is_signed_with_issuer_and_date_before_the_document(fixture_pdfs):
    path = fixture_pdfs["zh"]
    text = squeeze(pdf_text(path))
    assert text.index("请各单位结合职责") < text.index("广东省财政厅2018年3月26日") < text.index("合成测试文件正文")
    lines = text_lines(path, 1)
    date = next(ln for ln in lines if ln["text"] == "2018年3月26日")
    signer = next(ln for ln in lines if ln["text"] == "广东省财政厅")
    cell = (A4[0] - (MARGINS["left"] + MARGINS["right"]) * MM) / 28
    # The date ends four characters in from the right margin; the issuer is centred above it.
    assert abs(date["x1"] - (A4[0] - MARGINS["right"] * MM - 4 * cell)) < 2
    assert abs((signer["x0"] + signer["x1"]) / 2 - (date["x0"] + date["x1"]) / 2) < 2
    assert signer["y0"] < date["y0"]


@needs_poppler
def test_english_edition_mirrors_the_frame(fixture_pdfs):
    text = pdf_text(fixture_pdfs["en"])
    lines = [" ".join(line.split()) for line in text.splitlines() if line.strip()]
    assert lines[0] == "Department of Finance of Guangdong Province"
    assert lines[1] == "Yue Cai Ban [2018] No. 6"
    for heading in ("1. Synthetic work summary", "1.1 Synthetic main work",
                    "2. Synthetic key tasks", "2.1 Synthetic domain A"):
        assert heading in lines, heading
    for heading in ("1.1.1 Synthetic third level. ", "1.1.1.1 Synthetic fourth level. "):
        assert any(line.startswith(heading) and len(line) > len(heading) for line in lines), heading
    flat = " ".join(text.split())
    assert "3. Synthetic task three." in flat
    assert "(Responsible: Sample Department; Sample Bureau)" in flat
    assert "Issued on 26 March 2018" in flat


@needs_poppler
def test_english_masthead_is_red(fixture_pdfs):
    image = page_image(fixture_pdfs["en"], 1, fixture_pdfs["tmp"], dpi=72)
    assert colour_pixels(image, "#E60012") > 500
    assert red_rows(image, min_share=0.5)


@needs_poppler
def test_bilingual_pdf_holds_both_editions_with_restarted_page_numbers(fixture_pdfs):
    zh, en = page_count(fixture_pdfs["zh"]), page_count(fixture_pdfs["en"])
    both = fixture_pdfs["bilingual"]
    assert page_count(both) == zh + en
    pages = page_texts(both)
    assert pages[0].lstrip().startswith("广东省财政厅文件")
    assert pages[zh].lstrip().startswith("Department of Finance of Guangdong Province")
    first_en = [ln for ln in text_lines(both, zh + 1) if ln["y0"] > A4[1] - MARGINS["bottom"] * MM]
    assert re.fullmatch(r"—\s*1\s*—", first_en[0]["text"])


def test_rebuilding_gives_the_same_bytes(fixture_pdfs, tmp_path):
    source = fixture_pdfs["tmp"] / "work" / "report-en.typ"
    fonts = pdfmod.font_dirs(pdfmod.load_pdf_config())
    stamp = pdfmod._issued(2017, ROOT)
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    pdfmod.compile_typst(source, first, font_paths=fonts, timestamp=stamp)
    pdfmod.compile_typst(source, second, font_paths=fonts, timestamp=stamp)
    assert first.read_bytes() == second.read_bytes()


# --- units -----------------------------------------------------------------------------------

def test_typst_values_keep_lengths_and_make_colours():
    assert pdfmod.typst_value({"margin": {"top": "37mm"}, "n": 28, "on": True}) == \
        "(margin: (top: 37mm), n: 28, on: true)"
    assert pdfmod.typst_value({"colors": {"red": "E60012"}}) == '(colors: (red: rgb("#E60012")))'
    assert pdfmod.typst_value(["Noto Serif CJK SC"]) == '("Noto Serif CJK SC",)'
    assert pdfmod.typst_value('say "一、"') == '"say \\"一、\\""'


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan"])
def test_a_setting_no_page_can_take_is_refused_with_its_key(tmp_path, value):
    config = tmp_path / "pdf.yml"
    config.write_text(f"languages:\n  zh:\n    body_size: {value}\n    title_size: 22pt\n",
                      encoding="utf-8")
    with pytest.raises(pdfmod.RenderError, match=r"pdf\.yml: languages\.zh\.body_size is .*"
                                                 r"expected a length such as 16pt"):
        pdfmod.load_pdf_config(config)


def test_a_value_typst_cannot_take_is_named_by_its_key_path():
    with pytest.raises(pdfmod.RenderError, match=r"config/pdf\.yml: sizes\.body: cannot write"):
        pdfmod.typst_value({"sizes": {"body": object()}})


def test_missing_chinese_font_names_what_to_install():
    config = pdfmod.load_pdf_config()
    config["fonts"]["zh"] = {role: ["No Such Font SC"] for role in config["fonts"]["zh"]}
    with pytest.raises(pdfmod.PdfFontMissing) as err:
        pdfmod.resolve_fonts(config, "zh", [])
    assert "No Such Font SC" in str(err.value) and "fonts-noto-cjk" in str(err.value)
    assert err.value.exit_code == 4


def test_fonts_resolve_to_installed_families_only():
    config = pdfmod.load_pdf_config()
    fonts = pdfmod.resolve_fonts(config, "zh", pdfmod.font_dirs(config))
    installed = pdfmod.installed_fonts(tuple(str(d) for d in pdfmod.font_dirs(config)))
    for role, families in fonts.items():
        assert all(f.casefold() in installed for f in families), role
    assert fonts["body"], "the body needs a Chinese font"


def test_pdf_metadata_carries_edition_and_raw_typst_settings():
    meta = pdfmod.pdf_metadata(2017, "zh", root=ROOT)
    assert meta["edition"]["issuer_mark"] == "广东省财政厅文件"
    assert meta["edition"]["doc_number"] == "粤财办〔2018〕6号"
    assert meta["pdf"]["printed"] == "2018年3月26日印发"
    settings = meta["pdf"]["settings"]
    assert settings.startswith("`(") and settings.endswith(")`{=typst}")
    assert "top: 37mm" in settings and "chars_per_line: 28" in settings


def test_great_tables_html_becomes_a_data_table_call():
    from bpsreport import tables
    from bpsreport.notebooks import load_edition_data
    from bpsreport.table_typst import gt_html_to_typst

    data = load_edition_data(SYNTHETIC_CLEAN, "test-unit", 2017)
    gt = tables.target_table(data.assessment, data.catalog, "en", observations=data.observations)
    rows = tables.target_rows(data.assessment, data.catalog, "en")
    code = gt_html_to_typst(tables.table_html(gt))
    assert code.startswith("official-data-table(")
    assert '[#"Indicator"]' in code and '[#"Status"]' in code
    assert code.count("(cells: (") == len(rows)
    assert "#super[" in code or not (rows["target_note"].any() or rows["actual_note"].any())


def test_floats_are_written_as_quarto_writes_them_for_typst(tmp_path):
    # Quarto 1.10 (floatreftarget.lua): #figure([...], caption: figure.caption(position: top,
    # [...]), kind: "quarto-float-tbl", supplement: "表") and the label after it; figures
    # have their caption at the bottom.
    md = ("::: {#tbl-x}\n```{=typst}\n#table(columns: 1)[1]\n```\n\n表题\n:::\n\n"
          "![图题](chart.svg){#fig-y}\n")
    (tmp_path / "chart.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>', encoding="utf-8")
    ast = pdfmod.markdown_to_ast(md, {}, "test")
    ctx = pdfmod.AstContext(work_dir=tmp_path, source_dir=tmp_path, root=ROOT, lang="zh")
    typst = pdfmod.ast_to_typst(pdfmod.adjust_ast(ast, ctx), "test")
    table = typst[typst.index("#figure(["):]
    assert "#table(columns: 1)[1]" in table
    assert 'kind: "quarto-float-tbl", supplement: "表", )\n<tbl-x>' in table
    assert "figure.caption(position: top, [" in table
    assert 'kind: "quarto-float-fig", supplement: "图", )\n<fig-y>' in typst
    assert "figure.caption(position: bottom, [" in typst


def test_callout_title_is_not_a_numbered_heading():
    ast = pdfmod.markdown_to_ast("::: {.callout-note}\n## 说明\n正文。\n:::\n", {}, "test")
    ctx = pdfmod.AstContext(work_dir=ROOT, source_dir=ROOT, root=ROOT)
    blocks = pdfmod.adjust_ast(ast, ctx)["blocks"]
    assert [b["t"] for b in blocks] == ["RawBlock", "Plain", "RawBlock", "Para", "RawBlock"]
    assert blocks[0]["c"][1].startswith('#official-callout(kind: "note"')


# --- the real 2017 edition -------------------------------------------------------------------

def _missing_build() -> str | None:
    needed = [ROOT / "reports" / "2017" / lang / "report.qmd" for lang in ("zh", "en")]
    needed += [ROOT / "_variables.yml", ROOT / "build" / "gd-province" / "2017" / "notebooks" / "overview.ipynb"]
    missing = [str(p.relative_to(ROOT)) for p in needed if not p.exists()]
    return ", ".join(missing) if missing else None


@pytest.fixture(scope="module")
def edition_pdfs(tmp_path_factory, edition_2017) -> dict:
    """The PDFs of the 2017 build (README: build/gd-province/2017/pdf/)."""
    assert _missing_build() is None
    folder = ROOT / "build" / "gd-province" / "2017" / "pdf"
    return {"tmp": tmp_path_factory.mktemp("pdf-2017"),
            **{key: folder / f"report-{key}.pdf" for key in ("zh", "en", "bilingual")}}


@pytest.fixture(scope="module")
def tasks_2018(edition_2017) -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / "clean" / "gd-province" / "2018" / "tasks.csv", dtype=str)


@needs_poppler
def test_2017_pdfs_exist_for_both_languages_and_together(edition_pdfs):
    for key in ("zh", "en", "bilingual"):
        assert edition_pdfs[key].is_file() and edition_pdfs[key].stat().st_size > 10_000
    assert page_count(edition_pdfs["bilingual"]) == \
        page_count(edition_pdfs["zh"]) + page_count(edition_pdfs["en"])


@needs_poppler
def test_2017_zh_frame_headings_and_figures(edition_pdfs):
    path = edition_pdfs["zh"]
    first = [line for line in pdf_text(path, 1, 1).splitlines() if line.strip()]
    assert first[:2] == ["广东省财政厅文件", "粤财办〔2018〕6号"]
    lines = {squeeze(line) for line in pdf_text(path).splitlines()}
    assert any(line.startswith("一、2017年工作总结") for line in lines)
    assert any(line.startswith("二、2018年重点工作任务") for line in lines)
    for number in ("（一）", "（二）", "（三）", "（十）"):
        assert any(line.startswith(number) for line in lines), number
    text = squeeze(pdf_text(path))
    for figure in ("148.9万人", "135.4%", "92.1%"):
        assert figure in text, figure


@needs_poppler
def test_2017_zh_lists_all_34_tasks_with_departments(edition_pdfs, tasks_2018, catalog):
    text = squeeze(pdf_text(edition_pdfs["zh"]))
    assert len(tasks_2018) == 34
    for rec in tasks_2018.to_dict("records"):
        names = "、".join(catalog.department_names(rec["departments"], "zh"))
        assert f"{rec['task_no']}.{squeeze(rec['title_zh'])}" in text, rec["task_no"]
        assert f"（负责部门：{names}）" in text, rec["task_no"]


@needs_poppler
def test_2017_en_frame_tasks_and_figures(edition_pdfs, tasks_2018):
    path = edition_pdfs["en"]
    first = [" ".join(line.split()) for line in pdf_text(path, 1, 1).splitlines() if line.strip()]
    assert first[:2] == ["Department of Finance of Guangdong Province", "Yue Cai Ban [2018] No. 6"]
    text = plain_quotes(squeeze(pdf_text(path)))
    for rec in tasks_2018.to_dict("records"):
        assert f"{rec['task_no']}.{squeeze(rec['title_en'])}" in text, rec["task_no"]
    assert text.count("(Responsible:") >= 34
    for figure in ("1.489million", "135.4%", "92.1%"):
        assert figure in text, figure


@needs_poppler
def test_2017_body_pages_keep_the_margins(edition_pdfs):
    for lang in ("zh", "en"):
        # The fullest of the first pages is a page of running text.
        pages = range(2, min(8, page_count(edition_pdfs[lang])) + 1)
        lines = max((text_lines(edition_pdfs[lang], p) for p in pages), key=len)
        body = [ln for ln in lines if ln["y1"] < A4[1] - MARGINS["bottom"] * MM + 1]
        assert abs(min(ln["x0"] for ln in body) - MARGINS["left"] * MM) < 2, lang
        assert max(ln["x1"] for ln in body) <= A4[0] - MARGINS["right"] * MM + 2.5, lang
        assert min((ln["y0"] + ln["y1"]) / 2 for ln in body) > MARGINS["top"] * MM, lang


@needs_poppler
def test_2017_target_table_has_coloured_status_cells(edition_pdfs):
    from bpsreport.style import status_styles

    path = edition_pdfs["zh"]
    texts = page_texts(path)
    first = next(i for i, text in enumerate(texts) if "目标完成情况表" in squeeze(text)
                 and squeeze(text).startswith("附件"))
    pages = list(range(first + 1, len(texts) + 1))  # the annex runs to the end
    fills = {look.fill for s, look in status_styles().items() if s.value in ("met", "not_met")}
    found = set()
    for page in pages:
        image = page_image(path, page, edition_pdfs["tmp"], dpi=50)
        found |= {fill for fill in fills if colour_pixels(image, fill, tolerance=12) > 30}
    assert found == fills
