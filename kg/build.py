"""The pipeline end to end: read -> extract -> resolve -> graph -> export, written atomically.

`build_vault` is the library entry point the CLI calls. It never prints: progress goes to an
optional callback, problems into the returned BuildResult (and OUT/report.json).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING


from kg.cache import CacheStats, ExtractionCache, NoteCache, code_fingerprint, kept_dictionary
from kg.delta import Changes, Fallback, build_changes, fingerprint, hold_matcher, output_stamp
from kg.dictionary import load_dictionary
from kg.errors import ExportError, VaultError
from kg.export import formats, patch_all, write_all, write_file
from kg.fragments import CannotPatch
from kg.graph import build_graph, edge_count
from kg.layout import stand_down
from kg.model import ARTICLE, ENTITY_KINDS, TOPIC, Note, Problem
from kg.parallel import default_jobs, extract_all, extract_into
from kg.places import cache_folder
from kg.processes import collector_paused, give_back_memory
from kg.read import VaultFiles, read_vault
from kg.resolve import Resolution, resolve
from kg.state import BuildState, Known
from kg.vocab import DEFAULT_BASE, mint_text

if TYPE_CHECKING:
    import networkx as nx

Progress = Callable[[int, int], None]


@dataclass
class BuildResult:
    """What a build produced and what went wrong on the way."""

    notes: list[Note]  # as read, but without their bodies (only extraction reads them)
    graph: nx.MultiDiGraph | None
    problems: list[Problem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    seconds: float = 0.0
    cache: CacheStats | None = None  # how the extraction cache served this build (None: no cache)
    # True when nothing had changed since the last build into the same folder and its outputs were
    # kept as they were (see build_vault's `reuse_outputs`); `graph` is then None.
    unchanged: bool = False
    counts: dict[str, int] = field(default_factory=dict)  # entities and edges, when there is no graph
    changed: int | None = None  # notes changed, added or removed, when only what changed was made (kg.delta)
    fallback: str | None = None  # why a build that could have made only what changed was made whole
    held: tuple = field(default=(), repr=False, compare=False)  # what a delta build held (kg.delta.Outcome.held)

    def summary(self) -> dict[str, int | float]:
        if self.graph is not None:
            kinds = [data["kind"] for _, data in self.graph.nodes(data=True)]
            counts = {"entities": sum(1 for k in kinds if k in ENTITY_KINDS), "edges": edge_count(self.graph)}
        else:
            counts = self.counts
        return {
            "notes": len(self.notes),
            "articles": sum(1 for n in self.notes if n.kind == ARTICLE),
            "topics": sum(1 for n in self.notes if n.kind == TOPIC),
            "entities": counts.get("entities", 0),
            "edges": counts.get("edges", 0),
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
    reuse_outputs: bool = False,
    resident: bool = False,
) -> BuildResult:
    """Build every output of `vault` into `out`; raise VaultError when nothing can be built.

    Extraction runs in `jobs` processes (default: every core) or on the Dask `scheduler`; with
    `cache`, each note's extraction is kept in `cache_dir` (default OUT/.kg-cache) and reused while
    the note, kg and the dictionary are unchanged. None of these change the outputs.

    With `reuse_outputs` (and the cache), a build into the folder of the last build makes only what
    changed since (kg.delta: the same bytes as a whole build): when nothing has (each note, the
    problems met, kg's code, the dictionary, the options) and the outputs are still as that build
    left them, it writes nothing, `unchanged` set. Either way there is no graph in the result (the
    CLI does this; library callers get a graph unless they ask); when the change needs a whole
    build (`fallback` says why), the result has the graph as any whole build's has.

    `resident` (kg.watch: a process that builds again and again) keeps the extraction's matcher in
    this process once a build is done (the first time: a few tenths of a second after it), for the
    next build's changed notes.
    """
    started = time.perf_counter()
    vault, out = Path(vault), Path(out)
    folder = cache_folder(out, cache_dir)
    code = code_fingerprint() if cache else None
    options = dict(options or {})
    fallback, notices = None, ()
    if cache:
        _remove_stale_temporaries(folder)
    if cache and reuse_outputs and not scheduler:
        try:
            with collector_paused():  # it loads and makes lasting objects by the million, and leaves no cyclic garbage
                outcome = build_changes(vault, out, folder, dictionaries=tuple(dictionaries), options=options, jobs=jobs or default_jobs(), code=code, write=_patch_outputs(folder, jobs=jobs or default_jobs()), progress=progress, resident=resident)
        except (Fallback, CannotPatch) as exc:
            outcome, fallback, notices = None, str(exc), getattr(exc, "notices", ())
        finally:
            stand_down()  # the CLI's layout worker, when this delta has not used it (a whole build has no use for it)
        if outcome is not None:
            result = BuildResult(notes=outcome.notes, graph=None, problems=outcome.problems, files=outcome.files, cache=outcome.cache, unchanged=outcome.unchanged, counts=outcome.counts, changed=outcome.changed, held=outcome.held)
            if outcome.unchanged:
                _remove_stale_staging(out)  # what a killed build left, as a full build would
            result.seconds = time.perf_counter() - started
            if resident:
                hold_matcher(folder, tuple(dictionaries), code)
            return result
    read_at = time.time_ns()
    parsed = NoteCache(folder, code=code) if cache else None
    files = VaultFiles() if cache else None
    # With the cache, the notes are read without their text, which the extracting processes read
    # back from the note cache a chunk at a time: a vault's text is never all held.
    notes, problems = read_vault(vault, cache=parsed, files=files, bodies=parsed is None)
    if not notes:
        detail = f" ({len(problems)} file(s) could not be read)" if problems else ""
        raise VaultError(f"{vault}: no notes (.md, .markdown or .txt files) found{detail}")
    dictionary = kept_dictionary(folder, tuple(dictionaries), code=code) if cache else load_dictionary(tuple(dictionaries))
    store = ExtractionCache(folder, dictionary_digest=dictionary.digest, code=code) if cache else None
    if store is not None and parsed is not None:
        store.stats.notices += [*notices, *parsed.notices]
    keys = store.keys(notes, digests=parsed.digests if parsed is not None else None) if store is not None else None
    state = BuildState(folder) if cache else None
    # While workers extract, import the writers (igraph, rdflib...: most of a second).
    if store is not None:
        # Each extraction goes to the cache as it comes and is read back, one article at a time, as
        # the graph is made; names are resolved from the summaries kept beside them.
        extractions = extract_into(notes, dictionary, cache=store, keys=keys, jobs=jobs, scheduler=scheduler, progress=progress, meanwhile=formats, bodies=parsed.bodies())
        give_back_memory()
        resolution = resolve(notes, {}, dictionary, summaries=store.summaries_in_order(keys, held=extractions.held))
    else:
        extractions = extract_all(notes, dictionary, jobs=jobs, scheduler=scheduler, progress=progress, meanwhile=formats)
        notes = _without_bodies(notes)
        give_back_memory()
        resolution = resolve(notes, extractions, dictionary)
    graph = build_graph(notes, extractions, dictionary, resolution=resolution)
    del extractions  # the graph holds what the outputs need
    resolution.said = {}  # which entity each spelling names: the graph holds it now (the state keeps only the entities)
    give_back_memory()
    result = BuildResult(notes=notes, graph=graph, problems=problems, cache=store.stats if store else None, fallback=fallback)
    report = report_json(problems)
    writers = 1 if scheduler else (jobs or default_jobs())

    def produce(staging: Path) -> list[str]:
        names = write_all(graph, staging, jobs=writers, fragments=store.folder if store is not None else None, published=out, **options)
        write_file(staging / "report.json", lambda handle: handle.write(report))
        return [*names, "report.json"]

    if state is not None:
        state.forget()  # the outputs are about to change: never vouch for them half-way
    result.files = publish(out, produce)
    if state is not None and files is not None:
        summary = result.summary()
        known = known_state(graph, notes, resolution, files, counts={"entities": summary["entities"], "edges": summary["edges"]}, read_at=read_at, base=options.get("base", DEFAULT_BASE))
        if state.save_whole(graph, known):
            state.seal(fingerprint(vault, out, tuple(dictionaries), options, code=code), {path.name: output_stamp(path) for path in result.files})
    result.seconds = time.perf_counter() - started
    if resident and cache:
        hold_matcher(folder, tuple(dictionaries), code)
    return result


def _patch_outputs(folder: Path, *, jobs: int) -> Callable[[Changes, Path, list[Problem], Callable[[], object]], list[Path]]:
    """How kg.delta writes its outputs: each format patched into a staging folder, then published;
    `meanwhile` runs once the files this process writes are written (see patch_all)."""

    def write(changes: Changes, out: Path, problems: list[Problem], meanwhile: Callable[[], object]) -> list[Path]:
        report = report_json(problems)

        def produce(staging: Path) -> list[str]:
            names = patch_all(changes, staging, fragments=folder, published=out, jobs=jobs, meanwhile=meanwhile)
            write_file(staging / "report.json", lambda handle: handle.write(report))
            return [*names, "report.json"]

        return publish(out, produce)

    return write


def known_state(graph: nx.MultiDiGraph, notes: list[Note], resolution: Resolution, files: VaultFiles, *, counts: dict[str, int], read_at: int, base: str) -> Known:
    """What the state keeps of a whole build (see kg.state)."""
    from kg.export.graphml import graph_counts
    from kg.export.turtle import node_iris

    iris = {node: iri.value for node, iri in node_iris(graph, base).items()}
    collisions = any(iri != mint_text(base, graph._node[node]["kind"], node.split(":", 1)[1]) for node, iri in iris.items())
    return Known(
        files=files.files,
        walk_problems=files.walk_problems,
        notes={note.path: note for note in notes},
        entities=resolution.entities,
        canonical=resolution.canonical,
        iris=iris,
        referrers={node: len(sources) for node, sources in graph._pred.items() if sources},
        graphml=dict(graph_counts(graph)),
        counts=counts,
        read_at=read_at,
        extra={"collisions": collisions},
    )


def _without_bodies(notes: list[Note]) -> list[Note]:
    """Bodies are only read by extraction; a 50,000-note vault's text is hundreds of MB."""
    return [replace(note, body="") for note in notes]


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
    """Write `contents` (file name -> text) into `out` all or nothing; see `publish`."""

    def produce(staging: Path) -> list[str]:
        for name, text in sorted(contents.items()):
            write_file(staging / name, lambda handle, text=text: handle.write(text))
        return sorted(contents)

    return publish(out, produce)


def publish(out: Path, produce: Callable[[Path], list[str]]) -> list[Path]:
    """Let `produce` write files into a temporary folder beside `out`, then move them all into place.

    `produce(staging)` writes and syncs its files and returns their names. The moves start only
    when every file is written, and run with SIGINT/SIGTERM held back, so Ctrl-C or a kill at any
    moment leaves `out` with either all previous or all new files, each whole. Ctrl-C while the
    files are being written stops the build at once and removes the temporary folder. Files in
    `out` that are not outputs are left alone. A temporary folder left by a killed build (SIGKILL)
    is removed by the next build.

    The files replaced keep a second name in the temporary folder until it is removed: past
    REMOVE_IN_BACKGROUND_BYTES, by a process of its own that this one does not wait for (freeing
    the blocks of 560 MB of outputs took 0.2 s of a rebuild at 10,000 notes).
    """
    staging: Path | None = None
    replaced = 0
    try:
        # Held while the folder is made, so no interrupt lands between its creation and `staging`
        # being set (an interrupt held here is raised on leaving the block, when `finally` sees it).
        with _signals_held():
            try:
                out.mkdir(parents=True, exist_ok=True)
                _remove_stale_staging(out)
                staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.{os.getpid()}.", suffix=".tmp", dir=out.parent))
            except OSError as exc:
                raise ExportError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from exc
        names = produce(staging)
        with _signals_held():
            written = []
            for name in sorted(names):
                replaced += _set_aside(out / name, staging / f"{name}.replaced")
                os.replace(staging / name, out / name)
                written.append(out / name)
            _sync_folder(out)
            return written
    except OSError as exc:
        raise ExportError(f"{out}: cannot write the outputs ({exc.strerror or exc})") from exc
    except UnicodeEncodeError as exc:
        raise ExportError(f"{out}: an output holds text that is not valid Unicode ({exc.reason})") from exc
    finally:
        if staging is not None:
            _remove_folder(staging, background=replaced > 0 and replaced >= REMOVE_IN_BACKGROUND_BYTES)


# Replaced outputs of at least this many bytes in all are removed in the background (see publish).
REMOVE_IN_BACKGROUND_BYTES = 64 << 20


def _set_aside(published: Path, keep: Path) -> int:
    """Give the file at `published` (if any) the second name `keep`, so that replacing it frees
    nothing; its size, or 0 when there is no such file or no hard link can be made there."""
    try:
        size = published.stat().st_size
        os.link(published, keep)
    except OSError:
        return 0
    return size


def _remove_folder(folder: Path, *, background: bool) -> None:
    """Remove `folder` and what it holds: with `background` (on POSIX), by `rm` in a session of its
    own that nobody waits for (the shell that starts it ends at once), else here. A removal cut
    short leaves a temporary folder of a process that is gone: the next build removes it."""
    if background and os.name == "posix":
        try:
            subprocess.run(["/bin/sh", "-c", 'rm -rf -- "$1" &', "sh", str(folder)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, check=True, timeout=30)
            return
        except (OSError, subprocess.SubprocessError):
            pass
    shutil.rmtree(folder, ignore_errors=True)


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
        if _writer_gone(name[len(prefix):].split(".", 1)[0]):
            shutil.rmtree(entry, ignore_errors=True)


def _remove_stale_temporaries(folder: Path) -> None:
    """Remove the cache folder's `<file>.<pid>.tmp` files (a file being written, then renamed)
    whose writer no longer exists: killed mid-write (a page's model is megabytes)."""
    if os.name != "posix":
        return
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        stem, _dot, suffix = entry.name.rpartition(".")
        if suffix == "tmp" and _writer_gone(stem.rpartition(".")[2]):
            try:
                os.unlink(entry.path)
            except OSError:  # a folder, or gone already
                pass


def _writer_gone(pid: str) -> bool:
    """Whether `pid`, the process id in a temporary file's name, names no process now."""
    return pid.isdigit() and not _process_exists(int(pid))


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
