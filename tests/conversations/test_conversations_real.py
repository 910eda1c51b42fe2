"""Conversations as people in Trà Vinh really type them (issue 11), each run on Zalo and on
Messenger through the signed webhooks, the worker, the real NLU model and the real database.

The conversations are data, in tests/conversations/*.yml (format: README.md next to this file).
The bot's answers are checked through the named markers below, never by their exact text: when
the wording changes, adjust a regex in MARKERS, never a conversation."""
from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from bot import cases
from bot.config import Settings
from nlu.text import strip_diacritics
from tests.conftest import environment_for_tests
from tests.helpers import Citizen

# What each kind of answer must contain, searched case-insensitively in everything the bot sent
# the citizen for one message (the replies joined by new lines).
MARKERS = {
    "emergency": r"\b115\b",                                   # call the ambulance now
    "filed": r"TV-(?!X{6})[A-HJ-NP-Z2-9]{6}",                  # a case code handed out (not "TV-XXXXXX")
    "summary": r"kiểm tra lại",                                # the summary before sending
    "asks_confirm": r"để gửi|gửi (đi )?không|có gửi|xác nhận",  # "send it?" (with the buttons)
    "asks_details": r"vui lòng (mô tả|nhắn nội dung|cho biết hoàn cảnh)",
    "asks_place": r"ở đâu|cho biết địa chỉ",
    "asks_time": r"khi nào|lúc nào|mấy giờ|thời gian nào",
    "asks_name": r"(cho biết|xin|nhắn)[^.?\n]{0,30}(họ và tên|họ tên)",
    "asks_phone": r"(cho biết|xin|để lại|nhắn)[^.?\n]{0,30}số điện thoại",
    "asks_request": r"hỗ trợ (những )?gì",
    "menu": r"phản ánh vi phạm[\s\S]*góp ý[\s\S]*(hỗ trợ|an sinh)[\s\S]*tư vấn sức khỏe",
    "handoff": r"chuyển[^.\n]{0,60}cán bộ|cán bộ[^.\n]{0,30}(sẽ|có thể) (trả lời|nhắn)",  # a person will answer
    "offers_person": r"cán bộ",                                # a person is offered (or given)
    "next_shift": r"đầu giờ trực|giờ trực tiếp theo|ca trực (sau|tiếp theo)|sáng mai",
    "withdrawn": r"đã (được )?(người gửi )?rút lại|rút lại thành công|đã rút hồ sơ",
    "cannot_withdraw": r"không (thể )?(tự )?rút lại|không rút được",
    "own_cases": r"TV-(?!X{6})[A-HJ-NP-Z2-9]{6}[^\n]*(đã|đang|chờ)",  # a code with its status
    "invalid_code": r"không hợp lệ|không đúng|không tìm thấy",
    "khmer": r"[\u1780-\u17ff]",
    "not_understood": r"chưa hiểu|không hiểu",
    "health_guidance": r"SpO2|trạm y tế|nhân viên y tế",
    "phone_number": r"(?<!\d)0\d{9}(?!\d)",                     # an invented number, when none was given
    # the citizen's side (issue 17)
    "tracking_link": r"/tra-cuu\?ma=TV-[A-HJ-NP-Z2-9]{6}",       # the public tracking page of the case
    "privacy_note": r"Nghị định 13/2023/NĐ-CP.*/quyen-rieng-tu",  # what is kept and why, a new citizen's first reply
    "rating_asked": r"hài lòng thế nào với việc xử lý",
    "rated": r"đã đánh giá hồ sơ TV-[A-HJ-NP-Z2-9]{6}: [1-5]/5",
    "looked_again": r"xem lại việc xử lý",                     # a low rating: the hotline looks again
    "comment_kept": r"đã ghi nhận góp ý",
    "my_data": r"đang lưu về tài khoản này",
    "erasure_requested": r"đã nhận yêu cầu xóa dữ liệu",
    "erasure_pending": r"yêu cầu xóa dữ liệu[^.]*đã được ghi nhận trước đó",
}
FOUND = {name: re.compile(regex, re.IGNORECASE) for name, regex in MARKERS.items()}

