"""Source references as each edition prints them.

Every figure cites its document and section the way the Chinese documents number them
(column ``source``, e.g. ``粤财办〔2018〕6号 一(二)8(1)``). The Chinese edition prints the
reference as written. The English edition gives it an English form:

- a document number ``粤财办〔2018〕6号`` becomes ``Yue Cai Ban [2018] No. 6``, the form the
  English cover already uses; the issuer's abbreviation (粤财办) is looked up in
  ``config/labels.yml`` (``citations.document_abbreviations``), a document without a number
  by its name (``citations.document_names``);
- a section ``一(二)8(1)`` becomes ``Part I (2) 8 (1)``: the part 一、 as a Roman numeral, the
  section （二） as (2), then item 8 and point （1）, in the document's own order;
  ``第六章二(八)`` becomes ``Chapter 6, Part II (8)``.

A reference the rules do not cover is printed as written; the test of the English site
(no Chinese outside its allow-list) then points at it.

Examples
--------
>>> format_source("粤财办〔2018〕6号 一(二)8(1)", "en")
'Yue Cai Ban [2018] No. 6, Part I (2) 8 (1)'
>>> format_source("粤财办〔2018〕6号 二(十一)", "en")
'Yue Cai Ban [2018] No. 6, Part II (11)'
>>> format_source("粤财办〔2018〕6号 一(二)8(1)", "zh")
'粤财办〔2018〕6号 一(二)8(1)'
>>> format_section("第六章二(八)", "en")
'Chapter 6, Part II (8)'
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import yaml
from bpsreport import yamlio

LABELS_FILE = Path(__file__).resolve().parent.parent / "config" / "labels.yml"
LANGS = ("zh", "en")

_DIGITS = {"零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CN_NUMBER = "[一二三四五六七八九十]+"
_DOC_NUMBER = re.compile(r"^(?P<abbr>[^〔\[]+)[〔\[](?P<year>\d{4})[〕\]](?P<no>\d+)号$")
_SECTION_TOKEN = re.compile(rf"第(?P<chapter>{_CN_NUMBER}|\d+)章|(?P<part>{_CN_NUMBER})"
                            rf"|\((?P<paren>{_CN_NUMBER}|\d+)\)|(?P<item>\d+)")
_ROMAN = (("M", 1000), ("CM", 900), ("D", 500), ("CD", 400), ("C", 100), ("XC", 90),
          ("L", 50), ("XL", 40), ("X", 10), ("IX", 9), ("V", 5), ("IV", 4), ("I", 1))


@lru_cache(maxsize=4)
def _config(path: Path = LABELS_FILE) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yamlio.safe_load(fh).get("citations") or {}


def chinese_number(text: str) -> int:
    """``十一`` -> 11, ``二十`` -> 20, ``8`` -> 8 (numbers below 100, as section numbers are).

    >>> [chinese_number(t) for t in ("一", "十", "十一", "二十", "二十三", "12")]
    [1, 10, 11, 20, 23, 12]
    """
    if text.isdigit():
        return int(text)
    if "十" not in text:
        return _DIGITS[text]
    tens, _, units = text.partition("十")
    return (_DIGITS[tens] if tens else 1) * 10 + (_DIGITS[units] if units else 0)


def roman(n: int) -> str:
    """``4`` -> ``IV``."""
    out = []
    for letters, value in _ROMAN:
        while n >= value:
            out.append(letters)
            n -= value
    return "".join(out)


def split_source(source: str) -> tuple[str, str]:
    """``粤财办〔2018〕6号 一(二)8(1)`` -> (document, section)."""
    parts = str(source).strip().split(None, 1)
    return (parts[0], parts[1].strip()) if len(parts) == 2 else (str(source).strip(), "")


def format_document(document: str, lang: str) -> str:
    """A document as the edition names it: ``Yue Cai Ban [2018] No. 6`` in English."""
    _check_lang(lang)
    if lang == "zh" or not document:
        return document
    config = _config()
    named = (config.get("document_names") or {}).get(document)
    if named:
        return str(named)
    m = _DOC_NUMBER.match(unicodedata.normalize("NFKC", document).replace(" ", ""))
    if m:
        abbreviation = (config.get("document_abbreviations") or {}).get(m.group("abbr"))
        if abbreviation:
            return f"{abbreviation} [{m.group('year')}] No. {m.group('no')}"
    return document


def format_section(section: str, lang: str) -> str:
    """A section reference in the edition's language (see the module docstring)."""
    _check_lang(lang)
    text = unicodedata.normalize("NFKC", str(section)).replace(" ", "")
    if lang == "zh" or not text:
        return section
    pieces, position = [], 0
    for m in _SECTION_TOKEN.finditer(text):
        if m.start() != position:
            return section  # something the rules do not know: leave it as written
        position = m.end()
        if m.group("chapter"):
            pieces.append(f"Chapter {chinese_number(m.group('chapter'))},")
        elif m.group("part"):
            pieces.append(f"Part {roman(chinese_number(m.group('part')))}")
        elif m.group("paren"):
            pieces.append(f"({chinese_number(m.group('paren'))})")
        else:
            pieces.append(m.group("item"))
    if position != len(text):
        return section
    return " ".join(pieces).rstrip(",")


def format_source(source: str, lang: str) -> str:
    """Document and section, e.g. ``Yue Cai Ban [2018] No. 6, Part I (2) 8 (1)``."""
    _check_lang(lang)
    if lang == "zh":
        return str(source)
    document, section = split_source(source)
    shown = format_document(document, lang)
    if shown == document and not _DOC_NUMBER.match(unicodedata.normalize("NFKC", document)):
        # Not a document reference at all (free text such as "quoted in the Qingcheng plan").
        return str(source)
    return f"{shown}, {format_section(section, lang)}" if section else shown


def _check_lang(lang: str) -> None:
    if lang not in LANGS:
        raise ValueError(f"language must be one of {LANGS}, not {lang!r}")
