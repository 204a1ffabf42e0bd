"""The interactive view: one self-contained HTML page built with pyvis, no network needed.

Positions are computed in Python and physics is off, so the page is still as soon as it is drawn.
"""

from __future__ import annotations

import re

import networkx as nx
from jinja2 import Environment, FileSystemLoader, select_autoescape
from pyvis.network import Network

from kg.model import NODE_KINDS

COLOURS = {
    "article": "#4e79a7",
    "topic": "#59a14f",
    "product": "#f28e2b",
    "organization": "#e15759",
    "person": "#b07aa1",
    "source": "#9c755f",
}

_CDN_TAG = re.compile(r"<(link|script)\b[^>]*\b(?:href|src)=\"https?://[^\"]*\"[^>]*>(?:\s*</script>)?", re.S)


def layout(graph: nx.MultiDiGraph) -> dict[str, tuple[float, float]]:
    simple = nx.Graph(graph.to_undirected(as_view=True))
    return nx.spring_layout(simple, seed=7, iterations=50) if len(simple) else {}


def render(graph: nx.MultiDiGraph, **_: object) -> str:
    net = Network(height="100vh", width="100%", directed=True, cdn_resources="in_line", heading="")
    net.templateEnv = Environment(
        loader=FileSystemLoader(net.templateEnv.loader.searchpath), autoescape=select_autoescape(default=True)
    )
    net.template = net.templateEnv.get_template("template.html")
    positions = layout(graph)
    scale = 60 * max(len(graph), 1) ** 0.5
    for node in sorted(graph.nodes):
        data = graph.nodes[node]
        x, y = positions.get(node, (0.0, 0.0))
        net.nodes.append(
            {
                "id": node,
                "label": data["label"],
                "title": f"{data['label']} ({data['kind']})",
                "color": COLOURS[data["kind"]],
                "kind": data["kind"],
                "x": round(float(x) * scale, 2),
                "y": round(float(y) * scale, 2),
                "shape": "dot",
                "size": 8 + min(int(data.get("articles", 1)), 30),
            }
        )
    for u, v, key in sorted(graph.edges(keys=True)):
        if key == "co_mention":
            continue
        net.edges.append({"from": u, "to": v, "title": key, "arrows": "to"})
    net.toggle_physics(False)
    page = net.generate_html()
    page = _CDN_TAG.sub("", page)
    legend = "".join(
        f'<span style="color:{COLOURS[kind]}">&#9679; {kind}</span> ' for kind in NODE_KINDS
    )
    return page.replace("<body>", f'<body>\n<div id="legend">{legend}</div>', 1)
