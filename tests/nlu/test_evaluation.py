"""The held-out evaluation's floors: `python -m nlu evaluate` with the trained model on every set
in data/heldout/. The floors on data/heldout/nlu.yml are the issue's targets; the conversation and
summary sets hold the intents the conversation needs, and no refusal read as a yes."""
import json
import subprocess

import pytest

from bot.config import REPO_ROOT

pytestmark = pytest.mark.slow  # not in `make test-fast`: evaluates the trained model

NLU_PYTHON = REPO_ROOT / ".venv-nlu" / "bin" / "python"
HELDOUT = REPO_ROOT / "data" / "heldout"
NEW_INTENTS = ("not_yet", "decline_field", "rule_question", "withdraw", "check_status", "insult")


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    for name in ("nlu.yml", "conversation.yml", "summary.yml"):
        if not (HELDOUT / name).is_file():
            pytest.fail(f"the held-out set {HELDOUT / name} is missing")
    out = tmp_path_factory.mktemp("nlu-report")
    for command in (["train"], ["evaluate", "--out", str(out)]):
        run = subprocess.run([str(NLU_PYTHON), "-m", "nlu", *command], cwd=REPO_ROOT, timeout=900,
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stderr[-3000:]
    return out, run.stdout, json.loads((out / "metrics.json").read_text("utf-8"))["metrics"]


def test_team_written_held_out_set_with_and_without_diacritics(evaluation):
    _, _, metrics = evaluation
    written, plain = metrics["heldout / as written"], metrics["heldout / without diacritics"]
    # What the bot does: the answer after the fallback threshold.
    assert written["accuracy_with_fallback"] >= 0.92
    assert plain["accuracy_with_fallback"] >= 0.88
    assert written["report_recall"] >= 0.90 and plain["report_recall"] >= 0.90
    for intent in ("suggestion", "welfare", "health_advice"):
        assert written["per_class"][intent]["recall"] >= 0.85, intent


def test_no_refusal_or_hesitation_at_the_summary_is_read_as_yes(evaluation):
    _, _, metrics = evaluation
    for variant in ("as written", "chat style"):
        m = metrics[f"summary / {variant}"]
        assert m["n"] >= 100
        assert m["read_as_affirm"] == 0, variant
    assert metrics["summary / as written"]["per_class"]["affirm"]["recall"] >= 0.9


def test_intents_the_conversation_needs(evaluation):
    _, _, metrics = evaluation
    written = metrics["conversation / as written"]
    assert written["accuracy_with_fallback"] >= 0.9
    for intent in NEW_INTENTS:
        assert written["per_class"][intent]["recall"] >= 0.8, intent
    assert metrics["conversation / without diacritics"]["accuracy_with_fallback"] >= 0.86
    assert metrics["conversation / chat style"]["accuracy_with_fallback"] >= 0.82


def test_report_files_and_summary(evaluation):
    out, stdout, _ = evaluation
    report = (out / "report.md").read_text("utf-8")
    for part in ("Per class, heldout / as written", "conversation / chat style", "Confusion matrices",
                 "accuracy against coverage", "Worst errors", "without diacritics"):
        assert part in report
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "accuracy" in stdout and "read as affirm" in stdout


def test_evaluate_fails_only_on_errors(tmp_path):
    run = subprocess.run([str(NLU_PYTHON), "-m", "nlu", "evaluate", "--data",
                          str(tmp_path / "none.yml"), "--out", str(tmp_path)],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "No test set" in run.stderr
