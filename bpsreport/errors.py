"""Error types whose messages a finance clerk can act on.

Every problem found in an input file is an :class:`InputProblem` that names the file,
sheet, row and column, the value found and what was expected. Validation collects all
problems first and raises one :class:`InputValidationError` holding every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class PipelineError(Exception):
    """Base class for errors the command line reports without a traceback."""

    exit_code = 1


@dataclass(frozen=True, order=True)
class InputProblem:
    """One problem in one cell (or row, or file) of an input file.

    ``row`` is the row number a person sees in a spreadsheet program: the header is row 1,
    the first data row is row 2. ``None`` means the problem concerns the whole file (or
    sheet, or column).
    """

    file: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    found: str | None = None
    expected: str = ""

    def location(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f"sheet {self.sheet!r}")
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        found = "" if self.found is None else f": found {self.found!r}"
        return f"{self.location()}{found}; expected {self.expected}"


class InputValidationError(PipelineError):
    """Raised once, after validation, with every problem found."""

    exit_code = 2

    def __init__(self, problems: list[InputProblem]):
        self.problems = sorted(problems, key=_problem_sort_key)
        super().__init__(self.summary())

    def summary(self) -> str:
        n = len(self.problems)
        files = len({p.file for p in self.problems})
        head = f"{n} problem{'s' if n != 1 else ''} in {files} input file{'s' if files != 1 else ''}"
        return head + ":\n" + "\n".join(f"  - {p}" for p in self.problems)


def _problem_sort_key(p: InputProblem):
    return (p.file, p.sheet or "", p.row if p.row is not None else -1, p.column or "", p.expected)


@dataclass
class ProblemCollector:
    """Accumulates problems across files so all of them are reported together."""

    problems: list[InputProblem] = field(default_factory=list)

    def add(self, file: str | Path, expected: str, *, sheet: str | None = None,
            row: int | None = None, column: str | None = None, found: object = None) -> None:
        self.problems.append(InputProblem(
            file=str(file), sheet=sheet, row=row, column=column,
            found=None if found is None else shorten(str(found)), expected=expected))

    def raise_if_any(self) -> None:
        if self.problems:
            raise InputValidationError(self.problems)


FOUND_CHARS = 200


def shorten(text: str) -> str:
    """A value as a message shows it: a 10,000-character cell is shown by its start and size."""
    if len(text) <= FOUND_CHARS:
        return text
    return f"{text[:FOUND_CHARS - 40]}… ({len(text):,} characters)"


class FontMissingError(PipelineError):
    """No font that can draw Chinese text was found for the charts (see config/fonts.yml)."""

    exit_code = 3
