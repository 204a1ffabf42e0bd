"""graph.html in Debian's Chromium through Playwright: it draws offline, search, filters, the panel, and no note runs code."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import SEED_FILE, need_tool, run_kg

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HOSTILE_TITLE = "<img src=x onerror=window.__pwned=1>"
HOSTILE_AUTHOR = '"><script>window.__pwned=1</script>'

NOTES = {
    "新闻/a1.md": """---
title: "OpenAI 推出 GPT-4o 生图"
发布日期: 2025-03-26
作者: 张三
来源: 微信公众号
原文链接: "https://example.org/a1"
---
OpenAI 今天推出了 GPT-4o 的生图功能。即梦也有类似能力。[[图像生成]]
""",
    "新闻/a2.md": """---
title: "即梦的老文章"
发布日期: 2023-05-01
作者: 李四
来源: 36kr
原文链接: "https://example.org/a2"
---
即梦在当时是新产品。[[图像生成]]
""",
    "新闻/hostile.md": f"""---
title: '{HOSTILE_TITLE}'
发布日期: 2025-01-01
作者: '{HOSTILE_AUTHOR}'
来源: 微信公众号
原文链接: "javascript:window.__pwned=1"
别名: ["<svg onload=window.__pwned=1>"]
---
<img src=x onerror=window.__pwned=1> XBot 是一个产品。[[<b onmouseover=window.__pwned=1>]]
""",
    "图像生成.md": """---
类型: 主题词条
别名: [Image generation]
---
关于图像生成的主题。
""",
}
DICTIONARY = """- name: GPT-4o
  aliases: [GPT4o]
  makers: [OpenAI]
- name: 即梦
  aliases: [Dreamina]
- name: XBot
"""


def need_chromium() -> str:
    """Debian's Chromium and Playwright; under CI their absence is a failure."""
    if not os.environ.get("CI"):
        pytest.importorskip("playwright.sync_api")
    return need_tool("chromium")


@contextmanager
def open_page(html: Path) -> Iterator[tuple[object, list[str], list[str]]]:
    """The page in headless Chromium: every request other than the file itself is aborted and recorded."""
    from playwright.sync_api import sync_playwright

    executable = need_chromium()
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        # bypass_csp: Playwright evaluates test code through eval; it also proves the page requests
        # nothing and runs no note text even without its Content-Security-Policy.
        page = browser.new_page(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)

        def route(r) -> None:
            if r.request.url == html.as_uri():
                r.continue_()
            else:
                requests.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(html.as_uri())
        page.wait_for_function("window.kg && window.kg.ready", timeout=30_000)
        try:
            yield page, errors, requests
        finally:
            browser.close()


def node_id(page, label: str) -> str:
    return page.evaluate("(label) => window.kg.data.nodes.find(n => n.label === label).id", label)


def click_node(page, node: str) -> None:
    """Bring the node into view, then click it with the mouse like a person would."""
    page.evaluate("(id) => network.moveTo({position: network.getPositions([id])[id], scale: 1.5, animation: false})", node)
    box = page.locator("#mynetwork").bounding_box()
    point = page.evaluate("(id) => network.canvasToDOM(network.getPositions([id])[id])", node)
    page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])


@pytest.fixture(scope="module")
def fixture_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("html-vault")
    vault = root / "vault"
    for name, text in NOTES.items():
        (vault / name).parent.mkdir(parents=True, exist_ok=True)
        (vault / name).write_text(text, encoding="utf-8")
    dictionary = root / "products.yaml"
    dictionary.write_text(DICTIONARY, encoding="utf-8")
    run_kg("build", str(vault), "-o", str(root / "out"), "--dictionary", str(dictionary), "-q", "--no-cache", check=True)
    return root / "out" / "graph.html"


