"""graph.html without a browser: offline, escaped, deterministic, pyvis globals, --max-nodes, the layout."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_kg
from kg.export.html import render
from kg.layout import RELATION_WEIGHT, force_layout, projection, projection_after, projection_of

HOSTILE = "<img src=x onerror=window.__pwned=1>"


def small_graph() -> nx.MultiDiGraph:
    """An article mentioning a product made by an organization, a topic, an author, a source; one hostile title."""
    g = nx.MultiDiGraph()
    g.add_node("article:a.md", kind="article", label=HOSTILE, path="a.md", date="2025-03-26", url="javascript:alert(1)", authors=["</script><script>window.__pwned=1</script>"], tags=[], aliases=[])
    g.add_node("article:b.md", kind="article", label="第二篇", path="b.md", date="2024-01-02", authors=[], tags=[], aliases=[])
    g.add_node("product:GPT-4o", kind="product", label="GPT-4o", aliases=["GPT4o"], articles=2)
    g.add_node("organization:OpenAI", kind="organization", label="OpenAI", aliases=[], articles=0)
    g.add_node("topic:AI", kind="topic", label="AI", aliases=[], articles=1)
    g.add_node("person:x", kind="person", label='"><script>window.__pwned=1</script>', aliases=[], articles=1)
    g.add_node("source:微信公众号", kind="source", label="微信公众号", aliases=[], articles=1)
    g.add_edge("article:a.md", "product:GPT-4o", key="mentions", count=2, evidence=[{"sentence": "GPT-4o </script> 上线。", "start": 0, "end": 6}])
    g.add_edge("article:b.md", "product:GPT-4o", key="mentions", count=1, evidence=[{"sentence": "再谈 GPT-4o。", "start": 3, "end": 9}])
    g.add_edge("product:GPT-4o", "organization:OpenAI", key="made_by")
    g.add_edge("article:a.md", "topic:AI", key="about", count=1)
    g.add_edge("article:a.md", "person:x", key="author")
    g.add_edge("article:a.md", "source:微信公众号", key="source")
    g.add_edge("product:GPT-4o", "organization:OpenAI", key="co_mention", weight=2)
    return g


def page_data(page: str, element: str = "kg-data") -> dict | list:
    match = re.search(rf'<script type="application/json" id="{element}">(.*?)</script>', page, re.S)
    assert match, "the page embeds its data as JSON"
    return json.loads(match.group(1))


def test_page_is_offline_and_self_contained() -> None:
    page = render(small_graph())
    assert not re.search(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=", page, re.I), "no external resource"
    assert "cdnjs" not in page and "jsdelivr" not in page and "bootstrap" not in page.lower()
    assert "default-src 'none'" in page  # and the browser is told to refuse any request
    assert "vis.Network" in page and len(page) > 400_000  # vis-network is inlined


def test_pyvis_globals_are_kept() -> None:
    page = render(small_graph())
    for name in ("network", "nodes", "edges"):
        assert re.search(rf"\bvar {name} = ", page), name


def test_note_text_never_appears_as_markup() -> None:
    page = render(small_graph())
    assert HOSTILE not in page
    assert "<script>window.__pwned" not in page
    assert page.count("</script>") == 5  # the template's five script elements: no note text closes one
    data = page_data(page)
    labels = {n["label"] for n in data["nodes"]}
    assert HOSTILE in labels  # the text itself survives, as data


def test_every_node_and_drawn_edge_is_on_the_page() -> None:
    graph = small_graph()
    page = render(graph)
    data, evidence = page_data(page), page_data(page, "kg-evidence")
    assert sorted(n["id"] for n in data["nodes"]) == sorted(graph.nodes)
    assert len(data["edges"]) == len(evidence) == sum(1 for *_e, k in graph.edges(keys=True) if k != "co_mention")
    mention = next(k for k, e in enumerate(data["edges"]) if e[2] == "mentions" and data["nodes"][e[0]]["id"] == "article:b.md")
    assert data["edges"][mention][3] == 1 and evidence[mention] == ["再谈 GPT-4o。"]
    assert {evidence[k] == 0 for k, e in enumerate(data["edges"]) if e[2] != "mentions"} == {True}
    order = sorted(graph.nodes)
    assert data["co_mentions"] == [[order.index("product:GPT-4o"), order.index("organization:OpenAI"), 2]]


def test_render_is_deterministic() -> None:
    assert render(small_graph()) == render(small_graph())


def test_max_nodes_keeps_the_best_connected_and_says_what_was_left_out() -> None:
    graph = small_graph()
    page = render(graph, max_nodes=3)
    data = page_data(page)
    assert len(data["nodes"]) == 3
    assert "product:GPT-4o" in {n["id"] for n in data["nodes"]}
    status = re.search(r'<span id="status">(.*?)</span>', page, re.S).group(1)
    assert "left out by --max-nodes 3" in status and "of 7 nodes" in status


def test_layout_is_deterministic_spread_and_finite() -> None:
    graph = nx.MultiDiGraph()
    for i in range(300):
        graph.add_edge(f"a:{i}", f"t:{i % 17}", key="about")
        graph.add_edge(f"a:{i}", f"p:{(i * 7) % 40}", key="mentions")
    graph.add_node("lonely")
    first = force_layout(projection(graph))
    assert first == force_layout(projection(graph))
    assert set(first) == set(graph.nodes)
    points = list(first.values())
    assert all(math.isfinite(x) and math.isfinite(y) for x, y in points)
    assert len(set(points)) == len(points)  # no two nodes on the same spot
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    assert max(xs) - min(xs) > 5 and max(ys) - min(ys) > 5


def test_projection_leaves_out_co_mentions() -> None:
    graph = small_graph()
    graph.add_edge("article:a.md", "person:x", key="mentions", count=1, evidence=[])  # beside author (0.3)
    graph.add_edge("topic:AI", "article:a.md", key="links_to", count=1)  # the other way round
    graph.add_edge("topic:AI", "topic:AI", key="related", count=1)  # a loop draws nothing
    simple = projection(graph)
    linked = [(simple.nodes[a], simple.nodes[b], w) for a, b, w in zip(simple.src.tolist(), simple.dst.tolist(), simple.weight.tolist())]
    pairs = {(a, b): w for a, b, w in linked}
    assert pairs[("organization:OpenAI", "product:GPT-4o")] == 1.0  # by made_by
    assert ("article:a.md", "article:b.md") not in pairs
    assert simple.nodes == sorted(graph.nodes)
    # The same pairs and weights as the networkx projection it replaces: strongest relation per pair.
    expected: dict[tuple[str, str], float] = {}
    for u, v, key in graph.edges(keys=True):
        if key in RELATION_WEIGHT and u != v:
            pair = (min(u, v), max(u, v))
            expected[pair] = max(RELATION_WEIGHT[key], expected.get(pair, 0.0))
    assert pairs == expected and [p[:2] for p in linked] == sorted(expected)
    assert pairs[("article:a.md", "person:x")] == 1.0 and pairs[("article:a.md", "source:微信公众号")] == 0.05
    assert dict(zip(simple.nodes, simple.degrees().tolist())) == {n: sum(n in pair for pair in expected) for n in graph}


def test_communities_on_the_corpus_are_connected_ranked_and_beat_louvain(corpus_out: Path) -> None:
    """The page's communities (igraph's Leiden) on the real vault: each is connected, they are
    numbered largest first, the page colours by them, and they score a modularity no lower than
    igraph's Louvain on the same projection (what kg used before)."""
    import random

    import igraph

    from kg.export.html import PageModel
    from kg.layout import communities

    simple = PageModel(corpus_out / ".kg-cache").load().simple
    grouped = communities(simple)
    assert grouped == communities(simple) and set(grouped) == set(simple.nodes)
    network = igraph.Graph(n=len(simple.nodes), edges=list(zip(simple.src.tolist(), simple.dst.tolist())))
    membership = [grouped[node] for node in simple.nodes]
    sizes = [membership.count(c) for c in range(max(membership) + 1)]
    assert sizes == sorted(sizes, reverse=True) and len(sizes) > 10
    for c in range(len(sizes)):
        members = [i for i, m in enumerate(membership) if m == c]
        assert network.induced_subgraph(members).is_connected(), f"community {c} falls apart"
    weights = simple.weight.tolist()
    igraph.set_random_number_generator(random.Random(7))
    try:
        louvain = network.community_multilevel(weights=weights).membership
    finally:
        igraph.set_random_number_generator(random)
    assert network.modularity(membership, weights=weights) >= network.modularity(louvain, weights=weights) > 0.3
    data = page_data((corpus_out / "graph.html").read_text(encoding="utf-8"))
    assert {d["id"]: d["community"] for d in data["nodes"]} == grouped


