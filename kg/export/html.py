"""The interactive view: one self-contained HTML page in pyvis's form, no network needed.

The page is what pyvis's Network renders, through our own template (kg/templates/graph.html,
streamed, never held whole): it inlines vis-network from the pyvis package's own files and our
CSS/JS, and keeps pyvis's page globals `network`, `nodes` and `edges`. pyvis's Python module is
not imported (it imports IPython, a quarter of a second a build): the nodes are vis-network's
node objects, as pyvis's Network holds them. Positions come from kg.layout and physics is off,
so the page is still as soon as it is drawn, at thousands of nodes.

Safety: every string from a note reaches the page only as JSON inside a script element (with `<`
escaped) or as an autoescaped template value; the page's script puts it into the DOM with
textContent, and vis-network shows string tooltips as text.
"""

from __future__ import annotations

import bisect
import functools
import io
import marshal
import math
import os
import pickle
import re
import zlib
from array import array
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np
import orjson
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PackageLoader, select_autoescape
from jinja2.utils import htmlsafe_json_dumps
from markupsafe import Markup

from kg.cache import code_fingerprint
from kg.errors import ExportError
from kg.fragments import CannotPatch, OutputPieces, copy_range, published_stamp
from kg.graph import evidence_of, sorted_edges
from kg.layout import Placed, Positions, Projection, lay_out_ahead, place, placing, projection, projection_after, projection_of
from kg.model import ARTICLE, NODE_KINDS, ORGANIZATION, PERSON, PRODUCT, SOURCE, TOPIC

if TYPE_CHECKING:
    import networkx as nx

    from kg.delta import Changes

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




def stream(graph: nx.MultiDiGraph, handle: TextIO, *, max_nodes: int | None = None, fragments: Path | None = None, published: Path | None = None, drawn: Drawing | None = None, placed: Placed | None = None, **_: object) -> None:
    """`render`, written to `handle` as the template produces it (the page is never held whole:
    100 MB at 10,000 notes).

    With `fragments` (a cache folder), the layout and the communities are kept there by a digest
    of kg's code and of what they are computed from (the nodes and weighted links drawn), and
    reused while those stay the same, as after an edit that changes no link or mention: half the
    page's time. The page's model (what it shows of each node, see `page_node`) is kept there too,
    so that `patch` can write the page after an edit without the graph.

    The mentions' evidence (most of the page's bytes) is one piece a node (kg.fragments.OutputPieces):
    with `fragments` and `published` (where the last build's page is), an unchanged one is copied
    from the published page, and `patch` copies every piece but the changed nodes'.

    `drawn` and `placed`, when given, are `drawing(graph, max_nodes=max_nodes)` and
    `place(drawn.simple, fragments)` made beforehand (by kg.export, the layout in a worker process).
    """
    drawn = drawn or drawing(graph, max_nodes=max_nodes)
    view, left_out = drawn.view, drawn.left_out
    positions, community = placed or place(drawn.simple, fragments)
    model = PageModel(fragments) if fragments is not None and not left_out else None
    order = sorted(view.nodes)
    links = LinksBuilder({node: i for i, node in enumerate(order)})

    def pages() -> Iterator[tuple[str, NodeLook]]:
        for node in order:
            look, detail, drawn_out, co = page_node(node, view.nodes[node], _out_edges(view, node))
            links.add(drawn_out, co)
            yield node, (look, detail)

    def evidence(store: OutputPieces) -> None:
        with store.section(EVIDENCE, **_EVIDENCE_TEXTS):
            for node in order:
                entries = node_evidence(_out_edges(view, node))
                if entries:
                    store.piece(node, lambda: (entries,), lambda: _evidence_text(entries))

    _write_page(handle, pages, links.done, lambda: positions, community, evidence, total=len(graph), left_out=left_out, max_nodes=max_nodes, model=model, simple=drawn.simple, fragments=fragments, published=published)


