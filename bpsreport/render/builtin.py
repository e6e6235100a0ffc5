"""The built-in render backend: the same Quarto sources and the same steps, without Quarto.

For one edition it does what ``quarto render reports/<year>/<lang> --profile <lang>``
does for each language, in the same order:

1. checks the includes of every input of the profiles (Quarto expands them while it
   lists the project's files, so one broken include anywhere stops the render);
2. renders the edition's HTML pages (:func:`bpsreport.render.html.render_site`) and
   its ``format: typst`` documents (the PDF, :func:`bpsreport.render.pdf.render_typst_document`)
   into the profile's output folder;
3. runs the project's ``post-render`` script with Quarto's environment
   (:mod:`bpsreport.render.scripts`), which adds the edition bar, the downloads and the
   search, exactly as after real Quarto.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath

from bpsreport.render import RenderError, RenderRequest, RenderResult
from bpsreport.render.html import (in_render_target, lang_output_root, pandoc_version, plan_site,
                                   render_list, render_site)
from bpsreport.render.project import ProjectConfig, load_project
from bpsreport.render.qmd import document_formats, expand_includes, split_front_matter

PDF_NAMES = {"zh": "report-zh.pdf", "en": "report-en.pdf", "bilingual": "report-bilingual.pdf"}


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

    def render(self, request: RenderRequest, *, progress=None) -> RenderResult:
        """``progress(stage, done, total, item)``, when given, hears of each HTML page
        (stage ``"pages"``) and each PDF (``"pdfs"``) as it is finished."""
        def reporter(stage: str):
            return None if progress is None else (
                lambda done, total, item="": progress(stage, done, total, item))

        root = Path(request.root).resolve()
        site_dir = Path(request.site_dir)
        plan = plan_site(root, tuple(request.langs), site_dir, target=request.target)
        check_project_includes(plan.projects)
        site = render_site(root, site_dir, langs=tuple(request.langs), plan=plan,
                           cache_dir=root / "build" / request.unit_id / str(request.year)
                           / "render-cache" / "html",  # the same folder as cache_root below
                           progress=reporter("pages"))
        cache_root = root / "build" / request.unit_id / str(request.year) / "render-cache"
        reused_pages = sum(1 for page in site.pages if page.reused)
        counts = {"pages": (len(site.pages) - reused_pages, reused_pages), "pdfs": (0, 0)}
        written: dict[str, list[Path]] = {lang: [] for lang in request.langs}
        for page in site.pages:
            written[page.page.lang].append(page.html_path)
        documents = {lang: typst_documents(plan.projects[lang], request.target.format(lang=lang))
                     for lang in request.langs}
        total = sum(len(d) for d in documents.values())
        pdf_progress = reporter("pdfs")
        if pdf_progress is not None:
            pdf_progress(0, total)
        done = 0
        work_dir = Path(request.work_dir or (site_dir.parent / "typst"))
        from bpsreport.render.pdf import render_typst_document

        for lang in request.langs:
            project = plan.projects[lang]
            out_root = site_dir / lang_output_root(project)
            for rel in documents[lang]:
                output = out_root / rel.with_suffix(".pdf")
                output.parent.mkdir(parents=True, exist_ok=True)
                typeset = render_typst_document(root / rel, output, project=project, lang=lang,
                                                year=request.year, root=root,
                                                work_dir=work_dir / lang, draft=request.draft,
                                                cache_dir=cache_root / "pdf")
                made, reused = counts["pdfs"]
                counts["pdfs"] = (made, reused + 1) if typeset.reused else (made + 1, reused)
                written[lang].append(output)
                done += 1
                if pdf_progress is not None:
                    pdf_progress(done, total, str(output.relative_to(site_dir)))
        from bpsreport.render.scripts import run_post_render

        for lang in request.langs:
            project = plan.projects[lang]
            run_post_render(root, project.config, output_dir=site_dir / lang_output_root(project),
                            output_files=written[lang], profile=lang)
        return RenderResult(backend=self.name, version=self.version(), site_dir=site_dir,
                            pdfs=collect_pdfs(request), counts=counts)


def check_project_includes(projects: dict[str, ProjectConfig]) -> None:
    """Expand the includes of every input of every profile; the first broken one stops
    the render with its file and line, as in Quarto."""
    for lang, project in projects.items():
        for rel in render_list(project):
            expand_includes(project.root / rel, project=project, lang=lang)


def typst_documents(project: ProjectConfig, target: str | None) -> list[PurePosixPath]:
    """The inputs under ``target`` whose formats include ``typst`` (the PDF editions)."""
    found = []
    for rel in render_list(project):
        if not in_render_target(rel, target):
            continue
        source = project.root / rel
        front, _, _ = split_front_matter(source.read_text(encoding="utf-8-sig"), source)
        if "typst" in document_formats(front, project):
            found.append(rel)
    return found


def collect_pdfs(request: RenderRequest) -> dict[str, Path]:
    """Copy the edition's PDFs from the site's downloads (where the post-render step put
    them) into ``request.pdf_dir``."""
    folder = Path(request.site_dir) / "downloads" / str(request.year)
    pdf_dir = Path(request.pdf_dir)
    pdf_dir.mkdir(parents=True, exist_ok=True)
    out: dict[str, Path] = {}
    for key, name in PDF_NAMES.items():
        source = folder / name
        if source.is_file():
            shutil.copyfile(source, pdf_dir / name)
            out[key] = pdf_dir / name
    missing = [lang for lang in request.langs if lang not in out]
    if missing:
        raise RenderError(f"the render wrote no PDF for {', '.join(missing)} into "
                          f"downloads/{request.year}/ (expected reports/{request.year}/<lang>/"
                          "report.qmd with format: typst, published by scripts/post-render.py)")
    return out
