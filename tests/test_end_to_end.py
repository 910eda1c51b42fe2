"""A real chat message from the webhook to a filed case and a reply on the fake platform,
through the real database and the real NLU server with the trained model."""
import re
import time

import pytest

from bot import texts
from bot.pipeline import RetryLater
from bot.repository import conversation_from_document, stored_message
from bot.routing import RoutingTable
from nlu.client import NluClient
from bot.worker import Worker, build_pipeline
from tests.conftest import free_port, load_fixture, post_facebook, post_zalo, wait_until
from webhooks.registry import build_channels

CODE = re.compile(r"TV-[A-HJ-NP-Z2-9]{6}")


def zalo_text(text: str, msg_id: str = "zmsg-e2e-1", user: str = "246845883529197922") -> dict:
    event = load_fixture("zalo", "user_send_text")
    event["message"].update(text=text, msg_id=msg_id)
    event["sender"]["id"] = user
    return event


def facebook_text(text: str, mid: str) -> dict:
    payload = load_fixture("facebook", "messages")
    payload["entry"][0]["messaging"][0]["message"].update(text=text, mid=mid)
    return payload


def report_and_confirm(client, worker):
    """The citizen sends the fixture's report (it names the place and the time), reads the
    summary and confirms it with "đúng"."""
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    worker.drain()
    assert post_zalo(client, zalo_text("đúng", "confirm-1")).status_code == 200
    worker.drain()


def test_zalo_violation_report_is_summarized_confirmed_filed_and_routed(client, repository, worker, fake_zalo):
    event = load_fixture("zalo", "user_send_text")
    assert post_zalo(client, event).status_code == 200
    worker.drain()
    [summary] = fake_zalo.texts_to(event["sender"]["id"])
    # Place and time were in the message: not asked again, shown for confirmation.
    assert "Địa điểm: khóm 3 phường 7 TP Trà Vinh\n" in summary  # the khóm kept, the commune clear in it
    assert "Thời gian: tối qua" in summary
    assert repository.cases.count_documents({}) == 0  # nothing filed before the citizen confirms
    assert post_zalo(client, zalo_text("đúng", "confirm-1")).status_code == 200
    worker.drain()
    [case] = list(repository.cases.find())
    assert case["category"] == "report"
    assert case["channel"] == "zalo" and case["user_id"] == event["sender"]["id"]
    assert CODE.fullmatch(case["code"])
    # the citizen's own words (the khóm kept) and the commune as the NLU normalized it
    assert case["details"] == {"place": "khóm 3 phường 7 TP Trà Vinh", "commune": "Phường 7, Thành phố Trà Vinh",
                               "time": "tối qua"}
    # "khóm 3 phường 7 TP Trà Vinh": routed to the city's People's Committee, due within a day
    assert (case["district"], case["agency"], case["status"]) == ("Thành phố Trà Vinh", "ubnd_tp_tra_vinh", "routed")
    assert 23 * 3600 < case["due_ts"] - case["created_ts"] <= 24 * 3600
    assert [(e["status"], e["by"]) for e in repository.case_history(case["code"])] == [("new", "bot"), ("routed", "bot")]
    reply = fake_zalo.texts_to(event["sender"]["id"])[-1]
    assert case["code"] in reply
    assert repository.messages.find_one({"direction": "out", "text": reply})["state"] == "sent"


def test_messenger_violation_report_files_one_case_and_replies_with_its_code(client, repository, worker, fake_graph):
    payload = load_fixture("facebook", "messages")
    psid = payload["entry"][0]["messaging"][0]["sender"]["id"]
    for message in (payload, facebook_text("khoảng 9h tối qua", "m_when"), facebook_text("đúng", "m_yes")):
        assert post_facebook(client, message).status_code == 200
        worker.drain()
    [case] = list(repository.cases.find())
    assert case["category"] == "report" and case["channel"] == "facebook"
    assert case["district"] == "Huyện Cầu Kè" and case["details"]["time"]
    ask_when, summary, filed = fake_graph.texts_to(psid)
    assert "khi nào" in ask_when and "Thời gian:" in summary and case["code"] in filed
    assert fake_graph.received[0]["messaging_type"] == "RESPONSE"
    assert [q["payload"] for q in fake_graph.received[1]["message"]["quick_replies"]] == [
        "FORM_CONFIRM", "FORM_EDIT", "FORM_CANCEL"]


