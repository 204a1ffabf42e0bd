"""Extraction on a Dask distributed cluster, for vaults too big for one machine.

The client (the machine running `kg build --scheduler ADDRESS`) reads the vault, sends the
dictionary to every worker once, maps `extract_chunk` over batches of notes, and merges the
results by path exactly as a local build does. Every worker needs the same kg installed
(`pip install "kg[dask]"`); a worker running different kg code is refused before any work is sent,
because it could produce a different graph.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kg.cache import code_fingerprint
from kg.dictionary import Dictionary
from kg.errors import ExtractionError
from kg.extract import Matcher, build_matcher
from kg.model import Extraction, Note

# On each worker: one matcher per dictionary digest, built on the first batch and reused after.
_MATCHERS: dict[str, Matcher] = {}


def extract_on_cluster(
    notes: Sequence[Note],
    dictionary: Dictionary,
    *,
    address: str,
    chunk: int,
    progress: Callable[[int], None],
    keep: Callable[[list[tuple[str, Extraction]]], None] | None = None,
) -> dict[str, Extraction]:
    """path -> Extraction for `notes`, computed by the workers of the scheduler at `address`
    (with `keep`, each chunk's go there as they come instead)."""
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        error = ExtractionError("--scheduler needs dask.distributed, which is not installed")
        error.hint = 'install it with: pip install "kg[dask]"'
        raise error from exc
    from kg.parallel import chunks

    try:
        # How long to wait for the scheduler is Dask's own setting, distributed.comm.timeouts.connect.
        client = Client(address, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        error = ExtractionError(f"cannot reach the Dask scheduler at {address} ({exc})")
        error.hint = "start one with `dask scheduler` and `dask worker ADDRESS`, or build without --scheduler"
        raise error from exc
    out: dict[str, Extraction] = {}
    with client:
        _check_workers(client, address)
        shared = client.scatter(dictionary, broadcast=True, hash=False)
        batches = list(chunks(notes, chunk))
        futures = client.map(_cluster_chunk, batches, dictionary=shared, pure=False)
        try:
            for future in as_completed(futures, loop=client.loop):
                results = future.result()
                if keep is not None:
                    keep(results)
                else:
                    out.update(results)
                progress(len(results))
        except Exception as exc:  # noqa: BLE001 - a remote failure arrives as whatever the worker raised
            raise ExtractionError(f"the Dask cluster at {address} failed to extract ({type(exc).__name__}: {exc})") from exc
    return out


def _check_workers(client: object, address: str) -> None:
    """Refuse a cluster with no workers, or with workers running other kg code."""
    fingerprints = client.run(code_fingerprint)  # type: ignore[attr-defined]
    if not fingerprints:
        error = ExtractionError(f"the Dask scheduler at {address} has no workers")
        error.hint = f"start some with `dask worker {address}`"
        raise error
    mine = code_fingerprint()
    others = sorted(worker for worker, theirs in fingerprints.items() if theirs != mine)
    if others:
        error = ExtractionError(f"Dask worker(s) {', '.join(others)} run a different kg than this machine")
        error.hint = "install the same kg version on the workers as here"
        raise error


def _cluster_chunk(notes: list[Note], *, dictionary: Dictionary) -> list[tuple[str, Extraction]]:
    """Runs on a worker: extract one batch with this worker's matcher for `dictionary`."""
    from kg.parallel import extract_chunk

    matcher = _MATCHERS.get(dictionary.digest)
    if matcher is None:
        matcher = _MATCHERS[dictionary.digest] = build_matcher(dictionary)
    return extract_chunk(notes, matcher)
