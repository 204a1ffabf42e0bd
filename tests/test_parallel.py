"""Parallel extraction: worker processes give exactly the outputs of one process, whatever their number."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import corpus_subset, read_outputs, run_kg

from kg.dictionary import load_dictionary
from kg.extract import build_matcher, extract
from kg.parallel import MIN_NOTES_FOR_POOL, _extract_in_pool, chunks, default_jobs, extract_all
from kg.read import read_vault


@pytest.fixture(scope="module")
def vault(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return corpus_subset(tmp_path_factory.mktemp("parallel") / "vault", articles=60)


def test_pool_extractions_equal_one_process(vault):
    notes, _ = read_vault(vault)
    assert len(notes) >= MIN_NOTES_FOR_POOL, "too few notes to use the pool"
    dictionary = load_dictionary()
    matcher = build_matcher(dictionary)
    serial = {note.path: extract(note, matcher) for note in notes}
    assert sum(len(e.mentions) for e in serial.values()) > 0, "no mentions: the comparison would prove nothing"
    done: list[int] = []
    pooled = _extract_in_pool(notes, dictionary, jobs=3, progress=done.append)
    assert pooled == serial
    assert sum(done) == len(notes) and len(done) > 1  # several chunks came back
    merged = extract_all(notes, dictionary, jobs=2)
    assert merged == serial and list(merged) == sorted(serial)


def test_spawned_workers_extract_what_forked_ones_do(vault, monkeypatch):
    """Where kg may not fork (other threads running), workers are spawned and build their own matcher."""
    import kg.parallel

    notes, _ = read_vault(vault)
    dictionary = load_dictionary()
    monkeypatch.setattr(kg.parallel, "can_fork", lambda: False)
    spawned = _extract_in_pool(notes, dictionary, jobs=2, progress=lambda _n: None)
    matcher = build_matcher(dictionary)
    assert spawned == {note.path: extract(note, matcher) for note in notes}


FEW_NOTES_MEANWHILE = """
import os, sys
from pathlib import Path
from kg.dictionary import load_dictionary
from kg.extract import build_matcher, extract
from kg.parallel import extract_all
from kg.processes import can_fork
from kg.read import read_vault

notes, _ = read_vault(Path(sys.argv[1]))
notes = notes[:3]
dictionary = load_dictionary()
assert can_fork(), "the forked path would not be taken"
calls = []
def meanwhile():
    calls.append(os.getpid())
    assert len(calls) == 1
done = extract_all(notes, dictionary, jobs=2, meanwhile=meanwhile)
matcher = build_matcher(dictionary)
assert done == {note.path: extract(note, matcher) for note in notes}
assert sum(len(e.mentions) for e in done.values()) > 0
assert calls == [os.getpid()]  # called once, in this process, while the worker extracted
alone = []
assert extract_all(notes, dictionary, jobs=1, meanwhile=lambda: alone.append(1)) == done and alone == [1]
print("ok")
"""


def test_a_few_notes_go_to_one_forked_worker_while_the_caller_does_its_own_work(vault):
    """After a one-note edit, the note's extraction (mostly loading jieba) overlaps the caller's
    `meanwhile` (importing the writers); either way the same extractions, and `meanwhile` runs once."""
    proc = subprocess.run([sys.executable, "-c", FEW_NOTES_MEANWHILE, str(vault)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_cli_outputs_are_identical_for_any_number_of_jobs(vault, tmp_path):
    builds = {}
    for jobs in ("1", "3"):
        out = tmp_path / f"jobs-{jobs}"
        run_kg("build", str(vault), "-o", str(out), "-q", "--no-cache", "--jobs", jobs, check=True)
        builds[jobs] = read_outputs(out)
    assert builds["1"] == builds["3"]


def test_bad_jobs_is_a_usage_error(vault, tmp_path):
    proc = run_kg("build", str(vault), "-o", str(tmp_path / "out"), "--jobs", "0")
    assert proc.returncode == 2
    assert "--jobs" in proc.stderr


def test_chunks_cover_every_note_once_in_order(vault):
    notes, _ = read_vault(vault)
    for size in (1, 7, len(notes), len(notes) + 5):
        parts = list(chunks(notes, size))
        assert [n for part in parts for n in part] == notes
        assert all(1 <= len(part) <= size for part in parts)
    assert default_jobs() >= 1


# ---- rendering the formats in forked workers --------------------------------------------------


WRITE_WITH_WORKERS = """
import json, sys
from pathlib import Path
import kg.export
from kg.build import build_vault

vault, work = Path(sys.argv[1]), Path(sys.argv[2])
graph = build_vault(vault, work / "out", jobs=1, cache=False).graph
assert kg.export.can_fork(), "the worker path would not be taken"
kg.export.MIN_EDGES_FOR_WORKERS = 0
for jobs in (1, 2, 4):
    folder = work / f"jobs-{jobs}"
    folder.mkdir()
    kg.export.write_all(graph, folder, jobs=jobs)
