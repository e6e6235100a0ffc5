"""Official fonts: the build says which faces it found and which it replaced, and a font
put where the README says (fonts/ at the project root) is the one the PDF is set in.

The official faces are licensed and cannot ship with the tests, so the test makes its own
"official" font: a copy of an installed Latin font (DejaVu Serif or Liberation Serif)
renamed to Times New Roman, the English edition's first body family in config/pdf.yml,
with a PostScript name no other font has. The PDF must embed that font.
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from bpsreport.render import pdf as pdfmod

ROOT = Path(__file__).resolve().parents[1]
MARKER_NAME = "BPSTestOfficialSerif"
CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
              "/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf")


def _renamed_font(dest: Path, family: str) -> Path:
    from fontTools.ttLib import TTFont

    source = next((Path(p) for p in CANDIDATES if Path(p).is_file()), None)
    if source is None:
        pytest.skip(f"needs one of {', '.join(CANDIDATES)} to make a stand-in official font")
    font = TTFont(str(source))
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 4, 16):
            record.string = family
        elif record.nameID == 6:
            record.string = MARKER_NAME
        elif record.nameID in (2, 17):
            record.string = "Regular"
    dest.parent.mkdir(parents=True, exist_ok=True)
    font.save(str(dest))
    return dest


@pytest.fixture
def project_with_font(tmp_path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(ROOT / "config", root / "config")
    config = yaml.safe_load((root / "config" / "pdf.yml").read_text(encoding="utf-8"))
    wanted = config["fonts"]["en"]["body"][0]
    _renamed_font(root / "fonts" / "official" / "stand-in.ttf", wanted)
    return root


def test_the_report_names_each_official_face_found_or_replaced():
    config = pdfmod.load_pdf_config()
    dirs = pdfmod.font_dirs(config, ROOT)
    lines = pdfmod.font_report(ROOT)
    assert [line.split(":")[0] for line in lines] == ["PDF fonts (zh)", "PDF fonts (en)"]
    for lang, line in zip(("zh", "en"), lines):
        for choice in pdfmod.font_choices(config, lang, dirs):
            named = config.get("font_names", {}).get(choice.wanted, choice.wanted)
            assert named in line
            if choice.replaced:
                assert f"→ {choice.used}" in line and "fonts/" in line
    # Every official face is reported, under the name a clerk knows it by.
    zh_line = lines[0]
    for family in ("方正小标宋简体", "黑体", "楷体_GB2312", "仿宋_GB2312"):
        assert family in zh_line


def test_a_font_put_in_fonts_is_found_reported_and_used(project_with_font, tmp_path):
    root = project_with_font
    config = pdfmod.load_pdf_config(root / "config" / "pdf.yml")
    wanted = config["fonts"]["en"]["body"][0]

    before = pdfmod.font_report(ROOT, ["en"])[0]
    after = pdfmod.font_report(root, ["en"])[0]
    assert f"replaced {wanted} →" in before
    assert f"found {wanted} for" in after and f"{wanted} →" not in after

    meta = pdfmod.document_metadata_for_pdf({"title": "Font check"}, 2017, "en", root=root)
    body = "# Heading\n\nBody text set in the official face.\n"
    typ = pdfmod.write_edition_typst(body, meta, lang="en", work_dir=tmp_path / "work",
                                     name="fonts", source_dir=tmp_path, root=root)
    out = tmp_path / "fonts.pdf"
    pdfmod.compile_typst(typ, out, font_paths=pdfmod.font_dirs(config, root))
    if not shutil.which("pdffonts"):
        pytest.skip("pdffonts (poppler-utils) is needed to list the PDF's fonts")
    listed = subprocess.run(["pdffonts", str(out)], capture_output=True, text=True,
                            check=True).stdout
    assert MARKER_NAME in listed, listed


def test_quarto_gets_the_same_font_folders():
    meta = pdfmod.pdf_metadata(2017, "zh", root=ROOT)
    config = pdfmod.load_pdf_config()
    assert meta["font-paths"] == [str(d) for d in pdfmod.font_dirs(config, ROOT)]
    assert all(Path(p).is_absolute() for p in meta["font-paths"])
