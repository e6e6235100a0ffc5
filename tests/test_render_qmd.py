"""The built-in renderer's reading of Quarto sources: shortcodes, includes, embeds, errors,
cross-references, callouts, section numbers and the profile merge.

Every project here is SYNTHETIC: small throwaway projects written into ``tmp_path`` (and
the fixture project in ``tests/fixtures/render/``, also synthetic).
"""

from __future__ import annotations

import base64
import json
import re
import stat
from pathlib import Path

import pytest

from bpsreport.render import (RenderError, UnsupportedSyntax, find_quarto, select_backend)
from bpsreport.render.html import plan_site, render_site
from bpsreport.render.project import load_project, merge_config
from bpsreport.render.qmd import resolve_document

FIXTURE = Path(__file__).parent / "fixtures" / "render"

SVG = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>'
PNG_B64 = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGPYKqQCAAJLAQnDbmeSAAAAAElFTkSu"
           "QmCC")


# --- a tiny synthetic project ----------------------------------------------------------------

def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def make_project(root: Path, pages: dict[str, str], *, variables: str | None = None,
                 base: str = "", zh: str = "", en: str = "") -> Path:
    """A project with profiles zh and en rendering reports/*/<lang>/**/*.qmd."""
    write(root / "_quarto.yml", "project:\n  type: website\n" + base)
    write(root / "_quarto-zh.yml", "lang: zh\nproject:\n  output-dir: _site/zh\n  render:\n"
                                   "    - reports/*/zh/**/*.qmd\n" + zh)
    write(root / "_quarto-en.yml", "lang: en\nproject:\n  output-dir: _site/en\n  render:\n"
                                   "    - reports/*/en/**/*.qmd\n" + en)
    write(root / "_variables.yml", variables if variables is not None else
          "y2017:\n  jobs:\n    actual:\n      zh: 1.5万人\n      en: \"15,000 people\"\n"
          "edition:\n  doc_number:\n    zh: 测〔2018〕1号\n")
    for rel, text in pages.items():
        write(root / rel, text)
    return root


def notebook(path: Path, cells: list[dict]) -> Path:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": []}
    for i, cell in enumerate(cells):
        nb["cells"].append({"cell_type": "code", "id": f"c{i}", "metadata": {}, "execution_count": i + 1,
                            "source": cell["source"], "outputs": [
                                {"output_type": "display_data", "metadata": {}, "data": cell["data"]}]})
    write(path, json.dumps(nb))
    return path


def resolve(root: Path, rel: str, lang: str = "zh", target: str = "html"):
    return resolve_document(root / rel, project=load_project(root, lang), lang=lang, target=target)


def render_one(root: Path, lang: str = "zh") -> dict[str, str]:
    """Render the site of ``root``; return {source rel path: page HTML} for ``lang``."""
    site = root / "_out"
    result = render_site(root, site, langs=(lang,))
    return {r.page.rel.as_posix(): r.html_path.read_text(encoding="utf-8") for r in result.pages}


def main_html(page: str) -> str:
    return page.split('<main id="content"', 1)[1].split("</main>", 1)[0]


# --- var and meta ---------------------------------------------------------------------------

def test_var_is_replaced_by_the_value_from_variables_yml(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "新增就业{{< var y2017.jobs.actual.zh >}}。\n"})
    doc = resolve(root, "reports/2017/zh/a.qmd")
    assert "新增就业1.5万人。" in doc.markdown


def test_unknown_var_key_names_file_line_and_key(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd":
                                   "---\ntitle: T\n---\n\n第一行\n{{< var y2017.jobs.target.zh >}}\n"})
    with pytest.raises(RenderError) as err:
        resolve(root, "reports/2017/zh/a.qmd")
    msg = str(err.value)
    assert msg.startswith("reports/2017/zh/a.qmd:6:")
    assert "y2017.jobs.target.zh" in msg
    assert err.value.exit_code == 5


def test_var_naming_a_group_is_an_error(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "{{< var y2017.jobs >}}\n"})
    with pytest.raises(RenderError, match=r"a\.qmd:1: variable 'y2017\.jobs' is a group"):
        resolve(root, "reports/2017/zh/a.qmd")


def test_meta_reads_document_then_project_metadata(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd":
                                   "---\ntitle: 页面标题\n---\n{{< meta title >}}|{{< meta lang >}}|"
                                   "{{< meta website.title >}}\n"},
                        zh="website:\n  title: 站点\n")
    doc = resolve(root, "reports/2017/zh/a.qmd")
    assert "页面标题|zh|站点" in doc.markdown


def test_unknown_meta_key_is_an_error_with_line(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "x\n\n{{< meta nothing.here >}}\n"})
    with pytest.raises(RenderError, match=r"a\.qmd:3: unknown metadata key 'nothing\.here'"):
        resolve(root, "reports/2017/zh/a.qmd")