# What the conversations must cover between them: the numbered behaviours of issue 11 (12, the
# web chat, is not a Zalo/Messenger conversation) and every failure listed under "Why".
BEHAVIOURS = {
    1: "emergencies first", 2: "the summary files only on a clear yes", 3: "optional fields declined",
    4: "answers checked against the field", 5: "switching service mid-form", 6: "withdrawing",
    7: "health follow-ups on the open case", 8: "off-topic and chit-chat", 9: "details kept",
    10: "Khmer", 11: "lookup: quên mã, invalid code",
    "rating": "issue 17: a resolved case rated, on its buttons or typed, and its comment",
    "personal_data": "issue 17: the privacy sentence, xem / xóa dữ liệu của tôi",
}
WHY = {
    "danger_taken_as_report": "SpO2 in the 80s in chat style filed as a violation; 'lips blue now' stored as its time",
    "urgent_followups_lost": "evening urgent hand-off contradicted itself; the address and '115 does not answer' got "
                             "no reply, the address never reached the case",
    "hesitation_filed": "'wait, don't send', 'stop' at the summary filed the case; it could not be withdrawn",
    "decline_lost_report": "no phone / won't give it handed off and lost the report; 'skip the number' cancelled it",
    "answers_unchecked": "a question became the name, a name the phone, 'yes' the support request",
    "switch_stuck": "report -> welfare mid-form stayed in the report form",
    "health_chat_misread": "a chat-style fever question got 'chưa hiểu'; every health message filed a new case",
    "offtopic_to_staff": "weather, lottery, insults handed to staff after two turns",
    "details_dropped": "the hamlet/khóm dropped from the place, the hour from the time",
    "khmer_and_forgotten_code": "a Khmer speaker got Vietnamese only; 'quên mã' was not understood",
}

HERE = Path(__file__).parent
ACCOUNTS = {"citizen": "5519034418827731", "other": "7730012298456120"}  # "other": someone else's account
VIETNAM = timezone(timedelta(hours=7))
CONVERSATION_KEYS = {"id", "covers", "why", "when", "turns", "cases", "extra_cases", "end"}
TURN_KEYS = {"say", "who", "expect", "not", "silent", "has", "lacks", "buttons", "cases_so_far",
             "staff", "agency_starts", "agency_resolves", "press"}
ACTIONS = {"say", "staff", "agency_starts", "agency_resolves", "press"}  # one of them per turn
CASE_KEYS = {"category", "status", "priority", "district", "agency", "description", "details", "absent",
             "details_lack", "citizen_notes", "rating", "rating_comment"}


def load_conversations() -> list[dict]:
    conversations = []
    for path in sorted(HERE.glob("*.yml")):
        for conversation in yaml.safe_load(path.read_text(encoding="utf-8")):
            conversation["turns"] = [{"say": t} if isinstance(t, str) else t for t in conversation["turns"]]
            conversations.append(conversation)
    return conversations


CONVERSATIONS = load_conversations()


def fold(text) -> str:
    """For 'the citizen's own words are kept': NFC, no diacritics, lower case, single spaces."""
    return " ".join(strip_diacritics(unicodedata.normalize("NFC", str(text))).lower().split())


def digits(text) -> str:
    return re.sub(r"\D", "", str(text))


def staff_hours(when: str) -> str:
    """WORKING_HOURS that put this moment inside the staff's hours (day) or outside them (night)."""
    if when == "day":
        return "00:00-23:59"
    return "13:00-14:00" if datetime.now(VIETNAM).hour < 12 else "01:00-02:00"


@pytest.fixture
def settings(database_uri, nlu_url, fake_zalo, fake_graph, tmp_path, conversation):
    """conftest's settings, at the time of day the conversation happens."""
    env = environment_for_tests(database_uri, nlu_url, fake_zalo.url, fake_graph.base_url, tmp_path / "var")
    return Settings.from_env({**env, "WORKING_HOURS": staff_hours(conversation.get("when", "day"))})


# ---- the conversations ------------------------------------------------------------------------

