"""Where a build keeps what it leaves beside its outputs. Imports nothing of kg, so that the CLI can
ask before it imports the rest (see kg.layout.stand_by)."""

from __future__ import annotations

from pathlib import Path

CACHE_FOLDER = ".kg-cache"  # in OUT, unless --cache-dir says elsewhere
STATE_FILE = "state.sqlite"  # in the cache folder: what the last build knew (kg.state)


def cache_folder(out: Path, cache_dir: Path | None) -> Path:
    return Path(cache_dir or Path(out) / CACHE_FOLDER)
