"""Writing ``data/clean/``: Parquet + CSV per table, a manifest, and atomic replacement.

A clean set for one unit and year is written into a temporary sibling folder and then
renamed into place, so a reader (or a crash) never sees half a set. The previous set is
kept until the new one is in place.

Layout (see ``docs/data-model.md``)::

    data/clean/catalog/{domains,departments,indicators,report_units,sources}.{parquet,csv}
    data/clean/<unit_id>/<year>/{observations,assessment,tasks}.{parquet,csv}
    data/clean/<unit_id>/<year>/manifest.json
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__

if TYPE_CHECKING:  # hashing and the state files need neither; a skipped build stays light
    import pandas as pd

    from .catalog import Catalog

MANIFEST = "manifest.json"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_table(frame: pd.DataFrame, folder: Path, name: str) -> list[dict]:
    parquet, csv = folder / f"{name}.parquet", folder / f"{name}.csv"
    frame.to_parquet(parquet, index=False)
    # utf-8-sig so that Excel on a Chinese Windows desktop opens the CSV correctly.
    frame.to_csv(csv, index=False, encoding="utf-8-sig", lineterminator="\n")
    return [{"path": p.name, "rows": int(len(frame)), "sha256": sha256_of(p)} for p in (parquet, csv)]


def _replace_folder(target: Path, fill) -> None:
    """Create ``target`` atomically: fill a temporary sibling, then swap it in."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-", dir=target.parent))
    try:
        fill(staging)
        if target.exists():
            retired = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, retired)
            os.replace(staging, target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_json_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2, sort_keys=True)
        fh.write("\n")
    os.replace(tmp, path)


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def is_current(folder: Path, inputs: Iterable[Mapping], config_hash: str) -> bool:
    """True when ``folder`` was written from exactly these inputs by this pipeline version."""
    manifest = read_manifest(folder)
    if manifest is None:
        return False
    return (manifest.get("pipeline_version") == __version__
            and manifest.get("config_sha256") == config_hash
            and manifest.get("inputs") == [dict(i) for i in inputs])


def write_edition(clean_dir: Path, unit_id: str, year: int, tables: Mapping[str, pd.DataFrame | None],
                  inputs: Iterable[Mapping], *, config_hash: str) -> Path:
    """Write one unit-year clean set atomically and return its folder.

    ``tables`` maps a table name (``observations``, ``assessment``, ``tasks``) to a
    DataFrame, or ``None`` to leave it out. ``inputs`` are ``{"path", "sha256", "rows"}``
    records of the raw files the set was made from.
    """
    inputs = [dict(i) for i in inputs]
    target = Path(clean_dir) / unit_id / str(year)

    def fill(folder: Path) -> None:
        outputs = []
        for name, frame in tables.items():
            if frame is not None:
                outputs += _write_table(frame, folder, name)
        manifest = {
            "unit_id": unit_id, "year": int(year), "pipeline_version": __version__,
            "config_sha256": config_hash, "inputs": inputs, "outputs": outputs,
        }
        (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")

    _replace_folder(target, fill)
    return target


def write_catalog(clean_dir: Path, catalog: Catalog) -> Path:
    """Write the validated catalog tables (index restored as the first column)."""
    target = Path(clean_dir) / "catalog"

    def fill(folder: Path) -> None:
        for name, frame in catalog.tables().items():
            _write_table(frame.reset_index(), folder, name)

    _replace_folder(target, fill)
    return target


def load_edition(clean_dir: Path, unit_id: str, year: int) -> dict[str, pd.DataFrame]:
    """Read back a clean set: the tables that exist, by name."""
    import pandas as pd

    folder = Path(clean_dir) / unit_id / str(year)
    if not folder.is_dir():
        raise FileNotFoundError(f"no clean data for {unit_id} {year} in {folder}; run the build first")
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