@pytest.mark.parametrize("platform", ["zalo", "facebook"])
@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda c: c["id"])
def test_conversation(conversation, platform, client, worker, fake_zalo, fake_graph, repository):
    fake = fake_zalo if platform == "zalo" else fake_graph
    people = {who: Citizen(platform, user_id, client, worker, fake) for who, user_id in ACCOUNTS.items()}
    for number, turn in enumerate(conversation["turns"], 1):
        where = f"{conversation['id']} on {platform}, turn {number}"
        if "staff" in turn:
            people["citizen"].is_answered_by_staff(turn["staff"])
        elif turn.get("agency_starts"):  # the agency takes the last case up, as the console does
            repository.change_status(codes(repository, where)[-1], "in_progress", by="ubnd_test",
                                     note="Đã cử cán bộ xác minh", public=True)
        else:
            who, sent_before = turn.get("who", "citizen"), len(fake.received)
            texts_before = len(fake.texts_to(ACCOUNTS[who]))
            people[who].privacy_note = "privacy_note" in turn.get("expect", []) + turn.get("not", [])
            if turn.get("agency_resolves"):  # resolved in the console: the notice goes out through the worker
                said = "(the agency resolves the case)"
                cases.change_status(repository, codes(repository, where)[-1], "resolved", by="ubnd_test",
                                    note="Đã kiểm tra, nhắc nhở và giải tán", public=True)
                worker.drain()
                replies = fake.texts_to(ACCOUNTS[who])[texts_before:]
            elif "press" in turn:
                said = f"[{turn['press']}]"
                replies = people[who].presses(turn["press"])
            else:
                said = fill(turn["say"], repository, where)
                replies = people[who].says(said)
            sent = [p for p in fake.received[sent_before:] if recipient(p) == ACCOUNTS[who]]
            check_turn(turn, said, replies, sent, repository, where)
    check_outcome(conversation, repository, repository.conversation(platform, ACCOUNTS["citizen"]))


def codes(repository, where: str) -> list[str]:
    found = [c["code"] for c in repository.cases.find().sort("created_ts", 1)]
    assert found, f"{where}: the conversation refers to a case code, but no case was filed"
    return found


def fill(text: str, repository, where: str) -> str:
    """{code} is the last case filed in this conversation, {code1}, {code2}… the first, second…"""
    if "{code" not in text:
        return text
    found = codes(repository, where)
    return text.replace("{code}", found[-1]).replace("{code1}", found[0]).replace(
        "{code2}", found[1] if len(found) > 1 else "{code2}")


def recipient(payload: dict) -> str:
    return payload["recipient"].get("user_id") or payload["recipient"].get("id")


def has_buttons(payload: dict) -> bool:
    message = payload.get("message") or {}
    return bool(message.get("quick_replies")  # Messenger
                or ((message.get("attachment") or {}).get("payload") or {}).get("buttons"))  # Zalo


def check_turn(turn: dict, said: str, replies: list[str], sent: list[dict], repository, where: str) -> None:
    answer = "\n".join(unicodedata.normalize("NFC", r) for r in replies)
    problems = []
    if "silent" in turn and (not replies) != turn["silent"]:
        problems.append("expected silence" if turn["silent"] else "expected an answer")
    problems += [f"expected marker {name}: /{MARKERS[name]}/" for name in turn.get("expect", [])
                 if not FOUND[name].search(answer)]
    problems += [f"unexpected marker {name}: /{MARKERS[name]}/" for name in turn.get("not", [])
                 if FOUND[name].search(answer)]
    problems += [f"expected «{text}» in the answer" for text in turn.get("has", [])
                 if fold(fill(text, repository, where)) not in fold(answer)]
    problems += [f"«{text}» must not be in the answer" for text in turn.get("lacks", [])
                 if fold(fill(text, repository, where)) in fold(answer)]
    if turn.get("buttons") and not any(map(has_buttons, sent)):
        problems.append("expected the choices as buttons")
    if "cases_so_far" in turn:
        filed = [(c["code"], c["category"]) for c in repository.cases.find()]
        if len(filed) != turn["cases_so_far"]:
            problems.append(f"expected {turn['cases_so_far']} case(s) by now, found {filed}")
    assert not problems, f"{where}: " + "; ".join(problems) + f"\n  the citizen wrote «{said}»\n  the bot answered {replies!r}"


