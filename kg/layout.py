"""Positions for the interactive view, computed in Python so the browser draws a still picture.

A Fruchterman-Reingold layout that scales to tens of thousands of nodes, its loop compiled
(kg.forces, numba): repulsion only between nodes closer than a cutoff (found in a grid, like
igraph's grid variant) and pooled from distant cells, attraction along edges, and a pull of each
connected component towards its own centre. Each component is laid out on its own, then the
components are packed in rows, largest first, so a vault with many small islands still reads
well. Deterministic: a fixed seed, sorted input, rounded output.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import networkx as nx

# How strongly each relation pulls its two ends together. Sources and authors touch most articles:
# at full strength they would pull the whole vault into a few stars.
RELATION_WEIGHT = {
    "about": 1.0,
    "mentions": 1.0,
    "related": 1.0,
    "broader": 1.0,
    "links_to": 1.0,
    "made_by": 1.0,
    "version_of": 1.0,
    "author": 0.3,
    "source": 0.05,
}

SPACING = 1.0  # ideal distance between neighbours, in layout units
CUTOFF = 1.5  # repulsion is ignored beyond this many SPACINGs
# Close pairs wanted per node, on average. In a dense vault (a generated one: hundreds of nodes
# within CUTOFF of each) the close-range repulsion reaches less far, for as long as it is dense,
# so that its pairs stay about this many a node: the same picture a few times faster (the far
# field still spreads the whole). A sparse vault never comes near it: its layout is unchanged.
NEIGHBOURS_WANTED = 32
NEAREST_REACH = 0.3  # the close-range repulsion never reaches less far than this many SPACINGs
GRAVITY = 0.02
FAR_FIELD_MIN = 50  # components larger than this also feel the pooled repulsion of distant cells
GRID = 12  # cells per side of the far-field grid
FAR_FIELD_EVERY = 4  # the far field changes slowly: recompute it every few steps
EDGES_AT_ONCE = 1 << 17  # pairs handed to igraph at a time, as Python tuples
LET_GO_AFTER = 1.0  # seconds after `place_in_worker` returns that its worker gives its memory back
LEIDEN_PASSES = 2  # igraph's default: more passes gain little modularity (0.168 after five at 3,300 notes) for their time


@dataclass(frozen=True)
class Projection:
    """The simple undirected graph the layout and the communities work on (co-mentions left out),
    as arrays: `nodes` sorted, and each linked pair once as node indices `src` < `dst`, sorted,
    with the strongest RELATION_WEIGHT of the relations between them; and, for a delta's page
    (projection_after), that of each direction: the LEVELS index of `src`'s strongest edge to
    `dst` (`ahead`) and of `dst`'s to `src` (`back`), -1 for none.

    Arrays, not an nx.Graph: at 50,000 notes the projection has over a million pairs, which as
    networkx dicts took most of a GiB while the page was made."""

    nodes: list[str]
    src: np.ndarray
    dst: np.ndarray
    weight: np.ndarray
    ahead: np.ndarray
    back: np.ndarray

    def degrees(self) -> np.ndarray:
        """How many neighbours each node has, by index."""
        n = len(self.nodes)
        return np.bincount(self.src, minlength=n) + np.bincount(self.dst, minlength=n)


# The strengths of RELATION_WEIGHT in ascending order, and each relation's place among them.
LEVELS = np.array(sorted(set(RELATION_WEIGHT.values())), dtype=np.float64)
_LEVEL = {relation: int(np.searchsorted(LEVELS, weight)) for relation, weight in RELATION_WEIGHT.items()}


def projection(graph: nx.MultiDiGraph) -> Projection:
    """The Projection of `graph`."""
    adjacency = graph._succ  # networkx's own dicts: its edge view costs a call per edge
    return projection_of(sorted(graph.nodes), ((u, v, key) for u, targets in adjacency.items() for v, keyed in targets.items() for key in keyed))


def projection_of(nodes: list[str], edges: Iterable[tuple[str, str, str]]) -> Projection:
    """The Projection of the sorted `nodes` and the (source, target, relation) `edges` between them
    (in any order; relations without a RELATION_WEIGHT and loops are left out)."""
    return _directed(nodes, *_links({node: i for i, node in enumerate(nodes)}, edges))


def _links(index: dict[str, int], edges: Iterable[tuple[str, str, str]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The (source, target, relation) `edges` with a RELATION_WEIGHT, loops left out, as arrays:
    source and target by `index`, and the relation's level."""
    ends, levels = array("q"), array("b")
    for u, v, key in edges:
        level = _LEVEL.get(key)
        if level is not None and u != v:
            ends.append(index[u])
            ends.append(index[v])
            levels.append(level)
    pairs = np.frombuffer(ends, dtype=np.int64).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1], np.frombuffer(levels, dtype=np.int8)


