"""What the last build knew of the vault and its graph, kept so that the next build can make only
what changed (kg.delta).

One SQLite file in the cache folder (`state.sqlite`):
- `record`: every node of the graph, its attributes and out-edges (a Record, pickled) as the
  graph held them, in the order they were added;
- `meta`: the rest, one pickled value a row (see `Known`): each note as read (without its body),
  each file's stat and digest and the problems reading it met, the resolution, each node's IRI
  and how many nodes link to it, the graphml attribute counts, the totals;
- the row `built`, written last, once the outputs are in place: the build's fingerprint and each
  output's stamp. A build about to write outputs deletes it first (`forget`), so the state is used
  only while it describes the published outputs exactly.

Disposable like the rest of the cache: anything missing or wrong means a whole build.
The state holds pickles: it is as trusted as the output folder it lives in.
"""

from __future__ import annotations

import io
import pickle
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING


from kg.cache import connect, remove_database
from kg.model import Entity, Note, Problem, WikiLink
from kg.places import STATE_FILE
from kg.read import FileState

if TYPE_CHECKING:
    import networkx as nx

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS record (node TEXT PRIMARY KEY, value BLOB NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
    # Known.notes, one row a note: a delta writes only the notes that changed (pickling them all
    # again took 0.06-0.1 s at 3,300 notes, beside the page's layout).
    "CREATE TABLE IF NOT EXISTS note (path TEXT PRIMARY KEY, value BLOB NOT NULL)",
)

# A node's attributes and its out-edges: (target, [(relation, data), ...]) in the order added.
Record = tuple[dict, list[tuple[str, list[tuple[str, dict]]]]]


class ChangeGraph:
    """The few nodes a delta build makes again (kg.delta's Changes), with as much of networkx's
    MultiDiGraph as the exporters' patches read: its own dicts (`_node`, `_succ`, `_pred`: node ->
    attributes, node -> target -> relation -> data, and the other way), `graph`, `nodes[node]`,
    `add_node` and what graph.json states of it. Not a networkx graph: importing networkx is 0.13 s of a one-note rebuild, which
    makes nothing else with it."""

    def __init__(self) -> None:
        self.graph: dict = {}  # the graph's own attributes: none, as a whole build's
        self._node: dict[str, dict] = {}
        self._succ: dict[str, dict[str, dict]] = {}
        self._pred: dict[str, dict[str, dict]] = {}

    def is_directed(self) -> bool:
        return True

    def is_multigraph(self) -> bool:
        return True

    @property
    def nodes(self) -> dict[str, dict]:
        return self._node

    def add_node(self, node: str, **attrs: object) -> None:
        """As MultiDiGraph.add_node: a node new to the graph, or more attributes for one in it."""
        if node not in self._succ:
            self._succ[node], self._pred[node], self._node[node] = {}, {}, {}
        self._node[node].update(attrs)

    def __contains__(self, node: object) -> bool:
        return node in self._node

    def __iter__(self) -> Iterator[str]:
        return iter(self._node)

    def __len__(self) -> int:
        return len(self._node)


def record_of(graph: nx.MultiDiGraph, node: str) -> Record:
    """The Record of `node` in `graph`."""
    return graph._node[node], [(v, list(keyed.items())) for v, keyed in graph._succ[node].items()]


def add_record(graph: nx.MultiDiGraph | ChangeGraph, node: str, record: Record) -> None:
    """Put `node` with its Record into `graph` (targets it does not hold yet come without attributes)."""
    attrs, edges = record
    graph.add_node(node, **attrs)
    succ, pred = graph._succ, graph._pred
    for v, keyed in edges:
        if v not in succ:
            graph.add_node(v)
        succ[node][v] = pred[v][node] = dict(keyed)


@dataclass
class Known:
    """The vault and its graph as the last build left them (everything but the records)."""

    files: dict[str, FileState]  # every note file, readable or not, by vault path
    walk_problems: tuple[Problem, ...]
    notes: dict[str, Note]  # every note as read and classified, without its body
    entities: dict[str, Entity]  # the resolution's entities and canonical spellings
    canonical: dict[tuple[str, str], str]
    iris: dict[str, str]  # node -> IRI in graph.ttl
    referrers: dict[str, int]  # node -> how many nodes have an edge to it (when any do)
    graphml: dict[tuple[str, str, str], int]  # (scope, attribute, type name) -> how many carry it
    counts: dict[str, int]  # "entities", "edges"
    read_at: int = 0  # time.time_ns() before the files were read: stats at or after it may hide a change
    extra: dict = field(default_factory=dict)


class StateUnreadable(Exception):
    """A part of the state that `sealed` and `known` vouched for cannot be read after all."""


_KNOWN = "known"
_BUILT = "built"


