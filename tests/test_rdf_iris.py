"""IRIs: any key gives a valid IRI that rdflib, pyoxigraph and rapper all read back unchanged; distinct keys never merge."""

from __future__ import annotations

import random
import re
import subprocess
import unicodedata

import pyoxigraph
import rdflib
from conftest import need_tool
from hypothesis import given, settings
from hypothesis import strategies as st

from kg.vocab import DEFAULT_BASE, clean_literal, encode_segment, mint

HOSTILE_KEYS = [
    "",
    ".",
    "..",
    "../../etc/passwd",
    "a b",
    'say "hi"',
    "<script>",
    "a>b<c",
    "{x}|y^z`w\\v",
    "line\nbreak\ttab\rcr",
    "nul\x00byte",
    "emoji 😀🚀",
    "lone \ud800 surrogate",
    "noncharacter \ufffe \U0001fffe",
    "percent %41 %",
    "#fragment?query=1&x",
    "GPT-4o",
    "DALL·E 3",
    "数字生命卡兹克",
    "ＧＰＴ－４ｏ",
    "e\u0301",
    "\u202eright-to-left",
    "zero\u200bwidth",
    "01-博客/数字生命卡兹克/a.md",
]


def random_keys(count: int, seed: int = 7) -> list[str]:
    """Random strings over the whole Unicode range, surrogates and controls included."""
    rng = random.Random(seed)
    keys = []
    for _ in range(count):
        keys.append("".join(chr(rng.choice([rng.randrange(0, 0x80), rng.randrange(0x80, 0x110000)])) for _ in range(rng.randrange(0, 12))))
    return keys


def rapper_subjects(path) -> set[str]:
    """Subject IRIs as Debian's rapper reads them (its N-Triples output escapes non-ASCII as \\uXXXX)."""
    proc = subprocess.run([need_tool("rapper"), "-q", "-i", "turtle", "-o", "ntriples", str(path)], capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()
    unescape = lambda m: chr(int(m[1] or m[2], 16))  # noqa: E731
    lines = proc.stdout.decode("ascii").splitlines()
    return {re.sub(r"\\u([0-9A-F]{4})|\\U([0-9A-F]{8})", unescape, line.split(" ", 1)[0][1:-1]) for line in lines if line}


def turtle_of(iris: list[str]) -> str:
    """One triple per IRI, written with pyoxigraph (what kg's exporter does)."""
    p = pyoxigraph.NamedNode("https://example.org/p")
    triples = [pyoxigraph.Triple(pyoxigraph.NamedNode(iri), p, pyoxigraph.Literal(str(i))) for i, iri in enumerate(iris)]
    return pyoxigraph.serialize(triples, format=pyoxigraph.RdfFormat.TURTLE).decode("utf-8")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec=None), max_size=40))
def test_any_text_mints_a_valid_iri(key):
    iri = mint(DEFAULT_BASE, "topic", key)
    node = pyoxigraph.NamedNode(str(iri))  # raises on anything that is not an IRI
    assert node.value == str(iri)
    assert not any(c in str(iri) for c in ' "<>{}|^`\\\n\t\r\x00')
    segment = str(iri)[len(DEFAULT_BASE + "topic/"):]
    assert "/" not in segment and segment not in (".", "..")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20), st.text(max_size=20))
def test_distinct_keys_never_share_an_iri(a, b):
    if unicodedata.normalize("NFC", a) != unicodedata.normalize("NFC", b):
        assert encode_segment(a) != encode_segment(b)
        assert mint(DEFAULT_BASE, "mention", a, "product", b) != mint(DEFAULT_BASE, "mention", b, "product", a) or a == b


def test_all_three_parsers_read_hostile_and_random_iris_back_unchanged(tmp_path):
    keys = HOSTILE_KEYS + random_keys(400)
    iris = sorted({str(mint(DEFAULT_BASE, "product", key)) for key in keys})
    assert len(iris) == len({unicodedata.normalize("NFC", k) for k in keys})
    path = tmp_path / "iris.ttl"
    path.write_text(turtle_of(iris), encoding="utf-8")
    by_rdflib = {str(s) for s in rdflib.Graph().parse(path, format="turtle").subjects()}
    store = pyoxigraph.Store()
    store.bulk_load(path=str(path), format=pyoxigraph.RdfFormat.TURTLE)
    by_oxigraph = {q.subject.value for q in store}
    assert by_rdflib == by_oxigraph == rapper_subjects(path) == set(iris)


def test_empty_and_underscore_keys_differ():
    assert len({encode_segment(k) for k in ("", "_", "%", "%25", ".", "%2E")}) == 6


def test_dot_segments_stay_distinct_things(tmp_path):
    iris = [str(mint(DEFAULT_BASE, "topic", key)) for key in (".", "..", "x")]
    assert iris[0].endswith("/topic/%2E") and iris[1].endswith("/topic/%2E%2E")
    path = tmp_path / "dots.ttl"
    path.write_text(turtle_of(iris), encoding="utf-8")
    assert rapper_subjects(path) == set(iris)


def test_iris_are_the_same_for_the_same_key_anywhere():
    # NFD file names (macOS) and NFC (Linux) name the same note: one IRI.
    assert mint(DEFAULT_BASE, "article", unicodedata.normalize("NFD", "café/é.md")) == mint(DEFAULT_BASE, "article", "café/é.md")
    assert str(mint(DEFAULT_BASE, "product", "GPT-4o")) == DEFAULT_BASE + "product/GPT-4o"
    assert str(mint(DEFAULT_BASE, "person", "数字生命卡兹克")) == DEFAULT_BASE + "person/数字生命卡兹克"


def test_literals_keep_everything_a_parser_can_read(tmp_path):
    text = "tab\tnewline\nESC\x1b bell\x07 quote\" backslash\\ emoji😀 中文"
    assert clean_literal(text) == text
    assert clean_literal("a\x00b\ud800c\ufffe\U0010ffff") == "a\ufffdb\ufffdc\ufffd\ufffd"
    s, p = pyoxigraph.NamedNode("https://example.org/s"), pyoxigraph.NamedNode("https://example.org/p")
    hostile = [clean_literal(k) for k in HOSTILE_KEYS] + [text]
    path = tmp_path / "literals.ttl"
    data = pyoxigraph.serialize([pyoxigraph.Triple(s, p, pyoxigraph.Literal(v)) for v in hostile], format=pyoxigraph.RdfFormat.TURTLE)
    path.write_bytes(data)
    assert {str(o) for o in rdflib.Graph().parse(path, format="turtle").objects()} == set(hostile)
    proc = subprocess.run([need_tool("rapper"), "-q", "-i", "turtle", "-c", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    count = subprocess.run([need_tool("rapper"), "-i", "turtle", "-c", str(path)], capture_output=True, text=True, timeout=60).stderr
    assert f"returned {len(set(hostile))} triples" in count
