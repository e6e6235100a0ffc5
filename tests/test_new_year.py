"""`pipeline.py new-year`: scaffolding the next edition (docs/yearly-workflow.md §1).

Everything runs in a scratch copy of the project; the checkout is never written. The
module's copy is started once (`new_year(copy, 2018)` after the clean data is written) and
the tests read it; tests that change files make their own copy. The last test builds the
2018 edition from the skeleton (slow: notebooks, site and PDFs).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path, PurePosixPath

import pandas as pd
import pytest

from bpsreport.generate import markdown_escape
import yaml

from bpsreport.edition import NewYearReport, append_edition_entry, new_year
from bpsreport.variables import EditionConfigError

# Runs `new-year` on a project copy with its clean data: end-to-end (slow).
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
YEAR = 2018
UNIT = "gd-province"
VAR = re.compile(r"\{\{<\s*var\s+(\S+)\s*>\}\}")
INCLUDE = re.compile(r"\{\{<\s*include\s+(\S+)\s*>\}\}")
EMBED = re.compile(r"\{\{<\s*embed\s+(\S+)\s*>\}\}")
# What new-year may write, relative to the project root.
# The new edition, its config entry and its sidebar in each profile, the hand-out folder.
ALLOWED = (f"reports/{YEAR}/", "config/edition.yml", "_quarto-zh.yml", "_quarto-en.yml",
           f"submissions/{YEAR}/")


def copy_project(dest: Path, *, with_2017_outputs: bool = False) -> Path:
    """The inputs of a build (raw data, config, notebooks, report sources, Quarto files)."""
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    for name in ("config", "notebooks", "scripts"):
        shutil.copytree(ROOT / name, dest / name)
    ignore = None if with_2017_outputs else shutil.ignore_patterns("_generated")
    shutil.copytree(ROOT / "reports" / "2017", dest / "reports" / "2017", ignore=ignore)
    for path in [*ROOT.glob("_quarto*.yml"), ROOT / "pipeline.py"]:
        shutil.copy2(path, dest / path.name)
    if with_2017_outputs:
        shutil.copytree(ROOT / "build" / UNIT / "2017" / "notebooks",
                        dest / "build" / UNIT / "2017" / "notebooks")
    return dest


def write_clean(root: Path) -> None:
    from bpsreport.build import build_clean
    from bpsreport.paths import ProjectPaths

    build_clean(ProjectPaths.at(root))


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A copy with clean data, before and after `new_year(copy, 2018)`."""
    root = copy_project(tmp_path_factory.mktemp("new-year") / "project")
    write_clean(root)
    before = snapshot(root)
    report = new_year(root, YEAR)
    return root, before, report


@pytest.fixture(scope="module")
def tasks_2018() -> pd.DataFrame:
    return pd.read_csv(ROOT / "data" / "raw" / "tasks" / UNIT / str(YEAR) / "tasks.csv")


def qmd_files(root: Path, year: int, lang: str) -> set[str]:
    folder = root / "reports" / str(year) / lang
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*.qmd")
            if "_generated" not in p.parts}


# --- what is created ---------------------------------------------------------------------------

def test_the_skeleton_mirrors_the_previous_edition_in_both_languages(started):
    root, _, report = started
    zh, en = qmd_files(root, YEAR, "zh"), qmd_files(root, YEAR, "en")
    assert zh == en
    assert zh == qmd_files(ROOT, 2017, "zh"), "same pages and parts as reports/2017/"
    created = {p.relative_to(root).as_posix() for p in report.created}
    assert {f"reports/{YEAR}/{lang}/{f}" for lang in ("zh", "en") for f in zh} <= created


