"""The PDF editions of the built-in renderer: pandoc's Typst writer, the official template,
the typst wheel.

One PDF per language, in the style of the printed documents (GB/T 9704-2012: red
issuing-agency mark, document number, red rule, numbered headings 一、 （一） 1. （1）,
28 characters by 22 lines of 三号 仿宋)::

    reports/<year>/<lang>/report.qmd
      --resolve (qmd.py: includes, variables, embedded notebook outputs)--> pandoc markdown
      --pandoc (JSON AST, adjusted here)--> Typst, through templates/typst/report.typst
      --typst wheel--> <site>/<lang>/reports/<year>/<lang>/report.pdf  (where Quarto writes it)

The project's post-render step then publishes it in the downloads and puts both languages
in one file (:mod:`bpsreport.postrender`), for Quarto's output and this one alike.

What this module adds between pandoc and Typst, in :func:`adjust_ast`, makes the Typst
what Quarto writes for the same sources:

- a float (an embedded cell's ``::: {#tbl-…}`` / ``{#fig-…}`` div, a ``![…](…){#fig-…}``
  figure, a captioned table) becomes Quarto's ``#figure([…], caption:
  figure.caption(position: …), kind: "quarto-float-tbl", supplement: "表")`` with its label;
  an embedded table's body is the raw Typst block its notebook cell offers
  (:mod:`bpsreport.table_typst`), passed through unchanged;
- a callout div becomes an ``official-callout`` box (its ``## Title`` is the box title,
  not a numbered heading); the official PDF's own sources use none;
- ``@fig-``/``@tbl-``/``@sec-`` references become Typst references, without the space
  that separates them from Chinese text in the source (见图1);
- the addressee line of the cover notice (its first paragraph, ending with a colon)
  starts at the margin;
- every image file is copied next to the Typst source (``build/<unit>/<year>/typst/<lang>/``,
  kept for inspection), which is compiled with that folder as its root.

The template (``templates/typst/typst-template.typ``) sets the rest: the 版头 from
``edition.issuer_mark`` and ``edition.doc_number``; the title; GB/T 9704 numbering; an
unnumbered top-level heading opens a part on a new page, and the cover notice before the
first one is signed with ``edition.issuer`` and ``edition.issued``; the 版记 (disclosure,
copies, printing office and date) closes the last page; a draft edition carries its mark
(征求意见稿 / DRAFT) on every page.

Geometry, sizes and fonts are data (``config/pdf.yml``); the issuing details come from
``config/edition.yml``. Both reach the template as document metadata (:func:`pdf_metadata`),
which the Quarto backend passes to real Quarto as ``--metadata-file``. The PDFs carry the
edition's issue date as their creation date, so an unchanged edition rebuilds byte for byte.

Examples
--------
>>> render_typst_document(root / "reports/2017/zh/report.qmd", out_pdf, project=project,
...                       lang="zh", year=2017, root=root, work_dir=work)   # doctest: +SKIP
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

import yaml

from bpsreport.render import RenderError
from bpsreport import yamlio
from bpsreport.clean_store import write_bytes_atomic

if TYPE_CHECKING:  # pragma: no cover
    from bpsreport.render import RenderRequest
    from bpsreport.render.project import ProjectConfig
    from bpsreport.render.qmd import EmbeddedFigure, EmbeddedTable

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: pandoc's reader, as ``format: from:`` in _quarto.yml gives it to Quarto: a line break
#: between two Chinese characters is no space (pandoc's east_asian_line_breaks).
MARKDOWN_READER = "markdown+east_asian_line_breaks"
PDF_CONFIG = PROJECT_ROOT / "config" / "pdf.yml"
EDITION_CONFIG = PROJECT_ROOT / "config" / "edition.yml"
TEMPLATE_DIR = PROJECT_ROOT / "templates" / "typst"
PANDOC_TEMPLATE = TEMPLATE_DIR / "report.typst"
#: The two Quarto template partials (format: typst: template-partials).
TEMPLATE_PARTIALS = (TEMPLATE_DIR / "typst-template.typ", TEMPLATE_DIR / "typst-show.typ")
REPORT_SOURCE = "report.qmd"
LANGS = ("zh", "en")
# Font roles whose families must draw Chinese, per language.
_CJK_ROLES = {"zh": ("mark", "title", "heading1", "heading2", "heading3", "heading4", "body",
                     "page_number", "table", "table_head"), "en": ()}
_CALLOUT = re.compile(r"^callout-(note|tip|important|warning|caution)$")
_CROSSREF = re.compile(r"^(fig|tbl|sec)-")


class PdfFontMissing(RenderError):
    """No installed font can draw the Chinese text of the PDF."""

    exit_code = 4


class PdfBuildError(RenderError):
    """pandoc or Typst failed; the message names the intermediate file kept for inspection."""


# --- configuration --------------------------------------------------------------------------

@lru_cache(maxsize=4)
def _load_yaml(path: Path, mtime: float) -> dict:
    with open(path, encoding="utf-8") as fh:
        data = yamlio.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise RenderError(f"{path}: expected a YAML mapping at the top level")
    for where, value in _leaves(data):
        if isinstance(value, float) and not math.isfinite(value):
            raise RenderError(f"{path}: {where} is {value!r}, which no page can take; expected a "
                              "length such as 16pt or 2.5cm, or a finite number")
    return data


def _leaves(value, where: str = ""):
    """``(dotted.key.path, value)`` of every scalar in nested mappings and lists."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{where}[{i}]")
    else:
        yield where, value


