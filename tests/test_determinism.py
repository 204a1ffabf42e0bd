"""Same vault in, same bytes out: Turtle, JSON and GraphML, from another folder and another process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pyoxigraph
import pytest
from conftest import ROOT

from kg.vocab import DEFAULT_BASE

OUTPUTS = ("graph.ttl", "graph.json", "graph.graphml")


def build(vault, out, *, hash_seed: str) -> None:
    """A clean build in a fresh process with its own hash seed, run from a different working directory."""
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "kg", "build", str(vault), "-o", str(out), "-q", "--no-cache"],
        cwd=out.parent, env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.mark.slow
def test_corpus_builds_are_byte_identical_from_another_path(corpus, corpus_out, tmp_path):
    copy = tmp_path / "elsewhere" / "a vault copy 副本"
    shutil.copytree(corpus, copy)
    again = tmp_path / "again"
    build(copy, again, hash_seed="12345")
    for name in OUTPUTS:
        first, second = (corpus_out / name).read_bytes(), (again / name).read_bytes()
        assert first == second, f"{name} differs between two builds of the same vault"
    turtle = (again / "graph.ttl").read_text(encoding="utf-8")
    assert str(copy) not in turtle and str(corpus) not in turtle and DEFAULT_BASE in turtle


def test_seed_builds_are_byte_identical_under_different_hash_seeds(tmp_path):
    outs = []
    for seed in ("0", "4242"):
        out = tmp_path / f"out-{seed}"
        build(ROOT / "seeds", out, hash_seed=seed)
        outs.append(out)
    for name in OUTPUTS:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_turtle_is_sorted_and_has_no_blank_nodes(corpus_out):
    store = pyoxigraph.Store()
    store.bulk_load(path=str(corpus_out / "graph.ttl"), format=pyoxigraph.RdfFormat.TURTLE)
    assert not any(isinstance(term, pyoxigraph.BlankNode) for quad in store for term in (quad.subject, quad.object))
    text = (corpus_out / "graph.ttl").read_text(encoding="utf-8")
    subjects = [line.split(" ", 1)[0][1:-1] for line in text.splitlines() if line.startswith("<")]
    assert subjects == sorted(subjects) and len(subjects) == len(set(subjects)) > 1000
    header = [line for line in text.splitlines() if line.startswith("@prefix")]
    assert header == sorted(header) and len(header) == 6
