"""The site's shared parts, added after each render: Quarto's ``post-render`` step.

``_quarto.yml`` lists ``scripts/post-render.py`` as the project's ``post-render`` script.
Real Quarto runs it after every ``quarto render`` of a profile (whole project or one
edition's folder), in the project folder, with

- ``QUARTO_PROJECT_OUTPUT_DIR``: the profile's output folder (``…/_site/zh``);
- ``QUARTO_PROJECT_OUTPUT_FILES``: the files just written, one per line, relative to
  the project folder (``_site/zh/reports/2017/zh/index.html``, ``…/report.pdf``);
- ``QUARTO_PROFILE``: the active profile(s).

The built-in renderer runs the same script the same way (:func:`run_project_scripts`),
so the two renderers' sites differ only in the theme. For every edition (year) among
the files just rendered, in the language of the profile, it

1. copies the edition's PDF (``reports/<year>/<lang>/report.pdf``) into
   ``downloads/<year>/report-<lang>.pdf``; once both languages are there, also
   ``report-bilingual.pdf``, the Chinese edition followed by the English one in one
   file (named for what it is on the site: 中英文合订本);
2. writes the edition's data downloads (CSV, :mod:`bpsreport.downloads`);
3. writes the edition's search index for the language (``_bps/search/<year>-<lang>.js``);
4. records the edition in the registry of editions (``_bps/editions.js``): its pages,
   downloads, title and whether it is a draft;
5. adds the *edition bar* to every page of the edition: which edition the page belongs
   to (and a 征求意见稿 / DRAFT banner while the edition is a draft), the same page in the
   other editions, the language switch, the downloads, and a search over every edition
   whose hits say their year and can be limited to one edition;
6. rewrites the root page ``index.html`` (every edition, newest first, in both
   languages, with its PDFs; the reader picks a language, which is remembered) and
   ``<lang>/index.html`` (the editions in one language).

Only the rendered edition's files, the registry and the two index pages change: the
pages, downloads and search index of every other edition stay byte for byte as they
were. Links to other editions are filled in on the reader's side from the registry, so
publishing 2018 does not rewrite 2017's pages. Everything is local: no network, and it
works from ``file://``.
"""

from __future__ import annotations

import html as html_lib
import json
import os
import posixpath
import re
import shutil
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

import yaml
from bpsreport import yamlio

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
ASSET_DIR = PACKAGE_ROOT / "templates" / "site"
ASSETS = ("bar.css", "bar.js", "search.js", "favicon.svg")
LIBS = "_bps"
DOWNLOADS = "downloads"
LANGS = ("zh", "en")
REGISTRY = f"{LIBS}/editions.json"
REGISTRY_JS = f"{LIBS}/editions.js"
BAR_START = "<!-- bps-edition-bar -->"
BAR_END = "<!-- /bps-edition-bar -->"
HEAD_MARK = "<!-- bps-head -->"
HEAD_END = "<!-- /bps-head -->"
_BAR_BLOCK = re.compile(r"\n?" + re.escape(BAR_START) + r".*?" + re.escape(BAR_END) + r"\n?", re.DOTALL)
_HEAD_BLOCK = re.compile(re.escape(HEAD_MARK) + r".*?" + re.escape(HEAD_END) + r"\n?",
                         re.DOTALL)
_MAIN_OPEN = re.compile(r"<main\b[^>]*>", re.IGNORECASE)
_EDITION_PAGE = re.compile(r"^reports/(\d{4})/([a-z]{2})/")

#: The files of an edition's downloads folder, in the order the menus list them.
PDF_FILES = {"zh": "report-zh.pdf", "en": "report-en.pdf", "bilingual": "report-bilingual.pdf"}


class PostRenderError(RuntimeError):
    """The post-render step could not finish; the message says what to do."""


# --- words ---------------------------------------------------------------------------------

def site_labels() -> dict[str, dict[str, str]]:
    """The words of the edition bar and index pages (``config/labels.yml``, ``site:``)."""
    with open(PACKAGE_ROOT / "config" / "labels.yml", encoding="utf-8") as fh:
        labels = yamlio.safe_load(fh) or {}
    site = labels.get("site") or {}
    return {lang: {k: str(v[lang]) for k, v in site.items() if isinstance(v, dict) and lang in v}
            for lang in LANGS}


# --- what was rendered ---------------------------------------------------------------------

