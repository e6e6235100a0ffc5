"""Which notebooks of an edition must run: content keys, verified outputs, one state file.

Each notebook run (a domain's, or the overview's) is keyed by what it reads:

- its **slices of the clean data** (:func:`job_slices`): a domain notebook reads its
  domain's rows of the edition year's observations and assessment; the overview reads the
  whole year, every earlier year's observations, the next year's task list and, of the
  next year's assessment, only the targets of the indicators that list links (the 2017
  edition prints the 2018 tasks and their targets, not the 2018 actuals);
- the **catalog rows** those slices use (their indicators, domains, report unit and the
  documents they cite; the overview also every cross-cutting indicator and the
  departments of its tasks);
- the **template** and the job's **parameters**;
- the **code and configuration** its kernel used, as the kernel's trace recorded them
  (:mod:`bpsreport.kernels`): the ``bpsreport`` modules it had loaded and the project
  files it read (``config/status.yml``, ``labels.yml``, ``fonts.yml``);
- the Python version, the pipeline version and ``requirements.lock`` (the pinned
  packages that draw the charts). The installed CJK font is not part of the key: after a
  font upgrade, delete ``build/<unit>/<year>/notebooks-state.json``.

A run is reused only when its key is unchanged **and** every output it wrote (the
executed notebook, its charts and tables, from the trace) still has the hash recorded
when it finished. A missing, emptied or truncated output makes it run again. The state
file is rewritten after the runs, naming only runs that finished; a failed or killed run
is absent from it, so it runs next time.

Checking the state reads only file hashes: pandas is imported only when a clean file
that feeds some slice changed, to see whether the slice itself changed (another
department's rows changing a shared table does not re-run this domain).

    build/<unit_id>/<year>/notebooks-state.json
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__

STATE_FILE = "notebooks-state.json"
STATE_FORMAT = 2
CROSS_CUTTING = "cross_cutting"
CATALOG_TABLES = ("domains", "departments", "indicators", "report_units", "sources")
_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def _hash_or_none(path: Path) -> str | None:
    try:
        return sha256_of(path)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None


def _digest(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False,
                                     default=str).encode()).hexdigest()


# --- what a job reads from data/clean -----------------------------------------------------

def _years_up_to(unit_dir: Path, year: int) -> list[int]:
    if not unit_dir.is_dir():
        return []
    return sorted(int(p.name) for p in unit_dir.iterdir()
                  if p.name.isdigit() and int(p.name) <= year
                  and (p / "observations.parquet").exists())


def job_sources(clean_dir: Path, unit_id: str, year: int, domain_id: str | None) -> list[Path]:
    """The clean files a job's slices are cut from (all of them are hashed, cheaply)."""
    clean_dir = Path(clean_dir)
    unit_dir = clean_dir / unit_id
    files = [clean_dir / "catalog" / f"{name}.parquet" for name in CATALOG_TABLES]
    files += [unit_dir / str(year) / "observations.parquet",
              unit_dir / str(year) / "assessment.parquet"]
    if domain_id is None:
        files += [unit_dir / str(y) / "observations.parquet"
                  for y in _years_up_to(unit_dir, year) if y != year]
        files += [unit_dir / str(year + 1) / "tasks.parquet",
                  unit_dir / str(year + 1) / "assessment.parquet"]
    return files


def notebooks_planning_files(clean_dir: Path) -> list[Path]:
    """What :func:`bpsreport.notebooks.plan_edition_jobs` decides the job list from."""
    package = Path(__file__).resolve().parent
    return [Path(clean_dir) / "catalog" / "domains.parquet", package / "notebooks.py",
            package / "notebook_cache.py"]


def _read(path: Path):
    import pandas as pd

    return pd.read_parquet(path) if path.exists() else None


def _source_docs(*frames_and_columns) -> set[str]:
    """Document numbers cited in these columns (``"粤财办〔2018〕6号 一(二)8(1)"`` → the number)."""
    docs: set[str] = set()
    for frame, columns in frames_and_columns:
        if frame is None:
            continue
        for column in columns:
            if column in frame.columns:
                for value in frame[column].dropna():
                    text = str(value).strip()
                    if text:
                        docs.add(text.split(None, 1)[0])
    return docs


