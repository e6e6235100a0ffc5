"""scripts/compare_renderers.py: the check that two renderers made the same report.

Real Quarto is not installed here, so the script is exercised on two copies of a site
made by the built-in renderer (the SYNTHETIC render fixture): identical copies compare
equal, and a copy with a link, a page or a PDF changed is caught. The real-Quarto test
(tests/test_backends.py) runs it on the two renderers' sites where Quarto exists.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "compare_renderers.py"


def compare(a: Path, b: Path) -> tuple[int, dict]:
    proc = subprocess.run([sys.executable, str(SCRIPT), "--json", str(a), str(b)],
                          capture_output=True, text=True, check=False)
    return proc.returncode, json.loads(proc.stdout) if proc.stdout.strip() else {}


def test_a_site_equals_itself(rendered_fixture):
    site = rendered_fixture.site_dir
    code, result = compare(site, site)
    assert code == 0 and result["differences"] == []
    assert result["checked"]["pages"] == 8 and result["checked"]["links"] > 40


def test_a_changed_link_a_missing_page_and_another_pdf_are_found(rendered_fixture, tmp_path):
    site = rendered_fixture.site_dir
    other = tmp_path / "other"
    shutil.copytree(site, other)
    page = other / "zh/reports/2017/zh/targets.html"
    page.write_text(page.read_text(encoding="utf-8").replace('href="domains/education.html"',
                                                              'href="domains/environment.html"'),
                    encoding="utf-8")
    (other / "en/reports/2017/en/domains/environment.html").unlink()
    shutil.copyfile(site / "downloads/2017/report-en.pdf", other / "downloads/2017/report-zh.pdf")
    code, result = compare(site, other)
    assert code == 1
    text = "\n".join(result["differences"])
    assert "pages differ" in text and "en/reports/2017/en/domains/environment.html" in text
    assert "zh/reports/2017/zh/targets.html: links differ" in text
    assert "zh PDF: headings differ" in text
