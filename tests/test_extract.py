"""Entity extraction: golden cases on the seed, spelling variants, versions, discovery, noise, relations."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SEED_FILE, SEEDS

from kg.dictionary import load_dictionary
from kg.extract import build_matcher, extract
from kg.graph import article_id, build_graph
from kg.model import ARTICLE, ORGANIZATION, PERSON, PRODUCT, Note
from kg.normalize import name_key
from kg.read import read_note


@pytest.fixture(scope="module")
def matcher():
    return build_matcher(load_dictionary())


def found(text: str, matcher) -> set[tuple[str, str]]:
    """(kind, canonical-or-surface) of every mention in `text`."""
    extraction = extract(Note(path="t.md", title="t", kind=ARTICLE, body=text), matcher)
    return {(m.kind, m.key or m.surface) for m in extraction.mentions}


@pytest.fixture(scope="module")
def seed_graph(matcher):
    note, _ = read_note(SEEDS, SEED_FILE)
    return build_graph([note], {note.path: extract(note, matcher)}, matcher.dictionary)


def mentioned(graph, kind: str) -> dict[str, dict]:
    article = article_id("000_cfc63594b14dff59.txt")
    return {graph.nodes[v]["label"]: graph.nodes[v] for _, v, k in graph.out_edges(article, keys=True) if k == "mentions" and graph.nodes[v]["kind"] == kind}


def test_seed_products_organizations_people(seed_graph):
    products = mentioned(seed_graph, PRODUCT)
    expected = {"GPT-4o", "Gemini 2.5 Pro", "Gemini", "Sora", "即梦", "ChatGPT", "DALL·E 3", "Midjourney",
                "Stable Diffusion", "ComfyUI", "ControlNet", "豆包"}
    assert expected <= set(products)
    assert {"OpenAI", "Google"} <= set(mentioned(seed_graph, ORGANIZATION))
    assert {"Sam Altman", "Karl Marx", "雷军"} <= set(mentioned(seed_graph, PERSON))
    # one entity for GPT-4o however it is spelled, and no URL garbage anywhere
    assert sum(1 for name in products if name_key(name) == "gpt4o") == 1
    assert {"GPT4o", "4o"} <= set(products["GPT-4o"]["aliases"])
    for node, data in seed_graph.nodes(data=True):
        assert not any(bad in data["label"] for bad in ("mmbiz", "qpic", "wx_fmt", "http", "640")), node


def test_seed_makers_and_evidence(seed_graph):
    made_by = {(seed_graph.nodes[u]["label"], seed_graph.nodes[v]["label"]) for u, v, k in seed_graph.edges(keys=True) if k == "made_by"}
    assert {("GPT-4o", "OpenAI"), ("Sora", "OpenAI")} <= made_by
    article = article_id("000_cfc63594b14dff59.txt")
    edge = seed_graph.edges[article, "product:GPT-4o", "mentions"]
    assert edge["count"] >= 10
    assert edge["evidence"] and all("4o" in sentence.replace("GPT", "") for sentence, _start, _end in edge["evidence"])
    body = read_note(SEEDS, SEED_FILE)[0].body
    _sentence, start, end = edge["evidence"][0]
    assert "4o" in body[start:end]


def test_the_frontmatter_author_is_not_a_mention(seed_graph):
    assert "数字生命卡兹克" not in mentioned(seed_graph, PERSON)


@pytest.mark.parametrize("text", ["GPT4o很强", "gpt-4o很强", "ＧＰＴ－４ｏ很强", "GPT 4o很强", "GPT-4o很强"])
def test_spelling_variants_are_one_entity(text, matcher):
    assert found(text, matcher) == {(PRODUCT, "GPT-4o")}


@pytest.mark.parametrize(("text", "name"), [("用Dalle3画", "DALL·E 3"), ("用DALL-E 3画", "DALL·E 3"), ("Comfyui的工作流", "ComfyUI"), ("ControlNET控制", "ControlNet")])
def test_more_variants(text, name, matcher):
    assert (PRODUCT, name) in found(text, matcher)


def test_versions_are_distinct_and_linked_to_their_family(matcher):
    text = "Gemini 2.5 Pro和Gemini都不如即梦2.1，可灵 1.6 也更新了。"
    note = Note(path="v.md", title="v", kind=ARTICLE, body=text)
    graph = build_graph([note], {note.path: extract(note, matcher)}, matcher.dictionary)
    labels = {data["label"] for _, data in graph.nodes(data=True) if data["kind"] == PRODUCT}
    assert {"Gemini 2.5 Pro", "Gemini", "即梦2.1", "可灵 1.6"} <= labels
    version_of = {(graph.nodes[u]["label"], graph.nodes[v]["label"]) for u, v, k in graph.edges(keys=True) if k == "version_of"}
    assert {("Gemini 2.5 Pro", "Gemini"), ("即梦2.1", "即梦"), ("可灵 1.6", "可灵")} <= version_of


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("谷歌刚刚发布了Veo 3，效果惊人。", (PRODUCT, "Veo 3")),
        ("快手的Kling 2.1来了。", (PRODUCT, "Kling 2.1")),
        ("阿里开源了Qwen-Image，中文渲染很好。", (PRODUCT, "Qwen-Image")),
        ("这次Anthropic带来了Claude 3.7 Sonnet。", (PRODUCT, "Claude 3.7 Sonnet")),
        ("我试了Lovart，做海报很快。", (PRODUCT, "Lovart")),
        ("宇树科技的机器人又出圈了。", (ORGANIZATION, "宇树科技")),
        ("香港大学的团队做了评测。", (ORGANIZATION, "香港大学")),
        ("Zorblax AI刚刚完成了融资。", (ORGANIZATION, "Zorblax AI")),
        ("Quillnova推出了新模型，QuillAI也跟进了。", (ORGANIZATION, "QuillAI")),
        ("OpenAI CEO山姆·奥特曼表示很满意。", (PERSON, "Sam Altman")),
        ("李飞飞教授认为空间智能是下一步。", (PERSON, "李飞飞")),
        ("前两天Andrej Karpathy发了一条推。", (PERSON, "Andrej Karpathy")),
        ("一张卡尔·马克思的照片。", (PERSON, "Karl Marx")),
        ("埃隆·马斯克在发布会上说了很多。", (PERSON, "Elon Musk")),
    ],
)
def test_discovery_and_aliases(text, expected, matcher):
    extraction = extract(Note(path="t.md", title="t", kind=ARTICLE, body=text), matcher)
    spellings = {(m.kind, name) for m in extraction.mentions for name in (m.key, m.surface)}
    assert expected in spellings


@pytest.mark.parametrize("text", ["这个Prompt的UI有BUG，但是OK。", "打开https://mmbiz.qpic.cn/abc?wx_fmt=png&from=appmsg看看", "![](https://x.example/GPT-4o.png)", "```\nimport Sora\n```"])
def test_noise_urls_images_and_code_are_not_entities(text, matcher):
    assert found(text, matcher) == set()


@pytest.mark.parametrize(("text", "absent"), [("我联想到了去年", (ORGANIZATION, "联想")), ("很多大学都开了这门课", (ORGANIZATION, "很多大学")), ("meta信息写在头部", (ORGANIZATION, "Meta")), ("可灵活运用各种工具", (PRODUCT, "可灵"))])
def test_common_words_that_are_also_names(text, absent, matcher):
    assert absent not in found(text, matcher)


def test_short_form_introduced_by_the_article(matcher):
    assert found("GPT-4o发布了。后来4o的生图很强。", matcher) == {(PRODUCT, "GPT-4o")}
    assert found("4o很强", matcher) == set()  # not introduced: no guess


def test_maker_patterns(matcher):
    note = Note(path="m.md", title="m", kind=ARTICLE, body="字节的即梦和Anthropic推出的Claude Code都很好用。")
    graph = build_graph([note], {note.path: extract(note, matcher)}, matcher.dictionary)
    made_by = {(graph.nodes[u]["label"], graph.nodes[v]["label"]) for u, v, k in graph.edges(keys=True) if k == "made_by"}
    assert {("即梦", "字节跳动"), ("Claude Code", "Anthropic")} <= made_by


def test_a_name_that_is_maker_and_product_is_typed_by_use(matcher):
    assert found("DeepSeek发布了新模型。", matcher) == {(ORGANIZATION, "DeepSeek")}
    assert (PRODUCT, "DeepSeek") in found("我用DeepSeek写代码。", matcher)


def test_user_dictionary_extends_the_shipped_one(tmp_path: Path):
    extra = tmp_path / "extra.yaml"
    extra.write_text("- name: 星尘画板\n  kind: product\n  aliases: [Stardust Board]\n  makers: [星尘实验室]\n- name: 星尘实验室\n  kind: organization\n", encoding="utf-8")
    matcher = build_matcher(load_dictionary((extra,)))
    assert {(PRODUCT, "星尘画板"), (ORGANIZATION, "星尘实验室")} <= found("星尘实验室做的Stardust Board很好用，星尘画板。", matcher)


def test_a_topic_note_that_names_an_entity_is_that_entity(matcher, tmp_path: Path):
    topic = Note(path="00-元语/ChatGPT.md", title="ChatGPT", kind="topic", body="定义")
    article = Note(path="a.md", title="a", kind=ARTICLE, body="我用ChatGPT写作。", links=())
    graph = build_graph([topic, article], {n.path: extract(n, matcher) for n in (topic, article)}, matcher.dictionary)
    node = graph.nodes["product:ChatGPT"]
    assert node["note"] == "00-元语/ChatGPT.md"
    assert not any(n.startswith("topic:") and "ChatGPT" in n for n in graph.nodes)


def test_extraction_is_deterministic(matcher):
    note, _ = read_note(SEEDS, SEED_FILE)
    assert extract(note, matcher) == extract(note, build_matcher(load_dictionary()))


def test_co_mentions_count_articles_and_need_two(matcher):
    notes = [
        Note(path="a.md", title="a", kind=ARTICLE, body="OpenAI的Sora和字节的即梦。"),
        Note(path="b.md", title="b", kind=ARTICLE, body="Sora和即梦都很强。"),
        Note(path="c.md", title="c", kind=ARTICLE, body="OpenAI又发布了新东西。"),
    ]
    graph = build_graph(notes, {n.path: extract(n, matcher) for n in notes}, matcher.dictionary)
    co = {(u, v): d["weight"] for u, v, k, d in graph.edges(keys=True, data=True) if k == "co_mention"}
    assert co == {("product:Sora", "product:即梦"): 2}


JIEBA_WITHOUT_PKG_RESOURCES = """
import importlib.util, sys
from kg.extract import import_jieba
jieba = import_jieba()
assert "pkg_resources" not in sys.modules, "extraction imported pkg_resources"
tokenizer = jieba.Tokenizer()
tokenizer.initialize()  # jieba's own dictionary, opened beside its module
print(" ".join(tokenizer.lcut("我们试用了一个新的模型")))
if importlib.util.find_spec("pkg_resources") is not None:
    import pkg_resources  # still importable by whoever wants it afterwards
print("ok")
"""


def test_jieba_is_imported_without_pkg_resources_and_still_reads_its_dictionary():
    """jieba imports setuptools' pkg_resources (a tenth of a second, a deprecation warning in newer
    setuptools) only to open its data files; kg imports it without, in a fresh process, and jieba
    segments as it does with it."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", JIEBA_WITHOUT_PKG_RESOURCES], capture_output=True, text=True, timeout=120, check=True)
    lines = run.stdout.split()
    assert lines[-1] == "ok"
    plain = subprocess.run([sys.executable, "-c", "import jieba; t = jieba.Tokenizer(); t.initialize(); print(' '.join(t.lcut('我们试用了一个新的模型')))"], capture_output=True, text=True, timeout=120, check=True)
    assert run.stdout.splitlines()[0] == plain.stdout.splitlines()[0]
    assert len(lines) > 3
