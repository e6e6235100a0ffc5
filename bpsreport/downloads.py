"""The data downloads of an edition: CSV files made to be opened in Excel.

An edition (e.g. 2017) offers three tables, written from the clean data by
:func:`write_edition_downloads`:

==========================  =================================================
file                        made from
==========================  =================================================
``assessment-<year>.csv``   ``data/clean/<unit>/<year>/assessment``
``observations-<year>.csv`` ``data/clean/<unit>/<year>/observations``
``tasks-<year+1>.csv``      ``data/clean/<unit>/<year+1>/tasks`` (the next year's task list)
==========================  =================================================

Each id column is followed by the names in both languages, from the clean catalog:
``domain_id`` by ``domain_name_zh``/``domain_name_en``, ``indicator_id`` by
``indicator_name_zh``/``indicator_name_en`` (and, in the assessment, the ``unit`` the
figures are in), ``status`` by ``status_zh``/``status_en`` (``config/status.yml``), and a
task's ``departments`` and ``indicators`` by their names joined with ``；`` / ``; ``.

The files are UTF-8 with a byte-order mark (so that Excel on a Chinese desktop shows the
Chinese text) and CRLF line ends. Every text cell that Excel or LibreOffice would read as
a formula, i.e. one starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
(or the full-width ``＝＋－＠``), is neutralised as OWASP recommends ("CSV Injection"):
it is prefixed with a single quote, so the program shows it as text. Numbers, negative
ones included, stay numbers: numeric columns are written as numbers, and a text cell
that is just a number (``-2.5``) is not a formula and is left as it is.

The function only reads ``data/clean/`` and the config; it knows nothing of the renderer
that links the files.

Examples
--------
>>> neutralise_formula("=HYPERLINK(\\"http://x\\")")
'\\'=HYPERLINK("http://x")'
>>> neutralise_formula("-2.5")
'-2.5'
>>> neutralise_formula("-2+3")
"'-2+3"
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import yaml

from .catalog import split_list
from .limits import config_file
from bpsreport import yamlio

#: (year offset, clean table, name of the download; ``{year}`` is the edition's year).
EDITION_DOWNLOADS = (
    (0, "assessment", "assessment-{year}.csv"),
    (0, "observations", "observations-{year}.csv"),
    (1, "tasks", "tasks-{next_year}.csv"),
)

# OWASP, CSV Injection: cells starting with these are formulas to a spreadsheet program.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
_LIST_JOIN = {"zh": "；", "en": "; "}


def neutralise_formula(text: str) -> str:
    """``text``, prefixed with ``'`` when a spreadsheet would run it as a formula.

    A cell is a formula when it starts (after spaces or line breaks) with one of
    :data:`FORMULA_STARTS`. A plain number (``-2.5``, ``+1``) is not, and stays as it is.
    """
    if not text:
        return text
    start = text.lstrip(" \n")
    if not start.startswith(FORMULA_STARTS) and not text.startswith(FORMULA_STARTS):
        return text
    if _NUMBER.fullmatch(text):
        return text
    return "'" + text


def write_edition_downloads(root: Path, unit_id: str, year: int, folder: Path) -> list[Path]:
    """Write the edition's download CSVs into ``folder``; return the files written.

    A table that the clean data does not have (no task list for the next year) is left
    out. Each file is written to a temporary name and renamed into place.

    Parameters
    ----------
    root
        The project root (``data/clean/`` and ``config/`` are read from it).
    unit_id, year
        The edition.
    folder
        Where the files go, e.g. ``_site/downloads/2017``; created when missing.
    """
    root, folder = Path(root), Path(folder)
    clean = root / "data" / "clean"
    names = _Names(clean / "catalog", config_file(root, "status.yml"))
    written = []
    for offset, table, pattern in EDITION_DOWNLOADS:
        frame = _read_clean(clean / unit_id / str(year + offset), table)
        if frame is None:
            continue
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / pattern.format(year=year, next_year=year + 1)
        write_excel_csv(download_table(table, frame, names), path)
        written.append(path)
    return written


def download_table(table: str, frame: pd.DataFrame, names: "_Names") -> pd.DataFrame:
    """A clean table with the names of its ids inserted after them."""
    out = frame.copy()
    if "domain_id" in out:
        out = _insert_after(out, "domain_id", {
            f"domain_name_{lang}": out["domain_id"].map(lambda i, lang=lang: names.domain(i, lang))
            for lang in ("zh", "en")})
    if "indicator_id" in out:
        extra = {f"indicator_name_{lang}": out["indicator_id"].map(
            lambda i, lang=lang: names.indicator(i, f"name_{lang}")) for lang in ("zh", "en")}
        if table == "assessment" and "unit" not in out:
            extra["unit"] = out["indicator_id"].map(lambda i: names.indicator(i, "unit"))
        out = _insert_after(out, "indicator_id", extra)
    if "status" in out and table == "assessment":
        out = _insert_after(out, "status", {
            f"status_{lang}": out["status"].map(lambda s, lang=lang: names.status(s, lang))
            for lang in ("zh", "en")})
    for column, lookup in (("departments", names.department), ("indicators", names.indicator_name)):
        if column in out and table == "tasks":
            out = _insert_after(out, column, {
                f"{column}_{lang}": out[column].map(
                    lambda ids, lang=lang, lookup=lookup: _LIST_JOIN[lang].join(
                        lookup(i, lang) for i in split_list(ids)))
                for lang in ("zh", "en")})
    return out


def write_excel_csv(frame: pd.DataFrame, path: Path) -> None:
    """UTF-8 with BOM, CRLF, every text cell neutralised; written atomically."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(
                lambda v: neutralise_formula(v) if isinstance(v, str) else v)
    path = Path(path)
    # Not mkstemp: its 0600 mode would keep a web server from reading the file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
            safe.to_csv(fh, index=False, lineterminator="\r\n")
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _insert_after(frame: pd.DataFrame, column: str, new: dict[str, pd.Series]) -> pd.DataFrame:
    at = list(frame.columns).index(column) + 1
    for offset, (name, values) in enumerate(new.items()):
        frame.insert(at + offset, name, values)
    return frame


