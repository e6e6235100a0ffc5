"""The parameterized notebooks: plan them, run them with papermill, report failures.

Two templates live in ``notebooks/``: ``domain.ipynb`` (run once per domain) and
``overview.ipynb`` (the cross-cutting figures and the full tables). Each has a
``parameters`` cell; every other cell is one call into :mod:`bpsreport.charts` or
:mod:`bpsreport.tables` under a Quarto label (``#| label: fig-targets-zh``) and a static
caption. The executed copies are kept under the build folder; Quarto's
``{{< embed notebook.ipynb#label >}}`` reads their stored outputs and never executes them.

    build/<unit_id>/<year>/notebooks/<domain_id>.ipynb, overview.ipynb   executed copies
    build/<unit_id>/<year>/charts/<lang>/<name>.svg|.png|.alt.txt
    build/<unit_id>/<year>/tables/<lang>/<name>.html

Two halves:

- the build side: :class:`NotebookJob`, :func:`plan_edition_jobs`, :func:`run_jobs`,
  :func:`raise_for_failures` (papermill, up to ``parallel`` kernels at a time, one
  timeout per cell, failures collected, never stopping the other notebooks);
- the kernel side, called from inside the notebooks: :func:`load_edition_data` and
  :class:`NotebookOutputs`, which saves each chart and table and displays it as a cell
  output (see ``docs/notebooks.md`` for why a chart is shown as an HTML ``<img>`` of the
  SVG plus a PNG, and never as ``image/svg+xml``).

Examples
--------
>>> jobs = plan_edition_jobs(Path("."), "gd-province", 2017, catalog)    # doctest: +SKIP
>>> results = run_jobs(jobs, parallel=2, timeout_s=600)                  # doctest: +SKIP
>>> raise_for_failures(results)                                          # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat
import pandas as pd

from .catalog import Catalog
from .errors import PipelineError

if TYPE_CHECKING:
    from .kernels import KernelTrace

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_DIR = PROJECT_ROOT / "notebooks"
DOMAIN_TEMPLATE = TEMPLATE_DIR / "domain.ipynb"
OVERVIEW_TEMPLATE = TEMPLATE_DIR / "overview.ipynb"
OVERVIEW = "overview"
CROSS_CUTTING = "cross_cutting"
LANGS = ("zh", "en")
CATALOG_TABLES = ("domains", "departments", "indicators", "report_units", "sources")

_LABEL = re.compile(r"^\s*#\|\s*label:\s*(\S+)")
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --- errors -----------------------------------------------------------------------------------

class NotebookFailed(PipelineError):
    """One or more notebooks did not run to the end; the message lists each one."""

    exit_code = 4

    def __init__(self, failed: list["NotebookResult"], total: int):
        self.failed = failed
        self.total = total
        super().__init__(self.summary())

    def summary(self) -> str:
        n = len(self.failed)
        head = (f"{n} of {self.total} notebook{'s' if self.total != 1 else ''} failed; "
                "the others finished and their charts and tables stand:")
        return head + "\n" + "\n".join(r.describe() for r in self.failed)


class NotebookKernelError(PipelineError):
    """The Jupyter kernel papermill would start does not run this project's Python."""

    exit_code = 3


class NoCleanData(PipelineError):
    """A notebook was asked for a unit and year that has no clean data yet."""

    exit_code = 2


class UnknownDomain(PipelineError):
    """The ``domain_id`` parameter of a domain notebook is not in the catalog."""

    exit_code = 2


# --- jobs and results -------------------------------------------------------------------------

@dataclass(frozen=True)
class NotebookJob:
    """One notebook to execute.

    ``parameters`` are injected by papermill after the template's ``parameters`` cell.
    Relative paths among them are resolved against ``cwd``, the kernel's working
    directory (the project root in a build).
    """

    name: str
    domain_id: str | None
    template_path: Path
    output_path: Path
    parameters: Mapping[str, object] = field(default_factory=dict)
    cwd: Path | None = None

    @property
    def subject(self) -> str:
        """What the notebook is about, as messages name it."""
        return f"domain {self.domain_id!r}" if self.domain_id else f"notebook {self.name!r}"


@dataclass(frozen=True)
class CellFailure:
    """Where and how a notebook stopped.

    ``position`` is the cell's 1-based position in the notebook as it ran (the injected
    parameters cell included, papermill's red error banners not); ``None`` when the
    notebook stopped before any cell ran (e.g. the kernel did not start).
    """

    position: int | None
    execution_count: int | None
    cell: str
    ename: str
    evalue: str

    def describe(self) -> str:
        if self.position is None:
            where = "before any cell ran"
        else:
            count = f" (In [{self.execution_count}])" if self.execution_count else ""
            where = f"in cell {self.position}{count} {self.cell!r}"
        return f"{where}: {self.ename}: {self.evalue}" if self.evalue else f"{where}: {self.ename}"