def _directed(nodes: list[str], a: np.ndarray, b: np.ndarray, level: np.ndarray) -> Projection:
    """The Projection of the directed links a -> b (node indices, never a == b) of each `level`."""
    if not len(a):
        none = np.empty(0, dtype=np.int64)
        return Projection(nodes, none, none, np.empty(0), np.empty(0, dtype=np.int8), np.empty(0, dtype=np.int8))
    n = len(nodes)
    pair = np.minimum(a, b) * n + np.maximum(a, b)
    order = np.argsort(pair, kind="stable")
    pair, level, forward = pair[order], level[order], (a < b)[order]
    first = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])  # each pair's first row
    src, dst = np.divmod(pair[first], n)
    ahead = np.maximum.reduceat(np.where(forward, level, -1).astype(np.int8), first)
    back = np.maximum.reduceat(np.where(forward, -1, level).astype(np.int8), first)
    return Projection(nodes, src, dst, LEVELS[np.maximum(ahead, back)], ahead, back)


def projection_after(old: Projection, nodes: list[str], out: Callable[[str], Iterable[tuple[str, str]]], touched: set[str]) -> Projection:
    """The Projection of the sorted `nodes`, each with the drawn out-edges `out(node)` gives as
    (target, relation), when since `old` only the nodes in `touched` changed their edges, were
    added or were removed: the same Projection as projection_of(nodes, every edge), in a few
    milliseconds where that reads every edge again (0.1 s at 3,300 notes). `old`'s pairs between
    nodes not in `touched` are kept as they were (renumbered), and so is the direction from an
    untouched node to a touched one (its edges did not change); the other direction, and pairs
    of touched nodes, are made again from the edges of the touched nodes: `out` is asked for
    theirs only."""
    at = {node: i for i, node in enumerate(nodes)}
    renumber = np.array([at.get(node, -1) for node in old.nodes], dtype=np.int64)
    gone = np.array([node in touched for node in old.nodes], dtype=bool) | (renumber < 0)
    keep = ~(gone[old.src] | gone[old.dst])
    # An untouched node's own edges to a touched node that is still there.
    to_dst = ~gone[old.src] & gone[old.dst] & (renumber[old.dst] >= 0) & (old.ahead >= 0)
    to_src = ~gone[old.dst] & gone[old.src] & (renumber[old.src] >= 0) & (old.back >= 0)
    made_a, made_b, made_level = _links(at, ((u, v, relation) for u in sorted(touched & at.keys()) for v, relation in out(u)))
    a = np.concatenate([renumber[old.src[to_dst]], renumber[old.dst[to_src]], made_a])
    b = np.concatenate([renumber[old.dst[to_dst]], renumber[old.src[to_src]], made_b])
    level = np.concatenate([old.ahead[to_dst], old.back[to_src], made_level])
    fresh = _directed(nodes, a, b, level)
    # Renumbering keeps the order of the nodes it keeps: the kept pairs stay src < dst, in order.
    src = np.concatenate([renumber[old.src[keep]], fresh.src])
    dst = np.concatenate([renumber[old.dst[keep]], fresh.dst])
    order = np.argsort(src * len(nodes) + dst, kind="stable")
    columns = (np.concatenate([getattr(old, name)[keep], getattr(fresh, name)])[order] for name in ("weight", "ahead", "back"))
    return Projection(nodes, src[order], dst[order], *columns)


