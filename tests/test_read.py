"""read: frontmatter in both key languages, titles, kinds, and the seed's golden metadata."""

from __future__ import annotations

from pathlib import Path

from conftest import SEED_FILE, SEEDS

from kg.model import ARTICLE, TOPIC
from kg.read import read_note, read_vault


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_seed_metadata_is_golden():
    note, problems = read_note(SEEDS, SEED_FILE)
    assert problems == []
    assert note.path == "000_cfc63594b14dff59.txt"
    assert note.title == "GPT-4o多模态生图正式上线 - 用嘴改图，此为王道。"
    assert note.date == "2025-03-26"
    assert note.authors == ("数字生命卡兹克",)
    assert note.source == "微信公众号"
    assert note.url.startswith("https://mp.weixin.qq.com/s?__biz=MzIyMzA5NjEyMA==")
    assert note.kind == ARTICLE
    assert [link.name for link in note.links] == ["数字生命卡兹克", "AI", "llm"]
    assert "## 正文" in note.body and "发布日期" not in note.body


def test_chinese_and_english_keys_map_to_one_model(tmp_path):
    zh = write(tmp_path, "zh.md", "---\n标题: 中文标题\n发布日期: 2024-01-02\n作者: [甲, 乙]\n来源: 微信公众号\n原文链接: https://a.example/1\n更新日期: 2024-02-03\n---\n正文")
    en = write(tmp_path, "en.md", "---\ntitle: English title\ndate: 2024-01-02\nauthor: A, B\nsource: https://blog.example/post\nurl: https://a.example/2\ntags: [x, y]\naliases: [Alias One]\n---\nbody")
    zh_note, zh_problems = read_note(tmp_path, zh)
    en_note, en_problems = read_note(tmp_path, en)
    assert zh_problems == [] and en_problems == []
    assert (zh_note.title, zh_note.date, zh_note.updated, zh_note.authors, zh_note.source, zh_note.url) == (
        "中文标题", "2024-01-02", "2024-02-03", ("甲", "乙"), "微信公众号", "https://a.example/1")
    assert (en_note.title, en_note.date, en_note.authors, en_note.source, en_note.tags, en_note.aliases) == (
        "English title", "2024-01-02", ("A", "B"), "https://blog.example/post", ("x", "y"), ("Alias One",))


def test_title_falls_back_to_file_name(tmp_path):
    note, _ = read_note(tmp_path, write(tmp_path, "folder/无标题笔记.md", "just a body"))
    assert note.title == "无标题笔记"
    assert note.path == "folder/无标题笔记.md"


def test_yaml_scalars_are_not_retyped(tmp_path):
    note, _ = read_note(tmp_path, write(tmp_path, "a.md", "---\ntitle: no\ntags: [1.10, 0123]\n---\n"))
    assert note.title == "no"
    assert note.tags == ("1.10", "0123")


def test_kinds_explicit_type_and_linked_notes(tmp_path):
    write(tmp_path, "00-元语/AI.md", '---\ntitle: "AI"\n类型: "主题词条"\n---\n定义')
    write(tmp_path, "00-元语/plain.md", "a concept note with no metadata")
    write(tmp_path, "01/a.md", "---\ntitle: A\n发布日期: 2024-01-01\n---\n[[00-元语/AI]] [[plain]]")
    write(tmp_path, "lonely.md", "no metadata, nobody links here")
    notes, problems = read_vault(tmp_path)
    kinds = {n.path: n.kind for n in notes}
    assert kinds == {"00-元语/AI.md": TOPIC, "00-元语/plain.md": TOPIC, "01/a.md": ARTICLE, "lonely.md": ARTICLE}


def test_hidden_and_tool_folders_are_skipped(tmp_path):
    write(tmp_path, ".obsidian/workspace.md", "x")
    write(tmp_path, "node_modules/pkg/readme.md", "x")
    write(tmp_path, ".git/x.md", "x")
    write(tmp_path, "note.md", "x")
    write(tmp_path, "image.png", "x")
    notes, _ = read_vault(tmp_path)
    assert [n.path for n in notes] == ["note.md"]
