"""``pipeline.py preview``: serve the site on this computer and update it as sources change.

With the built-in renderer (no Quarto installed)::

    build once --> serve _site/ on http://127.0.0.1:PORT/ (http.server, in a thread)
              \\-> every second: scan the modification times of the watched files;
                  on a change, wait until the files are quiet, then
                  1. re-render the pages open in a browser (a report .qmd changed): into
                     an overlay served in front of _site/, and tell those browsers to reload;
                  2. rebuild (the ordinary build: other pages, PDFs, data), then tell every
                     browser whose page changed to reload, and drop the overlay.

Each page the preview serves carries a small script (``/_preview/live.js``, added as the
page is sent, never written into _site/) that listens on ``/_preview/events`` (server-sent
events): ``reload`` reloads the page; ``build-error`` shows the error, with its file and
line, over the last good version of the page, which stays in place; ``build-ok`` removes it.

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
import json
import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import PipelineError

POLL_SECONDS = 1.0
QUIET_SECONDS = 0.5     # a change counts once the files were quiet this long (saves come in bursts)
LIVE_QUIET_SECONDS = 0.2  # with a browser waiting, sooner: an editor's save is one burst
LIVE_POLL_SECONDS = 0.25  # and the files are looked at four times a second (a few ms each)
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


# --- live reload: which pages are open, and telling them ------------------------------------

LIVE_PREFIX = "/_preview/"
LIVE_SCRIPT = """(function () {
  // Added by pipeline.py preview as the page is served (bpsreport/preview.py).
  var page = location.pathname.replace(/^\\/+/, "");
  var box = null;
  function show(message) {
    if (!box) {
      box = document.createElement("div");
      box.id = "bps-preview-error";
      box.setAttribute("role", "alert");
      box.style.cssText = "position:fixed;z-index:9999;left:0;right:0;top:0;max-height:50vh;" +
        "overflow:auto;margin:0;padding:.8rem 1rem;background:#fff4f4;color:#8a1010;" +
        "border-bottom:3px solid #c62828;font:14px/1.5 monospace;white-space:pre-wrap;" +
        "box-shadow:0 2px 8px rgba(0,0,0,.2)";
      document.body.appendChild(box);
    }
    box.textContent = "预览未更新 · Preview not updated: this page shows the last good version.\\n\\n" + message;
  }
  var events = new EventSource("/_preview/events?page=" + encodeURIComponent(page));
  events.addEventListener("reload", function () { location.reload(); });
  events.addEventListener("build-error", function (e) { show(JSON.parse(e.data).message); });
  events.addEventListener("build-ok", function () { if (box) { box.remove(); box = null; } });
})();
"""
LIVE_TAG = '<script src="/_preview/live.js"></script>'


def page_key(url_path: str) -> str:
    """A served page as a site-relative path: ``/zh/`` is ``zh/index.html``."""
    path = unquote(urlsplit(url_path).path).lstrip("/")
    if path == "" or path.endswith("/"):
        path += "index.html"
    return path


class LiveHub:
    """The browsers listening for changes, by the page each shows."""

    def __init__(self):
        self._lock = threading.Lock()
        self._clients: dict[int, tuple[str, queue.Queue]] = {}
        self._next = 0
        self.last_error: str | None = None

    def connect(self, page: str) -> tuple[int, queue.Queue]:
        with self._lock:
            self._next += 1
            inbox: queue.Queue = queue.Queue()
            self._clients[self._next] = (page, inbox)
            if self.last_error is not None:
                inbox.put(("build-error", {"message": self.last_error}))
            return self._next, inbox

    def disconnect(self, client: int) -> None:
        with self._lock:
            self._clients.pop(client, None)

    def viewed(self) -> list[str]:
        """The pages open in a browser now (each once)."""
        with self._lock:
            return sorted({page for page, _ in self._clients.values()})

    def send(self, event: str, data: dict | None = None, *, pages: Iterable[str] | None = None) -> int:
        """Send ``event`` to the browsers showing ``pages`` (all when None); how many."""
        wanted = None if pages is None else set(pages)
        with self._lock:
            targets = [inbox for page, inbox in self._clients.values() if wanted is None or page in wanted]
        for inbox in targets:
            inbox.put((event, data or {}))
        return len(targets)

    def error(self, message: str) -> None:
        self.last_error = message
        self.send("build-error", {"message": message})

    def ok(self) -> None:
        if self.last_error is not None:
            self.last_error = None
            self.send("build-ok")

    def close(self) -> None:
        with self._lock:
            targets = [inbox for _, inbox in self._clients.values()]
        for inbox in targets:
            inbox.put(None)


# --- the web server ----------------------------------------------------------------------------

class _SiteHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of ``_site/`` (pages re-rendered for the preview first, from the
    overlay folder); never cached, so a reload shows the rebuilt page. Pages carry the
    live-reload script; ``/_preview/events`` is its event stream."""

    log = None      # set per server: a callable for one line per request
    hub = None      # a LiveHub, or None: no live reload
    overlay = None  # a folder served in front of the site, or None
    heartbeat_s = 15.0

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        if self.log is not None:
            self.log(f"   http: {self.address_string()} {format % args}")

    def translate_path(self, path: str) -> str:
        if self.overlay is not None:
            candidate = Path(self.overlay) / page_key(path)
            if candidate.is_file():
                return os.fspath(candidate)
        return super().translate_path(path)

    def do_GET(self) -> None:  # noqa: N802 - the base class's name
        path = urlsplit(self.path).path
        if self.hub is not None and path == LIVE_PREFIX + "live.js":
            return self._send_bytes(LIVE_SCRIPT.encode("utf-8"), "text/javascript; charset=utf-8")
        if self.hub is not None and path == LIVE_PREFIX + "events":
            return self._events()
        if self.hub is not None and page_key(path).endswith(".html"):
            file = Path(self.translate_path(self.path))
            if file.is_dir():
                file = file / "index.html"
            if file.is_file():
                text = file.read_text(encoding="utf-8", errors="replace")
                at = text.lower().rfind("</body>")
                text = text[:at] + LIVE_TAG + text[at:] if at != -1 else text + LIVE_TAG
                return self._send_bytes(text.encode("utf-8"), "text/html; charset=utf-8")
        return super().do_GET()

    def _send_bytes(self, body: bytes, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _events(self) -> None:
        page = page_key("/" + (parse_qs(urlsplit(self.path).query).get("page") or [""])[0])
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "keep-alive")
        self.end_headers()
        client, inbox = self.hub.connect(page)
        try:
            self.wfile.write(b": connected\n\n")
            self.wfile.flush()
            while True:
                try:
                    item = inbox.get(timeout=self.heartbeat_s)
                except queue.Empty:
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                    continue
                if item is None:
                    break
                event, data = item
                self.wfile.write(f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
                                 .encode("utf-8"))
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            self.hub.disconnect(client)


