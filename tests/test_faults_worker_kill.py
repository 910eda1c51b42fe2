"""A real worker process killed with SIGKILL fifty times, at random points, while 500 messages
arrive through the webhook: each message gets one outcome, no case or reply is doubled."""
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

from bot.config import REPO_ROOT
from bot.repository import count_matching
from tests.conftest import environment_for_tests, load_fixture, post_zalo, wait_until

KILLS = 50
GREETERS = 300   # one "xin chào" each: answered without a form
REPORTERS = 100  # a report, then "đúng": a summary, then a filed case
MESSAGES = GREETERS + 2 * REPORTERS
LEASE_SECONDS = 2  # one worker at a time here: a dead worker's citizens may return to the queue soon
SEED = 1022
REPORT = "Tối qua ở khóm 3 phường 7 TP Trà Vinh có nhóm thanh niên tụ tập nhậu đông người"


def deliveries(rng: random.Random) -> list[tuple[str, str, str]]:
    """(user, message id, text) in delivery order: greetings and reports interleaved, each
    reporter's "đúng" some time after their report."""
    greetings = [(f"greeter-{i}", f"g-{i}", "xin chào") for i in range(GREETERS)]
    order = greetings + [None] * (2 * REPORTERS)
    rng.shuffle(order)
    slots = iter(sorted(i for i, item in enumerate(order) if item is None))
    for r in range(REPORTERS):
        order[next(slots)] = (f"reporter-{r}", f"r-{r}", REPORT)
    for r in range(REPORTERS):
        order[next(slots)] = (f"reporter-{r}", f"c-{r}", "đúng")
    return order


def start_worker(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "bot.worker"], cwd=REPO_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def test_worker_killed_fifty_times_leaves_one_outcome_one_case_one_reply(app, repository, settings, fake_zalo,
                                                                       tmp_path):
    rng = random.Random(SEED)
    order = deliveries(random.Random(SEED))
    env = {**{k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "NLU_URL")},
           **environment_for_tests(settings.database_uri, settings.nlu_base_url, fake_zalo.url,
                                   settings.fb_graph_url, settings.var_dir),
           "WORKER_LEASE_SECONDS": str(LEASE_SECONDS), "PYTHONUNBUFFERED": "1"}
    template = load_fixture("zalo", "user_send_text")
    posted, refused = [], []
    feeding_done = threading.Event()

    def feed():
        client = app.test_client()
        try:
            for n, (user, msg_id, text) in enumerate(order):
                event = {**template, "sender": {"id": user}, "message": {"msg_id": msg_id, "text": text}}
                (posted if post_zalo(client, event).status_code == 200 else refused).append(msg_id)
                if n % 10 == 9:  # over time: ten at a time, once the worker has caught up with most
                    wait_until(lambda: len(posted) - done_count() < 40, 60, "the worker to catch up", interval=0.05)
        finally:
            feeding_done.set()

    def done_count() -> int:
        return count_matching(repository.messages, {"direction": "in", "state": {"$in": ["done", "failed"]}})

    started = time.monotonic()
    feeder = threading.Thread(target=feed)
    feeder.start()
    kill_points = Counter()
    with open(tmp_path / "worker.log", "w") as log:
        try:
            for _ in range(KILLS):
                worker = start_worker(env, log)
                # Random points: right after the platform received a reply (the worker has not yet
                # recorded it as sent), or once a message is finished (between two messages).
                sends = len(fake_zalo.received) + rng.randint(1, 6)
                fake_zalo.wait_for(sends, timeout=120)
                if rng.random() < 0.5:
                    finished = done_count() + 1
                    wait_until(lambda: done_count() >= finished, 60, "a message to finish", interval=0.01)
                    kill_points["after a finished message"] += 1
                else:
                    kill_points["right after a send"] += 1
                worker.send_signal(signal.SIGKILL)
                assert worker.wait(timeout=30) == -signal.SIGKILL
            killed_at = time.monotonic()
            worker = start_worker(env, log)
            feeding_done.wait(300)
            wait_until(lambda: done_count() == MESSAGES, 180, "every message to be handled", interval=0.2)
        finally:
            feeding_done.wait(300)
            feeder.join(timeout=60)
            worker.terminate()
            worker.wait(timeout=30)
    elapsed = time.monotonic() - started
    print(f"\n{MESSAGES} messages, {KILLS} kills ({dict(kill_points)}): kills done after "
          f"{killed_at - started:.1f} s, all handled after {elapsed:.1f} s")

    assert refused == [] and len(posted) == MESSAGES
    inbound = list(repository.messages.find({"direction": "in"}))
    assert len(inbound) == MESSAGES  # stored once each
    states = Counter(m["state"] for m in inbound)
    assert set(states) <= {"done", "failed"}, states
    assert all("last_error" in m for m in inbound if m["state"] == "failed")  # a failure says why
    assert states["done"] >= MESSAGES - KILLS  # a failure is an exception, not the rule

    # One case per confirmed report, whatever was killed between filing and replying.
    cases = list(repository.cases.find())
    assert sorted(c["source"] for c in cases) == sorted(f"zalo:c-{r}" for r in range(REPORTERS))

    # No reply doubled: every reply record's text reached the platform at most once, exactly once
    # if it is recorded as sent. "uncertain" is a kill between the platform's answer and our record.
    outbound = list(repository.messages.find({"direction": "out"}))
    received = Counter((p["recipient"]["user_id"], p["message"]["text"]) for p in fake_zalo.received)
    assert max(received.values()) == 1, [k for k, n in received.items() if n > 1][:3]
    by_state = Counter(o["state"] for o in outbound)
    for record in outbound:
        copies = received[(record["user_id"], record["text"])]
        assert copies == 1 if record["state"] == "sent" else copies <= 1, record
    assert sum(received.values()) == sum(received[(o["user_id"], o["text"])] for o in outbound)  # nothing unrecorded
    print(f"reply records by state: {dict(by_state)}; inbound by state: {dict(states)}")
    replied_to = {o["in_reply_to"] for o in outbound}
    assert all(m["message_id"] in replied_to for m in inbound if m["state"] == "done")  # each answered
    assert by_state["sent"] + by_state["uncertain"] == len(outbound)
