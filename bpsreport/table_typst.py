"""Great Tables tables as Typst: the official table of the PDF editions.

A table cell of a notebook offers two representations of the same table
(:func:`bpsreport.notebooks.table_bundle`):

- ``text/html``: Great Tables' own HTML, which Quarto (and the built-in renderer) put on
  the site;
- ``text/markdown``: a raw Typst block (```` ```{=typst} ````) holding an
  ``official-data-table(...)`` call, which Quarto prefers for Typst output and passes
  through unchanged (``src/core/jupyter/display-data.ts``: for non-HTML formats
  ``text/markdown`` ranks first). The function is defined by the project's Typst template
  partial (``templates/typst/typst-template.typ``), which both renderers use.

The Typst call is made here, on the notebook side, from the table's HTML, so both
renderers get exactly the same table: status cells keep the palette of
``config/status.yml`` (their fill and text colour), footnote marks become superscripts,
list cells keep one item per line, and source notes and footnotes follow the table.
Every piece of text is written as a Typst string literal, so data can never become
Typst markup.

Examples
--------
>>> from bpsreport.tables import table_html                       # doctest: +SKIP
>>> code = gt_html_to_typst(table_html(gt))                        # doctest: +SKIP
>>> code.startswith("official-data-table(")                        # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["GtTable", "parse_gt_table", "gt_html_to_typst", "typst_markdown", "typst_value"]

_LENGTH = re.compile(r"^-?\d+(?:\.\d+)?(?:pt|mm|cm|in|em)$")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def typst_value(value: object, *, color: bool = False) -> str:
    """A plain value as a Typst literal: lengths stay lengths, colours become ``rgb()``.

    >>> typst_value({"size": "12pt", "names": ["a"]})
    '(size: 12pt, names: ("a",))'
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not (value == value and abs(value) != float("inf")):
            raise ValueError(f"cannot write the non-finite number {value!r} as Typst")
        return repr(value)
    if isinstance(value, str):
        if color:
            return f'rgb("#{value.lstrip("#")}")'
        if _LENGTH.match(value.strip()):
            return value.strip()
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        items = [typst_value(v, color=color) for v in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, Mapping):
        if not value:
            return "(:)"
        parts = []
        for key, item in value.items():
            name = str(key) if _IDENT.match(str(key)) else json.dumps(str(key), ensure_ascii=False)
            try:
                parts.append(f"{name}: {typst_value(item, color=color or key == 'colors')}")
            except ValueError as exc:  # say where: "sizes.body_size: cannot write …"
                inner = str(exc)
                raise ValueError(f"{key}: {inner}" if inner.startswith("cannot")
                                 else f"{key}.{inner}") from None
        return "(" + ", ".join(parts) + ")"
    raise ValueError(f"cannot write {value!r} as Typst")


def _typst_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _content(text: str) -> str:
    """Plain text as Typst markup content (inside ``[...]``)."""
    return f"#{_typst_string(text)}" if text else ""


@dataclass
class _Cell:
    parts: list = field(default_factory=list)  # Typst markup pieces
    style: dict = field(default_factory=dict)
    classes: tuple = ()
    colspan: int = 1

    def markup(self) -> str:
        return "".join(self.parts).strip()


