"""`python -m bench commands` (issue 16): the database commands one ordinary message costs, from
the webhook to the reply, counted with pymongo's command monitoring in this process: the web app
(Flask's test client) and a worker, against the embedded database, the real NLU server and the
fake Zalo. First one message at a time (a citizen's first message, then their next one: the
ordinary case), each command listed with the step it belongs to; then a backlog of 200 messages
from 50 citizens drained by the worker's lanes, where the queue's scan is shared by a batch."""
from __future__ import annotations

import contextlib
import copy
import os
import signal
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from pymongo import monitoring

from bot.config import REPO_ROOT, Settings
from tests.conftest import (NLU_PYTHON, environment_for_tests, free_port, load_fixture, post_zalo, wait_until)
from tests.fakes import FakeGraphAPI, FakeZalo

HANDSHAKES = {"hello", "ismaster", "isMaster", "ping", "endSessions", "buildInfo", "getMore", "killCursors"}


class Recorder(monitoring.CommandListener):
    def __init__(self):
        self.commands: list[str] = []
        self.recording = False

    def started(self, event):
        if self.recording and event.command_name not in HANDSHAKES:
            self.commands.append(step(event.command_name, event.command))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass

    @contextlib.contextmanager
    def counting(self):
        self.commands, self.recording = [], True
        try:
            yield self.commands
        finally:
            self.recording = False


def step(name: str, command: dict) -> str:
    """The step of the message's journey a command belongs to, read from the command itself."""
    collection = command.get(name)
    query = command.get("filter") or command.get("query") or {}
    change = command.get("update") if name == "findAndModify" else (command.get("updates") or [{}])[0].get("u")
    query = query or (command.get("updates") or [{}])[0].get("q") or {}
    sets = set((change or {}).get("$set", {}))
    if name == "insert" and collection == "messages":
        document = command["documents"][0]
        return "webhook: store the message" if document.get("direction") == "in" else "reply: record it before the send"
    if name == "insert" and collection == "conversations":
        return "claim: a first message: create the conversation, locked"
    if name == "find" and collection == "messages" and "lease_until" in query:
        return "claim: scan the queue (one page, for a batch of citizens)"
    if name == "find" and collection == "messages" and "user_id" in query:
        return "claim: the citizen's waiting messages, read under the lock"
    if name == "findAndModify" and collection == "conversations" and "lock_owner" in sets:
        return "claim: lock the citizen = read the conversation"
    if collection == "conversations" and "last_done_id" in sets:
        return "end of turn: the new state, the message as the last one done, the lock (one write)"
    if name == "update" and collection == "messages" and "finished_ts" in sets:
        return "the message done"
    if name == "update" and collection == "messages" and "sent_ts" in sets:
        return "reply: record the platform's answer"
    if name == "find" and collection == "tokens":
        return "send: the Zalo token (read again every 30 s)"
    if name == "findAndModify" and collection == "messages" and query.get("state") == "queued":
        return "idle: status notices to send"
    q = sorted(query) if isinstance(query, dict) else query
    return f"other: {name} {collection} {q} {sorted(sets)}"