RELATIONS = [*RELATION_WEIGHT, "co_mention", "unknown"]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_a_projection_made_again_for_some_nodes_is_the_whole_projection(data) -> None:
    """projection_after (a delta's page) gives the projection made from every edge again, whatever
    nodes were added, removed or given other edges."""
    names = [f"n{i:02d}" for i in range(14)]
    edge = st.tuples(st.sampled_from(names), st.sampled_from(RELATIONS))
    before_nodes = sorted(data.draw(st.sets(st.sampled_from(names), min_size=1)))
    before = {u: [(v, r) for v, r in data.draw(st.lists(edge, max_size=6)) if v in before_nodes] for u in before_nodes}
    removed = data.draw(st.sets(st.sampled_from(before_nodes)))
    added = data.draw(st.sets(st.sampled_from(names))) - set(before_nodes)
    after_nodes = sorted((set(before_nodes) - removed) | added)
    changed = data.draw(st.sets(st.sampled_from(after_nodes))) if after_nodes else set()
    changed |= added | {u for u in after_nodes if any(v in removed for v, _ in before.get(u, []))}  # their edges to removed nodes go
    after = {u: ([(v, r) for v, r in data.draw(st.lists(edge, max_size=6)) if v in after_nodes] if u in changed else before[u]) for u in after_nodes}

    def every(out: dict) -> list:
        return [(u, v, r) for u in sorted(out) for v, r in out[u]]

    old = projection_of(before_nodes, every(before))
    whole = projection_of(after_nodes, every(after))
    asked: set[str] = set()
    made = projection_after(old, after_nodes, lambda node: asked.add(node) or after[node], changed | removed)
    assert asked <= changed, "asked for the edges of a node that did not change"
    assert made.nodes == whole.nodes
    for name in ("src", "dst", "weight", "ahead", "back"):
        assert getattr(made, name).tolist() == getattr(whole, name).tolist(), name
        assert getattr(made, name).dtype == getattr(whole, name).dtype, name


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_strongest_co_mentions_are_those_a_heap_would_choose(data) -> None:
    """kg.export.html._strongest (numpy) picks and orders the co-mentions as choosing the smallest
    (-weight, source, target) with heapq and sorting them would, ties and all."""
    import heapq

    import kg.export.html as html

    limit = data.draw(st.integers(1, 40))
    names = sorted(data.draw(st.sets(st.text("abcdef", min_size=1, max_size=3), min_size=1, max_size=12)))
    index = {name: i for i, name in enumerate(names)}
    counts, targets, weights, pairs = [], [], [], []
    for name in names:
        co = data.draw(st.dictionaries(st.sampled_from(names), st.integers(2, 6), max_size=6))  # ties are common
        counts.append(len(co))
        for v in sorted(co):
            targets.append(v)
            weights.append(co[v])
            pairs.append((name, v, co[v]))
    strongest = heapq.nsmallest(limit, [(-w, index[u], index[v]) for u, v, w in pairs])
    assert html._strongest(counts, [index[v] for v in targets], weights, limit=limit) == sorted([a, b, -w] for w, a, b in strongest)