class _GtParser(HTMLParser):
    """Reads the table of Great Tables' HTML: title, headings, rows, notes."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.widths: list[float] = []
        self.title: _Cell | None = None
        self.subtitle: _Cell | None = None
        self.header: list[_Cell] = []
        self.rows: list[tuple[str, list[_Cell]]] = []  # ("group"|"data", cells)
        self.notes: list[_Cell] = []
        self._section = None
        self._row: list[_Cell] | None = None
        self._row_kind = "data"
        self._cell: _Cell | None = None
        self._stack: list[str] = []  # open inline elements that close with a suffix
        self._skip = 0
        self._text: list[str] = []
        self.found_table = False

    # -- helpers
    def _flush(self):
        if self._cell is not None and self._text:
            text = re.sub(r"\s+", " ", "".join(self._text))
            if text:
                self._cell.parts.append(_content(text))
        self._text = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = tuple((a.get("class") or "").split())
        if tag in ("style", "script"):
            self._skip += 1
            return
        if tag == "table":
            self.found_table = True
        elif tag == "col":
            m = re.search(r"width:\s*([\d.]+)%", a.get("style") or "")
            self.widths.append(float(m.group(1)) if m else 0.0)
        elif tag in ("thead", "tbody", "tfoot"):
            self._section = tag
        elif tag == "tr":
            self._row = []
            self._row_kind = "data"
        elif tag in ("td", "th"):
            self._flush()
            if "gt_group_heading" in cls:
                self._row_kind = "group"
            self._cell = _Cell(style=_css(a.get("style") or ""), classes=cls,
                               colspan=int(a.get("colspan") or 1))
        elif self._cell is not None:
            self._flush()
            if tag == "span" and "gt_footnote_marks" in cls:
                self._cell.parts.append("#super[")
                self._stack.append("]")
            elif tag in ("strong", "b"):
                self._cell.parts.append("#strong[")
                self._stack.append("]")
            elif tag in ("em", "i"):
                self._cell.parts.append("#emph[")
                self._stack.append("]")
            elif tag == "div":
                # One item of a list cell (departments, targets): its own hanging line.
                self._cell.parts.append("#block(above: 0.25em, below: 0.25em, par(hanging-indent: 1em)[")
                self._stack.append("])")
            elif tag == "br":
                self._cell.parts.append("#linebreak()")
            else:
                self._stack.append("")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in ("col", "br"):
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in ("style", "script"):
            self._skip = max(0, self._skip - 1)
            return
        if tag in ("td", "th") and self._cell is not None:
            self._flush()
            while self._stack:
                self._cell.parts.append(self._stack.pop())
            if self._row is not None:
                self._row.append(self._cell)
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self._end_row(self._row)
            self._row = None
        elif tag in ("thead", "tbody", "tfoot"):
            self._section = None
        elif self._cell is not None and tag not in ("col", "br"):
            self._flush()
            if self._stack:
                self._cell.parts.append(self._stack.pop())

    def handle_data(self, data):
        if self._skip or self._cell is None:
            return
        self._text.append(data)

    def _end_row(self, cells: list[_Cell]):
        if not cells:
            return
        first = cells[0]
        if "gt_title" in first.classes:
            self.title = first
        elif "gt_subtitle" in first.classes:
            self.subtitle = first
        elif any("gt_col_heading" in c.classes for c in cells):
            self.header = cells
        elif any(cls in first.classes for cls in ("gt_sourcenote", "gt_footnote")):
            self.notes.append(first)
        elif self._section in ("tbody", None) or self._row_kind == "group":
            self.rows.append((self._row_kind, cells))


def _css(style: str) -> dict:
    out = {}
    for part in style.split(";"):
        if ":" in part:
            key, value = part.split(":", 1)
            out[key.strip().lower()] = value.strip()
    return out


def _hex(color: str | None) -> str | None:
    if not color:
        return None
    m = re.fullmatch(r"#?([0-9a-fA-F]{6})", color.strip())
    if m:
        return m.group(1).upper()
    m = re.fullmatch(r"#?([0-9a-fA-F]{3})", color.strip())
    return "".join(ch * 2 for ch in m.group(1)).upper() if m else None


def _align(cell: _Cell) -> str:
    for cls, where in (("gt_right", "right"), ("gt_center", "center"), ("gt_left", "left")):
        if cls in cell.classes:
            return where
    return "left"


@dataclass
class GtTable:
    """The parts of a Great Tables table, as Typst markup."""

    parser: _GtParser

    def has_data(self) -> bool:
        return any(kind == "data" for kind, _ in self.parser.rows)

    def title_markup(self) -> str:
        return self.parser.title.markup() if self.parser.title is not None else ""

    def typst(self, *, with_title: bool = True) -> str:
        """An ``official-data-table(...)`` call (see templates/typst/typst-template.typ)."""
        p = self.parser
        columns = max([len(p.header)] + [sum(c.colspan for c in cells)
                                          for kind, cells in p.rows if kind == "data"])
        widths = p.widths[:columns] if len(p.widths) >= columns else []
        if not widths or not all(w > 0 for w in widths):
            widths = [1.0] * columns
        first_data = next((cells for kind, cells in p.rows if kind == "data"), p.header)
        aligns = [_align(c) for c in first_data] + ["left"] * (columns - len(first_data))
        rows = []
        for kind, cells in p.rows:
            if kind == "group":
                rows.append(f"(group: [{cells[0].markup()}])")
            else:
                rows.append("(cells: (" + ", ".join(_cell_code(c) for c in cells) + ",))")
        args = []
        if with_title and self.title_markup():
            args.append(f"title: [{self.title_markup()}]")
        if p.subtitle is not None and p.subtitle.markup():
            args.append(f"subtitle: [{p.subtitle.markup()}]")
        args.append("widths: " + typst_value([round(w, 3) for w in widths]))
        args.append("aligns: " + _tuple(aligns))
        args.append("header: " + _tuple(f"[{c.markup()}]" for c in p.header))
        args.append("rows: " + _tuple(rows))
        args.append("notes: " + _tuple(f"[{n.markup()}]" for n in p.notes if n.markup()))
        return "official-data-table(" + ", ".join(args) + ")"


def _tuple(items: Iterable[str]) -> str:
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _cell_code(cell: _Cell) -> str:
    """A body cell; a styled one (a status) as ``(body:, fill:, color:, bold:)``."""
    body = f"[{cell.markup()}]"
    fill = _hex(cell.style.get("background-color"))
    color = _hex(cell.style.get("color"))
    bold = "bold" in cell.style.get("font-weight", "")
    if not (fill or color or bold):
        return body
    parts = [f"body: {body}"]
    if fill:
        parts.append(f'fill: "{fill}"')
    if color:
        parts.append(f'color: "{color}"')
    if bold:
        parts.append("bold: true")
    return "(" + ", ".join(parts) + ")"


def parse_gt_table(html_text: str) -> GtTable | None:
    """Read a Great Tables table from its HTML; ``None`` when the HTML holds no table."""
    parser = _GtParser()
    parser.feed(html_text)
    parser.close()
    if not parser.found_table or not (parser.rows or parser.header):
        return None
    return GtTable(parser)


def gt_html_to_typst(html_text: str) -> str | None:
    """A Great Tables table (its HTML) as an ``official-data-table(...)`` call, or ``None``
    when the HTML holds no table.

    Status cells keep their fill and text colour, footnote marks become superscripts, list
    cells keep one item per line, source notes and footnotes follow the table.
    """
    table = parse_gt_table(html_text)
    return None if table is None else table.typst()


def typst_markdown(html_text: str, *, with_title: bool = False) -> str | None:
    """The ``text/markdown`` representation of a table cell: a raw Typst block with the
    table, or ``None`` when the HTML holds no table.

    The caption (``tbl-cap``) is the float's, so the table's own title is left out unless
    ``with_title``.
    """
    table = parse_gt_table(html_text)
    if table is None:
        return None
    code = table.typst(with_title=with_title)
    return "```{=typst}\n#" + code + "\n```\n"