@dataclass
class RenderedOutput:
    """What one ``quarto render`` of a profile wrote, as the environment tells it."""

    root: Path                 # the project folder
    output_dir: Path           # the profile's output folder (<site>/<lang>)
    lang: str
    files: list[Path] = field(default_factory=list)  # absolute paths

    @property
    def site_dir(self) -> Path:
        return self.output_dir.parent

    def years(self) -> list[int]:
        found = set()
        for path in self.files:
            try:
                rel = path.relative_to(self.output_dir).as_posix()
            except ValueError:
                continue
            m = _EDITION_PAGE.match(rel)
            if m and m.group(2) == self.lang:
                found.add(int(m.group(1)))
        return sorted(found)


def rendered_output_from_env(env: dict[str, str], root: Path) -> RenderedOutput:
    """Read Quarto's post-render environment variables."""
    out = env.get("QUARTO_PROJECT_OUTPUT_DIR", "").strip()
    if not out:
        raise PostRenderError("QUARTO_PROJECT_OUTPUT_DIR is not set: this script is run by "
                              "`quarto render` (or the built-in renderer) after a render")
    output_dir = Path(out)
    if not output_dir.is_absolute():
        output_dir = root / output_dir
    lang = output_dir.name
    profiles = [p.strip() for p in env.get("QUARTO_PROFILE", "").split(",") if p.strip()]
    if lang not in LANGS:
        lang = next((p for p in profiles if p in LANGS), "")
    if lang not in LANGS:
        raise PostRenderError(f"cannot tell the language of the output folder {output_dir} "
                              f"(profiles: {', '.join(profiles) or 'none'}); render with "
                              "--profile zh or --profile en")
    files = []
    for line in env.get("QUARTO_PROJECT_OUTPUT_FILES", "").splitlines():
        line = line.strip()
        if line:
            path = Path(line)
            files.append(path if path.is_absolute() else root / path)
    return RenderedOutput(root=root, output_dir=output_dir.resolve(), lang=lang,
                          files=[f.resolve() for f in files])


# --- the registry of editions ----------------------------------------------------------------

def read_registry(site: Path) -> dict:
    path = site / REGISTRY
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        data = {}
    data.setdefault("editions", {})
    return data


def write_registry(site: Path, data: dict) -> None:
    text = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1)
    _write_if_changed(site / REGISTRY, text + "\n")
    _write_if_changed(site / REGISTRY_JS, "window.BPS_EDITIONS = " + text + ";\n")


def _write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except FileNotFoundError:
        pass
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


# --- edition facts -----------------------------------------------------------------------------

def edition_facts(root: Path, year: int) -> dict:
    """Unit, titles and draft state of an edition (config/edition.yml, _variables.yml)."""
    from bpsreport.variables import edition_variables, load_edition

    facts: dict = {"year": year, "unit_id": "", "title": {}, "draft": False}
    config = root / "config" / "edition.yml"
    try:
        entry = load_edition(config, year)
    except Exception:  # noqa: BLE001 - an edition without an entry still gets its pages
        entry = None
    if entry is not None:
        facts["unit_id"] = str(entry.get("unit_id") or "")
        values = edition_variables(entry, year)
        facts["title"] = {lang: (values.get("title") or {}).get(lang, "") for lang in LANGS}
    variables = root / "_variables.yml"
    try:
        data = yamlio.safe_load(variables.read_text(encoding="utf-8")) or {}
    except (FileNotFoundError, yaml.YAMLError):
        data = {}
    edition = data.get("edition") or {}
    if str((edition.get("year") or {}).get("zh", "")) == str(year):
        facts["draft"] = bool((edition.get("draft") or {}).get("zh"))
    return facts


# --- pages ---------------------------------------------------------------------------------------

def edition_pages(output_dir: Path, year: int, lang: str) -> list[str]:
    """The edition's pages in one language, relative to the language's output folder."""
    base = output_dir / "reports" / str(year) / lang
    if not base.is_dir():
        return []
    return sorted(p.relative_to(output_dir).as_posix() for p in base.rglob("*.html"))


def _rel(from_file: str, to_file: str) -> str:
    """``to_file`` (site-relative) as a link from the page ``from_file`` (site-relative)."""
    start = posixpath.dirname(from_file) or "."
    return posixpath.relpath(to_file, start)


def _esc(text: object) -> str:
    return html_lib.escape(str(text), quote=True)


def counterpart_page(rel_in_lang: str, lang: str, other: str) -> str:
    """``reports/2017/zh/x.html`` -> ``reports/2017/en/x.html``."""
    parts = rel_in_lang.split("/")
    if len(parts) > 2 and parts[0] == "reports" and parts[2] == lang:
        parts[2] = other
    return "/".join(parts)


