"""Zalo's webhook while /console/login is flooded (issue 15): one web process as `make run` starts it
(waitress, 8 threads) on the embedded database, Zalo events posted at 10 a second, timed alone and
then while attackers post wrong passwords as fast as they can — from one address, and from a new
address each time (through a proxy, TRUST_PROXY=1, as a botnet behind nginx would arrive). Zalo
gives up on an answer after about 2 s; the aim is under 100 ms at the 99th percentile.

Also the time a sign-in takes for a wrong password, an unknown account, and a slowed-down known and
unknown account (a difference would tell which usernames exist).

`python -m bench login` measures this checkout; `python -m bench.login_flood /path/to/checkout`
measures another (the web process and its code are that checkout's; the database is this one's)."""
from __future__ import annotations

import itertools
import re
import statistics
import sys
import threading
import time
from pathlib import Path

import requests

from bench.message_flow import percentile, post_zalo_text
from bench.services import web_on_embedded_database
from bot.config import REPO_ROOT
from bot.console.access import passwords
from bot.repository import Repository
from tests.conftest import ZALO_APP_ID, ZALO_OA_SECRET_KEY

RATE, SECONDS = 10, 30
ATTACKERS = 16
PASSWORD = "mat-khau-cua-quan-tri-vien"


def zalo_posts(url: str, seconds: float, tag: str) -> list[float]:
    """Zalo text events at RATE a second for `seconds`; each answer's time (s)."""
    times = []
    for n in range(int(seconds * RATE)):
        started = time.monotonic()
        times.append(post_zalo_text(url, f"flood-{tag}-{n % 50}", f"flood-{tag}-{n}", "xin chào tổng đài"))
        time.sleep(max(0.0, started + 1 / RATE - time.monotonic()))
    return times


def token_of(session: requests.Session, url: str) -> str:
    page = session.get(f"{url}/console/login", timeout=30).text
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


class Flood:
    """ATTACKERS threads posting wrong passwords without pause; `spread` gives each post a new address."""

    def __init__(self, url: str, spread: bool):
        self.url, self.spread = url, spread
        self.stopping = threading.Event()
        self.statuses: dict[int, int] = {}
        self.times: list[float] = []
        self.lock = threading.Lock()
        self.numbers = itertools.count()

    def attack(self, n: int) -> None:
        session = requests.Session()
        token = token_of(session, self.url)
        while not self.stopping.is_set():
            number = next(self.numbers)
            username = "quantri" if number % 2 else f"nguoi-{number % 500}"
            headers = {"X-Forwarded-For": f"10.{number // 65536 % 256}.{number // 256 % 256}.{number % 256}"} \
                if self.spread else {}
            started = time.monotonic()
            try:
                status = session.post(f"{self.url}/console/login", timeout=30, headers=headers, data={
                    "username": username, "password": f"doan-{number}", "csrf_token": token}).status_code
            except requests.RequestException:
                status = 0
            with self.lock:
                self.statuses[status] = self.statuses.get(status, 0) + 1
                self.times.append(time.monotonic() - started)

    def __enter__(self):
        self.threads = [threading.Thread(target=self.attack, args=(n,), daemon=True) for n in range(ATTACKERS)]
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)
        self.seconds = time.monotonic() - self.started


def checks(url: str) -> float:
    text = requests.get(f"{url}/metrics", timeout=10).text
    found = re.search(r"^tongdai_password_checks_total (\S+)$", text, re.M)
    return float(found.group(1)) if found else float("nan")


def line(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (f"{name}: p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms "
            f"(n={len(ms)})")


def sign_in_times(url: str) -> None:
    """The time of wrong sign-ins for an account that exists and one that does not, each from an
    address of its own: the first four (a password is checked) and the 7th to 12th (slowed down,
    or on older code: a locked account). A difference between the two would tell which exist."""
    for n, username in enumerate(("quantri", "khong-co-ai")):
        session = requests.Session()
        token = token_of(session, url)
        first, later, statuses = [], [], []
        for attempt in range(12):
            started = time.monotonic()
            status = session.post(f"{url}/console/login", headers={"X-Forwarded-For": f"198.51.100.{n + 1}"},
                                  timeout=30, data={"username": username, "password": f"sai-{attempt}",
                                                    "csrf_token": token}).status_code
            (first if attempt < 4 else later if attempt >= 6 else []).append(time.monotonic() - started)
            statuses.append(status)
        print(f"  {'existing' if n == 0 else 'unknown'} account: attempts 1-4 median {statistics.median(first) * 1000:.0f} ms, "
              f"attempts 7-12 median {statistics.median(later) * 1000:.0f} ms; statuses {statuses}")


def run(checkout: Path = REPO_ROOT) -> None:
    def seed(repository: Repository) -> None:
        repository.create_staff(username="quantri", password_hash=passwords.hash(PASSWORD), role="admin")

    env = {"ZALO_APP_ID": ZALO_APP_ID, "ZALO_OA_SECRET_KEY": ZALO_OA_SECRET_KEY, "TRUST_PROXY": "1",
           "SECURE_COOKIES": "0"}
    with web_on_embedded_database("bench_login", seed, "/console/login", env, checkout) as (url, _, _):
        print(f"Time of wrong sign-ins, {checkout}:")
        sign_in_times(url)
        print(f"Zalo webhook answers, {RATE} events/s for {SECONDS} s, one web process (waitress, 8 threads), "
              f"{checkout}:")
        print("  " + line("alone", zalo_posts(url, SECONDS / 3, "alone")))
        for spread in (False, True):
            before = checks(url)
            with Flood(url, spread) as flood:
                webhook = zalo_posts(url, SECONDS, f"flood-{spread}")
            where = "a new address each time" if spread else "one address"
            answered = sum(flood.statuses.values())
            print("  " + line(f"while {ATTACKERS} attackers flood /console/login from {where}", webhook))
            print(f"    sign-in posts answered: {answered / flood.seconds:.0f}/s, by status "
                  f"{dict(sorted(flood.statuses.items()))}, password checks: "
                  f"{(checks(url) - before) / flood.seconds:.1f}/s; " + line("their answers", flood.times))


if __name__ == "__main__":
    run(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else REPO_ROOT)
