"""The reviewer site, built without Quarto: pandoc pages, a navbar, search, a language switch.

Layout (``docs/rendering.md``), under the site directory of a render request::

    index.html                               language chooser (redirects to zh)
    <lang>/reports/<year>/<lang>/**.html     pages, mirroring the sources (Quarto's layout)
    <lang>/reports/<year>/<lang>/<page>_files/figure-html/<label>.svg   embedded charts
    <lang>/site_libs/bpsreport/              site.css, site.js, search.js, search-index.js
    <lang>/search.json                       the search index (Quarto's file name)
    downloads/<year>/report-zh.pdf, report-en.pdf, report-bilingual.pdf
    downloads/<year>/assessment-<year>.csv, observations-<year>.csv   (clean data of the year)
    downloads/<year>/tasks-<year+1>.csv                              (the task list it publishes)

Every page comes from :func:`bpsreport.render.qmd.resolve_document` and one pandoc run
with the Lua filters of :mod:`bpsreport.render.filters` (callouts, GB/T 9704 section
numbers, cross-references, links) and ``templates/html/page.html``. The site makes no
external request: styles and scripts are local files, fonts are the reader's system
fonts, math is not sent to MathJax, and web-font imports in embedded tables are dropped.

Links in sources and navbar:

- ``x.qmd`` (relative, or ``/x.qmd`` from the project root) → the page rendered from it;
- ``/downloads/...`` and other root-relative paths → that path under the site directory;
- a navbar ``href`` that is not a ``.qmd`` and not root-relative is relative to the
  language's output directory (``_site/zh/``), as Quarto resolves navbar links.

The navbar comes from ``website.navbar`` of the merged project config (``left`` and
``right`` lists of ``{href, text}`` or ``{text, menu: [...]}``; a ``.qmd`` without
``text`` shows the page's title). A download menu is added unless the navbar already
links into ``downloads/``; it lists only files that exist.
"""

from __future__ import annotations

import concurrent.futures
import fnmatch
import hashlib
import html as html_lib
import json
import os
import posixpath
import re
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

import yaml

from bpsreport.render import RenderError
from bpsreport.render.project import ProjectConfig, load_project
from bpsreport.render.qmd import document_formats, resolve_document, split_front_matter

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIR = PACKAGE_ROOT / "templates" / "html"
FILTER_DIR = Path(__file__).resolve().parent / "filters"
FILTERS = ("callouts.lua", "sections.lua", "crossref.lua", "links.lua")
LABELS_FILE = FILTER_DIR / "labels.yml"
ASSETS = ("site.css", "site.js", "search.js", "favicon.svg")
LIBS_DIR = "site_libs/bpsreport"
DOWNLOADS_DIR = "downloads"

#: What the download menu offers, in order: (label key, file name under downloads/<year>/).
#: An edition (e.g. 2017) is the summary of its year and the task list of the next year.
DOWNLOAD_ITEMS = (
    ("download-pdf-zh", "report-zh.pdf"),
    ("download-pdf-en", "report-en.pdf"),
    ("download-pdf-bilingual", "report-bilingual.pdf"),
    ("download-data-csv", "assessment-{year}.csv"),
    ("download-observations-csv", "observations-{year}.csv"),
    ("download-tasks-csv", "tasks-{next_year}.csv"),
)
#: Clean-data files copied into downloads/<year>/: (year offset, file in data/clean/<unit>/<year>/,
#: name in downloads/<year>/).
CLEAN_DOWNLOADS = (
    (0, "assessment.csv", "assessment-{year}.csv"),
    (0, "observations.csv", "observations-{year}.csv"),
    (1, "tasks.csv", "tasks-{next_year}.csv"),
)


def _download_name(pattern: str, year: int) -> str:
    return pattern.format(year=year, next_year=year + 1)


# --- labels -----------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _label_file(path: Path = LABELS_FILE) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def labels_for(lang: str, metadata: dict | None = None) -> dict[str, str]:
    """The built-in words for ``lang``, overridden by a Quarto ``language:`` map."""
    table = _label_file()
    base = dict(table.get(lang.split("-")[0]) or table["en"])
    overrides = (metadata or {}).get("language") or {}
    if isinstance(overrides, dict):
        for key, value in overrides.items():
            if isinstance(value, (str, int, float)):
                base[str(key)] = str(value)
    return base


