"""The interactive view: one self-contained HTML page built with pyvis, no network needed.

pyvis holds the nodes, edges and options and renders them through our own template
(kg/templates/graph.html), which inlines vis-network from the pyvis package and our CSS/JS, and
keeps pyvis's page globals `network`, `nodes` and `edges`. Positions come from kg.layout and physics
is off, so the page is still as soon as it is drawn, at thousands of nodes.

Safety: every string from a note reaches the page only as JSON inside a script element (with `<`
escaped) or as an autoescaped template value; the page's script puts it into the DOM with
textContent, and vis-network shows string tooltips as text.
"""

from __future__ import annotations

import heapq
import io
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import igraph
import networkx as nx
import orjson
import pyvis
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup
from pyvis.network import Network

from kg.fragments import Fragments
from kg.graph import sorted_edges
from kg.layout import Projection, force_layout, projection
from kg.model import ARTICLE, NODE_KINDS, ORGANIZATION, PERSON, PRODUCT, SOURCE, TOPIC

# How each kind looks: colour and vis-network shape.
KIND_STYLE = {
    ARTICLE: ("#4e79a7", "dot"),
    TOPIC: ("#59a14f", "diamond"),
    PRODUCT: ("#f28e2b", "square"),
    ORGANIZATION: ("#e15759", "triangle"),
    PERSON: ("#b07aa1", "star"),
    SOURCE: ("#9c755f", "hexagon"),
}
KIND_NAMES = {
    ARTICLE: "article 文章",
    TOPIC: "topic 主题",
    PRODUCT: "product 产品",
    ORGANIZATION: "organization 机构",
    PERSON: "person 人物",
    SOURCE: "source 来源",
}

# How each relation is drawn: colour, dashes, arrow.
EDGE_STYLE = {
    "about": ("#8cb87f", False, False),
    "mentions": ("#f5b06b", [6, 4], False),
    "author": ("#c9a6c0", [2, 3], False),
    "source": ("#c4ae9f", [2, 6], False),
    "related": ("#59a14f", False, False),
    "broader": ("#2f6f2a", False, True),
    "links_to": ("#4e79a7", False, True),
    "made_by": ("#e15759", False, True),
    "version_of": ("#f28e2b", [8, 3], True),
    "co_mention": ("#bbbbbb", [1, 4], False),
}

# Dashed lines cost the canvas much more than solid ones; past this many edges colour alone tells relations apart.
DASHED_EDGES_UP_TO = 20_000

# Ten well-separated colours for communities, repeated; small communities are grey.
COMMUNITY_COLOURS = (
    "#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#17becf",
)
SMALL_COMMUNITY = "#cccccc"

PIXELS_PER_UNIT = 80  # layout units (neighbour spacing) to canvas pixels
LABEL_LENGTH = 24  # longer labels are shortened on the canvas; the panel shows them whole
MAX_CO_MENTIONS = 3000  # strongest co-mention edges kept for the optional overlay


def render(graph: nx.MultiDiGraph, *, max_nodes: int | None = None, **_: object) -> str:
    """The page for `graph`; with `max_nodes`, only the best-connected nodes, saying what was left out."""
    buffer = io.StringIO(newline="\n")
    stream(graph, buffer, max_nodes=max_nodes)
    return buffer.getvalue()


@dataclass(frozen=True)
class Drawing:
    """What the page draws: the nodes shown as a graph, how many of each kind were left out, and
    the projection the layout and the communities are computed from."""

    view: nx.MultiDiGraph
    left_out: dict[str, int]
    simple: Projection


def drawing(graph: nx.MultiDiGraph, *, max_nodes: int | None = None) -> Drawing:
    """The Drawing of `graph`, shown whole or, with `max_nodes`, its best-connected nodes."""
    shown, left_out = _select(graph, max_nodes)
    view = graph.subgraph(shown).copy() if left_out else graph
    return Drawing(view, left_out, projection(view))


Placed = tuple[dict[str, tuple[float, float]], dict[str, int]]  # node -> position, node -> community


