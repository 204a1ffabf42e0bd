"""graph: notes and resolved entities become one typed, weighted nx.MultiDiGraph.

Node ids are strings `<kind>:<key>`; each node has `kind` and `label`. Edges are keyed by their
relation (see RELATIONS), so two different relations between the same nodes both survive.
Every attribute is a str, int, float, bool or a list of those; exporters flatten lists.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Iterator
from urllib.parse import urlsplit

import networkx as nx
import numpy as np

from kg.dictionary import Dictionary
from kg.links import parse_links
from kg.model import ARTICLE, EVIDENCE_PER_PAIR, ORGANIZATION, PERSON, SOURCE, TOPIC, Extraction, Note
from kg.processes import collector_paused
from kg.read import LinkIndex
from kg.resolve import entity_id, resolve

# Edge relations: name -> (from kind(s), to kind(s)) as documentation; the exporters map them.
RELATIONS = {
    "about": "article -> topic (a wiki-link from the article)",
    "author": "article -> person or organization (frontmatter author)",
    "source": "article -> source (frontmatter 来源: platform or site)",
    "mentions": "article -> product, organization or person named in the text; count, evidence",
    "made_by": "product -> organization",
    "version_of": "product -> product family",
    "related": "topic -> topic (a wiki-link between topic notes)",
    "broader": "topic -> broader topic (frontmatter broader/parent)",
    "links_to": "note -> article (a wiki-link to an article)",
    "co_mention": "entity -> entity named together in at least MIN_CO_MENTIONS articles; weight = their number",
}


# Two entities named together in a single article are everywhere (most pairs of a long note) and say
# little; from two articles on it is a pattern. The threshold keeps the graph about 85% smaller.
MIN_CO_MENTIONS = 2


def article_id(path: str) -> str:
    return f"{ARTICLE}:{path}"


def topic_id(key: str) -> str:
    return f"{TOPIC}:{key}"


@collector_paused()  # it makes millions of lasting objects and no garbage: see collector_paused
def build_graph(notes: list[Note], extractions: dict[str, Extraction], dictionary: Dictionary) -> nx.MultiDiGraph:
    """The knowledge graph of a vault. Deterministic: nodes and edges are added in sorted order."""
    notes = sorted(notes, key=lambda n: n.path)
    resolution = resolve(notes, extractions, dictionary)
    graph = nx.MultiDiGraph()
    index = LinkIndex(notes)
    by_path = {note.path: note for note in notes}

    # Entities first, so topic notes that are entities land on the entity's node.
    note_node: dict[str, str] = {}
    for eid in sorted(resolution.entities):
        entity = resolution.entities[eid]
        attrs = {
            "kind": entity.kind,
            "label": entity.name,
            "aliases": sorted(entity.aliases - {entity.name}),
        }
        if entity.note:
            attrs["note"] = entity.note
            note_node[entity.note] = eid
        graph.add_node(eid, **attrs)
    for note in notes:
        if note.kind == ARTICLE:
            graph.add_node(article_id(note.path), **_article_attrs(note))
            note_node[note.path] = article_id(note.path)
        elif note.path not in note_node:
            graph.add_node(topic_id(note.path), kind=TOPIC, label=note.title, note=note.path, aliases=sorted(set(note.aliases)))
            note_node[note.path] = topic_id(note.path)
    for eid, entity in sorted(resolution.entities.items()):
        for maker in sorted(entity.makers):
            graph.add_edge(eid, entity_id(ORGANIZATION, maker), key="made_by")
        if entity.family:
            graph.add_edge(eid, entity_id(entity.kind, entity.family), key="version_of")

    def link_target(link) -> str:
        path = index.resolve(link)
        if path is not None:
            return note_node[path]
        node = topic_id(link.name)
        if node not in graph:
            graph.add_node(node, kind=TOPIC, label=link.name, aliases=[])
        return node

    for note in notes:
        here = note_node[note.path]
        for link in sorted({link.target: link for link in note.links if not link.is_attachment}.values(), key=lambda l: l.target):
            there = link_target(link)
            if there == here:
                continue
            there_kind = graph.nodes[there]["kind"]
            if there_kind == ARTICLE:
                relation = "links_to"
            elif note.kind == ARTICLE:
                relation = "about"
            else:
                relation = "related"
            _bump(graph, here, there, relation)
        for parent in note.broader:
            link = parse_links(f"[[{parent}]]")
            if link:
                _bump(graph, here, link_target(link[0]), "broader")
        if note.kind == ARTICLE:
            for author in note.authors:
                graph.add_edge(here, _author_node(graph, author, dictionary), key="author")
            if note.source:
                graph.add_edge(here, _source_node(graph, note.source), key="source")

    # Mentions with evidence, then co-mentions weighted by the number of articles.
    per_article: dict[str, list[str]] = {}

    def mention_edges() -> Iterator[tuple[str, str, str, dict]]:
        for (path, eid), mentions in sorted(resolution.mentions.items()):
            if by_path[path].kind != ARTICLE:
                continue
            evidence = []
            seen = set()
            for mention in mentions:
                if not mention.sentence or mention.sentence in seen:
                    continue
                seen.add(mention.sentence)
                evidence.append({"sentence": mention.sentence, "start": mention.start, "end": mention.end})
                if len(evidence) == EVIDENCE_PER_PAIR:
                    break
            yield note_node[path], eid, "mentions", {"count": len(mentions), "evidence": evidence}
            per_article.setdefault(path, []).append(eid)

    add_edges(graph, mention_edges())
    del resolution
    add_edges(graph, ((a, b, "co_mention", {"weight": weight}) for a, b, weight in co_mentions(per_article.values())))

    # How many articles reach each node (sizes in the view, filters, ranking).
    kinds = dict(graph.nodes(data="kind"))
    reached: dict[str, set[str]] = {}
    for u, targets in graph.adjacency():
        if kinds[u] != ARTICLE:
            continue
        for v, keyed in targets.items():
            if not _REACHING.isdisjoint(keyed):
                reached.setdefault(v, set()).add(u)
    for node, data in graph.nodes(data=True):
        if data["kind"] != ARTICLE:
            data["articles"] = len(reached.get(node, ()))
    return graph


def co_mentions(groups: Iterable[list[str]]) -> Iterator[tuple[str, str, int]]:
    """(a, b, weight) for every pair a < b of entities together in at least MIN_CO_MENTIONS of the
    `groups` (the entities of each article), in sorted order.

    Each pair is one int64 (index of a times the number of entities, plus index of b), counted with
    numpy a block of pairs at a time: at 50,000 notes there are tens of millions of pairs, and a
    Counter of them costs ten times the memory and time. Groups of one length are paired together,
    as the rows of one array: a few numpy calls per length rather than per article."""
    groups = [sorted(set(group)) for group in groups]
    names = sorted({name for group in groups for name in group})
    index = {name: i for i, name in enumerate(names)}
    size = len(names)
    by_length: dict[int, array] = {}  # length -> the indices of every group of that length, one after another
    for group in groups:
        if len(group) >= 2:
            by_length.setdefault(len(group), array("q")).extend([index[name] for name in group])
    counted = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))  # (pair codes, counts), sorted by code
    block: list[np.ndarray] = []
    pending = 0
    for length in sorted(by_length):
        rows = np.frombuffer(by_length.pop(length), dtype=np.int64).reshape(-1, length)
        first, second = np.triu_indices(length, 1)
        per_block = max(1, CO_MENTION_BLOCK // len(first))
        for low in range(0, len(rows), per_block):
            part = rows[low : low + per_block]
            block.append((part[:, first] * size + part[:, second]).ravel())
            pending += block[-1].size
            if pending >= CO_MENTION_BLOCK:
                counted, block, pending = _fold(counted, block), [], 0
    codes, counts = _fold(counted, block)
    keep = counts >= MIN_CO_MENTIONS
    for code, weight in zip(codes[keep].tolist(), counts[keep].tolist()):
        a, b = divmod(code, size)
        yield names[a], names[b], weight


CO_MENTION_BLOCK = 4_000_000  # pairs counted at a time (32 MB of codes)


def _fold(counted: tuple[np.ndarray, np.ndarray], block: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """`counted` (sorted unique codes, their counts) plus one count for each code in `block`."""
    if not block:
        return counted
    codes, counts = counted
    fresh, fresh_counts = np.unique(np.concatenate(block), return_counts=True)
    merged, inverse = np.unique(np.concatenate([codes, fresh]), return_inverse=True)
    totals = np.zeros(len(merged), dtype=np.int64)
    np.add.at(totals, inverse, np.concatenate([counts, fresh_counts]))
    return merged, totals


def add_edges(graph: nx.MultiDiGraph, edges: Iterable[tuple[str, str, str, dict]]) -> None:
    """`graph.add_edges_from(edges)` for (u, v, key, data) edges, each new to the graph, without
    networkx's per-edge cost (its views and checks: about 7 of the 9 µs an edge takes, and a
    50,000-note vault has millions of edges).

    Fills the dicts networkx 3's MultiDiGraph.add_edge fills (a missing end becomes a node
    without attributes; `_succ[u][v]` and `_pred[v][u]` are one dict of keys to data dicts), and
    then clears the graph's cache as add_edge does; a test checks the result equals add_edges_from's.
    """
    succ, pred, node = graph._succ, graph._pred, graph._node
    for u, v, key, data in edges:
        for end in (u, v):
            if end not in succ:
                succ[end], pred[end], node[end] = {}, {}, {}
        keyed = succ[u].get(v)
        if keyed is None:
            keyed = succ[u][v] = pred[v][u] = {}
        elif key in keyed:
            raise ValueError(f"edge {u!r} -> {v!r} {key!r} is already in the graph")
        keyed[key] = data
    nx._clear_cache(graph)


def edge_count(graph: nx.MultiDiGraph) -> int:
    """`graph.number_of_edges()` from networkx's own dicts: that method sums a degree view, a call
    per node and per neighbour (a tenth of a second at 3,300 notes, asked for several times a build)."""
    return sum(map(len, itertools.chain.from_iterable(targets.values() for targets in graph._succ.values())))


def sorted_edges(graph: nx.MultiDiGraph, *, sources: Iterable[str] | None = None) -> Iterator[tuple[str, str, str, dict]]:
    """Every edge (or every edge of `sources`) as (source, target, key, data) in that sorted order,
    made one source at a time (no sorted copy of all the edges: at 50,000 notes there are millions)."""
    adjacency = graph._succ  # networkx's own dicts: its views cost a call per lookup
    for u in sorted(adjacency if sources is None else sources):
        targets = adjacency[u]
        for v in sorted(targets):
            keyed = targets[v]
            if len(keyed) == 1:  # most pairs have one relation: nothing to sort
                for key, data in keyed.items():
                    yield u, v, key, data
            else:
                for key in sorted(keyed):
                    yield u, v, key, keyed[key]


def edge_groups(graph: nx.MultiDiGraph) -> Iterator[tuple[str, list[tuple[str, str, dict]]]]:
    """`sorted_edges` grouped by source: (source, [(target, relation, data), ...])."""
    group: list[tuple[str, str, dict]] = []
    source = None
    for u, v, key, data in sorted_edges(graph):
        if u != source:
            if group:
                yield source, group
            source, group = u, []
        group.append((v, key, data))
    if group:
        yield source, group


_REACHING = frozenset({"mentions", "about", "author", "source"})  # the relations an article reaches a node by


def _bump(graph: nx.MultiDiGraph, u: str, v: str, relation: str) -> None:
    if graph.has_edge(u, v, key=relation):
        graph.edges[u, v, relation]["count"] += 1
    else:
        graph.add_edge(u, v, key=relation, count=1)


def _article_attrs(note: Note) -> dict:
    attrs = {
        "kind": ARTICLE,
        "label": note.title,
        "path": note.path,
        "authors": list(note.authors),
        "tags": list(note.tags),
        "aliases": list(note.aliases),
    }
    for name in ("date", "updated", "url", "source"):
        value = getattr(note, name)
        if value:
            attrs[name] = value
    return attrs


def _author_node(graph: nx.MultiDiGraph, author: str, dictionary: Dictionary) -> str:
    entry = dictionary.lookup(ORGANIZATION, author)
    kind = ORGANIZATION if entry is not None and dictionary.lookup(PERSON, author) is None else PERSON
    entry = dictionary.lookup(kind, author)
    name = entry.name if entry is not None else author
    node = entity_id(kind, name)
    if node not in graph:
        graph.add_node(node, kind=kind, label=name, aliases=[])
    return node


def source_name(source: str) -> str:
    """A source's display name: the platform name as written, or a URL's host."""
    if "://" in source:
        host = urlsplit(source).hostname or source
        return host.removeprefix("www.")
    return source


def _source_node(graph: nx.MultiDiGraph, source: str) -> str:
    name = source_name(source)
    node = f"{SOURCE}:{name}"
    if node not in graph:
        graph.add_node(node, kind=SOURCE, label=name, aliases=[])
    return node