LAYOUT_MODULES = ("kg.forces",)  # what force_layout imports


def prepare(modules: Iterable[str] = ("igraph", *LAYOUT_MODULES)) -> None:
    """Import what laying out and grouping need (a third of a second), for processes forked later."""
    import importlib

    for module in modules:
        importlib.import_module(module)
    if "kg.forces" in modules:
        from kg import forces

        forces.ready()


def force_layout(simple: Projection, *, iterations: int = 100, seed: int = 7) -> dict[str, tuple[float, float]]:
    """node -> (x, y) in layout units (neighbours about SPACING apart), components packed in rows.

    Each component is laid out on its own (kg.forces): its shape depends only on its own nodes and
    links, started from the same seeded square for every component of its size."""
    from kg import forces  # here: a build whose layout is kept never imports numba

    forces.ready()
    nodes = simple.nodes
    n = len(nodes)
    if n == 0:
        return {}
    comp, components = _components(simple)
    order = np.concatenate(components)  # the nodes grouped by component, ascending within each
    sizes = np.array([len(c) for c in components], dtype=np.int64)
    bounds = np.zeros(len(components) + 1, dtype=np.int64)
    np.cumsum(sizes, out=bounds[1:])
    where = np.empty(n, dtype=np.int64)
    where[order] = np.arange(n)
    x, y = np.zeros(n), np.zeros(n)
    start: dict[int, np.ndarray] = {}  # a component's starting square depends on its size only
    for c, size in enumerate(sizes.tolist()):
        if size > 1:
            if size not in start:
                start[size] = (np.random.default_rng(seed).random((size, 2)) - 0.5) * (math.sqrt(size) * SPACING)
            x[bounds[c] : bounds[c + 1]] = start[size][:, 0]
            y[bounds[c] : bounds[c + 1]] = start[size][:, 1]
    temperature = 0.1 * np.sqrt(sizes) * SPACING + SPACING
    weight = np.ascontiguousarray(simple.weight, dtype=np.float64)
    forces.relax(x, y, bounds, where[simple.src], where[simple.dst], weight, temperature, iterations, SPACING, CUTOFF, NEIGHBOURS_WANTED, NEAREST_REACH, GRAVITY, FAR_FIELD_MIN, GRID, FAR_FIELD_EVERY)
    pos = np.empty((n, 2))
    pos[order, 0], pos[order, 1] = x, y
    return _pack(nodes, pos, comp, components)


def _components(simple: Projection) -> tuple[np.ndarray, list[np.ndarray]]:
    """Each node's component number, and each component's node indices (ascending), largest
    first, ties by first node (after kg.forces.ready(), as force_layout calls it)."""
    from kg import forces

    n = len(simple.nodes)
    labels = forces.component_labels(n, simple.src, simple.dst)
    order = np.argsort(labels, kind="stable")  # indices grouped by label, ascending within each
    groups = np.split(order, np.flatnonzero(np.diff(labels[order])) + 1)
    components = sorted(groups, key=lambda members: (-len(members), int(members[0])))
    comp = np.empty(n, dtype=np.int64)
    for c, members in enumerate(components):
        comp[members] = c
    return comp, components


def _pack(nodes: list[str], pos: np.ndarray, comp: np.ndarray, components: list[np.ndarray]) -> dict[str, tuple[float, float]]:
    """Place each component's box in rows (shelves), largest first, in a roughly square overall shape."""
    boxes = []
    for c in range(len(components)):
        members = pos[comp == c]
        low, high = members.min(axis=0), members.max(axis=0)
        boxes.append((low, high - low + 2 * SPACING))
    total = sum(float(w * h) for _, (w, h) in boxes)
    row_width = max(math.sqrt(total) * 1.2, float(boxes[0][1][0]))
    offsets = []
    x = y = row_height = 0.0
    for _, (w, h) in boxes:
        if x > 0 and x + w > row_width:
            x, y, row_height = 0.0, y + row_height, 0.0
        offsets.append((x, y))
        x += float(w)
        row_height = max(row_height, float(h))
    result = {}
    for i, node in enumerate(nodes):
        c = int(comp[i])
        low = boxes[c][0]
        ox, oy = offsets[c]
        result[node] = (round(float(pos[i, 0] - low[0] + ox + SPACING), 2), round(float(pos[i, 1] - low[1] + oy + SPACING), 2))
    return result