def patch(changes: Changes, handle: TextIO, *, fragments: Path | None = None, published: Path | None = None, jobs: int = 1, **_: object) -> None:
    """The page after `changes` (see kg.delta): the page's model as the last build kept it
    (`changes.page`, or read here), with the nodes `changes` names made again and removed ones
    dropped, laid out again only if its links changed (with `jobs` > 1, in a forked worker while
    this process writes the rest, see kg.layout.placing), and the evidence of every other node
    copied from the page in `published`. Raises CannotPatch when no model was kept, or the
    published page is not the one the last build left."""
    kept = changes.page if changes.page is not None else (PageModel(fragments).load() if fragments is not None else None)
    if kept is None:
        raise CannotPatch(f"{fragments}: the page's model is missing or was made by other code")
    now = kept if isinstance(kept, UpdatedPage) else _updated(changes, kept)
    pages, order = now.pages, now.order
    model = PageModel(fragments) if fragments is not None else None
    with placing(now.simple, fragments, fork=jobs > 1) as (positions, community):
        # While the page is laid out again, if it is: the model is kept, and the page written up to its nodes' positions.
        if model is not None:
            model.save(((node, pages[node]) for node in order), now.simple, now.links, kept=now.kept, changed=set(changes.nodes))
        _write_page(handle, lambda: ((node, pages[node]) for node in order), lambda: now.links, positions, community, functools.partial(_patch_evidence, now, changes), total=len(order), left_out={}, max_nodes=None, model=None, fragments=fragments, published=published)


def _patch_evidence(now: UpdatedPage, changes: Changes, store: OutputPieces) -> None:
    """The evidence section as published, but for the nodes `changes` made again or removed."""
    made: dict[str, tuple | None] = dict.fromkeys(changes.removed)
    for node in changes.nodes:
        entries = now.evidence[node]
        made[node] = ((lambda entries=entries: (entries,)), (lambda entries=entries: _evidence_text(entries))) if entries else None
    store.patch(EVIDENCE, made, **_EVIDENCE_TEXTS)


def patch_ahead(changes: Changes, *, fragments: Path | None = None, jobs: int = 1) -> None:
    """What `patch` does first, done by the build process before it forks the page's writer:
    the page's model (`changes.page`, when read) brought up to date and, when its links changed
    and `jobs` > 1, its layout sent to the worker kg.layout.stand_by started (lay_out_ahead), a
    moment sooner than the page's writer could: a new note's build waits on that layout."""
    if changes.page is None or isinstance(changes.page, UpdatedPage):
        return
    changes.page = _updated(changes, changes.page)
    if jobs > 1 and changes.page.relaid:
        lay_out_ahead(changes.page.simple, fragments)


@dataclass(frozen=True)
class UpdatedPage:
    """The page's model after a delta's changes: the model as read (`kept`), its nodes now
    (`pages`, in `order`), their links and projection, `relaid` when its links changed, and the
    evidence of the nodes made again."""

    kept: KeptPage
    pages: MutableMapping[str, NodeLook]  # kept.pages, changed
    order: list[str]
    links: Links
    simple: Projection
    relaid: bool
    evidence: dict[str, Evidence]


def _updated(changes: Changes, kept: KeptPage) -> UpdatedPage:
    """The UpdatedPage of `kept` (its pages are changed in place) after `changes`."""
    pages, simple, before = kept.pages, kept.simple, kept.nodes
    graph = changes.graph
    same_links = not any(node in pages for node in changes.removed)
    evidence: dict[str, Evidence] = {}
    made: dict[str, PageNode] = {}
    for node in changes.removed:
        pages.pop(node, None)
    for node in changes.nodes:
        out = list(_out_edges(graph, node))
        page, evidence[node] = page_node(node, graph.nodes[node], out), node_evidence(out)
        at = bisect.bisect_left(before, node)
        same_links = same_links and at < len(before) and before[at] == node and kept.links.pairs(at, before) == _links(page)
        pages[node], made[node] = page[:2], page
    order = sorted(pages)
    links = kept.links.after(before, order, made)
    if simple is None:
        simple = projection_of(order, links.edges(order))
    elif not same_links:
        # Only the pairs of the nodes made again or removed are made again.
        simple = projection_after(simple, order, lambda node: ((item[0], item[1]) for item in made[node][2]), set(changes.nodes) | set(changes.removed))
    return UpdatedPage(kept, pages, order, links, simple, relaid=not same_links, evidence=evidence)


def _links(page: PageNode) -> set[tuple[str, str]]:
    """The (target, relation) of a node's drawn edges: what the layout reads of it."""
    return {(item[0], item[1]) for item in page[2]}


# What the page shows of one node: its vis-network node but the position, its panel details but
# the community, its drawn out-edges ([target, relation], and the count for mentions) and its
# co-mentions of at least two articles ((targets), (weights)). The page's model keeps the first two
# (a NodeLook) a node at a time, the others as Links, all nodes' in arrays.
PageNode = tuple[dict, dict, list[list], tuple[tuple[str, ...], tuple[int, ...]]]
NodeLook = tuple[dict, dict]
# The evidence of a node's drawn out-edges, in their order: a mention's sentences, 0 for other
# relations. Not in the model: the page's evidence section is copied from the published page.
Evidence = list
RELATIONS = tuple(relation for relation in EDGE_STYLE if relation != "co_mention")  # the relations drawn as edges (co-mentions are an overlay), in the order of their codes in Links
DRAWN = frozenset(RELATIONS)
_RELATION_CODE = {relation: code for code, relation in enumerate(RELATIONS)}


