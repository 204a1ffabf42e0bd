"""Parallel extraction: worker processes give exactly the outputs of one process, whatever their number."""

from __future__ import annotations

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
