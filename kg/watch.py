"""`kg build --watch`: build, then build again whenever a note (or a dictionary) changes, in one
resident process.

Each build after the first is the delta build `kg build` makes (kg.delta: only what changed made
again, the same bytes as a whole build). What a fresh process pays before every such build is paid
here once: Python's imports (0.3 s), the layout's (0.3 s: numba with the layout's compiled loop, and
igraph, made ready before the page's workers are forked from this process), and the extraction's matcher (0.3 s: kept between
builds for the same dictionary and code, so a changed note is extracted here, at once). Changes are
watched with watchfiles (inotify on Linux, its own polling where there is none): between changes
the process only wakes every WAKE_MS to see whether it was asked to stop.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from kg.model import NOTE_SUFFIXES, SKIPPED_FOLDERS


def note_filter(vault: Path, ignored: Iterable[Path]) -> Callable[[object, str], bool]:
    """watchfiles' filter for `vault`: what `kg build` may read. Left out: anything under
    `ignored` (the output and cache folders, when they are inside the vault), hidden and tool
    folders (an editor's `.obsidian/` changes all the time), and files that are no notes. A
    path that is gone and has no note suffix may have been a folder of notes: kept."""
    root = Path(vault).resolve()
    skipped = [Path(folder).resolve() for folder in ignored]

    def wanted(_change: object, name: str) -> bool:
        path = Path(name)
        if any(path == folder or folder in path.parents for folder in skipped):
            return False
        try:
            parts = path.relative_to(root).parts
        except ValueError:
            return True  # outside the vault: a dictionary given with --dictionary
        if any(part.startswith(".") or part in SKIPPED_FOLDERS for part in parts):
            return False
        if path.name.lower().endswith(NOTE_SUFFIXES):
            return True
        return not path.is_file()

    return wanted


def warm_up() -> None:
    """Import what a build that lays the page out again needs, so that the workers forked for it
    have it already."""
    from kg.export import formats
    from kg.export.html import prepare
    from kg.layout import prepare as prepare_layout

    formats()
    prepare()
    prepare_layout()


def watch(vault: Path, *, watched: Iterable[Path] = (), ignored: Iterable[Path] = (), first: Callable[[], object], rebuild: Callable[[], object], stop: threading.Event | None = None, step_ms: int = 50) -> None:
    """Start watching the notes of `vault` (and the files `watched`), then call `first()` (the
    first build: a change made while it runs is seen after it), then `rebuild()` after each batch
    of changes, until `stop` is set or Ctrl-C (KeyboardInterrupt, raised). A batch ends when
    nothing more has changed for `step_ms` milliseconds."""
    from watchfiles import watch as changes

    paths = [Path(vault), *(Path(path) for path in watched)]
    # The watcher starts with the first wait (it ends on a change or after WAKE_MS): from then on
    # every change is kept until asked for, builds or not.
    batches = changes(*paths, watch_filter=note_filter(vault, ignored), step=step_ms, stop_event=stop, raise_interrupt=True, rust_timeout=WAKE_MS, yield_on_timeout=True)
    try:
        if next(batches, None) is None:  # stopped already
            return
        first()  # reads the vault after whatever that first wait saw
        warm_up()
        for batch in batches:
            if batch:
                rebuild()
    finally:
        batches.close()


WAKE_MS = 200  # how long watchfiles waits for a change before the loop looks at `stop` (and Ctrl-C) again