def test_event_delivered_three_times_makes_one_message_one_case_one_reply(client, repository, worker, fake_zalo):
    for event in (load_fixture("zalo", "user_send_text"), zalo_text("đúng", "confirm-1")):
        for _ in range(3):
            assert post_zalo(client, event).status_code == 200
            worker.drain()
    assert repository.messages.count_documents({"direction": "in"}) == 2
    assert repository.cases.count_documents({}) == 1
    assert len(fake_zalo.received) == 2  # the summary and the filed case


def test_retried_claim_makes_no_second_case_or_reply(client, repository, worker, fake_zalo):
    """A worker that dies after replying but before marking the message done: the message
    is claimed again when its lease runs out."""
    report_and_confirm(client, worker)
    repository.messages.update_one({"message_id": "confirm-1"}, {"$set": {"state": "pending", "lease_until": 0.0}})
    worker.drain()
    assert repository.cases.count_documents({}) == 1
    assert len(fake_zalo.received) == 2
    assert repository.messages.find_one({"message_id": "confirm-1"})["state"] == "done"


def test_greeting_gets_the_services_and_files_no_case(client, repository, worker, fake_zalo):
    assert post_zalo(client, zalo_text("Xin chào tổng đài")).status_code == 200
    worker.drain()
    assert repository.cases.count_documents({}) == 0
    [reply] = fake_zalo.received
    assert "Phản ánh vi phạm" in reply["message"]["text"]


def test_citizen_can_ask_for_the_status_of_their_case(client, repository, worker, fake_zalo):
    report_and_confirm(client, worker)
    code = repository.cases.find_one()["code"]
    assert post_zalo(client, zalo_text(f"cho hỏi hồ sơ {code} sao rồi", msg_id="zmsg-e2e-2")).status_code == 200
    assert post_zalo(client, zalo_text(code, msg_id="zmsg-e2e-3", user="another-citizen")).status_code == 200
    worker.drain()
    mine = fake_zalo.texts_to("246845883529197922")[-1]
    theirs = fake_zalo.texts_to("another-citizen")[-1]
    assert code in mine and "đã chuyển cơ quan chức năng: Ủy ban nhân dân thành phố Trà Vinh" in mine
    assert "không tìm thấy" in theirs  # someone else's case stays private


def test_rate_limited_send_is_retried_once_it_passes(client, repository, worker, fake_zalo):
    fake_zalo.fail_next(-32)
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    worker.drain()
    assert repository.messages.find_one({"direction": "out"})["state"] == "retry"
    wait_until(lambda: worker.run_once() == "processed", 10, "the retry after back-off")
    assert [r["message"]["text"] for r in fake_zalo.received][0] == fake_zalo.received[1]["message"]["text"]
    assert len(fake_zalo.received) == 2  # the refused attempt and the delivered one
    assert repository.messages.find_one({"direction": "out"})["state"] == "sent"


def test_permanent_send_error_is_stored_with_a_reason_and_not_retried(client, repository, worker, fake_zalo):
    fake_zalo.fail_next(-230)
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    worker.drain()
    outbound = repository.messages.find_one({"direction": "out"})
    assert outbound["state"] == "failed" and outbound["error_code"] == "-230"
    assert "7 ngày" in outbound["error"]
    assert repository.messages.find_one({"direction": "in"})["state"] == "done"
    assert len(fake_zalo.received) == 1


