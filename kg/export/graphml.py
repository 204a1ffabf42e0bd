"""GraphML: attributes flattened to what GraphML can hold (lists and dicts become JSON text).

Written element by element through lxml's incremental `xmlfile` writer straight to the output
file: nothing but the current node or edge is held as XML, and it is several times faster than networkx's GraphML writers, which
build a whole copy of the graph first (7 s on a 3,300-note vault; this writer takes about 1.5 s).
`networkx.read_graphml` reads the result back. Nodes, edges and keys come in sorted order, so the
same graph always gives the same bytes.
"""

from __future__ import annotations

import codecs
import io
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import orjson
from lxml import etree

from kg.fragments import OutputPieces
from kg.graph import edge_groups, sorted_edges, written

if TYPE_CHECKING:
    import networkx as nx

    from kg.delta import Changes

NAMESPACE = "http://graphml.graphdrawing.org/xmlns"
SCHEMA_LOCATION = "http://graphml.graphdrawing.org/xmlns http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd"
XSI = "http://www.w3.org/2001/XMLSchema-instance"

# XML 1.0 cannot carry these characters at all.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(value: object) -> str:
    """An attribute value as GraphML text: JSON for lists and dicts, XML-safe characters only."""
    if type(value) is str:  # most values: one check instead of three (a million calls at 3,300 notes)
        return _XML_INVALID.sub("\ufffd", value) if _XML_INVALID.search(value) else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict)):
        value = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    text = str(value)
    return _XML_INVALID.sub("\ufffd", text) if _XML_INVALID.search(text) else text


def _type(kinds: set[type]) -> str:
    """The GraphML attr.type that holds values of all these Python types: boolean, long, double or string."""
    if kinds == {bool}:
        return "boolean"
    if kinds == {int}:
        return "long"
    if kinds and kinds <= {int, float}:
        return "double"
    return "string"


def render(graph: nx.MultiDiGraph, **_: object) -> str:
    buffer = io.StringIO(newline="\n")
    stream(graph, buffer)
    return buffer.getvalue()


class _TextSink:
    """A binary file for lxml that passes what it writes on to `write` (a text handle's, or an
    OutputPieces') as it comes, decoding UTF-8 incrementally: lxml cuts its output at byte counts,
    which can fall inside a character."""

    def __init__(self, write: Callable[[str], object]) -> None:
        self.out = write
        self.decoder = codecs.getincrementaldecoder("utf-8")()

    def write(self, data: bytes) -> None:
        text = self.decoder.decode(data)
        if text:
            self.out(text)

    def close(self) -> None:
        text = self.decoder.decode(b"", final=True)
        if text:
            self.out(text)


def stream(graph: nx.MultiDiGraph, handle: TextIO, *, fragments: Path | None = None, published: Path | None = None, **_: object) -> None:
    """Write the GraphML document to `handle` element by element.

    Each node's element is a piece, and so are the edges of each source node (they are
    contiguous: edges are sorted by source first). With `fragments` (a cache folder) and
    `published` (the folder of the last build's graph.graphml), each piece is known by a digest
    of kg's code, the attribute keys and its data, and copied from the published file while that
    digest holds (see kg.fragments.OutputPieces).
    """
    node_keys, edge_keys = keys_from_counts(graph_counts(graph))

    def nodes(store: OutputPieces) -> None:
        with store.section(NODES):
            for node in sorted(graph.nodes):
                store.piece(node, *_node_piece(node, graph.nodes[node], node_keys))

    def edges(store: OutputPieces) -> None:
        with store.section(EDGES):
            for u, group in edge_groups(graph):
                store.piece(u, *_edges_piece(u, group, edge_keys))

    _document(handle, node_keys, edge_keys, nodes, edges, fragments=fragments, published=published)


def patch(changes: Changes, handle: TextIO, *, fragments: Path | None = None, published: Path | None = None, **_: object) -> None:
    """graph.graphml as published, with the elements of the nodes `changes` names and their edges
    made again (see kg.delta), and those of removed nodes dropped. The attribute keys are the
    published file's (kg.delta builds the file whole when they would change)."""
    graph = changes.graph
    node_keys, edge_keys = changes.graphml_keys
    nodes: dict[str, tuple | None] = dict.fromkeys(changes.removed)
    edges: dict[str, tuple | None] = dict.fromkeys(changes.removed)
    for node in changes.nodes:
        nodes[node] = _node_piece(node, graph.nodes[node], node_keys)
        group = [(v, key, data) for _u, v, key, data in sorted_edges(graph, sources=[node])]
        edges[node] = _edges_piece(node, group, edge_keys) if group else None
    _document(handle, node_keys, edge_keys, lambda store: store.patch(NODES, nodes), lambda store: store.patch(EDGES, edges), fragments=fragments, published=published)


FILENAME = "graph.graphml"
NODES, EDGES = "nodes", "edges"  # the sections of graph.graphml's pieces


