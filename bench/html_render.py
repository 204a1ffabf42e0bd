"""Measure the interactive view: layout time in Python, page size, and time until drawn in headless Chromium.

    python bench/html_render.py [VAULT ...] [--synthetic NODES] [--max-nodes N] [--keep DIR]

For each VAULT (default: the sample corpus beside the project, when present) it builds the graph
with kg's own pipeline, and for --synthetic (default 8000 nodes, about 4 edges per node) it makes
a random graph shaped like a large vault (articles, topics, products, organizations, people,
sources; power-law popularity; evidence sentences). Then it prints:
  layout     seconds for kg.layout.force_layout on the drawn graph
  render     seconds for kg.export.html.render (layout and communities included)
  html       size of graph.html
  drawn      milliseconds from navigation start until the first frame is on screen (Debian's
             Chromium, headless, network requests aborted), and from there until the page is idle
  still      whether node positions are unchanged 2 s after drawing (physics off: they must be)
  nodes      nodes present in the page's DataSet (must equal the graph's)
Needs /usr/bin/chromium and Playwright for Python.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kg.export.html import render  # noqa: E402
from kg.layout import force_layout, projection  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
HANZI = "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严"


def synthetic_graph(nodes: int, *, seed: int = 1) -> nx.MultiDiGraph:
    """A graph shaped like a big vault: about `nodes` nodes and 4 drawn edges per node."""
    rng = random.Random(seed)
    counts = {"article": int(nodes * 0.41), "topic": int(nodes * 0.19), "product": int(nodes * 0.3), "organization": int(nodes * 0.07), "person": int(nodes * 0.025)}
    counts["source"] = max(nodes - sum(counts.values()), 1)
    graph = nx.MultiDiGraph()

    def name(n: int) -> str:
        return "".join(rng.choice(HANZI) for _ in range(n))

    ids: dict[str, list[str]] = {}
    for kind, count in counts.items():
        ids[kind] = [f"{kind}:{kind[0]}{i:05d}" for i in range(count)]
        for node in ids[kind]:
            attrs = {"kind": kind, "label": name(rng.randint(2, 6)) + (f"-{rng.randint(1, 9)}" if kind == "product" else ""), "aliases": []}
            if kind == "article":
                attrs.update(label=name(rng.randint(10, 30)), path=node[8:] + ".md", date=f"20{rng.randint(20, 25)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}", url=f"https://example.org/{node[8:]}", authors=[], tags=[])
            graph.add_node(node, **attrs)

    def popular(kind: str) -> str:
        pool = ids[kind]
        return pool[min(int(rng.paretovariate(1.1)) - 1, len(pool) - 1) if rng.random() < 0.5 else rng.randrange(len(pool))]

    for article in ids["article"]:
        for _ in range(rng.randint(1, 5)):
            graph.add_edge(article, popular("topic"), key="about", count=1)
        for _ in range(rng.randint(1, 7)):
            kind = rng.choice(["product", "product", "organization", "person"])
            sentence = name(rng.randint(15, 60)) + "。"
            graph.add_edge(article, popular(kind), key="mentions", count=rng.randint(1, 5), evidence=[{"sentence": sentence, "start": 0, "end": 2}])
        graph.add_edge(article, popular("person"), key="author")
        graph.add_edge(article, popular("source"), key="source")
    for topic in ids["topic"]:
        graph.add_edge(topic, popular("topic"), key="related", count=1)
    for product in ids["product"]:
        graph.add_edge(product, popular("organization"), key="made_by")
    for node, data in graph.nodes(data=True):
        if data["kind"] != "article":
            data["articles"] = len({u for u, _ in graph.in_edges(node) if graph.nodes[u]["kind"] == "article"})
    return graph


def vault_graph(vault: Path) -> nx.MultiDiGraph:
    from kg.build import build_vault

    with tempfile.TemporaryDirectory() as out:
        return build_vault(vault, Path(out)).graph


def measure_page(path: Path) -> dict[str, object]:
    from playwright.sync_api import sync_playwright

    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, bypass_csp=True)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        def route(r):
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                requests.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        page.goto(path.as_uri(), wait_until="load", timeout=120_000)
        page.wait_for_function("window.kg && window.kg.ready", timeout=120_000)
        drawn = page.evaluate("() => window.kg.drawnAt")
        before = page.evaluate("() => JSON.stringify(network.getPositions())")
        page.wait_for_timeout(2000)
        after = page.evaluate("() => JSON.stringify(network.getPositions())")
        present = page.evaluate("() => nodes.length")
        browser.close()
    return {"drawn_ms": round(drawn), "still": before == after, "nodes_in_page": present, "requests": requests, "errors": errors}


def report(name: str, graph: nx.MultiDiGraph, keep: Path | None, max_nodes: int | None) -> None:
    drawn_edges = sum(1 for *_e, k in graph.edges(keys=True) if k != "co_mention")
    started = time.perf_counter()
    force_layout(projection(graph))
    layout_s = time.perf_counter() - started
    started = time.perf_counter()
    page = render(graph, max_nodes=max_nodes)
    render_s = time.perf_counter() - started
    folder = keep or Path(tempfile.mkdtemp(prefix="kg-html-bench."))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.html"
    path.write_text(page, encoding="utf-8")
    result = measure_page(path)
    print(
        f"{name}: {len(graph)} nodes, {drawn_edges} drawn edges; layout {layout_s:.2f} s; render {render_s:.2f} s; "
        f"html {len(page.encode()) / 1e6:.2f} MB; drawn {result['drawn_ms']} ms after navigation start; "
        f"still: {result['still']}; nodes in page: {result['nodes_in_page']}; "
        f"requests: {len(result['requests'])}; page errors: {len(result['errors'])}"
    )
    for line in result["errors"]:
        print(f"  error: {line}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vaults", nargs="*", type=Path)
    parser.add_argument("--synthetic", type=int, default=8000, help="nodes of the synthetic graph (0: none)")
    parser.add_argument("--max-nodes", type=int, default=None)
    parser.add_argument("--keep", type=Path, default=None, help="write the pages here instead of a temporary folder")
    args = parser.parse_args()
    vaults = args.vaults or [p for p in [ROOT.parent / "shared" / "corpus"] if p.is_dir()]
    for vault in vaults:
        report(vault.name or "vault", vault_graph(vault), args.keep, args.max_nodes)
    if args.synthetic:
        report(f"synthetic-{args.synthetic}", synthetic_graph(args.synthetic), args.keep, args.max_nodes)


if __name__ == "__main__":
    main()
