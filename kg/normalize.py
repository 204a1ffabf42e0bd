"""Normalisation of names and text: the one definition of "same spelling" in kg.

`name_key` folds width (NFKC), case, and separators (spaces, hyphens, dots, `·`), so
GPT-4o = GPT4o = gpt 4o = ＧＰＴ－４ｏ and DALL·E 3 = DALL-E 3 = Dalle3 = dalle3.
`fold_text` does the same to a whole text while remembering where each folded character came from.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

# Characters that never distinguish two names.
SEPARATORS = frozenset(" \t\u3000-_·•・.‧'’\u00a0\u2010\u2011\u2012\u2013\u2014/")

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def fold_char(char: str) -> str:
    """One character as matching sees it: NFKC, lower case, '' for separators."""
    folded = unicodedata.normalize("NFKC", char).casefold()
    return "".join(c for c in folded if c not in SEPARATORS)


class _FoldTable(dict):
    """A str.translate table that folds each character once and remembers it."""

    def __missing__(self, code: int) -> str | None:
        folded = fold_char(chr(code)) or None
        self[code] = folded
        return folded


_FOLD = _FoldTable()


@lru_cache(maxsize=1 << 16)
def name_key(name: str) -> str:
    """The key two spellings share when they name the same thing."""
    return name.translate(_FOLD)


def fold_text(text: str) -> tuple[str, Sequence[int]]:
    """Fold `text` as name_key does; return (folded, origin) with origin[i] = index in text of folded[i].

    Fast path: when every character folds to at most one character (nearly always), the origin
    of each kept character is found with numpy; otherwise character by character.
    """
    folded = text.translate(_FOLD)
    codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    unique, inverse = np.unique(codes, return_inverse=True)
    kept = np.fromiter((_FOLD[c] is not None for c in unique.tolist()), dtype=bool, count=len(unique))
    origin = np.nonzero(kept[inverse])[0]
    if len(origin) == len(folded):
        return folded, origin  # a numpy array: 8 bytes a character, where a list of ints takes 36
    return _fold_slow(text)


def _fold_slow(text: str) -> tuple[str, list[int]]:
    out: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        if char.isascii():
            if char in SEPARATORS:
                continue
            out.append(char.lower())
            origin.append(index)
            continue
        for folded in fold_char(char):
            out.append(folded)
            origin.append(index)
    return "".join(out), origin


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def is_latin_word_char(char: str) -> bool:
    """True for ASCII letters/digits (and their full-width forms): the chars a Latin name cannot touch."""
    folded = unicodedata.normalize("NFKC", char)
    return len(folded) == 1 and folded.isascii() and folded.isalnum()
