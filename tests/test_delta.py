"""kg.delta: a rebuild that makes only what changed writes exactly what a whole build writes."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import corpus_subset, read_outputs
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kg.build import BuildResult, build_vault
from kg.places import CACHE_FOLDER
from kg.state import BuildState

NEW_ARTICLE = """---
标题: 新笔记
作者: 某位新作者
来源: 微信公众号
发布日期: 2025-01-02
---

微软和 OpenAI 合作推出了新功能。我们也试了 Sora 和 Midjourney，还有 Zorblatt Studio 3。

## 关联主题

[[00-元语/AI]] [[一个没有笔记的主题]]
"""


@pytest.fixture()
def vault(tmp_path: Path) -> Path:
    return corpus_subset(tmp_path / "vault", articles=10)


def articles(vault: Path) -> list[Path]:
    return sorted((vault / "01-博客").rglob("*.md"))


def delta(vault: Path, out: Path) -> BuildResult:
    return build_vault(vault, out, jobs=1, reuse_outputs=True)


def whole(vault: Path, out: Path) -> dict[str, bytes]:
    """The reference: a whole build (its own cache folder, so only changed notes are extracted)."""
    result = build_vault(vault, out, jobs=1)
    assert result.graph is not None
    return read_outputs(out)


def write_prose(path: Path, text: str) -> None:
    """`text` as a paragraph right after the frontmatter (text after the closing link lists is not read)."""
    head, _, body = path.read_text(encoding="utf-8").partition("\n---\n")
    path.write_text(f"{head}\n---\n\n{text}\n{body}", encoding="utf-8")


def set_field(path: Path, key: str, value: str) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    end = lines.index("---", 1)
    lines = [line for i, line in enumerate(lines) if not (0 < i < end and line.startswith(f"{key}:"))]
    lines.insert(1, f"{key}: {value}")
    path.write_text("\n".join(lines), encoding="utf-8")


def _known_prose(vault: Path) -> None:
    write_prose(articles(vault)[0], "本文也比较了 Anthropic 的 Claude 与 Google 的 Gemini，以及 OpenAI 的 Sora。")


def _new_names(vault: Path) -> None:
    write_prose(articles(vault)[1], "我们试用了 Zorblatt Studio 3 和 Qwerty-X9，由 Blorptek 公司发布。")


def _no_mentions(vault: Path) -> None:
    path = articles(vault)[2]
    head, _, _body = path.read_text(encoding="utf-8").partition("\n---\n")
    path.write_text(f"{head}\n---\n\n这一篇只剩下一句话。\n", encoding="utf-8")


def _metadata(vault: Path) -> None:
    path = articles(vault)[3]
    set_field(path, "作者", "一位从未出现过的作者")
    set_field(path, "来源", "https://example.org/blog")
    set_field(path, "发布日期", "2021-02-03")
    set_field(path, "tags", "[新标签, 另一个]")


def _links(vault: Path) -> None:
    path = articles(vault)[4]
    path.write_text(path.read_text(encoding="utf-8") + "\n[[00-元语/AI]] [[一个没有笔记的主题]] [[another missing topic|标签]]\n", encoding="utf-8")


def _new_article(vault: Path) -> None:
    (vault / "01-博客" / "新笔记.md").write_text(NEW_ARTICLE, encoding="utf-8")


def _deleted_article(vault: Path) -> None:
    from kg.read import LinkIndex, read_vault

    notes, _problems = read_vault(vault)
    index = LinkIndex(notes)
    linked = {index.resolve(link) for note in notes for link in note.links}
    victim = next(path for path in reversed(articles(vault)) if path.relative_to(vault).as_posix() not in linked)
    victim.unlink()


def _touched(vault: Path) -> None:
    path = articles(vault)[5]
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))


DELTAS = {
    "prose naming known entities": _known_prose,
    "prose naming new names": _new_names,
    "every mention gone": _no_mentions,
    "author, source, date and tags": _metadata,
    "links to topics with and without notes": _links,
    "a new article": _new_article,
    "an article nobody links to deleted": _deleted_article,
}


def test_the_output_folder_named_another_way_is_still_patched(vault, tmp_path, monkeypatch):
    """Relative from one directory, absolute, through a link: the same folder, so a delta."""
    monkeypatch.chdir(tmp_path)
    delta(vault, Path("out"))
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "out", target_is_directory=True)
    for round, (cwd, out) in enumerate([(tmp_path / "elsewhere", tmp_path / "out"), (tmp_path, Path("link")), (tmp_path / "elsewhere", Path("../out"))]):
        monkeypatch.chdir(cwd)
        write_prose(articles(vault)[round], f"第{round}轮提到 Claude 和 GPT-4o。")
        result = delta(vault, out)
        assert result.fallback is None and result.changed == 1, (out, result.fallback)
    assert read_outputs(tmp_path / "out") == whole(vault, tmp_path / "whole")


@pytest.mark.parametrize("change", list(DELTAS))
def test_a_change_makes_only_what_changed_and_the_bytes_of_a_whole_build(vault, tmp_path, change):
    out = tmp_path / "out"
    delta(vault, out)
    before = read_outputs(out)
    DELTAS[change](vault)
    result = delta(vault, out)
    assert result.fallback is None and result.changed == 1, result.fallback
    assert result.graph is None and not result.unchanged
    after = read_outputs(out)
    assert after != before, "the change must show in the outputs, or this test proves nothing"
    assert after == whole(vault, tmp_path / "whole")
    # The state it leaves is what a whole build leaves: the next delta starts from the truth.
    assert _state(out) == _state(tmp_path / "whole")
    assert {k: v for k, v in result.summary().items() if k != "seconds"} == {k: v for k, v in build_vault(vault, tmp_path / "again", jobs=1).summary().items() if k != "seconds"}


def _state(out: Path) -> tuple:
    from kg.export.html import PageModel

    state = BuildState(out / CACHE_FOLDER)
    known = state.known()
    page = PageModel(out / CACHE_FOLDER).load()  # a delta copies the entries of the nodes it did not change
    return (
        page.pages,
        page.nodes,
        page.links.arrays(),
        page.simple.nodes,
        page.simple.src.tobytes() + page.simple.dst.tobytes() + page.simple.weight.tobytes(),
        list(state.all_records()),
        {rel: (f.digest, f.problems) for rel, f in known.files.items()},
        known.walk_problems,
        known.notes,
        known.entities,
        known.canonical,
        known.iris,
        known.referrers,
        known.graphml,
        known.counts,
    )


def test_a_delta_never_imports_networkx(vault, tmp_path):
    """A rebuild after a new note (the page laid out again, every format patched, in forked
    writers) makes its few nodes in kg.state.ChangeGraph: networkx's import (0.13 s) is left to
    whole builds. The outputs are a whole build's."""
    out = tmp_path / "out"
    build_vault(vault, out, jobs=2, reuse_outputs=True)
    _new_article(vault)
    script = (
        "import sys; from kg.build import build_vault; "
        f"result = build_vault({str(vault)!r}, {str(out)!r}, jobs=2, reuse_outputs=True); "
        "print(result.changed, result.fallback, sorted({m.split('.')[0] for m in sys.modules} & {'networkx', 'rdflib'}))"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "1 None []"
    assert read_outputs(out) == whole(vault, tmp_path / "whole")


def test_the_same_bytes_on_a_file_with_a_new_stat_change_nothing(vault, tmp_path):
    out = tmp_path / "out"
    delta(vault, out)
    before = read_outputs(out)
    _touched(vault)
    result = delta(vault, out)
    assert result.unchanged and result.changed == 0
    assert read_outputs(out) == before


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("topic note edited", "topic note"),
        ("linked article deleted", "now leads elsewhere"),
        ("a note added where a link led nowhere", "now leads elsewhere"),
        ("a note of the same name added", "now leads elsewhere"),
        ("binary file added", "no note"),
        ("many notes changed", "notes changed"),
        ("a record damaged", "record cannot be read"),
    ],
)
def test_what_a_delta_cannot_do_exactly_is_built_whole(vault, tmp_path, change, reason, monkeypatch):
    out = tmp_path / "out"
    linked = articles(vault)[1]
    first = articles(vault)[0]
    first.write_text(first.read_text(encoding="utf-8") + f"\n[[{linked.stem}]]\n[[尚无笔记的页面]]\n", encoding="utf-8")
    delta(vault, out)
    if change == "topic note edited":
        topic = sorted((vault / "00-元语").rglob("*.md"))[0]
        topic.write_text(topic.read_text(encoding="utf-8") + "\n[[another topic]]\n", encoding="utf-8")
    elif change == "linked article deleted":
        linked.unlink()
    elif change == "a note added where a link led nowhere":
        (vault / "01-博客" / "尚无笔记的页面.md").write_text("---\ntitle: 尚无笔记的页面\n---\n\n正文。\n", encoding="utf-8")
    elif change == "a note of the same name added":  # sorted before the linked note: Obsidian's pick by name changes
        (vault / "00-元语" / f"{linked.stem}.md").write_text("---\ntitle: 同名\n---\n\n正文。\n", encoding="utf-8")
    elif change == "binary file added":
        (vault / "01-博客" / "image.md").write_bytes(b"\x00\x01\x02" * 100)
    elif change == "a record damaged":
        import sqlite3

        with sqlite3.connect(out / ".kg-cache" / "state.sqlite") as db:  # every record: whichever the edit reaches
            db.execute("UPDATE record SET value = x'00ff'")
        db.close()
        write_prose(first, "又提到了 OpenAI 的 Sora。")
    else:
        import kg.delta

        monkeypatch.setattr(kg.delta, "MAX_CHANGED", 1)
        monkeypatch.setattr(kg.delta, "MAX_CHANGED_SHARE", 0.001)
        for path in articles(vault)[:3]:
            write_prose(path, "又提到了 OpenAI 的 Sora。")
    result = delta(vault, out)
    assert result.changed is None and result.fallback is not None and reason in result.fallback
    assert result.graph is not None
    assert read_outputs(out) == whole(vault, tmp_path / "whole")
    follow = delta(vault, out)  # the whole build left a state: the next build starts from it
    assert follow.unchanged


