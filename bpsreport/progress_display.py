"""What the command line shows while it works, and the log file written for every build.

Console levels (``--quiet``, default, ``--verbose``):

=========  ====================================================================
quiet      warnings, errors and the final line
normal     stage headings, the data summary tables, one line per notebook and
           per PDF, how many pages and PDFs were rendered and how many reused
verbose    also every raw file read, every page rendered, and a traceback for
           an unexpected error
=========  ====================================================================

The log file receives the verbose output as plain text whatever the console level, so a
quiet build still leaves a complete record. On a terminal, long steps (notebooks, pages,
PDFs) show a progress bar instead of their per-item lines; in a pipe or a CI log the
lines are printed, so the output stays readable there.

This module is display only: the build reports progress through plain callbacks
(:class:`bpsreport.build.StepEvent`) and never imports it.
"""

from __future__ import annotations

import datetime as _dt
import threading
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from rich.console import Console

QUIET, NORMAL, VERBOSE = 0, 1, 2
LOG_DIR = Path("build") / "logs"
LOG_WIDTH = 200


def console_for(*, stderr: bool = False) -> Console:
    """A console for stdout or stderr; wide when not a terminal, so that tables and file
    names in a pipe or CI log are never folded."""
    probe = Console(stderr=stderr)
    return probe if probe.is_terminal else Console(stderr=stderr, width=LOG_WIDTH)


def log_path_for(root: Path, kind: str, unit_id: str, year: int | None,
                 now: _dt.datetime | None = None) -> Path:
    """``build/logs/<kind>-<unit>-<year>-<timestamp>.log``, never an existing file."""
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    parts = [kind, unit_id] + ([str(year)] if year is not None else []) + [stamp]
    folder = Path(root) / LOG_DIR
    path = folder / ("-".join(parts) + ".log")
    n = 2
    while path.exists():
        path = folder / ("-".join(parts) + f"-{n}.log")
        n += 1
    return path


