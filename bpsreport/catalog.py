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

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .errors import ProblemCollector

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


@dataclass(frozen=True)
class Catalog:
    """All catalog tables, each indexed by its id column.

    ``domains`` is sorted by ``order``. ``indicators`` has numeric ``en_factor``,
    ``decimals``, ``decimals_en`` and ``max_value`` (NaN when absent).
    """

    domains: pd.DataFrame
    departments: pd.DataFrame
    indicators: pd.DataFrame
    report_units: pd.DataFrame
    sources: pd.DataFrame

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

    def upper_bound(self, indicator_id: str) -> float | None:
        """Largest plausible value: ``max_value``, else 100 for ``%``, else no bound."""
        row = self.indicators.loc[indicator_id]
        if pd.notna(row["max_value"]):
            return float(row["max_value"])
        return 100.0 if row["unit"] == "%" else None

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in _COLUMNS}


def split_list(cell: object) -> list[str]:
    """Split a ``;``-separated cell into trimmed, non-empty items."""
    if cell is None or (isinstance(cell, float) and pd.isna(cell)):
        return []
    return [part.strip() for part in str(cell).replace("；", ";").split(";") if part.strip()]


def _read(path: Path, root: Path, name: str, problems: ProblemCollector) -> pd.DataFrame | None:
    shown = _shown(path, root)
    if not path.exists():
        problems.add(shown, f"the catalog file {path.name} ({', '.join(_COLUMNS[name])})")
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        problems.add(shown, f"a UTF-8 CSV file with a header row ({exc.__class__.__name__})")
        return None
    frame.columns = [c.strip() for c in frame.columns]
    missing = [c for c in _COLUMNS[name] if c not in frame.columns]
    for col in missing:
        problems.add(shown, "this column in the header row", row=1, column=col, found="(missing)")
    if missing:
        return None
    frame = frame[_COLUMNS[name]].apply(lambda s: s.str.strip())
    frame.attrs["file"] = shown
    for i, rec in enumerate(frame.to_dict("records")):
        for col in _COLUMNS[name]:
            if col not in _OPTIONAL and rec[col] == "":
                problems.add(shown, "a value (this column is required)", row=i + 2, column=col, found="")
    return frame


def _shown(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _check_unique(frame: pd.DataFrame, col: str, problems: ProblemCollector) -> None:
    dup = frame[col].duplicated(keep="first")
    for i in frame.index[dup]:
        problems.add(frame.attrs["file"], "a unique id (it appears on an earlier row)",
                     row=int(i) + 2, column=col, found=frame.at[i, col])


def _check_number(frame: pd.DataFrame, col: str, problems: ProblemCollector, *,
                  integer: bool = False, optional: bool = False) -> None:
    for i, raw in frame[col].items():
        if raw == "" and optional:
            continue
        try:
            value = float(raw)
            ok = value >= 0 and (not integer or value == int(value))
        except ValueError:
            ok = False
        if not ok:
            kind = "a whole number ≥ 0" if integer else "a number ≥ 0"
            problems.add(frame.attrs["file"], kind, row=int(i) + 2, column=col, found=raw)


def _check_choice(frame, col, allowed, problems):
    for i, raw in frame[col].items():
        if raw not in allowed:
            problems.add(frame.attrs["file"], "one of " + ", ".join(allowed),
                         row=int(i) + 2, column=col, found=raw)


def _check_refs(frame, col, known, what, problems, *, is_list=False):
    for i, raw in frame[col].items():
        for ref in (split_list(raw) if is_list else [raw]):
            if ref and ref not in known:
                problems.add(frame.attrs["file"], f"a known {what} id", row=int(i) + 2,
                             column=col, found=ref)


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

    tables: dict[str, pd.DataFrame | None] = {
        name: _read(folder / f"{name}.csv", root, name, problems)
        for name in ("domains", "departments", "report_units", "sources")
    }
    indicator_files = sorted((folder / "indicators").glob("*.csv"))
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
    _check_number(domains, "order", problems, integer=True)
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
        _check_number(part, "en_factor", problems)
        _check_number(part, "decimals", problems, integer=True)
        _check_number(part, "decimals_en", problems, integer=True)
        _check_number(part, "max_value", problems, optional=True)
        _check_refs(part, "reporting_department", set(departments["department_id"]),
                    "department", problems)
        for i, ind in part["indicator_id"].items():
            if ind in seen:
                problems.add(part.attrs["file"], f"a unique indicator id (already defined in {seen[ind]})",
                             row=int(i) + 2, column="indicator_id", found=ind)
            seen.setdefault(ind, part.attrs["file"])
    problems.raise_if_any()

    indicators = pd.concat(parts, ignore_index=True).drop_duplicates("indicator_id")
    for col in ("en_factor", "max_value"):
        indicators[col] = pd.to_numeric(indicators[col].replace("", None), errors="coerce")
    for col in ("decimals", "decimals_en"):
        indicators[col] = indicators[col].astype(int)
    domains = domains.assign(order=domains["order"].astype(int)).sort_values("order")
    return Catalog(
        domains=domains.set_index("domain_id"),
        departments=departments.set_index("department_id"),
        indicators=indicators.set_index("indicator_id"),
        report_units=units.set_index("unit_id"),
        sources=sources.set_index("source_id"),
    )
