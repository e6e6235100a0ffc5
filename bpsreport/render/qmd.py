"""Resolving a ``.qmd`` source into plain pandoc markdown, as Quarto would before pandoc runs.

The built-in renderer supports exactly the Quarto syntax listed in ``docs/rendering.md``:

- YAML front matter, merged over the project's (and profile's) metadata;
- ``{{< var a.b.c >}}`` from ``_variables.yml`` and ``{{< meta key >}}``;
- ``{{< include path >}}`` (recursive; a leading ``/`` is the project root);
- ``{{< embed notebook.ipynb#label >}}``: a labelled cell of an *executed* notebook;
- callouts, cross-references and numbered sections, which pandoc parses and the Lua
  filters in :mod:`bpsreport.render.filters` turn into output.

Everything else that Quarto would treat specially (any other shortcode, executable code
cells, layout and conditional-content divs, callout types Quarto lacks) raises
:class:`~bpsreport.render.UnsupportedSyntax` naming the file and line, so a source never
renders differently under the two backends without anyone noticing. Shortcodes inside
code spans and code blocks are left alone; ``{{{< x >}}}`` is the escaped, literal form.

Every line keeps the file and line it came from through includes, so an error in an
included part names that part's line.

Examples
--------
>>> project = load_project(Path("."), "zh")                                    # doctest: +SKIP
>>> doc = resolve_document(Path("reports/2017/zh/index.qmd"), project=project,
...                        lang="zh", target="html")                          # doctest: +SKIP
>>> doc.write_media(out_dir)                                                  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from bpsreport.render import RenderError, UnsupportedSyntax
from bpsreport.render.project import merge_config
from bpsreport import yamlio

if TYPE_CHECKING:  # pragma: no cover
    from bpsreport.render.project import ProjectConfig

SUPPORTED_SUMMARY = (
    "YAML front matter, {{< var key >}}, {{< meta key >}}, {{< include path >}}, "
    "{{< embed notebook.ipynb#label >}}, callouts (.callout-note, -tip, -important, "
    "-warning, -caution), cross-references @fig-/@tbl-/@sec-, number-sections and "
    "{.unnumbered} (see docs/rendering.md)")

TARGETS = ("html", "typst")
CALLOUT_TYPES = ("note", "tip", "important", "warning", "caution")
REF_PREFIXES = ("fig", "tbl", "sec")

# A shortcode: {{< name args >}}; the escaped form has three braces.
_ESCAPED = re.compile(r"\{\{\{<(.*?)>\}\}\}")
_SHORTCODE = re.compile(r"\{\{([<%])\s*(.*?)\s*([>%])\}\}")
_SHORTCODE_START = re.compile(r"\{\{[<%]")
# Quarto's include directive: a line holding only the shortcode, with exactly one space
# inside the braces (src/core/lib/parse-shortcode.ts).
_LIST_OR_TABLE = re.compile(r"^(\d+[.)]|[-*+])\s|^\||^:\s|^\{\{< embed ")
_SOURCE_MARK = re.compile(r"//\s*bps-src:\s*(\S+:\d+)")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)")
_INCLUDE_LINE = re.compile(r"^\s*\{\{< (?!/\*)(.+?)(?<!\*/) >\}\}\s*$")
_FENCE = re.compile(r"^(\s{0,3})(`{3,}|~{3,})\s*(.*)$")
_DIV_OPEN = re.compile(r"^\s{0,3}(:{3,})\s*(\{.*\}|[\w-]+)\s*(:*)\s*$")
_DIV_CLOSE = re.compile(r"^\s{0,3}:{3,}\s*$")
_REF = re.compile(r"@(?P<id>(?:fig|tbl|sec)-[\w.:-]*\w)")
_ID_ATTR = re.compile(r"\{[^{}]*#((?:fig|tbl|sec)-[\w-]*\w)[^{}]*\}")

# Quarto divs and attributes that change layout or visibility: pandoc alone would render
# them as plain divs, which is not what Quarto does, so they are refused.
_QUARTO_DIV_CLASSES = re.compile(
    r"^(content-visible|content-hidden|panel-[\w-]+|column-[\w-]+|callout(-[\w-]+)?|"
    r"cell|cell-output[\w-]*|hidden|page-columns|page-full|aside|margin-[\w-]+|"
    r"landscape|quarto-[\w-]+)$")
_QUARTO_ATTRS = ("when-format", "unless-format", "when-profile", "unless-profile",
                 "when-meta", "unless-meta", "layout", "layout-ncol", "layout-nrow",
                 "layout-valign", "layout-align")


# --- what a resolved document holds ------------------------------------------------------

@dataclass
class SourceLine:
    """One line of resolved text and where it came from."""

    text: str
    file: Path
    line: int  # 1-based, in ``file``


@dataclass
class EmbeddedFigure:
    """A chart taken from a notebook cell; ``filename`` is how the markdown refers to it."""

    label: str
    caption: str
    alt: str
    filename: str  # relative to the page's folder, e.g. "index_files/figure-html/fig-x.svg"
    data: bytes
    mime: str
    notebook: Path


@dataclass
class EmbeddedTable:
    label: str
    caption: str
    html: str
    markdown: str
    notebook: Path


@dataclass
class ResolvedDocument:
    """A source with every shortcode resolved: pandoc markdown plus its metadata."""

    source: Path
    metadata: dict
    markdown: str
    figures: list = field(default_factory=list)  # list[EmbeddedFigure]
    tables: list = field(default_factory=list)  # list[EmbeddedTable]
    lines: list = field(default_factory=list, repr=False)  # list[SourceLine] of the body
    includes: list = field(default_factory=list)  # every file read: sources, notebooks

    def write_media(self, page_dir: Path) -> list[Path]:
        """Write the figures' files under ``page_dir`` (the folder of the output page)."""
        written = []
        for fig in self.figures:
            dest = Path(page_dir) / fig.filename
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(fig.data)
            written.append(dest)
        return written

    @property
    def title(self) -> str:
        return str(self.metadata.get("title") or "")

    def ids(self) -> set[str]:
        """Cross-reference targets defined in the document."""
        return {m.group(1) for m in _ID_ATTR.finditer(self.markdown)}

    def markdown_with_source_marks(self, root: Path) -> str:
        """The markdown with a Typst comment (``// bps-src: <file>:<line>``) before each
        top-level block, so that a Typst error in the generated source can be traced back
        to the ``.qmd`` line that made it (:func:`source_of_typst_line`). Comments print
        nothing; list items, table rows and indented lines get no mark, so the blocks are
        the same as without marks."""
        out: list[str] = []
        fence: str | None = None
        previous_blank = True
        depth = 0  # inside a div (a float's body and caption stay exactly as written)
        for src in self.lines:
            text = src.text
            m = _FENCE.match(text)
            if fence is not None:
                if m and m.group(2)[0] == fence[0] and len(m.group(2)) >= len(fence) and not m.group(3).strip():
                    fence = None
                out.append(text)
                previous_blank = False
                continue
            starts_block = (depth == 0 and previous_blank and text.strip() and not text[0].isspace()
                            and not _LIST_OR_TABLE.match(text))
            if _DIV_OPEN.match(text):
                depth += 1
            elif _DIV_CLOSE.match(text):
                depth = max(0, depth - 1)
            if starts_block:
                try:
                    shown = Path(src.file).resolve().relative_to(Path(root).resolve())
                except ValueError:
                    shown = Path(src.file)
                out.extend(["```{=typst}", f"// bps-src: {shown.as_posix()}:{src.line}", "```", ""])
            if m:
                fence = m.group(2)
            out.append(text)
            previous_blank = not text.strip()
        return "\n".join(out) + "\n"