class Reporter:
    """Prints to the console at its level and everything to the log file.

    Parameters
    ----------
    level
        :data:`QUIET`, :data:`NORMAL` or :data:`VERBOSE`.
    out, err
        Consoles for normal output and for warnings and errors (default: stdout, stderr).
    log_path
        Where the full verbose output goes; ``None`` for no log file.
    live
        Show progress bars (default: when ``out`` is a terminal and the level is not quiet).

    Examples
    --------
    >>> rep = Reporter(NORMAL, log_path=None)                       # doctest: +SKIP
    >>> rep.stage("1. Data · 数据")                                  # doctest: +SKIP
    >>> with rep.steps("notebooks", total=11) as steps:              # doctest: +SKIP
    ...     steps.advance("domain 'education'", line="  - domain 'education': done")
    """

    def __init__(self, level: int = NORMAL, *, out: Console | None = None,
                 err: Console | None = None, log_path: Path | None = None,
                 live: bool | None = None):
        self.level = level
        self.out = out or console_for()
        self.err = err or console_for(stderr=True)
        self.log_path = Path(log_path) if log_path is not None else None
        self._log_file: IO[str] | None = None
        self._log: Console | None = None
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_file = open(self.log_path, "w", encoding="utf-8")
            self._log = Console(file=self._log_file, width=LOG_WIDTH, color_system=None,
                                force_terminal=False, highlight=False, emoji=False)
        self.live = (self.out.is_terminal and level > QUIET) if live is None else live
        self._lock = threading.RLock()

    # -- plain messages --------------------------------------------------------------------
    def _emit(self, console: Console | None, text: object, *, style: str | None = None) -> None:
        if console is None:
            return
        if isinstance(text, str):
            console.print(text, style=style, markup=False, highlight=False, soft_wrap=True)
        else:  # a rich renderable (a table)
            console.print(text)

    def _to_log(self, text: object) -> None:
        if self._log is not None:
            with self._lock:
                self._emit(self._log, text)
                self._log_file.flush()

    def say(self, text: object, level: int = NORMAL, *, style: str | None = None) -> None:
        """Print ``text`` (a string or a rich renderable) when the console level allows it;
        always log it."""
        with self._lock:
            if self.level >= level:
                self._emit(self.out, text, style=style)
            self._to_log(text)

    def stage(self, text: str) -> None:
        """A stage heading, e.g. ``2. Charts and tables · 图表``."""
        self.say(text, NORMAL, style="bold")

    def info(self, text: object) -> None:
        self.say(text, NORMAL)

    def detail(self, text: object) -> None:
        """Only shown with ``--verbose`` (always in the log)."""
        self.say(text, VERBOSE)

    def warning(self, text: str) -> None:
        with self._lock:
            self._emit(self.err, f"Warning · 警告: {text}", style="yellow")
            self._to_log(f"Warning: {text}")

    def error(self, text: object) -> None:
        with self._lock:
            self._emit(self.err, text, style="red" if isinstance(text, str) else None)
            self._to_log(text)

    def final(self, text: str) -> None:
        """The last line of a command: shown at every level."""
        self.say(text, QUIET, style="bold")

    def exception(self, exc: BaseException) -> None:
        """The traceback of an unexpected error: in the log, and on screen with --verbose."""
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        with self._lock:
            if self.level >= VERBOSE:
                self._emit(self.err, tb.rstrip())
            self._to_log(tb.rstrip())

    # -- long steps --------------------------------------------------------------------------
    @contextmanager
    def waiting(self, text: str) -> Iterator[None]:
        """A spinner on a terminal while a single long call runs (e.g. validation)."""
        self._to_log(text)
        if self.live:
            with self.out.status(text):
                yield
        else:
            if self.level >= VERBOSE:
                self._emit(self.out, text)
            yield

    @contextmanager
    def steps(self, what: str, total: int | None = None) -> Iterator["Steps"]:
        """Count the items of a long step (notebooks, pages, PDFs).

        On a terminal a progress bar shows ``done/total``; each item's line is printed
        above it when its level allows. Elsewhere only the lines are printed.
        """
        steps = Steps(self, what, total)
        if self.live:
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress, SpinnerColumn,
                                       TextColumn, TimeElapsedColumn)
            progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                MofNCompleteColumn(), TimeElapsedColumn(),
                                console=self.out, transient=True)
            steps._bar = progress
            with progress:
                steps._task = progress.add_task(what, total=total)
                yield steps
        else:
            yield steps

    # -- the log file -------------------------------------------------------------------------
    def shown_log_path(self, root: Path) -> str:
        if self.log_path is None:
            return ""
        try:
            return str(self.log_path.resolve().relative_to(Path(root).resolve()))
        except ValueError:
            return str(self.log_path)

    def close(self) -> None:
        with self._lock:
            if self._log_file is not None:
                self._log_file.close()
                self._log_file, self._log = None, None

    def __enter__(self) -> "Reporter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class Steps:
    """The counter of one long step; see :meth:`Reporter.steps`. Thread-safe."""

    def __init__(self, reporter: Reporter, what: str, total: int | None):
        self.reporter = reporter
        self.what = what
        self.total = total
        self.done = 0
        self._bar = None
        self._task = None

    def begin(self, what: str, total: int | None) -> None:
        """Start counting the next part of the step (e.g. the pages after the PDFs)."""
        with self.reporter._lock:
            self.what, self.total, self.done = what, total, 0
            if self._bar is not None:
                self._bar.reset(self._task, total=total, description=what)

    def set_total(self, total: int) -> None:
        with self.reporter._lock:
            self.total = total
            if self._bar is not None:
                self._bar.update(self._task, total=total)

    def advance(self, item: str, *, line: str | None = None, level: int = NORMAL) -> None:
        """One item finished; ``line`` (default ``item``) is printed at ``level``."""
        with self.reporter._lock:
            self.done += 1
            self.reporter.say(line if line is not None else item, level)
            if self._bar is not None:
                self._bar.update(self._task, advance=1,
                                 description=f"{self.what}: {item}")
