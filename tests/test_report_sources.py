"""The report sources under reports/2017/: mirrored languages, valid shortcodes, no typed numbers.

These checks read the .qmd files as text, so they run without Quarto and without a render:
the two editions mirror each other, every {{< var >}} names a generated variable, every
{{< embed >}} names a labelled cell of the notebook templates, every cross-reference has a
target in the document that includes it, and the narrative types no statistic.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bpsreport.build import build_clean
from bpsreport.generate import generate_edition_parts, generated_names
from bpsreport.paths import ProjectPaths
from bpsreport.variables import build_edition_variables, flatten

ROOT = Path(__file__).resolve().parents[1]
YEAR = 2017
REPORTS = ROOT / "reports" / str(YEAR)
LANGS = ("zh", "en")
UNIT = "gd-province"
SHORTCODE_NAMES = {"var", "meta", "include", "embed"}
FRONT_MATTER_KEYS = {"title", "subtitle", "lang", "format", "number-sections", "toc"}
CALLOUTS = {"note", "tip", "important", "warning", "caution"}
EMBED_PREFIX = f"/build/{UNIT}/{YEAR}/notebooks/"
# Years may be typed in narrative (headings, plan periods); every statistic is a variable.
YEARS = range(2009, 2036)

SHORTCODE = re.compile(r"\{\{<\s*([\w-]+)\s*(.*?)\s*>\}\}")
SHORTCODE_START = re.compile(r"\{\{[<%]")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*(\{[^{}]*\})?\s*$")
ATTRS = re.compile(r"\{[#.][^{}]*\}")
REF = re.compile(r"@((?:fig|tbl|sec)-[A-Za-z0-9_-]*[A-Za-z0-9])")
ID = re.compile(r"#((?:fig|tbl|sec)-[A-Za-z0-9_-]*[A-Za-z0-9])")
DIGITS = re.compile(r"[0-9０-９]+(?:[.,．][0-9０-９]+)*")
CELL_LABEL = re.compile(r"^\s*#\|\s*label:\s*(\S+)")


# --- reading sources -----------------------------------------------------------------------------

def staff_files(lang: str) -> list[Path]:
    """Every source staff edit (generated parts excluded), sorted by relative path."""
    base = REPORTS / lang
    return sorted(p for p in base.rglob("*.qmd") if "_generated" not in p.relative_to(base).parts)


def rel(path: Path, lang: str) -> str:
    return path.relative_to(REPORTS / lang).as_posix()


def split_front_matter(text: str) -> tuple[dict, str]:
    if text.startswith("---\n"):
        end = text.index("\n---\n", 4)
        return yaml.safe_load(text[4:end]) or {}, text[end + 5:]
    return {}, text


def shortcodes(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in SHORTCODE.finditer(text)]


def headings(text: str) -> list[tuple[int, str, str]]:
    """(level, heading text, attribute block) of every heading outside front matter."""
    _, body = split_front_matter(text)
    out = []
    for line in body.splitlines():
        m = HEADING.match(line)
        if m:
            out.append((len(m.group(1)), m.group(2), m.group(3) or ""))
    return out


def strip_lang(value: str, lang: str) -> str:
    return re.sub(rf"[-.]{lang}\b", "", value).replace(f"/{lang}/", "/<lang>/")


def notebook_labels(name: str) -> set[str]:
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    labels = set()
    for cell in nb["cells"]:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for line in source.splitlines():
            m = CELL_LABEL.match(line)
            if m:
                labels.add(m.group(1))
    return labels


@pytest.fixture(scope="module")
def domains() -> list[str]:
    frame = pd.read_csv(ROOT / "data" / "raw" / "catalog" / "domains.csv").sort_values("order")
    return [d for d in frame["domain_id"] if d != "cross_cutting"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A scratch project: clean data from the real raw data, and the generated parts."""
    dest = tmp_path_factory.mktemp("report_sources") / "project"
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    shutil.copytree(ROOT / "config", dest / "config")
    build_clean(ProjectPaths.at(dest))
    generate_edition_parts(dest, UNIT, YEAR)
    return dest


