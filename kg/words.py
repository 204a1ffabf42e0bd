"""Word lists kept between builds in one file, read whole or a bucket at a time.

Extraction looks words up in large lists: its jieba tokenizer's word table (half a million words)
and discovery's lists of Chinese and European words (a few hundred thousand). A cold build's workers
read them whole, once each. A rebuild after one edit looks up a few thousand of those words, yet
reading the lists whole was most of what its extraction worker spent (0.35 of 0.45 s at 3,300
notes); read from here a bucket at a time, they cost it a few milliseconds, and the same answers.

A file holds a pickled head (whatever its writer keeps beside the lists) and named sections, each a
list of words in BUCKETS buckets:
- a word set: a word's bucket depends on its first, second and last characters and its length;
  `Words` answers `in` by reading the one bucket the word asked about falls in.
- a word table (word -> frequency): a word's bucket depends on its first two characters only, so the
  buckets any lookup of a piece of a text can fall in are known from the text's characters and pairs
  of characters: `TableCover.cover(text)` reads them, and the table it fills then answers every such
  lookup exactly as the whole table would (jieba looks up only pieces of the text it cuts).

Layout: the key line, the header's length (8 bytes), the header (pickled: the head, each section's
parts, a CRC of the data), the data. A file made under another key reads as missing; a cut-off or
damaged one raises DamagedWords. The file is as trusted as the cache folder it lives in.
"""

from __future__ import annotations

import os
import pickle
import sys
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from pathlib import Path

BUCKETS = 1 << 16
_MASK = BUCKETS - 1
_PAIR = 40503  # odd: spreads (first, second) character pairs over the buckets
_FIRST, _LAST = 65599, 1000003  # and, for a set, with the last character
_HEADER_LENGTH = 8


class DamagedWords(ValueError):
    """A kept word file that cannot be read as written (cut off, or changed since)."""


def word_bucket(word: str) -> int:
    """The bucket of `word` in a word set: a function of its first, second and last characters and
    its length (computed for half a million words at once when they are saved)."""
    if not word:
        return 0
    return (ord(word[0]) * _FIRST + (ord(word[1]) if len(word) > 1 else 0) * _PAIR + ord(word[-1]) * _LAST + len(word)) & _MASK


def table_bucket(word: str) -> int:
    """The bucket of `word` in a word table: a function of its first two characters."""
    if not word:
        return 0
    return (ord(word[0]) * _PAIR + (ord(word[1]) if len(word) > 1 else 0)) & _MASK


def save(path: Path, key: str, head: object, *, sets: Mapping[str, Iterable[str]] = {}, tables: Mapping[str, Mapping[str, int]] = {}) -> None:  # noqa: B006 - read only
    """Write `head` and the named word sets and tables to `path` under `key`, atomically (raises
    OSError when it cannot; ValueError when a word holds a newline). A tenth of a second for half
    a million words: the buckets are worked out with numpy, not word by word."""
    import numpy as np

    parts: list[bytes] = []
    sections: dict[str, tuple[str, int, dict[str, tuple[int, int]]]] = {}
    size = 0

    def add(piece: bytes) -> tuple[int, int]:
        nonlocal size
        parts.append(piece)
        size += len(piece)
        return size - len(piece), len(piece)

    for name, words in sets.items():
        words = list(set(words))
        index, text, _first, _order = _bucketed(words, table=False)
        sections[name] = ("set", len(words), {"index": add(index), "text": add(text)})
    for name, table in tables.items():
        index, text, first, order = _bucketed(list(table), table=True)
        frequencies = np.fromiter(table.values(), dtype=np.int64, count=len(table))[order]
        sections[name] = ("table", len(table), {"index": add(index), "text": add(text), "entries": add(first), "frequencies": add(frequencies.tobytes())})
    data = b"".join(parts)
    header = pickle.dumps({"head": head, "sections": sections, "byteorder": sys.byteorder, "crc": zlib.crc32(data), "size": len(data)}, protocol=pickle.HIGHEST_PROTOCOL)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(key.encode() + b"\n" + len(header).to_bytes(_HEADER_LENGTH, "little") + header)
            handle.write(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _bucketed(words: list[str], *, table: bool):  # noqa: ANN202 - (bytes, bytes, bytes, numpy array)
    """The words bucket by bucket (`table_bucket`'s, or `word_bucket`'s), as (each bucket's byte
    offset in the text and the text's end, as uint32; the text: the words in that order, each
    followed by a newline, in UTF-8; each bucket's first word's number and the count, as uint32;
    the order, as indices into `words`). The same buckets as the functions give, worked out from
    the words' code points all at once."""
    import numpy as np

    joined = "\n".join(words) + "\n" if words else ""
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
    ends = np.flatnonzero(points == 10)  # each word's newline
    if len(ends) != len(words):
        raise ValueError(f"a kept word cannot hold a newline: {next(word for word in words if chr(10) in word)!r}")
    starts = np.r_[0, ends[:-1] + 1].astype(np.int64)
    lengths = ends - starts
    first = points[np.minimum(starts, len(points) - 1)] if len(points) else np.empty(0, dtype=np.int64)
    second = np.where(lengths > 1, points[np.minimum(starts + 1, len(points) - 1)] if len(points) else 0, 0)
    if table:
        buckets = (first * _PAIR + second) & _MASK
    else:
        last = points[np.maximum(ends - 1, 0)] if len(points) else np.empty(0, dtype=np.int64)
        buckets = (first * _FIRST + second * _PAIR + last * _LAST + lengths) & _MASK
    buckets = np.where(lengths > 0, buckets, 0)
    order = np.argsort(buckets, kind="stable")
    text = ("\n".join(map(words.__getitem__, order.tolist())) + "\n" if words else "").encode("utf-8", "surrogatepass")
    word_ends = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10) + 1  # byte offset after each word
    word_starts = np.r_[0, word_ends].astype(np.int64)
    first_word = np.searchsorted(buckets[order], np.arange(BUCKETS + 1), side="left")
    return word_starts[first_word].astype(np.uint32).tobytes(), text, first_word.astype(np.uint32).tobytes(), order


