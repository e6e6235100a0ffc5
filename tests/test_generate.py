"""Generated report parts: the 2018 task lists (1–34 across domains) and the sources page."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pandas as pd
import pypandoc
import pytest

from bpsreport.build import build_clean
from bpsreport.catalog import split_list
from bpsreport.generate import (
    MARKER, StaffFileConflict, check_task_numbers, generate_edition_parts, generated_names,
    markdown_escape, write_generated,
)
from bpsreport.paths import ProjectPaths

ROOT = Path(__file__).resolve().parents[1]
OLD_NS = 1_000_000_000_000_000_000
ITEM = re.compile(r"^(\d+)\. (.*)$")


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A scratch project: real raw data and config, clean data built, parts generated."""
    dest = tmp_path_factory.mktemp("generate") / "project"
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    shutil.copytree(ROOT / "config", dest / "config")
    build_clean(ProjectPaths.at(dest))
    generate_edition_parts(dest, "gd-province", 2017)
    return dest


@pytest.fixture(scope="module")
def catalog(project):
    from bpsreport.notebooks import read_clean_catalog
    return read_clean_catalog(project / "data" / "clean" / "catalog")


@pytest.fixture(scope="module")
def tasks(project) -> pd.DataFrame:
    return pd.read_parquet(project / "data" / "clean" / "gd-province" / "2018" / "tasks.parquet")


def generated(project: Path, lang: str) -> Path:
    return project / "reports" / "2017" / lang / "_generated"


def items(text: str) -> dict[int, str]:
    return {int(m.group(1)): m.group(2) for m in map(ITEM.match, text.splitlines()) if m}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_tasks_are_numbered_1_to_34_across_the_domain_files(project, catalog, lang):
    numbers = []
    for domain_id in catalog.domain_ids():
        path = generated(project, lang) / f"tasks-{domain_id}.qmd"
        if domain_id == "cross_cutting":
            assert not path.exists()
            continue
        numbers += list(items(path.read_text(encoding="utf-8")))
    assert numbers == list(range(1, 35))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_pandoc_reads_continuous_ordered_lists(project, lang):
    """The numbering survives markdown parsing: each domain's list starts where the last ended."""
    text = (generated(project, lang) / "tasks-all.qmd").read_text(encoding="utf-8")
    ast = json.loads(pypandoc.convert_text(text, "json", format="markdown"))
    lists = [b["c"] for b in ast["blocks"] if b["t"] == "OrderedList"]
    headers = [b for b in ast["blocks"] if b["t"] == "Header"]
    assert len(lists) == len(headers) == 10
    expected = 1
    for (start, _style, _delim), entries in lists:
        assert start == expected
        expected += len(entries)
    assert expected == 35
    assert all(h["c"][0] == 2 for h in headers)


def test_chinese_task_reads_as_the_official_list(project):
    text = (generated(project, "zh") / "tasks-public_health.qmd").read_text(encoding="utf-8")
    task5 = items(text)[5]
    assert task5.startswith("[**扎实推进强基层、建高地建设。**]{#task-5}")
    assert task5.endswith("[（负责部门：省卫生计生委、省中医药局）]{.task-responsible}")
    all_text = (generated(project, "zh") / "tasks-all.qmd").read_text(encoding="utf-8")
    assert "## 公共教育均等化 {#sec-tasks-education}" in all_text
    assert "## 生态环境保障均等化 {#sec-tasks-environment}" in all_text


def test_english_task_reads_as_the_official_list(project):
    text = (generated(project, "en") / "tasks-public_health.qmd").read_text(encoding="utf-8")
    task5 = items(text)[5]
    assert task5.startswith("[**Strengthen primary care and build medical centres of excellence.**]{#task-5} ")
    assert task5.endswith(" [(Responsible: Provincial Health and Family Planning Commission; "
                          "Provincial Bureau of Traditional Chinese Medicine)]{.task-responsible}")


@pytest.mark.parametrize("lang, opening, separator, closing",
                         [("zh", "[（负责部门：", "、", "）]{.task-responsible}"),
                          ("en", " [(Responsible: ", "; ", ")]{.task-responsible}")])
def test_responsible_departments_match_the_catalog(project, catalog, tasks, lang, opening, separator, closing):
    listed = items((generated(project, lang) / "tasks-all.qmd").read_text(encoding="utf-8"))
    assert len(listed) == len(tasks) == 34
    for rec in tasks.to_dict("records"):
        names = [catalog.departments.at[d, f"name_{lang}"] for d in split_list(rec["departments"])]
        expected = opening + separator.join(markdown_escape(n) for n in names) + closing
        assert listed[int(rec["task_no"])].endswith(expected), rec["task_no"]
        assert listed[int(rec["task_no"])].startswith(f"[**{markdown_escape(rec[f'title_{lang}'])}")
        assert f"**]{{#task-{int(rec['task_no'])}}}" in listed[int(rec["task_no"])]


