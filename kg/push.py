"""Send a built graph to a triple store with the SPARQL 1.1 Graph Store HTTP Protocol.

One HTTP PUT of OUT/graph.ttl (text/turtle) to `URL?graph=IRI` (or `URL?default`): the store
replaces that graph's contents, so pushing again after a rebuild never duplicates a triple.
Works with any store that speaks the protocol: Oxigraph server (`/store`), Apache Jena Fuseki
(`/DATASET/data`), GraphDB (`/repositories/REPO/rdf-graphs/service`), Virtuoso
(`/sparql-graph-crud`). Standard library only; basic authentication when a user is given.
"""

from __future__ import annotations

import base64
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import pyoxigraph as ox

from kg.errors import PushError
from kg.query import graph_path

TURTLE = "text/turtle; charset=utf-8"


@dataclass(frozen=True)
class PushResult:
    """What one push did."""

    url: str
    status: int
    bytes: int
    seconds: float


def target_url(url: str, graph: str | None = None) -> str:
    """`url` with the Graph Store Protocol's `graph=IRI` (or `default`) added to its query string."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PushError(f"{url}: not an http(s) URL")
    if graph is not None:
        try:
            ox.NamedNode(graph)
        except ValueError as exc:
            raise PushError(f"--graph {graph!r} is not an absolute IRI ({exc})") from exc
        parameter = "graph=" + quote(graph, safe="")
    else:
        parameter = "default"
    query = f"{parts.query}&{parameter}" if parts.query else parameter
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def push_output(out: Path, url: str, **options: Any) -> PushResult:
    """Replace a graph in the store at `url` with OUT/graph.ttl; options as for push_file."""
    return push_file(graph_path(out), url, **options)


def push_file(
    path: Path,
    url: str,
    *,
    graph: str | None = None,
    user: str | None = None,
    password: str | None = None,
    timeout: float = 300.0,
) -> PushResult:
    """PUT the Turtle file `path` to the Graph Store endpoint `url`; PushError says why it failed."""
    target = target_url(url, graph)
    body = Path(path).read_bytes()
    request = urllib.request.Request(target, data=body, method="PUT", headers={"Content-Type": TURTLE})
    if user is not None:
        token = base64.b64encode(f"{user}:{password or ''}".encode("utf-8")).decode("ascii")
        request.add_header("Authorization", f"Basic {token}")
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        raise _http_error(target, exc) from exc
    except urllib.error.URLError as exc:
        reason = exc.reason.strerror if isinstance(exc.reason, OSError) and exc.reason.strerror else exc.reason
        error = PushError(f"{url}: cannot reach the store ({reason})")
        error.hint = "is the store running, and are the host and port right?"
        raise error from exc
    except (TimeoutError, socket.timeout) as exc:
        raise PushError(f"{url}: the store did not answer within {timeout:g} s") from exc
    except (ConnectionError, OSError) as exc:
        raise PushError(f"{url}: the connection failed ({exc})") from exc
    return PushResult(url=target, status=status, bytes=len(body), seconds=time.perf_counter() - started)


def _http_error(target: str, exc: urllib.error.HTTPError) -> PushError:
    """A one-line PushError for an HTTP error status, with what to check next."""
    try:
        detail = exc.read(2000).decode("utf-8", "replace").strip().splitlines()
    except OSError:
        detail = []
    first = f": {detail[0][:200]}" if detail else ""
    error = PushError(f"{target}: the store answered {exc.code} {exc.reason}{first}")
    if exc.code in (401, 403):
        error.hint = "check --user and the variable named by --password-env"
    elif exc.code in (404, 405):
        error.hint = (
            "check the URL: it must be the store's Graph Store endpoint, e.g. http://HOST:7878/store (Oxigraph), "
            "http://HOST:3030/DATASET/data (Fuseki), http://HOST:7200/repositories/REPO/rdf-graphs/service (GraphDB)"
        )
    elif exc.code >= 500:
        error.hint = "the store failed while loading the graph; see its log"
    return error