def test_shortcodes_in_code_are_resolved_as_plain_text_and_escapes_print_literally(tmp_path):
    # Quarto resolves var and meta in code spans and code/raw blocks too, as plain text
    # (shortcodes.lua: pandoc.utils.stringify), so markdown escapes of the value vanish.
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd":
                                   "行内 `{{< var y2017.jobs.actual.zh >}}` 保留。\n\n```\n"
                                   "{{< var y2017.jobs.actual.zh >}}\n```\n\n"
                                   "转义 {{{< var y2017 >}}} 输出。\n"})
    doc = resolve(root, "reports/2017/zh/a.qmd")
    assert "`1.5万人`" in doc.markdown
    assert "\n1.5万人\n```" in doc.markdown
    assert "转义 {{< var y2017 >}} 输出。" in doc.markdown


def test_unknown_variable_and_other_shortcodes_in_code_are_errors(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "行内 `{{< var no.such >}}`\n",
                                   "reports/2017/zh/b.qmd": "```\n{{< pagebreak >}}\n```\n"})
    with pytest.raises(RenderError, match=r"a\.qmd:1: unknown variable 'no\.such'"):
        resolve(root, "reports/2017/zh/a.qmd")
    with pytest.raises(UnsupportedSyntax, match=r"b\.qmd:2: the shortcode \{\{< pagebreak >\}\} in code"):
        resolve(root, "reports/2017/zh/b.qmd")


# --- include ---------------------------------------------------------------------------------

def test_include_relative_root_relative_and_nested(tmp_path):
    root = make_project(tmp_path, {
        "reports/2017/zh/a.qmd": "---\ntitle: A\n---\n开头\n\n{{< include _parts/one.qmd >}}\n\n结尾\n",
        "reports/2017/zh/_parts/one.qmd": "---\ntitle: 被忽略\n---\n第一部分\n\n{{< include /shared/two.qmd >}}\n",
        "shared/two.qmd": "第二部分{{< var y2017.jobs.actual.zh >}}\n",
    })
    doc = resolve(root, "reports/2017/zh/a.qmd")
    text = doc.markdown
    assert text.index("开头") < text.index("第一部分") < text.index("第二部分1.5万人") < text.index("结尾")
    assert "被忽略" not in text  # an included file's front matter is not content
    assert doc.metadata["title"] == "A"
    assert {p.name for p in doc.includes} >= {"a.qmd", "one.qmd", "two.qmd"}


def test_error_inside_included_file_names_that_file_and_its_line(tmp_path):
    root = make_project(tmp_path, {
        "reports/2017/zh/a.qmd": "一\n二\n三\n{{< include _parts/p.qmd >}}\n",
        "reports/2017/zh/_parts/p.qmd": "---\nnote: front matter counts for line numbers\n---\n甲\n乙\n{{< var y2017.nope.zh >}}\n",
    })
    with pytest.raises(RenderError) as err:
        resolve(root, "reports/2017/zh/a.qmd")
    assert str(err.value).startswith("reports/2017/zh/_parts/p.qmd:6:")
    assert "y2017.nope.zh" in str(err.value)


def test_unsupported_shortcode_inside_included_file_reports_its_line(tmp_path):
    root = make_project(tmp_path, {
        "reports/2017/zh/a.qmd": "{{< include _parts/p.qmd >}}\n",
        "reports/2017/zh/_parts/p.qmd": "甲\n\n{{< pagebreak >}}\n",
    })
    with pytest.raises(UnsupportedSyntax) as err:
        resolve(root, "reports/2017/zh/a.qmd")
    assert err.value.file == "reports/2017/zh/_parts/p.qmd" and err.value.line == 3
    assert "{{< pagebreak >}} is not supported by the built-in renderer; supported:" in str(err.value)


def test_missing_include_and_include_cycle_are_errors(tmp_path):
    root = make_project(tmp_path, {
        "reports/2017/zh/a.qmd": "\n{{< include _parts/none.qmd >}}\n",
        "reports/2017/zh/b.qmd": "{{< include _parts/x.qmd >}}\n",
        "reports/2017/zh/_parts/x.qmd": "x\n{{< include /reports/2017/zh/_parts/y.qmd >}}\n",
        "reports/2017/zh/_parts/y.qmd": "{{< include /reports/2017/zh/_parts/x.qmd >}}\n",
    })
    with pytest.raises(RenderError, match=r"a\.qmd:2: included file _parts/none\.qmd not found"):
        resolve(root, "reports/2017/zh/a.qmd")
    with pytest.raises(RenderError, match=r"y\.qmd:1: include cycle: .*x\.qmd -> .*y\.qmd -> .*x\.qmd"):
        resolve(root, "reports/2017/zh/b.qmd")


