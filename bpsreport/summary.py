"""The readable account of what a build loaded, printed at the end of ``build``."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .build import CleanResult
from .progress import TargetStatus
from .style import status_label

# The counts behind the tables, per clean edition, keyed by the hash of its manifest (which
# lists the hash of every table written): a build that changed nothing prints its summary
# without reading a table, so it need not load pandas.
SUMMARY_CACHE = "clean-summary.json"


def _sha(path: Path) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


class _Counts:
    def __init__(self, result: CleanResult):
        self.result = result
        folders = [ed.folder for ed in result.editions.values()]
        self.clean = folders[0].parents[1] if folders else None
        self.file = self.clean.parent.parent / "build" / SUMMARY_CACHE if self.clean else None
        try:
            self.saved = json.loads(self.file.read_text(encoding="utf-8")) if self.file else {}
        except (OSError, json.JSONDecodeError):
            self.saved = {}
        self.fresh: dict = {}

    def _cached(self, key: str, stamp: str | None, compute):
        entry = self.saved.get(key)
        if stamp is not None and entry and entry.get("stamp") == stamp:
            value = entry["value"]
        else:
            value = compute()
        self.fresh[key] = {"stamp": stamp, "value": value}
        return value

    def edition(self, ed) -> dict:
        def compute() -> dict:
            obs = ed.tables.get("observations")
            tasks = ed.tables.get("tasks")
            return {"observations": 0 if obs is None else len(obs),
                    "actuals": 0 if obs is None else int((obs["measure"] == "actual").sum()),
                    "targets": 0 if obs is None else int((obs["measure"] == "target").sum()),
                    "tasks": None if tasks is None else len(tasks)}
        return self._cached(f"{ed.unit_id}/{ed.year}", _sha(ed.folder / "manifest.json"), compute)

    def statuses(self, unit_id: str, year: int) -> list[list]:
        ed = self.result.editions[(unit_id, year)]
        domains_file = self.clean / "catalog" / "domains.parquet" if self.clean else None
        manifest, domains = _sha(ed.folder / "manifest.json"), domains_file and _sha(domains_file)
        stamp = None if manifest is None or domains is None else manifest + domains

        def compute() -> list[list]:
            assessment = ed.tables.get("assessment")
            rows = []
            if assessment is None:
                return rows
            for domain_id, row in self.result.catalog.domains.iterrows():
                sub = assessment[assessment["domain_id"] == domain_id]
                if not sub.empty:
                    rows.append([f"{row['name_zh']} {row['name_en']}",
                                 *[int((sub["status"] == s.value).sum()) for s in TargetStatus]])
            return rows
        return self._cached(f"{unit_id}/{year}/status", stamp, compute)

    def save(self) -> None:
        if self.file is None:
            return
        merged = {**self.saved, **self.fresh}
        if merged == self.saved:
            return
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_name(f".{SUMMARY_CACHE}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps(merged, ensure_ascii=False, indent=1, sort_keys=True) + "\n",
                           encoding="utf-8")
            os.replace(tmp, self.file)
        except OSError:  # a read-only checkout: the summary is printed all the same
            pass


def editions_table(result: CleanResult) -> Table:
    table = Table(title="Clean data (data/clean/) · 清洗后数据", title_justify="left")
    for col, justify in (("unit 单位", "left"), ("year 年份", "right"), ("files 文件", "right"),
                         ("observations 观测值", "right"), ("actuals 实际值", "right"),
                         ("targets 目标", "right"), ("tasks 任务", "right"), ("written 写入", "left")):
        table.add_column(col, justify=justify)
    counts = _Counts(result)
    for (unit_id, year), ed in sorted(result.editions.items()):
        c = counts.edition(ed)
        table.add_row(unit_id, str(year), str(_input_count(ed)), str(c["observations"]),
                      str(c["actuals"]), str(c["targets"]),
                      "—" if c["tasks"] is None else str(c["tasks"]),
                      "new" if ed.rewritten else "unchanged")
    counts.save()
    return table


def _input_count(edition) -> int:
    from .clean_store import read_manifest
    manifest = read_manifest(edition.folder) or {}
    return len(manifest.get("inputs", []))


def status_table(result: CleanResult, unit_id: str, year: int) -> Table:
    statuses = list(TargetStatus)
    table = Table(title=f"Indicator status · 指标完成情况: {unit_id} {year}", title_justify="left")
    table.add_column("domain 领域")
    for s in statuses:
        table.add_column(f"{status_label(s, 'zh')}\n{status_label(s, 'en')}", justify="right")
    totals = dict.fromkeys(statuses, 0)
    counts = _Counts(result)
    for name, *numbers in counts.statuses(unit_id, year):
        for s, n in zip(statuses, numbers):
            totals[s] += n
        table.add_row(name, *[str(n) if n else "·" for n in numbers])
    counts.save()
    table.add_section()
    table.add_row("total 合计", *[str(totals[s]) for s in statuses])
    return table


def print_summary(result: CleanResult, unit_id: str, years: Iterable[int],
                  console: Console | None = None) -> None:
    console = console or Console()
    console.print(editions_table(result))
    for year in years:
        if (unit_id, year) in result.editions:
            console.print(status_table(result, unit_id, year))