@dataclass(frozen=True)
class NotebookResult:
    """How one notebook run ended; ``trace`` is what its kernel touched (when recorded)."""

    job: NotebookJob
    failure: CellFailure | None = None
    trace: "KernelTrace | None" = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def describe(self) -> str:
        if self.ok:
            return f"  - {self.job.subject}: done ({_shown(self.job.output_path, self.job.cwd)})"
        kept = self.job.output_path
        copy = (f"the executed copy is kept for debugging: {_shown(kept, self.job.cwd)}"
                if kept.exists() else "no executed copy was written")
        return f"  - {self.job.subject} failed {self.failure.describe()}\n    {copy}"


def _shown(path: Path, base: Path | None) -> str:
    if base is not None:
        try:
            return str(Path(path).resolve().relative_to(Path(base).resolve()))
        except ValueError:
            pass
    return str(path)


# --- planning ---------------------------------------------------------------------------------

def edition_build_dir(root: Path, unit_id: str, year: int) -> Path:
    return Path(root) / "build" / unit_id / str(year)


def plan_edition_jobs(root: Path, unit_id: str, year: int, catalog: Catalog, *,
                      langs: Iterable[str] = LANGS, clean_dir: Path | None = None,
                      build_dir: Path | None = None) -> list[NotebookJob]:
    """The notebooks of one edition: one per domain in the seed's order, then the overview.

    Parameters
    ----------
    root
        The project root; the kernels run there and the parameters name paths relative
        to it, so the executed copies carry no machine-specific paths.
    unit_id, year
        The edition.
    catalog
        Supplies the domains (every domain except the cross-cutting part gets a notebook;
        the cross-cutting figures are in the overview).
    langs
        Languages drawn by every notebook (both by default).
    clean_dir, build_dir
        Default ``<root>/data/clean`` and ``<root>/build/<unit_id>/<year>``.
    """
    root = Path(root).resolve()
    clean_dir = Path(clean_dir) if clean_dir is not None else root / "data" / "clean"
    build_dir = Path(build_dir) if build_dir is not None else edition_build_dir(root, unit_id, year)
    common = {
        "unit_id": unit_id,
        "year": int(year),
        "langs": list(langs),
        "clean_dir": _relative(clean_dir, root),
        "output_dir": _relative(build_dir, root),
    }
    notebooks = build_dir / "notebooks"
    jobs = [
        NotebookJob(name=domain_id, domain_id=domain_id, template_path=DOMAIN_TEMPLATE,
                    output_path=notebooks / f"{domain_id}.ipynb",
                    parameters={**common, "domain_id": domain_id}, cwd=root)
        for domain_id in catalog.domain_ids() if domain_id != CROSS_CUTTING
    ]
    jobs.append(NotebookJob(name=OVERVIEW, domain_id=None, template_path=OVERVIEW_TEMPLATE,
                            output_path=notebooks / f"{OVERVIEW}.ipynb", parameters=common, cwd=root))
    return jobs


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it (portable), else absolute."""
    path = Path(path).resolve()
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# --- running ----------------------------------------------------------------------------------

def check_kernel(kernel_name: str = "python3") -> str:
    """The Python executable the named kernel runs; it must be this project's.

    The ``python3`` kernelspec that ipykernel installs into ``.venv/share/jupyter``
    names plain ``python``, which jupyter_client replaces by the running interpreter, so
    the notebooks see exactly the packages of ``requirements.lock``. A kernelspec in the
    user's own Jupyter folder would take precedence and may point elsewhere: that is
    refused here, with what to do.

    Raises
    ------
    NotebookKernelError
    """
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel_name)
    except NoSuchKernel:
        raise NotebookKernelError(
            f"There is no Jupyter kernel named {kernel_name!r}. Run ./run setup, or install "
            f"one with: {sys.executable} -m ipykernel install --sys-prefix") from None
    exe = spec.argv[0] if spec.argv else ""
    generic = {"python", f"python{sys.version_info[0]}", "python%d.%d" % sys.version_info[:2]}
    if exe in generic:
        return sys.executable
    same = os.path.abspath(exe) == os.path.abspath(sys.executable) or \
        Path(os.path.abspath(exe)).parent == Path(os.path.abspath(sys.executable)).parent
    if not same:
        raise NotebookKernelError(
            f"The Jupyter kernel {kernel_name!r} ({spec.resource_dir}) runs {exe}, not this "
            f"project's Python ({sys.executable}), so the notebooks would not see the pinned "
            f"packages. Remove that kernelspec (jupyter kernelspec remove {kernel_name}) or "
            f"run {sys.executable} -m ipykernel install --sys-prefix and try again.")
    return exe


# A kernel that dies before its first cell (e.g. another process took one of the ports
# jupyter_client chose for it, between choosing and binding) is started again; no cell had
# run, so the outputs are those of a first start.
KERNEL_START_ATTEMPTS = 3


def run_jobs(jobs: Iterable[NotebookJob], *, parallel: int = 2, timeout_s: int = 600,
             kernel_name: str = "python3",
             progress: Callable[[NotebookResult], None] | None = None,
             kernels: str = "auto") -> list[NotebookResult]:
    """Execute every job with papermill; return one result per job, in the jobs' order.

    Parameters
    ----------
    jobs
        From :func:`plan_edition_jobs` (or made by hand).
    parallel
        Notebooks executing at the same time, each in its own kernel (2 suits a 2-core
        machine).
    timeout_s
        Longest a single cell may run before the notebook is stopped (papermill's
        ``execution_timeout``).
    kernel_name
        The Jupyter kernel; see :func:`check_kernel`.
    progress
        Called with each result as it finishes (e.g. to print a line).
    kernels
        How kernels start (:mod:`bpsreport.kernels`): ``"forked"`` from one warm parent
        per call, ``"fresh"`` (a new traced process each), ``"auto"`` (forked where
        possible, else fresh), or ``"plain"``: papermill's own kernel start, untraced (the
        reference that the other two must match byte for byte).

    Every executed copy that finished is normalised (:func:`normalise_executed_notebook`),
    so the same inputs give the same file. A kernel that dies before running a cell is
    started again (:data:`KERNEL_START_ATTEMPTS` in all). A failing notebook never stops the others. Its executed copy (with the traceback in
    the failing cell) is kept at ``job.output_path``; pass the results to
    :func:`raise_for_failures` to stop the build with a readable message.
    """
    jobs = list(jobs)
    if not jobs:
        return []
    check_kernel(kernel_name)
    if kernels not in ("auto", "forked", "fresh", "plain"):
        raise ValueError(f"kernels must be auto, forked, fresh or plain, not {kernels!r}")
    from . import kernels as kernel_start

    warm = None
    if kernels in ("auto", "forked") and kernel_start.fork_available():
        cwds = {Path(j.cwd).resolve() if j.cwd is not None else Path.cwd() for j in jobs}
        try:
            # One warm parent serves jobs that share a working directory (a build's do).
            warm = kernel_start.WarmParent(cwds.pop()) if len(cwds) == 1 else None
        except (kernel_start.KernelStartError, OSError):
            warm = None  # fall back to fresh kernels; slower, same outputs
    traced = kernels != "plain"

    def run(job: NotebookJob) -> NotebookResult:
        for _ in range(KERNEL_START_ATTEMPTS):
            result = _run_one(job, timeout_s=timeout_s, kernel_name=kernel_name,
                              warm=warm, traced=traced)
            if result.ok or result.failure.position is not None:
                break  # a cell ran: its outcome stands (never run twice)
        if progress is not None:
            progress(result)
        return result

    try:
        with ThreadPoolExecutor(max_workers=max(1, int(parallel)),
                                thread_name_prefix="notebook") as pool:
            return list(pool.map(run, jobs))
    finally:
        if warm is not None:
            warm.close()


def _run_one(job: NotebookJob, *, timeout_s: int, kernel_name: str, warm=None,
             traced: bool = True) -> NotebookResult:
    import papermill
    from papermill.exceptions import PapermillExecutionError

    from . import kernels as kernel_start

    output = Path(job.output_path).resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    cwd = Path(job.cwd).resolve() if job.cwd is not None else Path.cwd()
    engine_options = {}
    trace_file = output.parent / f".{output.stem}.trace.json"
    trace_file.unlink(missing_ok=True)
    if traced:
        engine_options["kernel_manager_class"] = kernel_start.kernel_manager_class(trace_file, warm)
    try:
        papermill.execute_notebook(
            str(Path(job.template_path).resolve()), str(output),
            parameters=dict(job.parameters),
            kernel_name=kernel_name,
            execution_timeout=timeout_s,
            progress_bar=False,
            log_output=False,
            # The kernel's working directory. papermill's own ``cwd=`` would os.chdir the
            # whole process, which is not safe with several notebooks running in threads.
            resources={"metadata": {"path": str(cwd)}},
            # Keep the kernels' own log lines (transport warnings, the interrupt at
            # shutdown) out of the build log; what a cell raises is in the executed copy.
            extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            **engine_options,
        )
    except PapermillExecutionError as exc:
        trace_file.unlink(missing_ok=True)
        return NotebookResult(job, CellFailure(
            position=exc.cell_index + 1, execution_count=exc.exec_count,
            cell=_cell_title(exc.source), ename=exc.ename, evalue=_first_line(exc.evalue)))
    except Exception as exc:  # timeouts, a dead kernel, a missing template: keep going
        trace_file.unlink(missing_ok=True)
        return NotebookResult(job, _failure_from_copy(output, exc))
    # The failure report above reads papermill's run metadata; a finished run drops it.
    normalise_executed_notebook(output, job)
    trace = kernel_start.KernelTrace.load(trace_file) if traced else None
    trace_file.unlink(missing_ok=True)
    return NotebookResult(job, trace=trace)


_LABEL_OPTION = re.compile(r"^(#\|\s*label:\s*)(fig|tbl)-(.+)$", re.MULTILINE)
_CAPTION_OPTION = re.compile(r"^#\|\s*(fig|tbl)-cap:.*$", re.MULTILINE)


def finalise_executed_notebook(path: Path, domain_id: str | None = None) -> None:
    """Write into the cell options of an executed notebook what only the run could know.

    - **Labels** (domain notebooks): the one domain template labels its cells
      ``fig-targets-zh`` etc.; a document that embeds several domains (the PDF, the
      summary page) needs ids that are unique, so the executed copy for ``education``
      carries ``fig-education-targets-zh``.
    - **Captions**: a cell whose output records a caption in its metadata
      (``{"bpsreport": {"caption": …}}``, the chart's or table's title, which names the
      domain and year) gets it as its ``#| fig-cap:`` / ``#| tbl-cap:``. Quarto and the
      built-in renderer both read a cell's caption from its options when embedding it.

    Outputs are exactly what the kernel produced; only cell options change.
    """
    nb = nbformat.read(str(path), as_version=4)
    _specialise_cells(nb, domain_id)
    nbformat.write(nb, str(path))


def _specialise_cells(nb, domain_id: str | None) -> None:
    """Labels with the domain (domain notebooks), captions from the outputs (all)."""
    def label(m: re.Match) -> str:
        if m.group(3).startswith(f"{domain_id}-"):  # already specialised
            return m.group(0)
        return f"{m.group(1)}{m.group(2)}-{domain_id}-{m.group(3)}"

    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        source = cell.source
        if domain_id is not None:
            source = _LABEL_OPTION.sub(label, source)
        caption = _recorded_caption(cell)
        found = _LABEL_OPTION.search(source)
        if caption and found:
            line = f"#| {found.group(2)}-cap: {json.dumps(caption, ensure_ascii=False)}"
            if _CAPTION_OPTION.search(source):
                source = _CAPTION_OPTION.sub(lambda _m: line, source, count=1)
            else:
                source = source[:found.end()] + "\n" + line + source[found.end():]
        cell.source = source


# Run metadata that differs from one run to the next: papermill's clock times and
# durations, nbclient's message timestamps.
_RUN_TIMES = ("start_time", "end_time", "duration")


def normalise_executed_notebook(path: Path, job: NotebookJob) -> None:
    """Make an executed copy a function of its inputs only, and finalise its cell options.

    Same inputs, same bytes: papermill's start and end times and durations (notebook and
    cells) and nbclient's ``execution`` timestamps are dropped; its ``input_path`` and
    ``output_path`` are written relative to the kernel's working directory (the project
    root); a cell id that is not the template's (papermill's injected parameters cell gets
    a random one) becomes ``injected-<position>``. Kept: the parameters, papermill's
    version, each cell's ``status`` and ``exception`` flags, and every output. A failed
    run is not normalised: its copy keeps the times, for whoever debugs it.
    """
    nb = nbformat.read(str(path), as_version=4)
    template_ids = {c.get("id") for c in nbformat.read(str(job.template_path), as_version=4).cells}
    meta = nb.metadata.get("papermill", {})
    for key in _RUN_TIMES:
        meta.pop(key, None)
    base = Path(job.cwd).resolve() if job.cwd is not None else Path.cwd()
    for key in ("input_path", "output_path"):
        if meta.get(key) and Path(meta[key]).is_absolute():
            meta[key] = _relative(Path(meta[key]), base)
    for position, cell in enumerate(nb.cells, 1):
        cell.metadata.pop("execution", None)
        for key in _RUN_TIMES:
            cell.metadata.get("papermill", {}).pop(key, None)
        if cell.get("id") not in template_ids:
            cell["id"] = f"injected-{position}"
    # Labels with the domain, captions from the outputs (finalise_executed_notebook).
    _specialise_cells(nb, job.domain_id)
    nbformat.write(nb, str(path))


def specialise_labels(path: Path, domain_id: str) -> None:
    """Backwards-compatible name of :func:`finalise_executed_notebook` for a domain."""
    finalise_executed_notebook(path, domain_id)


def _recorded_caption(cell) -> str:
    for output in cell.get("outputs", []):
        meta = (output.get("metadata") or {}).get(METADATA_KEY) or {}
        caption = meta.get("caption") if isinstance(meta, dict) else None
        if caption:
            return " ".join(str(caption).split())
    return ""


def _failure_from_copy(output: Path, exc: BaseException) -> CellFailure:
    """Locate the cell that was running when ``exc`` escaped papermill (e.g. a timeout).

    papermill saves the notebook as it goes and stamps each cell's start time, so the
    last cell with a start time is the one that did not finish.
    """
    position = count = None
    title = ""
    try:
        import nbformat

        nb = nbformat.read(str(output), as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.get("metadata", {}).get("papermill", {}).get("start_time"):
                position, count, title = i + 1, cell.get("execution_count"), _cell_title(cell.source)
    except Exception:  # no copy was written: the failure came before the first cell
        pass
    return CellFailure(position, count, title, type(exc).__name__, _first_line(str(exc)))


def _cell_title(source: str | list[str]) -> str:
    """A cell's Quarto label, else its first line of code."""
    lines = ("".join(source) if isinstance(source, list) else str(source)).splitlines()
    for line in lines:
        match = _LABEL.match(line)
        if match:
            return match.group(1)
    for line in lines:
        if line.strip() and not line.lstrip().startswith("#"):
            text = line.strip()
            return text if len(text) <= 80 else text[:77] + "..."
    return "(empty cell)"


