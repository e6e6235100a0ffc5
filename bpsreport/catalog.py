"""The bilingual catalog: domains, departments, indicators, report units and sources.

The catalog lives in ``data/raw/catalog/`` as plain CSV (see ``docs/data-model.md``) so
that department staff can review it. :func:`load_catalog` reads and checks every file and
reports all problems at once.

Examples
--------
>>> from bpsreport.catalog import load_catalog
>>> cat = load_catalog(Path("data/raw"))                        # doctest: +SKIP
>>> cat.indicators.loc["urban_new_jobs", ["name_en", "unit"]]   # doctest: +SKIP
name_en    New urban jobs
unit                   万人
"""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from .cell_text import LINE, needs_vetting, vet_columns
from .errors import ProblemCollector
from .limits import ValueRanges, load_limits, load_value_ranges
from .raw_files import check_readable, entry_problem, is_ignored, list_entries

DIRECTIONS = ("higher", "lower")
YES_NO = ("yes", "no")

_COLUMNS = {
    "domains": ["domain_id", "order", "name_zh", "name_en", "lead_departments"],
    "departments": ["department_id", "name_zh", "name_en"],
    "report_units": ["unit_id", "name_zh", "name_en", "level", "is_default"],
    "sources": ["source_id", "doc_number", "title_zh", "title_en", "issuer_zh", "issuer_en",
                "issued", "seed_file"],
    "indicators": ["indicator_id", "domain_id", "name_zh", "name_en", "unit", "unit_en",
                   "en_factor", "direction", "decimals", "decimals_en", "max_value",
                   "definition_zh", "definition_en", "reporting_department", "reporting_reason"],
}
# Columns that may be left empty.
_OPTIONAL = {"max_value", "doc_number", "lead_departments"}
# Sensible bounds of the numeric settings of an indicator.
MAX_DECIMALS = 6
EN_FACTOR_RANGE = (1e-6, 1e6)  # 万人 → million people is 0.01, 万名 → thousand people 10


@dataclass(frozen=True)
class Catalog:
    """All catalog tables, each indexed by its id column.

    ``domains`` is sorted by ``order``. ``indicators`` has numeric ``en_factor``,
    ``decimals``, ``decimals_en`` and ``max_value`` (NaN when absent). ``ranges`` are the
    plausible values by unit (``config/value_ranges.yml``).
    """

    domains: pd.DataFrame
    departments: pd.DataFrame
    indicators: pd.DataFrame
    report_units: pd.DataFrame
    sources: pd.DataFrame
    ranges: ValueRanges = field(default_factory=lambda: load_value_ranges(None), repr=False)

    @property
    def default_unit(self) -> str:
        """The report unit used when none is named (the province)."""
        return str(self.report_units.index[self.report_units["is_default"] == "yes"][0])

    def domain_ids(self) -> list[str]:
        """Domain ids in the seed's order, the cross-cutting part first."""
        return list(self.domains.index)

    def department_names(self, ids: str | list[str], lang: str) -> list[str]:
        """Names of departments given as ids (a list or a ``;``-separated string)."""
        if isinstance(ids, str):
            ids = split_list(ids)
        return [str(self.departments.at[i, f"name_{lang}"]) for i in ids]

    def reporting_department(self, indicator_id: str) -> str:
        """The one department that reports an indicator (``reporting_department``)."""
        return str(self.indicators.at[indicator_id, "reporting_department"])

    def value_range(self, indicator_id: str, measure: str = "actual") -> tuple[float, float, str]:
        """``(lowest, highest, where the bound comes from)`` for a value of an indicator.

        A completion rate has the range ``completion_rate`` of ``config/value_ranges.yml``;
        any other value the indicator's ``max_value`` when the catalog gives one
        (``"catalog"``), else the range of its unit (``"unit"``), else the ``default``
        range (``"default"``). The lower bound always comes from the unit (or default).
        """
        if measure == "completion_rate":
            rate = self.ranges.completion_rate
            return rate.low, rate.high, "completion_rate"
        row = self.indicators.loc[indicator_id]
        by_unit, own = self.ranges.for_unit(str(row["unit"]))
        if pd.notna(row["max_value"]):
            return by_unit.low, float(row["max_value"]), "catalog"
        return by_unit.low, by_unit.high, "unit" if own else "default"

    def upper_bound(self, indicator_id: str) -> float:
        """Largest plausible value: ``max_value``, else the range of the unit (100 for ``%``)."""
        return self.value_range(indicator_id)[1]

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in _COLUMNS}


