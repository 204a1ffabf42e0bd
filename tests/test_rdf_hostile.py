"""A generated vault of hostile names, titles, links and entities: the Turtle stays valid, conforms, and keeps provenance."""

from __future__ import annotations

import subprocess
import unicodedata
from pathlib import Path

import networkx as nx
import pyoxigraph
import pytest
import rdflib
from conftest import need_tool, run_kg
from hostile import make_hostile_vault

from kg.export.turtle import render
from kg.read import read_vault
from kg.vocab import DEFAULT_BASE

# Entity names no IRI or literal may break on (written for these tests).
ENTITIES = ['Weird<>"Name', "测试模型😀", "Back\\slash{x}|^`", "Dots..50%"]

TITLES = {
    "articles/引号.md": 'He said "hi" <b>bold</b> & left',
    "articles/多行.md": "第一行\n第二行\t制表",
    "articles/emoji 😀 #1.md": "表情 😀🚀 ../../etc/passwd",
    "articles/control.md": "bell\x07 esc\x1b nul\x00 end",
}


def write_vault(root: Path) -> None:
    """Articles whose titles, file names, links and entity names are hostile; a dictionary of hostile entities."""
    body = "\n\n".join(f"今天我们测试了 {name} 这个产品，效果不错。" for name in ENTITIES)
    links = "[[../../etc/passwd]] [[a \"quoted\" <topic>]] [[emoji 😀 topic]] [[..]] [[.]] [[%2F]]"
    for number, (rel, title) in enumerate(sorted(TITLES.items())):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        escaped = title.encode("unicode_escape").decode("ascii").replace('"', '\\"')
        path.write_text(
            f'---\ntitle: "{escaped}"\ndate: 2024-05-0{number + 1}\nauthor: 数字生命卡兹克\n来源: 微信公众号\n---\n{body}\n\n{links}\n',
            encoding="utf-8",
        )
    lines = [f"- name: '{name.replace(chr(39), chr(39) * 2)}'" for name in ENTITIES]
    (root.parent / "products.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("rdf-hostile") / "vault"
    write_vault(root)
    out = root.parent / "out"
    run_kg("build", str(root), "-o", str(out), "-q", "--dictionary", str(root.parent / "products.yaml"), check=True)
    return root, out


def store_of(path: Path) -> pyoxigraph.Store:
    store = pyoxigraph.Store()
    store.bulk_load(path=str(path), format=pyoxigraph.RdfFormat.TURTLE)
    return store


def rapper_ntriples(path: Path) -> list[str]:
    proc = subprocess.run([need_tool("rapper"), "-q", "-i", "turtle", "-o", "ntriples", str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_three_parsers_agree_and_there_are_no_blank_nodes(built):
    _, out = built
    ttl = out / "graph.ttl"
    lines = rapper_ntriples(ttl)
    assert len(rdflib.Graph().parse(ttl, format="turtle")) == len(store_of(ttl)) == len(lines) > 50
    assert not any(line.startswith("_:") or " _:" in line for line in lines)


def test_no_machine_path_and_every_resource_under_the_base(built):
    root, out = built
    text = (out / "graph.ttl").read_text(encoding="utf-8")
    assert str(root) not in text and "file:" not in text
    store = store_of(out / "graph.ttl")
    subjects = {q.subject.value for q in store}
    assert subjects and all(s.startswith(DEFAULT_BASE) for s in subjects)


def test_titles_come_back_exactly_with_language_and_dates_typed(built):
    _, out = built
    store = store_of(out / "graph.ttl")
    rows = store.query("""
        PREFIX schema: <https://schema.org/> PREFIX kg: <https://w3id.org/kg-vault/vocab#>
        SELECT ?file ?name ?date WHERE { ?a a schema:Article ; kg:file ?file ; schema:name ?name ; schema:datePublished ?date }""")
    got = {row["file"].value: (row["name"], row["date"]) for row in rows}
    assert set(got) == set(TITLES)
    for rel, title in TITLES.items():
        name, date = got[rel]
        assert name.value == title.replace("\x00", "\ufffd"), rel
        assert name.language == ("zh" if any("\u4e00" <= c <= "\u9fff" for c in title) else None), rel
        assert date.datatype.value == "http://www.w3.org/2001/XMLSchema#date"


def test_hostile_entities_keep_their_names_and_evidence(built):
    root, out = built
    store = store_of(out / "graph.ttl")
    rows = list(store.query("""
        PREFIX schema: <https://schema.org/> PREFIX kg: <https://w3id.org/kg-vault/vocab#>
        SELECT ?file ?name ?sentence ?start ?end WHERE {
          ?m a kg:Mention ; kg:article/kg:file ?file ; kg:entity/schema:name ?name ; kg:evidence ?e .
          ?e kg:sentence ?sentence ; kg:start ?start ; kg:end ?end }"""))
    notes = {note.path: note for note in read_vault(root)[0]}
    assert {row["name"].value for row in rows} == set(ENTITIES)
    assert {row["file"].value for row in rows} == set(TITLES)
    for row in rows:
        body = notes[row["file"].value].body
        start, end = int(row["start"].value), int(row["end"].value)
        assert body[start:end] == row["name"].value
        assert row["name"].value in row["sentence"].value


def test_kg_validate_passes_on_this_vault_and_on_the_hostile_vault(built, tmp_path):
    _, out = built
    proc = run_kg("validate", "-o", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "conforms" in proc.stdout
    hostile = make_hostile_vault(tmp_path / "hostile", big=False)
    run_kg("build", str(hostile["root"]), "-o", str(tmp_path / "hostile-out"), "-q", check=True)
    proc = run_kg("validate", "-o", str(tmp_path / "hostile-out"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rapper_ntriples(tmp_path / "hostile-out" / "graph.ttl")


def test_keys_that_differ_only_in_normalisation_get_distinct_iris(tmp_path):
    graph = nx.MultiDiGraph()
    for form in ("NFC", "NFD"):
        name = unicodedata.normalize(form, "Café")
        graph.add_node(f"product:{name}", kind="product", label=name, aliases=[])
    path = tmp_path / "g.ttl"
    path.write_text(render(graph), encoding="utf-8")
    store = store_of(path)
    assert len({q.subject for q in store}) == 2
    assert len(rapper_ntriples(path)) == 4


def test_literals_no_parser_accepts_are_replaced_not_fatal(tmp_path):
    graph = nx.MultiDiGraph()
    graph.add_node("article:x.md", kind="article", label="a\ud800b\x00c\ufffe", path="x.md", authors=[], tags=["t\udfff"], aliases=[])
    path = tmp_path / "g.ttl"
    path.write_text(render(graph), encoding="utf-8")
    names = [line for line in rapper_ntriples(path) if "schema.org/name" in line]
    assert names == [f'<{DEFAULT_BASE}article/x.md> <https://schema.org/name> "a\\uFFFDb\\uFFFDc\\uFFFD" .']
