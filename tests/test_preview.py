"""`pipeline.py preview`: the change watcher, the local web server, and the whole loop.

The end-to-end test starts the real command in a subprocess on a copy of the project,
fetches a page, edits a narrative part and waits (bounded) until the served page shows
the edit, then stops the preview with Ctrl-C (SIGINT).
"""

from __future__ import annotations

import fcntl
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from bpsreport.preview import SiteServer, SourceWatcher, watch_and_rebuild

ROOT = Path(__file__).resolve().parents[1]


def touch(path: Path, text: str) -> None:
    """Write ``text`` and move the modification time forward, so that a change is seen even
    on a file system with coarse timestamps."""
    path.parent.mkdir(parents=True, exist_ok=True)
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    later = max(before, path.stat().st_mtime_ns) + 2_000_000_000
    os.utime(path, ns=(later, later))


@pytest.fixture
def sources(tmp_path) -> Path:
    for rel in ("reports/2017/zh/_parts/education.qmd", "reports/2017/zh/_generated/tasks.qmd",
                "data/raw/observations/u/2017/education.csv", "config/status.yml",
                "templates/x.j2"):
        touch(tmp_path / rel, "v1\n")
    return tmp_path


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, ""


# --- the watcher ---------------------------------------------------------------------------

def test_watcher_sees_narrative_data_and_config_changes(sources):
    watcher = SourceWatcher(sources)
    assert watcher.changes() == []
    touch(sources / "reports/2017/zh/_parts/education.qmd", "v2\n")
    touch(sources / "config/status.yml", "v2\n")
    touch(sources / "data/raw/observations/u/2017/new.csv", "v1\n")
    (sources / "data/raw/observations/u/2017/education.csv").unlink()
    found = {(c.path, c.kind) for c in watcher.changes()}
    assert found == {
        ("reports/2017/zh/_parts/education.qmd", "changed"),
        ("config/status.yml", "changed"),
        ("data/raw/observations/u/2017/new.csv", "added"),
        ("data/raw/observations/u/2017/education.csv", "removed"),
    }
    assert watcher.changes() == []  # each change is reported once


def test_watcher_ignores_generated_parts_other_folders_and_editor_files(sources):
    watcher = SourceWatcher(sources)
    touch(sources / "reports/2017/zh/_generated/tasks.qmd", "written by the build\n")
    touch(sources / "templates/x.j2", "v2\n")
    touch(sources / "reports/2017/zh/_parts/.education.qmd.swp", "vim\n")
    touch(sources / "data/raw/observations/u/2017/~$education.xlsx", "excel lock\n")
    assert watcher.changes() == []


def test_watcher_for_quarto_watches_only_data_and_config(sources):
    watcher = SourceWatcher(sources, data_only=True)
    touch(sources / "reports/2017/zh/_parts/education.qmd", "v2\n")
    assert watcher.changes() == []
    touch(sources / "config/status.yml", "v2\n")
    assert [c.path for c in watcher.changes()] == ["config/status.yml"]


def test_a_burst_of_saves_rebuilds_once(sources):
    watcher = SourceWatcher(sources)
    stop, rebuilt, said = threading.Event(), threading.Event(), []
    calls = []

    def rebuild() -> bool:
        calls.append(1)
        rebuilt.set()
        return True

    loop = threading.Thread(target=watch_and_rebuild, args=(watcher, rebuild, said.append, stop),
                            kwargs={"poll_s": 0.05}, daemon=True)
    touch(sources / "reports/2017/zh/_parts/education.qmd", "v2\n")
    touch(sources / "config/status.yml", "v2\n")
    loop.start()
    try:
        assert rebuilt.wait(timeout=30), "no rebuild after a change"
    finally:
        stop.set()
        loop.join(timeout=30)
    assert not loop.is_alive()
    assert calls == [1]
    assert len(said) == 1
    assert "reports/2017/zh/_parts/education.qmd" in said[0] and "config/status.yml" in said[0]


# --- the server ----------------------------------------------------------------------------