def bar_html(*, page: str, lang: str, year: int, facts: dict, labels: dict,
             root: Path, downloads: list[tuple[str, str]]) -> str:
    """The edition bar of one page. ``page`` is site-relative (``zh/reports/2017/zh/x.html``)."""
    words = labels[lang]
    to_root = _rel(page, "index.html")
    prefix = to_root[: -len("index.html")]
    in_lang = page.split("/", 1)[1]
    edition_rel = in_lang.split("/", 3)[3] if in_lang.count("/") >= 3 else ""
    parts = [BAR_START,
             f'<nav class="bps-bar" id="bps-bar" aria-label="{_esc(words["bar-label"])}" '
             f'data-bps-prefix="{_esc(prefix)}" data-bps-lang="{lang}" data-bps-year="{year}" '
             f'data-bps-page="{_esc(edition_rel)}">',
             '<div class="bps-bar-row">',
             f'<a class="bps-all" href="{_esc(to_root)}">{_esc(words["all-editions"])}</a>',
             f'<span class="bps-edition">{_esc(words["edition"].format(year=year))}</span>',
             f'<span class="bps-others" hidden><span class="bps-others-label">'
             f'{_esc(words["other-editions"])}</span></span>']
    for other in LANGS:
        if other == lang:
            continue
        source = root / "reports" / str(year) / other / Path(edition_rel).with_suffix(".qmd")
        if edition_rel and source.is_file():
            target = f"{other}/{counterpart_page(in_lang, lang, other)}"
            parts.append(f'<a class="bps-lang" href="{_esc(_rel(page, target))}" '
                         f'hreflang="{other}" lang="{other}" '
                         f'title="{_esc(words["language-switch-title"])}">'
                         f'{_esc(words["language-switch"])}</a>')
    if downloads:
        items = "".join(f'<li><a href="{_esc(_rel(page, href))}" download>{_esc(text)}</a></li>'
                        for href, text in downloads)
        parts.append(f'<details class="bps-downloads"><summary>{_esc(words["downloads"])}'
                     f'</summary><ul>{items}</ul></details>')
    parts.append(
        '<div class="bps-search" role="search">'
        f'<label class="bps-visually-hidden" for="bps-search-input">{_esc(words["search-label"])}</label>'
        f'<input id="bps-search-input" class="bps-search-input" type="search" autocomplete="off" '
        f'placeholder="{_esc(words["search-placeholder"])}" '
        f'data-no-results="{_esc(words["search-none"])}">'
        f'<label class="bps-visually-hidden" for="bps-search-scope">{_esc(words["search-scope"])}</label>'
        f'<select id="bps-search-scope" class="bps-search-scope">'
        f'<option value="">{_esc(words["search-all"])}</option></select>'
        '<ol class="bps-search-results" hidden></ol></div>')
    parts.append("</div>")
    if facts.get("draft"):
        parts.append(f'<p class="bps-draft" role="note"><strong>{_esc(words["draft"])}</strong> '
                     f'{_esc(words["draft-note"])}</p>')
    parts.append("</nav>")
    parts.append(f'<script src="{_esc(prefix + REGISTRY_JS)}"></script>')
    parts.append(f'<script src="{_esc(prefix + LIBS + "/search.js")}" defer></script>')
    parts.append(f'<script src="{_esc(prefix + LIBS + "/bar.js")}" defer></script>')
    parts.append(BAR_END)
    return "\n".join(parts) + "\n"


def head_html(page: str) -> str:
    prefix = _rel(page, "index.html")[: -len("index.html")]
    return (f'{HEAD_MARK}\n<link rel="stylesheet" href="{_esc(prefix + LIBS + "/bar.css")}">\n'
            f'{HEAD_END}\n')


def _in_comment(text: str, pos: int) -> bool:
    opened = text.rfind("<!--", 0, pos)
    return opened != -1 and text.rfind("-->", opened, pos) == -1


def inject_bar(html_text: str, bar: str, head: str) -> str:
    """Put the bar at the start of ``<main>`` and its stylesheet in ``<head>`` (replacing
    an earlier bar, so running the step twice changes nothing)."""
    text = _BAR_BLOCK.sub("", html_text)
    text = _HEAD_BLOCK.sub("", text)
    m = next((m for m in _MAIN_OPEN.finditer(text) if not _in_comment(text, m.start())), None)
    if m is None:
        raise PostRenderError("a page has no <main> element to put the edition bar in")
    text = text[:m.end()] + "\n" + bar + text[m.end():]
    close = text.lower().find("</head>")
    if close != -1:
        text = text[:close] + head + text[close:]
    return text


