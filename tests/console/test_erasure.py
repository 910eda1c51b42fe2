"""An approved erasure (issue 17, Nghị định 13/2023/NĐ-CP), end to end: a citizen talks to the bot
on Zalo (a report with a photo and a phone, their contact details shared, a rating with a comment),
staff work on the case (a note naming them, a chat claimed, an alert), they ask "xóa dữ liệu của
tôi", an admin approves in the console. Afterwards no text, phone, name, platform id or photo of
theirs is left in any collection or under var/media/ — and the dashboard's totals have not moved.
The retention job does the same, by age, to closed cases and old chats."""
from __future__ import annotations

import json
import time
import unicodedata

from flask_login import login_user

from bot import cases, retention
from bot.console import dashboard, ratings
from bot.console.access import Staff
from bot.media import MediaStore
from tests.conftest import load_fixture, post_zalo
from tests.console.test_console import post_form, signed_in
from tests.helpers import Citizen, jpeg
from tests.test_backup import dump

ERASED_USER, KEPT_USER = "5519034418827731", "7730012298456120"
PHONE, NAME = "0912555777", "Trần Thị Bé Ba"
PHOTO, OTHER_PHOTO = jpeg(rgb=(180, 40, 40)), jpeg(rgb=(40, 120, 60))  # decodable: photos are checked
SAID = ["phản ánh tối nay ở khóm 3 phường 7 TP Trà Vinh nhà ông Tư Lùn tụ tập nhậu hơn 20 người",
        "0912555777", "đúng rồi gửi đi"]
QUESTION = "cho hỏi chị Bé Ba ở khóm 3 đi làm ở Cần Thơ về thì có phải cách ly không"
COMMENT = "chị Bé Ba thấy xử lý chậm quá, gọi 0912 555 777 mà không ai nghe"


def photo(citizen: Citizen, fake_zalo, data: bytes, name: str) -> None:
    fake_zalo.files[f"/{name}.jpg"] = ("image/jpeg", data)
    event = load_fixture("zalo", "user_send_image")
    event["sender"]["id"] = citizen.user_id
    event["message"].update(text="", msg_id=f"img-{name}")
    event["message"]["attachments"][0]["payload"]["url"] = f"{fake_zalo.url}/{name}.jpg"
    assert post_zalo(citizen.client, event).status_code == 200
    citizen.worker.drain()


def share_contact(citizen: Citizen) -> None:
    event = load_fixture("zalo", "user_submit_info")
    event["sender"]["id"] = citizen.user_id
    event["info"].update(name=NAME, phone=PHONE)
    assert post_zalo(citizen.client, event).status_code == 200
    citizen.worker.drain()


def totals(app, repository) -> tuple:
    """What the dashboard counts, and its ratings, as an admin sees them."""
    with app.test_request_context():
        login_user(Staff(repository.find_staff("quantri")))
        now = time.time()
        board, rated = dashboard.figures(now, 30, None), ratings.figures(now - 30 * 86400, None)
        return board, {k: v for k, v in rated.items() if k != "flagged"}


def everything(uri: str) -> str:
    """Every document of every collection, as one NFC text to search."""
    return unicodedata.normalize("NFC", json.dumps(dump(uri), default=str, ensure_ascii=False))


