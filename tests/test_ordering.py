"""Several workers, many citizens: each citizen's messages are handled in order, one at a time."""
import threading

from bot.repository import Repository, count_matching
from bot.worker import Worker, build_pipeline
from tests.conftest import load_fixture, post_zalo, wait_until
from webhooks.registry import build_channels

USERS, ROUNDS = 10, 4
TEXTS = ["Xin chào tổng đài", "Tối qua ở phường 7 thành phố Trà Vinh có đám nhậu đông người", "đúng", "tạm biệt"]


def test_two_workers_on_interleaved_messages_of_ten_citizens_keep_each_ones_order(client, repository, settings):
    event = load_fixture("zalo", "user_send_text")
    for r in range(ROUNDS):
        for u in range(USERS):
            event["sender"]["id"] = f"citizen-{u}"
            event["message"].update(msg_id=f"c{u}-m{r}", text=TEXTS[r])
            assert post_zalo(client, event).status_code == 200
    connections = [Repository(settings.database_uri) for _ in range(2)]  # as two processes would
    # Three citizens at a time each, so that one worker cannot take all ten at once.
    workers = [Worker(own, build_pipeline(settings, own, build_channels(settings, own)), worker_id=f"w{i}",
                      concurrency=3) for i, own in enumerate(connections)]
    threads = [threading.Thread(target=w.run_forever) for w in workers]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: count_matching(repository.messages, {"direction": "in", "state": "done"}) == USERS * ROUNDS,
                   120, "every message to be processed")
    finally:
        for w in workers:
            w.stopping.set()
        for t in threads:
            t.join(timeout=30)
        for own in connections:
            own.close()
    handled_by = set()
    for u in range(USERS):
        messages = sorted(repository.messages.find({"direction": "in", "user_id": f"citizen-{u}"}),
                          key=lambda m: m["received_ts"])
        assert [m["message_id"] for m in messages] == [f"c{u}-m{r}" for r in range(ROUNDS)]
        for earlier, later in zip(messages, messages[1:]):
            assert earlier["finished_ts"] <= later["claimed_ts"], "a citizen's messages overlapped"
        replies = sorted(repository.messages.find({"direction": "out", "user_id": f"citizen-{u}"}),
                         key=lambda m: m["sent_ts"])
        assert [r["in_reply_to"] for r in replies] == [f"c{u}-m{r}" for r in range(ROUNDS)]
        handled_by |= {m["worker"] for m in messages}
    assert handled_by == {"w0", "w1"}  # both workers really worked
    assert repository.cases.count_documents({}) == USERS