Positions = dict[str, tuple[float, float]]  # node -> (x, y)
Placed = tuple[Positions, dict[str, int]]  # positions, node -> community


def place(simple: Projection, fragments: Path | None, *, apart: bool = False) -> Placed:
    """force_layout(simple) and communities(simple), from the cache folder `fragments` when they
    were computed for this very input (with `apart`, the layout in a forked child, see
    `_placed_json`). Reads no graph: on big graphs kg.export runs it in a spawned worker, beside
    the build process's writers."""
    with placing(simple, fragments, apart=apart) as (positions, grouped):
        return positions(), grouped


@contextmanager
def placing(simple: Projection, fragments: Path | None, *, fork: bool = False, apart: bool = False) -> Iterator[tuple[Callable[[], Positions], dict[str, int]]]:
    """`place`, the layout maybe still under way in the block: (a function that gives the positions,
    waiting for them if need be; the communities).

    With `fork`, when the two are not kept and this process can fork, a forked worker lays out
    while this process groups the communities and goes on with the block until it needs the
    positions (kg.export.html writes most of its page meanwhile: a delta build's new note waits
    on the layout). Else, with `apart`, see `_placed_json`. They are kept when the block ends well."""
    import orjson

    from kg.fragments import Fragments
    from kg.processes import can_fork

    def parsed(text: str) -> Placed:
        kept = orjson.loads(text)
        return {node: (x, y) for node, (x, y) in kept["positions"].items()}, kept["communities"]

    store = Fragments(fragments, "layout").open()
    try:
        key = _AHEAD[0][2] if _sent_ahead(simple) else None  # made by lay_out_ahead, before this process was forked
        if key is None and store.db is not None:
            key = _layout_key(store, simple)
        text = store.get(key) if key is not None and store.db is not None else None
        if text is None and ((fork and can_fork()) or _sent_ahead(simple)):  # sent ahead: no fork needed
            with _laying_out(simple) as laid:
                grouped = communities(simple)
                got: list[Positions] = []

                def positions() -> Positions:
                    nonlocal text
                    if not got:  # read back from the text that is kept: the same floats a kept layout gives
                        text = orjson.dumps({"positions": laid(), "communities": grouped}).decode("utf-8")
                        got.append(parsed(text)[0])
                    return got[0]

                yield positions, grouped
                positions()  # the block may not have asked for them
        else:
            if text is None:
                text = _placed_json(simple, apart=apart)
            placed = parsed(text)
            yield (lambda: placed[0]), placed[1]
        if key is not None:
            store.put(key, text)
    finally:
        store.close()


def _placed_json(simple: Projection, *, apart: bool = False) -> str:
    """The layout and communities of `simple`, as `placing` keeps them. With `apart` (and a process
    that can fork), the layout is made first, in a forked child that ends with it, so that numba's
    compiler and code (70 MB) never load here, then the communities: one after the other, so that
    igraph's working memory and the child's are never held at once (at 50,000 notes both came to
    0.4 GiB beside the build process)."""
    import orjson

    from kg.processes import can_fork, give_back_memory

    if apart and can_fork():
        with _laying_out(simple) as laid:
            positions = laid()
        give_back_memory()
        grouped = communities(simple)
    else:
        grouped = communities(simple)  # first: igraph's working memory comes and goes before the layout's positions are held
        positions = force_layout(simple)
    return orjson.dumps({"positions": positions, "communities": grouped}).decode("utf-8")