def test_nested_include_resolves_against_the_page_being_rendered_as_quarto_does(tmp_path):
    # ../shared/QUARTO.md item 2 (src/core/handlers/include-standalone.ts): every include
    # path is relative to the document being rendered, whichever part holds it.
    root = make_project(tmp_path, {
        "reports/2017/zh/a.qmd": "{{< include _parts/outer.qmd >}}\n",
        "reports/2017/zh/_parts/outer.qmd": "外\n\n{{< include inner.qmd >}}\n",
        "reports/2017/zh/_parts/inner.qmd": "内\n",
        "reports/2017/zh/b.qmd": "{{< include _parts/outer2.qmd >}}\n",
        "reports/2017/zh/_parts/outer2.qmd": "外\n\n{{< include _parts/inner.qmd >}}\n",
        "reports/2017/zh/domains/c.qmd": "{{< include ../_parts/outer3.qmd >}}\n",
        "reports/2017/zh/_parts/outer3.qmd": "{{< include /reports/2017/zh/_parts/inner.qmd >}}\n",
    })
    with pytest.raises(RenderError) as err:
        resolve(root, "reports/2017/zh/a.qmd")
    message = str(err.value)
    assert message.startswith("reports/2017/zh/_parts/outer.qmd:3: included file inner.qmd not found")
    assert "looked for reports/2017/zh/inner.qmd" in message
    # The fix is offered: the path from the project root.
    assert "{{< include /reports/2017/zh/_parts/inner.qmd >}}" in message
    assert "内" in resolve(root, "reports/2017/zh/b.qmd").markdown          # relative to the page
    assert "内" in resolve(root, "reports/2017/zh/domains/c.qmd").markdown  # from the root


def test_include_inside_a_code_block_is_expanded_as_quarto_does(tmp_path):
    root = make_project(tmp_path, {
        "reports/2017/zh/a.qmd": "```\n{{< include _parts/code.txt >}}\n```\n\n"
                                 "```\n{{{< include _parts/code.txt >}}}\n```\n",
        "reports/2017/zh/_parts/code.txt": "print(1)\n",
    })
    text = resolve(root, "reports/2017/zh/a.qmd").markdown
    assert "```\nprint(1)\n```" in text
    assert "{{< include _parts/code.txt >}}" in text  # the escaped form stays as written


@pytest.mark.parametrize("path", ["../../../../../../../../etc/passwd", "../../../../outside.qmd",
                                  "/../outside.qmd"])
def test_include_of_a_file_outside_the_project_is_refused(tmp_path, path):
    root = make_project(tmp_path / "project",
                        {"reports/2017/zh/a.qmd": f"甲\n\n{{{{< include {path} >}}}}\n"})
    (tmp_path / "outside.qmd").write_text("secret\n", encoding="utf-8")
    with pytest.raises(RenderError, match=r"a\.qmd:3: the included file .* is outside the project"):
        resolve(root, "reports/2017/zh/a.qmd")


def test_include_written_without_quartos_spacing_is_named(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "{{<include _p.qmd>}}\n",
                                   "reports/2017/zh/_p.qmd": "x\n"})
    with pytest.raises(RenderError, match=r"a\.qmd:1: .*exactly one space inside the braces"):
        resolve(root, "reports/2017/zh/a.qmd")


def test_include_must_stand_on_its_own_line(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "见 {{< include _p.qmd >}}\n",
                                   "reports/2017/zh/_p.qmd": "x\n"})
    with pytest.raises(UnsupportedSyntax, match=r"a\.qmd:1: an include shortcode sharing its line"):
        resolve(root, "reports/2017/zh/a.qmd")


# --- unsupported syntax ------------------------------------------------------------------------

@pytest.mark.parametrize("line, what", [
    ("{{< pagebreak >}}", "the shortcode {{< pagebreak >}}"),
    ("{{< video https://example.org/v.mp4 >}}", "the shortcode {{< video >}}"),
    ("{{% var y2017 %}}", "the shortcode form"),
    ("text {{< var y2017.jobs.actual.zh", "an unterminated shortcode"),
    ("```{python}", "an executable code cell"),
    ("::: {.content-visible when-format=\"html\"}", "the div class .content-visible"),
    ("::: {.callout-danger}", "the div class .callout-danger"),
    ("::: {#fig-a layout-ncol=2}", "the div attribute layout-ncol="),
    ("::: {.panel-tabset}", "the div class .panel-tabset"),
])
def test_unsupported_syntax_is_an_error_with_file_and_line(tmp_path, line, what):
    closing = "\n\n:::\n" if line.startswith(":::") else "\n"
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": f"---\ntitle: T\n---\n\n{line}{closing}"})
    with pytest.raises(UnsupportedSyntax) as err:
        resolve(root, "reports/2017/zh/a.qmd")
    assert err.value.line == 5
    assert what in str(err.value)
    assert str(err.value).startswith("reports/2017/zh/a.qmd:5: ")
    assert "supported: YAML front matter, {{< var key >}}" in str(err.value)


