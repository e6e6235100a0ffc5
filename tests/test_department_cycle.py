"""A whole year of department work, as the finance office and two departments would do it
(issue 9, "Done when"). In a scratch copy of the project with the 2017 edition built:

1. ``new-year 2018`` writes the skeleton and one workbook per department;
2. the transport department fills its workbook correctly; the human resources and social
   security department (hrss) fills its workbook and its narrative with the mistakes
   people make: a figure typed as words, a broken shortcode, a misspelled variable, a
   full-width shortcode, an ideographic space after ``#``, a zero-width space, a
   non-breaking space after a list marker, an unbalanced ``**``, an unclosed ``:::``, a
   skipped heading level, a reference to a figure that does not exist; it also marks a
   task 已完成, which must not be reported as missing;
3. ``check --department hrss`` names each mistake at its file and line;
4. the mistakes are fixed; ``build --year 2018`` builds a draft (other departments'
   TODOs and statuses remain), says so, and ``build --final`` refuses, listing them;
5. every department hands in its statuses and the TODOs are written; ``check`` passes and
   ``build --final`` builds the final edition;
6. the 2017 edition's files are byte-identical throughout, and the employment page shows
   the new figure in the generated sentence, not "实际值尚未报送".

Every figure, status and sentence written here is SYNTHETIC test data.
"""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from conftest import copy_built_edition, file_hashes, run_pipeline
from bpsreport.check import ERROR, run_checks

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
UNIT = "gd-province"
DROP = Path("data/raw/submissions") / UNIT / "2018"
ZH_PART = Path("reports/2018/zh/_parts/employment_security.qmd")
EN_PART = Path("reports/2018/en/_parts/employment_security.qmd")


def _editions_2017(root: Path) -> dict[str, dict[str, str]]:
    return {"site_zh": file_hashes(root / "_site/zh/reports/2017"),
            "site_en": file_hashes(root / "_site/en/reports/2017"),
            "downloads": file_hashes(root / "_site/downloads/2017"),
            "pdf": file_hashes(root / "build" / UNIT / "2017" / "pdf")}


def _append(root: Path, rel: Path, lines: list[str]) -> dict[str, int]:
    """Append lines (after a blank line); ``{line text: its 1-based line number}``."""
    path = root / rel
    text = path.read_text(encoding="utf-8").rstrip("\n")
    first = text.count("\n") + 3
    path.write_text(text + "\n\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return {line: first + i for i, line in enumerate(lines)}


def _task_rows(workbook: Path) -> list[int]:
    ws = openpyxl.load_workbook(workbook)["tasks"]
    return [int(ws.cell(row=r, column=1).value) for r in range(2, ws.max_row + 1)
            if ws.cell(row=r, column=1).value is not None]


def _data_row(workbook: Path, indicator_id: str) -> int:
    ws = openpyxl.load_workbook(workbook)["data"]
    return next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=1).value == indicator_id)


# The mistakes of the hrss narrative (Chinese part), each with the code check gives it.
MISTAKES = [
    ("城镇登记失业率为{{< var y2018.urban_registered_unemployment_rate.actual.zh }}。", "shortcode-malformed"),
    ("就业困难人员实现就业{{< var y2018.hard_to_employ_employd.actual.zh >}}。", "var-unknown"),
    ("城镇新增就业目标为｛｛＜ var y2018.urban_new_jobs.target.zh ＞｝｝。", "fullwidth-shortcode"),
    ("#　合成测试的就业创业小节", "markup-space"),
    ("城镇新增就业\u200b{{< var y2018.urban_new_jobs.actual.zh >}}。", "invisible-character"),
    ("-\u00a0合成测试列表项", "markup-space"),
    ("**一是合成测试的加粗文字没有闭合。", "unbalanced-emphasis"),
    ("详见图表（@fig-employment-missing-zh）。", "xref-missing"),
    ("::: {.callout-note}", "unclosed-div"),
]