def source_of_typst_line(typst_text: str, line: int) -> str | None:
    """The ``file:line`` of the ``.qmd`` block a line of generated Typst came from (the
    last source mark at or before it), or ``None``."""
    lines = typst_text.splitlines()
    for text in reversed(lines[: max(0, min(line, len(lines)))]):
        m = _SOURCE_MARK.search(text)
        if m:
            return m.group(1)
    return None


# --- front matter and metadata ------------------------------------------------------------

def split_front_matter(text: str, path: Path) -> tuple[dict, list[str], int]:
    """``(front matter, body lines, line number of the first body line)``."""
    lines = text.splitlines()
    if lines and lines[0].strip() == "---":
        for i in range(1, len(lines)):
            if lines[i].strip() in ("---", "..."):
                block = "\n".join(lines[1:i])
                try:
                    data = yamlio.safe_load(block) or {}
                except yaml.YAMLError as exc:
                    mark = getattr(exc, "problem_mark", None)
                    line = (mark.line + 2) if mark is not None else 1
                    raise RenderError(f"{path}:{line}: front matter is not valid YAML "
                                      f"({getattr(exc, 'problem', exc)})") from exc
                if not isinstance(data, dict):
                    raise RenderError(f"{path}:1: front matter must be a YAML mapping")
                return data, lines[i + 1:], i + 2
        raise RenderError(f"{path}:1: front matter opened with --- is never closed")
    return {}, lines, 1


