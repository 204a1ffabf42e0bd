"""The JSON and GraphML writers stream node by node; what they write is what a whole-document
encoder writes (orjson for JSON, networkx reading GraphML back), on the real corpus and the hostile vault."""

from __future__ import annotations

import io
import json

import networkx as nx
import orjson
import pytest
from hostile import make_hostile_vault

from kg.build import build_vault
from kg.export import graphml
from kg.export import json as kg_json

WHOLE = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def whole_document(graph: nx.MultiDiGraph) -> str:
    return orjson.dumps(kg_json.to_node_link(graph), option=WHOLE).decode("utf-8")


@pytest.fixture(scope="module")
def hostile_graph(tmp_path_factory: pytest.TempPathFactory) -> nx.MultiDiGraph:
    root = tmp_path_factory.mktemp("streams")
    vault = make_hostile_vault(root / "vault")["root"]
    return build_vault(vault, root / "out", jobs=1, cache=False).graph


def test_streamed_json_is_orjsons_whole_document(hostile_graph, corpus_out):
    assert kg_json.render(hostile_graph) == whole_document(hostile_graph)
    written = (corpus_out / "graph.json").read_text(encoding="utf-8")
    read_back = nx.node_link_graph(json.loads(written), edges="edges")
    assert written == whole_document(read_back)


@pytest.mark.parametrize("graph", [nx.MultiDiGraph(), nx.MultiDiGraph(name="named")], ids=["empty", "graph attributes"])
def test_streamed_json_of_edge_cases(graph):
    assert kg_json.render(graph) == whole_document(graph)
    graph.add_node("only", kind="topic", label="孤立")
    assert kg_json.render(graph) == whole_document(graph)


def test_streamed_graphml_reads_back_as_the_graph(hostile_graph):
    handle = io.StringIO(newline="\n")
    graphml.stream(hostile_graph, handle)
    text = handle.getvalue()
    assert text == graphml.render(hostile_graph)
    read_back = nx.read_graphml(io.BytesIO(text.encode("utf-8")), force_multigraph=True)
    assert sorted(read_back.nodes) == sorted(hostile_graph.nodes)
    assert sorted(read_back.edges(keys=True)) == sorted(hostile_graph.edges(keys=True))
    for node, data in hostile_graph.nodes(data=True):
        assert read_back.nodes[node]["label"] == graphml._clean(data["label"])  # XML cannot carry some characters


def test_graphml_decodes_characters_split_across_writes():
    """lxml hands the writer bytes in chunks of about 64 KB, which can end inside a character."""
    graph = nx.MultiDiGraph()
    label = "a" + "知识图谱" * 30_000  # one element of 360 KB, cut by lxml at byte counts, not characters
    graph.add_node("topic:long", kind="topic", label=label)
    graph.add_node("topic:short", kind="topic", label="短")
    text = graphml.render(graph)
    assert f">{label}</data>" in text
    assert "\ufffd" not in text
    read_back = nx.read_graphml(io.BytesIO(text.encode("utf-8")))
    assert read_back.nodes["topic:long"]["label"] == label