def test_supported_callouts_and_plain_divs_are_accepted(tmp_path):
    body = "".join(f"::: {{.callout-{k}}}\n{k}\n:::\n\n" for k in
                   ("note", "tip", "important", "warning", "caution"))
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": body + "::: {.my-box}\nplain\n:::\n"})
    doc = resolve(root, "reports/2017/zh/a.qmd")
    assert doc.markdown.count(":::") == 12


# --- embed -----------------------------------------------------------------------------------

@pytest.fixture()
def embed_project(tmp_path):
    svg_b64 = base64.b64encode(SVG.encode()).decode()
    notebook(tmp_path / "build/u/2017/notebooks/d.ipynb", [
        {"source": "#| label: fig-a-zh\n#| fig-cap: 图的标题\nshow()",
         "data": {"text/html": f'<img src="data:image/svg+xml;base64,{svg_b64}" alt="替代&quot;文字&quot;">',
                  "image/png": PNG_B64, "text/plain": "plain alt"}},
        {"source": "#| label: tbl-b-zh\n#| tbl-cap: 表的标题\nshow()",
         "data": {"text/html": '<style>@import url("https://fonts.googleapis.com/css2?family=X");'
                               '.t{color:red}</style><table><tr><th>甲</th></tr><tr><td>1</td></tr></table>',
                  "text/plain": "t"}},
        {"source": "#| label: fig-none-zh\n#| fig-cap: 没有图\nshow()",
         "data": {"text/markdown": "当年没有数据。", "text/plain": "当年没有数据。"}},
    ])
    return make_project(tmp_path, {"reports/2017/zh/p.qmd":
                                   "{{< embed /build/u/2017/notebooks/d.ipynb#fig-a-zh >}}\n\n"
                                   "{{< embed ../../../build/u/2017/notebooks/d.ipynb#tbl-b-zh >}}\n\n"
                                   "{{< embed /build/u/2017/notebooks/d.ipynb#fig-none-zh >}}\n"})


def test_embed_figure_for_html_uses_the_html_output_in_a_captioned_float(embed_project):
    # Quarto's order for HTML output puts text/html first (display-data.ts).
    doc = resolve(embed_project, "reports/2017/zh/p.qmd")
    block = doc.markdown[doc.markdown.index("::: {#fig-a-zh}"):]
    assert block.startswith('::: {#fig-a-zh}\n```{=html}\n<img src="data:image/svg+xml;base64,')
    assert block.index('alt="替代&quot;文字&quot;"') < block.index("\n\n图的标题\n:::")


def test_embed_figure_for_typst_takes_quartos_first_choice(embed_project):
    # For Typst: text/markdown, then image/svg+xml, then image/png (display-data.ts); this
    # cell offers HTML and PNG, so the PNG is taken, with the caption of its cell option.
    doc = resolve(embed_project, "reports/2017/zh/p.qmd", target="typst")
    assert "::: {#fig-a-zh}\n![](p_files/figure-typst/fig-a-zh-1.png)\n\n图的标题\n:::" in doc.markdown
    [fig] = [f for f in doc.figures if f.label == "fig-a-zh"]
    assert fig.mime == "image/png" and fig.data.startswith(b"\x89PNG")
    assert "::: {#fig-none-zh}\n当年没有数据。\n\n没有图\n:::" in doc.markdown


def test_embed_prefers_svg_over_png_and_markdown_over_both_for_typst(tmp_path):
    svg_b64 = base64.b64encode(SVG.encode()).decode()
    notebook(tmp_path / "build/u/2017/notebooks/d.ipynb", [
        {"source": "#| label: fig-v\n#| fig-cap: 矢量\nshow()",
         "data": {"text/html": f'<img src="data:image/svg+xml;base64,{svg_b64}">',
                  "image/svg+xml": SVG, "image/png": PNG_B64, "text/plain": "alt"}},
        {"source": "#| label: tbl-t\n#| tbl-cap: 表\nshow()",
         "data": {"text/html": "<table><tr><td>1</td></tr></table>",
                  "text/markdown": "```{=typst}\n#table(columns: 1)[1]\n```", "text/plain": "t"}},
    ])
    root = make_project(tmp_path, {"reports/2017/zh/p.qmd":
                                   "{{< embed /build/u/2017/notebooks/d.ipynb#fig-v >}}\n\n"
                                   "{{< embed /build/u/2017/notebooks/d.ipynb#tbl-t >}}\n"})
    typst = resolve(root, "reports/2017/zh/p.qmd", target="typst")
    [fig] = typst.figures
    assert fig.mime == "image/svg+xml" and fig.filename.endswith(".svg")
    assert "::: {#tbl-t}\n```{=typst}\n#table(columns: 1)[1]\n```\n\n表\n:::" in typst.markdown
    html = resolve(root, "reports/2017/zh/p.qmd", target="html")
    assert "<table><tr><td>1</td></tr></table>" in html.markdown and "#table" not in html.markdown
    assert not html.figures


