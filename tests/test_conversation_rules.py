"""Every rule of the conversation (issue 11) as a table: `respond` is pure, so these run in
microseconds, without a database or an NLU server. What the NLU would say is given per line
(`Parse`); lines not listed are what it cannot read (nlu_fallback)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from bot import cues, forms, texts
from bot.conversation import (Answer, AppendToCase, AskStaff, CaseView, Conversation, FileCase, MyData, Outcome,
                              RecordQuestion, StartHandoff, Turn, Withdraw, respond)
from bot.danger import emergency_line_failed, is_emergency
from nlu.client import Parse

NOW = 1_700_000_000.0  # 14/11/2023 05:13 Vietnam time


def P(intent: str, confidence: float = 0.9, **entities) -> Parse:
    """An entity may be given as (value, the words typed for it): the NLU reports where they are."""
    return Parse(intent, confidence, [{"entity": k, "value": v[0], "typed": v[1]} if isinstance(v, tuple)
                                      else {"entity": k, "value": v} for k, v in entities.items()])


@dataclass
class Known:
    """What the conversation may find out: the NLU's reading of each line and this account's cases."""
    parses: dict = field(default_factory=dict)
    cases: list = field(default_factory=list)
    lines: dict = field(default_factory=dict)   # agency phones staff entered, by district
    answers: dict = field(default_factory=dict)  # question -> Answer: what the knowledge base answers
    looked_up: list = field(default_factory=list)  # (question, district, day) asked of the knowledge base
    form_timeout_minutes: int = 60
    quiet_minutes: int = 240
    working_hours: str = "07:00-21:00"
    erasure_pending: bool = False

    def parse(self, text: str) -> Parse:
        parse = self.parses.get(text, Parse("nlu_fallback", 0.0, []))
        entities = [{"entity": e["entity"], "value": e["value"], "start": text.find(e["typed"]),
                     "end": text.find(e["typed"]) + len(e["typed"])} if "typed" in e else e for e in parse.entities]
        return Parse(parse.intent, parse.confidence, entities)

    def own_cases(self) -> list[CaseView]:
        return sorted(self.cases, key=lambda case: -case.created_ts)

    def case(self, code: str) -> CaseView | None:
        return next((case for case in self.cases if case.code == code), None)

    def health_line(self, district: str | None) -> str | None:
        return self.lines.get(district)

    def answer(self, question: str, district: str | None, day) -> Answer | None:
        self.looked_up.append((question, district, day))
        return self.answers.get(question)

    def my_data(self) -> MyData:
        return MyData(messages=3 + len(self.cases), first_ts=NOW, last_ts=NOW, cases=tuple(self.own_cases()),
                      retention_months=12, erasure_pending=self.erasure_pending)


class Chat:
    """One citizen's conversation, turn by turn; filed cases become this account's cases."""

    def __init__(self, known: Known | None = None, state: Conversation | None = None, in_hours: bool = True):
        self.known = known or Known()
        # Someone who has written before: the privacy sentence of a first reply is tested on its own.
        self.state = state or Conversation("zalo", "u1", privacy_told=True)
        self.now, self.turns, self.in_hours = NOW, 0, in_hours
        self.outcomes: list[Outcome] = []

    def says(self, text: str, payload: str | None = None, after: float = 5.0, **turn) -> Outcome:
        self.now += after
        self.turns += 1
        outcome = respond(self.state, Turn(f"m{self.turns}", text, self.now, payload=payload,
                                           in_working_hours=self.in_hours, **turn), self.known)
        for effect in outcome.effects:
            if isinstance(effect, FileCase):
                self.known.cases.append(CaseView(f"TV-{'ABCDEFGHJK'[self.turns % 10]}AAAA{self.turns % 10}",
                                                 f"zalo:m{self.turns}", effect.category, "routed", self.now,
                                                 topic=effect.details.get("topic")))
            if isinstance(effect, Withdraw):
                self.known.cases = [replace(c, status="withdrawn") if c.code == effect.code else c
                                    for c in self.known.cases]
        self.state = outcome.state
        self.outcomes.append(outcome)
        return outcome


def text_of(outcome: Outcome) -> str:
    return "\n\n".join(reply.text for reply in outcome.replies)


def filed(outcome: Outcome) -> list[FileCase]:
    return [e for e in outcome.effects if isinstance(e, FileCase)]


def choices(outcome: Outcome) -> tuple:
    return next((r.choices for r in reversed(outcome.replies) if r.choices), ())


REPORT = "tối qua ở ấp Chợ xã Long Đức có đám nhậu đông người"
REPORT_PARSE = P("report", commune=("Xã Long Đức, Thành phố Trà Vinh", "xã Long Đức"), time="tối qua",
                 district=("Thành phố Trà Vinh", "xã Long Đức"))


def at_report_summary(known: Known | None = None) -> Chat:
    known = known or Known()
    known.parses.setdefault(REPORT, REPORT_PARSE)
    chat = Chat(known)
    assert chat.says(REPORT).state.form.asking == forms.ASKING_CONFIRM
    return chat


# ---- 1. emergencies first, always ---------------------------------------------------------------

DANGER = ["me tui kho tho qua", "SpO2 88", "sp02 con 89% a", "oxy đo được 90", "thở ko nổi", "ba em môi tím rồi",
          "bé bị co giật", "ông ngủ li bì gọi hok dậy", "đau tức ngực quá", "spo2 sang 97 chieu 91", "ngộp thở",
          "thở hụt hơi", "bà lơ mơ rồi", "ba tui ngất xỉu", "MẸ EM KHÓ THỞ"]
NOT_DANGER = ["spo2 97", "het kho tho roi", "không khó thở, chỉ ho nhẹ", "sốt 38 độ uống thuốc gì",
              "cho em hỏi xíu", "spo2 98 mạch 88", "tìm tài liệu", "bị ngắt điện", "có cần đo spo2 không",
              "mua bình oxy 10 lít ở đâu"]


@pytest.mark.parametrize("text", DANGER)
def test_danger_signs_in_any_spelling_are_an_emergency(text):
    assert is_emergency(text)


@pytest.mark.parametrize("text", NOT_DANGER)
def test_ordinary_health_words_are_no_emergency(text):
    assert not is_emergency(text)


def test_an_emergency_files_an_urgent_case_hands_off_and_says_115():
    outcome = Chat().says("ba tui bị covid, giờ khó thở lắm, spo2 90")
    [case] = filed(outcome)
    assert (case.category, case.urgent) == ("health_advice", True)
    assert StartHandoff("urgent_health", urgent=True) in outcome.effects
    assert "115" in text_of(outcome) and "{code}" in text_of(outcome)
    assert (outcome.state.handler, outcome.state.urgent, outcome.state.urgent_case) == ("waiting", True, "zalo:m1")


def test_an_emergency_mid_form_beats_the_form_and_is_never_stored_as_a_detail():
    chat = Chat(Known(parses={"tôi muốn phản ánh": P("report")}))
    chat.says("tôi muốn phản ánh")
    chat.says("có đám cưới đông người")
    assert chat.state.form.asking == "place"
    outcome = chat.says("ơ mà khoan, môi bà tui tím rồi")
    assert filed(outcome)[0].urgent and "115" in text_of(outcome)
    assert "place" not in outcome.state.form.values  # kept for later, nothing stored from the alarm


def test_night_time_emergency_text_does_not_promise_an_officer_now():
    night = text_of(Chat(in_hours=False).says("mẹ em khó thở"))
    day = text_of(Chat().says("mẹ em khó thở"))
    assert "ngoài giờ trực" in night and "cán bộ y tế trực" not in night and "đầu giờ trực" not in night
    assert "cán bộ y tế trực" in day and "ngoài giờ" not in day


def test_the_district_health_centre_number_only_when_staff_entered_it():
    said = Known(parses={"me tui kho tho o cau ke": P("health_advice", district="Huyện Cầu Kè")},
                 lines={"Huyện Cầu Kè": "Trung tâm Y tế huyện Cầu Kè (số 0294 3834 115)"})
    assert "0294 3834 115" in text_of(Chat(said).says("me tui kho tho o cau ke"))
    assert "Trung tâm Y tế" not in text_of(Chat().says("me tui kho tho"))  # never an invented number


def test_after_an_emergency_every_message_is_added_to_the_case_and_acknowledged_once_a_minute():
    known = Known(parses={"ấp Chợ, xã Hòa Ân, Cầu Kè": P("inform", district="Huyện Cầu Kè")})
    chat = Chat(known)
    chat.says("ba em khó thở, spo2 89")
    address = chat.says("ấp Chợ, xã Hòa Ân, Cầu Kè", after=10)
    assert AppendToCase("ấp Chợ, xã Hòa Ân, Cầu Kè", source="zalo:m1", district="Huyện Cầu Kè") in address.effects
    assert text_of(address) == texts.urgent_ack(True)
    quick = chat.says("nhanh giùm em", after=10)
    assert quick.replies == () and isinstance(quick.effects[0], AppendToCase)  # within the minute: no ack
    assert "115" in text_of(chat.says("115 ko nghe may", after=5))  # always answered
    assert text_of(chat.says("sao chưa ai trả lời", after=70)) == texts.urgent_ack(True)


def test_an_emergency_while_a_normal_hand_off_waits_raises_it_to_urgent():
    chat = Chat(Known(parses={"cho gặp cán bộ": P("ask_human")}))
    chat.says("cho gặp cán bộ")
    outcome = chat.says("ủa mà ba tui đang thở dốc")
    assert filed(outcome)[0].urgent and outcome.state.urgent and "115" in text_of(outcome)


@pytest.mark.parametrize("text, failed", [("goi 115 ko nghe may", True), ("115 khong ai bat may", True),
                                          ("gọi 115 hoài không được", True), ("tui đã gọi 115 rồi", False)])
def test_the_emergency_line_not_answering_is_understood(text, failed):
    assert emergency_line_failed(text) == failed


# ---- 2. the summary files only on a clear yes ---------------------------------------------------

NEVER_YES = ["khoan", "khoan đã", "đợi chút", "đừng gửi", "dung gui", "dừng lại", "dung lai", "stop", "không",
             "ko", "chưa", "sai rồi", "để tui coi lại", "de em hoi chong cai", "ok nhưng khoan", "gửi chưa?",
             "mai gửi", "thôi", "hủy", "sửa", "dung", "ủa sao vậy", "???", "ok đợi xíu", "u ma khoan"]
CLEAR_YES = ["đúng", "đúng rồi", "dung roi", "ok", "ok gửi đi", "gửi", "gui di", "uh", "ừ", "vâng", "chính xác",
             "dạ đúng rồi ạ", "chuẩn rồi gửi giùm tui nghen", "thông tin trên đúng rồi", "xác nhận"]


@pytest.mark.parametrize("answer", NEVER_YES)
def test_no_hesitation_or_question_at_the_summary_files_anything(answer):
    chat = at_report_summary(Known(parses={a: P("affirm", 0.99) for a in NEVER_YES}))  # even if the NLU said yes
    outcome = chat.says(answer)
    assert not filed(outcome)
    assert cues.summary_answer(answer, P("affirm", 0.99)) != cues.YES


@pytest.mark.parametrize("answer", CLEAR_YES)
def test_a_clear_yes_files_the_case(answer):
    [case] = filed(at_report_summary().says(answer))
    assert case.category == "report" and case.details["place"] == "ấp Chợ xã Long Đức"


def test_an_unclear_answer_is_asked_again_with_the_buttons_and_then_a_person_is_offered():
    chat = at_report_summary()
    for _ in range(2):
        outcome = chat.says("hả")
        assert text_of(outcome) == texts.NOT_SENT_UNCLEAR and choices(outcome) == forms.CONFIRM_CHOICES
    assert texts.PERSON_CHOICES[0] in choices(chat.says("hả"))
    assert chat.state.form is not None and not any(filed(o) for o in chat.outcomes)


def test_no_at_the_summary_asks_what_to_correct_and_wait_keeps_the_form():
    chat = at_report_summary()
    no = chat.says("không đúng")
    assert text_of(no) == texts.NOT_SENT_NO and no.state.form.asking == forms.ASKING_FIX
    assert chat.says("thời gian").state.form.asking == "time"
    chat = at_report_summary()
    wait = chat.says("khoan để tui hỏi lại")
    assert text_of(wait) == texts.NOT_SENT_WAIT and wait.state.form.asking == forms.ASKING_CONFIRM
    assert filed(chat.says("ok gửi đi"))


def test_the_buttons_mean_what_they_say():
    chat = at_report_summary()
    assert not filed(chat.says("Hủy", payload=forms.CANCEL)) and chat.state.form is None
    assert filed(at_report_summary().says("Gửi", payload=forms.CONFIRM))


# ---- 3. optional details can be declined -------------------------------------------------------

WELFARE = "nhà tui mất việc vì dịch, không có tiền mua gạo"
DECLINE_PHONE = ["tui không muốn để lại số", "tui hổng có điện thoại", "ko co sdt", "bỏ qua", "khỏi nha",
                 "thôi khỏi", "không có", "k", "con không xài điện thoại", "cho em ẩn danh"]


def at_welfare_phone() -> Chat:
    chat = Chat(Known(parses={WELFARE: P("welfare"), "Trần Thị Bé": P("inform", person_name="Trần Thị Bé")}))
    chat.says(WELFARE)
    chat.says("Trần Thị Bé")
    assert chat.state.form.asking == "phone"
    return chat


@pytest.mark.parametrize("answer", DECLINE_PHONE)
def test_a_declined_phone_never_hands_off_nor_cancels(answer):
    chat = at_welfare_phone()
    chat.known.parses[answer] = P("ask_human", 0.5)  # what the old model made of it
    outcome = chat.says(answer)
    assert outcome.state.form is not None and outcome.state.handler == "bot"
    assert outcome.state.form.asking == "place" and "phone" in outcome.state.form.declined
    assert text_of(outcome).startswith(texts.DECLINE_OK)


def test_a_declined_time_is_skipped_and_a_declined_required_detail_is_explained():
    known = Known(parses={"tôi muốn phản ánh": P("report")})
    chat = Chat(known)
    chat.says("tôi muốn phản ánh")
    chat.says("có đám cưới đông người không đeo khẩu trang")
    refused = chat.says("không biết")  # the place: needed to route the case
    assert refused.state.form.asking == "place" and texts.WHY_PLACE in text_of(refused)
    chat.says("ấp Chợ xã Long Đức")
    outcome = chat.says("không nhớ nữa")
    assert outcome.state.form.asking == forms.ASKING_CONFIRM and "time" in outcome.state.form.declined
    [case] = filed(chat.says("gửi"))
    assert "time" not in case.details


# ---- 4. each answer checked against its detail --------------------------------------------------

@pytest.mark.parametrize("asking, answer", [
    ("name", "sao phải cho tên vậy?"), ("name", "gạo với mì gói"), ("name", "ừ"), ("name", "ok"),
    ("phone", "Nguyễn Văn Tám"), ("phone", "cho em hỏi cái"), ("request", "ừ"), ("request", "dạ"),
    ("request", "được không?"), ("place", "ok"), ("place", "khi nào có người xuống?"), ("time", "ở đâu cũng được"),
])
def test_what_is_no_answer_is_not_stored(asking, answer):
    form = forms.Form("welfare" if asking in ("name", "phone", "request") else "report", asking=asking,
                      values={"description": "mất việc vì dịch"})
    chat = Chat(Known(parses={"0912345678": P("inform", phone="0912345678")}),
                Conversation("zalo", "u1", form=replace(form, updated_ts=NOW)))
    outcome = chat.says(answer)
    assert asking not in outcome.state.form.values and outcome.state.form.asking == asking
    assert outcome.state.form.retries == 1


@pytest.mark.parametrize("asking, answer, value", [
    ("name", "Trần Thị Bé", "Trần Thị Bé"), ("name", "tran thi be", "Tran Thi Be"), ("name", "Thạch Sa Rênh", "Thạch Sa Rênh"),
    ("request", "gạo với mì gói", "gạo với mì gói"), ("time", "tối nay lúc 7 giờ", "tối nay lúc 7 giờ"),
    ("time", "hồi chiều tầm 3h", "hồi chiều tầm 3h"), ("place", "ấp Cây Da gần chợ, số nhà 12", "ấp Cây Da gần chợ, số nhà 12"),
])
def test_real_answers_are_kept_in_the_citizens_words(asking, answer, value):
    form = forms.Form("welfare" if asking in ("name", "request") else "report", asking=asking,
                      values={"description": "mất việc vì dịch"}, updated_ts=NOW)
    outcome = Chat(state=Conversation("zalo", "u1", form=form)).says(answer)
    assert outcome.state.form.values[asking] == value


def test_a_detail_given_before_it_is_asked_is_kept_and_the_question_asked_again():
    chat = Chat(Known(parses={WELFARE: P("welfare"), "0912345678": P("inform", phone="0912345678"),
                              "ấp Chợ, xã Tân Hòa, Tiểu Cần": P("report", 0.56, commune=("Xã Tân Hòa, Huyện Tiểu Cần", "xã Tân Hòa"),
                                                                district=("Huyện Tiểu Cần", "Tiểu Cần"))}))
    chat.says(WELFARE)
    phone = chat.says("0912345678")
    address = chat.says("ấp Chợ, xã Tân Hòa, Tiểu Cần")
    declined = chat.says("e hong co dien thoai dau")  # the phone is already there: this says nothing new
    form = chat.state.form
    assert (form.asking, form.retries) == ("name", 1)
    assert form.values["phone"] == "0912345678" and form.values["place"] == "ấp Chợ, xã Tân Hòa, Tiểu Cần"
    assert form.district == "Huyện Tiểu Cần"
    assert text_of(phone).endswith(texts.ASK_NAME) and texts.noted(["Số điện thoại"]) in text_of(phone)
    assert texts.noted(["Địa chỉ"]) in text_of(address) and declined.replies
    no_phone = Chat(Known(parses={WELFARE: P("welfare")}))
    no_phone.says(WELFARE)
    assert "phone" in no_phone.says("tui hổng có điện thoại, xài chung máy bà già").state.form.declined


def test_a_detail_asked_again_twice_then_a_person_is_offered():
    chat = at_welfare_phone()
    for _ in range(2):
        assert texts.PERSON_CHOICES[0] not in choices(chat.says("Nguyễn Văn Tám"))
    assert texts.PERSON_CHOICES[0] in choices(chat.says("Nguyễn Văn Tám"))
    assert chat.state.handler == "bot"
    assert chat.says("Gặp cán bộ", payload="ASK_HUMAN").state.handler == "waiting"


# ---- 5. switching service mid-form --------------------------------------------------------------

def test_switching_from_a_report_to_welfare_carries_over_what_fits():
    switch = "thôi khỏi phản ánh, tui muốn xin hỗ trợ gạo vì mất việc"
    known = Known(parses={REPORT: REPORT_PARSE, "0912345678": P("inform", phone="0912345678"),
                          switch: P("welfare", 0.9, support_request="gạo")})
    chat = Chat(known)
    chat.says("tôi muốn phản ánh", payload="CATEGORY_report")
    chat.says(REPORT)
    assert chat.says("0912345678").state.form.values["phone"] == "0912345678"  # added at the summary
    outcome = chat.says(switch)
    form = outcome.state.form
    assert form.category == "welfare" and form.values["description"] == switch
    assert form.values["place"] == "ấp Chợ xã Long Đức" and form.values["request"] == "gạo"
    assert form.values["phone"] == "0912345678" and "time" not in form.values  # welfare asks no time
    assert form.asking == "name"


def test_a_short_answer_the_model_finds_service_like_is_no_switch():
    known = Known(parses={"tôi muốn phản ánh": P("report"), "ấp Chợ xã Long Đức": P("welfare", 0.7,
                                                                                   commune="Xã Long Đức")})
    chat = Chat(known)
    chat.says("tôi muốn phản ánh")
    chat.says("quán nhậu mở cửa bán cho khách ngồi")
    assert chat.says("ấp Chợ xã Long Đức").state.form.category == "report"


# ---- 6. withdrawing ----------------------------------------------------------------------------

def test_a_citizen_withdraws_the_case_just_filed_until_work_starts():
    chat = at_report_summary()
    chat.says("gửi")
    [case] = chat.known.cases
    outcome = chat.says("hủy hồ sơ vừa gửi giúp tui")
    assert outcome.effects == (Withdraw(case.code),) and case.code in text_of(outcome)
    assert texts.ALREADY_WITHDRAWN.format(code=case.code) == text_of(chat.says(f"rút lại {case.code}"))
    busy = Chat(Known(cases=[CaseView("TV-BBBBBB", "zalo:x", "report", "in_progress", NOW)]))
    refused = busy.says("tôi muốn rút đơn TV-BBBBBB")
    assert refused.effects == () and "TV-BBBBBB" in text_of(refused)


# ---- 7. health follow-ups ----------------------------------------------------------------------

def test_health_follow_ups_on_the_same_topic_the_same_day_go_onto_one_case():
    first, second, other = "con tui sốt 38 độ uống thuốc gì", "mà bé còn ho nữa", "tiêm mũi 3 ở đâu"
    chat = Chat(Known(parses={first: P("health_advice"), second: P("health_advice"), other: P("health_advice")}))
    [case] = filed(chat.says(first))
    follow = chat.says(second)
    assert not filed(follow) and isinstance(follow.effects[0], AppendToCase)
    assert chat.known.cases[0].code in text_of(follow)
    assert filed(chat.says(other))  # another topic: its own case
    assert filed(chat.says(first, after=86400))  # the next day: a new case


# ---- 8. off-topic and chit-chat ----------------------------------------------------------------

def test_chatter_gets_a_polite_answer_the_menu_once_and_never_reaches_staff():
    lines = {"trời nay mưa hông": P("out_of_scope"), "xổ số hôm nay về mấy": P("out_of_scope"),
             "bot ngu qua": P("insult"), "đm": P("insult", 0.5), "haha": P("nlu_fallback", 0.2)}
    chat = Chat(Known(parses=lines))
    outcomes = [chat.says(line) for line in list(lines) * 3]
    assert sum(texts.SERVICES in text_of(o) for o in outcomes) == 1
    assert all(o.state.handler == "bot" and not o.effects for o in outcomes)
    assert texts.INSULT_REPLY in text_of(outcomes[2])


def test_two_service_like_turns_not_understood_hand_off():
    chat = Chat()
    assert chat.says("cái vụ ở ấp hôm bữa tui nói á xử lý sao rồi").state.not_understood == 1
    assert chat.says("ở xã mình mấy bữa nay người ta tụ tập hoài").state.handler == "waiting"


# ---- 9. details are kept -----------------------------------------------------------------------

@pytest.mark.parametrize("text, named, words", [
    ("Tối qua ở khóm 3 phường 7 thành phố Trà Vinh có đám nhậu", ("phường 7", "thành phố Trà Vinh"),
     "khóm 3 phường 7 thành phố Trà Vinh"),
    ("Tôi tên Tám, ở ấp Chợ, xã Đại Phước, huyện Càng Long, sđt 0912345678", ("xã Đại Phước", "huyện Càng Long"),
     "ấp Chợ, xã Đại Phước, huyện Càng Long"),
    ("quán số 12 đường Nguyễn Đáng, phường 7, gần chợ, mở cửa", ("phường 7",),
     "quán số 12 đường Nguyễn Đáng, phường 7, gần chợ"),
])
def test_a_place_keeps_the_hamlet_house_number_and_landmark(text, named, words):
    entities = [{"entity": "commune", "value": "X", "start": text.index(w), "end": text.index(w) + len(w)} for w in named]
    assert forms.place_words(text, entities) == words


# ---- 10. Khmer ------------------------------------------------------------------------------------

def test_khmer_script_is_handed_to_a_person_with_a_khmer_sentence():
    outcome = Chat().says("ខ្ញុំចង់សួរអំពីការជួយឧបត្ថម្ភ")
    assert outcome.state.handler == "waiting" and texts.KHMER["handoff"] in text_of(outcome)
    assert texts.KHMER["handoff"] and "reviewed_by" in texts.KHMER


# ---- 11. lookups ---------------------------------------------------------------------------------

def test_a_forgotten_code_lists_the_accounts_cases_and_an_invalid_code_is_told_so():
    cases = [CaseView("TV-8HK3MA", "zalo:a", "report", "routed", NOW - 100),
             CaseView("TV-9JK4MB", "zalo:b", "welfare", "resolved", NOW - 50)]
    chat = Chat(Known(cases=cases))
    listing = text_of(chat.says("em quên mã rồi"))
    assert "TV-8HK3MA" in listing and "TV-9JK4MB" in listing and texts.STATUS_NAMES["resolved"] in listing
    assert text_of(Chat().says("quen ma ho so")) == texts.NO_OWN_CASES
    assert "không hợp lệ" in text_of(chat.says("TV-12345"))
    assert "không hợp lệ" in text_of(chat.says("tra cứu tv-8hk3m0"))
    assert texts.case_status("TV-8HK3MA", "report", "routed") in text_of(chat.says("TV-8HK3MA"))


def test_a_stranger_sees_a_case_only_with_its_phone():
    case = CaseView("TV-8HK3MA", "facebook:a", "report", "routed", NOW, channel="facebook", user_id="x",
                    phone="0912345678")
    known = Known(parses={"TV-8HK3MA 0912345678": P("check_status", phone="0912345678")})
    stranger = Chat(known)
    known.case = lambda code: case if code == case.code else None
    assert text_of(stranger.says("TV-8HK3MA")) == texts.CASE_NOT_FOUND.format(code="TV-8HK3MA")
    assert "hiện" in text_of(stranger.says("TV-8HK3MA 0912345678"))


# ---- the hand-off waits, and the chat comes back ---------------------------------------------------

def test_a_normal_hand_off_is_acknowledged_once_in_ten_minutes_until_someone_takes_it():
    chat = Chat(Known(parses={"cho gặp cán bộ": P("ask_human")}))
    chat.says("cho gặp cán bộ")
    assert text_of(chat.says("alo")) == texts.handoff_ack(True, "07:00-21:00")
    assert chat.says("có ai không").replies == ()
    assert chat.says("alo alo", after=601).replies != ()
    chat.state = replace(chat.state, handler="staff")  # claimed in the console
    assert chat.says("dạ", after=700).replies == ()


def test_after_the_quiet_period_the_bot_answers_again():
    chat = Chat(Known(parses={"cho gặp cán bộ": P("ask_human"), "xin chào": P("greet")}))
    chat.says("cho gặp cán bộ")
    outcome = chat.says("xin chào", after=241 * 60)
    assert outcome.state.handler == "bot" and text_of(outcome) == texts.GREETING


@pytest.mark.parametrize("hours, local, staffed", [
    ("07:00-21:00", "20:59", True), ("07:00-21:00", "21:00", False), ("22:00-06:00", "23:30", True),
    ("22:00-06:00", "05:59", True), ("22:00-06:00", "12:00", False), ("00:00-00:00", "03:00", True),
])
def test_working_hours(hours, local, staffed):
    from datetime import datetime

    from bot.hours import VIETNAM, in_working_hours, parse_working_hours
    now = datetime.fromisoformat(f"2026-11-27T{local}").replace(tzinfo=VIETNAM)
    assert in_working_hours(parse_working_hours(hours), now) == staffed


# ---- what trying it the way people type found ------------------------------------------------------

def test_a_short_word_the_model_reads_as_cancel_never_drops_the_form():
    chat = at_welfare_phone()
    chat.known.parses["gui"] = P("cancel", 0.56)
    assert chat.says("gui").state.form is not None
    assert chat.says("thôi hủy đi").state.form is None


def test_someone_there_is_greeted_not_acknowledged():
    outcome = Chat(Known(parses={"co ai ko": P("deny", 0.7)})).says("co ai ko")
    assert text_of(outcome) == texts.GREETING and choices(outcome) == texts.SERVICE_CHOICES


@pytest.mark.parametrize("text", ["cho hoi dam cuoi 50 nguoi co dc to chuc ko", "đi ra ruộng có vi phạm không?",
                                  "ko deo khau trang bi phat bao nhieu vay"])
def test_a_rule_question_goes_to_staff_even_when_the_model_cannot_read_it(text):
    """With no published answer it waits on staff's list (issue 13); the bot stays at hand meanwhile."""
    outcome = Chat().says(text)
    assert outcome.effects == (RecordQuestion(text),) and outcome.state.handler == "bot"
    assert text_of(outcome) == texts.question_noted(True, "07:00-21:00")


