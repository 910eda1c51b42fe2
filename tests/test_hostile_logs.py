"""Logs and /metrics keep no token, no secret and no full phone number, through a whole flow:
a citizen reports with their phone number on Zalo (whose access token has expired, so it is
refreshed), shares it again with "user_submit_info", writes on Messenger and on the web chat;
every logger captured at DEBUG, the HTTP libraries' included."""
from __future__ import annotations

import logging

from tests.conftest import (FB_APP_SECRET, FB_VERIFY_TOKEN, ZALO_OA_SECRET_KEY, load_fixture, post_facebook,
                            post_zalo)
from tests.fakes import FakeGraphAPI, FakeZalo
from tests.test_end_to_end import zalo_text

PHONE = "0912345678"
LOGGERS = ("", "werkzeug", "urllib3", "urllib3.connectionpool", "requests", "waitress", "tongdai", "pymongo")


def test_a_full_flow_logs_no_secret_and_no_phone_number(app, client, repository, worker, fake_zalo, fake_graph, caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    fake_zalo.access_token_expired = True  # the first send refreshes the token pair

    report = (f"Cho em phản ánh ở khóm 3 phường 7 TP Trà Vinh tối qua có nhóm thanh niên tụ tập nhậu đông người, "
              f"không đeo khẩu trang. Số điện thoại của em là {PHONE}")
    assert post_zalo(client, zalo_text(report, "leak-1")).status_code == 200
    worker.drain()
    assert post_zalo(client, zalo_text("đúng", "leak-2")).status_code == 200
    worker.drain()
    info = load_fixture("zalo", "user_submit_info")
    info["info"]["phone"] = PHONE
    assert post_zalo(client, info).status_code == 200
    messenger = load_fixture("facebook", "messages")
    messenger["entry"][0]["messaging"][0]["message"]["text"] = f"Tôi cần hỗ trợ, gọi tôi số {PHONE}"
    assert post_facebook(client, messenger).status_code == 200
    client.get("/")
    assert client.post("/chat/messages", json={"text": f"sđt của tôi {PHONE}", "id": "leak-web-1"}).status_code == 202
    worker.drain()
    assert client.get("/webhooks/facebook", query_string={
        "hub.mode": "subscribe", "hub.verify_token": FB_VERIFY_TOKEN, "hub.challenge": "42"}).status_code == 200
    metrics = client.get("/metrics").get_data(as_text=True)
    health = client.get("/healthz").get_data(as_text=True)

    # The flow really ran: a refresh, a Messenger send, a case holding the phone number, HTTP logged.
    assert fake_zalo.oauth_calls == 1 and fake_zalo.access_token != FakeZalo.ACCESS_TOKEN
    assert fake_graph.received and fake_zalo.received
    assert repository.cases.find_one({"details.phone": PHONE}) is not None
    assert any(r.name.startswith("urllib3") for r in caplog.records)

    secrets = {FakeZalo.ACCESS_TOKEN, FakeZalo.REFRESH_TOKEN, FakeZalo.APP_SECRET, fake_zalo.access_token,
               fake_zalo.refresh_token, ZALO_OA_SECRET_KEY, FB_APP_SECRET, FB_VERIFY_TOKEN, FakeGraphAPI.PAGE_TOKEN,
               app.secret_key}
    logged = caplog.text + "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in caplog.records)
    for where, text in (("logs", logged), ("/metrics", metrics), ("/healthz", health)):
        leaked = sorted(s for s in secrets if s in text)
        assert not leaked, f"{where} contain {leaked}"
        assert PHONE not in text and PHONE[1:] not in text, f"{where} contain the phone number"


def test_named_credentials_and_phone_numbers_are_masked_in_any_shape():
    from bot.redact import redact
    lines = {
        'http://graph "POST /v21.0/me/messages?access_token=EAAB123xyz&x=1 HTTP/1.1" 200':
            'http://graph "POST /v21.0/me/messages?access_token=***&x=1 HTTP/1.1" 200',
        '{"command": "{\\"$set\\": {\\"refresh_token\\": \\"zr-9f8e7d\\", \\"n\\": 1}}"}':
            '{"command": "{\\"$set\\": {\\"refresh_token\\": \\"***\\", \\"n\\": 1}}"}',
        "headers {'secret_key': 'abc123def', 'Authorization': 'Bearer tok.en-1'}":
            "headers {'secret_key': '***', 'Authorization': '***'}",
        "gọi 0912345678, 0912 345 678, 0912.345.678 hoặc +84912345678":
            "gọi 091*****78, 091*****78, 091*****78 hoặc 849******78",
    }
    for line, expected in lines.items():
        assert redact(line) == expected
    untouched = "timestamp 1636616404921 user 246845883529197922 case TV-8HK3MA took 0.25 s"
    assert redact(untouched) == untouched


def test_an_exception_logged_with_a_token_in_its_message_is_masked(app, caplog):
    caplog.set_level(logging.DEBUG)
    try:
        raise ConnectionError(f"Max retries exceeded with url: /me/messages?access_token={FakeGraphAPI.PAGE_TOKEN}")
    except ConnectionError:
        logging.getLogger("tongdai.test").exception("send failed for %s", PHONE)
    assert FakeGraphAPI.PAGE_TOKEN not in caplog.text and PHONE not in caplog.text
    assert "access_token=***" in caplog.text and "091*****78" in caplog.text
