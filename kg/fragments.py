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
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from kg.cache import code_fingerprint, remove_database
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

    def _drop(self) -> None:
        if self.db is not None:
            try:
                self.db.close()
            except sqlite3.Error:
                pass
        self.db = None
        self.fresh, self.fresh_size = [], 0



INDEX_PREFIX = "pieces-"  # OUT/.kg-cache/pieces-<output file name>: where each piece of the last published file lies
_INDEX_VERSION = 1


class OutputPieces:
    """The pieces of one output file, written to `handle` (the new file, opened for writing) and
    found again in the file the last build published, `published/<filename>`.

    `piece(parts, make)` writes one piece: copied from the published file when that file still is
    what the index says (its size, modification time and inode) and holds a piece of the same
    digest, else `make()`. `close()` stores the new file's index under the stamp it will keep once
    it is moved into `published` (a rename keeps size, time and inode). Between `piece` calls
    nothing else may be written to `handle` without `flush()` first (copies of neighbouring
    pieces are made as one, when their turn comes).

    Without a cache folder, a published folder, or a handle that is a real file, every piece is
    made and nothing is kept: the bytes are the same. Use in one process, from `open` to `close`,
    or as `with OutputPieces(...).open() as store:`, which keeps no index when the block fails.
    """

    def __init__(self, folder: Path | None, filename: str, handle: TextIO, *, published: Path | None, salt: str = "") -> None:
        self.handle = handle
        self.filename = filename
        self.index_path = Path(folder) / f"{INDEX_PREFIX}{filename}" if folder is not None and published is not None else None
        self.published = Path(published) / filename if published is not None else None
        self.salt = f"{code_fingerprint()}\0{salt}" if self.index_path is not None else ""
        self.fd: int | None = None  # the new file's descriptor
        self.source: int | None = None  # the published file's, when its pieces can be copied
        self.previous: dict[bytes, tuple[int, int]] = {}
        self.placed: dict[bytes, tuple[int, int]] = {}  # this file's pieces: digest -> (offset, length)
        self.copying: list[int] | None = None  # [offset in the published file, length, offset here] of copies not yet made
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
                index = marshal.load(stored)
            if index["version"] == _INDEX_VERSION and index["salt"] == self.salt and index["file"] == str(self.published):
                source = os.open(self.published, os.O_RDONLY)
                if _stamp(os.fstat(source)) == index["stamp"]:
                    self.source, self.previous = source, index["pieces"]
                else:
                    os.close(source)
        except (OSError, EOFError, ValueError, TypeError, KeyError):  # missing, damaged, or another file now: make every piece
            pass
        return self

    def __enter__(self) -> OutputPieces:
        return self

    def __exit__(self, kind: type | None, *_: object) -> None:
        if kind is None:
            self.close()
        else:  # the new file is abandoned: the published one and its index stay as they were
            self._release()

    def key(self, *parts: object) -> bytes:
        return digest(self.salt, *parts)

    def piece(self, parts: Callable[[], tuple], make: Callable[[], str]) -> None:
        """Write the piece made of `parts()`: copied from the published file, or `make()`. Without
        an index, just `make()`: no digest is computed."""
        if self.index_path is None:
            self.handle.write(make())
            return
        key = self.key(*parts())
        found = self.previous.get(key)
        if found is not None:
            offset, length = found
            if self.copying is not None and self.copying[0] + self.copying[1] == offset:
                here = self.copying[2] + self.copying[1]
                self.copying[1] += length
            else:
                self.flush()
                here = os.lseek(self.fd, 0, os.SEEK_CUR)
                self.copying = [offset, length, here]
            self.placed[key] = (here, length)
            self.hits += 1
            return
        self.flush()
        here = os.lseek(self.fd, 0, os.SEEK_CUR)
        self.handle.write(make())
        self.handle.flush()
        self.placed[key] = (here, os.lseek(self.fd, 0, os.SEEK_CUR) - here)
        self.made += 1

    def flush(self) -> None:
        """Write out everything so far: the handle's buffer, then the copies waiting their turn."""
        if self.fd is None:
            return
        self.handle.flush()
        if self.copying is not None:
            offset, length, _here = self.copying
            self.copying = None
            _copy(self.source, self.fd, offset, length, self.published)

    def close(self) -> None:
        """Finish the copies and keep the new file's index (failing to keep it only costs the next
        build its copies)."""
        if self.index_path is None:
            return
        try:
            self.flush()
            index = {"version": _INDEX_VERSION, "salt": self.salt, "file": str(self.published), "stamp": _stamp(os.fstat(self.fd)), "pieces": self.placed}
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

    def _release(self) -> None:
        if self.source is not None:
            os.close(self.source)
            self.source = None
        self.index_path = None  # closed: nothing more is kept


def _stamp(stat: os.stat_result) -> tuple[int, int, int]:
    return (stat.st_size, stat.st_mtime_ns, stat.st_ino)


def _copy(source: int, target: int, offset: int, length: int, name: Path | None) -> None:
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
