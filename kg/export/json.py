"""NetworkX node-link JSON, sorted and without timestamps, so equal vaults give equal bytes.

Encoded by orjson (two-space indent, keys sorted): Python's json module falls back to its pure-Python
encoder whenever it indents, which took 1.6 s of a 3,300-note build.
"""

from __future__ import annotations

import networkx as nx
import orjson


def to_node_link(graph: nx.MultiDiGraph) -> dict:
    data = nx.node_link_data(graph, edges="edges")
    data["nodes"] = sorted(data["nodes"], key=lambda n: n["id"])
    data["edges"] = sorted(data["edges"], key=lambda e: (e["source"], e["target"], e["key"]))
    return data


def render(graph: nx.MultiDiGraph, **_: object) -> str:
    return orjson.dumps(to_node_link(graph), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE).decode("utf-8")