def page_node(node: str, data: dict, out: Iterable[tuple[str, str, dict]]) -> PageNode:
    """The PageNode of `node` with attributes `data` and out-edges `out`, (target, relation, data)
    sorted by target and relation."""
    drawn: list[list] = []
    co_targets: list[str] = []
    co_weights: list[int] = []
    for v, relation, edge in out:
        if relation == "co_mention":
            weight = int(edge.get("weight", 1))
            if weight >= 2:
                co_targets.append(v)
                co_weights.append(weight)
        elif relation in DRAWN:
            item = [v, relation]
            if relation == "mentions":
                item.append(int(edge.get("count", len(edge.get("evidence", ())))))
            drawn.append(item)
    return _look(node, data), _detail(node, data), drawn, (tuple(co_targets), tuple(co_weights))


def _out_edges(graph: nx.MultiDiGraph, node: str) -> Iterator[tuple[str, str, dict]]:
    """`node`'s out-edges as `page_node` and `node_evidence` take them: (target, relation, data),
    sorted by target and relation."""
    return ((v, key, data) for _u, v, key, data in sorted_edges(graph, sources=[node]))


def node_evidence(out: Iterable[tuple[str, str, dict]]) -> Evidence:
    """The Evidence of a node with out-edges `out`, as `page_node` takes them."""
    return [[str(sentence) for sentence, _start, _end in evidence_of(edge)] if relation == "mentions" else 0 for _v, relation, edge in out if relation in DRAWN]


