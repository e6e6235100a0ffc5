"""One build at a time: the project lock, and what killed builds leave behind.

Every command that writes ``data/clean/``, ``build/``, ``_site/`` or the report sources
(``build``, ``new-year``, each rebuild of ``preview``) holds the project lock while it
works. ``validate`` and ``check`` only read and take no lock.

The lock is :func:`fcntl.flock` on ``<root>/.build.lock``. The kernel releases a flock when
its holder ends in any way, ``kill -9`` included, so a killed build never leaves a lock
that blocks the next one. The file also holds a record of the holder (process id, host,
command, start time), for two reasons:

- a second build can say whom it is waiting for;
- a holder that ends normally empties the record before it lets go, so a record found in
  a lock that is free is the mark of a build that was killed (or crashed hard). The next
  build says so, takes the lock over, and removes what the dead build left
  (:meth:`ProjectLock.remove_leftovers`).

The lock file itself is never deleted: a process waiting on a deleted file's lock would
hold a lock nobody else sees.

Leftovers are recognised by name only, and only names that the pipeline's own writers
make are matched (:data:`LEFTOVERS`); nothing else is ever removed. Where a name carries
the writer's process id, a folder of a process that is still running is left alone.
"""

from __future__ import annotations

import datetime as _dt
import errno
import fcntl
import json
import os
import re
import shutil
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import PipelineError

LOCK_FILE = ".build.lock"
EXIT_BUSY = 7   # documented in the README's exit-code table (bpsreport.cli.EXIT_CODES)
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class LockHolder:
    """Who holds (or last held) the lock, as recorded in the lock file."""

    pid: int
    host: str
    command: str
    started: str    # local time, ISO 8601 to the second

    @classmethod
    def of_this_process(cls, command: str) -> "LockHolder":
        return cls(os.getpid(), socket.gethostname(), command,
                   _dt.datetime.now().isoformat(sep=" ", timespec="seconds"))

    @classmethod
    def parse(cls, text: str) -> "LockHolder | None":
        try:
            data = json.loads(text)
            return cls(int(data["pid"]), str(data["host"]), str(data["command"]),
                       str(data["started"]))
        except (ValueError, KeyError, TypeError):
            return None

    def to_text(self) -> str:
        return json.dumps({"pid": self.pid, "host": self.host, "command": self.command,
                           "started": self.started}, ensure_ascii=False) + "\n"

    def is_running(self) -> bool | None:
        """Whether the process still exists; ``None`` when it ran on another host."""
        if self.host != socket.gethostname():
            return None
        return pid_is_running(self.pid)

    def describe(self) -> str:
        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"process {self.pid}{where} (`{self.command}`, started {self.started})"

    def describe_holding(self) -> str:
        """:meth:`describe`, for a lock that is held now. The kernel says it is held; when
        the recorded process is gone, a program it started must have kept the lock file
        open, and that program is still at work (the lock is not taken over)."""
        if self.is_running() is False:
            return (f"{self.describe()}; that process has ended, but a program it started "
                    "still holds the lock")
        return self.describe()


def pid_is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class BuildInProgress(PipelineError):
    """Another build of this project holds the lock and the caller chose not to wait."""

    exit_code = EXIT_BUSY

    def __init__(self, lock_path: Path, holder: LockHolder | None):
        self.holder = holder
        who = holder.describe_holding() if holder else "another process (no record yet)"
        super().__init__(
            f"Another build of this project is running · 另一个构建正在运行: {who}. Wait for it "
            f"to finish, or run the command again without --no-wait to wait for it. (Lock: "
            f"{lock_path}.)")


class LockFileProblem(PipelineError):
    """The lock file cannot be created (a read-only project folder)."""

    exit_code = 3