def test_every_generated_file_starts_with_the_marker(project, catalog, tasks):
    for lang in ("zh", "en"):
        names = sorted(p.name for p in generated(project, lang).glob("*.qmd"))
        assert names == sorted(generated_names(catalog, tasks))
        for name in names:
            first = (generated(project, lang) / name).read_text(encoding="utf-8").splitlines()[0]
            assert first.startswith(MARKER) and "Do not edit" in first


def test_sources_page_lists_documents_and_every_figure(project):
    zh = (generated(project, "zh") / "sources.qmd").read_text(encoding="utf-8")
    assert "| 粤财办〔2018〕6号 |" in zh
    assert "| 城镇新增就业 | 2017 | 实际值 | 148.9万人 | 粤财办〔2018〕6号 一(二)8(1) |  |" in zh
    assert "| 城镇新增就业 | 2017 | 完成率 | 135.4% |" in zh
    en = (generated(project, "en") / "sources.qmd").read_text(encoding="utf-8")
    assert "| Public satisfaction | 2016 | Actual | 82.97% |" in en
    assert "Derived: 83.64 − 0.67" in en
    observations = sum(len(pd.read_parquet(p)) for p in
                       (project / "data" / "clean" / "gd-province").glob("*/observations.parquet")
                       if int(p.parent.name) <= 2018)
    assert en.count("\n| ") - en.count("\n| Number |") - en.count("\n| Indicator |") \
        - en.count("\n| Yue Cai Ban") == observations


def test_unchanged_parts_are_not_rewritten(project):
    files = sorted(generated(project, "zh").glob("*.qmd")) + sorted(generated(project, "en").glob("*.qmd"))
    for path in files:
        os.utime(path, ns=(OLD_NS, OLD_NS))
    results = generate_edition_parts(project, "gd-province", 2017)
    assert results and not any(r.written for r in results)
    assert all(p.stat().st_mtime_ns == OLD_NS for p in files)


def test_a_staff_file_is_never_overwritten(project, tmp_path):
    scratch = tmp_path / "project"
    shutil.copytree(project, scratch)
    staff = generated(scratch, "zh") / "tasks-education.qmd"
    staff.write_text("我的修改（没有生成标记）\n", encoding="utf-8")
    parts = scratch / "reports" / "2017" / "zh" / "_parts"
    parts.mkdir(parents=True)
    (parts / "education.qmd").write_text("staff narrative\n", encoding="utf-8")
    with pytest.raises(StaffFileConflict, match="not written by the build"):
        generate_edition_parts(scratch, "gd-province", 2017)
    assert staff.read_text(encoding="utf-8") == "我的修改（没有生成标记）\n"
    assert (parts / "education.qmd").read_text(encoding="utf-8") == "staff narrative\n"


def test_generated_text_is_only_written_inside_generated_folders(tmp_path):
    with pytest.raises(StaffFileConflict, match="_generated/"):
        write_generated(tmp_path / "_parts" / "tasks.qmd", MARKER + " -->\n")
    with pytest.raises(ValueError, match="marker"):
        write_generated(tmp_path / "_generated" / "tasks.qmd", "no marker\n")


def test_stale_generated_files_are_removed_but_staff_files_kept(project, tmp_path):
    scratch = tmp_path / "project"
    shutil.copytree(project, scratch)
    folder = generated(scratch, "en")
    (folder / "tasks-retired.qmd").write_text(MARKER + " old -->\n", encoding="utf-8")
    generate_edition_parts(scratch, "gd-province", 2017)
    assert not (folder / "tasks-retired.qmd").exists()
    assert (folder / "tasks-education.qmd").exists()


def test_markdown_escape_keeps_data_text_literal():
    text = "a*b_c [d] <e> #f @g $h$ ~i~ ^j^ |k| {{< var x >}} \\"
    escaped = markdown_escape(text)
    plain = pypandoc.convert_text(escaped, "plain", format="markdown", extra_args=["--wrap=none"]).strip()
    assert plain == text


def test_task_numbers_must_be_continuous():
    check_task_numbers(pd.DataFrame({"task_no": [2, 1, 3]}))
    with pytest.raises(ValueError, match="without gaps"):
        check_task_numbers(pd.DataFrame({"task_no": [1, 2, 4]}))