@pytest.fixture(scope="module")
def cycle(tmp_path_factory, edition_2017):
    from bpsreport.submissions import fill_template

    root = copy_built_edition(tmp_path_factory.mktemp("cycle") / "project")
    record: dict = {"root": root, "before": _editions_2017(root)}

    # 1. The new edition.
    assert run_pipeline(root, "new-year", "2018").returncode == 0
    templates = root / "submissions" / "2018"
    skeleton = {rel: (root / rel).read_text(encoding="utf-8") for rel in (ZH_PART, EN_PART)}

    # 2. transport: correct. hrss: a figure typed as words, and a task marked 已完成.
    fill_template(templates / "transport.xlsx", root / DROP / "transport.xlsx",
                  data={"village_bus_access_rate": {"value": 96.1, "source": "SYNTHETIC test value"}},
                  tasks={n: {"status": "completed", "note": "SYNTHETIC"}
                         for n in _task_rows(templates / "transport.xlsx")})
    fill_template(templates / "hrss.xlsx", root / DROP / "hrss.xlsx",
                  data={"urban_new_jobs": {"value": 133.2, "source": "SYNTHETIC test value"},
                        "hard_to_employ_employed": {"value": "约十万", "source": "SYNTHETIC test value"}},
                  tasks={24: {"status": "已完成", "note": "SYNTHETIC"}})
    record["bad_cell"] = _data_row(templates / "hrss.xlsx", "hard_to_employ_employed")
    lines = _append(root, ZH_PART, [text for text, _ in MISTAKES])
    record["mistakes"] = {(ZH_PART.as_posix(), lines[text], code) for text, code in MISTAKES}
    # A heading two levels below the part's own (####): the same in both languages, so
    # the only finding is the skipped level.
    zh = _append(root, ZH_PART, ["###### 合成测试小节 {#sec-synthetic-skip}", "", "合成测试文字。"])
    _append(root, EN_PART, ["###### Synthetic section {#sec-synthetic-skip}", "", "Synthetic text."])
    record["mistakes"].add((ZH_PART.as_posix(), zh["###### 合成测试小节 {#sec-synthetic-skip}"],
                            "heading-skipped"))
    record["mistakes"].add(((DROP / "hrss.xlsx").as_posix(), record["bad_cell"], "data-invalid"))

    # 3. The check, for hrss.
    record["check_hrss"] = run_checks(root, 2018, department="hrss")
    cli = run_pipeline(root, "check", "--year", "2018", "--department", "hrss")
    record["check_hrss_cli"] = (cli.returncode, cli.stdout)

    # 4. Fixed: the skeleton text back, the figure as a number. Then a draft build.
    for rel, text in skeleton.items():
        (root / rel).write_text(text, encoding="utf-8")
    (root / DROP / "hrss.xlsx").unlink()
    fill_template(templates / "hrss.xlsx", root / DROP / "hrss.xlsx",
                  data={"urban_new_jobs": {"value": 133.2, "source": "SYNTHETIC test value"},
                        "hard_to_employ_employed": {"value": 10.5, "source": "SYNTHETIC test value"}},
                  tasks={24: {"status": "已完成", "note": "SYNTHETIC"}})
    record["check_hrss_fixed"] = run_checks(root, 2018, department="hrss")
    record["draft"] = run_pipeline(root, "build", "--year", "2018")
    record["refused"] = run_pipeline(root, "build", "--year", "2018", "--final")
    record["draft_site"] = (root / "_site/zh/reports/2018/zh/domains/employment_security.html").read_text(
        encoding="utf-8")

    # 5. Everyone hands in and the TODOs are written (SYNTHETIC text and details).
    for template in sorted(templates.glob("*.xlsx")):
        dest = root / DROP / template.name
        if template.stem in ("hrss", "transport"):
            book = openpyxl.load_workbook(dest)
            ws = book["tasks"]
            for r in range(2, ws.max_row + 1):
                if ws.cell(row=r, column=4).value in (None, ""):
                    ws.cell(row=r, column=4, value="推进中")
            book.save(dest)
            continue
        fill_template(template, dest, tasks={n: {"status": "in_progress", "note": "SYNTHETIC"}
                                             for n in _task_rows(template)})
    for path in (root / "reports" / "2018").rglob("*.qmd"):
        if "_generated" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"TODO\s*[:：]\s*", "", text).replace("TODO", "合成测试" if "/zh/" in path.as_posix()
                                                            else "synthetic")
        path.write_text(text, encoding="utf-8")
    config = root / "config" / "edition.yml"
    text = config.read_text(encoding="utf-8")
    head, entry = text.split("\n  2018:\n", 1)
    entry = (entry.replace('source_id: "TODO"', 'source_id: "synthetic-2019"')
             .replace('issued: "TODO"', "issued: 2099-03-01")
             .replace("TODO号", "99号").replace("No. TODO", "No. 99"))
    config.write_text(head + "\n  2018:\n" + entry, encoding="utf-8")
    record["check_all"] = run_checks(root, 2018)
    record["final"] = run_pipeline(root, "build", "--year", "2018", "--final")
    record["after"] = _editions_2017(root)
    return record


