"""Output fragments kept between builds: pieces of an output file, by a digest of what made them.

An exporter that writes its file as a sequence of independent pieces (graph.ttl: the mentions of
one article) can ask for a piece by the digest of its inputs and write the kept bytes instead of
making it again. After a one-note edit nearly every piece is found, so the rebuild pays for the
pieces that changed rather than for the whole file. Digests cover kg's code as well as the
piece's inputs, so what is kept can only ever be the exact text the exporter would make; anything
wrong with what is kept (missing, locked, damaged) means "make every piece", never a different output.

Two stores:
- `OutputPieces`: the file the last build published is its own store. An index in the cache
  folder (`pieces-<file>`, a few bytes a piece) says where each piece lies in it, and a found
  piece is copied from there into the new file by the kernel (`os.copy_file_range`), never read
  into Python. For the big outputs (graph.ttl, graph.graphml: most of a build's 200 MB at 3,300
  notes), where decoding kept text and writing it again cost more than the copy.
- `Fragments`: one SQLite file (OUT/.kg-cache/fragments-<name>.sqlite), one row per piece
  (digest, text), for values that are not a file's bytes (the page's layout). Rows no build used
  last time are dropped.
"""

from __future__ import annotations

import hashlib
import io
import marshal
import os
import sqlite3
from bisect import bisect_left
from operator import itemgetter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from kg.cache import close_quietly, code_fingerprint, remove_database
from kg.errors import ExportError

FLUSH_CHARACTERS = 8_000_000  # new pieces are stored in batches of about this many characters
_SCHEMA = "CREATE TABLE IF NOT EXISTS fragment (digest BLOB PRIMARY KEY, text TEXT NOT NULL)"


def digest(*parts: object) -> bytes:
    """A digest of `parts` by their marshal encoding (kg passes str, int, float, bool, None, tuple,
    list and dict values only, which it encodes exactly, with their types; version 2 writes every
    value out in full, never a reference to an equal one, so equal parts give equal bytes).
    Two and a half times as fast as digesting their repr."""
    return hashlib.blake2b(marshal.dumps(parts, 2), digest_size=20).digest()


class Fragments:
    """The stored pieces of one output file; use in one process, from `open` to `close`."""

    def __init__(self, folder: Path | None, name: str, *, salt: str = "") -> None:
        """`salt`: whatever every piece of this file depends on besides its own inputs and kg's code."""
        self.path = Path(folder) / f"fragments-{name}.sqlite" if folder is not None else None
        self.salt = f"{code_fingerprint()}\0{salt}" if folder is not None else ""
        self.db: sqlite3.Connection | None = None
        self.used: list[bytes] = []
        self.fresh: list[tuple[bytes, str]] = []
        self.fresh_size = 0
        self.hits = 0

    def open(self) -> Fragments:
        if self.path is None:
            return self
        for _attempt in range(2):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.db = sqlite3.connect(self.path, timeout=5)
                self.db.execute(_SCHEMA)
                self.db.execute("SELECT 1 FROM fragment LIMIT 1").fetchall()
                return self
            except sqlite3.OperationalError:  # locked, read-only, ...: make every piece this time
                self._drop()
                return self
            except sqlite3.DatabaseError:  # not a database, or a damaged one: start it again
                self._drop()
                remove_database(self.path)
            except OSError:
                self._drop()
                return self
        return self

    def key(self, *parts: object) -> bytes:
        return digest(self.salt, *parts)

    def piece(self, parts: Callable[[], tuple], make: Callable[[], str]) -> str:
        """The text of the piece made of `parts()`: stored, or `make()` and stored. Without a store
        (no cache folder, or it failed), just `make()`: no digest is computed."""
        if self.db is None:
            return make()
        key = self.key(*parts())
        text = self.get(key)
        if text is None:
            text = make()
            self.put(key, text)
        return text

    def get(self, key: bytes) -> str | None:
        """The stored text of the piece `key`, or None (then `put` it once made)."""
        self.used.append(key)
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT text FROM fragment WHERE digest = ?", (key,)).fetchone()
        except sqlite3.Error:
            self._drop()
            return None
        if row is not None:
            self.hits += 1
        return row[0] if row is not None else None

    def put(self, key: bytes, text: str) -> None:
        if self.db is None:
            return
        self.fresh.append((key, text))
        self.fresh_size += len(text)
        if self.fresh_size >= FLUSH_CHARACTERS:  # never hold many pieces at once
            self._store_fresh()

    def _store_fresh(self) -> None:
        try:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO fragment VALUES (?, ?)", self.fresh)
        except sqlite3.Error:
            self._drop()
        self.fresh, self.fresh_size = [], 0

    def close(self) -> None:
        """Store the new pieces and forget the ones this build did not use, in one transaction."""
        if self.db is None:
            return
        try:
            with self.db:
                self.db.execute("CREATE TEMP TABLE IF NOT EXISTS used (digest BLOB PRIMARY KEY)")
                self.db.execute("DELETE FROM used")
                self.db.executemany("INSERT OR IGNORE INTO used VALUES (?)", ((key,) for key in self.used))
                self.db.executemany("INSERT OR REPLACE INTO fragment VALUES (?, ?)", self.fresh)
                self.db.execute("DELETE FROM fragment WHERE digest NOT IN (SELECT digest FROM used)")
        except sqlite3.Error:
            pass  # the next build makes those pieces again
        finally:
            self._drop()

    def release(self) -> None:
        """Close without storing or forgetting anything: for a store only looked into. (`close`
        forgets every piece this process did not ask for, in a transaction synced to disk: 0.08 s
        at 10,000 notes, where the page's layout was only looked up before it is sent to be made.)"""
        self._drop()

    def _drop(self) -> None:
        close_quietly(self.db)
        self.db = None
        self.fresh, self.fresh_size = [], 0