def check_outcome(conversation: dict, repository, state: dict) -> None:
    """The cases filed (oldest first) and who holds the chat at the end: every problem at once."""
    extra = set(conversation.get("extra_cases", []))
    cases = [c for c in repository.cases.find().sort("created_ts", 1) if c["category"] not in extra]
    expected = conversation["cases"]
    problems = []
    if [c["category"] for c in cases] != [e["category"] for e in expected]:
        problems.append(f"expected cases {[e['category'] for e in expected]}, found {[c['category'] for c in cases]}")
    else:
        for case, want in zip(cases, expected):
            problems += [f"case {case['code']}: {p}" for p in case_problems(case, want, repository)]
    end = conversation.get("end", {"handler": "bot"})
    handlers = end["handler"] if isinstance(end["handler"], list) else [end["handler"]]
    if state.get("handler", "bot") not in handlers:
        problems.append(f"expected the chat held by {end['handler']}, it is held by {state.get('handler')} "
                        f"(reason {state.get('handoff_reason')})")
    if "handoff_priority" in end and state.get("handoff_priority") != end["handoff_priority"]:
        problems.append(f"expected handoff_priority {end['handoff_priority']}, found {state.get('handoff_priority')}")
    shown = [{k: c.get(k) for k in ("code", "category", "status", "priority", "district", "description", "details")}
             for c in repository.cases.find().sort("created_ts", 1)]
    assert not problems, f"{conversation['id']}: " + "; ".join(problems) + f"\n  cases filed: {shown}"


def case_problems(case: dict, want: dict, repository) -> list[str]:
    problems = []
    for field, default in (("status", "routed"), ("priority", "normal"), ("district", None), ("agency", None)):
        if (field in want or default) and case.get(field) != want.get(field, default):
            problems.append(f"expected {field} {want.get(field, default)!r}, found {case.get(field)!r}")
    problems += [f"expected «{text}» in the description" for text in want.get("description", [])
                 if fold(text) not in fold(case.get("description", ""))]
    details = case.get("details") or {}
    for field, value in want.get("details", {}).items():
        if not details.get(field):
            problems.append(f"expected details.{field}")
        elif field == "phone":
            if digits(details["phone"]) != digits(value):
                problems.append(f"expected details.phone {value}, found {details['phone']!r}")
        else:
            problems += [f"expected «{text}» in details.{field}" for text in ([value] if isinstance(value, str) else value)
                         if fold(text) not in fold(details[field])]
    problems += [f"details.{field} should be absent, found {details[field]!r}" for field in want.get("absent", [])
                 if details.get(field)]
    problems += [f"«{text}» is not an answer and must not be in details.{field}"
                 for field, texts in want.get("details_lack", {}).items() for text in texts
                 if fold(text) in fold(details.get(field, ""))]
    notes = [e["note"] for e in repository.case_events.find({"code": case["code"], "by": "citizen"})]
    problems += [f"expected a case_events entry by the citizen with «{text}» (citizen entries: {notes})"
                 for text in want.get("citizen_notes", []) if not any(fold(text) in fold(n) for n in notes)]
    if "rating" in want and case.get("rating") != want["rating"]:
        problems.append(f"expected rating {want['rating']}, found {case.get('rating')!r}")
    problems += [f"expected «{text}» in the rating comment, found {case.get('rating_comment')!r}"
                 for text in want.get("rating_comment", []) if fold(text) not in fold(case.get("rating_comment", ""))]
    return problems


# ---- the conversations themselves: well formed, and covering the whole issue -------------------

def test_the_conversations_are_well_formed_and_cover_the_issue():
    assert len(CONVERSATIONS) >= 60
    ids = [c["id"] for c in CONVERSATIONS]
    assert len(ids) == len(set(ids)), "conversation ids are unique"
    for conversation in CONVERSATIONS:
        where = conversation["id"]
        assert set(conversation) <= CONVERSATION_KEYS and {"id", "covers", "turns", "cases"} <= set(conversation), where
        assert set(conversation["covers"]) <= set(BEHAVIOURS) | {"ordinary"}, where
        assert set(conversation.get("why", [])) <= set(WHY), where
        assert conversation.get("when", "day") in ("day", "night"), where
        for turn in conversation["turns"]:
            assert set(turn) <= TURN_KEYS and len(ACTIONS & set(turn)) == 1, (where, turn)
            assert set(turn.get("expect", [])) | set(turn.get("not", [])) <= set(MARKERS), (where, turn)
            assert turn.get("who", "citizen") in ACCOUNTS, (where, turn)
        for case in conversation["cases"]:
            assert set(case) <= CASE_KEYS and case["category"] in (
                "report", "suggestion", "welfare", "health_advice"), (where, case)
    assert set(BEHAVIOURS) <= {n for c in CONVERSATIONS for n in c["covers"]}
    assert set(WHY) <= {w for c in CONVERSATIONS for w in c.get("why", [])}
