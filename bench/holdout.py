"""How well extraction finds names the dictionary does not know: score the gold set with half of it removed.

    python bench/holdout.py [--seed N ...] [--keep 0.5] [-v]

Each seed drops a different random half of the dictionary's entries (all their spellings), then scores
`tests/gold` as `python -m kg.evaluate` does. The figures stand in for newer articles whose products,
organizations and people no dictionary lists yet; what is found then is found by discovery alone.
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import kg.evaluate as evaluate  # noqa: E402
from kg.dictionary import Dictionary, load_dictionary  # noqa: E402
from kg.normalize import name_key  # noqa: E402


def thinned(seed: int, keep: float) -> Dictionary:
    full = load_dictionary()
    rng = random.Random(seed)
    entries = tuple(e for e in full.entries if rng.random() < keep)
    by_key = {}
    for entry in entries:
        for spelling in (entry.name, *entry.aliases):
            by_key.setdefault((entry.kind, name_key(spelling)), entry)
    return Dictionary(entries=entries, noise=full.noise, digest=f"{full.digest}-{seed}", by_key=by_key)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, action="append", help="random draw (repeatable; default 1 and 2)")
    parser.add_argument("--keep", type=float, default=0.5, help="share of dictionary entries kept (default 0.5)")
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every extra and missed entity")
    args = parser.parse_args()
    gold = evaluate.load_gold(ROOT / "tests" / "gold")
    for seed in args.seed or [1, 2]:
        scores = evaluate.evaluate(gold, [args.corpus, ROOT / "seeds"], dictionary=thinned(seed, args.keep))
        print(f"seed {seed}, {args.keep:.0%} of the dictionary kept, {len(gold)} articles")
        for kind, score in scores.items():
            print(f"  {kind:<14}P {score.precision:.3f}  R {score.recall:.3f}  F1 {score.f1:.3f}")
        if args.verbose:
            for score in scores.values():
                print("\n".join(f"  {line}" for line in sorted(score.errors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
