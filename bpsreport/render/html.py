"""The reviewer site's pages, built without Quarto: pandoc pages with the project's navigation.

Layout (``docs/rendering.md``), under the site directory of a render request, as Quarto
writes it::

    <lang>/reports/<year>/<lang>/**.html     pages, mirroring the sources (Quarto's layout)
    <lang>/site_libs/bpsreport/              site.css, site.js (the built-in theme)

Every page comes from :func:`bpsreport.render.qmd.resolve_document` and one pandoc run
with the Lua filters of :mod:`bpsreport.render.filters` (callouts, GB/T 9704 section
numbers, cross-references, links) and ``templates/html/page.html``. The site makes no
external request: styles and scripts are local files, fonts are the reader's system
fonts, math is not sent to MathJax, and web-font imports in embedded tables are dropped.

What the pages have in common with the pages real Quarto writes, and only that:

- the navigation of ``website``: the ``sidebar`` whose ``contents`` list the page (one
  per edition, as Quarto picks it) and the ``navbar``, if any; the built-in theme shows
  both as one row of links under the site title (sections as menus);
- links: ``x.qmd`` (relative to the page, or ``/x.qmd`` from the project root) → the page
  rendered from it; a ``.qmd`` that is not an input of the profile is an error, as its
  link would be broken.

Everything else a reader sees besides the page (the edition bar with the language
switch, downloads and search over every edition, the root page) is added afterwards by
the project's ``post-render`` script, for both renderers (:mod:`bpsreport.postrender`).
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
from bpsreport import yamlio

PACKAGE_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_DIR = PACKAGE_ROOT / "templates" / "html"
FILTER_DIR = Path(__file__).resolve().parent / "filters"
FILTERS = ("callouts.lua", "sections.lua", "crossref.lua", "links.lua")
LABELS_FILE = FILTER_DIR / "labels.yml"
ASSETS = ("site.css", "site.js", "favicon.svg")
LIBS_DIR = "site_libs/bpsreport"

# --- labels -----------------------------------------------------------------------------

@lru_cache(maxsize=2)
def _label_file(path: Path = LABELS_FILE) -> dict:
    with open(path, encoding="utf-8") as fh:
        return yamlio.safe_load(fh)


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
    """The HTML pages of the profiles: ``pages`` are every input of a profile (links may
    point at any of them, as in Quarto), ``targets`` the ones rendered in this run."""

    site_dir: Path
    projects: dict[str, ProjectConfig]
    pages: dict[str, list[Page]] = field(default_factory=dict)
    targets: dict[str, list[Page]] = field(default_factory=dict)

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


def render_list(project: ProjectConfig) -> list[PurePosixPath]:
    """The profile's inputs: its ``project: render`` globs, resolved as Quarto resolves
    them (:func:`bpsreport.render.inputs.project_inputs`)."""
    from bpsreport.render.inputs import project_inputs

    output_dir = (project.config.get("project") or {}).get("output-dir")
    return project_inputs(project.root, project.render_globs, output_dir=output_dir)


def in_render_target(rel: PurePosixPath, target: str | None) -> bool:
    """Whether an input is rendered by ``quarto render <target>`` (Quarto compares the
    paths as strings, so ``reports/2017/zh`` also takes ``reports/2017/zh-old/…``)."""
    if not target:
        return True
    return str(rel).startswith(target.strip("/"))


def plan_site(root: Path, langs: tuple[str, ...], site_dir: Path, *,
              target: str | None = None) -> SitePlan:
    """The HTML pages of each language profile; with ``target`` (``reports/2017/zh``; the
    language folder is filled in per profile as ``reports/2017/{lang}``), only those are
    rendered, as ``quarto render <target>`` would."""
    projects = {lang: load_project(root, lang) for lang in langs}
    plan = SitePlan(site_dir=Path(site_dir), projects=projects)
    for lang, project in projects.items():
        out_root = lang_output_root(project)
        pages = []
        for rel in render_list(project):
            if rel.suffix != ".qmd":
                raise RenderError(f"{rel}: the built-in renderer renders .qmd sources only; "
                                  "this input of the profile is a "
                                  f"{rel.suffix} file (see docs/rendering.md)")
            source = project.root / rel
            front, _, _ = split_front_matter(source.read_text(encoding="utf-8-sig"), source)
            if "html" not in document_formats(front, project):
                continue  # e.g. report.qmd: the PDF's source (format: typst)
            out_rel = out_root / rel.with_suffix(".html")
            pages.append(Page(lang=lang, source=source, rel=rel, out_rel=PurePosixPath(
                posixpath.normpath(str(out_rel))), title=str(front.get("title") or rel.stem)))
        plan.pages[lang] = pages
        wanted = target.format(lang=lang) if target else None
        plan.targets[lang] = [p for p in pages if in_render_target(p.rel, wanted)]
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
                raise RenderError(f"_quarto.yml / _quarto-{self.page.lang}.yml: the website "
                                  f"navigation links to {href!r}, which is not an input of "
                                  f"the {self.page.lang} profile (its project: render list)")
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


def _sidebars(website: dict) -> list[dict]:
    bars = website.get("sidebar") or []
    if isinstance(bars, dict):
        bars = [bars]
    return [b for b in bars if isinstance(b, dict)]


def _contents_hrefs(contents) -> list[str]:
    out: list[str] = []
    for item in contents if isinstance(contents, list) else [contents]:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            if item.get("href") or item.get("file"):
                out.append(str(item.get("href") or item.get("file")))
            if "contents" in item:
                out.extend(_contents_hrefs(item["contents"]))
    return out


def sidebar_for(website: dict, rel: PurePosixPath) -> dict | None:
    """The sidebar Quarto shows on the page ``rel``: the first whose contents list it."""
    for bar in _sidebars(website):
        hrefs = {posixpath.normpath(h.lstrip("/")) for h in _contents_hrefs(bar.get("contents"))}
        if str(rel) in hrefs:
            return bar
    return None


def sidebar_items(bar: dict) -> list:
    """A sidebar's contents as navbar-style items (a section becomes a menu)."""
    items = []
    for item in bar.get("contents") or []:
        if isinstance(item, dict) and "section" in item:
            items.append({"text": item["section"], "menu": list(item.get("contents") or [])})
        else:
            items.append(item)
    return items


