"""Wiki-links as Obsidian reads them."""

from __future__ import annotations

import pytest

from kg.links import parse_links
from kg.model import Note, WikiLink
from kg.read import LinkIndex


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[AI]]", [WikiLink("AI")]),
        ("[[00-元语/AI]]", [WikiLink("00-元语/AI")]),
        ("[[target|label]]", [WikiLink("target", label="label")]),
        ("[[target#heading]]", [WikiLink("target", heading="heading")]),
        ("[[target#heading|label]]", [WikiLink("target", label="label", heading="heading")]),
        ("![[image.png]]", [WikiLink("image.png", embed=True)]),
        ("[[01-博客/&quot;引号&quot; 文章|标签]]", [WikiLink('01-博客/"引号" 文章', label="标签")]),
        ("| [[a\\|b]] |", [WikiLink("a", label="b")]),
        ("[[a]] and [[b]] and [[a]]", [WikiLink("a"), WikiLink("b"), WikiLink("a")]),
        ("[[]] [[#only heading]] [not a link]", []),
        ("[[broken\nacross lines]]", []),
    ],
)
def test_parse_links(text, expected):
    assert parse_links(text) == expected


def test_link_name_drops_folders_and_extension():
    assert WikiLink("00-元语/AI").name == "AI"
    assert WikiLink("notes/x.md").name == "x"


def test_attachments_are_not_topics():
    assert WikiLink("image.png", embed=True).is_attachment
    assert WikiLink("docs/paper.pdf").is_attachment
    assert not WikiLink("00-元语/AI").is_attachment
    assert not WikiLink("notes/x.md").is_attachment
    assert not WikiLink("GPT-4.5").is_attachment


def test_resolution_by_path_then_unique_name():
    notes = [Note(path=p, title=p, kind="article", body="") for p in ("00-元语/AI.md", "a/dup.md", "b/dup.md", "Top.md")]
    index = LinkIndex(notes)
    assert index.resolve(WikiLink("00-元语/AI")) == "00-元语/AI.md"
    assert index.resolve(WikiLink("AI")) == "00-元语/AI.md"
    assert index.resolve(WikiLink("ai")) == "00-元语/AI.md"
    assert index.resolve(WikiLink("b/dup")) == "b/dup.md"
    assert index.resolve(WikiLink("top.md")) == "Top.md"
    assert index.resolve(WikiLink("missing")) is None
