"""What text a cell may hold: line breaks, control characters, and signs of a wrong encoding.

Text from the data reaches the report, the site and the downloads as *inline text*, so
every text column is either

- **single-line** (:data:`LINE`): ids, names, titles, units, sources, formulas, statuses.
  A line break or any other control character (tab, NUL, a lone carriage return, vertical
  tab, form feed, U+0085, the Unicode line and paragraph separators U+2028/U+2029) is an
  error; or
- **multi-line** (:data:`LINES`): free notes and summaries. Line breaks of every kind are
  normalised to ``"\\n"`` and kept (renderers show them as plain line breaks); any other
  control character is an error.

In both, invisible formatting characters (zero-width spaces, soft hyphens, bidirectional
overrides that make text display in another order than it is stored) are an error. Which
column is which is listed in ``docs/data-model.md`` and in the ``*_TEXT`` policies of
:mod:`bpsreport.ingest`, :mod:`bpsreport.submissions` and :mod:`bpsreport.catalog`.

:func:`garbled_cells` finds text that decoded without error but cannot be what was typed:
replacement characters, private-use characters, runs of ``?`` where characters were lost,
Western-European letter salad (UTF-8 or GBK read as Windows-1252), Japanese kana, and a
file whose Chinese characters are mostly outside the common simplified set (text in
Shift-JIS or Big5 read as GBK).

Examples
--------
>>> vet_text("两行\\r\\n说明", LINES)
('两行\\n说明', None, None)
>>> vet_text("城镇新增\\n就业", LINE)[1]
'one line of text (this column is single-line): found a line break (U+000A); remove it (in Excel: the Alt+Enter in the cell)'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from functools import lru_cache

from .errors import ProblemCollector

LINE = "single-line"
LINES = "multi-line"

_BREAK = re.compile(r"\r\n|[\n\r\v\f\x85\u2028\u2029]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INVISIBLE = re.compile(r"[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064"
                        r"\u2066-\u2069\ufeff\ufff9-\ufffb]")
# Anything that needs a closer look; most cells contain none of it.
_SUSPECT = re.compile(_CONTROL.pattern + "|" + _INVISIBLE.pattern + r"|[\u2028\u2029]")

_NAMES = {
    "\n": "a line break", "\r": "a carriage return", "\t": "a tab", "\v": "a vertical tab",
    "\f": "a form feed (page break)", "\x00": "a NUL character", "\x85": "a next-line character",
    "\u2028": "a line separator", "\u2029": "a paragraph separator",
    "\u200b": "a zero-width space", "\u00ad": "a soft hyphen", "\ufeff": "a zero-width no-break space",
    "\u202e": "a right-to-left override", "\u202d": "a left-to-right override",
}


def describe_char(char: str) -> str:
    """``a tab (U+0009)``: a character as a clerk can look for it."""
    name = _NAMES.get(char)
    if name is None and unicodedata.category(char) == "Cc":
        name = "a control character"
    elif name is None:
        name = "the invisible character " + unicodedata.name(char, "").lower()
    return f"{name} (U+{ord(char):04X})"


def excerpt(text: str, at: int = 0, width: int = 60) -> str:
    """Up to ``width`` characters of ``text`` around position ``at``."""
    if len(text) <= width:
        return text
    start = max(0, min(at - width // 3, len(text) - width))
    return ("…" if start else "") + text[start:start + width] + ("…" if start + width < len(text) else "")


def vet_text(text: str, kind: str) -> tuple[str, str | None, str | None]:
    """Check one cell: ``(normalised text, what was expected or None, found excerpt)``."""
    if not _SUSPECT.search(text):
        return text, None, None
    if kind == LINES:
        text = _BREAK.sub("\n", text)
    for match in _SUSPECT.finditer(text):
        char = match.group()
        if kind == LINES and char == "\n":
            continue
        where = excerpt(text, match.start())
        if _INVISIBLE.fullmatch(char):
            return text, (f"text without invisible formatting characters: found "
                          f"{describe_char(char)}; delete it (it often comes with text pasted "
                          "from a web page or Word)"), where
        if kind == LINE and _BREAK.fullmatch(char):
            hint = " (in Excel: the Alt+Enter in the cell)" if char == "\n" else ""
            return text, (f"one line of text (this column is single-line): found "
                          f"{describe_char(char)}; remove it{hint}"), where
        return text, (f"text without control characters: found {describe_char(char)}; "
                      + ("replace it with a space" if char == "\t" else "delete it")), where
    return text, None, None


def needs_vetting(texts: Iterable[str]) -> bool:
    """Whether any of the texts holds a character :func:`vet_text` would look at."""
    return bool(_SUSPECT.search(" ".join(texts)))


def vet_columns(table, policy: Mapping[str, str], problems: ProblemCollector) -> None:
    """Check the text columns of a :class:`~bpsreport.readers.RawTable` in place.

    ``policy`` maps a column name to :data:`LINE` or :data:`LINES`; columns the table
    lacks are skipped. Multi-line cells are rewritten with ``"\\n"`` line breaks.
    """
    frame = table.frame
    # The common case: the reader saw no character that needs a closer look.
    if not getattr(table, "needs_vetting", True) or frame.empty:
        return
    present = set(frame.columns)
    for column in (c for c in policy if c in present):
        values = frame[column].tolist()
        if not _SUSPECT.search(" ".join(values)):
            continue
        fixed = []
        for i, text in enumerate(values):
            new, expected, found = vet_text(text, policy[column])
            if expected is not None:
                problems.add(table.shown, expected, sheet=table.sheet, row=table.rows[i],
                             column=column, found=found)
            fixed.append(new)
        if fixed != values:
            frame[column] = fixed


# --- wrong encodings ----------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# The most specific diagnosis first.
_GARBLE_SIGNS = [
    (re.compile(r"[äåæçèé][\u00a0-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192"
                r"\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a"
                r"\u20ac\u2122]"),
     "UTF-8 text read as Windows-1252 (letters such as å, é followed by symbols)"),
    (re.compile(r"[\u00a0-\u00ff]{3,}"), "Western European letters in a row where Chinese "
     "was: GBK text read as Windows-1252"),
    (re.compile(r"[\u3041-\u30fa\u30fd-\u30ff\uff66-\uff9f]"), "Japanese kana, which a "
     "Chinese submission does not use: text in Shift-JIS"),
    (re.compile(r"\ufffd"), "a replacement character (U+FFFD), left where bytes could not "
     "be decoded"),
    (re.compile(r"[\ue000-\uf8ff]"), "a private-use character, which no encoding of Chinese "
     "text produces"),
    (re.compile(r"\?{2,}|？{2,}"), "question marks in place of characters, as left when a file "
     "is saved in an encoding without Chinese (e.g. Windows-1252, \"ANSI\")"),
]
_ANY_SIGN = re.compile("|".join(f"(?:{p.pattern})" for p, _ in _GARBLE_SIGNS))
RARE_IDEOGRAPHS = ("Chinese characters outside the common simplified set (GB2312), which is "
                   "what text in Shift-JIS or Big5 read as GBK looks like")
# A file is refused for rare ideographs only when there are enough of them to be sure.
_RARE_MIN, _RARE_SHARE = 3, 0.25


@lru_cache(maxsize=65536)
def _common(char: str) -> bool:
    try:
        char.encode("gb2312")
        return True
    except UnicodeEncodeError:
        return False


def garbled_cells(cells: Iterable[tuple[int, str, str]]) -> list[tuple[int, str, str, str]]:
    """Cells whose text shows a wrong encoding: ``(row, column, excerpt, what it looks like)``.

    ``cells`` are ``(row, column, text)`` triples of one file.
    """
    cells = [c for c in cells if c[2]]
    joined = "\x1f".join(text for _, _, text in cells)
    found: list[tuple[int, str, str, str]] = []
    if _ANY_SIGN.search(joined):
        for row, column, text in cells:
            for pattern, words in _GARBLE_SIGNS:
                match = pattern.search(text)
                if match:
                    found.append((row, column, excerpt(text, match.start()), words))
                    break
    ideographs = _CJK.findall(joined)
    if ideographs:
        rare = {c for c in set(ideographs) if not _common(c)}
        count = sum(1 for c in ideographs if c in rare)
        if count >= _RARE_MIN and count >= _RARE_SHARE * len(ideographs):
            flagged = {(r, c) for r, c, _, _ in found}
            for row, column, text in cells:
                hit = next((i for i, ch in enumerate(text) if ch in rare), None)
                if hit is not None and (row, column) not in flagged:
                    found.append((row, column, excerpt(text, hit), RARE_IDEOGRAPHS))
    return found


__all__ = ["LINE", "LINES", "vet_text", "vet_columns", "needs_vetting", "garbled_cells", "describe_char", "excerpt"]
