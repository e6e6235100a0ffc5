"""Command line: ``python pipeline.py <command>``; the exit codes are listed in the README.

Each command is a thin layer over a package function:

=========  ===============================================  ==============================
command    does                                              calls
=========  ===============================================  ==============================
build      validate data/raw, notebooks, site and PDFs       :func:`run_build`
check      list problems before publication (read-only)     :func:`bpsreport.check.run_checks`
new-year   start next year's edition (never overwrites)     :func:`bpsreport.edition.new_year`
preview    serve the site locally, rebuild on change        :mod:`bpsreport.preview`
validate   check data/raw only; writes nothing              :func:`bpsreport.ingest.ingest_all`
=========  ===============================================  ==============================

What is printed, at which level, and the build log are in :mod:`bpsreport.progress_display`.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from . import __version__
from .errors import InputValidationError, PipelineError
from .paths import ProjectPaths
from .progress_display import NORMAL, QUIET, VERBOSE, Reporter, console_for, log_path_for

EXIT_OK = 0
EXIT_UNEXPECTED = 1      # a bug: short message + log path (traceback with --verbose)
EXIT_INPUT = 2           # problems in data/raw, config or the report sources' data
EXIT_SETUP = 3           # packages, Jupyter kernel, fonts, Quarto requested but missing
EXIT_NOTEBOOK = 4        # a notebook failed (the others finished)
EXIT_RENDER = 5          # the site or a PDF could not be rendered
EXIT_CHECK = 6           # `check` found problems that block publication
EXIT_BUSY = 7            # another build of the project holds the lock (--no-wait)
EXIT_INTERRUPTED = 130   # Ctrl-C

EXIT_CODES = {
    EXIT_OK: "success",
    EXIT_UNEXPECTED: "unexpected error (a bug): a short message and the log path",
    EXIT_INPUT: "the input data has problems (file, sheet, row, column are listed)",
    EXIT_SETUP: "setup problem: packages, Jupyter kernel, fonts, or Quarto requested but missing",
    EXIT_NOTEBOOK: "a notebook failed; the others finished",
    EXIT_RENDER: "rendering the site or a PDF failed; the previous output is unchanged",
    EXIT_CHECK: "check found problems that block publication",
    EXIT_BUSY: "another build of this project is running and --no-wait was given",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C)",
}


class SetupProblem(PipelineError):
    """Something to install or configure before the command can run."""

    exit_code = EXIT_SETUP


class NoEditionYear(PipelineError):
    exit_code = EXIT_INPUT


class DraftRefused(PipelineError):
    """``build --final`` while ``check`` still reports errors (they are listed first)."""

    exit_code = EXIT_CHECK


# --- the parser ---------------------------------------------------------------------------

DESCRIPTION = """\
Guangdong basic public services equalization report: from department data to a
bilingual website and PDFs.
广东省基本公共服务均等化工作总结：由部门数据生成中英文网站和PDF。

The commands you need, in this order · 常用命令（按顺序）:
  1. build      validate data/raw/ and build the site and the PDFs
                校验数据，生成网站和PDF
  2. check      before handing in: list what is missing or wrong, with file:line
                提交前检查：列出缺漏和错误（文件:行）
  3. new-year   when next year starts: create its report files and department templates
                开始新一年：生成报告文件和部门填报模板

Also: preview (a local site that rebuilds when you save a file · 本地预览) and
validate (check data/raw/ only · 仅校验数据).
Run `pipeline.py COMMAND --help` for the options of one command."""

EPILOG = """\
examples · 示例:
  ./run build 2017                          set up everything, then build 2017 · 安装并生成2017年版
  python pipeline.py build --year 2017      build the 2017 edition · 生成2017年版
  python pipeline.py build --quiet          only warnings, errors and the last line · 仅显示警告和错误
  python pipeline.py check --year 2018      list problems in the 2018 edition · 检查2018年版
  python pipeline.py new-year 2018          start the 2018 edition · 开始2018年版
  python pipeline.py preview                open http://127.0.0.1:8000/ in a browser · 本地预览
  python pipeline.py validate               check data/raw/ only; writes nothing · 仅校验数据