def _first_line(text: str, limit: int = 300) -> str:
    """The first line of an exception message, without terminal colours."""
    lines = _ANSI.sub("", str(text)).strip().splitlines()
    text = lines[0].strip() if lines else ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def raise_for_failures(results: Iterable[NotebookResult]) -> None:
    """Raise :class:`NotebookFailed` naming every notebook that did not finish.

    Each entry gives the domain, the cell (position, execution count and label or first
    line), the exception and the path of the kept executed copy.
    """
    results = list(results)
    failed = [r for r in results if not r.ok]
    if failed:
        raise NotebookFailed(failed, len(results))


# --- kernel side: inputs ------------------------------------------------------------------------

@dataclass
class EditionData:
    """What the notebooks of one edition read from ``data/clean/``.

    ``tasks`` is the key task list published *with* this edition, i.e. the list for
    ``year + 1`` (the 2017 summary carries the 2018 tasks), and ``task_assessment`` the
    assessment of that year, whose targets the task table prints. ``tasks`` is an empty
    table when there is no such list; ``task_assessment`` is ``None`` when that year has no
    clean observations. ``observations_all_years`` holds every year up to ``year``.
    """

    unit_id: str
    year: int
    catalog: Catalog
    observations: pd.DataFrame
    assessment: pd.DataFrame
    observations_all_years: pd.DataFrame
    tasks: pd.DataFrame
    task_assessment: pd.DataFrame | None

    def require_domain(self, domain_id: str) -> None:
        """Stop the notebook early, with a clear message, on an unknown domain id."""
        if domain_id not in self.catalog.domains.index or domain_id == CROSS_CUTTING:
            known = ", ".join(d for d in self.catalog.domain_ids() if d != CROSS_CUTTING)
            raise UnknownDomain(f"unknown domain {domain_id!r} (notebook parameter domain_id); "
                                f"expected one of: {known}")