INDEX_PREFIX = "pieces-"  # OUT/.kg-cache/pieces-<output file name>: where each piece of the last published file lies
_INDEX_VERSION = 2


class CannotPatch(ExportError):
    """The published file or its index is not what the last build left: patch it no more, build it whole."""


@dataclass
class _Section:
    """One section being written: its texts, and its pieces so far as [id, digest, offset, length]."""

    name: str
    sep: str
    before: str
    after: str
    empty: str
    count: int = 0  # pieces written so far
    items: list[list] = field(default_factory=list)  # those the index keeps (all, when there is one)


class OutputPieces:
    """An output file written as literal text and named sections of pieces, to `handle` (the new
    file, opened for writing), with an index of where each piece lies, so that the next build can
    copy pieces from the file as published (`published/<filename>`) instead of making them again.

    A section is a sorted run of pieces, each known by an id (its sort key, unique in the section)
    and a digest of what makes it, joined by a fixed separator, between a text before and a text
    after (or one text for an empty section). Pieces are copied by the kernel
    (`os.copy_file_range`), neighbours as one call, from the published file while it still is what
    the index says (its size, modification time and inode).

    Two ways to fill a section:
    - `section(...)` then `piece(id, parts, make)` for every piece in order (a whole build): a piece
      whose digest (of `parts()`) is in the published file is copied, else `make()` is written;
    - `patch(name, changes, ...)` (a build that knows what changed): every piece of the published
      section is copied but those `changes` names, which are made (or dropped, for None), and new
      ids go in at their sorted place. Raises CannotPatch when there is no valid published file.

    `close()` stores the new file's index under the stamp it will keep once moved into
    `published` (a rename keeps size, time and inode). Without a cache folder, a published folder,
    or a handle that is a real file, every piece is made and nothing is kept: the bytes are the
    same. Use as `with OutputPieces(...).open() as store:`, which keeps no index when the block fails.
    """

    def __init__(self, folder: Path | None, filename: str, handle: TextIO, *, published: Path | None, salt: str = "") -> None:
        self.handle = handle
        self.filename = filename
        self.index_path = Path(folder) / f"{INDEX_PREFIX}{filename}" if folder is not None and published is not None else None
        self.published = Path(published) / filename if published is not None else None
        # The index names the file by its absolute path: the same folder reached from another
        # working directory (or through a link) is still the file the index describes.
        self.where = str(Path(published).resolve() / filename) if published is not None else ""
        self.salt = f"{code_fingerprint()}\0{salt}" if self.index_path is not None else ""
        self.fd: int | None = None  # the new file's descriptor
        self.source: int | None = None  # the published file's, when its pieces can be copied
        self.previous: dict[str, list[list]] = {}  # the published file's sections
        self.found: dict[bytes, tuple[str, int]] = {}  # digest -> (section, position) in the published file
        self.sections: dict[str, list[list]] = {}  # this file's
        self.current: _Section | None = None
        # Copies not yet made: [section, first position, last position, offset here] in the published file's terms.
        self.copying: list | None = None
        self.hits = 0
        self.made = 0

    def open(self) -> OutputPieces:
        if self.index_path is None:
            return self
        try:
            self.fd = self.handle.fileno()
        except (AttributeError, OSError, io.UnsupportedOperation):
            self.index_path = None  # not a file (a StringIO): make every piece
            return self
        _remove_old_store(self.index_path.parent, self.filename)
        try:
            with open(self.index_path, "rb") as stored:
                index = marshal.loads(stored.read())  # marshal.load reads a file object a few bytes at a time: three times as long
            if index["version"] == _INDEX_VERSION and index["salt"] == self.salt and index["file"] == self.where:
                source = os.open(self.published, os.O_RDONLY)
                if published_stamp(os.fstat(source)) == index["stamp"]:
                    self.source, self.previous = source, index["sections"]
                    self.found = {item[1]: (name, k) for name, items in self.previous.items() for k, item in enumerate(items)}
                else:
                    os.close(source)
        except (OSError, EOFError, ValueError, TypeError, KeyError):  # missing, damaged, or another file now: make every piece
            pass
        return self

    @property
    def patchable(self) -> bool:
        """Whether `patch` can work: the published file is the one the index describes."""
        return self.source is not None

    def __enter__(self) -> OutputPieces:
        return self

    def __exit__(self, kind: type | None, *_: object) -> None:
        if kind is None:
            self.close()
        else:  # the new file is abandoned: the published one and its index stay as they were
            self._release()

    def key(self, *parts: object) -> bytes:
        return digest(self.salt, *parts)

    def text(self, text: str) -> None:
        """Write literal text (not a piece) at this point of the file."""
        self.flush()
        self.handle.write(text)

    @contextmanager
    def section(self, name: str, *, sep: str = "", before: str = "", after: str = "", empty: str = "") -> Iterator[None]:
        """A section whose pieces the block gives with `piece`, in sorted order of their ids."""
        self.current = _Section(name, sep, before, after, empty)
        yield
        self._end_section()

    def piece(self, pid: str, parts: Callable[[], tuple], make: Callable[[], str]) -> None:
        """The next piece of the current section: copied from the published file when a piece
        made of the same `parts()` is there, else `make()`. Without an index, just `make()`: no
        digest is computed."""
        if self.index_path is None:
            self._separate()
            self.handle.write(make())
            self.current.count += 1
            self.made += 1
            return
        key = self.key(*parts())
        where = self.found.get(key)
        if where is not None:
            self._copied(pid, *where)
        else:
            self._made(pid, key, make)

    def patch(self, name: str, changes: Mapping[str, tuple[Callable[[], tuple], Callable[[], str]] | None], *, sep: str = "", before: str = "", after: str = "", empty: str = "") -> None:
        """The section `name` as published, but for `changes`: id -> (parts, make) for a piece to
        make (in place of the published one, or new at its sorted place), or None to drop it."""
        if not self.patchable or self.index_path is None:
            raise CannotPatch(f"{self.published}: not as the last build left it")
        self.current = _Section(name, sep, before, after, empty)
        published = self.previous.get(name, [])
        ids = sorted(changes)
        k = j = 0
        while k < len(published) or j < len(ids):
            old = published[k][0] if k < len(published) else None
            new = ids[j] if j < len(ids) else None
            if new is None or (old is not None and old < new):
                # Every published piece before the next change (or to the end), copied as one run.
                end = len(published) if new is None else bisect_left(published, new, lo=k, key=itemgetter(0))
                self._copied_run(name, k, end)
                k = end
                continue
            if old == new:
                k += 1
            j += 1
            change = changes[new]
            if change is not None:
                parts, make = change
                self._made(new, self.key(*parts()), make)
        self._end_section()

    def flush(self) -> None:
        """Write out everything so far: the handle's buffer, then the copies waiting their turn."""
        if self.fd is None:
            return
        self.handle.flush()
        if self.copying is not None:
            name, first, last, _here = self.copying
            self.copying = None
            items = self.previous[name]
            offset = items[first][2]
            copy_range(self.source, self.fd, offset, items[last][2] + items[last][3] - offset, self.published)

    def close(self) -> None:
        """Finish the copies and keep the new file's index (failing to keep it only costs the next
        build its copies)."""
        if self.index_path is None:
            return
        try:
            self.flush()
            index = {"version": _INDEX_VERSION, "salt": self.salt, "file": self.where, "stamp": published_stamp(os.fstat(self.fd)), "sections": self.sections}
            temporary = self.index_path.with_name(f"{self.index_path.name}.{os.getpid()}.tmp")
            try:
                self.index_path.parent.mkdir(parents=True, exist_ok=True)
                with open(temporary, "wb") as kept:
                    marshal.dump(index, kept)
                os.replace(temporary, self.index_path)
            except OSError:
                pass
            finally:
                temporary.unlink(missing_ok=True)
        finally:
            self._release()

    def _separate(self) -> None:
        """Write what comes before the current section's next piece: its opening text, or the separator."""
        section = self.current
        text = section.sep if section.count else section.before
        if text:
            self.text(text)

    def _copied(self, pid: str, name: str, k: int) -> None:
        """Place piece `k` of the published section `name` here, as piece `pid`."""
        section = self.current
        item = self.previous[name][k]
        pending = self.copying
        if pending is not None and pending[0] == name and pending[2] == k - 1 and section.count:
            pending[2] = k  # its neighbour in the published file, separator and all
            here = pending[3] + item[2] - self.previous[name][pending[1]][2]
        else:
            self._separate()
            self.flush()
            here = os.lseek(self.fd, 0, os.SEEK_CUR)
            self.copying = [name, k, k, here]
        section.items.append([pid, item[1], here, item[3]])
        section.count += 1
        self.hits += 1

    def _copied_run(self, name: str, first: int, end: int) -> None:
        """`_copied` of the published section `name`'s pieces first to end - 1, each as itself."""
        self._copied(self.previous[name][first][0], name, first)
        if end - first > 1:  # the rest follow on from the first, in one copy
            items = self.previous[name]
            pending = self.copying
            shift = pending[3] - items[pending[1]][2]
            self.current.items.extend([[item[0], item[1], item[2] + shift, item[3]] for item in items[first + 1 : end]])
            pending[2] = end - 1
            self.current.count += end - first - 1
            self.hits += end - first - 1

    def _made(self, pid: str, key: bytes, make: Callable[[], str]) -> None:
        self._separate()
        self.flush()
        here = os.lseek(self.fd, 0, os.SEEK_CUR)
        self.handle.write(make())
        self.handle.flush()
        self.current.items.append([pid, key, here, os.lseek(self.fd, 0, os.SEEK_CUR) - here])
        self.current.count += 1
        self.made += 1

    def _end_section(self) -> None:
        section, self.current = self.current, None
        self.text(section.after if section.count else section.empty)  # also ends the copies, which never run on past a section
        self.sections[section.name] = section.items

    def _release(self) -> None:
        if self.source is not None:
            os.close(self.source)
            self.source = None
        self.index_path = None  # closed: nothing more is kept


def published_stamp(stat: os.stat_result) -> tuple[int, int, int]:
    """What vouches for a published output: its size, modification time and inode."""
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def copy_range(source: int, target: int, offset: int, length: int, name: Path | None) -> None:
    """Append `length` bytes of `source` from `offset` to `target` (at its position), in the kernel
    where it can (copy_file_range), else through a buffer."""
    while length > 0:
        try:
            done = os.copy_file_range(source, target, length, offset)
        except (AttributeError, OSError):  # not Linux, or a file system that cannot: read and write
            done = _copy_through_buffer(source, target, offset, min(length, 1 << 24))
        if done == 0:
            raise ExportError(f"{name}: became shorter while its pieces were copied from it (another build?); build again")
        offset += done
        length -= done


def _copy_through_buffer(source: int, target: int, offset: int, length: int) -> int:
    data = os.pread(source, length, offset)
    view = memoryview(data)
    while view:
        view = view[os.write(target, view):]
    return len(data)


def _remove_old_store(folder: Path, filename: str) -> None:
    """Earlier versions kept graph.ttl's and graph.graphml's pieces in SQLite (as much disk as the files)."""
    stem = filename.rsplit(".", 1)[-1]
    remove_database(folder / f"fragments-{stem}.sqlite")
