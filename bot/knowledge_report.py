"""`make kb-report`: how well the knowledge-base search answers data/knowledge_eval.yml with the
seed entries (data/knowledge_seed.yml) taken as published.

Top-1 precision: of the questions that have an entry and that the bot answers, the share answered
with a right entry. Coverage: the share of those questions it answers. Silence: the share of the
questions without an entry that it does not answer. The threshold in bot/knowledge.py is the
lowest confidence where precision and silence are both at least TARGET on the whole set; the
two-fold check chooses it the same way on one half and measures it on the other, so the figure is
not only the one the threshold was tuned on."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.config import REPO_ROOT
from bot.knowledge import THRESHOLD, Entry, Index
from nlu.text import strip_diacritics

SEED = REPO_ROOT / "data" / "knowledge_seed.yml"
EVALUATION = REPO_ROOT / "data" / "knowledge_eval.yml"
TARGET = 0.95
SWEEP = [round(0.10 + 0.02 * i, 2) for i in range(16)]


def seed_entries(path: Path = SEED) -> list[Entry]:
    return [Entry(id=e["id"], questions=tuple(e["questions"]), answer=e["answer"],
                  source_document=e["source"]["document"], source_issuer=e["source"]["issuer"],
                  source_url=e["source"].get("url") or "", scope=tuple(e.get("scope") or ()),
                  valid_from=None, valid_until=None, updated_ts=0.0)
            for e in yaml.safe_load(path.read_text(encoding="utf-8"))]


@dataclass(frozen=True)
class Result:
    question: str
    expected: tuple[str, ...]     # empty: no entry answers it
    found: str | None
    confidence: float


def evaluate(index: Index, path: Path = EVALUATION) -> list[Result]:
    results = []
    for item in yaml.safe_load(path.read_text(encoding="utf-8")):
        expected = item["entry"] if isinstance(item["entry"], list) else [item["entry"]] if item["entry"] else []
        [top, *_] = index.search(item["q"], item.get("district"), None, limit=1) or [None]
        results.append(Result(item["q"], tuple(expected), top.entry.id if top else None,
                              top.confidence if top else 0.0))
    return results


def figures(results: list[Result], threshold: float) -> dict:
    with_entry = [r for r in results if r.expected]
    without = [r for r in results if not r.expected]
    answered = [r for r in with_entry if r.confidence >= threshold]
    right = [r for r in answered if r.found in r.expected]
    wrongly = [r for r in without if r.confidence >= threshold]
    return {"precision": len(right) / len(answered) if answered else 1.0,
            "coverage": len(answered) / len(with_entry) if with_entry else 0.0,
            "silence": 1 - len(wrongly) / len(without) if without else 1.0,
            "overall_precision": len(right) / (len(answered) + len(wrongly)) if answered or wrongly else 1.0}


def choose_threshold(results: list[Result]) -> float:
    """The lowest threshold where both precision and silence reach TARGET."""
    candidates = sorted({round(r.confidence + 0.005, 2) for r in results} | set(SWEEP))
    return next((t for t in candidates if figures(results, t)["precision"] >= TARGET
                 and figures(results, t)["silence"] >= TARGET), 1.0)


def report(results: list[Result]) -> str:
    with_entry = sum(1 for r in results if r.expected)
    plain = sum(1 for r in results if strip_diacritics(r.question) == r.question)
    at = figures(results, THRESHOLD)
    lines = [f"Knowledge base: {len(seed_entries())} seed entries, {len(results)} questions "
             f"({with_entry} with an entry, {len(results) - with_entry} without; {plain} typed without diacritics)",
             f"Top-1 right whatever the confidence: {sum(r.found in r.expected for r in results if r.expected)}/{with_entry}",
             "",
             f"At THRESHOLD {THRESHOLD:.2f} (bot/knowledge.py):",
             f"  top-1 precision {at['precision']:.3f}   coverage {at['coverage']:.3f}   "
             f"no-entry questions not answered {at['silence']:.3f}   "
             f"(precision counting answers to no-entry questions as wrong: {at['overall_precision']:.3f})",
             "", "threshold  precision  coverage  silence"]
    for t in sorted({*SWEEP, THRESHOLD}):
        f = figures(results, t)
        lines.append(f"  {t:.2f}{'*' if t == THRESHOLD else ' '}     {f['precision']:.3f}     {f['coverage']:.3f}    {f['silence']:.3f}")
    halves = (results[0::2], results[1::2])
    lines += ["", f"Two-fold check (threshold chosen on one half for precision and silence >= {TARGET}, measured on the other):"]
    for name, (tune, test) in (("even -> odd", halves), ("odd -> even", halves[::-1])):
        t = choose_threshold(tune)
        f = figures(test, t)
        lines.append(f"  {name}: threshold {t:.2f}: precision {f['precision']:.3f}, coverage {f['coverage']:.3f}, "
                     f"silence {f['silence']:.3f}")
    lines.append(f"Chosen on the whole set the same way: {choose_threshold(results):.2f}")
    wrong = [r for r in results if r.confidence >= THRESHOLD and r.found not in r.expected]
    if wrong:
        lines += ["", "Answered wrongly at the threshold:"]
        lines += [f"  {r.confidence:.2f} «{r.question}» -> {r.found} (expected {', '.join(r.expected) or 'none'})"
                  for r in wrong]
    return "\n".join(lines)


def main() -> int:
    print(report(evaluate(Index(seed_entries()))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
