"""Shared fixtures: the project's own seed vault, the sample corpus beside the project, built outputs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

# Ctrl-C as at a terminal. A shell starts a background job (`cmd &`) with SIGINT ignored, an
# ignored signal stays ignored across exec, and Python then installs no KeyboardInterrupt handler:
# the builds the interrupt tests start would shrug Ctrl-C off. With a handler here, they start
# with SIGINT at its default, as a user's `kg build` does.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_FILE = SEEDS / "000_cfc63594b14dff59.txt"
CORPUS = Path(os.environ.get("KG_CORPUS", ROOT.parent / "shared" / "corpus"))


def need_corpus() -> Path:
    """The sample vault; skipped where it is absent (a user's clone), a failure under CI."""
    if CORPUS.is_dir():
        return CORPUS
    _missing(f"the sample corpus is not beside this clone ({CORPUS})", f"the sample corpus is missing at {CORPUS} and CI is set")


def need_tool(name: str) -> str:
    """A system tool the test needs; under CI its absence is a failure, not a skip."""
    path = shutil.which(name)
    if path:
        return path
    _missing(f"{name} is not installed; run scripts/test.sh to install it", f"{name} is not installed and CI is set (scripts/test.sh installs it)")


def _missing(outside_ci: str, under_ci: str) -> None:
    """What a test does when something it needs is missing: fails under CI (where everything must
    be there), skips elsewhere (a user's clone without the corpus or a system tool)."""
    (pytest.fail(under_ci) if os.environ.get("CI") else pytest.skip(outside_ci))


def run_kg(*args: str, cwd: Path | None = None, check: bool = False) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess."""
    proc = subprocess.run([sys.executable, "-m", "kg", *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    if check and proc.returncode != 0:
        raise AssertionError(f"kg {' '.join(args)} exited {proc.returncode}:\n{proc.stderr}")
    return proc


def corpus_subset(dest: Path, *, articles: int) -> Path:
    """A small real vault in `dest`: the first `articles` articles of the sample corpus and all its topic notes."""
    vault = need_corpus()
    blog = sorted(p for p in (vault / "01-博客").rglob("*.md"))[:articles]
    for path in [*blog, *sorted((vault / "00-元语").rglob("*.md"))]:
        target = dest / path.relative_to(vault)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return dest


OUTPUT_FILES = ("graph.ttl", "graph.html", "graph.json", "graph.graphml", "report.json")


def read_outputs(out: Path) -> dict[str, bytes]:
    """Every output file of a build, as bytes, to compare builds exactly."""
    return {name: (out / name).read_bytes() for name in OUTPUT_FILES}


@pytest.fixture(scope="session")
def corpus() -> Path:
    return need_corpus()


@pytest.fixture(scope="session")
def seed_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed vault built once by the real CLI."""
    out = tmp_path_factory.mktemp("seed-out")
    run_kg("build", str(SEEDS), "-o", str(out), "-q", check=True)
    return out


@pytest.fixture(scope="session")
def corpus_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample corpus built once by the real CLI."""
    vault = need_corpus()
    out = tmp_path_factory.mktemp("corpus-out")
    run_kg("build", str(vault), "-o", str(out), "-q", check=True)
    return out
