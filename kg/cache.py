"""The extraction cache: each note's Extraction kept on disk, so a rebuild re-extracts only what changed.

One SQLite file (OUT/.kg-cache/extractions.sqlite by default), one row per note path:
(path, key, pickled Extraction, a checksum of that pickle, the note's kg.resolve.Summary). The key is a sha256 over everything an extraction can depend on:
the note as read (path, metadata, body, links), the kg version and a fingerprint of kg's own source
and data files, and the dictionary's digest. A row is used only when its key matches exactly, so the
cache can make a build faster but never different.

The cache is disposable. An unreadable or corrupt file is discarded and rebuilt, and a row whose
checksum does not hold is recomputed (a row damaged after it was checked, while the build reads it,
is an ExtractionError); either way the build goes on and its outputs are unchanged.
Rows of notes no longer in the vault are pruned on every build. Writes are SQLite transactions:
an interrupted build leaves the previous rows intact.

The cache holds pickles: it is as trusted as the output folder it lives in.
"""

from __future__ import annotations

import collections
import functools
import hashlib
import heapq
import marshal
import operator
import os
import pickle
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import kg
from kg.dictionary import Dictionary
from kg.discover import Lexicon
from kg.model import Extraction, Note
from kg.resolve import Summary, summarize
from kg.processes import collector_paused
from kg.words import KeptWords, TableCover
from kg.words import save as save_words

CACHE_FILE = "extractions.sqlite"
NOTES_FILE = "notes.sqlite"  # each note as read (see NoteCache)
_STORE_ROW = "INSERT OR REPLACE INTO note_extraction (path, key, value, checksum, summary) VALUES (?, ?, ?, ?, ?)"  # one note's row, as `_row` makes it
LEXICON_FILE = "lexicon.words"  # the discovery word lists, built once per code and dictionary version (kg.words)
DICTIONARY_FILE = "dictionary.pickle"  # the dictionary as parsed (see kept_dictionary)
WORDS_FILE = "tokenizer.words"  # the tokenizer's word table, likewise (see WordTable)
_LEGACY_WORD_FILES = ("lexicon.pickle", "words.pickle")  # what earlier versions kept them in
_TABLE = "frequencies"  # the word table's section in WORDS_FILE
# The discovery word lists kept in LEXICON_FILE's sections, the rest of the Lexicon in its head.
LARGE_WORD_LISTS = ("han_words", "known_english", "han_known")
# One row a note: its key, its Extraction pickled with a digest of the pickle (a damaged row is
# told without unpickling it), and its kg.resolve.Summary (marshal). Earlier versions kept a table
# `extraction` without summaries: dropped when rows are next stored.
_SCHEMA = "CREATE TABLE IF NOT EXISTS note_extraction (path TEXT PRIMARY KEY, key TEXT NOT NULL, value BLOB NOT NULL, checksum BLOB NOT NULL, summary BLOB NOT NULL)"


def _checksum(value: bytes) -> bytes:
    return hashlib.blake2b(value, digest_size=16).digest()


@dataclass
class CacheStats:
    """How the cache served one build; `notices` explain anything that was discarded."""

    hits: int = 0
    misses: int = 0
    pruned: int = 0
    notices: list[str] = field(default_factory=list)


@functools.cache
def code_fingerprint() -> str:
    """kg's version and a digest of its source and data files, so any change to the code invalidates
    rows. Once per process (a few ms each time, asked for by every store a build opens): the code
    a process runs is the code it imported, whatever happens to the files after."""
    root = Path(kg.__file__).resolve().parent
    digest = hashlib.sha256(kg.__version__.encode())
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()


