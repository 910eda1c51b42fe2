"""Hostile requests, one kind at a time: oversized bodies, forged and replayed signatures,
operator-shaped values where ids belong, and floods of the web chat.

Old events: a correctly signed event older than the platform's retry window is refused (issue 15;
tests/security/test_webhooks.py). Within the window, the signature covers the body's own
timestamp so it cannot be moved, and the message id makes a replay a duplicate that is stored
once and answered once."""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
import io
import json
import os
import select
import socket
import subprocess
import sys

import pytest
from bot import texts
from bot.app import MAX_BODY_BYTES
from bot.config import REPO_ROOT
from tests.conftest import (FB_APP_SECRET, environment_for_tests, facebook_signature, free_port, load_fixture,
                            post_facebook, post_zalo, wait_until, zalo_signature)
from tests.helpers import database_contents, inbound, the_inbound
from webhooks.blueprint import MAX_EVENT_BYTES
from itsdangerous import URLSafeSerializer

from webhooks.web import CITIZEN_COOKIE, MAX_MESSAGE_BYTES, MESSAGES_PER_MINUTE

OPERATORS = [{"$gt": ""}, {"$ne": None}, {"$where": "return true"}, {"$regex": ".*"}]


# ---- oversized bodies: 413 before the body is read -------------------------------------------

class CountingStream(io.RawIOBase):
    """A request body of `size` bytes that counts how much of it the app reads."""

    def __init__(self, size: int):
        self.size, self.position, self.read_bytes = size, 0, 0

    def readable(self):
        return True

    def seekable(self):  # the test client rewinds the stream before sending it
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        self.position = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence] + offset
        return self.position

    def tell(self):
        return self.position

    def readinto(self, buffer):
        n = max(0, min(len(buffer), self.size - self.position))
        buffer[:n] = b" " * n
        self.position += n
        self.read_bytes += n
        return n


@pytest.mark.parametrize("path, limit, headers", [
    ("/webhooks/zalo", MAX_EVENT_BYTES, {"X-ZEvent-Signature": "mac=00"}),
    ("/webhooks/facebook", MAX_EVENT_BYTES, {"X-Hub-Signature-256": "sha256=00"}),
    ("/chat/messages", MAX_MESSAGE_BYTES, {}),
    ("/chat/photos", MAX_BODY_BYTES, {"X-Requested-With": "tongdai1022"}),
])
def test_a_body_over_the_limit_is_413_without_being_read(client, repository, path, limit, headers):
    before = database_contents(repository)
    body = CountingStream(limit + 1)
    content_type = "multipart/form-data; boundary=x" if path == "/chat/photos" else "application/json"
    response = client.post(path, input_stream=body, content_length=limit + 1, content_type=content_type,
                           headers=headers)
    assert response.status_code == 413
    assert body.read_bytes == 0
    assert database_contents(repository) == before
    if path.startswith("/chat/"):
        assert response.get_json()["error"] == texts.WEB_CHAT_TOO_LARGE