def split_list(cell: object) -> list[str]:
    """Split a ``;``-separated cell into trimmed, non-empty items."""
    if cell is None or (isinstance(cell, float) and pd.isna(cell)):
        return []
    return [part.strip() for part in str(cell).replace("；", ";").split(";") if part.strip()]


def _read(path: Path, root: Path, name: str, problems: ProblemCollector) -> pd.DataFrame | None:
    """One catalog CSV as strings, indexed by spreadsheet row number (header = row 1)."""
    from .readers import RawTable, csv_grid

    shown = _shown(path, root)
    if not path.exists() and not path.is_symlink():
        problems.add(shown, f"the catalog file {path.name} ({', '.join(_COLUMNS[name])})")
        return None
    limits = load_limits(root)
    if not check_readable(path, root, shown, limits, problems):
        return None
    before = len(problems.problems)
    grid = csv_grid(path.read_bytes(), shown, problems, limits=limits, encodings=("utf-8",))
    if grid is None:
        return None
    filled = [(n, [c.strip() for c in cells]) for n, cells in grid if any(c.strip() for c in cells)]
    if not filled:
        problems.add(shown, f"a header row ({', '.join(_COLUMNS[name])})", found="an empty file")
        return None
    (header_row, header), body = filled[0], filled[1:]
    seen: dict[str, int] = {}
    for i, col in enumerate(header):
        if col in seen:
            # pandas would have renamed the second one "col.1" and dropped it unseen.
            problems.add(shown, f"each column once (column {seen[col] + 1} is already {col})",
                         row=header_row, column=col, found=col)
        seen.setdefault(col, i)
    missing = [c for c in _COLUMNS[name] if c not in seen]
    for col in missing:
        problems.add(shown, "this column in the header row", row=header_row, column=col,
                     found="(missing)")
    for number, cells in body:
        if len(cells) > len(header) and any(cells[len(header):]):
            problems.add(shown, f"at most {len(header)} values per row, one under each header "
                         "(a value outside the header's columns: a stray comma?)", row=number,
                         found=cells[len(header)] or ",".join(cells[len(header):]))
    if missing or len(problems.problems) > before:
        return None
    frame = pd.DataFrame([[cells[seen[c]] if seen[c] < len(cells) else "" for c in _COLUMNS[name]]
                          for _, cells in body], columns=_COLUMNS[name], dtype=str,
                         index=pd.Index([n for n, _ in body], dtype="int64"))
    frame.attrs["file"] = shown
    # Every catalog text is inline text in the report: one line, no control characters.
    vet_columns(RawTable(frame, list(frame.index), None, shown, header_row,
                         needs_vetting=needs_vetting(c for _, cells in body for c in cells)),
                {c: LINE for c in _COLUMNS[name]}, problems)
    for i, rec in frame.iterrows():
        for col in _COLUMNS[name]:
            if col not in _OPTIONAL and rec[col] == "":
                problems.add(shown, "a value (this column is required)", row=int(i), column=col, found="")
    return frame


def _shown(path: Path, root: Path) -> str:
    try:
        return Path(os.path.abspath(path)).relative_to(os.path.abspath(root)).as_posix()
    except ValueError:
        return str(path)