def test_withdrawing_with_nothing_filed_says_so():
    assert text_of(Chat().says("em gui nham, huy ho so vua gui giup em")) == texts.NO_CASE_TO_WITHDRAW


def test_declining_the_offered_phone_at_the_summary_is_fine():
    chat = at_report_summary()
    outcome = chat.says("tui ko muon de lai so dt")
    assert text_of(outcome).startswith(texts.DECLINE_OK) and outcome.state.form.asking == forms.ASKING_CONFIRM
    assert not filed(outcome) and filed(chat.says("gửi"))


def test_a_symptom_follow_up_the_model_misreads_still_goes_onto_the_health_case():
    first = "tui bi sot 3 ngay nay, ho khan, mat vi, co can di test ko"
    chat = Chat(Known(parses={first: P("health_advice"), "gio con dau hong nua": P("cancel", 0.47)}))
    chat.says(first)
    follow = chat.says("gio con dau hong nua")  # "họng" typed "hong" reads like "không"
    assert isinstance(follow.effects[0], AppendToCase)


# ---- questions answered from the knowledge base staff keep (issue 13) ------------------------------

WEDDING = "cho hoi dam cuoi 50 nguoi co dc to chuc ko"
WEDDING_ANSWER = Answer("dam-cuoi", "Số người tụ tập tùy cấp độ dịch của xã.", "Nghị quyết 128/NQ-CP (Chính phủ)",
                        "https://vanban.chinhphu.vn", "20/11/2026", 0.4)


