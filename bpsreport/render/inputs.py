"""Which files a Quarto project renders: ``project: render`` globs, resolved as Quarto does.

The built-in renderer must render exactly the files real Quarto renders, so this module
re-implements Quarto's rules (``src/core/path.ts`` ``resolvePathGlobs`` and
``src/project/project-context.ts`` ``projectInputFiles``; research notes in
``docs/rendering.md``):

- A pattern with glob characters (``*``, ``?``, ``[…]``, ``{a,b}``) is a *smart* glob.
  A smart glob that does not start with ``/`` matches **at any depth**: Quarto puts
  ``**/`` in front of it. So ``reports/*/zh/**/*.qmd`` also matches
  ``tests/fixtures/x/reports/2018/zh/index.qmd``; write ``/reports/*/zh/**/*.qmd`` to
  anchor it at the project root.
- A pattern without glob characters is a path relative to the project root; a folder
  means every renderable file in it. A trailing ``/`` makes a smart glob of the folder.
- A pattern starting with ``!`` excludes; exclusions are always smart (any depth unless
  they start with ``/``) and apply to every inclusion, whatever their order.
- Never rendered, even when named: anything whose name starts with ``_`` or ``.`` (and
  everything below such a folder), ``README.md``/``README.qmd``/``README.Rmd``,
  ``CLAUDE.md``, ``AGENTS.md``, ``*.llms.md``, and the folders ``node_modules``, ``renv``,
  ``packrat``, ``rsconnect``, ``venv`` and ``env``, and the project's output folder.
- Renderable files are ``.qmd``, ``.md``, ``.markdown``, ``.ipynb``, ``.Rmd`` and
  ``.Rmarkdown``.

Examples
--------
>>> globs_to_regex("**/reports/*/zh/**/*.qmd").match("tests/a/reports/2018/zh/index.qmd") is not None
True
>>> as_full_glob("reports/*/zh/**/*.qmd", Path("."))
'**/reports/*/zh/**/*.qmd'
>>> as_full_glob("/reports/*/zh/**/*.qmd", Path("."))
'reports/*/zh/**/*.qmd'
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path, PurePosixPath

from bpsreport.render import RenderError

RENDERABLE = (".qmd", ".md", ".markdown", ".ipynb", ".rmd", ".rmarkdown")
#: Folder names Quarto's engines ignore wherever they are.
IGNORED_DIRS = frozenset({"node_modules", "renv", "packrat", "rsconnect", "venv", "env"})
_IGNORED_FILES = re.compile(r"^(README\.[Rrq]?md|CLAUDE\.md|AGENTS\.md|.*\.llms\.md)$")
_GLOB_CHARS = re.compile(r"^!|[*?]|\[[^\]]+\]|\{[^}]+\}|\([^)|]+\|[^)]+\)")
_EXTGLOB = re.compile(r"[?*+@!]\(")


def is_glob(pattern: str) -> bool:
    """Whether Quarto treats ``pattern`` as a glob (Deno's ``isGlob``, approximately)."""
    return bool(_GLOB_CHARS.search(pattern))


def as_full_glob(pattern: str, root: Path, *, prefer_smart: bool = False) -> str:
    """``pattern`` as the root-relative glob Quarto expands (``asFullGlob``)."""
    smart = prefer_smart or is_glob(pattern)
    if pattern.startswith("\\!"):
        pattern = pattern[1:]
    if smart:
        pattern = re.sub(r"^\.[/\\]+", "/", pattern)
        if pattern.endswith("/"):
            pattern += "**/*"
        elif (Path(root) / pattern.lstrip("/")).is_dir():
            pattern += "/**/*"
    if not pattern.startswith("/"):
        return "**/" + pattern if smart else pattern
    return pattern[1:]


@lru_cache(maxsize=256)
def globs_to_regex(glob: str) -> re.Pattern:
    """A root-relative glob (``*``, ``?``, ``**``, ``[…]``, ``{a,b}``) as a regex on
    ``/``-separated paths. ``**`` as a whole segment matches zero or more folders."""
    if _EXTGLOB.search(glob):
        raise RenderError(f"the render pattern {glob!r} uses an extended glob ( ?(…) *(…) "
                          "+(…) @(…) !(…) ), which the built-in renderer does not support; "
                          "use *, ?, ** , [...] or {a,b}")
    out = []
    parts = glob.split("/")
    for n, part in enumerate(parts):
        last = n == len(parts) - 1
        if part == "**":
            out.append("(?:.*/)?" if not last else ".*")
            continue
        out.append(_segment_regex(part) + ("" if last else "/"))
    return re.compile("^" + "".join(out) + "$")


def _segment_regex(segment: str) -> str:
    out, i = [], 0
    while i < len(segment):
        ch = segment[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            j = segment.find("]", i + 1)
            if j == -1:
                out.append(re.escape(ch))
            else:
                body = segment[i + 1:j]
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append("[" + body.replace("\\", "\\\\") + "]")
                i = j
        elif ch == "{":
            j = segment.find("}", i + 1)
            if j == -1:
                out.append(re.escape(ch))
            else:
                options = segment[i + 1:j].split(",")
                out.append("(?:" + "|".join(_segment_regex(o) for o in options) + ")")
                i = j
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


def _hidden(rel: PurePosixPath) -> bool:
    """Quarto's ignore list for project inputs (``projectHiddenIgnoreGlob`` and the
    engines' ignore globs)."""
    for n, part in enumerate(rel.parts):
        if part.startswith(("_", ".")):
            return True
        if part in IGNORED_DIRS and n < len(rel.parts) - 1:
            return True
    return bool(_IGNORED_FILES.match(rel.name))


def _walk(root: Path, output_dir: PurePosixPath | None):
    """Every file and folder under ``root`` (root-relative), without what Quarto ignores."""
    for current, dirs, files in os.walk(root):
        here = PurePosixPath(Path(current).relative_to(root).as_posix())
        keep = []
        for d in sorted(dirs):
            rel = here / d if str(here) != "." else PurePosixPath(d)
            if _hidden(rel) or d in IGNORED_DIRS or (output_dir is not None and rel == output_dir):
                continue
            keep.append(d)
            yield rel, True
        dirs[:] = keep
        for f in sorted(files):
            rel = here / f if str(here) != "." else PurePosixPath(f)
            if not _hidden(rel):
                yield rel, False


def _renderable(rel: PurePosixPath) -> bool:
    return rel.suffix.lower() in RENDERABLE and not _hidden(rel)


def project_inputs(root: Path, patterns: list[str] | None, *,
                   output_dir: str | None = None) -> list[PurePosixPath]:
    """The files a profile renders, root-relative, in a stable (sorted) order.

    ``patterns`` is the merged ``project: render`` list (``None`` or empty: every
    renderable file of the project). ``output_dir`` is ``project: output-dir``.
    """
    root = Path(root).resolve()
    out_dir = PurePosixPath(str(output_dir).strip("/")) if output_dir else None
    entries = list(_walk(root, out_dir))
    files = [rel for rel, is_dir in entries if not is_dir and _renderable(rel)]
    if not patterns:
        return sorted(files)
    include = [as_full_glob(p, root) for p in patterns if not p.startswith("!")]
    exclude = [as_full_glob(p[1:], root, prefer_smart=True) for p in patterns if p.startswith("!")]

    def expand(globs: list[str]) -> set[PurePosixPath]:
        found: set[PurePosixPath] = set()
        for glob in globs:
            regex = globs_to_regex(glob)
            for rel, is_dir in entries:
                if not regex.match(str(rel)):
                    continue
                if is_dir:
                    prefix = str(rel) + "/"
                    found.update(f for f in files if str(f).startswith(prefix))
                elif _renderable(rel):
                    found.add(rel)
        return found

    chosen = expand(include) - expand(exclude)
    return sorted(chosen)