def read_clean_catalog(folder: Path) -> Catalog:
    """The catalog as ``clean_store.write_catalog`` wrote it (first column = the index)."""
    folder = Path(folder)
    tables = {}
    for name in CATALOG_TABLES:
        path = folder / f"{name}.parquet"
        if not path.exists():
            raise NoCleanData(f"the clean catalog table {path} is missing; run the build first")
        frame = pd.read_parquet(path)
        tables[name] = frame.set_index(frame.columns[0])
    return Catalog(**tables)


def load_edition_data(clean_dir: str | Path, unit_id: str, year: int) -> EditionData:
    """Read the clean tables one edition's notebooks use (see :class:`EditionData`)."""
    from .ingest import TASK_COLUMNS
    from .progress import ASSESSMENT_COLUMNS

    clean_dir = Path(clean_dir)
    year = int(year)
    unit_dir = clean_dir / unit_id
    folder = unit_dir / str(year)
    if not (folder / "observations.parquet").exists():
        raise NoCleanData(f"there is no clean data for {unit_id} {year} "
                          f"(expected {folder / 'observations.parquet'}); run the build first")
    observations = pd.read_parquet(folder / "observations.parquet")
    assessment = _read_optional(folder / "assessment.parquet")
    if assessment is None:
        assessment = pd.DataFrame(columns=ASSESSMENT_COLUMNS)
    years = sorted(int(p.name) for p in unit_dir.iterdir()
                   if p.name.isdigit() and int(p.name) <= year and (p / "observations.parquet").exists())
    all_years = pd.concat([pd.read_parquet(unit_dir / str(y) / "observations.parquet") for y in years],
                          ignore_index=True)
    next_folder = unit_dir / str(year + 1)
    tasks = _read_optional(next_folder / "tasks.parquet")
    return EditionData(
        unit_id=unit_id, year=year, catalog=read_clean_catalog(clean_dir / "catalog"),
        observations=observations, assessment=assessment, observations_all_years=all_years,
        tasks=tasks if tasks is not None else pd.DataFrame(columns=TASK_COLUMNS),
        task_assessment=_read_optional(next_folder / "assessment.parquet"),
    )


