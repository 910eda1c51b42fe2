"""The citizen's side (issue 17), timed with a year's worth of cases in the embedded database:
the public tracking page through the real web process over HTTP (found, a wrong code, a wrong
phone: the last two must not be told apart by their time either), the duplicate suggestion a
report's filing runs, and the erasure of one account."""
from __future__ import annotations

import random
import time
from datetime import datetime, timezone

import requests

from bench.message_flow import summary
from bench.services import case_codes, web_on_embedded_database
from bot import duplicates, erasure
from bot.media import MediaStore
from bot.repository import Repository
from bot.routing import RoutingTable


CASES, EVENTS_PER_CASE, OPEN_REPORTS_NOW = 10_000, 3, 200
ACCOUNT_MESSAGES = 500
REQUESTS = 100
WORDS = ("nhậu", "karaoke", "đám cưới", "chợ tự phát", "đá gà", "không đeo khẩu trang", "tụ tập")


def seed(repository: Repository) -> None:
    rng = random.Random(17)
    table = RoutingTable.load()
    districts = [d for d in table.routes["report"] if d != "*"]
    now, created, started = time.time(), datetime.now(timezone.utc), time.monotonic()
    cases, events, codes = [], [], case_codes(CASES)
    for n in range(CASES):
        district = rng.choice(districts)
        route = table.route("report", district)
        recent = n < OPEN_REPORTS_NOW  # the open reports of the last hours a new report is compared with
        ts = now - (rng.uniform(0, 5 * 3600) if recent else rng.uniform(6 * 3600, 365 * 86400))
        code = codes[n]
        cases.append({"code": code, "source": f"zalo:t{n}", "channel": "zalo", "user_id": f"citizen{n % 4000}",
                      "category": "report", "description": f"ấp {n % 30} có {rng.choice(WORDS)} đông người",
                      "details": {"phone": f"09{rng.randrange(10**8):08d}", "place": f"ấp {n % 30}",
                                  "commune": "Phường 7, Thành phố Trà Vinh"},
                      "media_messages": [], "district": district, "priority": "normal", "agency": route.agency,
                      "agency_name": route.agency_name, "status": "routed" if recent else "resolved",
                      "created_at": created, "created_ts": ts, "due_ts": ts + route.due_hours * 3600})
        events += [{"key": f"{code}:{i}", "code": code, "status": "routed", "by": "bot", "note": f"Bước {i}",
                    "public": "yes" if i % 2 == 0 else "no", "created_at": created, "ts": ts + i} for i in range(EVENTS_PER_CASE)]
    for i in range(0, CASES, 2000):
        repository.cases.insert_many(cases[i:i + 2000], ordered=False)
    for i in range(0, len(events), 5000):
        repository.case_events.insert_many(events[i:i + 5000], ordered=False)
    repository.messages.insert_many([
        {"channel": "zalo", "message_id": f"acct{n}", "user_id": "citizen1", "direction": "in" if n % 2 else "out",
         "text": f"tin nhắn {n} của 0912555777", "created_at": created, "received_ts": now - n, "state": "done"}
        for n in range(ACCOUNT_MESSAGES)])
    print(f"tracking: seeded {CASES:,} cases, {len(events):,} history entries, {ACCOUNT_MESSAGES} messages of one "
          f"account in {time.monotonic() - started:.1f} s")


def timed_posts(session: requests.Session, url: str, data: dict, status: int) -> list[float]:
    seconds = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        answer = session.post(url, data=data, timeout=30)
        seconds.append(time.perf_counter() - started)
        assert answer.status_code == status, (data, answer.status_code)
    return seconds


def run() -> None:
    with web_on_embedded_database("bench_tracking", seed, "/tra-cuu", env={"TRACKING_LOOKUPS_PER_HOUR": "100000"}) \
            as (base, repository, var):
        session = requests.Session()
        case = repository.cases.find_one({"status": "resolved"})
        digits = case["details"]["phone"][-4:]
        wrong = "0000" if digits != "0000" else "1111"
        for name, data, status in [
                ("tracking page, found (code + 4 digits)", {"ma": case["code"], "so": digits}, 200),
                ("tracking page, wrong code", {"ma": "TV-ZZZZZZ", "so": digits}, 404),
                ("tracking page, wrong phone", {"ma": case["code"], "so": wrong}, 404),
                ("tracking page, code without the digits", {"ma": case["code"], "so": ""}, 404)]:
            print("tracking " + summary(name, timed_posts(session, f"{base}/tra-cuu", data, status)))
        new = repository.cases.find_one({"status": "routed"})
        seconds = []
        for _ in range(20):
            repository.update_case(new["code"], possible_duplicates=None)
            started = time.perf_counter()
            duplicates.suggest(repository, {**new, "possible_duplicates": None})
            seconds.append(time.perf_counter() - started)
        print("tracking " + summary(f"duplicate suggestion on filing ({OPEN_REPORTS_NOW} open reports "
                                    "in the last 6 h)", seconds))
        started = time.perf_counter()
        erased = erasure.erase_account(repository, MediaStore(var / "media", repository), "zalo", "citizen1")
        print(f"tracking erasure of one account ({erased['messages']} messages, {erased['cases']} cases): "
              f"{(time.perf_counter() - started) * 1000:.0f} ms")


if __name__ == "__main__":
    run()
