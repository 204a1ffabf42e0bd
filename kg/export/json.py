"""NetworkX node-link JSON, sorted and without timestamps, so equal vaults give equal bytes."""

from __future__ import annotations

import json as _json

import networkx as nx


def to_node_link(graph: nx.MultiDiGraph) -> dict:
    data = nx.node_link_data(graph, edges="edges")
    data["nodes"] = sorted(data["nodes"], key=lambda n: n["id"])
    data["edges"] = sorted(data["edges"], key=lambda e: (e["source"], e["target"], e["key"]))
    return data


def render(graph: nx.MultiDiGraph, **_: object) -> str:
    return _json.dumps(to_node_link(graph), ensure_ascii=False, sort_keys=True, indent=1) + "\n"