def test_a_question_with_a_published_answer_gets_it_with_source_date_and_a_way_to_a_person():
    known = Known(answers={WEDDING: WEDDING_ANSWER})
    outcome = Chat(known).says(WEDDING)
    assert text_of(outcome) == texts.knowledge_answer(WEDDING_ANSWER.text, WEDDING_ANSWER.source, WEDDING_ANSWER.url,
                                                      "20/11/2026")
    assert "Theo Nghị quyết 128/NQ-CP (Chính phủ), cập nhật 20/11/2026" in text_of(outcome)
    assert choices(outcome) == texts.ASK_STAFF_CHOICES
    assert outcome.effects == (RecordQuestion(WEDDING, None, "dam-cuoi", 0.4),)
    assert outcome.state.handler == "bot" and outcome.state.last_question == "zalo:m1"


def test_asking_a_person_after_an_answer_puts_that_question_on_staffs_list():
    chat = Chat(Known(answers={WEDDING: WEDDING_ANSWER}))
    chat.says(WEDDING)
    outcome = chat.says("Hỏi cán bộ", payload=texts.ASK_STAFF)
    assert outcome.effects == (AskStaff("zalo:m1"),) and outcome.state.last_question is None
    assert text_of(outcome) == texts.question_noted(True, "07:00-21:00") and outcome.state.handler == "bot"
    assert chat.says("Hỏi cán bộ", payload=texts.ASK_STAFF).state.handler == "waiting"  # nothing left: a person


