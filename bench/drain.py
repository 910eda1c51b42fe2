"""`python -m bench drain` (issue 16): 3,000 Zalo messages posted at 300/s from 50 citizens to the
product's own processes (started as `make run` starts them: embedded database, NLU server, web,
WORKERS workers), first with the fake Zalo answering each send after 200 ms (the real APIs take
100-500 ms), then with it answering at once. The figure is end to end: from the first webhook to
the last message finished with its reply posted. Then what must hold whatever the speed: every
message stored once and processed once, one reply record per reply, each sent once, and each
citizen's messages handled in order and one at a time."""
from __future__ import annotations

import os
from collections import Counter, defaultdict

from pymongo import MongoClient

from bench.load import open_loop, zalo_bodies
from bench.message_flow import percentile
from bench.services import cpu_seconds, running_processes
from tests.conftest import wait_until
from tests.fakes import FakeGraphAPI, FakeZalo

MESSAGES = int(os.environ.get("BENCH_DRAIN_MESSAGES", "3000"))
RATE = int(os.environ.get("BENCH_DRAIN_RATE", "300"))
CITIZENS = 50
LATENCIES = [float(s) for s in os.environ.get("BENCH_DRAIN_LATENCIES", "0.2,0").split(",")]
WORKERS = int(os.environ.get("WORKERS", "1"))  # make run's default unless set
DEADLINE = float(os.environ.get("BENCH_DRAIN_DEADLINE", "900"))


def drain(latency: float) -> None:
    zalo, graph = FakeZalo(latency=latency), FakeGraphAPI(latency=latency)
    try:
        with running_processes(zalo.url, graph.base_url, workers=WORKERS) as (url, pids, database_uri):
            client = MongoClient(database_uri)
            messages = client.get_default_database()["messages"]
            cpu_before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            answers, statuses = open_loop(url, "/webhooks/zalo", zalo_bodies(MESSAGES, "drain", CITIZENS), RATE)
            # An indexed look-up: a count would make the embedded server aggregate every message.
            wait_until(lambda: messages.find_one({"state": "pending"}, {"_id": 1}) is None, DEADLINE,
                       "every message to be handled", interval=0.5)
            cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in pids.items()}
            report(latency, messages, answers, statuses, zalo)
            # Less at the mercy of the other load on the machine than the rates above.
            print("  CPU time per message: " + ", ".join(f"{name} {seconds / MESSAGES * 1000:.2f} ms"
                                                        for name, seconds in cpu.items() if name != "backup"))
            client.close()
    finally:
        zalo.close()
        graph.close()


def report(latency: float, messages, answers: list[float], statuses: dict, zalo: FakeZalo) -> None:
    inbound = sorted(messages.find({"direction": "in"}), key=lambda m: m["received_ts"])
    outbound = list(messages.find({"direction": "out"}))
    first, last = inbound[0]["received_ts"], max(m["finished_ts"] for m in inbound)
    posted = inbound[-1]["received_ts"] - first
    ends = sorted(m["finished_ts"] for m in inbound)
    # Sustained: the middle 80 % of the messages, away from the start-up and the tail.
    low, high = ends[len(ends) // 10], ends[len(ends) * 9 // 10]
    latencies = [(m["finished_ts"] - m["received_ts"]) * 1000 for m in inbound]
    print(f"{MESSAGES} Zalo messages at {RATE}/s from {CITIZENS} citizens, {WORKERS} worker(s), sends answered "
          f"after {latency * 1000:.0f} ms:")
    print(f"  webhook answers: {statuses}, p50 {percentile(answers, 50) * 1000:.1f} ms, "
          f"p99 {percentile(answers, 99) * 1000:.1f} ms")
    print(f"  end to end: {len(inbound) / (last - first):.1f} messages/s ({len(inbound)} in {last - first:.1f} s; "
          f"posting took {posted:.1f} s); sustained (10th-90th percentile of finishes) "
          f"{0.8 * len(ends) / (high - low):.1f} messages/s")
    print(f"  webhook -> message finished: p50 {percentile(latencies, 50):.0f} ms, "
          f"p99 {percentile(latencies, 99):.0f} ms, max {max(latencies):.0f} ms")
    problems = check(inbound, outbound, zalo)
    print("  checks: " + ("every message stored once and processed once, each reply sent once, each citizen's "
                          "messages in order and one at a time" if not problems else "; ".join(problems)))
    print(f"  outcomes: {dict(Counter((m.get('outcome') or {}).get('reply_state', 'no reply') for m in inbound))}")


def check(inbound: list[dict], outbound: list[dict], zalo: FakeZalo) -> list[str]:
    problems = []
    states = Counter(m["state"] for m in inbound)
    if len(inbound) != MESSAGES or states != Counter(done=MESSAGES):
        problems.append(f"{len(inbound)} stored, states {dict(states)}")
    again = [m for m in inbound if m.get("attempts") != 1]
    if again:
        why = Counter(f"{m.get('last_error')}{' (recovered)' if m.get('recovered') else ''}" for m in again)
        problems.append(f"{len(again)} messages took more than one attempt: {dict(why)}")
    sent = Counter(o["state"] for o in outbound)
    if set(sent) != {"sent"} or len(zalo.received) != len(outbound):
        problems.append(f"reply records {dict(sent)}, the platform got {len(zalo.received)}")
    by_citizen = defaultdict(list)
    for m in inbound:
        by_citizen[m["user_id"]].append(m)
    for user, own in by_citizen.items():
        for earlier, later in zip(own, own[1:]):
            if earlier["finished_ts"] > later["claimed_ts"]:
                problems.append(f"{user}: {earlier['message_id']} and {later['message_id']} overlapped")
                break
    order = {m["message_id"]: i for i, m in enumerate(inbound)}
    replied = defaultdict(list)
    for o in sorted(outbound, key=lambda o: o["sent_ts"]):
        replied[o["user_id"]].append(order[o["in_reply_to"]])
    if any(seq != sorted(seq) for seq in replied.values()):
        problems.append("replies out of order")
    return problems


def run() -> None:
    for latency in LATENCIES:
        drain(latency)