# --- search -----------------------------------------------------------------------------------

class _TextCollector(HTMLParser):
    """Headings and text of a page's ``<main>``, split into sections at h1–h3, without
    the edition bar, scripts, styles, navigation and footnote marks (so "110¹¹" is
    indexed as "110", not "11011")."""

    SKIP = {"script", "style", "nav", "svg", "template", "select"}
    SKIP_CLASSES = ("gt_footnote_marks", "footnote-ref", "bps-bar", "visually-hidden",
                    "quarto-title-meta")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.in_main = 0
        self.skip_stack: list[str] = []
        self.heading: str | None = None
        self.heading_id = ""
        self.title = ""
        self._in_title = False
        self.sections: list[dict] = [{"id": "", "heading": "", "text": []}]
        self._last_id = ""

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "main":
            self.in_main += 1
            return
        if not self.in_main:
            if tag == "title":
                self._in_title = True
            return
        classes = (attrs.get("class") or "").split()
        if self.skip_stack:
            if tag not in ("br", "img", "input", "meta", "link", "hr", "col", "wbr"):
                self.skip_stack.append(tag)
            return
        if tag in self.SKIP or any(c in self.SKIP_CLASSES for c in classes) or \
                (tag == "div" and "toc" in classes):
            if tag not in ("br", "img", "input", "meta", "link", "hr", "col", "wbr"):
                self.skip_stack.append(tag)
            return
        if attrs.get("id"):
            self._last_id = attrs["id"]
        if tag in ("h1", "h2", "h3"):
            self.heading = ""
            self.heading_id = attrs.get("id") or self._last_id
        if tag in ("p", "li", "td", "th", "div", "br", "tr", "figcaption", "section"):
            self._text(" ")

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if tag == "main":
            self.in_main -= 1
            return
        if not self.in_main:
            return
        if self.skip_stack:
            if self.skip_stack[-1] == tag:
                self.skip_stack.pop()
            return
        if tag in ("h1", "h2", "h3") and self.heading is not None:
            heading = " ".join(self.heading.split())
            if tag == "h1" and not self.title:
                self.title = heading
            self.sections.append({"id": self.heading_id, "heading": heading, "text": []})
            self.heading = None
        if tag in ("td", "th", "p", "li"):
            self._text(" ")

    def handle_data(self, data):
        if self._in_title and not self.in_main:
            self.title = self.title or ""
        if not self.in_main or self.skip_stack:
            return
        if self.heading is not None:
            self.heading += data
        else:
            self._text(data)

    def _text(self, data):
        self.sections[-1]["text"].append(data)


def search_entries(html_text: str, href: str, year: int) -> list[dict]:
    """One entry per section of a page: ``href`` (site-relative, with the section's
    anchor), page ``title``, ``section`` heading, ``text`` and ``year``."""
    parser = _TextCollector()
    parser.feed(html_text)
    title = parser.title
    entries = []
    for sec in parser.sections:
        text = " ".join("".join(sec["text"]).split())
        if not text and not sec["heading"]:
            continue
        if sec["heading"] == title and not text:
            continue
        entries.append({
            "href": href + (f"#{sec['id']}" if sec["id"] else ""),
            "title": title,
            "section": "" if sec["heading"] == title else sec["heading"],
            "text": text[:4000],
            "year": year,
        })
    return entries


# --- downloads ----------------------------------------------------------------------------------

def publish_pdfs(out: RenderedOutput, year: int) -> list[Path]:
    """Copy the edition's PDF of this language into downloads; combine both languages."""
    site = out.site_dir
    folder = site / DOWNLOADS / str(year)
    written = []
    pdf = out.output_dir / "reports" / str(year) / out.lang / "report.pdf"
    if pdf.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        dest = folder / PDF_FILES[out.lang]
        shutil.copyfile(pdf, dest)
        written.append(dest)
        parts = [folder / PDF_FILES[lang] for lang in LANGS]
        if all(p.is_file() for p in parts):
            written.append(combine_pdfs(parts, folder / PDF_FILES["bilingual"]))
    return written