def document_formats(front: dict, project: "ProjectConfig") -> list[str]:
    """The formats a document renders to: its own ``format`` or else the project's."""
    fmt = front.get("format", project.config.get("format"))
    if fmt is None:
        return ["html"]
    if isinstance(fmt, str):
        return [fmt]
    if isinstance(fmt, list):
        return [str(f) for f in fmt]
    return [str(k) for k in fmt]


def _format_options(fmt: object, target: str) -> dict:
    if isinstance(fmt, dict):
        opts = fmt.get(target)
        return opts if isinstance(opts, dict) else {}
    return {}


def document_metadata(front: dict, project: "ProjectConfig", target: str) -> dict:
    """Project metadata, then the project's ``format.<target>`` options, then the document's."""
    base = {k: v for k, v in project.config.items() if k not in ("project", "format", "profile")}
    meta = merge_config(base, _format_options(project.config.get("format"), target))
    own = {k: v for k, v in front.items() if k != "format"}
    meta = merge_config(meta, own)
    meta = merge_config(meta, _format_options(front.get("format"), target))
    return meta


def lookup(tree: object, dotted: str) -> tuple[bool, object]:
    node = tree
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")


def markdown_plain(text: str) -> str:
    """A value written as markdown, as plain text: what ``pandoc.utils.stringify`` gives
    of it (escapes removed, hard line breaks as spaces).

    >>> markdown_plain(r"a\\<b\\> \\*c\\*")
    'a<b> *c*'
    """
    return _MD_ESCAPE.sub(r"\1", text.replace("\\\n", " "))


def scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else str(value)
    return str(value)


# --- the resolver -------------------------------------------------------------------------