@pytest.fixture
def http_server(database_uri, nlu_url, fake_zalo, fake_graph, tmp_path):
    """The web process as `make run` starts it (bot/web.py: the app behind waitress), on a free port."""
    port = free_port()
    env = {**os.environ, **environment_for_tests(database_uri, nlu_url, fake_zalo.url, fake_graph.base_url,
                                                 tmp_path / "var"), "HOST": "127.0.0.1", "PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "bot.web"], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def listening():
        assert process.poll() is None, "the web process exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    try:
        wait_until(listening, 60, "the web process")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answer(sock) -> bytes:
    sock.settimeout(30)
    answer = b""
    while b"\r\n\r\n" not in answer:
        data = sock.recv(65536)
        if not data:
            break
        answer += data
    return answer


def test_waitress_refuses_a_huge_content_length_without_waiting_for_the_body(http_server):
    with socket.create_connection(("127.0.0.1", http_server), timeout=30) as sock:
        sock.sendall(b"POST /webhooks/zalo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 104857600\r\n\r\n" + b"{" * 1024)
        # Only 1 KB of the announced 100 MB was sent: an answer now means nothing waited for the rest.
        assert b" 413 " in _answer(sock).split(b"\r\n")[0]


@pytest.mark.parametrize("path", ["/webhooks/facebook", "/chat/messages"])
def test_waitress_stops_a_chunked_body_without_length_at_the_limit(http_server, path):
    chunk = b"x" * (256 * 1024)
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent = 0
    with socket.create_connection(("127.0.0.1", http_server), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n".encode())
        try:
            for _ in range(400):  # a 100 MB stream that never ends on its own
                if select.select([sock], [], [], 0)[0]:
                    break  # the server has answered
                sock.sendall(frame)
                sent += len(chunk)
        except OSError:
            pass  # the server answered and closed while we were still sending
        status = _answer(sock).split(b"\r\n")[0]
    assert b" 413 " in status
    # It stopped reading near the limit: the rest of the stream was never sent, let alone kept.
    assert sent < MAX_BODY_BYTES + 8 * 1024 * 1024 < 400 * len(chunk)


# ---- signatures: forged, missing, replayed ---------------------------------------------------

def _zalo_body(event: dict) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode()


def test_facebook_missing_or_sha1_only_signature_is_403(client, repository):
    before = database_contents(repository)
    body = json.dumps(load_fixture("facebook", "messages")).encode()
    sha1 = "sha1=" + hmac.new(FB_APP_SECRET.encode(), body, hashlib.sha1).hexdigest()
    for headers in ({}, {"X-Hub-Signature": sha1}, {"X-Hub-Signature-256": ""},
                    {"X-Hub-Signature-256": facebook_signature(body)[7:]}):  # without "sha256="
        response = client.post("/webhooks/facebook", data=body, content_type="application/json", headers=headers)
        assert response.status_code == 403, headers
    assert database_contents(repository) == before


def test_zalo_signed_with_the_app_secret_instead_of_the_oa_key_is_403(client, repository, fake_zalo):
    event = load_fixture("zalo", "user_send_text")
    before = database_contents(repository)
    signature = zalo_signature(_zalo_body(event), key=fake_zalo.APP_SECRET)
    assert post_zalo(client, event, signature=signature).status_code == 403
    assert database_contents(repository) == before


def test_a_zalo_signature_replayed_on_another_body_or_timestamp_is_403(client, repository):
    event = load_fixture("zalo", "user_send_text")
    captured = zalo_signature(_zalo_body(event))
    before = database_contents(repository)
    other_text = json.loads(json.dumps(event))
    other_text["message"]["text"] = "Tin nhắn giả mạo"
    other_time = dict(event, timestamp=str(int(event["timestamp"]) + 1))
    other_user = json.loads(json.dumps(event))
    other_user["sender"]["id"] = "999999999999"
    for forged in (other_text, other_time, other_user):
        assert post_zalo(client, forged, signature=captured).status_code == 403
    # The same bytes with a different timestamp field order are different bytes, too.
    reordered = json.dumps({"timestamp": event["timestamp"], **event}, ensure_ascii=False).encode()
    assert client.post("/webhooks/zalo", data=reordered, content_type="application/json",
                       headers={"X-ZEvent-Signature": captured}).status_code == 403
    assert database_contents(repository) == before


def test_a_facebook_signature_replayed_on_another_body_is_403(client, repository):
    payload = load_fixture("facebook", "messages")
    captured = facebook_signature(json.dumps(payload, ensure_ascii=False).encode())
    before = database_contents(repository)
    payload["entry"][0]["messaging"][0]["message"]["text"] = "Tin nhắn giả mạo"
    assert post_facebook(client, payload, signature=captured).status_code == 403
    assert database_contents(repository) == before


def test_an_identical_redelivery_is_accepted_and_answered_once(client, repository, worker, fake_zalo):
    event = load_fixture("zalo", "user_send_text")
    body = _zalo_body(event)
    headers = {"X-ZEvent-Signature": zalo_signature(body)}
    assert client.post("/webhooks/zalo", data=body, content_type="application/json", headers=headers).status_code == 200
    worker.drain()
    for retry in ("1", "2", "3"):  # Zalo's retries carry the same body and signature
        response = client.post("/webhooks/zalo", data=body, content_type="application/json",
                               headers={**headers, "num_retry": retry})
        assert response.status_code == 200 and response.get_json().get("duplicate") == 1
    worker.drain()
    the_inbound(repository)
    assert len(fake_zalo.received) == 1


# ---- operator-shaped values where ids and text belong -----------------------------------------

def _set(event: dict, path: str, value) -> dict:
    event = json.loads(json.dumps(event))
    *parents, last = path.split(".")
    target = event
    for key in parents:
        target = target[int(key)] if isinstance(target, list) else target[key]
    target[last] = value
    return event


@pytest.mark.parametrize("operator", OPERATORS)
@pytest.mark.parametrize("fixture, path", [
    ("user_send_text", "sender.id"), ("user_send_text", "message.msg_id"), ("user_send_text", "message.text"),
    ("follow", "follower.id"), ("user_submit_info", "sender.id"), ("user_seen_message", "recipient.id"),
    ("oa_send_text__by_staff", "message.msg_id"), ("oa_send_text__by_staff", "recipient.id"),
    ("user_send_text", "timestamp"), ("user_send_text", "event_name"),
])
def test_zalo_operator_in_an_id_is_400_and_stores_nothing(client, repository, fixture, path, operator):
    before = database_contents(repository)
    response = post_zalo(client, _set(load_fixture("zalo", fixture), path, operator))
    assert response.status_code == 400
    assert database_contents(repository) == before


@pytest.mark.parametrize("operator", OPERATORS)
@pytest.mark.parametrize("path", ["entry.0.messaging.0.sender.id", "entry.0.messaging.0.message.mid",
                                  "entry.0.messaging.0.message.text", "entry.0.messaging", "entry"])
def test_facebook_operator_in_an_id_is_400_and_stores_nothing(client, repository, path, operator):
    before = database_contents(repository)
    response = post_facebook(client, _set(load_fixture("facebook", "messages"), path, operator))
    assert response.status_code == 400
    assert database_contents(repository) == before


@pytest.mark.parametrize("operator", OPERATORS)
def test_optional_fields_with_an_operator_are_dropped_not_stored(client, repository, operator):
    zalo = _set(load_fixture("zalo", "user_send_text"), "message.quote_msg_id", operator)
    assert post_zalo(client, zalo).status_code == 200
    quick = _set(load_fixture("facebook", "messages__quick_reply"), "entry.0.messaging.0.message.quick_reply",
                 {"payload": operator})
    assert post_facebook(client, quick).status_code == 200
    postback = load_fixture("facebook", "messaging_postbacks")
    postback["entry"][0]["messaging"][0]["postback"]["payload"] = operator
    assert post_facebook(client, postback).status_code == 200
    stored = inbound(repository)
    assert len(stored) == 3
    assert all(m["reply_to"] is None and m["payload"] is None for m in stored)


@pytest.mark.parametrize("operator", OPERATORS)
def test_receipts_naming_an_operator_mark_nothing_seen(client, repository, worker, fake_zalo, fake_graph, operator):
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    assert post_facebook(client, load_fixture("facebook", "messages")).status_code == 200
    worker.drain()
    assert repository.messages.count_documents({"direction": "out", "state": "sent"}) >= 2
    zalo_seen = load_fixture("zalo", "user_seen_message")
    zalo_seen["message"] = {"msg_ids": [operator], "msg_id": operator}
    assert post_zalo(client, zalo_seen).status_code == 200  # ids are read as text: no message has that id
    zalo_seen["message"] = {"msg_id": operator}
    assert post_zalo(client, zalo_seen).status_code == 200
    facebook_read = load_fixture("facebook", "message_reads")
    facebook_read["entry"][0]["messaging"][0]["read"]["watermark"] = operator
    assert post_facebook(client, facebook_read).status_code == 200
    delivery = load_fixture("facebook", "message_deliveries")
    delivery["entry"][0]["messaging"][0]["delivery"]["mids"] = operator
    assert post_facebook(client, delivery).status_code == 400
    assert repository.messages.count_documents({"seen_ts": {"$exists": True}}) == 0
    assert repository.messages.count_documents({"delivered_ts": {"$exists": True}}) == 0


@pytest.mark.parametrize("operator", OPERATORS)
def test_web_chat_fields_with_an_operator_are_refused_or_read_as_text(app, client, repository, operator):
    client.get("/")
    before = database_contents(repository)
    assert client.post("/chat/messages", json={"text": operator}).status_code == 400
    assert database_contents(repository) == before
    response = client.post("/chat/messages", json={"text": "Xin chào", "id": operator, "payload": operator},
                           headers={"X-Message-Id": json.dumps(operator)})
    assert response.status_code == 202
    stored = the_inbound(repository)
    assert isinstance(stored["message_id"], str) and "$" not in stored["message_id"] and stored["payload"] is None
    # The history cursor is a number or nothing.
    for query in (f"after={json.dumps(operator)}", "after[$gt]=0", "after=NaN"):
        assert client.get(f"/chat/messages?{query}").status_code == 200


@pytest.mark.parametrize("operator", OPERATORS)
def test_a_cookie_naming_an_operator_is_a_new_citizen(app, client, repository, operator):
    client.get("/")
    assert client.post("/chat/messages", json={"text": "Tin của người khác", "id": "someone-else-1"}).status_code == 202
    serializer = URLSafeSerializer(app.secret_key, salt="web-chat-citizen")
    intruder = app.test_client()
    for cookie in (json.dumps(operator),                                  # unsigned: ignored
                   serializer.dumps(operator)):                          # even signed with our key
        intruder.set_cookie(CITIZEN_COOKIE, cookie)
        assert intruder.get("/chat/messages?after=0").get_json()["messages"] == []
    assert intruder.post("/chat/messages", json={"text": "Xin chào", "id": "intruder-0001"}).status_code == 202
    assert all(isinstance(m["user_id"], str) for m in inbound(repository))
    assert len({m["user_id"] for m in inbound(repository)}) == 2


@pytest.mark.parametrize("lookup", ['tra cứu {"$ne": null}', 'tra cứu hồ sơ {"$gt": ""}', "TV-{$gt:''}",
                                    'tra cứu $where: "return true"', "tra cứu TV-.*", 'tra cứu [$regex]=TV'])
def test_a_case_lookup_shaped_like_a_query_finds_no_one_elses_case(client, repository, worker, fake_zalo, lookup):
    from tests.test_end_to_end import report_and_confirm, zalo_text
    report_and_confirm(client, worker)
    code = repository.cases.find_one()["code"]
    assert post_zalo(client, zalo_text(lookup, "inject-1", user="intruder-1")).status_code == 200
    worker.drain()
    answers = fake_zalo.texts_to("intruder-1")
    assert answers and not any(code in answer for answer in answers)


# ---- floods of the web chat ------------------------------------------------------------------

def _say(client, text: str, message_id: str, address: str = "203.0.113.7", **headers):
    return client.post("/chat/messages", json={"text": text, "id": message_id}, headers=headers,
                       environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def limited_app(app, settings):
    app.extensions["settings"] = dataclasses.replace(settings, web_chat_ip_per_minute=5)
    return app


def test_one_address_changing_cookies_is_limited_per_minute(limited_app, repository):
    codes = [_say(limited_app.test_client(), f"tin {i}", f"address-limit-{i:04d}").status_code for i in range(7)]
    assert codes == [202] * 5 + [429] * 2
    refused = _say(limited_app.test_client(), "nữa", "address-limit-9999")
    assert refused.get_json()["error"] == texts.WEB_CHAT_TOO_MANY_FROM_ADDRESS
    assert len(inbound(repository)) == 5
    # Another address is not held up; the counter keeps no address in the clear.
    assert _say(limited_app.test_client(), "tôi khác", "address-other-01", address="198.51.100.4").status_code == 202
    assert not any("203.0.113.7" in json.dumps(doc, default=str) for doc in repository.db["rate_buckets"].find())


def test_the_per_citizen_limit_holds_below_the_address_limit(app, client, repository):
    client.get("/")
    codes = [_say(client, f"tin {i}", f"citizen-limit-{i:04d}").status_code for i in range(MESSAGES_PER_MINUTE + 2)]
    assert codes == [202] * MESSAGES_PER_MINUTE + [429] * 2
    assert "quá nhanh" in _say(client, "nữa", "citizen-limit-9999").get_json()["error"]


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(limited_app, repository, settings):
    forged = [_say(limited_app.test_client(), f"tin {i}", f"xff-{i:04d}", **{"X-Forwarded-For": f"10.9.8.{i}"})
              for i in range(6)]
    assert [r.status_code for r in forged] == [202] * 5 + [429]


def test_behind_a_trusted_proxy_the_address_it_saw_is_counted(limited_app, repository, settings):
    limited_app.extensions["settings"] = dataclasses.replace(settings, web_chat_ip_per_minute=5, trust_proxy=1)
    proxy = "127.0.0.1"
    # Each citizen's own left-most entries are their word; the proxy's entry (right-most) is the address.
    codes = [_say(limited_app.test_client(), f"tin {i}", f"proxy-{i:04d}", address=proxy,
                  **{"X-Forwarded-For": f"1.2.3.{i}, 203.0.113.50"}).status_code for i in range(6)]
    assert codes == [202] * 5 + [429]
    other = _say(limited_app.test_client(), "tôi", "proxy-other-1", address=proxy,
                 **{"X-Forwarded-For": "198.51.100.9"})
    assert other.status_code == 202


def test_trust_proxy_setting_is_read_from_the_environment():
    from bot.config import Settings
    assert Settings.from_env({}).trust_proxy == 0 and Settings.from_env({}).web_chat_ip_per_minute == 60
    assert Settings.from_env({"TRUST_PROXY": "yes", "WEB_CHAT_IP_PER_MINUTE": "30"}).trust_proxy == 1
    assert Settings.from_env({"TRUST_PROXY": "2"}).trust_proxy == 2
    assert Settings.from_env({"WEB_CHAT_IP_PER_MINUTE": "30"}).web_chat_ip_per_minute == 30


# ---- numbers no platform sends ------------------------------------------------------------------

@pytest.mark.parametrize("timestamp", ["Infinity", "1e400", "-5", str(2 ** 63), "99999999999999999999999999"])
def test_zalo_timestamp_out_of_range_is_400(client, repository, timestamp):
    event = load_fixture("zalo", "user_send_text")
    body = json.dumps(event, ensure_ascii=False)
    body = body.replace(f'"timestamp": "{event["timestamp"]}"', f'"timestamp": {timestamp}').encode()
    assert f'"timestamp": {timestamp}'.encode() in body
    before = database_contents(repository)
    response = client.post("/webhooks/zalo", data=body, content_type="application/json",
                           headers={"X-ZEvent-Signature": zalo_signature(body)})
    assert response.status_code == 400
    assert database_contents(repository) == before


@pytest.mark.parametrize("number", [2 ** 63, 10 ** 25, -1])
def test_numbers_beyond_the_database_are_dropped_not_a_500(client, repository, number):
    facebook = load_fixture("facebook", "messages")
    facebook["entry"][0]["messaging"][0]["timestamp"] = number
    assert post_facebook(client, facebook).status_code == 200
    read = load_fixture("facebook", "message_reads")
    read["entry"][0]["messaging"][0]["read"]["watermark"] = number
    assert post_facebook(client, read).status_code == 200
    zalo_file = load_fixture("zalo", "user_send_file")
    zalo_file["message"]["attachments"][0]["payload"]["size"] = str(number)
    assert post_zalo(client, zalo_file).status_code == 200
    # A message whose time cannot be read is no delivery within Meta's retry window: refused.
    [zalo_message] = inbound(repository)
    assert zalo_message["channel"] == "zalo" and "size" not in zalo_message["attachments"][0]
