"""Whole conversations, as citizens have them on Zalo and on Messenger (issue 5): signed webhook
posts, the worker, the real NLU model and database, and the bot's answers as the fake platform
received them. Each category is filed from a first message with everything, built up from a
first message with nothing, corrected, cancelled and left to expire; then status lookups, and
every hand-off trigger followed by the bot's silence while people hold the chat."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest

from bot import texts
from bot.config import Settings
from bot.routing import RoutingTable
from tests.helpers import Citizen

CODE = re.compile(r"TV-[A-HJ-NP-Z2-9]{6}")
SITE = Settings.from_env({}).public_url  # the tests' PUBLIC_URL: the default


def sent(text: str) -> str:
    """A text as the citizen gets it: the site's address in."""
    return text.replace(texts.SITE, SITE)
ROUTES = RoutingTable.load()


@pytest.fixture(params=["zalo", "facebook"])
def platform(request):
    return request.param


@pytest.fixture
def people(platform, client, worker, fake_zalo, fake_graph):
    fake = fake_zalo if platform == "zalo" else fake_graph
    return lambda user_id: Citizen(platform, user_id, client, worker, fake)


@pytest.fixture
def citizen(people):
    return people("1846213557390112")


def the_case(repository) -> dict:
    [case] = list(repository.cases.find())
    return case


def assert_filed(reply: list[str], case: dict) -> None:
    assert reply == [sent(texts.case_filed(case["category"], case["code"]))]
    assert CODE.fullmatch(case["code"])


def assert_routed(case: dict, category: str, district: str | None) -> None:
    route = ROUTES.route(category, district)
    assert (case["category"], case["district"], case["agency"], case["agency_name"], case["status"]) == (
        category, district, route.agency, route.agency_name, "routed")


# ---- the three categories with a form ---------------------------------------------------------

@dataclass(frozen=True)
class Scenario:
    everything: str                 # a first message that gives every detail the form can understand
    asked_after_everything: tuple   # what the bot still asks for then (and the citizen's answers)
    district: str | None
    details: dict                   # the case's details after the "everything" conversation
    opener: str                     # a first message that gives nothing but the wish
    asked_from_nothing: tuple       # (question, answer) in the order the bot asks them
    nothing_district: str | None
    correction: tuple               # (field label typed, its question, new answer, field, value, district)


SCENARIOS = {
    "report": Scenario(
        everything="Tối qua ở khóm 3 phường 7 thành phố Trà Vinh có đám nhậu đông người không đeo khẩu trang, "
                   "sđt 0912345678",
        asked_after_everything=(),
        district="Thành phố Trà Vinh",
        details={"place": "khóm 3 phường 7 thành phố Trà Vinh", "commune": "Phường 7, Thành phố Trà Vinh",
                 "time": "tối qua", "phone": "0912345678"},
        opener="tôi muốn phản ánh",
        asked_from_nothing=((texts.ASK_DETAILS["report"], "có nhóm thanh niên tụ tập nhậu đông người không đeo khẩu trang"),
                            (texts.ASK_PLACE, "ấp Chợ, xã Long Đức, thành phố Trà Vinh"),
                            (texts.ASK_TIME, "khoảng 9 giờ tối qua")),
        nothing_district="Thành phố Trà Vinh",
        correction=("địa điểm", texts.ASK_PLACE, "ấp Chợ xã Tân An huyện Càng Long",
                    "place", "ấp Chợ xã Tân An huyện Càng Long", "Huyện Càng Long"),
    ),
    "suggestion": Scenario(
        everything="Tôi góp ý nên mở thêm điểm tiêm vắc xin buổi tối cho công nhân, số điện thoại 0912345678",
        asked_after_everything=(),
        district=None,
        details={"phone": "0912345678"},
        opener="tôi muốn góp ý",
        asked_from_nothing=((texts.ASK_DETAILS["suggestion"], "nên kéo dài giờ mở cửa chợ để tránh đông người"),),
        nothing_district=None,
        correction=("nội dung", texts.ASK_DETAILS["suggestion"], "nên mở thêm điểm bán hàng lưu động ở khu cách ly",
                    "description", "nên mở thêm điểm bán hàng lưu động ở khu cách ly", None),
    ),
    "welfare": Scenario(
        # The situation (the whole message is the "Hoàn cảnh"), the name and the request: nothing asked again.
        everything="Tôi tên Nguyễn Văn Tám, ở ấp Chợ, xã Đại Phước, huyện Càng Long, sđt 0912345678, mất việc do "
                   "dịch, xin hỗ trợ gạo và tiền mặt",
        asked_after_everything=(),
        district="Huyện Càng Long",
        details={"name": "Nguyễn Văn Tám", "phone": "0912345678", "place": "ấp Chợ, xã Đại Phước, huyện Càng Long",
                 "commune": "Xã Đại Phước, Huyện Càng Long", "request": "gạo và tiền mặt"},
        opener="tôi muốn xin hỗ trợ",
        asked_from_nothing=((texts.ASK_DETAILS["welfare"], "nhà tôi mất việc vì dịch, không có tiền mua gạo"),
                            (texts.ASK_NAME, "Trần Thị Bé"),
                            (texts.ASK_PHONE, "0912345678"),
                            (texts.ASK_ADDRESS, "ấp Kinh Xáng xã Nhị Long huyện Càng Long"),
                            (texts.ASK_REQUEST, "xin hỗ trợ gạo và thực phẩm")),
        nothing_district="Huyện Càng Long",
        correction=("số điện thoại", texts.ASK_PHONE, "0987654321", "phone", "0987654321", "Huyện Càng Long"),
    ),
}
FORM_CATEGORIES = pytest.mark.parametrize("category", SCENARIOS)


