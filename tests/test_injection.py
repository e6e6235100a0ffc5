"""Text from data never becomes markup (issue 12 §1): a corpus of hostile values through
``_variables.yml`` into both renderers' output.

Quarto reads a ``{{< var >}}`` value as markdown, so the build writes each value escaped
(``bpsreport.variables.markdown_literal``). Each SYNTHETIC value below is a department's
note, a catalog name or unit as it could arrive; every one must come out of the built-in
renderer's HTML page and PDF as the literal text, with nothing executed, linked,
emphasised, turned into a formula, a heading, a list, a quote, a code block or a callout.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from bpsreport.render.html import render_site
from bpsreport.render.pdf import compile_typst, document_metadata_for_pdf, write_edition_typst
from bpsreport.render.project import load_project
from bpsreport.render.qmd import resolve_document
from bpsreport.variables import dump_variables, markdown_literal

ROOT = Path(__file__).resolve().parents[1]

CORPUS = {
    "script": "<script>alert(1)</script>",
    "onerror": '<img src=x onerror="alert(1)">',
    "js_link": "[打开](javascript:alert(1))",
    "autolink": "<javascript:alert(1)>",
    "math": "$x^2$ and $$y$$",
    "emphasis": "*b* _i_ **strong** ~~s~~ ^sup^ ~sub~",
    "setext": "SETEXT_HEADING\n===",
    "atx": "# 标题注入",
    "quote": "> 引用注入",
    "list": "1. 第一项",
    "bullet": "- 列表注入",
    "callout": "::: {.callout-warning}\n警告注入\n:::",
    "fence": "```\ncode\n```",
    "shortcode": "{{< var y2017.jobs.actual.zh >}}",
    "citation": "@fig-x [@tbl-y]",
    "comment": "<!-- hidden -->visible",
    "entity": "&lt;b&gt; &amp; &#42;",
    "smart": '"quoted" -- dash ... dots',
    "table": "| a | b |\n|---|---|\n| 1 | 2 |",
    "backslash": "C:\\path\\*file* \\",
    "raw_attr": "`<b>`{=html} `#strong[x]`{=typst}",
    "span": "[text]{.red style=\"color:red\"}",
    "formula": "=HYPERLINK(\"http://x\",\"y\")",
}


def make_project(root: Path) -> Path:
    (root / "reports/2017/zh").mkdir(parents=True)
    (root / "_quarto.yml").write_text("project:\n  type: website\nwebsite:\n  search: false\n",
                                      encoding="utf-8")
    (root / "_quarto-zh.yml").write_text("lang: zh\nproject:\n  output-dir: _site/zh\n  render:\n"
                                         "    - /reports/*/zh/**/*.qmd\n", encoding="utf-8")
    variables = {"t": {key: {"zh": value, "en": value} for key, value in CORPUS.items()}}
    (root / "_variables.yml").write_text(dump_variables(variables), encoding="utf-8")
    body = "\n\n".join(f"值{key}：{{{{< var t.{key}.zh >}}}}。" for key in CORPUS)
    (root / "reports/2017/zh/index.qmd").write_text(f"---\ntitle: 注入\n---\n\n{body}\n",
                                                    encoding="utf-8")
    (root / "reports/2017/zh/report.qmd").write_text(
        f"---\ntitle: 注入\nformat: typst\n---\n\n{body}\n", encoding="utf-8")
    return root


class Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self._in_main = False

    def handle_starttag(self, tag, attrs):
        if tag == "main":
            self._in_main = True
        if self._in_main:
            self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        if self._in_main:
            self.text.append(data)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return make_project(tmp_path_factory.mktemp("injection") / "project")


def test_every_value_is_written_so_that_markdown_reads_it_back_literally():
    for key, value in CORPUS.items():
        escaped = markdown_literal(value)
        assert "\n" not in escaped.replace("\\\n", ""), key  # a line break is a hard break only
        assert not re.match(r"^(#|>|\d+[.)]\s|[-+*]\s|:::|```|\|)", escaped), key


def test_html_shows_each_value_as_text_and_nothing_else(project, tmp_path):
    result = render_site(project, tmp_path / "site", langs=("zh",))
    [page] = result.pages
    html = page.html_path.read_text(encoding="utf-8")
    parser = Elements()
    parser.feed(html)
    text = "".join(parser.text)
    for key, value in CORPUS.items():
        for line in value.splitlines():
            assert line in text, (key, line)
    made = {tag for tag, _ in parser.tags}
    for tag in ("script", "img", "em", "strong", "del", "sup", "sub", "blockquote", "ol", "ul",
                "table", "pre", "code", "math", "h1", "h2"):
        assert tag not in made or tag in ("h1",) and sum(t == "h1" for t, _ in parser.tags) == 1, tag
    for tag, attrs in parser.tags:
        assert not any(k.startswith("on") for k in attrs), (tag, attrs)
        assert not str(attrs.get("href", "")).lower().startswith("javascript:"), attrs
        assert "callout" not in str(attrs.get("class", "")), attrs
    # A line break in a value is a plain line break, never a new block.
    assert "SETEXT_HEADING<br />" in html and "===" in text


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) is not installed")
def test_the_pdf_prints_each_value_as_text(project, tmp_path):
    doc = resolve_document(project / "reports/2017/zh/report.qmd", project=load_project(project, "zh"),
                           lang="zh", target="typst")
    meta = document_metadata_for_pdf(doc.metadata, 2017, "zh", root=ROOT)
    typ = write_edition_typst(doc.markdown, meta, lang="zh", work_dir=tmp_path / "work",
                              name="report", source_dir=project / "reports/2017/zh", root=ROOT)
    source = typ.read_text(encoding="utf-8")
    # Nothing of the values became Typst markup: no emphasis, math, heading or raw Typst.
    body = source[source.index("值script"):]
    assert not re.search(r"(?<!\\)#(emph|strong|link|raw|math|quote|strike|super|sub)\b|(?<!\\)\$x|^=+ ", body,
                         re.MULTILINE)
    pdf = tmp_path / "report.pdf"
    compile_typst(typ, pdf, font_paths=[])
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                          check=True).stdout.decode("utf-8")
    # Typst sets "..." as an ellipsis (a typographic shorthand, as in Quarto's output).
    flat = re.sub(r"\s+", "", text).replace("…", "...")
    for key, value in CORPUS.items():
        for line in value.splitlines():
            squeezed = re.sub(r"\s+", "", line).replace('"', "").replace("“", "").replace("”", "")
            assert squeezed in flat.replace('"', "").replace("“", "").replace("”", ""), (key, line)


def test_a_newline_in_a_data_value_is_a_line_break_in_the_page_and_the_yaml():
    text = dump_variables({"n": {"zh": "第一行\n第二行", "en": "one\ntwo"}})
    loaded = yaml.safe_load(text)
    assert loaded["n"]["zh"] == "第一行\\\n第二行"