def test_cli_max_nodes(tmp_path: Path, seed_out: Path) -> None:
    out = tmp_path / "out"
    run_kg("build", str(Path(__file__).resolve().parent.parent / "seeds"), "-o", str(out), "-q", "--max-nodes", "4", check=True)
    data = page_data((out / "graph.html").read_text(encoding="utf-8"))
    assert len(data["nodes"]) == 4
    assert len(page_data((seed_out / "graph.html").read_text(encoding="utf-8"))["nodes"]) > 4
    bad = run_kg("build", "seeds", "-o", str(tmp_path / "x"), "--max-nodes", "0")
    assert bad.returncode == 2


@pytest.mark.parametrize("name", ["graph.html"])
def test_seed_page_is_byte_identical_across_builds(tmp_path: Path, seed_out: Path, name: str) -> None:
    out = tmp_path / "again"
    run_kg("build", str(Path(__file__).resolve().parent.parent / "seeds"), "-o", str(out), "-q", check=True)
    assert (out / name).read_bytes() == (seed_out / name).read_bytes()


@pytest.mark.parametrize("size", [0, 1, 1999, 2000, 2001, 4500])
def test_page_json_in_pieces_is_exactly_tojson(size: int) -> None:
    """The page writes its big JSON a few thousand items at a time; joined, the pieces are exactly
    what Jinja's tojson (with the page's escaping policy) makes of the whole value."""
    from kg.export.html import JSON_ITEMS_PER_CHUNK, _environment, _json_chunks

    assert JSON_ITEMS_PER_CHUNK == 2000
    hostile = [HOSTILE, "</script>", "'&<>\"\\", "\u2028\x00\t", "中文 ＜", "😀"]
    items = [[i, hostile[i % len(hostile)], {"b": hostile[(i + 1) % len(hostile)], "a": [i, None, True, 1.5]}] for i in range(size)]
    value = {"z": items, "a": hostile, "m": {"k": items[:3]}, "n": 7}
    env = _environment()
    whole = env.from_string("{{ value|tojson }}").render(value=value)
    streamed = {**value, "z": iter(items)}  # the edges come as a generator
    assert "".join(_json_chunks(env, streamed)) == whole
    assert "".join(_json_chunks(env, items)) == env.from_string("{{ value|tojson }}").render(value=items)
    assert "</script>" not in whole and "<img" not in whole


