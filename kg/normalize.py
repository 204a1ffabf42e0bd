"""Normalisation of names and text: the one definition of "same spelling" in kg.

`name_key` folds width (NFKC), case, and separators (spaces, hyphens, dots, `·`), so
GPT-4o = GPT4o = gpt 4o = ＧＰＴ－４ｏ and DALL·E 3 = DALL-E 3 = Dalle3 = dalle3.
`fold_text` does the same to a whole text while remembering where each folded character came from.
"""

from __future__ import annotations

import re
import unicodedata

# Characters that never distinguish two names.
SEPARATORS = frozenset(" \t\u3000-_·•・.‧'’\u00a0\u2010\u2011\u2012\u2013\u2014/")

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def fold_char(char: str) -> str:
    """One character as matching sees it: NFKC, lower case, '' for separators."""
    folded = unicodedata.normalize("NFKC", char).casefold()
    return "".join(c for c in folded if c not in SEPARATORS)


def name_key(name: str) -> str:
    """The key two spellings share when they name the same thing."""
    return "".join(fold_char(c) for c in name)


def fold_text(text: str) -> tuple[str, list[int]]:
    """Fold `text` as name_key does; return (folded, origin) with origin[i] = index in text of folded[i]."""
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