def test_embed_table_is_a_captioned_div_without_web_fonts(embed_project):
    doc = resolve(embed_project, "reports/2017/zh/p.qmd")
    block = doc.markdown[doc.markdown.index("::: {#tbl-b-zh}"):]
    assert block.index("```{=html}") < block.index("<table>") < block.index("表的标题\n:::")
    assert "fonts.googleapis.com" not in doc.markdown and ".t{color:red}" in doc.markdown
    [table] = doc.tables
    assert (table.label, table.caption) == ("tbl-b-zh", "表的标题")


def test_embed_figure_without_an_image_keeps_its_text_and_label(embed_project):
    doc = resolve(embed_project, "reports/2017/zh/p.qmd")
    assert "::: {#fig-none-zh}\n当年没有数据。\n\n没有图\n:::" in doc.markdown


def test_embed_errors_name_the_label_or_notebook(embed_project):
    write(embed_project / "reports/2017/zh/q.qmd", "{{< embed /build/u/2017/notebooks/d.ipynb#fig-zz >}}\n")
    write(embed_project / "reports/2017/zh/r.qmd", "\n{{< embed /build/u/2017/notebooks/none.ipynb#fig-a >}}\n")
    write(embed_project / "reports/2017/zh/s.qmd", "图：{{< embed /build/u/2017/notebooks/d.ipynb#fig-a-zh >}}\n")
    with pytest.raises(RenderError, match=r"q\.qmd:1: no cell labelled 'fig-zz' in build/u/2017/notebooks/d\.ipynb"):
        resolve(embed_project, "reports/2017/zh/q.qmd")
    with pytest.raises(RenderError, match=r"r\.qmd:2: notebook build/u/2017/notebooks/none\.ipynb not found"):
        resolve(embed_project, "reports/2017/zh/r.qmd")
    with pytest.raises(UnsupportedSyntax, match=r"s\.qmd:1: an embed shortcode sharing its line"):
        resolve(embed_project, "reports/2017/zh/s.qmd")


def test_fixture_notebook_embeds_resolve(tmp_path):
    doc = resolve_document(FIXTURE / "reports/2017/en/index.qmd", project=load_project(FIXTURE, "en"),
                           lang="en", target="html")
    assert "::: {#fig-targets-en}" in doc.markdown and "::: {#tbl-targets-en}" in doc.markdown
    assert [t.label for t in doc.tables] == ["tbl-targets-en"]
    assert doc.metadata["number-sections"] is True and doc.metadata["toc"] is True


# --- cross-references --------------------------------------------------------------------------

def test_cross_references_become_numbered_links_in_both_languages(embed_project):
    src = ("# 总结 {#sec-sum}\n\n## 细项 {#sec-item}\n\n{{< embed /build/u/2017/notebooks/d.ipynb#fig-none-zh >}}\n\n"
           "{{< embed /build/u/2017/notebooks/d.ipynb#fig-a-zh >}}\n\n"
           "{{< embed /build/u/2017/notebooks/d.ipynb#tbl-b-zh >}}\n\n"
           "见 @fig-a-zh 和 @tbl-b-zh，另见 @sec-sum、@sec-item。\n")
    write(embed_project / "reports/2017/zh/p.qmd", "---\nnumber-sections: true\n---\n" + src)
    page = main_html(render_one(embed_project)["reports/2017/zh/p.qmd"])
    # fig-none is figure 1 (document order), the chart figure 2; the space typed before a
    # reference is dropped between Chinese characters.
    assert '见<a href="#fig-a-zh" class="xref">图 2</a>和<a href="#tbl-b-zh" class="xref">表 1</a>' in page
    assert '<a href="#sec-sum" class="xref">第一部分</a>、<a href="#sec-item" class="xref">（一）</a>' in page
    assert '<span class="caption-label">图 2：</span>图的标题' in page
    assert '<span class="caption-label">表 1：</span>表的标题' in page
    # a table's caption comes before the table
    assert page.index("表 1：") < page.index("<table>")

    write(embed_project / "reports/2017/en/p.qmd",
          "---\nnumber-sections: true\n---\n# Summary {#sec-sum}\n\n## Item {#sec-item}\n\n"
          "{{< embed /build/u/2017/notebooks/d.ipynb#fig-a-zh >}}\n\nSee @fig-a-zh and @sec-item.\n")
    page_en = main_html(render_one(embed_project, "en")["reports/2017/en/p.qmd"])
    assert 'See <a href="#fig-a-zh" class="xref">Figure 1</a> and <a href="#sec-item" class="xref">Section 1.1</a>' in page_en
    assert '<span class="caption-label">Figure 1:</span> 图的标题' in page_en


def test_reference_without_target_is_an_error_with_line(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "# 甲 {#sec-a}\n\n见 @sec-a。\n\n见 @fig-missing 。\n"})
    with pytest.raises(RenderError, match=r"a\.qmd:5: cross-reference @fig-missing has no target"):
        resolve(root, "reports/2017/zh/a.qmd")


