"""`kg validate`: real outputs conform to the shipped shapes; each kind of broken graph is caught and named."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
from conftest import run_kg

from kg.validate import ontology_text, shapes_text

SCHEMA = "https://schema.org/"
KG = "https://w3id.org/kg-vault/vocab#"
XSD = "http://www.w3.org/2001/XMLSchema#"


def test_seed_and_corpus_outputs_conform(seed_out, corpus_out):
    for out in (seed_out, corpus_out):
        proc = run_kg("validate", "-o", str(out))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "conforms to the shapes" in proc.stdout


def test_shipped_shapes_and_ontology_parse_and_label_every_term_in_two_languages():
    rdflib.Graph().parse(data=shapes_text(), format="turtle")
    ontology = rdflib.Graph().parse(data=ontology_text(), format="turtle")
    terms = {s for s in ontology.subjects() if str(s).startswith(KG)}
    assert len(terms) >= 14
    for term in terms:
        labels = {label.language for label in ontology.objects(term, rdflib.RDFS.label)}
        comments = {c.language for c in ontology.objects(term, rdflib.RDFS.comment)}
        assert labels == comments == {"en", "zh"}, term


def test_every_kg_term_the_output_uses_is_defined(corpus_out):
    ontology = rdflib.Graph().parse(data=ontology_text(), format="turtle")
    defined = {str(s) for s in ontology.subjects() if str(s).startswith(KG)}
    store = ox.Store()
    store.bulk_load(path=str(corpus_out / "graph.ttl"), format=ox.RdfFormat.TURTLE)
    used = {row[0].value for row in store.query("SELECT DISTINCT ?t WHERE { { ?s ?t ?o } UNION { ?s a ?t } }")}
    assert {t for t in used if t.startswith(KG)} <= defined


def broken(seed_out: Path, tmp_path: Path, update: str) -> Path:
    """A copy of the seed's graph.ttl with one SPARQL UPDATE applied, as OUT/graph.ttl."""
    store = ox.Store()
    store.bulk_load(path=str(seed_out / "graph.ttl"), format=ox.RdfFormat.TURTLE)
    store.update(f"PREFIX schema: <{SCHEMA}> PREFIX kg: <{KG}> PREFIX xsd: <{XSD}> {update}")
    out = tmp_path / "out"
    out.mkdir()
    store.dump(str(out / "graph.ttl"), format=ox.RdfFormat.TURTLE, from_graph=ox.DefaultGraph())
    return out


CASES = {
    "second name": ('INSERT { ?a schema:name "another" } WHERE { ?a a schema:Article }', "exactly one schema:name"),
    "no name": ("DELETE { ?a schema:name ?n } WHERE { ?a a schema:Article ; schema:name ?n }", "exactly one schema:name"),
    "date as text": (
        'DELETE { ?a schema:datePublished ?d } INSERT { ?a schema:datePublished "26 March" } WHERE { ?a schema:datePublished ?d }',
        "xsd:date",
    ),
    "count zero": ("DELETE { ?m kg:count ?c } INSERT { ?m kg:count 0 } WHERE { ?m kg:count ?c }", "integer >= 1"),
    "mention without its node": ("DELETE { ?m ?p ?o } WHERE { ?m a kg:Mention ; ?p ?o }", "has no kg:Mention"),
    "evidence without offsets": ("DELETE { ?e kg:start ?s } WHERE { ?e kg:start ?s }", "kg:start"),
    "start after end": ("DELETE { ?e kg:start ?s } INSERT { ?e kg:start 999999 } WHERE { ?e kg:start ?s }", "< kg:end"),
    "author is a topic": ("DELETE { ?p a schema:Person } WHERE { ?a schema:author ?p }", "schema:Person or a schema:Organization"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_broken_graph_exits_6_and_says_what(case, seed_out, tmp_path):
    update, phrase = CASES[case]
    out = broken(seed_out, tmp_path, update)
    proc = run_kg("validate", "-o", str(out))
    assert proc.returncode == 6, proc.stdout + proc.stderr
    assert "violation" in proc.stderr and phrase in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


def test_not_turtle_exits_6_and_missing_build_exits_2_with_a_hint(tmp_path):
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "graph.ttl").write_text("<a> <b> .\n", encoding="utf-8")
    proc = run_kg("validate", "-o", str(tmp_path / "bad"))
    assert proc.returncode == 6 and "not valid Turtle" in proc.stderr
    proc = run_kg("validate", "-o", str(tmp_path / "nothing"))
    assert proc.returncode == 2 and "graph.ttl" in proc.stderr and "kg build" in proc.stderr
