"""Output formats. Each module has a pure builder (graph -> text) and is registered here once.

Adding a format is adding one module and one line to FORMATS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import networkx as nx


@dataclass(frozen=True)
class Format:
    """One output file: its name in OUT and the pure function that renders it."""

    filename: str
    render: Callable[..., str]


def formats() -> dict[str, Format]:
    from kg.export import graphml, html, json, turtle

    return {
        "ttl": Format("graph.ttl", turtle.render),
        "json": Format("graph.json", json.render),
        "graphml": Format("graph.graphml", graphml.render),
        "html": Format("graph.html", html.render),
    }


def render_all(graph: nx.MultiDiGraph, **options: object) -> dict[str, str]:
    """filename -> content for every registered format."""
    return {fmt.filename: fmt.render(graph, **options) for fmt in formats().values()}
