"""The citizen's side of the conversation (issue 17) as tables, like tests/test_conversation_rules.py:
the privacy sentence of a first reply, "xem / xóa dữ liệu của tôi", and the rating of a resolved
case with its optional comment."""
from __future__ import annotations

from dataclasses import replace

import pytest

from bot import forms, rights, texts
from bot.conversation import (RATING_COMMENT_MINUTES, CaseView, Conversation, Rate, RateComment, RequestErasure,
                              ShowMyData)
from tests.test_conversation_rules import NOW, P, REPORT, REPORT_PARSE, Chat, Known, choices, filed, text_of

RESOLVED = CaseView("TV-RATE23", "zalo:m0", "report", "resolved", NOW - 86400, resolved_ts=NOW - 3600)
ROUTED = CaseView("TV-WLF234", "zalo:m00", "welfare", "routed", NOW - 7200)


def press(score: int, code: str = RESOLVED.code) -> tuple[str, str]:
    """(title, payload) of a rating button, as the notice offered them."""
    return dict((payload, title) for title, payload in texts.rating_choices(code))[
        f"{texts.RATE_PAYLOAD}{code.removeprefix('TV-')}_{score}"], f"{texts.RATE_PAYLOAD}{code.removeprefix('TV-')}_{score}"


def rated_chat(score: int = 4, **known) -> Chat:
    chat = Chat(Known(cases=[RESOLVED, ROUTED], **known))
    title, payload = press(score)
    outcome = chat.says(title, payload=payload)
    assert Rate(RESOLVED.code, score) in outcome.effects
    return chat


# ---- the privacy sentence: once, in the first reply to a new citizen ---------------------------

def test_the_first_reply_to_a_new_citizen_says_what_is_kept_and_why_once():
    chat = Chat(Known(parses={"xin chào": P("greet")}), state=Conversation("zalo", "new-citizen"))
    first = chat.says("xin chào")
    assert text_of(first).endswith(texts.PRIVACY_NOTE) and "{site}/quyen-rieng-tu" in texts.PRIVACY_NOTE
    assert "Nghị định 13/2023" in texts.PRIVACY_NOTE and first.state.privacy_told
    assert choices(first) == texts.SERVICE_CHOICES  # the services' buttons still go with it
    assert texts.PRIVACY_NOTE not in text_of(chat.says("xin chào"))


def test_an_emergency_reply_carries_115_alone_and_the_sentence_waits_for_the_next_reply():
    chat = Chat(state=Conversation("zalo", "new-citizen"))
    alarm = chat.says("ba tui khó thở quá, spo2 88")
    assert texts.PRIVACY_NOTE not in text_of(alarm) and not alarm.state.privacy_told
    assert "115" in text_of(alarm)


# ---- personal data: see, erase -------------------------------------------------------------------

VIEW = ["xem dữ liệu của tôi", "xem du lieu cua toi", "cho em xem dữ liệu", "tổng đài lưu gì về tôi vậy",
        "Dữ liệu của tui", "coi thong tin ca nhan cua minh"]
ERASE = ["xóa dữ liệu của tôi", "Xoá dữ liệu của tôi", "xoa du lieu cua toi di", "xóa hết thông tin cá nhân của tui",
         "xoa tin nhan cua em", "tui không muốn tổng đài lưu thông tin nữa"]
NEITHER = ["kiểm tra lại thông tin của tôi", "xóa hồ sơ TV-RATE23", "hủy thông tin", "thông tin của tôi đúng rồi",
           "sửa thông tin", "không muốn để lại thông tin cá nhân"]


@pytest.mark.parametrize("text", VIEW)
def test_asking_to_see_my_data_answers_with_what_is_kept_and_is_recorded(text):
    outcome = Chat(Known(cases=[RESOLVED])).says(text)
    assert rights.data_request(text) == rights.VIEW
    assert outcome.effects == (ShowMyData(),)
    assert "đang lưu" in text_of(outcome) and RESOLVED.code in text_of(outcome) and "xóa dữ liệu của tôi" in text_of(outcome)


@pytest.mark.parametrize("text", ERASE)
def test_asking_for_erasure_files_a_request_for_an_admin(text):
    outcome = Chat().says(text)
    assert rights.data_request(text) == rights.ERASE
    assert outcome.effects == (RequestErasure(),) and text_of(outcome) == texts.ERASURE_REQUESTED


def test_a_second_erasure_request_while_one_waits_files_nothing():
    outcome = Chat(Known(erasure_pending=True)).says("xóa dữ liệu của tôi")
    assert outcome.effects == () and text_of(outcome) == texts.ERASURE_PENDING


@pytest.mark.parametrize("text", NEITHER)
def test_what_only_sounds_like_it_is_no_data_request(text):
    assert rights.data_request(text) is None


