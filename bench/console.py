"""Staff console response time with a year's worth of data: 10,000 cases and 100,000 messages in
the database (the embedded server), through the real web process over HTTP."""
from __future__ import annotations

import random
import re
import time
from datetime import datetime, timezone

import requests

from bench.message_flow import summary
from bench.services import case_codes, web_on_embedded_database
from bot.console.access import passwords
from bot.repository import Repository
from bot.routing import RoutingTable


CASES, MESSAGES, CITIZENS, WAITING_CHATS, AUDIT_ENTRIES = 10_000, 100_000, 5_000, 40, 20_000
REQUESTS = 50
PASSWORD = "bench-password-123"
CATEGORIES = ("report", "suggestion", "welfare", "health_advice")
STATUSES = ("routed", "in_progress", "resolved", "resolved", "resolved", "not_responsible")


def seed(repository: Repository) -> None:
    rng = random.Random(1022)
    table = RoutingTable.load()
    districts = [d for d in table.routes["report"] if d != "*"]
    now = time.time()
    created = datetime.now(timezone.utc)
    started = time.monotonic()
    messages = []
    for n in range(MESSAGES):
        user = f"citizen{n % CITIZENS}"
        ts = now - rng.uniform(0, 365 * 86400)
        messages.append({"channel": "zalo", "message_id": f"m{n}", "user_id": user,
                         "direction": "in" if n % 2 == 0 else "out", "text": "tin nhắn thứ %d" % n,
                         "created_at": created, "received_ts": ts, "state": "done", "lease_until": 0.0})
    for i in range(0, MESSAGES, 5000):
        repository.messages.insert_many(messages[i:i + 5000], ordered=False)
    # Each citizen's conversation, with their last message as the worker records it.
    last = {}
    for m in messages:
        if m["direction"] == "in" and m["received_ts"] > last.get(m["user_id"], {"received_ts": 0})["received_ts"]:
            last[m["user_id"]] = m
    repository.conversations.insert_many([
        {"channel": "zalo", "user_id": user, "handler": "bot", "created_at": created, "updated_ts": m["received_ts"],
         "last_in_ts": m["received_ts"], "last_in_text": m["text"], "last_in_media": "no"} for user, m in last.items()])
    cases, codes = [], case_codes(CASES)
    for n in range(CASES):
        category, district = rng.choice(CATEGORIES), rng.choice(districts)
        route = table.route(category, district)
        ts = now - rng.uniform(0, 365 * 86400)
        cases.append({"code": codes[n], "source": f"zalo:m{n * 10}", "channel": "zalo",
                      "user_id": f"citizen{n % CITIZENS}", "category": category, "description": "nội dung",
                      "details": {"phone": f"09{rng.randrange(10**8):08d}"}, "media_messages": [],
                      "district": district, "priority": "normal", "agency": route.agency,
                      "agency_name": route.agency_name, "status": rng.choice(STATUSES), "created_at": created,
                      "created_ts": ts, "due_ts": ts + route.due_hours * 3600})
    for i in range(0, CASES, 2000):
        repository.cases.insert_many(cases[i:i + 2000], ordered=False)
    for n in range(WAITING_CHATS):
        repository.update_conversation("zalo", f"citizen{n}", handler="waiting", handler_since_ts=time.time(),
                                       handoff_reason="ask_human", handoff_priority="urgent" if n % 7 == 0 else "normal")
    repository.create_staff(username="bench", password_hash=passwords.hash(PASSWORD), role="operator")
    repository.create_staff(username="bench-admin", password_hash=passwords.hash(PASSWORD), role="admin")
    repository.audit.insert_many([{"who": "bench", "action": rng.choice(("login", "chat.claim", "case.status")),
                                   "target": f"TV-{n:06d}", "before": {"status": "routed"},
                                   "after": {"status": "in_progress", "public": True}, "created_at": created,
                                   "ts": now - n * 30} for n in range(AUDIT_ENTRIES)])
    print(f"console: seeded {CASES:,} cases, {MESSAGES:,} messages, {len(last):,} conversations, {WAITING_CHATS} "
          f"waiting chats, {AUDIT_ENTRIES:,} audit entries in {time.monotonic() - started:.1f} s")


def timed(session: requests.Session, url: str) -> list[float]:
    seconds = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        answer = session.get(url, timeout=30)
        seconds.append(time.perf_counter() - started)
        assert answer.status_code == 200, (url, answer.status_code)
    return seconds


def sign_in(session: requests.Session, base: str, username: str) -> None:
    page = session.get(f"{base}/console/login", timeout=10)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    assert session.post(f"{base}/console/login", data={"username": username, "password": PASSWORD,
                                                       "csrf_token": token}).status_code == 200


def run() -> None:
    with web_on_embedded_database("bench_console", seed, "/console/login") as (base, repository, _):
        session = requests.Session()
        sign_in(session, base, "bench")
        admin = requests.Session()
        sign_in(admin, base, "bench-admin")
        case = repository.cases.find_one({})
        phone = case["details"]["phone"]
        for who, name, path in [
                (session, "queue page (40 waiting chats)", "/console/chats"),
                (session, "queue refresh (the part polled every 5 s)", "/console/chats/rows"),
                (session, "live poll (every page, every 5 s)", "/console/live"),
                (session, "all conversations, first page (2,500)", "/console/chats/all"),
                (session, "chat page (history, citizen panel, canned replies)", f"/console/chats/zalo/{case['user_id']}"),
                (session, "case list, first page", "/console/cases"),
                (session, "case list, one district + status", "/console/cases?district=Huy%E1%BB%87n+C%C3%A0ng+Long&status=in_progress"),
                (session, "case list, overdue", "/console/cases?overdue=1"),
                (session, "case list, page 100", "/console/cases?page=100"),
                (session, "case search by phone", f"/console/cases?q={phone}"),
                (session, "case search by the phone's last 4 digits", f"/console/cases?q={phone[-4:]}"),
                (session, "case page (history, citizen panel)", f"/console/cases/{case['code']}"),
                (session, "dashboard, 30 days", "/console/dashboard"),
                (admin, "audit log, first page (20,000 entries)", "/console/admin/audit"),
                (admin, "routing page", "/console/admin/routing")]:
            print("console " + summary(name, timed(who, base + path)))


if __name__ == "__main__":
    run()