def _document(handle: TextIO, node_keys: dict, edge_keys: dict, nodes: Callable[[OutputPieces], None], edges: Callable[[OutputPieces], None], *, fragments: Path | None, published: Path | None) -> None:
    """The document around its two sections, which `nodes` and `edges` write (or patch)."""
    with OutputPieces(fragments, FILENAME, handle, published=published, salt=repr((node_keys, edge_keys))).open() as store:
        sink = _TextSink(store.text)
        with etree.xmlfile(sink, encoding="utf-8") as xf:
            xf.write_declaration()
            with xf.element("graphml", {f"{{{XSI}}}schemaLocation": SCHEMA_LOCATION}, nsmap={None: NAMESPACE, "xsi": XSI}):
                xf.write("\n")
                for scope, keys in (("node", node_keys), ("edge", edge_keys)):
                    for name, (key_id, kind) in keys.items():
                        xf.write(etree.Element("key", {"id": key_id, "for": scope, "attr.name": name, "attr.type": kind}), "\n")
                with xf.element("graph", edgedefault="directed"):
                    xf.write("\n")
                    xf.flush()  # the pieces go to the file directly, after everything lxml holds
                    nodes(store)
                    edges(store)
                xf.write("\n")
        sink.close()
        store.text("\n")


def record_counts(record: tuple[dict, list]) -> Counter:
    """How many values of each (scope, attribute, type name) a node's record (kg.state.Record)
    gives the document: its attributes, and its edges' data and relation."""
    attrs, edges = record
    counts: Counter = Counter(("n", name, type(value).__name__) for name, value in attrs.items())
    for _v, keyed in edges:
        for _key, data in keyed:
            counts["e", "relation", "str"] += 1
            counts.update(("e", name, type(value).__name__) for name, value in data.items())
    return counts


def graph_counts(graph: nx.MultiDiGraph) -> Counter:
    """`record_counts` of every node of `graph`, added up (what graph.graphml's keys come from)."""
    nodes: dict[tuple[str, type], int] = {}
    edges: dict[tuple[str, type], int] = {}
    relations = 0
    for attrs in graph._node.values():
        for name, value in attrs.items():
            key = (name, type(value))
            nodes[key] = nodes.get(key, 0) + 1
    for targets in graph._succ.values():
        for keyed in targets.values():
            relations += len(keyed)
            for data in keyed.values():
                for name, value in data.items():
                    key = (name, type(value))
                    edges[key] = edges.get(key, 0) + 1
    counts: Counter = Counter()
    for scope, seen in (("n", nodes), ("e", edges)):
        for (name, kind), n in seen.items():
            counts[scope, name, kind.__name__] += n
    if relations:
        counts["e", "relation", "str"] += relations
    return counts


def keys_from_counts(counts: dict[tuple[str, str, str], int]) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """The node and edge keys (`graphml_keys`) of a document whose values `counts` counts."""
    seen: dict[str, dict[str, set[type]]] = {"n": {}, "e": {}}
    for (scope, name, kind), n in counts.items():
        if n > 0:
            seen[scope].setdefault(name, set()).add(_TYPES.get(kind, str))
    return tuple({name: (f"{scope}{i}", _type(seen[scope][name])) for i, name in enumerate(sorted(seen[scope]))} for scope in ("n", "e"))  # type: ignore[return-value]


_TYPES = {"bool": bool, "int": int, "float": float}  # every other type is written as a string


def _node_piece(node: str, data: dict, node_keys: dict[str, tuple[str, str]]) -> tuple:
    """(parts, make) of a node's element."""
    return (lambda: ("node", node, data), lambda: etree.tostring(_element("node", {"id": _clean(node)}, data, node_keys), encoding="unicode") + "\n")


def _edges_piece(u: str, edges: list[tuple[str, str, dict]], edge_keys: dict[str, tuple[str, str]]) -> tuple:
    """(parts, make) of the edge elements of the source `u`."""
    return (lambda: (u, edges), lambda: _edges_text(u, edges, edge_keys))


def _edges_text(u: str, edges: list[tuple[str, str, dict]], edge_keys: dict[str, tuple[str, str]]) -> str:
    """The <edge> elements of one source, one per line, as lxml writes them."""
    out = []
    for v, key, data in edges:
        attributes = {"source": _clean(u), "target": _clean(v), "id": _clean(key)}
        out.append(etree.tostring(_element("edge", attributes, {"relation": key, **written(data)}, edge_keys), encoding="unicode"))
        out.append("\n")
    return "".join(out)


def _element(tag: str, attributes: dict[str, str], data: dict, keys: dict[str, tuple[str, str]]) -> etree._Element:
    element = etree.Element(tag, attributes)
    for name in sorted(data):
        child = etree.SubElement(element, "data", key=keys[name][0])
        child.text = _clean(data[name])
    return element