class PortInUse(PipelineError):
    """The port cannot be served on (taken, or not allowed): a setup problem."""

    exit_code = 3


class SiteServer:
    """``_site/`` on ``http://127.0.0.1:<port>/`` in a background thread.

    The folder is looked up on every request, so a rebuild that swaps ``_site/`` for a new
    one is served at once. With ``hub``, pages get live reload and ``overlay`` (a folder
    laid out like the site) is served in front of it.
    """

    def __init__(self, site_dir: Path, port: int = 8000, *, host: str = "127.0.0.1",
                 log: Callable[[str], None] | None = None, hub: LiveHub | None = None,
                 overlay: Path | None = None):
        handler = type("Handler", (_SiteHandler,), {
            "log": staticmethod(log) if log else None, "hub": hub,
            "overlay": os.fspath(overlay) if overlay is not None else None})
        try:
            self.httpd = http.server.ThreadingHTTPServer(
                (host, port), functools.partial(handler, directory=os.fspath(site_dir)))
        except OSError as exc:
            raise PortInUse(f"cannot serve on {host}:{port} ({exc.strerror or exc}); choose "
                            "another port with --port, e.g. --port 8080 (0 picks a free one)"
                            ) from exc
        self.httpd.daemon_threads = True
        self.hub = hub
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
        if self.hub is not None:
            self.hub.close()
        if self.thread.is_alive():
            self.httpd.shutdown()
            self.thread.join(timeout=5)
        self.httpd.server_close()