def test_check_names_each_mistake_of_the_department_at_its_line(cycle):
    found = {(f.path, f.line, f.code) for f in cycle["check_hrss"] if f.severity == ERROR}
    assert cycle["mistakes"] <= found, sorted(cycle["mistakes"] - found)
    # The status hrss just entered counts, though nothing was built since (and though a
    # cell of the same workbook is refused).
    for findings in (cycle["check_hrss"], cycle["check_hrss_fixed"]):
        tasks = [f for f in findings if f.code == "task-no-status"]
        assert tasks and not [f for f in tasks if "task 24 " in f.message]
    # Only hrss's files and tasks: nothing of transport's, nothing of other domains' parts.
    assert all("transport" not in f.path and "education" not in f.path for f in cycle["check_hrss"])
    code, out = cycle["check_hrss_cli"]
    assert code == 6
    assert "reports/2018/zh/_parts/employment_security.qmd\n" in out
    assert re.search(r"\d+ errors? \(错误\), \d+ warnings? \(警告\): .*\bfullwidth-shortcode\b", out)


def test_once_fixed_the_department_has_none_of_those_mistakes(cycle):
    codes = {code for _, _, code in cycle["mistakes"]}
    left = [str(f) for f in cycle["check_hrss_fixed"] if f.code in codes]
    assert left == []


def test_the_build_is_a_draft_while_errors_remain_and_final_refuses(cycle):
    draft, refused = cycle["draft"], cycle["refused"]
    assert draft.returncode == 0, draft.stderr[-3000:]
    last = draft.stdout.strip().splitlines()[-1]
    assert "draft · 征求意见稿" in last and "errors remain" in last
    assert refused.returncode == 6
    assert "todo-left" in refused.stderr + refused.stdout
    assert "nothing was built" in refused.stderr + refused.stdout


def test_the_figure_handed_in_later_is_in_the_sentence_not_not_reported(cycle):
    page = cycle["draft_site"]
    assert "城镇新增就业年度目标为110万人，实际为133.2万人" in page
    assert "城镇新增就业年度目标为110万人，实际值尚未报送" not in page
    reference = (cycle["root"] / "reports/2018/VARIABLES.md").read_text(encoding="utf-8")
    assert "| `y2018.urban_new_jobs.actual` | 133.2万人 | 1.332 million people |" in reference


def test_when_everyone_has_handed_in_check_passes_and_the_final_build_runs(cycle):
    errors = [str(f) for f in cycle["check_all"] if f.severity == ERROR]
    assert errors == []
    final = cycle["final"]
    assert final.returncode == 0, final.stderr[-3000:]
    assert "final · 定稿" in final.stdout.strip().splitlines()[-1]


def test_the_2017_edition_is_byte_identical(cycle):
    assert cycle["after"] == cycle["before"]


def test_the_root_page_lists_both_editions(cycle):
    index = (cycle["root"] / "_site" / "index.html").read_text(encoding="utf-8")
    assert "2017" in index and "2018" in index
    assert "http-equiv" not in index.lower(), "the root page lists editions, it does not redirect"


def test_search_finds_both_years_with_their_labels(cycle):
    from bpsreport.postrender import read_search_index

    site = cycle["root"] / "_site"
    for lang in ("zh", "en"):
        entries = {year: read_search_index(site, year, lang) for year in (2017, 2018)}
        for year, found in entries.items():
            assert found, (year, lang)
            assert all(e["href"].startswith(f"{lang}/reports/{year}/{lang}/") for e in found)
            assert all(str(e.get("year")) == str(year) for e in found), found[:3]
