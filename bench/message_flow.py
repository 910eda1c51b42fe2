"""Through the real processes (embedded database, NLU server, web app, worker) to fake platforms:
webhook answer time for single Zalo events and for 50-event Messenger batches, and
message -> reply time."""
import copy
import json
import statistics
import time

import requests

from bench.services import running
from tests.conftest import facebook_signature, load_fixture, zalo_signature
from tests.fakes import FakeGraphAPI, FakeZalo

MESSAGES = 100
RATE_PER_SECOND = 10
ZALO_TEXT = load_fixture("zalo", "user_send_text")
BATCHES, BATCH_SIZE = 20, 50
TEXTS = [
    "tối qua ở khóm 4 phường 1 có đám nhậu đông người không đeo khẩu trang",
    "em mất việc vì dịch, gia đình khó khăn xin được hỗ trợ",
    "nen bo tri them diem tiem vaccine o xa Long Hiep",
    "con tôi sốt cao, SpO2 95 thì có cần đi viện không",
    "xin chào",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (f"{name}: p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
            f"max {max(ms):.1f} ms, mean {statistics.mean(ms):.1f} ms (n={len(ms)})")


def post_zalo_text(url: str, user_id: str, msg_id: str, text: str) -> float:
    """One signed Zalo text event posted to the webhook; the seconds its 200 took."""
    event = copy.deepcopy(ZALO_TEXT)
    event["sender"]["id"] = user_id
    event["message"].update(msg_id=msg_id, text=text)
    body = json.dumps(event).encode()
    started = time.monotonic()
    response = requests.post(f"{url}/webhooks/zalo", data=body, timeout=30, headers={
        "Content-Type": "application/json", "X-ZEvent-Signature": zalo_signature(body)})
    assert response.status_code == 200, response.text
    return time.monotonic() - started


def single_zalo_events(url: str, fake: FakeZalo, rate: float = RATE_PER_SECOND, workers: int = 1) -> None:
    answer, sent_at = [], {}
    for i in range(MESSAGES):
        sent_at[f"bench-user-{i}"] = t0 = time.monotonic()
        answer.append(post_zalo_text(url, f"bench-user-{i}", f"bench-{i}", TEXTS[i % len(TEXTS)]))
        time.sleep(max(0.0, t0 + 1 / rate - time.monotonic()))
    fake.wait_for(MESSAGES, timeout=300)
    replies = [at - sent_at[p["recipient"]["user_id"]] for p, at in zip(fake.received, fake.received_at)]
    print(f"{MESSAGES} Zalo messages at {rate:g}/s, {workers} worker(s), embedded database:")
    print("  " + summary("webhook answer", answer))
    print("  " + summary("message -> reply", replies))


def messenger_batches(url: str, graph: FakeGraphAPI) -> None:
    template = load_fixture("facebook", "messages")
    answer = []
    for b in range(BATCHES):
        payload = copy.deepcopy(template)
        event = payload["entry"][0]["messaging"][0]
        payload["entry"][0]["messaging"] = [
            {**event, "sender": {"id": f"psid-{b}-{i}"}, "message": {"mid": f"m-{b}-{i}", "text": TEXTS[i % len(TEXTS)]}}
            for i in range(BATCH_SIZE)]
        body = json.dumps(payload).encode()
        t0 = time.monotonic()
        response = requests.post(f"{url}/webhooks/facebook", data=body, timeout=20, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": facebook_signature(body)})
        answer.append(time.monotonic() - t0)
        assert response.status_code == 200, response.text
    print(f"{BATCHES} Messenger batches of {BATCH_SIZE} events:")
    print("  " + summary("webhook answer per batch", answer))
    started = time.monotonic()
    graph.wait_for(BATCHES * BATCH_SIZE, timeout=600)
    print(f"  all {BATCHES * BATCH_SIZE} replies sent {time.monotonic() - started:.1f} s after the last batch")


def run() -> None:
    zalo, graph = FakeZalo(), FakeGraphAPI()
    try:
        with running(zalo.url, graph.base_url) as url:
            single_zalo_events(url, zalo)
            messenger_batches(url, graph)
        for workers in (1, 2):  # issue 5: 50 messages/s through the whole pipeline
            zalo.reset()
            with running(zalo.url, graph.base_url, workers=workers) as url:
                single_zalo_events(url, zalo, rate=50, workers=workers)
    finally:
        zalo.close()
        graph.close()
