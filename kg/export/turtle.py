"""RDF Turtle: `triples(graph)` is the pure builder, `render` writes them sorted, `to_rdf` gives rdflib.

Vocabulary (see docs/vocabulary.md and kg/data/ontology.ttl):
  article   schema:Article   schema:name, schema:datePublished, schema:dateModified, schema:url,
                             schema:author, schema:about, schema:mentions, kg:source, kg:file
  topic     skos:Concept     skos:prefLabel, schema:name, skos:altLabel, skos:related, skos:broader
  product   schema:Product   schema:name, schema:alternateName, schema:manufacturer, kg:versionOf
  org       schema:Organization, person schema:Person, source kg:Source (schema:name)
  mention   kg:Mention       kg:article, kg:entity, kg:count, kg:evidence -> kg:Evidence
                             (kg:sentence, kg:start, kg:end)

The triples are pyoxigraph terms: its Turtle writer is fast (rdflib needs ~40 s per million
triples) and checks every IRI. Output is sorted by subject, then predicate (rdf:type first),
objects in the graph's own (sorted) order, with no blank nodes, so the same vault always gives
the same bytes.
"""

from __future__ import annotations

import heapq
import io
import itertools
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import pyoxigraph as ox

from kg.fragments import OutputPieces
from kg.graph import evidence_of
from kg.model import ARTICLE, ORGANIZATION, PERSON, PRODUCT, SOURCE, TOPIC
from kg.normalize import has_cjk
from kg.vocab import DEFAULT_BASE, KG_IRI, PREFIX_IRIS, RDF_IRI, SCHEMA_IRI, SKOS_IRI, XSD_IRI, clean_literal, encode_segment, mint_text

if TYPE_CHECKING:
    import networkx as nx

    import rdflib

    from kg.delta import Changes

Term = ox.NamedNode | ox.Literal
Triple = ox.Triple  # unpacks and indexes like a (subject, predicate, object) tuple
T = ox.Triple


class _Namespace:
    """`NS.name` and `NS["name"]`: the pyoxigraph IRI of a term under a namespace (what rdflib's
    Namespace gives, without importing rdflib: a build that writes graph.ttl never needs it)."""

    def __init__(self, iri: str) -> None:
        self.iri = iri

    def __getattr__(self, name: str) -> ox.NamedNode:
        return ox.NamedNode(self.iri + name)

    __getitem__ = __getattr__


SCHEMA, KG, SKOS, XSD, RDF = (_Namespace(iri) for iri in (SCHEMA_IRI, KG_IRI, SKOS_IRI, XSD_IRI, RDF_IRI))

A = RDF.type
XSD_DATE, XSD_INTEGER, XSD_ANYURI, XSD_STRING = XSD.date, XSD.integer, XSD.anyURI, XSD.string

CLASSES = {
    ARTICLE: SCHEMA.Article,
    TOPIC: SKOS.Concept,
    PRODUCT: SCHEMA.Product,
    ORGANIZATION: SCHEMA.Organization,
    PERSON: SCHEMA.Person,
    SOURCE: KG.Source,
}

EDGE_PROPERTIES = {
    "about": SCHEMA.about,
    "author": SCHEMA.author,
    "source": KG.source,
    "mentions": SCHEMA.mentions,
    "made_by": SCHEMA.manufacturer,
    "version_of": KG.versionOf,
    "related": SKOS.related,
    "broader": SKOS.broader,
    "links_to": KG.linksTo,
}

NAME, ALT_NAME, KEYWORDS = SCHEMA.name, SCHEMA.alternateName, SCHEMA.keywords
PUBLISHED, MODIFIED, URL = SCHEMA.datePublished, SCHEMA.dateModified, SCHEMA.url
CONCEPT, PREF_LABEL, ALT_LABEL = SKOS.Concept, SKOS.prefLabel, SKOS.altLabel
FILE, MENTION, EVIDENCE = KG.file, KG.Mention, KG.Evidence
M_ARTICLE, M_ENTITY, M_COUNT, M_EVIDENCE = KG.article, KG.entity, KG["count"], KG.evidence
SENTENCE, START, END = KG.sentence, KG["start"], KG["end"]


