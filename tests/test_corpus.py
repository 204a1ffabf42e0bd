"""A build of the real sample vault: every note becomes an article or a topic."""

from __future__ import annotations

import json

import networkx as nx

from kg.model import ARTICLE, TOPIC
from kg.read import read_vault


def test_every_corpus_note_is_an_article_or_a_topic(corpus, corpus_out):
    files = sorted(p.relative_to(corpus).as_posix() for p in corpus.rglob("*.md"))
    notes, problems = read_vault(corpus)
    assert [n.path for n in notes] == files
    graph = nx.node_link_graph(json.loads((corpus_out / "graph.json").read_text(encoding="utf-8")), edges="edges")
    note_nodes = {data.get("path") or data.get("note") for _, data in graph.nodes(data=True) if data.get("path") or data.get("note")}
    assert note_nodes == set(files)
    topic_notes = {n.path for n in notes if n.kind == TOPIC}
    assert topic_notes == {f for f in files if f.startswith("00-元语/")}
    assert {n.path for n in notes if n.kind == ARTICLE} == {f for f in files if f.startswith("01-博客/")}
