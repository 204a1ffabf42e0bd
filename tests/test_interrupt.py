"""Interrupting a real `python -m kg build` (Ctrl-C or kill) leaves the previous outputs whole and valid.

A small vault is built first; then a bigger one is built into the same folder and interrupted: while
it extracts, and the moment its temporary folder appears (while it writes). Afterwards every output
must be byte-identical to the previous build's (or, if the signal came after the new files were all
in place, to a complete build of the new vault) and graph.ttl must parse.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyoxigraph
import pytest
from conftest import run_kg
from hostile import SENTENCES

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="POSIX signals")]

OUTPUTS = ("graph.graphml", "graph.html", "graph.json", "graph.ttl", "report.json")


def make_vault(root: Path, notes: int, *, seed: int) -> Path:
    rng = random.Random(seed)
    root.mkdir(parents=True)
    for i in range(notes):
        paragraphs = "\n\n".join(rng.choice(SENTENCES) * rng.randint(1, 4) for _ in range(40))
        (root / f"{i:04d}.md").write_text(
            f"---\ntitle: 笔记{i}\n作者: 作者{i % 17}\n发布日期: 2024-01-{i % 28 + 1:02d}\n---\n{paragraphs}\n[[主题{i % 23}]]\n",
            encoding="utf-8",
        )
    return root


def snapshot(out: Path) -> dict[str, bytes]:
    return {name: (out / name).read_bytes() for name in OUTPUTS}


def staging_folders(out: Path) -> list[Path]:
    return [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.") and p.name.endswith(".tmp")]


@pytest.fixture(scope="module")
def vaults(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("interrupt")
    small = make_vault(base / "small", 40, seed=1)
    big = make_vault(base / "big", 800, seed=2)
    reference = base / "reference"
    run_kg("build", str(big), "-o", str(reference), "-q", "--no-cache", check=True)
    return {"base": base, "small": small, "big": big, "new": snapshot(reference)}


@pytest.fixture
def previous(vaults: dict, tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "out"
    run_kg("build", str(vaults["small"]), "-o", str(out), "-q", check=True)
    return out, snapshot(out)


def start_build(vault: Path, out: Path) -> subprocess.Popen:
    """The real CLI in its own process group, as a terminal runs it (Ctrl-C reaches the whole group)."""
    return subprocess.Popen(
        [sys.executable, "-m", "kg", "build", str(vault), "-o", str(out), "--no-cache"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def wait_for_staging(proc: subprocess.Popen, out: Path, *, timeout: float = 120) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if staging_folders(out):
            return True
        time.sleep(0.002)
    return False


def assert_whole(out: Path, old: dict[str, bytes], new: dict[str, bytes]) -> str:
    """Every output is the old build's, or (signal after the swap) every one is the new build's."""
    now = snapshot(out)
    which = "old" if now == old else "new" if now == new else "mixed"
    assert which != "mixed", {name: (now[name] == old[name], now[name] == new[name]) for name in OUTPUTS}
    store = pyoxigraph.Store()
    store.load(path=str(out / "graph.ttl"), format=pyoxigraph.RdfFormat.TURTLE)
    assert len(store) > 0
    return which


def test_ctrl_c_while_extracting(vaults, previous):
    out, old = previous
    proc = start_build(vaults["big"], out)
    time.sleep(2.0)
    assert proc.poll() is None, "the build finished before it could be interrupted; make the vault bigger"
    os.killpg(proc.pid, signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == [
        f"kg: interrupted; {out} holds whole outputs of the last finished build, nothing half-written"
    ]
    assert assert_whole(out, old, vaults["new"]) == "old"
    assert staging_folders(out) == []


def signal_while_writing(vault: Path, out: Path, signum: int) -> tuple[int, str]:
    """Start a build, send `signum` once its temporary output folder exists; its exit code and stderr."""
    proc = start_build(vault, out)
    assert wait_for_staging(proc, out), "never saw the temporary output folder"
    os.killpg(proc.pid, signum)
    _, stderr = proc.communicate(timeout=120)
    return proc.returncode, stderr


def test_ctrl_c_while_writing(vaults, previous):
    out, old = previous
    returncode, stderr = signal_while_writing(vaults["big"], out, signal.SIGINT)
    assert returncode in (0, 130), stderr
    assert "Traceback" not in stderr, stderr
    assert_whole(out, old, vaults["new"])
    assert staging_folders(out) == []


def test_kill_while_writing_then_next_build_cleans_up(vaults, previous):
    out, old = previous
    returncode, _ = signal_while_writing(vaults["big"], out, signal.SIGKILL)
    assert returncode == -signal.SIGKILL
    assert assert_whole(out, old, vaults["new"]) == "old"
    assert staging_folders(out), "SIGKILL cannot be caught: the temporary folder stays until the next build"
    run_kg("build", str(vaults["small"]), "-o", str(out), "-q", check=True)
    assert staging_folders(out) == []
    assert snapshot(out) == old


def test_replaced_outputs_are_freed_in_the_background_once_the_new_ones_are_in_place(vaults, previous, monkeypatch):
    """Past REMOVE_IN_BACKGROUND_BYTES the files a build replaces keep a name in its temporary
    folder, which a process of its own removes after the build has returned; below it (or where
    no hard link can be made) the build removes the folder itself."""
    import kg.build

    out, old = previous
    started = []
    real_run = subprocess.run
    monkeypatch.setattr(kg.build.subprocess, "run", lambda *a, **k: started.append(a[0]) or real_run(*a, **k))
    kg.build.build_vault(vaults["big"], out, jobs=1, cache=False)
    assert started == [], "small outputs: removed here"
    assert staging_folders(out) == []

    monkeypatch.setattr(kg.build, "REMOVE_IN_BACKGROUND_BYTES", 0)
    kg.build.build_vault(vaults["small"], out, jobs=1, cache=False)
    assert len(started) == 1 and started[0][0] == "/bin/sh"
    assert snapshot(out) == old  # in place before the build returned
    deadline = time.monotonic() + 30
    while staging_folders(out) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert staging_folders(out) == []

    def no_link(*_a, **_k):
        raise OSError("no hard links here")

    monkeypatch.setattr(kg.build.os, "link", no_link)
    kg.build.build_vault(vaults["big"], out, jobs=1, cache=False)
    assert len(started) == 1 and staging_folders(out) == []
    assert snapshot(out) == vaults["new"]
