"""Rendering the report: the Quarto project under ``reports/`` into a site and PDFs.

Two interchangeable backends render the same sources (see ``docs/rendering.md``):

* ``quarto`` — real Quarto, when a ``quarto`` binary can be found;
* ``builtin`` — this package: shortcodes resolved in Python (:mod:`.qmd`), HTML by pandoc
  with Lua filters (:mod:`.html`), PDFs by Typst (:mod:`.pdf`).

The output directories of a :class:`RenderRequest` are *staging* directories; the caller
swaps them into place once rendering succeeded.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from bpsreport.errors import PipelineError

__all__ = [
    "RenderBackend", "RenderRequest", "RenderResult", "RenderError", "UnsupportedSyntax",
    "find_quarto", "select_backend",
]


class RenderError(PipelineError):
    """The report could not be rendered (a source problem or a missing tool)."""

    exit_code = 5


class UnsupportedSyntax(RenderError):
    """A source uses something the built-in renderer does not support.

    The message reads ``<file>:<line>: <what> is not supported by the built-in renderer;
    supported: …``.
    """

    def __init__(self, file: str | Path, line: int, what: str, supported: str = ""):
        self.file = str(file)
        self.line = line
        self.what = what
        from bpsreport.render.qmd import SUPPORTED_SUMMARY  # local: avoid an import cycle
        self.supported = supported or SUPPORTED_SUMMARY
        super().__init__(f"{self.file}:{self.line}: {what} is not supported by the built-in "
                         f"renderer; supported: {self.supported}")


@dataclass(frozen=True)
class RenderRequest:
    """What to render: one edition (unit and year) in some languages, into staging dirs.

    ``site_dir`` receives the site (each language's profile output folder under it, as
    ``_site`` does); ``pdf_dir`` receives copies of the edition's PDFs from the site's
    downloads; ``work_dir`` keeps intermediate files (the Typst sources) for inspection.
    ``draft`` marks every PDF page and site page of an edition that is not final.
    """

    root: Path
    unit_id: str
    year: int
    site_dir: Path
    pdf_dir: Path
    langs: tuple[str, ...] = ("zh", "en")
    work_dir: Path | None = None
    # True while `pipeline.py check` reports errors for the edition: every PDF page and
    # site page then carries a visible 征求意见稿 / DRAFT mark.
    draft: bool = False

    @property
    def target(self) -> str:
        """The folder ``quarto render`` is given, per language profile."""
        return f"reports/{self.year}/{{lang}}"


@dataclass
class RenderResult:
    backend: str
    version: str
    site_dir: Path
    pdfs: dict[str, Path] = field(default_factory=dict)  # keys "zh", "en", "bilingual"
    # What was made afresh and what was taken unchanged from an earlier render, by kind
    # ("pages", "pdfs"): (rendered, reused). None when the backend does not say (Quarto).
    counts: dict[str, tuple[int, int]] | None = None

    def summary(self) -> str:
        """"30 pages: 4 rendered, 26 reused; 2 PDFs: 1 typeset, 1 reused"."""
        if not self.counts:
            return ""
        parts = []
        for kind, verb in (("pages", "rendered"), ("pdfs", "typeset")):
            if kind in self.counts:
                made, reused = self.counts[kind]
                noun = "pages" if kind == "pages" else "PDFs"
                parts.append(f"{made + reused} {noun}: {made} {verb}, {reused} reused")
        return "; ".join(parts)


@runtime_checkable
class RenderBackend(Protocol):
    name: str  # "quarto" | "builtin"

    def version(self) -> str: ...

    def render(self, request: RenderRequest) -> RenderResult: ...


def find_quarto() -> Path | None:
    """The Quarto binary: ``QUARTO_PATH``, then ``PATH``, then the ``quarto-cli`` package's."""
    env = os.environ.get("QUARTO_PATH")
    if env:
        p = Path(env)
        if p.is_dir():
            p = p / "bin" / "quarto" if (p / "bin" / "quarto").exists() else p / "quarto"
        if p.is_file() and os.access(p, os.X_OK):
            return p
    found = shutil.which("quarto")
    if found:
        return Path(found)
    try:
        import importlib.util
        spec = importlib.util.find_spec("quarto_cli")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            cand = Path(loc) / "bin" / "quarto"
            if cand.is_file() and os.access(cand, os.X_OK):
                return cand
    return None


QUARTO_INSTALL_HINT = (
    "install Quarto (https://quarto.org/docs/get-started/) and put it on PATH or set "
    "QUARTO_PATH, or `.venv/bin/pip install quarto-cli` (needs internet), or use "
    "--renderer builtin")


def select_backend(name: str = "auto") -> RenderBackend:
    """``auto``: Quarto when installed, else the built-in renderer."""
    if name not in ("auto", "quarto", "builtin"):
        raise RenderError(f"unknown renderer {name!r}; expected auto, quarto or builtin")
    if name in ("auto", "quarto"):
        quarto = find_quarto()
        if quarto is not None:
            from bpsreport.render.quarto import QuartoBackend
            return QuartoBackend(quarto)
        if name == "quarto":
            raise RenderError(f"renderer 'quarto' requested but no quarto binary was found; "
                              f"{QUARTO_INSTALL_HINT}")
    from bpsreport.render.builtin import BuiltinBackend
    return BuiltinBackend()