@dataclass(frozen=True)
class Links:
    """Every node's drawn out-edges and co-mentions (what a PageNode's last two items hold), for
    the nodes of one order, as arrays: node i's drawn edges are the rows drawn_at[i]:drawn_at[i + 1]
    of `target` (the node's number), `relation` (its code: a place in RELATIONS) and `count` (a
    mention's count, -1 for other relations); its co-mentions the rows co_at[i]:co_at[i + 1] of
    `co_target` and `co_weight`.

    What the page's model keeps of them: at 10,000 notes 270,000 drawn edges and 220,000
    co-mentions, which as each node's lists of node ids took the page's writer a quarter of a
    second to unpickle and number again, every rebuild."""

    drawn_at: np.ndarray
    target: np.ndarray
    relation: np.ndarray
    count: np.ndarray
    co_at: np.ndarray
    co_target: np.ndarray
    co_weight: np.ndarray

    def arrays(self) -> tuple[bytes, ...]:
        """The arrays' bytes, in LINKS_ARRAYS' order (what the model keeps)."""
        return tuple(getattr(self, name).tobytes() for name, _type in LINKS_ARRAYS)

    @classmethod
    def from_arrays(cls, arrays: Iterable[bytes]) -> Links:
        links = cls(**{name: np.frombuffer(raw, dtype=dtype) for raw, (name, dtype) in zip(arrays, LINKS_ARRAYS, strict=True)})
        if not (len(links.drawn_at) == len(links.co_at) and links.drawn_at[-1] == len(links.target) == len(links.relation) == len(links.count) and links.co_at[-1] == len(links.co_target) == len(links.co_weight)):
            raise ValueError("its arrays do not agree")
        return links

    def pairs(self, i: int, nodes: list[str]) -> set[tuple[str, str]]:
        """The (target, relation) of node i's drawn edges (`nodes`: the order they are numbered by)."""
        low, high = self.drawn_at[i], self.drawn_at[i + 1]
        return {(nodes[t], RELATIONS[r]) for t, r in zip(self.target[low:high].tolist(), self.relation[low:high].tolist())}

    def sources(self) -> np.ndarray:
        """Each drawn edge's source, by number (the rows of node i are drawn_at[i]:drawn_at[i + 1])."""
        return np.repeat(np.arange(len(self.drawn_at) - 1), np.diff(self.drawn_at))

    def edges(self, nodes: list[str]) -> Iterator[tuple[str, str, str]]:
        """Every drawn edge as (source, target, relation)."""
        for u, v, r in zip(self.sources().tolist(), self.target.tolist(), self.relation.tolist()):
            yield nodes[u], nodes[v], RELATIONS[r]

    def rows(self) -> Iterator[list[list]]:
        """The drawn edges as the page's kg.data.edges holds them, [source, target, relation,
        (count)], a few thousand at a time."""
        source = self.sources()
        for low in range(0, len(source), JSON_ITEMS_PER_CHUNK):
            high = low + JSON_ITEMS_PER_CHUNK
            yield [
                [u, v, RELATIONS[r]] if c < 0 else [u, v, RELATIONS[r], c]
                for u, v, r, c in zip(source[low:high].tolist(), self.target[low:high].tolist(), self.relation[low:high].tolist(), self.count[low:high].tolist())
            ]

    def after(self, before: list[str], nodes: list[str], made: dict[str, PageNode]) -> Links:
        """The Links of the sorted `nodes`, these numbered by the sorted `before`: the rows of a
        node in `made` (its PageNode) made from it, every other node's kept and numbered again.
        Raises CannotPatch if a kept row leads to a node that is gone (the node should have been made)."""
        at = {node: i for i, node in enumerate(nodes)}
        renumber = np.array([at.get(node, -1) for node in before], dtype=np.int64)
        kept_old = np.array([node not in made for node in before], dtype=bool) & (renumber >= 0)
        old = np.flatnonzero(kept_old)  # kept nodes by their old number, ascending: their new numbers ascend too
        new = renumber[old]
        builder = LinksBuilder(at)
        fresh = [(at[node], made[node]) for node in sorted(made) if node in at]
        for _i, page in fresh:
            builder.add(page[2], page[3])
        made_links = builder.done()
        made_at = np.array([i for i, _page in fresh], dtype=np.int64)
        columns = []
        for at_name, names in (("drawn_at", ("target", "relation", "count")), ("co_at", ("co_target", "co_weight"))):
            old_at, fresh_at = getattr(self, at_name), getattr(made_links, at_name)
            lengths = np.zeros(len(nodes), dtype=np.int64)
            lengths[new] = old_at[old + 1] - old_at[old]
            lengths[made_at] = np.diff(fresh_at)
            new_at = np.zeros(len(nodes) + 1, dtype=np.int64)
            np.cumsum(lengths, out=new_at[1:])
            take_from, put_at = _spans(old_at[old], new_at[new], lengths[new])
            made_from, made_to = _spans(fresh_at[:-1], new_at[made_at], np.diff(fresh_at))
            columns.append(new_at)
            for name in names:
                kept_values, made_values = getattr(self, name)[take_from], getattr(made_links, name)[made_from]
                if name in ("target", "co_target"):
                    kept_values = renumber[kept_values]
                    if (kept_values < 0).any():
                        raise CannotPatch("the page's model: a node kept as it was links to a node that is gone")
                values = np.empty(new_at[-1], dtype=kept_values.dtype)
                values[put_at], values[made_to] = kept_values, made_values
                columns.append(values)
        return Links(*columns)


# The arrays of Links, in the order the page's model keeps them.
LINKS_ARRAYS = (("drawn_at", np.int64), ("target", np.int64), ("relation", np.int8), ("count", np.int64), ("co_at", np.int64), ("co_target", np.int64), ("co_weight", np.int64))


