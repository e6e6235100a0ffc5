"""The build: each stage in order, each reading only what the stage before it wrote.

    data/raw --(catalog, ingest: validate)--> data/clean --(progress: statuses)--> data/clean
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__, clean_store
from .errors import PipelineError
from .paths import ProjectPaths

if TYPE_CHECKING:  # pandas and the ingest stage load only when a stage has work to do
    import pandas as pd

    from .catalog import Catalog


class NoSuchEdition(PipelineError):
    exit_code = 2


@dataclass(frozen=True)
class StepEvent:
    """Progress of a long stage, for a display (``bpsreport.progress_display``).

    A stage first reports ``done=0`` with its ``total`` and no ``item``; then one event per
    finished item: a raw file read (``ingest``), a notebook (``notebooks``), a page
    (``pages``) or a PDF (``pdfs``). ``detail`` is a line describing the item (rows read,
    the notebook's result).
    """

    stage: str
    done: int
    total: int | None
    item: str = ""
    detail: str = ""
    ok: bool = True


Progress = Callable[[StepEvent], None]


@dataclass
class CleanEdition:
    """One unit-year of clean data; its tables are read from disk on first use."""

    unit_id: str
    year: int
    folder: Path
    rewritten: bool
    _tables: dict[str, pd.DataFrame] | None = field(default=None, repr=False)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        if self._tables is None:
            import pandas as pd
            self._tables = {p.stem: pd.read_parquet(p) for p in sorted(self.folder.glob("*.parquet"))}
        return self._tables


class CleanResult:
    """The clean editions; ``catalog`` is loaded on first use when none was given."""

    def __init__(self, catalog: Catalog | Callable[[], Catalog],
                 editions: dict[tuple[str, int], CleanEdition]):
        self._catalog = catalog
        self.editions = editions

    @property
    def catalog(self) -> Catalog:
        if callable(self._catalog):
            self._catalog = self._catalog()
        return self._catalog


def _dependency_hash(paths: ProjectPaths) -> str:
    """Hash of what, besides the raw submissions, shapes a clean set: catalog and status rules."""
    digest = hashlib.sha256()
    files = sorted((paths.raw / "catalog").rglob("*.csv")) + [paths.config / "status.yml"]
    for f in files:
        digest.update(paths.shown(f).encode())
        digest.update(clean_store.sha256_of(f).encode())
    return digest.hexdigest()


STATE_FILE = "build-state.json"


_PACKAGE = Path(__file__).resolve().parent
_CLEAN_STAGE_CODE = ("catalog.py", "readers.py", "ingest.py", "submissions.py", "progress.py",
                     "clean_store.py", "build.py")


def raw_state(paths: ProjectPaths) -> dict:
    """Fingerprint of everything the clean data is made from: raw files, rules, code version."""
    files = sorted(p for p in paths.raw.rglob("*") if p.is_file())
    return {
        "pipeline_version": __version__,
        "config": {name: clean_store.sha256_of(paths.config / name)
                   for name in ("status.yml", "labels.yml") if (paths.config / name).is_file()},
        "raw": {paths.shown(p): clean_store.sha256_of(p) for p in files},
        # The code that turns raw into clean data: a change to it must rebuild.
        "code": {name: clean_store.sha256_of(_PACKAGE / name) for name in _CLEAN_STAGE_CODE},
    }


def _unchanged_since_last_build(paths: ProjectPaths, state: dict) -> dict[tuple[str, int], Path] | None:
    """The clean editions on disk when they were built from exactly this raw state."""
    try:
        saved = json.loads((paths.clean / STATE_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if saved.get("state") != state:
        return None
    editions = {(e["unit_id"], int(e["year"])): paths.clean / e["unit_id"] / str(e["year"])
                for e in saved.get("editions", [])}
    return editions if all(f.is_dir() for f in editions.values()) else None


def build_clean(paths: ProjectPaths, *, progress: Progress | None = None) -> CleanResult:
    """Validate every raw file, then (re)write each clean set whose inputs changed.

    Nothing is written unless *all* raw files are valid, so a bad submission never leaves
    a mixture of old and new clean data behind. When no raw file, rule or code version
    changed since the last successful build, validation is skipped altogether (and
    ``progress`` hears of no file). Otherwise ``progress`` gets one ``ingest`` event per
    raw file read, once all of them proved valid.
    """
    def catalog_now():
        from .catalog import load_catalog
        return load_catalog(paths.raw, root=paths.root)

    state = raw_state(paths)
    unchanged = _unchanged_since_last_build(paths, state)
    if unchanged is not None:
        return CleanResult(catalog_now, {key: CleanEdition(*key, folder, rewritten=False)
                                         for key, folder in unchanged.items()})

    from .ingest import ingest_all
    from .progress import StatusRules, assess_observations

    catalog = catalog_now()
    ingested = ingest_all(paths.raw, catalog, root=paths.root)
    if progress is not None:
        read = [i for _, r in sorted(ingested.items()) for i in r.inputs]
        progress(StepEvent("ingest", 0, len(read)))
        for n, i in enumerate(read, 1):
            progress(StepEvent("ingest", n, len(read), i.path,
                                  f"{i.rows} row{'s' if i.rows != 1 else ''}"))
    rules = StatusRules.from_config(paths.config / "status.yml")
    dep_hash = _dependency_hash(paths)

    editions: dict[tuple[str, int], CleanEdition] = {}
    for (unit_id, year), result in sorted(ingested.items()):
        folder = paths.clean / unit_id / str(year)
        inputs = [{"path": i.path, "sha256": i.sha256, "rows": i.rows} for i in result.inputs]
        if clean_store.is_current(folder, inputs, dep_hash):
            editions[(unit_id, year)] = CleanEdition(unit_id, year, folder, rewritten=False)
            continue
        tables = {
            "observations": result.observations,
            "assessment": assess_observations(result.observations, rules) if len(result.observations) else None,
            "tasks": result.tasks,
            # Every task of the year's list with its reported status (bpsreport.submissions).
            "task_status": result.task_status,
        }
        folder = clean_store.write_edition(paths.clean, unit_id, year, tables, inputs, config_hash=dep_hash)
        editions[(unit_id, year)] = CleanEdition(unit_id, year, folder, rewritten=True,
                                                 _tables={k: v for k, v in tables.items() if v is not None})
    clean_store.write_catalog(paths.clean, catalog)
    # Written last: it only vouches for clean data that is completely in place.
    clean_store.write_json_atomic(paths.clean / STATE_FILE, {
        "state": state,
        "editions": [{"unit_id": u, "year": y} for (u, y) in sorted(editions)],
    })
    return CleanResult(catalog, editions)


def require_edition(result: CleanResult, unit_id: str, year: int, paths: ProjectPaths) -> CleanEdition:
    try:
        return result.editions[(unit_id, year)]
    except KeyError:
        have = ", ".join(str(y) for (u, y) in sorted(result.editions) if u == unit_id) or "none"
        raise NoSuchEdition(
            f"There is no raw data for {unit_id} {year}: expected files in "
            f"{paths.shown(paths.raw / 'observations' / unit_id / str(year))}/. "
            f"Years with data for {unit_id}: {have}.") from None


# --- notebooks ------------------------------------------------------------------------

NOTEBOOK_STATE = "notebooks-state.json"


def _tree_hashes(paths: ProjectPaths, patterns: list[tuple[Path, str]]) -> dict[str, str]:
    files = sorted({f for base, pattern in patterns for f in base.glob(pattern) if f.is_file()})
    return {paths.shown(f): clean_store.sha256_of(f) for f in files}


@dataclass
class NotebookStage:
    """What stage 2 did: the notebooks it ran and those whose outputs it reused."""

    ran: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:  # "did anything run", as callers used to get
        return bool(self.ran)

    def summary(self) -> str:
        return f"notebooks: {len(self.ran)} run, {len(self.reused)} reused"


def build_notebooks(paths: ProjectPaths, catalog: Catalog | None, unit_id: str, year: int, *,
                    parallel: int = 2, timeout_s: int = 600, progress=None) -> NotebookStage:
    """Run the edition's notebooks whose inputs changed; reuse the others' outputs.

    Each notebook is keyed by what it reads and its outputs are verified by hash
    (:mod:`bpsreport.notebook_cache`). ``catalog`` gives the domains; ``None`` reads them
    from the clean catalog. All notebooks run even when one fails; then
    :class:`NotebookFailed` names each failure, and the state keeps only the runs that
    finished. ``progress`` gets a ``notebooks`` event as each one finishes.
    """
    from .notebook_cache import NotebookCache

    out = paths.edition_build(unit_id, year)
    cache = NotebookCache(paths.root, unit_id, year, out)
    jobs = cache.recorded_jobs()
    if jobs is None:
        from .notebooks import plan_edition_jobs, read_clean_catalog
        if catalog is None:
            catalog = read_clean_catalog(paths.clean / "catalog")
        jobs = plan_edition_jobs(paths.root, unit_id, year, catalog)
    plan = cache.plan(jobs)
    stage = NotebookStage([j.name for j in plan.run], [j.name for j in plan.reused], plan.reasons)
    if not plan.run:
        cache.save(jobs)
        return stage

    from .notebooks import check_kernel, raise_for_failures, run_jobs
    if not isinstance(jobs[0], _notebook_job_type()):
        from .notebooks import plan_edition_jobs, read_clean_catalog
        jobs = plan_edition_jobs(paths.root, unit_id, year,
                                 catalog or read_clean_catalog(paths.clean / "catalog"))
        to_run = {j.name for j in plan.run}
        plan.run = [j for j in jobs if j.name in to_run]
    check_kernel()
    # Until they finish, the notebooks about to run are not current, whatever happens.
    cache.forget(j.name for j in plan.run)
    cache.save(jobs)
    on_result = None
    if progress is not None:
        import threading
        lock, finished = threading.Lock(), []
        progress(StepEvent("notebooks", 0, len(plan.run)))

        def on_result(r) -> None:  # called from the runner's threads
            with lock:
                finished.append(r)
                progress(StepEvent("notebooks", len(finished), len(plan.run), r.job.subject,
                                   r.describe(), r.ok))
    results = run_jobs(plan.run, parallel=parallel, timeout_s=timeout_s, progress=on_result)
    for result in results:
        if result.ok:
            cache.record(result.job, result.trace)
    cache.save(jobs)
    raise_for_failures(results)
    return stage


def _notebook_job_type():
    from .notebooks import NotebookJob
    return NotebookJob


# --- report sources and rendering -------------------------------------------------------

SOURCES_STATE = "sources-state.json"


@dataclass(frozen=True)
class UnchangedPart:
    """A generated part left as it was (stage 3 found nothing it reads changed)."""

    path: Path
    written: bool = False


def _sources_inputs(paths: ProjectPaths, unit_id: str, year: int) -> dict[str, str]:
    """What stage 3 reads: the unit's clean years up to ``year + 1``, the clean catalog,
    the config, its Jinja templates and the package's code (render/ aside)."""
    package = Path(__file__).resolve().parent
    unit_dir = paths.clean / unit_id
    years = [p for p in unit_dir.glob("*") if p.name.isdigit() and int(p.name) <= year + 1] \
        if unit_dir.is_dir() else []
    patterns = [(folder, "*.parquet") for folder in years]
    patterns += [(paths.clean / "catalog", "*.parquet"), (paths.config, "*.yml"),
                 (package.parent / "templates", "*.j2"), (package, "*.py")]
    return _tree_hashes(paths, patterns)


def _sources_outputs(paths: ProjectPaths, year: int) -> dict[str, str]:
    return _tree_hashes(paths, [(paths.root, "_variables.yml"),
                                (paths.root / "reports" / str(year), "*/_generated/*")])


def build_sources(paths: ProjectPaths, unit_id: str, year: int) -> list:
    """Write ``_variables.yml`` and the generated parts (task lists, sources) of an edition.

    Staff-edited files are never touched: generated files live in ``_generated/`` folders
    and are only rewritten when their content changes. When nothing this stage reads
    changed and its outputs are as it left them, it is skipped.
    """
    if not (paths.root / "reports" / str(year)).is_dir():
        raise NoSuchEdition(
            f"There are no report sources for {year}: expected the folder "
            f"{paths.shown(paths.root / 'reports' / str(year))}/ with zh/ and en/ narrative.")
    state_file = paths.edition_build(unit_id, year) / SOURCES_STATE
    inputs = _sources_inputs(paths, unit_id, year)
    try:
        saved = json.loads(state_file.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        saved = None
    outputs = _sources_outputs(paths, year)
    if saved and saved.get("inputs") == inputs and saved.get("outputs") == outputs:
        return [UnchangedPart(paths.root / p) for p in outputs if p != "_variables.yml"]

    from .generate import generate_edition_parts
    from .variables import build_edition_variables, write_variables

    state_file.unlink(missing_ok=True)
    write_variables(paths.root, build_edition_variables(paths.root, unit_id, year))
    parts = generate_edition_parts(paths.root, unit_id, year)
    clean_store.write_json_atomic(state_file, {"inputs": inputs,
                                               "outputs": _sources_outputs(paths, year)})
    return parts


RENDER_STATE = "render-state.json"


def _render_inputs(paths: ProjectPaths, unit_id: str, year: int, backend_version: str) -> dict:
    package = Path(__file__).resolve().parent
    edition = paths.edition_build(unit_id, year)
    hashes = _tree_hashes(paths, [
        (paths.root / "reports" / str(year), "**/*.qmd"),
        (paths.root, "_quarto*.yml"),
        (paths.root, "_variables.yml"),
        (paths.root / "templates", "**/*"),
        (paths.config, "*.yml"),
        (edition / "notebooks", "*.ipynb"),
        (package / "render", "**/*"),
        (paths.clean / unit_id / str(year), "*.csv"),
        (paths.clean / unit_id / str(year + 1), "*.csv"),
    ])
    return {"backend": backend_version, "files": hashes}


def _swap_into_place(staging: Path, target: Path) -> None:
    """Replace ``target`` by ``staging`` so that a reader never sees a half-written folder."""
    import os
    import shutil

    target.parent.mkdir(parents=True, exist_ok=True)
    retired = target.parent / f".{target.name}.old-{os.getpid()}"
    if target.exists():
        os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)


def _carry_other_editions(live: Path, staging: Path, year: int) -> None:
    """Start the new site from the live one minus this edition's pages and downloads.

    A build renders one edition (its variables are that edition's); the pages of the
    other editions stay as they were last built, so the site keeps every edition.
    """
    import shutil

    if not live.is_dir():
        return
    shutil.copytree(live, staging)
    for folder in list(staging.glob(f"*/reports/{year}")) + [staging / "downloads" / str(year)]:
        shutil.rmtree(folder, ignore_errors=True)


def render_edition(paths: ProjectPaths, unit_id: str, year: int, renderer: str = "auto", *,
                   progress: Progress | None = None):
    """Render the site and the PDFs; on any failure the previous output stays as it was.

    Returns ``(RenderResult, ran)``; ``ran`` is False when nothing the render reads
    changed since the last successful render. With a backend that reports progress (the
    built-in one), ``progress`` gets ``pdfs`` and ``pages`` events.
    """
    import shutil
    import tempfile

    from .render import RenderRequest, RenderResult, select_backend

    backend = select_backend(renderer)
    version = backend.version()
    site, pdf_dir = paths.root / "_site", paths.edition_build(unit_id, year) / "pdf"
    state_file = paths.edition_build(unit_id, year) / RENDER_STATE
    inputs = _render_inputs(paths, unit_id, year, version)
    try:
        saved = json.loads(state_file.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        saved = None
    pdfs = {lang: pdf_dir / f"report-{lang}.pdf" for lang in ("zh", "en", "bilingual")}
    if saved == inputs and site.is_dir() and all(p.is_file() for p in pdfs.values()):
        return RenderResult(backend.name, version, site, pdfs), False

    staging_root = Path(tempfile.mkdtemp(prefix=".render-", dir=paths.root))
    try:
        request = RenderRequest(root=paths.root, unit_id=unit_id, year=year,
                                site_dir=staging_root / "site", pdf_dir=staging_root / "pdf")
        _carry_other_editions(site, request.site_dir, year)
        if progress is not None and _reports_progress(backend):
            result = backend.render(request, progress=lambda stage, done, total, item="":
                                    progress(StepEvent(stage, done, total, item)))
        else:
            result = backend.render(request)
        state_file.unlink(missing_ok=True)
        _swap_into_place(staging_root / "pdf", pdf_dir)
        _swap_into_place(staging_root / "site", site)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    clean_store.write_json_atomic(state_file, inputs)
    return RenderResult(result.backend, result.version, site,
                        {k: pdf_dir / Path(v).name for k, v in result.pdfs.items()}), True


def _reports_progress(backend) -> bool:
    import inspect
    try:
        return "progress" in inspect.signature(backend.render).parameters
    except (TypeError, ValueError):
        return False