def _read_clean(folder: Path, table: str) -> pd.DataFrame | None:
    """A clean table from its Parquet file, or from its CSV twin when only that exists."""
    parquet, csv = folder / f"{table}.parquet", folder / f"{table}.csv"
    if parquet.is_file():
        return pd.read_parquet(parquet)
    if csv.is_file():
        return pd.read_csv(csv, encoding="utf-8-sig", keep_default_na=False,
                           na_values=[""], dtype={"source_sheet": str, "note": str})
    return None


class _Names:
    """Names of the ids in the clean catalog, and the status labels."""

    _KEYS = {"domains": "domain_id", "departments": "department_id", "indicators": "indicator_id"}

    def __init__(self, catalog_dir: Path, status_file: Path):
        self._by_id: dict[str, dict[str, dict]] = {}
        for table, key in self._KEYS.items():
            frame = _read_clean(catalog_dir, table)
            if frame is None:
                raise FileNotFoundError(f"no clean catalog table {table} in {catalog_dir}; "
                                        "run the build")
            self._by_id[table] = {str(r[key]): r for r in frame.to_dict("records")}
        with open(status_file, encoding="utf-8") as fh:
            self._statuses = (yamlio.safe_load(fh) or {}).get("statuses", {})

    def _row(self, table: str, item: str) -> dict:
        try:
            return self._by_id[table][str(item)]
        except KeyError:
            raise ValueError(f"{item!r} is not in the clean catalog's {table}; the clean data "
                             "is out of date, run the build") from None

    def domain(self, domain_id: str, lang: str) -> str:
        return str(self._row("domains", domain_id)[f"name_{lang}"])

    def department(self, department_id: str, lang: str) -> str:
        return str(self._row("departments", department_id)[f"name_{lang}"])

    def indicator(self, indicator_id: str, field: str) -> str:
        return str(self._row("indicators", indicator_id)[field])

    def indicator_name(self, indicator_id: str, lang: str) -> str:
        return self.indicator(indicator_id, f"name_{lang}")

    def status(self, status: str, lang: str) -> str:
        entry = self._statuses.get(status)
        return str(entry[lang]) if entry else ""


__all__ = ["write_edition_downloads", "download_table", "write_excel_csv", "neutralise_formula",
           "EDITION_DOWNLOADS", "FORMULA_STARTS"]