class _Resolver:
    def __init__(self, project: "ProjectConfig", lang: str, target: str, source: Path):
        self.project = project
        self.lang = lang
        self.target = target
        self.source = source
        self.metadata: dict = {}
        self.figures: list[EmbeddedFigure] = []
        self.tables: list[EmbeddedTable] = []
        self.files_read: list[Path] = []
        self._notebooks: dict[Path, dict] = {}

    # -- locations and errors
    def shown(self, path: Path) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.project.root))
        except ValueError:
            return str(path)

    def unsupported(self, src: SourceLine, what: str) -> UnsupportedSyntax:
        return UnsupportedSyntax(self.shown(src.file), src.line, what)

    def error(self, src: SourceLine, message: str) -> RenderError:
        return RenderError(f"{self.shown(src.file)}:{src.line}: {message}")

    # -- reading files
    def resolve_path(self, ref: str, src: SourceLine, what: str = "file") -> Path:
        """A path written in a shortcode, resolved as Quarto resolves it.

        Quarto (``src/core/handlers/include-standalone.ts``, ``handlerContext.resolvePath``)
        resolves every path against the *document being rendered*, even when the
        shortcode sits in a part included by that document; a leading ``/`` means the
        project root. A path that leaves the project is refused.
        """
        root = self.project.root
        if ref.startswith("/"):
            target = (root / ref.lstrip("/")).resolve()
        else:
            target = (self.source.parent / ref).resolve()
        try:
            target.relative_to(root)
        except ValueError:
            raise self.error(src, f"the {what} {ref} is outside the project folder "
                                  f"({self.shown(target)}); only files inside the project "
                                  "may be included") from None
        return target

    def include_not_found(self, ref: str, target: Path, src: SourceLine) -> str:
        message = f"included file {ref} not found (looked for {self.shown(target)})"
        if not ref.startswith("/") and src.file.resolve() != self.source:
            beside = (src.file.parent / ref).resolve()
            if beside.is_file():
                message += (f"; Quarto resolves an include against the page being rendered "
                            f"({self.shown(self.source)}), not against the part that holds "
                            f"it, so write it from the project root: "
                            f"{{{{< include /{self.shown(beside)} >}}}}")
        return message

    def read_lines(self, path: Path, *, stack: tuple[Path, ...]) -> list[SourceLine]:
        """The body lines of ``path`` with includes expanded (front matter dropped).

        As in Quarto (``src/core/handlers/include-standalone.ts``), a line that holds
        nothing but ``{{< include path >}}`` is replaced by the file's text wherever it
        stands, inside a fenced code block too; the escaped forms ``{{{< include x >}}}``
        and ``{{</* include x */>}}`` are left as they are.
        """
        text = path.read_text(encoding="utf-8-sig")
        self.files_read.append(path)
        _, body, first = split_front_matter(text, path)
        out: list[SourceLine] = []
        fence: str | None = None
        divs: list[SourceLine] = []  # the ::: openers of this file not yet closed
        for offset, raw in enumerate(body):
            src = SourceLine(raw, path, first + offset)
            if fence is None and not _FENCE.match(raw):
                if _DIV_OPEN.match(raw):
                    divs.append(src)
                elif _DIV_CLOSE.match(raw):
                    if not divs:
                        raise self.error(src, "this ::: closes no div opened in this file (a "
                                              "div opens with a line like ::: {.callout-note})")
                    divs.pop()
            directive = _INCLUDE_LINE.match(raw)
            if directive:
                words = _shortcode_words(directive.group(1))
                if words and words[0] == "include":
                    out.extend(self.include(words[1:], src, stack=stack))
                    continue
            m = _FENCE.match(raw)
            if fence is not None:
                if m and m.group(2)[0] == fence[0] and len(m.group(2)) >= len(fence) and not m.group(3).strip():
                    fence = None
                out.append(src)
                continue
            if m:
                fence = m.group(2)
                out.append(src)
                continue
            self.refuse_inline_include(src)
            out.append(src)
        if divs:
            raise self.error(divs[-1], f"the div {divs[-1].text.strip()} is never closed in this "
                                       "file: add a line ::: where it ends (pandoc would "
                                       "otherwise run it to the end of the document)")
        return out

    def include(self, args: list[str], src: SourceLine, *, stack: tuple[Path, ...]) -> list[SourceLine]:
        if len(args) != 1:
            raise self.error(src, f"include takes one path, found {len(args)} arguments")
        target = self.resolve_path(args[0], src, "included file")
        if not target.is_file():
            raise self.error(src, self.include_not_found(args[0], target, src))
        if target in stack:
            chain = " -> ".join(self.shown(p) for p in (*stack, target))
            raise self.error(src, f"include cycle: {chain}")
        lines = self.read_lines(target, stack=(*stack, target))
        # Quarto appends a line break, or two when the file does not end with one.
        raw = target.read_text(encoding="utf-8-sig")
        if not raw.endswith("\n"):
            lines.append(SourceLine("", src.file, src.line))
        return lines

    def refuse_inline_include(self, src: SourceLine) -> None:
        """An include that shares its line is not expanded by Quarto (it prints an error
        text in the page instead); refuse it, with file and line."""
        if "include" not in src.text:
            return
        for start, end in _outside_code_spans(src.text):
            for m in _SHORTCODE.finditer(src.text, start, end):
                words = _shortcode_words(m.group(2))
                if words and words[0] == "include" and not _is_escaped(src.text, m):
                    if src.text.strip() == m.group(0):
                        raise self.error(src, f"{m.group(0)} is not read as an include: Quarto "
                                              "needs exactly one space inside the braces, "
                                              "{{< include " + " ".join(words[1:]) + " >}}")
                    raise self.unsupported(src, "an include shortcode sharing its line with other "
                                                "text (put {{< include >}} on a line of its own)")

    # -- shortcodes
    def resolve_lines(self, lines: list[SourceLine]) -> list[SourceLine]:
        out: list[SourceLine] = []
        fence: str | None = None
        for src in lines:
            m = _FENCE.match(src.text)
            if fence is not None:
                if m and m.group(2)[0] == fence[0] and len(m.group(2)) >= len(fence) and not m.group(3).strip():
                    fence = None
                    out.append(src)
                    continue
                # Quarto resolves shortcodes in code and raw blocks too, as plain text.
                out.append(SourceLine(self.resolve_code(src.text, src), src.file, src.line))
                continue
            if m:
                self.check_fence(src, m.group(3))
                fence = m.group(2)
                out.append(src)
                continue
            self.check_div(src)
            self.check_images(src)
            out.extend(self.resolve_line(src))
        return out

    def check_images(self, src: SourceLine) -> None:
        """A markdown image must be a file inside the project: an image path, like an
        include, is relative to the page being rendered (or to the project root with a
        leading ``/``), and one that leaves the project is refused, so no file from outside
        can reach the site or the PDF. Web addresses and data URIs are left alone."""
        if "![" not in src.text:
            return
        for start, end in _outside_code_spans(src.text):
            for m in _MD_IMAGE.finditer(src.text, start, end):
                ref = m.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", ref, re.IGNORECASE) or ref.startswith("#"):
                    continue
                self.resolve_path(ref.split("#", 1)[0].split("?", 1)[0], src, "image")

    def resolve_code(self, text: str, src: SourceLine) -> str:
        """Shortcodes in code (a code span, a code or raw block): Quarto resolves ``var``
        and ``meta`` there as plain text (``pandoc.utils.stringify``), so a value's markdown
        escapes disappear and nothing else of the value is interpreted."""
        if "{{" not in text:
            return text
        resolved, blocks = self.resolve_segment(text, src, whole_line=False, code=True)
        return resolved

    def check_fence(self, src: SourceLine, info: str) -> None:
        info = info.strip()
        # ```{python} is an executable cell; ```{=html} is raw output; ```{.python} a class.
        if info.startswith("{") and not info.startswith(("{=", "{.", "{#")):
            engine = info.strip("{}").split(None, 1)[0].rstrip(",") if info.strip("{}") else ""
            raise self.unsupported(src, f"an executable code cell ```{{{engine}}}``` (the "
                                        "built-in renderer executes nothing; run code in a "
                                        "notebook and embed its output)")

    def check_div(self, src: SourceLine) -> None:
        m = _DIV_OPEN.match(src.text)
        if not m:
            return
        attrs = m.group(2)
        if not attrs.startswith("{"):
            classes, keys = [attrs], []
        else:
            inner = attrs[1:-1]
            classes = re.findall(r"(?:^|\s)\.([\w-]+)", inner)
            keys = re.findall(r"([\w-]+)\s*=", inner)
        for cls in classes:
            if cls.startswith("callout-") and cls[len("callout-"):] in CALLOUT_TYPES:
                continue
            if _QUARTO_DIV_CLASSES.match(cls):
                raise self.unsupported(src, f"the div class .{cls}")
        for key in keys:
            if key in _QUARTO_ATTRS:
                raise self.unsupported(src, f"the div attribute {key}=")

    def resolve_line(self, src: SourceLine) -> list[SourceLine]:
        text = src.text
        if "{{" not in text:
            return [src]
        pieces: list[str] = []
        blocks: list[SourceLine] | None = None
        pos = 0
        for start, end in _outside_code_spans(text):
            pieces.append(self.resolve_code(text[pos:start], src))  # a code span
            seg = text[start:end]
            out_seg, seg_blocks = self.resolve_segment(seg, src, whole_line=(text.strip() == seg.strip()))
            if seg_blocks is not None:
                blocks = seg_blocks
            pieces.append(out_seg)
            pos = end
        pieces.append(text[pos:])
        if blocks is not None:
            return blocks
        return [SourceLine("".join(pieces), src.file, src.line)]

    def resolve_segment(self, seg: str, src: SourceLine, *, whole_line: bool, code: bool = False):
        out: list[str] = []
        blocks = None
        pos = 0
        escaped = {m.start(): m for m in _ESCAPED.finditer(seg)}
        i = 0
        while i < len(seg):
            if i in escaped:
                m = escaped[i]
                out.append(seg[pos:i])
                out.append("{{<" + m.group(1) + ">}}")
                i = pos = m.end()
                continue
            m = _SHORTCODE.match(seg, i)
            if m is None:
                if _SHORTCODE_START.match(seg, i):
                    raise self.unsupported(src, "an unterminated shortcode (missing >}})")
                i += 1
                continue
            out.append(seg[pos:i])
            if m.group(1) == "%" or m.group(3) == "%":
                raise self.unsupported(src, f"the shortcode form {m.group(0)!r} ({{{{% %}}}})")
            words = _shortcode_words(m.group(2))
            name = words[0] if words else ""
            args = words[1:]
            if name == "var":
                value = self.var(args, src)
                out.append(markdown_plain(value) if code else value)
            elif name == "meta":
                value = self.meta(args, src)
                out.append(markdown_plain(value) if code else value)
            elif code:
                raise self.unsupported(src, f"the shortcode {{{{< {name} >}}}} in code (only var "
                                            "and meta are resolved there)")
            elif name == "embed":
                if not whole_line or seg.strip() != m.group(0):
                    raise self.unsupported(src, "an embed shortcode sharing its line with other "
                                                "text (put {{< embed >}} on a line of its own)")
                blocks = self.embed(args, src)
            elif name == "include":
                raise self.unsupported(src, "an include shortcode inside other text")
            else:
                raise self.unsupported(src, f"the shortcode {{{{< {name} >}}}}" if name
                                       else "an empty shortcode {{< >}}")
            i = pos = m.end()
        out.append(seg[pos:])
        return "".join(out), blocks

    def var(self, args: list[str], src: SourceLine) -> str:
        if len(args) != 1:
            raise self.error(src, f"var takes one key, found {len(args)} arguments")
        key = args[0]
        found, value = lookup(self.project.variables, key)
        if not found:
            hint = "" if self.project.variables else " (_variables.yml is missing or empty: run the build)"
            raise self.error(src, f"unknown variable {key!r} in {{{{< var {key} >}}}}; it is not "
                                  f"in _variables.yml{hint}")
        if isinstance(value, (dict, list)) or value is None:
            raise self.error(src, f"variable {key!r} is a group of values, not one value")
        return scalar_text(value)

    def meta(self, args: list[str], src: SourceLine) -> str:
        if len(args) != 1:
            raise self.error(src, f"meta takes one key, found {len(args)} arguments")
        found, value = lookup(self.metadata, args[0])
        if not found or value is None:
            raise self.error(src, f"unknown metadata key {args[0]!r} in {{{{< meta {args[0]} >}}}}")
        if isinstance(value, (dict, list)):
            raise self.error(src, f"metadata key {args[0]!r} is a group of values, not one value")
        return scalar_text(value)

    # -- embed
    def load_notebook(self, path: Path, src: SourceLine) -> dict:
        if path not in self._notebooks:
            if not path.is_file():
                raise self.error(src, f"notebook {self.shown(path)} not found (embed reads the "
                                      "executed copy the build writes: run the build first)")
            try:
                self._notebooks[path] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise self.error(src, f"notebook {self.shown(path)} is not readable JSON ({exc})") from exc
            self.files_read.append(path)
        return self._notebooks[path]

    def embed(self, args: list[str], src: SourceLine) -> list[SourceLine]:
        if len(args) != 1:
            raise self.unsupported(src, "embed options (" + " ".join(args[1:]) + ")") if len(args) > 1 \
                else self.error(src, "embed needs a notebook path with #label")
        ref = args[0]
        if "#" not in ref:
            raise self.unsupported(src, f"embedding a whole notebook ({ref}); give a cell label: "
                                        "notebook.ipynb#label")
        nb_ref, label = ref.split("#", 1)
        if not nb_ref.endswith(".ipynb"):
            raise self.unsupported(src, f"embedding from {nb_ref} (only .ipynb notebooks)")
        nb_path = self.resolve_path(nb_ref, src, "notebook")
        nb = self.load_notebook(nb_path, src)
        cell, options = _find_cell(nb, label)
        if cell is None:
            raise self.error(src, f"no cell labelled {label!r} in {self.shown(nb_path)}")
        outputs = [o for o in cell.get("outputs", []) if o.get("output_type") in ("display_data", "execute_result")]
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            raise self.error(src, f"cell {label!r} of {self.shown(nb_path)} ended with an error "
                                  f"({errors[0].get('ename')}: {errors[0].get('evalue')})")
        if not outputs:
            raise self.error(src, f"cell {label!r} of {self.shown(nb_path)} has no output "
                                  "(was the notebook executed?)")
        data = outputs[-1].get("data", {})
        kind = label.split("-", 1)[0]
        caption = str(options.get("fig-cap" if kind == "fig" else "tbl-cap", "") or "")
        alt = str(options.get("fig-alt", "") or "")
        text = self.embed_block(label, kind, caption, alt, data, nb_path, src)
        return [SourceLine(t, src.file, src.line) for t in ["", *text.split("\n"), ""]]

    def embed_block(self, label: str, kind: str, caption: str, alt: str, data: dict,
                    nb_path: Path, src: SourceLine) -> str:
        """The markdown of one embedded cell output, made as Quarto makes it.

        The representation is chosen by Quarto's order of preference for the target
        (:func:`choose_mime`); a ``fig-``/``tbl-`` cell becomes a float div whose last
        paragraph is the caption (``#| fig-cap:`` / ``#| tbl-cap:``), which both the Lua
        filters (HTML) and :mod:`bpsreport.render.pdf` (Typst) number.
        """
        mime = choose_mime(data, self.target)
        if mime is None:
            raise self.error(src, f"cell {label!r} of {self.shown(nb_path)} has no output "
                                  f"usable in {self.target}")
        value = data[mime]
        text = "".join(value) if isinstance(value, list) else str(value)
        if mime == "text/html" and self.target == "html":
            body = _raw_block(_strip_external(text), "html")
        elif mime == "text/html":
            body = _html_table_to_markdown(text)  # Quarto reads an HTML table into pandoc
        elif mime == "text/markdown":
            body = text.strip("\n")
        elif mime in _IMAGE_MIMES:
            ext = _IMAGE_MIMES[mime]
            payload = text.encode("utf-8") if mime == "image/svg+xml" else base64.b64decode(text)
            filename = f"{self.source.stem}_files/figure-{self.target}/{label}-1.{ext}"
            self.figures.append(EmbeddedFigure(label=label, caption=caption, alt=alt,
                                               filename=filename, data=payload, mime=mime,
                                               notebook=nb_path))
            alt_attr = f'{{fig-alt="{_attr_escape(alt)}"}}' if alt else ""
            body = f"![]({filename}){alt_attr}"
        else:  # text/plain: Quarto prints it as output text
            body = "```\n" + text.rstrip("\n") + "\n```"
        if kind in ("fig", "tbl"):
            if mime == "text/html" and kind == "tbl":
                self.tables.append(EmbeddedTable(label=label, caption=caption, html=text,
                                                 markdown="", notebook=nb_path))
            cap = f"\n\n{_md_inline(caption)}" if caption else ""
            return f"::: {{#{label}}}\n{body}{cap}\n:::"
        return body

    # -- checks over the whole document
    def check_refs(self, lines: list[SourceLine]) -> None:
        defined: set[str] = set()
        for src in lines:
            for m in _ID_ATTR.finditer(src.text):
                defined.add(m.group(1))
        fence = None
        for src in lines:
            fm = _FENCE.match(src.text)
            if fence is not None:
                if fm and fm.group(2)[0] == fence[0] and len(fm.group(2)) >= len(fence) and not fm.group(3).strip():
                    fence = None
                continue
            if fm:
                fence = fm.group(2)
                continue
            for start, end in _outside_code_spans(src.text):
                for m in _REF.finditer(src.text, start, end):
                    ref = m.group("id")
                    pre = src.text[m.start() - 1] if m.start() > 0 else ""
                    if pre == "\\" or (pre.isascii() and (pre.isalnum() or pre in "_@")):
                        continue  # escaped, or an e-mail address
                    # pandoc reads @id as a reference only after a non-alphanumeric
                    # character; a Chinese character counts as a letter.
                    if pre and pre.isalnum():
                        raise self.error(src, f"the cross-reference @{ref} follows {pre!r} "
                                              f"directly and would print as plain text; write "
                                              f"a space or brackets before it: "
                                              f"'{pre} @{ref}' or '{pre}[@{ref}]'")
                    if ref not in defined:
                        raise self.error(src, f"cross-reference @{ref} has no target in this "
                                              f"document (labels: "
                                              f"{', '.join(sorted(defined)) or 'none'}; note that "
                                              f"a reference ends at a space or punctuation)")