# --- planning the pages -----------------------------------------------------------------

@dataclass
class Page:
    """One source page of one language and where its HTML goes."""

    lang: str
    source: Path          # absolute .qmd
    rel: PurePosixPath    # source path relative to the project root
    out_rel: PurePosixPath  # output path relative to the site directory (zh/reports/...html)
    title: str = ""


@dataclass
class SitePlan:
    site_dir: Path
    projects: dict[str, ProjectConfig]
    pages: dict[str, list[Page]] = field(default_factory=dict)
    year: int | None = None   # the edition being rendered (None: every edition)

    def page_for(self, lang: str, rel: PurePosixPath) -> Page | None:
        for page in self.pages.get(lang, []):
            if page.rel == rel:
                return page
        return None

    def lang_root(self, lang: str) -> PurePosixPath:
        return lang_output_root(self.projects[lang])


def lang_output_root(project: ProjectConfig) -> PurePosixPath:
    """The language's output folder relative to the site directory (``_site/zh`` → ``zh``)."""
    out = PurePosixPath(str((project.config.get("project") or {}).get("output-dir") or "_site"))
    parts = out.parts
    if parts and parts[0] == "_site":
        return PurePosixPath(*parts[1:]) if len(parts) > 1 else PurePosixPath(".")
    return PurePosixPath(project.profile or ".")


def _is_hidden(rel: PurePosixPath) -> bool:
    return any(part.startswith(("_", ".")) for part in rel.parts)


def render_list(project: ProjectConfig) -> list[PurePosixPath]:
    """Sources the profile renders: its ``project: render`` globs (``!glob`` excludes)."""
    root = project.root
    patterns = project.render_globs or ["**/*.qmd"]
    include = [p for p in patterns if not p.startswith("!")]
    exclude = [p[1:] for p in patterns if p.startswith("!")]
    found: dict[PurePosixPath, None] = {}
    for pattern in include:
        for path in sorted(root.glob(pattern)):
            if not path.is_file() or path.suffix != ".qmd":
                continue
            rel = PurePosixPath(path.relative_to(root).as_posix())
            if _is_hidden(rel) or any(fnmatch.fnmatch(str(rel), ex) for ex in exclude):
                continue
            if rel.parts and rel.parts[0] in ("_site", "build", ".venv", "node_modules"):
                continue
            found[rel] = None
    return list(found)


def _edition_of(rel: PurePosixPath) -> str | None:
    """The year folder of a report source: ``reports/2017/zh/x.qmd`` -> ``2017``."""
    return rel.parts[1] if len(rel.parts) > 2 and rel.parts[0] == "reports" else None


def plan_site(root: Path, langs: tuple[str, ...], site_dir: Path, year: int | None = None) -> SitePlan:
    """The pages to render. With ``year``, only that edition's pages: the variables of a
    build belong to one edition, and other editions keep the pages they were built with."""
    projects = {lang: load_project(root, lang) for lang in langs}
    plan = SitePlan(site_dir=Path(site_dir), projects=projects, year=year)
    for lang, project in projects.items():
        out_root = lang_output_root(project)
        pages = []
        for rel in render_list(project):
            if year is not None and _edition_of(rel) not in (None, str(year)):
                continue
            source = project.root / rel
            front, _, _ = split_front_matter(source.read_text(encoding="utf-8-sig"), source)
            if "html" not in document_formats(front, project):
                continue  # e.g. report.qmd: the PDF's source (format: typst)
            out_rel = out_root / rel.with_suffix(".html")
            pages.append(Page(lang=lang, source=source, rel=rel, out_rel=PurePosixPath(
                posixpath.normpath(str(out_rel))), title=str(front.get("title") or rel.stem)))
        plan.pages[lang] = pages
    return plan


# --- links ------------------------------------------------------------------------------