@pytest.fixture(scope="module")
def variable_keys(built) -> set[str]:
    return set(flatten(build_edition_variables(built, UNIT, YEAR)))


def resolve_include(including: Path, target: str, built: Path) -> Path:
    path = (ROOT / target.lstrip("/") if target.startswith("/") else including.parent / target).resolve()
    if "_generated" in path.parts:  # generated parts live in the scratch project in tests
        return built / path.relative_to(ROOT)
    return path


def expand(path: Path, built: Path, stack: tuple[Path, ...] = ()) -> str:
    """The text of a source with every include expanded, as Quarto would see it."""
    assert path not in stack, f"include cycle: {' -> '.join(map(str, stack + (path,)))}"
    text = path.read_text(encoding="utf-8")
    if not stack:
        _, text = split_front_matter(text)

    def include(m: re.Match) -> str:
        if m.group(1) != "include":
            return m.group(0)
        return expand(resolve_include(path, m.group(2), built), built, stack + (path,))

    return SHORTCODE.sub(include, text)


def pages(lang: str) -> list[Path]:
    """Documents that are rendered (not parts)."""
    return [p for p in staff_files(lang) if not any(part.startswith("_") for part in
                                                    p.relative_to(REPORTS / lang).parts)]


# --- the two editions mirror each other --------------------------------------------------------

def test_zh_and_en_mirror_file_for_file():
    zh = [rel(p, "zh") for p in staff_files("zh")]
    en = [rel(p, "en") for p in staff_files("en")]
    assert zh == en
    assert {"index.qmd", "summary.qmd", "tasks.qmd", "targets.qmd", "sources.qmd",
            "report.qmd"} <= set(zh)


@pytest.mark.parametrize("name", [rel(p, "zh") for p in staff_files("zh")])
def test_heading_structure_and_labels_mirror(name):
    zh = (REPORTS / "zh" / name).read_text(encoding="utf-8")
    en = (REPORTS / "en" / name).read_text(encoding="utf-8")
    assert [(lvl, attrs) for lvl, _, attrs in headings(zh)] == \
        [(lvl, attrs) for lvl, _, attrs in headings(en)]
    structural = lambda text, lang: [(n, strip_lang(a, lang)) for n, a in shortcodes(text) if n != "var"]
    assert structural(zh, "zh") == structural(en, "en")
    refs = lambda text, lang: sorted(strip_lang(r, lang) for r in REF.findall(text))
    assert refs(zh, "zh") == refs(en, "en")
    facts = lambda text, lang: sorted({strip_lang(a, lang) for n, a in shortcodes(text) if n == "var"})
    assert facts(zh, "zh") == facts(en, "en"), "both editions cite the same figures"


# --- shortcodes -----------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_only_supported_shortcodes_appear(lang):
    for path in staff_files(lang):
        text = path.read_text(encoding="utf-8")
        for number, line in enumerate(text.splitlines(), 1):
            starts = len(SHORTCODE_START.findall(line))
            found = shortcodes(line)
            assert starts == len(found), f"{path}:{number}: malformed shortcode"
            for name, _ in found:
                assert name in SHORTCODE_NAMES, f"{path}:{number}: shortcode {name!r}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_variable_exists_in_the_language_of_its_file(lang, variable_keys):
    used = set()
    for path in staff_files(lang):
        for name, arg in shortcodes(path.read_text(encoding="utf-8")):
            if name == "var":
                assert arg.endswith(f".{lang}"), f"{path}: {arg} is not a {lang} variable"
                used.add(arg)
    missing = sorted(used - variable_keys)
    assert missing == []
    assert len(used) > 150  # the narrative cites the data, not typed numbers


