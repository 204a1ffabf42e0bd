"""How long and how much memory `kg build` takes on one very large note and on one very long line.

    python bench/big_notes.py [--note-mb 30] [--line-mb 5] [--work DIR]

Writes, in a scratch folder, a vault holding one note of NOTE_MB megabytes (paragraphs of Chinese
and English sentences, a wiki-link every few paragraphs) and a vault holding one note whose body is
a single line of LINE_MB megabytes, plus the same two notes in GB18030. Each is built by a fresh
`python -m kg build --no-cache -q` process; prints wall seconds and the peak RSS of that process and
its workers (getrusage), per case. The text is generated here, not taken from any vault.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SENTENCES = (
    "这是一篇关于人工智能产品的测试笔记。",
    "今天我们试用了新的语言模型，它可以根据文字生成图片。",
    "OpenAI 发布了 GPT-4o，谷歌发布了 Gemini，Anthropic 发布了 Claude。",
    "The team found the feature useful for posters and illustrations.",
    "写作者应该先说明背景，再给出结论。",
)


def big_text(megabytes: int, *, one_line: bool) -> str:
    paragraph = "".join(SENTENCES)
    separator = " " if one_line else "\n\n"
    unit = paragraph + separator + ("[[人工智能]]" + separator if not one_line else "")
    copies = megabytes * 1024 * 1024 // len(unit.encode()) + 1
    return f"---\ntitle: 大笔记\n发布日期: 2025-03-26\n---\n{unit * copies}\n"


# Runs the build as its child and prints the largest RSS among its waited-for descendants (kg and its workers).
_MEASURE = (
    "import resource, subprocess, sys; rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
    "print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def build(vault: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one `kg build` process tree."""
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, sys.executable, "-m", "kg", "build", str(vault), "-o", str(out), "-q", "--no-cache"],
        capture_output=True, text=True,
    )
    seconds = time.perf_counter() - started
    code, peak_kb = proc.stdout.split()
    if code != "0":
        raise SystemExit(f"kg build {vault} exited {code}:\n{proc.stderr}")
    return seconds, int(peak_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--note-mb", type=int, default=30)
    parser.add_argument("--line-mb", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="kg-big-"))
    work.mkdir(parents=True, exist_ok=True)
    cases = [
        (f"{args.line_mb} MB single line, UTF-8", big_text(args.line_mb, one_line=True), "utf-8"),
        (f"{args.note_mb} MB note, UTF-8", big_text(args.note_mb, one_line=False), "utf-8"),
        (f"{args.line_mb} MB single line, GB18030", big_text(args.line_mb, one_line=True), "gb18030"),
        (f"{args.note_mb} MB note, GB18030", big_text(args.note_mb, one_line=False), "gb18030"),
    ]
    print(f"{'case':34} {'MB on disk':>10} {'seconds':>8} {'peak RSS MB':>12}")
    try:
        for i, (label, text, codec) in enumerate(cases):
            vault = work / f"vault{i}"
            vault.mkdir()
            raw = text.encode(codec)
            (vault / "big.md").write_bytes(raw)
            seconds, peak_mb = build(vault, work / f"out{i}")
            print(f"{label:34} {len(raw) / 2**20:10.1f} {seconds:8.1f} {peak_mb:12.0f}", flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
