"""The report's data variables (_variables.yml): keys, formatting, edition details, writing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from bpsreport.build import build_clean
from bpsreport.paths import ProjectPaths
from bpsreport.progress import TargetStatus
from bpsreport.variables import (_literal_tree, 
    EditionConfigError, VARIABLES_FILE, build_edition_variables, dump_variables, flatten,
    format_date, load_edition, write_variables,
)

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A scratch project with clean data built from the real raw data and config."""
    dest = tmp_path_factory.mktemp("variables") / "project"
    shutil.copytree(ROOT / "data" / "raw", dest / "data" / "raw")
    shutil.copytree(ROOT / "config", dest / "config")
    build_clean(ProjectPaths.at(dest))
    return dest


@pytest.fixture(scope="module")
def variables(project) -> dict:
    return build_edition_variables(project, "gd-province", 2017)


@pytest.fixture(scope="module")
def flat(variables) -> dict[str, str]:
    return flatten(variables)


def test_urban_new_jobs_reads_as_the_source_in_both_languages(variables):
    jobs = variables["y2017"]["urban_new_jobs"]
    assert jobs["actual"] == {"zh": "148.9万人", "en": "1.489 million people"}
    assert jobs["completion"] == {"zh": "135.4%", "en": "135.4%"}
    assert jobs["status"] == {"zh": "已完成", "en": "Met"}
    assert jobs["name"] == {"zh": "城镇新增就业", "en": "New urban jobs"}


def test_threshold_targets_carry_their_comparator_and_a_plain_amount(variables):
    bus = variables["y2018"]["village_bus_access_rate"]
    assert bus["target"]["zh"] == "≥ 95%"
    assert bus["target_amount"] == {"zh": "95%", "en": "95%"}
    assert variables["y2018"]["urban_registered_unemployment_rate"]["target"]["en"] == "≤ 3.5%"
    assert variables["y2018"]["urban_new_jobs"]["target"] == {"zh": "110万人", "en": "1.1 million people"}
    assert variables["y2017"]["village_bus_access_rate"]["actual"]["zh"] == "92.1%"


def test_stated_completion_rates_keep_the_sources_precision(variables):
    housing = variables["y2017"]
    assert housing["public_rental_housing_allocated_2014_batch"]["completion"]["zh"] == "112.11%"
    assert housing["rural_dilapidated_housing_renovations"]["completion"]["en"] == "76.55%"
    assert housing["rural_dilapidated_housing_renovations"]["status"]["zh"] == "未完成"


def test_completion_and_status_match_the_target_table(project, variables):
    from bpsreport.notebooks import read_clean_catalog
    from bpsreport.tables import target_rows

    clean = project / "data" / "clean"
    assessment = pd.read_parquet(clean / "gd-province" / "2017" / "assessment.parquet")
    catalog = read_clean_catalog(clean / "catalog")
    for lang in ("zh", "en"):
        rows = target_rows(assessment, catalog, lang).set_index("indicator_id")
        assert len(rows) > 0
        for ind, row in rows.iterrows():
            entry = variables["y2017"][ind]
            assert entry["status"][lang] == row["status"]
            if row["completion"] != "—":
                assert entry["completion"][lang] == row["completion"]


def test_only_existing_fields_are_exposed(variables):
    # 2018 has targets only: no actual, and no completion without an actual.
    new_jobs_2018 = variables["y2018"]["urban_new_jobs"]
    assert "actual" not in new_jobs_2018 and "completion" not in new_jobs_2018
    # An indicator without a target has no target fields.
    assert "target" not in variables["y2017"]["urban_registered_unemployment_rate"]


def test_every_key_ends_in_both_languages(flat):
    stems = {}
    for key in flat:
        stem, lang = key.rsplit(".", 1)
        assert lang in ("zh", "en"), key
        stems.setdefault(stem, set()).add(lang)
    incomplete = sorted(s for s, langs in stems.items() if langs != {"zh", "en"})
    assert incomplete == []
    # Every value is text; only the draft mark is empty, for a final edition.
    assert all(isinstance(v, str) and (v or k.startswith("edition.draft.")) for k, v in flat.items())


def test_summary_counts_agree_with_the_assessment(project, variables):
    assessment = pd.read_parquet(project / "data" / "clean" / "gd-province" / "2017" / "assessment.parquet")
    summary = variables["y2017"]["summary"]
    for status in TargetStatus:
        assert summary[status.value]["zh"] == str(int((assessment["status"] == status.value).sum()))
    assert summary["indicators"]["en"] == str(len(assessment))
    with_target = int((assessment["status"] != "no_target").sum())
    assert summary["with_target"]["zh"] == str(with_target)
    assert summary["met"]["zh"] == "10" and summary["not_met"]["zh"] == "3"


