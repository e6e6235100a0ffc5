"""``pipeline.py preview``: serve the site on this computer and rebuild it when a source changes.

With the built-in renderer (no Quarto installed)::

    build once --> serve _site/ on http://127.0.0.1:PORT/ (http.server, in a thread)
              \\-> every second: scan the modification times of the watched files;
                  on a change, wait until the files are quiet, then rebuild

The rebuild is the ordinary build (:func:`bpsreport.cli.run_build`), so everything it skips
when unchanged is skipped here too, and a failed rebuild leaves the last good site being
served. Watched: ``.qmd`` files under ``reports/`` (not ``_generated/``, which the build
writes), and every file in ``data/raw/`` and ``config/``. Polling needs no extra package and
behaves the same on every file system (network drives included).

With Quarto installed, ``quarto preview --profile zh --no-browser --port PORT`` serves and
re-renders the pages itself; this module then only reruns the data stages when a file in
``data/raw/`` or ``config/`` changes (see :func:`run_quarto_preview`).
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from .errors import PipelineError

POLL_SECONDS = 1.0
QUIET_SECONDS = 0.5     # a change counts once the files were quiet this long (saves come in bursts)
MAX_SETTLE_SECONDS = 10.0


@dataclass(frozen=True)
class Change:
    path: str           # relative to the project root
    kind: str           # "added" | "changed" | "removed"

    def __str__(self) -> str:
        return f"{self.path} ({self.kind})"


def _ignored(name: str) -> bool:
    """Editor and office scratch files: vim swap files, backups, Excel lock files."""
    return name.startswith((".", "~$", "#")) or name.endswith(("~", ".swp", ".swx", ".tmp"))


class SourceWatcher:
    """Finds changed sources by comparing modification times and sizes between scans.

    Parameters
    ----------
    root
        The project folder.
    data_only
        Watch only ``data/raw/`` and ``config/`` (Quarto watches the ``.qmd`` files itself).
    """

    def __init__(self, root: Path, *, data_only: bool = False):
        self.root = Path(root)
        self.data_only = data_only
        self._seen = self.scan()

    def watched(self) -> Iterable[Path]:
        if not self.data_only:
            reports = self.root / "reports"
            if reports.is_dir():
                for path in reports.rglob("*.qmd"):
                    if "_generated" not in path.relative_to(reports).parts:
                        yield path
        for folder in (self.root / "data" / "raw", self.root / "config"):
            if folder.is_dir():
                yield from (p for p in folder.rglob("*") if p.is_file())

    def scan(self) -> dict[str, tuple[int, int]]:
        found = {}
        for path in self.watched():
            if _ignored(path.name):
                continue
            try:
                st = path.stat()
            except OSError:  # removed while scanning
                continue
            found[path.relative_to(self.root).as_posix()] = (st.st_mtime_ns, st.st_size)
        return found

    def changes(self) -> list[Change]:
        """What changed since the previous call (or since the watcher was made)."""
        now = self.scan()
        before, self._seen = self._seen, now
        out = [Change(p, "added") for p in now.keys() - before.keys()]
        out += [Change(p, "removed") for p in before.keys() - now.keys()]
        out += [Change(p, "changed") for p in now.keys() & before.keys() if now[p] != before[p]]
        return sorted(out, key=lambda c: c.path)

    def settled_changes(self, stop: threading.Event, *, quiet_s: float = QUIET_SECONDS,
                        max_s: float = MAX_SETTLE_SECONDS) -> list[Change]:
        """The changes since the last call, once the files stayed quiet ``quiet_s`` seconds
        (or ``max_s`` passed): saving several files rebuilds once."""
        found = {c.path: c for c in self.changes()}
        if not found:
            return []
        deadline = time.monotonic() + max_s
        while time.monotonic() < deadline and not stop.wait(quiet_s):
            more = self.changes()
            if not more:
                break
            found.update({c.path: c for c in more})
        return sorted(found.values(), key=lambda c: c.path)


# --- the web server ----------------------------------------------------------------------------

class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of ``_site/``; never cached, so a reload shows the rebuilt page."""

    log = None  # set per server: a callable for one line per request

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        if self.log is not None:
            self.log(f"   http: {self.address_string()} {format % args}")


class PortInUse(PipelineError):
    """The port cannot be served on (taken, or not allowed): a setup problem."""

    exit_code = 3