(work / "texts").mkdir()
for name, text in kg.export.render_all(graph).items():
    (work / "texts" / name).write_text(text, encoding="utf-8", newline="\\n")
"""


def test_outputs_written_by_workers_equal_one_process(vault, tmp_path):
    # In a fresh process: pytest's own may run threads (servers, clusters), and kg never forks then.
    subprocess.run([sys.executable, "-c", WRITE_WITH_WORKERS, str(vault), str(tmp_path)], check=True, timeout=600)
    texts = read_outputs_of(tmp_path / "texts")
    assert sorted(texts) == ["graph.graphml", "graph.html", "graph.json", "graph.ttl"]
    for jobs in (1, 2, 4):
        assert read_outputs_of(tmp_path / f"jobs-{jobs}") == texts, jobs
    assert len(texts["graph.ttl"]) > 10_000


LAYOUT_BESIDE = """
import json, os, sys
from pathlib import Path
import kg.export
import kg.export.html
from kg.build import build_vault

vault, work = Path(sys.argv[1]), Path(sys.argv[2])
graph = build_vault(vault, work / "out", jobs=1, cache=False).graph
kg.export.COPY_GRAPH_UP_TO_EDGES = 0
written = []
import kg.layout
layout, write = kg.layout.force_layout, kg.export._write

def no_layout(*args, **kwargs):
    raise AssertionError("the build process laid out the page")

def writing(fmt, *args, **kwargs):
    written.append(fmt.filename)
    return write(fmt, *args, **kwargs)

kg.layout.force_layout, kg.export._write = no_layout, writing
(work / "beside").mkdir()
kg.export.write_all(graph, work / "beside", jobs=2)
print(json.dumps(written))
(work / "fifty").mkdir()
kg.export.write_all(graph, work / "fifty", jobs=2, max_nodes=50)
kg.layout.force_layout = layout
(work / "texts").mkdir()
for name, text in kg.export.render_all(graph).items():
    (work / "texts" / name).write_text(text, encoding="utf-8", newline="\\n")
(work / "texts" / "fifty.html").write_text(kg.export.html.render(graph, max_nodes=50), encoding="utf-8", newline="\\n")
"""


def test_past_the_copy_limit_the_build_process_writes_while_a_worker_lays_out_the_page(vault, tmp_path):
    """On a graph too big to copy, the build process writes every file, and a spawned worker (a
    fresh process: it shares no page with this one) computes the page's layout from its arrays:
    the same bytes."""
    run = subprocess.run([sys.executable, "-c", LAYOUT_BESIDE, str(vault), str(tmp_path)], check=True, timeout=600, capture_output=True, text=True)
    written = json.loads(run.stdout.strip().splitlines()[-1])
    assert sorted(written) == ["graph.graphml", "graph.html", "graph.json", "graph.ttl"]
    assert written[-1] == "graph.html"  # last: it waits for the layout
    assert written[0] == "graph.ttl"  # beside the worker: the longest to write, so the build process never waits
    texts = read_outputs_of(tmp_path / "texts")
    fifty = texts.pop("fifty.html")
    assert read_outputs_of(tmp_path / "beside") == texts
    assert len(texts["graph.html"]) > 10_000
    assert (tmp_path / "fifty" / "graph.html").read_bytes() == fifty != texts["graph.html"]  # --max-nodes too


def test_each_format_goes_to_whichever_writer_is_free_first():
    """Writers take the next format whenever they are free: a slow writer holds only what it
    took, the other takes all the rest, each format is written once, and a writer's error is raised."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from kg.export import Turns, share_out

    names = ["ttl", "html", "graphml", "json", "extra"]

    def worker_task(turns: Turns, write):  # noqa: ANN202 - what a forked writer runs (kg.export._write_turns)
        def task() -> None:
            while (name := turns.take()) is not None:
                write(name)
        return task

    def until(condition) -> None:
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.005)

    for slow in ("worker", "here"):
        turns = Turns(names)
        both = threading.Barrier(2, timeout=10)  # each side has taken its first format
        by_worker: list[str] = []
        here: list[str] = []

        def write_in_worker(name: str, by_worker=by_worker, here=here, both=both, slow=slow) -> None:
            if not by_worker:
                both.wait()
            by_worker.append(name)
            if slow == "worker":  # busy until the other side has written all the rest
                until(lambda: len(here) == len(names) - 1)

        def write_here(name: str, by_worker=by_worker, here=here, both=both, slow=slow) -> None:
            if not here:
                both.wait()
            here.append(name)
            if slow == "here":
                until(lambda: len(by_worker) == len(names) - 1)

        with ThreadPoolExecutor(1) as pool:
            share_out(turns, [pool.submit(worker_task(turns, write_in_worker))], write_here)
        assert sorted(by_worker + here) == sorted(names), "each format is written exactly once"
        slow_side, fast_side = (by_worker, here) if slow == "worker" else (here, by_worker)
        assert len(slow_side) == 1 and len(fast_side) == len(names) - 1
        assert turns.take() is None

    def broken(name: str) -> None:
        raise OSError(f"disk full writing {name}")

    turns = Turns(names)
    with ThreadPoolExecutor(1) as pool, pytest.raises(OSError, match="disk full writing"):
        share_out(turns, [pool.submit(worker_task(turns, broken))], lambda name: time.sleep(0.05))