def test_reference_glued_to_chinese_text_is_an_error_explaining_the_fix(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "# 甲 {#sec-a}\n\n见@sec-a。\n"})
    with pytest.raises(RenderError, match=r"a\.qmd:3: the cross-reference @sec-a follows '见' directly.*'见 @sec-a' or '见\[@sec-a\]'"):
        resolve(root, "reports/2017/zh/a.qmd")


def test_email_addresses_and_code_are_not_references(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "写信给 a@fig-x.org；代码 `@fig-y`。\n"})
    doc = resolve(root, "reports/2017/zh/a.qmd")
    assert "a@fig-x.org" in doc.markdown


# --- callouts ---------------------------------------------------------------------------------

@pytest.mark.parametrize("lang, expected", [
    ("zh", {"note": "注意", "tip": "提示", "important": "重要", "warning": "警告", "caution": "注意事项"}),
    ("en", {"note": "Note", "tip": "Tip", "important": "Important", "warning": "Warning", "caution": "Caution"}),
])
def test_callouts_get_localized_default_titles(tmp_path, lang, expected):
    body = "".join(f"::: {{.callout-{k}}}\n正文 {k}\n:::\n\n" for k in expected)
    root = make_project(tmp_path, {f"reports/2017/{lang}/a.qmd": body})
    page = main_html(render_one(root, lang)[f"reports/2017/{lang}/a.qmd"])
    for kind, title in expected.items():
        assert re.search(rf'<div class="callout callout-{kind}" role="(note|alert)">\s*'
                         rf'<div class="callout-title">\s*{title}\s*</div>', page), kind


def test_callout_heading_is_its_title_and_is_not_numbered(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd":
                                   "---\nnumber-sections: true\n---\n# 第一\n\n::: {.callout-tip}\n## 自己的标题\n内容\n:::\n\n# 第二\n"})
    page = main_html(render_one(root)["reports/2017/zh/a.qmd"])
    assert re.search(r'<div class="callout-title">\s*自己的标题\s*</div>', page)
    assert "二、</span>第二" in page  # the callout heading did not take a number
    assert "<h2" not in page


def test_language_option_overrides_a_callout_title(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd":
                                   "---\nlanguage:\n  callout-note-title: 说明\n---\n::: {.callout-note}\nx\n:::\n"})
    page = main_html(render_one(root)["reports/2017/zh/a.qmd"])
    assert re.search(r'<div class="callout-title">\s*说明\s*</div>', page)


# --- section numbers ------------------------------------------------------------------------------

def test_chinese_sections_are_numbered_in_the_gb_t_9704_style(tmp_path):
    headings = "# 总结\n\n## 主要工作\n\n### 教育\n\n#### 学前\n\n#### 义务\n\n### 卫生\n\n## 问题\n\n## 附 {.unnumbered}\n\n# 任务\n"
    headings += "".join(f"\n# 第{i}\n" for i in range(3, 13))
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "---\nnumber-sections: true\n---\n" + headings})
    page = main_html(render_one(root)["reports/2017/zh/a.qmd"])
    numbers = re.findall(r'<span class="header-section-number">([^<]*)</span>', page)
    assert numbers[:8] == ["一、", "（一）", "1.", "（1）", "（2）", "2.", "（二）", "二、"]
    assert numbers[-2:] == ["十一、", "十二、"]
    assert '<h2 class="unnumbered">附</h2>' in page
    assert '<span class="header-section-number">1.</span> 教育' in page  # "1. 教育" as the model document


def test_english_sections_are_numbered_1_and_1_1(tmp_path):
    root = make_project(tmp_path, {"reports/2017/en/a.qmd":
                                   "---\nnumber-sections: true\n---\n# A\n\n## B\n\n## C {-}\n\n## D\n\n# E\n"})
    page = main_html(render_one(root, "en")["reports/2017/en/a.qmd"])
    assert re.findall(r'<span class="header-section-number">([^<]*)</span>', page) == ["1", "1.1", "1.2", "2"]


def test_page_starting_at_level_two_counts_from_one_in_english(tmp_path):
    root = make_project(tmp_path, {"reports/2017/en/a.qmd": "---\nnumber-sections: true\n---\n## A\n\n## B\n"})
    page = main_html(render_one(root, "en")["reports/2017/en/a.qmd"])
    assert re.findall(r'<span class="header-section-number">([^<]*)</span>', page) == ["1", "2"]


def test_no_numbers_without_number_sections(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "# 甲\n\n## 乙\n"})
    page = main_html(render_one(root)["reports/2017/zh/a.qmd"])
    assert "header-section-number" not in page


# --- project and profiles ------------------------------------------------------------------------