class SiteServer:
    """``_site/`` on ``http://127.0.0.1:<port>/`` in a background thread.

    The folder is looked up on every request, so a rebuild that swaps ``_site/`` for a new
    one is served at once.
    """

    def __init__(self, site_dir: Path, port: int = 8000, *, host: str = "127.0.0.1",
                 log: Callable[[str], None] | None = None):
        handler = type("Handler", (_SiteHandler,), {"log": staticmethod(log) if log else None})
        try:
            self.httpd = http.server.ThreadingHTTPServer(
                (host, port), functools.partial(handler, directory=os.fspath(site_dir)))
        except OSError as exc:
            raise PortInUse(f"cannot serve on {host}:{port} ({exc.strerror or exc}); choose "
                            "another port with --port, e.g. --port 8080 (0 picks a free one)"
                            ) from exc
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="preview-http",
                                       daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/"

    def start(self) -> "SiteServer":
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.thread.join(timeout=5)
        self.httpd.server_close()


# --- the loops ---------------------------------------------------------------------------------

def _describe(changes: list[Change], limit: int = 5) -> str:
    shown = ", ".join(map(str, changes[:limit]))
    more = len(changes) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def watch_and_rebuild(watcher: SourceWatcher, rebuild: Callable[[], bool],
                      say: Callable[[str], None], stop: threading.Event, *,
                      poll_s: float = POLL_SECONDS) -> None:
    """Poll until ``stop`` is set; rebuild once per burst of changes."""
    while not stop.wait(poll_s):
        changes = watcher.settled_changes(stop)
        if changes and not stop.is_set():
            say(f"Changed · 已修改: {_describe(changes)} → rebuilding · 重新生成 …")
            rebuild()


def run_preview(root: Path, rebuild: Callable[[], bool], *, port: int = 8000,
                say: Callable[[str], None] = print, detail: Callable[[str], None] | None = None,
                year: int | None = None, stop: threading.Event | None = None,
                poll_s: float = POLL_SECONDS) -> None:
    """Build, serve ``_site/`` and rebuild on change until ``stop`` is set or Ctrl-C.

    Parameters
    ----------
    root
        The project folder.
    rebuild
        Runs the build and prints its own progress; returns False when it failed (the last
        good site keeps being served).
    port
        On 127.0.0.1; 0 picks a free port. The address is printed.
    say, detail
        Lines for the user; ``detail`` gets one line per HTTP request (``--verbose``).
    year
        The edition, to print the address of its first page.
    stop
        Set it from another thread to end the preview (tests); Ctrl-C ends it too.
    """
    root = Path(root)
    stop = stop or threading.Event()
    server = SiteServer(root / "_site", port, log=detail)  # a taken port fails before any work
    watcher = SourceWatcher(root)
    try:
        say("Building before serving · 先生成一次 …")
        rebuild()
        watcher.changes()  # what that build wrote is not a change to rebuild for
        server.start()
        page = f"zh/reports/{year}/zh/index.html" if year is not None else ""
        say(f"Serving the site at {server.url}{page} · 本地预览地址")
        say("Watching reports/, data/raw/ and config/ for changes; Ctrl-C to stop · 按 Ctrl-C 退出")
        watch_and_rebuild(watcher, rebuild, say, stop, poll_s=poll_s)
    finally:
        server.stop()


def quarto_preview_command(quarto: Path, port: int) -> list[str]:
    """The Quarto command: the Chinese profile, no browser, a fixed port."""
    return [str(quarto), "preview", "--profile", "zh", "--no-browser", "--port", str(port)]


def run_quarto_preview(root: Path, quarto: Path, rebuild_data: Callable[[], bool], *,
                       port: int = 8000, say: Callable[[str], None] = print,
                       stop: threading.Event | None = None, poll_s: float = POLL_SECONDS) -> None:
    """``quarto preview`` serves and re-renders the pages; the data stages rerun here.

    Quarto watches the ``.qmd`` files itself. ``rebuild_data`` (the build without its
    render stage) first writes ``_variables.yml``, the generated parts and the executed
    notebooks that the pages embed, and runs again when ``data/raw/`` or ``config/`` changes.
    """
    root = Path(root)
    stop = stop or threading.Event()
    if port == 0:
        port = _free_port()
    watcher = SourceWatcher(root, data_only=True)
    say("Preparing data, charts and variables · 准备数据 …")
    rebuild_data()
    watcher.changes()
    cmd = quarto_preview_command(quarto, port)
    say(f"Starting {' '.join(cmd)} (Ctrl-C to stop · 按 Ctrl-C 退出)")
    proc = subprocess.Popen(cmd, cwd=str(root))
    try:
        while proc.poll() is None and not stop.is_set():
            changes = watcher.settled_changes(stop)
            if changes:
                say(f"Changed · 已修改: {_describe(changes)} → updating the data · 更新数据 …")
                rebuild_data()
            stop.wait(poll_s)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