class KeptWords:
    """A file `save` wrote, read into memory (a few MB): its head, and its sections read whole
    (`whole_set`, `whole_table`) or a bucket at a time (`words`, `cover`)."""

    def __init__(self, data: memoryview, header: dict) -> None:
        self._data = data
        self._sections = header["sections"]
        self._swap = header["byteorder"] != sys.byteorder
        self.head = header["head"]

    @classmethod
    def open(cls, path: Path, key: str) -> KeptWords | None:
        """The file at `path`, or None when it is missing or was written under another key;
        DamagedWords when it cannot be read as written."""
        try:
            with open(path, "rb") as handle:
                if handle.readline().rstrip(b"\n") != key.encode():
                    return None
                length = int.from_bytes(handle.read(_HEADER_LENGTH), "little")
                try:
                    header = pickle.loads(handle.read(length))
                except Exception as exc:  # noqa: BLE001 - any unpickling failure is damage
                    raise DamagedWords(f"{path}: the header cannot be read ({type(exc).__name__})") from exc
                data = handle.read()
        except FileNotFoundError:
            return None
        if not isinstance(header, dict) or len(data) != header.get("size") or zlib.crc32(data) != header.get("crc"):
            raise DamagedWords(f"{path}: cut off or changed since it was written")
        return cls(memoryview(data), header)

    def _part(self, section: str, part: str) -> memoryview:
        offset, length = self._sections[section][2][part]
        return self._data[offset : offset + length]

    def _numbers(self, section: str, part: str, code: str) -> array:
        numbers = array(code)
        numbers.frombytes(self._part(section, part))
        if self._swap:
            numbers.byteswap()
        return numbers

    def whole_set(self, name: str) -> frozenset[str]:
        return frozenset(_lines(self._part(name, "text")))

    def words(self, name: str) -> Words:
        """The set `name`, read a bucket at a time as words are asked about."""
        return Words(self._part(name, "text"), self._numbers(name, "index", "I"), self._sections[name][1])

    def whole_table(self, name: str) -> dict[str, int]:
        return dict(zip(_lines(self._part(name, "text")), self._numbers(name, "frequencies", "q").tolist()))

    def cover(self, name: str) -> TableCover:
        """The table `name`, read for the texts it is asked to cover."""
        return TableCover(self._part(name, "text"), self._numbers(name, "index", "I"), self._numbers(name, "entries", "I"), self._numbers(name, "frequencies", "q"))


def _lines(text: memoryview) -> list[str]:
    """The words of a run of buckets (each word followed by a newline)."""
    words = str(text, "utf-8", "surrogatepass").split("\n")
    words.pop()  # after the last newline (an empty run gives [""])
    return words


class Words(AbstractSet):
    """A kept word set that reads, on each `in`, only the bucket of the word asked about (iterating
    reads it all). Pickles as the frozenset it is, for a worker process that cannot share the file."""

    def __init__(self, text: memoryview, index: array, count: int) -> None:
        self._text, self._index, self._count = text, index, count
        self._read = bytearray(BUCKETS)
        self._members: set[str] = set()

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str):
            return False
        bucket = word_bucket(word)
        if not self._read[bucket]:
            self._read[bucket] = 1
            self._members.update(_lines(self._text[self._index[bucket] : self._index[bucket + 1]]))
        return word in self._members

    def __iter__(self) -> Iterator[str]:
        if not all(self._read):
            self._members = set(_lines(self._text))
            self._read = bytearray(b"\1") * BUCKETS
        return iter(self._members)

    def __len__(self) -> int:
        return self._count

    def __reduce__(self) -> tuple:
        return (frozenset, (frozenset(self),))


class TableCover:
    """A kept word table read for the texts it is asked to `cover`: `words` holds every entry of
    every bucket a lookup of a piece of such a text can fall in (the table's own frequencies),
    and grows as more texts are covered."""

    def __init__(self, text: memoryview, index: array, entries: array, frequencies: array) -> None:
        self._text, self._index, self._entries, self._frequencies = text, index, entries, frequencies
        self._read = bytearray(BUCKETS)
        self.words: dict[str, int] = {}

    def cover(self, text: str) -> None:
        """Read the buckets of `text`'s characters and of its pairs of adjacent characters."""
        wanted = {(ord(first) * _PAIR + ord(second)) & _MASK for first, second in zip(text, text[1:])}
        wanted.update((ord(first) * _PAIR) & _MASK for first in text)
        read, index, entries = self._read, self._index, self._entries
        for bucket in wanted:
            if not read[bucket]:
                read[bucket] = 1
                words = _lines(self._text[index[bucket] : index[bucket + 1]])
                self.words.update(zip(words, self._frequencies[entries[bucket] : entries[bucket + 1]].tolist()))