def _check_unique(frame: pd.DataFrame, col: str, problems: ProblemCollector) -> None:
    dup = frame[col].duplicated(keep="first")
    for i in frame.index[dup]:
        problems.add(frame.attrs["file"], "a unique id (it appears on an earlier row)",
                     row=int(i), column=col, found=frame.at[i, col])


def _check_number(frame: pd.DataFrame, col: str, problems: ProblemCollector, *,
                  integer: bool = False, optional: bool = False, low: float = 0,
                  high: float | None = None, above_low: bool = False,
                  why: str = "") -> None:
    """Numbers of a column must be finite, in range, and whole when ``integer``.

    ``1.0`` counts as the whole number 1; it is converted when the catalog is built.
    """
    for i, raw in frame[col].items():
        if raw == "" and optional:
            continue
        try:
            value = float(raw)
            ok = (math.isfinite(value) and (value > low if above_low else value >= low)
                  and (high is None or value <= high)
                  and (not integer or value.is_integer()))
        except ValueError:
            ok = False
        if not ok:
            kind = "a whole number" if integer else "a number"
            if above_low:
                span = f"greater than {_words(low)}"
                span += f" and at most {_words(high)}" if high is not None else ""
            else:
                span = f"from {_words(low)} to {_words(high)}" if high is not None else f"≥ {_words(low)}"
            problems.add(frame.attrs["file"], f"{kind} {span}{why}", row=int(i), column=col,
                         found=raw)


def _words(number: float) -> str:
    """A bound as a clerk reads it: 0.000001, 6, 1,000,000 (no exponents)."""
    if number and abs(number) < 0.001:
        return f"{number:.12f}".rstrip("0")
    return f"{number:,.0f}" if abs(number) >= 10000 else f"{number:g}"


def _check_choice(frame, col, allowed, problems):
    for i, raw in frame[col].items():
        if raw not in allowed:
            problems.add(frame.attrs["file"], "one of " + ", ".join(allowed),
                         row=int(i), column=col, found=raw)


def _check_refs(frame, col, known, what, problems, *, is_list=False):
    for i, raw in frame[col].items():
        for ref in (split_list(raw) if is_list else [raw]):
            if ref and ref not in known:
                problems.add(frame.attrs["file"], f"a known {what} id", row=int(i),
                             column=col, found=ref)


def _check_dates(frame, col, limits, problems) -> None:
    """ISO dates (2018-03-26) within the years of config/limits.yml."""
    for i, raw in frame[col].items():
        try:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                raise ValueError(raw)
            day = dt.date.fromisoformat(raw)
            ok = limits.year_ok(day.year)
        except ValueError:
            ok = False
        if not ok:
            problems.add(frame.attrs["file"], "a date written YYYY-MM-DD, e.g. 2018-03-26, "
                         f"in {limits.first_year}–{limits.last_year} (years in {limits.source})",
                         row=int(i), column=col, found=raw)


