"""Choosing the render backend, and the Quarto backend's side of the contract.

Selection is tested with a stub ``quarto`` that only prints a version: nothing here fakes
rendering. Rendering with real Quarto runs only where Quarto is installed.
"""

from __future__ import annotations

import importlib.util
import os
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from bpsreport.render import (RenderBackend, RenderError, RenderRequest, find_quarto,
                              select_backend)
from bpsreport.render.quarto import MIN_QUARTO, QuartoBackend, QuartoTooOld

ROOT = Path(__file__).resolve().parents[1]
NO_QUARTO = "Quarto is not installed (https://quarto.org/docs/get-started/)"


def _stub_quarto(folder: Path, *, version: str = "1.6.40", exit_code: int = 0) -> Path:
    """An executable named ``quarto`` that prints a version and exits."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "quarto"
    path.write_text(f"#!/bin/sh\necho {version}\nexit {exit_code}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def no_quarto(monkeypatch, tmp_path):
    """An environment where no Quarto can be found: empty PATH, no QUARTO_PATH, no
    quarto-cli package."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.delenv("QUARTO_PATH", raising=False)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a, **k: None if name == "quarto_cli" else real_find_spec(name, *a, **k))
    return empty


def test_builtin_is_chosen_by_name():
    backend = select_backend("builtin")
    assert backend.name == "builtin"
    assert isinstance(backend, RenderBackend)


def test_auto_falls_back_to_builtin_without_quarto(no_quarto):
    assert find_quarto() is None
    assert select_backend("auto").name == "builtin"


def test_auto_picks_quarto_found_on_path(no_quarto):
    stub = _stub_quarto(no_quarto)
    backend = select_backend("auto")
    assert isinstance(backend, QuartoBackend) and isinstance(backend, RenderBackend)
    assert backend.quarto == stub
    assert backend.version() == "quarto 1.6.40"


def test_quarto_path_variable_wins_over_path(no_quarto, tmp_path, monkeypatch):
    _stub_quarto(no_quarto, version="1.0.0")
    install = tmp_path / "quarto-1.7"
    preferred = _stub_quarto(install / "bin", version="1.7.1")
    monkeypatch.setenv("QUARTO_PATH", str(install))  # an install folder: bin/quarto inside
    backend = select_backend("auto")
    assert backend.quarto == preferred and backend.version() == "quarto 1.7.1"


def test_asking_for_quarto_without_it_says_how_to_get_it(no_quarto):
    with pytest.raises(RenderError) as err:
        select_backend("quarto")
    assert "https://quarto.org/docs/get-started/" in str(err.value)
    assert "--renderer builtin" in str(err.value)


def test_unknown_renderer_name_is_refused():
    with pytest.raises(RenderError, match="unknown renderer 'latex'"):
        select_backend("latex")


def test_a_broken_quarto_reports_its_failure(tmp_path):
    stub = _stub_quarto(tmp_path / "bin", version="oops", exit_code=3)
    with pytest.raises(RenderError, match="exit 3"):
        QuartoBackend(stub).version()


def test_render_command_renders_one_profile_into_staging(tmp_path):
    backend = QuartoBackend(Path("/opt/quarto/bin/quarto"))
    cmd = backend.render_command("zh", tmp_path / "site" / "zh", tmp_path / "pdf-zh.yml")
    assert cmd[:4] == ["/opt/quarto/bin/quarto", "render", "--profile", "zh"]
    assert cmd[cmd.index("--output-dir") + 1] == str((tmp_path / "site" / "zh").resolve())
    assert cmd[cmd.index("--metadata-file") + 1] == str((tmp_path / "pdf-zh.yml").resolve())


def test_quarto_gets_the_same_pdf_metadata_as_the_builtin_renderer(tmp_path):
    request = RenderRequest(root=ROOT, unit_id="gd-province", year=2017,
                            site_dir=tmp_path / "site", pdf_dir=tmp_path / "pdf")
    path = QuartoBackend(Path("quarto")).write_metadata(request, "en", tmp_path)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["edition"]["issuer_mark"] == "Department of Finance of Guangdong Province"
    assert data["edition"]["doc_number"] == "Yue Cai Ban [2018] No. 6"
    assert data["pdf"]["settings"].endswith("`{=typst}")
    assert "lang" not in data  # the profile sets the language, not this file


def test_quarto_project_uses_the_official_template_partials():
    config = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    partials = config["format"]["typst"]["template-partials"]
    assert sorted(Path(p).name for p in partials) == ["typst-show.typ", "typst-template.typ"]
    for partial in partials:
        assert (ROOT / partial.lstrip("/")).is_file(), partial
    # Quarto reads partials as pandoc templates: `$` may appear only as template syntax,
    # which only the show rule uses.
    frame = (ROOT / "templates" / "typst" / "typst-template.typ").read_text(encoding="utf-8")
    assert "$" not in frame
    show = (ROOT / "templates" / "typst" / "typst-show.typ").read_text(encoding="utf-8")
    assert "official-document(" in show and "$edition.issuer_mark$" in show