def load_pdf_config(path: Path = PDF_CONFIG) -> dict:
    """``config/pdf.yml`` (a fresh copy; callers may change it)."""
    path = Path(path)
    if not path.is_file():
        raise RenderError(f"{path}: the PDF settings file is missing")
    return copy.deepcopy(_load_yaml(path, path.stat().st_mtime))


def font_dirs(config: Mapping, root: Path = PROJECT_ROOT) -> list[Path]:
    """The existing folders of ``font_paths`` (project-relative or absolute, ``~`` expanded)."""
    found = []
    for entry in config.get("font_paths") or []:
        path = Path(os.path.expanduser(str(entry)))
        path = path if path.is_absolute() else Path(root) / path
        if path.is_dir() and path not in found:
            found.append(path)
    return found


@dataclass(frozen=True)
class FontFace:
    family: str
    path: str | None
    index: int


@lru_cache(maxsize=8)
def installed_fonts(dirs: tuple[str, ...]) -> dict[str, tuple[FontFace, ...]]:
    """Every font family Typst can use (system fonts, ``dirs``, its embedded fonts), by
    case-folded family name."""
    import typst

    out: dict[str, list[FontFace]] = {}
    for info in typst.Fonts(include_system_fonts=True, include_embedded_fonts=True,
                            font_paths=list(dirs)).fonts():
        out.setdefault(info.family.casefold(), []).append(
            FontFace(info.family, info.path, int(info.index or 0)))
    return {k: tuple(v) for k, v in out.items()}


@lru_cache(maxsize=64)
def _covers(face: FontFace, probe: str) -> bool:
    if not face.path:
        return False
    from bpsreport.style import font_covers

    try:
        return font_covers(face.path, probe, face.index)
    except Exception:  # an unreadable font file is simply not a candidate
        return False


def font_fingerprint(dirs: Iterable[Path]) -> str:
    """What decides which fonts Typst finds: every font file under ``dirs`` and the system
    font folders (path, size, modification time), and the Typst version."""
    import typst

    digest = hashlib.sha256(str(getattr(typst, "__version__", "")).encode())
    folders = [Path(d) for d in dirs] + [Path(p) for p in ("/usr/share/fonts", "/usr/local/share/fonts",
                                                          os.path.expanduser("~/.local/share/fonts"),
                                                          os.path.expanduser("~/.fonts"))]
    seen = set()
    for folder in folders:
        if not folder.is_dir() or folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        for base, _dirs, files in sorted(os.walk(folder)):
            for name in sorted(files):
                if name.lower().endswith((".ttf", ".otf", ".ttc", ".otc", ".woff", ".woff2")):
                    path = Path(base) / name
                    try:
                        st = path.stat()
                    except OSError:
                        continue
                    digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


FONT_CACHE = Path("build") / "pdf-fonts.json"


def resolve_fonts(config: Mapping, lang: str, dirs: Iterable[Path], *,
                  cache: Path | None = None) -> dict[str, list[str]]:
    """:func:`find_fonts`, remembered in ``cache`` (a JSON file) while the installed fonts
    and the configured families stay the same: finding which fonts can draw Chinese reads
    every font file, about two seconds."""
    dirs = [Path(d) for d in dirs]
    if cache is None:
        return find_fonts(config, lang, dirs)
    key = hashlib.sha256(json.dumps(
        [font_fingerprint(dirs), (config.get("fonts") or {}).get(lang), config.get("probe_text"),
         [str(d) for d in dirs]], ensure_ascii=False, sort_keys=True).encode()).hexdigest()
    # The PDFs of both languages are typeset in threads; the file holds both languages'
    # entries, so its read-modify-write is one at a time.
    with _FONT_CACHE_LOCK:
        return _resolve_fonts_cached(config, lang, dirs, cache, key)


_FONT_CACHE_LOCK = threading.Lock()


