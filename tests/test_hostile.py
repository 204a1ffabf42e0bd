"""The hostile vault: every note that can be read is read, every other file is reported, outputs stay valid.

Built once through the real CLI; the library reading is checked note by note against what
tests/hostile.py says each case must become.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import networkx as nx
import pyoxigraph
import pytest
import rdflib
from conftest import need_tool, run_kg
from hostile import kg_name, make_hostile_vault

from kg.model import NOTE_SUFFIXES, SKIPPED_FOLDERS
from kg.read import read_vault

OUTPUTS = ("graph.graphml", "graph.html", "graph.json", "graph.ttl", "report.json")


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return make_hostile_vault(tmp_path_factory.mktemp("hostile") / "vault")


@pytest.fixture(scope="module")
def read(hostile: dict) -> tuple[dict, list]:
    notes, problems = read_vault(hostile["root"])
    return {n.path: n for n in notes}, problems


@pytest.fixture(scope="module")
def built(hostile: dict, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("hostile-out") / "out"
    proc = run_kg("build", str(hostile["root"]), "-o", str(out))
    return out, proc


def lines_for(problems: list, path: str) -> list[str]:
    return [p.line() for p in problems if p.path == kg_name(path)]


def test_every_readable_note_reads_as_described(hostile, read):
    notes, problems = read
    for rel, expected in sorted(hostile["notes"].items()):
        assert rel in notes, f"{rel} was not read: {lines_for(problems, rel)}"
        note = notes[rel]
        for field, value in expected.items():
            if field == "problem":
                continue
            assert getattr(note, field) == value, f"{rel}: {field}"


def test_each_case_is_reported_with_what_kg_did(hostile, read):
    _, problems = read
    for rel, expected in sorted(hostile["notes"].items()):
        if expected["problem"]:
            assert any(expected["problem"] in line for line in lines_for(problems, rel)), (rel, lines_for(problems, rel))
    for rel, reason in sorted(hostile["skipped"].items()):
        lines = lines_for(problems, rel)
        assert any(reason in line and line.endswith("; skipped") for line in lines), (rel, lines)
    for rel, reason in sorted(hostile["symlinks"].items()):
        assert any(reason in line for line in lines_for(problems, rel)), rel


def test_clean_notes_report_nothing(hostile, read):
    _, problems = read
    quiet = [rel for rel, e in hostile["notes"].items() if e["problem"] is None and not rel.startswith("encoding/")]
    assert quiet
    for rel in quiet:
        assert lines_for(problems, rel) == [], rel


def test_nothing_is_lost_or_read_from_outside(hostile, read):
    """Every file named like a note outside hidden/tool folders is a note or has a problem line."""
    notes, problems = read
    reported = {p.path for p in problems}
    root = hostile["root"]
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS]
        for name in files:
            rel = (Path(folder) / name).relative_to(root).as_posix()
            if name.startswith(".") or not name.lower().endswith(NOTE_SUFFIXES):
                continue
            assert kg_name(rel) in notes or kg_name(rel) in reported, rel
    assert set(notes) == set(hostile["notes"])
    for rel in hostile["not_walked"]:
        assert rel not in notes and rel not in reported
    assert not any("库外" in n.title or "库外" in n.body for n in notes.values())


def test_duplicate_titles_stay_distinct_articles(read):
    notes, _ = read
    same = sorted(path for path, note in notes.items() if note.title == "同名文章")
    assert same == ["dup-a/同名.md", "dup-b/同名.md"]


def test_alias_bomb_costs_nothing(read):
    notes, _ = read
    note = notes["meta/alias-bomb.md"]
    assert note.tags == ("哈",)


def test_cli_build_succeeds_and_reports_each_problem_once(built, read):
    out, proc = built
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    printed = [line for line in proc.stderr.splitlines() if not line.startswith("kg: ")]
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))["problems"]
    assert printed == [row["line"] for row in report]
    assert [r["line"] for r in report] == [f"{r['path']}: {r['what']}; {r['action']}" for r in report]
    _, problems = read
    assert sorted(printed) == sorted(p.line() for p in problems)
    warnings = sum(1 for row in report if row["level"] != "info")
    summary = re.search(r"(\d+) notes read: .* (\d+) warnings", proc.stdout)
    assert summary is not None, proc.stdout
    assert int(summary.group(2)) == warnings > 0
    assert int(summary.group(1)) == len(read[0])


def test_strict_exits_1_with_the_outputs_written(hostile, tmp_path):
    out = tmp_path / "out"
    proc = run_kg("build", str(hostile["root"]), "-o", str(out), "--strict", "-q")
    assert proc.returncode == 1, proc.stderr
    assert all((out / name).is_file() for name in OUTPUTS)
    assert "Traceback" not in proc.stderr


def test_turtle_parses_everywhere_and_keeps_every_title(built, hostile):
    out, proc = built
    assert proc.returncode == 0, proc.stderr
    ttl = out / "graph.ttl"
    rapper = need_tool("rapper")
    check = subprocess.run([rapper, "-q", "-i", "turtle", "-c", str(ttl)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    rdflib.Graph().parse(ttl, format="turtle")
    store = pyoxigraph.Store()
    store.load(path=str(ttl), format=pyoxigraph.RdfFormat.TURTLE)
    rows = store.query(
        "PREFIX schema: <https://schema.org/> PREFIX kg: <https://w3id.org/kg-vault/vocab#> "
        "SELECT ?file ?name WHERE { ?x kg:file ?file ; schema:name ?name }"
    )
    names = {row["file"].value: row["name"].value for row in rows}
    for rel, expected in hostile["notes"].items():
        assert names.get(rel) == expected["title"], rel


def test_json_graphml_and_html_are_valid_and_safe(built, hostile):
    out, proc = built
    assert proc.returncode == 0, proc.stderr
    data = json.loads((out / "graph.json").read_text(encoding="utf-8"))
    nx.node_link_graph(data, edges="edges")
    nx.read_graphml(out / "graph.graphml")
    page = (out / "graph.html").read_text(encoding="utf-8")
    for string in hostile["strings"]:
        if re.search(r"[<>\"'&]", string):
            assert string not in page, string
    assert "<script>alert" not in page


def test_same_hostile_vault_gives_identical_outputs(built, hostile, tmp_path):
    out, _ = built
    again = tmp_path / "again"
    run_kg("build", str(hostile["root"]), "-o", str(again), "-q", "--no-cache", check=False)
    for name in OUTPUTS:
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


@pytest.mark.parametrize("case", ["missing", "file", "empty", "hidden-only", "unreadable-only"])
def test_nothing_to_build_is_one_clear_message_and_exit_3(case, tmp_path):
    vault = tmp_path / "vault"
    if case == "file":
        vault.write_text("---\ntitle: 一个文件\n---\n", encoding="utf-8")
    elif case != "missing":
        vault.mkdir()
    if case == "hidden-only":
        (vault / ".obsidian").mkdir()
        (vault / ".obsidian" / "a.md").write_text("x", encoding="utf-8")
        (vault / "image.png").write_bytes(b"\x89PNG")
    if case == "unreadable-only":
        (vault / "a.md").write_bytes(b"\0\1\2" * 100)
        (vault / "b.md").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    out = tmp_path / "out"
    proc = run_kg("build", str(vault), "-o", str(out))
    assert proc.returncode == 3, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("kg: error: ")]
    assert len(errors) == 1 and str(vault) in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())
    if case == "unreadable-only":
        assert "a.md: contains NUL bytes (a binary file); skipped" in proc.stderr
        assert "b.md: contains NUL bytes (a binary file); skipped" in proc.stderr

