"""Benchmark `kg build` on a vault against the floor of any jieba-based builder, measured in the same run.

    python bench/bench.py VAULT [--jobs N] [--edits K] [--work DIR] [--no-verify] [--stages] [--json FILE]
    python bench/bench.py VAULT --cold-only      (one cold build: time and peak memory, for huge vaults)

Prints, for VAULT (copied first into a scratch folder, so the vault itself is never touched):
  floor        read every note, python-frontmatter parse, one jieba.lcut of each body, one process,
               a fresh jieba.Tokenizer initialised first (the least any jieba-based builder does)
  cold         `kg build` into an empty folder (no cache), with --jobs N (default: every core)
  unchanged    a rebuild with nothing changed (everything from the cache)
  one edit     a rebuild after one note is edited (a paragraph naming a product written into its
               prose: a new link, so the page is laid out again), --edits times (default 3, each
               a new paragraph naming another product): the median, and each run (the host's
               speed varies from run to run); then as many edits whose paragraph names nothing
               (no new link: the page keeps its layout)
  one new      a rebuild after one note is added, --edits times (another note each time): the
               median, and each run
  --watch      `kg build --watch` left running: one note added, then --edits edits naming nothing,
               each timed from the file's write to the rebuild's summary line
  peak memory  the largest total PSS of the build's process tree (parent + workers), sampled every
               100 ms: each process's own pages plus its share of pages it shares, so memory a
               forked worker still shares with its parent is counted once, not once per process
and notes/s, characters/s and cold / floor. Every figure is wall time of a fresh `python` process,
imports included, for kg and for the floor alike. kg's modules are compiled to bytecode first, as
`pip install` does (a checkout whose environment sets PYTHONDONTWRITEBYTECODE would otherwise
compile each changed module again in every run). With verification (default) it also builds the
edited vault clean (--no-cache) and checks the incremental outputs are byte-identical.
`--stages` adds a per-stage breakdown (read, dictionary, extract, graph, each format, write).
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
OUTPUTS = ("graph.ttl", "graph.html", "graph.json", "graph.graphml", "report.json")
SUFFIXES = (".md", ".markdown", ".txt")


def floor(vault: Path) -> dict[str, float]:
    """The jieba floor, in this process: returns seconds for init and for the loop, notes and characters."""
    import frontmatter
    import jieba

    started = time.perf_counter()
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    ready = time.perf_counter()
    notes = chars = tokens = 0
    for path in sorted(p for p in vault.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file()):
        post = frontmatter.loads(path.read_text(encoding="utf-8-sig", errors="replace"))
        tokens += len(tokenizer.lcut(post.content))
        notes += 1
        chars += len(post.content)
    return {"init": ready - started, "loop": time.perf_counter() - ready, "notes": notes, "chars": chars, "tokens": tokens}


def stages(vault: Path, out: Path, jobs: int | None) -> dict[str, float]:
    """Seconds per pipeline stage of one build, cold then with a warm cache, in this process."""
    from kg.build import report_json, write_atomically
    from kg.cache import ExtractionCache
    from kg.places import CACHE_FOLDER
    from kg.dictionary import load_dictionary
    from kg.export import formats, write_all
    from kg.graph import build_graph
    from kg.parallel import extract_all
    from kg.read import read_vault

    import resource

    times: dict[str, float] = {}

    def timed(name: str, work):  # noqa: ANN001, ANN202 - a tiny local helper
        started = time.perf_counter()
        value = work()
        times[name] = round(time.perf_counter() - started, 3)
        times[f"{name} peak MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # process peak so far
        return value

    notes, problems = timed("read", lambda: read_vault(vault))
    dictionary = timed("dictionary", lambda: load_dictionary(()))
    shutil.rmtree(out / CACHE_FOLDER, ignore_errors=True)
    cache = ExtractionCache(out / CACHE_FOLDER, dictionary_digest=dictionary.digest)
    timed("extract (cold)", lambda: extract_all(notes, dictionary, jobs=jobs, cache=cache))
    cache = ExtractionCache(out / CACHE_FOLDER, dictionary_digest=dictionary.digest)
    extractions = timed("extract (cached)", lambda: extract_all(notes, dictionary, jobs=jobs, cache=cache))
    graph = timed("graph", lambda: build_graph(notes, extractions, dictionary))
    contents = {}
    for fmt in formats().values():
        contents[fmt.filename] = timed(f"render {fmt.filename}", lambda fmt=fmt: fmt.render(graph))
    contents["report.json"] = report_json(problems)
    timed("write", lambda: write_atomically(out, contents))
    workers = jobs or len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(dir=out.parent) as folder:
        timed(f"all formats, {workers} writers", lambda: write_all(graph, Path(folder), jobs=workers))
    return times


def run(command: list[str]) -> tuple[float, int, str]:
    """(wall seconds, peak total RSS in bytes of the process tree, stdout) of one command; exits if it fails."""
    with tempfile.TemporaryFile("w+") as stdout, tempfile.TemporaryFile("w+") as stderr:
        started = time.perf_counter()
        process = psutil.Popen(command, stdout=stdout, stderr=stderr, text=True)
        peak = 0
        while process.poll() is None:
            try:
                tree = [process, *process.children(recursive=True)]
                peak = max(peak, sum(_memory(p) for p in tree))
            except psutil.Error:  # a worker ended between listing and measuring
                pass
            time.sleep(0.1)
        seconds = time.perf_counter() - started
        stdout.seek(0)
        stderr.seek(0)
        if process.returncode != 0:
            raise SystemExit(f"{' '.join(command)} exited {process.returncode}:\n{stderr.read()[-4000:]}")
        return seconds, peak, stdout.read()


def _memory(process: psutil.Process) -> int:
    """Proportional set size where the platform reports it (Linux), else resident set size."""
    info = process.memory_full_info()
    return getattr(info, "pss", info.rss)


def kg_build(vault: Path, out: Path, *extra: str) -> dict:
    seconds, peak, _ = run([sys.executable, "-m", "kg", "build", str(vault), "-o", str(out), "-q", *extra])
    return {"seconds": seconds, "peak_rss": peak}


def watch_rebuilds(vault: Path, out: Path, jobs_args: list[str], *, edits: int, first_edit: int) -> dict:
    """`kg build --watch` on `vault` (built into `out` before): wall seconds from writing a file
    to the rebuild's summary line, for one note added and for `edits` edits naming nothing (the
    median and each run), and the watching process tree's memory (PSS) after them."""
    import queue
    import signal
    import threading

    process = psutil.Popen([sys.executable, "-m", "kg", "build", str(vault), "-o", str(out), "--watch", *jobs_args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()

    said: list[str] = []

    def read(name: str, stream) -> None:  # noqa: ANN001 - a text stream
        for line in stream:
            said.append(line.rstrip("\n"))
            lines.put((name, time.perf_counter(), line.rstrip("\n")))

    for name, stream in (("out", process.stdout), ("err", process.stderr)):
        threading.Thread(target=read, args=(name, stream), daemon=True).start()

    def next_line(stream: str, containing: str) -> float:
        while True:
            try:
                name, at, line = lines.get(timeout=600)
            except queue.Empty:
                process.kill()
                raise SystemExit(f"kg build --watch: no line with {containing!r} in 600 s") from None
            if name == "err" and line.startswith("kg: error"):
                process.kill()
                raise SystemExit(f"kg build --watch: {line}")
            if name == stream and containing in line:
                return at

    def timed(change) -> float:  # noqa: ANN001 - a function that changes the vault
        time.sleep(2.5)  # as between one-shot builds: the last build's reads are 2 s old (see kg.delta's racy stats)
        started = time.perf_counter()
        change()
        return next_line("out", "notes read") - started

    try:
        next_line("err", "watching")
        new = timed(lambda: add_one(vault, "基准测试监视新增笔记"))
        runs = [timed(lambda number=number: edit_one(vault, number, naming=False)) for number in range(first_edit, first_edit + edits)]
        tree = [process, *process.children(recursive=True)]
        memory = sum(_memory(p) for p in tree)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=120)
        except psutil.TimeoutExpired:
            raise SystemExit(f"kg build --watch did not end on Ctrl-C; it said: {said[-8:]}; its processes: {[(p.pid, p.status(), p.cmdline()[-3:]) for p in [process, *process.children(recursive=True)]]}") from None
        if process.returncode != 0:
            raise SystemExit(f"kg build --watch exited {process.returncode} on Ctrl-C; it said: {said[-8:]}")
    finally:
        if process.poll() is None:
            process.kill()
    return {"one_new": new, "one_edit_prose": sorted(runs)[len(runs) // 2], "runs": runs, "pss": memory}


def same_outputs(left: Path, right: Path) -> bool:
    return all(filecmp.cmp(left / name, right / name, shallow=False) for name in OUTPUTS)


# What the edits name: a different product each time, so each edit is likely to add a mention (a
# new link: the page is laid out again), as a paragraph written into an article often does.
EDIT_NAMES = ("Claude 3.5 Sonnet", "Gemini 2.5 Pro", "Midjourney V6", "可灵", "Kimi", "Suno", "Runway", "Perplexity", "Cursor")


def edit_one(vault: Path, number: int = 1, *, naming: bool = True) -> Path:
    """Write paragraph `number` into the prose of the middle note (sorted by path), right after its
    frontmatter; returns the note. The paragraph names a product (`naming`, see EDIT_NAMES), or
    nothing: then the edit moves the note's mentions in its text (their evidence changes) but adds
    no link, and the page keeps its layout. (Text appended at the end of a note lands in its
    closing link list, which extraction skips: such an edit changes nothing but the file.)"""
    notes = sorted(p for p in vault.rglob("*") if p.suffix.lower() in SUFFIXES)
    note = notes[len(notes) // 2]
    text = note.read_text(encoding="utf-8")
    end = text.find("\n---\n", 4) + 5 if text.startswith("---\n") else 0
    name = EDIT_NAMES[(number - 1) % len(EDIT_NAMES)]
    paragraph = f"补充{number}：这一段对比了 {name} 与 ChatGPT 的表现。" if naming else f"补充{number}：这一段补充了作者当时的想法，没有提到新的产品。"
    note.write_text(text[:end] + f"\n{paragraph}\n" + text[end:], encoding="utf-8")
    return note


def add_one(vault: Path, name: str = "基准测试新增笔记") -> Path:
    note = vault / f"{name}.md"
    note.write_text(f"---\n标题: {name}\n发布日期: 2025-01-01\n作者: 测试\n---\n\n新增一篇提到 Claude 的笔记。[[AI]]\n", encoding="utf-8")
    return note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("vault", type=Path)
    parser.add_argument("--jobs", type=int, default=None, help="kg build --jobs (default: every core)")
    parser.add_argument("--edits", type=int, default=3, help="how many one-note edits to time (the median is reported)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one, removed after)")
    parser.add_argument("--no-verify", action="store_true", help="skip the clean build that checks incremental outputs")
    parser.add_argument("--stages", action="store_true", help="also time each pipeline stage")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    parser.add_argument("--cold-only", action="store_true", help="only one cold build, in place (no copy, no floor): time and peak memory")
    parser.add_argument("--floor-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--stages-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_only:
        print(json.dumps(floor(args.vault)))
        return
    if args.stages_only:
        print(json.dumps(stages(args.vault, args.stages_only, args.jobs)))
        return
    compile_kg()
    scratch = Path(tempfile.mkdtemp(prefix="kg-bench-", dir=args.work))
    if args.cold_only:
        try:
            cold = kg_build(args.vault, scratch / "out", *(["--jobs", str(args.jobs)] if args.jobs else []))
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        print(f"vault {args.vault}: cold build {cold['seconds']:.2f} s, peak {cold['peak_rss'] / 1024 / 1024:.0f} MiB (PSS of the process tree)")
        if args.json:
            args.json.write_text(json.dumps({"vault": str(args.vault), "cold": cold}, indent=1) + "\n", encoding="utf-8")
        return
    try:
        figures = measure(args.vault, scratch, jobs=args.jobs, verify=not args.no_verify, with_stages=args.stages, edits=max(1, args.edits))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    show(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def compile_kg() -> None:
    """Bytecode for kg's modules, as an installed kg has (see the module's docstring)."""
    import compileall

    import kg

    compileall.compile_dir(Path(kg.__file__).parent, quiet=1)


def measure(source: Path, scratch: Path, *, jobs: int | None, verify: bool, with_stages: bool, edits: int = 3) -> dict:
    vault, out = scratch / "vault", scratch / "out"
    shutil.copytree(source, vault, ignore=shutil.ignore_patterns(".*"))
    jobs_args = ["--jobs", str(jobs)] if jobs else []
    figures: dict = {"vault": str(source), "cores": len(os.sched_getaffinity(0)), "jobs": jobs or len(os.sched_getaffinity(0))}
    floor_wall, floor_peak, report = run([sys.executable, __file__, "--floor-only", str(vault)])
    figures["floor"] = {"seconds": floor_wall, "peak_rss": floor_peak, **json.loads(report)}
    figures["cold"] = kg_build(vault, out, *jobs_args)
    figures["unchanged"] = kg_build(vault, out, *jobs_args)
    for key, naming, first in (("one_edit", True, 1), ("one_edit_prose", False, edits + 1)):
        runs = []
        for number in range(first, first + edits):
            edited = edit_one(vault, number, naming=naming)
            runs.append(kg_build(vault, out, *jobs_args))
        middle = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
        figures[key] = {**middle, "note": edited.relative_to(vault).as_posix(), "runs": [r["seconds"] for r in runs]}
    runs = []
    for number in range(1, edits + 1):
        add_one(vault, f"基准测试新增笔记{number}")
        runs.append(kg_build(vault, out, *jobs_args))
    figures["one_new"] = {**sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2], "runs": [r["seconds"] for r in runs]}
    figures["watch"] = watch_rebuilds(vault, out, jobs_args, edits=edits, first_edit=2 * edits + 1)
    if verify:
        clean = scratch / "clean"
        kg_build(vault, clean, "--no-cache", *jobs_args)
        figures["incremental_identical_to_clean"] = same_outputs(out, clean)
    if with_stages:
        stage_out = scratch / "stages"
        proc = subprocess.run([sys.executable, __file__, str(vault), "--stages-only", str(stage_out), *jobs_args], capture_output=True, text=True, check=True)
        figures["stages"] = json.loads(proc.stdout)
    notes, chars = figures["floor"]["notes"], figures["floor"]["chars"]
    cold = figures["cold"]["seconds"]
    figures["notes_per_s"] = notes / cold
    figures["chars_per_s"] = chars / cold
    figures["cold_over_floor"] = cold / figures["floor"]["seconds"]
    figures["edit_over_cold"] = figures["one_edit"]["seconds"] / cold
    figures["prose_edit_over_cold"] = figures["one_edit_prose"]["seconds"] / cold
    figures["new_over_cold"] = figures["one_new"]["seconds"] / cold
    figures["watch_new_over_cold"] = figures["watch"]["one_new"] / cold
    figures["watch_edit_over_cold"] = figures["watch"]["one_edit_prose"] / cold
    return figures


def show(f: dict) -> None:
    mib = 1024 * 1024
    print(f"vault {f['vault']}: {f['floor']['notes']} notes, {f['floor']['chars']:,} characters; {f['cores']} cores, --jobs {f['jobs']}")
    print(f"  floor (jieba)     {f['floor']['seconds']:7.2f} s  (init {f['floor']['init']:.2f} s, read+parse+lcut {f['floor']['loop']:.2f} s)  peak {f['floor']['peak_rss'] / mib:6.0f} MiB")
    for key, label in (("cold", "cold build"), ("unchanged", "rebuild, no change"), ("one_edit", "rebuild, one edit"), ("one_edit_prose", "  (naming nothing)"), ("one_new", "rebuild, one new")):
        runs = f[key].get("runs", [])
        each = f"  (median of {', '.join(f'{s:.2f}' for s in runs)})" if len(runs) > 1 else ""
        print(f"  {label:<17} {f[key]['seconds']:7.2f} s  peak {f[key]['peak_rss'] / mib:6.0f} MiB (PSS){each}")
    w = f["watch"]
    print(f"  with --watch        one new {w['one_new']:.2f} s, one edit naming nothing {w['one_edit_prose']:.2f} s (median of {', '.join(f'{s:.2f}' for s in w['runs'])}), from the write to the rebuild's summary; the watching processes hold {w['pss'] / mib:.0f} MiB (PSS)")
    print(f"  cold: {f['notes_per_s']:.0f} notes/s, {f['chars_per_s']:,.0f} characters/s; cold / floor = {f['cold_over_floor']:.2f}")
    print(f"  of cold: one edit {f['edit_over_cold']:.3f} (naming nothing {f['prose_edit_over_cold']:.3f}), one new note {f['new_over_cold']:.3f}; with --watch: one new note {f['watch_new_over_cold']:.3f}, one edit {f['watch_edit_over_cold']:.3f}")
    if "incremental_identical_to_clean" in f:
        print(f"  incremental outputs identical to a clean build: {'yes' if f['incremental_identical_to_clean'] else 'NO'}")
    stages = f.get("stages", {})
    for name, seconds in stages.items():
        if not name.endswith("MiB"):
            print(f"    stage {name:<22} {seconds:7.3f} s   (process peak after it: {stages[name + ' peak MiB']} MiB)")


if __name__ == "__main__":
    main()
