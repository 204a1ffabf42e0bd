"""graph: notes and resolved entities become one typed, weighted nx.MultiDiGraph.

Node ids are strings `<kind>:<key>`; each node has `kind` and `label`. Edges are keyed by their
relation (see RELATIONS), so two different relations between the same nodes both survive.
Every attribute is a str, int, float, bool or a list of those (exporters flatten lists), but a
mentions edge's `evidence`: a tuple of (sentence, start, end) tuples, which the outputs write as
{"sentence", "start", "end"} objects (see `evidence_of`, `written`).
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import numpy as np

from kg.dictionary import Dictionary
from kg.links import parse_links
from kg.model import ARTICLE, EVIDENCE_PER_PAIR, ORGANIZATION, PERSON, SOURCE, TOPIC, Entity, Extraction, Mention, Note, WikiLink
from kg.processes import collector_paused
from kg.read import LinkIndex
from kg.resolve import Resolution, entity_id, resolve

if TYPE_CHECKING:
    import networkx as nx

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
def build_graph(notes: list[Note], extractions: Mapping[str, Extraction], dictionary: Dictionary, *, resolution: Resolution | None = None) -> nx.MultiDiGraph:
    """The knowledge graph of a vault. Deterministic: nodes and edges are added in sorted order.

    `resolution` is `resolve(notes, extractions, dictionary)` when the caller made it already (from
    the notes' summaries, say: build_graph reads only its entities and `said`); its mentions are
    let go. `extractions` may read each note's extraction from a store as its turn comes
    (kg.cache.StoredExtractions): the graph is made one article at a time.

    Each node's out-edges are added in phases, the same for every node (kg.delta makes one node's
    edges again in the same order): an entity's makers and family, a note's links, authors and
    source (`note_edges`), an article's mentions (`mention_edges`), an entity's co-mentions.
    graph.ttl lists a predicate's objects in the order the edges were added."""
    notes = sorted(notes, key=lambda n: n.path)
    if resolution is None:
        resolution = resolve(notes, extractions, dictionary)
    import networkx as nx

    graph = nx.MultiDiGraph()
    index = LinkIndex(notes)
    note_node = note_nodes(notes, resolution)
    kinds = {note.path: note.kind for note in notes}

    for eid in sorted(resolution.entities):
        graph.add_node(eid, **entity_attrs(resolution.entities[eid]))
    for note in notes:
        if note_node[note.path] not in graph:
            graph.add_node(note_node[note.path], **note_attrs(note))
    for eid, entity in sorted(resolution.entities.items()):
        add_edges(graph, ((eid, v, key, data) for v, key, data in entity_edges(entity)))

    def target(link: WikiLink) -> tuple[str, bool]:
        path = index.resolve(link)
        if path is None:
            return topic_id(link.name), False
        return note_node[path], kinds[path] == ARTICLE

    for note in notes:
        here = note_node[note.path]
        edges = note_edges(note, here, target, dictionary)
        for v, _key, _data in edges:
            if v not in graph:
                graph.add_node(v, **default_attrs(v))
        add_edges(graph, ((here, v, key, data) for v, key, data in edges))

    # Mentions with evidence, then co-mentions weighted by the number of articles.
    per_article: dict[str, list[str]] = {}
    said = resolution.said

    def all_mention_edges() -> Iterator[tuple[str, str, str, dict]]:
        articles = [note.path for note in notes if note.kind == ARTICLE]
        for path, extraction in in_order(extractions, articles):  # one article's extraction at a time
            by_entity: dict[str, list[Mention]] = {}
            for mention in extraction.mentions:
                by_entity.setdefault(said[mention.kind, mention.key, mention.surface], []).append(mention)
            if not by_entity:
                continue
            edges = mention_edges(by_entity)
            per_article[path] = [eid for eid, _key, _data in edges]
            for eid, key, data in edges:
                yield note_node[path], eid, key, data

    add_edges(graph, all_mention_edges())
    resolution.mentions = {}
    add_edges(graph, ((a, b, "co_mention", {"weight": weight}) for a, b, weight in co_mentions(per_article.values())))

    # How many articles reach each node (sizes in the view, filters, ranking).
    reached: dict[str, int] = {}
    for u, targets in graph._succ.items():
        if u.startswith(ARTICLE_PREFIX):
            for v in reaches(targets):
                reached[v] = reached.get(v, 0) + 1
    for node, data in graph._node.items():
        if data["kind"] != ARTICLE:
            data["articles"] = reached.get(node, 0)
    return graph


ARTICLE_PREFIX = f"{ARTICLE}:"


def in_order(extractions: Mapping[str, Extraction], paths: list[str]) -> Iterator[tuple[str, Extraction]]:
    """(path, extraction) of `paths` (sorted), from the mapping or, when it reads them from a store
    one at a time in order (kg.cache.StoredExtractions), from that."""
    ordered = getattr(extractions, "in_order", None)
    if ordered is not None:
        yield from ordered(paths)
        return
    for path in paths:
        if path in extractions:
            yield path, extractions[path]


def note_nodes(notes: Iterable[Note], resolution: Resolution) -> dict[str, str]:
    """path -> the node of each note: an article's own, the entity a topic note names, or the topic's own."""
    named = {entity.note: eid for eid, entity in resolution.entities.items() if entity.note}
    return {note.path: article_id(note.path) if note.kind == ARTICLE else named.get(note.path, topic_id(note.path)) for note in notes}