def _resolve_fonts_cached(config: Mapping, lang: str, dirs: list[Path], cache: Path,
                          key: str) -> dict[str, list[str]]:
    try:
        known = json.loads(Path(cache).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        known = {}
    if isinstance(known.get(lang), dict) and known[lang].get("key") == key:
        return known[lang]["fonts"]
    found = find_fonts(config, lang, dirs)
    known = known if isinstance(known, dict) else {}
    known[lang] = {"key": key, "fonts": found}
    try:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomic(Path(cache), json.dumps(known, ensure_ascii=False, indent=1,
                                                   sort_keys=True).encode("utf-8"))
    except OSError:
        pass  # a read-only project still renders, only slower
    return found


def find_fonts(config: Mapping, lang: str, dirs: Iterable[Path]) -> dict[str, list[str]]:
    """For each font role of ``lang``, the families of ``config/pdf.yml`` that are installed.

    Families are kept in the configured order under the name Typst knows them by. A role
    that must draw Chinese keeps only families that cover ``probe_text``.

    Raises
    ------
    PdfFontMissing
        When a Chinese role has no usable family, or a role has none at all; the message
        lists what was tried and what to install.
    """
    fonts = installed_fonts(tuple(str(d) for d in dirs))
    probe = str(config.get("probe_text") or "中文")
    roles = (config.get("fonts") or {}).get(lang)
    if not roles:
        raise RenderError(f"{PDF_CONFIG.name}: no `fonts.{lang}` section")
    hint = " ".join(str(config.get("install_hint") or "").split())
    resolved: dict[str, list[str]] = {}
    for role, families in roles.items():
        chosen: list[str] = []
        for family in families or []:
            faces = fonts.get(str(family).casefold())
            if not faces:
                continue
            if role in _CJK_ROLES.get(lang, ()) and not any(_covers(f, probe) for f in faces):
                continue
            if faces[0].family not in chosen:
                chosen.append(faces[0].family)
        if not chosen and families:
            what = "Chinese text" if role in _CJK_ROLES.get(lang, ()) else "text"
            raise PdfFontMissing(
                f"No installed font can draw the {what} of the {lang} PDF ({role}). Tried, in "
                f"order: {', '.join(map(str, families))} (config/pdf.yml, fonts.{lang}.{role}). "
                f"{hint}")
        resolved[role] = chosen
    return resolved


@dataclass(frozen=True)
class FontChoice:
    """Which family draws a font role of a PDF: ``wanted`` is the first family of the role
    in config/pdf.yml (the official face), ``used`` the one that is installed."""
    lang: str
    role: str
    wanted: str
    used: str

    @property
    def replaced(self) -> bool:
        return self.used.casefold() != self.wanted.casefold()


def font_choices(config: Mapping, lang: str, dirs: Iterable[Path], *,
                 cache: Path | None = None) -> list[FontChoice]:
    """For each font role of ``lang``: the official family and the family used."""
    roles = (config.get("fonts") or {}).get(lang) or {}
    resolved = resolve_fonts(config, lang, dirs, cache=cache)
    return [FontChoice(lang, role, str(families[0]), resolved[role][0])
            for role, families in roles.items()
            if role != "fallback" and families and resolved.get(role)]


def font_report(root: Path = PROJECT_ROOT, langs: Iterable[str] = ("zh", "en")) -> list[str]:
    """One line per language saying which official faces were found and which were
    replaced, and by what (printed by the build; README "Official fonts")."""
    own = Path(root) / "config" / "pdf.yml"
    config = load_pdf_config(own if own.is_file() else PDF_CONFIG)
    dirs = font_dirs(config, root)
    names = {str(k): str(v) for k, v in (config.get("font_names") or {}).items()}

    def named(family: str) -> str:
        return f"{names[family]} ({family})" if family in names else family

    lines = []
    for lang in langs:
        found: dict[str, list[str]] = {}
        replaced: dict[tuple[str, str], list[str]] = {}
        for choice in font_choices(config, lang, dirs, cache=Path(root) / FONT_CACHE):
            if choice.replaced:
                replaced.setdefault((choice.wanted, choice.used), []).append(choice.role)
            else:
                found.setdefault(choice.wanted, []).append(choice.role)
        parts = []
        if found:
            parts.append("found " + "; ".join(f"{named(family)} for {', '.join(roles)}"
                                              for family, roles in found.items()))
        if replaced:
            parts.append("replaced " + "; ".join(
                f"{named(wanted)} → {used} for {', '.join(roles)}"
                for (wanted, used), roles in replaced.items()))
        line = f"PDF fonts ({lang}): " + ", ".join(parts)
        if replaced:
            line += ". To print in the official faces, put their font files in fonts/ (README: Official fonts)"
        lines.append(line)
    return lines


def typst_value(value: object, *, color: bool = False) -> str:
    """A YAML value of config/pdf.yml as a Typst literal (the tables' writer,
    :func:`bpsreport.table_typst.typst_value`); a value it cannot write is a config error."""
    from bpsreport.table_typst import typst_value as literal

    try:
        return literal(value, color=color)
    except ValueError as exc:
        raise RenderError(f"config/{PDF_CONFIG.name}: {exc}; expected a length (16pt, 2.5cm), "
                          "a number, a colour or text") from exc


def template_settings(config: Mapping, lang: str, fonts: Mapping[str, list[str]]) -> dict:
    """The ``settings`` dictionary of ``official-document`` for one language."""
    page = dict(config.get("page") or {})
    number = str(page.pop("page_number", "{n}"))
    prefix, _, suffix = number.partition("{n}")
    page["page_number_prefix"], page["page_number_suffix"] = prefix, suffix
    languages = config.get("languages") or {}
    if lang not in languages:
        raise RenderError(f"{PDF_CONFIG.name}: no `languages.{lang}` section")
    return {
        "page": page,
        "colors": dict(config.get("colors") or {}),
        "rule_thickness": config.get("rule_thickness", "0.5mm"),
        "type": dict(languages[lang]),
        "fonts": {role: list(families) for role, families in fonts.items()},
    }


def _raw_typst(code: str) -> str:
    """Metadata text that pandoc (and Quarto) pass to the template as raw Typst."""
    return f"`{code}`{{=typst}}"


def edition_fields(year: int, lang: str, config_file: Path = EDITION_CONFIG) -> dict[str, str]:
    """The issuing details of the edition in ``lang`` (``issuer_mark``, ``doc_number``,
    ``issued`` written out, ...), from ``config/edition.yml`` as the variables print them."""
    from bpsreport.variables import edition_variables, load_edition

    values = edition_variables(load_edition(config_file, year), year)
    return {name: texts[lang] for name, texts in values.items()}


def pdf_metadata(year: int, lang: str, *, root: Path = PROJECT_ROOT,
                 config: Mapping | None = None, draft: bool = False) -> dict:
    """Document metadata for the Typst template: ``edition`` (issuing details in ``lang``)
    and ``pdf`` (settings, the composed 版记 lines, and for a draft edition the mark
    printed across every page, 征求意见稿 / DRAFT)."""
    if config is None:
        own = Path(root) / "config" / "pdf.yml"
        config = load_pdf_config(own if own.is_file() else PDF_CONFIG)
    edition_file = Path(root) / "config" / "edition.yml"
    edition = edition_fields(year, lang, edition_file if edition_file.is_file() else EDITION_CONFIG)
    fonts = resolve_fonts(config, lang, font_dirs(config, root), cache=Path(root) / FONT_CACHE)
    labels = (config.get("labels") or {}).get(lang) or {}
    pdf = {"settings": _raw_typst(typst_value(template_settings(config, lang, fonts)))}
    # Real Quarto passes `font-paths` to `typst compile` (absolute here: Quarto resolves a
    # relative one against the document's folder); the built-in renderer uses the same
    # folders (font_dirs).
    if edition.get("issued"):
        pdf["printed"] = str(labels.get("printed", "{date}")).format(date=edition["issued"])
    if edition.get("cc"):
        pdf["cc"] = str(labels.get("cc", "")) + edition["cc"]
    if edition.get("disclosure"):
        pdf["disclosure"] = str(labels.get("disclosure", "")) + edition["disclosure"]
    if draft:
        pdf["draft"] = str(labels.get("draft") or ("征求意见稿" if lang == "zh" else "DRAFT"))
    return {"edition": edition, "pdf": pdf,
            "font-paths": [str(d) for d in font_dirs(config, root)]}


# --- pandoc ------------------------------------------------------------------------------------

def pandoc_path() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


def _run_pandoc(args: list[str], text: str, what: str, *, cache_dir: Path | None = None,
                inputs: Iterable[Path] = ()) -> str:
    """pandoc ``args`` on ``text``. With ``cache_dir``, the output is kept under a hash of
    the arguments, the text, the pandoc version and the files in ``inputs`` (its
    template), so the same conversion is not run again."""
    cached = None
    if cache_dir is not None:
        digest = hashlib.sha256(json.dumps([pandoc_version_string(), args, text], ensure_ascii=False)
                                .encode("utf-8"))
        for path in inputs:
            digest.update(Path(path).read_bytes())
        cached = Path(cache_dir) / f"{digest.hexdigest()}.out"
        if cached.is_file():
            return cached.read_text(encoding="utf-8")
    proc = subprocess.run([pandoc_path(), *args], input=text.encode("utf-8"),
                          capture_output=True, check=False)
    if proc.returncode != 0:
        raise PdfBuildError(f"pandoc failed on {what}: {proc.stderr.decode('utf-8', 'replace').strip()}")
    out = proc.stdout.decode("utf-8")
    if cached is not None:
        write_bytes_atomic(cached, proc.stdout)
        _prune(cached.parent, keep=PANDOC_CACHE_KEEP)
    return out


PANDOC_CACHE_KEEP = 48  # conversions kept: the last few versions of each document


def _prune(folder: Path, *, keep: int) -> None:
    """Keep the ``keep`` most recently written entries of a cache folder."""
    entries = sorted(folder.glob("*.out"), key=lambda p: p.stat().st_mtime_ns, reverse=True)
    for old in entries[keep:]:
        old.unlink(missing_ok=True)


@lru_cache(maxsize=1)
def pandoc_version_string() -> str:
    proc = subprocess.run([pandoc_path(), "--version"], capture_output=True, check=False)
    return proc.stdout.decode("utf-8", "replace").split("\n", 1)[0]


def markdown_to_ast(markdown: str, metadata: Mapping, what: str, *,
                    cache_dir: Path | None = None) -> dict:
    """Pandoc's JSON AST of ``markdown`` with ``metadata`` as its YAML front matter."""
    front = yaml.safe_dump(_plain(metadata), allow_unicode=True, sort_keys=False)
    text = f"---\n{front}---\n\n{markdown}"
    return json.loads(_run_pandoc(["-f", MARKDOWN_READER, "-t", "json"], text, what,
                                  cache_dir=cache_dir))


def ast_to_typst(ast: Mapping, what: str, template: Path = PANDOC_TEMPLATE, *,
                 cache_dir: Path | None = None) -> str:
    partials = sorted(Path(template).parent.glob("*.typ")) + [Path(template)]
    return _run_pandoc(["-f", "json", "-t", "typst", "--standalone", "--wrap=none",
                        "--template", str(template)], json.dumps(ast, ensure_ascii=False), what,
                       cache_dir=cache_dir, inputs=partials)


def _plain(value: object) -> object:
    """Metadata as plain YAML types (dates as ISO text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value


# --- the AST adjustments -----------------------------------------------------------------------

class _Splice(list):
    """Several elements that replace one in the list holding it."""


def _walk(node: object, visit) -> object:
    if isinstance(node, list):
        out: list = []
        for item in node:
            new = _walk(item, visit)
            if isinstance(new, _Splice):
                out.extend(new)
            else:
                out.append(new)
        return out
    if isinstance(node, dict):
        if "c" in node:
            node = {**node, "c": _walk(node["c"], visit)}
        if "t" in node:
            return visit(node)
        return node
    return node


def _raw(code: str) -> dict:
    return {"t": "RawBlock", "c": ["typst", code]}


def _raw_inline(code: str) -> dict:
    return {"t": "RawInline", "c": ["typst", code]}


def _typst_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _stringify(inlines: list) -> str:
    """The plain text of pandoc inlines."""
    parts: list[str] = []

    def visit(node):
        t = node.get("t")
        if t == "Str":
            parts.append(node["c"])
        elif t in ("Space", "SoftBreak", "LineBreak"):
            parts.append(" ")
        return node

    _walk(inlines, visit)
    return "".join(parts).strip()


@dataclass
class AstContext:
    """What :func:`adjust_ast` needs besides the AST."""

    work_dir: Path
    source_dir: Path
    root: Path
    lang: str = "zh"
    figures: dict = field(default_factory=dict)  # markdown file name -> [EmbeddedFigure, ...]
    id_prefix: str = ""
    assets: dict = field(default_factory=dict)  # original target -> path in work_dir
    written: int = 0  # embedded charts written so far (numbers their files)


def adjust_ast(ast: dict, ctx: AstContext) -> dict:
    """The AST changes between pandoc's reader and its Typst writer (see the module doc)."""
    ast = copy.deepcopy(ast)
    if ctx.id_prefix:
        ast["blocks"] = _walk(ast["blocks"], lambda n: _prefix_ids(n, ctx.id_prefix))
    ast["blocks"] = _walk(ast["blocks"], lambda n: _adjust_node(n, ctx))
    _flush_addressee(ast["blocks"])
    return ast


def _flush_addressee(blocks: list) -> None:
    """The addressee line of a cover notice (主送机关: the document's first paragraph, ending
    with a colon) starts at the margin, not indented like the paragraphs after it."""
    if blocks and blocks[0].get("t") == "Para":
        text = _stringify(blocks[0]["c"])
        if text.endswith(("：", ":")) and len(text) <= 60:
            blocks[0]["c"].insert(0, _raw_inline("#official-flush-left()"))


def _prefix_ids(node: dict, prefix: str) -> dict:
    t, c = node["t"], node.get("c")
    attr_at = {"Header": 1, "Div": 0, "Span": 0, "Figure": 0, "Image": 0, "Link": 0, "Code": 0,
               "CodeBlock": 0, "Table": 0}
    if t in attr_at and c[attr_at[t]][0]:
        c[attr_at[t]][0] = prefix + c[attr_at[t]][0]
    if t == "Link" and c[2][0].startswith("#"):
        c[2][0] = "#" + prefix + c[2][0][1:]
    if t == "Cite":
        for citation in c[0]:
            citation["citationId"] = prefix + citation["citationId"]
    return node


def _classes(attr: list) -> list[str]:
    return list(attr[1])


def _adjust_node(node: dict, ctx: AstContext) -> object:
    t, c = node["t"], node.get("c")
    if t == "Div":
        ident, classes = c[0][0], _classes(c[0])
        label = ident[len(ctx.id_prefix):] if ctx.id_prefix and ident.startswith(ctx.id_prefix) else ident
        for cls in classes:
            m = _CALLOUT.match(cls)
            if m:
                return _callout(m.group(1), c[1])
        kind = _float_kind(label)
        if kind is not None:
            # A float written as a div (an embedded cell, or ::: {#tbl-x} by hand): the
            # last paragraph is its caption, as Quarto reads it.
            blocks = list(c[1])
            caption: list = []
            if len(blocks) >= 2 and blocks[-1].get("t") == "Para":
                caption = blocks.pop()["c"]
            if kind == "fig" and not _has_image(blocks):
                # A chart cell that printed a message instead of a chart: the message
                # alone, without the caption of a figure that is not there.
                return _Splice(blocks)
            return _float(kind, ident, blocks, caption, ctx)
        return node
    if t == "Figure":
        # ![caption](chart.svg){#fig-x}: pandoc's implicit figure.
        (ident, _, _), (_, caption_blocks), blocks = c
        label = ident[len(ctx.id_prefix):] if ctx.id_prefix and ident.startswith(ctx.id_prefix) else ident
        caption = [i for b in caption_blocks if b.get("t") in ("Plain", "Para") for i in b["c"]]
        return _float(_float_kind(label) or "fig", ident, blocks, caption, ctx)
    if t == "Table" and c[0][0]:
        ident = c[0][0]
        label = ident[len(ctx.id_prefix):] if ctx.id_prefix and ident.startswith(ctx.id_prefix) else ident
        if _float_kind(label) == "tbl":
            caption = [i for b in c[1][1] if b.get("t") in ("Plain", "Para") for i in b["c"]]
            c[0] = ["", c[0][1], c[0][2]]
            c[1] = [None, []]
            return _float("tbl", ident, [node], caption, ctx)
        return node
    if t in ("Para", "Plain"):
        c[:] = _tighten_refs(c)
        return node
    if t == "Cite":
        # Quarto's cross-references (@fig-, @tbl-, @sec-) are Typst references; pandoc
        # would write a bibliography citation.
        ids = [citation["citationId"] for citation in c[0]]
        if ids and all(_CROSSREF.match(i[len(ctx.id_prefix):] if i.startswith(ctx.id_prefix) else i)
                       for i in ids):
            return _Splice(_raw_inline(f"#ref(<{i}>)") for i in ids)
        return node
    if t == "Image":
        c[2][0] = _asset(c[2][0], ctx)
        return node
    return node


def _float_kind(label: str) -> str | None:
    m = re.match(r"^(fig|tbl)-", label or "")
    return m.group(1) if m else None


#: Where Quarto puts a float's caption in Typst output (``fig-cap-location`` defaults to
#: bottom, ``tbl-cap-location`` to top).
_CAPTION_POSITION = {"fig": "bottom", "tbl": "top"}


def _float(kind: str, ident: str, blocks: list, caption: list, ctx: AstContext) -> _Splice:
    """A numbered float as Quarto writes it for Typst (``#figure([...], caption:
    figure.caption(...), kind: "quarto-float-tbl", supplement: "表")`` and its label), so
    the template's show rules treat both renderers' output alike. The supplement is the
    ``crossref-<kind>-title`` of the document's language, as in Quarto's language files.
    """
    from bpsreport.render.html import labels_for

    supplement = labels_for(ctx.lang).get(f"crossref-{kind}-title", kind)
    out = _Splice([_raw("#figure([")])
    out.extend(blocks)
    tail = f'kind: "quarto-float-{kind}", supplement: {_typst_string(supplement)}, )'
    label = f"\n<{ident}>" if ident else ""
    if caption:
        out.append(_raw(f"], caption: figure.caption(position: {_CAPTION_POSITION[kind]}, ["))
        out.append({"t": "Plain", "c": caption})
        out.append(_raw("]), " + tail + label))
    else:
        out.append(_raw("], " + tail + label))
    return out


_CJK_CHAR = re.compile(r"[\u2e80-\u9fff\u3000-\u303f\uff00-\uffef]")


def _is_ref(node: dict) -> bool:
    return node.get("t") == "RawInline" and node["c"][0] == "typst" and node["c"][1].startswith("#ref(")


def _tighten_refs(inlines: list) -> list:
    """Drop the space between Chinese text and a cross-reference: sources need it (Quarto
    reads ``见@fig-x`` as plain text), print does not (见图1)."""
    out = []
    for i, node in enumerate(inlines):
        if node.get("t") == "Space" and 0 < i < len(inlines) - 1:
            before, after = inlines[i - 1], inlines[i + 1]
            cjk_before = before.get("t") == "Str" and _CJK_CHAR.match(before["c"][-1:] or " ")
            cjk_after = after.get("t") == "Str" and _CJK_CHAR.match(after["c"][:1] or " ")
            if (cjk_before and _is_ref(after)) or (_is_ref(before) and cjk_after):
                continue
        out.append(node)
    return out


def _has_image(blocks: list) -> bool:
    found: list = []

    def visit(node: dict) -> dict:
        if node.get("t") == "Image":
            found.append(node)
        return node

    _walk(blocks, visit)
    return bool(found)


def _callout(kind: str, blocks: list) -> _Splice:
    title: list = []
    if blocks and blocks[0].get("t") == "Header":
        title = blocks[0]["c"][2]
        blocks = blocks[1:]
    out = _Splice()
    if title:
        out.append(_raw(f'#official-callout(kind: "{kind}", title: ['))
        out.append({"t": "Plain", "c": title})
        out.append(_raw("])["))
    else:
        out.append(_raw(f'#official-callout(kind: "{kind}")['))
    out.extend(blocks)
    out.append(_raw("]"))
    return out


def _is_within(path: Path, base: Path) -> bool:
    try:
        Path(path).resolve().relative_to(Path(base).resolve())
        return True
    except ValueError:
        return False


def _asset(target: str, ctx: AstContext) -> str:
    """Copy an image next to the Typst source; return its path there."""
    assets = ctx.work_dir / "assets"
    if ctx.figures.get(target):
        # An embedded chart: notebooks share cell labels, so the same file name can stand
        # for several charts; each occurrence takes the next one, in document order.
        fig = ctx.figures[target].pop(0)
        ctx.written += 1
        dest = assets / f"{ctx.written:02d}-{fig.label}{Path(fig.filename).suffix or '.png'}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(fig.data)
        return dest.relative_to(ctx.work_dir).as_posix()
    if target in ctx.assets:
        return ctx.assets[target]
    if target.startswith("data:"):
        m = re.match(r"data:image/(png|jpeg|svg\+xml)(;base64)?,(.*)$", target, re.DOTALL)
        if not m:
            raise PdfBuildError(f"an image has a data URI of an unsupported type: {target[:40]}…")
        ext = {"png": "png", "jpeg": "jpg", "svg+xml": "svg"}[m.group(1)]
        data = base64.b64decode(m.group(3)) if m.group(2) else unquote(m.group(3)).encode("utf-8")
        dest = assets / f"image-{len(ctx.assets) + 1}.{ext}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
        ctx.assets[target] = dest.relative_to(ctx.work_dir).as_posix()
        return ctx.assets[target]
    if re.match(r"^[a-z][a-z0-9+.-]*://", target, re.IGNORECASE):
        raise PdfBuildError(f"the PDF cannot include the remote image {target}; save it in the "
                            "project and refer to the file")
    candidates = [ctx.work_dir / target, ctx.source_dir / target]
    if target.startswith("/"):
        candidates.insert(0, ctx.root / target.lstrip("/"))
    for path in candidates:
        if path.is_file():
            path = path.resolve()
            inside = [base for base in (ctx.root, ctx.work_dir, ctx.source_dir)
                      if _is_within(path, base)]
            if not inside:
                raise PdfBuildError(f"image {target} is outside the project folder ({path}); "
                                    "only files inside the project may be printed")
            try:
                rel = path.relative_to(ctx.work_dir.resolve())
                ctx.assets[target] = rel.as_posix()
            except ValueError:
                dest = assets / f"image-{len(ctx.assets) + 1}{path.suffix.lower()}"
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
                ctx.assets[target] = dest.relative_to(ctx.work_dir).as_posix()
            return ctx.assets[target]
    raise PdfBuildError(f"image {target} not found (looked in {ctx.source_dir} and the build "
                        "folder); run the build so the notebooks write their charts")


# --- Typst ------------------------------------------------------------------------------------------

def compile_typst(source: Path, output: Path, *, font_paths: Iterable[Path],
                  timestamp: dt.datetime | None = None) -> list[str]:
    """Compile ``source`` (root: its folder) to the PDF ``output``; return the warnings."""
    import typst

    output.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {}
    if timestamp is not None:
        kwargs["timestamp"] = int(timestamp.timestamp())
    try:
        _, warnings = typst.compile_with_warnings(
            str(source), output=str(output), root=str(source.parent),
            font_paths=[str(p) for p in font_paths], **kwargs)
    except typst.TypstError as exc:
        detail = getattr(exc, "diagnostic", "") or str(exc)
        raise PdfBuildError(f"Typst could not typeset {source}: {getattr(exc, 'message', exc)}"
                            f"\n{detail}\n(the generated Typst source stays at {source} for "
                            "inspection)") from exc
    except RuntimeError as exc:
        raise PdfBuildError(f"Typst could not typeset {source}: {exc}\n(the generated Typst "
                            f"source stays at {source} for inspection)") from exc
    return [getattr(w, "message", str(w)) for w in warnings]


def write_edition_typst(markdown: str, metadata: Mapping, *, lang: str, work_dir: Path,
                        name: str, source_dir: Path, root: Path = PROJECT_ROOT,
                        figures: Iterable["EmbeddedFigure"] = (),
                        id_prefix: str = "", cache_dir: Path | None = None) -> Path:
    """pandoc markdown + metadata -> ``<work_dir>/<name>.typ`` through the official template.

    ``figures`` are the embedded charts of the resolved document (``ResolvedDocument.figures``),
    in document order; embedded tables arrive in the markdown itself, as the raw Typst
    block of their cell's ``text/markdown`` output.
    """
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    what = f"the {lang} PDF ({name})"
    ast = markdown_to_ast(markdown, metadata, what, cache_dir=cache_dir)
    figure_queue: dict[str, list] = {}
    for fig in figures:
        figure_queue.setdefault(fig.filename, []).append(fig)
    ctx = AstContext(work_dir=work_dir, source_dir=Path(source_dir), root=Path(root), lang=lang,
                     figures=figure_queue, id_prefix=id_prefix)
    typst_text = ast_to_typst(adjust_ast(ast, ctx), what, cache_dir=cache_dir)
    path = work_dir / f"{name}.typ"
    path.write_text(typst_text, encoding="utf-8")
    return path


_META_SHORTCODE = re.compile(r"\{\{<\s*(var|meta)\s+(\S+)\s*>\}\}")


def _resolve_shortcodes(value: object, variables: Mapping, metadata: Mapping) -> object:
    """``{{< var key >}}`` and ``{{< meta key >}}`` inside metadata text (a title), as Quarto
    resolves them there too."""
    if isinstance(value, Mapping):
        return {k: _resolve_shortcodes(v, variables, metadata) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_shortcodes(v, variables, metadata) for v in value]
    if not isinstance(value, str) or "{{<" not in value:
        return value
    from bpsreport.render.qmd import lookup, scalar_text

    def replace(m: re.Match) -> str:
        found, got = lookup(variables if m.group(1) == "var" else metadata, m.group(2))
        if not found or isinstance(got, (dict, list)) or got is None:
            where = "_variables.yml" if m.group(1) == "var" else "the document metadata"
            raise RenderError(f"front matter: {m.group(0)} names no single value in {where}")
        return scalar_text(got)

    return _META_SHORTCODE.sub(replace, value)


def document_metadata_for_pdf(doc_metadata: Mapping, year: int, lang: str, *,
                              root: Path = PROJECT_ROOT, variables: Mapping | None = None,
                              draft: bool = False) -> dict:
    """The resolved document's metadata with the template's ``edition`` and ``pdf`` keys.

    Shortcodes in metadata text are resolved with ``variables`` (``_variables.yml``). The
    document's own ``edition`` values win over ``config/edition.yml``.
    """
    meta = dict(_plain(doc_metadata))
    meta = _resolve_shortcodes(meta, variables or {}, meta)
    extra = pdf_metadata(year, lang, root=root, draft=draft)
    edition = dict(extra["edition"])
    if isinstance(meta.get("edition"), Mapping):
        edition.update({k: v for k, v in meta["edition"].items() if not isinstance(v, Mapping)})
    meta["edition"] = edition
    meta["pdf"] = extra["pdf"]
    meta["lang"] = lang
    return meta


def _issued(year: int, root: Path) -> dt.datetime | None:
    """The edition's issue date, used as the PDFs' creation date so rebuilds are identical."""
    try:
        from bpsreport.variables import load_edition

        config = Path(root) / "config" / "edition.yml"
        issued = load_edition(config if config.is_file() else EDITION_CONFIG, year)["issued"]
        day = issued if isinstance(issued, dt.date) else dt.date.fromisoformat(str(issued))
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
    except Exception:  # a missing date only costs reproducible timestamps
        return None


@dataclass(frozen=True)
class TypesetPdf:
    path: Path
    reused: bool  # the same Typst source, images, fonts and Typst as a PDF typeset before


_ASSET_REF = re.compile(r'"(assets/[^"]+)"')


def _pdf_key(typ: Path, fonts: Iterable[Path], timestamp: dt.datetime | None) -> str:
    """Everything that decides the PDF: the Typst source (template included), the images
    it reads, the fonts Typst can find, the Typst version and the document date."""
    import typst

    text = typ.read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode("utf-8"))
    for rel in sorted(set(_ASSET_REF.findall(text))):
        path = typ.parent / rel
        digest.update(rel.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"-"))
    digest.update(font_fingerprint(fonts).encode())
    digest.update(str(getattr(typst, "__version__", "")).encode())
    digest.update(str(timestamp.timestamp() if timestamp else "").encode())
    return digest.hexdigest()


