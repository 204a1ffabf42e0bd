"""Worker processes: when forking is safe, and how a worker behaves (Ctrl-C, a killed parent).

kg forks workers where it can (extraction, writing the outputs): a forked child shares the
parent's matcher, graph and word lists without pickling or rebuilding them. Where a fork would
copy too much, or cannot be made, workers are spawned instead (see kg.export, kg.parallel).
"""

from __future__ import annotations

import functools
import gc
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from multiprocessing.context import BaseContext

import psutil

from kg.errors import KgError


def default_jobs() -> int:
    """Every core this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def can_fork() -> bool:
    """Fork only where it exists and no other thread runs: a thread holding a lock at fork time
    (a progress bar writing to stderr, a Dask client) could leave the child waiting forever."""
    return hasattr(os, "fork") and sys.platform != "darwin" and threading.active_count() == 1


def follow_parent(parent: int) -> None:
    """Pool initializer of a worker (forked, or spawned with nothing of its own to set up): leave
    Ctrl-C to the parent, and die with it."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent handles it
    die_with_parent(parent)


def die_with_parent(parent: int) -> None:
    """Linux: end this worker when the build process dies (kill -9), instead of working on for
    nobody (and writing into a temporary folder the next build is about to remove)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)


def stop_pool(pool: ProcessPoolExecutor) -> None:
    """Ctrl-C: drop the queued work and end the workers now, not when their current task is done."""
    workers = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for worker in workers:
        worker.terminate()
    for worker in workers:  # gone before the caller cleans up after them (e.g. removes their folder)
        worker.join(10)
    if manager is not None and manager is not threading.current_thread():
        # The pool's own thread, which shutdown(wait=False) leaves running a moment: while it runs
        # this process cannot fork (can_fork), and a delta's page writer would not be forked.
        manager.join(10)


@contextmanager
def worker_pool(workers: int, context: BaseContext, initializer: Callable, initargs: tuple, *, died: Callable[[BrokenProcessPool], KgError]) -> Iterator[ProcessPoolExecutor]:
    """A process pool whose workers end at once on Ctrl-C, and whose death (out of memory, a crash)
    becomes the KgError `died` makes."""
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer, initargs=initargs) as pool:
            try:
                yield pool
            except KeyboardInterrupt:
                stop_pool(pool)
                raise
    except BrokenProcessPool as exc:
        raise died(exc) from exc


def affordable_workers(wanted: int) -> int:
    """How many of `wanted` forked workers this machine's free memory can hold (maybe none).

    A forked child shares the parent's pages, but CPython's reference counts write to every object
    it reads, so a child that walks the whole graph (an output writer) ends up with a private copy of
    most of them: plan on each holding as much as this process does now (past a million edges kg.export
    forks no writer at all). A machine without that to spare writes one file at a time instead.
    """
    if wanted < 1:
        return 0
    try:
        own = psutil.Process().memory_info().rss
        spare = psutil.virtual_memory().available
    except (psutil.Error, OSError):
        return wanted
    return max(0, min(wanted, int(spare * 0.8) // max(own, 1)))


def give_back_memory() -> None:
    """Return the free pages of the C heap to the system (glibc's malloc_trim; elsewhere nothing).

    Freed memory otherwise stays with the process: glibc only gives back the top of its heap, and
    a stage that drops big objects (the notes' bodies, the extractions once the graph holds what
    the outputs need) leaves holes all through it. At 10,000 notes this takes the build process
    from 519 to 404 MiB once the bodies are gone. Pages given back are also pages a forked writer
    never shares or copies."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@functools.cache
def _malloc_trim():  # noqa: ANN202 - a ctypes function or None
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        return ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Move every object to the permanent generation for the block, so forked workers' garbage
    collections never walk (and so copy) the pages they share with this process.

    No collection first, as Python's documentation of gc.freeze advises (it would free holes that
    new objects then fill, in pages the workers share): a full one took 0.18 s at 3,300 notes,
    twice a build, and found nothing to free."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@contextmanager
def collector_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector from running during the block (as it was after); also a
    decorator.

    For stages that make millions of objects that outlive them and no garbage in cycles (loading
    the cached extractions, making the graph): the collector, set off by the allocations, would
    walk them all again and again (at 3,300 notes, 60% of the time it takes to make the graph).
    Not for the writers: they drop networkx views, which are cycles.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()