def _read_optional(path: Path) -> pd.DataFrame | None:
    return pd.read_parquet(path) if path.exists() else None


# --- kernel side: outputs -----------------------------------------------------------------------

#: The key of a display's metadata under which a cell records what the build writes into
#: its cell options: ``{"bpsreport": {"caption": "..."}}`` becomes ``#| fig-cap:`` /
#: ``#| tbl-cap:`` of the executed copy (:func:`finalise_executed_notebook`).
METADATA_KEY = "bpsreport"


def chart_bundle(chart, folder: Path) -> tuple[dict[str, str], dict]:
    """Save ``chart`` into ``folder``; return the cell output (data, metadata) that shows it.

    Files: ``<name>.svg``, ``<name>.png`` (from :func:`bpsreport.charts.save_chart`) and
    ``<name>.alt.txt`` (the alt text). The output has three representations, chosen by
    each format as Quarto chooses (``src/core/jupyter/display-data.ts``):

    - ``text/html``: an ``<img>`` of the SVG (as a data URI) with the alt text in ``alt``:
      HTML output ranks ``text/html`` first, so the site gets the vector chart with its alt
      text;
    - ``image/svg+xml``: the same SVG, which every other format (Typst) ranks first once
      there is no ``text/markdown``, so the PDF's charts are vector too;
    - ``text/plain``: the alt text, for any reader that uses neither.

    The metadata carries the chart's title, which becomes the cell's caption.
    """
    from .charts import save_chart

    folder = Path(folder)
    paths = save_chart(chart, folder)
    (folder / f"{chart.name}.alt.txt").write_text(chart.alt + "\n", encoding="utf-8")
    svg_text = paths["svg"].read_text(encoding="utf-8")
    svg = base64.b64encode(svg_text.encode("utf-8")).decode("ascii")
    img = (f'<img src="data:image/svg+xml;base64,{svg}" alt="{html.escape(chart.alt, quote=True)}" '
           f'style="max-width:100%;height:auto;">')
    data = {"text/html": img, "image/svg+xml": svg_text, "text/plain": chart.alt}
    return data, _caption_metadata(getattr(chart, "title", "") or "")