@contextlib.contextmanager
def database_and_nlu():
    """The embedded database and the NLU server, as tests/conftest.py starts them."""
    with tempfile.TemporaryDirectory() as folder:
        port, nlu_port = free_port(), free_port()
        database = subprocess.Popen(
            [sys.executable, "-m", "bot.embedded_db", "--port", str(port), "--data-dir", f"{folder}/data",
             "--pid-file", f"{folder}/db.pid", "--log-file", f"{folder}/db.log"],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        nlu = subprocess.Popen([str(NLU_PYTHON), "-m", "nlu", "serve", "--host", "127.0.0.1", "--port", str(nlu_port)],
                               cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            yield f"mongodb://127.0.0.1:{port}/commands", f"http://127.0.0.1:{nlu_port}", Path(folder)
        finally:
            nlu.terminate()
            nlu.wait(timeout=30)
            os.kill(int(Path(folder, "db.pid").read_text()), signal.SIGTERM)
            database.wait(timeout=30)


def zalo_event(user: str, msg_id: str, text: str) -> dict:
    event = copy.deepcopy(load_fixture("zalo", "user_send_text"))
    event["sender"]["id"] = user
    event["message"].update(msg_id=msg_id, text=text)
    return event


def one_message(recorder: Recorder, client, worker, user: str, msg_id: str, text: str) -> list[str]:
    with recorder.counting() as commands:
        assert post_zalo(client, zalo_event(user, msg_id, text)).status_code == 200
        assert worker.run_once() == "processed"
    return commands


def print_steps(title: str, commands: list[str]) -> None:
    print(f"  {title}: {len(commands)} commands")
    for n, command in enumerate(commands, 1):
        print(f"    {n}. {command}")


def run() -> None:
    recorder = Recorder()
    monitoring.register(recorder)  # every client made from now on reports its commands
    from bot.app import create_app
    from bot.worker import Worker, build_pipeline
    from nlu.client import NluClient
    from webhooks.registry import build_channels

    zalo = FakeZalo()
    try:
        with database_and_nlu() as (database_uri, nlu_url, folder):
            wait_until(NluClient(nlu_url).is_ready, 240, "the NLU server", interval=0.5)
            settings = Settings.from_env(environment_for_tests(database_uri, nlu_url, zalo.url, zalo.url, folder / "var"))
            app = create_app(settings)
            client, repository = app.test_client(), app.extensions["repository"]
            worker = Worker(repository, build_pipeline(settings, repository, build_channels(settings, repository)),
                            worker_id="bench")
            print("database commands per message, webhook to reply (embedded database, NLU server, fake Zalo):")
            print_steps("a citizen's first message ('xin chào')",
                        one_message(recorder, client, worker, "citizen-1", "m-1", "xin chào"))
            print_steps("their next message, the ordinary case ('cho hỏi tổng đài làm việc mấy giờ')",
                        one_message(recorder, client, worker, "citizen-1", "m-2", "cho hỏi tổng đài làm việc mấy giờ"))
            backlog(recorder, client, worker, zalo)
    finally:
        zalo.close()


def backlog(recorder: Recorder, client, worker, zalo: FakeZalo, citizens: int = 50, each: int = 4) -> None:
    """A backlog drained by the worker's lanes: the queue's scan serves a batch of citizens, and a
    lane holding a citizen with several waiting messages reads them once."""
    texts = ["xin chào", "cho hỏi tổng đài làm việc mấy giờ", "cảm ơn", "tạm biệt"]
    zalo.reset()
    count = citizens * each
    with recorder.counting() as commands:
        for n in range(each):
            for c in range(citizens):
                assert post_zalo(client, zalo_event(f"backlog-{c}", f"b-{c}-{n}", texts[n])).status_code == 200
        thread = threading.Thread(target=worker.run_forever)
        thread.start()
        try:
            zalo.wait_for(count, timeout=300)
            wait_until(lambda: Counter(commands)["the message done"] >= count, 60, "the last messages to finish")
        finally:
            worker.stopping.set()
            thread.join(timeout=60)
    steps = Counter(commands)
    idle = steps.pop("idle: status notices to send", 0)
    print(f"  a backlog of {count} messages from {citizens} citizens, drained by one worker "
          f"({worker.concurrency} lanes): {sum(steps.values()) / count:.2f} commands per message")
    for name, n in sorted(steps.items(), key=lambda item: -item[1]):
        print(f"    {n / count:5.2f}  {name}")
    print(f"    (and {idle} looks for status notices while the queue was empty, not per message)")
    retried = Counter(m["last_error"] for m in worker.repository.messages.find({"last_error": {"$exists": True}}))
    if retried:
        print(f"  messages given back for a retry: {dict(retried)}")