def target(include: str, including: str, year: int, lang: str) -> str:
    """An include's file below reports/<year>/<lang>/ (root paths, or relative to the file)."""
    import posixpath

    prefix = f"/reports/{year}/{lang}/"
    if include.startswith(prefix):
        return include[len(prefix):]
    return posixpath.normpath(posixpath.join(posixpath.dirname(including), include))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_includes_and_embeds_are_those_of_2017_with_the_year_moved_on(started, lang):
    root, _, _ = started
    for rel in qmd_files(ROOT, 2017, lang):
        old = (ROOT / "reports" / "2017" / lang / rel).read_text(encoding="utf-8")
        new = (root / "reports" / str(YEAR) / lang / rel).read_text(encoding="utf-8")
        # The same files, whichever way the path is written (a part's own includes start
        # at the project root, as Quarto resolves nested includes against the page).
        # Generated parts that the 2017 staff replaced with their own text: the sentences
        # about the figures, and (in main-work) the funding and satisfaction charts, which
        # 2017 embeds by hand after the paragraphs that cite them.
        results = re.compile(rf"^/reports/{YEAR}/{lang}/_generated/(results-.*|overview-figures|"
                             rf"difficulties-counts|exhibits-cross_cutting)\.qmd$")
        assert [target(i, rel, YEAR, lang) for i in INCLUDE.findall(new) if not results.match(i)] \
            == [target(i, rel, 2017, lang) for i in INCLUDE.findall(old)], rel
        if rel.startswith("_parts/"):
            assert all(i.startswith(f"/reports/{YEAR}/{lang}/") for i in INCLUDE.findall(new)), rel
        if rel == "_parts/main-work.qmd":
            assert f"/reports/{YEAR}/{lang}/_generated/exhibits-cross_cutting.qmd" in INCLUDE.findall(new)
            assert [e.rsplit("#", 1)[1] for e in EMBED.findall(old)] == [f"fig-funding-{lang}",
                                                                         f"fig-satisfaction-{lang}"]
            assert EMBED.findall(new) == []
            continue
        assert EMBED.findall(new) == [e.replace("/2017/", f"/{YEAR}/") for e in EMBED.findall(old)], rel


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_domain_part_lists_its_tasks_of_the_2018_list(started, tasks_2018, catalog, lang):
    root, _, _ = started
    for domain_id, own in tasks_2018.groupby("domain_id"):
        text = (root / "reports" / str(YEAR) / lang / "_parts" / f"{domain_id}.qmd").read_text(encoding="utf-8")
        listed = [int(n) for n in re.findall(r"^(\d+)\. ", text, flags=re.M)]
        assert listed == sorted(own["task_no"]), domain_id
        for rec in own.to_dict("records"):
            # Data text is written escaped, so it prints as it is (quotes stay straight).
            assert markdown_escape(str(rec[f"title_{lang}"]).rstrip("。.")) in text
            assert f"y{YEAR}.tasks.{rec['task_no']}.status.{lang}" in text
            for name in catalog.department_names(rec["departments"], lang):
                assert markdown_escape(name) in text


def generated_parts(root: Path) -> None:
    from bpsreport.generate import generate_edition_parts

    generate_edition_parts(root, UNIT, YEAR)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_data_sentences_are_a_generated_part_the_build_rewrites(started, lang, tmp_path):
    """Issue 9 §5: the sentences about the year's figures follow the data until replaced."""
    root, _, _ = started
    assessment = pd.read_parquet(root / "data" / "clean" / UNIT / str(YEAR) / "assessment.parquet")
    for domain_id in sorted(set(assessment["domain_id"]) | {"education"}):
        name = "main-work" if domain_id == "cross_cutting" else domain_id
        part = (root / "reports" / str(YEAR) / lang / "_parts" / f"{name}.qmd").read_text(encoding="utf-8")
        include = f"/reports/{YEAR}/{lang}/_generated/results-{domain_id}.qmd"
        assert f"{{{{< include {include} >}}}}" in part, (domain_id, "the part includes it")
        assert "VARIABLES.md" in part, "the note beside the include says where the variables are"
    project = tmp_path / "project"
    shutil.copytree(root, project)
    generated_parts(project)
    folder = project / "reports" / str(YEAR) / lang / "_generated"
    for domain_id, own in assessment.groupby("domain_id"):
        text = (folder / f"results-{domain_id}.qmd").read_text(encoding="utf-8")
        for indicator_id in own["indicator_id"]:
            assert f"y{YEAR}.{indicator_id}.target.{lang}" in text, (domain_id, indicator_id)
    # Education has no 2018 figure: the generated part says so and names last year's ones.
    education = (folder / "results-education.qmd").read_text(encoding="utf-8")
    assert f"y{YEAR}.special_education_funding" not in education and "TODO" not in education
    assert ("特殊教育建设维护资金" if lang == "zh" else "Special education construction") in education


