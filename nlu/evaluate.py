"""`python -m nlu evaluate`: the held-out test sets (data/heldout/) through a loaded model, each
as written, without diacritics and (for most) in a chat-style copy; a Markdown report, a
confusion-matrix PNG and metrics.json under var/nlu-report/."""
from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from nlu.chatstyle import chat_style
from nlu.model import REPO_ROOT
from nlu.text import strip_diacritics

SERVICE_INTENTS = ("report", "suggestion", "welfare", "health_advice")
SWEEP = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)
WORST = 15
HELDOUT_DIR = REPO_ROOT / "data" / "heldout"
VARIANTS = {"as written": lambda text: text, "without diacritics": strip_diacritics,
            "chat style": chat_style}


@dataclass(frozen=True)
class TestSet:
    name: str
    path: Path
    variants: Tuple[str, ...] = ("as written", "without diacritics", "chat style")


# data/heldout/README.md says what each one is.
TEST_SETS = (
    TestSet("heldout", HELDOUT_DIR / "nlu.yml", ("as written", "without diacritics")),
    # Real public text, when one is placed here: public data may not be committed to this
    # repository (data/heldout/README.md), so the set is evaluated only where it exists.
    TestSet("real", HELDOUT_DIR / "real.yml"),
    TestSet("conversation", HELDOUT_DIR / "conversation.yml"),
    TestSet("summary", HELDOUT_DIR / "summary.yml", ("as written", "chat style")),
)


@dataclass
class Row:
    text: str
    truth: str
    answer: str  # after the fallback
    top: str  # the classifier's best intent, fallback or not
    confidence: float  # of top
    seconds: float
    source: str = ""


def load_examples(path: Path) -> List[Tuple[str, str, str]]:
    """(text, intent, source) from Rasa YAML; the source is the intent block's metadata source,
    or the file's name."""
    import yaml

    examples = []
    for block in yaml.safe_load(Path(path).read_text("utf-8")).get("nlu", []):
        if "intent" not in block:
            continue
        source = (block.get("metadata") or {}).get("source") or Path(path).name
        items = block.get("examples") or []
        if isinstance(items, str):
            items = [line.strip()[2:].strip() for line in items.splitlines()
                     if line.strip().startswith("- ")]
        else:
            items = [item["text"] if isinstance(item, dict) else item for item in items]
        examples += [(text, block["intent"], source) for text in items if text]
    return examples


def fallback_threshold(config: Path) -> Optional[float]:
    import yaml

    for item in yaml.safe_load(Path(config).read_text("utf-8")).get("pipeline", []):
        if item.get("name") == "FallbackClassifier":
            return float(item.get("threshold", 0.3))
    return None


def parse_all(parser, examples: List[Tuple[str, str, str]]) -> List[Row]:
    from nlu.cli import FALLBACK_INTENT, as_rasa_response

    rows = []
    for text, truth, source in examples:
        started = time.perf_counter()
        response = as_rasa_response(text, parser.parse(text))
        seconds = time.perf_counter() - started
        ranking = [r for r in response["intent_ranking"] if r["name"] != FALLBACK_INTENT]
        top = ranking[0] if ranking else response["intent"]
        rows.append(Row(text, truth, response["intent"]["name"], top["name"],
                        float(top.get("confidence") or 0.0), seconds, source))
    return rows


def correct(truth: str, answer: str) -> bool:
    """A fallback on an out-of-scope message is right: both mean "not understood" to the bot."""
    return answer == truth or (truth == "out_of_scope" and answer == "nlu_fallback")


def _service_or_other(intent: str) -> str:
    return intent if intent in SERVICE_INTENTS else "other"


def service_macro_f1(rows: List[Row]) -> float:
    """Macro F1 over the four services and "other" (every other intent and the fallback), over
    the classes the set has: the outside check's view of the NLU."""
    pairs = [(_service_or_other(r.truth), _service_or_other(r.answer)) for r in rows]
    scores = []
    for label in sorted({truth for truth, _ in pairs}):
        hits = sum(t == a == label for t, a in pairs)
        answered, support = sum(a == label for _, a in pairs), sum(t == label for t, _ in pairs)
        precision, recall = hits / answered if answered else 0.0, hits / support
        scores.append(2 * precision * recall / (precision + recall) if precision + recall else 0.0)
    return statistics.mean(scores) if scores else 0.0


