"""NetworkX node-link JSON, sorted and without timestamps, so equal vaults give equal bytes.

Encoded by orjson (two-space indent, keys sorted): Python's json module falls back to its pure-Python
encoder whenever it indents, which took 1.6 s of a 3,300-note build.

`stream` writes the document one node or edge at a time, each encoded by orjson and indented to its
place, so no copy of the whole graph is held (at 10,000 notes the document is 150 MB and its
node-link copy 600 MB more). Its bytes are exactly orjson's for the whole document, `to_node_link`.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from typing import TextIO

import networkx as nx
import orjson

from kg.graph import sorted_edges

_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
_ITEMS_PER_WRITE = 2_000


def to_node_link(graph: nx.MultiDiGraph) -> dict:
    """The whole document as one dict (what `stream` writes, for callers that want the data)."""
    data = nx.node_link_data(graph, edges="edges")
    data["nodes"] = sorted(data["nodes"], key=lambda n: n["id"])
    data["edges"] = sorted(data["edges"], key=lambda e: (e["source"], e["target"], e["key"]))
    return data


def render(graph: nx.MultiDiGraph, **_: object) -> str:
    buffer = io.StringIO(newline="\n")
    stream(graph, buffer)
    return buffer.getvalue()


def stream(graph: nx.MultiDiGraph, handle: TextIO, **_: object) -> None:
    """Write the document to `handle`: keys in sorted order (directed, edges, graph, multigraph,
    nodes) as node_link_data names them, nodes by id, edges by (source, target, key)."""
    handle.write('{\n  "directed": ' + _scalar(graph.is_directed()) + ",\n")
    _list(handle, "edges", ({**data, "source": u, "target": v, "key": key} for u, v, key, data in sorted_edges(graph)), last=False)
    handle.write('  "graph": ' + _nested(dict(graph.graph)) + ",\n")
    handle.write('  "multigraph": ' + _scalar(graph.is_multigraph()) + ",\n")
    _list(handle, "nodes", ({**graph.nodes[node], "id": node} for node in sorted(graph.nodes)), last=True)
    handle.write("}\n")


def _list(handle: TextIO, name: str, items: Iterator[dict], *, last: bool) -> None:
    """`"name": [...]` at the document's second level, as orjson's indent would lay it out.

    Encoded _ITEMS_PER_WRITE items per orjson call (a list, its brackets cut off and every line
    indented one level more): one call per item cost more than the encoding itself."""
    end = "\n" if last else ",\n"
    empty = True
    while chunk := list(itertools.islice(items, _ITEMS_PER_WRITE)):
        text = orjson.dumps(chunk, option=_OPTIONS).decode("utf-8")  # "[\n  {...},\n  {...}\n]"
        handle.write((f'  "{name}": [\n' if empty else ",\n") + "  " + text[2:-2].replace("\n", "\n  "))
        empty = False
    handle.write(f'  "{name}": []{end}' if empty else f"\n  ]{end}")


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
