"""Markup that looks right in an editor but is published as literal text.

Staff write narrative in Word, WPS or a Chinese input method and paste it into ``.qmd``
files. Typing in full-width mode (全角) or pasting from a word processor produces markup
that pandoc and Quarto do not read as markup, so it builds without an error and is
published as it stands: ``｛｛＜ var … ＞｝｝`` appears on the page, a heading ``#　标题``
(ideographic space) stays a paragraph, a zero-width space splits a variable name.
:func:`markup_problems` finds each of these classes in one file, line by line, with the
fix; ``pipeline.py check`` reports them as errors (see ``docs/guide-en.md``).

Classes
-------
``fullwidth-shortcode``
    A shortcode typed with full-width braces or angle brackets (｛ ｝ ＜ ＞ ％).
``shortcode-malformed``
    ``{{< var … }}``, ``{< var … >}}``: a shortcode whose delimiters do not pair up.
``fullwidth-markup``
    Any other markdown character typed full-width where markup goes: ＃ heading, ＞ quote,
    － ＊ ＋ list, １． numbered list, ：：： div, ｜ table, ＊＊ bold, ｀ code, ＠fig-
    reference, ［…］（…） link, ｛#id｝ attribute.
``markup-space``
    A full-width (U+3000) or non-breaking space where markup needs an ordinary space
    (after ``#``, a list marker or ``>``), a heading ``#`` with no space at all, or such
    spaces at the start of a line (Word's paragraph indent) or inside a shortcode,
    attribute or div fence.
``invisible-character``
    A zero-width, direction or other invisible format character (Unicode category Cf:
    U+200B, U+200C, U+200D, U+2060, U+FEFF, U+00AD, U+200E …) anywhere outside code.
``unbalanced-emphasis``
    A paragraph with an odd number of ``**`` (or ``__``): one opens or closes nothing.
``unclosed-div``
    A ``:::`` block that is never closed, or a closing ``:::`` that closes nothing.
``heading-skipped``
    A heading more than one level below the previous heading of the same file
    (``##`` then ``####``): the numbering (（一） then （1）) misses a level.

Fenced code, code spans and HTML comments are never examined.

Examples
--------
>>> [(p.line, p.code) for p in markup_problems(["#　标题", "正文**加粗"])]
[(1, 'markup-space'), (2, 'unbalanced-emphasis')]
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

#: Spaces that look like a space but are not the one markup needs.
ODD_SPACES = "\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_ODD_SPACE = re.compile(f"[{ODD_SPACES}]")
_SPACE_NAMES = {"\u3000": "an ideographic (full-width) space 全角空格", "\u00a0": "a non-breaking space"}

_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)(?!`).*?(?<!`)\1(?!`)")
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)

# Shortcode delimiters, half- or full-width; a match holding a full-width one is a problem.
_SHORTCODE_OPEN = re.compile(r"[{｛][ \t\u3000]*[{｛][ \t\u3000]*[<＜%％]")
_SHORTCODE_CLOSE = re.compile(r"[>＞%％][ \t\u3000]*[}｝][ \t\u3000]*[}｝]")
_FULLWIDTH_DELIMITERS = set("｛｝＜＞％")
_HALF_OPEN = re.compile(r"(?<!\{)\{\{[<%]")
_HALF_CLOSE = re.compile(r"[>%]\}\}(?!\})")
_LONE_OPEN = re.compile(r"(?<![{｛])[{｛][<＜%％][ \t]*(?:var|meta|include|embed)\b")

# Full-width markup characters in the places markup goes.
_LINE_START_MARKUP = [
    (re.compile(r"^[ \t]*(＃+)"), "#", "a heading"),
    (re.compile(r"^[ \t]*(＞)"), ">", "a block quote"),
    (re.compile(r"^[ \t]*([－＊＋])[ \t\u3000]"), "-", "a list item"),
    (re.compile(r"^[ \t]*([0-9０-９]+[．）])[ \t\u3000]"), "1.", "a numbered list item"),
    (re.compile(r"^[ \t]*([:：]{3,})"), ":::", "a div (::: block)"),
    (re.compile(r"^[ \t]*(｜)"), "|", "a table row"),
]
_INLINE_MARKUP = [
    (re.compile(r"(＊＊|\*＊|＊\*)"), "**", "bold"),
    (re.compile(r"(｀)"), "`", "code"),
    (re.compile(r"(＠)(?:fig|tbl|sec)-"), "@", "a cross-reference"),
    (re.compile(r"(［[^］\]\n]*[］\]][（(])"), "[text](target)", "a link"),
    (re.compile(r"(！[\[［])"), "![", "an image"),
    (re.compile(r"(｛[ \t]*[#.][\w-])"), "{#id}", "an attribute"),
]
_HEADING_NO_SPACE = re.compile(r"^(#{1,6})(?=[^\s#|!])")
_MARKER_THEN_ODD = re.compile(rf"^[ \t]*(#{{1,6}}|[-*+]|\d+[.)]|>)[ \t]*([{ODD_SPACES}])")
_LEADING_ODD = re.compile(rf"^[ \t]*([{ODD_SPACES}]+)(?=\S)")
_DIV_FENCE = re.compile(r"^\s{0,3}(:{3,})(.*)$")
_HEADING = re.compile(r"^(#{1,6})[ \t]+\S")
_EMPHASIS = re.compile(r"\*\*+|__+")


@dataclass(frozen=True)
class MarkupProblem:
    """One problem: its 1-based line, a code (see the module docstring) and the message."""

    line: int
    code: str
    message: str


def _visible_lines(lines: list[str], body_start: int) -> list[str | None]:
    """The lines with code spans and comments blanked; ``None`` for front matter and code."""
    out: list[str | None] = []
    fence = None
    for i, line in enumerate(lines):
        if i < body_start:
            out.append(None)
            continue
        m = _FENCE.match(line)
        if fence is not None:
            out.append(None)
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            out.append(None)
            continue
        out.append(_CODE_SPAN.sub(lambda s: " " * len(s.group(0)), line))
    text = "\n".join("\0" if x is None else x for x in out)
    text = _COMMENT.sub(lambda m: re.sub(r"[^\n\0]", " ", m.group(0)), text)
    return [None if x == "\0" else x for x in text.split("\n")]


def _excerpt(line: str, start: int, end: int, width: int = 24) -> str:
    a, b = max(0, start - width // 2), min(len(line), end + width // 2)
    return ("…" if a else "") + line[a:b].strip() + ("…" if b < len(line) else "")


def _char_name(ch: str) -> str:
    return f"U+{ord(ch):04X} {unicodedata.name(ch, 'UNNAMED')}"


def _halfwidth(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("\u3000", " ")


def markup_problems(lines: list[str], *, body_start: int = 0) -> list[MarkupProblem]:
    """Every problem of the module docstring's classes in one file's lines.

    ``body_start`` is the 0-based index of the first line after the YAML front matter.
    """
    visible = _visible_lines(lines, body_start)
    found: list[MarkupProblem] = []
    for i, line in enumerate(visible):
        if line is None:
            continue
        found += [MarkupProblem(i + 1, code, message) for code, message in _line_problems(line)]
    found += _block_problems(visible)
    return sorted(set(found), key=lambda p: (p.line, p.code, p.message))


def _line_problems(line: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    # Invisible characters, anywhere.
    for column, ch in enumerate(line):
        if unicodedata.category(ch) == "Cf":
            out.append(("invisible-character",
                        f"an invisible character {_char_name(ch)} at column {column + 1} "
                        f"(«{_excerpt(line, column, column + 1)}»); it usually comes from "
                        "pasting from Word or a web page and breaks names and markup: delete it "
                        "(move the cursor across it and press Delete)"))
    # Shortcodes typed full-width: one finding per line, naming every such delimiter.
    wide = [m for pattern in (_SHORTCODE_OPEN, _SHORTCODE_CLOSE) for m in pattern.finditer(line)
            if _FULLWIDTH_DELIMITERS & set(m.group(0))]
    if wide:
        first, last = min(m.start() for m in wide), max(m.end() for m in wide)
        chars = sorted(_FULLWIDTH_DELIMITERS & set("".join(m.group(0) for m in wide)))
        fixed = "; ".join(dict.fromkeys(f"«{m.group(0)}» → «{_halfwidth(m.group(0)).replace(' ', '')}»"
                                        for m in wide))
        out.append(("fullwidth-shortcode",
                    f"«{_excerpt(line, first, last)}» is a shortcode typed with full-width "
                    f"characters ({' '.join(chars)}), which is published as literal text; retype "
                    f"it in half-width (半角) characters: {fixed}, e.g. "
                    "{{< var y2018.urban_new_jobs.actual.zh >}}"))
    out += _malformed_shortcodes(line)
    # Full-width markup characters.
    for pattern, half, what in _LINE_START_MARKUP:
        m = pattern.match(line)
        if m and re.search(r"[＃＞－＊＋０-９．）：｜]", m.group(1)):
            out.append(("fullwidth-markup",
                        f"«{m.group(1)}» at the start of the line is the full-width form of "
                        f"«{half}», so the line is not {what} but text published as it stands; "
                        f"type «{_halfwidth(m.group(1))}» in half-width (半角) characters"))
    for pattern, half, what in _INLINE_MARKUP:
        for m in pattern.finditer(line):
            out.append(("fullwidth-markup",
                        f"«{_excerpt(line, m.start(), m.end())}»: «{m.group(1)}» is typed full-width, "
                        f"so it does not make {what} and is published as it stands; type "
                        f"«{_halfwidth(m.group(1))}» in half-width (半角) characters"))
    # Spaces markup cannot use.
    m = _MARKER_THEN_ODD.match(line)
    if m:
        out.append(("markup-space",
                    f"«{_excerpt(line, 0, m.end())}»: after «{m.group(1)}» comes "
                    f"{_SPACE_NAMES.get(m.group(2), _char_name(m.group(2)))}, so the line is "
                    "published as plain text instead of markup; replace it with an ordinary "
                    "half-width space"))
    elif _HEADING_NO_SPACE.match(line) and not line.startswith("#|"):
        hashes = _HEADING_NO_SPACE.match(line).group(1)
        out.append(("markup-space",
                    f"«{_excerpt(line, 0, len(hashes) + 4)}» is not a heading: a heading needs "
                    f"a space after «{hashes}»; write «{hashes} {line[len(hashes):len(hashes) + 6].strip()}…»"))
    else:
        m = _LEADING_ODD.match(line)
        if m:
            names = ", ".join(sorted({_SPACE_NAMES.get(c, _char_name(c)) for c in m.group(1)}))
            out.append(("markup-space",
                        f"the line starts with {len(m.group(1))} × {names} (a paragraph indent "
                        "from a word processor); the layout indents paragraphs itself, and "
                        "before markup these spaces stop it from working: delete them"))
    for m in re.finditer(r"\{\{[<%].*?[>%]\}\}|\{[#.][^{}]*\}|^\s*:{3,}.*$", line):
        odd = _ODD_SPACE.search(m.group(0))
        if odd:
            out.append(("markup-space",
                        f"«{m.group(0).strip()}» contains {_SPACE_NAMES.get(odd.group(0), _char_name(odd.group(0)))}; "
                        "inside a shortcode, attribute or ::: fence only ordinary half-width "
                        "spaces work: retype the spaces"))
    return out


def _malformed_shortcodes(line: str) -> list[tuple[str, str]]:
    """Half-width shortcode delimiters that do not pair up on the line."""
    out = []
    opens = [m.start() for m in _HALF_OPEN.finditer(line)]
    closes = [m.start() for m in _HALF_CLOSE.finditer(line)]
    pos = 0
    for start in opens:
        if start < pos:
            continue
        after = [c for c in closes if c > start]
        nxt = [o for o in opens if o > start]
        if not after or (nxt and nxt[0] < after[0]):
            out.append(("shortcode-malformed",
                        f"«{_excerpt(line, start, start + 20)}» opens a shortcode with {line[start:start + 3]} "
                        f"but does not close it with {'>}}' if line[start + 2] == '<' else '%}}'} on "
                        "the same line, so it is not read as one; write e.g. "
                        "{{< var y2018.urban_new_jobs.actual.zh >}}"))
            continue
        pos = after[0] + 3
    lone = [m for m in _LONE_OPEN.finditer(line) if not _FULLWIDTH_DELIMITERS & set(m.group(0))]
    for m in lone:
        out.append(("shortcode-malformed",
                    f"«{_excerpt(line, m.start(), m.end())}» opens a shortcode with one brace; "
                    "a shortcode starts with two: {{< var … >}}"))
    for m in _HALF_CLOSE.finditer(line):
        before = [o for o in opens if o < m.start()] + [x.start() for x in lone if x.start() < m.start()]
        if not before and not _SHORTCODE_OPEN.search(line[:m.start()]):
            out.append(("shortcode-malformed",
                        f"«{_excerpt(line, m.start(), m.end())}» closes a shortcode that was never "
                        "opened with {{<; write e.g. {{< var y2018.urban_new_jobs.actual.zh >}}"))
    return out


def _block_problems(visible: list[str | None]) -> list[MarkupProblem]:
    out: list[MarkupProblem] = []
    # Unbalanced ** and __, per paragraph (shortcodes and attributes taken out first).
    paragraph: list[tuple[int, str]] = []

    def close_paragraph() -> None:
        for marker in ("**", "__"):
            runs = [(n, m) for n, text in paragraph for m in _EMPHASIS.finditer(text)
                    if m.group(0)[0] == marker[0] and len(m.group(0)) in (2, 3)]
            if len(runs) % 2:
                n, m = runs[-1]
                text = dict(paragraph)[n]
                out.append(MarkupProblem(n, "unbalanced-emphasis",
                                         f"«{_excerpt(text, m.start(), m.end())}»: this paragraph has "
                                         f"{len(runs)} × {marker}, so one of them opens or closes "
                                         f"nothing and is published as it stands; add the missing "
                                         f"{marker} or delete the stray one"))
        paragraph.clear()

    for i, line in enumerate(visible):
        if line is None or not line.strip() or _DIV_FENCE.match(line) or _HEADING.match(line):
            close_paragraph()
            if line is not None and _HEADING.match(line):
                paragraph.append((i + 1, _strip_codes(line)))
                close_paragraph()
            continue
        if re.match(r"^\s*(?:[-*+]|\d+[.)])\s", line):
            close_paragraph()
        paragraph.append((i + 1, _strip_codes(line)))
    close_paragraph()
    # ::: blocks.
    opened: list[tuple[int, str]] = []
    for i, line in enumerate(visible):
        if line is None:
            continue
        m = _DIV_FENCE.match(line)
        if not m:
            continue
        rest = m.group(2).strip()
        if rest and not re.fullmatch(r":*", rest):
            opened.append((i + 1, line.strip()))
        elif opened:
            opened.pop()
        else:
            out.append(MarkupProblem(i + 1, "unclosed-div",
                                     "this ::: closes a block that was never opened; delete it, "
                                     "or open the block above with e.g. ::: {.callout-note}"))
    for n, text in opened:
        out.append(MarkupProblem(n, "unclosed-div",
                                 f"«{text}» opens a block that is never closed, so everything after "
                                 "it falls inside the block (the PDF may fail to build); add a line "
                                 "::: where the block ends"))
    # Heading levels.
    previous: tuple[int, int, str] | None = None
    for i, line in enumerate(visible):
        if line is None:
            continue
        m = _HEADING.match(line)
        if not m:
            continue
        level = len(m.group(1))
        if previous is not None and level > previous[0] + 1:
            out.append(MarkupProblem(
                i + 1, "heading-skipped",
                f"a level-{level} heading («{line.strip()[:30]}») follows a level-{previous[0]} "
                f"heading (line {previous[1]}, «{previous[2][:30]}»): level {previous[0] + 1} is "
                f"skipped, so the numbering misses a step (（一） then （1）); use "
                f"{'#' * (previous[0] + 1)} or add the missing heading"))
        previous = (level, i + 1, line.strip())
    return out


def _strip_codes(text: str) -> str:
    """A line without shortcodes and attributes, whose characters are not emphasis."""
    return re.sub(r"\{\{[<%].*?[>%]\}\}|\{[#.][^{}]*\}|\\[*_]", lambda m: " " * len(m.group(0)), text)


def resolved_heading_problems(lines) -> list[tuple[object, int, str]]:
    """Skipped heading levels in a resolved document (lines with ``file`` and ``line``).

    For ``report.qmd``, whose parts are numbered as one document in the PDF: a part whose
    first heading is two levels below the heading it is included under skips a level
    there even though the part is consistent in itself. Returns ``(file, line, message)``.
    """
    out = []
    previous = None
    fence = None
    for src in lines:
        m = _FENCE.match(src.text)
        if fence is not None:
            if m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence):
                fence = None
            continue
        if m:
            fence = m.group(1)
            continue
        h = _HEADING.match(src.text)
        if not h:
            continue
        level = len(h.group(1))
        if previous is not None and level > previous[0] + 1:
            out.append((src.file, src.line,
                        f"in the PDF this level-{level} heading («{src.text.strip()[:30]}») "
                        f"comes right after a level-{previous[0]} heading («{previous[1][:30]}»), "
                        f"so level {previous[0] + 1} is skipped and the numbering misses a step; "
                        f"use {'#' * (previous[0] + 1)}"))
        previous = (level, src.text.strip())
    return out