def _one_step_by_hand(x, y, bounds, src, dst, weight, *, reach, far_field_min, grid=12):
    """The forces of the layout's first step, the slow and obvious way: every pair of nodes of one
    component compared, every cell of the far field visited."""
    import numpy as np

    fx, fy = np.zeros(len(x)), np.zeros(len(x))
    for c in range(len(bounds) - 1):
        members = np.arange(bounds[c], bounds[c + 1])
        for i in members:
            for j in members[members > i]:
                dx, dy = x[j] - x[i], y[j] - y[i]
                d2 = dx * dx + dy * dy
                if d2 < reach * reach:
                    f = -1.0 / max(d2, 1e-4)
                    fx[i], fy[i], fx[j], fy[j] = fx[i] + f * dx, fy[i] + f * dy, fx[j] - f * dx, fy[j] - f * dy
        if len(members) > far_field_min:
            px, py = x[members], y[members]
            low_x, low_y = px.min(), py.min()
            size = max(px.max() - low_x, py.max() - low_y) / grid
            cell = np.minimum(((px - low_x) / size).astype(int), grid - 1) * grid + np.minimum(((py - low_y) / size).astype(int), grid - 1)
            for i, own in zip(members, cell):
                for k in np.unique(cell):
                    if k != own:
                        inside = cell == k
                        dx, dy = x[i] - px[inside].mean(), y[i] - py[inside].mean()
                        strength = inside.sum() / max(dx * dx + dy * dy, (size / 2) ** 2)
                        fx[i], fy[i] = fx[i] + dx * strength, fy[i] + dy * strength
    for a, b, w in zip(src, dst, weight):
        dx, dy = x[b] - x[a], y[b] - y[a]
        f = w * math.hypot(dx, dy)
        fx[a], fy[a], fx[b], fy[b] = fx[a] + f * dx, fy[a] + f * dy, fx[b] - f * dx, fy[b] - f * dy
    return fx, fy