def note_key(note: Note, dictionary_digest: str, *, code: str | None = None) -> str:
    """The cache key of one note: its full content as read, kg's code (`code_fingerprint()`), the dictionary."""
    digest = hashlib.sha256()
    digest.update((code or code_fingerprint()).encode() + b"\0" + dictionary_digest.encode() + b"\0")
    # repr of a frozen dataclass of str/tuple fields is deterministic and covers every field.
    digest.update(repr(note).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _kind_and_path(note: Note) -> bytes:
    return f"\0{note.kind}\0{note.path}".encode("utf-8", "surrogatepass")


class ExtractionCache:
    """Per-note extractions in one SQLite file under `folder`, valid for one dictionary digest."""

    def __init__(self, folder: Path, *, dictionary_digest: str, code: str | None = None) -> None:
        self.folder = Path(folder)
        self.path = self.folder / CACHE_FILE
        self.dictionary_digest = dictionary_digest
        self.code = code or code_fingerprint()
        self.stats = CacheStats()
        self._lexicon_keys: dict[str, str] = {}  # by dictionary digest (package metadata is read once)

    def key(self, note: Note) -> str:
        return note_key(note, self.dictionary_digest, code=self.code)

    def keys(self, notes: Iterable[Note], *, digests: Mapping[str, bytes] | None = None) -> dict[str, str]:
        """path -> key of every note.

        With `digests` (NoteCache.digests: each file's bytes, keyed with kg's code), a note's key
        is made from its file's digest and its kind instead of the whole note: the note as parsed
        is a function of its path, its bytes and kg's code (what NoteCache relies on), and its kind
        is the one thing the rest of the vault settles. Hashing every body again took 0.17 s at
        3,300 notes. The two kinds of key never meet: a note's key is either one or the other."""
        notes = list(notes)
        if digests is None or any(note.path not in digests for note in notes):
            return {note.path: self.key(note) for note in notes}
        prefix = f"file\0{self.code}\0{self.dictionary_digest}\0".encode()
        return {note.path: hashlib.sha256(prefix + digests[note.path] + _kind_and_path(note)).hexdigest() for note in notes}

    @collector_paused()  # unpickles every mention of the vault
    def load(self, notes: Iterable[Note], *, keys: Mapping[str, str] | None = None) -> tuple[dict[str, Extraction], dict[str, str]]:
        """(hits by path, keys of every note by path); `keys` when the caller has them already.
        Any trouble reading means fewer hits, never an error."""
        keys = dict(keys) if keys is not None else self.keys(notes)
        rows = self._read_rows()
        hits: dict[str, Extraction] = {}
        for path, key, value in rows:
            if keys.get(path) != key:
                continue
            try:
                extraction = pickle.loads(value)
            except Exception as exc:  # noqa: BLE001 - any unpickling failure means "recompute this note"
                self.stats.notices.append(f"{self.path}: the entry for {path} is unreadable ({type(exc).__name__}); re-extracted it")
                continue
            if isinstance(extraction, Extraction):
                hits[path] = extraction
        self.stats.hits = len(hits)
        self.stats.misses = len(keys) - len(hits)
        return hits, keys

    def save(self, fresh: Mapping[str, tuple[str, Extraction]], *, keep: Iterable[str]) -> None:
        """Store `fresh` (path -> (key, extraction)) and delete rows of paths not in `keep`, in one transaction."""
        keep = set(keep)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._transaction() as db:
                db.execute("DROP TABLE IF EXISTS extraction")
                stored = [row[0] for row in db.execute("SELECT path FROM note_extraction")]
                gone = [(path,) for path in stored if path not in keep]
                db.executemany("DELETE FROM note_extraction WHERE path = ?", gone)
                db.executemany(  # pickled one row at a time: all at once, a cold 50,000-note build's are hundreds of MB
                    _STORE_ROW,
                    (_row(path, *fresh[path]) for path in sorted(fresh)),
                )
            self.stats.pruned = len(gone)
        except (OSError, sqlite3.Error) as exc:
            self.stats.notices.append(f"{self.path}: cannot be updated ({exc}); the next build extracts those notes again")

    def stored_paths(self, keys: Mapping[str, str]) -> set[str]:
        """The paths whose row is under their key in `keys` and whole (by its checksum; nothing is
        unpickled). A damaged row is reported and its note extracted again."""
        if not self.path.exists():
            return set()
        found = set()
        try:
            for path, key, value, checksum in self._iter_rows("value, checksum"):
                if keys.get(path) != key:
                    continue
                if _checksum(value) == checksum:
                    found.add(path)
                else:
                    self.stats.notices.append(f"{self.path}: the entry for {path} is unreadable (damaged); re-extracted it")
        except sqlite3.OperationalError as exc:
            self.stats.notices.append(f"{self.path}: cannot be read ({exc}); extracted every note")
            return set()
        except sqlite3.DatabaseError as exc:
            self.stats.notices.append(f"{self.path}: damaged ({exc}); discarded it and extracted every note")
            self._discard()
            return set()
        return found

    @contextmanager
    def storing(self, keys: Mapping[str, str]) -> Iterator[StoredExtractions]:
        """A StoredExtractions to `put` extractions into as they come, each row stored at once
        (committed a thousand at a time: a cold build interrupted keeps what it extracted) and
        never held; rows of paths not in `keys` are deleted at the end. When the file cannot be
        written, what is put is held in memory instead (and a notice says so): the build goes on.
        `keys`: every note's key (rows of other paths are deleted; `in_order` reads those keys)."""
        stored = StoredExtractions(self, keys)
        keep = set(keys)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            stored.db = sqlite3.connect(self.path, timeout=30)
            stored.db.execute("DROP TABLE IF EXISTS extraction")
            stored.db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as exc:
            stored.fail(exc)
        try:
            yield stored
            if stored.db is not None:
                try:
                    stored.flush()
                    gone = [(path,) for (path,) in stored.db.execute("SELECT path FROM note_extraction") if path not in keep]
                    stored.db.executemany("DELETE FROM note_extraction WHERE path = ?", gone)
                    stored.db.commit()
                    self.stats.pruned = len(gone)
                except sqlite3.Error as exc:
                    stored.fail(exc)
        finally:
            if stored.db is not None:
                stored.db.close()
                stored.db = None

    def summaries_in_order(self, keys: Mapping[str, str], held: Mapping[str, Extraction] | None = None) -> Iterator[tuple[str, Summary]]:
        """(path, Summary) of every note of `keys`, in path order, one row at a time (those `held`
        in memory summarized here)."""
        held = held or {}
        rows = self._iter_rows("summary") if self.path.exists() else iter(())
        from_store = ((path, marshal.loads(value)) for path, key, value in rows if keys.get(path) == key and path not in held)
        yield from heapq.merge(from_store, ((path, summarize(held[path])) for path in sorted(held)), key=operator.itemgetter(0))

    def lexicon(self, dictionary: Dictionary, *, lazy: bool = False) -> Lexicon:
        """The discovery word lists for `dictionary`, from LEXICON_FILE when it was made by this very
        code, dictionary and word-list versions, else built (about a second: the wordfreq lists and
        jieba's dictionary) and stored for the next build. `lazy`: the large lists read from the
        file a bucket at a time as words are looked up (kg.words.Words), for a build that extracts
        a few notes."""
        from kg.extract import build_lexicon

        path = self.folder / LEXICON_FILE
        try:
            kept = KeptWords.open(path, self._lexicon_key(dictionary))
            if kept is not None and isinstance(kept.head, Lexicon):
                read = kept.words if lazy else kept.whole_set
                return replace(kept.head, **{name: read(name) for name in LARGE_WORD_LISTS})
        except Exception as exc:  # noqa: BLE001 - a damaged file only means "build it again"
            self.stats.notices.append(f"{path}: unreadable ({type(exc).__name__}); built the word lists again")
        lexicon = build_lexicon(dictionary)
        try:
            head = replace(lexicon, **{name: frozenset() for name in LARGE_WORD_LISTS})
            save_words(path, self._lexicon_key(dictionary), head, sets={name: getattr(lexicon, name) for name in LARGE_WORD_LISTS})
            _forget_legacy(self.folder)
        except OSError as exc:
            self.stats.notices.append(f"{path}: cannot be written ({exc.strerror or exc}); the next build builds the word lists again")
        return lexicon

    def word_table(self, dictionary: Dictionary, *, lazy: bool = False) -> WordTable:
        """Where the tokenizer's word table for `dictionary` is kept (valid for the same versions as
        the word lists); `lazy`: read for the texts cut (see WordTable)."""
        return WordTable(self.folder / WORDS_FILE, self._lexicon_key(dictionary), lazy=lazy)

    def _lexicon_key(self, dictionary: Dictionary) -> str:
        """The key of the word lists and the word table: kg's code, the dictionary, wordfreq's and jieba's versions."""
        if dictionary.digest not in self._lexicon_keys:
            self._lexicon_keys[dictionary.digest] = self._make_lexicon_key(dictionary)
        return self._lexicon_keys[dictionary.digest]

    def _make_lexicon_key(self, dictionary: Dictionary) -> str:
        from importlib.metadata import PackageNotFoundError, version

        versions = []
        for package in ("wordfreq", "jieba"):
            try:
                versions.append(f"{package}={version(package)}")
            except PackageNotFoundError:
                versions.append(f"{package}=?")
        return hashlib.sha256("\0".join([self.code, dictionary.digest, *versions]).encode()).hexdigest()

    def summaries(self, keys: Mapping[str, str]) -> dict[str, Summary]:
        """path -> Summary of each note whose row is under its key in `keys` (any trouble reading:
        fewer of them, never an error)."""
        found: dict[str, Summary] = {}
        for path, key, value in self._read_rows("summary"):
            if keys.get(path) == key:
                try:
                    found[path] = marshal.loads(value)
                except (ValueError, EOFError, TypeError):
                    continue
        return found

    def _iter_rows(self, column: str) -> Iterator[tuple[str, str, bytes]]:
        """Every row's path, key and `column`, in path order, read as they are asked for."""
        db = sqlite3.connect(self.path, timeout=30)
        try:
            db.execute(_SCHEMA)
            yield from db.execute(f"SELECT path, key, {column} FROM note_extraction ORDER BY path")
        finally:
            db.close()

    def _read_rows(self, column: str = "value") -> list[tuple[str, str, bytes]]:
        if not self.path.exists():
            return []
        try:
            with self._transaction() as db:
                return list(db.execute(f"SELECT path, key, {column} FROM note_extraction"))
        except sqlite3.OperationalError as exc:  # locked or unreadable for now: leave it for the next build
            self.stats.notices.append(f"{self.path}: cannot be read ({exc}); extracted every note")
            return []
        except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
            self.stats.notices.append(f"{self.path}: damaged ({exc}); discarded it and extracted every note")
            self._discard()
            return []

    def _transaction(self):  # noqa: ANN202 - a context manager of a connection
        return connect(self.path, _SCHEMA)

    def _discard(self) -> None:
        remove_database(self.path)


def _row(path: str, key: str, extraction: Extraction) -> tuple[str, str, bytes, bytes, bytes]:
    value = pickle.dumps(extraction, protocol=pickle.HIGHEST_PROTOCOL)
    return path, key, value, _checksum(value), marshal.dumps(summarize(extraction))


class StoredExtractions:
    """Extractions put into the cache as a build makes them (see ExtractionCache.storing), and
    read back one at a time, in path order (`in_order`), as the graph is made. What could not be
    stored is held here instead."""

    BATCH = 1000  # rows committed at a time

    def __init__(self, cache: ExtractionCache, keys: Mapping[str, str]) -> None:
        self.cache = cache
        self.keys = keys
        self.db: sqlite3.Connection | None = None
        self.held: dict[str, Extraction] = {}  # what the file could not take
        self.pending: list[tuple[str, str, bytes, bytes, bytes]] = []

    def put(self, results: Iterable[tuple[str, Extraction]]) -> None:
        """Store (path, extraction) pairs, each under its note's key."""
        for path, extraction in results:
            if self.db is None:
                self.held[path] = extraction
                continue
            self.pending.append(_row(path, self.keys[path], extraction))
        if len(self.pending) >= self.BATCH:
            self.flush()

    def flush(self) -> None:
        if self.db is None or not self.pending:
            return
        try:
            self.db.executemany(_STORE_ROW, self.pending)
            self.db.commit()
        except sqlite3.Error as exc:
            for path, _key, value, _checksum, _summary in self.pending:
                self.held[path] = pickle.loads(value)
            self.fail(exc)
        self.pending = []

    def fail(self, exc: Exception) -> None:
        self.cache.stats.notices.append(f"{self.cache.path}: cannot be updated ({exc}); the next build extracts those notes again")
        close_quietly(self.db)
        self.db = None

    def in_order(self, paths: Iterable[str]) -> Iterator[tuple[str, Extraction]]:
        """(path, Extraction) of each of `paths` (sorted) whose row is under its note's key, read
        from the file one at a time (or from what is held). A generator: the caller pauses the
        collector while it reads them (kg.graph.build_graph does), as a decorator here could not."""
        keys = self.keys
        wanted = set(paths)
        rows = self.cache._iter_rows("value") if self.cache.path.exists() else iter(())
        from_store = ((path, value) for path, key, value in rows if path in wanted and keys.get(path) == key and path not in self.held)
        for path, value in heapq.merge(from_store, ((path, None) for path in sorted(self.held) if path in wanted), key=operator.itemgetter(0)):
            if value is None:
                yield path, self.held[path]
                continue
            try:
                yield path, pickle.loads(value)
            except Exception as exc:  # noqa: BLE001 - its checksum held a moment ago: changed under us
                from kg.errors import ExtractionError

                raise ExtractionError(f"{self.cache.path}: the entry for {path} changed while it was read ({type(exc).__name__})") from exc


@dataclass(frozen=True)
class KeptPickle:
    """One value kept between builds in one file: a line with the key of what made it (kg's code,
    the dictionary, library versions), then the value pickled. Written atomically."""

    path: Path
    key: str

    def load(self) -> object | None:
        """The value, or None when the file is missing or was made under another key; a damaged
        file raises what unpickling it raises."""
        try:
            with open(self.path, "rb") as handle:
                if handle.readline().rstrip(b"\n") != self.key.encode():
                    return None
                return pickle.load(handle)
        except FileNotFoundError:
            return None

    def save(self, value: object) -> None:
        """Store `value` under the key (raises OSError when it cannot)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        try:
            with open(temporary, "wb") as handle:
                handle.write(self.key.encode() + b"\n")
                pickle.dump(value, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)


@dataclass(frozen=True)
class WordTable:
    """The word table of extraction's jieba tokenizer (jieba's dictionary with the dictionary's
    Chinese names added: half a million words), kept in a kg.words file under the word lists' key.
    Building it takes jieba most of a second (its own cache is a marshal file slower to load);
    reading it whole from here takes a quarter of that, once per worker of a cold build. `lazy`:
    read only for the texts cut (kg.words.TableCover), a few milliseconds for a one-note edit.

    Disposable, and quiet (it is made in whichever process builds the tokenizer, often a worker
    that cannot report): a missing, stale or damaged file means "build the table", and the builder
    stores it again. Small enough to hand to a spawned worker (a path and a key)."""

    path: Path
    key: str
    lazy: bool = False

    def words(self) -> tuple[dict[str, int] | TableCover, int] | None:
        """(word -> frequency, or a TableCover when lazy; the total of frequencies) as stored, or None."""
        try:
            kept = KeptWords.open(self.path, self.key)
            if kept is None or not isinstance(kept.head, int):
                return None
            return (kept.cover(_TABLE) if self.lazy else kept.whole_table(_TABLE)), kept.head
        except Exception:  # noqa: BLE001 - damaged: only means "build it"
            return None

    def keep(self, words: dict[str, int], total: int) -> None:
        """Store the table; failing to is not an error (the next build builds it)."""
        try:
            save_words(self.path, self.key, total, tables={_TABLE: words})
            _forget_legacy(self.path.parent)
        except OSError:
            pass


def _forget_legacy(folder: Path) -> None:
    """Delete what earlier versions kept the word lists in."""
    for name in _LEGACY_WORD_FILES:
        try:
            (folder / name).unlink(missing_ok=True)
        except OSError:
            pass


def kept_dictionary(folder: Path, extra: tuple[Path, ...], *, code: str | None = None) -> Dictionary:
    """`load_dictionary(extra)`, kept in `folder` as parsed under the digest of its files' texts
    and kg's code: parsing the YAML is a tenth of a second, loading the pickle a hundredth.
    A missing, stale or damaged file only means parsing again (and keeping the result)."""
    from kg.dictionary import dictionary_digest, load_dictionary

    kept = KeptPickle(Path(folder) / DICTIONARY_FILE, hashlib.sha256(f"{code or code_fingerprint()}\0{dictionary_digest(extra)}".encode()).hexdigest())
    try:
        dictionary = kept.load()
        if isinstance(dictionary, Dictionary):
            return dictionary
    except Exception:  # noqa: BLE001 - damaged: parse again
        pass
    dictionary = load_dictionary(extra)
    try:
        kept.save(dictionary)
    except OSError:
        pass
    return dictionary


def close_quietly(db: sqlite3.Connection | None) -> None:
    """Close a connection that may already be broken (failing to is nothing to report)."""
    if db is not None:
        try:
            db.close()
        except sqlite3.Error:
            pass


def remove_database(path: Path) -> None:
    """Delete an SQLite file of the cache with its journal files (a damaged one is built again)."""
    for suffix in ("", "-journal", "-wal", "-shm"):
        try:
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        except OSError:
            pass


class NoteCache:
    """Each note as read (the Note and its problems), by vault path and a digest of the file's bytes
    and kg's code, in one SQLite file (NOTES_FILE): a rebuild reads every file but decodes and
    parses only the ones that changed (parsing frontmatter and links is most of reading).

    Rows are read a batch at a time as the files are asked for in path order (as a walk of the
    vault asks), and new rows are stored a batch at a time as they come: the vault's notes are never
    all held (a cold 50,000-note build's text is over a GiB as Python strings). `bodies()` reads
    notes back by path, for the processes that extract them.

    Disposable like ExtractionCache: anything wrong with the file means "parse every note" and a
    notice; a row that cannot be unpickled is parsed again.
    """

    BATCH = 256  # rows read ahead, or stored, at a time

    def __init__(self, folder: Path, *, code: str | None = None, one_by_one: bool = False) -> None:
        """`one_by_one`: look each file up on its own (a build that reads only a few files)."""
        self.path = Path(folder) / NOTES_FILE
        self.one_by_one = one_by_one
        self.salt = hashlib.blake2b((code or code_fingerprint()).encode(), digest_size=32).digest()  # keys every digest
        self.digests: dict[str, bytes] = {}  # every file asked for, this build: its digest
        self.notices: list[str] = []
        self.hits = 0
        self._ahead: collections.deque[tuple[str, bytes, bytes]] = collections.deque()  # rows read ahead, in path order
        self._after: str | None = ""  # the path after which rows are read next (None: no more)
        self._asked = ""  # the last path asked for
        self._pending: list[tuple[str, bytes, bytes]] = []  # rows to store
        self._held: dict[str, bytes] = {}  # rows the file could not take (pickled notes, for `bodies`)
        self._broken = False

    def digest(self, raw: bytes) -> bytes:
        """The digest of a file's bytes, for `get` and `put`."""
        return hashlib.blake2b(raw, digest_size=24, key=self.salt).digest()

    def get(self, rel: str, digest: bytes) -> object | None:
        """What `put` stored for `rel` with this `digest`, or None."""
        self.digests[rel] = digest
        row = self._read_row(rel) if self.one_by_one or rel <= self._asked else self._next_row(rel)
        self._asked = max(self._asked, rel)
        if row is None or row[0] != digest:
            return None
        try:
            value = pickle.loads(row[1])
        except Exception:  # noqa: BLE001 - any unpickling failure means "parse this note again"
            return None
        self.hits += 1
        return value

    def put(self, rel: str, digest: bytes, value: object) -> None:
        """Keep `value` for `rel` with this `digest` (stored with the next batch)."""
        self._pending.append((rel, digest, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)))
        if len(self._pending) >= self.BATCH:
            self._flush()

    def save(self, keep: Iterable[str]) -> None:
        """Store what is left to store and drop the rows of paths not in `keep`."""
        keep = set(keep)
        self._flush()
        if self._broken or not self.path.exists():
            return
        try:
            with connect(self.path, _NOTES_SCHEMA) as db:
                gone = [(path,) for (path,) in db.execute("SELECT path FROM note") if path not in keep]
                db.executemany("DELETE FROM note WHERE path = ?", gone)
        except sqlite3.Error as exc:
            self._fail(exc)

    def save_changes(self, gone: Iterable[str]) -> None:
        """Store what is left to store and drop the rows of the `gone` paths (`save` for a build
        that knows what changed)."""
        self._flush()
        if self._broken:
            return
        try:
            with connect(self.path, _NOTES_SCHEMA) as db:
                db.executemany("DELETE FROM note WHERE path = ?", [(path,) for path in gone])
        except sqlite3.Error as exc:
            self._fail(exc)

    def bodies(self) -> NoteBodies:
        """What gives the notes this cache stores back whole, by path (picklable; what the file
        could not take comes with it)."""
        self._flush()
        return NoteBodies(self.path, dict(self._held))

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        if not self._broken:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with connect(self.path, _NOTES_SCHEMA) as db:
                    db.executemany("INSERT OR REPLACE INTO note (path, digest, value) VALUES (?, ?, ?)", pending)
                return
            except (OSError, sqlite3.Error) as exc:
                self._fail(exc)
        self._held.update((path, value) for path, _digest, value in pending)

    def _fail(self, exc: Exception) -> None:
        self._broken = True
        self.notices.append(f"{self.path}: cannot be updated ({exc}); the next build parses those notes again")

    def _next_row(self, rel: str) -> tuple[bytes, bytes] | None:
        """The row of `rel`, reading ahead in path order a batch at a time (no cursor is kept open
        between batches, so that new rows can be stored meanwhile)."""
        ahead = self._ahead
        while True:
            while ahead and ahead[0][0] < rel:
                ahead.popleft()  # no longer asked for: let its pickle go
            if ahead:
                return ahead.popleft()[1:] if ahead[0][0] == rel else None
            if self._after is None or not self._read_ahead():
                return None

    def _read_ahead(self) -> bool:
        if not self.path.exists():
            self._after = None
            return False
        try:
            with connect(self.path, _NOTES_SCHEMA) as db:
                rows = db.execute("SELECT path, digest, value FROM note WHERE path > ? ORDER BY path LIMIT ?", (self._after, self.BATCH)).fetchall()
        except sqlite3.OperationalError as exc:
            self.notices.append(f"{self.path}: cannot be read ({exc}); parsed every note")
            rows = []
        except sqlite3.DatabaseError as exc:
            self.notices.append(f"{self.path}: damaged ({exc}); discarded it and parsed every note")
            remove_database(self.path)
            rows = []
        if not rows:
            self._after = None
            return False
        self._ahead.extend(rows)
        self._after = rows[-1][0]
        return True

    def _read_row(self, rel: str) -> tuple[bytes, bytes] | None:
        if not self.path.exists():
            return None
        try:
            with connect(self.path, _NOTES_SCHEMA) as db:
                return db.execute("SELECT digest, value FROM note WHERE path = ?", (rel,)).fetchone()
        except sqlite3.Error:
            return None