def test_messages_wait_while_the_nlu_server_is_down(client, repository, settings, worker, fake_zalo):
    nlu_down = NluClient(f"http://127.0.0.1:{free_port()}", timeout=1)
    down = Worker(repository, build_pipeline(settings, repository, build_channels(settings, repository), nlu_down))
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    assert down.run_once() == "waiting"
    assert repository.messages.find_one({"direction": "in"})["state"] == "pending"
    assert repository.cases.count_documents({}) == 0 and fake_zalo.received == []
    wait_until(lambda: worker.run_once() == "processed", 10, "the message after the NLU is back")
    assert repository.conversation("zalo", "246845883529197922")["form"]["asking"] == "confirm"
    assert len(fake_zalo.received) == 1


def test_messenger_reply_after_24_hours_is_refused_and_stored_with_the_reason(client, repository, worker, fake_graph):
    """A message that waited a day (the NLU server was down): Messenger forbids an automated reply."""
    assert post_facebook(client, load_fixture("facebook", "messages")).status_code == 200
    repository.messages.update_one({"direction": "in"}, {"$inc": {"received_ts": -25 * 3600}})
    worker.drain()
    outbound = repository.messages.find_one({"direction": "out"})
    assert outbound["state"] == "refused" and "24 giờ" in outbound["error"]
    assert fake_graph.received == []


def test_zalo_reply_window_is_seven_days(client, repository, worker, fake_zalo):
    assert post_zalo(client, zalo_text("Xin chào", msg_id="old-1")).status_code == 200
    repository.messages.update_one({"message_id": "old-1"}, {"$inc": {"received_ts": -6 * 86400}})
    worker.drain()
    assert len(fake_zalo.received) == 1
    assert post_zalo(client, zalo_text("Xin chào", msg_id="old-2", user="u-8-days")).status_code == 200
    repository.messages.update_one({"message_id": "old-2"}, {"$inc": {"received_ts": -8 * 86400}})
    worker.drain()
    assert len(fake_zalo.received) == 1
    assert "7 ngày" in repository.messages.find_one({"direction": "out", "user_id": "u-8-days"})["error"]


def test_long_reply_goes_in_parts_and_a_retry_resends_only_the_failed_part(client, repository, worker, fake_zalo):
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    inbound = stored_message(repository.messages.find_one({"direction": "in"}))
    long_text = "Anh/chị theo dõi SpO2 mỗi ngày và gọi 115 khi khó thở. " * 80  # about 4,400 characters
    fake_zalo.queued_errors = [None, -32]  # the second part is rate-limited once
    with pytest.raises(RetryLater):
        worker.pipeline.reply(inbound, long_text)
    assert worker.pipeline.reply(inbound, long_text) == "sent"
    sent = [p["message"]["text"] for p in fake_zalo.received]
    assert len(sent) == 4 and sent[1] == sent[2]  # part 2 was refused, then resent; part 1 only once
    assert " ".join([sent[0], sent[2], sent[3]]) == long_text.strip()
    assert all(len(t) <= 2000 for t in sent)


def test_worker_killed_between_filing_and_replying_makes_one_case_and_one_reply(client, repository, worker, fake_zalo):
    """What a worker killed right after filing leaves behind: a case, no reply, the confirming
    message still pending. The next claim finishes the job without a second case."""
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    worker.drain()
    assert post_zalo(client, zalo_text("đúng", "confirm-1")).status_code == 200
    message = repository.messages.find_one({"message_id": "confirm-1"})
    first = repository.file_case(source="zalo:confirm-1", channel="zalo", user_id=message["user_id"],
                                 category="report", description="đám nhậu",
                                 route=RoutingTable.load().route("report", "Thành phố Trà Vinh"))
    worker.drain()
    [case] = list(repository.cases.find())
    assert case["code"] == first["code"]
    assert first["code"] in fake_zalo.texts_to(message["user_id"])[-1]
    assert len(fake_zalo.received) == 2