def reach_the_summary(citizen: Citizen, category: str) -> str:
    """The first message with everything, then the answers to whatever is still asked."""
    scenario = SCENARIOS[category]
    replies = citizen.says(scenario.everything)
    for question, answer in scenario.asked_after_everything:
        assert replies == [question]
        replies = citizen.says(answer)
    [summary] = replies
    assert summary.startswith(f"Anh/chị kiểm tra lại {texts.CATEGORY_NAMES[category]}:")
    assert summary.endswith(texts.CONFIRM_HINT)
    return summary


@FORM_CATEGORIES
def test_a_first_message_with_everything_is_summarized_confirmed_and_filed(category, citizen, repository):
    scenario = SCENARIOS[category]
    summary = reach_the_summary(citizen, category)
    for field, value in scenario.details.items():  # nothing already given was asked again: all in the summary
        assert field == "commune" or value in summary
    assert repository.cases.count_documents({}) == 0  # not before the citizen confirms
    reply = citizen.says("đúng")
    case = the_case(repository)
    assert_filed(reply, case)
    assert_routed(case, category, scenario.district)
    assert (case["channel"], case["user_id"]) == (citizen.platform, citizen.user_id)
    assert case["description"] == scenario.everything and case["details"] == scenario.details
    assert repository.conversation(citizen.platform, citizen.user_id).get("form") is None


@FORM_CATEGORIES
def test_a_first_message_with_nothing_gets_each_detail_asked_in_turn(category, citizen, repository):
    scenario = SCENARIOS[category]
    said = scenario.opener
    for question, answer in scenario.asked_from_nothing:
        assert citizen.says(said) == [question]
        said = answer
    [summary] = citizen.says(said)
    assert texts.NOT_GIVEN not in summary.replace(f"Số điện thoại liên hệ: {texts.NOT_GIVEN}", "")
    reply = citizen.says("đúng")
    case = the_case(repository)
    assert_filed(reply, case)
    assert_routed(case, category, scenario.nothing_district)
    description = scenario.asked_from_nothing[0][1]  # the opener itself says nothing that happened
    assert case["description"] == description and scenario.opener not in summary


@FORM_CATEGORIES
def test_a_detail_corrected_at_the_summary_is_filed_corrected(category, citizen, repository):
    label, question, answer, field, value, district = SCENARIOS[category].correction
    reach_the_summary(citizen, category)
    assert citizen.says("sửa") == [texts.ASK_WHICH_FIELD]
    assert citizen.says(label) == [question]
    [summary] = citizen.says(answer)
    assert value in summary and summary.endswith(texts.CONFIRM_HINT)
    reply = citizen.says("đúng")
    case = the_case(repository)
    assert_filed(reply, case)
    assert (case["description"] if field == "description" else case["details"][field]) == value
    assert_routed(case, category, district)


WELFARE_QUESTIONS = (texts.ASK_DETAILS["welfare"], texts.ASK_NAME, texts.ASK_PHONE, texts.ASK_ADDRESS,
                     texts.ASK_REQUEST)


