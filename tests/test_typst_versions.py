"""The official Typst template compiles on the Typst of every supported Quarto release.

Quarto bundles its own Typst (1.9: 0.14.2, 1.10: 0.15.1; bpsreport.render.quarto).
The built-in renderer's ``typst`` wheel is pinned to the Typst of the current release, and
the template (templates/typst/) must also compile on the oldest supported release's
Typst, or that Quarto could not build the PDF. The older wheel is installed for the test
into build/test-typst/ (from PyPI, once; later runs reuse it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bpsreport.render.quarto import MIN_QUARTO, QUARTO_TYPST, TYPST_WHEELS

ROOT = Path(__file__).resolve().parents[1]
VERSION_PROBE = '#metadata(str(sys.version)) <v>\n'


def typst_version(pythonpath: str | None, tmp: Path) -> str:
    probe = tmp / "version.typ"
    probe.write_text(VERSION_PROBE, encoding="utf-8")
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run([sys.executable, "-c", "import sys, typst; "
                          f"print(typst.query({str(probe)!r}, '<v>'))"],
                         capture_output=True, text=True, env=env, check=True).stdout
    return json.loads(out)[0]["value"]


def test_the_pinned_wheel_is_the_typst_of_the_current_quarto(tmp_path):
    current = max(QUARTO_TYPST)
    assert typst_version(None, tmp_path) == QUARTO_TYPST[current]
    lock = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    assert f"typst=={TYPST_WHEELS[QUARTO_TYPST[current]]}\n" in lock
    assert min(QUARTO_TYPST) == MIN_QUARTO


def older_wheel(version: str) -> Path:
    folder = ROOT / "build" / "test-typst" / version
    if not (folder / "typst").is_dir():
        proc = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                               "--disable-pip-version-check", "--target", str(folder),
                               f"typst=={version}"], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"could not install typst=={version} from the package index to test "
                        f"the oldest supported Quarto's Typst: {proc.stderr.strip()[-300:]}")
    return folder


@pytest.mark.slow
@pytest.mark.parametrize("release", sorted(QUARTO_TYPST))
def test_the_template_compiles_on_each_supported_quartos_typst(release, rendered_fixture, tmp_path):
    """Both languages of the fixture edition, with the official template, tables and charts."""
    typst = QUARTO_TYPST[release]
    wheel = TYPST_WHEELS[typst]
    path = None if release == max(QUARTO_TYPST) else str(older_wheel(wheel))
    assert typst_version(path, tmp_path) == typst
    work = rendered_fixture.site_dir.parent / "typst"
    for lang in ("zh", "en"):
        source = work / lang / "report.typ"
        assert source.is_file(), source
        env = dict(os.environ, **({"PYTHONPATH": path} if path else {}))
        proc = subprocess.run([sys.executable, "-c", "import sys, typst; typst.compile(sys.argv[1], "
                               "output=sys.argv[2], root=sys.argv[3])", str(source),
                               str(tmp_path / f"{lang}.pdf"), str(source.parent)],
                              capture_output=True, text=True, env=env)
        assert proc.returncode == 0, f"Quarto {release} (Typst {typst}): {proc.stderr[-800:]}"
        assert (tmp_path / f"{lang}.pdf").read_bytes().startswith(b"%PDF")
