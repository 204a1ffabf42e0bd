"""Extraction over a whole vault: in this process, in a pool of worker processes, or on a Dask cluster.

Extraction is a pure function of one note and the dictionary, so it can run anywhere and in any
order; results are merged by note path, so every back-end gives the same dict, whatever the number
of workers. A Matcher (with its own jieba.Tokenizer) may not pickle, so it never travels: local
workers are forked from a process that built one (or, where forking is not safe, each builds its
own once), and each Dask worker builds one from the Dictionary, once, for every note it is given.

Entry points: `extract_all` (every extraction returned), `extract_into` (each stored in the
extraction cache as it comes: what `build_vault` uses with the cache), and `WarmWorker` (a delta
build's few notes, kg.delta).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import ExitStack, nullcontext

from kg.cache import ExtractionCache, NoteBodies, StoredExtractions, WordTable
from kg.dictionary import Dictionary
from kg.errors import ExtractionError
from kg.discover import Lexicon
from kg.extract import Matcher, build_matcher, extract
from kg.model import Extraction, Note
from kg.processes import can_fork, default_jobs, follow_parent, frozen_heap, stop_pool, worker_pool

Progress = Callable[[int, int], None]

# Below this many notes to extract, starting worker processes costs more than it saves.
MIN_NOTES_FOR_POOL = 48
# Notes per task: small enough to spread the work evenly and move the progress bar, big enough to amortise a round trip.
MAX_CHUNK = 64


def extract_all(
    notes: Sequence[Note],
    dictionary: Dictionary,
    *,
    jobs: int | None = None,
    scheduler: str | None = None,
    cache: ExtractionCache | None = None,
    progress: Progress | None = None,
    keys: dict[str, str] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> dict[str, Extraction]:
    """path -> Extraction for every note: from `cache` where valid, else extracted and stored back.

    `scheduler` (a Dask scheduler address) sends the work to that cluster; otherwise `jobs` worker
    processes (default: every core) share it, or this process does it alone when jobs is 1 or
    there are only a few notes to extract. `keys` are the notes' cache keys, if already computed.

    `meanwhile` is work of the caller's that does not need the extractions (e.g. imports); it is
    called once, while workers extract where there are workers. With a few notes to extract, jobs
    above 1 and forking safe, one forked worker extracts them (building its jieba tokenizer, most
    of the time) while this process does `meanwhile`: after a one-note edit, the two overlap.
    """
    total = len(notes)
    done: dict[str, Extraction] = {}
    if cache is not None:
        done, keys = cache.load(notes, keys=keys)
    pending = [note for note in notes if note.path not in done]
    report = _Counter(progress, total, start=len(done))
    if pending and scheduler:
        from kg.cluster import extract_on_cluster

        done.update(extract_on_cluster(pending, dictionary, address=scheduler, chunk=_chunk_size(len(pending), 8), progress=report))
    else:
        done.update(extract_notes(pending, dictionary, jobs=jobs, cache=cache, progress=report, meanwhile=meanwhile))
        meanwhile = None
    if meanwhile is not None:
        meanwhile()
    if cache is not None:
        cache.save({path: (keys[path], done[path]) for path in (note.path for note in pending)}, keep=keys)
    return {note.path: done[note.path] for note in sorted(notes, key=lambda n: n.path)}


def extract_into(
    notes: Sequence[Note],
    dictionary: Dictionary,
    *,
    cache: ExtractionCache,
    keys: dict[str, str],
    jobs: int | None = None,
    scheduler: str | None = None,
    progress: Progress | None = None,
    meanwhile: Callable[[], object] | None = None,
    bodies: NoteBodies | None = None,
) -> StoredExtractions:
    """Make sure `cache` holds every note's extraction under its key (`keys`): the notes it does
    not hold are extracted (as `extract_all` does) and stored one by one as they come, never all
    held (at 50,000 notes, over half a GiB). Returns what reads them back in order.

    With `bodies`, `notes` come without their text and each extracting process reads the text
    of the notes it is given from there (a Dask cluster is sent them, read here)."""
    stored_paths = cache.stored_paths(keys)
    pending = [note for note in notes if note.path not in stored_paths]
    cache.stats.hits, cache.stats.misses = len(notes) - len(pending), len(pending)
    report = _Counter(progress, len(notes), start=len(notes) - len(pending))
    with cache.storing(keys) as stored:
        if pending and scheduler:
            from kg.cluster import extract_on_cluster

            whole = bodies.fill(pending) if bodies is not None else pending
            extract_on_cluster(whole, dictionary, address=scheduler, chunk=_chunk_size(len(pending), 8), progress=report, keep=stored.put)
        else:
            extract_notes(pending, dictionary, jobs=jobs, cache=cache, progress=report, meanwhile=meanwhile, keep=stored.put, bodies=bodies)
            meanwhile = None
        if meanwhile is not None:
            meanwhile()
    return stored


def extract_notes(
    notes: Sequence[Note],
    dictionary: Dictionary,
    *,
    jobs: int | None = None,
    cache: ExtractionCache | None = None,
    progress: Callable[[int], None] | None = None,
    meanwhile: Callable[[], object] | None = None,
    keep: Keep | None = None,
    bodies: NoteBodies | None = None,
) -> dict[str, Extraction]:
    """path -> Extraction of each of `notes`, made here or by `jobs` worker processes (the word
    lists and the tokenizer's table from `cache` when it keeps them), `meanwhile` called once on
    the way (while a worker extracts, where there is one). `progress(n)`: n more notes done.
    With `keep`, each extraction goes there as it is made instead (the dict returned is empty).
    With `bodies`, the notes come without their text and are read from there a chunk at a time."""
    report = progress or (lambda _n: None)
    if not notes:
        report(0)
        if meanwhile is not None:
            meanwhile()
        return {}
    jobs = jobs or default_jobs()

    def lexicon() -> Lexicon | None:
        return cache.lexicon(dictionary) if cache is not None else None

    words = cache.word_table(dictionary) if cache is not None else None
    if jobs > 1 and (len(notes) >= MIN_NOTES_FOR_POOL or (meanwhile is not None and can_fork())):
        return _extract_in_pool(notes, dictionary, jobs=jobs, progress=report, lexicon=lexicon, words=words, meanwhile=meanwhile, keep=keep, bodies=bodies)
    fresh = _extract_here(notes, dictionary, progress=report, lexicon=lexicon(), words=words, keep=keep, bodies=bodies)
    if meanwhile is not None:
        meanwhile()
    return fresh


class WarmWorker:
    """One forked worker that builds its matcher (the dictionary, the word lists, the automaton,
    the tokenizer: most of half a second) as soon as it starts, for a build that will soon have a
    few notes to extract (kg.delta): by the time this process has read them, the matcher is ready.

    A context manager; `extract(notes, meanwhile)` gives path -> Extraction. Without forking (or
    with jobs 1) the notes are extracted in this process, when asked. Leaving the block ends the
    worker at once, warm or not."""

    def __init__(self, matcher: Callable[[], Matcher], *, jobs: int) -> None:
        self.matcher = matcher
        self.jobs = jobs
        self.pool = None
        self._stack = ExitStack()

    def __enter__(self) -> WarmWorker:
        if self.jobs > 1 and can_fork():
            _WORKER_FACTORY[:] = [self.matcher]
            self._stack.callback(_WORKER_FACTORY.clear)
            self.pool = self._stack.enter_context(worker_pool(1, multiprocessing.get_context("fork"), follow_parent, (os.getpid(),), died=_extractor_died))
            self.pool.submit(_warm_up)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            stop_pool(self.pool)  # a worker still warming up is not waited for
        self._stack.__exit__(*exc)

    def extract(self, notes: Sequence[Note], *, meanwhile: Callable[[], object] | None = None) -> dict[str, Extraction]:
        if self.pool is None:
            if meanwhile is not None:
                meanwhile()
            return dict(extract_chunk(notes, self.matcher())) if notes else {}
        running = [self.pool.submit(_worker_chunk, chunk) for chunk in chunks(notes, MAX_CHUNK)]
        if meanwhile is not None:
            meanwhile()
        out: dict[str, Extraction] = {}
        for future in running:
            out.update(future.result())
        return out


def _warm_up() -> None:
    _worker_matcher().tokenizer  # noqa: B018 - made now, not when the first note comes


def _worker_matcher() -> Matcher:
    """This worker's matcher, made from _WORKER_FACTORY the first time."""
    if not _WORKER_MATCHER:
        _WORKER_MATCHER[:] = [_WORKER_FACTORY[0]()]
    return _WORKER_MATCHER[0]


def extract_chunk(notes: Sequence[Note], matcher: Matcher) -> list[tuple[str, Extraction]]:
    """The work unit every back-end runs: a few notes with one matcher."""
    return [(note.path, extract(note, matcher)) for note in notes]


def chunks(notes: Sequence[Note], size: int) -> Iterator[list[Note]]:
    for start in range(0, len(notes), size):
        yield list(notes[start : start + size])


def _chunk_size(pending: int, workers: int) -> int:
    """About eight chunks per worker, at most MAX_CHUNK notes each."""
    return max(1, min(MAX_CHUNK, pending // (workers * 8) or 1))


class _Counter:
    """Turns "n more notes done" into progress(done, total) calls."""

    def __init__(self, progress: Progress | None, total: int, *, start: int) -> None:
        self.progress, self.total, self.done = progress, total, start

    def __call__(self, more: int) -> None:
        self.done += more
        if self.progress is not None:
            self.progress(self.done, self.total)


def _extract_here(
    notes: Sequence[Note],
    dictionary: Dictionary,
    *,
    progress: Callable[[int], None],
    lexicon: Lexicon | None = None,
    words: WordTable | None = None,
    keep: Keep | None = None,
    bodies: NoteBodies | None = None,
) -> dict[str, Extraction]:
    matcher = build_matcher(dictionary, lexicon, words)
    out = {}
    for chunk in chunks(notes, MAX_CHUNK):
        for note in bodies.fill(chunk) if bodies is not None else chunk:
            if keep is not None:
                keep([(note.path, extract(note, matcher))])
            else:
                out[note.path] = extract(note, matcher)
            progress(1)
    return out


# Where extractions go as they are made, instead of into the dict returned: (path, extraction) pairs.
Keep = Callable[[list[tuple[str, Extraction]]], None]


# The matcher of a worker process: set by the spawn initializer in the worker, or in the parent
# just before it forks its workers (and cleared right after), or made by the one forked worker
# from _WORKER_FACTORY (set likewise); the only module state here.
_WORKER_MATCHER: list[Matcher] = []
_WORKER_FACTORY: list[Callable[[], Matcher]] = []


def _start_worker(dictionary: Dictionary, lexicon: Lexicon | None = None, words: WordTable | None = None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the parent handles it
    _WORKER_MATCHER[:] = [build_matcher(dictionary, lexicon, words)]


def _worker_chunk(notes: list[Note], bodies: NoteBodies | None = None) -> list[tuple[str, Extraction]]:
    return extract_chunk(bodies.fill(notes) if bodies is not None else notes, _worker_matcher())


def _extractor_died(exc: Exception) -> ExtractionError:
    error = ExtractionError(f"a worker process died while extracting ({exc})")
    error.hint = "the machine may be out of memory: try fewer workers with --jobs, or --jobs 1"
    return error


def _extract_in_pool(
    notes: Sequence[Note],
    dictionary: Dictionary,
    *,
    jobs: int,
    progress: Callable[[int], None],
    lexicon: Callable[[], Lexicon | None] = lambda: None,
    words: WordTable | None = None,
    meanwhile: Callable[[], object] | None = None,
    keep: Keep | None = None,
    bodies: NoteBodies | None = None,
) -> dict[str, Extraction]:
    """Spread `notes` over `jobs` worker processes, calling `meanwhile` here once they have work
    (with `bodies`, the notes come without their text, and each worker reads its chunk's).

    Where forking is safe (`can_fork`), this process builds the matcher and its jieba tokenizer
    once and forks workers that share it; otherwise each worker is spawned fresh and builds its own
    (about a second each, and the imports). A few notes (one worker) go to a forked worker that
    builds its own matcher (`lexicon()`, the word lists, and the tokenizer), so that this process
    can do `meanwhile` at the same time.
    """
    workers = min(jobs, len(notes)) if len(notes) >= MIN_NOTES_FOR_POOL else 1
    forked = can_fork()
    if forked and workers > 1:
        matcher = build_matcher(dictionary, lexicon(), words)
        matcher.tokenizer  # noqa: B018 - built before the fork, so no worker builds its own
        _WORKER_MATCHER[:] = [matcher]
    elif forked:
        _WORKER_FACTORY[:] = [lambda: build_matcher(dictionary, lexicon(), words)]
    if forked:
        context, initializer, initargs = multiprocessing.get_context("fork"), follow_parent, (os.getpid(),)
    else:
        context, initializer, initargs = multiprocessing.get_context("spawn"), _start_worker, (dictionary, lexicon(), words)
    out: dict[str, Extraction] = {}
    try:
        with frozen_heap() if forked else nullcontext(), worker_pool(workers, context, initializer, initargs, died=_extractor_died) as pool:
            running: set[Future] = {pool.submit(_worker_chunk, chunk, bodies) for chunk in chunks(notes, _chunk_size(len(notes), workers))}
            if meanwhile is not None:
                meanwhile()
            while running:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    results = future.result()
                    if keep is not None:
                        keep(results)
                    else:
                        out.update(results)
                    progress(len(results))
    finally:
        _WORKER_MATCHER.clear()
        _WORKER_FACTORY.clear()
    return out
