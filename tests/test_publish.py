"""Publishing all or nothing (bpsreport.publish): one link switches the site and the PDFs.

The scenarios use small SYNTHETIC outputs in a scratch project; what matters is where
the links point after each step, and that a reader never finds a missing or half-new
site, including after a build was killed between any two steps.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bpsreport.publish import Publication

UNIT, YEAR = "test-unit", 2017


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def publish(root: Path, year: int, marker: str) -> Path:
    pub = Publication(root)
    staging = pub.start(unit_id=UNIT, year=year)
    write(staging / "site" / "zh" / "reports" / str(year) / "zh" / "index.html", marker)
    write(staging / "site" / "index.html", f"root {marker}")
    write(staging / "pdf" / UNIT / str(year) / "report-zh.pdf", f"%PDF {marker}")
    return pub.switch(staging, unit_id=UNIT, year=year)


def test_first_publication_makes_the_links(tmp_path):
    version = publish(tmp_path, YEAR, "one")
    assert (tmp_path / "_site").is_symlink()
    assert (tmp_path / "_site" / "index.html").read_text() == "root one"
    pdf = tmp_path / "build" / UNIT / str(YEAR) / "pdf" / "report-zh.pdf"
    assert pdf.read_text() == "%PDF one"
    assert Path(os.path.realpath(tmp_path / "_site")) == version / "site"


def test_another_edition_carries_the_first_and_both_switch_together(tmp_path):
    publish(tmp_path, 2017, "a")
    publish(tmp_path, 2018, "b")
    site = tmp_path / "_site"
    assert (site / "zh/reports/2017/zh/index.html").read_text() == "a"
    assert (site / "zh/reports/2018/zh/index.html").read_text() == "b"
    assert (tmp_path / "build" / UNIT / "2017" / "pdf" / "report-zh.pdf").read_text() == "%PDF a"
    assert (tmp_path / "build" / UNIT / "2018" / "pdf" / "report-zh.pdf").read_text() == "%PDF b"


def test_a_failed_render_leaves_the_current_version(tmp_path):
    publish(tmp_path, YEAR, "good")
    pub = Publication(tmp_path)
    staging = pub.start(unit_id=UNIT, year=YEAR)
    assert not (staging / "site" / "zh" / "reports" / str(YEAR)).exists()  # being re-rendered
    write(staging / "site" / "index.html", "half")
    pub.discard(staging)
    assert (tmp_path / "_site" / "index.html").read_text() == "root good"
    assert not staging.exists()


def test_only_the_current_and_previous_versions_are_kept(tmp_path):
    versions = [publish(tmp_path, YEAR, str(n)) for n in range(4)]
    left = sorted(p.name for p in (tmp_path / "build" / "publish").iterdir() if p.name.startswith("v-"))
    assert left == sorted([versions[-2].name, versions[-1].name])
    assert (tmp_path / "_site" / "index.html").read_text() == "root 3"


def test_a_site_folder_from_before_is_adopted_not_lost(tmp_path):
    write(tmp_path / "_site" / "zh" / "reports" / "2016" / "zh" / "index.html", "old edition")
    write(tmp_path / "build" / UNIT / "2016" / "pdf" / "report-zh.pdf", "%PDF old")
    publish(tmp_path, YEAR, "new")
    assert (tmp_path / "_site").is_symlink()
    assert (tmp_path / "_site/zh/reports/2016/zh/index.html").read_text() == "old edition"
    assert (tmp_path / "build" / UNIT / "2016" / "pdf" / "report-zh.pdf").read_text() == "%PDF old"


KILLED_BUILD = """
import os, sys, time
from pathlib import Path
from bpsreport.publish import Publication
root, step = Path(sys.argv[1]), sys.argv[2]
pub = Publication(root)
staging = pub.start(unit_id="test-unit", year=2017)
(staging / "site").mkdir(parents=True, exist_ok=True)
(staging / "site" / "index.html").write_text("root new")
if step == "before-switch":
    os.kill(os.getpid(), 9)
version = staging.parent / "v-20990101-000000-1"
os.rename(staging, version)
if step == "after-rename":
    os.kill(os.getpid(), 9)
"""


@pytest.mark.parametrize("step", ["before-switch", "after-rename"])
def test_kill_9_at_any_step_leaves_a_whole_site_and_the_next_build_tidies_up(tmp_path, step):
    publish(tmp_path, YEAR, "good")
    proc = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(tmp_path), step],
                          cwd=Path(__file__).resolve().parents[1], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert (tmp_path / "_site" / "index.html").read_text() == "root good"
    publish(tmp_path, YEAR, "next")
    names = [p.name for p in (tmp_path / "build" / "publish").iterdir()]
    assert not [n for n in names if n.startswith(".new-")], names
    assert "v-20990101-000000-1" not in names  # a version that never became current
    assert (tmp_path / "_site" / "index.html").read_text() == "root next"


def test_a_copy_made_without_keeping_links_still_publishes(tmp_path):
    """cp -r / shutil.copytree turn the links into folders; the next build copes."""
    import shutil

    publish(tmp_path / "a", YEAR, "one")
    shutil.copytree(tmp_path / "a", tmp_path / "b")  # follows every link
    assert not (tmp_path / "b" / "_site").is_symlink()
    publish(tmp_path / "b", 2018, "two")
    assert (tmp_path / "b" / "_site").is_symlink()
    assert (tmp_path / "b/_site/zh/reports/2017/zh/index.html").read_text() == "one"
    assert (tmp_path / "b/_site/zh/reports/2018/zh/index.html").read_text() == "two"
    assert (tmp_path / "a" / "_site" / "index.html").read_text() == "root one"  # untouched