def table_bundle(gt, folder: Path, name: str) -> tuple[dict[str, str], dict]:
    """Save a Great Tables table as ``<folder>/<name>.html``; return its output
    (data, metadata).

    The table's own title becomes the cell's caption (the float's caption in both
    renderers), so the HTML and the Typst table carry no title of their own and a page
    never shows the title twice. Representations (chosen per format as Quarto chooses):

    - ``text/html``: Great Tables' HTML, for the site;
    - ``text/markdown``: a raw Typst block with the same table as an
      ``official-data-table(...)`` call (:mod:`bpsreport.table_typst`), which Typst output
      ranks first;
    - ``text/plain``: the table's name.
    """
    from .table_typst import typst_markdown
    from .tables import split_heading, table_html

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    caption, body = split_heading(gt)
    text = table_html(body)
    (folder / f"{name}.html").write_text(text, encoding="utf-8")
    data = {"text/html": text}
    typst = typst_markdown(text)
    if typst is not None:
        data["text/markdown"] = typst
    data["text/plain"] = caption or name
    return data, _caption_metadata(caption)


def _caption_metadata(caption: str) -> dict:
    return {METADATA_KEY: {"caption": caption}} if caption else {}


class NotebookOutputs:
    """Where a notebook saves its charts and tables, and how it shows them in a cell.

    Parameters
    ----------
    output_dir
        The edition's build folder; charts go to ``charts/<lang>/`` and tables to
        ``tables/<lang>/`` under it. ``None`` uses a temporary folder that disappears with
        the kernel (the stored test notebooks do this: only their outputs matter).
    langs
        The languages this run draws; a cell for another language shows nothing.
    """

    def __init__(self, output_dir: str | Path | None, langs: Iterable[str] = LANGS):
        self.langs = tuple(langs)
        unknown = [lang for lang in self.langs if lang not in LANGS]
        if unknown:
            raise ValueError(f"langs must be among {LANGS}, not {unknown}")
        if output_dir is None:
            self._scratch = tempfile.TemporaryDirectory(prefix="bpsreport-notebook-")
            self.root = Path(self._scratch.name)
        else:
            self.root = Path(output_dir)

    def chart_dir(self, lang: str) -> Path:
        return self.root / "charts" / lang

    def table_dir(self, lang: str) -> Path:
        return self.root / "tables" / lang

    def show_chart(self, chart, lang: str) -> None:
        """Save and display a chart. A builder that returned ``None`` (nothing to draw)
        displays nothing: the cell has no output, and the report embeds no empty figure
        (bpsreport.generate decides what to embed from the same data)."""
        if lang not in self.langs or chart is None:
            return
        _display(*chart_bundle(chart, self.chart_dir(lang)))

    def show_table(self, gt, lang: str, *, name: str) -> None:
        """Save and display a table as ``tables/<lang>/<name>.html``."""
        if lang not in self.langs:
            return
        _display(*table_bundle(gt, self.table_dir(lang), name))


