"""Output formats. Each module has a pure builder (graph -> text) and is registered here once.

Adding a format is adding one module and one line to `formats`.

`write_all` writes every format into a folder, side by side in forked worker processes when it
may (see `kg.processes.can_fork`): a forked child reads the graph without it being pickled, and
each writes its own file, so no text travels between processes and no process holds more than
one output. Each forked writer still ends up with a copy of most of the graph (reference counts
write to every object read), so on a graph too big for that copy this process writes every file
itself, graph.ttl while a spawned worker lays out the page and the rest after it. `patch_all`
writes them after a delta build (kg.delta), the page in a forked worker. The files are the same bytes however they were
written; `render_all` gives the same texts as strings.
"""

from __future__ import annotations

import io
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from typing import TYPE_CHECKING


from kg.errors import ExportError
from kg.fragments import CannotPatch
from kg.graph import edge_count
from kg.processes import affordable_workers, can_fork, follow_parent, frozen_heap, give_back_memory, worker_pool

if TYPE_CHECKING:
    import networkx as nx

    from kg.delta import Changes


@dataclass(frozen=True)
class Format:
    """One output file: its name in OUT, the pure function that renders it, and optionally one that
    streams it to a text handle (without holding the whole text)."""

    filename: str
    render: Callable[..., str]
    stream: Callable[..., None] | None = None
    patch: Callable[..., None] | None = None  # writes the file after kg.delta's Changes, from the published one

    def write(self, graph: nx.MultiDiGraph, handle: TextIO, **options: object) -> None:
        if self.stream is not None:
            self.stream(graph, handle, **options)
        else:
            handle.write(self.render(graph, **options))


def formats() -> dict[str, Format]:
    from kg.export import graphml, html, json, turtle

    return {
        "ttl": Format("graph.ttl", turtle.render, turtle.stream, turtle.patch),
        "json": Format("graph.json", json.render, json.stream, json.patch),
        "graphml": Format("graph.graphml", graphml.render, graphml.stream, graphml.patch),
        "html": Format("graph.html", html.render, html.stream, html.patch),
    }


# Longest first, so that with two workers the short ones fill in behind the long ones.
_WRITE_ORDER = ("ttl", "html", "graphml", "json")

# Below this many edges a worker process costs more than it saves.
MIN_EDGES_FOR_WORKERS = 5_000

# A forked writer comes to copy most of the graph (see affordable_workers), about 700 bytes an edge.
# Past this many edges (about 25,000 notes) that is GiBs: the build process then writes every
# format itself while one spawned worker lays out the page, from arrays (see _write_beside_layout).
COPY_GRAPH_UP_TO_EDGES = 1_000_000


def render_all(graph: nx.MultiDiGraph, **options: object) -> dict[str, str]:
    """filename -> content for every registered format, rendered here."""
    out = {}
    for fmt in formats().values():
        buffer = io.StringIO(newline="\n")
        fmt.write(graph, buffer, **options)
        out[fmt.filename] = buffer.getvalue()
    return out


def write_all(graph: nx.MultiDiGraph, folder: Path, *, jobs: int = 1, fragments: Path | None = None, published: Path | None = None, **options: object) -> list[str]:
    """Write every registered format into `folder` (each file synced to disk); their file names.

    `fragments` is a cache folder where formats that can keep pieces of their file between builds
    (see kg.fragments) do so, and `published` the folder the files written here will be moved to
    (where the last build's are now: pieces are copied from them); neither changes the bytes written.

    With `jobs` > 1 on a big graph, `jobs` processes write the formats at once: this one and
    forked workers (as many as free memory allows, see `affordable_workers`), each taking the next
    format whenever it is free; else this process writes them one after the other. Past
    COPY_GRAPH_UP_TO_EDGES edges, this process writes them all, graph.ttl while one spawned
    worker lays out the page (from arrays: no copy of the graph), the others after it.
    """
    registered = formats()
    names = [name for name in _WRITE_ORDER if name in registered] + sorted(set(registered) - set(_WRITE_ORDER))
    if fragments is not None:
        options = {**options, "fragments": fragments, "published": published}
    edges = edge_count(graph) if jobs >= 2 else 0
    if edges > COPY_GRAPH_UP_TO_EDGES and "html" in registered:
        _write_beside_layout(registered, names, graph, folder, options)
    elif edges >= MIN_EDGES_FOR_WORKERS and can_fork() and (forked := affordable_workers(min(jobs, len(names)) - 1)):
        turns = Turns(names)
        _SHARED[:] = [graph, folder, options, turns]
        try:
            with frozen_heap(), worker_pool(forked, multiprocessing.get_context("fork"), follow_parent, (os.getpid(),), died=_writer_died) as pool:
                share_out(turns, [pool.submit(_write_turns) for _ in range(forked)], lambda name: _write(registered[name], graph, folder, options))
        finally:
            _SHARED.clear()
    else:
        for name in names:
            _write(registered[name], graph, folder, options)
    return [registered[name].filename for name in registered]