def node_iris(graph: nx.MultiDiGraph, base: str = DEFAULT_BASE) -> dict[str, ox.NamedNode]:
    """node id -> IRI: notes by vault path, entities by kind and canonical name.

    Two nodes whose keys differ only in Unicode normalisation would get the same IRI; the later
    one (in sorted order, so stable) gets a `/~2`, `/~3`... suffix instead of merging silently.
    """
    iris: dict[str, ox.NamedNode] = {}
    taken: set[str] = set()
    for node in sorted(graph.nodes):
        kind = graph.nodes[node]["kind"]
        iri = mint_text(base, kind, node.split(":", 1)[1])
        candidate, number = iri, 1
        while candidate in taken:
            number += 1
            candidate = f"{iri}/~{number}"
        taken.add(candidate)
        iris[node] = ox.NamedNode(candidate)
    return iris


def text(value: str) -> ox.Literal:
    """A name or sentence as a literal, tagged @zh when it contains Chinese."""
    clean = clean_literal(value)
    return ox.Literal(clean, language="zh") if has_cjk(clean) else ox.Literal(clean)


def integer(value: int) -> ox.Literal:
    return ox.Literal(str(int(value)), datatype=XSD_INTEGER)


def triples(graph: nx.MultiDiGraph, *, base: str = DEFAULT_BASE) -> list[Triple]:
    """Every triple of `graph`, without duplicates, grouped by subject in sorted order (a list of
    `iter_triples`)."""
    return list(iter_triples(graph, base=base))


def iter_triples(graph: nx.MultiDiGraph, *, base: str = DEFAULT_BASE) -> Iterator[Triple]:
    """Every triple of `graph`, without duplicates, grouped by subject in sorted order, made one
    subject at a time (see `subject_blocks`)."""
    for block in subject_blocks(graph, base=base):
        yield from block


def subject_blocks(graph: nx.MultiDiGraph, *, base: str = DEFAULT_BASE) -> Iterator[list[Triple]]:
    """The triples of `graph`, one list per subject, subjects in sorted order, no duplicates.

    Within a subject, rdf:type comes first, then predicates in order; a predicate's objects keep
    the order the graph gives them (kg builds its graphs in sorted order, so that order is fixed).
    Only the subjects' IRIs are sorted up front, never the triples themselves, so memory stays
    at the size of the graph however many triples it gives (a 50,000-note vault gives millions).
    """
    iri = node_iris(graph, base)
    for what, _key, recipes in _pieces(graph, iri, base):
        if what == "node":
            yield _block(graph, iri, recipes)
        else:
            for _subject, subject_recipes in _run_subjects(recipes):
                yield _block(graph, iri, subject_recipes)


def _block(graph: nx.MultiDiGraph, iri: dict[str, ox.NamedNode], recipes: list[_Recipe]) -> list[Triple]:
    """The triples of one subject made by `recipes` (several when two things share an IRI)."""
    if len(recipes) == 1 and recipes[0][0] != "node":
        return _made(graph, iri, recipes[0])  # made in predicate order already, nothing repeated
    made: list[Triple] = []
    for recipe in recipes:
        made.extend(_made(graph, iri, recipe))
    return sorted(dict.fromkeys(made), key=_predicate_order)


# What to make for one subject: ("node", node), ("mention", article, entity, mention IRI, edge data)
# or ("evidence", evidence IRI, evidence dict).
_Recipe = tuple


def _pieces(graph: nx.MultiDiGraph, iri: dict[str, ox.NamedNode], base: str) -> Iterator[tuple[str, str, list[_Recipe]]]:
    """The file's pieces in order: ("node", IRI, recipes) for each node's subject, and ("run",
    prefix, mention recipes) for each article's mentions with their evidence.

    Every subject an article's mentions make starts with `<base>mention/<article path>/`, and the
    strings sharing a prefix are contiguous in sorted order, so each article's run sits whole at
    the place of its prefix among the other subjects (which never start with it). A run is the
    unit `stream` keeps between builds.

    A subject minted twice (two mentions whose entity names differ only in Unicode normalisation)
    gets both recipes, in the order the graph has them.
    """
    nodes: dict[str, list[_Recipe]] = {}
    for node in graph.nodes:
        nodes.setdefault(iri[node].value, []).append(("node", node))
    runs: dict[str, list[str]] = {}  # run prefix -> its articles (one, but for names equal once normalised)
    for u, targets in graph.adjacency():  # networkx's own dicts, in the order graph.edges() gives
        if any("mentions" in keyed for keyed in targets.values()):
            runs.setdefault(_run_prefix(base, u), []).append(u)
    tails: dict[str, str] = {}  # entity -> the end of its mention IRIs, `<kind>/<name>`
    for key in sorted([*nodes, *runs]):
        if key in nodes:
            yield "node", key, nodes.pop(key)
        else:  # made when its turn comes: all runs at once were most of the memory this writer took (a million mentions, each with its IRI, at 50,000 notes)
            yield "run", key, _run_recipes(graph, key, runs.pop(key), tails)