# --- the page being viewed, first ---------------------------------------------------------------

OVERLAY = Path("build") / "preview" / "site"


class ViewedPages:
    """Re-renders the pages open in a browser with the built-in renderer, into the
    overlay folder, with their edition bar: the same page the build will publish, ahead
    of the rest of the build."""

    def __init__(self, root: Path, year: int, overlay: Path):
        self.root, self.year, self.overlay = Path(root).resolve(), int(year), Path(overlay)

    def render(self, pages: Iterable[str]) -> list[str]:
        """Re-render those of ``pages`` (site-relative) that belong to the edition; return
        them. A broken source raises :class:`bpsreport.render.RenderError` (file and line)."""
        from .postrender import (bar_html, download_items, edition_facts, head_html,
                                 inject_bar, site_labels)
        from .render.html import plan_site, render_page

        wanted = set(pages)
        langs = tuple(sorted({p.split("/", 1)[0] for p in wanted if p.split("/", 1)[0] in ("zh", "en")}))
        if not langs:
            return []
        plan = plan_site(self.root, langs, self.overlay, target=f"reports/{self.year}/{{lang}}")
        todo = [page for lang in langs for page in plan.targets.get(lang, [])
                if str(page.out_rel) in wanted]
        if not todo:
            return []
        facts, labels = edition_facts(self.root, self.year), site_labels()
        site = self.root / "_site"
        cache = self.root / "build" / "preview" / "render-cache"
        done = []
        for page in todo:
            rendered = render_page(plan, page, cache_dir=cache)
            rel = str(page.out_rel)
            text = rendered.html_path.read_text(encoding="utf-8")
            bar = bar_html(page=rel, lang=page.lang, year=self.year, facts=facts, labels=labels,
                           root=self.root, downloads=download_items(site, self.year, page.lang, labels))
            rendered.html_path.write_text(inject_bar(text, bar, head_html(rel)), encoding="utf-8")
            done.append(rel)
        return done

    def clear(self) -> None:
        shutil.rmtree(self.overlay, ignore_errors=True)


# --- the loops ---------------------------------------------------------------------------------

def _describe(changes: list[Change], limit: int = 5) -> str:
    shown = ", ".join(map(str, changes[:limit]))
    more = len(changes) - limit
    return shown + (f" and {more} more" if more > 0 else "")


def _page_bytes(site: Path, overlay: Path, page: str) -> bytes | None:
    for base in (overlay, site):
        try:
            return (base / page).read_bytes()
        except OSError:
            continue
    return None