def patch_all(changes: Changes, folder: Path, *, fragments: Path, published: Path, jobs: int = 1, meanwhile: Callable[[], object] | None = None) -> list[str]:
    """Write every registered format into `folder` after kg.delta's `changes`, each from its file as
    published (raises kg.fragments.CannotPatch when one cannot be); their file names. With `jobs`
    > 1, a forked worker writes the page (the longest: it is written whole) while this process
    patches the others, then runs `meanwhile` (the caller's own work, such as saving its state),
    then waits for the page."""
    registered = formats()
    names = [name for name in _WRITE_ORDER if name in registered] + sorted(set(registered) - set(_WRITE_ORDER))
    for name in names:
        if registered[name].patch is None:
            raise CannotPatch(f"{registered[name].filename}: this format cannot be patched")
    options = {"fragments": fragments, "published": published, "jobs": jobs}
    if jobs > 1 and can_fork() and "html" in names:
        _SHARED[:] = [changes, folder, options]
        try:
            with frozen_heap(), worker_pool(1, multiprocessing.get_context("fork"), follow_parent, (os.getpid(),), died=_writer_died) as pool:
                page = pool.submit(_patch_shared, "html")
                for name in names:
                    if name != "html":
                        _patch(registered[name], changes, folder, options)
                if meanwhile is not None:
                    meanwhile()
                page.result()
        finally:
            _SHARED.clear()
    else:
        for name in names:
            _patch(registered[name], changes, folder, options)
        if meanwhile is not None:
            meanwhile()
    return [fmt.filename for fmt in registered.values()]


def _patch(fmt: Format, changes: Changes, folder: Path, options: dict) -> None:
    write_file(folder / fmt.filename, lambda handle: fmt.patch(changes, handle, **options))


def _patch_shared(name: str) -> None:
    """A forked writer's task: patch the format `name` with what `patch_all` shared before forking."""
    changes, folder, options = _SHARED
    _patch(formats()[name], changes, folder, options)


def _write_beside_layout(registered: dict[str, Format], names: list[str], graph: nx.MultiDiGraph, folder: Path, options: dict) -> None:
    """Write `names` here, the page last: BESIDE_LAYOUT while one worker computes the page's
    layout and communities (kg.layout.place: the projection's arrays in, positions out), the
    others after it has ended.

    The worker is spawned, not forked: a forked child shares this process's pages, and every page
    this process then writes to while it renders (each object it reads, through its reference
    count) would be copied, one copy each: at 50,000 notes the two came to hold 4 GiB. It holds up
    to 0.3 GiB of its own (igraph's communities, early on), and 0.1 GiB once done. Beside it this
    process writes graph.ttl, the longest to write (45 s at 50,000 notes, the layout 14 s: this
    process never waits), and the others once it has ended, so that the worker is gone while
    graph.html, whichever writer comes second and the rest grow this process (the first writer
    grew it by 0.1-0.2 GiB at 50,000 notes, whichever format it was)."""
    from kg.export import html
    from kg.layout import place_in_worker

    drawn = html.drawing(graph, max_nodes=options.get("max_nodes"))
    give_back_memory()  # what making the projection took and let go (tens of MB at 50,000 notes)
    beside = [name for name in BESIDE_LAYOUT if name in names]
    with worker_pool(1, multiprocessing.get_context("spawn"), follow_parent, (os.getpid(),), died=_writer_died) as pool:
        placing = pool.submit(place_in_worker, drawn.simple, options.get("fragments"))  # the worker imports kg.layout alone
        for name in beside:
            _write(registered[name], graph, folder, options)
        placed = placing.result()
    for name in names:
        if name != "html" and name not in beside:
            _write(registered[name], graph, folder, options)
    _write(registered["html"], graph, folder, {**options, "drawn": drawn, "placed": placed})


# What this process writes while a spawned worker lays out a big graph's page (see _write_beside_layout).
BESIDE_LAYOUT = ("ttl",)


class Turns:
    """`names` handed out one at a time, each to whichever process asks first: this one and the
    writers it forks share the counter (shared memory made before the fork; threads may share it too)."""

    def __init__(self, names: list[str]) -> None:
        self.names = list(names)
        self._next = multiprocessing.get_context("fork").Value("i", 0)

    def take(self) -> str | None:
        """The next name nobody has taken yet, or None when all are taken."""
        with self._next.get_lock():
            index = self._next.value
            self._next.value = index + 1
        return self.names[index] if index < len(self.names) else None


def share_out(turns: Turns, workers: list[Future], write_here: Callable[[str], None]) -> None:
    """Write every name of `turns` here (`write_here`) while the `workers` (futures of tasks that
    do the same, see `_write_turns`) take theirs; raise a worker's error once all are done.

    Each writer takes the next name whenever it is free, so nobody waits while a format is left:
    how long a format takes depends on the graph and on what its cache holds. (Handing formats
    out from here, between this process's own, left a forked writer idle for a second at 10,000
    notes while this process wrote.) Doing a share here also spares one forked copy of the graph
    (each forked writer comes to copy most of it)."""
    while (name := turns.take()) is not None:
        write_here(name)
    for future in workers:
        future.result()


def _writer_died(exc: Exception) -> ExportError:
    error = ExportError(f"a worker process died while writing the outputs ({exc})")
    error.hint = "the machine may be out of memory: try --jobs 1"
    return error


def _write(fmt: Format, graph: nx.MultiDiGraph, folder: Path, options: dict) -> None:
    write_file(folder / fmt.filename, lambda handle: fmt.write(graph, handle, **options))
    give_back_memory()  # what the format used while it was made (the page's projection and layout: hundreds of MB at 50,000 notes)


def write_file(path: Path, write: Callable[[TextIO], object]) -> None:
    """Create `path` (UTF-8, `\\n` line ends), let `write` fill it, and sync it to disk."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        write(handle)
        handle.flush()
        os.fsync(handle.fileno())


# What forked writers read, set in the parent just before they fork and cleared after: [graph,
# folder, options, turns] for write_all, [changes, folder, options] for patch_all.
_SHARED: list = []


def _write_turns() -> None:
    """A forked writer's task: write formats until `share_out`'s turns are all taken."""
    graph, folder, options, turns = _SHARED
    registered = formats()
    while (name := turns.take()) is not None:
        _write(registered[name], graph, folder, options)