@pytest.mark.parametrize("lang", LANGS)
def test_every_embed_names_a_labelled_notebook_cell(lang, domains):
    # Executed domain notebooks carry the domain in their labels (notebooks.specialise_labels).
    domain_labels = notebook_labels("domain")
    labels = {"overview": notebook_labels("overview"),
              **{d: {re.sub(r"^(fig|tbl)-", rf"\1-{d}-", lab) for lab in domain_labels} for d in domains}}
    embedded = set()
    for path in staff_files(lang):
        for name, arg in shortcodes(path.read_text(encoding="utf-8")):
            if name != "embed":
                continue
            notebook, _, label = arg.partition("#")
            assert notebook.startswith(EMBED_PREFIX), f"{path}: {arg}"
            stem = notebook[len(EMBED_PREFIX):].removesuffix(".ipynb")
            assert stem in labels, f"{path}: no notebook {stem!r} is built"
            assert label in labels[stem], f"{path}: {label} is not a label of {stem}"
            assert label.endswith(f"-{lang}"), f"{path}: {label} is not the {lang} output"
            embedded.add((stem, label))
    # Every domain's exhibits are placed in the summary and on the domain's page: the
    # generated part that embeds its chart and table, or its indicators' table, as the
    # data decides (bpsreport.generate.exhibits_parts; tests/test_reader_view.py checks
    # what the 2017 parts embed). Every overview output is shown somewhere.
    texts = {rel(p, lang): p.read_text(encoding="utf-8") for p in staff_files(lang)}
    for d in domains:
        part = f"/reports/2017/{lang}/_generated/exhibits-{d}.qmd"
        includers = {name for name, text in texts.items() if part in text}
        assert {"_parts/summary.qmd", f"domains/{d}.qmd"} <= includers, (d, includers)
    assert {("overview", lab) for lab in labels["overview"] if lab.endswith(lang)} <= embedded


@pytest.mark.parametrize("lang", LANGS)
def test_includes_resolve_to_parts_or_generated_files(lang, built):
    from bpsreport.notebooks import read_clean_catalog
    catalog = read_clean_catalog(built / "data" / "clean" / "catalog")
    tasks = pd.read_parquet(built / "data" / "clean" / UNIT / str(YEAR + 1) / "tasks.parquet")
    generated = set(generated_names(catalog, tasks))
    for path in staff_files(lang):
        for name, arg in shortcodes(path.read_text(encoding="utf-8")):
            if name != "include":
                continue
            # Quarto resolves an include against the page being rendered, not the part
            # holding it (../shared/QUARTO.md item 2): a part's includes are written from
            # the project root, and a page's relative to the page.
            assert arg.startswith("/"), f"{path}: {arg} must start with / (the project root)"
            target = (ROOT / arg.lstrip("/")).resolve() if arg.startswith("/") else \
                (path.parent / arg).resolve()
            folder = target.parent.name
            assert target.parent.parent == (REPORTS / lang).resolve(), f"{path}: {arg}"
            if folder == "_generated":
                assert target.name in generated, f"{path}: {arg} is not generated"
            else:
                assert folder == "_parts" and target.is_file(), f"{path}: {arg}"


# --- documents ------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang", LANGS)
def test_front_matter_and_formats(lang):
    for path in pages(lang):
        meta, _ = split_front_matter(path.read_text(encoding="utf-8"))
        assert set(meta) <= FRONT_MATTER_KEYS, f"{path}: {set(meta) - FRONT_MATTER_KEYS}"
        assert meta.get("title"), f"{path}: no title"
        if path.name == "report.qmd":
            assert meta["format"] == "typst" and meta["number-sections"] is True
            assert meta["lang"] == lang
            assert meta["title"] == f"{{{{< var edition.notice_title.{lang} >}}}}"
        else:
            assert meta["format"] == "html"
    for path in staff_files(lang):
        if "_parts" in path.parts:
            assert not path.read_text(encoding="utf-8").startswith("---"), f"{path}: parts have no front matter"