def test_every_variable_the_skeleton_cites_is_generated_for_2018(started, tmp_path):
    from bpsreport.variables import build_edition_variables, flatten

    root, _, _ = started
    project = tmp_path / "project"
    shutil.copytree(root, project)
    generated_parts(project)
    known = set(flatten(build_edition_variables(project, UNIT, YEAR)))
    cited = {(p.relative_to(project).as_posix(), key)
             for p in (project / "reports" / str(YEAR)).rglob("*.qmd")
             for key in VAR.findall(p.read_text(encoding="utf-8"))}
    assert len(cited) > 300
    assert sorted(c for c in cited if c[1] not in known) == []


def test_sentences_to_rewrite_are_marked_todo_in_both_languages(started):
    root, _, _ = started
    for lang in ("zh", "en"):
        parts = root / "reports" / str(YEAR) / lang / "_parts"
        for name in ("notice", "summary-overview", "main-work", "education", "difficulties",
                     "measures", "tasks-overview"):
            assert "TODO" in (parts / f"{name}.qmd").read_text(encoding="utf-8"), (lang, name)


def test_the_config_gains_a_2018_entry_and_keeps_the_2017_one_byte_identical(started):
    from bpsreport.variables import edition_variables, load_edition

    root, before, report = started
    old = before["config/edition.yml"]
    new = (root / "config" / "edition.yml").read_bytes()
    assert new.startswith(old) and len(new) > len(old)
    entries = yaml.safe_load(new.decode("utf-8"))["editions"]
    assert entries[2017] == yaml.safe_load(old.decode("utf-8"))["editions"][2017]
    entry = load_edition(root / "config" / "edition.yml", YEAR)
    assert (entry["summary_year"], entry["task_year"], entry["unit_id"]) == (2018, 2019, UNIT)
    assert entry["issued"] == "TODO" and "TODO" in entry["doc_number"]["zh"]
    assert entry["title"] == entries[2017]["title"]
    shown = edition_variables(entry, YEAR)
    assert shown["title"]["zh"] == "广东省基本公共服务均等化2018年工作总结及2019年重点工作任务"
    assert shown["doc_number"]["zh"] == "粤财办〔2019〕TODO号"
    assert root / "config" / "edition.yml" in report.appended


def test_one_submission_template_per_department_is_handed_out(started):
    root, _, report = started
    made = sorted((root / "submissions" / str(YEAR)).glob("*.xlsx"))
    assert {p.stem for p in made} >= {"edu", "civil_affairs", "hrss", "transport"}
    assert set(made) <= set(report.created)


def test_nothing_is_written_outside_the_new_edition_the_config_and_the_hand_out_folder(started):
    root, before, _ = started
    after = snapshot(root)
    changed = {p for p in after if before.get(p) != after[p]}
    assert changed and all(p.startswith(ALLOWED) for p in changed), sorted(changed)
    assert set(before) <= set(after), "nothing was removed"


def test_the_report_tells_a_clerk_what_was_done_and_what_comes_next(started):
    _, _, report = started
    assert isinstance(report, NewYearReport) and report.changed
    text = str(report)
    assert f"reports/{YEAR}/zh/_parts/education.qmd" in text
    assert "config/edition.yml" in text and "TODO" in text
    assert f"pipeline.py build --year {YEAR}" in text


# --- never overwrite -----------------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_each_profile_gains_the_editions_sidebar_and_keeps_the_others(started, lang):
    import yaml

    from bpsreport.render.html import sidebar_for
    from bpsreport.render.project import load_project

    root, before, _ = started
    text = (root / f"_quarto-{lang}.yml").read_text(encoding="utf-8")
    old = (ROOT / f"_quarto-{lang}.yml").read_text(encoding="utf-8")
    assert text.startswith(old)  # only appended: comments and the 2017 sidebar stay
    bars = yaml.safe_load(text)["website"]["sidebar"]
    assert [b["id"] for b in bars] == [f"{lang}-2017", f"{lang}-{YEAR}"]
    website = load_project(root, lang).website
    for rel in qmd_files(root, YEAR, lang):
        if rel.startswith("_") or rel == "report.qmd":
            continue
        page = Path("reports") / str(YEAR) / lang / rel
        bar = sidebar_for(website, PurePosixPath(page.as_posix()))
        assert bar is not None and bar["id"] == f"{lang}-{YEAR}", rel
        assert (root / page).is_file()


