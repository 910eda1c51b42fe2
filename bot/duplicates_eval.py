"""How good the "có thể trùng" suggestion is, on the labelled reports of data/duplicates/: every pair
of reports of a scene is a labelled pair (the same incident: a duplicate). Places are read from
the text with the NLU's own entity extractor, as the NLU reads them from a citizen's message.

    .venv/bin/python -m bot.duplicates_eval          # or: make duplicates-report
prints precision and recall per file and every pair it gets wrong."""
from __future__ import annotations

import argparse
import itertools
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot import duplicates
from bot.config import REPO_ROOT
from nlu.entities import EntityExtractor, load_places

DATA = REPO_ROOT / "data" / "duplicates"


@dataclass(frozen=True)
class Pair:
    scene: str
    a: dict
    b: dict
    same: bool


def load(path: Path) -> list[Pair]:
    pairs = []
    for scene in yaml.safe_load(path.read_text(encoding="utf-8")):
        for a, b in itertools.combinations(scene["reports"], 2):
            pairs.append(Pair(scene["scene"], a, b, a["incident"] == b["incident"]))
    return pairs


def report(item: dict, extractor: EntityExtractor) -> duplicates.Report:
    entities = extractor.extract(item["text"])
    first = lambda kind: next((e["value"] for e in entities if e["entity"] == kind), None)  # noqa: E731
    location = tuple(item["location"]) if item.get("location") else None
    return duplicates.Report(item["text"], float(item["hours"]) * 3600, first("commune"), first("district"), location)


@dataclass(frozen=True)
class Figures:
    pairs: int
    duplicates: int
    true_positives: int
    false_positives: int
    false_negatives: int
    wrong: tuple

    @property
    def precision(self) -> float:
        suggested = self.true_positives + self.false_positives
        return self.true_positives / suggested if suggested else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.duplicates if self.duplicates else 1.0


def evaluate(pairs: list[Pair], extractor: EntityExtractor) -> Figures:
    tp = fp = fn = 0
    wrong = []
    for pair in pairs:
        suggested = duplicates.alike(report(pair.a, extractor), report(pair.b, extractor)) is not None
        tp += suggested and pair.same
        fp += suggested and not pair.same
        fn += pair.same and not suggested
        if suggested != pair.same:
            wrong.append(pair)
    return Figures(len(pairs), sum(p.same for p in pairs), tp, fp, fn, tuple(wrong))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.duplicates_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", type=Path, help="scene files (default: data/duplicates/*.yml)")
    args = parser.parse_args(argv)
    extractor = EntityExtractor(load_places())
    files = args.files or sorted(DATA.glob("*.yml"))
    every = []
    for path in files:
        pairs = load(path)
        every += pairs
        f = evaluate(pairs, extractor)
        print(f"{path.name}: {f.pairs} pairs ({f.duplicates} duplicates): precision {f.precision:.3f} "
              f"({f.true_positives}/{f.true_positives + f.false_positives}), recall {f.recall:.3f} "
              f"({f.true_positives}/{f.duplicates})")
        for pair in f.wrong:
            print(f"  {'missed' if pair.same else 'wrongly suggested'} [{pair.scene}] {pair.a['id']}–{pair.b['id']}: "
                  f"«{pair.a['text']}» / «{pair.b['text']}»")
    if len(files) > 1:
        f = evaluate(every, extractor)
        print(f"all: {f.pairs} pairs ({f.duplicates} duplicates): precision {f.precision:.3f}, recall {f.recall:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
