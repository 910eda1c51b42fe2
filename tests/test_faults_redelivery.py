"""The same signed event delivered 1,000 times at once to the real web server (one report had 837
copies of a message, PLATFORMS.md): one message stored, one case, one reply."""
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from collections import Counter

import requests
from waitress.server import create_server

from tests.conftest import load_fixture, post_zalo, zalo_signature

COPIES = 1000
SENDERS = 32


def test_one_event_redelivered_a_thousand_times_concurrently_is_one_message_one_case_one_reply(
        app, client, repository, worker, fake_zalo):
    citizen = load_fixture("zalo", "user_send_text")["sender"]["id"]
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200  # the report
    worker.drain()
    assert repository.conversation("zalo", citizen)["form"]["asking"] == "confirm"

    confirm = load_fixture("zalo", "user_send_text")
    confirm["message"].update(text="đúng", msg_id="confirm-many")
    body = json.dumps(confirm, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "X-ZEvent-Signature": zalo_signature(body)}
    server = create_server(app, host="127.0.0.1", port=0, threads=8, connection_limit=200)
    url = f"http://127.0.0.1:{server.effective_port}/webhooks/zalo"
    serving = threading.Thread(target=server.run, daemon=True)
    serving.start()
    local = threading.local()

    def deliver(_):
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        response = session.post(url, data=body, headers=headers, timeout=60)
        return response.status_code, response.json().get("stored", 0)

    try:
        with ThreadPoolExecutor(SENDERS) as pool:
            answers = list(pool.map(deliver, range(COPIES)))
    finally:
        server.close()
        serving.join(timeout=30)
    assert Counter(status for status, _ in answers) == {200: COPIES}
    assert sum(stored for _, stored in answers) == 1  # exactly one delivery stored it

    assert repository.messages.count_documents({"direction": "in", "message_id": "confirm-many"}) == 1
    worker.drain()
    [case] = list(repository.cases.find())
    assert case["source"] == "zalo:confirm-many"
    replies = fake_zalo.texts_to(citizen)
    assert len(replies) == 2 and case["code"] in replies[1]  # the summary, then the one filed reply
    assert repository.messages.count_documents({"direction": "out", "in_reply_to": "confirm-many"}) == 1
