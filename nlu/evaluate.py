"""`python -m nlu evaluate`: the held-out set through a loaded model, as written and without
diacritics; a Markdown report, a confusion-matrix PNG and metrics.json under var/nlu-report/."""
from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from nlu.text import strip_diacritics

SERVICE_INTENTS = ("report", "suggestion", "welfare", "health_advice")
SWEEP = (0.0, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7)
WORST = 15


@dataclass
class Row:
    text: str
    truth: str
    answer: str  # after the fallback
    top: str  # the classifier's best intent, fallback or not
    confidence: float  # of top
    seconds: float


def load_examples(path: Path) -> List[Tuple[str, str]]:
    from rasa.shared.nlu.constants import INTENT, TEXT
    from rasa.shared.nlu.training_data.loading import load_data

    return [(m.get(TEXT), m.get(INTENT)) for m in load_data(str(path)).intent_examples]


def fallback_threshold(config: Path) -> Optional[float]:
    import yaml

    for item in yaml.safe_load(Path(config).read_text("utf-8")).get("pipeline", []):
        if item.get("name") == "FallbackClassifier":
            return float(item.get("threshold", 0.3))
    return None


def parse_all(parser, examples: List[Tuple[str, str]]) -> List[Row]:
    from nlu.cli import FALLBACK_INTENT, as_rasa_response

    rows = []
    for text, truth in examples:
        started = time.perf_counter()
        response = as_rasa_response(text, parser.parse(text))
        seconds = time.perf_counter() - started
        ranking = [r for r in response["intent_ranking"] if r["name"] != FALLBACK_INTENT]
        top = ranking[0] if ranking else response["intent"]
        rows.append(Row(text, truth, response["intent"]["name"], top["name"],
                        float(top.get("confidence") or 0.0), seconds))
    return rows


def correct(truth: str, answer: str) -> bool:
    """A fallback on an out-of-scope message is right: both mean "not understood" to the bot."""
    return answer == truth or (truth == "out_of_scope" and answer == "nlu_fallback")


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


def plot(matrices: Dict[str, List[List[int]]], labels: List[str], columns: List[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(matrices), figsize=(9 * len(matrices), 8))
    for ax, (name, matrix) in zip(axes, matrices.items()):
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


def markdown(info: Dict, results: Dict[str, Dict], labels: List[str], columns: List[str]) -> str:
    lines = ["# NLU evaluation", ""]
    lines += [f"- {k}: {v}" for k, v in info.items()]
    lines += ["", "Accuracy = the classifier's best intent. With fallback = the answer after the "
              "confidence threshold, a fallback on an out_of_scope message counting as right. "
              "Per-class figures are for the answer; top recall ignores the fallback.", "",
              "| test set | n | accuracy | with fallback | answered | report recall | macro F1 "
              "| parse p50 / p99 |",
              "|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        m = r["metrics"]
        lines.append(f"| {name} | {m['n']} | {_pct(m['accuracy'])} | {_pct(m['accuracy_with_fallback'])} | "
                     f"{_pct(m['answered'])} | {_pct(m['report_recall'])} | {m['macro_f1']:.3f} | "
                     f"{m['parse_ms_p50']:.1f} / {m['parse_ms_p99']:.1f} ms |")
    for name, r in results.items():
        lines += ["", f"## Per class, {name}", "",
                  "| intent | precision | recall | F1 | top recall | n |", "|---|---|---|---|---|---|"]
        for label in labels:
            c = r["metrics"]["per_class"][label]
            lines.append(f"| {label} | {c['precision']:.3f} | {c['recall']:.3f} | {c['f1']:.3f} | "
                         f"{c['top_recall']:.3f} | {c['support']} |")
    lines += ["", "## Confusion matrices", "", "![confusion matrices](confusion.png)"]
    for name, r in results.items():
        lines += ["", f"{name} (rows: true intent; columns: answer)", "",
                  "| | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        for label, row in zip(labels, r["confusion"]):
            lines.append(f"| **{label}** | " + " | ".join(str(c) if c else "·" for c in row) + " |")
    for name, r in results.items():
        lines += ["", f"## Fallback threshold sweep, {name}", "",
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


def run(parser, data: Path, out: Path, model: Path, config: Path, load_seconds: float,
        train_seconds: Optional[float]) -> Dict:
    examples = load_examples(data)
    labels = sorted({truth for _, truth in examples})
    columns = labels + ["nlu_fallback"]
    variants = {"as written": examples,
                "without diacritics": [(strip_diacritics(t), y) for t, y in examples]}
    parser.parse("xin chào")  # the first parse builds lazily initialised parts
    results = {}
    for name, items in variants.items():
        rows = parse_all(parser, items)
        results[name] = {
            "metrics": metrics(rows, labels), "sweep": sweep(rows),
            "confusion": confusion(rows, labels, columns),
            "worst": sorted((r for r in rows if r.top != r.truth), key=lambda r: -r.confidence)[:WORST],
        }
    threshold = fallback_threshold(config)
    info = {"model": Path(model).name, "config": Path(config).name, "test set": str(data),
            "fallback threshold": threshold, "load": f"{load_seconds:.1f} s",
            "evaluated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}
    if train_seconds is not None:
        info["train"] = f"{train_seconds:.1f} s"
    out.mkdir(parents=True, exist_ok=True)
    plot({k: v["confusion"] for k, v in results.items()}, labels, columns, out / "confusion.png")
    (out / "report.md").write_text(markdown(info, results, labels, columns), "utf-8")
    summary_metrics = {name: {k: v for k, v in r["metrics"].items()} for name, r in results.items()}
    (out / "metrics.json").write_text(json.dumps(
        {"info": info, "load_seconds": load_seconds, "train_seconds": train_seconds,
         "fallback_threshold": threshold, "metrics": summary_metrics,
         "sweep": {name: r["sweep"] for name, r in results.items()}}, indent=1, ensure_ascii=False),
        "utf-8")
    summary = [f"NLU evaluation of {Path(model).name} on {len(examples)} held-out messages "
               f"(fallback threshold {threshold}; load {load_seconds:.1f} s"
               + (f", train {train_seconds:.1f} s" if train_seconds is not None else "") + "):"]
    for name, r in results.items():
        m = r["metrics"]
        summary.append(f"  {name:<19} accuracy {_pct(m['accuracy'])}, with fallback "
                       f"{_pct(m['accuracy_with_fallback'])} ({_pct(m['answered'])} answered), "
                       f"report recall {_pct(m['report_recall'])}, macro F1 {m['macro_f1']:.3f}, "
                       f"parse p50 {m['parse_ms_p50']:.1f} ms")
    summary.append(f"Report: {out / 'report.md'}")
    return {"summary": "\n".join(summary), "results": results}
