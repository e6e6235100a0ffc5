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


# --- live reload: the server side -----------------------------------------------------------

class _Events:
    """A client of /_preview/events, reading the server-sent events in a thread."""

    def __init__(self, url: str, page: str):
        import http.client
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        self.conn.request("GET", f"/_preview/events?page={page}")
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200
        assert self.resp.headers["Content-Type"] == "text/event-stream"
        self.events: queue.Queue = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        event = None
        try:
            for raw in self.resp.fp:
                line = raw.decode("utf-8").rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event:
                    self.events.put((event, line[6:]))
                    event = None
        except OSError:  # the stream ends when the test's server stops
            pass

    def next(self, timeout: float = 30) -> tuple[str, str]:
        return self.events.get(timeout=timeout)


def test_served_pages_carry_the_live_script_and_the_overlay_comes_first(tmp_path):
    from bpsreport.preview import LIVE_TAG, LiveHub

    site, overlay = tmp_path / "_site", tmp_path / "overlay"
    touch(site / "zh" / "a.html", "<html><body><p>published</p></body></html>")
    touch(site / "zh" / "b.html", "<html><body><p>other</p></body></html>")
    touch(site / "zh" / "x.css", "p {}")
    touch(overlay / "zh" / "a.html", "<html><body><p>re-rendered</p></body></html>")
    server = SiteServer(site, 0, hub=LiveHub(), overlay=overlay).start()
    try:
        status, page = get(server.url + "zh/a.html")
        assert status == 200 and "re-rendered" in page and page.index(LIVE_TAG) < page.index("</body>")
        assert "other" in get(server.url + "zh/b.html")[1]
        assert get(server.url + "zh/x.css") == (200, "p {}")        # not a page: as it is
        status, script = get(server.url + "_preview/live.js")
        assert status == 200 and "EventSource" in script and "build-error" in script
        assert LIVE_TAG not in (site / "zh" / "a.html").read_text(encoding="utf-8")  # never written
    finally:
        server.stop()


def test_events_reach_the_browsers_showing_the_page(tmp_path):
    from bpsreport.preview import LiveHub

    hub = LiveHub()
    server = SiteServer(tmp_path, 0, hub=hub).start()
    try:
        viewer, other = _Events(server.url, "zh/a.html"), _Events(server.url, "zh/b.html")
        deadline = time.monotonic() + 30
        while hub.viewed() != ["zh/a.html", "zh/b.html"]:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert hub.send("reload", pages=["zh/a.html"]) == 1
        assert viewer.next() == ("reload", "{}")
        hub.error("reports/2017/zh/_parts/x.qmd:12: unknown variable")
        assert viewer.next()[0] == "build-error"
        event, data = other.next()
        assert event == "build-error" and "x.qmd:12" in data
        # A browser that connects while the error stands is told at once.
        late = _Events(server.url, "zh/c.html")
        assert late.next()[0] == "build-error"
        hub.ok()
        assert viewer.next()[0] == "build-ok"
    finally:
        server.stop()


class _FakeViewed:
    def __init__(self, overlay: Path, fail: str | None = None):
        self.overlay, self.fail, self.calls = overlay, fail, []

    def render(self, pages):
        from bpsreport.render import RenderError

        self.calls.append(list(pages))
        if self.fail:
            raise RenderError(self.fail)
        for page in pages:
            touch(self.overlay / page, "<p>new</p>")
        return list(pages)

    def clear(self):
        shutil.rmtree(self.overlay, ignore_errors=True)


def test_the_viewed_page_is_updated_before_the_rebuild(tmp_path):
    from bpsreport.preview import Change, LiveHub, update

    site = tmp_path / "_site"
    touch(site / "zh" / "a.html", "<p>old</p>")
    hub, order = LiveHub(), []
    _, inbox = hub.connect("zh/a.html")
    viewed = _FakeViewed(tmp_path / "overlay")

    def rebuild():
        order.append(("rebuild", inbox.qsize()))
        touch(site / "zh" / "a.html", "<p>new</p>")
        return True

    update([Change("reports/2017/zh/_parts/a.qmd", "changed")], rebuild=rebuild, say=lambda _: None,
           hub=hub, viewed=viewed, site=site)
    assert viewed.calls == [["zh/a.html"]]
    assert order == [("rebuild", 1)]                 # the reload was sent before the rebuild
    assert inbox.get_nowait() == ("reload", {})
    assert inbox.empty()                              # the published page is what was shown
    assert not viewed.overlay.exists()                # the overlay is dropped after the build


