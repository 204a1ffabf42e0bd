"""The pipeline end to end: read -> extract -> resolve -> graph -> export, written atomically.

`build_vault` is the library entry point the CLI calls. It never prints: progress goes to an
optional callback, problems into the returned BuildResult (and OUT/report.json).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx

from kg.cache import CACHE_FOLDER, CacheStats, ExtractionCache
from kg.dictionary import load_dictionary
from kg.errors import ExportError, VaultError
from kg.export import render_all
from kg.graph import build_graph
from kg.model import ARTICLE, ENTITY_KINDS, TOPIC, Note, Problem
from kg.parallel import extract_all
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
    contents = render_all(graph, **(options or {}))
    contents["report.json"] = report_json(problems)
    result.files = write_atomically(Path(out), contents)
    result.seconds = time.perf_counter() - started
    return result


def report_json(problems: list[Problem]) -> str:
    rows = [{"path": p.path, "what": p.what, "action": p.action, "level": p.level} for p in problems]
    rows.sort(key=lambda r: (r["path"], r["what"]))
    return json.dumps({"problems": rows}, ensure_ascii=False, indent=1, sort_keys=True) + "\n"


def write_atomically(out: Path, contents: dict[str, str]) -> list[Path]:
    """Write every file into a temporary folder beside `out`, then move each into place.

    If anything fails before the moves, `out` keeps its previous files untouched.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
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
        return written
    except OSError as exc:
        raise ExportError(f"{out}: cannot write the outputs ({exc.strerror or exc})") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
