"""The readable account of what a build loaded, printed at the end of ``build``."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from .build import CleanResult
from .progress import TargetStatus
from .style import status_label


def editions_table(result: CleanResult) -> Table:
    table = Table(title="Clean data (data/clean/) · 清洗后数据", title_justify="left")
    for col, justify in (("unit 单位", "left"), ("year 年份", "right"), ("files 文件", "right"),
                         ("observations 观测值", "right"), ("actuals 实际值", "right"),
                         ("targets 目标", "right"), ("tasks 任务", "right"), ("written 写入", "left")):
        table.add_column(col, justify=justify)
    for (unit_id, year), ed in sorted(result.editions.items()):
        obs = ed.tables.get("observations")
        tasks = ed.tables.get("tasks")
        count = (lambda m: int((obs["measure"] == m).sum())) if obs is not None else (lambda m: 0)
        table.add_row(unit_id, str(year), str(_input_count(ed)), str(0 if obs is None else len(obs)),
                      str(count("actual")), str(count("target")),
                      "—" if tasks is None else str(len(tasks)),
                      "new" if ed.rewritten else "unchanged")
    return table


def _input_count(edition) -> int:
    from .clean_store import read_manifest
    manifest = read_manifest(edition.folder) or {}
    return len(manifest.get("inputs", []))


def status_table(result: CleanResult, unit_id: str, year: int) -> Table:
    ed = result.editions[(unit_id, year)]
    assessment = ed.tables.get("assessment")
    domains = result.catalog.domains
    statuses = list(TargetStatus)
    table = Table(title=f"Indicator status · 指标完成情况: {unit_id} {year}", title_justify="left")
    table.add_column("domain 领域")
    for s in statuses:
        table.add_column(f"{status_label(s, 'zh')}\n{status_label(s, 'en')}", justify="right")
    totals = dict.fromkeys(statuses, 0)
    for domain_id, row in domains.iterrows():
        if assessment is None:
            break
        sub = assessment[assessment["domain_id"] == domain_id]
        if sub.empty:
            continue
        counts = [int((sub["status"] == s.value).sum()) for s in statuses]
        for s, n in zip(statuses, counts):
            totals[s] += n
        table.add_row(f"{row['name_zh']} {row['name_en']}", *[str(n) if n else "·" for n in counts])
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