def relative_href(from_page: PurePosixPath, target: PurePosixPath | str) -> str:
    """``target`` (relative to the site directory) as seen from ``from_page``'s folder."""
    start = str(from_page.parent) or "."
    return posixpath.relpath(str(target), start if start != "" else ".")


def counterpart(rel: PurePosixPath, lang: str, other: str) -> PurePosixPath:
    """The mirrored source of another language: ``reports/2017/zh/x.qmd`` → ``.../en/x.qmd``."""
    return PurePosixPath(*[other if part == lang else part for part in rel.parts])


class _Links:
    """Resolves hrefs of one page."""

    def __init__(self, plan: SitePlan, page: Page):
        self.plan = plan
        self.page = page
        self.project = plan.projects[page.lang]
        self.lang_root = plan.lang_root(page.lang)

    def site_path_of_source(self, rel: PurePosixPath) -> PurePosixPath | None:
        target = self.plan.page_for(self.page.lang, rel)
        year = self.plan.year
        if target is None and year is not None and _edition_of(rel) not in (None, str(year)):
            # A navbar names one edition's pages; a build of another edition links to the
            # same page of the edition being built.
            same = PurePosixPath("reports", str(year), *rel.parts[2:])
            target = self.plan.page_for(self.page.lang, same)
        return target.out_rel if target else None

    def navbar_href(self, href: str) -> str:
        if re.match(r"^[a-z][a-z0-9+.-]*:", href) or href.startswith("#"):
            return href
        path, _, anchor = href.partition("#")
        anchor = f"#{anchor}" if anchor else ""
        if path.endswith(".qmd"):
            rel = PurePosixPath(posixpath.normpath(path.lstrip("/")))
            out = self.site_path_of_source(rel)
            if out is None:
                raise RenderError(f"_quarto.yml / _quarto-{self.page.lang}.yml: navbar link "
                                  f"{href!r} is not a page this profile renders")
            return relative_href(self.page.out_rel, out) + anchor
        if path.startswith("/"):
            return relative_href(self.page.out_rel, PurePosixPath(path.lstrip("/"))) + anchor
        target = posixpath.normpath(str(self.lang_root / path))
        return relative_href(self.page.out_rel, PurePosixPath(target)) + anchor


# --- the navbar and other page parts -------------------------------------------------------

def _esc(text: object) -> str:
    return html_lib.escape(str(text), quote=True)


def _item_text(item: dict, links: _Links) -> str:
    text = item.get("text")
    if text:
        return str(text)
    href = str(item.get("href") or item.get("file") or "")
    if href.endswith(".qmd"):
        target = links.plan.page_for(links.page.lang, PurePosixPath(posixpath.normpath(href.lstrip("/"))))
        if target:
            return target.title
    return href


def _is_current(href_out: str, links: _Links) -> bool:
    """Whether a resolved navbar link points at the page being rendered."""
    path = href_out.split("#", 1)[0]
    if not path or re.match(r"^[a-z][a-z0-9+.-]*:", path):
        return False
    here = links.page.out_rel
    return posixpath.normpath(str(here.parent / path)) == str(here)


def navbar_html(items: list, links: _Links) -> str:
    out = ['<ul class="nav-list">']
    for raw in items or []:
        item = {"href": raw} if isinstance(raw, str) else dict(raw or {})
        if "menu" in item:
            sub = []
            current_inside = False
            for entry in item.get("menu") or []:
                entry = {"href": entry} if isinstance(entry, str) else dict(entry or {})
                href = entry.get("href") or entry.get("file")
                if not href:
                    if entry.get("text", "").strip("- ") == "":
                        sub.append('<li class="nav-sep" role="separator"></li>')
                    else:
                        sub.append(f'<li class="nav-menu-header">{_esc(entry["text"])}</li>')
                    continue
                resolved = links.navbar_href(str(href))
                current = _is_current(resolved, links)
                current_inside |= current
                aria = ' aria-current="page"' if current else ""
                sub.append(f'<li><a href="{_esc(resolved)}"{aria}>{_esc(_item_text(entry, links))}</a></li>')
            cls = "nav-menu current" if current_inside else "nav-menu"
            out.append(f'<li class="{cls}"><details><summary>{_esc(item.get("text", ""))}</summary>'
                       f'<ul class="nav-menu-list">{"".join(sub)}</ul></details></li>')
            continue
        href = item.get("href") or item.get("file")
        if not href:
            continue
        resolved = links.navbar_href(str(href))
        current = _is_current(resolved, links)
        aria = ' aria-current="page"' if current else ""
        cls = ' class="current"' if current else ""
        out.append(f'<li{cls}><a href="{_esc(resolved)}"{aria}>{_esc(_item_text(item, links))}</a></li>')
    out.append("</ul>")
    return "\n".join(out)