def metrics(rows: List[Row], labels: List[str]) -> Dict:
    n = len(rows)
    per_class = {}
    for label in labels:
        truths = [r for r in rows if r.truth == label]
        answered = [r for r in rows if r.answer == label]
        hits = sum(r.answer == label for r in truths)
        precision = hits / len(answered) if answered else 0.0
        recall = hits / len(truths) if truths else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        top_recall = sum(r.top == label for r in truths) / len(truths) if truths else 0.0
        per_class[label] = {"precision": precision, "recall": recall, "f1": f1,
                            "top_recall": top_recall, "support": len(truths)}
    ms = sorted(r.seconds * 1000 for r in rows)
    return {
        "n": n,
        "accuracy": sum(r.top == r.truth for r in rows) / n,
        "accuracy_with_fallback": sum(correct(r.truth, r.answer) for r in rows) / n,
        "answered": sum(r.answer != "nlu_fallback" for r in rows) / n,
        "report_recall": per_class.get("report", {}).get("recall", 0.0),
        "report_top_recall": per_class.get("report", {}).get("top_recall", 0.0),
        "macro_f1": statistics.mean(c["f1"] for c in per_class.values()),
        "service_macro_f1": service_macro_f1(rows),
        # Replies that are not a yes but would be taken for one (the summary's "send it?").
        "read_as_affirm": sum(r.answer == "affirm" for r in rows if r.truth != "affirm"),
        "top_affirm": sum(r.top == "affirm" for r in rows if r.truth != "affirm"),
        "per_source": {source: {"n": len(group), "accuracy_with_fallback":
                                sum(correct(r.truth, r.answer) for r in group) / len(group)}
                       for source in sorted({r.source for r in rows})
                       for group in [[r for r in rows if r.source == source]]},
        "parse_ms_p50": ms[len(ms) // 2],
        "parse_ms_p99": ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))],
        "per_class": per_class,
    }


def sweep(rows: List[Row]) -> List[Dict]:
    """What each fallback threshold would do, from the classifier's own confidences."""
    out = []
    for threshold in SWEEP:
        answers = [r.top if r.confidence >= threshold else "nlu_fallback" for r in rows]
        answered = [(r, a) for r, a in zip(rows, answers) if a != "nlu_fallback"]
        service = [r for r in rows if r.truth in SERVICE_INTENTS]
        out.append({
            "threshold": threshold,
            "answered": len(answered) / len(rows),
            "accuracy_answered": sum(r.truth == a for r, a in answered) / max(1, len(answered)),
            "accuracy_with_fallback": sum(correct(r.truth, a) for r, a in zip(rows, answers)) / len(rows),
            "wrong_answers": sum(r.truth != a for r, a in answered),
            "service_to_fallback": sum(a == "nlu_fallback" for r, a in zip(rows, answers)
                                       if r.truth in SERVICE_INTENTS) / max(1, len(service)),
            "report_recall": sum(a == "report" for r, a in zip(rows, answers) if r.truth == "report")
            / max(1, sum(r.truth == "report" for r in rows)),
        })
    return out


def confusion(rows: List[Row], labels: List[str], columns: List[str]) -> List[List[int]]:
    counts = Counter((r.truth, r.answer) for r in rows)
    return [[counts[(t, p)] for p in columns] for t in labels]