def _run_prefix(base: str, article: str) -> str:
    """What the IRI of every subject of an article's run starts with."""
    return mint_text(base, "mention", article.split(":", 1)[1]) + "/"


def _run_recipes(graph: nx.MultiDiGraph, prefix: str, articles: list[str], tails: dict[str, str]) -> list[_Recipe]:
    """The recipes of the run `prefix` of `articles`: a mention per (article, entity);
    `tails` keeps each entity's `<kind>/<name>` between calls."""
    recipes = []
    for u in articles:
        for v, keyed in graph._succ[u].items():
            if "mentions" not in keyed:
                continue
            tail = tails.get(v)
            if tail is None:
                tail = tails[v] = "/".join(encode_segment(k) for k in (graph.nodes[v]["kind"], v.split(":", 1)[1]))
            # = mint_text(base, "mention", article, kind, name)
            recipes.append(("mention", u, v, prefix + tail, keyed["mentions"]))
    return recipes


def _run_subjects(recipes: list[_Recipe]) -> Iterator[tuple[str, list[_Recipe]]]:
    """(subject IRI, its recipes) of one run in IRI order: its mentions, and each mention's evidence.

    Evidence is made when its mention comes up: `<mention>/evidence/<n>` sorts after its mention,
    so it waits in a heap until the next mention passes it (another mention's IRI can fall in
    between, `…/GPT-4%20mini` before `…/GPT-4/evidence/1`).
    """
    by_subject: dict[str, list[_Recipe]] = {}
    for recipe in recipes:
        by_subject.setdefault(recipe[3], []).append(recipe)
    waiting: list[tuple[str, int, _Recipe]] = []  # (evidence IRI, arrival, recipe): a heap
    arrivals = itertools.count()
    for subject in sorted(by_subject):
        while waiting and waiting[0][0] < subject:
            yield _next_waiting(waiting)
        subject_recipes = by_subject.pop(subject)
        yield subject, subject_recipes
        for recipe in subject_recipes:
            for number, evidence in enumerate(evidence_of(recipe[4]), 1):
                evidence_iri = f"{recipe[3]}/evidence/{number}"
                heapq.heappush(waiting, (evidence_iri, next(arrivals), ("evidence", evidence_iri, evidence)))
    while waiting:
        yield _next_waiting(waiting)


def _run_text(graph: nx.MultiDiGraph, iri: dict[str, ox.NamedNode], recipes: list[_Recipe]) -> str:
    """The Turtle of one article's run (see `_pieces`)."""
    return _turtle([t for _subject, subject_recipes in _run_subjects(recipes) for t in _block(graph, iri, subject_recipes)])


def _next_waiting(waiting: list) -> tuple[str, list[_Recipe]]:
    """The first waiting evidence subject with all its recipes (several when two mentions share an IRI)."""
    subject, _, recipe = heapq.heappop(waiting)
    recipes = [recipe]
    while waiting and waiting[0][0] == subject:
        recipes.append(heapq.heappop(waiting)[2])
    return subject, recipes


def _made(graph: nx.MultiDiGraph, iri: dict[str, ox.NamedNode], recipe: _Recipe) -> list[Triple]:
    what = recipe[0]
    if what == "node":
        return _node(graph, iri, recipe[1])
    if what == "mention":
        return _mention(recipe[1], recipe[2], recipe[3], recipe[4], iri)
    return _evidence(recipe[1], recipe[2])


def _node(graph: nx.MultiDiGraph, iri: dict[str, ox.NamedNode], node: str) -> list[Triple]:
    data = graph.nodes[node]
    subject = iri[node]
    kind = data["kind"]
    label = text(data["label"])
    out: list[Triple] = [T(subject, A, CLASSES[kind]), T(subject, NAME, label)]
    add = out.append
    if kind == TOPIC or data.get("note"):
        add(T(subject, A, CONCEPT))
        add(T(subject, PREF_LABEL, label))
    alias_property = ALT_LABEL if kind == TOPIC else ALT_NAME
    for alias in data.get("aliases", []):
        add(T(subject, alias_property, text(alias)))
    if data.get("note"):
        add(T(subject, FILE, ox.Literal(clean_literal(data["note"]))))
    if kind == ARTICLE:
        add(T(subject, FILE, ox.Literal(clean_literal(data["path"]))))
        if data.get("date"):
            add(T(subject, PUBLISHED, ox.Literal(data["date"], datatype=XSD_DATE)))
        if data.get("updated"):
            add(T(subject, MODIFIED, ox.Literal(data["updated"], datatype=XSD_DATE)))
        if data.get("url"):
            add(T(subject, URL, ox.Literal(clean_literal(data["url"]), datatype=XSD_ANYURI)))
        for tag in data.get("tags", []):
            add(T(subject, KEYWORDS, text(tag)))
    for v, keyed in graph._succ[node].items():  # = out_edges(node, keys=True), without a view's call per edge
        for key in keyed:
            prop = EDGE_PROPERTIES.get(key)
            if prop is not None:
                add(T(subject, prop, iri[v]))
    return out


