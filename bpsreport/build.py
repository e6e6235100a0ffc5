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
from .limits import LIMITS_FILE, RANGES_FILE, load_limits
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
    """The clean editions; ``catalog`` is loaded on first use when none was given.

    ``mismatches`` are the files of data/clean that did not match their manifest and were
    rebuilt from data/raw; ``warnings`` what ingestion settled without stopping (a figure
    two submissions agree on)."""

    def __init__(self, catalog: Catalog | Callable[[], Catalog],
                 editions: dict[tuple[str, int], CleanEdition],
                 mismatches: list[clean_store.Mismatch] | None = None, *,
                 warnings: list[str] | None = None):
        self._catalog = catalog
        self.editions = editions
        self.mismatches = list(mismatches or [])
        self.warnings = list(warnings or [])

    @property
    def catalog(self) -> Catalog:
        if callable(self._catalog):
            self._catalog = self._catalog()
        return self._catalog


def _dependency_hash(paths: ProjectPaths) -> str:
    """Hash of what, besides the raw submissions, shapes a clean set: catalog and status rules."""
    from .raw_files import walk

    digest = hashlib.sha256()
    # Regular files only: opening a pipe named x.csv would block (the catalog check refuses it).
    files = sorted(p for p, kind in walk(paths.raw / "catalog", paths.root)
                   if kind == "file" and p.suffix == ".csv") + [paths.config / "status.yml"]
    for f in files:
        digest.update(paths.shown(f).encode())
        digest.update(clean_store.sha256_of(f).encode())
    return digest.hexdigest()


STATE_FILE = "build-state.json"


_PACKAGE = Path(__file__).resolve().parent
_CLEAN_STAGE_CODE = ("catalog.py", "readers.py", "ingest.py", "submissions.py", "progress.py",
                     "clean_store.py", "build.py", "cell_text.py", "limits.py", "raw_files.py")


def _raw_entries(paths: ProjectPaths) -> dict[str, str]:
    """Every entry of data/raw/: a regular file by its hash, anything else by what it is.

    A new link, pipe or hidden file must invalidate the fingerprint too, so that the build
    validates (and refuses) it exactly as ``validate`` does. Nothing but regular files is
    opened, and a file past the size limit is not read here either.
    """
    import os

    from .raw_files import walk

    limit = load_limits(paths.root).max_file_bytes
    entries = {}
    for path, kind in walk(paths.raw, paths.root):
        shown = os.path.relpath(path, paths.root)
        if kind == "file":
            size = os.stat(path).st_size
            entries[shown] = clean_store.sha256_of(path) if size <= limit else f"size:{size}"
        elif kind == "link":
            entries[shown] = "link:" + (os.readlink(path) if os.path.islink(path) else "?")
        elif kind == "special":
            entries[shown] = "special"
        else:  # a folder: an empty one named 9999 is refused too
            entries[shown + "/"] = "dir"
        if os.path.islink(path):  # a link inside the project: where it points matters too
            entries[shown + " ->"] = os.readlink(path)
    return entries


def _sha256_or_none(path: Path) -> str | None:
    """A file's hash; ``None`` when it vanished or cannot be read since it was listed (a
    person saving data/raw meanwhile): the state then matches no earlier one."""
    try:
        return clean_store.sha256_of(path)
    except OSError:
        return None


def raw_state(paths: ProjectPaths) -> dict:
    """Fingerprint of everything the clean data is made from: raw files, rules, code version."""
    return {
        "pipeline_version": __version__,
        "config": {name: _sha256_or_none(paths.config / name)
                   for name in ("status.yml", "labels.yml", LIMITS_FILE, RANGES_FILE)
                   if (paths.config / name).is_file()},
        "raw": _raw_entries(paths),
        # The code that turns raw into clean data: a change to it must rebuild.
        "code": {name: clean_store.sha256_of(_PACKAGE / name) for name in _CLEAN_STAGE_CODE},
    }


def _manifest_hash(folder: Path) -> str | None:
    try:
        return clean_store.sha256_of(folder / clean_store.MANIFEST)
    except OSError:
        return None