@dataclass(frozen=True)
class NoteBodies:
    """The notes a NoteCache stores, given back whole by path: what an extracting process reads a
    few notes' text from, so that the build process never holds the vault's text. `held`: the
    pickled rows the file could not take."""

    path: Path
    held: dict[str, bytes] = field(default_factory=dict)

    def fill(self, notes: Iterable[Note]) -> list[Note]:
        """`notes` (read without their bodies) with their bodies."""
        notes = list(notes)
        stored = {note.path: pickle.loads(self.held[note.path])[0] for note in notes if note.path in self.held}
        wanted = [note.path for note in notes if note.path not in stored]
        if wanted:
            with connect(self.path, _NOTES_SCHEMA) as db:
                for low in range(0, len(wanted), 500):
                    part = wanted[low : low + 500]
                    for path, value in db.execute(f"SELECT path, value FROM note WHERE path IN ({','.join('?' * len(part))})", part):
                        stored[path] = pickle.loads(value)[0]
        missing = [note.path for note in notes if note.path not in stored]
        if missing:
            from kg.errors import ExtractionError

            raise ExtractionError(f"{self.path}: the text of {missing[0]} is no longer there (was the cache removed during the build?)")
        return [replace(stored[note.path], kind=note.kind) for note in notes]


_NOTES_SCHEMA = "CREATE TABLE IF NOT EXISTS note (path TEXT PRIMARY KEY, digest BLOB NOT NULL, value BLOB NOT NULL)"


@contextmanager
def connect(path: Path, schema: str | tuple[str, ...]) -> Iterator[sqlite3.Connection]:
    """A connection whose work commits on success, rolls back on error, and is always closed;
    `schema` (a statement, or several) makes its tables where they are missing."""
    db = sqlite3.connect(path, timeout=30)
    try:
        with db:
            for statement in (schema,) if isinstance(schema, str) else schema:
                db.execute(statement)
            yield db
    finally:
        db.close()
