"""extract: Note -> Extraction. A pure function of one note and a Matcher, safe in any worker process.

The Matcher holds everything extraction needs, built once per process by `build_matcher`:
the dictionary's spellings in an Aho-Corasick automaton over folded text, the word lists of
discovery, and a private `jieba.Tokenizer` (never the global one) that knows the dictionary's
Chinese names and tells whether a short Chinese match is a word or part of one (可灵 vs 可灵活).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from importlib import resources

import ahocorasick

from kg.cache import WordTable
from kg.words import TableCover
from kg.dictionary import Dictionary, Entry
from kg.discover import Lexicon, discover
from kg.model import EVIDENCE_PER_PAIR, Extraction, Mention, Note
from kg.normalize import fold_text, has_cjk, is_latin_word_char, name_key
from kg.text import Sentences, clean

# How many of the most frequent English words count as "too common to be a name on its own".
COMMON_ENGLISH_WORDS = 20_000
# ... and how many count as real English words (a capitalised word outside them is a name even once).
KNOWN_ENGLISH_WORDS = 60_000
# Capitalised words of these languages are not product names either (Weihnachten, Joyeux).
OTHER_LANGUAGES = ("de", "fr", "es", "it", "pt", "nl")
OTHER_LANGUAGE_WORDS = 20_000
# A Chinese word jieba has seen this often is a common word, whatever its (unreliable) tag says.
COMMON_HAN_FREQUENCY = 1_000
# ... and this often, a word that is no new company's name (纳米 in 纳米科技).
KNOWN_HAN_FREQUENCY = 100
# Chinese dictionary matches this short are checked against jieba's segmentation.
SHORT_HAN = 3
# After a one-letter name (X), what makes it a platform rather than a letter.
PLATFORM_CUE = re.compile(r"\s*(?:上|平台|推文|帖子|（推特|\(Twitter|\(推特|（原推特|官方账号|账号)")
# jieba tags of common words (not proper nouns) that are never a name on their own.
_COMMON_TAGS = frozenset("n v a d r m q p c u vn an ad t f s l i z b nd ng vd vg ag dg tg".split())


def import_jieba():  # noqa: ANN201 - the jieba module
    """jieba, imported without setuptools' pkg_resources. jieba imports it, when it is there, only
    to open its own data files, and opens them beside its module when it is not; importing it takes
    a tenth of a second (and newer setuptools warn that it is deprecated) in every process that
    extracts, a one-note rebuild's worker included."""
    module = sys.modules.get("jieba")
    if module is not None:
        return module
    hidden = "pkg_resources" not in sys.modules
    if hidden:
        sys.modules["pkg_resources"] = None  # `import pkg_resources` raises ImportError meanwhile
    try:
        import jieba
    finally:
        if hidden and "pkg_resources" in sys.modules and sys.modules["pkg_resources"] is None:
            del sys.modules["pkg_resources"]
    return jieba


@dataclass
class Matcher:
    """Compiled dictionary and word lists for one process. Build with `build_matcher`."""

    dictionary: Dictionary
    automaton: ahocorasick.Automaton
    lexicon: Lexicon
    han_names: tuple[str, ...]
    words: WordTable | None = None  # where the tokenizer's word table is kept between builds, if anywhere
    _cover: TableCover | None = field(default=None, init=False, repr=False)  # the table, when read for the texts cut

    @cached_property
    def tokenizer(self):
        """A private jieba.Tokenizer that knows the dictionary's Chinese names (made on first use,
        from `words` when it holds the table). Cut with `cut`: a table read lazily holds only what
        the texts given to `cut` need."""
        jieba = import_jieba()
        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        stored = self.words.words() if self.words is not None else None
        if stored is not None:
            table, total = stored
            if isinstance(table, TableCover):
                self._cover = table
                table = table.words
            with tokenizer.lock:  # what Tokenizer.initialize sets, from the table it would build
                tokenizer.FREQ, tokenizer.total = table, total
                tokenizer.initialized = True
            return tokenizer
        tokenizer.initialize()
        for name in self.han_names:
            tokenizer.add_word(name, freq=tokenizer.suggest_freq(name, tune=False))
        if self.words is not None:
            self.words.keep(tokenizer.FREQ, tokenizer.total)
        return tokenizer

    def cut(self, text: str) -> list[str]:
        """jieba's words of `text`, without HMM guessing (deterministic, fast)."""
        tokenizer = self.tokenizer
        if self._cover is not None:
            self._cover.cover(text)
        return tokenizer.lcut(text, HMM=False)