def test_worker_killed_after_keeping_the_turn_leaves_the_message_to_be_finished_not_done_again(
        client, repository, worker, fake_zalo):
    """The end of a turn writes the conversation's new state (and the message as the last one done)
    before the message is marked done: a worker killed between the two leaves it pending, and the
    next claim finishes it without a second reply or a second step of the form."""
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    [claim] = repository.claim_citizens("killed-worker", 60, limit=1)
    message, before = claim.messages[0], conversation_from_document(claim.conversation)
    handled = worker.pipeline.handle(message, before)
    # ... and the process dies here; its grace on the citizen has run out since.
    repository.end_turn(message, before, handled.state, "killed-worker", lock_until=time.time())
    kept = repository.conversation("zalo", message.user_id)
    assert repository.find_message("zalo", message.message_id)["state"] == "pending"
    assert worker.run_once() == "processed"
    done = repository.find_message("zalo", message.message_id)
    assert (done["state"], done["recovered"]) == ("done", "yes")
    assert repository.conversation("zalo", message.user_id)["form"] == kept["form"] and kept["form"]
    assert len(fake_zalo.received) == 1 and worker.run_once() == "idle"


def test_a_form_left_too_long_expires_with_a_message_when_the_citizen_returns(client, repository, worker, fake_zalo):
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    worker.drain()
    conversation = repository.conversation("zalo", "246845883529197922")
    repository.update_conversation("zalo", "246845883529197922", form={**conversation["form"], "updated_ts": 0.0})
    assert post_zalo(client, zalo_text("đúng", "confirm-late")).status_code == 200
    worker.drain()
    assert repository.cases.count_documents({}) == 0
    [reply] = fake_zalo.texts_to("246845883529197922")[1:]  # one message: the notice, then the answer
    assert reply == f"{texts.FORM_EXPIRED}\n\n{texts.ACKNOWLEDGED}" and "hết hạn" in reply


def test_a_service_button_starts_its_form(client, repository, worker, fake_graph):
    payload = facebook_text("Hỗ trợ an sinh", "m_button")
    payload["entry"][0]["messaging"][0]["message"]["quick_reply"] = {"payload": "CATEGORY_welfare"}
    assert post_facebook(client, payload).status_code == 200
    worker.drain()
    assert repository.conversation("facebook", "6543217890123456")["form"]["category"] == "welfare"
    assert "hoàn cảnh" in fake_graph.received[0]["message"]["text"]


def test_the_phone_on_a_case_opens_its_status_from_another_account(client, repository, worker, fake_zalo):
    report_and_confirm(client, worker)
    code = repository.cases.find_one()["code"]
    repository.cases.update_one({"code": code}, {"$set": {"details.phone": "0912345678"}})
    for msg_id, text in (("p1", f"tra cứu {code}"), ("p2", f"tra cứu {code} sdt 0912.345.678")):
        assert post_zalo(client, zalo_text(text, msg_id, user="family-phone")).status_code == 200
    worker.drain()
    without_phone, with_phone = fake_zalo.texts_to("family-phone")
    assert "không tìm thấy" in without_phone and code in with_phone and "đã chuyển" in with_phone


def test_a_resolved_case_can_be_reopened_by_its_citizen_within_30_days(client, repository, worker, fake_zalo):
    report_and_confirm(client, worker)
    code = repository.cases.find_one()["code"]
    repository.change_status(code, "resolved", by="staff:an", note="Đã xử phạt", public=True)
    assert post_zalo(client, zalo_text(f"hồ sơ {code} vẫn chưa được xử lý, tối nay họ lại nhậu", "r1")).status_code == 200
    worker.drain()
    assert "đã mở lại hồ sơ" in fake_zalo.texts_to("246845883529197922")[-1]
    assert repository.find_case(code)["status"] == "reopened"
    assert [(e["status"], e["by"]) for e in repository.case_history(code)][-2:] == [("resolved", "staff:an"),
                                                                                   ("reopened", "citizen")]
    repository.change_status(code, "resolved", by="staff:an", note="Đã xử lý", public=True)
    repository.cases.update_one({"code": code}, {"$set": {"resolved_ts": 0.0}})  # resolved long ago
    assert post_zalo(client, zalo_text(f"{code} vẫn còn tụ tập", "r2")).status_code == 200
    worker.drain()
    assert "không thể mở lại" in fake_zalo.texts_to("246845883529197922")[-1]
