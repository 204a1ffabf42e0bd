"""The real CLI in a subprocess: outputs, the summary line, exit codes."""

from __future__ import annotations

import json

import networkx as nx
from conftest import SEEDS, run_kg


def test_build_writes_every_output(tmp_path):
    out = tmp_path / "out"
    proc = run_kg("build", str(SEEDS), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    outputs = sorted(p.name for p in out.iterdir() if p.name != ".kg-cache")  # the extraction cache is not an output
    assert outputs == ["graph.graphml", "graph.html", "graph.json", "graph.ttl", "report.json"]
    assert "1 notes read: 1 articles, 0 topics" in proc.stdout
    assert "warnings" in proc.stdout and " s -> " in proc.stdout
    data = json.loads((out / "graph.json").read_text(encoding="utf-8"))
    graph = nx.node_link_graph(data, edges="edges")
    assert "article:000_cfc63594b14dff59.txt" in graph
    read_back = nx.read_graphml(out / "graph.graphml")
    assert read_back.number_of_nodes() == graph.number_of_nodes()


def test_defaults_read_seeds_and_write_output(tmp_path):
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "n.md").write_text("---\ntitle: T\n---\nbody", encoding="utf-8")
    proc = run_kg("build", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "output" / "graph.ttl").is_file()


def test_missing_vault_exits_3_with_one_line(tmp_path):
    proc = run_kg("build", str(tmp_path / "nope"), "-o", str(tmp_path / "o"))
    assert proc.returncode == 3
    assert "no such folder" in proc.stderr and "Traceback" not in proc.stderr


def test_file_as_vault_exits_3(tmp_path):
    file = tmp_path / "a.md"
    file.write_text("x", encoding="utf-8")
    proc = run_kg("build", str(file), "-o", str(tmp_path / "o"))
    assert proc.returncode == 3
    assert "is a file" in proc.stderr


def test_empty_vault_exits_3(tmp_path):
    (tmp_path / "v").mkdir()
    proc = run_kg("build", str(tmp_path / "v"), "-o", str(tmp_path / "o"))
    assert proc.returncode == 3
    assert "no notes" in proc.stderr


def test_strict_exits_1_when_a_note_had_a_problem(tmp_path):
    vault = tmp_path / "v"
    vault.mkdir()
    (vault / "bad.md").write_text("---\ntitle: [unclosed\n---\nbody", encoding="utf-8")
    (vault / "ok.md").write_text("---\ntitle: ok\n---\nbody", encoding="utf-8")
    relaxed = run_kg("build", str(vault), "-o", str(tmp_path / "o1"))
    strict = run_kg("build", str(vault), "-o", str(tmp_path / "o2"), "--strict")
    assert relaxed.returncode == 0 and strict.returncode == 1
    assert "bad.md: frontmatter is not valid YAML" in strict.stderr


def test_version():
    proc = run_kg("--version")
    assert proc.returncode == 0 and "kg" in proc.stdout