def home_href(plan: SitePlan, page: Page) -> str:
    """The site title's link: the language's output folder (``<lang>/index.html``), as in
    Quarto; the post-render step writes that page (the editions in that language)."""
    return relative_href(page.out_rel, plan.lang_root(page.lang) / "index.html")


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


@dataclass(frozen=True)
class PandocOutput:
    html: str
    reused: bool  # taken from the cache: nothing that decides the page changed


def run_pandoc(markdown: str, *, metadata: dict, variables: dict[str, str], toc: bool,
               toc_depth: int | None, cwd: Path, cache_dir: Path | None = None,
               place: str = "") -> PandocOutput:
    """One page through pandoc with our template and filters.

    With ``cache_dir``, the HTML is kept under a hash of everything that decides it (the
    resolved markdown, metadata, page variables, template, filters and pandoc version,
    and ``place``, the page's folder relative to the project: never an absolute path, so
    a copy of the project reuses the cache), so an unchanged page is not rendered again.
    """
    import subprocess

    cached: Path | None = None
    if cache_dir is not None:
        key = hashlib.sha256(json.dumps(
            [_toolchain_fingerprint(), markdown, metadata, variables, toc, toc_depth, place],
            ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")).hexdigest()
        cached = Path(cache_dir) / key[:2] / f"{key}.html"
        if cached.is_file():
            return PandocOutput(cached.read_text(encoding="utf-8"), True)

    with tempfile.TemporaryDirectory(prefix="bpsreport-pandoc-") as tmp:
        tmp_path = Path(tmp)
        meta_file = tmp_path / "meta.json"
        meta_file.write_text(json.dumps(metadata, ensure_ascii=False, default=str), encoding="utf-8")
        vars_file = tmp_path / "defaults.yaml"
        vars_file.write_text(yaml.safe_dump({"variables": variables}, allow_unicode=True),
                             encoding="utf-8")
        from bpsreport.render.pdf import MARKDOWN_READER

        args = [pandoc_path(), "--from", MARKDOWN_READER, "--to", "html5", "--standalone",
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
    return PandocOutput(html_text, False)


# --- one page ------------------------------------------------------------------------------

@dataclass
class RenderedPage:
    page: Page
    html_path: Path
    inputs: list[Path]
    reused: bool = False  # the same resolved sources as a page rendered before


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


def render_page(plan: SitePlan, page: Page, *, cache_dir: Path | None = None) -> RenderedPage:
    project = plan.projects[page.lang]
    doc = resolve_document(page.source, project=project, lang=page.lang, target="html")
    check_page_links(plan, page, doc.lines)
    out_path = plan.site_dir / page.out_rel
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Images of embedded outputs go next to the page, as Quarto puts them: <page>_files/.
    doc.write_media(out_path.parent)

    meta = doc.metadata
    lang = str(meta.get("lang") or page.lang)
    labels = labels_for(lang, meta)
    links = _Links(plan, page)
    website = project.website
    navbar = website.get("navbar") or {}
    site_title = str(website.get("title") or "")
    libs = relative_href(page.out_rel, plan.lang_root(page.lang) / LIBS_DIR)
    root_rel = relative_href(page.out_rel, plan.lang_root(page.lang)) or "."
    site_root_rel = relative_href(page.out_rel, PurePosixPath("."))
    items = list(navbar.get("left") or []) + list(navbar.get("right") or [])
    bar = sidebar_for(website, page.rel)
    if bar is not None:
        items = sidebar_items(bar) + items
    nav = navbar_html(items, links)

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
        "bps-skip-label": _esc(labels["skip-to-content"]),
        "bps-footer": _esc(footer) if footer else "",
    }
    if not variables["bps-footer"]:  # pandoc templates test for presence
        variables.pop("bps-footer")
    toc = bool(meta.get("toc"))
    try:
        output = run_pandoc(doc.markdown, metadata=pandoc_meta, variables=variables, toc=toc,
                            toc_depth=meta.get("toc-depth"), cwd=page.source.parent,
                            cache_dir=cache_dir, place=str(page.rel.parent))
    except RenderError as exc:
        raise RenderError(f"{page.rel}: {exc}") from exc
    out_path.write_text(output.html, encoding="utf-8")
    return RenderedPage(page=page, html_path=out_path, inputs=doc.includes, reused=output.reused)


def _dir_prefix(rel: str) -> str:
    return "" if rel in ("", ".") else rel.rstrip("/") + "/"


# --- the whole site ------------------------------------------------------------------------

@dataclass
class SiteResult:
    site_dir: Path
    pages: list[RenderedPage]

    def html_files(self) -> list[Path]:
        return [p.html_path for p in self.pages]


def write_assets(site_dir: Path, lang_root: PurePosixPath) -> None:
    dest = Path(site_dir) / lang_root / LIBS_DIR
    dest.mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        shutil.copy2(TEMPLATE_DIR / name, dest / name)


def render_site(root: Path, site_dir: Path, *, langs: tuple[str, ...] = ("zh", "en"),
                target: str | None = None, jobs: int | None = None,
                cache_dir: Path | None = None, progress=None,
                plan: SitePlan | None = None) -> SiteResult:
    """Render the HTML pages of the language profiles into ``site_dir``.

    ``target`` (``reports/2017/{lang}``) renders only those pages, as ``quarto render
    reports/2017/zh`` does; the pages of other editions are left as they are. With
    ``cache_dir``, pages whose inputs did not change are taken from the cache. With
    ``progress``, ``progress(0, total)`` is called before the first page and
    ``progress(done, total, page)`` as each page is finished (from worker threads).
    Every broken page is reported at once.
    """
    root = Path(root).resolve()
    site_dir = Path(site_dir)
    site_dir.mkdir(parents=True, exist_ok=True)
    if plan is None:
        plan = plan_site(root, tuple(langs), site_dir, target=target)
    if not any(plan.targets.values()):
        raise RenderError(f"{root}: the profiles {', '.join(langs)} render no HTML page "
                          f"{'under ' + target.format(lang='<lang>') if target else ''} "
                          "(check project: render in _quarto-<lang>.yml)")
    work = [page for lang in langs for page in plan.targets[lang]]
    workers = jobs or min(8, (os.cpu_count() or 2))
    finished, lock = [0], threading.Lock()
    if progress is not None:
        progress(0, len(work))

    def attempt(page: Page) -> RenderedPage | RenderError:
        try:
            return render_page(plan, page, cache_dir=cache_dir)
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
        write_assets(site_dir, plan.lang_root(lang))
        if plan.projects[lang].website.get("search", True) is not False:
            write_quarto_search(site_dir, plan.lang_root(lang),
                                [r for r in rendered if r.page.lang == lang])
    return SiteResult(site_dir=site_dir, pages=rendered)


def write_quarto_search(site_dir: Path, lang_root: PurePosixPath,
                        pages: list[RenderedPage]) -> Path:
    """``<output-dir>/search.json`` in Quarto's record format (``objectID``, ``href``,
    ``title``, ``section``, ``text``; ``website-search.ts``), updated as Quarto updates it
    on a partial render: the rendered pages' records replace theirs, the others stay. The
    built-in theme has no search box of its own (the project's search is its post-render
    step's); the file is the same data Quarto's search reads."""
    from bpsreport.postrender import search_entries

    path = Path(site_dir) / lang_root / "search.json"
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        records = []
    fresh = []
    rendered = set()
    for page in pages:
        href = posixpath.relpath(str(page.page.out_rel), str(lang_root))
        rendered.add(href)
        for entry in search_entries(page.html_path.read_text(encoding="utf-8"), href, 0):
            fresh.append({"objectID": entry["href"], "href": entry["href"],
                          "title": entry["title"], "section": entry["section"],
                          "text": entry["text"]})
    kept = [r for r in records if str(r.get("href", "")).split("#", 1)[0] not in rendered]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kept + fresh, ensure_ascii=False, indent=2), encoding="utf-8")
    return path