def _spans(starts: np.ndarray, to: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the spans starts[k]:starts[k] + lengths[k], and where they go (to[k]:to[k] + lengths[k]), as row numbers."""
    total = int(lengths.sum())
    if total == 0:
        none = np.empty(0, dtype=np.int64)
        return none, none
    skip = np.repeat(np.cumsum(lengths) - lengths, lengths)  # each row's offset within its span: arange(total) - skip
    within = np.arange(total, dtype=np.int64) - skip
    return np.repeat(starts, lengths) + within, np.repeat(to, lengths) + within


class LinksBuilder:
    """Links made from PageNodes' drawn edges and co-mentions, a node at a time, in order;
    `index` numbers the nodes."""

    def __init__(self, index: dict[str, int]) -> None:
        self.index = index
        self._drawn_at, self._target, self._relation, self._count = array("q", [0]), array("q"), array("b"), array("q")
        self._co_at, self._co_target, self._co_weight = array("q", [0]), array("q"), array("q")
        self._done: Links | None = None

    def add(self, drawn: list[list], co: tuple[tuple[str, ...], tuple[int, ...]]) -> None:
        """The next node's drawn out-edges and co-mentions, as its PageNode holds them."""
        index = self.index
        for item in drawn:
            self._target.append(index[item[0]])
            self._relation.append(_RELATION_CODE[item[1]])
            self._count.append(item[2] if len(item) > 2 else -1)
        self._drawn_at.append(len(self._target))
        self._co_target.extend([index[v] for v in co[0]])
        self._co_weight.extend(co[1])
        self._co_at.append(len(self._co_target))

    def done(self) -> Links:
        """The Links of the nodes added (the same object, asked again)."""
        if self._done is None:
            arrays = (self._drawn_at, self._target, self._relation, self._count, self._co_at, self._co_target, self._co_weight)
            self._done = Links(*(np.frombuffer(a, dtype=dtype).copy() for a, (_name, dtype) in zip(arrays, LINKS_ARRAYS, strict=True)))
        return self._done


def _write_page(
    handle: TextIO,
    pages: Callable[[], Iterator[tuple[str, NodeLook]]],
    links: Callable[[], Links],
    positions: Callable[[], Positions],
    community: dict[str, int],
    evidence: Callable[[OutputPieces], None],
    *,
    total: int,
    left_out: dict[str, int],
    max_nodes: int | None,
    model: PageModel | None,
    simple: Projection | None = None,
    fragments: Path | None = None,
    published: Path | None = None,
) -> None:
    """The page of the nodes `pages()` gives (once, in sorted order) and of their `links()` (asked
    for once they are given); `model`, when given, keeps them and their projection `simple`.
    `evidence(store)` writes the section EVIDENCE of the page's pieces (kg.fragments.OutputPieces
    over `fragments` and the page in `published`). `positions()` is called when the page reaches
    its nodes, after the rest of its data (the layout may be under way till then)."""
    looks: list[dict] = []
    order: list[str] = []
    details = []
    with model.writing(simple, links) if model is not None else nullcontext() as keep:
        for node, (look, detail) in pages():
            order.append(node)
            looks.append(look)
            details.append({**detail, "community": community.get(node, 0)})
            if keep is not None:
                keep(node, (look, detail))
    drawn = links()
    edges_drawn = len(drawn.target)
    co_mentions = _strongest(np.diff(drawn.co_at), drawn.co_target, drawn.co_weight)
    dashed = edges_drawn <= DASHED_EDGES_UP_TO
    vis_options = _options(len(order), edges_drawn)
    sizes: dict[int, int] = {}
    for c in community.values():
        sizes[c] = sizes.get(c, 0) + 1
    palette = [COMMUNITY_COLOURS[c % len(COMMUNITY_COLOURS)] if sizes[c] >= 3 else SMALL_COMMUNITY for c in sorted(sizes)]

    def vis_nodes() -> Iterator[dict]:  # what pyvis's Network.nodes holds for its page: vis-network's node objects
        at = positions()
        for node, look in zip(order, looks):
            x, y = at[node]
            yield {**look, "x": round(x * PIXELS_PER_UNIT, 1), "y": round(y * PIXELS_PER_UNIT, 1)}

    kg_data = {
        "co_mentions": co_mentions,
        "community_colours": palette,
        "edges": Rows(drawn.rows()),
        "nodes": details,
    }
    env = _environment()
    store = OutputPieces(fragments, FILENAME, handle, published=published)

    def evidence_section() -> Iterator[Markup]:  # written into the page by the store, where the template reaches it
        evidence(store)
        yield from ()

    # What pyvis's generate_html renders from its template, but streamed through ours: the nodes
    # (the edges are drawn from kg-data's by the page's script, into pyvis's `edges` DataSet).
    # The page's biggest parts go out as JSON a few thousand items at a time: whole, at 50,000
    # notes, each would be one string of hundreds of MB (twice, while escaped).
    page = env.get_template("graph.html").generate(
        nodes=_json_chunks(env, vis_nodes()),
        kg_data=_json_chunks(env, kg_data),
        evidence=evidence_section(),
        edge_looks={rel: [colour, dashes if dashed else False, arrow] for rel, (colour, dashes, arrow) in EDGE_STYLE.items()},
        vis_options=vis_options,
        kinds=[(kind, KIND_NAMES[kind], *KIND_STYLE[kind]) for kind in NODE_KINDS],
        relations=[(rel, colour, bool(dashes) and dashed) for rel, (colour, dashes, _arrow) in EDGE_STYLE.items()],
        totals={"nodes": total},
        shown={"nodes": len(order), "edges": edges_drawn},
        left_out=left_out,
        max_nodes=max_nodes,
    )
    with store.open():
        for chunk in page:
            handle.write(chunk)


FILENAME = "graph.html"
EVIDENCE = "evidence"  # the section of the page's pieces: a node's Evidence each
_EVIDENCE_TEXTS = {"before": "[", "sep": ",", "after": "]", "empty": "[]"}


def _evidence_text(entries: Evidence) -> str:
    """A node's piece of the evidence section: its entries in the page's JSON (`_tojson`), brackets cut off."""
    return _tojson(_environment(), entries)[1:-1]


def _strongest(counts: Iterable[int], targets: Iterable[int], weights: Iterable[int], *, limit: int = MAX_CO_MENTIONS) -> list[list[int]]:
    """The `limit` strongest co-mentions as [source, target, weight] (node numbers), sorted; the
    strongest first when choosing, ties to the lower source, then target. `counts`: how many of
    `targets` and `weights`, in order, each node (by number) has."""
    weight = np.asarray(weights, dtype=np.int64)
    if not len(weight):
        return []
    target = np.asarray(targets, dtype=np.int64)
    counts = np.asarray(counts, dtype=np.int64)
    source = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    chosen = np.lexsort((target, source, -weight))[:limit]
    chosen = chosen[np.lexsort((target[chosen], source[chosen]))]
    return np.stack([source[chosen], target[chosen], weight[chosen]], axis=1).tolist()


JSON_ITEMS_PER_CHUNK = 2000


@dataclass(frozen=True)
class Rows:
    """A list given as lists of its items, one after the other (for `_json_chunks`)."""

    lists: Iterable[list]


def _json_chunks(env: Environment, value: dict | list | Iterator | Rows) -> Iterator[Markup]:
    """`value|tojson` in pieces: the top-level dict's or list's items (and a dict's list values'
    items) are encoded a few thousand at a time; the pieces joined are exactly tojson's text."""
    if isinstance(value, dict):
        yield Markup("{")
        for i, key in enumerate(sorted(value)):
            yield Markup(("," if i else "") + _tojson(env, key) + ":")
            if isinstance(value[key], (dict, list, Iterator, Rows)):
                yield from _json_chunks(env, value[key])
            else:
                yield _tojson(env, value[key])
        yield Markup("}")
        return
    yield Markup("[")
    batch: list = []
    first = True
    for items in value.lists if isinstance(value, Rows) else ([item] for item in value):
        batch += items
        if len(batch) >= JSON_ITEMS_PER_CHUNK:
            yield Markup(("" if first else ",") + _tojson(env, batch)[1:-1])
            batch, first = [], False
    if batch:
        yield Markup(("" if first else ",") + _tojson(env, batch)[1:-1])
    yield Markup("]")


def _tojson(env: Environment, value: object) -> Markup:
    """Jinja's `tojson` (its policy: keys sorted, no spaces, CJK kept) of `value`, encoded by
    orjson, which writes the same text for what the page holds (str, int, float, bool, None,
    lists and dicts with str keys) several times faster; anything else goes to Jinja's own."""
    try:
        text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except TypeError:
        return htmlsafe_json_dumps(value, **env.policies["json.dumps_kwargs"])
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("'", "\\u0027"))