def combine_pdfs(parts: list[Path], output: Path) -> Path:
    """The editions one after the other in one file, each keeping its page numbers;
    deterministic (no time stamp or random id), so an unchanged edition gives the same
    bytes."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for part in parts:
        writer.append(str(part))
    writer.add_metadata({"/Producer": "bpsreport"})
    tmp = output.with_name(f".{output.name}.tmp")
    with open(tmp, "wb") as fh:
        writer.write(fh)
    os.replace(tmp, output)
    return output


def publish_data(out: RenderedOutput, year: int, unit_id: str) -> list[Path]:
    """The edition's clean data as CSV downloads."""
    if not unit_id:
        return []
    from bpsreport.downloads import write_edition_downloads

    folder = out.site_dir / DOWNLOADS / str(year)
    folder.mkdir(parents=True, exist_ok=True)
    return write_edition_downloads(out.root, unit_id, year, folder)


def download_items(site: Path, year: int, lang: str, labels: dict) -> list[tuple[str, str]]:
    """``(site-relative href, label)`` of each download of an edition that exists."""
    words = labels[lang]
    folder = site / DOWNLOADS / str(year)
    items = []
    for key in ("zh", "en", "bilingual"):
        if (folder / PDF_FILES[key]).is_file():
            items.append((f"{DOWNLOADS}/{year}/{PDF_FILES[key]}", words[f"download-pdf-{key}"]))
    for name, key in ((f"assessment-{year}.csv", "download-assessment"),
                      (f"observations-{year}.csv", "download-observations"),
                      (f"tasks-{year + 1}.csv", "download-tasks")):
        if (folder / name).is_file():
            items.append((f"{DOWNLOADS}/{year}/{name}", words[key].format(year=year, next_year=year + 1)))
    return items


# --- index pages --------------------------------------------------------------------------------

def write_index_pages(site: Path, registry: dict, labels: dict) -> None:
    """``index.html`` (every edition, both languages) and ``<lang>/index.html``."""
    editions = sorted(registry["editions"].values(), key=lambda e: -int(e["year"]))
    _write_if_changed(site / "index.html", _root_page(editions, labels, site))
    for lang in LANGS:
        if (site / lang).is_dir():
            _write_if_changed(site / lang / "index.html", _lang_page(editions, labels, lang))


def _edition_card(edition: dict, labels: dict, langs: tuple[str, ...], prefix: str) -> str:
    year = int(edition["year"])
    out = [f'<li class="bps-card" data-year="{year}">']
    for lang in langs:
        words = labels[lang]
        pages = edition.get("pages", {}).get(lang) or []
        index = f"reports/{year}/{lang}/index.html"
        if index not in pages and pages:
            index = pages[0]
        title = (edition.get("title") or {}).get(lang) or words["edition"].format(year=year)
        draft = (f' <span class="bps-badge">{_esc(words["draft"])}</span>'
                 if edition.get("draft") else "")
        out.append(f'<div class="bps-card-lang" lang="{lang}" data-lang="{lang}">')
        out.append(f'<h2>{_esc(words["edition"].format(year=year))}{draft}</h2>')
        if pages:
            out.append(f'<p><a class="bps-open" data-lang="{lang}" href="{_esc(prefix + lang + "/" + index)}">'
                       f'{_esc(title)}</a></p>')
        links = [f'<a href="{_esc(prefix + href)}" download>{_esc(text)}</a>'
                 for href, text in edition.get("downloads", {}).get(lang, [])]
        if links:
            out.append('<p class="bps-card-downloads">' + " · ".join(links) + "</p>")
        out.append("</div>")
    out.append("</li>")
    return "\n".join(out)


def _root_page(editions: list[dict], labels: dict, site: Path) -> str:
    zh, en = labels["zh"], labels["en"]
    cards = "\n".join(_edition_card(e, labels, LANGS, "") for e in editions)
    return f"""<!DOCTYPE html>
<html lang="zh">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(zh["site-title"])} · {_esc(en["site-title"])}</title>
<link rel="icon" type="image/svg+xml" href="{LIBS}/favicon.svg">
<link rel="stylesheet" href="{LIBS}/bar.css">
</head>
<body class="bps-index">
<main class="bps-index-main">
<h1>{_esc(zh["site-title"])}<br><span lang="en">{_esc(en["site-title"])}</span></h1>
<div class="bps-lang-pick" role="group" aria-label="{_esc(zh["choose-language"])} / {_esc(en["choose-language"])}">
<button type="button" data-pick="zh" lang="zh">中文</button>
<button type="button" data-pick="en" lang="en">English</button>
</div>
<p class="bps-remembered" hidden></p>
<ol class="bps-cards" reversed>
{cards}
</ol>
</main>
<script src="{LIBS}/bar.js"></script>
</body>
</html>
"""


