"""The build: each stage in order, each reading only what the stage before it wrote.

    data/raw --(catalog, ingest: validate)--> data/clean --(progress: statuses)--> data/clean
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import clean_store
from .catalog import Catalog, load_catalog
from .errors import PipelineError
from .ingest import ingest_all
from .paths import ProjectPaths
from .progress import StatusRules, assess_observations


class NoSuchEdition(PipelineError):
    exit_code = 2


@dataclass
class CleanEdition:
    unit_id: str
    year: int
    folder: Path
    rewritten: bool
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


@dataclass
class CleanResult:
    catalog: Catalog
    editions: dict[tuple[str, int], CleanEdition]


def _dependency_hash(paths: ProjectPaths) -> str:
    """Hash of what, besides the raw submissions, shapes a clean set: catalog and status rules."""
    digest = hashlib.sha256()
    files = sorted((paths.raw / "catalog").rglob("*.csv")) + [paths.config / "status.yml"]
    for f in files:
        digest.update(paths.shown(f).encode())
        digest.update(clean_store.sha256_of(f).encode())
    return digest.hexdigest()


def build_clean(paths: ProjectPaths) -> CleanResult:
    """Validate every raw file, then (re)write each clean set whose inputs changed.

    Nothing is written unless *all* raw files are valid, so a bad submission never leaves
    a mixture of old and new clean data behind.
    """
    catalog = load_catalog(paths.raw, root=paths.root)
    ingested = ingest_all(paths.raw, catalog, root=paths.root)
    rules = StatusRules.from_config(paths.config / "status.yml")
    dep_hash = _dependency_hash(paths)

    editions: dict[tuple[str, int], CleanEdition] = {}
    for (unit_id, year), result in sorted(ingested.items()):
        folder = paths.clean / unit_id / str(year)
        inputs = [{"path": i.path, "sha256": i.sha256, "rows": i.rows} for i in result.inputs]
        if clean_store.is_current(folder, inputs, dep_hash):
            editions[(unit_id, year)] = CleanEdition(unit_id, year, folder, rewritten=False,
                                                     tables=clean_store.load_edition(paths.clean, unit_id, year))
            continue
        tables = {
            "observations": result.observations,
            "assessment": assess_observations(result.observations, rules) if len(result.observations) else None,
            "tasks": result.tasks,
        }
        folder = clean_store.write_edition(paths.clean, unit_id, year, tables, inputs, config_hash=dep_hash)
        editions[(unit_id, year)] = CleanEdition(unit_id, year, folder, rewritten=True,
                                                 tables={k: v for k, v in tables.items() if v is not None})
    clean_store.write_catalog(paths.clean, catalog)
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