@pytest.mark.parametrize("far_field_min", [10**6, 50])
def test_compiled_step_finds_every_close_pair_and_cell(far_field_min) -> None:
    """One step of kg.forces.relax (no gravity, no cap on the move, so each node moves by its
    force) against _one_step_by_hand, on components of every shape: clusters denser than the
    reach (many pairs a cell), scattered nodes (pairs across cells in every direction), a line,
    a pair, lone nodes; with and without the far field."""
    import numpy as np

    from kg import forces

    rng = np.random.default_rng(11)
    parts = [
        np.concatenate([rng.normal(size=(120, 2)) * 0.6, rng.normal(size=(80, 2)) * 3 + 4]),
        rng.random((60, 2)) * 9,
        np.stack([np.arange(30) * 0.9, np.zeros(30)], axis=1),
        np.array([[0.0, 0.0], [0.5, 0.2]]),
        np.zeros((1, 2)),
        np.ones((1, 2)),
    ]
    bounds = np.cumsum([0] + [len(p) for p in parts])
    x0, y0 = np.concatenate(parts)[:, 0].copy(), np.concatenate(parts)[:, 1].copy()
    src = np.concatenate([np.arange(b0, b1 - 1) for b0, b1 in zip(bounds[:-1], bounds[1:]) if b1 - b0 > 1])
    dst = src + 1
    weight = rng.choice([1.0, 0.3, 0.05], size=len(src))
    x, y = x0.copy(), y0.copy()
    forces.relax(x, y, bounds, src, dst, weight, np.full(len(parts), 1e9), 1, 1.0, 1.5, 1e6, 0.3, 0.0, far_field_min, 12, 4)
    fx, fy = _one_step_by_hand(x0, y0, bounds, src, dst, weight, reach=1.5, far_field_min=far_field_min)
    assert np.abs(fx).max() > 1 and np.abs(fy).max() > 1
    assert np.allclose(x - x0, fx, rtol=1e-9, atol=1e-9) and np.allclose(y - y0, fy, rtol=1e-9, atol=1e-9)


def test_a_component_is_laid_out_on_its_own() -> None:
    """A component's shape depends on its own nodes and links only: laid out beside other
    components, or alone, its nodes keep the same places relative to each other."""
    alone = nx.MultiDiGraph()
    for i in range(200):
        alone.add_edge(f"a:{i}", f"t:{i % 11}", key="about")
        alone.add_edge(f"a:{i}", f"p:{(i * 7) % 30}", key="mentions")
    together = alone.copy()
    for i in range(150):
        together.add_edge(f"z:{i}", f"z:hub{i % 5}", key="mentions")
    together.add_edge("b:1", "b:2", key="author")
    together.add_node("0lonely")  # sorts first: every node of `alone` gets another index

    def relative(laid: dict) -> dict:
        low_x = min(laid[node][0] for node in alone)
        low_y = min(laid[node][1] for node in alone)
        return {node: (laid[node][0] - low_x, laid[node][1] - low_y) for node in alone}

    one, other = relative(force_layout(projection(alone))), relative(force_layout(projection(together)))
    assert max(abs(one[n][0] - other[n][0]) + abs(one[n][1] - other[n][1]) for n in alone) < 0.03
    assert max(abs(one[n][0] - one["a:0"][0]) for n in alone) > 5


def test_a_page_model_that_cannot_be_kept_costs_only_the_model(tmp_path, monkeypatch):
    """Keeping the page's model (for the next delta build) fails half-way, as on a full disk: the
    page is still written whole, the same bytes as without a cache, and no model is left."""
    import io

    import kg.export.html as html

    graph = small_graph()
    folder = tmp_path / "cache"

    class FullDisk:
        """The model's file, on a disk that fills up after its third write."""

        writes = 0

        def __init__(self, handle) -> None:  # noqa: ANN001
            self.handle = handle

        def write(self, data: bytes) -> int:
            FullDisk.writes += 1
            if FullDisk.writes > 3:
                raise OSError(28, "No space left on device")
            return self.handle.write(data)

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self.handle, name)

    real_open = open
    monkeypatch.setattr(html, "open", lambda path, mode="r", *args: FullDisk(real_open(path, mode, *args)) if "w" in mode else real_open(path, mode, *args), raising=False)
    written = io.StringIO(newline="\n")
    html.stream(graph, written, fragments=folder)
    assert FullDisk.writes > 3  # it did fail
    assert written.getvalue() == render(graph)
    assert not (folder / html.PAGE_FILE).exists()
    assert html.PageModel(folder).load() is None