def _lang_page(editions: list[dict], labels: dict, lang: str) -> str:
    words = labels[lang]
    cards = "\n".join(_edition_card(e, labels, (lang,), "../") for e in editions
                      if e.get("pages", {}).get(lang))
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(words["site-title"])}</title>
<link rel="icon" type="image/svg+xml" href="../{LIBS}/favicon.svg">
<link rel="stylesheet" href="../{LIBS}/bar.css">
</head>
<body class="bps-index">
<main class="bps-index-main">
<h1>{_esc(words["site-title"])}</h1>
<p><a href="../index.html">{_esc(words["all-editions"])}</a></p>
<ol class="bps-cards" reversed>
{cards}
</ol>
</main>
</body>
</html>
"""


# --- the step -----------------------------------------------------------------------------------

def read_search_index(site: Path, year: int, lang: str) -> list[dict]:
    """The search entries of one edition and language, as the site's search box reads them
    (``_bps/search/<year>-<lang>.js``)."""
    text = (Path(site) / LIBS / "search" / f"{year}-{lang}.js").read_text(encoding="utf-8")
    return json.loads(text[text.index("] = ") + 4:].rstrip().rstrip(";"))


def post_render(out: RenderedOutput) -> list[int]:
    """Everything the module docstring lists, for the editions in ``out``; returns them."""
    site = out.site_dir
    labels = site_labels()
    years = out.years()
    registry = read_registry(site)
    (site / LIBS / "search").mkdir(parents=True, exist_ok=True)
    for name in ASSETS:
        source = ASSET_DIR / name
        dest = site / LIBS / name
        if not dest.is_file() or dest.read_bytes() != source.read_bytes():
            shutil.copyfile(source, dest)
    for year in years:
        facts = edition_facts(out.root, year)
        publish_pdfs(out, year)
        publish_data(out, year, facts["unit_id"])
        pages = edition_pages(out.output_dir, year, out.lang)
        entry = registry["editions"].setdefault(str(year), {"year": year})
        entry.update({"year": year, "unit_id": facts["unit_id"], "draft": facts["draft"]})
        entry.setdefault("title", {}).update({k: v for k, v in facts["title"].items() if v})
        entry.setdefault("pages", {})[out.lang] = pages
        downloads = entry.setdefault("downloads", {})
        for lang in LANGS:
            downloads[lang] = download_items(site, year, lang, labels)
        index_entries = []
        for rel in pages:
            text = (out.output_dir / rel).read_text(encoding="utf-8")
            index_entries.extend(search_entries(text, f"{out.lang}/{rel}", year))
        # The bar of every page of this edition, in every language already rendered: the
        # downloads it lists may just have grown (the English PDF completes the pair).
        for lang in LANGS:
            lang_dir = site / lang
            if lang != out.lang and not (lang_dir / "reports" / str(year) / lang).is_dir():
                continue
            for rel in (pages if lang == out.lang else edition_pages(lang_dir, year, lang)):
                page = f"{lang}/{rel}"
                path = lang_dir / rel
                text = path.read_text(encoding="utf-8")
                bar = bar_html(page=page, lang=lang, year=year, facts=facts, labels=labels,
                               root=out.root, downloads=download_items(site, year, lang, labels))
                new = inject_bar(text, bar, head_html(page))
                if new != text:
                    path.write_text(new, encoding="utf-8")
        data = json.dumps(index_entries, ensure_ascii=False, separators=(",", ":"))
        _write_if_changed(site / LIBS / "search" / f"{year}-{out.lang}.js",
                          f"(window.BPS_SEARCH = window.BPS_SEARCH || {{}})[\"{year}-{out.lang}\"] = "
                          f"{data};\n")
    write_registry(site, registry)
    write_index_pages(site, registry, labels)
    return years


def main(argv: list[str] | None = None, env: dict[str, str] | None = None) -> int:
    """Entry point of ``scripts/post-render.py``."""
    env = dict(os.environ if env is None else env)
    root = Path(env.get("QUARTO_PROJECT_DIR") or os.getcwd()).resolve()
    try:
        out = rendered_output_from_env(env, root)
        years = post_render(out)
    except (PostRenderError, OSError, ValueError) as exc:
        print(f"post-render: {exc}", file=sys.stderr)
        return 1
    if env.get("QUARTO_PROJECT_SCRIPT_QUIET", "0") != "1" and years:
        shown = ", ".join(str(y) for y in years)
        print(f"post-render: edition bar, downloads and search for {shown} ({out.lang})")
    return 0
