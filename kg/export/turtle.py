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

from collections.abc import Iterable

import networkx as nx
import pyoxigraph as ox
import rdflib
from rdflib.namespace import RDF, SKOS, XSD

from kg.model import ARTICLE, ORGANIZATION, PERSON, PRODUCT, SOURCE, TOPIC
from kg.normalize import has_cjk
from kg.vocab import DEFAULT_BASE, KG, PREFIXES, SCHEMA, clean_literal, mint

Term = ox.NamedNode | ox.Literal
Triple = tuple[ox.NamedNode, ox.NamedNode, Term]


def _n(iri: str) -> ox.NamedNode:
    return ox.NamedNode(str(iri))


A = _n(RDF.type)
XSD_DATE, XSD_INTEGER, XSD_ANYURI, XSD_STRING = _n(XSD.date), _n(XSD.integer), _n(XSD.anyURI), _n(XSD.string)

CLASSES = {
    ARTICLE: _n(SCHEMA.Article),
    TOPIC: _n(SKOS.Concept),
    PRODUCT: _n(SCHEMA.Product),
    ORGANIZATION: _n(SCHEMA.Organization),
    PERSON: _n(SCHEMA.Person),
    SOURCE: _n(KG.Source),
}

EDGE_PROPERTIES = {
    "about": _n(SCHEMA.about),
    "author": _n(SCHEMA.author),
    "source": _n(KG.source),
    "mentions": _n(SCHEMA.mentions),
    "made_by": _n(SCHEMA.manufacturer),
    "version_of": _n(KG.versionOf),
    "related": _n(SKOS.related),
    "broader": _n(SKOS.broader),
    "links_to": _n(KG.linksTo),
}

NAME, ALT_NAME, KEYWORDS = _n(SCHEMA.name), _n(SCHEMA.alternateName), _n(SCHEMA.keywords)
PUBLISHED, MODIFIED, URL = _n(SCHEMA.datePublished), _n(SCHEMA.dateModified), _n(SCHEMA.url)
CONCEPT, PREF_LABEL, ALT_LABEL = _n(SKOS.Concept), _n(SKOS.prefLabel), _n(SKOS.altLabel)
FILE, MENTION, EVIDENCE = _n(KG.file), _n(KG.Mention), _n(KG.Evidence)
M_ARTICLE, M_ENTITY, M_COUNT, M_EVIDENCE = _n(KG.article), _n(KG.entity), _n(KG["count"]), _n(KG.evidence)
SENTENCE, START, END = _n(KG.sentence), _n(KG["start"]), _n(KG["end"])


def node_iris(graph: nx.MultiDiGraph, base: str = DEFAULT_BASE) -> dict[str, ox.NamedNode]:
    """node id -> IRI: notes by vault path, entities by kind and canonical name.

    Two nodes whose keys differ only in Unicode normalisation would get the same IRI; the later
    one (in sorted order, so stable) gets a `/~2`, `/~3`... suffix instead of merging silently.
    """
    iris: dict[str, ox.NamedNode] = {}
    taken: set[str] = set()
    for node in sorted(graph.nodes):
        kind = graph.nodes[node]["kind"]
        iri = str(mint(base, kind, node.split(":", 1)[1]))
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
    """Every triple of `graph`, without duplicates, grouped by subject in sorted order.

    Within a subject, rdf:type comes first, then predicates in order; a predicate's objects keep
    the order the graph gives them (kg builds its graphs in sorted order, so that order is fixed).
    Sorting subjects rather than every triple keeps this fast on big vaults.
    """
    iri = node_iris(graph, base)
    out: list[Triple] = []
    add = out.append
    for node, data in graph.nodes(data=True):
        subject = iri[node]
        kind = data["kind"]
        label = text(data["label"])
        add((subject, A, CLASSES[kind]))
        add((subject, NAME, label))
        if kind == TOPIC or data.get("note"):
            add((subject, A, CONCEPT))
            add((subject, PREF_LABEL, label))
        alias_property = ALT_LABEL if kind == TOPIC else ALT_NAME
        for alias in data.get("aliases", []):
            add((subject, alias_property, text(alias)))
        if data.get("note"):
            add((subject, FILE, ox.Literal(clean_literal(data["note"]))))
        if kind == ARTICLE:
            add((subject, FILE, ox.Literal(clean_literal(data["path"]))))
            if data.get("date"):
                add((subject, PUBLISHED, ox.Literal(data["date"], datatype=XSD_DATE)))
            if data.get("updated"):
                add((subject, MODIFIED, ox.Literal(data["updated"], datatype=XSD_DATE)))
            if data.get("url"):
                add((subject, URL, ox.Literal(clean_literal(data["url"]), datatype=XSD_ANYURI)))
            for tag in data.get("tags", []):
                add((subject, KEYWORDS, text(tag)))
    for u, v, key, data in graph.edges(keys=True, data=True):
        prop = EDGE_PROPERTIES.get(key)
        if prop is None:
            continue
        add((iri[u], prop, iri[v]))
        if key == "mentions":
            out.extend(_mention(graph, u, v, data, base, iri))
    by_subject: dict[str, list[Triple]] = {}
    for triple in out:
        by_subject.setdefault(triple[0].value, []).append(triple)
    ordered: list[Triple] = []
    for subject in sorted(by_subject):
        ordered.extend(sorted(dict.fromkeys(by_subject[subject]), key=_predicate_order))
    return ordered