def load_catalog(raw_dir: Path, *, root: Path | None = None) -> Catalog:
    """Read and check ``<raw_dir>/catalog/``.

    Parameters
    ----------
    raw_dir
        The ``data/raw`` folder.
    root
        Paths in error messages are shown relative to this folder (the project root).

    Raises
    ------
    InputValidationError
        Listing every problem found in any catalog file.
    """
    raw_dir = Path(raw_dir)
    root = Path(root) if root is not None else raw_dir.parent.parent
    folder = raw_dir / "catalog"
    problems = ProblemCollector()
    limits, ranges = load_limits(root), load_value_ranges(root)

    tables: dict[str, pd.DataFrame | None] = {
        name: _read(folder / f"{name}.csv", root, name, problems)
        for name in ("domains", "departments", "report_units", "sources")
    }
    if folder.is_dir():  # a misnamed catalog file would otherwise be ignored unseen
        expected = {f"{name}.csv" for name in _COLUMNS if name != "indicators"} | {"indicators"}
        for path in sorted(folder.iterdir()):  # the expected ones are checked as they are read
            if path.name not in expected and not is_ignored(path):
                problems.add(_shown(path, root), "only " + ", ".join(sorted(expected - {"indicators"}))
                             + " and the folder indicators/ in catalog/", found=path.name)
    indicator_files = []
    refused = entry_problem(folder / "indicators", root)
    if refused is not None:
        problems.add(_shown(folder / "indicators", root), refused[1], found=refused[0])
    elif (folder / "indicators").is_dir():
        for path in list_entries(folder / "indicators", root, problems):
            if path.suffix.lower() == ".csv" and path.is_file():
                indicator_files.append(path)
            else:
                problems.add(_shown(path, root), "only indicator files (<domain>.csv) in "
                             "catalog/indicators/", found=path.name)
    if not indicator_files:
        problems.add(_shown(folder / "indicators", root),
                     "at least one indicator file, e.g. indicators/education.csv")
    parts = [_read(p, root, "indicators", problems) for p in indicator_files]
    parts = [p for p in parts if p is not None]

    # Stop before cross-checks if a file is unreadable: the cross-checks would only echo it.
    problems.raise_if_any()

    domains, departments = tables["domains"], tables["departments"]
    units, sources = tables["report_units"], tables["sources"]
    for frame, col in ((domains, "domain_id"), (departments, "department_id"),
                       (units, "unit_id"), (sources, "source_id")):
        _check_unique(frame, col, problems)
    _check_number(domains, "order", problems, integer=True, high=1000)
    _check_dates(sources, "issued", limits, problems)
    _check_refs(domains, "lead_departments", set(departments["department_id"]), "department",
                problems, is_list=True)
    _check_choice(units, "is_default", YES_NO, problems)
    if (units["is_default"] == "yes").sum() != 1:
        problems.add(units.attrs["file"], "exactly one report unit with is_default = yes",
                     column="is_default", found=str(int((units["is_default"] == "yes").sum())))

    seen: dict[str, str] = {}
    for part in parts:
        _check_refs(part, "domain_id", set(domains["domain_id"]), "domain", problems)
        _check_choice(part, "direction", DIRECTIONS, problems)
        _check_number(part, "en_factor", problems, low=EN_FACTOR_RANGE[0], high=EN_FACTOR_RANGE[1],
                      why=" (the factor from the Chinese unit to the English one, e.g. 0.01 "
                      "for 万人 → million people)")
        _check_number(part, "decimals", problems, integer=True, high=MAX_DECIMALS)
        _check_number(part, "decimals_en", problems, integer=True, high=MAX_DECIMALS)
        _check_number(part, "max_value", problems, optional=True, low=0, above_low=True,
                      high=limits.max_abs_value, why=f" (values.max_abs in {limits.source})")
        _check_refs(part, "reporting_department", set(departments["department_id"]),
                    "department", problems)
        for i, ind in part["indicator_id"].items():
            if ind in seen:
                problems.add(part.attrs["file"], f"a unique indicator id (already defined in {seen[ind]})",
                             row=int(i), column="indicator_id", found=ind)
            seen.setdefault(ind, part.attrs["file"])
    problems.raise_if_any()

    indicators = pd.concat(parts, ignore_index=True).drop_duplicates("indicator_id")
    for col in ("en_factor", "max_value"):
        indicators[col] = pd.to_numeric(indicators[col].replace("", None), errors="coerce")
    for col in ("decimals", "decimals_en"):
        # "1.0" is the whole number 1 (checked above); int("1.0") would fail.
        indicators[col] = indicators[col].astype(float).astype(int)
    domains = domains.assign(order=domains["order"].astype(int)).sort_values("order")
    return Catalog(
        domains=domains.set_index("domain_id"),
        departments=departments.set_index("department_id"),
        indicators=indicators.set_index("indicator_id"),
        report_units=units.set_index("unit_id"),
        sources=sources.set_index("source_id"),
        ranges=ranges,
    )
