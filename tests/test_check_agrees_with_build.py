"""check finds what build would fail on, before the build (issue 9 §3), tested both ways.

A corpus of bad inputs is laid, one at a time, over a built copy of the real project:

- every input that makes ``pipeline.py build`` fail (data refused: exit 2; a source the
  renderer refuses: exit 5) is an error of ``pipeline.py check`` first, at the file and
  line that causes it;
- inputs the build publishes as literal garbage (exit 0) are errors of the check too;
- a project the check passes builds (exit 0).

All edits are SYNTHETIC test text; the real checkout is never written (a scratch copy is).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bpsreport.check import ERROR, blocks_publication, run_checks
from bpsreport.cli import main

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
YEAR = 2017
ZH = Path("reports/2017/zh")
PART = ZH / "_parts" / "employment_security.qmd"
VAR = "{{< var y2017.urban_new_jobs.actual.zh >}}"


@pytest.fixture(scope="module")
def built(edition_2017, tmp_path_factory) -> Path:
    """A copy of the project with the 2017 edition built (so a case re-runs only what it changes)."""
    dest = tmp_path_factory.mktemp("agreement") / "project"
    for name in ("data/raw", "data/clean", "config", "notebooks", "templates", "scripts", "reports/2017",
                 "build/gd-province/2017", "_site"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns(".*"))
    for path in [*ROOT.glob("_quarto*.yml"), ROOT / "pipeline.py"]:
        shutil.copy2(path, dest / path.name)
    assert main(["--root", str(dest), "build", "--year", str(YEAR), "--renderer", "builtin", "-q"]) == 0
    return dest


def case_copy(built: Path, tmp_path: Path) -> Path:
    dest = tmp_path / "project"
    shutil.copytree(built, dest, symlinks=True)
    return dest


def replace_in(root: Path, rel: Path | str, old: str, new: str) -> int:
    """Edit one file; the 1-based line of the edit."""
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, (rel, old)
    line = 1 + text[:text.index(old)].count("\n")
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


def append_line(root: Path, rel: Path | str, text: str) -> int:
    path = root / rel
    old = path.read_text(encoding="utf-8")
    path.write_text(old.rstrip("\n") + "\n\n" + text + "\n", encoding="utf-8")
    return old.rstrip("\n").count("\n") + 3


def build(root: Path) -> int:
    return main(["--root", str(root), "build", "--year", str(YEAR), "--renderer", "builtin", "-q"])


# Each case: (edit of the project → (file, line)), the code check reports there.
def _broken_close(root):
    return PART, replace_in(root, PART, VAR, VAR[:-3] + "}}")


def _unknown_variable(root):
    return PART, replace_in(root, PART, VAR, VAR.replace("urban_new_jobs", "urban_new_job"))


def _missing_include(root):
    rel = ZH / "domains" / "education.qmd"
    return rel, replace_in(root, rel, "/reports/2017/zh/_parts/education.qmd",
                           "/reports/2017/zh/_parts/educaton.qmd")


def _missing_embed_label(root):
    rel = ZH / "_parts" / "main-work.qmd"
    return rel, replace_in(root, rel, "#fig-funding-zh", "#fig-fundings-zh")


def _missing_cross_reference(root):
    return PART, append_line(root, PART, "详见图表（@fig-employment-missing-zh）。")


def _unsupported_shortcode(root):
    return PART, append_line(root, PART, "{{< pagebreak >}}")


def _bad_front_matter(root):
    rel = ZH / "index.qmd"
    return rel, replace_in(root, rel, "format: html", "format: [html")


def _invalid_value(root):
    rel = "data/raw/observations/gd-province/2017/employment_security.csv"
    text = (root / rel).read_text(encoding="utf-8-sig")
    line = next(i for i, row in enumerate(text.splitlines(), start=1) if row.startswith("urban_new_jobs,")
                and ",actual," in row)
    rows = text.splitlines()
    rows[line - 1] = rows[line - 1].replace("148.9", "一百四十八点九", 1)
    (root / rel).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return rel, line


def _edition_config(root):
    return "config/edition.yml", None if replace_in(
        root, "config/edition.yml", "    title:\n", "    titel:\n") else None


BUILD_FAILS = {
    "shortcode-malformed": (_broken_close, 5),
    "var-unknown": (_unknown_variable, 5),
    "include-missing": (_missing_include, 5),
    "embed-missing": (_missing_embed_label, 5),
    "xref-missing": (_missing_cross_reference, 5),
    "unsupported-syntax": (_unsupported_shortcode, 5),
    "front-matter": (_bad_front_matter, 5),
    "data-invalid": (_invalid_value, 2),
    "edition-config": (_edition_config, 2),
}


@pytest.mark.parametrize("code", sorted(BUILD_FAILS))
def test_what_the_build_fails_on_the_check_reports_first(built, tmp_path, code):
    edit, exit_code = BUILD_FAILS[code]
    root = case_copy(built, tmp_path)
    rel, line = edit(root)
    findings = run_checks(root, YEAR)
    hits = [f for f in findings if f.code == code and f.severity == ERROR]
    assert hits, [str(f) for f in findings if f.severity == ERROR]
    assert any(f.path == Path(rel).as_posix() and (line is None or f.line == line) for f in hits), \
        [str(f) for f in hits]
    assert build(root) == exit_code


# Published as literal text by the build (exit 0), refused by the check.
GARBAGE = {
    "fullwidth-shortcode": "城镇新增就业｛｛＜ var y2017.urban_new_jobs.actual.zh ＞｝｝。",
    "markup-space": "#### 　推进就业（合成测试标题）",
    "invisible-character": "城镇新增就业\u200b{{< var y2017.urban_new_jobs.actual.zh >}}。",
    "unbalanced-emphasis": "**一是合成测试的加粗文字没有闭合。",
    "fullwidth-markup": "＃＃＃＃ 合成测试标题",
}


@pytest.mark.parametrize("code", sorted(GARBAGE))
def test_what_the_build_publishes_as_literal_text_the_check_refuses(built, tmp_path, code):
    root = case_copy(built, tmp_path)
    line = append_line(root, PART, GARBAGE[code])
    assert (PART.as_posix(), line, ERROR, code) in {
        (f.path, f.line, f.severity, f.code) for f in run_checks(root, YEAR)}


def test_a_project_the_check_passes_builds(built, tmp_path):
    root = case_copy(built, tmp_path)
    # A new, well-formed section in both languages.
    for lang, text in (("zh", "#### 合成测试小节 {#sec-synthetic-test}\n\n全年城镇新增就业"
                               "{{< var y2017.urban_new_jobs.actual.zh >}}。"),
                       ("en", "#### Synthetic test section {#sec-synthetic-test}\n\nNew urban jobs "
                              "came to {{< var y2017.urban_new_jobs.actual.en >}}.")):
        append_line(root, Path(f"reports/2017/{lang}/_parts/employment_security.qmd"), text)
    findings = run_checks(root, YEAR)
    assert not blocks_publication(findings), [str(f) for f in findings if f.severity == ERROR]
    assert build(root) == 0
    page = root / "_site/zh/reports/2017/zh/domains/employment_security.html"
    assert "合成测试小节" in page.read_text(encoding="utf-8")