def _display(bundle: Mapping[str, str], metadata: Mapping | None = None) -> None:
    from IPython.display import display

    display(dict(bundle), raw=True, metadata=dict(metadata or {}))


# --- test support: the stored nbval notebooks -------------------------------------------------

FIXTURE_DIR = PROJECT_ROOT / "tests" / "fixtures" / "synthetic" / "notebooks"
STORED_NOTEBOOK_DIR = PROJECT_ROOT / "tests" / "notebooks"
FIXTURE_UNIT = "test-unit"
FIXTURE_YEAR = 2017
FIXTURE_DOMAINS = ("education", "environment")  # one with targets, one without


def build_fixture_clean(source_dir: Path, clean_dir: Path) -> None:
    """Write the SYNTHETIC fixture's clean tables from its readable sources.

    ``source_dir`` holds ``catalog/`` (the layout of ``data/raw/catalog``),
    ``observations.csv`` (clean column layout, all years) and ``tasks_<year>.csv``. The
    assessment is computed by :func:`bpsreport.progress.assess_observations`, and the
    tables are written by :mod:`bpsreport.clean_store`, as in a build.
    """
    from . import clean_store
    from .catalog import load_catalog
    from .ingest import OBSERVATION_COLUMNS, TASK_COLUMNS
    from .progress import assess_observations

    source_dir, clean_dir = Path(source_dir), Path(clean_dir)
    catalog = load_catalog(source_dir, root=source_dir.parent)
    clean_store.write_catalog(clean_dir, catalog)

    obs_file = source_dir / "observations.csv"
    obs = pd.read_csv(obs_file, dtype=str, keep_default_na=False, encoding="utf-8")
    # Optional columns (stated_outcome) may be absent from the fixture: empty, as in raw files.
    obs = obs.reindex(columns=OBSERVATION_COLUMNS, fill_value="")
    obs = obs.assign(year=obs["year"].astype("int64"), value=obs["value"].astype("float64"),
                     derived=obs["derived"].str.lower().eq("yes"),
                     source_row=obs["source_row"].astype("int64"))
    task_files = {int(p.stem.split("_")[1]): p for p in source_dir.glob("tasks_*.csv")}
    units = sorted(obs["unit_id"].unique())
    for unit_id in units:
        unit_obs = obs[obs["unit_id"] == unit_id]
        for year in sorted(set(unit_obs["year"]) | set(task_files)):
            year_obs = unit_obs[unit_obs["year"] == year].reset_index(drop=True)
            tables: dict[str, pd.DataFrame | None] = {"observations": None, "assessment": None,
                                                      "tasks": None}
            inputs = []
            if len(year_obs):
                tables["observations"] = year_obs
                tables["assessment"] = assess_observations(year_obs)
                inputs.append({"path": obs_file.name, "sha256": clean_store.sha256_of(obs_file),
                               "rows": int(len(year_obs))})
            if year in task_files:
                tasks = pd.read_csv(task_files[year], dtype=str, keep_default_na=False,
                                    encoding="utf-8")[TASK_COLUMNS]
                tables["tasks"] = tasks.astype({"task_no": "int64"})
                inputs.append({"path": task_files[year].name,
                               "sha256": clean_store.sha256_of(task_files[year]), "rows": int(len(tasks))})
            clean_store.write_edition(clean_dir, unit_id, int(year), tables, inputs,
                                      config_hash="synthetic-fixture")


