"""The pipeline end to end: read -> extract -> resolve -> graph -> export, written atomically.

`build_vault` is the library entry point the CLI calls. It never prints: progress goes to an
optional callback, problems into the returned BuildResult (and OUT/report.json).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import networkx as nx

from kg.cache import CACHE_FOLDER, CacheStats, ExtractionCache, NoteCache, code_fingerprint
from kg.dictionary import load_dictionary
from kg.errors import ExportError, VaultError
from kg.export import formats, write_all, write_file
from kg.graph import build_graph, edge_count
from kg.model import ARTICLE, ENTITY_KINDS, TOPIC, Note, Problem
from kg.parallel import default_jobs, extract_all
from kg.processes import give_back_memory
from kg.read import read_vault

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
) -> BuildResult:
    """Build every output of `vault` into `out`; raise VaultError when nothing can be built.

    Extraction runs in `jobs` processes (default: every core) or on the Dask `scheduler`; with
    `cache`, each note's extraction is kept in `cache_dir` (default OUT/.kg-cache) and reused while
    the note, kg and the dictionary are unchanged. None of these change the outputs.

    With `reuse_outputs` (and the cache), a build whose every input is what the last build into
    `out` read (each note, the problems met, kg's code, the dictionary, the options) and whose
    outputs are still as that build left them writes nothing and returns at once, `unchanged` set
    and without a graph (the CLI does this; library callers get a graph unless they ask).
    """
    started = time.perf_counter()
    vault = Path(vault)
    folder = Path(cache_dir or Path(out) / CACHE_FOLDER)
    code = code_fingerprint() if cache else None
    parsed = NoteCache(folder, code=code) if cache else None
    notes, problems = read_vault(vault, cache=parsed)
    if not notes:
        detail = f" ({len(problems)} file(s) could not be read)" if problems else ""
        raise VaultError(f"{vault}: no notes (.md, .markdown or .txt files) found{detail}")
    dictionary = load_dictionary(tuple(dictionaries))
    store = ExtractionCache(folder, dictionary_digest=dictionary.digest, code=code) if cache else None
    if store is not None and parsed is not None:
        store.stats.notices += parsed.notices
    keys = store.keys(notes, digests=parsed.digests if parsed is not None else None) if store is not None else None
    manifest = BuildManifest(store.folder) if store is not None else None
    fingerprint = build_fingerprint(keys, problems, options or {}) if keys is not None else None
    if reuse_outputs and manifest is not None:
        files = manifest.unchanged_outputs(Path(out), fingerprint)
        if files is not None:
            _remove_stale_staging(Path(out))  # what a killed build left, as a full build would
            store.stats.hits = len(notes)
            result = BuildResult(notes=_without_bodies(notes), graph=None, problems=problems, cache=store.stats, files=files, unchanged=True, counts=manifest.counts)
            result.seconds = time.perf_counter() - started
            return result
    # While workers extract, import the writers (pyvis, scipy, igraph...: most of a second).
    extractions = extract_all(notes, dictionary, jobs=jobs, scheduler=scheduler, cache=store, progress=progress, keys=keys, meanwhile=formats)
    notes = _without_bodies(notes)
    give_back_memory()
    graph = build_graph(notes, extractions, dictionary)
    del extractions  # the graph holds what the outputs need
    give_back_memory()
    result = BuildResult(notes=notes, graph=graph, problems=problems, cache=store.stats if store else None)
    report = report_json(problems)
    writers = 1 if scheduler else (jobs or default_jobs())

    def produce(staging: Path) -> list[str]:
        names = write_all(graph, staging, jobs=writers, fragments=store.folder if store is not None else None, published=Path(out), **(options or {}))
        write_file(staging / "report.json", lambda handle: handle.write(report))
        return [*names, "report.json"]

    if manifest is not None:
        manifest.forget()  # the outputs are about to change: never vouch for them half-way
    result.files = publish(Path(out), produce)
    if manifest is not None:
        summary = result.summary()
        manifest.record(Path(out), fingerprint, result.files, {"entities": summary["entities"], "edges": summary["edges"]})
    result.seconds = time.perf_counter() - started
    return result


def _without_bodies(notes: list[Note]) -> list[Note]:
    """Bodies are only read by extraction; a 50,000-note vault's text is hundreds of MB."""
    return [replace(note, body="") for note in notes]


MANIFEST_FILE = "last-build.json"


def build_fingerprint(keys: dict[str, str], problems: list[Problem], options: dict) -> str:
    """One digest of everything a build's outputs depend on: every note as read (with kg's code and
    the dictionary, through the notes' cache keys by path), the problems met, and the rendering options."""
    digest = hashlib.sha256()
    for path in sorted(keys):
        digest.update(f"{path}\0{keys[path]}\n".encode("utf-8", "surrogatepass"))
    digest.update(report_json(problems).encode("utf-8", "surrogatepass"))
    digest.update(json.dumps(options, sort_keys=True, default=str).encode())
    return digest.hexdigest()


class BuildManifest:
    """What the last build wrote (OUT/.kg-cache/last-build.json): its fingerprint, and the size,
    modification time and inode of each output, so a rebuild with nothing new can keep them.

    Like the rest of the cache it is disposable: missing or unreadable means "build".
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / MANIFEST_FILE
        self.counts: dict[str, int] = {}

    def unchanged_outputs(self, out: Path, fingerprint: str) -> list[Path] | None:
        """The output files, if the last build had `fingerprint` and they are as it left them."""
        try:
            recorded = json.loads(self.path.read_text(encoding="utf-8"))
            if recorded.get("fingerprint") != fingerprint or recorded.get("out") != str(out.resolve()):
                return None
            files = []
            for name, stamp in sorted(recorded["files"].items()):
                path = out / name
                if _stamp(path) != stamp:
                    return None
                files.append(path)
            self.counts = {key: int(value) for key, value in recorded["counts"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        return files or None

    def record(self, out: Path, fingerprint: str, files: list[Path], counts: dict[str, int]) -> None:
        data = {"out": str(out.resolve()), "fingerprint": fingerprint, "files": {path.name: _stamp(path) for path in files}, "counts": counts}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.path.with_name(self.path.name + ".tmp")
            temporary.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError:
            pass  # the next build just builds

    def forget(self) -> None:
        try:
            self.path.unlink(missing_ok=True)
        except OSError:
            pass


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns, stat.st_ino]


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
    """
    staging: Path | None = None
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
