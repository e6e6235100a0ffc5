"""Markup typed full-width or pasted from Word (issue 9 §3): each class is found with its
line and a fix, and ordinary Chinese text, code and comments are left alone.

Every sentence here is SYNTHETIC test text.
"""

from __future__ import annotations

import pytest

from bpsreport.markup import markup_problems


def codes(text: str, body_start: int = 0) -> list[tuple[int, str]]:
    return [(p.line, p.code) for p in markup_problems(text.split("\n"), body_start=body_start)]


def only(text: str):
    (problem,) = markup_problems(text.split("\n"))
    return problem


# --- each class, with several members -------------------------------------------------------

@pytest.mark.parametrize("line", [
    "新增就业｛｛＜ var y2018.urban_new_jobs.actual.zh ＞｝｝。",   # all full-width
    "新增就业{{＜ var y2018.urban_new_jobs.actual.zh ＞}}。",      # angle brackets only
    "新增就业｛｛< var y2018.urban_new_jobs.actual.zh >｝｝。",      # braces only
    "新增就业{{％ var y2018.urban_new_jobs.actual.zh ％}}。",      # the % form
    "新增就业｛　｛＜ var y2018.urban_new_jobs.actual.zh ＞｝｝。",  # with an ideographic space
])
def test_a_full_width_shortcode_is_one_error_with_the_half_width_form(line):
    problem = only(line)
    assert problem.code == "fullwidth-shortcode" and problem.line == 1
    assert "half-width" in problem.message and "{{<" in problem.message


@pytest.mark.parametrize("line, hint", [
    ("失业率为{{< var y2018.urban_registered_unemployment_rate.actual.zh }}。", ">}}"),
    ("失业率为{{< var y2018.urban_registered_unemployment_rate.actual.zh >}。", ">}}"),
    ("失业率为{< var y2018.urban_registered_unemployment_rate.actual.zh >}}。", "two"),
    ("失业率为 var y2018.urban_registered_unemployment_rate.actual.zh >}}。", "never opened"),
])
def test_a_shortcode_whose_delimiters_do_not_pair_up(line, hint):
    problem = only(line)
    assert problem.code == "shortcode-malformed" and hint in problem.message


@pytest.mark.parametrize("line, half", [
    ("＃＃ 主要工作", "##"),
    ("＞ 引用的文字", ">"),
    ("－ 第一项", "-"),
    ("＊ 第一项", "-"),
    ("１． 第一项", "1."),
    ("：：： {.callout-note}", ":::"),
    ("｜ 指标 ｜ 数值 ｜", "|"),
    ("这是＊＊重点＊＊内容。", "**"),
    ("见｀代码｀。", "`"),
    ("见＠fig-education-targets-zh。", "@"),
    ("详见［数据来源］（sources.qmd）。", "[text](target)"),
    ("## 主要工作 ｛#sec-main｝", "{#id}"),
])
def test_full_width_markup_characters_are_named_with_their_half_width_form(line, half):
    problem = only(line)
    assert problem.code == "fullwidth-markup" and "half-width" in problem.message, problem.message


@pytest.mark.parametrize("line, words", [
    ("#　主要工作", "ideographic"),          # U+3000 after #
    ("#### 　主要工作", "ideographic"),      # after the space, before the title
    ("##\u00a0主要工作", "non-breaking"),    # NBSP after ##
    ("-\u3000第一项", "ideographic"),
    ("1.\u3000第一项", "ideographic"),
    (">\u00a0引用", "non-breaking"),
    ("#主要工作", "needs a space"),
    ("　　各地要加强组织领导。", "paragraph indent"),   # Word's indent
    ("\u00a0\u00a0各地要加强组织领导。", "paragraph indent"),
    ("{{<\u00a0var y2018.urban_new_jobs.actual.zh >}}", "inside a shortcode"),
    ("## 标题 {#sec-a\u3000.unnumbered}", "inside a shortcode"),
])
def test_spaces_markup_cannot_use(line, words):
    problem = only(line)
    assert problem.code == "markup-space" and words in problem.message, problem.message


@pytest.mark.parametrize("char", ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",
                                  "\u200e", "\u202e", "\u2066"])
def test_invisible_characters_anywhere_outside_code(char):
    problem = only(f"城镇新增就业{char}{{{{< var y2018.urban_new_jobs.actual.zh >}}}}。")
    assert problem.code == "invisible-character"
    assert f"U+{ord(char):04X}" in problem.message and "column 7" in problem.message


@pytest.mark.parametrize("text, line", [
    ("**一是加强组织。各地要加强领导。", 1),
    ("**一是**加强组织，**二是加强投入。", 1),
    ("第一行文字，\n**第二行加粗开始\n第三行。", 2),
    ("__未闭合的强调", 1),
])
def test_unbalanced_emphasis_per_paragraph(text, line):
    problem = only(text)
    assert (problem.line, problem.code) == (line, "unbalanced-emphasis")


def test_unclosed_and_stray_div_fences():
    assert codes("::: {.callout-note}\n## 说明\n\n正文。\n") == [(1, "unclosed-div")]
    assert codes("正文。\n:::\n") == [(2, "unclosed-div")]
    assert codes(":::: {.callout-note}\n::: {.inner}\n正文\n:::\n") == [(1, "unclosed-div")]
    assert "never closed" in only("::: {.callout-tip}\n正文").message


def test_a_skipped_heading_level_names_both_headings():
    problem = only("## 主要工作 {#sec-a}\n\n正文。\n\n#### 第一项 {#sec-b}\n")
    assert (problem.line, problem.code) == (5, "heading-skipped")
    assert "level 3 is skipped" in problem.message and "line 1" in problem.message
    # A part may start at any level (it is placed under its includer's heading).
    assert codes("#### 第一项\n\n正文。\n\n#### 第二项\n") == []


# --- what is not a finding -----------------------------------------------------------------------

def test_ordinary_chinese_text_with_full_width_punctuation_is_fine():
    text = ("## 主要工作 {#sec-main-work}\n\n"
            "全省新增就业{{< var y2018.urban_new_jobs.actual.zh >}}（完成率{{< var y2018.urban_new_jobs.completion.zh >}}），"
            "比上年增长５％；“三保”工作：落实到位！【附】见表１。\n\n"
            "**一是加强组织。** 各地要加强领导。\n\n"
            "- 第一项：完成。\n1. 第二项：推进中。\n\n"
            "::: {.callout-note}\n## 说明\n\n判定方法见附件。\n:::\n\n"
            "English text with a non-breaking space in 148.9\u00a0million people is typography.\n")
    assert codes(text) == []


def test_code_comments_and_front_matter_are_not_examined():
    text = ("---\ntitle: \"｛｛＜ var x ＞｝｝\"\n---\n\n"
            "`｛｛＜ var x ＞｝｝` 是错误写法的示例。\n\n"
            "```\n#　不是标题\n**\n:::\n```\n\n"
            "<!-- 注释里的 ｛｛＜ var x ＞｝｝ 和 ** 不算 -->\n")
    assert codes(text, body_start=3) == []


def test_escaped_asterisks_are_not_emphasis():
    assert codes("单价为5\\*2元。") == []