def test_a_damaged_note_row_in_the_state_means_a_whole_build(vault, tmp_path):
    """The state keeps each note in a row of its own (kg.state): one that cannot be unpickled
    makes the state unusable, and the rebuild is whole and right; the state it leaves serves the next."""
    import sqlite3

    out = tmp_path / "out"
    delta(vault, out)
    write_prose(articles(vault)[0], "又提到了 OpenAI 的 Sora。")
    with sqlite3.connect(out / CACHE_FOLDER / "state.sqlite") as db:
        assert db.execute("SELECT count(*) FROM note").fetchone()[0] == len(list(vault.rglob("*.md")))
        db.execute("UPDATE note SET value = x'00ff' WHERE path = (SELECT min(path) FROM note)")
    db.close()
    assert BuildState(out / CACHE_FOLDER).known() is None
    result = delta(vault, out)
    assert result.graph is not None and result.changed is None  # whole
    assert read_outputs(out) == whole(vault, tmp_path / "whole")
    write_prose(articles(vault)[1], "又提到了 Midjourney。")
    assert delta(vault, out).changed == 1


def test_a_damaged_page_model_links_mean_a_whole_build(vault, tmp_path):
    """The page model's Links and projection (after the nodes' entries) are checked by their CRC
    when read: a bit flipped there means no model, and the next rebuild is whole and right."""
    from kg.export.html import PageModel

    out = tmp_path / "out"
    build_vault(vault, out, jobs=1, reuse_outputs=True)
    model = PageModel(out / CACHE_FOLDER).load()
    assert model is not None and len(model.links.target) > 0
    path = out / CACHE_FOLDER / "page.pickle"
    data = bytearray(path.read_bytes())
    tail_at = max(end for _start, end in model.pages.spans.values())
    index_at = len(data) - 8 - int.from_bytes(data[-8:], "little")
    data[(tail_at + index_at) // 2] ^= 0x01  # inside the Links' arrays, the file's size kept
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert PageModel(out / CACHE_FOLDER).load() is None
    write_prose(articles(vault)[0], "又提到了 OpenAI 的 Sora。")
    result = build_vault(vault, out, jobs=1, reuse_outputs=True)
    assert result.changed is None and "model" in result.fallback, result.fallback
    assert read_outputs(out) == whole(vault, tmp_path / "whole")


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_page_model_is_read_a_node_at_a_time_and_a_damaged_entry_means_a_whole_build(vault, tmp_path, jobs, monkeypatch):
    """Until the outputs are written, a delta's build process reads only the page-model entries its
    change touches (the page's writer, forked or not, reads the rest); an entry damaged on disk
    (its CRC fails) is found when read, whichever process reads it, and the rebuild is whole and right."""
    import kg.build
    from kg.export.html import PageModel

    out = tmp_path / "out"
    build_vault(vault, out, jobs=jobs, reuse_outputs=True)
    write_prose(articles(vault)[0], "又提到了 OpenAI 的 Sora。")
    read_before_writing: list[tuple[int, int]] = []
    real_patch_all = kg.build.patch_all

    def patch_all(changes, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        pages = changes.page.pages if changes.page is not None else None
        if pages is not None and hasattr(pages, "_read"):
            read_before_writing.append((len(pages._read), len(pages)))
        return real_patch_all(changes, *args, **kwargs)

    monkeypatch.setattr(kg.build, "patch_all", patch_all)
    result = build_vault(vault, out, jobs=jobs, reuse_outputs=True)
    assert result.changed == 1, result.fallback
    if jobs > 1:  # the model, brought up to date ahead of the writers (patch_ahead), read only what the change touched
        (read, of), = read_before_writing
        assert 0 < read < of / 4, (read, of)
    monkeypatch.undo()
    model = PageModel(out / CACHE_FOLDER).load()
    last = articles(vault)[-1].relative_to(vault).as_posix()
    untouched = next(node for node in model.pages.spans if node.startswith("article:") and node.endswith(last))  # no change here touches it
    start, end = model.pages.spans[untouched]
    path = out / CACHE_FOLDER / "page.pickle"
    data = bytearray(path.read_bytes())
    data[(start + end) // 2] ^= 0x20  # a bit flipped inside the entry, keeping the file's size
    stat = path.stat()
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as it was: only the CRC can tell
    write_prose(articles(vault)[1], "又提到了 Midjourney。")
    result = build_vault(vault, out, jobs=jobs, reuse_outputs=True)
    assert result.changed is None and "damaged" in result.fallback, result.fallback
    assert read_outputs(out) == whole(vault, tmp_path / "whole")
    write_prose(articles(vault)[2], "又提到了 Claude。")
    assert build_vault(vault, out, jobs=jobs, reuse_outputs=True).changed == 1


# ---- random edits, each checked against a whole build -----------------------------------------

WORDS = ["OpenAI", "Sora", "GPT-4o", "Claude", "Gemini 2.5 Pro", "即梦", "可灵", "Midjourney", "字节跳动", "Zorblatt 2", "Qwerty-X9", "Blorptek 公司", "奥特曼表示", "这是一个句子"]
AUTHORS = ["宝玉", "数字生命卡兹克", "新作者甲", "OpenAI"]
TOPICS = ["00-元语/AI", "没有笔记的主题", "Agent", "新话题"]

edit = st.tuples(st.sampled_from(["prose", "author", "source", "link", "new", "delete", "rename", "restore"]), st.integers(0, 20), st.lists(st.sampled_from(WORDS), min_size=1, max_size=5))


@settings(max_examples=int(os.environ.get("KG_RANDOM_EDITS", "6")), deadline=None, derandomize=not os.environ.get("KG_RANDOM_EDITS"), suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(edit, min_size=3, max_size=6))
def test_random_edits_give_the_bytes_of_a_whole_build(tmp_path_factory, steps):
    root = tmp_path_factory.mktemp("random")
    vault = corpus_subset(root / "vault", articles=8)
    out, reference = root / "out", root / "whole"
    delta(vault, out)
    deleted: dict[Path, str] = {}
    deltas = 0
    for number, (what, pick, words) in enumerate(steps):
        notes = articles(vault)
        path = notes[pick % len(notes)]
        sentence = "，".join(words) + "。"
        if what == "prose":
            write_prose(path, sentence)
        elif what == "author":
            set_field(path, "作者", AUTHORS[pick % len(AUTHORS)])
        elif what == "source":
            set_field(path, "来源", ["微信公众号", "https://example.com/x", "知乎"][pick % 3])
        elif what == "link":
            path.write_text(path.read_text(encoding="utf-8") + f"\n[[{TOPICS[pick % len(TOPICS)]}]]\n", encoding="utf-8")
        elif what == "new":
            (vault / "01-博客" / f"随机{number}.md").write_text(f"---\n标题: 随机{number}\n作者: {AUTHORS[pick % 4]}\n---\n\n{sentence}\n", encoding="utf-8")
        elif what == "delete":
            deleted[path] = path.read_text(encoding="utf-8")
            path.unlink()
        elif what == "rename":
            shutil.move(path, path.with_name(f"改名{number}.md"))
        elif deleted:
            back, text = deleted.popitem()
            back.write_text(text, encoding="utf-8")
        result = delta(vault, out)
        deltas += result.changed is not None and result.changed > 0
        assert read_outputs(out) == whole(vault, reference), (what, result.fallback)
    assert deltas or all(what == "restore" for what, _pick, _words in steps), "no step was built as a delta: this test would prove nothing"


def test_resolving_from_summaries_gives_what_resolving_the_extractions_gives(vault):
    """A delta build resolves the unchanged notes from their summaries (kg.resolve.summarize):
    the same entities, made in the same order, the same canonical spellings, the same mentions."""
    from kg.dictionary import load_dictionary
    from kg.extract import build_matcher, extract
    from kg.read import read_vault
    from kg.resolve import resolve, summarize

    notes, _problems = read_vault(vault)
    dictionary = load_dictionary()
    matcher = build_matcher(dictionary)
    extractions = {note.path: extract(note, matcher) for note in notes}
    whole = resolve(notes, extractions, dictionary)
    extracted = {path: extraction for number, (path, extraction) in enumerate(sorted(extractions.items())) if number % 3 == 0}
    summaries = {path: summarize(extraction) for path, extraction in extractions.items() if path not in extracted}
    mixed = resolve(notes, extracted, dictionary, summaries=summaries)
    assert list(mixed.entities) == list(whole.entities) and mixed.entities == whole.entities
    assert mixed.canonical == whole.canonical and mixed.said == whole.said
    assert {key: found for key, found in whole.mentions.items() if key[0] in extracted} == mixed.mentions
    named = {(path, mixed.said[kind, key, surface]) for path, (signatures, _relations) in summaries.items() for kind, key, surface, _count in signatures}
    assert named == {key for key in whole.mentions if key[0] not in extracted}
    assert len(whole.entities) > 50 and any(entity.makers for entity in whole.entities.values())


@pytest.mark.parametrize("change", ["prose naming new names", "a new article"])
def test_forked_workers_make_the_same_delta(vault, tmp_path, change):
    """With --jobs 2 a warm forked worker extracts and another writes the page (laying it out again
    while its own forked worker groups the communities and keeps the page's model): the same
    bytes, and a model the next delta can use."""
    from kg.processes import can_fork

    assert can_fork(), "a thread is running in the test process (left by an earlier test?): nothing here would fork"
    out = tmp_path / "out"
    build_vault(vault, out, jobs=2, reuse_outputs=True)
    DELTAS[change](vault)
    result = build_vault(vault, out, jobs=2, reuse_outputs=True)
    assert result.changed == 1, result.fallback
    assert read_outputs(out) == whole(vault, tmp_path / "whole")
    _links(vault)
    result = build_vault(vault, out, jobs=2, reuse_outputs=True)
    assert result.changed == 1, result.fallback
    assert read_outputs(out) == whole(vault, tmp_path / "whole again")
    assert _state(out) == _state(tmp_path / "whole again")


def test_the_layout_worker_started_early_lays_out_a_delta_or_ends_unused(vault, tmp_path):
    """`kg build` starts a worker that imports the layout's libraries while the build makes its own
    imports (kg.layout.stand_by). A delta that lays the page out again sends it the layout (no
    worker is forked for it then) and writes a whole build's bytes; a build that lays nothing out
    ends it; a worker that is gone (killed) is replaced by one forked as before.

    In a Python process of its own: a worker is forked only from a process without other threads,
    and earlier tests leave some (Dask's)."""
    script = f"import test_delta; test_delta.standing_by({str(vault)!r}, {str(tmp_path)!r})"
    proc = subprocess.run([sys.executable, "-c", script], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "laid out by the worker standing by; by a forked one once it was gone"


def standing_by(vault: str, tmp: str) -> None:
    """The test above, in its own process."""
    import multiprocessing
    import threading

    import kg.processes
    from kg.layout import stand_by
    from kg.places import STATE_FILE

    vault_, out = Path(vault), Path(tmp) / "out"
    build_vault(vault_, out, jobs=2, reuse_outputs=True)
    assert kg.processes.can_fork(), threading.enumerate()

    def standby() -> multiprocessing.Process:
        stand_by(out / CACHE_FOLDER / STATE_FILE, jobs=2)
        [worker] = [p for p in multiprocessing.active_children() if p.name == "kg-layout"]
        return worker

    worker = standby()
    assert build_vault(vault_, out, jobs=2, reuse_outputs=True).unchanged
    worker.join(30)
    assert worker.exitcode == 0

    forked = kg.processes.worker_pool

    def not_forked(*args, **kwargs):  # noqa: ANN002, ANN003
        raise AssertionError("a layout worker was forked: the one standing by was not used")

    import kg.layout

    worker = standby()
    _new_article(vault_)
    kg.processes.worker_pool = not_forked  # what kg.layout reads when it would fork one (the others hold their own name)
    sent, sending = [], kg.layout._sent
    kg.layout._sent = lambda end, simple: sent.append(os.getpid()) or sending(end, simple)  # a child's append stays in the child
    ahead, laying_ahead = [], kg.layout.lay_out_ahead

    def stored(fragments: Path) -> set[bytes]:
        with contextlib.closing(sqlite3.connect(fragments / "fragments-layout.sqlite")) as db:
            return {digest for (digest,) in db.execute("SELECT digest FROM fragment")}

    def lay_out_ahead(simple, fragments):  # noqa: ANN001, ANN202
        from kg.fragments import Fragments

        store = Fragments(fragments, "layout").open()
        try:  # a layout kept for this very projection is not laid out again, nor sent
            kept = store.get(kg.layout._layout_key(store, simple)) is not None
        finally:
            store.release()
        before = stored(fragments)
        ahead.append((laying_ahead(simple, fragments), kept))
        # Only looked into: the page's writer, later, keeps the new layout and forgets the others.
        assert stored(fragments) == before != set(), "the layout's store was changed before the page's writer ran"
        return ahead[-1][0]

    import kg.export.html

    kg.export.html.lay_out_ahead = lay_out_ahead  # what patch_ahead calls
    try:
        result = build_vault(vault_, out, jobs=2, reuse_outputs=True)
    finally:
        kg.processes.worker_pool, kg.layout._sent, kg.export.html.lay_out_ahead = forked, sending, laying_ahead
    assert result.changed == 1, result.fallback
    assert ahead in ([(True, False)], [(False, True)]), ahead
    assert sent == ([os.getpid()] if ahead[0][0] else []), "the build process sends the layout before it forks the page's writer"
    worker.join(30)
    assert worker.exitcode == 0
    assert read_outputs(out) == whole(vault_, Path(tmp) / "whole")

    worker = standby()
    worker.kill()
    worker.join(30)
    _links(vault_)
    result = build_vault(vault_, out, jobs=2, reuse_outputs=True)
    assert result.changed == 1, result.fallback
    assert read_outputs(out) == whole(vault_, Path(tmp) / "whole again")

    from kg.errors import ExportError

    def failing(simple):  # noqa: ANN001, ANN202
        raise MemoryError("no memory left for the layout")

    laid_out, kg.layout.force_layout = kg.layout.force_layout, failing  # what the worker forked now will call
    try:
        worker = standby()
    finally:
        kg.layout.force_layout = laid_out
    before = read_outputs(out)
    (vault_ / "01-博客" / "又一篇.md").write_text(NEW_ARTICLE.replace("新笔记", "又一篇"), encoding="utf-8")
    try:
        build_vault(vault_, out, jobs=2, reuse_outputs=True)
        raise AssertionError("a layout that failed in the worker went unreported")
    except ExportError as error:
        assert "laying out the page" in str(error) and "no memory left for the layout" in str(error), error
    worker.join(30)
    assert worker.exitcode == 0
    assert read_outputs(out) == before, "a failed build must leave the last build's outputs"
    build_vault(vault_, out, jobs=2, reuse_outputs=True)
    assert read_outputs(out) == whole(vault_, Path(tmp) / "whole after the failure")
    print("laid out by the worker standing by; by a forked one once it was gone")


def test_the_cli_says_when_it_made_only_what_changed(vault, tmp_path):
    from conftest import run_kg

    out = tmp_path / "out"
    run_kg("build", str(vault), "-o", str(out), check=True)
    _known_prose(vault)
    proc = run_kg("build", str(vault), "-o", str(out), check=True)
    assert "(1 note has changed: only what that changes was made again)" in proc.stdout
    assert read_outputs(out) == whole(vault, tmp_path / "whole")
    _new_article(vault)  # laid out again, by the worker the command started first (two jobs: it forks one)
    proc = run_kg("build", str(vault), "-o", str(out), "--jobs", "2", check=True)
    assert "(1 note has changed: only what that changes was made again)" in proc.stdout
    assert read_outputs(out) == whole(vault, tmp_path / "whole again")