def build_matcher(dictionary: Dictionary, lexicon: Lexicon | None = None, words: WordTable | None = None) -> Matcher:
    """The matcher for `dictionary`; `lexicon` is `build_lexicon(dictionary)`, built here if not
    given; `words` keeps its tokenizer's word table between builds (see kg.cache.WordTable)."""
    automaton = ahocorasick.Automaton()
    spellings: dict[str, list[Entry]] = {}
    han_names: set[str] = set()
    for spelling, entry in dictionary.spellings():
        key = name_key(spelling)
        if key in dictionary.noise or not key or (len(key) == 1 and not spelling.isascii()):
            continue
        bucket = spellings.setdefault(key, [])
        if entry not in bucket:
            bucket.append(entry)
        if has_cjk(spelling) and " " not in spelling:
            han_names.add(spelling)
    for key, entries in spellings.items():
        automaton.add_word(key, (key, tuple(entries)))
    if len(automaton):
        automaton.make_automaton()
    return Matcher(dictionary=dictionary, automaton=automaton, lexicon=lexicon or build_lexicon(dictionary), han_names=tuple(sorted(han_names)), words=words)


def build_lexicon(dictionary: Dictionary) -> Lexicon:
    """The discovery word lists: what they keep of wordfreq's lists and jieba's dictionary (wordfreq
    keeps every list it reads, 160 MB for the seven read here: let go once the words are taken)."""
    import wordfreq

    try:
        return _build_lexicon(dictionary, wordfreq.top_n_list)
    finally:
        for cached in (wordfreq.top_n_list, wordfreq.get_frequency_list, wordfreq.get_frequency_dict):
            cache_clear = getattr(cached, "cache_clear", None)
            if cache_clear is not None:
                cache_clear()


def _build_lexicon(dictionary: Dictionary, top_n_list: Callable[[str, int], list[str]]) -> Lexicon:
    data = resources.files("kg") / "data"

    def lines(name: str) -> list[str]:
        resource = data / name
        if not resource.is_file():
            return []
        return [ln.strip() for ln in resource.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]

    known = {name_key(s) for s, _ in dictionary.spellings()}
    english = [w for w in top_n_list("en", KNOWN_ENGLISH_WORDS) if w.isalpha() and w not in known]
    common_english = frozenset(english[:COMMON_ENGLISH_WORDS])
    european = {w for lang in OTHER_LANGUAGES for w in top_n_list(lang, OTHER_LANGUAGE_WORDS) if w.isalpha() and w not in known}
    jieba = import_jieba()
    han_words: set[str] = set()
    han_known: set[str] = set()
    places: set[str] = set()
    han_spellings = {s for s, _ in dictionary.spellings() if has_cjk(s)}
    with resources.files(jieba).joinpath("dict.txt").open("rb") as handle:
        for raw in handle:
            parts = raw.decode("utf-8").split()
            if len(parts) != 3 or not 2 <= len(parts[0]) <= 4:
                continue
            frequency = int(parts[1])
            if parts[2] in _COMMON_TAGS or frequency >= COMMON_HAN_FREQUENCY:
                han_words.add(parts[0])
            if frequency >= KNOWN_HAN_FREQUENCY:
                han_known.add(parts[0])
                if parts[2] == "ns":
                    places.add(parts[0])
    surnames = sorted(lines("surnames.txt"), key=lambda s: (-len(s), s))
    return Lexicon(
        noise=dictionary.noise,
        given_names=frozenset(lines("given_names.txt")),
        surnames=tuple(surnames),
        common_english=common_english,
        known_english=frozenset(english) | frozenset(european),
        han_known=frozenset(han_known - han_spellings),
        names=frozenset(known),
        places=frozenset(places),
        han_words=frozenset(han_words - han_spellings),
        ambiguous=frozenset(s for s, e in dictionary.spellings() if e.needs_context and s in han_words and len(s) <= 2),
    )


