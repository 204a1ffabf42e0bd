"""`kg query`: SPARQL on a built graph, printed as an aligned table or as standard result formats."""

from __future__ import annotations

import csv
import io
import json
import unicodedata

import pyoxigraph as ox
import rdflib
from conftest import run_kg

AUTHORS = "SELECT ?author (COUNT(?a) AS ?n) WHERE { ?a a schema:Article ; schema:author/schema:name ?author } GROUP BY ?author ORDER BY DESC(?n) ?author"


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def expected_rows(out) -> list[tuple[str, int]]:
    store = ox.Store()
    store.bulk_load(path=str(out / "graph.ttl"), format=ox.RdfFormat.TURTLE)
    return [(r[0].value, int(r[1].value)) for r in store.query("PREFIX schema: <https://schema.org/> " + AUTHORS)]


def test_table_aligns_chinese_columns(corpus_out):
    proc = run_kg("query", AUTHORS, "-o", str(corpus_out))
    assert proc.returncode == 0, proc.stderr
    rows = expected_rows(corpus_out)
    assert len(rows) >= 2 and any(width(name) != len(name) for name, _ in rows)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["author", "n"]
    body = [line for line in lines if line.strip() and not set(line.strip()) <= set("─━- ")][1:-1]
    assert [(line.rsplit(None, 1)[0].strip(), int(line.split()[-1])) for line in body] == rows
    # The count column starts at the same display column on every row, Chinese names or not.
    starts = {width(line[: line.rstrip().rfind(" ") + 1]) for line in body}
    assert len(starts) == 1, body
    assert lines[-1] == f"{len(rows)} rows"


def test_csv_tsv_and_json_are_the_standard_result_formats(corpus_out):
    rows = expected_rows(corpus_out)
    out = str(corpus_out)
    as_csv = run_kg("query", AUTHORS, "-o", out, "--format", "csv")
    parsed = list(csv.reader(io.StringIO(as_csv.stdout)))
    assert parsed[0] == ["author", "n"] and [(r[0], int(r[1])) for r in parsed[1:] if r] == rows
    as_tsv = run_kg("query", AUTHORS, "-o", out, "--format", "tsv")
    lines = as_tsv.stdout.splitlines()
    assert lines[0] == "?author\t?n" and len([line for line in lines[1:] if line]) == len(rows)
    as_json = json.loads(run_kg("query", AUTHORS, "-o", out, "--format", "json").stdout)
    assert as_json["head"]["vars"] == ["author", "n"]
    first = as_json["results"]["bindings"][0]["author"]
    assert first["value"] == rows[0][0] and first.get("xml:lang") in ("zh", None)


def test_ask_construct_and_query_files(seed_out, tmp_path):
    ask = run_kg("query", "ASK { ?a a schema:Article }", "-o", str(seed_out))
    assert ask.returncode == 0 and ask.stdout == "true\n"
    nope = run_kg("query", "ASK { ?a a schema:Nothing }", "-o", str(seed_out))
    assert nope.stdout == "false\n"
    rq = tmp_path / "names.rq"
    rq.write_text("PREFIX schema: <https://schema.org/>\nCONSTRUCT { ?a schema:name ?n } WHERE { ?a a schema:Article ; schema:name ?n }\n", encoding="utf-8")
    construct = run_kg("query", f"@{rq}", "-o", str(seed_out))
    assert construct.returncode == 0, construct.stderr
    graph = rdflib.Graph().parse(data=construct.stdout, format="turtle")
    assert len(graph) == 1 and str(next(iter(graph.objects()))).startswith("GPT-4o")


def test_a_bad_query_gives_the_parser_message_and_exit_2(seed_out, tmp_path):
    proc = run_kg("query", "SELECT ?x WHERE {\n  ?x a schema:Article\n  BROKEN }", "-o", str(seed_out))
    assert proc.returncode == 2
    assert "not valid SPARQL" in proc.stderr and "error at 3:" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    missing = run_kg("query", "@" + str(tmp_path / "none.rq"), "-o", str(seed_out))
    assert missing.returncode == 2 and "none.rq" in missing.stderr


def test_no_build_exits_2_with_a_hint(tmp_path):
    proc = run_kg("query", "ASK {}", "-o", str(tmp_path / "empty"))
    assert proc.returncode == 2
    assert "graph.ttl" in proc.stderr and "hint: run `kg build" in proc.stderr
