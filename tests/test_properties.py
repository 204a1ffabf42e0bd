"""Property-based: random frontmatter, bodies, file names and encodings never crash a build, the Turtle
always parses (pyoxigraph every time, rapper on a sample), no note is lost silently, and the HTML never
carries an input string unescaped.
"""

from __future__ import annotations

import functools
import itertools
import json
import subprocess
import tempfile
from pathlib import Path

import networkx as nx
import pyoxigraph
import pytest
import yaml
from conftest import need_tool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hostile import SENTENCES, kg_name

import kg.build
from kg.build import build_vault
from kg.metadata import split
from kg.model import FRONTMATTER_KEYS

HOSTILE = (
    "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "</script>", "<!--", "]]>", "&amp;", "&quot;",
    "{{ 7*7 }}", "'onmouseover='x", "\\", '"', "\t", "\x00", "\x01", "\u2028", "\ufeff", "[[", "]]", "|", "#",
    "---", ": ", "- ", "!!python/object/apply:os.system", "&a", "*a", "2025-13-45", "2025/3/26", "😀", "𠀀",
)
RAPPER_EVERY = 6  # run rapper on every sixth example

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
piece = st.one_of(text, st.sampled_from(HOSTILE), st.sampled_from(SENTENCES))
phrase = st.lists(piece, max_size=4).map("".join)
scalar = st.one_of(phrase, st.none(), st.sampled_from(["2025-03-26", "2025/3/26", "2025年3月26日", "2025-13-45", "no", "0123"]))
value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(phrase, inner, max_size=2), max_leaves=6)
key = st.one_of(st.sampled_from(sorted(FRONTMATTER_KEYS)), phrase)
yaml_frontmatter = st.dictionaries(key, value, max_size=6).map(lambda d: yaml.safe_dump(d, allow_unicode=True))
broken_frontmatter = st.lists(st.tuples(key, phrase).map(": ".join) | phrase, max_size=6).map("\n".join)
frontmatter = st.one_of(st.none(), yaml_frontmatter, broken_frontmatter)
body = st.lists(st.one_of(piece, phrase.map(lambda s: f"[[{s}]]"), st.just("\n\n")), max_size=10).map("".join)
name = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=20).filter(
    lambda s: not s.startswith(".") and len(s.encode()) < 200
)
encoding = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "gb18030", "crlf"])
note = st.tuples(name, frontmatter, body, encoding)
vault = st.lists(note, min_size=1, max_size=5, unique_by=lambda n: kg_name(n[0]))

_examples = itertools.count()


@pytest.fixture(scope="module", autouse=True)
def dictionary_loaded_once():
    """The entity dictionary is the same for every example; load it once (it takes seconds) instead of per build."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kg.build, "load_dictionary", functools.lru_cache(kg.build.load_dictionary))
        yield


def note_text(fm: str | None, body_text: str) -> str:
    return body_text if fm is None else f"---\n{fm}\n---\n{body_text}"


def write_vault(root: Path, notes: list) -> dict[str, str]:
    """Write the notes; return the note's name in kg -> the text written."""
    written = {}
    root.mkdir()
    (root / "anchor.md").write_text("---\ntitle: 锚\n---\n" + SENTENCES[0], encoding="utf-8")
    written["anchor.md"] = SENTENCES[0]
    for stem, fm, body_text, codec in notes:
        text = note_text(fm, body_text)
        raw = text.replace("\n", "\r\n").encode() if codec == "crlf" else text.encode(codec)
        (root / f"{stem}.md").write_bytes(raw)
        written[kg_name(f"{stem}.md")] = text
    return written


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(vault)
def test_random_vaults_build_into_valid_safe_outputs(notes):
    with tempfile.TemporaryDirectory() as tmp:
        root, out = Path(tmp) / "vault", Path(tmp) / "out"
        written = write_vault(root, notes)
        result = build_vault(root, out, jobs=1, cache=False)

        read = {n.path for n in result.notes}
        skipped = {p.path for p in result.problems if p.action.startswith("skipped")}
        for rel in written:
            assert rel in read or rel in skipped, rel

        ttl = out / "graph.ttl"
        store = pyoxigraph.Store()
        store.load(path=str(ttl), format=pyoxigraph.RdfFormat.TURTLE)
        files = {row["f"].value for row in store.query("SELECT ?f WHERE { ?x <https://w3id.org/kg-vault/vocab#file> ?f }")}
        assert read <= files
        if next(_examples) % RAPPER_EVERY == 0:
            check = subprocess.run([need_tool("rapper"), "-q", "-i", "turtle", "-c", str(ttl)], capture_output=True, text=True)
            assert check.returncode == 0, check.stderr

        nx.node_link_graph(json.loads((out / "graph.json").read_text(encoding="utf-8")), edges="edges")
        nx.read_graphml(out / "graph.graphml")
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))["problems"]
        assert sorted(r["line"] for r in report) == sorted(p.line() for p in result.problems)

        page = (out / "graph.html").read_text(encoding="utf-8")
        for snippet in HOSTILE[:2]:  # the page's own markup has `</script>` and `<!--`, not these
            assert snippet not in page, snippet
        for n in result.notes:
            for string in (n.title, n.source or "", n.url or "", *n.authors, *n.tags, *n.aliases):
                # `"` is written `\"` in the embedded JSON, which still contains the raw text after the
                # backslash; < > & ' are written as \u escapes, so a string holding one never appears raw.
                if len(string) > 5 and any(c in string for c in "<>&'"):
                    assert string not in page, string


@settings(max_examples=300, deadline=None)
@given(frontmatter, body)
def test_split_never_raises_and_never_loses_the_body(fm, body_text):
    raw, rest, problems = split(note_text(fm, body_text))
    assert isinstance(raw, dict) and all(isinstance(p, str) and "\n" not in p for p in problems)
    assert body_text in rest or body_text.strip() in rest