def _predicate_order(triple: Triple) -> tuple[bool, str]:
    return triple[1] != A, triple[1].value


def _mention(article: str, entity: str, mention_iri: str, data: dict, iri: dict) -> list[Triple]:
    """The (article, entity) pair as a kg:Mention node carrying count and evidence (no RDF-star needed).

    Its IRI is minted from the pair, `mention/<article path>/<kind>/<entity name>`, and each
    evidence sentence is `<mention IRI>/evidence/<n>`, n counting from 1 in text order. The
    triples come in `_predicate_order` (kg:article < kg:count < kg:entity < kg:evidence).
    """
    mention = ox.NamedNode(mention_iri)
    out: list[Triple] = [T(mention, A, MENTION), T(mention, M_ARTICLE, iri[article]), T(mention, M_COUNT, integer(data["count"])), T(mention, M_ENTITY, iri[entity])]
    for number in range(1, len(data.get("evidence", ())) + 1):
        out.append(T(mention, M_EVIDENCE, ox.NamedNode(f"{mention_iri}/evidence/{number}")))
    return out


def _evidence(subject: str, evidence: tuple[str, int, int]) -> list[Triple]:
    """One evidence (sentence, start, end), in `_predicate_order` (kg:end < kg:sentence < kg:start)."""
    node = ox.NamedNode(subject)
    sentence, start, end = evidence
    return [T(node, A, EVIDENCE), T(node, END, integer(end)), T(node, SENTENCE, text(sentence)), T(node, START, integer(start))]


def order(triple: Triple) -> str:
    """Sort key: subject, then rdf:type before other predicates, then predicate, then object.

    One string rather than a tuple: sorting compares it natively, twice as fast on big graphs.
    """
    s, p, o = triple
    return f"{s.value}\0{p != A:d}{p.value}\0{o}"


def to_rdf(graph: nx.MultiDiGraph, *, base: str = DEFAULT_BASE) -> rdflib.Graph:
    """The same triples as an rdflib.Graph, for callers that work with rdflib."""
    import rdflib

    rdf = rdflib.Graph(bind_namespaces="none")
    for prefix, namespace in PREFIX_IRIS.items():
        rdf.bind(prefix, namespace)
    for s, p, o in triples(graph, base=base):
        rdf.add((rdflib.URIRef(s.value), rdflib.URIRef(p.value), _rdflib_term(o)))
    return rdf


def _rdflib_term(term: Term) -> rdflib.term.Identifier:
    import rdflib

    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    if term.datatype == XSD_STRING:
        return rdflib.Literal(term.value)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))


def header() -> str:
    """The @prefix lines, in a fixed order."""
    return "".join(f"@prefix {prefix}: <{namespace}> .\n" for prefix, namespace in sorted(PREFIX_IRIS.items()))


def serialize(triples: Iterable[Triple]) -> str:
    """Turtle text of `triples` in the order given: a fixed @prefix header, then the triples."""
    buffer = io.StringIO()
    write(triples, buffer)
    return buffer.getvalue()


# Triples per call of pyoxigraph's writer: big enough to amortise the call, small enough to stream.
BATCH = 50_000


def write(triples: Iterable[Triple], handle: TextIO) -> None:
    """Write `triples` as Turtle to `handle`, in the order given (see `write_blocks`)."""
    write_blocks((list(block) for _subject, block in itertools.groupby(triples, key=lambda t: t[0])), handle)


def write_blocks(blocks: Iterable[list[Triple]], handle: TextIO) -> None:
    """Write triples given as one list per subject (as `subject_blocks` gives them) as Turtle to
    `handle`, a batch at a time.

    A batch always ends with a whole subject, so the batches' texts joined are exactly what one call
    over all triples writes: each subject's block (`s p o ; p o .`) is written by one call.
    """
    handle.write(header() + "\n")
    batch: list[Triple] = []
    for block in blocks:
        batch += block
        if len(batch) >= BATCH:
            handle.write(_turtle(batch))
            batch = []
    if batch:
        handle.write(_turtle(batch))