def stream(graph: nx.MultiDiGraph, handle: TextIO, *, max_nodes: int | None = None, fragments: Path | None = None, drawn: Drawing | None = None, placed: Placed | None = None, **_: object) -> None:
    """`render`, written to `handle` as the template produces it (the page is never held whole:
    100 MB at 10,000 notes).

    With `fragments` (a cache folder), the layout and the communities are kept there by a digest
    of kg's code and of what they are computed from (the nodes and weighted links drawn), and
    reused while those stay the same, as after an edit that changes no link or mention: half the
    page's time.

    `drawn` and `placed`, when given, are `drawing(graph, max_nodes=max_nodes)` and
    `place(drawn.simple, fragments)` made beforehand (by kg.export, the layout in a worker process).
    """
    drawn = drawn or drawing(graph, max_nodes=max_nodes)
    view, left_out = drawn.view, drawn.left_out
    positions, community = placed or place(drawn.simple, fragments)
    order = sorted(view.nodes)
    index = {node: i for i, node in enumerate(order)}

    net = Network(height="100%", width="100%", directed=True, cdn_resources="in_line", heading="")
    for node in order:
        net.nodes.append(_vis_node(node, view.nodes[node], positions[node]))
    details = _details(view, order, community)
    edges_drawn, co_mentions = _count_and_co_mentions(view, index)
    dashed = edges_drawn <= DASHED_EDGES_UP_TO
    net.options = _options(len(order), edges_drawn)
    sizes: dict[int, int] = {}
    for c in community.values():
        sizes[c] = sizes.get(c, 0) + 1
    palette = [COMMUNITY_COLOURS[c % len(COMMUNITY_COLOURS)] if sizes[c] >= 3 else SMALL_COMMUNITY for c in sorted(sizes)]
    kg_data = {
        "co_mentions": co_mentions,
        "community_colours": palette,
        "edges": _drawn_edges(view, index),
        "nodes": details,
    }

    env = _environment()
    env.globals.update(
        # The page's biggest parts go out as JSON a few thousand items at a time: whole, at
        # 50,000 notes, each would be one string of hundreds of MB (twice, while escaped).
        kg_data=_json_chunks(env, kg_data),
        edge_looks={rel: [colour, dashes if dashed else False, arrow] for rel, (colour, dashes, arrow) in EDGE_STYLE.items()},
        vis_options=net.options,
        kinds=[(kind, KIND_NAMES[kind], *KIND_STYLE[kind]) for kind in NODE_KINDS],
        relations=[(rel, colour, bool(dashes) and dashed) for rel, (colour, dashes, _arrow) in EDGE_STYLE.items()],
        totals={"nodes": len(graph)},
        shown={"nodes": len(order), "edges": edges_drawn},
        left_out=left_out,
        max_nodes=max_nodes,
    )
    # What pyvis's generate_html renders, but streamed: our template reads only its nodes (the
    # edges are drawn from kg-data's by the page's script, into pyvis's `edges` DataSet).
    vis_nodes, *_rest = net.get_network_data()
    for chunk in env.get_template("graph.html").generate(nodes=_json_chunks(env, vis_nodes)):
        handle.write(chunk)


JSON_ITEMS_PER_CHUNK = 2000


def _json_chunks(env: Environment, value: dict | list) -> Iterator[Markup]:
    """`value|tojson` in pieces: the top-level dict's or list's items (and a dict's list values'
    items) are encoded a few thousand at a time; the pieces joined are exactly tojson's text."""
    if isinstance(value, dict):
        yield Markup("{")
        for i, key in enumerate(sorted(value)):
            yield Markup(("," if i else "") + _tojson(env, key) + ":")
            if isinstance(value[key], (dict, list, Iterator)):
                yield from _json_chunks(env, value[key])
            else:
                yield _tojson(env, value[key])
        yield Markup("}")
        return
    yield Markup("[")
    batch: list = []
    first = True
    for item in value:
        batch.append(item)
        if len(batch) == JSON_ITEMS_PER_CHUNK:
            yield Markup(("" if first else ",") + _tojson(env, batch)[1:-1])
            batch, first = [], False
    if batch:
        yield Markup(("" if first else ",") + _tojson(env, batch)[1:-1])
    yield Markup("]")


def _tojson(env: Environment, value: object) -> Markup:
    return htmlsafe_json_dumps(value, **env.policies["json.dumps_kwargs"])


def place(simple: Projection, fragments: Path | None) -> Placed:
    """force_layout(simple) and _communities(simple), from the cache folder `fragments` when they
    were computed for this very input. Reads no graph: on big graphs kg.export runs it in a
    spawned worker, beside the build process's writers."""
    store = Fragments(fragments, "layout").open()
    kept = store.piece(
        lambda: (simple.nodes, simple.src.tobytes(), simple.dst.tobytes(), simple.weight.tobytes()),
        lambda: orjson.dumps({"positions": force_layout(simple), "communities": _communities(simple)}).decode("utf-8"),
    )
    store.close()
    kept = orjson.loads(kept)
    return {node: (x, y) for node, (x, y) in kept["positions"].items()}, kept["communities"]


def _environment() -> Environment:
    """Autoescaping Jinja environment: our templates first, then pyvis's (for the inlined vis-network)."""
    env = Environment(
        loader=ChoiceLoader([PackageLoader("kg", "templates"), FileSystemLoader(str(Path(pyvis.__file__).parent / "templates"))]),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    # tojson escapes < > & ' so no note text can close a script element; keep CJK as is (half the size).
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False, "separators": (",", ":")}
    return env


def _select(graph: nx.MultiDiGraph, max_nodes: int | None) -> tuple[list[str], dict[str, int]]:
    """The nodes to draw and, per kind, how many were left out: the best-connected `max_nodes` win."""
    if max_nodes is None or max_nodes >= len(graph):
        return sorted(graph.nodes), {}
    simple = projection(graph)
    degree = dict(zip(simple.nodes, simple.degrees().tolist()))
    ranked = sorted(graph.nodes, key=lambda n: (-degree[n], n))
    keep = sorted(ranked[: max(max_nodes, 0)])
    left_out: dict[str, int] = {}
    for node in ranked[max(max_nodes, 0) :]:
        kind = graph.nodes[node]["kind"]
        left_out[kind] = left_out.get(kind, 0) + 1
    return keep, dict(sorted(left_out.items()))


