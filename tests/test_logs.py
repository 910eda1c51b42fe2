"""Structured logs: one JSON object per line, and one correlation id followed from the webhook that
stored a citizen's message, through the worker that handled it, to the reply sent and recorded."""
from __future__ import annotations

import io
import json
import logging

import pytest

from bot import logs
from tests.conftest import post_zalo
from tests.fakes import FakeZalo
from tests.test_end_to_end import zalo_text

PHONE = "0912345678"


@pytest.fixture
def json_lines():
    """The lines the processes' own handler (logs.handler, as logs.setup installs it) writes, parsed."""
    stream = io.StringIO()
    handler = logs.handler("test", stream)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(previous_level)


def test_one_correlation_id_from_webhook_to_reply(client, repository, worker, fake_zalo, json_lines):
    report = f"tối qua ở khóm 4 phường 1 có đám nhậu đông người, số em {PHONE}"
    response = post_zalo(client, zalo_text(report, "corr-1"))
    assert response.status_code == 200
    correlation_id = response.headers["X-Request-Id"]
    assert len(correlation_id) == 32

    worker.drain()
    fake_zalo.wait_for(1)

    inbound = repository.messages.find_one({"message_id": "corr-1"})
    outbound = repository.messages.find_one({"direction": "out", "in_reply_to": "corr-1"})
    assert inbound["correlation_id"] == correlation_id
    assert outbound["correlation_id"] == correlation_id and outbound["state"] == "sent"

    lines = json_lines()
    ours = [line for line in lines if line.get("correlation_id") == correlation_id]
    by_logger = {line["logger"]: line for line in ours}
    webhook, processed, sent = by_logger["tongdai.intake"], by_logger["tongdai.worker"], by_logger["tongdai.outbox"]
    assert webhook["message"] == "accepted 1 events" and webhook["outcomes"] == {"stored": 1}
    assert webhook["channel"] == "zalo"
    assert processed["outcome"] == "done" and processed["intent"] == "report"
    assert processed["latency_ms"] >= processed["duration_ms"] > 0
    assert sent["state"] == "sent" and sent["channel"] == "zalo"
    # One line each at INFO for this message: the webhook, the processing, the send.
    assert sorted(line["logger"] for line in ours if line["level"] == "INFO") == [
        "tongdai.intake", "tongdai.outbox", "tongdai.worker"]
    for line in lines:
        assert {"ts", "level", "logger", "message", "service", "pid"} <= set(line)
        assert line["service"] == "test"
    # What the citizen wrote is personal data: not one word of it is logged.
    logged = json.dumps(lines, ensure_ascii=False)
    assert "đám nhậu" not in logged and PHONE not in logged and PHONE[1:] not in logged


def test_two_requests_get_two_ids_and_a_sane_incoming_id_is_kept(client, repository, worker, fake_zalo, json_lines):
    first = post_zalo(client, zalo_text("xin chào", "corr-a", user="1001"))
    second = post_zalo(client, zalo_text("xin chào", "corr-b", user="1002"))
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]

    body = json.dumps(zalo_text("xin chào", "corr-c", user="1003")).encode()
    from tests.conftest import zalo_signature
    proxy_id = "req-7f3a9c21-edge"
    response = client.post("/webhooks/zalo", data=body, content_type="application/json",
                           headers={"X-ZEvent-Signature": zalo_signature(body), "X-Request-Id": proxy_id})
    assert response.headers["X-Request-Id"] == proxy_id
    worker.drain()
    fake_zalo.wait_for(3)
    for message_id, expected in (("corr-a", first.headers["X-Request-Id"]),
                                 ("corr-b", second.headers["X-Request-Id"]), ("corr-c", proxy_id)):
        assert repository.messages.find_one({"message_id": message_id})["correlation_id"] == expected
        assert repository.messages.find_one({"in_reply_to": message_id})["correlation_id"] == expected
    processed = [line for line in json_lines() if line["logger"] == "tongdai.worker" and "outcome" in line]
    assert sorted(line["correlation_id"] for line in processed) == sorted(
        [first.headers["X-Request-Id"], second.headers["X-Request-Id"], proxy_id])


@pytest.mark.parametrize("incoming", [PHONE + "-call-me", "short", "with spaces in it", "x" * 65,
                                      "access_token=abcdefgh", "<script>alert(1)</script>"])
def test_an_unfit_incoming_request_id_is_replaced(client, incoming):
    response = client.get("/healthz", headers={"X-Request-Id": incoming})
    returned = response.headers["X-Request-Id"]
    assert returned != incoming and len(returned) == 32 and returned.isalnum()


def test_the_formatter_writes_what_redact_masked(app):
    """bot/redact.py's record factory masks as the record is made; the JSON line holds the masked
    text, in the message, in extra fields and in a traceback."""
    stream = io.StringIO()
    logger = logging.getLogger("tongdai.test.json")
    logger.addHandler(logs.handler("web", stream))
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        with logs.bound("corr-test-0001"):
            logger.warning("token %s for %s", f"access_token={FakeZalo.ACCESS_TOKEN}", PHONE,
                           extra={"note": f"gọi {PHONE}"})
            try:
                raise ConnectionError(f"url /me?access_token={FakeZalo.ACCESS_TOKEN}")
            except ConnectionError:
                logger.exception("send failed")
        logger.info("outside")
    finally:
        logger.propagate = True
        logger.setLevel(logging.NOTSET)
        logger.handlers.clear()
    warning, failure, outside = (json.loads(line) for line in stream.getvalue().splitlines())
    assert warning["message"] == "token access_token=*** for 091*****78"
    assert warning["note"] == "gọi 091*****78"
    assert warning["correlation_id"] == failure["correlation_id"] == "corr-test-0001"
    assert warning["level"] == "WARNING" and warning["logger"] == "tongdai.test.json" and warning["service"] == "web"
    assert "ConnectionError" in failure["exception"] and "access_token=***" in failure["exception"]
    assert FakeZalo.ACCESS_TOKEN not in stream.getvalue() and PHONE not in stream.getvalue()
    assert "correlation_id" not in outside