@functools.cache
def _environment() -> Environment:
    """Autoescaping Jinja environment: our templates first, then pyvis's (for the inlined
    vis-network). Made once a process: it keeps its compiled templates (a page's variables go to
    `generate`, never into the environment)."""
    env = Environment(
        loader=ChoiceLoader([PackageLoader("kg", "templates"), FileSystemLoader(str(_pyvis_folder() / "templates"))]),
        autoescape=select_autoescape(default=True, default_for_string=True),
    )
    # tojson escapes < > & ' so no note text can close a script element; keep CJK as is (half the size).
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False, "separators": (",", ":")}
    env.globals["asset"] = functools.partial(_asset, env)
    return env


@functools.cache
def _asset(env: Environment, name: str) -> Markup:
    """The file `name` of the templates' folders, as the page inlines it: verbatim but for what an
    include would change (line ends made \n, one trailing line end dropped). Not an include: Jinja
    would lex vis-network's 470 kB as a template in every process that writes a page (0.1 s)."""
    source, _filename, _uptodate = env.loader.get_source(env, name)
    return Markup(re.sub(r"\r\n?", "\n", source).removesuffix("\n"))


def prepare() -> None:
    """Make ahead of time what writing the page needs and takes a while to make: the template."""
    _environment().get_template("graph.html")


def _pyvis_folder() -> Path:
    """Where the pyvis package is (its templates inline vis-network), without importing it."""
    from importlib.util import find_spec

    spec = find_spec("pyvis")
    return Path(next(iter(spec.submodule_search_locations)))


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


def _look(node: str, data: dict) -> dict:
    """The node's vis-network node, but its position."""
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
    }


