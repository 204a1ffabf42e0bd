"""Provenance on the sample corpus: every article leads to its file, every mention to sentences at the right offsets."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from kg.normalize import name_key
from kg.read import read_vault

PREFIXES = "PREFIX schema: <https://schema.org/> PREFIX kg: <https://w3id.org/kg-vault/vocab#> "


@pytest.fixture(scope="module")
def store(corpus_out) -> ox.Store:
    store = ox.Store()
    store.bulk_load(path=str(corpus_out / "graph.ttl"), format=ox.RdfFormat.TURTLE)
    return store


def test_every_article_points_to_its_file(corpus, store):
    files = {row[0].value for row in store.query(PREFIXES + "SELECT ?f WHERE { ?a a schema:Article ; kg:file ?f }")}
    articles = {path.relative_to(corpus).as_posix() for path in corpus.rglob("*.md") if path.relative_to(corpus).parts[0] == "01-博客"}
    assert files == articles


@pytest.fixture(scope="module")
def evidence(corpus, store) -> list[tuple[str, str, str, str]]:
    """(file, entity IRI, the body text at the evidence offsets, the evidence sentence) for every evidence."""
    rows = list(store.query(PREFIXES + """
        SELECT ?file ?entity ?start ?end ?sentence WHERE {
          ?m a kg:Mention ; kg:article/kg:file ?file ; kg:entity ?entity ; kg:evidence ?e .
          ?e kg:start ?start ; kg:end ?end ; kg:sentence ?sentence }"""))
    bodies = {note.path: note.body for note in read_vault(corpus)[0]}
    return [
        (file.value, entity.value, bodies[file.value][int(start.value) : int(end.value)], sentence.value)
        for file, entity, start, end, sentence in rows
    ]


def test_evidence_offsets_point_at_a_name_of_the_entity(store, evidence):
    assert len(evidence) > 1000
    names: dict[str, set[str]] = {}
    for entity, name in store.query(PREFIXES + "SELECT ?e ?n WHERE { ?m kg:entity ?e . { ?e schema:name ?n } UNION { ?e schema:alternateName ?n } }"):
        names.setdefault(entity.value, set()).add(name_key(name.value))
    for file, entity, surface, _ in evidence:
        assert surface and name_key(surface) in names[entity], (file, surface, entity)


def test_evidence_sentence_holds_the_name(evidence):
    missing = [(file, surface, sentence[:40]) for file, _, surface, sentence in evidence if surface not in sentence]
    assert missing == []


def test_each_pair_has_one_mention_whose_count_is_at_least_its_evidence(store):
    rows = list(store.query(PREFIXES + """
        SELECT ?article ?entity (COUNT(DISTINCT ?m) AS ?mentions) (MIN(?count) AS ?c) (COUNT(?e) AS ?evidence) WHERE {
          ?article schema:mentions ?entity .
          ?m kg:article ?article ; kg:entity ?entity ; kg:count ?count .
          OPTIONAL { ?m kg:evidence ?e }
        } GROUP BY ?article ?entity"""))
    total = next(iter(store.query(PREFIXES + "SELECT (COUNT(*) AS ?n) WHERE { ?a schema:mentions ?e }")))[0]
    assert len(rows) == int(total.value) > 1000
    for row in rows:
        assert int(row["mentions"].value) == 1
        evidence, count = int(row["evidence"].value), int(row["c"].value)
        assert evidence >= 1, row
        assert evidence <= count, row
