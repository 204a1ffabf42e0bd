"""RDF Turtle: `to_rdf(graph)` builds an rdflib.Graph (no blank nodes); `render` serialises it.

Vocabulary (see docs/vocabulary.md and kg/data/ontology.ttl):
  article   schema:Article   schema:name, schema:datePublished, schema:dateModified, schema:url,
                             schema:author, schema:about, schema:mentions, kg:source, kg:file
  topic     skos:Concept     skos:prefLabel, schema:name, skos:altLabel, skos:related, skos:broader
  product   schema:Product   schema:name, schema:alternateName, schema:manufacturer, kg:versionOf
  org       schema:Organization, person schema:Person, source kg:Source (schema:name)
  mention   kg:Mention       kg:article, kg:entity, kg:count, kg:evidence -> kg:Evidence
                             (kg:sentence, kg:start, kg:end)
"""

from __future__ import annotations

import networkx as nx
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import RDF, SKOS, XSD

from kg.model import ARTICLE, ORGANIZATION, PERSON, PRODUCT, SOURCE, TOPIC
from kg.normalize import has_cjk
from kg.vocab import DEFAULT_BASE, KG, PREFIXES, SCHEMA, mint

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


def node_iri(graph: nx.MultiDiGraph, node: str, base: str = DEFAULT_BASE) -> URIRef:
    """The IRI of a graph node: notes by vault path, entities by kind and canonical name."""
    data = graph.nodes[node]
    kind = data["kind"]
    key = node.split(":", 1)[1]
    return mint(base, kind, key)


def text(value: str) -> Literal:
    """A name or sentence as a literal, tagged @zh when it contains Chinese."""
    clean = value.encode("utf-8", "replace").decode("utf-8")
    return Literal(clean, lang="zh") if has_cjk(clean) else Literal(clean)


def to_rdf(graph: nx.MultiDiGraph, *, base: str = DEFAULT_BASE) -> Graph:
    rdf = Graph(bind_namespaces="none")
    for prefix, namespace in PREFIXES.items():
        rdf.bind(prefix, namespace)
    iri = {node: node_iri(graph, node, base) for node in graph.nodes}
    for node, data in graph.nodes(data=True):
        subject = iri[node]
        kind = data["kind"]
        rdf.add((subject, RDF.type, CLASSES[kind]))
        rdf.add((subject, SCHEMA.name, text(data["label"])))
        if kind == TOPIC or data.get("note"):
            rdf.add((subject, RDF.type, SKOS.Concept))
            rdf.add((subject, SKOS.prefLabel, text(data["label"])))
        alias_property = SKOS.altLabel if kind == TOPIC else SCHEMA.alternateName
        for alias in data.get("aliases", []):
            rdf.add((subject, alias_property, text(alias)))
        if data.get("note"):
            rdf.add((subject, KG.file, Literal(data["note"])))
        if kind == ARTICLE:
            rdf.add((subject, KG.file, Literal(data["path"])))
            if data.get("date"):
                rdf.add((subject, SCHEMA.datePublished, Literal(data["date"], datatype=XSD.date)))
            if data.get("updated"):
                rdf.add((subject, SCHEMA.dateModified, Literal(data["updated"], datatype=XSD.date)))
            if data.get("url"):
                rdf.add((subject, SCHEMA.url, Literal(data["url"], datatype=XSD.anyURI)))
            for tag in data.get("tags", []):
                rdf.add((subject, SCHEMA.keywords, text(tag)))
    for u, v, key, data in graph.edges(keys=True, data=True):
        prop = EDGE_PROPERTIES.get(key)
        if prop is None:
            continue
        rdf.add((iri[u], prop, iri[v]))
        if key == "mentions":
            _add_mention(rdf, graph, u, v, data, base, iri)
    return rdf


def _add_mention(rdf: Graph, graph: nx.MultiDiGraph, article: str, entity: str, data: dict, base: str, iri: dict) -> None:
    """The (article, entity) pair as a kg:Mention node carrying count and evidence (no RDF-star needed)."""
    kind = graph.nodes[entity]["kind"]
    mention = mint(base, "mention", article.split(":", 1)[1], kind, entity.split(":", 1)[1])
    rdf.add((mention, RDF.type, KG.Mention))
    rdf.add((mention, KG.article, iri[article]))
    rdf.add((mention, KG.entity, iri[entity]))
    rdf.add((mention, KG.count, Literal(data["count"], datatype=XSD.integer)))
    for number, evidence in enumerate(data.get("evidence", []), 1):
        node = URIRef(f"{mention}/evidence/{number}")
        rdf.add((mention, KG.evidence, node))
        rdf.add((node, RDF.type, KG.Evidence))
        rdf.add((node, KG.sentence, text(evidence["sentence"])))
        rdf.add((node, KG.start, Literal(evidence["start"], datatype=XSD.integer)))
        rdf.add((node, KG.end, Literal(evidence["end"], datatype=XSD.integer)))


def render(graph: nx.MultiDiGraph, *, base: str = DEFAULT_BASE, **_: object) -> str:
    return to_rdf(graph, base=base).serialize(format="turtle")
