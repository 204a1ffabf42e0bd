"""Output fragments kept between builds: pieces of an output file, by a digest of what made them.

An exporter that writes its file as a sequence of independent pieces (graph.ttl: the mentions of
one article) can ask for a piece by the digest of its inputs and write the stored text instead of
making it again. After a one-note edit nearly every piece is found, so the rebuild pays for the
pieces that changed rather than for the whole file.

One SQLite file per output (OUT/.kg-cache/fragments-<name>.sqlite), one row per piece:
(digest, text). Digests cover kg's code as well as the piece's inputs, so a row can only ever be
the exact text the exporter would make; anything wrong with the file (missing, locked, damaged)
means "make every piece", never a different output. Rows no build used last time are dropped.
"""

from __future__ import annotations

import hashlib
import marshal
import sqlite3
from collections.abc import Callable
from pathlib import Path

from kg.cache import code_fingerprint, remove_database

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
        if self.fresh_size >= FLUSH_CHARACTERS:  # a cold 50,000-note build makes a GB of pieces: never hold them
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

