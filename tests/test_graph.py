"""kg.graph's own helpers: the fast edge insertion matches networkx's, co-mentions match a plain count."""

from __future__ import annotations

import itertools
from collections import Counter

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kg.graph
from kg.graph import MIN_CO_MENTIONS, add_edges, co_mentions, edge_count, sorted_edges

names = st.sampled_from([f"product:{c}" for c in "ABCDEFGH"] + ["person:李白", "organization:字节跳动", "article:a/b.md"])
edge = st.tuples(names, names, st.sampled_from(["mentions", "co_mention", "about"]), st.integers(0, 3))


def _start() -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    graph.add_node("product:A", kind="product", label="A")
    graph.add_node("person:李白", kind="person", label="李白")
    graph.add_edge("product:A", "person:李白", key="about", count=1)
    return graph


@settings(max_examples=200, deadline=None)
@given(st.lists(edge, max_size=25, unique_by=lambda e: e[:3]))
def test_add_edges_builds_what_add_edges_from_builds(edges):
    edges = [e for e in edges if (e[0], e[1], e[2]) != ("product:A", "person:李白", "about")]
    ours, theirs = _start(), _start()
    theirs.in_degree()  # a cached view made before the edges come must see them too
    ours.in_degree()
    add_edges(ours, ((u, v, key, {"weight": w}) for u, v, key, w in edges))
    theirs.add_edges_from((u, v, key, {"weight": w}) for u, v, key, w in edges)
    assert nx.utils.graphs_equal(ours, theirs)
    assert list(ours.nodes(data=True)) == list(theirs.nodes(data=True))
    assert list(ours.edges(keys=True, data=True)) == list(theirs.edges(keys=True, data=True))
    assert list(ours.in_edges(keys=True, data=True)) == list(theirs.in_edges(keys=True, data=True))
    assert dict(ours.in_degree()) == dict(theirs.in_degree())
    for u, v, key, _w in edges:  # one data dict per edge, shared by both directions as networkx does
        assert ours.succ[u][v][key] is ours.pred[v][u][key]
    assert edge_count(ours) == theirs.number_of_edges()
    assert list(sorted_edges(ours)) == sorted(theirs.edges(keys=True, data=True), key=lambda e: e[:3])


def test_add_edges_refuses_an_edge_already_there():
    graph = _start()
    with pytest.raises(ValueError, match="already in the graph"):
        add_edges(graph, [("product:A", "person:李白", "about", {})])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(names, max_size=6), max_size=12), st.sampled_from([1, 3, 10, kg.graph.CO_MENTION_BLOCK]))
def test_co_mentions_count_articles_per_pair(groups, block):
    """Whatever the block size the pairs are counted in (small ones fold many blocks together)."""
    counted: Counter[tuple[str, str]] = Counter()
    for group in groups:
        counted.update(itertools.combinations(sorted(set(group)), 2))
    expected = [(a, b, n) for (a, b), n in sorted(counted.items()) if n >= MIN_CO_MENTIONS]
    default = kg.graph.CO_MENTION_BLOCK
    kg.graph.CO_MENTION_BLOCK = block
    try:
        found = list(co_mentions(groups))
    finally:
        kg.graph.CO_MENTION_BLOCK = default
    assert found == expected
    assert all(type(x) is str and type(y) is str and type(n) is int for x, y, n in found)


def test_collector_paused_restores_the_collector_as_it_was():
    import gc

    from kg.processes import collector_paused

    seen = []

    @collector_paused()
    def stage(fail: bool) -> None:
        seen.append(gc.isenabled())
        if fail:
            raise RuntimeError("stage failed")

    assert gc.isenabled()
    stage(False)
    with pytest.raises(RuntimeError):
        stage(True)
    assert gc.isenabled() and seen == [False, False]
    gc.disable()
    try:
        stage(False)
        assert not gc.isenabled()  # a caller that had it off keeps it off
    finally:
        gc.enable()