@pytest.mark.parametrize("lang", LANGS)
def test_report_follows_the_official_structure(lang, built, domains):
    text = expand(REPORTS / lang / "report.qmd", built)
    found = [(lvl, attrs) for lvl, _, attrs in headings(text)]
    level1 = [a for lvl, a in found if lvl == 1]
    assert level1 == ["{.unnumbered #sec-document}", "{#sec-summary}", "{#sec-tasks}",
                      "{.unnumbered #sec-appendix}"]
    ids = [ID.search(a).group(1) for _, a in found if ID.search(a)]
    results = [i for i in ids if i.startswith("sec-results-")]
    assert results == [f"sec-results-{d.replace('_', '-')}" for d in domains]
    tasks = [i for i in ids if i.startswith("sec-tasks-")]
    assert tasks == [f"sec-tasks-{d.replace('_', '-')}" for d in domains]
    level2_under_tasks = [a for lvl, a in found[found.index((1, "{#sec-tasks}")):] if lvl == 2]
    assert len(level2_under_tasks) >= 11 and level2_under_tasks[10] == "{#sec-measures}"
    numbered = [int(m.group(1)) for m in re.finditer(r"^(\d+)\. \[\*\*[^\n]*\]\{#task-\1\}", text, re.M)]
    assert numbered == list(range(1, 35))


@pytest.mark.parametrize("lang", LANGS)
def test_callouts_are_supported_types(lang):
    for path in staff_files(lang):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith(":::") and "{" in line:
                kinds = re.findall(r"\.callout-([\w-]+)", line)
                assert kinds and set(kinds) <= CALLOUTS, f"{path}:{number}: {line}"


@pytest.mark.parametrize("lang", LANGS)
def test_cross_references_have_a_target_in_each_document(lang, built):
    checked = 0
    for path in pages(lang):
        text = expand(path, built)
        defined = set(ID.findall(text))
        defined |= {arg.partition("#")[2] for name, arg in shortcodes(text) if name == "embed"}
        for m in REF.finditer(text):
            before = text[m.start() - 1] if m.start() else " "
            assert before in " \n(（[", f"{path}: @{m.group(1)} follows {before!r}"
            assert m.group(1) in defined, f"{path}: @{m.group(1)} has no target"
            checked += 1
    assert checked >= 5


# --- narrative ------------------------------------------------------------------------------------

def typed_numbers(text: str) -> list[str]:
    """Digit runs outside shortcodes and attribute blocks, list numbers excepted."""
    text = SHORTCODE.sub(" ", text)
    text = ATTRS.sub(" ", text)
    text = re.sub(r"^\s*\d+\.\s", " ", text, flags=re.M)
    return DIGITS.findall(text)


def test_typed_number_detection():
    assert typed_numbers("城镇新增就业148.9万人，{{< var y2017.a.actual.zh >}}") == ["148.9"]
    assert typed_numbers("## 标题 {#sec-x2}\n1. item 2017年") == ["2017"]


@pytest.mark.parametrize("lang", LANGS)
def test_narrative_types_no_statistic(lang, built):
    values = set()
    for obs in (built / "data" / "clean" / UNIT).glob("*/observations.parquet"):
        values |= {float(v) for v in pd.read_parquet(obs)["value"]}
    assert not values & {float(y) for y in YEARS}, "a data value looks like a year"
    for path in staff_files(lang):
        if "_parts" not in path.parts:
            continue
        for number in typed_numbers(path.read_text(encoding="utf-8")):
            plain = number.replace(",", "").translate(str.maketrans("０１２３４５６７８９．", "0123456789."))
            assert plain.isdigit() and int(plain) in YEARS, \
                f"{path}: typed number {number!r}; use a {{{{< var >}}}} for every statistic"