def test_profile_merge_follows_quarto_maps_merge_scalars_replace_lists_concatenate():
    base = {"project": {"type": "website", "render": ["a.qmd"]},
            "website": {"title": "Base", "search": True, "navbar": {"left": [{"href": "x.qmd"}]}},
            "format": {"html": {"toc": True}}}
    profile = {"project": {"output-dir": "_site/zh", "render": ["b.qmd", "a.qmd"]},
               "website": {"title": "中文", "navbar": {"left": [{"href": "y.qmd"}]}},
               "format": {"html": {"toc": False}}, "lang": "zh"}
    merged = merge_config(base, profile)
    assert merged["project"] == {"type": "website", "output-dir": "_site/zh", "render": ["a.qmd", "b.qmd"]}
    assert merged["website"]["title"] == "中文" and merged["website"]["search"] is True
    assert merged["website"]["navbar"]["left"] == [{"href": "x.qmd"}, {"href": "y.qmd"}]
    assert merged["format"]["html"]["toc"] is False and merged["lang"] == "zh"
    assert base["project"]["render"] == ["a.qmd"]  # inputs are not modified
    assert merge_config({"contents": "auto"}, {"contents": ["a.qmd"]}) == {"contents": ["a.qmd"]}


def test_load_project_merges_the_profile_and_reads_variables():
    project = load_project(FIXTURE, "en")
    assert project.lang == "en"
    assert project.config["project"]["type"] == "website"
    assert project.config["project"]["output-dir"] == "_site/en"
    assert project.config["format"]["html"]["toc"] is True
    assert project.variables["y2017"]["test_indicator"]["status"]["en"] == "Met"


def test_missing_profile_is_an_error(tmp_path):
    make_project(tmp_path, {})
    with pytest.raises(RenderError, match=r"_quarto-fr\.yml: profile 'fr' has no configuration file"):
        load_project(tmp_path, "fr")


def test_site_plan_skips_parts_and_typst_only_documents():
    plan = plan_site(FIXTURE, ("zh", "en"), Path("/nonexistent-site"))
    rels = sorted(p.rel.as_posix() for p in plan.pages["zh"])
    assert rels == ["reports/2017/zh/domains/education.qmd", "reports/2017/zh/domains/environment.qmd",
                    "reports/2017/zh/index.qmd", "reports/2017/zh/targets.qmd"]
    assert plan.page_for("en", Path("reports/2017/en/index.qmd")).out_rel.as_posix() == \
        "en/reports/2017/en/index.html"


# --- backends ------------------------------------------------------------------------------------

def test_select_backend_without_quarto(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("QUARTO_PATH", raising=False)
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a, **k: None)
    assert find_quarto() is None
    assert select_backend("auto").name == "builtin"
    assert select_backend("builtin").name == "builtin"
    with pytest.raises(RenderError, match=r"no quarto binary was found; install Quarto .*quarto-cli"):
        select_backend("quarto")
    with pytest.raises(RenderError, match="unknown renderer 'latex'"):
        select_backend("latex")


def test_find_quarto_honours_quarto_path(monkeypatch, tmp_path):
    fake = tmp_path / "bin" / "quarto"
    write(fake, "#!/bin/sh\necho 1.6.0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("QUARTO_PATH", str(fake))
    assert find_quarto() == fake
    monkeypatch.setenv("QUARTO_PATH", str(tmp_path))  # a Quarto installation folder
    assert find_quarto() == fake


def test_builtin_backend_reports_its_version():
    backend = select_backend("builtin")
    assert backend.version().startswith("builtin (pandoc ")


# --- links between pages ----------------------------------------------------------------------------

def test_links_to_pages_become_html_links_relative_to_the_page(tmp_path):
    root = make_project(tmp_path, {
        "reports/2017/zh/index.qmd": "[领域](domains/edu.qmd#sec-x) [根](/reports/2017/zh/domains/edu.qmd) "
                                     "[下载](/downloads/2017/a.csv) [外部](https://example.org/)\n",
        "reports/2017/zh/domains/edu.qmd": "# 甲 {#sec-x}\n\n[回到概览](../index.qmd)\n",
    })
    pages = render_one(root)
    index = main_html(pages["reports/2017/zh/index.qmd"])
    assert '<a href="domains/edu.html#sec-x">领域</a>' in index
    assert '<a href="domains/edu.html">根</a>' in index
    assert '<a href="../../../../downloads/2017/a.csv">下载</a>' in index  # under the site folder
    assert '<a href="https://example.org/">外部</a>' in index
    assert '<a href="../index.html">回到概览</a>' in main_html(pages["reports/2017/zh/domains/edu.qmd"])


def test_link_to_a_page_that_is_not_rendered_is_an_error_with_file_and_line(tmp_path):
    root = make_project(tmp_path, {
        "reports/2017/zh/a.qmd": "{{< include _parts/p.qmd >}}\n",
        "reports/2017/zh/_parts/p.qmd": "第一行\n\n见[任务](tasks.qmd)。\n",
    })
    with pytest.raises(RenderError, match=r"reports/2017/zh/_parts/p\.qmd:3: link to tasks\.qmd "
                                          r"\(reports/2017/zh/tasks\.qmd\) is not a page of the zh site"):
        render_one(root)


def test_quoted_include_path_may_contain_spaces(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": '{{< include "_parts/my part.qmd" >}}\n',
                                   "reports/2017/zh/_parts/my part.qmd": "带空格的文件名\n"})
    assert "带空格的文件名" in resolve(root, "reports/2017/zh/a.qmd").markdown


