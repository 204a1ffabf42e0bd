"""NetworkX node-link JSON, sorted and without timestamps, so equal vaults give equal bytes.

Encoded by orjson (two-space indent, keys sorted): Python's json module falls back to its pure-Python
encoder whenever it indents, which took 1.6 s of a 3,300-note build.

`stream` writes the document a node's entry or edges at a time, each encoded by orjson and indented
to its place, so no copy of the whole graph is held (at 10,000 notes the document is 150 MB and its
node-link copy 600 MB more). Its bytes are exactly orjson's for the whole document, `to_node_link`.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import orjson

from kg.fragments import OutputPieces
from kg.graph import edge_groups, sorted_edges, written

if TYPE_CHECKING:
    import networkx as nx

    from kg.delta import Changes

_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def to_node_link(graph: nx.MultiDiGraph) -> dict:
    """The whole document as one dict (what `stream` writes, for callers that want the data)."""
    import networkx as nx

    data = nx.node_link_data(graph, edges="edges")
    data["nodes"] = sorted(data["nodes"], key=lambda n: n["id"])
    data["edges"] = sorted((written(edge) for edge in data["edges"]), key=lambda e: (e["source"], e["target"], e["key"]))
    return data


def render(graph: nx.MultiDiGraph, **_: object) -> str:
    buffer = io.StringIO(newline="\n")
    stream(graph, buffer)
    return buffer.getvalue()


def stream(graph: nx.MultiDiGraph, handle: TextIO, *, fragments: Path | None = None, published: Path | None = None, **_: object) -> None:
    """Write the document to `handle`: keys in sorted order (directed, edges, graph, multigraph,
    nodes) as node_link_data names them, nodes by id, edges by (source, target, key).

    The edges of each source node are one piece, and each node's entry another (see
    kg.fragments.OutputPieces): with `fragments` (a cache folder) and `published` (where the last
    build's graph.json is), a piece whose data is unchanged is copied from the published file."""
    with OutputPieces(fragments, FILENAME, handle, published=published).open() as store:
        store.text('{\n  "directed": ' + _scalar(graph.is_directed()) + ",\n")
        with store.section(EDGES, **_list("edges", last=False)):
            for u, edges in edge_groups(graph):
                store.piece(u, *_edges_piece(u, edges))
        store.text('  "graph": ' + _nested(dict(graph.graph)) + ",\n")
        store.text('  "multigraph": ' + _scalar(graph.is_multigraph()) + ",\n")
        with store.section(NODES, **_list("nodes", last=True)):
            for node in sorted(graph.nodes):
                store.piece(node, *_node_piece(node, graph.nodes[node]))
        store.text("}\n")


def patch(changes: Changes, handle: TextIO, *, fragments: Path | None = None, published: Path | None = None, **_: object) -> None:
    """graph.json as published, with the entries and edges of the nodes `changes` names made
    again (see kg.delta), and those of removed nodes dropped."""
    graph = changes.graph
    edges: dict[str, tuple | None] = dict.fromkeys(changes.removed)
    nodes: dict[str, tuple | None] = dict.fromkeys(changes.removed)
    for node in changes.nodes:
        group = [(v, key, data) for _u, v, key, data in sorted_edges(graph, sources=[node])]
        edges[node] = _edges_piece(node, group) if group else None
        nodes[node] = _node_piece(node, graph.nodes[node])
    with OutputPieces(fragments, FILENAME, handle, published=published).open() as store:
        store.text('{\n  "directed": ' + _scalar(graph.is_directed()) + ",\n")
        store.patch(EDGES, edges, **_list("edges", last=False))
        store.text('  "graph": ' + _nested(dict(graph.graph)) + ",\n")
        store.text('  "multigraph": ' + _scalar(graph.is_multigraph()) + ",\n")
        store.patch(NODES, nodes, **_list("nodes", last=True))
        store.text("}\n")


FILENAME = "graph.json"
EDGES, NODES = "edges", "nodes"  # the sections of graph.json's pieces


def _list(name: str, *, last: bool) -> dict[str, str]:
    """The texts around the items of `"name": [...]` at the document's second level, as orjson's
    indent lays it out (see `_items`)."""
    end = "\n" if last else ",\n"
    return {"before": f'  "{name}": [\n', "sep": ",\n", "after": f"\n  ]{end}", "empty": f'  "{name}": []{end}'}


def _edges_piece(u: str, edges: list[tuple[str, str, dict]]) -> tuple:
    """(parts, make) of the piece of `u`'s edges."""
    return (lambda: ("edges", u, edges), lambda: _items([{**written(data), "source": u, "target": v, "key": key} for v, key, data in edges]))


def _node_piece(node: str, data: dict) -> tuple:
    """(parts, make) of the piece of a node's entry."""
    return (lambda: ("node", node, data), lambda: _items([{**data, "id": node}]))


def _items(items: list[dict]) -> str:
    """Items of a list at the document's second level, one orjson call for all of them (a list,
    its brackets cut off and every line indented one level more); items of neighbouring pieces
    are joined by `,\n`."""
    text = orjson.dumps(items, option=_OPTIONS).decode("utf-8")  # "[\n  {...},\n  {...}\n]"
    return "  " + text[2:-2].replace("\n", "\n  ")


def _nested(value: object, *, depth: int = 1) -> str:
    """orjson's indented text of `value` as it appears `depth` levels down (its first line unindented
    when depth is 1: it follows a key)."""
    text = orjson.dumps(value, option=_OPTIONS).decode("utf-8")
    pad = "  " * depth
    if depth == 1:
        return text.replace("\n", "\n" + pad)
    return pad + text.replace("\n", "\n" + pad)


def _scalar(value: object) -> str:
    return orjson.dumps(value).decode("utf-8")
