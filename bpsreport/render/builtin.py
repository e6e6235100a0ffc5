"""The built-in render backend: the same Quarto sources without Quarto.

HTML site: :func:`bpsreport.render.html.render_site` (pandoc + Lua filters).
PDFs: :func:`bpsreport.render.pdf.render_pdfs` (Typst). PDFs are made first so that the
site's download menu lists them.
"""

from __future__ import annotations

from pathlib import Path

from bpsreport.render import RenderError, RenderRequest, RenderResult
from bpsreport.render.html import pandoc_version, render_site
from bpsreport.render.project import ProjectConfig, load_project


class BuiltinBackend:
    name = "builtin"

    def version(self) -> str:
        parts = [f"pandoc {pandoc_version()}"]
        try:
            import typst  # noqa: F401
            from importlib.metadata import version as dist_version
            parts.append(f"typst-py {dist_version('typst')}")
        except Exception:  # noqa: BLE001 - the version line is informative only
            pass
        return "builtin (" + ", ".join(parts) + ")"

    def projects(self, request: RenderRequest) -> dict[str, ProjectConfig]:
        return {lang: load_project(request.root, lang) for lang in request.langs}

    def render_pdfs(self, request: RenderRequest, *, progress=None) -> dict[str, Path]:
        try:
            from bpsreport.render.pdf import render_pdfs
        except ImportError as exc:
            raise RenderError(f"the PDF renderer is not available ({exc})") from exc
        return render_pdfs(request, self.projects(request), progress=progress)

    def render(self, request: RenderRequest, *, pdfs: bool = True, progress=None) -> RenderResult:
        """``progress(stage, done, total, item)``, when given, hears of each PDF
        (stage ``"pdfs"``) and each HTML page (``"pages"``) as it is finished."""
        def reporter(stage: str):
            return None if progress is None else (
                lambda done, total, item="": progress(stage, done, total, item))
        pdf_paths = self.render_pdfs(request, progress=reporter("pdfs")) if pdfs else {}
        cache = Path(request.root) / "build" / request.unit_id / str(request.year) / "render-cache" / "html"
        render_site(request.root, request.site_dir, langs=tuple(request.langs),
                    unit_id=request.unit_id, year=request.year, pdfs=pdf_paths, cache_dir=cache,
                    progress=reporter("pages"))
        return RenderResult(backend=self.name, version=self.version(),
                            site_dir=Path(request.site_dir), pdfs=pdf_paths)