def plot(results: Dict[str, Dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(9 * len(results), 8), squeeze=False)
    for ax, (name, result) in zip(axes[0], results.items()):
        matrix, labels, columns = result["confusion"], result["labels"], result["columns"]
        ax.imshow([[c / max(1, sum(row)) for c in row] for row in matrix], cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(columns)), columns, rotation=60, ha="right")
        ax.set_yticks(range(len(labels)), labels)
        ax.set_xlabel("answer")
        ax.set_ylabel("true intent")
        ax.set_title(name)
        for i, row in enumerate(matrix):
            for j, count in enumerate(row):
                if count:
                    share = count / max(1, sum(row))
                    ax.text(j, i, str(count), ha="center", va="center",
                            color="white" if share > 0.6 else "black", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def markdown(info: Dict, results: Dict[str, Dict]) -> str:
    lines = ["# NLU evaluation", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += ["", "Accuracy = the classifier's best intent. With fallback = the answer after the "
              "confidence threshold, a fallback on an out_of_scope message counting as right. "
              "Per-class figures are for the answer; top recall ignores the fallback. Service "
              "macro F1 = macro F1 over report, suggestion, welfare, health_advice and other "
              "(every other intent and the fallback). Read as affirm = replies that are not a yes "
              "answered `affirm`.", "",
              "| test set | n | accuracy | with fallback | answered | macro F1 | service macro F1 "
              "| report recall | read as affirm | parse p50 / p99 |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        m = r["metrics"]
        lines.append(f"| {name} | {m['n']} | {_pct(m['accuracy'])} | "
                     f"{_pct(m['accuracy_with_fallback'])} | {_pct(m['answered'])} | "
                     f"{m['macro_f1']:.3f} | {m['service_macro_f1']:.3f} | "
                     f"{_pct(m['report_recall'])} | {m['read_as_affirm']} | "
                     f"{m['parse_ms_p50']:.1f} / {m['parse_ms_p99']:.1f} ms |")
    for name, r in results.items():
        lines += ["", f"## Per class, {name}", "",
                  "| intent | precision | recall | F1 | top recall | n |", "|---|---|---|---|---|---|"]
        for label in r["labels"]:
            c = r["metrics"]["per_class"][label]
            lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | "
                         f"{c['top_recall']:.3f} | {c['support']} |")
        sources = r["metrics"]["per_source"]
        if len(sources) > 1 or "real" in name:
            lines += ["", "| source | n | with fallback |", "|---|---|---|"]
            lines += [f"| {s} | {v['n']} | {_pct(v['accuracy_with_fallback'])} |"
                      for s, v in sources.items()]
    lines += ["", "## Confusion matrices", "", "![confusion matrices](confusion.png)"]
    for name, r in results.items():
        lines += ["", f"{name} (rows: true intent; columns: answer)", "",
                  "| | " + " | ".join(r["columns"]) + " |", "|---" * (len(r["columns"]) + 1) + "|"]
        for label, row in zip(r["labels"], r["confusion"]):
            lines.append(f"| **{label}** | " + " | ".join(str(c) if c else "·" for c in row) + " |")
    for name, r in results.items():
        lines += ["", f"## Fallback threshold sweep (accuracy against coverage), {name}", "",
                  "| threshold | answered | accuracy of answers | with fallback | wrong answers | "
                  "service msgs to fallback | report recall |", "|---|---|---|---|---|---|---|"]
        for s in r["sweep"]:
            lines.append(f"| {s['threshold']:.2f} | {_pct(s['answered'])} | "
                         f"{_pct(s['accuracy_answered'])} | "
                         f"{_pct(s['accuracy_with_fallback'])} | {s['wrong_answers']} | "
                         f"{_pct(s['service_to_fallback'])} | {_pct(s['report_recall'])} |")
    for name, r in results.items():
        lines += ["", f"## Worst errors (most confident), {name}", "",
                  "| confidence | true | predicted | text |", "|---|---|---|---|"]
        for row in r["worst"]:
            text = row.text if len(row.text) <= 160 else row.text[:157] + "..."
            text = text.replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {row.confidence:.2f} | {row.truth} | {row.top} | {text} |")
    return "\n".join(lines) + "\n"


def evaluate_set(parser, test_set: TestSet) -> Dict[str, Dict]:
    examples = load_examples(test_set.path)
    labels = sorted({truth for _, truth, _ in examples})
    results = {}
    for variant in test_set.variants:
        rewrite = VARIANTS[variant]
        rows = parse_all(parser, [(rewrite(text), y, s) for text, y, s in examples])
        columns = sorted(set(labels) | {r.answer for r in rows} - {"nlu_fallback"}) + ["nlu_fallback"]
        results[f"{test_set.name} / {variant}"] = {
            "metrics": metrics(rows, labels), "sweep": sweep(rows), "labels": labels,
            "columns": columns, "confusion": confusion(rows, labels, columns),
            "worst": sorted((r for r in rows if r.top != r.truth), key=lambda r: -r.confidence)[:WORST],
        }
    return results


def run(parser, test_sets: List[TestSet], out: Path, model: Path, config: Path,
        load_seconds: float, train_seconds: Optional[float]) -> Dict:
    parser.parse("xin chào")  # the first parse builds lazily initialised parts
    results = {}
    for test_set in test_sets:
        results.update(evaluate_set(parser, test_set))
    threshold = fallback_threshold(config)
    info = {"model": Path(model).name, "config": Path(config).name,
            "test sets": ", ".join(str(s.path.relative_to(REPO_ROOT)) if s.path.is_relative_to(REPO_ROOT)
                                   else str(s.path) for s in test_sets),
            "fallback threshold": threshold, "load": f"{load_seconds:.1f} s",
            "evaluated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    if train_seconds is not None:
        info["train"] = f"{train_seconds:.1f} s"
    out.mkdir(parents=True, exist_ok=True)
    plot({k: v for k, v in results.items() if k.endswith("/ as written")}, out / "confusion.png")
    (out / "report.md").write_text(markdown(info, results), "utf-8")
    (out / "metrics.json").write_text(json.dumps(
        {"info": info, "load_seconds": load_seconds, "train_seconds": train_seconds,
         "fallback_threshold": threshold,
         "metrics": {name: r["metrics"] for name, r in results.items()},
         "sweep": {name: r["sweep"] for name, r in results.items()}}, indent=1, ensure_ascii=False),
        "utf-8")
    summary = [f"NLU evaluation of {Path(model).name} (fallback threshold {threshold}; load "
               f"{load_seconds:.1f} s" + (f", train {train_seconds:.1f} s" if train_seconds is not None
                                          else "") + "):"]
    for name, r in results.items():
        m = r["metrics"]
        summary.append(f"  {name:<34} n {m['n']:>4}, accuracy {_pct(m['accuracy'])}, with fallback "
                       f"{_pct(m['accuracy_with_fallback'])} ({_pct(m['answered'])} answered), "
                       f"macro F1 {m['macro_f1']:.3f}, service macro F1 {m['service_macro_f1']:.3f}, "
                       f"report recall {_pct(m['report_recall'])}, read as affirm "
                       f"{m['read_as_affirm']}")
    summary.append(f"Report: {out / 'report.md'}")
    return {"summary": "\n".join(summary), "results": results}