def _ids(frame, column: str) -> set[str]:
    if frame is None or column not in frame.columns:
        return set()
    return {str(v) for v in frame[column].dropna()}


def _split(cell) -> list[str]:
    if cell is None or (isinstance(cell, float) and cell != cell):
        return []
    return [p.strip() for p in str(cell).replace("；", ";").split(";") if p.strip()]


def _catalog_rows(clean_dir: Path, unit_id: str, *, domains: set[str] | None,
                  indicators: set[str], departments: set[str], docs: set[str],
                  cross_cutting: bool = False) -> dict:
    """The rows of the clean catalog a job uses (``None``: the whole table)."""
    folder = Path(clean_dir) / "catalog"
    tables = {name: _read(folder / f"{name}.parquet") for name in CATALOG_TABLES}
    out = {}
    dom = tables["domains"]
    out["domains"] = dom if domains is None or dom is None else dom[dom.iloc[:, 0].isin(domains)]
    ind = tables["indicators"]
    if ind is not None:
        keep = ind.iloc[:, 0].isin(indicators)
        if cross_cutting:  # the funding and satisfaction charts look those up by id
            keep |= ind["domain_id"].eq(CROSS_CUTTING)
        ind = ind[keep]
    out["indicators"] = ind
    dep = tables["departments"]
    out["departments"] = dep if dep is None else dep[dep.iloc[:, 0].isin(departments)]
    units = tables["report_units"]
    if units is not None:  # the unit's own row, and which unit is the default one
        units = units[units.iloc[:, 0].eq(unit_id) | units["is_default"].eq("yes")]
    out["report_units"] = units
    src = tables["sources"]
    if src is not None and "doc_number" in src.columns:
        src = src[src["doc_number"].astype(str).isin(docs)]
    out["sources"] = src
    return {f"catalog.{k}": v for k, v in out.items()}


def job_slices(clean_dir: Path, unit_id: str, year: int, domain_id: str | None) -> dict:
    """What one notebook reads of ``data/clean``: named DataFrames (``None`` when absent).

    ``domain_id=None`` is the overview. See the module docstring for what each reads;
    ``tests/test_notebook_cache.py`` runs the notebooks' cells on these slices alone and
    checks that every chart and table comes out identical to a run on the full data.
    """
    clean_dir = Path(clean_dir)
    unit_dir = clean_dir / unit_id
    folder = unit_dir / str(year)
    obs, assessment = _read(folder / "observations.parquet"), _read(folder / "assessment.parquet")
    if domain_id is not None:
        obs_d = obs if obs is None else obs[obs["domain_id"] == domain_id]
        ass_d = assessment if assessment is None else assessment[assessment["domain_id"] == domain_id]
        slices = {
            "observations": obs_d,
            "assessment": ass_d,
            # The target table takes its title's year and unit from the whole assessment.
            "assessment.year_unit": None if assessment is None
            else sorted({(str(u), int(y)) for u, y in zip(assessment["unit_id"], assessment["year"])}),
        }
        slices.update(_catalog_rows(
            clean_dir, unit_id, domains={domain_id},
            indicators=_ids(obs_d, "indicator_id") | _ids(ass_d, "indicator_id"),
            departments=set(),
            docs=_source_docs((obs_d, ["source"]), (ass_d, ["actual_source", "target_source"]))))
        return slices

    earlier = {y: _read(unit_dir / str(y) / "observations.parquet")
               for y in _years_up_to(unit_dir, year) if y != year}
    nxt = unit_dir / str(year + 1)
    tasks = _read(nxt / "tasks.parquet")
    next_assessment = _read(nxt / "assessment.parquet")
    linked = {i for cell in ([] if tasks is None else tasks["indicators"]) for i in _split(cell)}
    task_targets = None
    if next_assessment is not None:
        task_targets = {  # the task table's title takes its year and unit from here
            "years": sorted({int(y) for y in next_assessment["year"]}),
            "units": sorted({str(u) for u in next_assessment["unit_id"]}),
            "targets": next_assessment[next_assessment["indicator_id"].isin(linked)][
                ["indicator_id", "target", "target_type"]],
        }
    indicators = (_ids(obs, "indicator_id") | _ids(assessment, "indicator_id") | linked
                  | {i for frame in earlier.values() for i in _ids(frame, "indicator_id")})
    departments = {d for cell in ([] if tasks is None else tasks["departments"]) for d in _split(cell)}
    slices = {"observations": obs, "assessment": assessment, "tasks_next_year": tasks,
              "task_targets_next_year": task_targets}
    slices.update({f"observations.{y}": frame for y, frame in earlier.items()})
    slices.update(_catalog_rows(
        clean_dir, unit_id, domains=None, indicators=indicators, departments=departments,
        docs=_source_docs((obs, ["source"]), (assessment, ["actual_source", "target_source"]),
                          (tasks, ["source"]), *((f, ["source"]) for f in earlier.values())),
        cross_cutting=True))
    return slices


