"""`kg push` against a real `oxigraph serve` on 127.0.0.1: pushing twice replaces, errors are one clear line."""

from __future__ import annotations

import base64
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import need_tool, run_kg


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def oxigraph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Oxigraph server on a free local port; its base URL. Always terminated."""
    binary = need_tool("oxigraph")
    port = free_port()
    location = tmp_path_factory.mktemp("oxigraph")
    log = open(location.parent / f"oxigraph-{port}.log", "wb")
    proc = subprocess.Popen([binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"oxigraph serve did not start: {(location.parent / f'oxigraph-{port}.log').read_text()}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def count(server: str, graph: str | None = None) -> int:
    """Triples in the default graph (or in `graph`), asked through the server's SPARQL endpoint."""
    pattern = f"GRAPH <{graph}> {{ ?s ?p ?o }}" if graph else "?s ?p ?o"
    request = urllib.request.Request(
        f"{server}/query",
        data=f"SELECT (COUNT(*) AS ?n) WHERE {{ {pattern} }}".encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return int(json.load(response)["results"]["bindings"][0]["n"]["value"])


def local_count(out: Path) -> int:
    import pyoxigraph as ox

    store = ox.Store()
    store.bulk_load(path=str(out / "graph.ttl"), format=ox.RdfFormat.TURTLE)
    return len(store)


def test_push_twice_replaces_the_default_graph(oxigraph, corpus_out):
    expected = local_count(corpus_out)
    assert expected > 1000
    first = run_kg("push", f"{oxigraph}/store", "-o", str(corpus_out))
    assert first.returncode == 0, first.stderr
    assert "pushed" in first.stdout and "default graph" in first.stdout
    assert count(oxigraph) == expected
    again = run_kg("push", f"{oxigraph}/store", "-o", str(corpus_out))
    assert again.returncode == 0, again.stderr
    assert count(oxigraph) == expected


def test_push_to_a_named_graph_replaces_only_that_graph(oxigraph, corpus_out, seed_out):
    graph = "https://example.org/graphs/kg 1"  # a space: must be sent percent-encoded
    graph_iri = "https://example.org/graphs/kg-1"
    bad = run_kg("push", f"{oxigraph}/store", "-o", str(seed_out), "--graph", graph)
    assert bad.returncode == 5 and "not an absolute IRI" in bad.stderr
    before_default = count(oxigraph)
    for out in (corpus_out, seed_out, seed_out):
        proc = run_kg("push", f"{oxigraph}/store", "-o", str(out), "--graph", graph_iri)
        assert proc.returncode == 0, proc.stderr
    assert count(oxigraph, graph_iri) == local_count(seed_out)
    assert count(oxigraph) == before_default


def test_refused_connection_exits_5_with_one_line(seed_out):
    proc = run_kg("push", f"http://127.0.0.1:{free_port()}/store", "-o", str(seed_out))
    assert proc.returncode == 5
    error = [line for line in proc.stderr.splitlines() if line.startswith("kg: error:")]
    assert len(error) == 1 and "cannot reach the store" in error[0] and "refused" in error[0].lower()
    assert "Traceback" not in proc.stderr


def test_wrong_path_exits_5_with_the_status(oxigraph, seed_out):
    proc = run_kg("push", f"{oxigraph}/no-such-endpoint", "-o", str(seed_out))
    assert proc.returncode == 5
    assert "404" in proc.stderr and "hint: check the URL" in proc.stderr


class _Store(http.server.BaseHTTPRequestHandler):
    """A store that wants basic auth and fails on /broken: enough to see the client's side of both."""

    seen: list[dict] = []

    def do_PUT(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        _Store.seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "type": self.headers.get("Content-Type")})
        if self.path.startswith("/broken"):
            self.send_response(500)
        elif self.headers.get("Authorization") != "Basic " + base64.b64encode("alice:s3cret 密码".encode()).decode():
            self.send_response(401)
        else:
            self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def auth_store() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Store)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_basic_auth_from_an_environment_variable_and_5xx(auth_store, seed_out):
    env_name = "KG_TEST_PASSWORD"
    os.environ[env_name] = "s3cret 密码"
    try:
        denied = run_kg("push", f"{auth_store}/store", "-o", str(seed_out))
        assert denied.returncode == 5 and "401" in denied.stderr and "--password-env" in denied.stderr
        ok = run_kg("push", f"{auth_store}/store", "-o", str(seed_out), "--user", "alice", "--password-env", env_name, "--graph", "https://example.org/g")
        assert ok.returncode == 0, ok.stderr
        failed = run_kg("push", f"{auth_store}/broken", "-o", str(seed_out))
        assert failed.returncode == 5 and "500" in failed.stderr
        unset = run_kg("push", f"{auth_store}/store", "-o", str(seed_out), "--user", "alice", "--password-env", "KG_TEST_NO_SUCH_VAR")
        assert unset.returncode == 2 and "KG_TEST_NO_SUCH_VAR" in unset.stderr
    finally:
        del os.environ[env_name]
    accepted = [s for s in _Store.seen if s["auth"] and s["path"].startswith("/store?graph=")]
    assert accepted and accepted[-1]["path"] == "/store?graph=" + urllib.parse.quote("https://example.org/g", safe="")
    assert all(s["type"].startswith("text/turtle") for s in _Store.seen)


def test_no_build_exits_2_with_a_hint(tmp_path):
    proc = run_kg("push", "http://127.0.0.1:1/store", "-o", str(tmp_path))
    assert proc.returncode == 2 and "kg build" in proc.stderr
