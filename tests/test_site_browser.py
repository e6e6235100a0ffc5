"""The reviewer site in a real browser: headless Chromium, offline, driven over its
DevTools pipe (``--remote-debugging-pipe``; no extra Python package).

The site (rendered from the SYNTHETIC fixture project, and from the real 2017 project
when a build has produced its inputs) is served by a local ``http.server`` on 127.0.0.1
whose access log records every URL the browser asked for. Chromium runs with every host
name except 127.0.0.1 mapped to "not found" and writes a net log; the tests prove that

- every page loads with all its resources from the local server (HTTP 200);
- every link on every page resolves (HTTP 200 for a fetch from the page);
- the language switch of each page lands on the same page in the other language;
- the target table and the charts are in the DOM and the chart images decode;
- the search box of the edition bar finds a page offline, labels the hit with its year and
  can be limited to one edition;
- the root page lists the editions without redirecting and remembers the language picked;
- zero requests leave the machine (page requests and the browser's own sockets).

Skipped, with the reason, only when Chromium is not installed. Set ``BPS_SCREENSHOTS`` to
a folder to keep screenshots of the pages for a human look.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import select
import shutil
import subprocess
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest


ROOT = Path(__file__).resolve().parent.parent
FIXTURE = Path(__file__).parent / "fixtures" / "render"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-default-apps", "--disable-extensions", "--mute-audio",
                  "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"]
WAIT_S = 30  # an upper bound for one browser step, not a measurement


def chromium_binary() -> str | None:
    env = os.environ.get("CHROMIUM")
    if env and Path(env).exists():
        return env
    for cand in CHROMIUM_CANDIDATES:
        if Path(cand).exists():
            return cand
    return shutil.which("chromium")


# Drives headless Chromium: end-to-end (slow).
pytestmark = [pytest.mark.slow, pytest.mark.skipif(chromium_binary() is None,
                                reason="Chromium is not installed (apt-get install chromium)")]


# --- a local server that logs every request ----------------------------------------------------

class _LoggingHandler(SimpleHTTPRequestHandler):
    def log_request(self, code="-", size="-"):
        self.server.access_log.append((unquote(urlsplit(self.path).path), int(code)))

    def log_message(self, *args):  # keep pytest's output clean
        pass


class LocalSite:
    def __init__(self, directory: Path):
        handler = functools.partial(_LoggingHandler, directory=str(directory))
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.access_log = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/"

    @property
    def access_log(self) -> list[tuple[str, int]]:
        return self.server.access_log

    def close(self):
        self.server.shutdown()
        self.server.server_close()


# --- a minimal DevTools-protocol client over Chromium's pipe ------------------------------------

class Browser:
    """Chromium with ``--remote-debugging-pipe``: commands on fd 3, replies on fd 4,
    each message one JSON text ended by a NUL byte."""

    def __init__(self, binary: str, workdir: Path):
        self.netlog = workdir / "netlog.json"
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        # Move the child's ends above fd 10 so the dup2 onto 3 and 4 cannot clobber them.
        child_in = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
        child_out = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
        os.close(to_child_r)
        os.close(from_child_w)

        def wire_pipe():
            os.dup2(child_in, 3)
            os.dup2(child_out, 4)

        args = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={workdir / 'profile'}",
                f"--log-net-log={self.netlog}", "--net-log-capture-mode=Default",
                "--remote-debugging-pipe", "about:blank"]
        self.proc = subprocess.Popen(args, preexec_fn=wire_pipe, close_fds=False,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(child_in)
        os.close(child_out)
        self._buf = b""
        self._next_id = 0
        self.events: list[dict] = []

    # transport
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_child, json.dumps(msg).encode("utf-8") + b"\0")
        return self._next_id

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            ready, _, _ = select.select([self._from_child], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise EOFError("Chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        msg_id = self._send(method, params, session)
        deadline = time.monotonic() + WAIT_S
        while True:
            msg = self._read(deadline)
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method: str, session: str, since: int) -> dict:
        deadline = time.monotonic() + WAIT_S
        seen = since
        while True:
            for msg in self.events[seen:]:
                if msg.get("method") == method and msg.get("sessionId") == session:
                    return msg
            seen = len(self.events)
            self.events.append(self._read(deadline))

    # pages
    def new_page(self, width: int = 1280, height: int = 900) -> "Tab":
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Network", "Runtime"):
            self.call(f"{domain}.enable", {}, session)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session)
        return Tab(self, session)

    def requested_urls(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def close(self):
        try:
            self.call("Browser.close")
        except (EOFError, TimeoutError, OSError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


class Tab:
    def __init__(self, browser: Browser, session: str):
        self.browser = browser
        self.session = session

    def navigate(self, url: str) -> None:
        since = len(self.browser.events)
        self.browser.call("Page.navigate", {"url": url}, self.session)
        self.browser.wait_event("Page.loadEventFired", self.session, since)

    def evaluate(self, expression: str, *, await_promise: bool = False):
        result = self.browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                        "awaitPromise": await_promise}, self.session)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:60]}…: {result['exceptionDetails']}")
        return result["result"].get("value")

    def click_and_wait(self, selector: str) -> None:
        since = len(self.browser.events)
        self.evaluate(f"document.querySelector({json.dumps(selector)}).click()")
        self.browser.wait_event("Page.loadEventFired", self.session, since)

    def screenshot(self, path: Path) -> None:
        import base64

        data = self.browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False},
                                 self.session)["data"]
        path.write_bytes(base64.b64decode(data))


# --- fixtures ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fixture_site(rendered_fixture):
    """The fixture edition through the built-in backend: pages, PDFs, post-render step."""
    return rendered_fixture.site_dir


@pytest.fixture(scope="module")
def served(fixture_site):
    server = LocalSite(fixture_site)
    yield server
    server.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    work = tmp_path_factory.mktemp("chromium")
    b = Browser(chromium_binary(), work)
    yield b
    b.close()


def site_pages(site: Path) -> list[str]:
    return sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))


def is_local(url: str, base: str) -> bool:
    return url.startswith(base) or url.startswith(("data:", "about:", "blob:", "chrome:", "devtools:"))


def counterpart(rel: str) -> str:
    parts = rel.split("/")
    lang = parts[0]
    other = "en" if lang == "zh" else "zh"
    return "/".join(other if p == lang else p for p in parts)


LINKS_JS = """(async () => {
  const urls = [...new Set(Array.from(document.querySelectorAll('a[href], link[href], script[src], img[src]'))
      .map(e => e.href || e.src).filter(u => u && !u.startsWith('data:')))];
  const out = {};
  for (const u of urls) {
    if (!u.startsWith(location.origin)) { out[u] = 'external'; continue; }
    try { out[u] = (await fetch(u.split('#')[0], {cache: 'no-store'})).status; } catch (e) { out[u] = String(e); }
  }
  return out;
})()"""


def check_pages_in_browser(browser: Browser, server: LocalSite, site: Path, shots: Path | None) -> dict:
    tab = browser.new_page()
    pages = site_pages(site)
    summary = {"pages": 0, "links": 0}
    for rel in pages:
        tab.navigate(server.base + rel)
        summary["pages"] += 1
        links = tab.evaluate(LINKS_JS, await_promise=True)
        bad = {u: s for u, s in links.items() if s != 200}
        assert not bad, f"{rel}: links that do not resolve: {bad}"
        summary["links"] += len(links)
        # every image on the page decoded (a missing or broken chart has naturalWidth 0)
        broken = tab.evaluate("Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
                              ".map(i => i.src)")
        assert broken == [], f"{rel}: images that did not load: {broken}"
        if shots is not None:
            tab.screenshot(shots / (rel.replace("/", "_") + ".png"))
    return summary


# --- tests ---------------------------------------------------------------------------------------

def test_every_page_and_link_resolves_from_the_local_server(browser, served, fixture_site):
    shots = Path(os.environ["BPS_SCREENSHOTS"]) if os.environ.get("BPS_SCREENSHOTS") else None
    if shots:
        shots.mkdir(parents=True, exist_ok=True)
    summary = check_pages_in_browser(browser, served, fixture_site, shots)
    assert summary["pages"] == 11 and summary["links"] > 50  # 8 pages and 3 index pages
    statuses = {code for _, code in served.access_log}
    assert statuses <= {200, 304}, [e for e in served.access_log if e[1] not in (200, 304)]
    requested = {path for path, _ in served.access_log}
    assert "/zh/site_libs/bpsreport/site.css" in requested
    assert "/_bps/editions.js" in requested and "/_bps/bar.js" in requested


def test_language_switch_lands_on_the_same_page_in_the_other_language(browser, served, fixture_site):
    tab = browser.new_page()
    for rel in site_pages(fixture_site):
        if "/reports/" not in "/" + rel:
            continue  # the index pages have no counterpart
        tab.navigate(served.base + rel)
        tab.click_and_wait("a.bps-lang")
        landed = tab.evaluate("location.pathname")
        assert landed == "/" + counterpart(rel), f"{rel}: switch landed on {landed}"
        assert tab.evaluate("document.documentElement.lang") == counterpart(rel).split("/")[0]


def test_target_table_and_charts_are_in_the_dom(browser, served):
    tab = browser.new_page()
    for lang in ("zh", "en"):
        tab.navigate(f"{served.base}{lang}/reports/2017/{lang}/targets.html")
        rows = tab.evaluate(f"document.querySelectorAll('#tbl-targets-{lang} table tbody tr').length")
        assert rows == 1
        caption = tab.evaluate(f"document.querySelector('#tbl-targets-{lang} .table-caption').textContent.trim()")
        assert caption.startswith("表 1：" if lang == "zh" else "Table 1:")
        width = tab.evaluate(f"document.querySelector('#fig-targets-{lang} img').naturalWidth")
        assert width == 320  # the SVG decoded at its own size
        assert tab.evaluate(f"document.querySelector('#fig-targets-{lang} img').alt") != ""


SEARCH_JS = """(async (q, scope) => {
  const i = document.getElementById('bps-search-input');
  const s = document.getElementById('bps-search-scope');
  i.focus(); i.value = q; if (scope !== null) { s.value = scope; }
  i.dispatchEvent(new Event('input'));
  for (let n = 0; n < 100; n++) {
    const items = document.querySelectorAll('.bps-search-results li');
    if (items.length) { break; }
    await new Promise(r => setTimeout(r, 50));
  }
  return Array.from(document.querySelectorAll('.bps-search-results li')).map(li => ({
    year: li.getAttribute('data-year'), href: (li.querySelector('a') || {}).href || null,
    label: (li.querySelector('.bps-hit-year') || {}).textContent || null}));
})"""


def test_search_box_finds_a_page_offline_and_labels_the_edition(browser, served):
    tab = browser.new_page()
    tab.navigate(f"{served.base}zh/reports/2017/zh/domains/environment.html")
    options = tab.evaluate("Array.from(document.querySelectorAll('#bps-search-scope option'))"
                           ".map(o => [o.value, o.textContent])")
    assert options == [["", "全部年份"], ["2017", "2017年版"]]
    hits = tab.evaluate(f"({SEARCH_JS})('主要工作', null)", await_promise=True)
    assert hits and hits[0]["href"] == f"{served.base}zh/reports/2017/zh/index.html#sec-work"
    assert hits[0]["label"] == "2017年版" and hits[0]["year"] == "2017"
    tab.click_and_wait(".bps-search-results a")
    assert tab.evaluate("location.pathname + location.hash") == "/zh/reports/2017/zh/index.html#sec-work"
    # Limited to an edition that has no such page: nothing is found.
    tab.navigate(f"{served.base}en/reports/2017/en/index.html")
    hits = tab.evaluate(f"({SEARCH_JS})('synthetic', '2017')", await_promise=True)
    assert hits and all(h["year"] == "2017" for h in hits)


def test_root_page_lists_editions_and_remembers_the_language(browser, served):
    tab = browser.new_page()
    tab.navigate(served.base + "index.html")
    assert tab.evaluate("location.pathname") == "/index.html"  # no redirect
    cards = tab.evaluate("Array.from(document.querySelectorAll('.bps-card')).map(c => c.dataset.year)")
    assert cards == ["2017"]
    tab.evaluate("document.querySelector('[data-pick=\"en\"]').click()")
    tab.navigate(served.base + "index.html")
    assert tab.evaluate("document.querySelector('[data-pick=\"en\"]').getAttribute('aria-pressed')") == "true"
    visible = tab.evaluate("Array.from(document.querySelectorAll('.bps-card-lang'))"
                           ".filter(b => !b.hidden).map(b => b.dataset.lang)")
    assert visible == ["en"]


def test_zero_requests_leave_the_machine(browser, served, fixture_site):
    # Runs last in this module: by now every page has been loaded and every link fetched.
    tab = browser.new_page()
    tab.navigate(f"{served.base}en/reports/2017/en/index.html")
    urls = browser.requested_urls()
    assert len(urls) > 20
    external = [u for u in urls if not is_local(u, served.base)]
    assert external == [], external


@pytest.fixture(scope="module")
def real_site(edition_2017):
    site = ROOT / "_site"
    assert (site / "zh" / "reports" / "2017" / "zh" / "index.html").is_file()
    return site


def test_real_site_loads_offline_with_table_and_charts(real_site, tmp_path_factory):
    server = LocalSite(real_site)
    browser = Browser(chromium_binary(), tmp_path_factory.mktemp("chromium-real"))
    try:
        shots = Path(os.environ["BPS_SCREENSHOTS"]) / "real" if os.environ.get("BPS_SCREENSHOTS") else None
        if shots:
            shots.mkdir(parents=True, exist_ok=True)
        summary = check_pages_in_browser(browser, server, real_site, shots)
        assert summary["pages"] >= 30  # 2 x (overview, summary, tasks, targets, sources, 10 domains)
        tab = browser.new_page()
        for lang in ("zh", "en"):
            # The charts stand in the summary where the text cites them.
            tab.navigate(f"{server.base}{lang}/reports/2017/{lang}/summary.html")
            assert tab.evaluate("Array.from(document.querySelectorAll('[id^=\"fig-\"] img, figure img'))"
                                ".filter(i => i.naturalWidth > 0).length") >= 3
            tab.navigate(f"{server.base}{lang}/reports/2017/{lang}/targets.html")
            assert tab.evaluate("document.querySelectorAll('.float-table table tbody tr').length") > 10
            tab.click_and_wait("a.bps-lang")
            assert tab.evaluate("location.pathname").endswith(
                f"/reports/2017/{'en' if lang == 'zh' else 'zh'}/targets.html")
        assert [u for u in browser.requested_urls() if not is_local(u, server.base)] == []
        assert {code for _, code in server.access_log} <= {200, 304}
    finally:
        browser.close()
        server.close()
    assert_netlog_loopback_only(browser.netlog)


def load_netlog(netlog: Path) -> dict:
    text = netlog.read_text(encoding="utf-8", errors="replace").rstrip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:  # Chromium documents that a log may lack its closing "]}"
        return json.loads(text.rstrip(",") + "]}")


LOOPBACK = re.compile(r"^(127\.\d+\.\d+\.\d+|\[::1\])(:\d+)?$")


def netlog_outside_traffic(netlog: Path) -> dict[str, list]:
    """What in the net log reached (or would have reached) beyond 127.0.0.1.

    - ``tcp``: TCP connections to a non-loopback address;
    - ``udp``: datagrams sent from a socket connected to a non-loopback address (Chromium's
      IPv6 reachability check *connects* a UDP socket to a public address to learn its own
      address; that sends nothing and is not counted);
    - ``http``: requests actually written to a connection for a non-loopback URL (Chromium's
      own background fetches are stopped earlier by --host-resolver-rules: NAME_NOT_RESOLVED).
    """
    log = load_netlog(netlog)
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    udp_remote: dict[int, str] = {}
    url_of: dict[int, str] = {}
    out = {"tcp": [], "udp": [], "http": []}
    for event in log["events"]:
        name = names.get(event["type"], "")
        params = event.get("params") or {}
        source = event["source"]["id"]
        address = params.get("address") or params.get("remote_address")
        if name in ("TCP_CONNECT_ATTEMPT", "TCP_CONNECT") and address and not LOOPBACK.match(address):
            out["tcp"].append(address)
        if name == "UDP_CONNECT" and address:
            udp_remote[source] = address
        if name == "UDP_BYTES_SENT" and not LOOPBACK.match(udp_remote.get(source, "127.0.0.1")):
            out["udp"].append(udp_remote[source])
        if name == "URL_REQUEST_START_JOB" and params.get("url"):
            url_of[source] = params["url"]
        if name in ("HTTP_TRANSACTION_SEND_REQUEST", "HTTP_TRANSACTION_HTTP2_SEND_REQUEST_HEADERS"):
            url = url_of.get(source, "")
            if url and not url.startswith(("http://127.0.0.1:", "data:")):
                out["http"].append(url)
    return out


def assert_netlog_loopback_only(netlog: Path) -> None:
    """Nothing left the machine (the net log is complete once Chromium has exited)."""
    outside = netlog_outside_traffic(netlog)
    assert outside == {"tcp": [], "udp": [], "http": []}, outside


def test_browser_sockets_went_to_loopback_only(tmp_path_factory, fixture_site):
    """A fresh browser loads two pages, exits, and its net log shows only loopback sockets."""
    server = LocalSite(fixture_site)
    browser = Browser(chromium_binary(), tmp_path_factory.mktemp("chromium-netlog"))
    try:
        tab = browser.new_page()
        tab.navigate(server.base + "zh/reports/2017/zh/index.html")
        tab.navigate(server.base + "en/reports/2017/en/targets.html")
    finally:
        browser.close()
        server.close()
    log = load_netlog(browser.netlog)
    requested = {e["params"]["url"] for e in log["events"] if (e.get("params") or {}).get("url")}
    assert server.base + "zh/reports/2017/zh/index.html" in requested  # the log saw our pages
    names = {v: k for k, v in log["constants"]["logEventTypes"].items()}
    local_connects = [e for e in log["events"] if names.get(e["type"]) in ("TCP_CONNECT", "TCP_CONNECT_ATTEMPT")
                      and LOOPBACK.match((e.get("params") or {}).get("address")
                                         or (e.get("params") or {}).get("remote_address") or "")]
    assert local_connects  # the checker sees connections: its silence below means something
    assert_netlog_loopback_only(browser.netlog)


CLIPPED_JS = """(() => {
  // Every table cell whose content is wider or taller than the cell (the reader sees it
  // cut off), and every table cut off by a box around it that hides what overflows.
  const out = [];
  for (const cell of document.querySelectorAll('main table td, main table th')) {
    if (cell.scrollWidth > cell.clientWidth + 1 || cell.scrollHeight > cell.clientHeight + 1) {
      out.push({cell: cell.textContent.trim().slice(0, 40), scroll: cell.scrollWidth, client: cell.clientWidth});
    }
  }
  for (const table of document.querySelectorAll('main table')) {
    for (let box = table.parentElement; box && box !== document.body; box = box.parentElement) {
      const style = getComputedStyle(box);
      if ((style.overflowX === 'hidden' || style.overflowX === 'clip') && box.scrollWidth > box.clientWidth + 1) {
        out.push({table: (table.closest('[id]') || table).id, box: box.className, scroll: box.scrollWidth, client: box.clientWidth});
      }
    }
  }
  // And the page itself never scrolls sideways: only a table's own box may.
  if (document.documentElement.scrollWidth > innerWidth + 1) {
    out.push({page: location.pathname, width: document.documentElement.scrollWidth});
  }
  return out;
})()"""


@pytest.mark.parametrize("width", [390, 1280])
def test_no_table_cell_is_clipped_on_a_phone_or_a_desktop(real_site, tmp_path_factory, width):
    """At 390 px (a phone) and 1280 px, no table cell cuts off a number or a header word,
    on any page of the 2017 edition that has a table."""
    server = LocalSite(real_site)
    browser = Browser(chromium_binary(), tmp_path_factory.mktemp(f"chromium-{width}"))
    try:
        tab = browser.new_page(width=width, height=844 if width < 500 else 900)
        pages = [p for p in site_pages(real_site) if "/reports/2017/" in p
                 and "<table" in (real_site / p).read_text(encoding="utf-8")]
        assert len(pages) >= 20
        clipped = {}
        for rel in pages:
            tab.navigate(server.base + rel)
            found = tab.evaluate(CLIPPED_JS)
            if found:
                clipped[rel] = found[:5]
            if os.environ.get("BPS_SCREENSHOTS"):
                shots = Path(os.environ["BPS_SCREENSHOTS"]) / f"w{width}"
                shots.mkdir(parents=True, exist_ok=True)
                tab.screenshot(shots / (rel.replace("/", "_") + ".png"))
        assert clipped == {}
    finally:
        browser.close()
        server.close()