def _navbar_links_downloads(navbar: dict) -> bool:
    def walk(node) -> bool:
        if isinstance(node, dict):
            href = str(node.get("href") or "")
            if "downloads/" in href:
                return True
            return any(walk(v) for v in node.values())
        if isinstance(node, list):
            return any(walk(v) for v in node)
        return False
    return walk(navbar)


def downloads_html(plan: SitePlan, page: Page, year: int | None, labels: dict[str, str]) -> str:
    if year is None:
        return ""
    folder = plan.site_dir / DOWNLOADS_DIR / str(year)
    entries = []
    for key, pattern in DOWNLOAD_ITEMS:
        name = _download_name(pattern, year)
        if (folder / name).is_file():
            href = relative_href(page.out_rel, PurePosixPath(DOWNLOADS_DIR) / str(year) / name)
            entries.append(f'<li><a href="{_esc(href)}" download>{_esc(labels.get(key, name))}</a></li>')
    if not entries:
        return ""
    return (f'<details class="downloads"><summary>{_esc(labels["downloads-label"])}</summary>'
            f'<ul class="nav-menu-list">{"".join(entries)}</ul></details>')


def lang_switch_html(plan: SitePlan, page: Page) -> str:
    links = []
    for other in plan.projects:
        if other == page.lang:
            continue
        target = plan.page_for(other, counterpart(page.rel, page.lang, other))
        if target is None:
            continue
        labels = labels_for(page.lang)  # a zh page says "English", an en page "中文"
        href = relative_href(page.out_rel, target.out_rel)
        lang_attr = plan.projects[other].config.get("lang") or other
        links.append(f'<a class="lang-switch" href="{_esc(href)}" hreflang="{_esc(lang_attr)}" '
                     f'lang="{_esc(lang_attr)}" title="{_esc(labels["language-switch-title"])}">'
                     f'{_esc(labels["language-switch-label"])}</a>')
    return "\n".join(links)


def home_href(plan: SitePlan, page: Page) -> str:
    """The language's overview: ``reports/<year>/<lang>/index.qmd`` of the page's year."""
    parts = page.rel.parts
    candidates = []
    if len(parts) >= 3 and parts[0] == "reports":
        candidates.append(PurePosixPath(*parts[:3]) / "index.qmd")
    candidates.append(PurePosixPath("index.qmd"))
    for cand in candidates:
        target = plan.page_for(page.lang, cand)
        if target:
            return relative_href(page.out_rel, target.out_rel)
    return relative_href(page.out_rel, page.out_rel)


# --- pandoc ----------------------------------------------------------------------------

def pandoc_path() -> str:
    import pypandoc

    return pypandoc.get_pandoc_path()


def pandoc_version() -> str:
    import pypandoc

    return str(pypandoc.get_pandoc_version())


def _metadata_for_pandoc(meta: dict) -> dict:
    """Document metadata minus what pandoc must not see (site config, our own keys)."""
    skip = {"website", "project", "format", "profile", "execute", "jupyter", "engine",
            "bibliography", "crossref"}
    return {k: v for k, v in meta.items() if k not in skip}