def test_running_again_changes_nothing_and_lists_what_exists(started, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(started[0], root)
    before = snapshot(root)
    report = new_year(root, YEAR)
    assert snapshot(root) == before
    assert report.created == [] and report.appended == [] and not report.changed
    existing = {p.relative_to(root).as_posix() for p in report.existing}
    assert f"reports/{YEAR}/en/_parts/environment.qmd" in existing
    assert "config/edition.yml" in existing
    assert {f"submissions/{YEAR}/{p.name}" for p in (root / "submissions" / str(YEAR)).iterdir()} <= existing


def test_a_staff_edited_file_is_left_byte_identical_and_a_deleted_one_comes_back(started, tmp_path):
    root = tmp_path / "project"
    shutil.copytree(started[0], root)
    edited = root / "reports" / str(YEAR) / "zh" / "_parts" / "education.qmd"
    edited.write_bytes("#### 推进教育发展\r\n\r\n已改写的段落。\r\n".encode("utf-8"))
    staff_bytes = edited.read_bytes()
    removed = root / "reports" / str(YEAR) / "en" / "_parts" / "measures.qmd"
    removed.unlink()
    report = new_year(root, YEAR)
    assert edited.read_bytes() == staff_bytes
    assert edited in report.existing
    assert report.created == [removed] and removed.is_file()


def test_an_entry_is_not_appended_when_editions_is_not_the_last_key(tmp_path):
    config = tmp_path / "edition.yml"
    text = ("list_separator: {zh: '，', en: '; '}\neditions:\n  2017:\n    summary_year: 2017\n"
            "# trailing key\nother: 1\n")
    config.write_text(text, encoding="utf-8")
    report = NewYearReport(root=tmp_path, unit_id=UNIT, year=YEAR)
    with pytest.raises(EditionConfigError, match="last key"):
        append_edition_entry(config, YEAR, UNIT, report)
    assert config.read_text(encoding="utf-8") == text


def test_without_clean_data_the_skeleton_is_written_and_the_templates_are_deferred(tmp_path):
    root = copy_project(tmp_path / "project")
    report = new_year(root, YEAR)
    assert (root / "reports" / str(YEAR) / "en" / "report.qmd").is_file()
    assert not (root / "submissions").exists()
    assert any("build" in note for note in report.notes)


# --- the next year's task list -------------------------------------------------------------------

@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_missing_next_year_list_gives_marked_placeholders_and_an_entered_one_the_list(catalog, tasks_2018, lang):
    from bpsreport.generate import MARKER, render_parts

    observations = pd.read_csv(ROOT / "data" / "raw" / "observations" / UNIT / "2018" / "public_transport.csv")
    observations = observations.assign(unit_id=UNIT, domain_id="public_transport")
    parts = render_parts(None, observations, catalog, unit_id=UNIT, year=YEAR, lang=lang)
    domains = [d for d in catalog.domains.index if d != "cross_cutting"]
    for name in [f"tasks-{d}.qmd" for d in domains] + ["tasks-all.qmd"]:
        assert parts[name].startswith(MARKER)
        assert "TODO" in parts[name] and f"data/raw/tasks/{UNIT}/2019/tasks.csv" in parts[name]
    # Once the 2019 list exists (here: the 2018 list standing in for it), it is printed.
    listed = render_parts(tasks_2018, observations, catalog, unit_id=UNIT, year=YEAR, lang=lang)
    assert "TODO" not in listed["tasks-all.qmd"]
    assert re.search(r"^34\. ", listed["tasks-all.qmd"], flags=re.M)


# The 2018 edition is built end to end (with a department submission) in
# tests/test_yearly_workflow.py.
