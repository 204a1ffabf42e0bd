"""Word lists kept in buckets (kg.words): read a bucket at a time, they answer as the whole lists do."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.words import BUCKETS, DamagedWords, KeptWords, Words, save, table_bucket, word_bucket

# Words as the lists hold them: Chinese and Latin letters, digits, a few signs; now and then a
# character outside the BMP or a lone surrogate (which must not break a lookup).
LETTERS = st.sampled_from(list("京东方三星谈过与和都的了是在人工智能模型开源AaBbZz09.-_ 𠀀") + ["\ud800"])
WORD = st.text(LETTERS, min_size=0, max_size=6)
TABLE = st.dictionaries(st.text(LETTERS.filter(lambda c: c != "\ud800"), min_size=1, max_size=5), st.integers(0, 2**40), max_size=300)


def _kept(tmp_path: Path, *, head: object = "head", sets=None, tables=None) -> KeptWords:
    path = tmp_path / "lists.words"
    save(path, "key", head, sets=sets or {}, tables=tables or {})
    kept = KeptWords.open(path, "key")
    assert kept is not None
    return kept


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(members=st.sets(WORD, max_size=300), asked=st.lists(WORD, max_size=60))
def test_a_set_read_a_bucket_at_a_time_answers_as_the_whole_set(tmp_path, members, asked):
    kept = _kept(tmp_path, sets={"names": members})
    lazy = kept.words("names")
    for word in [*asked, *sorted(members)[:20]]:
        assert (word in lazy) == (word in members), word
    for other in (1, None, b"x", ("a",)):  # not a word: asked, as a set answers, without reading a bucket
        assert (other in lazy) == (other in frozenset(members))
    assert len(lazy) == len(members)
    assert kept.whole_set("names") == members
    assert set(lazy) == members  # iterating reads the rest
    assert pickle.loads(pickle.dumps(kept.words("names"))) == frozenset(members)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=TABLE, text=st.text(LETTERS, max_size=40), extra=st.lists(st.text(LETTERS, min_size=1, max_size=5), max_size=10))
def test_a_table_covering_a_text_answers_every_lookup_of_a_piece_of_it(tmp_path, table, text, extra):
    # The text is made partly of the table's words, so that its pieces are often in the table.
    text = "".join(extra) + text + "".join(sorted(table)[:5])
    kept = _kept(tmp_path, tables={"frequencies": table})
    assert kept.whole_table("frequencies") == table
    cover = kept.cover("frequencies")
    cover.cover(text)
    for start in range(len(text)):
        for end in range(start + 1, min(len(text), start + 8) + 1):
            piece = text[start:end]
            assert cover.words.get(piece) == table.get(piece), piece
    assert all(table[word] == frequency for word, frequency in cover.words.items()), "holds a word the table does not"


def test_the_buckets_are_the_same_in_every_process_and_spread():
    words = ["京东", "京东方", "京", "model", "", "\ud800x", "𠀀𠀀"]
    here = [(word_bucket(w), table_bucket(w)) for w in words]
    script = f"from kg.words import word_bucket, table_bucket; print([(word_bucket(w), table_bucket(w)) for w in {words!r}])"
    for seed in ("1", "2"):  # not Python's hash(), which changes with the process
        there = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, env={**os.environ, "PYTHONHASHSEED": seed})
        assert there.stdout.strip() == repr(here)
    assert table_bucket("京东方") == table_bucket("京东") != table_bucket("京") and table_bucket("") == 0
    assert len({word_bucket(f"词{n}") for n in range(2000)}) >= 200  # words alike but for the middle: still spread
    assert len({word_bucket(w) for w in ("模型", "模式", "模块", "model", "modem", "京东", "京东方")}) == 7
    assert word_bucket("model") == word_bucket("modal")  # alike but for the middle: one bucket (a few dozen words at most in the lists)
    assert all(0 <= b < BUCKETS for pair in here for b in pair)


def test_a_file_under_another_key_is_missing_and_a_damaged_one_says_so(tmp_path):
    path = tmp_path / "lists.words"
    assert KeptWords.open(path, "key") is None
    save(path, "key", {"total": 3}, sets={"names": ["京东", "Apple"]}, tables={"frequencies": {"京东": 3}})
    assert KeptWords.open(path, "other key") is None
    assert KeptWords.open(path, "key").head == {"total": 3}
    whole = path.read_bytes()
    path.write_bytes(whole[:-3])
    with pytest.raises(DamagedWords, match="cut off or changed"):
        KeptWords.open(path, "key")
    changed = bytearray(whole)
    changed[-2] ^= 0x01  # one bit of the data
    path.write_bytes(bytes(changed))
    with pytest.raises(DamagedWords, match="cut off or changed"):
        KeptWords.open(path, "key")
    path.write_bytes(whole[: len(b"key\n") + 12])  # the header cut off
    with pytest.raises(DamagedWords, match="header"):
        KeptWords.open(path, "key")
    with pytest.raises(ValueError, match="newline"):
        save(path, "key", None, sets={"names": ["two\nlines"]})
    assert [p.name for p in tmp_path.iterdir()] == ["lists.words"], "a failed save left a file behind"


def test_extraction_with_lists_read_lazily_equals_extraction_with_whole_lists(corpus, corpus_out):
    """Each corpus note extracted by a matcher that has read nothing yet (what a delta's worker
    does), against one that read everything (a cold build's workers): the same extraction."""
    from kg.cache import ExtractionCache
    from kg.dictionary import load_dictionary
    from kg.extract import build_matcher, extract
    from kg.read import read_vault
    from kg.words import TableCover

    dictionary = load_dictionary()
    store = ExtractionCache(corpus_out / ".kg-cache", dictionary_digest=dictionary.digest)
    whole = build_matcher(dictionary, store.lexicon(dictionary), store.word_table(dictionary))
    assert isinstance(whole.lexicon.han_words, frozenset) and len(whole.tokenizer.FREQ) > 400_000, "the kept lists were not read whole"
    notes, _ = read_vault(corpus)
    assert len(notes) > 400
    for note in notes:
        lazy = replace(whole, lexicon=store.lexicon(dictionary, lazy=True), words=store.word_table(dictionary, lazy=True))
        assert isinstance(lazy.lexicon.han_words, Words)
        assert extract(note, lazy) == extract(note, whole), note.path
        read = len(lazy.tokenizer.FREQ)  # made now if the note cut nothing
        assert isinstance(lazy._cover, TableCover) and read < len(whole.tokenizer.FREQ) / 4, "read more than the note needed"
    assert store.stats.notices == []
