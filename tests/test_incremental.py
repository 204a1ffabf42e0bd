"""The extraction cache: a rebuild re-extracts only changed notes and writes exactly what a clean build writes."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import corpus_subset, read_outputs, run_kg

from kg.build import build_vault
from kg.cache import CACHE_FILE, note_key
from kg.model import ARTICLE, TOPIC
from kg.places import CACHE_FOLDER
from kg.read import read_vault


@pytest.fixture()
def vault(tmp_path: Path) -> Path:
    return corpus_subset(tmp_path / "vault", articles=24)


def clean_build(vault: Path, out: Path, *extra: str) -> dict[str, bytes]:
    """The reference: the real CLI, no cache."""
    run_kg("build", str(vault), "-o", str(out), "-q", "--no-cache", "--jobs", "1", *extra, check=True)
    assert not (out / CACHE_FOLDER).exists()
    return read_outputs(out)


def first_article(vault: Path) -> Path:
    return sorted((vault / "01-博客").rglob("*.md"))[0]


def test_editing_one_note_reextracts_only_it_and_matches_a_clean_build(vault, tmp_path):
    out = tmp_path / "out"
    first = build_vault(vault, out, jobs=1)
    total = len(first.notes)
    assert (first.cache.hits, first.cache.misses) == (0, total)
    before = read_outputs(out)

    again = build_vault(vault, out, jobs=1)
    assert (again.cache.hits, again.cache.misses) == (total, 0)
    assert read_outputs(out) == before

    note = first_article(vault)
    text = note.read_text(encoding="utf-8")
    note.write_text(text.replace("## 摘要", "## 摘要\n\n本文也比较了 Anthropic 的 Claude 与 Google 的 Gemini。\n", 1), encoding="utf-8")
    edited = build_vault(vault, out, jobs=1)
    assert (edited.cache.hits, edited.cache.misses) == (total - 1, 1)
    assert edited.cache.notices == []
    after = read_outputs(out)
    assert after != before, "the edit must show in the outputs, or this test proves nothing"
    assert after == clean_build(vault, tmp_path / "clean")


def test_added_and_removed_notes(vault, tmp_path):
    out = tmp_path / "out"
    total = len(build_vault(vault, out, jobs=1).notes)
    (vault / "01-博客" / "新笔记.md").write_text("---\n标题: 新笔记\n作者: 某人\n---\n\n微软和 OpenAI 合作。[[00-元语/AI]]\n", encoding="utf-8")
    added = build_vault(vault, out, jobs=1)
    assert (added.cache.hits, added.cache.misses) == (total, 1)
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean-added")

    gone = first_article(vault)
    gone.unlink()
    removed = build_vault(vault, out, jobs=1)
    assert (removed.cache.hits, removed.cache.misses, removed.cache.pruned) == (total, 0, 1)
    with sqlite3.connect(out / CACHE_FOLDER / CACHE_FILE) as db:
        paths = {row[0] for row in db.execute("SELECT path FROM note_extraction")}
    assert gone.relative_to(vault).as_posix() not in paths and len(paths) == total
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean-removed")


def test_a_damaged_cache_file_is_discarded_and_the_build_goes_on(vault, tmp_path):
    out = tmp_path / "out"
    build_vault(vault, out, jobs=1)
    (out / CACHE_FOLDER / CACHE_FILE).write_bytes(b"this is not a database" * 100)
    note = first_article(vault)  # a change, so that the build reads the cache
    note.write_text(note.read_text(encoding="utf-8") + "\n另见 Anthropic 的 Claude。\n", encoding="utf-8")
    proc = run_kg("build", str(vault), "-o", str(out), "--jobs", "1")
    assert proc.returncode == 0, proc.stderr
    assert "kg: cache:" in proc.stderr and "damaged" in proc.stderr and CACHE_FILE in proc.stderr
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean")
    healed = build_vault(vault, out, jobs=1)
    assert healed.cache.misses == 0 and healed.cache.notices == []


def test_an_unreadable_entry_is_extracted_again(vault, tmp_path):
    out = tmp_path / "out"
    build_vault(vault, out, jobs=1)
    path = first_article(vault).relative_to(vault).as_posix()
    with sqlite3.connect(out / CACHE_FOLDER / CACHE_FILE) as db:
        db.execute("UPDATE note_extraction SET value = ? WHERE path = ?", (b"\x80\x05garbage", path))
    result = build_vault(vault, out, jobs=1)
    assert result.cache.misses == 1
    assert any(path in notice and "unreadable" in notice for notice in result.cache.notices)
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean")


def test_a_changed_dictionary_invalidates_every_entry(vault, tmp_path):
    out = tmp_path / "out"
    total = len(build_vault(vault, out, jobs=1).notes)
    extra = tmp_path / "products.yaml"
    extra.write_text("- name: 摘要模型\n  aliases: [一句话总结]\n", encoding="utf-8")
    result = build_vault(vault, out, jobs=1, dictionaries=(extra,))
    assert (result.cache.hits, result.cache.misses) == (0, total)
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean", "--dictionary", str(extra))


def test_cache_dir_option_and_no_cache(vault, tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "cache"
    run_kg("build", str(vault), "-o", str(out), "-q", "--jobs", "1", "--cache-dir", str(elsewhere), check=True)
    assert (elsewhere / CACHE_FILE).is_file() and not (out / CACHE_FOLDER).exists()
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean")


def test_the_key_covers_everything_read_from_a_note(vault):
    notes, _ = read_vault(vault)
    note = notes[0]
    key = note_key(note, "d1")
    assert note_key(note, "d1") == key
    assert note_key(note, "d2") != key
    for changed in (replace(note, kind=ARTICLE if note.kind == TOPIC else TOPIC), replace(note, title=note.title + "x"), replace(note, body=note.body + " "), replace(note, path="x/" + note.path)):
        assert note_key(changed, "d1") != key


def test_keys_from_file_digests_cover_the_bytes_the_path_and_the_kind(vault, tmp_path):
    from kg.cache import ExtractionCache, NoteCache

    parsed = NoteCache(tmp_path / "c")
    notes, _ = read_vault(vault, cache=parsed)
    assert sorted(parsed.digests) == sorted(note.path for note in notes)
    store = ExtractionCache(tmp_path / "c", dictionary_digest="d1")
    keys = store.keys(notes, digests=parsed.digests)
    assert keys == store.keys(notes, digests=dict(parsed.digests))
    assert len(set(keys.values())) == len(notes)
    assert set(keys.values()).isdisjoint(store.keys(notes).values())  # the two kinds of key never meet
    note = notes[0]
    flipped = replace(note, kind=ARTICLE if note.kind == TOPIC else TOPIC)
    assert store.keys([flipped], digests=parsed.digests)[note.path] != keys[note.path]
    other = {**parsed.digests, note.path: parsed.digest(b"other bytes")}
    assert store.keys(notes, digests=other)[note.path] != keys[note.path]
    assert ExtractionCache(tmp_path / "c", dictionary_digest="d2").keys(notes, digests=parsed.digests)[note.path] != keys[note.path]
    missing = {path: digest for path, digest in parsed.digests.items() if path != note.path}
    assert store.keys(notes, digests=missing) == store.keys(notes)  # a note without a digest: keys from the notes


def test_a_note_that_becomes_a_topic_is_extracted_again(vault, tmp_path):
    """A note's kind is settled by the rest of the vault (a note without article metadata that
    others link to is a topic): the same bytes with another kind must not reuse the extraction."""
    out = tmp_path / "out"
    lone = vault / "孤立笔记.md"
    lone.write_text("微软和 OpenAI 合作推出了 Copilot。\n", encoding="utf-8")
    first = build_vault(vault, out, jobs=1)
    assert next(n for n in first.notes if n.path == "孤立笔记.md").kind == ARTICLE
    linker = first_article(vault)
    linker.write_text(linker.read_text(encoding="utf-8") + "\n[[孤立笔记]]\n", encoding="utf-8")
    again = build_vault(vault, out, jobs=1)
    assert next(n for n in again.notes if n.path == "孤立笔记.md").kind == TOPIC
    assert again.cache.misses == 2  # the linking note and the one it made a topic
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean")


# ---- nothing changed: the outputs are kept as they are -------------------------------------------


def stamps(out: Path) -> dict[str, tuple[int, int]]:
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_ino) for p in sorted(out.iterdir()) if p.is_file()}


def test_a_rebuild_with_nothing_changed_keeps_the_outputs_untouched(vault, tmp_path):
    out = tmp_path / "out"
    first = build_vault(vault, out, jobs=1, reuse_outputs=True)
    assert not first.unchanged and first.graph is not None
    before, touched = read_outputs(out), stamps(out)

    again = build_vault(vault, out, jobs=1, reuse_outputs=True)
    assert again.unchanged and again.graph is None
    assert stamps(out) == touched, "an unchanged build must not rewrite a single file"
    assert read_outputs(out) == before
    assert {k: v for k, v in again.summary().items() if k != "seconds"} == {k: v for k, v in first.summary().items() if k != "seconds"}
    assert sorted(p.name for p in again.files) == sorted(p.name for p in first.files)

    # Library callers that do not ask for it always get a graph.
    assert build_vault(vault, out, jobs=1).graph is not None


def test_a_killed_writers_temporary_files_in_the_cache_are_removed_by_the_next_build(vault, tmp_path):
    """A file of the cache folder is written as `<name>.<pid>.tmp` and then renamed; a writer killed
    in between leaves it (the page's model: megabytes). The next build removes those whose process
    is gone, and not another build's, still running."""
    import os
    import subprocess
    import sys

    out = tmp_path / "out"
    build_vault(vault, out, jobs=1, reuse_outputs=True)
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    dead = out / CACHE_FOLDER / f"page.pickle.{int(gone.stdout)}.tmp"
    alive = out / CACHE_FOLDER / f"page.pickle.{os.getpid()}.tmp"
    for path in (dead, alive):
        path.write_bytes(b"half a model")
    assert build_vault(vault, out, jobs=1, reuse_outputs=True).unchanged
    assert not dead.exists() and alive.exists()
    alive.unlink()


@pytest.mark.parametrize("change", ["edit a note", "damage an output", "delete an output", "other options", "drop the state"])
def test_a_rebuild_builds_again_when_anything_changed(vault, tmp_path, change):
    """Any change is built: an edited note as a delta of the last build (kg.delta), anything
    else that the state cannot vouch for as a whole build. The same bytes as a clean build."""
    out = tmp_path / "out"
    build_vault(vault, out, jobs=1, reuse_outputs=True)
    options = None
    if change == "edit a note":
        note = first_article(vault)
        note.write_text(note.read_text(encoding="utf-8") + "\n另见 Anthropic 的 Claude。\n", encoding="utf-8")
    elif change == "damage an output":
        (out / "graph.ttl").write_text("not turtle", encoding="utf-8")
    elif change == "delete an output":
        (out / "graph.html").unlink()
    elif change == "other options":
        options = {"max_nodes": 5}
    else:
        (out / CACHE_FOLDER / "state.sqlite").unlink()
    rebuilt = build_vault(vault, out, jobs=1, reuse_outputs=True, options=options)
    assert not rebuilt.unchanged
    if change == "edit a note":
        assert rebuilt.changed == 1 and rebuilt.graph is None
    else:
        assert rebuilt.changed is None and rebuilt.graph is not None
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean", *(["--max-nodes", "5"] if options else []))


def test_the_cli_says_when_nothing_changed(vault, tmp_path):
    out = tmp_path / "out"
    first = run_kg("build", str(vault), "-o", str(out), "--jobs", "1", check=True)
    assert "nothing changed" not in first.stdout
    again = run_kg("build", str(vault), "-o", str(out), "--jobs", "1", check=True)
    assert "(nothing changed since the last build: outputs kept)" in again.stdout
    assert again.stdout.split(" warnings")[0] == first.stdout.split(" warnings")[0]
    forced = run_kg("build", str(vault), "-o", str(out), "--jobs", "1", "--no-cache", check=True)
    assert "nothing changed" not in forced.stdout


# ---- the discovery word lists are built once and kept beside the extractions ------------------------


def test_word_lists_are_kept_and_damage_only_costs_a_rebuild(vault, tmp_path, monkeypatch):
    import kg.extract
    from kg.cache import LEXICON_FILE

    out = tmp_path / "out"
    build_vault(vault, out, jobs=1)
    stored = out / CACHE_FOLDER / LEXICON_FILE
    assert stored.stat().st_size > 100_000

    def refuse(_dictionary):
        raise AssertionError("the word lists were built again although they were kept")

    note = first_article(vault)
    note.write_text(note.read_text(encoding="utf-8") + "\n另见 Anthropic 的 Claude。\n", encoding="utf-8")
    with monkeypatch.context() as patch:
        patch.setattr(kg.extract, "build_lexicon", refuse)
        edited = build_vault(vault, out, jobs=1)
    assert edited.cache.misses == 1 and edited.cache.notices == []
    reference = read_outputs(out)

    stored.write_bytes(stored.read_bytes()[:5000])  # right key, the rest cut off
    note.write_text(note.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    damaged = build_vault(vault, out, jobs=1)
    assert any(LEXICON_FILE in notice and "unreadable" in notice for notice in damaged.cache.notices)
    assert stored.stat().st_size > 100_000, "the damaged file was not replaced"
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean")
    assert reference.keys() == read_outputs(out).keys()


def test_the_tokenizer_word_table_is_kept_and_damage_only_costs_a_rebuild(vault, tmp_path, monkeypatch):
    import jieba

    from kg.cache import WORDS_FILE, ExtractionCache
    from kg.dictionary import load_dictionary
    from kg.extract import build_matcher

    out = tmp_path / "out"
    build_vault(vault, out, jobs=1)
    stored = out / CACHE_FOLDER / WORDS_FILE
    assert stored.stat().st_size > 1_000_000
    dictionary = load_dictionary()
    fresh = build_matcher(dictionary).tokenizer  # made by jieba, as without a cache
    kept = build_matcher(dictionary, words=ExtractionCache(out / CACHE_FOLDER, dictionary_digest=dictionary.digest).word_table(dictionary))
    with monkeypatch.context() as patch:
        patch.setattr(jieba.Tokenizer, "initialize", lambda *_: pytest.fail("the word table was made again although it was kept"))
        assert kept.tokenizer.FREQ == fresh.FREQ and kept.tokenizer.total == fresh.total
        sentence = "京东方与京东都和三星谈过"
        assert kept.cut(sentence) == fresh.lcut(sentence, HMM=False)
        note = first_article(vault)
        text = note.read_text(encoding="utf-8")
        body = text.index("\n---\n", 4) + 5  # the text goes before the links at the end, which are not prose
        note.write_text(text[:body] + "\n另见京东与三星的合作。\n" + text[body:], encoding="utf-8")  # short Chinese names: jieba has its say
        edited = build_vault(vault, out, jobs=1)
    assert edited.cache.misses == 1
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean")

    stored.write_bytes(stored.read_bytes()[:5000])  # right key, the rest cut off
    note.write_text(note.read_text(encoding="utf-8").replace("另见京东", "又见京东"), encoding="utf-8")
    build_vault(vault, out, jobs=1)
    assert stored.stat().st_size > 1_000_000, "the damaged file was not replaced"
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean2")


# ---- Output pieces copied from the last published file (kg.fragments.OutputPieces) -----------


def _pieces_writer(tmp_path: Path, monkeypatch, module, filename: str):
    """A writer that streams `module`'s file into a staging folder and publishes it (os.replace),
    as a build does; and the OutputPieces each write used."""
    import os

    from kg.fragments import OutputPieces

    folder, published, staging = tmp_path / "cache", tmp_path / "published", tmp_path / "staging"
    published.mkdir()
    staging.mkdir()
    seen: list[OutputPieces] = []
    real_open = OutputPieces.open
    # render (no cache folder, nothing published) opens one too: only the writes here count
    monkeypatch.setattr(module.OutputPieces, "open", lambda self: (self.published is not None and seen.append(self)) or real_open(self))

    def written(graph) -> str:
        with open(staging / filename, "w", encoding="utf-8", newline="\n") as handle:
            module.stream(graph, handle, fragments=folder, published=published)
        os.replace(staging / filename, published / filename)
        text = (published / filename).read_text(encoding="utf-8")
        assert text == module.render(graph)
        return text

    return written, seen, published


def test_a_patched_section_is_the_whole_write_of_its_pieces(tmp_path):
    """OutputPieces.patch against a whole write, over rounds of random changes (pieces made
    again, added anywhere, dropped, everything dropped): each patched file has the bytes of the
    whole write of the same pieces, and its index serves the next round's patch (runs of
    unchanged pieces are copied as one, their places shifted)."""
    import os
    import random

    from kg.fragments import OutputPieces

    folder, published, staging = tmp_path / "cache", tmp_path / "published", tmp_path / "staging"
    published.mkdir()
    staging.mkdir()
    shape = {"sep": ",\n", "before": "[\n", "after": "\n]", "empty": "[]"}

    def whole(pieces: dict[str, str], store_folder) -> str:
        with open(staging / "x.txt", "w", encoding="utf-8", newline="\n") as handle:
            with OutputPieces(store_folder, "x.txt", handle, published=published if store_folder else None).open() as store:
                store.text("head\n")
                with store.section("items", **shape):
                    for pid in sorted(pieces):
                        store.piece(pid, lambda pid=pid: (pieces[pid],), lambda pid=pid: pieces[pid])
                store.text("\ntail\n")
        return (staging / "x.txt").read_text(encoding="utf-8")

    rng = random.Random(5)
    pieces = {f"n{i:04d}": f"<{i} 节点>" for i in range(0, 600, 3)}
    whole(pieces, folder)
    os.replace(staging / "x.txt", published / "x.txt")
    copied = 0
    for round_ in range(12):
        changes: dict = {}
        ids = sorted(pieces)
        for pid in rng.sample(ids, min(len(ids), rng.choice([0, 1, 3, 20]))):
            changes[pid] = None if rng.random() < 0.4 else f"<{pid} 第{round_}版>"
        for _ in range(rng.choice([0, 1, 5])):
            changes[f"n{rng.randrange(650):04d}"] = f"<新 {round_}>"
        if round_ == 10:
            changes = dict.fromkeys(ids)  # everything dropped: the empty text
        for pid, text in changes.items():
            if text is None:
                pieces.pop(pid, None)
            else:
                pieces[pid] = text
        with open(staging / "x.txt", "w", encoding="utf-8", newline="\n") as handle:
            with OutputPieces(folder, "x.txt", handle, published=published).open() as store:
                store.text("head\n")
                store.patch("items", {pid: None if text is None else ((lambda t=text: (t,)), (lambda t=text: t)) for pid, text in changes.items()}, **shape)
                store.text("\ntail\n")
                copied += store.hits
        os.replace(staging / "x.txt", published / "x.txt")
        assert (published / "x.txt").read_text(encoding="utf-8") == whole(pieces, None), f"round {round_}"
    assert copied > 1000


@pytest.mark.parametrize(("fmt", "filename"), [("ttl", "graph.ttl"), ("graphml", "graph.graphml"), ("json", "graph.json")])
def test_pieces_are_copied_and_only_a_changed_article_is_made_again(vault, tmp_path, monkeypatch, fmt, filename):
    """graph.ttl's pieces are each node's subject and each article's run of mentions and
    evidence, graph.graphml's and graph.json's each node's entry and the edges of each source
    node, known by the digest of what makes them: a second write copies every piece from the
    published file, a changed mention costs exactly its article's piece, a renamed entity its
    node's piece, the bytes never change."""
    from kg.export import graphml, json, turtle

    module = {"ttl": turtle, "graphml": graphml, "json": json}[fmt]
    graph = build_vault(vault, tmp_path / "out", jobs=1, cache=False).graph
    if fmt == "ttl":
        pieces = graph.number_of_nodes() + len({u for u, _v, key in graph.edges(keys=True) if key == "mentions"})
    else:
        pieces = graph.number_of_nodes() + len({u for u, _v in graph.edges()})
    assert pieces >= 100
    written, seen, _published = _pieces_writer(tmp_path, monkeypatch, module, filename)

    first = written(graph)
    second = written(graph)
    article, entity = next((u, v) for u, v, key in sorted(graph.edges(keys=True)) if key == "mentions")
    graph.edges[article, entity, "mentions"]["count"] += 1
    third = written(graph)
    graph.nodes[entity]["label"] += " (renamed)"
    fourth = written(graph)
    assert [store.hits for store in seen] == [0, pieces, pieces - 1, pieces - 1]
    assert [store.made for store in seen] == [pieces, 0, 1, 1]
    assert first == second != third != fourth


def test_the_pages_evidence_is_copied_and_only_a_changed_articles_is_made_again(vault, tmp_path, monkeypatch):
    """The page's evidence section (most of its bytes) is a piece a node with drawn edges: a
    second write copies them all, a changed sentence costs its article's piece, a renamed
    entity none (its name is not in the evidence), the bytes are always render's."""
    from kg.export import html

    graph = build_vault(vault, tmp_path / "out", jobs=1, cache=False).graph
    pieces = len({u for u, _v, key in graph.edges(keys=True) if key in html.EDGE_STYLE and key != "co_mention"})
    assert pieces >= 10
    written, seen, _published = _pieces_writer(tmp_path, monkeypatch, html, "graph.html")

    first = written(graph)
    second = written(graph)
    article, entity = next((u, v) for u, v, key in sorted(graph.edges(keys=True)) if key == "mentions" and graph.edges[u, v, key]["evidence"])
    sentence, start, end = next(html.evidence_of(graph.edges[article, entity, "mentions"]))
    graph.edges[article, entity, "mentions"]["evidence"] = [(sentence + "（又见）", start, end)]
    third = written(graph)
    graph.nodes[entity]["label"] += " (renamed)"
    fourth = written(graph)
    assert [store.hits for store in seen] == [0, pieces, pieces - 1, pieces]
    assert [store.made for store in seen] == [pieces, 0, 1, 0]
    assert first == second != third != fourth
    assert "（又见）" in third


def test_a_published_file_changed_since_is_not_copied_from(vault, tmp_path, monkeypatch):
    """The index vouches for the file as the last build left it (size, time, inode): an output
    edited since, or replaced, gives no copies, and the file is made whole, the same bytes."""
    import os

    from kg.export import turtle

    graph = build_vault(vault, tmp_path / "out", jobs=1, cache=False).graph
    written, seen, published = _pieces_writer(tmp_path, monkeypatch, turtle, "graph.ttl")
    reference = written(graph)
    with open(published / "graph.ttl", "a", encoding="utf-8") as handle:
        handle.write("# edited by hand\n")
    assert written(graph) == reference
    copy = published / "copy.ttl"
    copy.write_text(reference, encoding="utf-8")
    os.replace(copy, published / "graph.ttl")  # the same bytes, another file
    assert written(graph) == reference
    assert written(graph) == reference
    assert [(store.hits, store.made > 0) for store in seen] == [(0, True), (0, True), (0, True), (seen[0].made, False)]


def test_pieces_are_copied_through_a_buffer_where_the_kernel_cannot(vault, tmp_path, monkeypatch):
    import errno
    import os

    from kg.export import graphml

    graph = build_vault(vault, tmp_path / "out", jobs=1, cache=False).graph
    written, seen, _published = _pieces_writer(tmp_path, monkeypatch, graphml, "graph.graphml")
    reference = written(graph)

    def cannot(*_args: object) -> int:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "copy_file_range", cannot)
    article, entity = next((u, v) for u, v, key in sorted(graph.edges(keys=True)) if key == "mentions")
    graph.edges[article, entity, "mentions"]["count"] += 1  # one piece to make, the rest to copy
    changed = written(graph)
    assert changed != reference and seen[1].hits > 0 and seen[1].made == 1


def test_a_damaged_piece_index_only_costs_its_copies(vault, tmp_path):
    from kg.fragments import INDEX_PREFIX

    out = tmp_path / "out"
    build_vault(vault, out, jobs=1)
    old_store = out / CACHE_FOLDER / "fragments-ttl.sqlite"  # what earlier versions kept: removed
    old_store.write_bytes(b"SQLite format 3\0")
    stored = [out / CACHE_FOLDER / f"{INDEX_PREFIX}{name}" for name in ("graph.ttl", "graph.graphml")]
    layout = out / CACHE_FOLDER / "fragments-layout.sqlite"
    for path in [*stored, layout]:
        assert path.stat().st_size > 0
        path.write_bytes(b"this is not an index" * 100)
    build_vault(vault, out, jobs=1)
    assert read_outputs(out) == clean_build(vault, tmp_path / "clean")
    assert not old_store.exists()
    import marshal

    for path in stored:
        with open(path, "rb") as handle:
            assert sum(map(len, marshal.load(handle)["sections"].values())) > 10
    with sqlite3.connect(layout) as db:
        assert db.execute("SELECT count(*) FROM fragment").fetchone()[0] > 0


def test_the_page_layout_is_reused_only_for_the_same_links(vault, tmp_path):
    import io

    from kg.export import html
    from kg.fragments import Fragments

    graph = build_vault(vault, tmp_path / "out", jobs=1, cache=False).graph
    folder = tmp_path / "fragments"
    seen: list[Fragments] = []
    real_open = Fragments.open
    Fragments.open = lambda self: seen.append(self) or real_open(self)
    try:

        def page() -> str:
            handle = io.StringIO(newline="\n")
            html.stream(graph, handle, fragments=folder)
            assert handle.getvalue() == html.render(graph)
            return handle.getvalue()

        first, second = page(), page()
        article, entity = next((u, v) for u, v, key in sorted(graph.edges(keys=True)) if key == "mentions")
        graph.edges[article, entity, "mentions"]["count"] += 1  # the same links: the same layout
        third = page()
        graph.add_edge(article, "topic:新主题", key="about", count=1)  # a new link moves nodes
        graph.nodes["topic:新主题"].update(kind="topic", label="新主题", aliases=[])
        fourth = page()
    finally:
        Fragments.open = real_open
    assert [store.hits for store in seen if store.path is not None] == [0, 1, 1, 0]
    assert first == second and third != fourth


# ---- notes as read, kept between builds (kg.cache.NoteCache) ----------------------------------


def test_cached_reading_gives_what_reading_gives_on_the_hostile_vault(tmp_path):
    """Every odd file of the hostile vault (encodings, broken frontmatter, odd names, binaries)
    reads back from the note cache exactly as it reads from disk, problems included."""
    from hostile import make_hostile_vault

    from kg.cache import NoteCache

    root = make_hostile_vault(tmp_path / "vault")["root"]
    fresh = read_vault(root)
    first = NoteCache(tmp_path / "cache")
    assert read_vault(root, cache=first) == fresh and first.hits == 0
    again = NoteCache(tmp_path / "cache")
    assert read_vault(root, cache=again) == fresh
    assert again.hits == len(fresh[0]) and again.notices == []


def test_an_edited_file_is_parsed_again_and_a_damaged_note_cache_is_rebuilt(vault, tmp_path):
    from kg.cache import NOTES_FILE, NoteCache

    cache_folder = tmp_path / "cache"
    total = len(read_vault(vault, cache=NoteCache(cache_folder))[0])
    note = first_article(vault)
    note.write_text(note.read_text(encoding="utf-8").replace("## 摘要", "## 摘要\n\n新增一句。", 1), encoding="utf-8")
    cached = NoteCache(cache_folder)
    assert read_vault(vault, cache=cached) == read_vault(vault)
    assert cached.hits == total - 1

    (cache_folder / NOTES_FILE).write_bytes(b"this is not a database" * 100)
    damaged = NoteCache(cache_folder)
    assert read_vault(vault, cache=damaged) == read_vault(vault)
    assert damaged.hits == 0 and any("damaged" in notice for notice in damaged.notices)
    healed = NoteCache(cache_folder)
    read_vault(vault, cache=healed)
    assert healed.hits == total and healed.notices == []


def test_the_note_cache_lets_the_notes_go_once_it_has_stored_them(vault, tmp_path):
    """A build keeps its NoteCache to the end; it must not keep every note's body with it (a cold
    50,000-note build's would be hundreds of MB, held through the graph and the writers)."""
    import pickle

    from kg.cache import NoteCache

    cache = NoteCache(tmp_path / "cache")
    notes, _ = read_vault(vault, cache=cache)
    held = pickle.dumps(vars(cache))
    bodies = [note.body for note in notes if len(note.body.strip()) > 40]
    assert bodies
    assert not any(body.strip()[:40].encode("utf-8") in held for body in bodies)
    assert NoteCache(tmp_path / "cache").get(notes[0].path, cache.digests[notes[0].path]) is not None  # and it did store them
