"""The documented limits on raw files, and the plausible range of every indicator.

Two config files, both explained line by line where they are:

- ``config/limits.yml``: file size, rows, cell size, decompressed XLSX size, the range of
  year folders and the largest absolute value any figure may have (:class:`Limits`);
- ``config/value_ranges.yml``: the plausible range of an indicator by its unit
  (:class:`ValueRanges`); ``max_value`` in the catalog overrides it for one indicator.

A project without its own ``config/`` folder (a test fixture holding only ``data/raw/``)
uses the pipeline's own files. A config file that cannot be read, or that holds a value
that is not a positive number, is an input problem (exit 2) naming the key.

Examples
--------
>>> limits = load_limits(Path("."))                 # doctest: +SKIP
>>> limits.max_file_bytes
10000000
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import ProblemCollector
from bpsreport import yamlio

LIMITS_FILE = "limits.yml"
RANGES_FILE = "value_ranges.yml"
_PIPELINE_CONFIG = Path(__file__).resolve().parent.parent / "config"


@dataclass(frozen=True)
class Limits:
    """What one raw file may hold (``config/limits.yml``); see that file for each key."""

    max_file_bytes: int
    max_rows: int
    max_cell_chars: int
    max_xlsx_uncompressed_bytes: int
    max_xlsx_parts: int
    max_xlsx_ratio: float
    ratio_checked_from: int
    first_year: int
    last_year: int
    max_abs_value: float
    source: str = "config/limits.yml"

    def year_ok(self, year: int) -> bool:
        return self.first_year <= year <= self.last_year

    def years_words(self) -> str:
        return f"a year from {self.first_year} to {self.last_year} ({self.source}, years)"


@dataclass(frozen=True)
class Range:
    low: float
    high: float


@dataclass(frozen=True)
class ValueRanges:
    """Plausible values by catalog unit (``config/value_ranges.yml``)."""

    default: Range
    completion_rate: Range
    units: dict[str, Range] = field(default_factory=dict)
    source: str = "config/value_ranges.yml"

    def for_unit(self, unit: str) -> tuple[Range, bool]:
        """The range of a unit, and whether the unit has an entry of its own."""
        if unit in self.units:
            return self.units[unit], True
        return self.default, False


def config_file(root: Path | None, name: str) -> Path:
    """``<root>/config/<name>`` when the project has one, else the pipeline's own."""
    if root is not None:
        own = Path(root) / "config" / name
        if own.is_file():
            return own
    return _PIPELINE_CONFIG / name


_CACHE: dict[tuple, object] = {}


def _cached(path: Path, parse):
    """Parse a config file once per content (tests write their own)."""
    try:
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size, parse.__name__)
    except OSError:
        key = (str(path), None, None, parse.__name__)
    if key not in _CACHE:
        _CACHE[key] = parse(path)
    return _CACHE[key]


def load_limits(root: Path | None) -> Limits:
    """The limits of ``<root>/config/limits.yml`` (or the pipeline's own)."""
    return _cached(config_file(root, LIMITS_FILE), _parse_limits)


def load_value_ranges(root: Path | None) -> ValueRanges:
    """The ranges of ``<root>/config/value_ranges.yml`` (or the pipeline's own)."""
    return _cached(config_file(root, RANGES_FILE), _parse_ranges)


def _read_yaml(path: Path, problems: ProblemCollector, shown: str) -> dict:
    try:
        data = yamlio.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        problems.add(shown, "a readable YAML file as shipped with the pipeline",
                     found=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        problems.raise_if_any()
    if not isinstance(data, dict):
        problems.add(shown, "a YAML mapping of settings", found=type(data).__name__)
        problems.raise_if_any()
    return data


def _number(data: dict, key: str, problems: ProblemCollector, shown: str, *,
            integer: bool = True, minimum: float = 1) -> float:
    node: object = data
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    try:
        value = float(node)  # type: ignore[arg-type]
        ok = math.isfinite(value) and value >= minimum and (not integer or value.is_integer())
    except (TypeError, ValueError):
        ok = False
    if not ok:
        kind = "a whole number" if integer else "a number"
        problems.add(shown, f"{kind} ≥ {minimum:g} for {key}", found=node)
        return 0
    return int(value) if integer else value


def _shown(path: Path) -> str:
    return f"config/{path.name}"


def _parse_limits(path: Path) -> Limits:
    shown, problems = _shown(path), ProblemCollector()
    data = _read_yaml(path, problems, shown)
    n = lambda key, **kw: _number(data, key, problems, shown, **kw)  # noqa: E731
    limits = Limits(
        max_file_bytes=n("files.max_bytes"),
        max_rows=n("tables.max_rows"),
        max_cell_chars=n("tables.max_cell_chars"),
        max_xlsx_uncompressed_bytes=n("xlsx.max_uncompressed_bytes"),
        max_xlsx_parts=n("xlsx.max_parts"),
        max_xlsx_ratio=n("xlsx.max_compression_ratio", integer=False),
        ratio_checked_from=n("xlsx.ratio_checked_from", minimum=0),
        first_year=n("years.first"),
        last_year=n("years.last"),
        max_abs_value=n("values.max_abs", integer=False),
        source=shown,
    )
    if not problems.problems and limits.first_year > limits.last_year:
        problems.add(shown, "years.first no later than years.last",
                     found=f"{limits.first_year} > {limits.last_year}")
    problems.raise_if_any()
    return limits


def _range(node: object, where: str, problems: ProblemCollector, shown: str,
           fallback_low: float = 0) -> Range:
    if not isinstance(node, dict) or "max" not in node:
        problems.add(shown, f"{{min: ..., max: ...}} for {where} (max is required)", found=node)
        return Range(0, 0)
    low = _number({"v": node.get("min", fallback_low)}, "v", problems, shown, integer=False,
                  minimum=-math.inf)
    high = _number({"v": node["max"]}, "v", problems, shown, integer=False, minimum=0)
    if high <= low:
        problems.add(shown, f"min below max for {where}", found=f"{low:g} .. {high:g}")
    return Range(low, high)


def _parse_ranges(path: Path) -> ValueRanges:
    shown, problems = _shown(path), ProblemCollector()
    data = _read_yaml(path, problems, shown)
    default = _range(data.get("default"), "default", problems, shown)
    rate = _range(data.get("completion_rate"), "completion_rate", problems, shown)
    units_node = data.get("units") or {}
    if not isinstance(units_node, dict):
        problems.add(shown, "a mapping unit → {min, max} under units", found=type(units_node).__name__)
        units_node = {}
    units = {str(unit): _range(node, f"unit {unit}", problems, shown, fallback_low=default.low)
             for unit, node in units_node.items()}
    problems.raise_if_any()
    return ValueRanges(default=default, completion_rate=rate, units=units, source=shown)


__all__ = ["Limits", "Range", "ValueRanges", "load_limits", "load_value_ranges", "config_file"]