def _communities(simple: Projection) -> dict[str, int]:
    """node -> community number (0 = largest), from igraph's Louvain (multilevel) with a fixed seed.

    igraph runs it in C: 0.1 s where networkx's took 2.7 s on a 3,300-note vault. Vertices go in in
    sorted order and igraph draws from its own seeded generator, so the same graph always gives
    the same communities.
    """
    order = simple.nodes
    if len(simple.src) == 0:
        return {node: i for i, node in enumerate(order)}
    network = igraph.Graph(n=len(order), edges=list(zip(simple.src.tolist(), simple.dst.tolist())))
    igraph.set_random_number_generator(random.Random(7))
    try:
        membership = network.community_multilevel(weights=simple.weight.tolist()).membership
    finally:
        igraph.set_random_number_generator(random)
    found: dict[int, list[str]] = {}
    for node, community in zip(order, membership):
        found.setdefault(community, []).append(node)
    ranked = sorted(found.values(), key=lambda c: (-len(c), c[0]))
    return {node: i for i, members in enumerate(ranked) for node in members}


def _vis_node(node: str, data: dict, position: tuple[float, float]) -> dict:
    kind = data["kind"]
    colour, shape = KIND_STYLE[kind]
    label = data["label"]
    short = label if len(label) <= LABEL_LENGTH else label[: LABEL_LENGTH - 1] + "…"
    articles = int(data.get("articles", 0))
    tooltip = f"{label}\n{kind}" + (f" · {data['date']}" if data.get("date") else "") + (f" · {articles} articles" if kind != ARTICLE else "")
    return {
        "id": node,
        "label": short,
        "title": tooltip,
        "kind": kind,
        "color": colour,
        "shape": shape,
        "size": 8 if kind == ARTICLE else round(8 + 5 * math.log2(1 + articles), 1),
        "x": round(position[0] * PIXELS_PER_UNIT, 1),
        "y": round(position[1] * PIXELS_PER_UNIT, 1),
    }


def _details(view: nx.MultiDiGraph, order: list[str], community: dict[str, int]) -> list[dict]:
    """What the page's panel, search and filters show of each node, in `order`."""
    details = []
    for node in order:
        data = view.nodes[node]
        entry = {"id": node, "kind": data["kind"], "label": data["label"], "community": community.get(node, 0)}
        for name in ("aliases", "authors", "tags"):
            if data.get(name):
                entry[name] = list(data[name])
        for name in ("date", "updated", "url", "source", "path", "note"):
            if data.get(name):
                entry[name] = str(data[name])
        if data["kind"] != ARTICLE:
            entry["articles"] = int(data.get("articles", 0))
        details.append(entry)
    return details


def _drawn_edges(view: nx.MultiDiGraph, index: dict[str, int]) -> Iterator[list]:
    """Each drawn edge as [from index, to index, relation] (mentions add count and evidence), made
    as the page is written."""
    for u, v, relation, data in sorted_edges(view):
        if relation == "co_mention" or relation not in EDGE_STYLE:
            continue
        edge = [index[u], index[v], relation]
        if relation == "mentions":
            evidence = [str(e.get("sentence", "")) for e in data.get("evidence", [])]
            edge += [int(data.get("count", len(evidence))), evidence]
        yield edge


def _count_and_co_mentions(view: nx.MultiDiGraph, index: dict[str, int]) -> tuple[int, list[list[int]]]:
    """How many edges are drawn, and the strongest MAX_CO_MENTIONS co-mentions (of at least two
    articles) as [a, b, weight], for the overlay."""
    drawn = 0
    pairs = []
    for u, targets in view.adjacency():  # in any order: the pairs are ranked and sorted below
        for v, keyed in targets.items():
            for relation, data in keyed.items():
                if relation == "co_mention":
                    weight = int(data.get("weight", 1))
                    if weight >= 2:
                        pairs.append((-weight, index[u], index[v]))
                elif relation in EDGE_STYLE:
                    drawn += 1
    strongest = heapq.nsmallest(MAX_CO_MENTIONS, pairs)
    return drawn, sorted([a, b, -weight] for weight, a, b in strongest)


def _options(n_nodes: int, n_edges: int) -> dict:
    """vis-network options: no physics, straight edges, fast interaction on big graphs."""
    big = n_nodes + n_edges > 4000
    return {
        "physics": {"enabled": False},
        "layout": {"improvedLayout": False},
        "edges": {"smooth": False, "width": 1, "selectionWidth": 2, "arrows": {"to": {"scaleFactor": 0.5}}},
        "nodes": {"font": {"size": 14, "face": "sans-serif"}, "borderWidth": 1},
        "interaction": {"hover": True, "tooltipDelay": 150, "hideEdgesOnDrag": big, "hideEdgesOnZoom": big, "multiselect": False},
    }


__all__ = ["render", "KIND_STYLE", "EDGE_STYLE", "COMMUNITY_COLOURS", "SMALL_COMMUNITY"]