@pytest.mark.parametrize("everything, situation, details, district", [
    (SCENARIOS["welfare"].everything, "mất việc", SCENARIOS["welfare"].details, "Huyện Càng Long"),
    ("Họ và tên: Thạch Thị Sa Rênh, khóm 2 phường 1 thị xã Duyên Hải, hộ nghèo, chồng mất việc, "
     "cần hỗ trợ tiền mặt, đt 0987654321", "hộ nghèo",
     {"name": "Thạch Thị Sa Rênh", "phone": "0987654321", "place": "khóm 2 phường 1 thị xã Duyên Hải",
      "commune": "Phường 1, Thị xã Duyên Hải", "request": "tiền mặt"}, "Thị xã Duyên Hải"),
], ids=["kinh", "khmer"])
def test_welfare_details_in_the_first_message_are_not_asked_again(everything, situation, details, district,
                                                                  citizen, repository):
    [summary] = citizen.says(everything)
    assert not any(question in summary for question in WELFARE_QUESTIONS)
    assert summary.splitlines()[1:6] == [f"- Hoàn cảnh: {everything}", f"- Họ và tên: {details['name']}",
                                         f"- Số điện thoại: {details['phone']}", f"- Địa chỉ: {details['place']}",
                                         f"- Đề nghị hỗ trợ: {details['request']}"]
    assert situation in summary.splitlines()[1]
    assert_filed(citizen.says("đúng"), case := the_case(repository))
    assert (case["description"], case["details"]) == (everything, details)
    assert_routed(case, "welfare", district)


def test_a_detail_named_with_sua_is_asked_again_at_once(citizen, repository):
    reach_the_summary(citizen, "report")
    assert citizen.says("sửa thời gian") == [texts.ASK_TIME]
    assert texts.ASK_TIME not in citizen.says("sáng nay lúc 7 giờ")[0]
    citizen.says("gửi")  # what Messenger's button says, typed
    assert the_case(repository)["details"]["time"] == "sáng nay lúc 7 giờ"  # the hour is kept


@FORM_CATEGORIES
def test_cancel_at_the_summary_files_nothing(category, citizen, repository):
    reach_the_summary(citizen, category)
    assert citizen.says("hủy") == [texts.FORM_CANCELLED]
    assert citizen.says("đúng") == [texts.ACKNOWLEDGED]  # nothing left to confirm
    assert repository.cases.count_documents({}) == 0
    assert repository.conversation(citizen.platform, citizen.user_id).get("form") is None


@FORM_CATEGORIES
def test_a_form_left_past_the_timeout_expires_and_files_nothing(category, citizen, repository, settings):
    reach_the_summary(citizen, category)
    conversation = repository.conversation(citizen.platform, citizen.user_id)
    timeout = settings.form_timeout_minutes * 60
    repository.update_conversation(citizen.platform, citizen.user_id,  # the citizen left for longer than that
                                   form={**conversation["form"], "updated_ts": time.time() - timeout - 5})
    assert citizen.says("đúng") == [f"{texts.FORM_EXPIRED}\n\n{texts.ACKNOWLEDGED}"]
    assert repository.cases.count_documents({}) == 0
    assert repository.conversation(citizen.platform, citizen.user_id).get("form") is None


def test_a_form_answered_just_within_the_timeout_is_kept(citizen, repository, settings):
    reach_the_summary(citizen, "suggestion")
    conversation = repository.conversation(citizen.platform, citizen.user_id)
    timeout = settings.form_timeout_minutes * 60
    repository.update_conversation(citizen.platform, citizen.user_id,
                                   form={**conversation["form"], "updated_ts": time.time() - timeout + 60})
    reply = citizen.says("đúng")
    assert_filed(reply, the_case(repository))


# ---- health advice: guidance and a case at once, no form ------------------------------------

def test_a_health_question_gets_guidance_and_a_case_without_a_form(citizen, repository):
    question = "tôi ở huyện Cầu Kè, bị sốt có cần đi xét nghiệm không"
    [reply] = citizen.says(question)
    case = the_case(repository)
    assert reply == f"{texts.HEALTH_GUIDANCE['testing']} {texts.HEALTH_DISCLAIMER}\n\n" + \
        sent(texts.case_filed("health_advice", case["code"]))
    assert_routed(case, "health_advice", "Huyện Cầu Kè")
    assert (case["description"], case["priority"]) == (question, "normal")
    conversation = repository.conversation(citizen.platform, citizen.user_id)
    assert conversation.get("form") is None and conversation["handler"] == "bot"