def test_seed_page_renders_offline_with_every_node(seed_out: Path) -> None:
    with open_page(seed_out / "graph.html") as (page, errors, requests):
        count = page.evaluate("() => nodes.length")
        assert count == page.evaluate("() => window.kg.data.nodes.length") > 5
        assert page.evaluate("() => network instanceof vis.Network && edges.length > 0")
        positions = page.evaluate("() => JSON.stringify(network.getPositions())")
        page.wait_for_timeout(500)
        assert page.evaluate("() => JSON.stringify(network.getPositions())") == positions  # still
        assert page.locator("#legend").inner_text().count("\n") >= 6
    assert requests == [] and errors == []


def test_seed_page_edges_are_the_graphs_drawn_edges_with_their_look(seed_out: Path) -> None:
    """pyvis's `edges` DataSet is made in the page from kg-data: one item per edge of graph.json that
    is drawn (co-mentions are an overlay), coloured, dashed and arrowed as EDGE_STYLE says."""
    import json

    from kg.export.html import DASHED_EDGES_UP_TO, EDGE_STYLE

    graph = json.loads((seed_out / "graph.json").read_text(encoding="utf-8"))
    drawn = sorted((e["source"], e["target"], e["key"]) for e in graph["edges"] if e["key"] != "co_mention")
    assert len(drawn) <= DASHED_EDGES_UP_TO
    with open_page(seed_out / "graph.html") as (page, errors, requests):
        items = page.evaluate("() => edges.get()")
    assert sorted((e["from"], e["to"], e["relation"]) for e in items) == drawn
    assert sorted(e["id"] for e in items) == list(range(len(drawn)))
    for item in items:
        colour, dashes, arrow = EDGE_STYLE[item["relation"]]
        assert (item["color"], item["dashes"], item.get("arrows")) == (colour, dashes, "to" if arrow else None)
    assert requests == [] and errors == []


def test_seed_search_finds_jimeng(seed_out: Path) -> None:
    with open_page(seed_out / "graph.html") as (page, errors, requests):
        page.fill("#search", "即梦")
        first = page.locator("#search-results li").first
        assert first.locator(".label").inner_text() == "即梦"
        first.click()
        assert page.locator("#panel").is_visible()
        assert page.locator("#panel-title").inner_text() == "即梦"
        page.fill("#search", "dreamina")  # an alias, any case
        assert page.locator("#search-results li .label").first.inner_text() == "即梦"
    assert requests == [] and errors == []


def test_seed_click_gpt4o_lists_the_seed_article_with_evidence(seed_out: Path) -> None:
    title = "GPT-4o多模态生图正式上线 - 用嘴改图，此为王道。"
    assert title in SEED_FILE.read_text(encoding="utf-8")
    with open_page(seed_out / "graph.html") as (page, errors, requests):
        click_node(page, node_id(page, "GPT-4o"))
        assert page.locator("#panel-title").inner_text() == "GPT-4o"
        item = page.locator("#panel-list li", has_text=title)
        assert item.count() == 1
        assert "GPT-4o" in item.locator("blockquote.evidence").first.inner_text()
        assert item.locator("a[href^='https://mp.weixin.qq.com/']").count() == 1
        assert "OpenAI" in page.locator("#panel-facts").inner_text()  # the maker
        dimmed = page.evaluate("() => nodes.get().filter(n => String(n.color).startsWith('rgba(200')).length")
        assert dimmed > 0  # neighbours highlighted, the rest dimmed
    assert requests == [] and errors == []


def test_fixture_panel_lists_articles_newest_first_with_evidence(fixture_page: Path) -> None:
    with open_page(fixture_page) as (page, errors, requests):
        page.fill("#search", "dreamina")
        page.keyboard.press("Enter")
        assert page.locator("#panel-title").inner_text() == "即梦"
        items = page.locator("#panel-list > li")
        assert items.count() == 2
        assert "OpenAI 推出 GPT-4o 生图" in items.nth(0).inner_text() and "2025-03-26" in items.nth(0).inner_text()
        assert "即梦在当时是新产品" in items.nth(1).locator("blockquote").inner_text()
        click_node(page, node_id(page, "GPT-4o"))
        assert "OpenAI" in page.locator("#panel-facts").inner_text()
        assert "GPT4o" in page.locator("#panel-facts").inner_text()
    assert requests == [] and errors == []