def stored_notebook_jobs(stored_dir: Path = STORED_NOTEBOOK_DIR,
                         fixture_clean: Path = FIXTURE_DIR / "clean") -> list[NotebookJob]:
    """The nbval notebooks: the real templates run on the SYNTHETIC fixture.

    The kernel runs in ``stored_dir`` (nbval starts its kernel in the notebook's folder),
    so ``clean_dir`` is relative to it and ``output_dir`` is ``None`` (temporary).
    """
    stored_dir = Path(stored_dir).resolve()
    common = {"unit_id": FIXTURE_UNIT, "year": FIXTURE_YEAR, "langs": list(LANGS),
              "clean_dir": os.path.relpath(Path(fixture_clean).resolve(), stored_dir).replace(os.sep, "/"),
              "output_dir": None}
    jobs = [NotebookJob(name=f"domain-{d}", domain_id=d, template_path=DOMAIN_TEMPLATE,
                        output_path=stored_dir / f"domain-{d}.ipynb",
                        parameters={**common, "domain_id": d}, cwd=stored_dir)
            for d in FIXTURE_DOMAINS]
    jobs.append(NotebookJob(name=OVERVIEW, domain_id=None, template_path=OVERVIEW_TEMPLATE,
                            output_path=stored_dir / f"{OVERVIEW}.ipynb", parameters=common,
                            cwd=stored_dir))
    return jobs


def normalise_stored_notebook(path: Path) -> None:
    """Drop what nbval never compares, so a refresh diffs cleanly and the repo stays small.

    Removed: run metadata (times, absolute paths) and the ``image/png`` payloads, which
    nbval skips unless run with ``--nbdime`` (its ``skip_compare``). Everything nbval
    does compare (``text/html`` with the SVG, ``text/plain``, ``text/markdown``) is kept
    as executed; it is deterministic at the source, so no sanitising is needed.
    """
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    papermill_meta = nb.metadata.get("papermill", {})
    nb.metadata["papermill"] = {"parameters": papermill_meta.get("parameters", {})}
    for cell in nb.cells:
        cell.metadata.pop("papermill", None)
        cell.metadata.pop("execution", None)
        for output in cell.get("outputs", []):
            output.get("data", {}).pop("image/png", None)
    nbformat.write(nb, str(path))


def refresh_stored_notebooks(*, timeout_s: int = 600) -> list[Path]:
    """Rebuild the fixture's clean tables and re-execute the stored nbval notebooks."""
    build_fixture_clean(FIXTURE_DIR / "source", FIXTURE_DIR / "clean")
    jobs = stored_notebook_jobs()
    results = run_jobs(jobs, parallel=2, timeout_s=timeout_s)
    raise_for_failures(results)
    for job in jobs:
        normalise_stored_notebook(job.output_path)
    return [job.output_path for job in jobs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bpsreport.notebooks",
        description="Maintenance of the parameterized notebooks (see docs/notebooks.md).")
    parser.add_argument("--refresh-test-notebooks", action="store_true",
                        help="rebuild the SYNTHETIC fixture's clean data and re-execute the "
                             "stored notebooks in tests/notebooks/ that nbval checks")
    args = parser.parse_args(argv)
    if not args.refresh_test_notebooks:
        parser.print_help()
        return 64
    try:
        for path in refresh_stored_notebooks():
            print(f"refreshed {_shown(path, PROJECT_ROOT)}")
    except PipelineError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
