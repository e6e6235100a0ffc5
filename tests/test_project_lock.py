"""One build at a time: the project lock between real processes, and the removal of what
killed builds leave behind (bpsreport.project_lock).

The holders here are real processes: a second Python process holds the lock until the
test tells it to let go, or until the test kills it with SIGKILL.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bpsreport.project_lock import (LEFTOVERS, LOCK_FILE, BuildInProgress, LockHolder,
                                    ProjectLock, find_leftovers, running_holder)

ROOT = Path(__file__).resolve().parents[1]
PIPELINE = [sys.executable, str(ROOT / "pipeline.py")]

# Holds the project lock of argv[1] until a line arrives on stdin (or it is killed).
# With argv[3] == "fork", a child process inherits the open lock file and holds the lock
# after this process has exited, as a program started by a build might.
HOLDER = r"""
import os, sys
from bpsreport.project_lock import ProjectLock
lock = ProjectLock(sys.argv[1], sys.argv[2]).acquire()
if len(sys.argv) > 3 and sys.argv[3] == "fork":
    if os.fork() != 0:
        print("held", os.getpid(), flush=True)
        os._exit(0)
    sys.stdin.readline()
    os._exit(0)
print("held", os.getpid(), flush=True)
sys.stdin.readline()
lock.release()
print("released", flush=True)
"""


def start_holder(root: Path, command: str, *extra: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), command, *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("held"), line
    proc.holder_pid = int(line.split()[1])
    return proc


def kill(proc: subprocess.Popen) -> None:
    proc.kill()      # SIGKILL: no handler, no finally block, no release
    proc.wait()


def pipeline(root: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*PIPELINE, "--root", str(root), *args], capture_output=True,
                          text=True, timeout=600, **kwargs)


# --- waiting, refusing, taking over ---------------------------------------------------------------

def test_a_second_build_with_no_wait_exits_7_naming_the_holder(project_copy):
    holder = start_holder(project_copy, "pipeline.py build --year 2017")
    try:
        proc = pipeline(project_copy, "build", "--year", "2017", "--no-wait")
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait()
    assert proc.returncode == 7, proc.stderr
    assert f"process {holder.pid}" in proc.stderr
    assert "pipeline.py build --year 2017" in proc.stderr and "started 20" in proc.stderr
    assert "Traceback" not in proc.stderr
    # It did nothing: no clean data, no log.
    assert not (project_copy / "data" / "clean").exists()
    assert not (project_copy / "build").exists()


@pytest.mark.slow  # runs the build's stages (end-to-end)
def test_a_waiting_build_starts_only_when_the_holder_releases(project_copy):
    holder = start_holder(project_copy, "pipeline.py build --year 2017")
    # --year 2031 has no data: the build validates data/raw, writes data/clean and stops (2).
    waiter = subprocess.Popen([*PIPELINE, "--root", str(project_copy), "build", "--year", "2031"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = waiter.stderr.readline()
        while line and "is running" not in line:
            line = waiter.stderr.readline()
        assert f"process {holder.pid}" in line and "Waiting" in line, line
        # Still waiting: it has not started to work.
        assert waiter.poll() is None
        assert not (project_copy / "data" / "clean").exists()
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        holder.wait()
    out, err = waiter.communicate(timeout=600)
    assert waiter.returncode == 2, err
    assert "the other build has finished" in out
    assert "no raw data for gd-province 2031" in err.lower().replace("there is ", "")
    assert (project_copy / "data" / "clean" / "build-state.json").is_file()


@pytest.mark.slow  # runs the build's stages (end-to-end)
def test_the_lock_of_a_killed_holder_is_taken_over_and_said_so(project_copy):
    holder = start_holder(project_copy, "pipeline.py build --year 2017")
    kill(holder)
    proc = pipeline(project_copy, "build", "--year", "2031", "--no-wait")
    assert proc.returncode == 2, proc.stderr        # it ran (and stopped at the missing year)
    assert f"process {holder.pid}" in proc.stderr
    assert "ended without releasing it" in proc.stderr
    # The next holder finds a record that was released properly: no takeover.
    with ProjectLock(project_copy, "test") as lock:
        assert lock.stale is None


def test_the_kernel_lock_decides_not_the_recorded_process(project_copy):
    """The recorded process has exited but a program it started holds the lock: wait."""
    holder = start_holder(project_copy, "pipeline.py build --year 2017", "fork")
    holder.wait()                                   # the recorded process is gone...
    try:
        with pytest.raises(BuildInProgress) as raised:
            ProjectLock(project_copy, "test", wait=False).acquire()   # ...its child holds on
        assert raised.value.holder.pid == holder.holder_pid
        assert "a program it started still holds the lock" in str(raised.value)
    finally:
        holder.stdin.write("\n")                    # the child shares the pipe: let it go
        holder.stdin.close()
    with ProjectLock(project_copy, "test") as lock:  # waits for the child to exit
        assert lock.held


def test_a_normal_release_leaves_an_empty_record_and_the_lock_file(project_copy):
    with ProjectLock(project_copy, "pipeline.py new-year 2018") as lock:
        record = LockHolder.parse((project_copy / LOCK_FILE).read_text(encoding="utf-8"))
        assert record.pid == os.getpid() and record.command == "pipeline.py new-year 2018"
        assert running_holder(project_copy) == record
        assert lock.stale is None
    assert (project_copy / LOCK_FILE).read_text(encoding="utf-8") == ""
    assert running_holder(project_copy) is None


@pytest.mark.slow  # runs the build's stages (end-to-end)
def test_check_warns_when_a_build_is_running(project_copy):
    holder = start_holder(project_copy, "pipeline.py build --year 2017")
    try:
        proc = pipeline(project_copy, "check", "--year", "2017")
    finally:
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait()
    assert proc.returncode in (0, 6), proc.stderr   # it ran without the lock
    assert f"A build of this project is running (process {holder.pid}" in proc.stderr


# --- leftovers ---------------------------------------------------------------------------------

# One example per pattern of LEFTOVERS, with the pattern's writer; "PID" is a process that
# has ended.
LEFTOVER_EXAMPLES = {
    "data/clean/gd-province/.2017.new-PID-a1b2c3d4/observations.csv": "clean_store._replace_folder: a clean set",
    "data/clean/.catalog.old-PID-zz_9x8y7/domains.csv": "clean_store._replace_folder: a clean set",
    "data/clean/prd/.2016.new-k3j4h5g6/manifest.json": "clean_store._replace_folder (earlier versions): a clean set being",
    "data/clean/qingyuan/.2015.old-PID/tasks.csv": "clean_store._replace_folder (earlier versions): the clean set",
    "data/clean/.build-state.json.tmp-PID-abcd1234": "clean_store.write_json_atomic: a state",
    "build/gd-province/2017/.render-state.json.tmp-PID-q1w2e3r4": "clean_store.write_json_atomic: a state",
    "build/gd-province/2017/.notebooks-state.json.x9y8z7w6": "clean_store.write_json_atomic (earlier versions)",
    "._variables.yml.ab12cd34.tmp": "variables.write_text_if_changed: _variables.yml",
    "reports/2017/zh/_generated/.tasks.qmd.ab12cd34.tmp": "variables.write_text_if_changed: a generated part",
    "reports/2017/en/_generated/tasks/.employment.qmd.ab12cd34.tmp": "variables.write_text_if_changed: a generated part",
    "build/publish/.new-PID-1764498000123456789/site/index.html": "publish.Publication.start",
    "build/publish/.current.PID.tmp": "publish._replace_link",
    ".render-7h_2kq9x/site/index.html": "build.render_edition (earlier versions)",
    "._site.old-PID/index.html": "build._swap_into_place (earlier versions): the site",
    "build/gd-province/2017/.pdf.old-PID/report-zh.pdf": "build._swap_into_place (earlier versions): the PDFs",
    "build/gd-province/2017/render-cache/html/ab/ab12ef.PID.140234.tmp": "render.html",
    "build/gd-province/2017/render-cache/pdf/.zh-report-" + "0" * 64 + ".pdf.PID.tmp": "render.pdf.render_typst_document (earlier versions)",
    "build/.pdf-fonts.json.PID.tmp": "render.pdf.resolve_fonts (earlier versions)",
    "build/gd-province/2017/render-cache/pdf/.zh-report-" + "0" * 64 + ".pdf.tmp-PID-a1b2c3d4": "clean_store.write_bytes_atomic",
    "build/.pdf-fonts.json.tmp-PID-a1b2c3d4": "clean_store.write_bytes_atomic",
    "build/gd-province/2017/.check-data.pickle.tmp-PID-a1b2c3d4": "clean_store.write_bytes_atomic",
    "build/gd-province/2017/render-cache/pdf/pandoc/." + "1" * 64 + ".out.tmp-PID-a1b2c3d4": "clean_store.write_bytes_atomic",
}

# Things with similar names that are not leftovers, or belong to a process that is running.
KEPT = [
    "data/clean/README.md",
    "build/publish/v-20261130-120000-4242/site/index.html",          # a published version
    "build/publish/.new-LIVE-1764498000123456789/site/index.html",   # a render at work
    "data/clean/gd-province/2017/observations.csv",
    "data/clean/gd-province/2017/.2016.old-PID/x.csv",            # not where the writer works
    "data/clean/gd-province/.2017.new-LIVE-a1b2c3d4/observations.csv",   # a writer at work
    "data/clean/gd-province/.2017.new/observations.csv",          # no temporary suffix
    "data/clean/gd-province/.notes.old-PID/a.txt",                 # not a year or the catalog
    "data/raw/observations/gd-province/.2017.new-PID-a1b2c3d4/x.csv",   # data/raw: never
    "data/clean/.build-state.json",
    "reports/2017/zh/.draft.qmd.ab12cd34.tmp",                     # staff folder, not _generated
    "reports/2017/zh/_generated/tasks.qmd",
    ".render-notes",                                               # a file, not a staging folder
    "._site.old-LIVE/index.html",                                  # a swap in progress
    "_site/index.html",
    "build/gd-province/2017/pdf/report-zh.pdf",
    "build/gd-province/2017/render-cache/html/ab/ab12ef.html",
    "build/gd-province/2017/render-cache/pdf/zh-report-" + "0" * 64 + ".pdf",
    "build/pdf-fonts.json",
    "build/logs/build-gd-province-2017-20261124-101010.log",
    LOCK_FILE,
]


@pytest.fixture
def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def live_process():
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"],
                            stdin=subprocess.PIPE)
    yield proc
    proc.stdin.close()
    proc.wait()


def _lay_out(root: Path, paths: list[str], dead: int, live: int) -> list[Path]:
    made = []
    for rel in paths:
        path = root / rel.replace("PID", str(dead)).replace("LIVE", str(live))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x", encoding="utf-8")
        made.append(path)
    return made


def _top(root: Path, path: Path) -> Path:
    """The leftover itself: the temporary folder holding ``path``, or the file."""
    rel = path.relative_to(root)
    for n in range(1, len(rel.parts) + 1):
        candidate = root.joinpath(*rel.parts[:n])
        if any(p.name.fullmatch(candidate.name) for p in LEFTOVERS):
            return candidate
    raise AssertionError(f"{rel} matches no pattern")


def test_leftovers_of_dead_builds_are_removed_and_nothing_else(tmp_path, dead_pid, live_process):
    root = tmp_path / "project"
    leftovers = _lay_out(root, list(LEFTOVER_EXAMPLES), dead_pid, live_process.pid)
    kept = _lay_out(root, KEPT, dead_pid, live_process.pid)
    expected = sorted({_top(root, p) for p in leftovers})

    assert find_leftovers(root) == expected
    with ProjectLock(root, "test") as lock:
        assert sorted(lock.remove_leftovers()) == expected
    assert not any(p.exists() for p in expected)
    assert all(p.is_file() for p in kept)
    assert find_leftovers(root) == []


def test_every_leftover_pattern_has_an_example_and_is_git_ignored(tmp_path, dead_pid):
    root = tmp_path / "project"
    leftovers = _lay_out(root, list(LEFTOVER_EXAMPLES), dead_pid, 0)
    tops = {_top(root, p) for p in leftovers}
    for pattern in LEFTOVERS:
        assert any(pattern.name.fullmatch(t.name) for t in tops), f"no example for {pattern.writer}"
    for example, path in zip(LEFTOVER_EXAMPLES.values(), leftovers):
        writers = [p.writer for p in LEFTOVERS if p.name.fullmatch(_top(root, path).name)]
        assert writers and writers[0].startswith(example), (path, writers)
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("git is needed to read .gitignore the way git does")
    rels = [p.relative_to(root).as_posix() for p in leftovers] + [LOCK_FILE]
    proc = subprocess.run(["git", "-C", str(ROOT), "check-ignore", "--no-index", "--stdin", "-v",
                           "-n"], input="\n".join(rels) + "\n", capture_output=True, text=True)
    not_ignored = [line.split("\t")[-1] for line in proc.stdout.splitlines()
                   if line.startswith("::")]
    assert not_ignored == [], f"not git-ignored: {not_ignored}"


def test_leftovers_are_removed_only_under_the_lock(tmp_path):
    lock = ProjectLock(tmp_path, "test")
    with pytest.raises(RuntimeError, match="lock"):
        lock.remove_leftovers()


def test_the_leftover_patterns_match_the_names_the_writers_make(tmp_path):
    """The clean store's own temporary names, as it makes them, are recognised."""
    from bpsreport import clean_store

    made = []
    original = clean_store._discard
    try:
        clean_store._discard = made.append            # keep the replaced set to look at it
        clean_store._replace_folder(tmp_path / "data" / "clean" / "u" / "2017",
                                    lambda f: (f / "a.csv").write_text("1"))
        clean_store._replace_folder(tmp_path / "data" / "clean" / "u" / "2017",
                                    lambda f: (f / "a.csv").write_text("2"))
    finally:
        clean_store._discard = original
    assert len(made) == 1 and made[0].name.startswith(f".2017.new-{os.getpid()}-")
    # This process is alive, so its own folder is not a leftover; by name it is one.
    assert find_leftovers(tmp_path) == []
    assert any(p.name.fullmatch(made[0].name) for p in LEFTOVERS)
