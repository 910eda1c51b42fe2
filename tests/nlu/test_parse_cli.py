"""`.venv-nlu/bin/python -m nlu parse` as CONTRACT.md describes it, with the trained model."""
import json
import subprocess
import unicodedata

import pytest

from bot.config import REPO_ROOT

pytestmark = pytest.mark.slow  # not in `make test-fast`: the `nlu parse` command, which loads the model

NLU_PYTHON = REPO_ROOT / ".venv-nlu" / "bin" / "python"

CLEAR_EXAMPLES = {
    "Tối qua ở ấp Phú Hòa có đám nhậu hơn 20 người tụ tập, không ai đeo khẩu trang": "report",
    "toi muon gop y nen mo them diem ban hang luu dong o cho Cau Ngang": "suggestion",
    "Nhà tôi có 2 người mất việc vì dịch, xin hỏi có được hỗ trợ gì không": "welfare",
    "con toi bi sot 39 do va ho, spo2 96 thi co can di vien khong": "health_advice",
    "Xin chào tổng đài": "greet",
    "cho tôi gặp nhân viên tổng đài": "ask_human",
    # The conversation's intents (CONVERSATION-CONTRACT.md): a missing phone is no call for staff.
    "tôi không có số điện thoại": "decline_field",
    "đi ra ruộng có vi phạm không": "rule_question",
    "rút lại phản ánh TV-8HK3MA": "withdraw",
    "quên mã rồi": "check_status",
    "khoan đã": "not_yet",
}
# At the summary: none of these is a yes, whatever words of a yes they hold.
NOT_A_YES = ["khoan", "dừng lại", "đừng gửi", "đúng rồi nhưng khoan gửi", "ok mà đợi chút",
             "ừ để tui coi lại", "dung", "khoan da", "chưa"]
BAD_INPUT = ["", "   ", "🙏🙏😷", "a" * 10_000, unicodedata.normalize("NFD", "phản ánh tụ tập đông người"),
             "phản\u200b ánh\u200d vi phạm", "ខ្ញុំចង់រាយការណ៍", "Hello, I want to report a party"]
# Nothing a Vietnamese hotline could act on: "not understood" in some form.
NOT_UNDERSTOOD = {"nlu_fallback", "out_of_scope"}
ENTITIES = "Tối qua ở xã Long Đức tp tv có đám nhậu đông người, gọi tui 0912.345.678"
STATUS = "hồ sơ tv-8hk3ma của tui tới đâu rồi"
WELFARE = ("toi ten la tran thi be, o ap cho xa dai phuoc huyen cang long, sdt 0912345678, bi F0 dang cach ly, "
           "xin ho tro gao va mi goi")
MORE = [ENTITIES, STATUS, WELFARE, "/report", "ok", "What is the weather like today?", "🙂", "0912345678"]


@pytest.fixture(scope="module")
def parsed():
    lines = list(CLEAR_EXAMPLES) + BAD_INPUT + MORE + NOT_A_YES
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


def test_hesitation_and_refusal_are_never_a_yes(parsed):
    _, results = parsed
    got = {r["text"]: r["intent"] for r in results}
    assert {text: got[text] for text in NOT_A_YES if got[text] == "affirm"} == {}


def test_decomposed_text_is_understood_like_composed_text(parsed):
    _, results = parsed
    nfd = next(r for r in results if r["text"] == BAD_INPUT[4])
    assert nfd["intent"] == "report"


def test_zero_width_characters_do_not_change_the_answer(parsed):
    _, results = parsed
    assert next(r for r in results if r["text"] == BAD_INPUT[5])["intent"] == "report"


@pytest.mark.parametrize("text", ["", "   ", "🙏🙏😷", "ខ្ញុំចង់រាយការណ៍", "🙂", "/report", "0912345678"])
def test_nothing_to_understand_falls_back(parsed, text):
    _, results = parsed
    result = next(r for r in results if r["text"] == text)
    assert result["intent"] == "nlu_fallback" and result["confidence"] <= 0.4


@pytest.mark.parametrize("text", ["Hello, I want to report a party", "What is the weather like today?",
                                  "a" * 10_000])
def test_foreign_or_meaningless_text_is_not_understood(parsed, text):
    _, results = parsed
    assert next(r for r in results if r["text"] == text)["intent"] in NOT_UNDERSTOOD


def test_entities_with_offsets_into_the_text_as_given(parsed):
    _, results = parsed
    result = next(r for r in results if r["text"] == ENTITIES)
    assert result["intent"] == "report"
    found = {(e["entity"], e["value"], ENTITIES[e["start"]:e["end"]]) for e in result["entities"]}
    assert found == {("time", "tối qua", "Tối qua"),
                     ("commune", "Xã Long Đức, Thành phố Trà Vinh", "xã Long Đức"),
                     ("district", "Thành phố Trà Vinh", "tp tv"),
                     ("phone", "0912345678", "0912.345.678")}
    status = next(r for r in results if r["text"] == STATUS)
    assert status["intent"] == "check_status"
    assert [(e["entity"], e["value"]) for e in status["entities"]] == [("case_code", "TV-8HK3MA")]


def test_a_welfare_line_without_diacritics_gives_name_situation_and_request(parsed):
    _, results = parsed
    result = next(r for r in results if r["text"] == WELFARE)
    found = [(e["entity"], e["value"], WELFARE[e["start"]:e["end"]]) for e in result["entities"]]
    assert found == [("person_name", "Tran Thi Be", "tran thi be"),
                     ("commune", "Xã Đại Phước, Huyện Càng Long", "xa dai phuoc"),
                     ("district", "Huyện Càng Long", "huyen cang long"),
                     ("phone", "0912345678", "0912345678"),
                     ("situation", "F0", "F0"),
                     ("situation", "cách ly", "dang cach ly"),
                     ("support_request", "gao va mi goi", "gao va mi goi")]


def test_the_nlu_server_returns_the_same_entities_and_the_client_reads_them(nlu_url):
    from nlu.client import NluClient

    parse = NluClient(nlu_url).parse(ENTITIES)
    assert parse.intent == "report"
    assert {(e["entity"], e["value"]) for e in parse.entities} == {
        ("time", "tối qua"), ("commune", "Xã Long Đức, Thành phố Trà Vinh"),
        ("district", "Thành phố Trà Vinh"), ("phone", "0912345678")}
    assert NluClient(nlu_url).parse("").intent == "nlu_fallback"
