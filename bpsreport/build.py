"""The build: each stage in order, each reading only what the stage before it wrote.

    data/raw --(catalog, ingest: validate)--> data/clean --(progress: statuses)--> data/clean
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import __version__, clean_store
from .catalog import Catalog, load_catalog
from .errors import PipelineError
from .ingest import ingest_all
from .paths import ProjectPaths
from .progress import StatusRules, assess_observations


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
            self._tables = {p.stem: pd.read_parquet(p) for p in sorted(self.folder.glob("*.parquet"))}
        return self._tables


@dataclass
class CleanResult:
    catalog: Catalog
    editions: dict[tuple[str, int], CleanEdition]
    # What ingestion settled without stopping (a figure two submissions agree on).
    warnings: list[str] = field(default_factory=list)


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
    catalog = load_catalog(paths.raw, root=paths.root)
    state = raw_state(paths)
    unchanged = _unchanged_since_last_build(paths, state)
    if unchanged is not None:
        return CleanResult(catalog, {key: CleanEdition(*key, folder, rewritten=False)
                                     for key, folder in unchanged.items()},
                           warnings=_saved_warnings(paths))

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
    warnings = [str(w) for _, r in sorted(ingested.items()) for w in r.warnings]
    # Written last: it only vouches for clean data that is completely in place.
    clean_store.write_json_atomic(paths.clean / STATE_FILE, {
        "state": state,
        "editions": [{"unit_id": u, "year": y} for (u, y) in sorted(editions)],
        "warnings": warnings,
    })
    return CleanResult(catalog, editions, warnings=warnings)


def _saved_warnings(paths: ProjectPaths) -> list[str]:
    try:
        saved = json.loads((paths.clean / STATE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(w) for w in saved.get("warnings") or []]


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


def _notebook_inputs(paths: ProjectPaths, unit_id: str) -> dict:
    """What the charts and tables of an edition are made from: clean data, notebook
    templates, the package code and the config (fonts, labels, palette)."""
    package = Path(__file__).resolve().parent
    return _tree_hashes(paths, [
        (paths.clean / "catalog", "*.parquet"),
        (paths.clean / unit_id, "*/*.parquet"),
        (paths.root / "notebooks", "*.ipynb"),
        (package, "*.py"),
        (paths.config, "*.yml"),
    ])


def build_notebooks(paths: ProjectPaths, catalog: Catalog, unit_id: str, year: int, *,
                    parallel: int = 2, timeout_s: int = 600, progress=None) -> bool:
    """Run the edition's notebooks unless nothing they read changed; True when they ran.

    All notebooks run even when one fails; then :class:`NotebookFailed` names each failure.
    ``progress`` gets a ``notebooks`` event as each one finishes.
    """
    from .notebooks import check_kernel, plan_edition_jobs, raise_for_failures, run_jobs

    out = paths.edition_build(unit_id, year)
    state_file = out / NOTEBOOK_STATE
    inputs = _notebook_inputs(paths, unit_id)
    jobs = plan_edition_jobs(paths.root, unit_id, year, catalog)
    try:
        saved = json.loads(state_file.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        saved = None
    if saved == inputs and all(j.output_path.is_file() for j in jobs):
        return False
    check_kernel()
    state_file.unlink(missing_ok=True)
    on_result = None
    if progress is not None:
        import threading
        lock, finished = threading.Lock(), []
        progress(StepEvent("notebooks", 0, len(jobs)))

        def on_result(r) -> None:  # called from the runner's threads
            with lock:
                finished.append(r)
                progress(StepEvent("notebooks", len(finished), len(jobs), r.job.subject,
                                   r.describe(), r.ok))
    results = run_jobs(jobs, parallel=parallel, timeout_s=timeout_s, progress=on_result)
    raise_for_failures(results)
    clean_store.write_json_atomic(state_file, inputs)
    return True


# --- report sources and rendering -------------------------------------------------------

def build_sources(paths: ProjectPaths, unit_id: str, year: int) -> list:
    """Write ``_variables.yml`` and the generated parts (task lists, sources) of an edition.

    Staff-edited files are never touched: generated files live in ``_generated/`` folders
    and are only rewritten when their content changes.
    """
    from .generate import generate_edition_parts
    from .notebooks import read_clean_catalog
    from .variables import (build_edition_variables, variables_reference, write_variables,
                            write_variables_reference)

    if not (paths.root / "reports" / str(year)).is_dir():
        raise NoSuchEdition(
            f"There are no report sources for {year}: expected the folder "
            f"{paths.shown(paths.root / 'reports' / str(year))}/ with zh/ and en/ narrative.")
    variables = build_edition_variables(paths.root, unit_id, year)
    write_variables(paths.root, variables)
    # The staff's reference of every variable with its value (check's hints point to it).
    write_variables_reference(paths.root, year, variables_reference(
        variables, read_clean_catalog(paths.clean / "catalog"), unit_id, year))
    return generate_edition_parts(paths.root, unit_id, year)


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
                   progress: Progress | None = None, draft: bool = False):
    """Render the site and the PDFs; on any failure the previous output stays as it was.

    Returns ``(RenderResult, ran)``; ``ran`` is False when nothing the render reads
    changed since the last successful render. With a backend that reports progress (the
    built-in one), ``progress`` gets ``pdfs`` and ``pages`` events. ``draft`` (the edition
    still has errors, see :func:`bpsreport.check.run_checks`) is passed to the backend,
    which marks every page; it is part of what the render is made from.
    """
    import shutil
    import tempfile

    from .render import RenderRequest, RenderResult, select_backend

    backend = select_backend(renderer)
    version = backend.version()
    site, pdf_dir = paths.root / "_site", paths.edition_build(unit_id, year) / "pdf"
    state_file = paths.edition_build(unit_id, year) / RENDER_STATE
    inputs = {**_render_inputs(paths, unit_id, year, version), "draft": bool(draft)}
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
                                site_dir=staging_root / "site", pdf_dir=staging_root / "pdf",
                                draft=bool(draft))
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