_IMAGE_MIMES = {"image/svg+xml": "svg", "image/png": "png", "image/jpeg": "jpg"}
_HTML_TABLE_OPEN = re.compile(r"<table", re.IGNORECASE)
_HTML_TABLE_CLOSE = re.compile(r"</table", re.IGNORECASE)


def choose_mime(data: dict, target: str) -> str | None:
    """The representation of a cell output that Quarto uses for ``target``.

    Quarto's order (``src/core/jupyter/display-data.ts``, ``displayDataMimeType``): for
    HTML, ``text/html`` first, then ``text/markdown``, ``image/svg+xml``, ``image/png``,
    ``image/jpeg``; for any other format (Typst), ``text/markdown``, ``image/svg+xml``,
    ``image/png``, ``image/jpeg``, then ``text/html`` only when it holds a table (read
    into the document as a table); ``text/plain`` last for both.

    >>> choose_mime({"text/html": "<p>x</p>", "text/markdown": "x"}, "html")
    'text/html'
    >>> choose_mime({"text/html": "<table></table>", "text/markdown": "x"}, "typst")
    'text/markdown'
    >>> choose_mime({"text/html": "<p>x</p>", "image/svg+xml": "<svg/>"}, "typst")
    'image/svg+xml'
    """
    if target == "html":
        order = ["text/html", "text/markdown", "image/svg+xml", "image/png", "image/jpeg"]
    else:
        order = ["text/markdown", "image/svg+xml", "image/png", "image/jpeg"]
        html_out = data.get("text/html")
        html_out = "".join(html_out) if isinstance(html_out, list) else html_out
        if html_out and _HTML_TABLE_OPEN.search(html_out) and _HTML_TABLE_CLOSE.search(html_out):
            order.append("text/html")
    order.append("text/plain")
    return next((mime for mime in order if mime in data), None)


