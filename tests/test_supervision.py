"""`python -m bot.run` with its own database and NLU server, under steady webhook traffic: each
service is killed with SIGKILL in turn. The supervisor says so in its log and restarts it; the
webhooks answer 200 all the while the worker or the NLU server is down; a sender that is refused
(web down) or answered 503 (database down) delivers again, as the platforms do; in the end every
message is stored once and answered once, and Ctrl-C still stops everything."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest
import requests
from pymongo import MongoClient

from bot.config import REPO_ROOT, Settings
from bot.repository import count_matching
from tests.conftest import _NEVER_SET, environment_for_tests, free_port, load_fixture, wait_until, zalo_signature
from tests.test_make_run import alive, descendants

pytestmark = pytest.mark.slow  # not in `make test-fast`: every service, killed and restarted

RATE = 3.0  # messages a second, each from its own citizen
LEASE_SECONDS = 5  # a killed worker's message returns to the queue this soon


class Traffic:
    """Posts one Zalo text after another at RATE, each until it is answered 200 (a refused
    connection, a timeout or a 5xx is delivered again half a second later). Records every attempt."""

    def __init__(self, url: str):
        self.url = url
        self.attempts: list[tuple[float, str, str]] = []  # (monotonic time, message id, outcome)
        self.accepted: list[str] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.session = requests.Session()
        self.template = load_fixture("zalo", "user_send_text")

    def _run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            self._deliver(f"sup-{n}")
            n += 1
            _NEVER_SET.wait(1 / RATE)

    def _deliver(self, msg_id: str) -> None:
        event = {**self.template, "sender": {"id": f"citizen-{msg_id}"},
                 "message": {"msg_id": msg_id, "text": "xin chào"}, "timestamp": str(int(time.time() * 1000))}
        body = json.dumps(event).encode()
        headers = {"Content-Type": "application/json", "X-ZEvent-Signature": zalo_signature(body)}
        while True:
            try:
                status = str(self.session.post(f"{self.url}/webhooks/zalo", data=body, headers=headers,
                                               timeout=5).status_code)
            except requests.RequestException as exc:
                status = type(exc).__name__
            self.attempts.append((time.monotonic(), msg_id, status))
            if status == "200":
                self.accepted.append(msg_id)
                return
            _NEVER_SET.wait(0.5)

    def outcomes_between(self, start: float, end: float) -> Counter:
        return Counter(outcome for at, _, outcome in self.attempts if start <= at <= end)


def started_pid(lines: list[str], service: str) -> int | None:
    """The pid of the last start of `service`, from the supervisor's log lines."""
    pid = None
    for line in list(lines):
        name, _, rest = line.partition(" | ")
        if name.split()[-1:] == ["run"] and rest.startswith("{"):
            entry = json.loads(rest)
            if entry.get("child") == service and entry["message"].endswith(" started"):
                pid = entry["child_pid"]
    return pid


def test_each_service_killed_under_traffic_is_restarted_and_nothing_is_lost(fake_zalo, fake_graph, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "NLU_URL", "HOST", "PORT", "SECRET_KEY",
                                                         "VAR_DIR", "WORKERS", "WEB_PROCESSES", "BACKUP_AT")}
    env.update({k: v for k, v in environment_for_tests(None, None, fake_zalo.url, fake_graph.base_url,
                                                       tmp_path / "var").items() if v is not None})
    env.update(PORT=str(port), NLU_PORT=str(free_port()), EMBEDDED_DB_PORT=str(free_port()), PYTHONUNBUFFERED="1",
               WORKER_LEASE_SECONDS=str(LEASE_SECONDS))
    settings = Settings.from_env(env)
    run = subprocess.Popen([sys.executable, "-m", "bot.run"], cwd=REPO_ROOT, env=env, start_new_session=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(line.decode(errors="replace") for line in run.stdout),
                     daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    traffic = Traffic(url)
    seen: set[int] = set()
    db = MongoClient(settings.database_uri, serverSelectionTimeoutMS=2000).get_default_database()

    def health() -> dict:
        seen.update(descendants(run.pid))
        assert run.poll() is None, "bot.run exited:\n" + "".join(output)
        try:
            return requests.get(f"{url}/healthz", timeout=3).json()
        except (requests.RequestException, ValueError):
            return {}

    def restarted(service: str, old_pid: int) -> int | None:
        pid = started_pid(output, service)
        return pid if pid not in (None, old_pid) and alive(pid) else None

    def answered(msg_id: str) -> bool:
        return any(p["recipient"]["user_id"] == f"citizen-{msg_id}" for p in list(fake_zalo.received))

    back_when = {  # the service does its job again
        "worker": lambda: traffic.accepted and answered(traffic.accepted[-1]),
        "nlu": lambda: health().get("nlu") == "ok",
        "web": lambda: health().get("status") == "ok",
        "database": lambda: health().get("database") == "ok",
        "scheduler": lambda: True,
    }
    figures = {}
    try:
        wait_until(lambda: health().get("status") == "ok", 300, "/healthz to answer 200", interval=0.5)
        traffic.thread.start()
        wait_until(lambda: len(traffic.accepted) >= 5 and answered(traffic.accepted[4]), 60, "the first replies")
        for service in ("worker", "nlu", "web", "database", "scheduler"):
            old_pid = started_pid(output, service)
            assert old_pid and alive(old_pid), service
            killed = time.monotonic()
            os.kill(old_pid, signal.SIGKILL)
            wait_until(lambda: restarted(service, old_pid), 60, f"the supervisor to restart {service}")
            after = len(traffic.accepted)
            # A message accepted after the kill has been answered (worker), or the health check says so.
            wait_until(lambda: len(traffic.accepted) > after and back_when[service](), 240, f"{service} to work again")
            figures[service] = (time.monotonic() - killed, traffic.outcomes_between(killed, time.monotonic()))
            if service in ("worker", "nlu"):
                assert set(figures[service][1]) == {"200"}, (service, figures[service][1])
        log = [json.loads(line.partition(" | ")[2]) for line in output
               if line.split(" | ")[0].split()[-1:] == ["run"] and "exited with status" in line]
        assert sorted(entry["child"] for entry in log) == sorted(figures), log
        assert all(entry["exit_status"] == -signal.SIGKILL and entry["level"] == "WARNING" for entry in log)

        traffic.stopping.set()
        traffic.thread.join(timeout=60)
        sent = list(traffic.accepted)
        wait_until(lambda: all(answered(m) for m in sent), 120, "every accepted message to be answered")
        wait_until(lambda: count_matching(db.messages, {"direction": "in", "state": {"$ne": "done"}}) == 0, 60,
                   "every message finished")
        inbound = list(db.messages.find({"direction": "in"}))
        seen.update(descendants(run.pid))
    finally:
        traffic.stopping.set()
        db.client.close()
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)
            run.wait(timeout=60)
        print("".join(output[-200:]))
    for service, (seconds, outcomes) in figures.items():
        print(f"{service}: working again {seconds:.1f} s after SIGKILL; webhook attempts meanwhile: {dict(outcomes)}")

    assert sorted(m["message_id"] for m in inbound) == sorted(sent)  # each stored once, none lost
    replies = Counter(p["recipient"]["user_id"] for p in fake_zalo.received)
    assert replies == Counter(f"citizen-{m}" for m in sent)  # each answered once
    assert run.returncode == 0
    wait_until(lambda: not any(alive(pid) for pid in seen), 15, "every started process to exit")