def test_a_broken_source_shows_its_error_and_keeps_the_last_good_page(tmp_path):
    from bpsreport.preview import Change, LiveHub, update

    site = tmp_path / "_site"
    touch(site / "zh" / "a.html", "<p>good</p>")
    hub = LiveHub()
    _, inbox = hub.connect("zh/a.html")
    message = "reports/2017/zh/_parts/a.qmd:7: {{< var y2017.nope.zh >}} is not a variable"
    update([Change("reports/2017/zh/_parts/a.qmd", "changed")], rebuild=lambda: False,
           say=lambda _: None, hub=hub, viewed=_FakeViewed(tmp_path / "overlay", fail=message),
           site=site, failure=lambda: message)
    events = [inbox.get_nowait() for _ in range(inbox.qsize())]
    assert [e for e, _ in events] == ["build-error", "build-error"]
    assert all(d["message"] == message for _, d in events)
    assert (site / "zh" / "a.html").read_text(encoding="utf-8") == "<p>good</p>"
    assert hub.last_error == message


def test_a_page_open_in_the_browser_updates_itself_and_shows_errors(preview_project, tmp_path):
    """In headless Chromium: the page open in the browser reloads by itself after a save,
    before the rest of the rebuild; a broken source shows its file and line over the last
    good page; fixing it removes the message."""
    from test_site_browser import Browser, chromium_binary

    if chromium_binary() is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    part = preview_project / "reports/2017/zh/_parts/culture_sports.qmd"
    original = part.read_text(encoding="utf-8")
    page = "zh/reports/2017/zh/domains/culture_sports.html"
    marker = "LIVE-PREVIEW-MARKER-51d2 (test text, not report content)"
    cmd = [sys.executable, str(ROOT / "pipeline.py"), "--root", str(preview_project), "preview",
           "--year", "2017", "--port", "0", "--renderer", "builtin"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            encoding="utf-8", env={**os.environ, "PYTHONUNBUFFERED": "1"})
    out = Output(proc)
    browser = Browser(chromium_binary(), tmp_path)

    def wait_until(js: str, what: str, timeout_s: float = 120):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if tab.evaluate(js):
                    return
            except RuntimeError:
                pass  # the page is reloading
            time.sleep(0.1)
        raise AssertionError(f"{what}; preview output:\n{out.text[-3000:]}")

    try:
        url = out.wait_for(r"Serving the site at (http://127\.0\.0\.1:\d+/)", 1200).group(1)
        tab = browser.new_page()
        tab.navigate(url + page)
        wait_until("window.EventSource !== undefined && document.readyState === 'complete'", "loaded")
        tab.evaluate("window.__notReloaded = true")
        ready = out.text.count("Site ready")

        touch(part, original + f"\n{marker}\n")
        wait_until(f"document.body.innerText.includes({marker!r}) && !window.__notReloaded",
                   "the open page did not reload with the edit")
        out.wait_for(r"updated first · 已先更新: " + re.escape(page), 60)
        # The page was updated before the whole rebuild (other pages, PDFs) had finished.
        first = out.text.index("updated first")
        assert out.text.count("Site ready", 0, first) == ready
        out.wait_for(r"Site ready", 1200, count=ready + 1)

        broken = original + f"\n{marker}\n\n{{{{< var y2017.no_such_indicator.actual.zh >}}}}\n"
        touch(part, broken)
        line = broken.count("\n", 0, broken.index("no_such_indicator")) + 1
        wait_until("document.getElementById('bps-preview-error') !== null", "no error shown")
        message = tab.evaluate("document.getElementById('bps-preview-error').innerText")
        assert f"culture_sports.qmd:{line}" in message, message
        assert marker in tab.evaluate("document.body.innerText")  # the last good page stays

        touch(part, original)
        wait_until("document.getElementById('bps-preview-error') === null && "
                   f"!document.body.innerText.includes({marker!r})", "the error did not clear")
    finally:
        part.write_text(original, encoding="utf-8")
        browser.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