# [projection] for the worker `placing` forks (set just before, cleared after).
_LAYING: list = []
# This process's end of the pipe to the worker `stand_by` started, until a layout is sent to it.
_STANDBY: list = []
# (projection, end of the pipe, its key in the layout's store or None) of a layout lay_out_ahead sent to that worker.
_AHEAD: list = []


def _force_layout_shared() -> Positions:
    return force_layout(_LAYING[0])


def _died(exc: BaseException) -> Exception:
    from kg.errors import ExportError

    return ExportError(f"a worker process died while laying out the page ({exc})")


@contextmanager
def _laying_out(simple: Projection) -> Iterator[Callable[[], Positions]]:
    """force_layout(simple) in another process while the block runs; the block gets a function that
    waits for the positions. The worker `stand_by` started, if there is one (its imports done), else
    a worker forked now."""
    import multiprocessing
    import os

    from kg.processes import follow_parent, frozen_heap, worker_pool

    if _sent_ahead(simple):  # by lay_out_ahead, maybe in the process this one was forked from
        standby = _AHEAD.pop()[1]
    else:
        standby = _STANDBY.pop() if _STANDBY else None
        if standby is not None and not _sent(standby, simple):
            standby = None
    if standby is not None:

        def received() -> Positions:
            try:
                laid = standby.recv()
            except (EOFError, OSError) as exc:
                raise _died(exc) from exc
            if isinstance(laid, Exception):
                raise _died(laid) from laid
            return laid

        try:
            yield received
        finally:
            standby.close()
        return
    _LAYING[:] = [simple]
    try:
        with frozen_heap(), worker_pool(1, multiprocessing.get_context("fork"), follow_parent, (os.getpid(),), died=_died) as pool:
            yield pool.submit(_force_layout_shared).result
    finally:
        _LAYING.clear()


def stand_by(state: Path, *, jobs: int) -> None:
    """Start a worker that makes ready what laying out needs (numba, the layout's compiled loop
    loaded: a third of a second) now, while this process makes its own imports, for a build that
    may lay its page out again in another process soon after (a delta build after a new note or link, see `placing`; on two cores both
    are busy by then): when `state`, the last build's (kg.state), exists, `jobs` > 1 and this
    process can fork. The worker lays out one page and ends; or it ends when `stand_down` is
    called, or with this process (at exit, or killed)."""
    import multiprocessing
    import os
    import signal

    from kg.processes import can_fork

    if _STANDBY or jobs < 2 or not state.is_file() or not can_fork():
        return
    context = multiprocessing.get_context("fork")
    ours, theirs = context.Pipe()
    # Ctrl-C held back while it forks: the worker inherits the mask, and ignores it before anything
    # could deliver it (this process gets it as soon as the fork is made).
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        context.Process(target=_standing_by, args=(theirs, ours, os.getpid()), daemon=True, name="kg-layout").start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
    theirs.close()
    _STANDBY[:] = [ours]


def lay_out_ahead(simple: Projection, fragments: Path | None) -> bool:
    """Send `simple` to the worker `stand_by` started, if there is one and its layout is not kept
    in the cache folder `fragments`: for a build that knows its page's projection before it forks
    the page's writer (kg.export.html.patch_ahead). True when sent: the `placing` of the same
    projection, in this process or in one forked from it after, takes the positions from it."""
    from kg.fragments import Fragments

    if not _STANDBY:
        return False
    store = Fragments(fragments, "layout").open()
    try:
        key = _layout_key(store, simple) if store.db is not None else None
        if key is not None and store.get(key) is not None:
            return False
    finally:
        store.release()  # only looked into: the page's writer keeps the new layout, and forgets the others
    standby = _STANDBY.pop()
    if not _sent(standby, simple):
        return False
    _AHEAD[:] = [(simple, standby, key)]
    return True


def _layout_key(store, simple: Projection) -> bytes:  # noqa: ANN001 - a kg.fragments.Fragments
    """What the layout of `simple` is kept under in the layout's store."""
    return store.key(simple.nodes, simple.src.tobytes(), simple.dst.tobytes(), simple.weight.tobytes())


