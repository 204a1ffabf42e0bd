"""Time the RDF side of kg on a built output folder: Turtle rendering, validation, a query, a push.

    python bench/rdf.py OUT [--push] [--repeat N]

OUT is the folder of a previous `kg build` (its graph.json is the graph the Turtle is rendered from).
Prints the triple count, then best-of-N seconds for:
  triples      kg.export.turtle.triples (the pure builder, sorted)
  render       kg.export.turtle.render (builder + pyoxigraph Turtle writer), and rdflib's writer for comparison
  validate     kg.validate.validate_output (pyshacl core shapes + the SPARQL mention checks)
  query        load graph.ttl into Oxigraph and count mentions per product
  push         with --push: two PUTs to a fresh `oxigraph serve` on 127.0.0.1 (first and replacing)
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import networkx as nx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kg.export import turtle  # noqa: E402
from kg.push import push_output  # noqa: E402
from kg.query import query_output  # noqa: E402
from kg.validate import validate_output  # noqa: E402


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def push_twice(out: Path) -> tuple[float, float]:
    binary = shutil.which("oxigraph")
    if binary is None:
        raise SystemExit("oxigraph is not installed (pip install oxigraph)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory() as location:
        server = subprocess.Popen([binary, "serve", "--location", location, "--bind", f"127.0.0.1:{port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(300):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            first = push_output(out, f"http://127.0.0.1:{port}/store").seconds
            second = push_output(out, f"http://127.0.0.1:{port}/store").seconds
            return first, second
        finally:
            server.terminate()
            server.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--push", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    graph = nx.node_link_graph(json.loads((args.out / "graph.json").read_text(encoding="utf-8")), edges="edges")
    print(f"graph        {graph.number_of_nodes()} nodes, {graph.number_of_edges()} edges, {len(turtle.triples(graph))} triples")
    print(f"triples      {best(lambda: turtle.triples(graph), args.repeat):.2f} s")
    print(f"render       {best(lambda: turtle.render(graph), args.repeat):.2f} s (pyoxigraph writer)")
    print(f"rdflib       {best(lambda: turtle.to_rdf(graph).serialize(format='turtle'), 1):.2f} s (to_rdf + rdflib writer, for comparison)")
    print(f"validate     {best(lambda: validate_output(args.out), 1):.2f} s")
    query = "SELECT ?p (COUNT(?m) AS ?n) WHERE { ?m kg:entity/schema:name ?p } GROUP BY ?p ORDER BY DESC(?n) LIMIT 10"
    print(f"query        {best(lambda: query_output(args.out, query), args.repeat):.2f} s (load + run + table)")
    if args.push:
        first, second = push_twice(args.out)
        print(f"push         {first:.2f} s first, {second:.2f} s replacing")


if __name__ == "__main__":
    main()