def test_asking_for_health_advice_with_no_question_asks_for_it_first(citizen, repository):
    assert citizen.says("tôi muốn được tư vấn sức khỏe") == [texts.ASK_DETAILS["health_advice"]]
    assert repository.cases.count_documents({}) == 0
    [reply] = citizen.says("tôi bị sốt nhẹ và ho, cách ly tại nhà thì phải làm sao")
    case = the_case(repository)
    assert texts.HEALTH_GUIDANCE["home_care"] in reply and case["code"] in reply
    assert_routed(case, "health_advice", None)


@pytest.mark.parametrize("platform", ["facebook"])  # Zalo consultation messages have no buttons
def test_the_health_button_asks_for_the_question(citizen, repository):
    assert citizen.says("Tư vấn sức khỏe", payload="CATEGORY_health_advice") == [texts.ASK_DETAILS["health_advice"]]
    assert repository.conversation(citizen.platform, citizen.user_id).get("form") is None
    assert "TV-" in citizen.says("con tôi sốt 38 độ, có cần đi xét nghiệm không")[0]
    assert_routed(the_case(repository), "health_advice", None)


def test_danger_signs_get_emergency_advice_an_urgent_case_and_a_person(citizen, repository):
    [reply] = citizen.says("bố tôi khó thở, spo2 91")
    case = the_case(repository)
    assert reply.startswith(texts.EMERGENCY_ADVICE)
    assert f"hồ sơ khẩn {case['code']}" in reply and "115" in reply
    assert (case["category"], case["priority"], case["agency"]) == ("health_advice", "urgent", "cdc")
    assert case["due_ts"] - case["created_ts"] == pytest.approx(3600, abs=5)
    conversation = repository.conversation(citizen.platform, citizen.user_id)
    assert (conversation["handler"], conversation["handoff_reason"], conversation["handoff_priority"]) == (
        "waiting", "urgent_health", "urgent")
    # until a person answers, the citizen hears back (once a minute), and what they add reaches the case
    assert citizen.says("ấp Chợ, xã Tân An, huyện Càng Long") == [texts.urgent_ack(True)]
    assert citizen.says("alo, tổng đài ơi") == []
    added = [e["note"] for e in repository.case_history(case["code"]) if e["by"] == "citizen"]
    assert added == ["ấp Chợ, xã Tân An, huyện Càng Long", "alo, tổng đài ơi"]
    assert repository.find_case(case["code"])["district"] == "Huyện Càng Long"  # routed to where the patient is


# ---- status lookups: the owner sees the case, a stranger learns nothing ------------------------

def test_the_owner_looks_up_their_case_and_a_stranger_learns_nothing(citizen, people, repository):
    reach_the_summary(citizen, "report")
    citizen.says("đúng")
    case = the_case(repository)
    status = sent(texts.case_status(case["code"], "report", "routed", case["agency_name"]))
    assert f"đã chuyển cơ quan chức năng: {case['agency_name']}.\n" in status
    assert status.endswith(f"{SITE}/tra-cuu?ma={case['code']}")
    assert citizen.says(f"tra cứu {case['code']}") == [status]
    assert citizen.says(case["code"]) == [status]
    assert citizen.says(case["code"].lower().replace("-", " ")) == [status]
    stranger = people("9990001112223334")
    for line in (f"tra cứu {case['code']}", case["code"]):
        assert stranger.says(line) == [texts.CASE_NOT_FOUND.format(code=case["code"])]
    told_the_stranger = " ".join(stranger.fake.texts_to(stranger.user_id))
    assert case["agency_name"] not in told_the_stranger and "nhậu" not in told_the_stranger
    assert repository.find_case(case["code"])["status"] == "routed"  # looking up changes nothing


def test_a_lookup_without_a_code_lists_the_accounts_own_cases(citizen, repository):
    assert citizen.says("cho tôi tra cứu hồ sơ") == [texts.NO_OWN_CASES]
    reach_the_summary(citizen, "report")
    citizen.says("đúng")
    case = the_case(repository)
    [listing] = citizen.says("quên mã hồ sơ rồi")
    assert case["code"] in listing and texts.STATUS_NAMES["routed"] in listing


# ---- hand-off: every trigger, then silence until the chat is handed back ----------------------

def ask_for_a_person(citizen):
    [reply] = citizen.says("cho tôi gặp cán bộ")
    assert reply.startswith(texts.HANDOFF_REASONS["ask_human"])