def _last_build(paths: ProjectPaths) -> tuple[dict, dict[tuple[str, int], str | None]] | None:
    """What the last completed build recorded: the raw state, and each clean edition with
    the hash of its manifest (``None`` from builds that did not record it)."""
    try:
        saved = json.loads((paths.clean / STATE_FILE).read_text(encoding="utf-8"))
        return saved["state"], {(e["unit_id"], int(e["year"])): e.get("manifest_sha256")
                                for e in saved.get("editions", [])}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _unchanged_since_last_build(paths: ProjectPaths, state: dict, last) -> dict[tuple[str, int], Path] | None:
    """The clean editions on disk when the last build made them from exactly this raw state.

    The state file names each edition with the hash of its manifest, so a folder put
    there by other means is not taken for the one the build wrote. (Its files are checked
    against the manifest by the caller.)
    """
    if last is None or last[0] != state:
        return None
    editions = {key: paths.clean / key[0] / str(key[1]) for key in last[1]}
    if any(_manifest_hash(editions[key]) != digest for key, digest in last[1].items()):
        return None
    return editions


def build_clean(paths: ProjectPaths, *, progress: Progress | None = None) -> CleanResult:
    """Validate every raw file, then (re)write each clean set whose inputs changed.

    Nothing is written unless *all* raw files are valid, so a bad submission never leaves
    a mixture of old and new clean data behind. When no raw file, rule or code version
    changed since the last successful build, and every clean file still matches its
    manifest, validation is skipped altogether (and ``progress`` hears of no file).
    Otherwise ``progress`` gets one ``ingest`` event per raw file read, once all of them
    proved valid.

    Clean data is trusted only when it matches its manifest
    (:func:`bpsreport.clean_store.verify_folder`). A set that does not (a file edited by
    hand, truncated, added or removed) is rebuilt from ``data/raw``; the files are listed
    in :attr:`CleanResult.mismatches` so that the build can warn about them.
    """
    def catalog_now():
        from .catalog import load_catalog
        return load_catalog(paths.raw, root=paths.root)

    state = raw_state(paths)
    last = _last_build(paths)
    unchanged = _unchanged_since_last_build(paths, state, last)
    mismatches: list[clean_store.Mismatch] = []
    if unchanged is not None:
        for folder in [paths.clean / "catalog", *unchanged.values()]:
            mismatches += clean_store.verify_folder(folder)
        if not mismatches:
            return CleanResult(catalog_now, {key: CleanEdition(*key, folder, rewritten=False)
                                             for key, folder in unchanged.items()},
                               warnings=_saved_warnings(paths))
        # Fall through: validate data/raw and rewrite the sets that do not match.

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

    # data/clean is about to change: until the new state is written at the end, no state
    # file may vouch for it (a build killed half-way must not look finished next time).
    (paths.clean / STATE_FILE).unlink(missing_ok=True)
    reported = {m.path for m in mismatches}
    vouched = last[1] if last is not None else {}
    editions: dict[tuple[str, int], CleanEdition] = {}
    for (unit_id, year), result in sorted(ingested.items()):
        folder = paths.clean / unit_id / str(year)
        inputs = [{"path": i.path, "sha256": i.sha256, "rows": i.rows} for i in result.inputs]
        # A folder the last build wrote must still be there and match (a new one need not).
        found = clean_store.verify_folder(folder) if folder.is_dir() or (unit_id, year) in vouched \
            else None
        if found == [] and clean_store.is_current(folder, inputs, dep_hash):
            editions[(unit_id, year)] = CleanEdition(unit_id, year, folder, rewritten=False)
            continue
        mismatches += [m for m in found or [] if m.path not in reported]
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
        "editions": [{"unit_id": u, "year": y, "manifest_sha256": _manifest_hash(e.folder)}
                     for (u, y), e in sorted(editions.items())],
        "warnings": warnings,
    })
    return CleanResult(catalog, editions, mismatches, warnings=warnings)


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