def _detail(node: str, data: dict) -> dict:
    """What the page's panel, search and filters show of the node, but its community."""
    entry = {"id": node, "kind": data["kind"], "label": data["label"]}
    for name in ("aliases", "authors", "tags"):
        if data.get(name):
            entry[name] = list(data[name])
    for name in ("date", "updated", "url", "source", "path", "note"):
        if data.get(name):
            entry[name] = str(data[name])
    if data["kind"] != ARTICLE:
        entry["articles"] = int(data.get("articles", 0))
    return entry


@dataclass
class KeptPage:
    """The page's model as `PageModel.load` read it: its nodes (with where each node's entry lay in
    the file read, for `PageModel.save` to copy), in order, their links and projection, and the
    file's stamp."""

    pages: KeptPages
    nodes: list[str]  # the nodes as read, in order (pages may have changed since)
    links: Links
    simple: Projection | None
    stamp: tuple[int, int, int]  # the file's size, modification time and inode when read


class KeptPages(MutableMapping):
    """node -> NodeLook of a kept model, each unpickled from the file's bytes when first asked for
    (and checked against its CRC: CannotPatch when it does not hold). A delta's build process
    reads the few nodes its changes touch; the page's writer, forked after, reads the rest.
    `spans` (node -> (offset, end)) and `checks` (node -> CRC) stay those of the file's entries
    whatever the mapping is changed to."""

    def __init__(self, data: bytes, spans: dict[str, tuple[int, int]], checks: dict[str, int], path: Path) -> None:
        self._data, self.spans, self.checks, self._path = memoryview(data), spans, checks, path
        self._nodes = set(spans)
        self._read: dict[str, NodeLook] = {}

    def __getitem__(self, node: str) -> NodeLook:
        page = self._read.get(node)
        if page is None:
            if node not in self._nodes:
                raise KeyError(node)
            start, end = self.spans[node]
            entry = self._data[start:end]
            try:
                if zlib.crc32(entry) != self.checks[node]:
                    raise ValueError("its CRC does not hold")
                _node, page = pickle.loads(entry)
            except Exception as exc:  # noqa: BLE001 - any damage means "make the page from the graph"
                raise CannotPatch(f"{self._path}: the entry of {node} is damaged ({exc})") from exc
            self._read[node] = page
        return page

    def __setitem__(self, node: str, page: NodeLook) -> None:
        self._nodes.add(node)
        self._read[node] = page

    def __delitem__(self, node: str) -> None:
        self._nodes.remove(node)
        self._read.pop(node, None)

    def __contains__(self, node: object) -> bool:
        return node in self._nodes

    def __iter__(self) -> Iterator[str]:
        return iter(self._nodes)

    def __len__(self) -> int:
        return len(self._nodes)


