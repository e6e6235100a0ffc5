"""The ``quarto`` render backend: real Quarto renders the sources, one profile per language.

For each language of a request it runs, in the project root::

    quarto render --profile <lang> --output-dir <site_dir>/<lang> --metadata-file <pdf-<lang>.yml>

Quarto renders the HTML pages and ``report.qmd`` (``format: typst``, with the template
partials of ``templates/typst/``) itself. The metadata file carries what the Typst template
needs beyond the document: the issuing details of ``config/edition.yml`` in that language
and the settings of ``config/pdf.yml`` (:func:`bpsreport.render.pdf.pdf_metadata`), the same
values the built-in renderer uses, so both backends print the same 版头.

Afterwards the PDFs are copied out of the site (``report-<lang>.pdf``), the bilingual PDF is
the two editions one after the other (pypdf), and the site gets the same language chooser
and downloads folder as with the built-in renderer.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from bpsreport.render import RenderError, RenderRequest, RenderResult

QUARTO_DOCS = "https://quarto.org/docs/get-started/"
REPORT_NAME = "report"  # reports/<year>/<lang>/report.qmd -> report.pdf
_TAIL_LINES = 40


class QuartoBackend:
    """Renders with a Quarto binary (see :func:`bpsreport.render.find_quarto`)."""

    name = "quarto"

    def __init__(self, quarto: Path | str):
        self.quarto = Path(quarto)

    # -- version -------------------------------------------------------------------------
    def version(self) -> str:
        """``quarto <version>`` as ``quarto --version`` reports it."""
        try:
            proc = subprocess.run([str(self.quarto), "--version"], capture_output=True,
                                  text=True, check=False, timeout=120)
        except OSError as exc:
            raise RenderError(f"{self.quarto} could not be run ({exc}); install Quarto "
                              f"({QUARTO_DOCS}) or use --renderer builtin") from exc
        found = (proc.stdout or "").strip().splitlines()
        if proc.returncode != 0 or not found:
            raise RenderError(f"`{self.quarto} --version` failed (exit {proc.returncode}): "
                              f"{(proc.stderr or '').strip()[-400:]}")
        return f"quarto {found[0].strip()}"

    # -- commands ------------------------------------------------------------------------
    def render_command(self, lang: str, output_dir: Path, metadata_file: Path,
                       year: int | None = None) -> list[str]:
        """The ``quarto render`` command line of one language profile.

        With ``year``, only that edition's folder is rendered (``quarto render
        reports/<year>/<lang>``): ``_variables.yml`` holds one edition's variables.
        """
        target = [f"reports/{year}/{lang}"] if year is not None else []
        return [str(self.quarto), "render", *target, "--profile", lang,
                "--output-dir", str(Path(output_dir).resolve()),
                "--metadata-file", str(Path(metadata_file).resolve())]

    def write_metadata(self, request: RenderRequest, lang: str, folder: Path) -> Path:
        """The PDF metadata of one language as a YAML file for ``--metadata-file``."""
        from bpsreport.render.pdf import pdf_metadata

        data = pdf_metadata(request.year, lang, root=Path(request.root))
        path = Path(folder) / f"pdf-{lang}.yml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    # -- rendering -----------------------------------------------------------------------
    def render(self, request: RenderRequest, *, pdfs: bool = True) -> RenderResult:
        root = Path(request.root).resolve()
        site_dir = Path(request.site_dir)
        site_dir.mkdir(parents=True, exist_ok=True)
        found: dict[str, Path] = {}
        with tempfile.TemporaryDirectory(prefix="bpsreport-quarto-") as scratch:
            for lang in request.langs:
                out = site_dir / lang
                meta = self.write_metadata(request, lang, Path(scratch))
                self._run(self.render_command(lang, out, meta, request.year), root, lang)
                if pdfs:
                    found[lang] = self._find_pdf(out, request, lang)
        pdf_paths = self._collect_pdfs(request, found) if pdfs else {}
        self._finish_site(request, pdf_paths)
        return RenderResult(backend=self.name, version=self.version(), site_dir=site_dir,
                            pdfs=pdf_paths)

    def _run(self, cmd: list[str], cwd: Path, lang: str) -> None:
        try:
            proc = subprocess.run(cmd, cwd=str(cwd), capture_output=True, text=True, check=False)
        except OSError as exc:
            raise RenderError(f"{self.quarto} could not be run ({exc})") from exc
        if proc.returncode != 0:
            tail = "\n".join(((proc.stderr or "") + (proc.stdout or "")).strip()
                             .splitlines()[-_TAIL_LINES:])
            raise RenderError(f"quarto render --profile {lang} failed (exit {proc.returncode}):\n"
                              f"{tail}")

    @staticmethod
    def _find_pdf(out: Path, request: RenderRequest, lang: str) -> Path:
        expected = out / "reports" / str(request.year) / lang / f"{REPORT_NAME}.pdf"
        if expected.is_file():
            return expected
        others = sorted(out.rglob("*.pdf"))
        for candidate in others:
            if candidate.stem == REPORT_NAME and lang in candidate.parts:
                return candidate
        listed = ", ".join(str(p.relative_to(out)) for p in others) or "none"
        raise RenderError(f"quarto render --profile {lang} wrote no {expected.relative_to(out)} "
                          f"(PDFs found: {listed}); reports/{request.year}/{lang}/"
                          f"{REPORT_NAME}.qmd needs `format: typst`")

    @staticmethod
    def _collect_pdfs(request: RenderRequest, found: dict[str, Path]) -> dict[str, Path]:
        pdf_dir = Path(request.pdf_dir)
        pdf_dir.mkdir(parents=True, exist_ok=True)
        out: dict[str, Path] = {}
        for lang, path in found.items():
            dest = pdf_dir / f"report-{lang}.pdf"
            shutil.copy2(path, dest)
            out[lang] = dest
        if all(lang in out for lang in ("zh", "en")):
            out["bilingual"] = concatenate_pdfs([out["zh"], out["en"]],
                                                pdf_dir / "report-bilingual.pdf")
        return out

    @staticmethod
    def _finish_site(request: RenderRequest, pdfs: dict[str, Path]) -> None:
        """Downloads and the language chooser, as the built-in renderer writes them."""
        from bpsreport.render.html import copy_downloads, plan_site, write_chooser

        copy_downloads(request.site_dir, request.root, request.unit_id, request.year, pdfs)
        write_chooser(request.site_dir, plan_site(Path(request.root), tuple(request.langs),
                                                  Path(request.site_dir)), request.year)


def concatenate_pdfs(parts: list[Path], output: Path) -> Path:
    """The PDFs one after the other (each keeps its own page numbers)."""
    try:
        from pypdf import PdfWriter
    except ImportError as exc:  # pypdf is pinned in requirements.lock
        raise RenderError("the bilingual PDF needs pypdf (pinned in requirements.lock); run "
                          "./run setup") from exc
    writer = PdfWriter()
    for part in parts:
        writer.append(str(part))
    with open(output, "wb") as fh:
        writer.write(fh)
    return output
