"""Conventions of the model document (粤财办〔2018〕6号) that the PDFs keep.

- The cover notice lists its attachment (附件：目标完成情况表 / Attachment: Target completion
  table), in both editions, on the notice's own page.
- The 抄送 line is a sentence: it ends with 。 (config/edition.yml ``list_end``).
- No stray space after Chinese punctuation: none in the Chinese PDF's text, and none at the
  source, where it would come from (a typed space after 。, or a line break inside a Chinese
  paragraph, which pandoc's markdown reads as a space).

The 34 task titles are checked against the seed in ``tests/test_tasks_2018.py``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
# Full-width punctuation after which Chinese text never has a space.
FULL_WIDTH_PUNCTUATION = "。，、；：！？）》」』】”’"
CJK_CHAR = r"[\u3400-\u9fff\uff01-\uff5e\u3001-\u303f“”‘’]"
STRAY_SPACE = re.compile(rf"[{FULL_WIDTH_PUNCTUATION}](\*\*|\*)?[ \u00a0\u3000]+(?=\S)")

pdftotext_missing = pytest.mark.skipif(shutil.which("pdftotext") is None,
                                       reason="pdftotext (poppler-utils) is not installed")


def pdf_pages(pdf: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True,
                          capture_output=True, text=True).stdout
    return text.split("\f")


@pdftotext_missing
@pytest.mark.parametrize("lang, attachment", [("zh", "附件：目标完成情况表"),
                                              ("en", "Attachment: Target completion table")])
def test_the_notice_lists_its_attachment(edition_2017, lang, attachment):
    pages = pdf_pages(edition_2017 / f"build/gd-province/2017/pdf/report-{lang}.pdf")
    notice = "\n".join(pages[:2])  # the notice's last paragraphs go with its signature
    assert attachment in " ".join(notice.split()) or attachment in notice.replace("\n", "")


@pdftotext_missing
def test_the_cc_line_ends_with_a_full_stop(edition_2017):
    pages = pdf_pages(edition_2017 / "build/gd-province/2017/pdf/report-zh.pdf")
    text = "".join(pages[-2:]).replace("\n", "")
    cc = re.search(r"抄送：[^。]*。", text)
    assert cc is not None, "no 抄送 line ending with 。 on the last pages"
    assert cc.group(0).endswith("人民政府。")


def test_every_edition_joins_and_ends_its_cc_line_per_language():
    config = yaml.safe_load((ROOT / "config" / "edition.yml").read_text(encoding="utf-8"))
    assert config["list_end"] == {"zh": "。", "en": "."}


@pdftotext_missing
def test_no_space_after_chinese_punctuation_in_the_chinese_pdf(edition_2017):
    text = "\n".join(pdf_pages(edition_2017 / "build/gd-province/2017/pdf/report-zh.pdf"))
    found = [text[max(0, m.start() - 12):m.end() + 6] for m in STRAY_SPACE.finditer(text)]
    assert found == []


def _chinese_sources() -> list[Path]:
    paths = list((ROOT / "reports").glob("*/zh/**/*.qmd"))
    paths += [ROOT / "templates" / "edition" / "text.yml", ROOT / "templates" / "tasks.qmd.j2",
              ROOT / "config" / "edition.yml"]
    return sorted(p for p in paths if "_generated" not in p.parts)


def test_no_stray_space_or_soft_line_break_in_chinese_sources():
    """A space typed after Chinese punctuation, and a line break between two Chinese
    characters inside a paragraph (pandoc markdown turns it into a space), both print as a
    stray space."""
    problems = []
    for path in _chinese_sources():
        lines = path.read_text(encoding="utf-8").splitlines()
        for no, line in enumerate(lines, 1):
            if line.lstrip().startswith("|"):
                continue  # a table row: its cells are separated by spaced pipes
            body = re.sub(r"<!--.*?-->", " ", re.sub(r"\{\{<.*?>\}\}", "X", line))
            for m in STRAY_SPACE.finditer(body):
                problems.append(f"{path.relative_to(ROOT)}:{no}: space after "
                                f"{body[m.start()]!r}: {body[max(0, m.start() - 8):m.end() + 4]!r}")
            if (path.suffix == ".qmd" and no < len(lines) and re.search(CJK_CHAR + r"$", line)
                    and re.match(CJK_CHAR, lines[no])):
                problems.append(f"{path.relative_to(ROOT)}:{no}: a Chinese paragraph broken "
                                "across lines; keep each paragraph on one line")
    assert problems == []