def test_fixture_filters(fixture_page: Path) -> None:
    with open_page(fixture_page) as (page, errors, requests):
        hidden = "(label) => !!nodes.get(window.kg.data.nodes.find(n => n.label === label).id).hidden"
        page.click("#filters summary")
        page.fill("#date-from", "2024-01-01")
        page.dispatch_event("#date-from", "change")
        assert page.evaluate(hidden, "即梦的老文章") and not page.evaluate(hidden, "OpenAI 推出 GPT-4o 生图")
        page.select_option("#source-filter", label="36kr (1)")
        assert page.evaluate(hidden, "OpenAI 推出 GPT-4o 生图")
        page.click("#reset-filters")
        assert not page.evaluate(hidden, "即梦的老文章")
        page.select_option("#author-filter", label="李四 (1)")
        assert page.evaluate(hidden, "OpenAI 推出 GPT-4o 生图") and not page.evaluate(hidden, "即梦")
        page.click("#reset-filters")
        page.uncheck("#kind-filter input[value=product]")
        assert page.evaluate(hidden, "即梦") and not page.evaluate(hidden, "图像生成")
        page.click("#reset-filters")
        page.fill("#min-articles", "2")
        page.dispatch_event("#min-articles", "change")
        assert not page.evaluate(hidden, "即梦") and page.evaluate(hidden, "XBot")
        page.click("#reset-filters")
        page.select_option("#colour-by", "community")
        assert page.evaluate("() => nodes.get().every(n => window.kg.data.community_colours.includes(n.color))")
    assert requests == [] and errors == []


def test_hostile_note_text_is_shown_and_never_run(fixture_page: Path) -> None:
    with open_page(fixture_page) as (page, errors, requests):
        hostile = node_id(page, HOSTILE_TITLE)
        # label on the canvas and tooltip on hover
        assert page.evaluate("(id) => nodes.get(id).title", hostile).startswith(HOSTILE_TITLE)
        page.evaluate("(id) => network.moveTo({position: network.getPositions([id])[id], scale: 2, animation: false})", hostile)
        box = page.locator("#mynetwork").bounding_box()
        point = page.evaluate("(id) => network.canvasToDOM(network.getPositions([id])[id])", hostile)
        page.mouse.move(box["x"] + point["x"], box["y"] + point["y"])
        tooltip = page.locator(".vis-tooltip")
        tooltip.wait_for(state="visible", timeout=5000)
        assert HOSTILE_TITLE in tooltip.inner_text()
        # search results
        page.fill("#search", "img src")
        assert page.locator("#search-results li .label").first.inner_text() == HOSTILE_TITLE
        page.fill("#search", "svg onload")  # the alias
        assert page.locator("#search-results li .alias").first.inner_text() == "= <svg onload=window.__pwned=1>"
        page.keyboard.press("Enter")
        # the panel: title, author, the javascript: URL shown as text, never as a link
        assert page.locator("#panel-title").inner_text() == HOSTILE_TITLE
        facts = page.locator("#panel-facts").inner_text()
        assert HOSTILE_AUTHOR in facts and "javascript:window.__pwned=1" in facts
        assert page.locator("#panel a[href^='javascript']").count() == 0
        page.locator("#panel-list a.node-link", has_text="XBot").click()
        assert page.locator("#panel-title").inner_text() == "XBot"
        assert "<img src=x onerror=window.__pwned=1>" in page.locator("#panel-list").inner_text()
        click_node(page, node_id(page, HOSTILE_AUTHOR))
        assert page.locator("#panel-title").inner_text() == HOSTILE_AUTHOR
        page.check("#show-co-mentions")
        page.uncheck("#show-co-mentions")
        assert page.evaluate("() => window.__pwned") is None
        assert page.locator("img, svg[onload], b[onmouseover]").count() == 0
    assert requests == [] and errors == []
