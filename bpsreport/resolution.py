"""Resolving an edition's sources as the render stage does, without rendering anything.

``pipeline.py check`` must find what the build would fail on before the build. The
render stage resolves every page (for HTML) and each language's ``report.qmd`` (for the
PDF) with :func:`bpsreport.render.qmd.resolve_document`: includes, ``{{< var >}}``,
``{{< meta >}}``, embeds and cross-references. :func:`resolve_edition` calls that same
resolver, on the files as they are now, in a scratch copy of the project holding:

- the Quarto project files and ``reports/`` (staff files exactly as they are);
- the edition's ``_generated/`` parts, freshly made from the data as the build's stage 3
  would make them (``parts``), instead of whatever an earlier build left there;
- for the edition's notebooks, which only the build executes, a stand-in per notebook the
  build will run (:func:`bpsreport.notebooks.plan_edition_jobs`) carrying exactly the cell
  labels and captions that notebook will have, so that an embed naming a missing label
  or notebook is found while a correct one resolves. Other editions' executed notebooks
  are used as they are.

The data variables are the ones the build would write (computed in memory by the
caller), so nothing in the project is read from a previous build and nothing is written
to it.

Examples
--------
>>> problems = resolve_edition(Path("."), "gd-province", 2018, catalog=catalog,
...                            variables=variables, parts=parts)             # doctest: +SKIP
>>> problems[0]                                                               # doctest: +SKIP
ResolutionProblem(path='reports/2018/zh/_parts/education.qmd', line=7, code='var-unknown', ...)
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .catalog import Catalog
from .formatting import LANGS

GENERATED_DIR = "_generated"
REPORT_SOURCE = "report.qmd"
_LOCATED = re.compile(r"^(?P<path>[^\n:]+?):(?P<line>\d+): (?P<message>.*)$", re.S)
_CODES = (  # the first match wins: the "supported: …" summary mentions cross-references
    ("not supported", "unsupported-syntax"),
    ("included file", "include-missing"),
    ("include cycle", "include-missing"),
    ("unknown variable", "var-unknown"),
    ("is a group of values", "var-unknown"),
    ("unknown metadata key", "meta-unknown"),
    ("cross-reference", "xref-missing"),
    ("no cell labelled", "embed-missing"),
    ("notebook", "embed-missing"),
    ("link to", "link-missing"),
    ("front matter", "front-matter"),
)


@dataclass(frozen=True)
class ResolutionProblem:
    """What the render stage would fail on: the source file and line, a code, the message."""

    path: str
    line: int | None
    code: str
    message: str


def stand_in_notebook(template: Path, domain_id: str | None) -> dict:
    """A notebook with the cells, labels and captions the build's executed copy will have.

    Only the labelled cells are kept, each with a one-line Markdown output. It is never
    rendered: it lets the resolver check that an embed names a cell that will exist.
    """
    from .notebooks import _LABEL_OPTION

    nb = json.loads(Path(template).read_text(encoding="utf-8"))
    cells = []
    for cell in nb.get("cells", []):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        if cell.get("cell_type") != "code" or not re.search(r"^#\|\s*label:", source, re.M):
            continue
        if domain_id is not None:  # as bpsreport.notebooks.specialise_labels does
            source = _LABEL_OPTION.sub(lambda m: f"{m.group(1)}{m.group(2)}-{domain_id}-{m.group(3)}", source)
        options = "\n".join(line for line in source.splitlines() if line.startswith("#|"))
        cells.append({"cell_type": "code", "execution_count": 1, "metadata": {}, "id": f"c{len(cells)}",
                      "source": options, "outputs": [{
                          "output_type": "display_data", "metadata": {},
                          "data": {"text/markdown": "(made by the build)", "text/plain": "(made by the build)"}}]})
    return {"cells": cells, "metadata": nb.get("metadata", {}), "nbformat": 4, "nbformat_minor": 5}


def _scratch_project(root: Path, unit_id: str, year: int, catalog: Catalog,
                     parts: Mapping[str, Mapping[str, str]], dest: Path) -> list[str]:
    """Lay out the scratch copy in ``dest``; return the notebook paths the build writes."""
    from .notebooks import plan_edition_jobs

    for path in root.glob("_quarto*.yml"):
        shutil.copy2(path, dest / path.name)
    if (root / "reports").is_dir():
        shutil.copytree(root / "reports", dest / "reports", symlinks=False,
                        ignore=shutil.ignore_patterns(".*", "VARIABLES.md"))
    for lang, files in parts.items():
        folder = dest / "reports" / str(year) / lang / GENERATED_DIR
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text, encoding="utf-8")
    jobs = plan_edition_jobs(dest, unit_id, year, catalog)
    for job in jobs:
        job.output_path.parent.mkdir(parents=True, exist_ok=True)
        job.output_path.write_text(json.dumps(stand_in_notebook(job.template_path, job.domain_id)),
                                   encoding="utf-8")
    # Other editions' executed notebooks, as they are (an embed may name them).
    for notebooks in sorted((root / "build").glob("*/*/notebooks")):
        other_unit, other_year = notebooks.parent.parent.name, notebooks.parent.name
        if (other_unit, other_year) == (unit_id, str(year)):
            continue
        target = dest / "build" / other_unit / other_year / "notebooks"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(notebooks.resolve(), target_is_directory=True)
    return [job.output_path.relative_to(dest).as_posix() for job in jobs]


# A document with more problems than this is reported up to here (the rest after a fix).
_MAX_PROBLEMS_PER_DOCUMENT = 30


def _blank_line(path: Path, line: int) -> bool:
    """Empty one line of a scratch file (the line count stays); False if it cannot be."""
    try:
        lines = path.read_text(encoding="utf-8-sig").split("\n")
    except (OSError, UnicodeDecodeError):
        return False
    if not 1 <= line <= len(lines) or not lines[line - 1].strip():
        return False
    lines[line - 1] = ""
    path.write_text("\n".join(lines), encoding="utf-8")
    return True


def _problem(error: Exception, fallback: str, notebooks: list[str], scratch: Path) -> ResolutionProblem:
    # Paths in the message are the project's: the scratch copy mirrors it.
    text = str(error).strip().replace(f"{scratch}/", "").replace(str(scratch), ".")
    m = _LOCATED.match(text)
    path, line, message = (m.group("path"), int(m.group("line")), m.group("message")) if m \
        else (fallback, None, text)
    code = next((c for words, c in _CODES if words in message), "render-error")
    if code == "embed-missing" and "not found" in message:
        message = re.sub(r"\(embed reads the executed copy the build writes: run the build first\)",
                         "(the build writes these notebooks: " + ", ".join(notebooks) + ")", message)
    return ResolutionProblem(path.replace("\\", "/"), line, code, message)


def resolve_edition(root: Path, unit_id: str, year: int, *, catalog: Catalog,
                    variables: Mapping | None, parts: Mapping[str, Mapping[str, str]],
                    langs: tuple[str, ...] = LANGS) -> list[ResolutionProblem]:
    """Resolve every page and ``report.qmd`` of an edition; return what would fail.

    Parameters
    ----------
    root
        The project folder (only read).
    unit_id, year
        The edition.
    catalog
        The catalog (the notebooks of the edition are planned from its domains).
    variables
        The nested data variables the build would write to ``_variables.yml``, or
        ``None`` when they cannot be computed (the data is invalid); every ``{{< var >}}``
        then resolves to nothing and only the other problems are found.
    parts
        ``{lang: {file name: text}}``: the edition's generated parts, as the build makes
        them from the data.

    Returns
    -------
    list of ResolutionProblem
        Every problem of every document, the same problem found through several documents
        only once: the resolver stops at a document's first problem, so that line is
        blanked in the scratch copy and the document resolved again. Plus skipped heading
        levels in each resolved ``report.qmd`` (the PDF numbers it as one document).
    """
    from .markup import resolved_heading_problems
    from .render import RenderError
    from .render.html import check_page_links, plan_site
    from .render.qmd import resolve_document

    root = Path(root).resolve()
    found: dict[tuple, ResolutionProblem] = {}

    def add(problem: ResolutionProblem) -> None:
        found.setdefault((problem.path, problem.line, problem.code), problem)

    with tempfile.TemporaryDirectory(prefix="bpsreport-check-") as tmp:
        dest = Path(tmp).resolve()
        notebooks = _scratch_project(root, unit_id, int(year), catalog, parts, dest)
        try:
            plan = plan_site(dest, langs, dest / "_site", target=f"reports/{int(year)}/{{lang}}")
        except (RenderError, OSError, ValueError) as exc:
            add(_problem(exc, f"reports/{year}", notebooks, dest))
            return list(found.values())
        def resolve(source: Path, rel: str, project, lang: str, target: str, page=None):
            """The resolved document; each problem found on the way is recorded and its line
            blanked in the scratch copy, so that one run finds every problem, not only the
            first of each document."""
            for _ in range(_MAX_PROBLEMS_PER_DOCUMENT):
                try:
                    doc = resolve_document(source, project=project, lang=lang, target=target)
                    if page is not None:
                        check_page_links(plan, page, doc.lines)
                    return doc
                except (RenderError, OSError, ValueError) as exc:
                    problem = _problem(exc, rel, notebooks, dest)
                    add(problem)
                    if problem.line is None or problem.code == "front-matter" or \
                            not _blank_line(dest / problem.path, problem.line):
                        return None
            return None

        for lang, project in plan.projects.items():
            project.variables = dict(variables or {})
            for page in plan.targets.get(lang, []):
                resolve(page.source, page.rel.as_posix(), project, lang, "html", page)
            report = dest / "reports" / str(year) / lang / REPORT_SOURCE
            if not report.is_file():
                add(ResolutionProblem(f"reports/{year}/{lang}", None, "render-error",
                                      f"{REPORT_SOURCE}, the source of the {lang} PDF, is missing "
                                      "(docs/rendering.md); copy it from the previous edition"))
                continue
            doc = resolve(report, report.relative_to(dest).as_posix(), project, lang, "typst")
            if doc is None:
                continue
            for file, line, message in resolved_heading_problems(doc.lines):
                try:
                    shown = Path(file).resolve().relative_to(dest).as_posix()
                except ValueError:
                    shown = str(file)
                add(ResolutionProblem(shown, line, "heading-skipped", message))
    return list(found.values())