def build_sources(paths: ProjectPaths, unit_id: str, year: int, *, draft: bool = False) -> list:
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
    inputs["draft"] = str(bool(draft))
    try:
        saved = json.loads(state_file.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        saved = None
    outputs = _sources_outputs(paths, year)
    if saved and saved.get("inputs") == inputs and saved.get("outputs") == outputs:
        return [UnchangedPart(paths.root / p) for p in outputs if p != "_variables.yml"]

    from .generate import generate_edition_parts
    from .notebooks import read_clean_catalog
    from .variables import (build_edition_variables, variables_reference, write_variables,
                            write_variables_reference)

    state_file.unlink(missing_ok=True)
    variables = build_edition_variables(paths.root, unit_id, year, draft=draft)
    write_variables(paths.root, variables)
    # The staff's reference of every variable with its value (check's hints point to it).
    write_variables_reference(paths.root, year, variables_reference(
        variables, read_clean_catalog(paths.clean / "catalog"), unit_id, year))
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
        (package, "postrender.py"),
        (package, "table_typst.py"),
        (paths.root / "scripts", "post-render.py"),
        (package, "downloads.py"),  # the data downloads: clean tables + catalog names
        (paths.clean / "catalog", "*.csv"),
        (paths.clean / unit_id / str(year), "*.csv"),
        (paths.clean / unit_id / str(year + 1), "*.csv"),
    ])
    return {"backend": backend_version, "files": hashes}


def render_edition(paths: ProjectPaths, unit_id: str, year: int, renderer: str = "auto", *,
                   progress: Progress | None = None, draft: bool = False):
    """Render the site and the PDFs; on any failure the previous output stays as it was.

    Returns ``(RenderResult, ran)``; ``ran`` is False when nothing the render reads
    changed since the last successful render. With a backend that reports progress (the
    built-in one), ``progress`` gets ``pdfs`` and ``pages`` events. ``draft`` (the edition
    still has errors, see :func:`bpsreport.check.run_checks`) is passed to the backend,
    which marks every page; it is part of what the render is made from.
    """
    from .publish import Publication
    from .render import RenderRequest, RenderResult, select_backend

    backend = select_backend(renderer)
    version = backend.version()
    site, pdf_dir = paths.root / "_site", paths.edition_build(unit_id, year) / "pdf"
    state_file = paths.edition_build(unit_id, year) / RENDER_STATE
    inputs = _render_inputs(paths, unit_id, year, version)
    inputs["draft"] = bool(draft)
    try:
        saved = json.loads(state_file.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        saved = None
    pdfs = {lang: pdf_dir / f"report-{lang}.pdf" for lang in ("zh", "en", "bilingual")}
    if saved == inputs and site.is_dir() and all(p.is_file() for p in pdfs.values()):
        return RenderResult(backend.name, version, site, pdfs), False

    # Published all or nothing: into a new version folder, made current in one rename
    # (bpsreport.publish); a failed or killed render leaves the current version as it was.
    publication = Publication(paths.root)
    staging = publication.start(unit_id=unit_id, year=year)
    try:
        request = RenderRequest(root=paths.root, unit_id=unit_id, year=year,
                                site_dir=staging / "site",
                                pdf_dir=staging / "pdf" / unit_id / str(year),
                                work_dir=paths.edition_build(unit_id, year) / "typst",
                                draft=draft)
        if progress is not None and _reports_progress(backend):
            result = backend.render(request, progress=lambda stage, done, total, item="":
                                    progress(StepEvent(stage, done, total, item)))
        else:
            result = backend.render(request)
        state_file.unlink(missing_ok=True)
        publication.switch(staging, unit_id=unit_id, year=year)
    except BaseException:
        publication.discard(staging)
        raise
    clean_store.write_json_atomic(state_file, inputs)
    return RenderResult(result.backend, result.version, site,
                        {k: pdf_dir / Path(v).name for k, v in result.pdfs.items()},
                        counts=result.counts), True


def _reports_progress(backend) -> bool:
    import inspect
    try:
        return "progress" in inspect.signature(backend.render).parameters
    except (TypeError, ValueError):
        return False
