"""A case's status changes: recorded in its history, and told to the citizen within the platform's
reply window; outside it the notice waits for the citizen's next message."""
import pytest

from bot import cases, texts
from tests.conftest import post_facebook
from tests.test_end_to_end import facebook_text, report_and_confirm


def test_a_public_status_change_is_told_to_the_citizen(client, repository, worker, fake_zalo):
    report_and_confirm(client, worker)
    code = repository.cases.find_one()["code"]
    cases.change_status(repository, code, "resolved", by="staff:an", note="Công an phường đã xử phạt.", public=True)
    cases.change_status(repository, code, "resolved", by="staff:an", note="ghi chú nội bộ", public=False)
    worker.drain()
    notice = fake_zalo.texts_to("246845883529197922")[-1]
    assert notice.startswith(f"Tổng đài 1022 thông báo: hồ sơ {code} (phản ánh vi phạm phòng, chống dịch) đã xử lý "
                             "xong. Công an phường đã xử phạt.\n\n")
    assert notice.endswith(texts.rating_request(code))  # and the rating question, with its buttons
    assert len(fake_zalo.received) == 3  # summary, filed case, one notice (the internal note is not sent)
    assert [e["public"] for e in repository.case_history(code)][-2:] == ["yes", "no"]


def test_outside_the_window_the_notice_waits_for_the_citizens_next_message(client, repository, worker, fake_graph):
    for text, mid in (("Tối qua ở thị trấn Cầu Kè có quán nhậu đông người", "m1"), ("đúng", "m2")):
        assert post_facebook(client, facebook_text(text, mid)).status_code == 200
        worker.drain()
    code = repository.cases.find_one()["code"]
    repository.messages.update_many({"direction": "in"}, {"$inc": {"received_ts": -25 * 3600}})  # a day passed
    cases.change_status(repository, code, "in_progress", by="staff:binh", note="", public=True)
    worker.drain()
    waiting = repository.messages.find_one({"kind": "notice"})
    assert waiting["state"] == "waiting_window" and "24 giờ" in waiting["error"]
    sent_before = len(fake_graph.received)
    assert post_facebook(client, facebook_text("xin chào", "m3")).status_code == 200
    worker.drain()
    assert repository.messages.find_one({"kind": "notice"})["state"] == "sent"
    texts_now = [p["message"]["text"] for p in fake_graph.received[sent_before:]]
    assert any(code in t and "đang xử lý" in t for t in texts_now) and len(texts_now) == 2


def test_an_unknown_status_or_case_is_refused(repository):
    with pytest.raises(ValueError):
        cases.change_status(repository, "TV-AAAAAA", "done", by="x", note="", public=False)
    with pytest.raises(KeyError):
        cases.change_status(repository, "TV-AAAAAA", "resolved", by="x", note="", public=False)
