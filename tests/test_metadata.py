"""metadata: frontmatter split safely, broken YAML recovered line by line, values coerced to the Note schema."""

from __future__ import annotations

import pytest

from kg.metadata import MAX_FRONTMATTER_CHARS, coerce, parse_date, split


def fields(text: str) -> tuple[dict, list[str]]:
    raw, _body, problems = split(text)
    coerced, value_problems = coerce(raw)
    return coerced, problems + value_problems


@pytest.mark.parametrize(
    "value, iso",
    [
        ("2025-03-26", "2025-03-26"),
        ("2025/3/26", "2025-03-26"),
        ("2025.3.26", "2025-03-26"),
        ("2025年3月26日", "2025-03-26"),
        ("20250326", "2025-03-26"),
        ("2025-03-26T23:30:00+08:00", "2025-03-26"),
        ("2025-03-26 08:00", "2025-03-26"),
        (["2025-03-26"], "2025-03-26"),
        ("２０２５-０３-２６", "2025-03-26"),
        ("2025-13-45", None),
        ("2025-02-30", None),
        ("昨天", None),
        ("", None),
        (None, None),
    ],
)
def test_dates_in_every_shape(value, iso):
    assert parse_date(value) == iso


def test_quoted_and_unquoted_dates_agree():
    assert fields('---\n发布日期: "2025-03-26"\n---\n')[0]["date"] == "2025-03-26"
    assert fields("---\n发布日期: '2025/3/26'\n---\n")[0]["date"] == "2025-03-26"


def test_impossible_date_is_reported_and_left_out():
    coerced, problems = fields("---\ntitle: x\n发布日期: 2025-13-45\n---\n")
    assert coerced["date"] is None
    assert problems == ["`发布日期: 2025-13-45` is not a date kg understands; left it out"]


def test_lists_where_strings_are_expected():
    coerced, problems = fields("---\n作者: [甲, 乙]\ntitle: [上, 下]\ntags: 甲, 乙、丙\n---\n")
    assert coerced["authors"] == ("甲", "乙")
    assert coerced["title"] == "上 下"
    assert coerced["tags"] == ("甲", "乙", "丙")
    assert problems == []


def test_python_tags_construct_nothing():
    text = '---\ntitle: !!python/object/apply:os.system ["echo pwned"]\nauthor: !!python/object:builtins.dict {a: 1}\n---\nbody'
    raw, body, problems = split(text)
    assert raw == {"title": ["echo pwned"], "author": {"a": "1"}}
    assert body == "\nbody"
    assert len(problems) == 1 and "YAML tags kg does not run" in problems[0]
    coerced, value_problems = coerce(raw)
    assert coerced["title"] == "echo pwned"
    assert value_problems == ["`author` holds a mapping, not text; left it out"]


def test_broken_yaml_is_read_line_by_line():
    raw, body, problems = split("---\ntitle: 对比: GPT vs Gemini\n作者: [甲, 乙]\nunknown: x\n---\n正文")
    assert raw == {"title": "对比: GPT vs Gemini", "作者": ["甲", "乙"]}
    assert body == "\n正文"
    # The reason is the YAML parser's own words (libyaml's or PyYAML's), so only its start is fixed.
    assert len(problems) == 1
    assert problems[0].startswith("frontmatter is not valid YAML at line 2 (mapping values are not allowed")
    assert problems[0].endswith("); read it line by line")


def test_full_width_colon_is_read_line_by_line():
    raw, _, problems = split("---\n标题：全角\n---\n")
    assert raw == {"标题": "全角"}
    assert problems == ["frontmatter is not a `key: value` mapping; read it line by line"]


def test_unusable_frontmatter_keeps_the_whole_text():
    text = "---\n- a\n- b\n---\n正文"
    assert split(text) == ({}, text, ["frontmatter is not a `key: value` mapping; kept the whole text as body"])
    unclosed = "---\ntitle: x\n正文"
    assert split(unclosed) == ({}, unclosed, ["starts with `---` but has no closing `---` line; kept the whole text as body"])
    broken = "---\na: [\n---\n正文"
    raw, body, problems = split(broken)
    assert (raw, body) == ({}, broken)
    assert "kept the note without metadata" in problems[0]


def test_error_lines_are_file_lines():
    _, _, problems = split("---\n\ntitle: ok\ntitle2: a: b\n---\n")
    assert " at line 4 " in problems[0]


def test_alias_bomb_is_flattened_within_bounds():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n"
    for i in range(10):
        previous = "a" if i == 0 else f"l{i - 1}"
        bomb += f"l{i}: &l{i} [" + ", ".join([f"*{previous}"] * 9) + "]\n"
    coerced, _ = fields(f"---\n{bomb}tags: *l9\ntitle: *l9\n---\n")
    assert coerced["tags"] == ("x",)
    assert len(coerced["title"]) < 5000


def test_giant_frontmatter_is_not_given_to_the_yaml_parser():
    lines = "".join(f"k{i}: v\n" for i in range(MAX_FRONTMATTER_CHARS // 4))
    raw, body, problems = split(f"---\ntitle: 大\n{lines}---\n正文")
    assert raw == {"title": "大"}
    assert body == "\n正文"
    assert "too long to be YAML" in problems[0]


def test_yaml_scalars_keep_their_written_form():
    coerced, _ = fields("---\ntitle: no\ntags: [1.10, 0123, yes, null]\n---\n")
    assert coerced["title"] == "no"
    assert coerced["tags"] == ("1.10", "0123", "yes", "null")