def test_sources_use_no_seed_sentences():
    tool = ROOT.parent / "shared" / "tools" / "verbatim_check.py"
    if not tool.is_file():
        pytest.skip(f"the verbatim checker is not available at {tool}")
    spec = importlib.util.spec_from_file_location("verbatim_check", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    grams = module.seed_grams(20)
    files = [*staff_files("zh"), *staff_files("en"), ROOT / "config" / "edition.yml",
             *sorted((ROOT / "templates").glob("*.j2")), *sorted(ROOT.glob("_quarto*.yml")),
             ROOT / "bpsreport" / "variables.py", ROOT / "bpsreport" / "generate.py"]
    copied = []
    for path in files:
        text = path.read_text(encoding="utf-8")
        copied += [f"{path.relative_to(ROOT)}: {text[a:b]}" for a, b in module.copied_runs(text, grams, 20)]
    assert copied == []


# --- project files --------------------------------------------------------------------------------

def test_project_profiles(domains):
    base = yaml.safe_load((ROOT / "_quarto.yml").read_text(encoding="utf-8"))
    assert base["project"]["type"] == "website"
    # Lists are concatenated when a profile is merged: they live in the profiles only.
    assert "render" not in base["project"] and "sidebar" not in base.get("website", {})
    assert base["project"]["post-render"] == "scripts/post-render.py"
    assert set(base["format"]) == {"html", "typst"}
    for lang in LANGS:
        profile = yaml.safe_load((ROOT / f"_quarto-{lang}.yml").read_text(encoding="utf-8"))
        assert profile["lang"] == lang
        assert profile["project"]["output-dir"] == f"_site/{lang}"
        # Anchored at the root: without "/" Quarto would match at any depth (tests/...).
        assert profile["project"]["render"] == [f"/reports/*/{lang}/**/*.qmd"]
        [sidebar] = [b for b in profile["website"]["sidebar"] if b["id"] == f"{lang}-2017"]
        hrefs = []
        for item in sidebar["contents"]:
            hrefs += [sub for sub in item.get("contents", [])] or [item["href"]]
        assert all((ROOT / h).is_file() for h in hrefs), hrefs
        assert all(f"/2017/{lang}/" in h for h in hrefs)
        assert [Path(h).stem for h in hrefs if "/domains/" in h] == domains
        assert {Path(h).name for h in hrefs} >= {"index.qmd", "summary.qmd", "tasks.qmd",
                                                 "targets.qmd", "sources.qmd"}


def test_render_globs_pick_up_nothing_outside_reports():
    """Quarto's own glob rules (bpsreport.render.inputs): every input of both profiles is
    a page of reports/<year>/<lang>/, none from tests/, build/ or anywhere else."""
    from bpsreport.render.inputs import project_inputs

    for lang in LANGS:
        profile = yaml.safe_load((ROOT / f"_quarto-{lang}.yml").read_text(encoding="utf-8"))
        inputs = project_inputs(ROOT, profile["project"]["render"],
                                output_dir=profile["project"]["output-dir"])
        assert inputs, lang
        for rel in inputs:
            assert rel.parts[0] == "reports" and rel.parts[2] == lang, rel
    # The same rules really would match the test fixtures without the leading "/".
    loose = project_inputs(ROOT, ["reports/*/zh/**/*.qmd"], output_dir="_site/zh")
    assert any(rel.parts[0] == "tests" for rel in loose)


@pytest.mark.parametrize("lang", LANGS)
def test_every_domain_has_a_page_and_a_part(lang, domains):
    summary = (REPORTS / lang / "_parts" / "summary.qmd").read_text(encoding="utf-8")
    for d in domains:
        page = (REPORTS / lang / "domains" / f"{d}.qmd").read_text(encoding="utf-8")
        assert f"{{{{< include /reports/{YEAR}/{lang}/_parts/{d}.qmd >}}}}" in page
        assert f"{{{{< include /reports/{YEAR}/{lang}/_generated/tasks-{d}.qmd >}}}}" in page
        assert f"{{{{< include /reports/{YEAR}/{lang}/_parts/{d}.qmd >}}}}" in summary
        part = (REPORTS / lang / "_parts" / f"{d}.qmd").read_text(encoding="utf-8")
        paragraphs = [b for b in part.split("\n\n") if b.strip() and not b.startswith("#")]
        assert 2 <= len(paragraphs) <= 4, f"{d}: {len(paragraphs)} paragraphs"
        assert all(lvl == 4 for lvl, _, _ in headings(part)), f"{d}: items are level 4 （1）"
