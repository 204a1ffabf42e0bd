"""`kg build --watch`: the real CLI in a subprocess, watching a real vault with watchfiles, rebuilt
after real file changes, stopped with a real SIGINT."""

from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import corpus_subset, read_outputs

from kg.build import build_vault
from kg.watch import note_filter

NEW_NOTE = "---\n标题: 看着写的笔记\n发布日期: 2025-03-01\n作者: 测试作者\n---\n\n这篇笔记对比了 Claude 与 Sora 的表现。\n\n[[00-元语/AI]]\n"


class Watching:
    """`kg build VAULT -o OUT --watch` running, its output lines read as they come."""

    def __init__(self, vault: Path, out: Path, *extra: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "kg", "build", str(vault), "-o", str(out), "--watch", "--jobs", "2", *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[tuple[str, str]] = queue.Queue()
        self.seen: list[tuple[str, str]] = []
        self.pending: list[tuple[str, str]] = []  # seen, not taken by next_line yet
        for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr)):
            threading.Thread(target=self._read, args=(name, stream), daemon=True).start()

    def _read(self, name: str, stream) -> None:  # noqa: ANN001 - a text stream
        for line in stream:
            self.lines.put((name, line.rstrip("\n")))

    def next_line(self, stream: str, containing: str, *, timeout: float = 120) -> str:
        """The first line not taken yet on `stream` ("out" or "err") that contains `containing`
        (stdout and stderr are read apart: their lines may come in either order)."""
        end = time.monotonic() + timeout
        while True:
            for i, (name, line) in enumerate(self.pending):
                if name == stream and containing in line:
                    del self.pending[i]
                    return line
            try:
                came = self.lines.get(timeout=max(0.01, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line with {containing!r} on std{stream} within {timeout} s; seen: {self.seen}") from None
            self.seen.append(came)
            self.pending.append(came)

    def quiet_for(self, seconds: float) -> list[tuple[str, str]]:
        """The lines that come within `seconds`."""
        came = list(self.pending)
        self.pending.clear()
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            try:
                came.append(self.lines.get(timeout=left))
            except queue.Empty:
                break
        return came

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=60)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture()
def vault(tmp_path: Path) -> Path:
    return corpus_subset(tmp_path / "vault", articles=6)


def test_watch_rebuilds_only_what_changed_and_stops_cleanly(vault, tmp_path):
    out = tmp_path / "out"
    watching = Watching(vault, out)
    try:
        watching.next_line("out", "notes read")
        watching.next_line("err", "watching")
        (vault / "看着写的笔记.md").write_text(NEW_NOTE, encoding="utf-8")
        line = watching.next_line("out", "notes read")
        assert "(1 note has changed: only what that changes was made again)" in line, watching.seen
        assert read_outputs(out) == read_outputs(_clean(vault, tmp_path / "clean1"))

        # An editor's own files (a hidden folder), and a file that is no note: no build.
        (vault / ".obsidian").mkdir()
        (vault / ".obsidian" / "workspace.json").write_text("{}", encoding="utf-8")
        (vault / "封面.png").write_bytes(b"\x89PNG\r\n")
        assert [line for line in watching.quiet_for(1.5) if "notes read" in line[1]] == []

        # An edit, then a deletion: each built again, the outputs a clean build's.
        edited = sorted((vault / "01-博客").rglob("*.md"))[2]
        text = edited.read_text(encoding="utf-8")
        end = text.find("\n---\n", 4) + 5
        edited.write_text(text[:end] + "\n补充：这一段对比了 Gemini 2.5 Pro 与 ChatGPT 的表现。\n" + text[end:], encoding="utf-8")
        watching.next_line("out", "notes read")
        assert read_outputs(out) == read_outputs(_clean(vault, tmp_path / "clean2"))
        (vault / "看着写的笔记.md").unlink()
        watching.next_line("out", "notes read")
        assert read_outputs(out) == read_outputs(_clean(vault, tmp_path / "clean3"))

        assert watching.stop() == 0
        watching.next_line("err", "stopped watching")
    finally:
        watching.kill()


def test_a_failed_rebuild_is_reported_and_the_watching_goes_on(tmp_path):
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "a.md").write_text(NEW_NOTE, encoding="utf-8")
    out = tmp_path / "out"
    watching = Watching(vault, out)
    try:
        watching.next_line("out", "notes read")
        watching.next_line("err", "watching")
        (vault / "a.md").unlink()  # no notes left: that build fails, the last outputs stay
        watching.next_line("err", "kg: error:")
        assert (out / "graph.ttl").exists()
        (vault / "b.md").write_text(NEW_NOTE, encoding="utf-8")
        watching.next_line("out", "1 notes read")
        assert read_outputs(out) == read_outputs(_clean(vault, tmp_path / "clean"))
        assert watching.stop() == 0
    finally:
        watching.kill()


def test_the_filter_keeps_notes_and_what_may_have_held_them(tmp_path):
    vault, out = tmp_path / "vault", tmp_path / "vault" / "output"
    (vault / "sub").mkdir(parents=True)
    (vault / "picture.png").write_bytes(b"")
    wanted = note_filter(vault, [out])
    assert wanted(None, str(vault / "sub" / "note.md"))
    assert wanted(None, str(vault / "Note.MARKDOWN"))
    assert wanted(None, str(vault / "gone-folder"))  # deleted: it may have held notes
    assert wanted(None, str(tmp_path / "extra.yaml"))  # a --dictionary outside the vault
    assert not wanted(None, str(vault / "picture.png"))
    assert not wanted(None, str(vault / ".obsidian" / "workspace.md"))
    assert not wanted(None, str(vault / "node_modules" / "x.md"))
    assert not wanted(None, str(out / "graph.json"))
    assert not wanted(None, str(out / ".kg-cache" / "x.md"))


def _clean(vault: Path, out: Path) -> Path:
    build_vault(vault, out, jobs=1, cache=False)
    return out