def slices_digest(slices: dict) -> str:
    """A hash of the slices' content: column names, dtypes and every value, in row order."""
    import pandas as pd

    digest = hashlib.sha256()

    def feed(name: str, value) -> None:
        digest.update(f"\0{name}\0".encode())
        if value is None:
            digest.update(b"<absent>")
        elif isinstance(value, pd.DataFrame):
            digest.update(json.dumps([list(map(str, value.columns)),
                                      [str(t) for t in value.dtypes]]).encode())
            digest.update(value.to_csv(index=False, lineterminator="\n").encode())
        elif isinstance(value, dict):
            for key in sorted(value):
                feed(f"{name}.{key}", value[key])
        else:
            digest.update(json.dumps(value, default=str, ensure_ascii=False).encode())

    for name in sorted(slices):
        feed(name, slices[name])
    return digest.hexdigest()


# --- the state ------------------------------------------------------------------------------

def _environment() -> dict:
    lock = _PACKAGE_ROOT / "requirements.lock"
    return {"python": sys.version.split()[0], "bpsreport": __version__,
            "requirements.lock": _hash_or_none(lock)}


@dataclass
class JobView:
    """What the cache needs of a notebook job (a :class:`bpsreport.notebooks.NotebookJob`)."""

    name: str
    domain_id: str | None
    template_path: Path
    output_path: Path
    parameters: dict


@dataclass
class CachePlan:
    """The outcome of :meth:`NotebookCache.plan`: which jobs run, which are reused."""

    run: list = field(default_factory=list)
    reused: list = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)


