"""The platforms' send APIs misbehaving, end to end through the worker: a send that times out is
kept as uncertain (never sent twice) while the worker goes on with another citizen; rate limiting (Zalo -32, Messenger
613) is backed off and the reply goes once; retries are bounded. (Each error code's meaning is in
tests/webhooks/test_send_errors.py.)"""
import threading
import time

from bot.config import Settings
from bot.worker import MAX_ERRORS, Worker, backoff, build_pipeline
from tests.conftest import environment_for_tests, load_fixture, post_facebook, post_zalo, wait_until
from tests.fakes import FakeZalo
from webhooks.registry import build_channels

ZALO_SEND_TIMEOUT = 10  # webhooks/zalo.py: requests' timeout on a send


class OverloadedZalo(FakeZalo):
    """Zalo that, for its next `stalls` sends, keeps the request open past our timeout and then
    drops it (nothing delivered), as an overloaded server does."""

    def __init__(self):
        super().__init__()
        self.stalls = 0
        self.stalled = 0
        self.released = threading.Event()  # set at the end: no stalled request outlives the test
        # The stalled answer goes to a client that gave up: its broken pipe is expected, not news.
        self.server.handle_error = lambda request, client_address: None

    def handle(self, path, query, headers, payload):
        if path == "/v3.0/oa/message/cs" and self.stalls:
            with self.lock:
                self.stalls -= 1
                self.stalled += 1
            self.released.wait(ZALO_SEND_TIMEOUT + 2)
            return 503, {"error": -200, "message": "stalled"}
        return super().handle(path, query, headers, payload)


def greeting(user: str, msg_id: str) -> dict:
    event = load_fixture("zalo", "user_send_text")
    event["sender"]["id"] = user
    event["message"].update(msg_id=msg_id, text="xin chào")
    return event


def test_a_send_that_times_out_is_not_sent_again_and_the_worker_serves_another_citizen_meanwhile(
        settings, repository, client, tmp_path):
    """Zalo took the request and never answered: it may have delivered it, so a resend could double
    the reply. The reply is kept as "uncertain" for staff to check, and the worker moves on."""
    zalo = OverloadedZalo()
    try:
        stalled_settings = Settings.from_env(environment_for_tests(settings.database_uri, settings.nlu_base_url,
                                                                   zalo.url, settings.fb_graph_url, tmp_path))
        worker = Worker(repository, build_pipeline(stalled_settings, repository,
                                                   build_channels(stalled_settings, repository)))
        zalo.stalls = 1
        assert post_zalo(client, greeting("slow-citizen", "a-1")).status_code == 200
        assert post_zalo(client, greeting("next-citizen", "b-1")).status_code == 200
        started = time.monotonic()
        assert worker.run_once() == "processed"  # the send to the first citizen timed out
        took = time.monotonic() - started
        assert ZALO_SEND_TIMEOUT - 1 < took < ZALO_SEND_TIMEOUT + 5, took
        reply = repository.messages.find_one({"message_id": "reply:a-1:0"})
        assert reply["state"] == "uncertain" and "có thể đã đến người dân" in reply["error"]
        assert repository.messages.find_one({"message_id": "a-1"})["state"] == "done"

        assert worker.run_once() == "processed"  # the other citizen, at once
        assert zalo.texts_to("next-citizen")
        assert worker.run_once() == "idle"  # nothing is sent again
        assert zalo.stalled == 1 and repository.messages.find_one({"message_id": "reply:a-1:0"})["attempts"] == 1
    finally:
        zalo.released.set()
        zalo.close()


def test_zalo_rate_limit_is_backed_off_and_the_reply_goes_once(client, repository, worker, fake_zalo):
    fake_zalo.queued_errors = [-32, -32]
    assert post_zalo(client, greeting("busy-day", "z-1")).status_code == 200
    for errors in (1, 2):
        before = time.time()
        wait_until(lambda: worker.run_once() == "processed", 15, f"attempt {errors}")
        message = repository.messages.find_one({"message_id": "z-1"})
        assert (message["state"], message["errors"]) == ("pending", errors)
        assert message["lease_until"] >= before + backoff(errors - 1) - 0.1  # backed off, growing
    wait_until(lambda: worker.run_once() == "processed", 15, "the third attempt")
    assert len(fake_zalo.received) == 3  # two refused by the rate limit, one delivered
    record = repository.messages.find_one({"message_id": "reply:z-1:0"})
    assert (record["state"], record["attempts"]) == ("sent", 3)
    assert repository.messages.find_one({"message_id": "z-1"})["state"] == "done"
    assert worker.run_once() == "idle"  # nothing left to send again


def test_messenger_rate_limit_is_backed_off_and_the_reply_goes_once(client, repository, worker, fake_graph):
    payload = load_fixture("facebook", "messages")
    payload["entry"][0]["messaging"][0]["message"].update(text="xin chào", mid="m-rate")
    fake_graph.fail_next(613)
    assert post_facebook(client, payload).status_code == 200
    assert worker.run_once() == "processed"
    assert repository.messages.find_one({"message_id": "reply:m-rate:0"})["error_code"] == "613"
    assert worker.run_once() == "idle"  # backed off: not retried at once
    wait_until(lambda: worker.run_once() == "processed", 15, "the retry after the back-off")
    assert len(fake_graph.received) == 2
    assert repository.messages.find_one({"message_id": "reply:m-rate:0"})["state"] == "sent"
    assert repository.messages.find_one({"message_id": "m-rate"})["state"] == "done"


def test_a_send_refused_on_every_attempt_fails_after_the_last_one_and_is_not_retried(
        client, repository, worker, fake_zalo):
    assert post_zalo(client, greeting("always-limited", "z-2")).status_code == 200
    # The attempts before the last one already happened (they are hours of back-off apart).
    repository.messages.update_one({"message_id": "z-2"}, {"$set": {"errors": MAX_ERRORS - 1}})
    fake_zalo.fail_next(-32)
    assert worker.run_once() == "processed"
    message = repository.messages.find_one({"message_id": "z-2"})
    assert (message["state"], message["errors"]) == ("failed", MAX_ERRORS)
    assert "-32" in message["last_error"]
    assert worker.run_once() == "idle" and len(fake_zalo.received) == 1
