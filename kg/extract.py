"""extract: Note -> Extraction. A pure function of one note and a Matcher, safe in any worker process.

The Matcher holds everything extraction needs (the dictionary's spellings in an Aho-Corasick
automaton over folded text, noise words, and a private jieba.Tokenizer), built once per process.
"""

from __future__ import annotations

from dataclasses import dataclass

import ahocorasick

from kg.dictionary import Dictionary, Entry
from kg.model import Extraction, Mention, Note
from kg.normalize import fold_text, is_latin_word_char, name_key
from kg.text import clean, sentence_at


@dataclass
class Matcher:
    """Compiled dictionary for one process. Build with `build_matcher`."""

    dictionary: Dictionary
    automaton: ahocorasick.Automaton


def build_matcher(dictionary: Dictionary) -> Matcher:
    automaton = ahocorasick.Automaton()
    spellings: dict[str, list[Entry]] = {}
    for spelling, entry in dictionary.spellings():
        key = name_key(spelling)
        if len(key) < 2 or key in dictionary.noise:
            continue
        bucket = spellings.setdefault(key, [])
        if entry not in bucket:
            bucket.append(entry)
    for key, entries in spellings.items():
        automaton.add_word(key, (key, tuple(entries)))
    if len(automaton):
        automaton.make_automaton()
    return Matcher(dictionary=dictionary, automaton=automaton)


def extract(note: Note, matcher: Matcher) -> Extraction:
    """Every entity mention in the note's prose, in text order."""
    prose = clean(note.body)
    mentions = _dictionary_mentions(prose, matcher)
    return Extraction(mentions=tuple(sorted(mentions, key=lambda m: (m.start, m.end, m.kind))))


def _dictionary_mentions(prose: str, matcher: Matcher) -> list[Mention]:
    if not len(matcher.automaton):
        return []
    folded, origin = fold_text(prose)
    hits: list[tuple[int, int, tuple[Entry, ...]]] = []
    for end_index, (key, entries) in matcher.automaton.iter(folded):
        start_index = end_index - len(key) + 1
        start, end = origin[start_index], origin[end_index] + 1
        if not _on_boundaries(prose, start, end):
            continue
        hits.append((start, end, entries))
    mentions = []
    for start, end, entries in _leftmost_longest(hits):
        sentence = sentence_at(prose, start, end)
        for entry in entries:
            mentions.append(Mention(surface=prose[start:end], kind=entry.kind, start=start, end=end, sentence=sentence, key=entry.name))
    return mentions


def _on_boundaries(text: str, start: int, end: int) -> bool:
    """A Latin-script name must not continue a longer Latin word on either side."""
    if is_latin_word_char(text[start]) and start > 0 and is_latin_word_char(text[start - 1]):
        return False
    if is_latin_word_char(text[end - 1]) and end < len(text) and is_latin_word_char(text[end]):
        return False
    return True


def _leftmost_longest(hits: list[tuple[int, int, tuple[Entry, ...]]]) -> list[tuple[int, int, tuple[Entry, ...]]]:
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    chosen = []
    last_end = -1
    for hit in hits:
        if hit[0] >= last_end:
            chosen.append(hit)
            last_end = hit[1]
    return chosen
