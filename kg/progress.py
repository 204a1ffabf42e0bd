"""A progress bar on a terminal (rich), nothing when output is piped."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from kg.build import Progress


@contextmanager
def progress_bar(*, enabled: bool = True) -> Iterator[Progress | None]:
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TimeElapsedColumn

    # Redrawn on each update rather than by a refresh thread: kg forks its workers only while no
    # other thread runs (kg.processes.can_fork).
    with Bar("extracting", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True, auto_refresh=False) as bar:
        task = bar.add_task("extracting", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)
            bar.refresh()

        yield update