def test_server_serves_the_site_uncached_and_follows_a_swapped_folder(tmp_path):
    site = tmp_path / "_site"
    touch(site / "zh" / "index.html", "<p>first</p>")
    requests = []
    server = SiteServer(site, 0, log=requests.append).start()
    try:
        assert server.url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.url + "zh/index.html", timeout=30) as resp:
            assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
            assert resp.read() == b"<p>first</p>"
        # A rebuild replaces the whole folder (bpsreport.build._swap_into_place).
        fresh = tmp_path / "staging"
        touch(fresh / "zh" / "index.html", "<p>second</p>")
        shutil.rmtree(site)
        os.replace(fresh, site)
        assert get(server.url + "zh/index.html") == (200, "<p>second</p>")
        assert get(server.url + "zh/missing.html")[0] == 404
    finally:
        server.stop()
    assert any("GET /zh/index.html" in line for line in requests)


def test_a_taken_port_is_a_clear_setup_problem(tmp_path):
    from bpsreport.preview import PortInUse

    first = SiteServer(tmp_path, 0).start()
    try:
        port = int(first.url.rsplit(":", 1)[1].strip("/"))
        with pytest.raises(PortInUse, match="--port"):
            SiteServer(tmp_path, port)
    finally:
        first.stop()


# --- the whole command -----------------------------------------------------------------------

@pytest.fixture(scope="module")
def preview_project(tmp_path_factory, edition_2017) -> Path:
    """A copy of the project, warm from the checkout's current 2017 build."""
    dest = tmp_path_factory.mktemp("preview") / "project"
    with open(ROOT / "build" / ".test-build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name in ("data/raw", "config", "notebooks", "reports", "templates", "scripts",
                     "data/clean", "build/gd-province", "_site"):
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, dest / name)
        for f in [*ROOT.glob("_quarto*.yml"), ROOT / "_variables.yml"]:
            if f.is_file():
                shutil.copy2(f, dest / f.name)
    return dest


class Output:
    """The lines a subprocess prints, collected by a thread, waited for with a deadline."""

    def __init__(self, proc: subprocess.Popen):
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, args=(proc,), daemon=True).start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str, timeout_s: float, *, count: int = 1) -> re.Match:
        deadline = time.monotonic() + timeout_s
        while True:
            hits = [m for m in (re.search(pattern, line) for line in self.lines) if m]
            if len(hits) >= count:
                return hits[count - 1]
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no {pattern!r} (x{count}) in:\n" + "".join(self.lines)[-4000:]
            try:
                line = self._queue.get(timeout=min(remaining, 5))
            except queue.Empty:
                continue
            assert line is not None, "the preview ended early:\n" + "".join(self.lines)[-4000:]
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)


def test_preview_serves_the_site_and_shows_an_edited_narrative(preview_project):
    part = preview_project / "reports/2017/zh/_parts/education.qmd"
    page = "zh/reports/2017/zh/domains/education.html"
    marker = "PREVIEW-TEST-MARKER-7f3c (test text, not report content)"
    cmd = [sys.executable, str(ROOT / "pipeline.py"), "--root", str(preview_project), "preview",
           "--year", "2017", "--port", "0", "--renderer", "builtin"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            encoding="utf-8", env={**os.environ, "PYTHONUNBUFFERED": "1"})
    out = Output(proc)
    try:
        url = out.wait_for(r"Serving the site at (http://127\.0\.0\.1:\d+/)", 1200).group(1)
        status, before = get(url + page)
        assert status == 200 and marker not in before
        assert get(url)[0] == 200  # the language chooser

        touch(part, part.read_text(encoding="utf-8") + f"\n{marker}\n")
        out.wait_for(r"Changed · 已修改: reports/2017/zh/_parts/education\.qmd", 60)
        out.wait_for(r"Site ready", 1200, count=2)  # the first build, then the rebuild
        status, after = get(url + page)
        assert status == 200 and marker in after
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        try:
            code = proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, out.text[-3000:]
    out.wait_for(r"Preview stopped", 10)