exit codes · 退出码:
  0 ok · 1 unexpected error (see the log) · 2 input data problems · 3 setup problem
  4 a notebook failed · 5 rendering failed · 6 check found problems that block
  publication · 7 another build is running (--no-wait) · 130 interrupted (Ctrl-C)

Every build writes a full log to build/logs/build-<unit>-<year>-<time>.log.
One build at a time: a second build, new-year or preview rebuild waits for the first
(or exits with 7 given --no-wait) · 同一项目一次只运行一个构建."""


def _output_options() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_mutually_exclusive_group()
    group.add_argument("-q", "--quiet", dest="level", action="store_const", const=QUIET,
                       help="show only warnings, errors and the final line · 仅显示警告、错误和结果")
    group.add_argument("-v", "--verbose", dest="level", action="store_const", const=VERBOSE,
                       help="also show every file read and every page rendered, and the "
                            "traceback of an unexpected error · 显示详细过程")
    parent.set_defaults(level=NORMAL)
    return parent


def _edition_options(year_help: str) -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--year", type=int, default=None, metavar="YEAR", help=year_help)
    parent.add_argument("--unit", default=None, metavar="UNIT",
                        help="report unit id from data/raw/catalog/report_units.csv "
                             "(default: the province, gd-province) · 报告单位")
    return parent


_RENDERER_HELP = ("auto (default): real Quarto when installed, else the built-in renderer "
                  "(pandoc + Typst); quarto: require Quarto (exit 3 when missing); builtin: "
                  "never use Quarto · 渲染方式")


# Per command: one-line help, description (English, then Chinese) and examples.
COMMANDS = {
    "build": (
        "validate data/raw/ and build the site and PDFs · 生成网站和PDF",
        "Validate every file in data/raw/, write data/clean/, run the notebooks (charts and "
        "tables), write the data variables, and render the site (_site/) and the PDFs "
        "(build/<unit>/<year>/pdf/). Stages whose inputs did not change are skipped. The "
        "edition is checked first (as pipeline.py check): while errors remain it is a draft, "
        "marked on every page, and the last line says so; --final refuses to build a draft. "
        "A full log is written to build/logs/.",
        "校验数据，运行图表笔记本，生成网站和PDF；仍有错误时为征求意见稿，--final 拒绝生成；完整日志见 build/logs/。",
        "examples:\n  python pipeline.py build --year 2017\n"
        "  python pipeline.py build --year 2018 --final\n"
        "  python pipeline.py build --year 2017 --renderer builtin --verbose"),
    "check": (
        "list problems before handing in (read-only) · 提交前检查",
        "Validate and resolve everything the build would, on the files as they are now, and "
        "list every problem grouped by file, with the line or row: invalid data in data/raw "
        "and the department workbooks, unknown data variables, figures no text cites, a "
        "section missing in one language, typed numbers that contradict the data, markup "
        "typed full-width or pasted from Word, tasks without a status, TODO markers. Ends "
        "with a count per kind. Writes nothing. Exit code 6 when an error blocks "
        "publication, 0 otherwise (warnings do not block).",
        "按文件逐条列出问题（行号）并按类型计数；有错误时退出码为6。--department 只显示本部门的问题。",
        "examples:\n  python pipeline.py check --year 2018\n"
        "  python pipeline.py check --year 2018 --department hrss"),
    "new-year": (
        "start next year's edition from the current one · 开始新一年",
        "Create reports/YEAR/{zh,en}/ from templates/edition/ (each domain's narrative lists "
        "that year's tasks and is wired to the data variables), a config/edition.yml entry, "
        "and one XLSX submission template per department in submissions/YEAR/. Never "
        "overwrites a file: run it again and it lists what already exists.",
        "生成新年度的报告文件、配置和部门填报模板；不会覆盖已有文件。",
        "example:\n  python pipeline.py new-year 2018\n"
        "then hand out submissions/2018/<department>.xlsx; filled copies go, unchanged, to\n"
        "data/raw/submissions/<unit>/2018/"),
    "preview": (
        "serve the site on this computer and rebuild on change · 本地预览",
        "Build, then serve _site/ at http://127.0.0.1:PORT/ and rebuild whenever a .qmd file "
        "under reports/, a file in data/raw/ or in config/ changes. With Quarto installed, "
        "`quarto preview --profile zh --no-browser --port PORT` serves and re-renders the "
        "pages instead. Stop with Ctrl-C.",
        "本地预览：保存文件后自动重新生成；按 Ctrl-C 退出。",
        "example:\n  python pipeline.py preview --year 2018 --port 8080"),
    "validate": (
        "check data/raw/ only and list every problem; writes nothing · 仅校验数据",
        "Validate every file in data/raw/ and list every problem with file, sheet, row and "
        "column. Writes nothing.",
        "校验 data/raw/ 中的所有文件并列出全部问题；不写入任何文件。",
        "example:\n  python pipeline.py validate"),
}


def build_parser() -> argparse.ArgumentParser:
    import textwrap

    fmt = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(prog="pipeline.py", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=fmt)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        metavar="DIR", help="project folder (default: this checkout) · 项目目录")
    parser.add_argument("--version", action="version", version=f"bpsreport {__version__}",
                        help="show the pipeline version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    out = _output_options()
    year = "summary year of the edition (default: the newest year folder in reports/) · 年度"
    parents = {"build": [out, _edition_options(year)], "check": [out, _edition_options(year)],
               "new-year": [out], "preview": [out, _edition_options(year)], "validate": [out]}
    commands = {}
    for name, (short, english, chinese, examples) in COMMANDS.items():
        commands[name] = sub.add_parser(
            name, parents=parents[name], formatter_class=fmt, help=short, epilog=examples,
            description=textwrap.fill(english, width=78) + "\n" + chinese)

    commands["build"].add_argument("--renderer", choices=("auto", "quarto", "builtin"),
                                   default="auto", help=_RENDERER_HELP)
    for name in ("build", "new-year"):
        commands[name].add_argument(
            "--wait", action=argparse.BooleanOptionalAction, default=True,
            help="when another build of this project is running: wait for it to finish "
                 "(default), or with --no-wait exit at once with code 7 · 另一个构建运行时等待"
                 "（默认）或立即退出")
    commands["build"].add_argument("--final", action="store_true",
                                   help="the publication build: refuse (exit 6, listing them) "
                                        "while check reports errors; without it an edition with "
                                        "errors is built as a draft, marked on every page · 定稿")
    commands["new-year"].add_argument("year", type=int, metavar="YEAR",
                                      help="summary year of the new edition, e.g. 2018 · 新年度")
    commands["new-year"].add_argument("--unit", default=None, metavar="UNIT",
                                      help="report unit id (default: the province) · 报告单位")
    commands["check"].add_argument("--department", default=None, metavar="ID",
                                   help="show only what this department must fix: its workbook, "
                                        "the narrative files it edits, its tasks and figures "
                                        "(a department id, e.g. hrss) · 仅显示本部门的问题")
    commands["preview"].add_argument("--port", type=int, default=8000,
                                     help="port on 127.0.0.1 (default 8000; 0 picks a free one) "
                                          "· 端口")
    commands["preview"].add_argument("--renderer", choices=("auto", "quarto", "builtin"),
                                     default="auto", help=_RENDERER_HELP)
    return parser


# --- exit codes -----------------------------------------------------------------------------

def exit_code_for(exc: BaseException) -> int:
    """The documented exit code of an exception (see :data:`EXIT_CODES`)."""
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    try:  # a missing font for the PDF is a setup problem, like a missing chart font
        from .render.pdf import PdfFontMissing
        if isinstance(exc, PdfFontMissing):
            return EXIT_SETUP
    except Exception:  # noqa: BLE001 - the PDF renderer itself may be what is missing
        pass
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] != "bpsreport":
        return EXIT_SETUP
    if isinstance(exc, PipelineError):
        code = getattr(exc, "exit_code", EXIT_UNEXPECTED)
        return code if code in EXIT_CODES else EXIT_UNEXPECTED
    return EXIT_UNEXPECTED


def report_failure(rep: Reporter, exc: BaseException, paths: ProjectPaths) -> int:
    """Say what went wrong, in words a clerk can act on; return the exit code."""
    code = exit_code_for(exc)
    log = rep.shown_log_path(paths.root)
    if isinstance(exc, InputValidationError):
        _print_problems(rep, exc)
    elif isinstance(exc, KeyboardInterrupt):
        rep.error("Interrupted · 已中断. Outputs of finished stages are kept; the previous "
                  "site and PDFs are unchanged.")
    elif code == EXIT_SETUP and isinstance(exc, ModuleNotFoundError):
        rep.error(f"Setup problem · 环境问题: the package {exc.name!r} is not installed. "
                  "Run ./run setup and try again.")
    elif isinstance(exc, PipelineError):
        rep.error(f"Error · 错误: {exc}")
    else:
        rep.error(f"Unexpected error · 意外错误: {type(exc).__name__}: {_first_line(exc)}")
        rep.error("This is a bug in the pipeline, not in your data. "
                  + (f"The traceback is in the log: {log}. " if log else "")
                  + ("" if rep.level >= VERBOSE else "Run again with --verbose to see it here."))
    if not isinstance(exc, (PipelineError, KeyboardInterrupt)):
        rep.exception(exc)
    if log:
        rep.error(f"Full log · 完整日志: {log}")
    return code


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


def _print_problems(rep: Reporter, err: InputValidationError) -> None:
    from rich.table import Table
    table = Table(title=f"{len(err.problems)} problem(s) in the input data · 输入数据问题",
                  title_justify="left", show_lines=False)
    for col in ("file 文件", "sheet 工作表", "row 行", "column 列", "found 实际值", "expected 应为"):
        table.add_column(col, overflow="fold")
    for p in err.problems:
        table.add_row(p.file, p.sheet or "—", "—" if p.row is None else str(p.row),
                      p.column or "—", "—" if p.found is None else repr(p.found), p.expected)
    rep.error(table)
    rep.error("Nothing was written to data/clean/. Fix the files above and run the build again.\n"
              "未写入任何清洗数据。请修改上述文件后重新运行。")


# --- defaults -------------------------------------------------------------------------------

def default_year(paths: ProjectPaths) -> int:
    """The newest edition: the highest 4-digit folder in reports/."""
    years = sorted(int(p.name) for p in (paths.root / "reports").glob("*")
                   if p.is_dir() and re.fullmatch(r"\d{4}", p.name))
    if not years:
        raise NoEditionYear(f"There is no edition in {paths.shown(paths.root / 'reports')}/; "
                            "give the year with --year, or start one with `pipeline.py new-year "
                            "YEAR`.")
    return years[-1]


def _unit_for_log(unit: str | None, paths: ProjectPaths) -> str:
    if unit:
        return unit
    return default_unit_id(paths) or "unit"  # the build reports a bad catalog properly


def default_unit_id(paths: ProjectPaths) -> str | None:
    """The catalog's default report unit, read without loading the whole catalog.

    ``report_units.csv`` is tiny and its rule is one column (``is_default`` = ``yes``,
    as :attr:`bpsreport.catalog.Catalog.default_unit`); a build that has nothing to do
    should not pay for pandas to learn it. ``None`` when the file cannot say.
    """
    import csv
    try:
        with open(paths.raw / "catalog" / "report_units.csv", encoding="utf-8-sig", newline="") as fh:
            found = [r.get("unit_id", "").strip() for r in csv.DictReader(fh)
                     if (r.get("is_default") or "").strip() == "yes"]
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return found[0] if len(found) == 1 and found[0] else None


def require_renderer(renderer: str) -> None:
    """``--renderer quarto`` without Quarto is a setup problem, found before any work."""
    if renderer == "quarto":
        from .render import QUARTO_INSTALL_HINT, find_quarto
        if find_quarto() is None:
            raise SetupProblem("--renderer quarto was requested but no quarto binary was "
                               f"found; {QUARTO_INSTALL_HINT}")


# --- the project lock ------------------------------------------------------------------------

def _command_line(args) -> str:
    import shlex
    return shlex.join(["pipeline.py", *getattr(args, "_argv", [args.command])])


@contextmanager
def project_lock(paths: ProjectPaths, args, rep: Reporter, *, wait: bool = True):
    """Hold the project lock around a command that writes (see :mod:`bpsreport.project_lock`).

    Says whom it waits for. Raises :class:`~bpsreport.project_lock.BuildInProgress`
    (exit 7) at once without ``wait``. Once it is held, call :func:`tidy_after_takeover`.
    """
    from .project_lock import ProjectLock

    def waiting(holder) -> None:
        who = holder.describe_holding() if holder else "another process (no record yet)"
        rep.warning(f"Another build of this project is running · 另一个构建正在运行: {who}. "
                    "Waiting for it to finish · 等待其完成 (Ctrl-C to stop; --no-wait exits "
                    "at once instead) …")

    with ProjectLock(paths.root, _command_line(args), wait=wait, on_wait=waiting) as lock:
        if lock.waited_for:
            rep.info("   the other build has finished; continuing · 继续")
        yield lock


def tidy_after_takeover(lock, rep: Reporter, paths: ProjectPaths) -> None:
    """Say when the lock was taken over from a killed build, and remove what it left."""
    if lock.unsupported:
        rep.warning(f"The project lock cannot be used on this file system ({lock.unsupported}); "
                    "make sure that no other build of this project runs at the same time.")
        return
    if lock.stale is not None:
        rep.warning(f"The previous holder of the project lock, {lock.stale.describe()}, ended "
                    "without releasing it (it was killed or crashed); taking the lock over and "
                    "removing what it left behind · 上次构建被中断，已接管并清理。")
    removed = lock.remove_leftovers()
    if removed:
        rep.info(f"   removed {len(removed)} leftover{'s' if len(removed) != 1 else ''} of an "
                 "interrupted build · 已清理中断构建的临时文件")
        for path in removed:
            rep.detail(f"   removed {paths.shown(path)}")


# --- build ------------------------------------------------------------------------------------

@dataclass
class BuildOutcome:
    unit_id: str
    year: int
    site: Path | None = None
    pdfs: dict[str, Path] = field(default_factory=dict)
    seconds: float = 0.0
    errors: int = 0   # what `check` reports: the edition is a draft while this is not 0

    @property
    def draft(self) -> bool:
        return self.errors > 0

    def state_words(self) -> str:
        if not self.draft:
            return "final · 定稿: check passes"
        return (f"draft · 征求意见稿: {self.errors} error{'s' if self.errors != 1 else ''} remain, "
                f"see python pipeline.py check --year {self.year}")


def _took(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def run_build(paths: ProjectPaths, year: int, unit: str | None, renderer: str, rep: Reporter, *,
              render: bool = True, summary_level: int = NORMAL, final: bool = False) -> BuildOutcome:
    """The four stages of a build, reporting progress through ``rep``.

    First the edition is checked (:func:`bpsreport.check.run_checks`, cached): with errors
    it is a draft, which the rendering marks on every page; ``final=True`` refuses to
    build a draft (:class:`DraftRefused`, after listing the errors). ``render=False`` stops
    after the report sources (used by the Quarto preview, where Quarto renders).
    ``summary_level`` is the level of the data summary tables.
    """
    from .build import build_clean, build_notebooks, build_sources, render_edition, require_edition
    from .check import ERROR, format_findings, run_checks_cached
    from .summary import editions_table, status_table

    started = time.monotonic()
    if render:
        require_renderer(renderer)

    rep.stage(f"0. Check · 检查: is the {year} edition ready to publish? …")
    with rep.waiting("   checking data, workbooks and narrative …"):
        unit_for_state = unit or _unit_for_log(None, paths)
        findings = run_checks_cached(paths.root, year, unit_id=unit,
                                     state_file=paths.edition_build(unit_for_state, year) / "check-state.json")
    errors = [f for f in findings if f.severity == ERROR]
    if final and errors:
        rep.error(format_findings(findings, errors_only=True))
        raise DraftRefused(
            f"--final: the {year} edition still has {len(errors)} error{'s' if len(errors) != 1 else ''} "
            f"(listed above), so it is a draft and nothing was built. Fix them, run "
            f"python pipeline.py check --year {year}, then build with --final again · "
            f"仍有错误，未生成定稿")
    rep.info(f"   {len(errors)} error{'s' if len(errors) != 1 else ''}: the edition is "
             + ("a draft (征求意见稿); run python pipeline.py check for the list" if errors
                else "ready to publish (定稿)"))

    rep.stage("1. Data · 数据: validating data/raw/ and writing data/clean/ …")
    read: list[str] = []

    def on_ingest(ev) -> None:
        if ev.done:
            read.append(ev.item)
            rep.detail(f"   read {ev.item} ({ev.detail})")

    t = time.monotonic()
    with rep.waiting("   validating data/raw/ …"):
        result = build_clean(paths, progress=on_ingest)
    for m in result.mismatches:
        rep.warning(f"{m.describe(paths.shown)}; rebuilt from data/raw · 清洗数据与清单不符，已由原始数据"
                    "重建. Clean data is re-derived on every build: make corrections in data/raw/.")
    rewritten = sum(e.rewritten for e in result.editions.values())
    if read:
        rep.info(f"   {len(read)} raw files valid; {rewritten} of {len(result.editions)} "
                 f"unit-years rewritten in data/clean/ ({_took(time.monotonic() - t)})")
    else:
        rep.info("   data/raw/ unchanged since the last build: nothing to validate")
    for warning in result.warnings:
        rep.warning(str(warning))
    unit_id = unit or default_unit_id(paths) or result.catalog.default_unit
    require_edition(result, unit_id, year, paths)
    rep.say(editions_table(result), summary_level)
    for y in (year, year + 1):
        if (unit_id, y) in result.editions:
            rep.say(status_table(result, unit_id, y), summary_level)

    rep.stage(f"2. Charts and tables · 图表: notebooks for {unit_id} {year} …")
    t = time.monotonic()
    with rep.steps("notebooks") as steps:
        def on_notebook(ev) -> None:
            if ev.done == 0:
                steps.set_total(ev.total)
            else:
                steps.advance(ev.item, line=ev.detail)
        ran = build_notebooks(paths, None, unit_id, year, progress=on_notebook)
    where = paths.shown(paths.edition_build(unit_id, year))
    rep.info(f"   {ran.summary()}: {where}/notebooks, charts, tables"
             + (f" ({_took(time.monotonic() - t)})" if ran else ""))
    for name, reason in sorted(ran.reasons.items()):
        rep.detail(f"   ran {name}: {reason}")

    rep.stage("3. Report sources · 报告源文件: data variables and generated task lists …")
    written = build_sources(paths, unit_id, year, draft=bool(errors))
    changed = [g for g in written if g.written]
    rep.info(f"   _variables.yml and {len(written)} generated parts ({len(changed)} changed)")
    for g in changed:
        rep.detail(f"   wrote {paths.shown(g.path)}")

    outcome = BuildOutcome(unit_id, year, errors=len(errors))
    if render:
        rep.stage(f"4. Site and PDFs · 网站与PDF (renderer: {renderer}) …")
        t = time.monotonic()
        with rep.steps("render") as steps:
            def on_render(ev) -> None:
                noun = "PDFs" if ev.stage == "pdfs" else "pages"
                if ev.done == 0:
                    steps.begin(noun, ev.total)
                elif ev.stage == "pdfs":
                    steps.advance(ev.item, line=f"   PDF {ev.done}/{ev.total}: {ev.item}")
                else:
                    steps.advance(ev.item, line=f"   page {ev.item}", level=VERBOSE)
            rendered, ran = render_edition(paths, unit_id, year, renderer, progress=on_render,
                                           draft=bool(errors))
        if ran and rendered.summary():
            rep.info(f"   {rendered.summary()}")
        rep.info(f"   backend: {rendered.version}")
        rep.info(f"   {'done' if ran else 'unchanged, nothing to render'}: "
                 f"{paths.shown(rendered.site_dir)}/index.html"
                 + (f" ({_took(time.monotonic() - t)})" if ran else ""))
        for lang, pdf in sorted(rendered.pdfs.items()):
            rep.info(f"   PDF ({lang}): {paths.shown(pdf)}")
        if rendered.pdfs:
            from .render.pdf import font_report

            for line in font_report(paths.root, [l for l in ("zh", "en") if l in rendered.pdfs]):
                rep.info(f"   {line}")
        outcome.site, outcome.pdfs = rendered.site_dir, dict(rendered.pdfs)
    outcome.seconds = time.monotonic() - started
    return outcome


def _build_reporter(args, paths: ProjectPaths, year: int, out=None, err=None) -> Reporter:
    log = log_path_for(paths.root, "build", _unit_for_log(args.unit, paths), year)
    rep = Reporter(args.level, out=out, err=err, log_path=log)
    rep.detail(f"pipeline.py {' '.join(getattr(args, '_argv', []))}".rstrip())
    rep.detail(f"bpsreport {__version__}, Python {sys.version.split()[0]}, root {paths.root}, "
               f"started {time.strftime('%Y-%m-%d %H:%M:%S')}")
    return rep


class _WarningsToLog:
    """Python warnings raised during a build go to the log (and to the screen with -v)."""

    def __init__(self, rep: Reporter):
        self.rep = rep

    def __enter__(self):
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("default")

        def show(message, category, filename, lineno, file=None, line=None):
            self.rep.detail(f"   python warning: {category.__name__}: {message} "
                            f"({filename}:{lineno})")
        warnings.showwarning = show
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def _build(args, paths: ProjectPaths, screen: Reporter) -> int:
    year = args.year if args.year is not None else default_year(paths)
    with project_lock(paths, args, screen, wait=args.wait) as lock, \
            _build_reporter(args, paths, year, screen.out, screen.err) as rep:
        try:
            tidy_after_takeover(lock, rep, paths)
            with _WarningsToLog(rep):
                outcome = run_build(paths, year, args.unit, args.renderer, rep, final=args.final)
        except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - each gets its exit code
            return report_failure(rep, exc, paths)
        pdf_dir = {paths.shown(p.parent) for p in outcome.pdfs.values()}
        rep.final(f"Built {outcome.unit_id} {outcome.year} ({outcome.state_words()}) in "
                  f"{_took(outcome.seconds)} · 完成: "
                  f"{paths.shown(outcome.site)}/index.html, {len(outcome.pdfs)} PDFs in "
                  f"{', '.join(sorted(pdf_dir)) or '—'}/ · log: {rep.shown_log_path(paths.root)}")
        return EXIT_OK


# --- the other commands -------------------------------------------------------------------------

def _validate(args, paths: ProjectPaths, rep: Reporter) -> int:
    from .catalog import load_catalog
    from .ingest import ingest_all
    catalog = load_catalog(paths.raw, root=paths.root)
    editions = ingest_all(paths.raw, catalog, root=paths.root)
    for (unit_id, year), result in sorted(editions.items()):
        for i in result.inputs:
            rep.detail(f"   read {i.path} ({i.rows} row{'s' if i.rows != 1 else ''})")
    rep.final(f"All raw files are valid: {len(editions)} unit-years checked. · 数据校验通过")
    return EXIT_OK


def _check(args, paths: ProjectPaths, rep: Reporter) -> int:
    from .check import blocks_publication, format_findings, run_checks
    from .project_lock import running_holder
    year = args.year if args.year is not None else default_year(paths)
    who = f" for {args.department}" if args.department else ""
    rep.info(f"Checking the {year} edition{who} · 检查{year}年版 …")
    holder = running_holder(paths.root)   # check takes no lock; it says when a build runs
    if holder is not None:
        rep.warning(f"A build of this project is running ({holder.describe()}); it may change "
                    "data/clean and the generated files while they are checked. Run check again "
                    "when it has finished · 构建正在运行，完成后请重新检查。")
    findings = run_checks(paths.root, year, unit_id=args.unit, department=args.department)
    # --quiet lists the errors only; the last line counts everything.
    lines = format_findings(findings, errors_only=rep.level <= QUIET).splitlines()
    for line in lines[:-1]:
        rep.say(line, QUIET)
    if lines:
        rep.final(lines[-1])
    return EXIT_CHECK if blocks_publication(findings) else EXIT_OK


def _new_year(args, paths: ProjectPaths, rep: Reporter) -> int:
    from .edition import new_year
    with project_lock(paths, args, rep, wait=args.wait) as lock:
        tidy_after_takeover(lock, rep, paths)
        report = new_year(paths.root, args.year, unit_id=args.unit)
    for line in str(report).splitlines():  # created, appended, already there, next steps
        rep.info(line)
    created = len(report.created) + len(report.appended)
    rep.final(f"Edition {report.year} ({report.unit_id}): {created} created, "
              f"{len(report.existing)} already there and left unchanged · "
              f"新建{created}个，已存在{len(report.existing)}个（未改动）")
    return EXIT_OK


def _preview(args, paths: ProjectPaths, rep: Reporter) -> int:
    from . import preview
    from .render import find_quarto

    year = args.year if args.year is not None else default_year(paths)
    require_renderer(args.renderer)
    quarto = find_quarto() if args.renderer in ("auto", "quarto") else None

    last_failure: list[str | None] = [None]

    def rebuild() -> bool:
        # A log per rebuild, like any build; the data tables only with --verbose. Each
        # rebuild holds the project lock (waiting for a build started by hand); between
        # rebuilds other commands may build.
        with project_lock(paths, args, rep) as lock, \
                _build_reporter(args, paths, year, rep.out, rep.err) as build_rep:
            try:
                tidy_after_takeover(lock, build_rep, paths)
                with _WarningsToLog(build_rep):
                    outcome = run_build(paths, year, args.unit, "builtin", build_rep,
                                        render=quarto is None, summary_level=VERBOSE)
            except Exception as exc:  # noqa: BLE001 - keep serving the last good site
                report_failure(build_rep, exc, paths)
                last_failure[0] = str(exc)  # shown in the browser, over the last good page
                return False
            last_failure[0] = None
            done = ("Site ready · 网站已生成; open pages update themselves" if quarto is None
                    else "Data, charts and variables ready · 数据已更新; Quarto re-renders the pages")
            build_rep.final(f"{done} ({_took(outcome.seconds)}; log: "
                            f"{build_rep.shown_log_path(paths.root)})")
            return True

    try:
        if quarto is not None:
            preview.run_quarto_preview(paths.root, quarto, rebuild, port=args.port, say=rep.final)
        else:
            preview.run_preview(paths.root, rebuild, port=args.port, say=rep.final,
                                detail=rep.detail, year=year, failure=lambda: last_failure[0])
    except KeyboardInterrupt:
        pass
    rep.final("Preview stopped · 预览已停止.")
    return EXIT_OK


# --- entry point -------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args._argv = argv
    paths = ProjectPaths.at(args.root)
    commands = {"build": _build, "validate": _validate, "check": _check,
                "new-year": _new_year, "preview": _preview}
    # A build reports its own failures into its log; this reporter covers everything else.
    rep = Reporter(args.level, out=console_for(), err=console_for(stderr=True))
    try:
        return commands[args.command](args, paths, rep)
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - every failure gets its exit code
        if exit_code_for(exc) == EXIT_UNEXPECTED:
            # These commands keep no log; an unexpected error gets one for its traceback.
            rep = _with_crash_log(rep, paths, args.command)
        return report_failure(rep, exc, paths)
    finally:
        rep.close()


def _with_crash_log(rep: Reporter, paths: ProjectPaths, command: str) -> Reporter:
    try:
        log = log_path_for(paths.root, f"error-{command}", "all", None)
        return Reporter(rep.level, out=rep.out, err=rep.err, log_path=log)
    except OSError:  # a read-only checkout: the message alone must do
        return rep


if __name__ == "__main__":
    sys.exit(main())
