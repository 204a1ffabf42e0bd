"""Score extraction against hand-annotated gold files: precision, recall and F1 per entity kind.

Gold file (YAML): `path` (vault-relative), `title`, and lists `products`, `organizations`, `people`.
A predicted entity matches a gold name when any of its spellings (name and aliases) shares a
`name_key` with it; scores are micro-averaged over articles. Run:

    python -m kg.evaluate tests/gold --vault ../shared/corpus --vault seeds [-v]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from kg.dictionary import Dictionary, load_dictionary
from kg.extract import build_matcher, extract
from kg.graph import article_id, build_graph
from kg.model import ENTITY_KINDS, ORGANIZATION, PERSON, PRODUCT
from kg.normalize import name_key
from kg.read import read_note

GOLD_FIELDS = {PRODUCT: "products", ORGANIZATION: "organizations", PERSON: "people"}


@dataclass
class Score:
    """Counts for one kind; precision and recall come from separate matched counts."""

    predicted: int = 0
    gold: int = 0
    matched_predicted: int = 0
    matched_gold: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.matched_predicted / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.matched_gold / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_gold(folder: Path) -> list[dict]:
    return [yaml.safe_load(path.read_text(encoding="utf-8")) for path in sorted(Path(folder).glob("*.yaml"))]


def evaluate(gold: list[dict], vaults: list[Path], *, dictionary: Dictionary | None = None) -> dict[str, Score]:
    """Extract the gold notes (found in the first vault that has each path) and score them.

    `dictionary` defaults to the shipped one; bench/holdout.py passes a thinned one.
    """
    dictionary = dictionary or load_dictionary()
    matcher = build_matcher(dictionary)
    notes = []
    for item in gold:
        vault = next((v for v in vaults if (v / item["path"]).is_file()), None)
        if vault is None:
            raise FileNotFoundError(f"gold note {item['path']} is in none of {', '.join(map(str, vaults))}")
        note, _ = read_note(vault, vault / item["path"])
        notes.append(note)
    graph = build_graph(notes, {n.path: extract(n, matcher) for n in notes}, dictionary)
    scores = {kind: Score() for kind in ENTITY_KINDS}
    for item in gold:
        node = article_id(item["path"])
        for kind, score in scores.items():
            predicted = []
            for _, target, key in graph.out_edges(node, keys=True):
                data = graph.nodes[target]
                if key == "mentions" and data["kind"] == kind:
                    predicted.append((data["label"], {name_key(data["label"])} | {name_key(a) for a in data.get("aliases", [])}))
            names = [str(n) for n in item.get(GOLD_FIELDS[kind]) or []]
            gold_keys = {name_key(n) for n in names}
            score.predicted += len(predicted)
            score.gold += len(names)
            for label, keys in predicted:
                if keys & gold_keys:
                    score.matched_predicted += 1
                else:
                    score.errors.append(f"{item['path']}: extra {kind} {label}")
            for name in names:
                if any(name_key(name) in keys for _, keys in predicted):
                    score.matched_gold += 1
                else:
                    score.errors.append(f"{item['path']}: missed {kind} {name}")
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kg.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("gold", type=Path, help="folder of gold YAML files")
    parser.add_argument("--vault", type=Path, action="append", required=True, help="vault holding the gold notes (repeatable)")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every extra and missed entity")
    args = parser.parse_args(argv)
    gold = load_gold(args.gold)
    scores = evaluate(gold, args.vault)
    print(f"{len(gold)} articles")
    print(f"{'kind':<14}{'precision':>10}{'recall':>10}{'F1':>8}{'predicted':>11}{'gold':>7}")
    for kind, s in scores.items():
        print(f"{kind:<14}{s.precision:>10.3f}{s.recall:>10.3f}{s.f1:>8.3f}{s.predicted:>11}{s.gold:>7}")
    if args.verbose:
        for kind, s in scores.items():
            for line in sorted(s.errors):
                print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
