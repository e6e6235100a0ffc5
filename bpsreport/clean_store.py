"""Writing ``data/clean/``: Parquet + CSV per table, a manifest, and atomic replacement.

A clean set for one unit and year is written into a temporary sibling folder and then
swapped into place, so a reader (or a crash) never sees half a set. The previous set is
kept until the new one is in place. On Linux the swap is one ``renameat2(RENAME_EXCHANGE)``,
so the folder never stops existing; elsewhere it is two renames.

Every folder carries ``manifest.json`` with the SHA-256 of each file in it. Clean data is
trusted only when it matches (:func:`verify_folder`): the build checks it before reusing a
folder and rebuilds from ``data/raw`` on a mismatch (``bpsreport.build.build_clean``).

Temporary names carry the writer's process id (``.<year>.new-<pid>-<random>``,
``.<name>.tmp-<pid>-<random>``): a build that is killed leaves them, and the next build
removes them (``bpsreport.project_lock.LEFTOVERS`` lists the patterns).

Layout (see ``docs/data-model.md``)::

    data/clean/catalog/{domains,departments,indicators,report_units,sources}.{parquet,csv}
    data/clean/<unit_id>/<year>/{observations,assessment,tasks}.{parquet,csv}
    data/clean/<unit_id>/<year>/manifest.json
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import __version__
from .errors import PipelineError

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
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.new-{os.getpid()}-", dir=target.parent))
    try:
        fill(staging)
        retired = _swap_in(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    if retired is not None:
        _discard(retired)


def _swap_in(staging: Path, target: Path) -> Path | None:
    """Put ``staging`` at ``target``; return where the previous ``target`` now is (or None)."""
    if _exchange(staging, target):
        return staging          # the two folders traded places: staging holds the old set
    try:
        os.replace(staging, target)   # nothing there yet
        return None
    except OSError as exc:
        if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.EISDIR):
            raise
    # No atomic exchange on this system: move the old set aside, then the new one in.
    retired = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-{os.getpid()}-", dir=target.parent))
    os.replace(target, retired)
    os.replace(staging, target)
    return retired


def _discard(retired: Path) -> None:
    shutil.rmtree(retired, ignore_errors=True)


_RENAME_EXCHANGE = 2
_AT_FDCWD = -100
_renameat2 = None


def _exchange(a: Path, b: Path) -> bool:
    """Swap two existing paths in one step (Linux ``renameat2``); False when not possible."""
    global _renameat2
    if _renameat2 is None:
        try:
            _renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
            _renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p,
                                   ctypes.c_uint]
            _renameat2.restype = ctypes.c_int
        except (OSError, AttributeError):
            _renameat2 = False
    if _renameat2 is False or not os.path.lexists(b):
        return False
    if _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOENT, errno.EXDEV):
        return False   # unsupported here, or b vanished meanwhile: the caller renames instead
    raise OSError(err, os.strerror(err), str(b))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write a file whole or not at all: a temporary file beside it (``.<name>.tmp-<pid>-…``,
    which the next build removes if this process dies, :mod:`bpsreport.project_lock`), then
    a rename. Safe between threads and processes writing the same file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.tmp-{os.getpid()}-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: dict) -> None:
    """Write a state or manifest file whole or not at all (:func:`write_bytes_atomic`)."""
    write_bytes_atomic(path, (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
                              + "\n").encode("utf-8"))


def read_manifest(folder: Path) -> dict | None:
    try:
        data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Mismatch:
    """A file of ``data/clean`` that is not what its folder's manifest says."""

    path: Path
    problem: str

    def describe(self, shown=str) -> str:
        return f"{shown(self.path)} {self.problem}"


def verify_folder(folder: Path) -> list[Mismatch]:
    """Check a clean folder against its manifest; an empty list means it can be trusted.

    The folder must hold exactly the files its ``manifest.json`` lists, each with the
    SHA-256 recorded when it was written. A missing or unreadable manifest, a missing,
    changed or truncated file, and a file the manifest does not list (a stray Parquet
    file would be read as a table) are each a :class:`Mismatch`.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return [Mismatch(folder, "is missing")]
    manifest = read_manifest(folder)
    if manifest is None:
        return [Mismatch(folder / MANIFEST, "is missing or unreadable")]
    outputs = manifest.get("outputs")
    listed: dict[str, str] = {}
    if isinstance(outputs, list):
        for entry in outputs:
            name = entry.get("path") if isinstance(entry, dict) else None
            digest = entry.get("sha256") if isinstance(entry, dict) else None
            if (isinstance(name, str) and isinstance(digest, str) and name == Path(name).name
                    and name not in ("", ".", "..", MANIFEST)):
                listed[name] = digest
            else:
                return [Mismatch(folder / MANIFEST, f"has an unreadable entry: {entry!r}")]
    if not listed:
        return [Mismatch(folder / MANIFEST, "lists no files")]
    found = []
    for name, digest in sorted(listed.items()):
        path = folder / name
        try:
            actual = sha256_of(path) if path.is_file() else None
        except OSError:
            actual = None
        if actual is None:
            found.append(Mismatch(path, "is missing"))
        elif actual != digest:
            found.append(Mismatch(path, "was changed after the build wrote it (its SHA-256 "
                                        "differs from manifest.json)"))
    try:
        extra = sorted(p for p in folder.iterdir() if p.name not in listed and p.name != MANIFEST)
    except OSError:
        extra = []
    found += [Mismatch(p, "is not one of the files the build wrote (manifest.json does not "
                          "list it)") for p in extra]
    return found


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
        outputs = []
        for name, frame in catalog.tables().items():
            outputs += _write_table(frame.reset_index(), folder, name)
        manifest = {"catalog": True, "pipeline_version": __version__, "outputs": outputs}
        (folder / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n",
                                       encoding="utf-8")

    _replace_folder(target, fill)
    return target


def load_edition(clean_dir: Path, unit_id: str, year: int) -> dict[str, pd.DataFrame]:
    """Read back a clean set: the tables that exist, by name.

    Raises
    ------
    CleanDataChanged
        A file differs from the manifest (see :func:`verify_folder`); the build rebuilds it.
    """
    import pandas as pd

    folder = Path(clean_dir) / unit_id / str(year)
    if not folder.is_dir():
        raise FileNotFoundError(f"no clean data for {unit_id} {year} in {folder}; run the build first")
    mismatches = verify_folder(folder)
    if mismatches:
        raise CleanDataChanged(mismatches)
    return {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}


class CleanDataChanged(PipelineError):
    """Clean data that does not match its manifest, read outside a build."""

    exit_code = 2

    def __init__(self, mismatches: list[Mismatch]):
        self.mismatches = mismatches
        super().__init__("data/clean cannot be trusted: " + "; ".join(m.describe() for m in mismatches)
                         + ". Run `pipeline.py build`: it rebuilds clean data from data/raw.")
