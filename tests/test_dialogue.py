"""The dialogue table: what the bot decides for each understood message (no I/O)."""
import pytest

from bot import dialogue, texts
from bot.handoff import Handoff, is_health_emergency
from nlu.client import Parse

NO_CASES = lambda code: None  # noqa: E731


@pytest.mark.parametrize("intent", ["report", "suggestion", "welfare", "health_advice"])
def test_service_intents_file_a_case(intent):
    assert dialogue.decide("...", Parse(intent, 0.95), NO_CASES).file_case == intent


@pytest.mark.parametrize("text, topic", [
    ("F0 cách ly tại nhà cần làm gì", "home_care"), ("xet nghiem o dau vay", "testing"),
    ("tiêm mũi 2 được chưa", "testing"), ("con tôi ho, sổ mũi", "general"),
])
def test_health_advice_gives_curated_guidance_never_a_diagnosis(text, topic):
    reply = dialogue.decide(text, Parse("health_advice", 0.95), NO_CASES).reply
    assert reply.startswith(texts.HEALTH_GUIDANCE[topic]) and reply.endswith(texts.HEALTH_DISCLAIMER)


@pytest.mark.parametrize("intent, reply", [
    ("greet", texts.GREETING), ("thanks", texts.THANKS), ("goodbye", texts.GOODBYE),
    ("bot_challenge", texts.BOT_CHALLENGE), ("affirm", texts.ACKNOWLEDGED),
    ("cancel", texts.NOTHING_TO_CANCEL), ("out_of_scope", texts.NOT_UNDERSTOOD),
    ("nlu_fallback", texts.NOT_UNDERSTOOD), ("check_status", texts.ASK_CASE_CODE),
])
def test_other_intents_reply_without_a_case(intent, reply):
    decision = dialogue.decide("...", Parse(intent, 0.95), NO_CASES)
    assert (decision.reply, decision.file_case) == (reply, None)


def test_greeting_and_not_understood_offer_the_four_services_as_buttons():
    for parse in (Parse("greet", 0.99), Parse("report", 0.1)):
        assert dialogue.decide("...", parse, NO_CASES).choices == texts.SERVICE_CHOICES
    assert all(len(title) <= 20 for title, _ in texts.SERVICE_CHOICES)
    assert dialogue.decide("...", Parse("thanks", 0.99), NO_CASES).choices == ()


def test_low_confidence_is_not_guessed():
    assert dialogue.decide("...", Parse("report", 0.2), NO_CASES).reply == texts.NOT_UNDERSTOOD


def test_case_code_is_found_in_any_case_and_with_or_without_the_dash():
    assert dialogue.find_case_code("cho hỏi hồ sơ tv 7kq2mx sao rồi") == "TV-7KQ2MX"
    assert dialogue.find_case_code("TV-7KQ2MX") == "TV-7KQ2MX"
    assert dialogue.find_case_code("TV-7KQ2M0") is None  # 0 is not in the alphabet


def test_status_of_the_citizens_own_case():
    case = {"code": "TV-7KQ2MX", "category": "welfare", "status": "in_progress",
            "agency_name": "Phòng Lao động - Thương binh và Xã hội huyện Cầu Kè"}
    decision = dialogue.decide("TV-7KQ2MX", Parse("check_status", 0.9), lambda code: case)
    assert decision.reply == ("Hồ sơ TV-7KQ2MX (đề nghị hỗ trợ an sinh) hiện đang xử lý: "
                              "Phòng Lao động - Thương binh và Xã hội huyện Cầu Kè.")


def test_asking_for_a_person_hands_the_chat_over():
    assert dialogue.decide("cho gặp nhân viên", Parse("ask_human", 0.9), NO_CASES).handoff == Handoff("ask_human")


def test_the_second_turn_in_a_row_not_understood_hands_the_chat_over():
    first = dialogue.decide("???", Parse("nlu_fallback", 0.4), NO_CASES, not_understood_before=0)
    assert first.not_understood and first.handoff is None and first.reply == texts.NOT_UNDERSTOOD
    second = dialogue.decide("???", Parse("nlu_fallback", 0.4), NO_CASES, not_understood_before=1)
    assert second.handoff == Handoff("not_understood")


def test_khmer_script_goes_to_a_person_without_guessing():
    assert dialogue.before_nlu("ខ្ញុំចង់រាយការណ៍") == dialogue.Decision(handoff=Handoff("khmer"))


@pytest.mark.parametrize("text, urgent", [
    ("Mẹ tôi khó thở quá", True), ("me toi kho tho, tim tai", True), ("con li bì từ sáng", True),
    ("SpO2 đo được 91", True), ("spo2 chi con 92%", True), ("đau tức ngực", True),
    ("SpO2 97, hơi ho", False), ("xin hỗ trợ gạo", False), ("tôi khỏe, cảm ơn", False),
])
def test_danger_signs(text, urgent):
    assert is_health_emergency(text) == urgent


def test_an_emergency_gets_advice_an_urgent_case_and_a_person_at_once():
    decision = dialogue.before_nlu("Ba tôi F0, khó thở, SpO2 90")
    assert decision.reply == texts.EMERGENCY_ADVICE and "115" in decision.reply
    assert (decision.file_case, decision.urgent, decision.handoff) == ("health_advice", True,
                                                                       Handoff("urgent_health", urgent=True))


def test_a_message_out_of_scope_counts_as_not_understood():
    second = dialogue.decide("giá vàng hôm nay", Parse("out_of_scope", 0.93), NO_CASES, not_understood_before=1)
    assert second.handoff == Handoff("not_understood")


def test_asking_for_health_advice_without_a_question_files_nothing_yet():
    decision = dialogue.decide("tôi muốn được tư vấn sức khỏe", Parse("health_advice", 0.79), NO_CASES)
    assert (decision.reply, decision.file_case) == (texts.ASK_DETAILS["health_advice"], None)