def update(changes: list[Change], *, rebuild: Callable[[], bool], say: Callable[[str], None],
           hub: LiveHub | None = None, viewed: ViewedPages | None = None,
           site: Path | None = None, failure: Callable[[], str | None] = lambda: None) -> None:
    """One round of changes: the pages open in a browser first (a report source changed),
    then the whole build, then every browser whose page changed reloads."""
    overlay = viewed.overlay if viewed is not None else None
    first: list[str] = []
    if hub is not None and viewed is not None and any(
            c.path.startswith("reports/") and c.path.endswith(".qmd") for c in changes):
        from .render import RenderError

        open_pages = hub.viewed()
        if open_pages:
            try:
                first = viewed.render(open_pages)
            except (RenderError, OSError, ValueError) as exc:
                hub.error(str(exc))
                say(f"   the page could not be updated · 页面未更新: {exc}")
            else:
                if first:
                    hub.ok()
                    hub.send("reload", pages=first)
                    say(f"   updated first · 已先更新: {', '.join(first)}")
    before = {page: _page_bytes(site, overlay, page) for page in hub.viewed()} \
        if hub is not None and site is not None and overlay is not None else {}
    ok = rebuild()
    if hub is None:
        return
    if not ok:
        hub.error(failure() or "the build failed; see the preview's output for the file and line")
        return
    hub.ok()
    # The built site is what the overlay anticipated: a page whose bytes did not change
    # is not reloaded again.
    changed = [page for page, old in before.items() if site is not None
               and (site / page).is_file() and (site / page).read_bytes() != old]
    if viewed is not None:
        viewed.clear()
    if site is None:
        hub.send("reload")
    elif changed:
        hub.send("reload", pages=changed)


def watch_and_rebuild(watcher: SourceWatcher, rebuild: Callable[[], bool],
                      say: Callable[[str], None], stop: threading.Event, *,
                      poll_s: float = POLL_SECONDS, hub: LiveHub | None = None,
                      viewed: ViewedPages | None = None, site: Path | None = None,
                      failure: Callable[[], str | None] = lambda: None) -> None:
    """Poll until ``stop`` is set; update once per burst of changes."""
    while not stop.wait(poll_s):
        changes = watcher.settled_changes(stop, quiet_s=QUIET_SECONDS if hub is None else LIVE_QUIET_SECONDS)
        if changes and not stop.is_set():
            say(f"Changed · 已修改: {_describe(changes)} → updating · 更新 …")
            update(changes, rebuild=rebuild, say=say, hub=hub, viewed=viewed, site=site,
                   failure=failure)


def run_preview(root: Path, rebuild: Callable[[], bool], *, port: int = 8000,
                say: Callable[[str], None] = print, detail: Callable[[str], None] | None = None,
                year: int | None = None, stop: threading.Event | None = None,
                poll_s: float | None = None, live: bool = True,
                failure: Callable[[], str | None] = lambda: None) -> None:
    """Build, serve ``_site/`` and update on change until ``stop`` is set or Ctrl-C.

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
        The edition, to print the address of its first page and re-render its pages first.
    stop
        Set it from another thread to end the preview (tests); Ctrl-C ends it too.
    live
        Pages reload themselves and the page being viewed is re-rendered first.
    failure
        The message of the last failed rebuild (file and line), shown in the browser.
    """
    root = Path(root)
    stop = stop or threading.Event()
    poll_s = poll_s if poll_s is not None else (LIVE_POLL_SECONDS if live else POLL_SECONDS)
    hub = LiveHub() if live else None
    viewed = ViewedPages(root, year, root / OVERLAY) if live and year is not None else None
    if viewed is not None:
        viewed.clear()
    server = SiteServer(root / "_site", port, log=detail, hub=hub,
                        overlay=viewed.overlay if viewed is not None else None)  # a taken port fails before any work
    watcher = SourceWatcher(root)
    try:
        say("Building before serving · 先生成一次 …")
        if not rebuild() and hub is not None:
            hub.error(failure() or "the build failed; see the preview's output")
        watcher.changes()  # what that build wrote is not a change to rebuild for
        server.start()
        page = f"zh/reports/{year}/zh/index.html" if year is not None else ""
        say(f"Serving the site at {server.url}{page} · 本地预览地址")
        say("Watching reports/, data/raw/ and config/ for changes; pages open in a browser "
            "update themselves; Ctrl-C to stop · 按 Ctrl-C 退出")
        watch_and_rebuild(watcher, rebuild, say, stop, poll_s=poll_s, hub=hub, viewed=viewed,
                          site=root / "_site", failure=failure)
    finally:
        server.stop()
        if viewed is not None:
            viewed.clear()


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
