"""The ``quarto`` render backend: real Quarto renders the sources, one profile per language.

For each language of a request it runs, in the project root::

    quarto render reports/<year>/<lang> --profile <lang> --output-dir <site>/<lang> \
        --metadata-file <pdf-<lang>.yml>

Quarto renders the edition's HTML pages and ``report.qmd`` (``format: typst``, with the
template partials of ``templates/typst/``), then runs the project's ``post-render``
script (``scripts/post-render.py``, with ``QUARTO_PYTHON`` set to this project's Python),
which publishes the PDFs in the site's downloads and adds the edition bar. The metadata
file carries what the Typst template needs beyond the document: the issuing details of
``config/edition.yml`` in that language and the settings of ``config/pdf.yml``
(:func:`bpsreport.render.pdf.pdf_metadata`), the same values the built-in renderer uses.

Supported Quarto versions: :data:`MIN_QUARTO` and newer (the Typst that Quarto bundles
must compile ``templates/typst/``; see the README). An older Quarto is refused before
anything is rendered.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from bpsreport.render import RenderError, RenderRequest, RenderResult

QUARTO_DOCS = "https://quarto.org/docs/get-started/"
_TAIL_LINES = 40
#: The oldest Quarto that builds the report. Quarto 1.7 and 1.8 bundle Typst 0.13.0, which
#: cannot compile the official template (templates/typst/, ../shared/QUARTO.md item 6);
#: 1.9 bundles Typst 0.14.2 and 1.10 Typst 0.15.1, which do (tests/test_typst_versions.py).
MIN_QUARTO = (1, 9)
#: The Typst each supported Quarto release bundles (its changelog), and the ``typst`` wheel
#: of PyPI that embeds that Typst (the built-in renderer's pin, requirements.lock, is the
#: one of the current release). tests/test_typst_versions.py compiles the template with each.
QUARTO_TYPST = {(1, 9): "0.14.2", (1, 10): "0.15.1"}
TYPST_WHEELS = {"0.14.2": "0.14.5", "0.15.1": "0.15.2"}


class QuartoTooOld(RenderError):
    """The installed Quarto is older than :data:`MIN_QUARTO`."""

    exit_code = 3


def parse_version(text: str) -> tuple[int, ...]:
    """``"quarto 1.10.18"`` -> ``(1, 10, 18)``; an unreadable version gives ``()``.

    >>> parse_version("quarto 1.10.18")
    (1, 10, 18)
    """
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    return tuple(int(g) for g in m.groups() if g is not None) if m else ()


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

    def check_version(self) -> str:
        """The version line, after refusing a Quarto older than :data:`MIN_QUARTO`."""
        line = self.version()
        found = parse_version(line)
        if not found or found[:2] < MIN_QUARTO:
            need = ".".join(map(str, MIN_QUARTO))
            raise QuartoTooOld(
                f"{self.quarto} is {line}, but the report needs Quarto {need} or newer: older "
                f"releases bundle Typst 0.13, which cannot compile the official PDF template "
                f"(templates/typst/). Install Quarto {need} or newer ({QUARTO_DOCS}), or use "
                f"--renderer builtin.")
        return line

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

        data = pdf_metadata(request.year, lang, root=Path(request.root), draft=request.draft)
        path = Path(folder) / f"pdf-{lang}.yml"
        path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        return path

    # -- rendering -----------------------------------------------------------------------
    def render(self, request: RenderRequest) -> RenderResult:
        from bpsreport.render.builtin import collect_pdfs

        version = self.check_version()
        root = Path(request.root).resolve()
        site_dir = Path(request.site_dir)
        site_dir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        # The post-render script runs with the project's Python (Quarto's QUARTO_PYTHON).
        env.setdefault("QUARTO_PYTHON", sys.executable)
        with tempfile.TemporaryDirectory(prefix="bpsreport-quarto-") as scratch:
            for lang in request.langs:
                meta = self.write_metadata(request, lang, Path(scratch))
                self._run(self.render_command(lang, site_dir / lang, meta, request.year), root,
                          lang, env)
        return RenderResult(backend=self.name, version=version, site_dir=site_dir,
                            pdfs=collect_pdfs(request))

    def _run(self, cmd: list[str], cwd: Path, lang: str, env: dict | None = None) -> None:
        try:
            proc = subprocess.run(cmd, cwd=str(cwd), capture_output=True, text=True, check=False,
                                  env=env)
        except OSError as exc:
            raise RenderError(f"{self.quarto} could not be run ({exc})") from exc
        if proc.returncode != 0:
            tail = "\n".join(((proc.stderr or "") + (proc.stdout or "")).strip()
                             .splitlines()[-_TAIL_LINES:])
            raise RenderError(f"quarto render --profile {lang} failed (exit {proc.returncode}):\n"
                              f"{tail}")
