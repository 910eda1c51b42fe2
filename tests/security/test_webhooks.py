"""Webhook events: a correctly signed event older than the platform's retry window is refused
(Zalo: retries for at most 12 h, refused after 24 h; Meta: retries over 36 h, refused after 48 h);
a request with more events than a platform batches is refused unread; receipts are applied in a
few bulk updates, not one each."""
from __future__ import annotations

import copy
import threading
import time

from pymongo import monitoring

from bot.app import create_app
from tests.conftest import load_fixture, post_facebook, post_zalo
from tests.helpers import inbound
from webhooks.blueprint import MAX_EVENTS

HOUR_MS = 3600 * 1000


def now_ms() -> int:
    return int(time.time() * 1000)


def zalo_text_at(timestamp_ms: int, msg_id: str) -> dict:
    event = load_fixture("zalo", "user_send_text")
    event["timestamp"] = str(timestamp_ms)
    event["message"]["msg_id"] = msg_id
    return event


def test_a_signed_zalo_event_from_2001_is_refused_and_kept_nowhere(client, repository):
    answer = post_zalo(client, zalo_text_at(1_000_000_000_000, "replayed-2001"))  # 9 Sep 2001
    assert answer.status_code == 200 and answer.get_json()["stale"] == 1
    assert inbound(repository) == []


def test_zalo_events_are_taken_within_a_day_and_refused_after(client, repository):
    assert post_zalo(client, zalo_text_at(now_ms() - 23 * HOUR_MS, "late-retry")).get_json().get("stored") == 1
    assert post_zalo(client, zalo_text_at(now_ms() - 25 * HOUR_MS, "too-late")).get_json().get("stale") == 1
    assert [m["message_id"] for m in inbound(repository)] == ["late-retry"]


def test_a_messenger_batch_keeps_its_fresh_events_and_refuses_the_old_ones(client, repository):
    batch = load_fixture("facebook", "messages__batch")
    events = batch["entry"][0]["messaging"]
    events[0]["timestamp"] = now_ms() - 47 * HOUR_MS   # Meta's last retries (36 h) and some clock drift
    events[1]["timestamp"] = now_ms() - 49 * HOUR_MS
    answer = post_facebook(client, batch)
    assert answer.status_code == 200 and answer.get_json()["stale"] == 1
    stored = {m["message_id"] for m in inbound(repository)}
    assert events[0]["message"]["mid"] in stored and events[1]["message"]["mid"] not in stored
    assert len(stored) == sum(len(entry["messaging"]) for entry in batch["entry"]) - 1


def deliveries(count: int) -> dict:
    payload = load_fixture("facebook", "message_deliveries")
    template = payload["entry"][0]["messaging"][0]
    payload["entry"][0]["messaging"] = [dict(copy.deepcopy(template), delivery={"mids": [f"m_sent_{n}"]})
                                        for n in range(count)]
    return payload


def test_a_batch_bigger_than_any_platform_sends_is_refused(client, repository):
    compact = {"object": "page", "entry": [{"id": "1", "time": now_ms(), "messaging": [
        {"sender": {"id": "6543217890123456"}, "delivery": {"mids": [f"m_{n}"]}} for n in range(MAX_EVENTS + 1)]}]}
    seen = load_fixture("zalo", "user_seen_message")
    seen["message"]["msg_ids"] = [f"msg-{n}" for n in range(9500)]  # one signed event naming 9,500 messages
    for answer in (post_facebook(client, compact), post_zalo(client, seen)):
        assert answer.status_code == 413
        assert answer.get_json()["error"] == f"more than {MAX_EVENTS} events in one request"


class Updates(monitoring.CommandListener):
    """Counts the update commands the app sends while `counting` (pymongo's command monitoring)."""

    def __init__(self):
        self.counting = threading.Event()
        self.updates = 0

    def started(self, event):
        if self.counting.is_set() and event.command_name == "update":
            self.updates += 1

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


UPDATES = Updates()
monitoring.register(UPDATES)  # for the clients made from here on: the app below


def test_a_thousand_receipts_are_two_updates_not_a_thousand(settings, repository):
    app = create_app(settings)
    try:
        repository.messages.insert_many([{"channel": "facebook", "message_id": f"reply:{n}", "user_id": "6543217890123456",
                                          "direction": "out", "state": "sent", "platform_message_id": f"m_sent_{n}"}
                                         for n in range(MAX_EVENTS - 1)])
        payload = deliveries(MAX_EVENTS - 1)
        read = load_fixture("facebook", "message_reads")["entry"][0]["messaging"][0]
        payload["entry"][0]["messaging"].append(read)
        UPDATES.updates = 0
        UPDATES.counting.set()
        try:
            answer = post_facebook(app.test_client(), payload)
        finally:
            UPDATES.counting.clear()
        assert answer.status_code == 200 and answer.get_json()["receipt"] == MAX_EVENTS
        assert UPDATES.updates == 2  # the delivered ones together, the read watermark for its user
        assert repository.messages.count_documents({"delivered_ts": {"$exists": True}}) == MAX_EVENTS - 1
    finally:
        app.extensions["repository"].close()