def test_after_an_approved_erasure_nothing_of_the_citizen_remains_and_the_totals_stand(
        app, staff, client, worker, fake_zalo, repository, settings):
    erased, kept = (Citizen("zalo", user, client, worker, fake_zalo) for user in (ERASED_USER, KEPT_USER))
    erased.says(QUESTION)
    assert repository.kb_questions.find_one({"user_id": ERASED_USER})["text"] == QUESTION
    erased.says(SAID[0])
    photo(erased, fake_zalo, PHOTO, "erased")
    for line in SAID[1:]:
        erased.says(line)
    share_contact(erased)
    case = repository.cases.find_one({"user_id": ERASED_USER})
    assert case["details"]["phone"] == PHONE and case["media_messages"] == ["img-erased"]
    kept.says("phản ánh sáng nay chợ tự phát ở thị trấn Cầu Kè họp đông, không ai đeo khẩu trang")
    photo(kept, fake_zalo, OTHER_PHOTO, "kept")
    kept.says("đúng")
    kept_case = repository.cases.find_one({"user_id": KEPT_USER})

    # staff at work on the case, naming the citizen
    cases.add_note(repository, case["code"], by="dtv1", note=f"Đã gọi {PHONE[:4]} {PHONE[4:7]} {PHONE[7:]}, chị {NAME} xác nhận",
                   public=False, key="note-1")
    repository.audit_log("dtv1", "chat.claim", f"zalo:{ERASED_USER}", {"handler": "waiting"}, {"handler": "staff"})
    repository.add_alert(["dtv1"], key="chat-alert", kind="chat", text=f"Tin mới từ {NAME}",
                         url=f"/console/chats/zalo/{ERASED_USER}")
    cases.change_status(repository, case["code"], "resolved", by="ubnd_tp", public=True, note="Đã giải tán, nhắc nhở")
    worker.drain()
    assert "1 (rất kém)" in fake_zalo.texts_to(ERASED_USER)[-1]  # the rating question
    erased.says("1")
    erased.says(COMMENT)
    assert repository.find_case(case["code"])["rating_comment"] == COMMENT
    erased.says("xem dữ liệu của tôi")
    assert "0912***777" in fake_zalo.texts_to(ERASED_USER)[-1] and NAME in fake_zalo.texts_to(ERASED_USER)[-1]
    erased.says("xóa dữ liệu của tôi")
    [request] = repository.list_data_requests("pending")

    needles = {text for text in (*SAID, QUESTION, COMMENT, "xem dữ liệu của tôi", "xóa dữ liệu của tôi") if len(text) > 8}
    needles |= {PHONE, PHONE[1:], "0912 555 777", NAME, ERASED_USER, "Tư Lùn", "Bé Ba"}
    kept_needles = {"chợ tự phát ở thị trấn Cầu Kè", KEPT_USER}
    media = MediaStore(settings.var_dir / "media", repository)
    files = {path.name for path in media.directory.rglob("*") if path.is_file()}
    [erased_file] = [m["attachments"][0]["stored"]["sha256"] for m in repository.messages.find({"message_id": "img-erased"})]
    [kept_file] = [m["attachments"][0]["stored"]["sha256"] for m in repository.messages.find({"message_id": "img-kept"})]
    assert {erased_file, kept_file} <= files
    before = everything(settings.database_uri)
    assert all(n in before for n in needles | kept_needles), "the test must look for what was really there"
    figures_before = totals(app, repository)

    admin = signed_in(app, "quantri")
    assert post_form(admin, "/console/data-requests", f"/console/data-requests/{request['code']}/approve",
                     {"confirm": "yes"}).status_code == 302

    after = everything(settings.database_uri)
    left = sorted(n for n in needles | {erased_file} if n.lower() in after.lower())
    assert left == [], f"left after the erasure: {left}"
    assert all(n in after for n in kept_needles | {kept_file}), "someone else's data went too"
    files = {path.name for path in media.directory.rglob("*") if path.is_file()}
    assert erased_file not in files and kept_file in files
    assert totals(app, repository) == figures_before
    gone = repository.find_case(case["code"])
    assert (gone["category"], gone["status"], gone["district"], gone["rating"]) == (
        "report", "resolved", case["district"], 1)
    assert repository.find_case(kept_case["code"])["description"] == kept_case["description"]
    assert "đã xóa dữ liệu" in fake_zalo.texts_to(ERASED_USER)[-1]  # told, inside Zalo's window
    steps = [e["action"] for e in repository.find_audit(target=request["code"])[0]][::-1]
    assert steps == ["privacy.erase_request", "privacy.erase_approve", "privacy.erased"]
    assert repository.find_audit(action="privacy.view")[1] == 1

    # the same account writes again: a new citizen to the bot
    assert NAME not in "".join(erased.says("xin chào"))
    assert repository.conversation("zalo", ERASED_USER).get("profile") is None


def test_retention_erases_the_chat_text_and_media_of_cases_closed_months_ago(app, client, worker, fake_zalo,
                                                                              repository, settings):
    old, busy = (Citizen("zalo", user, client, worker, fake_zalo) for user in ("old-citizen", "busy-citizen"))
    old.says(QUESTION)
    asked = repository.kb_questions.find_one({"user_id": "old-citizen"})
    repository.update_question(asked["_id"], status="closed")  # staff set it aside; a waiting one is kept
    old.says(SAID[0])
    photo(old, fake_zalo, PHOTO, "old")
    old.says("đúng rồi gửi đi")
    busy.says("phản ánh sáng nay chợ tự phát ở thị trấn Cầu Kè họp đông, không ai đeo khẩu trang")
    busy.says("đúng")
    closed = repository.cases.find_one({"user_id": "old-citizen"})
    cases.change_status(repository, closed["code"], "resolved", by="ubnd_tp", public=True, note="Đã xử lý")
    worker.drain()
    # thirteen months on (the clock is moved back for their documents, not forward for the job)
    ago = 13 * retention.MONTH_SECONDS
    for collection, query, field in ((repository.cases, {"code": closed["code"]}, "closed_ts"),
                                     (repository.messages, {}, "received_ts"), (repository.conversations, {}, "last_in_ts"),
                                     (repository.kb_questions, {}, "created_ts")):
        for doc in collection.find(query):
            if doc.get(field):
                collection.update_one({"_id": doc["_id"]}, {"$set": {field: doc[field] - ago}})
    media = MediaStore(settings.var_dir / "media", repository)
    figures_before = repository.cases_for_figures(0)
    counts = retention.run(repository, media, 12)
    assert counts["cases"] == 1 and counts["files"] == 1 and counts["messages"] >= 3 and counts["questions"] == 1
    assert repository.kb_questions.find_one({"user_id": "old-citizen"})["text"] == ""
    stripped = repository.find_case(closed["code"])
    assert stripped["description"] == "" and stripped["details"] == {} and stripped["status"] == "resolved"
    texts_left = [m.get("text") for m in repository.messages.find({"user_id": "old-citizen"})]
    assert set(texts_left) == {""}
    busy_texts = [m["text"] for m in repository.messages.find({"user_id": "busy-citizen", "direction": "in"})]
    assert "đúng" in busy_texts  # an account with an open case keeps its conversation
    assert not any(p.is_file() for p in media.directory.rglob("*"))
    assert repository.cases_for_figures(0) == figures_before
    assert repository.find_audit(action="retention.run")[0][0]["after"] == counts
    assert retention.run(repository, media, 12) == {"cases": 0, "messages": 0, "questions": 0, "conversations": 0,
                                                  "files": 0}
    assert retention.run(repository, media, 0) == {}  # RETENTION_MONTHS=0 keeps everything
