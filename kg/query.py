"""SPARQL over a built graph: load OUT/graph.ttl into an in-memory Oxigraph store and run one query.

SELECT results come out as a table (for people; CJK text aligned by display width), or in the
standard SPARQL 1.1 CSV, TSV or JSON results formats; ASK as `true`/`false`; CONSTRUCT and
DESCRIBE as Turtle. Everything is offline: the graph is read from the file, nothing else.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pyoxigraph as ox
from rich import box
from rich.console import Console
from rich.table import Table

from kg.errors import NotBuiltError, QueryError
from kg.export import turtle
from kg.vocab import PREFIX_IRIS

GRAPH_FILE = "graph.ttl"
FORMATS = ("table", "csv", "tsv", "json")
_RESULT_FORMATS = {"csv": ox.QueryResultsFormat.CSV, "tsv": ox.QueryResultsFormat.TSV, "json": ox.QueryResultsFormat.JSON}

# Prepended to every query unless it declares the prefix itself, so `schema:name` just works.
PROLOGUE = PREFIX_IRIS


def graph_path(out: Path) -> Path:
    """OUT/graph.ttl of a previous build; NotBuiltError when it is not there."""
    path = Path(out) / GRAPH_FILE
    if not path.is_file():
        raise NotBuiltError(f"{path}: no such file ({out} holds no kg build)")
    return path


def read_query(text: str) -> str:
    """The query text: `text` itself, or the contents of FILE when `text` is `@FILE`."""
    if not text.startswith("@"):
        return text
    path = Path(text[1:])
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise QueryError(f"{path}: cannot read the query file ({getattr(exc, 'strerror', None) or exc})") from exc


def load_store(path: Path) -> ox.Store:
    """An in-memory store holding the Turtle file `path` in its default graph."""
    store = ox.Store()
    try:
        store.bulk_load(path=str(path), format=ox.RdfFormat.TURTLE)
    except (SyntaxError, OSError) as exc:
        raise QueryError(f"{path}: cannot be loaded ({exc})") from exc
    return store


def run(store: ox.Store, query: str) -> ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples:
    """Run `query` on `store` with kg's prefixes predeclared; QueryError carries the parser's message."""
    full = with_prefixes(query)
    try:
        return store.query(full)
    except SyntaxError as exc:
        added = full.count("\n") - query.count("\n")
        message = re.sub(r"(\d+):(\d+)", lambda m: f"{int(m[1]) - added}:{m[2]}", str(exc), count=1)
        raise QueryError(f"the query is not valid SPARQL: {message}") from exc
    except OSError as exc:
        raise QueryError(f"the query failed: {exc}") from exc


def with_prefixes(query: str) -> str:
    """`query` with PREFIX lines for kg's namespaces it does not declare itself."""
    lowered = query.lower()
    lines = [f"PREFIX {p}: <{ns}>" for p, ns in sorted(PROLOGUE.items()) if f"prefix {p}:" not in lowered]
    return "\n".join([*lines, query])


def query_output(out: Path, query: str, *, fmt: str = "table", width: int = 120) -> str:
    """The text `kg query` prints: the query run on OUT/graph.ttl, in format `fmt`."""
    if fmt not in FORMATS:
        raise QueryError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    result = run(load_store(graph_path(out)), query)
    return format_result(result, fmt=fmt, width=width)


def format_result(result: ox.QuerySolutions | ox.QueryBoolean | ox.QueryTriples, *, fmt: str = "table", width: int = 120) -> str:
    if isinstance(result, ox.QueryBoolean):
        if fmt in _RESULT_FORMATS:
            return result.serialize(format=_RESULT_FORMATS[fmt]).decode("utf-8") + "\n"
        return "true\n" if bool(result) else "false\n"
    if isinstance(result, ox.QueryTriples):
        return turtle.serialize(sorted(result, key=turtle.order))
    if fmt == "table":
        return table(result, width=width)
    text = result.serialize(format=_RESULT_FORMATS[fmt]).decode("utf-8")
    return text if text.endswith("\n") else text + "\n"


def table(solutions: ox.QuerySolutions, *, width: int = 120) -> str:
    """SELECT results as a text table; rich measures CJK characters as two columns wide."""
    names = [variable.value for variable in solutions.variables]
    grid = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for name in names:
        grid.add_column(name, overflow="fold")
    count = 0
    for solution in solutions:
        grid.add_row(*(show(solution[name]) for name in names))
        count += 1
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system=None, force_terminal=False, highlight=False, emoji=False, markup=False)
    console.print(grid)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join([*lines, f"{count} row{'s' if count != 1 else ''}"]) + "\n"


def show(term: ox.NamedNode | ox.Literal | ox.BlankNode | None) -> str:
    """A term as a person reads it: a literal's text, an IRI with its prefix, nothing for unbound."""
    if term is None:
        return ""
    if isinstance(term, ox.Literal):
        return term.value
    if isinstance(term, ox.NamedNode):
        for prefix, namespace in PROLOGUE.items():
            if term.value.startswith(namespace):
                return f"{prefix}:{term.value[len(namespace):]}"
        return f"<{term.value}>"
    return str(term)
