"""`python -m bot.run` with WEB_PROCESSES=2 and WORKERS=2 against the test database and NLU server:
gunicorn serves one port from two processes, two workers share the queue. Every webhook is stored
and answered once, each citizen's messages stay in order, /metrics adds up both web processes, the
first admin is made and printed once, and Ctrl-C stops every process."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from pymongo import MongoClient

from bot.config import REPO_ROOT, Settings
from bot.repository import count_matching
from bot.run import services
from tests.conftest import environment_for_tests, free_port, load_fixture, wait_until, zalo_signature
from tests.test_make_run import alive, descendants

CITIZENS, MESSAGES_EACH = 8, 4
TEXTS = ["xin chào", "cho tôi hỏi", "cảm ơn", "tạm biệt"]


def test_web_processes_setting_picks_the_server(tmp_path):
    one = dict(services(Settings.from_env({"VAR_DIR": str(tmp_path)})))
    assert one["web"].endswith("-m bot.web")
    several = dict(services(Settings.from_env({"VAR_DIR": str(tmp_path), "WEB_PROCESSES": "3", "PORT": "5100"})))
    assert "-m gunicorn" in several["web"] and " -w 3 " in several["web"] and "-b 127.0.0.1:5100" in several["web"]
    assert "gunicorn_conf.py" in several["web"] and "'bot.app:create_app()'" in several["web"]


def _json_lines(output: list[str]) -> list[dict]:
    """The supervisor prefixes each line with the time and the service name: `12:00:00 web | {...}`."""
    lines = []
    for line in list(output):
        service, _, rest = line.partition(" | ")
        if rest.startswith("{"):
            try:
                lines.append({"_service": service.split()[-1], **json.loads(rest)})
            except ValueError:
                pass
    return lines


def _post(url: str, user: str, n: int) -> str:
    event = load_fixture("zalo", "user_send_text")
    event["sender"]["id"] = user
    event["message"].update(msg_id=f"{user}-m{n}", text=TEXTS[n])
    body = json.dumps(event, ensure_ascii=False).encode()
    # A new connection each time, as each platform delivery is: the kernel hands it to either process.
    response = requests.post(f"{url}/webhooks/zalo", data=body, timeout=30, headers={
        "Content-Type": "application/json", "X-ZEvent-Signature": zalo_signature(body), "Connection": "close"})
    assert response.status_code == 200, response.text
    assert response.json()["stored"] == 1
    return response.headers["X-Request-Id"]


def _one_citizen(url: str, user: str) -> list[str]:
    """A citizen writes their messages one after the other, each once the previous was accepted."""
    return [_post(url, user, n) for n in range(MESSAGES_EACH)]


def test_two_web_processes_and_two_workers_under_bot_run(database_uri, nlu_url, fake_zalo, fake_graph, tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "NLU_URL", "HOST", "PORT", "SECRET_KEY",
                                                         "VAR_DIR", "ADMIN_PASSWORD", "WORKERS", "WEB_PROCESSES")}
    env.update({k: v for k, v in environment_for_tests(database_uri, nlu_url, fake_zalo.url, fake_graph.base_url,
                                                       tmp_path / "var").items() if v is not None})
    # Which process accepts a connection is the kernel's choice, and on an idle machine one often
    # takes them all. Each web process here is replaced after 6 requests, so requests are served
    # by several processes for sure, and /metrics must still count those of the exited ones.
    # Two citizens at a time in each worker: with the default 32 lanes, the worker that starts first
    # could take all 8 citizens, and the second would have nothing left to show it works.
    env.update(PORT=str(port), WEB_PROCESSES="2", WORKERS="2", WORKER_CONCURRENCY="2", PYTHONUNBUFFERED="1",
               GUNICORN_CMD_ARGS="--max-requests 6")
    run = subprocess.Popen([sys.executable, "-m", "bot.run"], cwd=REPO_ROOT, env=env, start_new_session=True,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(line.decode(errors="replace") for line in run.stdout),
                     daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    seen: set[int] = set()
    db = MongoClient(database_uri).get_default_database()
    try:
        def healthy():
            seen.update(descendants(run.pid))
            assert run.poll() is None, "bot.run exited:\n" + "".join(output)
            try:
                return requests.get(f"{url}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, 180, "/healthz to answer 200", interval=0.5)
        # Both web processes have built their app (each prints its JSON lines under service "web").
        wait_until(lambda: len({line["pid"] for line in _json_lines(output)
                                if line["_service"].startswith("web") and line["logger"] == "gunicorn.error"
                                and "Booting worker" in line["message"]}) == 2, 60, "two gunicorn workers")
        wait_until(lambda: len({line["pid"] for line in _json_lines(output) if line["_service"].startswith("worker")
                                and " started, " in line["message"]}) == 2, 60, "both workers started")

        # Sends answered after 300 ms, as the real platforms take: a worker's two lanes are then busy
        # long enough that the other worker's claims find the rest of the citizens (answered at
        # once, one worker could finish them all between the other's polls).
        fake_zalo.latency = 0.3
        users = [f"scale-{u}" for u in range(CITIZENS)]
        with ThreadPoolExecutor(CITIZENS) as pool:
            ids = dict(zip(users, pool.map(lambda user: _one_citizen(url, user), users)))
        total = CITIZENS * MESSAGES_EACH
        fake_zalo.wait_for(total, timeout=240)
        wait_until(lambda: count_matching(db.messages, {"direction": "in", "state": "done"}) == total, 60,
                   "every message finished")
        seen.update(descendants(run.pid))

        # Stored once and answered once each.
        assert db.messages.count_documents({"direction": "in"}) == total
        replies = list(db.messages.find({"direction": "out"}))
        assert sorted(r["in_reply_to"] for r in replies) == sorted(f"{u}-m{n}" for u in users for n in range(MESSAGES_EACH))
        assert len(fake_zalo.received) == total

        # Each citizen's messages in order, one at a time, whichever worker took them.
        workers = set()
        for user in users:
            messages = sorted(db.messages.find({"direction": "in", "user_id": user}), key=lambda m: m["received_ts"])
            assert [m["message_id"] for m in messages] == [f"{user}-m{n}" for n in range(MESSAGES_EACH)]
            for earlier, later in zip(messages, messages[1:]):
                assert earlier["finished_ts"] <= later["claimed_ts"], f"{user}'s messages overlapped"
            assert [m["correlation_id"] for m in messages] == ids[user]
            sent = sorted(db.messages.find({"direction": "out", "user_id": user}), key=lambda m: m["sent_ts"])
            assert [r["in_reply_to"] for r in sent] == [f"{user}-m{n}" for n in range(MESSAGES_EACH)]
            workers |= {m["worker"] for m in messages}
        assert len(workers) == 2, f"both worker processes should have worked: {workers}"

        # Several web processes accepted webhooks, and /metrics (from whichever answers) counts them
        # all, those of processes that have exited included.
        lines = _json_lines(output)
        accepted = [line for line in lines if line["logger"] == "tongdai.intake"]
        assert len(accepted) == total
        # A process serves its 6 requests plus what its 8 threads already hold (our 8 citizens): the
        # first two cannot have taken all 32.
        assert len({line["pid"] for line in accepted}) >= 3
        done = f'tongdai_messages_processed_total{{channel="zalo",outcome="done"}} {total}.0'
        # A worker's lane counts a message just after marking it done in the database.
        wait_until(lambda: done in requests.get(f"{url}/metrics", timeout=10).text, 10, "the last message counted")
        for _ in range(4):
            scraped = requests.get(f"{url}/metrics", timeout=10).text
            assert f'tongdai_webhook_events_total{{channel="zalo",outcome="stored"}} {total}.0' in scraped
            assert done in scraped

        # The correlation id crosses processes: the web line, the worker's line and the send's.
        every_id = [cid for user_ids in ids.values() for cid in user_ids]
        for logger in ("tongdai.intake", "tongdai.worker", "tongdai.outbox"):
            logged = {line.get("correlation_id") for line in lines if line["logger"] == logger}
            assert set(every_id) <= logged, logger

        # gunicorn has no body limit of its own: the app refuses an oversized webhook body, declared
        # or chunked, with 413 and stores nothing.
        big = b"{" + b" " * (2 * 1024 * 1024) + b"}"
        assert requests.post(f"{url}/webhooks/zalo", data=big, timeout=30,
                             headers={"Content-Type": "application/json"}).status_code == 413
        chunked = requests.post(f"{url}/webhooks/zalo", data=(big[i:i + 65536] for i in range(0, len(big), 65536)),
                                timeout=30, headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413
        assert db.messages.count_documents({"direction": "in"}) == total

        # Two processes started the app on an empty database: one admin account, one password printed.
        assert db.staff.count_documents({}) == 1
        assert sum("Tài khoản quản trị đầu tiên" in line for line in output) == 1
    finally:
        fake_zalo.latency = 0.0
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGINT)  # Ctrl-C in a terminal
            run.wait(timeout=60)
        db.client.close()
        print("".join(output))
    assert len(seen) >= 5, f"expected gunicorn's master, two web processes and two workers: {seen}"
    wait_until(lambda: not any(alive(pid) for pid in seen), 15, "every started process to exit")


def test_a_replica_set_uri_is_taken_as_written():
    """What README's "Growing past one machine" recommends, as far as it can be checked without a
    replica set: the driver reads the database name, majority writes and retried writes from the
    URI, and an unreachable set is reported as down instead of hanging."""
    from bot.repository import Repository
    uri = ("mongodb://app:secret@db1.invalid:27017,db2.invalid:27017,db3.invalid:27017/tongdai1022"
           "?replicaSet=rs0&retryWrites=true&w=majority&authSource=admin")
    repository = Repository(uri, server_timeout_ms=200)
    try:
        assert repository.db.name == "tongdai1022"
        assert repository.messages.write_concern.document == {"w": "majority"}
        assert repository.client.options.retry_writes is True
        assert repository.client.options.replica_set_name == "rs0"
        assert Settings.from_env({"MONGODB_URI": uri}).database_uri == uri
        assert repository.ping() is False
    finally:
        repository.close()
