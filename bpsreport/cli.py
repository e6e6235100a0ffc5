"""Command line: ``python pipeline.py <command>``. Exit codes are listed in the README."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console

from .build import build_clean, require_edition
from .errors import InputValidationError, PipelineError
from .paths import ProjectPaths

EXIT_OK, EXIT_UNEXPECTED, EXIT_INPUT, EXIT_SETUP = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline.py",
        description="Build the Guangdong basic public services equalization report "
                    "(广东省基本公共服务均等化工作总结) from the department data in data/raw/.")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent,
                        help="project folder (default: this checkout)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build = sub.add_parser("build", help="validate the raw data and build one edition",
                           description="Validate every file in data/raw/, write data/clean/, "
                                       "and build the edition of the given year.")
    build.add_argument("--year", type=int, default=2017, help="the summary year of the edition (default 2017)")
    build.add_argument("--unit", default=None, help="report unit id (default: the province)")
    build.add_argument("--renderer", choices=("auto", "quarto", "builtin"), default="auto",
                       help="auto (default): real Quarto when installed, else the built-in "
                            "renderer (pandoc + Typst)")
    sub.add_parser("validate", help="only check data/raw/ and list every problem; writes nothing")
    return parser


def _print_problems(console: Console, err: InputValidationError) -> None:
    from rich.table import Table
    table = Table(title=f"{len(err.problems)} problem(s) in the input data · 输入数据问题",
                  title_justify="left", show_lines=False)
    for col in ("file 文件", "sheet 工作表", "row 行", "column 列", "found 实际值", "expected 应为"):
        table.add_column(col, overflow="fold")
    for p in err.problems:
        table.add_row(p.file, p.sheet or "—", "—" if p.row is None else str(p.row),
                      p.column or "—", "—" if p.found is None else repr(p.found), p.expected)
    console.print(table)
    console.print("Nothing was written to data/clean/. Fix the files above and run the build again.\n"
                  "未写入任何清洗数据。请修改上述文件后重新运行。")


def _build(args, paths: ProjectPaths, out: Console) -> int:
    from .build import build_notebooks
    from .summary import print_summary

    out.print("[bold]1. Data[/] · 数据: validating data/raw/ and writing data/clean/ …")
    result = build_clean(paths)
    unit_id = args.unit or result.catalog.default_unit
    require_edition(result, unit_id, args.year, paths)
    print_summary(result, unit_id, [args.year, args.year + 1], console=out)

    out.print(f"[bold]2. Charts and tables[/] · 图表: notebooks for {unit_id} {args.year} …")
    ran = build_notebooks(paths, result.catalog, unit_id, args.year,
                          progress=lambda r: out.print(r.describe()))
    where = paths.shown(paths.edition_build(unit_id, args.year))
    out.print(f"   {'done' if ran else 'unchanged, nothing to run'}: {where}/notebooks, charts, tables")

    from .build import build_sources, render_edition
    out.print("[bold]3. Report sources[/] · 报告源文件: data variables and generated task lists …")
    written = build_sources(paths, unit_id, args.year)
    changed = [g for g in written if g.written]
    out.print(f"   _variables.yml and {len(written)} generated parts ({len(changed)} changed)")

    out.print(f"[bold]4. Site and PDFs[/] · 网站与PDF (renderer: {args.renderer}) …")
    result, ran = render_edition(paths, unit_id, args.year, args.renderer)
    out.print(f"   backend: {result.version}")
    out.print(f"   {'done' if ran else 'unchanged, nothing to render'}: {paths.shown(result.site_dir)}/index.html")
    for lang, pdf in sorted(result.pdfs.items()):
        out.print(f"   PDF ({lang}): {paths.shown(pdf)}")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # In a log or pipe there is no terminal width to respect: use a wide table so that
    # file names and expectations are never folded or cut.
    out = Console() if Console().is_terminal else Console(width=200)
    err_console = Console(stderr=True) if Console(stderr=True).is_terminal else Console(stderr=True, width=200)
    paths = ProjectPaths.at(args.root)
    try:
        if args.command == "validate":
            from .catalog import load_catalog
            from .ingest import ingest_all
            catalog = load_catalog(paths.raw, root=paths.root)
            editions = ingest_all(paths.raw, catalog, root=paths.root)
            out.print(f"All raw files are valid: {len(editions)} unit-years checked.")
            return EXIT_OK
        if args.command == "build":
            return _build(args, paths, out)
    except InputValidationError as exc:
        _print_problems(err_console, exc)
        return exc.exit_code
    except PipelineError as exc:
        err_console.print(f"[bold red]Error:[/] {exc}")
        return exc.exit_code
    return EXIT_UNEXPECTED


if __name__ == "__main__":
    sys.exit(main())
