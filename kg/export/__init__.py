"""Output formats. Each module has a pure builder (graph -> text) and is registered here once.

Adding a format is adding one module and one line to FORMATS.

`render_all` renders the formats side by side in forked worker processes when it may (see
`_can_fork`): they only read the graph, which a forked child shares with its parent without
copying or pickling it. The texts are the same bytes however they were rendered.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import networkx as nx

from kg.errors import ExportError


@dataclass(frozen=True)
class Format:
    """One output file: its name in OUT and the pure function that renders it."""

    filename: str
    render: Callable[..., str]


def formats() -> dict[str, Format]:
    from kg.export import graphml, html, json, turtle

    return {
        "ttl": Format("graph.ttl", turtle.render),
        "json": Format("graph.json", json.render),
        "graphml": Format("graph.graphml", graphml.render),
        "html": Format("graph.html", html.render),
    }


# Longest first, so that with two workers the short ones fill in behind the long ones.
_RENDER_ORDER = ("ttl", "html", "graphml", "json")

# Below this many edges a worker process costs more than it saves.
MIN_EDGES_FOR_WORKERS = 20_000


def render_all(graph: nx.MultiDiGraph, *, jobs: int = 1, **options: object) -> dict[str, str]:
    """filename -> content for every registered format, in `jobs` processes when that helps."""
    registered = formats()
    if jobs < 2 or graph.number_of_edges() < MIN_EDGES_FOR_WORKERS or not _can_fork():
        return {fmt.filename: fmt.render(graph, **options) for fmt in registered.values()}
    names = [name for name in _RENDER_ORDER if name in registered] + sorted(set(registered) - set(_RENDER_ORDER))
    _SHARED[:] = [graph, options]
    try:
        with ProcessPoolExecutor(max_workers=min(jobs, len(names)), mp_context=multiprocessing.get_context("fork"), initializer=_start_worker) as pool:
            futures = {name: pool.submit(_render_shared, name) for name in names}
            try:
                texts = {name: future.result() for name, future in futures.items()}
            except KeyboardInterrupt:
                _stop(pool)
                raise
    except BrokenProcessPool as exc:
        error = ExportError(f"a worker process died while rendering the outputs ({exc})")
        error.hint = "the machine may be out of memory: try --jobs 1"
        raise error from exc
    finally:
        _SHARED.clear()
    return {registered[name].filename: texts[name] for name in registered}


def _stop(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C: drop queued formats and end the running ones now, not when they are rendered."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.terminate()


def _can_fork() -> bool:
    """Fork only where it exists and no other thread runs: a thread holding a lock at fork time
    (a progress bar writing to stderr, a Dask client) could leave the child waiting forever."""
    return hasattr(os, "fork") and sys.platform != "darwin" and threading.active_count() == 1


# The graph and options, set in the parent just before the workers fork and read by them; cleared after.
_SHARED: list = []


def _start_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent handles it


def _render_shared(name: str) -> str:
    graph, options = _SHARED
    return formats()[name].render(graph, **options)