class PageModel:
    """The page's nodes as the last build wrote them (in sorted order), kept in the cache folder
    (`page.pickle`: a line with kg's code fingerprint, a pickle per node of its NodeLook, one of
    the nodes' Links and projection, then an index: each node's offset and the CRC of its entry,
    the CRC of the Links and projection, and the index's length in 8 bytes), written as the page is. Disposable: anything wrong with it
    means the page is made from the graph."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / PAGE_FILE
        self.key = f"{code_fingerprint()}\0page".encode()

    @contextmanager
    def writing(self, simple: Projection | None, links: Callable[[], Links], *, kept: KeptPage | None = None, changed: set[str] | frozenset[str] = frozenset()) -> Iterator[Callable[[str, NodeLook], None]]:
        """A function to keep each (node, NodeLook), in order, then (asked for when the block
        ends) the nodes' `links()`, and the page's projection `simple`; the file replaces the old
        one when the block ends well, and is dropped if it does not (or cannot be written).

        With `kept` (what `load` read of the file now in place, if it still is), the entries of
        nodes not in `changed` are copied from that file by the kernel instead of pickled again
        (a delta build: 16 MB at 3,300 notes, of which a new note changes a few entries)."""
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        source = self._source(kept)
        self.path.unlink(missing_ok=True)  # never leave one that says something else than the page
        handle = None
        writing = False
        run: list[int] = []  # the kept bytes [offset, end) still to be copied, grown while entries follow one another
        nodes: list[str] = []
        starts, checks = array("q"), array("q")

        def copy_run() -> None:
            if run:
                handle.flush()
                copy_range(source, handle.fileno(), run[0], run[1] - run[0], self.path)
                run.clear()

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(temporary, "wb")  # noqa: SIM115 - closed below, after the block
            handle.write(self.key + b"\n")
            writing = True
        except OSError:
            pass

        def keep(node: str, page: NodeLook) -> None:
            nonlocal writing
            if not writing:
                return
            try:
                here = handle.tell() + (run[1] - run[0] if run else 0)
                span = kept.pages.spans.get(node) if source is not None and node not in changed else None
                if span is not None:
                    check = kept.pages.checks[node]
                    if run and run[1] == span[0]:
                        run[1] = span[1]
                    else:
                        copy_run()
                        run[:] = span
                else:
                    copy_run()
                    entry = pickle.dumps((node, page), protocol=pickle.HIGHEST_PROTOCOL)  # each node on its own: no memo shared
                    check = zlib.crc32(entry)
                    handle.write(entry)
                nodes.append(node)
                starts.append(here)
                checks.append(check)
            except (OSError, ExportError):
                writing = False  # no model this time (a full disk, say); the page itself goes on

        try:
            yield keep  # the caller's own errors pass through: only the model's are kept quiet
            if writing:
                try:
                    copy_run()
                    starts.append(handle.tell())
                    projected = tuple(getattr(simple, name).tobytes() for name, _type in _PROJECTION_ARRAYS) if simple is not None else None
                    tail = pickle.dumps((_TAIL, links().arrays(), projected), protocol=pickle.HIGHEST_PROTOCOL)
                    handle.write(tail)
                    index = marshal.dumps((nodes, starts.tobytes(), checks.tobytes(), zlib.crc32(tail)))
                    handle.write(index + len(index).to_bytes(8, "little"))
                    handle.close()
                    os.replace(temporary, self.path)
                except (OSError, ExportError):
                    pass
        finally:
            if handle is not None:
                handle.close()
            if source is not None:
                os.close(source)
            temporary.unlink(missing_ok=True)

    def _source(self, kept: KeptPage | None) -> int | None:
        """A descriptor of the file in place if it is the one `kept` was read from, else None."""
        if kept is None:
            return None
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except OSError:
            return None
        try:
            if published_stamp(os.fstat(fd)) == kept.stamp:
                return fd
        except OSError:
            pass
        os.close(fd)
        return None

    def save(self, pages: Iterable[tuple[str, NodeLook]], simple: Projection | None, links: Links, *, kept: KeptPage | None = None, changed: set[str] | frozenset[str] = frozenset()) -> None:
        """Keep `pages` ((node, NodeLook), in order), their `links` and projection `simple`, as `writing` does."""
        with self.writing(simple, lambda: links, kept=kept, changed=changed) as keep:
            for node, page in pages:
                keep(node, page)

    def load(self) -> KeptPage | None:
        """The model as kept (its index and projection read now, each node's entry when asked
        for), or None when there is none from this code or it cannot be read."""
        try:
            with open(self.path, "rb") as handle:
                stamp = published_stamp(os.fstat(handle.fileno()))
                if handle.readline().rstrip(b"\n") != self.key:
                    return None
                handle.seek(0)
                data = handle.read()
            length = int.from_bytes(data[-8:], "little")
            index_at = len(data) - 8 - length
            nodes, raw_starts, raw_checks, tail_check = marshal.loads(data[index_at:-8])
            starts, checks = array("q"), array("q")
            starts.frombytes(raw_starts)
            checks.frombytes(raw_checks)
            if len(starts) != len(nodes) + 1 or len(checks) != len(nodes) or not len(self.key) < starts[0] <= starts[-1] <= index_at or nodes != sorted(nodes):
                return None
            spans = {node: (starts[i], starts[i + 1]) for i, node in enumerate(nodes)}
            tail = memoryview(data)[starts[-1] : index_at]
            if zlib.crc32(tail) != tail_check:
                return None
            name, arrays, projected = pickle.loads(tail)
            links = Links.from_arrays(arrays)
            if name != _TAIL or len(links.drawn_at) != len(nodes) + 1:
                return None
            simple = None
            if projected is not None:
                simple = Projection(nodes, **{name: np.frombuffer(raw, dtype=dtype) for raw, (name, dtype) in zip(projected, _PROJECTION_ARRAYS, strict=True)})
        except Exception:  # noqa: BLE001 - missing or damaged: only means "make the page from the graph"
            return None
        return KeptPage(KeptPages(data, spans, dict(zip(nodes, checks.tolist())), self.path), nodes, links, simple, stamp)


_TAIL = "\0links"  # the entry after the nodes (no node id starts with NUL)
_PROJECTION_ARRAYS = (("src", np.int64), ("dst", np.int64), ("weight", np.float64), ("ahead", np.int8), ("back", np.int8))  # its arrays, in order


PAGE_FILE = "page.pickle"


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