def not_understood_twice(citizen):
    """Only turns that look like a request count: chatter never reaches the staff queue."""
    [chatter] = citizen.says("🙏🙏🙏")
    assert texts.OFF_TOPIC_REPLY in chatter
    assert citizen.says("ấp qwrtz xã zxcvb huyện lkjhg") == [texts.NOT_UNDERSTOOD]
    [reply] = citizen.says("ấp zxqw xã vbnm mnbv huyện poiuy")
    assert reply.startswith(texts.HANDOFF_REASONS["not_understood"])


def write_in_khmer(citizen):
    [reply] = citizen.says("ខ្ញុំចង់សួរអំពីការជួយឧបត្ថម្ភ")
    assert reply.startswith(texts.HANDOFF_REASONS["khmer"])


def report_danger_signs(citizen):
    [reply] = citizen.says("ba tui thở dốc, môi tím tái")
    assert reply.startswith(texts.EMERGENCY_ADVICE) and "hồ sơ khẩn TV-" in reply


def staff_answer_from_the_platform(citizen):
    citizen.is_answered_by_staff("Chào anh/chị, em là cán bộ trực tổng đài, em hỗ trợ anh/chị ngay ạ.")


HANDOFFS = {  # trigger -> (reason recorded, who holds the chat)
    ask_for_a_person: ("ask_human", "waiting"),
    not_understood_twice: ("not_understood", "waiting"),
    write_in_khmer: ("khmer", "waiting"),
    report_danger_signs: ("urgent_health", "waiting"),
    staff_answer_from_the_platform: (None, "staff"),
}
ACKNOWLEDGED_ONCE = {"ask_human": texts.handoff_ack(True, "07:00-21:00"), "urgent_health": texts.urgent_ack(True)}


@pytest.mark.parametrize("trigger", HANDOFFS, ids=lambda trigger: trigger.__name__)
def test_after_a_hand_off_the_bot_is_silent_until_the_chat_is_handed_back(trigger, citizen, repository):
    sent_before = len(citizen.fake.received)
    trigger(citizen)
    reason, handler = HANDOFFS[trigger]
    conversation = repository.conversation(citizen.platform, citizen.user_id)
    assert conversation["handler"] == handler
    if reason:
        assert conversation["handoff_reason"] == reason
    else:
        assert len(citizen.fake.received) == sent_before  # the staff's own message draws no bot reply
    # Until a person answers, the first message is acknowledged (then at most once a minute when
    # urgent, every ten minutes otherwise); once a person answered, nothing at all goes out.
    first = citizen.says("xin chào")
    assert first == ([] if reason is None else [ACKNOWLEDGED_ONCE.get(reason, texts.handoff_ack(True, "07:00-21:00"))])
    sent = len(citizen.fake.received)
    for line in ("tôi muốn phản ánh", "cho tôi gặp cán bộ", "tra cứu TV-ABCDEF"):
        assert citizen.says(line) == []
    assert len(citizen.fake.received) == sent
    assert repository.conversation(citizen.platform, citizen.user_id)["handler"] == handler
    assert repository.conversation(citizen.platform, citizen.user_id).get("form") is None  # no form begun
    repository.set_handler(citizen.platform, citizen.user_id, "bot")
    assert citizen.says("xin chào") == [texts.GREETING]


def test_a_hand_off_in_the_middle_of_a_form(citizen, repository):
    assert citizen.says("tôi muốn phản ánh") == [texts.ASK_DETAILS["report"]]
    ask_for_a_person(citizen)
    assert repository.conversation(citizen.platform, citizen.user_id)["handler"] == "waiting"
    assert citizen.says("có đám cưới đông người ở ấp Chợ") == [texts.handoff_ack(True, "07:00-21:00")]
    assert citizen.says("ở xã Long Đức") == []
    assert repository.cases.count_documents({}) == 0


def test_a_detail_named_at_the_which_field_step_is_no_request_for_a_person(citizen, repository):
    """"số điện thoại" sounds to the model like asking for a person: at that step it names a field."""
    reach_the_summary(citizen, "suggestion")
    assert citizen.says("sai rồi") == [texts.NOT_SENT_NO]
    assert citizen.says("số điện thoại") == [texts.ASK_PHONE]
    assert repository.conversation(citizen.platform, citizen.user_id)["handler"] == "bot"
    assert "0987654321" in citizen.says("0987654321")[0]

