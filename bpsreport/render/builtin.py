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

import concurrent.futures
import shutil
import threading
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

    @staticmethod
    def _typeset(request: RenderRequest, project: ProjectConfig, lang: str, rel: PurePosixPath,
                 site_dir: Path, root: Path, cache_dir: Path, events: "_HeldEvents"
                 ) -> tuple[Path, bool]:
        """One PDF of the render list: ``(output, reused)``."""
        from bpsreport.render.pdf import render_typst_document

        output = site_dir / lang_output_root(project) / rel.with_suffix(".pdf")
        output.parent.mkdir(parents=True, exist_ok=True)
        work_dir = Path(request.work_dir or (site_dir.parent / "typst"))
        typeset = render_typst_document(root / rel, output, project=project, lang=lang,
                                        year=request.year, root=root, work_dir=work_dir / lang,
                                        draft=request.draft, cache_dir=cache_dir)
        events.finished(str(output.relative_to(site_dir)))
        return output, typeset.reused

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
        cache_root = root / "build" / request.unit_id / str(request.year) / "render-cache"
        documents = {lang: typst_documents(plan.projects[lang], request.target.format(lang=lang))
                     for lang in request.langs}
        # The PDFs are typeset while the pages render: Typst and pandoc run outside the
        # GIL, so on two cores the PDFs cost little beyond the pages. Their progress is
        # held back until the pages are done, so the output reads as before.
        pdf_events = _HeldEvents(reporter("pdfs"))
        pdf_events(0, sum(len(d) for d in documents.values()))
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(request.langs) or 1,
                                                   thread_name_prefix="typst") as pool:
            pdf_jobs = {pool.submit(self._typeset, request, plan.projects[lang], lang, rel,
                                    site_dir, root, cache_root / "pdf", pdf_events): lang
                        for lang in request.langs for rel in documents[lang]}
            try:
                site = render_site(root, site_dir, langs=tuple(request.langs), plan=plan,
                                   cache_dir=cache_root / "html",  # under cache_root, as above
                                   progress=reporter("pages"))
            except BaseException:
                for job in pdf_jobs:
                    job.cancel()
                concurrent.futures.wait(pdf_jobs)
                raise
            pdf_events.release()
            typeset = [(lang, *job.result()) for job, lang in pdf_jobs.items()]  # in order
        reused_pages = sum(1 for page in site.pages if page.reused)
        reused_pdfs = sum(1 for _, _, reused in typeset if reused)
        counts = {"pages": (len(site.pages) - reused_pages, reused_pages),
                  "pdfs": (len(typeset) - reused_pdfs, reused_pdfs)}
        written: dict[str, list[Path]] = {lang: [] for lang in request.langs}
        for page in site.pages:
            written[page.page.lang].append(page.html_path)
        for lang, output, _ in typeset:
            written[lang].append(output)
        from bpsreport.render.scripts import run_post_render

        for lang in request.langs:
            project = plan.projects[lang]
            run_post_render(root, project.config, output_dir=site_dir / lang_output_root(project),
                            output_files=written[lang], profile=lang)
        return RenderResult(backend=self.name, version=self.version(), site_dir=site_dir,
                            pdfs=collect_pdfs(request), counts=counts)


class _HeldEvents:
    """A progress callback, called from worker threads, whose events are held until
    :meth:`release` and passed on in order from then on."""

    def __init__(self, callback):
        self.callback = callback
        self.held: list[tuple] | None = []
        self.lock = threading.RLock()
        self.done = self.total = 0

    def __call__(self, done: int, total: int, item: str = "") -> None:
        with self.lock:
            self.total = total
            if self.callback is None:
                return
            if self.held is None:
                self.callback(done, total, item)
            else:
                self.held.append((done, total, item))

    def finished(self, item: str) -> None:
        """One more of the announced total is done."""
        with self.lock:
            self.done += 1
            self(self.done, self.total, item)

    def release(self) -> None:
        with self.lock:
            held, self.held = self.held or [], None
            for event in held:
                if self.callback is not None:
                    self.callback(*event)


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