def test_the_question_is_looked_up_for_the_district_named_or_else_the_one_of_the_latest_case():
    known = Known(parses={"tiem mui 3 o tieu can o dau": P("health_advice", district="Huyện Tiểu Cần")},
                  cases=[CaseView("TV-AAAAAA", "zalo:x", "welfare", "routed", NOW - 100, district="Huyện Cầu Kè")])
    chat = Chat(known)
    chat.says("tiem mui 3 o tieu can o dau")
    chat.says("chích mũi 3 ở đâu vậy?")
    assert [(q, d) for q, d, _ in known.looked_up] == [("tiem mui 3 o tieu can o dau", "Huyện Tiểu Cần"),
                                                       ("chích mũi 3 ở đâu vậy?", "Huyện Cầu Kè")]
    assert known.looked_up[0][2].isoformat() == "2023-11-15"  # 22:13 UTC: already the 15th in Vietnam


def test_a_health_question_about_no_ones_symptoms_is_answered_without_a_case_symptoms_get_guidance_and_one():
    question, symptoms = "f0 cach ly may ngay", "con tui sot 39 do co can cach ly ko"
    answer = replace(WEDDING_ANSWER, entry_id="f0-cach-ly")
    known = Known(parses={question: P("health_advice"), symptoms: P("health_advice")},
                  answers={question: answer, symptoms: answer})
    chat = Chat(known)
    answered = chat.says(question)
    assert not filed(answered) and answered.effects[0].entry_id == "f0-cach-ly"
    guided = chat.says(symptoms)
    assert filed(guided) and "SpO2" in text_of(guided)