def entity_attrs(entity: Entity) -> dict:
    """An entity node's attributes (but `articles`, counted once the graph has its edges)."""
    attrs = {"kind": entity.kind, "label": entity.name, "aliases": sorted(entity.aliases - {entity.name})}
    if entity.note:
        attrs["note"] = entity.note
    return attrs


def note_attrs(note: Note) -> dict:
    """The attributes of a note's own node: an article, or a topic note that names no entity."""
    if note.kind == ARTICLE:
        return _article_attrs(note)
    return {"kind": TOPIC, "label": note.title, "note": note.path, "aliases": sorted(set(note.aliases))}


def default_attrs(node: str) -> dict:
    """The attributes of a node only edges make: a topic named by a link no note answers, an
    author, a source (its kind from its id, its label the rest of it)."""
    kind, _, name = node.partition(":")
    return {"kind": kind, "label": name, "aliases": []}


def entity_edges(entity: Entity) -> list[tuple[str, str, dict]]:
    """An entity's own out-edges, (target, relation, data): its makers, then its family."""
    edges = [(entity_id(ORGANIZATION, maker), "made_by", {}) for maker in sorted(entity.makers)]
    if entity.family:
        edges.append((entity_id(entity.kind, entity.family), "version_of", {}))
    return edges


Target = Callable[[WikiLink], tuple[str, bool]]  # a link -> (its node, whether that is an article)


def broader_links(note: Note) -> list[WikiLink]:
    """The links a note's frontmatter `broader`/`parent` values make (each read as a wiki-link)."""
    return [links[0] for parent in note.broader if (links := parse_links(f"[[{parent}]]"))]


def note_edges(note: Note, here: str, target: Target, dictionary: Dictionary) -> list[tuple[str, str, dict]]:
    """The out-edges a note gives its node `here`, (target, relation, data) in the order they are
    added: its links (by target, one each; `count` the links that land on the same node),
    broader topics, then an article's authors and source. Targets may be nodes no note makes
    (see `default_attrs`)."""
    counted: dict[tuple[str, str], dict] = {}

    def bump(there: str, relation: str) -> None:
        data = counted.setdefault((there, relation), {"count": 0})
        data["count"] += 1

    for link in sorted({link.target: link for link in note.links if not link.is_attachment}.values(), key=lambda l: l.target):
        there, is_article = target(link)
        if there == here:
            continue
        bump(there, "links_to" if is_article else ("about" if note.kind == ARTICLE else "related"))
    for link in broader_links(note):
        bump(target(link)[0], "broader")
    if note.kind == ARTICLE:
        for author in note.authors:
            counted.setdefault((author_node(author, dictionary), "author"), {})
        if note.source:
            counted.setdefault((f"{SOURCE}:{source_name(note.source)}", "source"), {})
    return [(there, relation, data) for (there, relation), data in counted.items()]


def mention_edges(by_entity: dict[str, list[Mention]]) -> list[tuple[str, str, dict]]:
    """An article's mentions edges, (entity, "mentions", data) by entity: `count` its mentions
    and `evidence` the first EVIDENCE_PER_PAIR different sentences, each (sentence, start, end):
    a tuple, not a dict (at 50,000 notes two million of them, a third of a GiB as dicts). The
    outputs write each as {"sentence", "start", "end"} (see `evidence_of`)."""
    edges = []
    for eid in sorted(by_entity):
        mentions = by_entity[eid]
        evidence = []
        seen = set()
        for mention in mentions:
            if not mention.sentence or mention.sentence in seen:
                continue
            seen.add(mention.sentence)
            evidence.append((mention.sentence, mention.start, mention.end))
            if len(evidence) == EVIDENCE_PER_PAIR:
                break
        edges.append((eid, "mentions", {"count": len(mentions), "evidence": tuple(evidence)}))
    return edges


def evidence_of(data: dict) -> Iterator[tuple[str, int, int]]:
    """(sentence, start, end) of each evidence of a mentions edge's `data`: tuples as kg makes
    them, or {"sentence", "start", "end"} dicts (as graph.json has them, or a graph made by hand)."""
    for item in data.get("evidence", ()):
        yield (item["sentence"], item["start"], item["end"]) if isinstance(item, dict) else item


def written(data: dict) -> dict:
    """An edge's `data` as the outputs write it: each evidence as {"sentence", "start", "end"}."""
    if "evidence" not in data:
        return data
    return {**data, "evidence": [{"sentence": sentence, "start": start, "end": end} for sentence, start, end in evidence_of(data)]}


def reaches(targets: dict[str, dict]) -> Iterator[str]:
    """The nodes an article's out-edges (`graph._succ[article]`) reach it by (see `articles`)."""
    return (v for v, keyed in targets.items() if not _REACHING.isdisjoint(keyed))


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
    import networkx as nx

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


def author_node(author: str, dictionary: Dictionary) -> str:
    """The node of a frontmatter author: an organization the dictionary knows only as one, else a person."""
    entry = dictionary.lookup(ORGANIZATION, author)
    kind = ORGANIZATION if entry is not None and dictionary.lookup(PERSON, author) is None else PERSON
    entry = dictionary.lookup(kind, author)
    return entity_id(kind, entry.name if entry is not None else author)


def source_name(source: str) -> str:
    """A source's display name: the platform name as written, or a URL's host."""
    if "://" in source:
        host = urlsplit(source).hostname or source
        return host.removeprefix("www.")
    return source
