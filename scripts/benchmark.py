#!/usr/bin/env python3
"""Time what people wait for (issue 11's table), in one run, in a scratch copy of the project.

    .venv/bin/python scripts/benchmark.py                # every row, then the notebook profile
    .venv/bin/python scripts/benchmark.py --repeat 5     # median of 5 for the no-change rebuild
    .venv/bin/python scripts/benchmark.py --skip-tests   # without the fast test suite

Rows (wall clock; CPU is user + system of the build and every process it started):

  first build after setup     ``pipeline.py build --year 2017`` in a copy holding only inputs
  rebuild, nothing changed    the same command again (median of --repeat)
  department workbook 2018    after ``new-year 2018`` and a first 2018 build, one SYNTHETIC
                              filled hrss workbook (tests/fixtures/submissions/, filled by
                              bpsreport.submissions.fill_template, as the yearly workflow test
                              does) is dropped in and 2018 rebuilt
  2017 after 2018 data        2017 rebuilt once the 2018 data above arrived
  edit one narrative file     one line added to a 2017 narrative part, 2017 rebuilt
  fast test suite             ``pytest -n 2 --dist loadfile -m "not slow"`` in the checkout
                              (what ``./run test -m "not slow"`` runs once set up)
  preview latency            ``pipeline.py preview``: save a narrative file → the reload event
                              reaches a browser showing a page that cites it (median of 3)
  render stage, Quarto        the 2017 render stage from cold with ``--renderer quarto`` and
                              with the built-in renderer, and the ratio (Quarto installed)
  full test suite             ``pytest -n 2 --dist loadfile`` (with --full-tests)

Then ``--profile`` (on by default) splits one notebook's cost: kernel start (cold and
forked), imports, and, under cProfile, plotnine's drawing, the SVG and the 300 dpi PNG,
and the tables, over every chart and table of the 2017 edition.
Tests never time anything; this script is where timing lives.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
UNIT = "gd-province"
INPUTS = ("data/raw", "config", "notebooks", "reports", "templates", "scripts")
SYNTHETIC_WORKBOOK = ROOT / "tests" / "fixtures" / "submissions" / "hrss-2018-synthetic.yml"
NARRATIVE = Path("reports/2017/zh/_parts/education.qmd")


@dataclass
class Row:
    what: str
    wall: float | None
    cpu: float | None = None
    note: str = ""
    goal: str = ""


def copy_inputs(dest: Path) -> Path:
    for name in INPUTS:
        shutil.copytree(ROOT / name, dest / name)
    for f in ROOT.glob("_quarto*.yml"):
        shutil.copy2(f, dest / f.name)
    return dest


def timed(cmd: list[str], cwd: Path | None = None) -> tuple[float, float, str]:
    """Run ``cmd``; return wall seconds, CPU seconds of it and its descendants, stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200"})
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n"
                           f"{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.stdout


def pipeline(root: Path, *args: str) -> tuple[float, float, str]:
    return timed([PY, str(ROOT / "pipeline.py"), "--root", str(root), *args])


def notebooks_line(stdout: str) -> str:
    found = re.search(r"notebooks: \d+ run, \d+ reused", stdout)
    return found.group(0) if found else ""


def drop_synthetic_workbook(root: Path) -> str:
    """The hrss department's 2018 workbook, filled with the SYNTHETIC fixture's values."""
    import yaml

    sys.path.insert(0, str(ROOT))
    from bpsreport.submissions import fill_template

    fixture = yaml.safe_load(SYNTHETIC_WORKBOOK.read_text(encoding="utf-8"))
    assert fixture["synthetic"] is True, "the benchmark only ever uses SYNTHETIC data"
    dropped = root / "data" / "raw" / "submissions" / UNIT / "2018" / "hrss.xlsx"
    dropped.parent.mkdir(parents=True, exist_ok=True)
    fill_template(root / "submissions" / "2018" / "hrss.xlsx", dropped, data=fixture["data"],
                  tasks={int(k): v for k, v in fixture["tasks"].items()})
    return f"SYNTHETIC hrss.xlsx ({len(fixture['data'])} figures)"