def extract(note: Note, matcher: Matcher) -> Extraction:
    """Every entity mention in the note's prose, in text order, and the relations between them."""
    prose = clean(note.body)
    known = _dictionary_mentions(prose, matcher)
    mentions, relations = discover(prose, known, matcher.lexicon, matcher.cut)
    authors = {name_key(a) for a in note.authors}
    mentions = [m for m in mentions if name_key(m.key or m.surface) not in authors and name_key(m.surface) not in authors]
    mentions = _with_evidence(sorted(mentions, key=lambda m: (m.start, m.end, m.kind)), Sentences(prose))
    return Extraction(mentions=tuple(mentions), relations=tuple(sorted(set(relations))))


def _with_evidence(mentions: list[Mention], sentences: Sentences) -> list[Mention]:
    """Give each name's first EVIDENCE_PER_PAIR distinct sentences to its mentions; the rest carry none.

    The graph keeps no more than that per (article, entity), so a long note's extraction stays small.
    """
    chosen: dict[tuple[str, str], set[str]] = {}
    shared: dict[str, str] = {}  # one object per sentence (a sentence naming several entities is often kept for each)
    out = []
    for mention in mentions:
        seen = chosen.setdefault((mention.kind, name_key(mention.key or mention.surface)), set())
        if len(seen) < EVIDENCE_PER_PAIR:
            sentence = sentences.around(mention.start, mention.end)
            sentence = shared.setdefault(sentence, sentence)
            seen.add(sentence)
            mention = replace(mention, sentence=sentence)
        out.append(mention)
    return out


def _dictionary_mentions(prose: str, matcher: Matcher) -> list[Mention]:
    if not len(matcher.automaton):
        return []
    folded, origin = fold_text(prose)
    hits: list[tuple[int, int, tuple[Entry, ...]]] = []
    for end_index, (key, entries) in matcher.automaton.iter(folded):
        start_index = end_index - len(key) + 1
        start, end = int(origin[start_index]), int(origin[end_index]) + 1
        if not _on_boundaries(prose, start, end):
            continue
        if end - start == 1 and not (prose[start].isupper() and PLATFORM_CUE.match(prose, end)):
            continue  # one-letter names (X) only where the text says it is a platform
        entries = tuple(e for e in entries if not (e.case_sensitive and prose[start:end].islower()))
        if entries:
            hits.append((start, end, entries))
    mentions = []
    for start, end, entries in _leftmost_longest(hits):
        if end - start <= SHORT_HAN and has_cjk(prose[start:end]) and not _is_word(prose, start, end, matcher):
            continue
        for entry in entries:
            # Interned: a name recurs all through a vault, and one object is pickled once per batch of notes.
            mentions.append(Mention(surface=sys.intern(prose[start:end]), kind=entry.kind, start=start, end=end, sentence="", key=entry.name))
    return mentions


def _is_word(prose: str, start: int, end: int, matcher: Matcher) -> bool:
    """Whether jieba, knowing the name, cuts the surrounding clause at both ends of [start, end)."""
    left, right = max(0, start - 8), min(len(prose), end + 8)
    offset = left
    cuts = {offset}
    for token in matcher.cut(prose[left:right]):
        offset += len(token)
        cuts.add(offset)
    return start in cuts and end in cuts


def _on_boundaries(text: str, start: int, end: int) -> bool:
    """A Latin-script name must not continue a longer Latin word on either side."""
    if is_latin_word_char(text[start]) and start > 0 and is_latin_word_char(text[start - 1]):
        return False
    if is_latin_word_char(text[end - 1]) and end < len(text) and is_latin_word_char(text[end]):
        return False
    # `Qwen` in `Qwen-Image`, `GPT-4` in `GPT-4.5`: a longer name continues; discovery will take it whole.
    if text[end - 1].isascii() and text[end:end + 1] in ("-", ".") and end + 1 < len(text) and is_latin_word_char(text[end + 1]):
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