def test_a_data_request_mid_form_keeps_the_form_and_asks_its_question_again():
    chat = Chat(Known(parses={"tôi muốn phản ánh": P("report")}))
    chat.says("tôi muốn phản ánh")
    chat.says("có đám cưới đông người")
    assert chat.state.form.asking == "place"
    outcome = chat.says("xem dữ liệu của tôi")
    assert outcome.effects == (ShowMyData(),) and outcome.state.form == chat.outcomes[-2].state.form
    assert text_of(outcome).endswith(texts.ASK_PLACE)
    assert filed(chat.says("ok")) == [] and chat.state.form is not None


# ---- the rating of a resolved case ---------------------------------------------------------------

def test_a_rating_button_rates_the_case_and_offers_a_comment():
    chat = Chat(Known(cases=[RESOLVED]))
    title, payload = press(4)
    outcome = chat.says(title, payload=payload)
    assert outcome.effects == (Rate(RESOLVED.code, 4),)
    assert text_of(outcome) == texts.rated(RESOLVED.code, 4) and choices(outcome) == texts.RATING_SKIP_CHOICES
    assert outcome.state.rating_comment_for == RESOLVED.code


@pytest.mark.parametrize("score, looked_at_again", [(1, True), (2, True), (3, False), (5, False)])
def test_a_low_rating_says_the_hotline_will_look_again(score, looked_at_again):
    assert ("xem lại" in texts.rated("TV-RATE23", score)) == looked_at_again


def test_the_next_message_is_the_comment_and_only_that_one():
    chat = rated_chat(2)
    comment = chat.says("xử lý chậm quá, 3 ngày mới thấy công an xuống")
    assert comment.effects == (RateComment(RESOLVED.code, "xử lý chậm quá, 3 ngày mới thấy công an xuống"),)
    assert text_of(comment) == texts.RATING_COMMENT_KEPT.format(code=RESOLVED.code)
    assert comment.state.rating_comment_for is None
    assert not any(isinstance(e, RateComment) for e in chat.says("ủa").effects)


def test_skipping_the_comment_or_writing_it_too_late_records_no_comment():
    chat = rated_chat()
    skipped = chat.says("Bỏ qua", payload=texts.RATE_SKIP)
    assert skipped.effects == () and skipped.state.rating_comment_for is None
    chat = rated_chat()
    late = chat.says("cán bộ nhiệt tình lắm", after=RATING_COMMENT_MINUTES * 60 + 5)
    assert not any(isinstance(e, RateComment) for e in late.effects)


def test_a_new_report_after_a_rating_is_a_report_not_a_comment():
    chat = rated_chat()
    chat.known.parses[REPORT] = REPORT_PARSE
    outcome = chat.says(REPORT)
    assert not any(isinstance(e, RateComment) for e in outcome.effects)
    assert outcome.state.form is not None and outcome.state.form.category == "report"


@pytest.mark.parametrize("typed, score", [("5", 5), ("cho 4 sao nha", 4), ("5/5", 5), ("rất hài lòng", 5),
                                          ("hài lòng", 4), ("bình thường", 3), ("không hài lòng", 2),
                                          ("rất tệ", 1), ("3 điểm", 3)])
def test_a_rating_typed_soon_after_the_resolution_rates_the_latest_resolved_case(typed, score):
    assert rights.typed_score(typed) == score
    outcome = Chat(Known(cases=[ROUTED, RESOLVED])).says(typed)
    assert outcome.effects == (Rate(RESOLVED.code, score),)


def test_a_typed_number_is_no_rating_without_a_recently_resolved_unrated_case():
    for cases in ([], [ROUTED], [replace(RESOLVED, rating=5)], [replace(RESOLVED, resolved_ts=NOW - 8 * 86400)]):
        outcome = Chat(Known(cases=cases)).says("5")
        assert not any(isinstance(e, Rate) for e in outcome.effects), cases


def test_only_a_resolved_case_of_this_account_is_rated():
    chat = Chat(Known(cases=[ROUTED]))
    title, payload = press(5, ROUTED.code)
    assert text_of(chat.says(title, payload=payload)) == texts.RATING_NOT_YET.format(code=ROUTED.code)
    title, payload = press(5, "TV-XYZ234")  # a button of a case this account never filed
    outcome = chat.says(title, payload=payload)
    assert outcome.effects == () and text_of(outcome) == texts.CASE_NOT_FOUND.format(code="TV-XYZ234")


def test_a_rating_button_mid_form_rates_and_keeps_the_form_without_waiting_for_a_comment():
    chat = Chat(Known(cases=[RESOLVED], parses={"tôi muốn phản ánh": P("report")}))
    chat.says("tôi muốn phản ánh")
    title, payload = press(5)
    outcome = chat.says(title, payload=payload)
    assert Rate(RESOLVED.code, 5) in outcome.effects and outcome.state.form is not None
    assert outcome.state.rating_comment_for is None and outcome.state.form.asking == "description"


def test_rating_buttons_fit_every_platform():
    buttons = texts.rating_choices("TV-RATE23")
    assert len(buttons) == 5  # Zalo shows at most 5
    assert all(len(title) <= 20 for title, _ in buttons)  # Messenger cuts quick replies at 20
    assert {forms.CONFIRM, forms.CANCEL}.isdisjoint(p for _, p in buttons)