class ProjectLock:
    """The project lock; use it as a context manager around the work.

    Parameters
    ----------
    root
        The project folder.
    command
        What the holder is doing, shown to a build that waits (e.g. the command line).
    wait
        Wait for another holder to finish (the default), or raise
        :class:`BuildInProgress` at once.
    on_wait
        Called with the holder's record (or ``None`` when it cannot be read) when the
        lock is found taken, and again whenever the holder changes.

    After acquiring, :attr:`stale` is the record of a previous holder that ended
    without releasing the lock (killed), else ``None``; :attr:`unsupported` says why
    the file system could not lock (the work then runs unlocked), else ``None``.
    """

    def __init__(self, root: Path | str, command: str, *, wait: bool = True,
                 on_wait: Callable[[LockHolder | None], None] | None = None,
                 poll_s: float = POLL_SECONDS):
        self.root = Path(root)
        self.path = self.root / LOCK_FILE
        self.command = command
        self.wait = wait
        self.on_wait = on_wait
        self.poll_s = poll_s
        self.stale: LockHolder | None = None
        self.unsupported: str | None = None
        self.waited_for: list[LockHolder | None] = []
        self._fh = None

    # -- holding ----------------------------------------------------------------------------
    @property
    def held(self) -> bool:
        return self._fh is not None and self.unsupported is None

    def acquire(self) -> "ProjectLock":
        try:
            fh = open(self.path, "a+", encoding="utf-8")  # never truncate before holding it
        except OSError as exc:
            raise LockFileProblem(
                f"cannot create the project lock {self.path} ({exc.strerror or exc}); the "
                "project folder must be writable to build") from exc
        reported: object = object()
        previous: object = object()
        retry = True
        try:
            while True:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    holder = self._read_record(fh)
                    if not self.wait:
                        if retry and (holder is None or holder.is_running() is False):
                            retry = False   # maybe a new holder not yet recorded: look again
                            time.sleep(self.poll_s)
                            continue
                        raise BuildInProgress(self.path, holder) from None
                    # A new holder writes its record just after taking the lock: report a
                    # record once it was read twice in a row, not the one it is replacing.
                    if holder == previous and holder != reported:
                        reported = holder
                        self.waited_for.append(holder)
                        if self.on_wait is not None:
                            self.on_wait(holder)
                    previous = holder
                    time.sleep(self.poll_s)
                except OSError as exc:
                    if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                        raise
                    # A file system without locks (some network drives): run unlocked and say so.
                    self.unsupported = f"{exc.strerror or exc} ({self.path})"
                    self._fh = fh
                    return self
            # Ours now. A record still in the file is a holder that never released it.
            self.stale = self._read_record(fh)
            fh.seek(0)
            fh.truncate()
            fh.write(LockHolder.of_this_process(self.command).to_text())
            fh.flush()
        except BaseException:
            fh.close()
            raise
        self._fh = fh
        return self

    def release(self) -> None:
        fh, self._fh = self._fh, None
        if fh is None:
            return
        try:
            if self.unsupported is None:
                fh.seek(0)
                fh.truncate()   # an empty record: released properly, not killed
                fh.flush()
                fcntl.flock(fh, fcntl.LOCK_UN)
        finally:
            fh.close()

    def __enter__(self) -> "ProjectLock":
        return self if self._fh is not None else self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()

    @staticmethod
    def _read_record(fh) -> LockHolder | None:
        fh.seek(0)
        text = fh.read()
        return LockHolder.parse(text) if text.strip() else None

    # -- leftovers --------------------------------------------------------------------------
    def remove_leftovers(self) -> list[Path]:
        """Remove what killed builds left behind; return the paths removed.

        Only while holding the lock: then no other build is writing, so every staging
        folder or temporary file matching :data:`LEFTOVERS` belongs to a dead one.
        """
        if not self.held:
            raise RuntimeError("remove_leftovers() needs the project lock to be held")
        removed = []
        for path in find_leftovers(self.root):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            if not path.exists() and not path.is_symlink():
                removed.append(path)
        return removed


def running_holder(root: Path | str) -> LockHolder | None:
    """The build named in the lock file, when that process is still running.

    For read-only commands, to warn that a build is changing what they read. It takes no
    lock (even a shared one would make a build started at that moment wait).
    """
    try:
        text = (Path(root) / LOCK_FILE).read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    holder = LockHolder.parse(text) if text.strip() else None
    if holder is None or holder.is_running() is False:
        return None
    return holder


# --- what the pipeline's writers leave when they are killed -------------------------------------

@dataclass(frozen=True)
class Leftover:
    """A pattern of temporary names one of the pipeline's writers uses.

    ``folders`` are globs relative to the project root where the writer works;
    ``name`` must match the whole name; its group ``pid``, when present, is the id of the
    writing process. ``writer`` says which code makes these names.
    """

    folders: tuple[str, ...]
    name: re.Pattern
    is_dir: bool
    writer: str


_PID = r"(?P<pid>\d+)"
_MKTEMP = r"[a-z0-9_]{8}"   # the random part of tempfile.mkstemp / mkdtemp