class NotebookCache:
    """The notebook state of one edition: load, decide, record.

    Paths in the state file are relative to the project root (the file is the same in
    any copy of the project); code outside it (an installed package) keeps its path.
    """

    def __init__(self, root: Path, unit_id: str, year: int, build_dir: Path):
        self.root = Path(root).resolve()
        self.unit_id, self.year = unit_id, int(year)
        self.clean_dir = self.root / "data" / "clean"
        self.state_file = Path(build_dir) / STATE_FILE
        self.environment = _environment()
        try:
            self._saved_text = self.state_file.read_text(encoding="utf-8")
            saved = json.loads(self._saved_text)
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            self._saved_text, saved = None, {}
        if saved.get("format") != STATE_FORMAT or saved.get("environment") != self.environment:
            saved = {}
        self.entries: dict[str, dict] = dict(saved.get("notebooks", {}))
        self._saved_plan = saved.get("plan")
        self._saved_jobs = saved.get("jobs")

    # paths as the state file writes them
    def _shown(self, path: Path) -> str:
        path = Path(path).resolve()
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def _path(self, shown: str) -> Path:
        p = Path(shown)
        return p if p.is_absolute() else self.root / p

    def _fixed_key(self, job) -> str:
        return _digest({"template": sha256_of(job.template_path),
                        "parameters": dict(job.parameters), "name": job.name})

    def _sources(self, job) -> dict[str, str | None]:
        return {self._shown(p): _hash_or_none(p)
                for p in job_sources(self.clean_dir, self.unit_id, self.year, job.domain_id)}

    def _files_unchanged(self, recorded: dict[str, str]) -> bool:
        return all(_hash_or_none(self._path(p)) == h for p, h in recorded.items())

    def plan(self, jobs) -> CachePlan:
        """Split ``jobs`` into those to run and those whose recorded outputs stand."""
        plan = CachePlan()
        for job in jobs:
            reason = self._stale_reason(job)
            if reason:
                plan.run.append(job)
                plan.reasons[job.name] = reason
            else:
                plan.reused.append(job)
        return plan

    def _stale_reason(self, job) -> str:
        entry = self.entries.get(job.name)
        if entry is None:
            return "not run before"
        if entry.get("fixed") != self._fixed_key(job):
            return "template or parameters changed"
        if not self._files_unchanged(entry.get("code", {})):
            return "code or configuration changed"
        outputs = entry.get("outputs", {})
        if self._shown(job.output_path) not in outputs or not self._files_unchanged(outputs):
            return "an output is missing or not as written"
        sources = self._sources(job)
        if sources != entry.get("sources"):
            slices = slices_digest(job_slices(self.clean_dir, self.unit_id, self.year, job.domain_id))
            if slices != entry.get("slices"):
                return "its data changed"
            entry["sources"] = sources  # other rows of a shared file changed: still current
        return ""

    def forget(self, names) -> None:
        for name in names:
            self.entries.pop(name, None)

    def record(self, job, trace) -> None:
        """Remember a finished run: its key and the hash of every output it wrote."""
        if trace is None:  # nothing attributes its outputs: run it again next time
            self.entries.pop(job.name, None)
            return
        build_dir = self.state_file.parent.resolve()
        outputs = {self._shown(job.output_path): sha256_of(job.output_path)}
        for written in trace.writes:
            path = Path(written)
            if path.is_file() and build_dir in path.parents:
                outputs[self._shown(path)] = sha256_of(path)
        # What it read besides the clean data (keyed by slices) and the build's own outputs
        # (a chart is read back to embed it): its code and configuration.
        build_root = self.root / "build"
        code = {self._shown(Path(p)): _hash_or_none(Path(p))
                for p in [*trace.modules, *trace.reads]
                if not (Path(p).resolve().is_relative_to(self.clean_dir)
                        or Path(p).resolve().is_relative_to(build_root))}
        self.entries[job.name] = {
            "fixed": self._fixed_key(job),
            "sources": self._sources(job),
            "slices": slices_digest(job_slices(self.clean_dir, self.unit_id, self.year, job.domain_id)),
            "code": dict(sorted(code.items())),
            "outputs": dict(sorted(outputs.items())),
        }

    # The job list depends on the catalog's domains and on the planning code only: a build
    # that finds both unchanged takes the jobs from the state, without importing pandas.
    def _plan_stamp(self) -> dict:
        return {self._shown(p): _hash_or_none(p) for p in notebooks_planning_files(self.clean_dir)}

    def recorded_jobs(self) -> list[JobView] | None:
        """The jobs of the last run, when the catalog and planning code are unchanged."""
        if not self._saved_jobs or self._saved_plan != self._plan_stamp():
            return None
        return [JobView(j["name"], j["domain_id"], self._path(j["template"]),
                        self._path(j["output"]), dict(j["parameters"])) for j in self._saved_jobs]

    def save(self, jobs) -> bool:
        """Write the state (atomically) for these jobs; False when it was already so."""
        names = {job.name for job in jobs}
        entries = {n: self.entries[n] for n in sorted(names) if n in self.entries}
        data = {"format": STATE_FORMAT, "environment": self.environment, "notebooks": entries,
                "plan": self._plan_stamp(),
                "jobs": [{"name": j.name, "domain_id": j.domain_id,
                          "template": self._shown(j.template_path),
                          "output": self._shown(j.output_path),
                          "parameters": dict(j.parameters)} for j in jobs]}
        text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        if self._saved_text == text:
            return False
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.state_file)
        self._saved_text = text
        return True
