"""Whole builds run at the same time, and killed with SIGKILL at each stage, in a scratch
copy of the project: the next build recovers with no manual step and leaves no debris.

These are the slowest tests of the suite (several full builds): ``-m 'not slow'`` skips
them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from bpsreport.project_lock import LEFTOVERS, LOCK_FILE

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
UNIT, YEAR = "gd-province", 2017
WAITING = "Another build of this project is running"
TAKEN_OVER = "ended without releasing it"


def project_copy(dest: Path) -> Path:
    """Everything a build reads, nothing it writes."""
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    for name in ("config", "notebooks", "templates", "scripts"):
        shutil.copytree(ROOT / name, dest / name)
    shutil.copytree(ROOT / "reports", dest / "reports", ignore=shutil.ignore_patterns("_generated"))
    for f in ROOT.glob("_quarto*.yml"):
        shutil.copy2(f, dest / f.name)
    return dest


def build_command(root: Path, *extra: str) -> list[str]:
    return [str(ROOT / "pipeline.py"), "--root", str(root), "build", "--year", str(YEAR), *extra]


def start(argv: list[str]) -> subprocess.Popen:
    # Its own session, so that what it starts (Jupyter kernels) can be found and stopped.
    return subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)


def run_build(root: Path) -> str:
    proc = start(build_command(root))
    out, _ = proc.communicate(timeout=1800)
    assert proc.returncode == 0, out[-4000:]
    assert "Unexpected error" not in out and "Traceback" not in out, out[-4000:]
    return out


def kill_at(proc: subprocess.Popen, point: Callable[[str], bool]) -> str:
    """Read the build's output; at the first line where ``point`` holds, kill it with
    SIGKILL (as ``kill -9 PID`` would), then whatever it started. Returns the output."""
    seen = []
    for line in proc.stdout:
        seen.append(line)
        if point(line):
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            try:  # the orphaned kernels of the notebooks stage would run on
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.stdout.close()
            assert proc.returncode == -9
            return "".join(seen)
    proc.wait()
    raise AssertionError("the build ended before the kill point:\n" + "".join(seen[-30:]))


def outputs(root: Path) -> dict[str, str]:
    """What readers get: the clean tables, the site and the PDFs."""
    files = [p for p in (root / "data" / "clean").rglob("*") if p.suffix in (".csv", ".parquet")]
    files += list((root / "_site").rglob("*"))
    files += list((root / "build" / UNIT / str(YEAR) / "pdf").glob("*.pdf"))
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(files) if p.is_file()}


def debris(root: Path) -> list[str]:
    """Anything anywhere in the project named like a writer's temporary file or folder."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if any(pattern.name.fullmatch(p.name) for pattern in LEFTOVERS))


def touch_without_changing(path: Path) -> None:
    """A comment added: the stages that read ``path`` rerun, and make the same output."""
    path.write_text(path.read_text(encoding="utf-8") + "\n# touched by a test\n", encoding="utf-8")


@pytest.fixture(scope="module")
def built_together(tmp_path_factory):
    """A cold project built by two `pipeline.py build` started at the same moment."""
    root = project_copy(tmp_path_factory.mktemp("concurrent") / "project")
    procs = [start(build_command(root)) for _ in range(2)]
    outs = [proc.communicate(timeout=1800)[0] for proc in procs]
    return root, procs, outs


def test_two_builds_started_together_run_one_after_the_other(built_together):
    root, procs, outs = built_together
    assert [p.returncode for p in procs] == [0, 0], "\n\n".join(o[-3000:] for o in outs)
    for out in outs:
        assert "Unexpected error" not in out and "Traceback" not in out, out[-4000:]
    waited = [i for i, out in enumerate(outs) if WAITING in out]
    assert len(waited) == 1, outs
    second, first = procs[waited[0]], procs[1 - waited[0]]
    out = outs[waited[0]]
    assert f"process {first.pid} (`pipeline.py --root {root} build --year {YEAR}`" in out
    # The second build started after the first had finished: it found nothing to do.
    assert "data/raw/ unchanged since the last build" in out
    assert "notebooks: 0 run, 11 reused" in out and "unchanged, nothing to render" in out
    assert TAKEN_OVER not in out and TAKEN_OVER not in outs[1 - waited[0]]
    assert debris(root) == []
    assert (root / LOCK_FILE).read_text(encoding="utf-8") == ""


def test_a_build_killed_at_each_stage_is_recovered_by_the_next(built_together):
    root = built_together[0]
    built = outputs(root)
    assert any(k.endswith("report-zh.pdf") for k in built) and "_site/index.html" in built

    # 1. Writing data/clean. A clean file edited by hand makes the build rewrite that set;
    #    it is killed after the new set is in place, before the old one is removed.
    csv = root / "data" / "clean" / UNIT / str(YEAR) / "observations.csv"
    csv.write_text(csv.read_text(encoding="utf-8-sig") + "\n", encoding="utf-8-sig")
    killer = ("import os, signal, sys\n"
              "from bpsreport import clean_store, cli\n"
              "clean_store._discard = lambda retired: os.kill(os.getpid(), signal.SIGKILL)\n"
              "sys.exit(cli.main(sys.argv[1:]))\n")
    proc = start(["-c", killer, *build_command(root)[1:]])
    proc.communicate(timeout=1800)
    assert proc.returncode == -9
    _recovers(root, proc.pid, built, expect_debris=True)

    # 2. Running the notebooks: killed once the first notebook has finished. (Without its
    # state file the notebook cache runs every notebook again, bpsreport/notebook_cache.py.)
    (root / "build" / UNIT / str(YEAR) / "notebooks-state.json").unlink()
    proc = start(build_command(root))
    kill_at(proc, lambda line: "notebook '" in line and ": done" in line)
    assert outputs(root) == built           # the site and PDFs are untouched so far
    _recovers(root, proc.pid, built)

    # 3. Rendering: killed once the first PDF is written into the render's staging folder
    # (build/publish/.new-*, bpsreport.publish).
    touch_without_changing(root / "_quarto.yml")
    proc = start(build_command(root))
    kill_at(proc, lambda line: "PDF 1/2" in line)
    assert outputs(root) == built
    assert any(Path(name).name.startswith(".new-") for name in debris(root))
    _recovers(root, proc.pid, built, expect_debris=True)


def _recovers(root: Path, killed_pid: int, built: dict[str, str], *, expect_debris=False) -> None:
    """The next plain build: it says it took over, removes the debris, and ends with the
    same outputs as a build that was never interrupted."""
    left = debris(root)
    if expect_debris:
        assert left, "the kill left nothing behind: it did not happen where this test aims"
    out = run_build(root)
    assert f"process {killed_pid} " in out and TAKEN_OVER in out, out[-4000:]
    if left:
        assert f"removed {len(left)} leftover" in out, (left, out[-4000:])
    assert debris(root) == []
    assert outputs(root) == built
    assert (root / LOCK_FILE).read_text(encoding="utf-8") == ""
