"""`kg build --scheduler`: extraction on a real Dask cluster gives exactly the outputs of a local build."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import corpus_subset, read_outputs, run_kg

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():
    """Two single-threaded worker processes on this machine, as a real scheduler address."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as local:
        yield local


@pytest.fixture(scope="module", autouse=True)
def no_thread_left_behind():
    """distributed keeps a thread of its own (its offload executor) for the rest of the process once
    a client has run here: the tests after these would then never fork (kg.processes.can_fork sees
    a thread), and the forked paths they are about would silently go untested. Shut it down when
    this module is done."""
    yield
    offload = getattr(distributed.utils, "_offload_executor", None)
    if offload is not None:
        offload.shutdown(wait=True)


@pytest.mark.slow
def test_cluster_build_is_byte_identical_to_a_local_build(cluster, tmp_path):
    vault = corpus_subset(tmp_path / "vault", articles=30)
    local, remote = tmp_path / "local", tmp_path / "remote"
    run_kg("build", str(vault), "-o", str(local), "-q", "--no-cache", "--jobs", "1", check=True)
    run_kg("build", str(vault), "-o", str(remote), "-q", "--no-cache", "--scheduler", cluster.scheduler_address, check=True)
    assert read_outputs(remote) == read_outputs(local)
    # Both workers took part: each built its own matcher and kept it.
    with distributed.Client(cluster.scheduler_address) as client:
        built = client.run(lambda: sorted(__import__("kg.cluster", fromlist=["_MATCHERS"])._MATCHERS))
    assert len(built) == 2 and all(len(digests) == 1 for digests in built.values())


def test_cluster_build_uses_and_fills_the_cache(cluster, tmp_path):
    vault = corpus_subset(tmp_path / "vault", articles=5)
    out = tmp_path / "out"
    from kg.build import build_vault

    first = build_vault(vault, out, scheduler=cluster.scheduler_address)
    assert first.cache.misses == len(first.notes)
    again = build_vault(vault, out, scheduler=cluster.scheduler_address)
    assert again.cache.misses == 0


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    vault = corpus_subset(tmp_path / "vault", articles=1)
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}
    proc = subprocess.run(
        [sys.executable, "-m", "kg", "build", str(vault), "-o", str(tmp_path / "out"), "--scheduler", "tcp://127.0.0.1:9"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 3
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in proc.stderr
    assert "hint:" in proc.stderr
    assert not (tmp_path / "out" / "graph.ttl").exists()