@lru_cache(maxsize=1)
def _toolchain_fingerprint() -> str:
    """What else decides pandoc's output: pandoc itself, the template, filters and assets."""
    digest = hashlib.sha256(pandoc_version().encode())
    for path in sorted([TEMPLATE_DIR / "page.html", LABELS_FILE,
                        *(FILTER_DIR / name for name in FILTERS)]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def run_pandoc(markdown: str, *, metadata: dict, variables: dict[str, str], toc: bool,
               toc_depth: int | None, cwd: Path, cache_dir: Path | None = None) -> str:
    """One page through pandoc with our template and filters; returns the HTML.

    With ``cache_dir``, the HTML is kept under a hash of everything that decides it (the
    resolved markdown, metadata, page variables, template, filters and pandoc version),
    so an unchanged page is not rendered again.
    """
    import subprocess

    cached: Path | None = None
    if cache_dir is not None:
        key = hashlib.sha256(json.dumps(
            [_toolchain_fingerprint(), markdown, metadata, variables, toc, toc_depth, str(cwd)],
            ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")).hexdigest()
        cached = Path(cache_dir) / key[:2] / f"{key}.html"
        if cached.is_file():
            return cached.read_text(encoding="utf-8")

    with tempfile.TemporaryDirectory(prefix="bpsreport-pandoc-") as tmp:
        tmp_path = Path(tmp)
        meta_file = tmp_path / "meta.json"
        meta_file.write_text(json.dumps(metadata, ensure_ascii=False, default=str), encoding="utf-8")
        vars_file = tmp_path / "defaults.yaml"
        vars_file.write_text(yaml.safe_dump({"variables": variables}, allow_unicode=True),
                             encoding="utf-8")
        args = [pandoc_path(), "--from", "markdown", "--to", "html5", "--standalone",
                "--template", str(TEMPLATE_DIR / "page.html"),
                "--metadata-file", str(meta_file), "--defaults", str(vars_file),
                "--section-divs", "--wrap=none", "--quiet"]
        if toc:
            args += ["--toc"]
            if toc_depth:
                args += [f"--toc-depth={int(toc_depth)}"]
        for name in FILTERS:
            args += ["--lua-filter", str(FILTER_DIR / name)]
        proc = subprocess.run(args, input=markdown.encode("utf-8"), capture_output=True, cwd=cwd)
        if proc.returncode != 0:
            raise RenderError(f"pandoc failed (exit {proc.returncode}): "
                              f"{proc.stderr.decode('utf-8', 'replace').strip()}")
        html_text = proc.stdout.decode("utf-8")
    if cached is not None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp_file = cached.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        tmp_file.write_text(html_text, encoding="utf-8")
        os.replace(tmp_file, cached)
    return html_text


# --- search -----------------------------------------------------------------------------

class _TextCollector(HTMLParser):
    """Headings and text of a page's <main>, split into sections at h1–h3."""

    SKIP = {"script", "style", "nav", "svg", "template", "header"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.in_main = 0
        self.skip = 0
        self.heading: str | None = None
        self.heading_id = ""
        self.sections: list[dict] = [{"id": "", "heading": "", "text": []}]
        self._pending_id = ""
        self._last_id = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "main":
            self.in_main += 1
            return
        if not self.in_main:
            return
        if tag in self.SKIP or (tag == "div" and "toc" in (attrs.get("class") or "")):
            self.skip += 1
            return
        if attrs.get("id"):
            self._last_id = attrs["id"]
        if tag in ("h1", "h2", "h3") and not self.skip:
            self.heading = ""
            self.heading_id = attrs.get("id") or self._last_id
        if tag in ("p", "li", "td", "th", "div", "br", "tr", "figcaption"):
            self._text(" ")

    def handle_endtag(self, tag):
        if tag == "main":
            self.in_main -= 1
            return
        if not self.in_main:
            return
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if tag in ("h1", "h2", "h3") and self.heading is not None:
            self.sections.append({"id": self.heading_id, "heading": " ".join(self.heading.split()),
                                  "text": []})
            self.heading = None

    def handle_data(self, data):
        if not self.in_main or self.skip:
            return
        if self.heading is not None:
            self.heading += data
        else:
            self._text(data)

    def _text(self, data):
        self.sections[-1]["text"].append(data)


def search_entries(html_text: str, href: str, title: str) -> list[dict]:
    parser = _TextCollector()
    parser.feed(html_text)
    entries = []
    for sec in parser.sections:
        text = " ".join("".join(sec["text"]).split())
        if not text and not sec["heading"]:
            continue
        entries.append({
            "href": href + (f"#{sec['id']}" if sec["id"] else ""),
            "title": title,
            "section": sec["heading"],
            "text": text[:4000],
        })
    return entries


# --- one page ------------------------------------------------------------------------------

@dataclass
class RenderedPage:
    page: Page
    html_path: Path
    search: list[dict]
    inputs: list[Path]


_QMD_LINK = re.compile(r"\]\(\s*<?([^)\s>]+?\.qmd)(#[^)\s>]*)?>?(?:\s+[\"'][^)]*[\"'])?\s*\)")


def check_page_links(plan: SitePlan, page: Page, lines: list) -> None:
    """Every markdown link to a ``.qmd`` names a page this language renders (file:line)."""
    from bpsreport.render.qmd import _outside_code_spans  # the resolver's notion of code

    for src in lines:
        if ".qmd" not in src.text:
            continue
        for start, end in _outside_code_spans(src.text):
            for m in _QMD_LINK.finditer(src.text, start, end):
                target = m.group(1)
                if re.match(r"^[a-z][a-z0-9+.-]*:", target):
                    continue
                base = PurePosixPath() if target.startswith("/") else page.rel.parent
                rel = PurePosixPath(posixpath.normpath(str(base / target.lstrip("/"))))
                if plan.page_for(page.lang, rel) is None:
                    try:
                        shown = Path(src.file).resolve().relative_to(plan.projects[page.lang].root)
                    except ValueError:
                        shown = src.file
                    raise RenderError(f"{shown}:{src.line}: link to {target} ({rel}) is not a page "
                                      f"of the {page.lang} site (rendered: the profile's "
                                      f"project: render list; files starting with _ are parts)")


def render_page(plan: SitePlan, page: Page, *, year: int | None,
                cache_dir: Path | None = None) -> RenderedPage:
    project = plan.projects[page.lang]
    doc = resolve_document(page.source, project=project, lang=page.lang, target="html")
    check_page_links(plan, page, doc.lines)
    out_path = plan.site_dir / page.out_rel
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Charts go next to the page, as Quarto puts them: <page>_files/figure-html/.
    doc.write_media(out_path.parent)

    meta = doc.metadata
    lang = str(meta.get("lang") or page.lang)
    labels = labels_for(lang, meta)
    links = _Links(plan, page)
    website = project.website
    navbar = website.get("navbar") or {}
    site_title = str(website.get("title") or "")
    search_on = website.get("search", True) is not False
    libs = relative_href(page.out_rel, plan.lang_root(page.lang) / LIBS_DIR)
    root_rel = relative_href(page.out_rel, plan.lang_root(page.lang)) or "."
    site_root_rel = relative_href(page.out_rel, PurePosixPath("."))
    downloads = "" if _navbar_links_downloads(navbar) else downloads_html(plan, page, year, labels)
    nav = navbar_html(list(navbar.get("left") or []) + list(navbar.get("right") or []), links)

    pandoc_meta = _metadata_for_pandoc(meta)
    pandoc_meta["lang"] = lang
    pandoc_meta["bps-labels"] = labels
    pandoc_meta["bps-output-root"] = _dir_prefix(root_rel)
    pandoc_meta["bps-site-root"] = _dir_prefix(site_root_rel)
    pandoc_meta["bps-page-dir"] = str(page.rel.parent)
    pandoc_meta["bps-pages"] = {str(p.rel): relative_href(page.out_rel, p.out_rel)
                                for p in plan.pages.get(page.lang, [])}
    pandoc_meta.setdefault("toc-title", labels["toc-title-document"])
    if "pagetitle" not in pandoc_meta:
        pandoc_meta["pagetitle"] = str(meta.get("title") or page.title)
    footer = website.get("page-footer")
    if isinstance(footer, dict):
        footer = " · ".join(str(footer[k]) for k in ("left", "center", "right") if footer.get(k))
    variables = {
        "bps-root": root_rel,
        "bps-libs": libs,
        "bps-site-title": _esc(site_title),
        "bps-home": _esc(home_href(plan, page)),
        "bps-navbar": nav,
        "bps-nav-label": _esc(labels["navbar-menu-label"]),
        "bps-downloads": downloads,
        "bps-lang-switch": lang_switch_html(plan, page),
        "bps-skip-label": _esc(labels["skip-to-content"]),
        "bps-search": "true" if search_on else "",
        "bps-search-label": _esc(labels["search-label"]),
        "bps-search-placeholder": _esc(labels["search-box-placeholder"]),
        "bps-search-empty": _esc(labels["search-no-results-text"]),
        "bps-footer": _esc(footer) if footer else "",
    }
    for key in ("bps-search", "bps-footer"):  # pandoc templates test for presence
        if not variables[key]:
            variables.pop(key)
    toc = bool(meta.get("toc"))
    try:
        html_text = run_pandoc(doc.markdown, metadata=pandoc_meta, variables=variables, toc=toc,
                               toc_depth=meta.get("toc-depth"), cwd=page.source.parent,
                               cache_dir=cache_dir)
    except RenderError as exc:
        raise RenderError(f"{page.rel}: {exc}") from exc
    out_path.write_text(html_text, encoding="utf-8")
    href_in_lang = posixpath.relpath(str(page.out_rel), str(plan.lang_root(page.lang)))
    entries = search_entries(html_text, href_in_lang, str(meta.get("title") or page.title))
    return RenderedPage(page=page, html_path=out_path, search=entries, inputs=doc.includes)


def _dir_prefix(rel: str) -> str:
    return "" if rel in ("", ".") else rel.rstrip("/") + "/"


# --- the whole site ------------------------------------------------------------------------

@dataclass
class SiteResult:
    site_dir: Path
    pages: list[RenderedPage]

    def html_files(self) -> list[Path]:
        return [p.html_path for p in self.pages]


def copy_downloads(site_dir: Path, root: Path, unit_id: str, year: int,
                   pdfs: dict[str, Path] | None = None) -> list[Path]:
    """PDFs and the clean data CSV into ``downloads/<year>/`` of the site (either backend)."""
    folder = Path(site_dir) / DOWNLOADS_DIR / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for key, path in (pdfs or {}).items():
        if path and Path(path).is_file():
            dest = folder / f"report-{key}.pdf"
            shutil.copy2(path, dest)
            written.append(dest)
    # The data CSVs are written from the clean tables, with names next to the ids and
    # formula-like cells neutralised (bpsreport.downloads; same names as CLEAN_DOWNLOADS).
    from bpsreport.downloads import write_edition_downloads
    written += write_edition_downloads(Path(root), unit_id, year, folder)
    return written


def write_assets(site_dir: Path, lang_root: PurePosixPath) -> None:
    dest = Path(site_dir) / lang_root / LIBS_DIR
    dest.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        shutil.copy2(TEMPLATE_DIR / name, dest / name)


def write_search_index(site_dir: Path, lang_root: PurePosixPath, entries: list[dict]) -> None:
    """``search.json`` (Quarto's name) and ``search-index.js`` (works from file:// too)."""
    base = Path(site_dir) / lang_root
    data = json.dumps(entries, ensure_ascii=False, separators=(",", ":"))
    (base / "search.json").write_text(data, encoding="utf-8")
    (base / LIBS_DIR / "search-index.js").write_text(
        "window.BPS_SEARCH_INDEX = " + data + ";\n", encoding="utf-8")


def write_chooser(site_dir: Path, plan: SitePlan, year: int | None) -> Path:
    """``_site/index.html``: links to each language's overview, redirecting to the first."""
    targets = []
    for lang in plan.projects:
        pages = plan.pages.get(lang) or []
        index = None
        wanted = [PurePosixPath("reports") / str(year) / lang / "index.qmd"] if year else []
        for cand in [*wanted, PurePosixPath("index.qmd")]:
            index = plan.page_for(lang, cand)
            if index:
                break
        if index is None and pages:
            index = pages[0]
        if index is not None:
            targets.append((lang, index))
    path = Path(site_dir) / "index.html"
    if not targets:
        return path
    first_lang, first = targets[0]
    title = labels_for(first_lang)["chooser-title"]
    site_titles = [str(plan.projects[lang].website.get("title") or "") for lang, _ in targets]
    items = "\n".join(
        f'<li><a href="{_esc(p.out_rel)}" hreflang="{_esc(lang)}" lang="{_esc(lang)}">'
        f'{_esc(plan.projects[lang].website.get("title") or p.title)}</a></li>'
        for lang, p in targets)
    css = _esc(posixpath.join(str(plan.lang_root(first_lang)), LIBS_DIR, "site.css"))
    path.write_text(f"""<!DOCTYPE html>
<html lang="{_esc(plan.projects[first_lang].config.get('lang') or first_lang)}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="0; url={_esc(first.out_rel)}">
<title>{_esc(" / ".join(t for t in site_titles if t) or title)}</title>
<link rel="icon" type="image/svg+xml" href="{css.replace("site.css", "favicon.svg")}">
<link rel="stylesheet" href="{css}">
</head>
<body class="chooser">
<main class="page">
<h1 class="title">{_esc(title)}</h1>
<ul class="chooser-list">
{items}
</ul>
</main>
</body>
</html>
""", encoding="utf-8")
    return path


def render_site(root: Path, site_dir: Path, *, langs: tuple[str, ...] = ("zh", "en"),
                unit_id: str | None = None, year: int | None = None,
                pdfs: dict[str, Path] | None = None, jobs: int | None = None,
                cache_dir: Path | None = None, progress=None) -> SiteResult:
    """Render every HTML page of every language profile into ``site_dir``.

    Downloads (PDFs given in ``pdfs`` and the clean CSV of ``unit_id``/``year``) are copied
    first, so that the download menu lists exactly the files that exist. With
    ``cache_dir``, pages whose inputs did not change are taken from the cache. With
    ``progress``, ``progress(0, total)`` is called before the first page and
    ``progress(done, total, page)`` as each page is finished (from worker threads).
    """
    root = Path(root).resolve()
    site_dir = Path(site_dir)
    site_dir.mkdir(parents=True, exist_ok=True)
    if unit_id and year is not None:
        copy_downloads(site_dir, root, unit_id, year, pdfs)
    plan = plan_site(root, tuple(langs), site_dir, year=year)
    if not any(plan.pages.values()):
        raise RenderError(f"{root}: the profiles {', '.join(langs)} render no HTML page "
                          "(check project: render in _quarto-<lang>.yml)")
    work = [page for lang in langs for page in plan.pages[lang]]
    workers = jobs or min(8, (os.cpu_count() or 2))
    finished, lock = [0], threading.Lock()
    if progress is not None:
        progress(0, len(work))

    def attempt(page: Page) -> RenderedPage | RenderError:
        try:
            return render_page(plan, page, year=year, cache_dir=cache_dir)
        except RenderError as exc:  # collected: every broken page is reported at once
            return exc
        finally:
            if progress is not None:
                with lock:
                    finished[0] += 1
                    progress(finished[0], len(work), str(page.out_rel))

    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        outcomes = list(pool.map(attempt, work))
    errors = list(dict.fromkeys(str(o) for o in outcomes if isinstance(o, RenderError)))
    if len(errors) == 1:
        raise next(o for o in outcomes if isinstance(o, RenderError))
    if errors:
        raise RenderError(f"{len(errors)} problems in the report sources:\n"
                          + "\n".join(f"  - {e}" for e in sorted(errors)))
    rendered = [o for o in outcomes if isinstance(o, RenderedPage)]
    for lang in langs:
        lang_root = plan.lang_root(lang)
        write_assets(site_dir, lang_root)
        entries = [e for r in rendered if r.page.lang == lang for e in r.search]
        write_search_index(site_dir, lang_root, entries)
    write_chooser(site_dir, plan, year)
    return SiteResult(site_dir=site_dir, pages=rendered)