class BuildState:
    """The state file of one cache folder. Methods fail quietly where a failure only costs the
    next build its shortcut: `sealed` and `known` give None for anything unreadable, writing
    methods discard the file; `records` raises StateUnreadable (kg.delta then builds whole)."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / STATE_FILE

    def forget(self) -> None:
        """The outputs are about to change: never vouch for them half-way."""
        if not self.path.exists():
            return
        try:
            with self._connection() as db:
                db.execute("DELETE FROM meta WHERE name = ?", (_BUILT,))
        except sqlite3.Error:
            self.discard()

    def discard(self) -> None:
        remove_database(self.path)

    def save_whole(self, graph: nx.MultiDiGraph, known: Known) -> bool:
        """Replace everything with `graph`'s records and `known` (not sealed yet)."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connection() as db:
                db.execute("DELETE FROM record")
                db.execute("DELETE FROM meta")
                db.execute("DELETE FROM note")
                db.executemany(
                    "INSERT INTO record (node, value) VALUES (?, ?)",
                    ((node, _dumps(record_of(graph, node))) for node in graph._node),
                )
                db.executemany("INSERT INTO note (path, value) VALUES (?, ?)", ((rel, _note_dumps(note)) for rel, note in known.notes.items()))
                db.execute("INSERT INTO meta (name, value) VALUES (?, ?)", (_KNOWN, _dumps(replace(known, notes={}))))
            return True
        except (OSError, sqlite3.Error, pickle.PicklingError):
            self.discard()
            return False

    def save_changes(self, records: dict[str, Record | None], known: Known, *, notes: Iterable[str] = ()) -> bool:
        """Put `records` (None: the node is gone) and `known` in place (not sealed yet); of
        known.notes, those of the paths `notes` (changed, added or gone: the others are as
        saved before)."""
        notes = sorted(set(notes))
        try:
            with self._connection() as db:
                db.executemany("DELETE FROM record WHERE node = ?", ((node,) for node, record in records.items() if record is None))
                db.executemany(
                    "INSERT OR REPLACE INTO record (node, value) VALUES (?, ?)",
                    ((node, _dumps(record)) for node, record in records.items() if record is not None),
                )
                db.executemany("DELETE FROM note WHERE path = ?", ((rel,) for rel in notes if rel not in known.notes))
                db.executemany("INSERT OR REPLACE INTO note (path, value) VALUES (?, ?)", ((rel, _note_dumps(known.notes[rel])) for rel in notes if rel in known.notes))
                db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (_KNOWN, _dumps(replace(known, notes={}))))
            return True
        except (OSError, sqlite3.Error, pickle.PicklingError):
            self.discard()
            return False

    def seal(self, fingerprint: str, outputs: dict[str, list[int]]) -> None:
        """Vouch for the outputs now in place: their stamps, and what built them."""
        try:
            with self._connection() as db:
                db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (_BUILT, _dumps((fingerprint, outputs))))
        except sqlite3.Error:
            self.discard()

    def sealed(self) -> tuple[str, dict[str, list[int]]] | None:
        """(fingerprint, output stamps) of the last build, if it finished."""
        value = self._meta(_BUILT)
        if isinstance(value, tuple) and len(value) == 2:
            return value
        return None

    def known(self) -> Known | None:
        value = self._meta(_KNOWN)
        if not isinstance(value, Known):
            return None
        try:
            with self._connection() as db:
                notes = _note_loads(db.execute("SELECT path, value FROM note ORDER BY path"))
        except Exception:  # noqa: BLE001 - unreadable or damaged: only means "build whole"
            return None
        return replace(value, notes=notes)

    def records(self, nodes: Iterable[str]) -> dict[str, Record]:
        """The records of those `nodes` the state has."""
        wanted = sorted(set(nodes))
        out: dict[str, Record] = {}
        try:
            with self._connection() as db:
                for low in range(0, len(wanted), 500):
                    part = wanted[low : low + 500]
                    rows = db.execute(f"SELECT node, value FROM record WHERE node IN ({','.join('?' * len(part))})", part)
                    out.update((node, pickle.loads(value)) for node, value in rows)
        except Exception as exc:  # noqa: BLE001 - unreadable or damaged: only means "build whole"
            raise StateUnreadable(f"{self.path}: a node's record cannot be read ({type(exc).__name__})") from exc
        return out

    def all_records(self) -> Iterator[tuple[str, Record]]:
        """Every record (for tests and checks)."""
        with self._connection() as db:
            for node, value in db.execute("SELECT node, value FROM record ORDER BY node"):
                yield node, pickle.loads(value)

    def _meta(self, name: str) -> object:
        if not self.path.exists():
            return None
        try:
            with self._connection() as db:
                row = db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
            return pickle.loads(row[0]) if row is not None else None
        except Exception:  # noqa: BLE001 - unreadable or damaged: only means "build whole"
            return None

    def _connection(self):  # noqa: ANN202 - a context manager of a connection
        return connect(self.path, _SCHEMA)


def _dumps(value: object) -> bytes:
    return pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


class _NotePickler(pickle.Pickler):
    """Pickles a note with each of its links as a persistent id, the link's fields, for
    `_note_loads` to make one WikiLink of each distinct link: at 10,000 notes 61,000 links, 11,500
    of them distinct (notes link to the same topics), and making a WikiLink each was most of
    what reading the state's notes took (0.19 s)."""

    def persistent_id(self, obj: object) -> tuple | None:
        if type(obj) is WikiLink:
            return (obj.target, obj.label, obj.heading, obj.embed)
        return None


def _note_dumps(note: Note) -> bytes:
    buffer = io.BytesIO()
    _NotePickler(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(note)
    return buffer.getvalue()


class _WikiLinks(dict):
    """WikiLinks by their fields, each made the first time it is asked for."""

    def __missing__(self, fields: tuple) -> WikiLink:
        link = self[fields] = WikiLink(*fields)
        return link


def _note_loads(rows: Iterable[tuple[str, bytes]]) -> dict[str, Note]:
    """The notes of the (path, _note_dumps bytes) `rows`, equal links shared."""
    links = _WikiLinks()
    notes: dict[str, Note] = {}
    for rel, raw in rows:
        unpickler = pickle.Unpickler(io.BytesIO(raw))
        unpickler.persistent_load = links.__getitem__
        notes[rel] = unpickler.load()
    return notes