LEFTOVERS: tuple[Leftover, ...] = (
    Leftover(("data/clean", "data/clean/*"),
             re.compile(rf"\.(catalog|\d{{4}})\.(new|old)-{_PID}-{_MKTEMP}"), True,
             "clean_store._replace_folder: a clean set being written, or the one it replaced"),
    # The names of earlier versions of the pipeline, still found in working copies.
    Leftover(("data/clean", "data/clean/*"),
             re.compile(rf"\.(catalog|\d{{4}})\.new-{_MKTEMP}"), True,
             "clean_store._replace_folder (earlier versions): a clean set being written"),
    Leftover(("data/clean", "data/clean/*"),
             re.compile(rf"\.(catalog|\d{{4}})\.old-{_PID}"), True,
             "clean_store._replace_folder (earlier versions): the clean set it replaced"),
    Leftover(("data/clean", "build/*/*"),
             re.compile(rf"\.[a-z-]+-state\.json\.{_MKTEMP}"), False,
             "clean_store.write_json_atomic (earlier versions): a state file being written"),
    Leftover(("data/clean", "build/*/*"),
             re.compile(rf"\.[a-z-]+-state\.json\.tmp-{_PID}-{_MKTEMP}"), False,
             "clean_store.write_json_atomic: a state file being written"),
    Leftover((".",), re.compile(rf"\._variables\.yml\.{_MKTEMP}\.tmp"), False,
             "variables.write_text_if_changed: _variables.yml being written"),
    Leftover(("reports/*/*/_generated", "reports/*/*/_generated/*"),
             re.compile(rf"\..+\.{_MKTEMP}\.tmp"), False,
             "variables.write_text_if_changed: a generated part being written"),
    Leftover(("build/publish",), re.compile(rf"\.new-{_PID}-\d+"), True,
             "publish.Publication.start: the version a render is writing"),
    Leftover(("build/publish",), re.compile(rf"\.current\.{_PID}\.tmp"), False,
             "publish._replace_link: the link that replaces `current`"),
    # The names of earlier versions of the pipeline, still found in working copies.
    Leftover((".",), re.compile(r"\.render-[A-Za-z0-9_-]+"), True,
             "build.render_edition (earlier versions): the staging folder of a render"),
    Leftover((".",), re.compile(rf"\._site\.old-{_PID}(-[A-Za-z0-9_]+)?"), True,
             "build._swap_into_place (earlier versions): the site it replaced"),
    Leftover(("build/*/*",), re.compile(rf"\.pdf\.old-{_PID}(-[A-Za-z0-9_]+)?"), True,
             "build._swap_into_place (earlier versions): the PDFs it replaced"),
    Leftover(("build/*/*/render-cache/html/*",),
             re.compile(rf"[0-9a-f]+\.{_PID}\.\d+\.tmp"), False,
             "render.html: a cached page being written"),
    Leftover(("build", "build/*/*", "build/*/*/render-cache/pdf",
              "build/*/*/render-cache/pdf/pandoc"),
             re.compile(rf"\.[^/]+\.tmp-{_PID}-{_MKTEMP}"), False,
             "clean_store.write_bytes_atomic: a cache file being written (PDFs, pandoc's "
             "conversions, fonts, what check made of the data)"),
    Leftover(("build/*/*/render-cache/pdf",),
             re.compile(rf"\.[a-z]+-[A-Za-z0-9_-]+-[0-9a-f]{{64}}\.pdf\.{_PID}\.tmp"), False,
             "render.pdf.render_typst_document (earlier versions): a cached PDF being written"),
    Leftover(("build",), re.compile(rf"\.pdf-fonts\.json\.{_PID}\.tmp"), False,
             "render.pdf.resolve_fonts (earlier versions): the remembered font choice being written"),
)


def find_leftovers(root: Path | str) -> list[Path]:
    """Paths under ``root`` matching :data:`LEFTOVERS`, except those of running processes."""
    root = Path(root)
    found: set[Path] = set()
    for pattern in LEFTOVERS:
        for folder in _folders(root, pattern.folders):
            try:
                entries = list(os.scandir(folder))
            except OSError:
                continue
            for entry in entries:
                match = pattern.name.fullmatch(entry.name)
                if match is None:
                    continue
                try:
                    is_dir = entry.is_dir(follow_symlinks=False)
                except OSError:
                    continue
                if is_dir != pattern.is_dir:
                    continue
                pid = match.groupdict().get("pid")
                if pid is not None and int(pid) != os.getpid() and pid_is_running(int(pid)):
                    continue  # a writer that is alive (outside the lock): not ours to remove
                if pid is not None and int(pid) == os.getpid():
                    continue  # this process's own work in progress
                found.add(Path(entry.path))
    return sorted(found)


def _folders(root: Path, globs: tuple[str, ...]) -> list[Path]:
    out = []
    for pattern in globs:
        if pattern == ".":
            out.append(root)
        else:
            out += [p for p in root.glob(pattern) if p.is_dir() and not p.is_symlink()]
    return out