def measure_preview_latency(root: Path, saves: int = 3) -> Row:
    """``pipeline.py preview``: from saving a narrative file to the reload event reaching a
    browser that shows a page citing it (the page re-rendered and served), median of
    ``saves``; then that the page served has the new text."""
    import http.client
    import queue
    import signal
    import threading

    page = "zh/reports/2017/zh/summary.html"
    part = root / "reports" / "2017" / "zh" / "_parts" / "main-work.qmd"
    original = part.read_text(encoding="utf-8")
    proc = subprocess.Popen([PY, str(ROOT / "pipeline.py"), "--root", str(root), "preview", "--year",
                             "2017", "--port", "0", "--renderer", "builtin"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()

    def wait_line(pattern: str, timeout: float = 600) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            found = re.search(pattern, line)
            if found:
                return found
        raise RuntimeError(f"preview: no {pattern!r}")

    latencies = []
    try:
        host, port = wait_line(r"Serving the site at http://(127\.0\.0\.1):(\d+)/").groups()
        conn = http.client.HTTPConnection(host, int(port), timeout=120)
        conn.request("GET", f"/_preview/events?page={page}")
        stream = conn.getresponse()
        events: queue.Queue = queue.Queue()
        threading.Thread(target=lambda: [events.put(raw) for raw in stream.fp
                                         if raw.startswith(b"event: reload")], daemon=True).start()
        for n in range(saves):
            time.sleep(3)
            marker = f"（基准测试预览第{n + 1}次修改。）"
            start = time.perf_counter()
            part.write_text(original + f"\n{marker}\n", encoding="utf-8")
            events.get(timeout=120)
            latencies.append(time.perf_counter() - start)
            served = http.client.HTTPConnection(host, int(port), timeout=60)
            served.request("GET", "/" + page)
            if marker not in served.getresponse().read().decode("utf-8"):
                raise RuntimeError("preview: the reloaded page does not show the edit")
            wait_line(r"Site ready", 600)  # the rest of the rebuild, before the next save
    finally:
        part.write_text(original, encoding="utf-8")
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return Row("preview: save a file → page updated", statistics.median(latencies), None,
               f"median of {saves} saves: {', '.join(f'{x:.2f}' for x in latencies)} s "
               "(save → reload event; the page served shows the edit)", "≤ 1.5 s")


def _render_seconds(stdout: str) -> float:
    found = re.search(r"done: \S+ \((?:(\d+) min )?([\d.]+) s\)", stdout)
    if not found:
        raise RuntimeError("no render time in the build's output")
    return int(found.group(1) or 0) * 60 + float(found.group(2))


def measure_quarto_ratio(root: Path) -> Row:
    """The render stage of the 2017 edition from cold, by real Quarto (when installed) and
    by the built-in renderer, and the ratio."""
    quarto = shutil.which("quarto") or os.environ.get("QUARTO_PATH")
    edition = root / "build" / UNIT / "2017"

    def cold_render(renderer: str) -> float:
        (edition / "render-state.json").unlink(missing_ok=True)
        shutil.rmtree(edition / "render-cache", ignore_errors=True)
        _, _, out = pipeline(root, "build", "--year", "2017", "--renderer", renderer)
        return _render_seconds(out)

    builtin = cold_render("builtin")
    if not quarto:
        return Row("render stage from cold, built-in (Quarto for comparison)", builtin, None,
                   "Quarto is not installed on this machine: built-in only")
    real = cold_render("quarto")
    return Row("render stage from cold, Quarto / built-in", real, None,
               f"Quarto {real:.1f} s, built-in {builtin:.1f} s: ratio {real / builtin:.1f}")


def show(rows: list[Row]) -> None:
    """Print the rows measured so far (to stderr), so that a late failure loses nothing."""
    for r in rows:
        print(f"[benchmark] {r.what}: wall {r.wall}, cpu {r.cpu}, {r.note}", file=sys.stderr, flush=True)


def measure(repeat: int, run_tests: bool, full_tests: bool = False) -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bpsreport-bench-") as tmp:
        root = copy_inputs(Path(tmp) / "project")

        wall, cpu, out = pipeline(root, "build", "--year", "2017")
        rows.append(Row("first `./run build 2017` after setup", wall, cpu, notebooks_line(out),
                        "≤ 30 s wall, ≤ 45 s CPU"))

        runs = [pipeline(root, "build", "--year", "2017") for _ in range(repeat)]
        rows.append(Row("rebuild with nothing changed", statistics.median(r[0] for r in runs),
                        statistics.median(r[1] for r in runs),
                        f"median of {repeat}; {notebooks_line(runs[-1][2])}", "≤ 1 s"))

        pipeline(root, "new-year", "2018")
        wall, cpu, out = pipeline(root, "build", "--year", "2018")
        rows.append(Row("first 2018 build after `new-year 2018`", wall, cpu, notebooks_line(out)))
        what = drop_synthetic_workbook(root)
        wall, cpu, out = pipeline(root, "build", "--year", "2018")
        rows.append(Row("one department's workbook added for 2018", wall, cpu,
                        f"{what}; {notebooks_line(out)}", "≤ 10 s; only its domains re-run"))

        wall, cpu, out = pipeline(root, "build", "--year", "2017")
        rows.append(Row("2017 rebuilt after 2018 data arrived", wall, cpu, notebooks_line(out),
                        "no notebook re-runs"))

        part = root / NARRATIVE
        part.write_text(part.read_text(encoding="utf-8") + "\n（基准测试添加的一行。）\n", encoding="utf-8")
        wall, cpu, out = pipeline(root, "build", "--year", "2017")
        rows.append(Row("edit one narrative file, rebuild", wall, cpu, notebooks_line(out),
                        "≤ 3 s for site and PDFs"))

        rows.append(measure_preview_latency(root))
        rows.append(measure_quarto_ratio(root))

    if run_tests:
        show(rows)
        wall, cpu, out = timed([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                                "--dist", "loadfile", "-m", "not slow"], cwd=ROOT)
        summary = out.strip().splitlines()[-1] if out.strip() else ""
        rows.append(Row('`./run test -m "not slow"` (set up)', wall, cpu, summary, "< 1 min"))
    if full_tests:
        show(rows)
        wall, cpu, out = timed([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                                "--dist", "loadfile"], cwd=ROOT)
        summary = out.strip().splitlines()[-1] if out.strip() else ""
        rows.append(Row("`./run test` (everything, set up)", wall, cpu, summary, "≤ 5 min"))
    return rows


# --- where one notebook's time goes ---------------------------------------------------------

def profile_notebook_costs() -> list[tuple[str, float, str]]:
    """Kernel start, imports, and (cProfile) drawing/SVG/PNG/tables for the 2017 edition."""
    import cProfile
    import pstats

    sys.path.insert(0, str(ROOT))
    out: list[tuple[str, float, str]] = []

    from jupyter_client.manager import start_new_kernel
    start = time.perf_counter()
    km, kc = start_new_kernel(kernel_name="python3", extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
    out.append(("cold kernel start (until ready)", time.perf_counter() - start, "per notebook"))
    start = time.perf_counter()
    kc.execute_interactive("from bpsreport import charts, tables\n"
                           "from bpsreport.notebooks import NotebookOutputs, load_edition_data",
                           store_history=False)
    out.append(("imports of the setup cell in that kernel", time.perf_counter() - start, "per notebook"))
    kc.stop_channels()
    km.shutdown_kernel(now=True)

    from bpsreport.kernels import WarmParent
    start = time.perf_counter()
    warm = WarmParent(ROOT)
    out.append(("warm parent: start and import everything", time.perf_counter() - start, "once per build"))
    from bpsreport.kernels import kernel_manager_class
    with tempfile.TemporaryDirectory() as tmp:
        import asyncio
        manager = kernel_manager_class(Path(tmp) / "trace.json", warm)(kernel_name="python3")
        start = time.perf_counter()
        asyncio.run(manager.start_kernel(cwd=str(ROOT)))
        client = manager.client()
        client.start_channels()
        client.wait_for_ready(timeout=60)
        out.append(("forked kernel start (until ready)", time.perf_counter() - start, "per notebook"))
        client.stop_channels()
        asyncio.run(manager.shutdown_kernel(now=True))
    warm.close()

    from bpsreport import charts, tables
    from bpsreport.notebooks import load_edition_data
    clean = ROOT / "data" / "clean"
    data = load_edition_data(clean, UNIT, 2017)
    domains = [d for d in data.catalog.domain_ids() if d != "cross_cutting"]
    profiler = cProfile.Profile()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        profiler.enable()
        n_charts = 0
        for lang in ("zh", "en"):
            made = [charts.domain_chart(data.assessment, data.catalog, d, lang) for d in domains]
            made += [charts.overview_status_chart(data.assessment, data.catalog, lang),
                     charts.funding_chart(data.observations, data.catalog, lang),
                     charts.satisfaction_chart(data.observations_all_years, data.catalog, lang)]
            for chart in filter(None, made):
                charts.save_chart(chart, Path(tmp))
                n_charts += 1
            for d in domains:
                tables.table_html(tables.target_table(data.assessment, data.catalog, lang,
                                                      domain_id=d, observations=data.observations))
            tables.table_html(tables.task_table(data.tasks, data.catalog, lang,
                                                assessment=data.task_assessment))
        profiler.disable()
        total = time.perf_counter() - start
    stats = pstats.Stats(profiler)

    def cumulative(file_part: str, function: str) -> float:
        return sum(v[3] for (f, _, fn), v in stats.stats.items() if file_part in f and fn == function)

    draw = cumulative("plotnine/ggplot.py", "draw")
    svg = cumulative("backend_svg.py", "print_svg")
    png = cumulative("backend_agg.py", "print_png")
    gt = cumulative("bpsreport/tables.py", "target_table") + cumulative("bpsreport/tables.py", "task_table") \
        + cumulative("bpsreport/tables.py", "table_html")
    out.append((f"all {n_charts} charts and 22 tables of 2017, in one process", total, "cProfile on"))
    out.append(("  plotnine drawing (ggplot.draw)", draw, f"{draw / max(n_charts, 1):.2f} s a chart"))
    out.append(("  SVG (print_svg)", svg, f"{svg / max(n_charts, 1):.2f} s a chart"))
    out.append(("  PNG at 300 dpi (print_png)", png, f"{png / max(n_charts, 1):.2f} s a chart"))
    out.append(("  tables (great_tables build + HTML)", gt, ""))
    return out


def machine() -> str:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                     if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem = 0
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} cores ({model or platform.processor()}), {mem:.0f} GB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
            f"load average {load:.1f} at the start")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="runs of the no-change rebuild")
    parser.add_argument("--skip-tests", action="store_true", help="do not time the fast test suite")
    parser.add_argument("--no-profile", action="store_true", help="skip the notebook profile")
    parser.add_argument("--full-tests", action="store_true",
                        help="also time the whole test suite (several minutes)")
    args = parser.parse_args()
    header = (f"Measured {dt.date.today().isoformat()} on {machine()}, with "
              f"`.venv/bin/python scripts/benchmark.py{' --repeat ' + str(args.repeat) if args.repeat != 3 else ''}`.")
    rows = measure(args.repeat, not args.skip_tests, args.full_tests)
    print(header + "\n")
    print("| what a person does | wall (s) | CPU (s) | goal (2 cores) | note |")
    print("| --- | ---: | ---: | --- | --- |")
    for r in rows:
        wall = "—" if r.wall is None else f"{r.wall:.1f}" if r.wall >= 10 else f"{r.wall:.2f}"
        cpu = "—" if r.cpu is None else f"{r.cpu:.1f}"
        print(f"| {r.what} | {wall} | {cpu} | {r.goal} | {r.note} |")
    if not args.no_profile:
        print("\nWhere a notebook's time goes:\n")
        print("| part | seconds | note |")
        print("| --- | ---: | --- |")
        for what, seconds, note in profile_notebook_costs():
            print(f"| {what} | {seconds:.2f} | {note} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
