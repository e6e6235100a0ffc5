#!/usr/bin/env python3
"""Compare what the two renderers made of one edition: the same document, the same site.

Real Quarto is the reference and the built-in renderer must give the same report
(docs/rendering.md). This script checks that on two rendered sites, or renders both
itself:

    # render the 2017 edition with both renderers (needs Quarto), then compare
    .venv/bin/python scripts/compare_renderers.py --year 2017

    # compare two sites already rendered (e.g. _site from each renderer)
    .venv/bin/python scripts/compare_renderers.py SITE_A SITE_B [--year 2017] [--json]

What must be equal (the theme's look may differ):

- PDFs (``downloads/<year>/report-zh.pdf``, ``report-en.pdf``): the sequence of headings
  (the PDF outline), the numbers printed in the document (every number except the page
  numbers "— n —"), and the key tasks with their departments (``N.标题…（负责部门：…）`` /
  ``(Responsible: …)``);
- the site: the same pages in each language, and on each page the same links to pages,
  downloads and anchors (links to the theme's own files are not compared).

Exit code 0 when there is no difference, 1 when there are differences (listed), 2 when
an input is missing. ``--json`` prints ``{"differences": [...], "checked": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_PAGE_NUMBER = re.compile(r"[—–-]\s*\d+\s*[—–-]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*%?")
_TASK_ZH = re.compile(r"(?<![\d.])(\d{1,3})\.([^（]{2,80}?)。.*?（负责部门：(.*?)）")
_TASK_EN = re.compile(r"(?<![\d.])(\d{1,3})\.\s*([A-Z].{2,160}?)\.\s.*?\(Responsible:\s*(.*?)\)")
THEME = re.compile(r"(^|/)(site_libs|_bps)/|\.(css|js|svg|png|ico)$")


# --- PDFs ---------------------------------------------------------------------------------

def pdf_text(path: Path) -> str:
    if shutil.which("pdftotext"):
        out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True,
                             check=True)
        return out.stdout.decode("utf-8")
    from pypdf import PdfReader

    return "\f".join(page.extract_text() or "" for page in PdfReader(str(path)).pages)


def pdf_headings(path: Path) -> list[str]:
    """The PDF outline (Typst writes every heading into it), flattened in order."""
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    out: list[str] = []

    def walk(items):
        for item in items:
            if isinstance(item, list):
                walk(item)
            else:
                out.append(" ".join(str(item.title).split()))

    walk(reader.outline)
    return out


def document_facts(path: Path, lang: str) -> dict:
    text = pdf_text(path)
    body = _PAGE_NUMBER.sub(" ", text)
    flat = re.sub(r"\s+", "" if lang == "zh" else " ", body)
    if lang == "zh":
        tasks = [(n, re.sub(r"\s+", "", d)) for n, _, d in _TASK_ZH.findall(flat)]
    else:
        tasks = [(n, " ".join(d.split())) for n, _, d in _TASK_EN.findall(flat)]
    return {
        "headings": pdf_headings(path),
        "numbers": Counter(_NUMBER.findall(body)),
        "tasks": tasks,
    }


def compare_pdfs(a: Path, b: Path, lang: str) -> list[str]:
    fa, fb = document_facts(a, lang), document_facts(b, lang)
    diffs = []
    if fa["headings"] != fb["headings"]:
        only_a = [h for h in fa["headings"] if h not in fb["headings"]]
        only_b = [h for h in fb["headings"] if h not in fa["headings"]]
        diffs.append(f"{lang} PDF: headings differ (only in A: {only_a[:5]}; only in B: "
                     f"{only_b[:5]}; order or count otherwise)")
    if fa["numbers"] != fb["numbers"]:
        extra_a = dict((fa["numbers"] - fb["numbers"]).most_common(8))
        extra_b = dict((fb["numbers"] - fa["numbers"]).most_common(8))
        diffs.append(f"{lang} PDF: printed numbers differ (more in A: {extra_a}; more in B: {extra_b})")
    if fa["tasks"] != fb["tasks"]:
        diffs.append(f"{lang} PDF: key tasks differ (A has {len(fa['tasks'])}, B has "
                     f"{len(fb['tasks'])}; first difference: "
                     f"{next((x for x in zip(fa['tasks'], fb['tasks']) if x[0] != x[1]), None)})")
    return diffs


# --- sites ---------------------------------------------------------------------------------

class _Links(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: set[str] = set()

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.add(href)


def page_links(site: Path, page: Path) -> set[str]:
    """Links of a page, as site-relative targets (fragments kept, theme files dropped)."""
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    here = page.relative_to(site).parent.as_posix()
    out = set()
    for href in parser.links:
        if re.match(r"^[a-z][a-z0-9+.-]*:", href) or href.startswith("#"):
            continue
        path, _, fragment = href.partition("#")
        target = posixpath.normpath(posixpath.join(here, path)) if path else page.relative_to(site).as_posix()
        if THEME.search(target) and not target.startswith("downloads/"):
            continue
        out.add(target + (f"#{fragment}" if fragment else ""))
    return out


def edition_pages(site: Path, year: int) -> dict[str, Path]:
    out = {}
    for lang in ("zh", "en"):
        base = site / lang / "reports" / str(year) / lang
        for page in sorted(base.rglob("*.html")) if base.is_dir() else []:
            out[page.relative_to(site).as_posix()] = page
    return out


def compare_sites(a: Path, b: Path, year: int) -> tuple[list[str], dict]:
    pa, pb = edition_pages(a, year), edition_pages(b, year)
    diffs = []
    if set(pa) != set(pb):
        diffs.append(f"site: pages differ (only in A: {sorted(set(pa) - set(pb))}; only in B: "
                     f"{sorted(set(pb) - set(pa))})")
    links = 0
    for rel in sorted(set(pa) & set(pb)):
        la, lb = page_links(a, pa[rel]), page_links(b, pb[rel])
        links += len(la)
        if la != lb:
            diffs.append(f"site: {rel}: links differ (only in A: {sorted(la - lb)[:6]}; only in B: "
                         f"{sorted(lb - la)[:6]})")
    for lang in ("zh", "en"):
        name = f"downloads/{year}/report-{lang}.pdf"
        if not (a / name).is_file() or not (b / name).is_file():
            diffs.append(f"{name}: missing in {'A' if not (a / name).is_file() else 'B'}")
            continue
        diffs.extend(compare_pdfs(a / name, b / name, lang))
    return diffs, {"pages": len(set(pa) & set(pb)), "links": links}


# --- rendering both ---------------------------------------------------------------------------

def render_with(renderer: str, year: int, unit: str, out: Path) -> Path:
    from bpsreport.render import RenderRequest, select_backend

    backend = select_backend(renderer)
    request = RenderRequest(root=ROOT, unit_id=unit, year=year, site_dir=out / "site",
                            pdf_dir=out / "pdf", work_dir=out / "typst")
    backend.render(request)
    return out / "site"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sites", nargs="*", type=Path, help="two rendered site folders (A B)")
    parser.add_argument("--year", type=int, default=2017)
    parser.add_argument("--unit", default="gd-province")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if len(args.sites) not in (0, 2):
        parser.error("give two site folders, or none to render both with --year")
    if args.sites:
        a, b = args.sites
        for site in (a, b):
            if not site.is_dir():
                print(f"{site}: no such site folder", file=sys.stderr)
                return 2
        diffs, checked = compare_sites(a, b, args.year)
    else:
        with tempfile.TemporaryDirectory(prefix="compare-renderers-") as tmp:
            try:
                a = render_with("builtin", args.year, args.unit, Path(tmp) / "builtin")
                b = render_with("quarto", args.year, args.unit, Path(tmp) / "quarto")
            except Exception as exc:  # noqa: BLE001 - said plainly, with the next step
                print(f"could not render both editions: {exc}", file=sys.stderr)
                return 2
            diffs, checked = compare_sites(a, b, args.year)
    if args.json:
        print(json.dumps({"differences": diffs, "checked": checked}, ensure_ascii=False, indent=1))
    else:
        print(f"compared {checked['pages']} pages, {checked['links']} links and the zh/en PDFs")
        for diff in diffs:
            print(f"- {diff}")
        print("no difference" if not diffs else f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