def test_a_question_the_model_takes_for_a_service_is_answered_with_that_service_one_tap_away():
    question = "ban ve so co dc ho tro ko"
    known = Known(parses={question: P("welfare")}, answers={question: replace(WEDDING_ANSWER, entry_id="nq68")})
    outcome = Chat(known).says(question)
    assert not outcome.state.form and choices(outcome) == texts.ASK_STAFF_CHOICES + (("Hỗ trợ an sinh", "CATEGORY_welfare"),)
    unanswered = Chat(Known(parses={question: P("welfare")})).says(question)
    assert unanswered.effects == (RecordQuestion(question),) and choices(unanswered) == (("Hỗ trợ an sinh", "CATEGORY_welfare"),)
    request = "nha e kho khan qua, xin ho tro gao dc ko?"  # a request, politely asked: the form
    assert Chat(Known(parses={request: P("welfare")})).says(request).state.form.category == "welfare"


def test_danger_signs_beat_a_published_answer():
    question = "me tui kho tho qua co duoc di vien ko"
    outcome = Chat(Known(answers={question: WEDDING_ANSWER})).says(question)
    assert filed(outcome)[0].urgent and "115" in text_of(outcome)


def test_a_question_mid_form_is_answered_or_put_on_staffs_list_and_the_detail_asked_again():
    chat = at_welfare_phone()
    chat.known.answers["tien an f0 dc bao nhieu 1 ngay?"] = replace(WEDDING_ANSWER, entry_id="tien-an")
    answered = chat.says("tien an f0 dc bao nhieu 1 ngay?")
    assert WEDDING_ANSWER.text in text_of(answered) and texts.ASK_PHONE in text_of(answered).split("\n\n")[-1]
    assert answered.effects == (RecordQuestion("tien an f0 dc bao nhieu 1 ngay?", None, "tien-an", 0.4),)
    waiting = chat.says("con vay von ngan hang thi sao?")
    assert texts.QUESTION_LATER in text_of(waiting) and waiting.effects == (RecordQuestion("con vay von ngan hang thi sao?"),)
    assert waiting.state.form.asking == "phone"


def test_a_rule_question_the_model_takes_for_a_service_goes_to_staff_with_the_service_one_tap_away():
    question = "cho em hỏi đăng ký kết hôn trong mùa dịch có được không"
    outcome = Chat(Known(parses={question: P("welfare", 0.69)})).says(question)
    assert outcome.state.form is None and outcome.effects == (RecordQuestion(question),)
    assert choices(outcome) == (("Hỗ trợ an sinh", "CATEGORY_welfare"),)