def test_bilingual_pdf_of_two_editions_keeps_every_page_and_the_same_bytes(tmp_path):
    import typst
    from pypdf import PdfReader

    from bpsreport.postrender import combine_pdfs

    parts = []
    for name, pages in (("zh", 2), ("en", 3)):
        source = tmp_path / f"{name}.typ"
        source.write_text("\n#pagebreak()\n".join(f"{name} {i}" for i in range(pages)), encoding="utf-8")
        out = tmp_path / f"{name}.pdf"
        typst.compile(str(source), output=str(out), timestamp=0)
        parts.append(out)
    merged = combine_pdfs(parts, tmp_path / "both.pdf")
    reader = PdfReader(str(merged))
    assert len(reader.pages) == 5
    assert reader.pages[2].extract_text().strip() == "en 0"
    again = combine_pdfs(parts, tmp_path / "again.pdf")
    assert again.read_bytes() == merged.read_bytes()  # no time stamp, no random id


@pytest.mark.parametrize("version, accepted", [("1.7.34", False), ("1.8.27", False),
                                               ("1.9.38", True), ("1.10.18", True),
                                               ("1.11.2", True), ("2.0.0", True)])
def test_quarto_older_than_the_floor_is_refused_before_rendering(tmp_path, version, accepted):
    backend = QuartoBackend(_stub_quarto(tmp_path / "bin", version=version))
    if accepted:
        assert backend.check_version() == f"quarto {version}"
        return
    with pytest.raises(QuartoTooOld) as err:
        backend.check_version()
    need = ".".join(map(str, MIN_QUARTO))
    message = str(err.value)
    assert f"needs Quarto {need} or newer" in message and version in message
    assert "Typst 0.13" in message and "--renderer builtin" in message
    assert err.value.exit_code == 3


def test_quarto_render_stops_at_the_version_check(tmp_path):
    """An old Quarto is never run on the sources: the render fails on the version alone."""
    stub = _stub_quarto(tmp_path / "bin", version="1.7.34")
    request = RenderRequest(root=ROOT, unit_id="gd-province", year=2017,
                            site_dir=tmp_path / "site", pdf_dir=tmp_path / "pdf")
    with pytest.raises(QuartoTooOld):
        QuartoBackend(stub).render(request)
    assert not (tmp_path / "site").exists()


def test_render_command_renders_one_edition_folder(tmp_path):
    backend = QuartoBackend(Path("/opt/quarto/bin/quarto"))
    cmd = backend.render_command("en", tmp_path / "site" / "en", tmp_path / "pdf-en.yml", 2017)
    assert cmd[:5] == ["/opt/quarto/bin/quarto", "render", "reports/2017/en", "--profile", "en"]


def test_draft_metadata_marks_the_pdf(tmp_path):
    request = RenderRequest(root=ROOT, unit_id="gd-province", year=2017, draft=True,
                            site_dir=tmp_path / "site", pdf_dir=tmp_path / "pdf")
    data = yaml.safe_load(QuartoBackend(Path("quarto")).write_metadata(request, "zh", tmp_path)
                          .read_text(encoding="utf-8"))
    assert data["pdf"]["draft"] == "征求意见稿"


# --- real Quarto ------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(find_quarto() is None, reason=NO_QUARTO)
def test_real_quarto_renders_the_edition_as_the_builtin_renderer_does(tmp_path, edition_2017):
    """Real Quarto on this repository: both sites, the PDFs with their tables and the 34
    tasks, the edition bar; and the comparison with the built-in renderer's output
    (scripts/compare_renderers.py) finds no difference."""
    import json
    import sys

    backend = select_backend("quarto")
    assert backend.check_version().startswith("quarto ")
    request = RenderRequest(root=ROOT, unit_id="gd-province", year=2017,
                            site_dir=tmp_path / "site", pdf_dir=tmp_path / "pdf")
    result = backend.render(request)
    assert set(result.pdfs) == {"zh", "en", "bilingual"}
    text = subprocess.run(["pdftotext", str(result.pdfs["zh"]), "-"],
                          capture_output=True, check=True).stdout.decode("utf-8")
    assert "广东省财政厅文件" in text and "粤财办〔2018〕6号" in text
    assert "148.9" in text and "135.4%" in text  # the target table is there, with its numbers
    site = tmp_path / "site"
    page = (site / "zh/reports/2017/zh/targets.html").read_text(encoding="utf-8")
    assert 'class="bps-lang"' in page and 'class="bps-downloads"' in page
    assert (site / "index.html").is_file() and (site / "downloads/2017/report-bilingual.pdf").is_file()
    report = subprocess.run([sys.executable, str(ROOT / "scripts" / "compare_renderers.py"),
                             "--json", str(ROOT / "_site"), str(site)],
                            capture_output=True, text=True, check=False)
    assert report.returncode == 0, report.stdout + report.stderr
    assert json.loads(report.stdout)["differences"] == []
