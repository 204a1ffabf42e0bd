"""The Turtle is accepted by three independent parsers and says what the seed says."""

from __future__ import annotations

import subprocess

import pyoxigraph
import rdflib
from conftest import need_tool

SCHEMA = "https://schema.org/"
SKOS = "http://www.w3.org/2004/02/skos/core#"


def rapper_count(path) -> int:
    rapper = need_tool("rapper")
    proc = subprocess.run([rapper, "-i", "turtle", "-c", str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Error" not in proc.stderr, proc.stderr
    return int(proc.stderr.split("returned")[1].split("triples")[0])


def oxigraph_store(path) -> pyoxigraph.Store:
    store = pyoxigraph.Store()
    store.bulk_load(path=str(path), format=pyoxigraph.RdfFormat.TURTLE)
    return store


def test_three_parsers_agree_on_the_seed(seed_out):
    ttl = seed_out / "graph.ttl"
    by_rdflib = len(rdflib.Graph().parse(ttl, format="turtle"))
    by_oxigraph = len(oxigraph_store(ttl))
    assert by_rdflib == by_oxigraph == rapper_count(ttl) > 20


def test_seed_article_triples(seed_out):
    store = oxigraph_store(seed_out / "graph.ttl")
    rows = list(store.query(f"""
        PREFIX schema: <{SCHEMA}> PREFIX skos: <{SKOS}>
        SELECT ?name ?date ?url ?author ?source WHERE {{
          ?a a schema:Article ; schema:name ?name ; schema:datePublished ?date ; schema:url ?url ;
             schema:author/schema:name ?author ; <https://w3id.org/kg-vault/vocab#source>/schema:name ?source .
        }}"""))
    assert len(rows) == 1
    name, date, url, author, source = rows[0]
    assert name.value.startswith("GPT-4o多模态生图正式上线") and name.language == "zh"
    assert date.value == "2025-03-26" and date.datatype.value.endswith("#date")
    assert url.value.startswith("https://mp.weixin.qq.com/")
    assert author.value == "数字生命卡兹克" and source.value == "微信公众号"
    topics = {row[0].value for row in store.query(f"""
        PREFIX schema: <{SCHEMA}> PREFIX skos: <{SKOS}>
        SELECT ?label WHERE {{ ?a schema:about ?t . ?t a skos:Concept ; skos:prefLabel ?label }}""")}
    assert topics == {"数字生命卡兹克", "AI", "llm"}


def test_every_article_has_exactly_one_name(corpus_out):
    store = oxigraph_store(corpus_out / "graph.ttl")
    bad = list(store.query(f"""
        PREFIX schema: <{SCHEMA}>
        SELECT ?a (COUNT(?n) AS ?c) WHERE {{ ?a a schema:Article . OPTIONAL {{ ?a schema:name ?n }} }}
        GROUP BY ?a HAVING (COUNT(?n) != 1)"""))
    assert bad == []
    rapper_count(corpus_out / "graph.ttl")


def test_subjects_come_in_iri_order_when_evidence_falls_between_mentions():
    """`…/product/GPT-4/evidence/1` sorts after `…/product/GPT-4%20mini` ('%' < '/'): the streamed
    subjects must still be in exactly the order a full sort of every triple gives."""
    import networkx as nx

    from kg.export import turtle

    graph = nx.MultiDiGraph()
    graph.add_node("article:a.md", kind="article", label="A", path="a.md")
    for name in ("GPT-4", "GPT-4 mini", "GPT-4-turbo", "GPT-4o"):
        graph.add_node(f"product:{name}", kind="product", label=name)
        evidence = [{"sentence": f"{name} 第{i}句", "start": i, "end": i + len(name)} for i in range(12)]
        graph.add_edge("article:a.md", f"product:{name}", key="mentions", count=12, evidence=evidence)
    blocks = list(turtle.subject_blocks(graph))
    subjects = [block[0][0].value for block in blocks]
    assert subjects == sorted(subjects) and len(set(subjects)) == len(subjects)
    every = sorted({t for block in blocks for t in block}, key=turtle.order)
    assert [t[0].value for t in every] == [t[0].value for block in blocks for t in block]
    assert len(every) == sum(len(block) for block in blocks)
    mention = turtle.mint_text(turtle.DEFAULT_BASE, "mention", "a.md", "product", "GPT-4")
    mini = turtle.mint_text(turtle.DEFAULT_BASE, "mention", "a.md", "product", "GPT-4 mini")
    assert subjects.index(mention) < subjects.index(mini) < subjects.index(f"{mention}/evidence/1")


def test_the_writers_terms_are_the_vocabularys_and_a_build_needs_no_rdflib(tmp_path):
    """graph.ttl's writer names its terms without rdflib (a tenth of a second to import, in every
    build); they are the IRIs rdflib's namespaces give, and a build never imports it."""
    import sys
    from pathlib import Path

    from rdflib.namespace import RDF, SKOS, XSD

    from kg.export import turtle
    from kg.model import ARTICLE, TOPIC
    from kg.vocab import KG, PREFIX_IRIS, PREFIXES, SCHEMA

    assert PREFIX_IRIS == {prefix: str(namespace) for prefix, namespace in PREFIXES.items()}
    assert list(PREFIX_IRIS) == list(PREFIXES)
    from rdflib.namespace import RDFS

    assert {prefix: PREFIX_IRIS[prefix] for prefix in ("rdf", "rdfs", "skos", "xsd")} == {"rdf": str(RDF), "rdfs": str(RDFS), "skos": str(SKOS), "xsd": str(XSD)}
    pairs = [(turtle.A, RDF.type), (turtle.XSD_DATE, XSD.date), (turtle.XSD_STRING, XSD.string), (turtle.CLASSES[ARTICLE], SCHEMA.Article),
             (turtle.CLASSES[TOPIC], SKOS.Concept), (turtle.EDGE_PROPERTIES["broader"], SKOS.broader), (turtle.M_COUNT, KG["count"]), (turtle.MENTION, KG.Mention)]
    assert all(ours.value == str(theirs) for ours, theirs in pairs)
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    script = f"import sys; from kg.build import build_vault; build_vault({str(seeds)!r}, {str(tmp_path / 'out')!r}, jobs=1); print(sorted(m for m in sys.modules if m.split('.')[0] == 'rdflib'))"
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=300)
    assert proc.stdout.strip() == "[]"
    assert (tmp_path / "out" / "graph.ttl").is_file()
