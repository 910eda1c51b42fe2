"""`.venv-nlu/bin/python -m nlu parse` as CONTRACT.md describes it, with the trained model."""
import json
import subprocess
import unicodedata

import pytest

from bot.config import REPO_ROOT

NLU_PYTHON = REPO_ROOT / ".venv-nlu" / "bin" / "python"

CLEAR_EXAMPLES = {
    "Tối qua ở ấp Phú Hòa có đám nhậu hơn 20 người tụ tập, không ai đeo khẩu trang": "report",
    "toi muon gop y nen mo them diem ban hang luu dong o cho Cau Ngang": "suggestion",
    "Nhà tôi có 2 người mất việc vì dịch, xin hỏi có được hỗ trợ gì không": "welfare",
    "con toi bi sot 39 do va ho, spo2 96 thi co can di vien khong": "health_advice",
    "Xin chào tổng đài": "greet",
    "cho tôi gặp nhân viên tổng đài": "ask_human",
}
BAD_INPUT = ["", "   ", "🙏🙏😷", "a" * 10_000, unicodedata.normalize("NFD", "phản ánh tụ tập đông người"),
             "phản\u200b ánh\u200d vi phạm", "ខ្ញុំចង់រាយការណ៍", "Hello, I want to report a party"]


@pytest.fixture(scope="module")
def parsed():
    lines = list(CLEAR_EXAMPLES) + BAD_INPUT
    run = subprocess.run([str(NLU_PYTHON), "-m", "nlu", "parse"], cwd=REPO_ROOT, timeout=600,
                         input="\n".join(lines) + "\n", capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    return lines, [json.loads(line) for line in run.stdout.splitlines()]


def test_one_json_object_per_input_line_in_order(parsed):
    lines, results = parsed
    assert [r["text"] for r in results] == lines
    for result in results:
        assert set(result) == {"text", "intent", "confidence", "entities"}
        assert isinstance(result["intent"], str) and 0.0 <= result["confidence"] <= 1.0
        assert all(set(e) >= {"entity", "value"} for e in result["entities"])


def test_clear_messages_get_their_intent(parsed):
    _, results = parsed
    got = {r["text"]: r["intent"] for r in results}
    assert {text: got[text] for text in CLEAR_EXAMPLES} == CLEAR_EXAMPLES


def test_decomposed_text_is_understood_like_composed_text(parsed):
    _, results = parsed
    nfd = next(r for r in results if r["text"] == BAD_INPUT[4])
    assert nfd["intent"] == "report"