def render_typst_document(source: Path, output: Path, *, project: "ProjectConfig", lang: str,
                          year: int, root: Path, work_dir: Path, draft: bool = False,
                          cache_dir: Path | None = None) -> TypesetPdf:
    """One ``format: typst`` source (``reports/<year>/<lang>/report.qmd``) to its PDF.

    The PDF goes where Quarto puts it: beside the page in the profile's output folder
    (``<site>/<lang>/reports/<year>/<lang>/report.pdf``); the project's post-render step
    publishes it in the downloads. The Typst source stays in ``work_dir`` for inspection
    when Typst fails.

    Raises
    ------
    PdfFontMissing
        No font can draw the Chinese text (says what to install).
    PdfBuildError
        pandoc or Typst failed.
    """
    from bpsreport.render.qmd import resolve_document

    root = Path(root)
    config = load_pdf_config(root / "config" / "pdf.yml" if (root / "config" / "pdf.yml").is_file()
                             else PDF_CONFIG)
    doc = resolve_document(source, project=project, lang=lang, target="typst")
    meta = document_metadata_for_pdf(doc.metadata, year, lang, root=root,
                                     variables=project.variables, draft=draft)
    typ = write_edition_typst(doc.markdown_with_source_marks(root), meta, lang=lang,
                              work_dir=Path(work_dir), name=Path(source).stem,
                              source_dir=Path(source).parent, root=root, figures=doc.figures,
                              cache_dir=Path(cache_dir) / "pandoc" if cache_dir is not None else None)
    fonts, timestamp = font_dirs(config, root), _issued(year, root)
    cached = None
    if cache_dir is not None:
        # Kept per document name: the last PDF typeset from these inputs.
        cached = Path(cache_dir) / f"{lang}-{Path(source).stem}-{_pdf_key(typ, fonts, timestamp)}.pdf"
        if cached.is_file():
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, output)
            return TypesetPdf(Path(output), True)
    try:
        compile_typst(typ, Path(output), font_paths=fonts, timestamp=timestamp)
    except PdfBuildError as exc:
        raise PdfBuildError(located_typst_error(str(exc), typ, root)) from exc
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        for old in cached.parent.glob(f"{lang}-{Path(source).stem}-*.pdf"):
            old.unlink(missing_ok=True)  # one kept per document: the cache does not grow
        write_bytes_atomic(cached, Path(output).read_bytes())
    return TypesetPdf(Path(output), False)


def located_typst_error(message: str, typ: Path, root: Path) -> str:
    """A Typst error message led by the ``.qmd`` file and line the failing Typst came from
    (the source marks of :meth:`ResolvedDocument.markdown_with_source_marks`)."""
    from bpsreport.render.qmd import source_of_typst_line

    m = re.search(r"([^\s:]*\.typ):(\d+):(\d+)", message)
    if not m:
        return message
    where = source_of_typst_line(typ.read_text(encoding="utf-8"), int(m.group(2)))
    if where is None:
        return message
    return f"{where}: the PDF could not be typeset here (Typst: {message.splitlines()[0]})\n{message}"
