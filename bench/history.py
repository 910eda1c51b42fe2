"""The time of one message as stored history grows (1k, 10k, 100k, 1M messages): history is
bulk-inserted in the shape the app stores, then the queries one message makes are timed at each
size (store, claim with the conversation, last inbound time, the citizen's history, end of turn,
finish). They must stay flat. Each query's winning plan is printed when the server can explain it."""
from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bot.config import REPO_ROOT
from bot.messages import InboundMessage
from bot.repository import Repository, conversation_from_document
from tests.conftest import free_port, wait_until

SIZES = [int(s) for s in os.environ.get("BENCH_HISTORY_SIZES", "1000,10000,100000,1000000").split(",")]
BUDGET_SECONDS = float(os.environ.get("BENCH_HISTORY_BUDGET", "420"))  # the most one size may take to insert
USERS = 10_000
BATCH = 5_000
REPEATS = 20
CITIZEN = f"hist-{USERS // 2}"  # mid-table (a scan that stops at the first match is not favoured); size / USERS messages


def history_documents(start: int, stop: int) -> list[dict]:
    """Half citizens' messages (done), half the bot's replies (sent), like store_inbound's and
    begin_outbound's, spread over USERS citizens and the last 30 days."""
    now, created = time.time(), datetime.now(timezone.utc)
    documents = []
    for n in range(start, stop):
        user, ts = f"hist-{(n // 2) % USERS}", now - 30 * 86400 + n * 0.5
        if n % 2 == 0:
            documents.append({"channel": "zalo", "message_id": f"h-{n}", "user_id": user, "direction": "in",
                              "event": "user_send_text", "kind": "message", "text": "xin chào tổng đài",
                              "attachments": [], "payload": None, "reply_to": None, "info": {}, "sent_at_ms": 0,
                              "created_at": created, "received_ts": ts, "state": "done", "lease_until": 0.0,
                              "attempts": 1, "errors": 0, "finished_ts": ts + 0.2, "outcome": {"intent": "greet"}})
        else:
            documents.append({"channel": "zalo", "message_id": f"reply:h-{n - 1}:0", "user_id": user,
                              "direction": "out", "text": "Tổng đài 1022 xin chào anh/chị.", "choices": [],
                              "in_reply_to": f"h-{n - 1}", "created_at": created, "received_ts": ts, "state": "sent",
                              "attempts": 1, "sent_ts": ts + 0.1, "platform_message_id": f"zmsg-{n}"})
    return documents


def conversations() -> list[dict]:
    """One per citizen, as the worker leaves them (unlocked, the bot holding the chat)."""
    created = datetime.now(timezone.utc)
    return [{"channel": "zalo", "user_id": f"hist-{u}", "handler": "bot", "created_at": created,
             "updated_ts": time.time(), "lock_owner": None, "lock_until": 0.0, "not_understood": 0}
            for u in range(USERS)]


def one_message(repository: Repository, n: int) -> dict[str, float]:
    """The database work of one message, each step timed (milliseconds)."""
    timings = {}

    def timed(name, call):
        started = time.perf_counter()
        result = call()
        timings[name] = (time.perf_counter() - started) * 1000
        return result

    message = InboundMessage(channel="zalo", message_id=f"probe-{n}-{time.time_ns()}", user_id=CITIZEN,
                             text="xin chào", sent_at_ms=0)
    timed("store_inbound", lambda: repository.store_inbound([message]))
    claims = timed("claim_citizens", lambda: repository.claim_citizens("bench", 60, limit=1))
    assert claims and claims[0].messages[0].message_id == message.message_id, claims
    conversation = conversation_from_document(claims[0].conversation)
    timed("last_inbound_ts", lambda: repository.last_inbound_ts("zalo", CITIZEN))
    timed("history", lambda: repository.history("zalo", CITIZEN))
    timed("end_turn", lambda: repository.end_turn(claims[0].messages[0], conversation, conversation, "bench",
                                                  lock_until=0.0))
    timed("finish_message", lambda: repository.finish_message(claims[0].messages[0], "done", "bench", time.time(),
                                                              outcome={"intent": "greet"}))
    return timings


def explain_plans(repository: Repository) -> None:
    m = repository.messages
    queries = {
        "claim: the queue's scan": m.find({"state": "pending", "lease_until": {"$lte": time.time()}}).sort("_id", 1).limit(50),
        "claim: the citizen's messages": m.find({"user_id": CITIZEN, "state": "pending", "channel": "zalo"}),
        "conversation": repository.conversations.find({"channel": "zalo", "user_id": CITIZEN}).limit(1),
        "last_inbound_ts": m.find({"channel": "zalo", "user_id": CITIZEN, "direction": "in"}).sort("received_ts", -1).limit(1),
        "history": m.find({"channel": "zalo", "user_id": CITIZEN, "received_ts": {"$gt": 0.0}}).sort("received_ts", 1).limit(200),
    }
    for name, cursor in queries.items():
        try:
            plan = cursor.explain()
        except Exception as exc:  # the embedded server may not implement explain
            print(f"  explain {name}: not supported by this server ({type(exc).__name__}: {str(exc)[:120]})")
            continue
        winning = (plan.get("queryPlanner") or {}).get("winningPlan", plan)
        print(f"  explain {name}: {json.dumps(winning, default=str)[:400]}")


def run() -> None:
    with tempfile.TemporaryDirectory() as folder:
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "bot.embedded_db", "--port", str(port), "--data-dir", f"{folder}/data",
             "--pid-file", f"{folder}/db.pid", "--log-file", f"{folder}/db.log"],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        repository = Repository(f"mongodb://127.0.0.1:{port}/history_bench")
        try:
            repository.wait_until_ready(60)
            wait_until(repository.ping, 30, "the embedded database")
            print(f"one message's queries as history grows (embedded database, {USERS:,} citizens "
                  f"with a conversation each; "
                  f"median / p90 of {REPEATS} messages, ms):")
            repository.conversations.insert_many(conversations())
            stored, rate = 0, None
            for size in SIZES:
                if rate and (size - stored) / rate > BUDGET_SECONDS:
                    print(f"  {size:>9,}: skipped: inserting {size - stored:,} more would take about "
                          f"{(size - stored) / rate / 60:.0f} min at the measured {rate:,.0f} documents/s")
                    break
                started = time.monotonic()
                for batch in range(stored, size, BATCH):
                    repository.messages.insert_many(history_documents(batch, min(size, batch + BATCH)), ordered=False)
                took = time.monotonic() - started
                rate = (size - stored) / took
                stored = size
                runs = [one_message(repository, n) for n in range(REPEATS)]
                cells = "  ".join(f"{name} {statistics.median(r[name] for r in runs):.1f}/"
                                  f"{sorted(r[name] for r in runs)[int(REPEATS * 0.9)]:.1f}" for name in runs[0])
                total = statistics.median(sum(r.values()) for r in runs)
                print(f"  {size:>9,} (inserted at {rate:,.0f}/s): one message {total:.1f} ms = {cells}")
            explain_plans(repository)
        finally:
            repository.close()
            os.kill(int(Path(folder, "db.pid").read_text()), signal.SIGTERM)
            server.wait(timeout=60)
