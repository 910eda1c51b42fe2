"""Zalo token refresh under contention: several processes find the token expired at once
(each with its own database connection); exactly one may call OAuth."""
import subprocess
import sys
import tempfile
import threading
import time

import requests

from bot.config import Settings
from bot.repository import Repository
from tests.conftest import environment_for_tests, free_port
from tests.fakes import FakeZalo
from webhooks.zalo_tokens import ZaloTokens

CONTENDERS = 8
ROUNDS = 5
OAUTH_DELAY = 0.2


def run() -> None:
    fake = FakeZalo()
    fake.oauth_delay = OAUTH_DELAY
    with tempfile.TemporaryDirectory() as var:
        port = free_port()
        db = subprocess.Popen([sys.executable, "-m", "bot.embedded_db", "--port", str(port), "--data-dir",
                               f"{var}/db", "--pid-file", f"{var}/db.pid", "--log-file", f"{var}/db.log"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            env = environment_for_tests(f"mongodb://127.0.0.1:{port}/bench_tokens", None, fake.url, fake.url, var)
            settings = Settings.from_env(env)
            Repository(settings.database_uri, server_timeout_ms=30000).wait_until_ready(30)
            waits = []
            for _ in range(ROUNDS):
                stale = ZaloTokens(settings, Repository(settings.database_uri), requests.Session()).access_token()
                calls_before = fake.oauth_calls
                barrier, results = threading.Barrier(CONTENDERS), []

                def contend():
                    repository = Repository(settings.database_uri)  # a process of its own
                    tokens = ZaloTokens(settings, repository, requests.Session())
                    barrier.wait()
                    t0 = time.monotonic()
                    results.append((tokens.refresh(stale), time.monotonic() - t0))
                    repository.close()

                threads = [threading.Thread(target=contend) for _ in range(CONTENDERS)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()
                assert fake.oauth_calls - calls_before == 1, "more than one refresh call"
                assert {token for token, _ in results} == {fake.access_token}
                waits += [seconds for _, seconds in results]
            waits.sort()
            print(f"Zalo token refresh, {CONTENDERS} processes at once, OAuth answering in {OAUTH_DELAY * 1000:.0f} ms, "
                  f"{ROUNDS} rounds: 1 OAuth call per round; every contender had the new token after "
                  f"p50 {waits[len(waits) // 2] * 1000:.0f} ms, max {waits[-1] * 1000:.0f} ms")
        finally:
            db.terminate()
            db.wait(timeout=10)
            fake.close()
