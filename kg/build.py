"""The pipeline end to end: read -> extract -> resolve -> graph -> export, written atomically.

`build_vault` is the library entry point the CLI calls. It never prints: progress goes to an
optional callback, problems into the returned BuildResult (and OUT/report.json).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from kg.cache import CACHE_FOLDER, CacheStats, ExtractionCache
from kg.dictionary import load_dictionary
from kg.errors import ExportError, VaultError
from kg.export import render_all
from kg.graph import build_graph
from kg.model import ARTICLE, ENTITY_KINDS, TOPIC, Note, Problem
from kg.parallel import default_jobs, extract_all
from kg.read import read_vault

Progress = Callable[[int, int], None]


@dataclass
class BuildResult:
    """What a build produced and what went wrong on the way."""

    notes: list[Note]
    graph: nx.MultiDiGraph
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    cache: CacheStats | None = None  # how the extraction cache served this build (None: no cache)

    def summary(self) -> dict[str, int | float]:
        kinds = [data["kind"] for _, data in self.graph.nodes(data=True)]
        return {
            "notes": len(self.notes),
            "articles": sum(1 for n in self.notes if n.kind == ARTICLE),
            "topics": sum(1 for n in self.notes if n.kind == TOPIC),
            "entities": sum(1 for k in kinds if k in ENTITY_KINDS),
            "edges": self.graph.number_of_edges(),
            "warnings": sum(1 for p in self.problems if p.level != "info"),
            "seconds": round(self.seconds, 2),
        }


def build_vault(
    vault: Path,
    out: Path,
    *,
    dictionaries: tuple[Path, ...] = (),
    progress: Progress | None = None,
    options: dict | None = None,
    jobs: int | None = None,
    scheduler: str | None = None,
    cache: bool = True,
    cache_dir: Path | None = None,
) -> BuildResult:
    """Build every output of `vault` into `out`; raise VaultError when nothing can be built.

    Extraction runs in `jobs` processes (default: every core) or on the Dask `scheduler`; with
    `cache`, each note's extraction is kept in `cache_dir` (default OUT/.kg-cache) and reused while
    the note, kg and the dictionary are unchanged. None of these change the outputs.
    """
    started = time.perf_counter()
    vault = Path(vault)
    notes, problems = read_vault(vault)
    if not notes:
        detail = f" ({len(problems)} file(s) could not be read)" if problems else ""
        raise VaultError(f"{vault}: no notes (.md, .markdown or .txt files) found{detail}")
    dictionary = load_dictionary(tuple(dictionaries))
    store = ExtractionCache(Path(cache_dir or Path(out) / CACHE_FOLDER), dictionary_digest=dictionary.digest) if cache else None
    extractions = extract_all(notes, dictionary, jobs=jobs, scheduler=scheduler, cache=store, progress=progress)
    graph = build_graph(notes, extractions, dictionary)
    result = BuildResult(notes=notes, graph=graph, problems=problems, cache=store.stats if store else None)
    contents = render_all(graph, jobs=1 if scheduler else (jobs or default_jobs()), **(options or {}))
    contents["report.json"] = report_json(problems)
    result.files = write_atomically(Path(out), contents)
    result.seconds = time.perf_counter() - started
    return result


def problem_order(problem: Problem) -> tuple[str, str, str]:
    """The one order of problems, on stderr and in report.json alike."""
    return (problem.path, problem.what, problem.action)


def report_json(problems: list[Problem]) -> str:
    """OUT/report.json: each problem as fields and as the exact line printed on stderr."""
    rows = [
        {"path": p.path, "what": p.what, "action": p.action, "level": p.level, "line": p.line()}
        for p in sorted(problems, key=problem_order)
    ]
    return json.dumps({"problems": rows}, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def write_atomically(out: Path, contents: dict[str, str]) -> list[Path]:
    """Write every file into a temporary folder beside `out`, then move them all into place.

    The moves start only when every file is written and synced, and the whole write runs with
    SIGINT/SIGTERM held back, so Ctrl-C or a kill at any moment leaves `out` with either all previous
    or all new files, each whole, and no temporary folder. Files in `out` that are not outputs are left alone. A temporary folder left by a
    killed build (SIGKILL) is removed by the next build.
    """
    # Writing takes about a second even for a big vault; holding Ctrl-C for that long means no
    # interrupt can land between creating the temporary folder and removing it.
    with _signals_held():
        try:
            out.mkdir(parents=True, exist_ok=True)
            _remove_stale_staging(out)
            staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent))
        except OSError as exc:
            raise ExportError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from exc
        try:
            for name, text in sorted(contents.items()):
                with open(staging / name, "w", encoding="utf-8", newline="\n") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())
            written = []
            for name in sorted(contents):
                os.replace(staging / name, out / name)
                written.append(out / name)
            _sync_folder(out)
            return written
        except OSError as exc:
            raise ExportError(f"{out}: cannot write the outputs ({exc.strerror or exc})") from exc
        except UnicodeEncodeError as exc:
            raise ExportError(f"{out}: an output holds text that is not valid Unicode ({exc.reason})") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)


_HELD_SIGNALS = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _signals_held() -> Iterator[None]:
    """Delay SIGINT and SIGTERM until the block ends (where the platform allows it)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _remove_stale_staging(out: Path) -> None:
    """Remove `.OUT.<pid>.*.tmp` folders whose build process no longer exists (killed mid-write)."""
    if os.name != "posix":
        return
    prefix = f".{out.name}."
    for entry in out.parent.iterdir():
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp") and entry.is_dir()):
            continue
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not _process_exists(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _sync_folder(folder: Path) -> None:
    """Make the renames durable (POSIX); a failure here loses nothing already written."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