def _find_cell(nb: dict, label: str) -> tuple[dict | None, dict]:
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        options = _cell_options(source)
        if str(options.get("label", "")) == label:
            return cell, options
    return None, {}


def _cell_options(source: str) -> dict:
    """The ``#| key: value`` lines at the top of a cell, read as YAML."""
    lines = []
    for line in source.splitlines():
        if line.startswith("#|"):
            lines.append(line[2:].lstrip(" ") if line[2:3] == " " else line[2:])
        elif line.strip():
            break
    if not lines:
        return {}
    try:
        data = yamlio.safe_load("\n".join(lines))
    except yaml.YAMLError:
        data = None
    if isinstance(data, dict):
        return data
    out = {}
    for line in lines:
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = v.strip()
    return out


# --- small text helpers ---------------------------------------------------------------------

def _outside_code_spans(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` ranges of ``text`` that are not inside a code span."""
    ranges = []
    pos = 0
    i = 0
    while i < len(text):
        if text[i] == "`":
            j = i
            while j < len(text) and text[j] == "`":
                j += 1
            run = text[i:j]
            close = re.compile(r"(?<!`)" + re.escape(run) + r"(?!`)")
            m = close.search(text, j)
            if m is None:
                i = j
                continue
            ranges.append((pos, i))
            pos = i = m.end()
            continue
        i += 1
    ranges.append((pos, len(text)))
    return ranges


def _shortcode_words(inner: str) -> list[str]:
    """A shortcode's name and arguments; quoted arguments may hold spaces (as in Quarto)."""
    try:
        return shlex.split(inner)
    except ValueError:
        return inner.split()


def _is_escaped(text: str, m: re.Match) -> bool:
    return m.start() > 0 and text[m.start() - 1] == "{" and text[m.end():m.end() + 1] == "}"


def _attr_escape(text: str) -> str:
    return " ".join(text.replace("\\", "\\\\").replace('"', '\\"').split())


def _md_inline(text: str) -> str:
    """A caption as one markdown line (captions are plain text in the notebooks)."""
    return " ".join(str(text).split())


def _md_escape(text: str) -> str:
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", text)


def _raw_block(content: str, fmt: str) -> str:
    fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", content)), default=0) + 1)
    return f"{fence}{{={fmt}}}\n{content.strip()}\n{fence}"


_GOOGLE_FONTS = re.compile(r"@import\s+url\([^)]*fonts\.googleapis\.com[^)]*\)\s*;?", re.IGNORECASE)
_EXTERNAL_LINK = re.compile(r"<link\b[^>]*href\s*=\s*[\"']https?://[^>]*>", re.IGNORECASE)


def _strip_external(html_text: str) -> str:
    """Drop web-font imports and external stylesheets (the site makes no external request)."""
    return _EXTERNAL_LINK.sub("", _GOOGLE_FONTS.sub("", html_text))


def _html_table_to_markdown(html_text: str) -> str:
    """A table's HTML as pandoc markdown (for Typst): pandoc reads the HTML table."""
    import pypandoc

    cleaned = re.sub(r"<style\b.*?</style>", "", html_text, flags=re.DOTALL | re.IGNORECASE)
    return pypandoc.convert_text(cleaned, "markdown-raw_html-native_divs-native_spans-fenced_divs-bracketed_spans-link_attributes-header_attributes",
                                 format="html", extra_args=["--wrap=none"]).strip()


# --- entry point ------------------------------------------------------------------------------

def resolve_document(path: Path, *, project: "ProjectConfig", lang: str, target: str) -> ResolvedDocument:
    """Resolve ``path`` for ``target`` (``"html"`` or ``"typst"``) in ``lang``.

    Raises :class:`~bpsreport.render.UnsupportedSyntax` or
    :class:`~bpsreport.render.RenderError` naming the file and line of the first problem.
    """
    if target not in TARGETS:
        raise ValueError(f"target must be one of {TARGETS}, not {target!r}")
    path = Path(path)
    if not path.is_absolute():
        path = (project.root / path)
    path = path.resolve()
    if not path.is_file():
        raise RenderError(f"{path}: source file not found")
    resolver = _Resolver(project, lang, target, path)
    text = path.read_text(encoding="utf-8-sig")
    front, _, _ = split_front_matter(text, path)
    meta = document_metadata(front, project, target)
    meta.setdefault("lang", lang)
    from bpsreport.render.pdf import _resolve_shortcodes  # Quarto resolves them in metadata too

    meta = _resolve_shortcodes(meta, project.variables, meta)
    resolver.metadata = meta
    lines = resolver.read_lines(path, stack=(path,))
    lines = resolver.resolve_lines(lines)
    resolver.check_refs(lines)
    markdown = "\n".join(s.text for s in lines) + "\n"
    return ResolvedDocument(source=path, metadata=meta, markdown=markdown,
                            figures=resolver.figures, tables=resolver.tables, lines=lines,
                            includes=list(dict.fromkeys(resolver.files_read)))


def expand_includes(path: Path, *, project: "ProjectConfig", lang: str) -> list[SourceLine]:
    """The body of ``path`` with its includes expanded and nothing else resolved.

    Quarto expands the includes of *every* input of the project while it lists the
    project's files (to find each file's engine), before it renders anything, so one
    missing include anywhere stops the whole render (``../shared/QUARTO.md`` item 1); the
    built-in renderer checks every input the same way with this.
    """
    path = Path(path)
    if not path.is_absolute():
        path = project.root / path
    path = path.resolve()
    resolver = _Resolver(project, lang, "html", path)
    return resolver.read_lines(path, stack=(path,))