def _sent_ahead(simple: Projection) -> bool:
    """Whether lay_out_ahead sent this very projection to the worker standing by."""
    return bool(_AHEAD) and _AHEAD[0][0] is simple


def _sent(standby, simple: Projection) -> bool:  # noqa: ANN001 - a multiprocessing Connection
    """Send `simple` to the worker standing by at the end of `standby`; False (the end closed) if it is gone (killed)."""
    try:
        standby.send(simple)
    except OSError:
        standby.close()
        return False
    return True


def stand_down() -> None:
    """End the worker `stand_by` started, if no layout was sent to it (a build that needed none),
    and let go of this process's end of the pipe to it if one was (lay_out_ahead: the page's
    writer, forked after, holds its own)."""
    while _STANDBY:
        _STANDBY.pop().close()
    while _AHEAD:
        _AHEAD.pop()[1].close()


def _standing_by(ours, theirs, parent: int) -> None:  # noqa: ANN001 - the two ends of a multiprocessing Pipe
    from kg.processes import follow_parent

    theirs.close()  # this process's copy of the parent's end: the parent's closing it must reach us
    follow_parent(parent)
    prepare(LAYOUT_MODULES)
    try:
        simple = ours.recv()
    except EOFError:  # stood down
        return
    try:
        laid: Positions | Exception = force_layout(simple)
    except Exception as exc:  # noqa: BLE001 - the page's writer reports it (out of memory, say)
        laid = exc
    try:
        ours.send(laid)
    except OSError:  # the writer is gone (its build failed or was interrupted): nobody to tell
        pass


def place_in_worker(simple: Projection, fragments: Path | None) -> Placed:
    """`place`, in a worker process that then waits, idle, while the build process writes the
    other formats: a moment after it returns (its result sent, its arguments let go), the worker
    gives the memory the layout took back to the system (180 MB at 50,000 notes, held beside
    the build process's peak otherwise). The layout itself is made by a child forked from this
    worker, which ends with it (`place(..., apart=True)`)."""
    import threading

    from kg.processes import give_back_memory

    placed = place(simple, fragments, apart=True)
    letting_go = threading.Timer(LET_GO_AFTER, give_back_memory)
    letting_go.daemon = True
    letting_go.start()
    return placed


def communities(simple: Projection) -> dict[str, int]:
    """node -> community number (0 = largest), from igraph's Leiden (modularity, weighted, two
    passes) with a fixed seed.

    igraph runs it in C: 0.05 s on a 3,300-note vault, where its Louvain (multilevel) took 0.15 s
    and networkx's 2.7 s, and Leiden's communities score a higher modularity than Louvain's (0.165
    against 0.161 there, 0.488 against 0.476 on the corpus) and are each connected. Vertices go in
    in sorted order and igraph draws from its own seeded generator, so the same graph always gives
    the same communities.
    """
    import random

    import igraph  # here: only when the layout is made again

    order = simple.nodes
    if len(simple.src) == 0:
        return {node: i for i, node in enumerate(order)}
    network = igraph.Graph(n=len(order))
    for low in range(0, len(simple.src), EDGES_AT_ONCE):  # a list of a million pairs is 120 MB of tuples
        network.add_edges(zip(simple.src[low : low + EDGES_AT_ONCE].tolist(), simple.dst[low : low + EDGES_AT_ONCE].tolist()))
    igraph.set_random_number_generator(random.Random(7))
    try:
        # The weights as a list of the few distinct float objects there are (a million floats of
        # their own are 24 MB more).
        distinct, which = np.unique(simple.weight, return_inverse=True)
        values = distinct.tolist()
        weights = [values[i] for i in which.tolist()]
        membership = network.community_leiden(objective_function="modularity", weights=weights, n_iterations=LEIDEN_PASSES).membership
    finally:
        igraph.set_random_number_generator(random)
    found: dict[int, list[str]] = {}
    for node, community in zip(order, membership):
        found.setdefault(community, []).append(node)
    ranked = sorted(found.values(), key=lambda c: (-len(c), c[0]))
    return {node: i for i, members in enumerate(ranked) for node in members}