def read_outputs_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


RENDER_FOREVER = """
import sys, networkx as nx, kg.export
graph = nx.MultiDiGraph()
for i in range(3000):
    graph.add_node(f"product:p{i}", kind="product", label=f"p{i}", aliases=[])
for i in range(3000):
    for j in range(1, 9):
        graph.add_edge(f"product:p{i}", f"product:p{(i + j) % 3000}", key="co_mention", weight=j)
kg.export.formats = lambda real=kg.export.formats: {**real(), "slow": kg.export.Format("slow", lambda g, **_: __import__("time").sleep(600) or "")}
folder = __import__("pathlib").Path(sys.argv[1])
print("rendering", flush=True)
kg.export.write_all(graph, folder, jobs=3)  # this process and two forked writers
"""


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="POSIX signals")
def test_ctrl_c_while_rendering_ends_the_workers_at_once(tmp_path):
    import psutil

    proc = subprocess.Popen([sys.executable, "-c", RENDER_FOREVER, str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    assert proc.stdout.readline().strip() == "rendering"
    deadline = time.monotonic() + 60
    while len(psutil.Process(proc.pid).children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = psutil.Process(proc.pid).children()
    assert len(workers) >= 2, "the formats were not rendered in worker processes"
    time.sleep(1.0)  # the writers are rendering; one of them (a worker or the build process) sleeps in "slow"
    started = time.monotonic()
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - started < 20, "Ctrl-C waited for the formats being rendered"
    assert "KeyboardInterrupt" in stderr
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert alive == [], f"worker processes outlived the build: {alive}"
    assert not (tmp_path / "slow").exists() or (tmp_path / "slow").stat().st_size == 0


def test_writers_are_not_forked_without_memory_for_them(vault, tmp_path, monkeypatch):
    """Each forked writer may come to copy the whole graph: with free memory for less than one
    more copy, the formats are written one after the other in the build process."""
    import psutil

    import kg.export
    import kg.processes
    from kg.build import build_vault

    graph = build_vault(vault, tmp_path / "built", jobs=1, cache=False).graph
    own = psutil.Process().memory_info().rss
    real = psutil.virtual_memory()
    monkeypatch.setattr(kg.processes.psutil, "virtual_memory", lambda: real._replace(available=own))
    assert kg.processes.affordable_workers(4) == 0
    assert kg.processes.affordable_workers(1) == 0
    monkeypatch.setattr(kg.processes.psutil, "virtual_memory", lambda: real._replace(available=3 * own))
    assert kg.processes.affordable_workers(4) == 2
    assert kg.processes.affordable_workers(1) == 1
    assert kg.processes.affordable_workers(0) == 0

    monkeypatch.setattr(kg.processes.psutil, "virtual_memory", lambda: real._replace(available=own))
    monkeypatch.setattr(kg.export, "MIN_EDGES_FOR_WORKERS", 0)
    monkeypatch.setattr(kg.export, "can_fork", lambda: True)

    def no_pool(*args, **kwargs):
        raise AssertionError("a worker pool was started")

    monkeypatch.setattr(kg.export, "worker_pool", no_pool)
    folder = tmp_path / "written"
    folder.mkdir()
    kg.export.write_all(graph, folder, jobs=2)
    texts = kg.export.render_all(graph)
    assert {name: (folder / name).read_text(encoding="utf-8") for name in texts} == texts


GIVE_BACK = """
import kg.processes

def rss_mib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS")) // 1024

kept, dropped = [], []
for i in range(3000):  # 180 MB in pieces under glibc's mmap threshold, so they live in its heap
    dropped.append(bytes(60_000))
    kept.append(str(i) * 20)  # small survivors between them
del dropped
before = rss_mib()
kg.processes.give_back_memory()
print(before, rss_mib())
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's (Linux)")
def test_freed_memory_is_given_back_to_the_system():
    before, after = map(int, subprocess.run([sys.executable, "-c", GIVE_BACK], capture_output=True, text=True, check=True, timeout=120).stdout.split())
    assert before - after > 50, (before, after)