def _predicate_order(triple: Triple) -> tuple[bool, str]:
    return triple[1] != A, triple[1].value


def _mention(graph: nx.MultiDiGraph, article: str, entity: str, data: dict, base: str, iri: dict) -> Iterable[Triple]:
    """The (article, entity) pair as a kg:Mention node carrying count and evidence (no RDF-star needed).

    Its IRI is minted from the pair, `mention/<article path>/<kind>/<entity name>`, and each
    evidence sentence is `<mention IRI>/evidence/<n>`, n counting from 1 in text order.
    """
    kind = graph.nodes[entity]["kind"]
    mention = _n(mint(base, "mention", article.split(":", 1)[1], kind, entity.split(":", 1)[1]))
    yield mention, A, MENTION
    yield mention, M_ARTICLE, iri[article]
    yield mention, M_ENTITY, iri[entity]
    yield mention, M_COUNT, integer(data["count"])
    for number, evidence in enumerate(data.get("evidence", []), 1):
        node = ox.NamedNode(f"{mention.value}/evidence/{number}")
        yield mention, M_EVIDENCE, node
        yield node, A, EVIDENCE
        yield node, SENTENCE, text(evidence["sentence"])
        yield node, START, integer(evidence["start"])
        yield node, END, integer(evidence["end"])


def order(triple: Triple) -> str:
    """Sort key: subject, then rdf:type before other predicates, then predicate, then object.

    One string rather than a tuple: sorting compares it natively, twice as fast on big graphs.
    """
    s, p, o = triple
    return f"{s.value}\0{p != A:d}{p.value}\0{o}"


def to_rdf(graph: nx.MultiDiGraph, *, base: str = DEFAULT_BASE) -> rdflib.Graph:
    """The same triples as an rdflib.Graph, for callers that work with rdflib."""
    rdf = rdflib.Graph(bind_namespaces="none")
    for prefix, namespace in PREFIXES.items():
        rdf.bind(prefix, namespace)
    for s, p, o in triples(graph, base=base):
        rdf.add((rdflib.URIRef(s.value), rdflib.URIRef(p.value), _rdflib_term(o)))
    return rdf


def _rdflib_term(term: Term) -> rdflib.term.Identifier:
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if term.language:
        return rdflib.Literal(term.value, lang=term.language)
    if term.datatype == XSD_STRING:
        return rdflib.Literal(term.value)
    return rdflib.Literal(term.value, datatype=rdflib.URIRef(term.datatype.value))


def header() -> str:
    """The @prefix lines, in a fixed order."""
    return "".join(f"@prefix {prefix}: <{namespace}> .\n" for prefix, namespace in sorted(PREFIXES.items()))


def serialize(triples: Iterable[Triple]) -> str:
    """Turtle text of `triples` in the order given: a fixed @prefix header, then the triples."""
    prefixes = {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
    data = ox.serialize((ox.Triple(s, p, o) for s, p, o in triples), format=ox.RdfFormat.TURTLE, prefixes=prefixes)
    # pyoxigraph writes its own @prefix lines; ours replace them so their order never depends on it.
    lines = data.decode("utf-8").split("\n")
    first = next((i for i, line in enumerate(lines) if not line.startswith("@prefix ")), len(lines))
    return header() + "\n" + "\n".join(lines[first:]).lstrip("\n")


def render(graph: nx.MultiDiGraph, *, base: str = DEFAULT_BASE, **_: object) -> str:
    """Turtle text of `graph`, triples sorted, so the same graph always gives the same bytes."""
    return serialize(triples(graph, base=base))