def test_every_broken_page_is_reported_at_once(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "{{< var y2017.nope >}}\n",
                                   "reports/2017/zh/b.qmd": "ok\n\n{{< pagebreak >}}\n"})
    with pytest.raises(RenderError) as err:
        render_one(root)
    lines = str(err.value).splitlines()
    assert lines[0] == "2 problems in the report sources:"
    assert lines[1].startswith("  - reports/2017/zh/a.qmd:1: unknown variable 'y2017.nope'")
    assert lines[2].startswith("  - reports/2017/zh/b.qmd:3: the shortcode {{< pagebreak >}} is not supported")


def test_section_reference_without_numbering_names_the_heading(tmp_path):
    root = make_project(tmp_path, {"reports/2017/en/a.qmd": "## Key tasks {#sec-tasks}\n\nSee @sec-tasks.\n"})
    page = main_html(render_one(root, "en")["reports/2017/en/a.qmd"])
    assert 'See <a href="#sec-tasks" class="xref">Key tasks</a>.' in page


def test_typst_only_report_resolves_its_parts_for_the_pdf():
    project = load_project(FIXTURE, "zh")
    doc = resolve_document(FIXTURE / "reports/2017/zh/report.qmd", project=project, lang="zh", target="typst")
    assert "文号：测〔2018〕1号。" in doc.markdown
    assert doc.metadata["papersize"] == "a4"  # format: typst options of _quarto.yml
    assert "toc" not in doc.metadata  # the html options do not leak into the PDF


@pytest.mark.parametrize("ref", ["../../../../outside.png", "/../outside.png",
                                 "../../../../../../../../etc/hostname"])
def test_an_image_outside_the_project_is_refused_for_both_targets(tmp_path, ref):
    root = make_project(tmp_path / "project", {"reports/2017/zh/a.qmd": f"甲\n\n![图]({ref})\n"})
    (tmp_path / "outside.png").write_bytes(b"\x89PNG SYNTHETIC")
    for target in ("html", "typst"):
        with pytest.raises(RenderError, match=r"a\.qmd:3: the image .* is outside the project"):
            resolve(root, "reports/2017/zh/a.qmd", target=target)


def test_images_inside_the_project_and_web_addresses_are_accepted(tmp_path):
    root = make_project(tmp_path, {"reports/2017/zh/a.qmd": "![a](img/a.png) ![b](/shared/b.png) "
                                                            "![c](https://example.org/c.png)\n"})
    assert "![a](img/a.png)" in resolve(root, "reports/2017/zh/a.qmd").markdown


def test_an_unclosed_div_is_reported_at_its_line_in_its_own_file(tmp_path):
    root = make_project(tmp_path, {
        "reports/2017/zh/a.qmd": "{{< include _parts/p.qmd >}}\n\n后文\n",
        "reports/2017/zh/_parts/p.qmd": "甲\n\n::: {.callout-note}\n说明\n",
        "reports/2017/zh/b.qmd": "甲\n\n:::\n",
    })
    with pytest.raises(RenderError, match=r"_parts/p\.qmd:3: the div ::: \{\.callout-note\} is never closed"):
        resolve(root, "reports/2017/zh/a.qmd")
    with pytest.raises(RenderError, match=r"b\.qmd:3: this ::: closes no div"):
        resolve(root, "reports/2017/zh/b.qmd")


def test_a_typst_failure_names_the_qmd_file_and_line(tmp_path):
    """A raw Typst block that does not compile is reported against the .qmd line it came
    from, and the generated Typst source that is named in the message still exists."""
    from bpsreport.render.pdf import PdfBuildError, render_typst_document

    root = make_project(tmp_path, {
        "reports/2017/zh/report.qmd": "---\ntitle: T\nformat: typst\n---\n\n"
                                      "{{< include _parts/p.qmd >}}\n",
        "reports/2017/zh/_parts/p.qmd": "第一段。\n\n第二段。\n\n```{=typst}\n#let f(x) = x\n#f(1, 2\n```\n\n"
                                        "第三段。\n",
    })
    work = tmp_path / "work"
    with pytest.raises(PdfBuildError) as err:
        render_typst_document(root / "reports/2017/zh/report.qmd", tmp_path / "out.pdf",
                              project=load_project(root, "zh"), lang="zh", year=2017, root=root,
                              work_dir=work)
    message = str(err.value)
    assert message.startswith("reports/2017/zh/_parts/p.qmd:5: the PDF could not be typeset here")
    kept = re.search(r"stays at (\S+\.typ) for inspection", message)
    assert kept and Path(kept.group(1)).is_file()
