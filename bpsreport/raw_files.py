"""Which entries of ``data/raw/`` are read, and which are refused before anything is read.

A raw file is read only when it is a regular file (or a link to one) inside the project,
its name does not start with a dot, and it is no larger than ``files.max_bytes`` of
``config/limits.yml``. Everything is decided from the directory entry (``lstat``/``stat``),
so a named pipe or a device is refused without being opened (opening one would block).

What is refused, and what is skipped (``docs/data-model.md``, "Files that are read"):

- refused: a link whose target lies outside the project, or does not exist, or loops;
  a named pipe, device or socket; a file or folder whose name starts with a dot (a hidden
  data file would silently take its figures out of the report); a file over the size limit;
- skipped, because they are never data: operating-system litter (``.DS_Store``,
  ``Thumbs.db``, ``desktop.ini``, macOS ``._name`` resource forks), Excel's lock files
  (``~$name.xlsx``, present while a workbook is open), ``.gitkeep``/``.gitignore``, and
  ``README`` notes (a data log).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from .errors import ProblemCollector
from .limits import Limits

# Never data: skipped without a word (documented in docs/data-model.md).
IGNORED_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", ".gitkeep", ".gitignore"})
_APPLEDOUBLE = b"\x00\x05\x16\x07"  # first bytes of a macOS "._name" resource fork


def is_ignored(path: Path) -> bool:
    """True for operating-system litter, Excel lock files and README notes."""
    name = path.name
    if name.casefold() in IGNORED_NAMES or name.startswith("~$"):
        return True
    if Path(name).stem.upper() == "README":
        return True
    if name.startswith("._"):
        try:  # a resource fork, not a hidden data file, only if it says so
            if stat.S_ISREG(os.lstat(path).st_mode):
                with open(path, "rb") as fh:
                    return fh.read(4) == _APPLEDOUBLE
        except OSError:
            return False
    return False


def _inside(target: str, root: str) -> bool:
    return target == root or target.startswith(root.rstrip(os.sep) + os.sep)


def entry_problem(path: Path, root: Path) -> tuple[str, str] | None:
    """``(found, expected)`` when a directory entry must not be read as raw data.

    Folders and regular files (or links to them inside the project) give ``None``.
    """
    path = Path(path)
    expected_file = "a regular file or folder inside the project"
    if path.name.startswith("."):
        kind = "folder" if path.is_dir() else "file"
        return (f"a hidden {kind} ({path.name})",
                f"a name that does not start with a dot: hidden {kind}s are not read, so "
                "its figures would silently be left out; rename it, or delete it")
    try:
        info = os.lstat(path)
    except OSError as exc:
        return (f"an entry that cannot be read ({exc.strerror})", expected_file)
    if stat.S_ISLNK(info.st_mode):
        target = os.path.realpath(path)
        if not _inside(target, os.path.realpath(root)):
            return (f"a link to {target}, outside the project",
                    "a file inside the project (links out of the project are not followed); "
                    "copy the file here instead of linking to it")
        try:
            info = os.stat(path)
        except OSError as exc:
            what = "which leads back to itself" if exc.errno == errno.ELOOP else "which does not exist"
            return (f"a link to {os.readlink(path)}, {what}",
                    "a link to an existing file, or the file itself")
    if stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode):
        return None
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(info.st_mode)
            else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
            else "a socket" if stat.S_ISSOCK(info.st_mode) else "a special file")
    return (kind, "a regular file (CSV or XLSX); this entry is not read")


def list_entries(folder: Path, root: Path, problems: ProblemCollector) -> list[Path]:
    """The entries of ``folder`` that may be read, sorted; refused ones become problems.

    Ignored litter (:func:`is_ignored`) is left out silently.
    """
    from .readers import shown_path

    kept = []
    for path in sorted(Path(folder).iterdir()):
        if is_ignored(path):
            continue
        problem = entry_problem(path, root)
        if problem is not None:
            problems.add(shown_path(path, root), problem[1], found=problem[0])
            continue
        kept.append(path)
    return kept


def check_readable(path: Path, root: Path, shown: str, limits: Limits,
                   problems: ProblemCollector) -> bool:
    """True when ``path`` may be opened: a regular file inside the project within the size limit."""
    problem = entry_problem(path, root)
    if problem is None and not Path(path).is_file():
        problem = ("a folder", "a file")
    if problem is not None:
        problems.add(shown, problem[1], found=problem[0])
        return False
    size = os.stat(path).st_size
    if size > limits.max_file_bytes:
        problems.add(shown, f"a file of at most {limits.max_file_bytes:,} bytes (files.max_bytes "
                     f"in {limits.source}); split it, or check that it is the right file",
                     found=f"{size:,} bytes")
        return False
    return True


def walk(folder: Path, root: Path) -> Iterator[tuple[Path, str]]:
    """Every entry under ``folder`` with its kind: ``file``, ``dir``, ``link`` (a link that
    leaves the project or leads nowhere) or ``special`` (pipe, device, socket).

    Links inside the project are followed (each real folder once); nothing is opened.
    """
    real_root = os.path.realpath(root)
    seen: set[str] = set()

    def visit(current: Path) -> Iterator[tuple[Path, str]]:
        real = os.path.realpath(current)
        if real in seen:
            return
        seen.add(real)
        try:
            names = sorted(os.listdir(current))
        except OSError:
            return
        for name in names:
            path = current / name
            try:
                is_link = os.path.islink(path)
                if is_link and not _inside(os.path.realpath(path), real_root):
                    yield path, "link"
                    continue
                mode = os.stat(path).st_mode
            except OSError:
                yield path, "link"
                continue
            if stat.S_ISDIR(mode):
                yield path, "dir"
                yield from visit(path)
            elif stat.S_ISREG(mode):
                yield path, "file"
            else:
                yield path, "special"

    if Path(folder).is_dir():
        yield from visit(Path(folder))


__all__ = ["IGNORED_NAMES", "is_ignored", "entry_problem", "list_entries", "check_readable", "walk"]