def _turtle(batch: list[Triple]) -> str:
    """pyoxigraph's Turtle for `batch`, without its @prefix lines (ours come first, in a fixed order)."""
    data = ox.serialize(batch, format=ox.RdfFormat.TURTLE, prefixes=PREFIX_IRIS).decode("utf-8")
    at = 0
    while data.startswith("@prefix ", at):
        at = data.index("\n", at) + 1
    return data[at:].lstrip("\n")


def render(graph: nx.MultiDiGraph, *, base: str = DEFAULT_BASE, **_: object) -> str:
    """Turtle text of `graph`, triples sorted, so the same graph always gives the same bytes."""
    buffer = io.StringIO()
    stream(graph, buffer, base=base)
    return buffer.getvalue()


def stream(graph: nx.MultiDiGraph, handle: TextIO, *, base: str = DEFAULT_BASE, fragments: Path | None = None, published: Path | None = None, **_: object) -> None:
    """`render`, written to `handle` a piece at a time instead of returned whole.

    The file is one section of pieces (see kg.fragments.OutputPieces): each node's subject, and
    each article's run of mentions and evidence, in sorted order. With `fragments` (a cache folder)
    and `published` (the folder the last build's graph.ttl was published to), each piece is known
    by a digest of everything it is made of (kg's code, the base, the IRIs and data of its node and
    relations, or of its mentions), and copied from the published file while that digest stays the
    same: after a one-note edit, nearly all of the file. The bytes are the same either way
    (pyoxigraph's Turtle of triples cut at a subject is the texts of the parts joined).
    """
    iri = node_iris(graph, base)
    with OutputPieces(fragments, "graph.ttl", handle, published=published, salt=base).open() as store:
        store.text(header() + "\n")
        with store.section(SUBJECTS):
            for what, key, recipes in _pieces(graph, iri, base):
                store.piece(key, *_subject_piece(graph, iri, what, key, recipes))


def patch(changes: Changes, handle: TextIO, *, base: str = DEFAULT_BASE, fragments: Path | None = None, published: Path | None = None, **_: object) -> None:
    """graph.ttl as published, with the pieces of `changes` made again (see kg.delta): the
    subjects of the nodes it names and the runs of its articles; those of removed ones dropped."""
    graph = changes.graph
    iri = {node: ox.NamedNode(value) for node, value in changes.iris.items()}
    pieces: dict[str, tuple | None] = {}
    for node in changes.removed:
        pieces[changes.iris[node]] = None
        if node in changes.articles:
            pieces[_run_prefix(base, node)] = None
    for node in changes.nodes:
        key = iri[node].value
        pieces[key] = _subject_piece(graph, iri, "node", key, [("node", node)])
        if node in changes.articles:
            prefix = _run_prefix(base, node)
            recipes = _run_recipes(graph, prefix, [node], {})
            pieces[prefix] = _subject_piece(graph, iri, "run", prefix, recipes) if recipes else None
    with OutputPieces(fragments, "graph.ttl", handle, published=published, salt=base).open() as store:
        store.text(header() + "\n")
        store.patch(SUBJECTS, pieces)


SUBJECTS = "subjects"  # the one section of graph.ttl's pieces


def _subject_piece(graph: nx.MultiDiGraph, iri: dict[str, ox.NamedNode], what: str, key: str, recipes: list[_Recipe]) -> tuple:
    """(parts, make) of one piece of graph.ttl: a node's subject, or an article's run."""
    if what == "node":
        return (lambda: ("node", [_node_parts(graph, iri, recipe[1]) for recipe in recipes]), lambda: _turtle(_block(graph, iri, recipes)))
    return (lambda: (key, [(iri[r[1]].value, iri[r[2]].value, r[3], r[4]) for r in recipes]), lambda: _run_text(graph, iri, recipes))


def _node_parts(graph: nx.MultiDiGraph, iri: dict[str, ox.NamedNode], node: str) -> tuple:
    """Everything `_node` makes a node's triples of: its IRI, its data, its relations' targets."""
    related = [(key, iri[v].value) for v, keyed in graph._succ[node].items() for key in keyed if key in EDGE_PROPERTIES]
    return iri[node].value, graph.nodes[node], related