def test_task_counts_per_edition_and_domain(variables):
    y2018 = variables["y2018"]
    assert y2018["summary"]["tasks"]["zh"] == "34"
    assert y2018["summary"]["task_domains"]["en"] == "10"
    health = y2018["domains"]["public_health"]
    assert (health["tasks"]["zh"], health["tasks_first"]["zh"], health["tasks_last"]["zh"]) == ("3", "5", "7")
    # Domain task ranges tile 1..34 without gaps.
    ranges = sorted((int(d["tasks_first"]["zh"]), int(d["tasks_last"]["zh"]))
                    for d in y2018["domains"].values() if "tasks" in d)
    assert ranges[0][0] == 1 and ranges[-1][1] == 34
    assert all(b[0] == a[1] + 1 for a, b in zip(ranges, ranges[1:]))


def test_edition_details_come_from_config(variables):
    edition = variables["edition"]
    assert edition["doc_number"]["zh"] == "粤财办〔2018〕6号"
    assert edition["issuer"] == {"zh": "广东省财政厅", "en": "Department of Finance of Guangdong Province"}
    assert edition["issuer_mark"]["zh"] == "广东省财政厅文件"
    assert edition["issued"] == {"zh": "2018年3月26日", "en": "26 March 2018"}
    assert edition["recipients"]["zh"] == "省直有关部门"
    assert edition["disclosure"]["zh"] == "依申请公开"
    assert edition["printing_office"]["zh"] == "广东省财政厅办公室"
    # Years are filled into the title templates; list fields are joined per language.
    assert "均等化2017年工作总结" in edition["title"]["zh"]
    assert edition["title"]["zh"].endswith("及2018年重点工作任务")
    assert "2017 Work Summary and Key Tasks for 2018" in edition["title"]["en"]
    # The 抄送 line is a sentence: joined per language, ending with 。 (config/edition.yml list_end).
    assert edition["cc"]["zh"].endswith("。")
    assert edition["cc"]["zh"][:-1].split("，") == ["各地级以上市人民政府", "各县（市、区）人民政府"]
    assert edition["cc"]["en"].endswith("districts.")
    assert "{" not in "".join(v for f in edition.values() for v in f.values())


def test_status_rules_and_unit(variables):
    assert variables["rules"]["met_at"]["zh"] == "100%"
    assert variables["rules"]["nearly_met_at"]["en"] == "90%"
    assert variables["rules"]["label"]["nearly_met"] == {"zh": "基本完成", "en": "Nearly met"}
    assert variables["unit"]["name"]["zh"] == "广东省"


def test_derived_earlier_years_are_available_for_comparison(variables):
    assert variables["y2016"]["public_satisfaction"]["actual"]["zh"] == "82.97%"
    assert variables["y2011"]["public_satisfaction"]["actual"]["en"] == "76.20%"


def test_dates_are_written_out_per_language():
    assert format_date("2018-03-26", "zh") == "2018年3月26日"
    assert format_date("2019-01-09", "en") == "9 January 2019"
    with pytest.raises(ValueError):
        format_date("2018-03-26", "fr")


def test_variables_file_is_sorted_unicode_and_deterministic(tmp_path, variables):
    path = write_variables(tmp_path, variables)
    assert path == tmp_path / VARIABLES_FILE
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Generated by bpsreport.variables")
    assert "148.9万人" in text and "\\u" not in text
    # Written as markdown that reads back as the values themselves (Quarto parses a
    # variable as markdown): the file holds the values with markup characters escaped.
    assert yaml.safe_load(text) == _literal_tree(variables)
    assert dump_variables(variables) == text
    top_keys = [line.split(":")[0] for line in text.splitlines()
                if line and not line.startswith((" ", "#"))]
    assert top_keys == sorted(top_keys)


def test_unchanged_variables_leave_the_file_alone(tmp_path, variables):
    path = write_variables(tmp_path, variables)
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    write_variables(tmp_path, variables)
    assert path.stat().st_mtime_ns == 1_000_000_000_000_000_000
    changed = {**variables, "rules": {**variables["rules"], "met_at": {"zh": "99%", "en": "99%"}}}
    write_variables(tmp_path, changed)
    assert path.stat().st_mtime_ns != 1_000_000_000_000_000_000
    assert "99%" in path.read_text(encoding="utf-8")
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_missing_edition_is_an_actionable_error(tmp_path):
    config = tmp_path / "edition.yml"
    shutil.copy(ROOT / "config" / "edition.yml", config)
    with pytest.raises(EditionConfigError, match=r"no entry for the 2031 edition.*entries: 2017"):
        load_edition(config, 2031)


def test_an_incomplete_edition_names_the_missing_field(tmp_path):
    data = yaml.safe_load((ROOT / "config" / "edition.yml").read_text(encoding="utf-8"))
    del data["editions"][2017]["doc_number"]["en"]
    config = tmp_path / "edition.yml"
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(EditionConfigError, match=r"editions\.2017\.doc_number needs a zh and an en text"):
        load_edition(config, 2017)
