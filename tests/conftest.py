"""Test set-up: the real database server (embedded nx-27017 on a free loopback port, or
TEST_MONGODB_URI), the real NLU server with the trained model, and fake platform send APIs."""
from __future__ import annotations

import functools
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.uri_parser import parse_uri

from bot.app import create_app
from bot.config import EMBEDDED_DB_USER, REPO_ROOT, Settings
from bot.console.access import passwords
from bot.repository import Repository
from bot.worker import Worker, build_pipeline
from nlu.client import NluClient
from tests.fakes import FakeGraphAPI, FakeZalo
from webhooks.registry import build_channels

# The browser fixtures (browser, page, desktop, live_url), registered once: one Chromium for the run.
pytest_plugins = ["tests.browser"]

TESTS = Path(__file__).parent
FIXTURES = TESTS / "fixtures"
NLU_PYTHON = REPO_ROOT / ".venv-nlu" / "bin" / "python"
ZALO_APP_ID = "1234567890123456789"
ZALO_OA_SECRET_KEY = "oa-secret-key-for-tests"
FB_APP_SECRET = "fb-app-secret-for-tests"
FB_VERIFY_TOKEN = "verify-me"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_NEVER_SET = threading.Event()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.1):
    """Poll `predicate` (a database query, an HTTP probe: nothing to be notified by) until it
    holds, failing at the deadline."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        _NEVER_SET.wait(min(interval, max(0.0, deadline - time.monotonic())))
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


# The fixtures were captured in November 2021; the webhooks refuse events older than the platform's
# retry window. Their times are moved by one amount for the whole run, so that the newest is when
# the run began: their order and spacing are kept, and an event loaded twice is the same event.
FIXTURES_NEWEST_MS = 1636616405123
FIXTURE_SHIFT_MS = int(time.time() * 1000) - FIXTURES_NEWEST_MS


SERVICES = {"mongo_server", "nlu_url"}


# The modules that take longest (measured serially, 20-75 s each; the worker killed 50 times takes
# two minutes beside the others), longest first. `make test` hands whole modules to its processes
# in collection order: started last, one of these would leave a single process working for a
# minute after the others had finished.
LONGEST_MODULES = ["test_faults_worker_kill.py", "test_fuzz_webhooks.py", "console/test_browser_shift.py",
                   "console/test_browser_console.py", "conversations/test_conversations_real.py",
                   "test_supervision.py", "test_hostile_requests.py", "test_faults_database.py",
                   "security/test_media_fetch.py", "security/test_sessions.py", "console/test_console.py",
                   "test_faults_send.py", "test_backup.py", "test_browser_tracking.py", "test_faults_nlu.py",
                   "nlu/test_evaluation.py", "test_scaling.py", "test_make_run.py"]


def pytest_collection_modifyitems(config, items):
    """`-m pure` (`make test-fast`, the edit loop): the tests that need neither the database nor
    the NLU server (found by their fixtures) and are not marked slow. The longest modules first."""
    for item in items:
        if not SERVICES & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.pure)
    rank = {name: n for n, name in enumerate(LONGEST_MODULES)}

    def module_rank(item) -> int:
        path = Path(item.path)
        if not path.is_relative_to(TESTS):
            return len(rank)
        return rank.get(path.relative_to(TESTS).as_posix(), len(rank))

    items.sort(key=module_rank)  # stable: the order within a module, and of the others, is kept


def load_fixture(platform: str, name: str) -> dict:
    """A platform's payload, its times moved to this run (see FIXTURE_SHIFT_MS)."""
    event = json.loads((FIXTURES / platform / f"{name}.json").read_text(encoding="utf-8"))
    if platform == "zalo" and str(event.get("timestamp", "")).isdigit():
        event["timestamp"] = str(int(event["timestamp"]) + FIXTURE_SHIFT_MS)
    for entry in event.get("entry", []) if platform == "facebook" else []:
        if isinstance(entry.get("time"), int):
            entry["time"] += FIXTURE_SHIFT_MS
        for item in [*entry.get("messaging", []), *entry.get("standby", [])]:
            if isinstance(item.get("timestamp"), int):
                item["timestamp"] += FIXTURE_SHIFT_MS
    return event


# ---- the database server -------------------------------------------------------------------

@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    """Yields the server's base URI (no database name)."""
    external = os.environ.get("TEST_MONGODB_URI")
    if external:
        hosts = ",".join(f"{h}:{p}" for h, p in parse_uri(external)["nodelist"])
        yield f"mongodb://{hosts}"
        return
    data = tmp_path_factory.mktemp("db")
    port = free_port()
    password = data / "db_password"  # as make run: the server requires SCRAM-SHA-256 (bot/embedded_db.py)
    password.write_text(secrets.token_urlsafe(24))
    password.chmod(0o600)
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.embedded_db", "--port", str(port), "--data-dir", str(data / "data"),
         "--pid-file", str(data / "db.pid"), "--log-file", str(data / "db.log"), "--password-file", str(password)],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    uri = f"mongodb://{EMBEDDED_DB_USER}:{password.read_text()}@127.0.0.1:{port}"
    client = MongoClient(uri, serverSelectionTimeoutMS=500)

    def answers():
        try:
            return client.admin.command("ping")
        except Exception:
            assert process.poll() is None, "the embedded database server exited"
            return None

    wait_until(answers, 30, "the embedded database server")
    client.close()
    yield uri
    os.kill(int((data / "db.pid").read_text()), signal.SIGTERM)  # stopped by its pid file
    process.wait(timeout=10)


@pytest.fixture
def database_uri(mongo_server):
    """A fresh database per test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield f"{mongo_server}/{name}"
    client = MongoClient(mongo_server, serverSelectionTimeoutMS=2000)
    try:
        client.drop_database(name)
    except Exception:
        pass  # a test may have stopped the server on purpose
    client.close()


# ---- the NLU server with the trained model --------------------------------------------------

@pytest.fixture(scope="session")
def nlu_url():
    external = os.environ.get("TEST_NLU_URL")
    if external:
        yield external
        return
    port = free_port()
    process = subprocess.Popen([str(NLU_PYTHON), "-m", "nlu", "serve", "--host", "127.0.0.1",
                                "--port", str(port)], cwd=REPO_ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    client = NluClient(url)

    def ready():
        if process.poll() is not None:
            raise AssertionError("NLU server exited: " + process.stderr.read().decode()[-2000:])
        return client.is_ready()

    wait_until(ready, 240, "the NLU server", interval=0.5)
    yield url
    process.terminate()
    process.wait(timeout=30)


# ---- fake platforms -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def fake_zalo_server():
    server = FakeZalo()
    yield server
    server.close()


@pytest.fixture(scope="session")
def fake_graph_server():
    server = FakeGraphAPI()
    yield server
    server.close()


@pytest.fixture
def fake_zalo(fake_zalo_server):
    fake_zalo_server.reset()
    return fake_zalo_server


@pytest.fixture
def fake_graph(fake_graph_server):
    fake_graph_server.reset()
    return fake_graph_server


# ---- the app ---------------------------------------------------------------------------------

def zalo_environment(fake_zalo_url: str) -> dict:
    """A Zalo OA configured against the fake Zalo (Open API and OAuth)."""
    return {"ZALO_APP_ID": ZALO_APP_ID, "ZALO_OA_SECRET_KEY": ZALO_OA_SECRET_KEY,
            "ZALO_APP_SECRET": FakeZalo.APP_SECRET, "ZALO_ACCESS_TOKEN": FakeZalo.ACCESS_TOKEN,
            "ZALO_REFRESH_TOKEN": FakeZalo.REFRESH_TOKEN, "ZALO_OPENAPI_URL": fake_zalo_url,
            "ZALO_OAUTH_URL": fake_zalo_url}


def environment_for_tests(database_uri, nlu_url, zalo_url, graph_url, var_dir) -> dict:
    """Every platform configured against the fakes; database and NLU left out when None."""
    return {
        "VAR_DIR": str(var_dir), **({"MONGODB_URI": database_uri} if database_uri else {}),
        **({"NLU_URL": nlu_url} if nlu_url else {}),
        **zalo_environment(zalo_url),
        "FB_APP_SECRET": FB_APP_SECRET, "FB_VERIFY_TOKEN": FB_VERIFY_TOKEN,
        "FB_PAGE_ACCESS_TOKEN": FakeGraphAPI.PAGE_TOKEN, "FB_GRAPH_URL": graph_url,
        # The fake platforms serve their media from loopback, over plain HTTP: allowed here only.
        "MEDIA_HOSTS": f"{zalo_url}, {graph_url}", "MEDIA_ALLOW_PRIVATE": "127.0.0.0/8",
        # Staffed around the clock, so what the bot says does not depend on when the suite runs;
        # the night-time texts are tested on their own.
        "WORKING_HOURS": "00:00-00:00",
        # The console pages ask for news every second rather than every 5: the browser tests wait
        # for those polls.
        "CONSOLE_REFRESH_SECONDS": "1",
    }


@pytest.fixture
def settings(database_uri, nlu_url, fake_zalo, fake_graph, tmp_path):
    return Settings.from_env(environment_for_tests(database_uri, nlu_url, fake_zalo.url,
                                              fake_graph.base_url, tmp_path / "var"))


@functools.cache
def first_admin_hash() -> str:
    """An Argon2id hash (64 MiB: 0.15–0.25 s) made once a run rather than once a test."""
    return passwords.hash(secrets.token_urlsafe(15))


@pytest.fixture
def app(settings):
    # The first admin as the app would create it, from a hash made once: creating it at start cost
    # every one of some 760 tests a quarter of a second of Argon2. The first start with no account
    # at all is tested on its own (test_passwords, test_console).
    repository = Repository(settings.database_uri)
    repository.create_staff(username=settings.admin_username, password_hash=first_admin_hash(), role="admin",
                            name="Quản trị viên", must_change_password=True)
    repository.close()
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    app.extensions["repository"].close()


@pytest.fixture
def unconfigured_app(settings):
    """The app with no platform credentials at all."""
    env = {"MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url,
           "VAR_DIR": str(settings.var_dir)}
    app = create_app(Settings.from_env(env))
    yield app
    app.extensions["repository"].close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def repository(app):
    return app.extensions["repository"]


@pytest.fixture
def worker(app, settings):
    repository = app.extensions["repository"]
    pipeline = build_pipeline(settings, repository, build_channels(settings, repository))
    return Worker(repository, pipeline, worker_id="test-worker")


# ---- signed deliveries, as the platforms send them -----------------------------------------

def zalo_signature(body: bytes, app_id: str = ZALO_APP_ID, key: str = ZALO_OA_SECRET_KEY) -> str:
    timestamp = str(json.loads(body)["timestamp"])
    return "mac=" + hashlib.sha256(app_id.encode() + body + timestamp.encode() + key.encode()).hexdigest()


def facebook_signature(body: bytes, secret: str = FB_APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_zalo(client, payload: dict, signature: str | None = None):
    body = json.dumps(payload, ensure_ascii=False).encode()
    return client.post("/webhooks/zalo", data=body, content_type="application/json",
                       headers={"X-ZEvent-Signature": signature or zalo_signature(body)})


def post_facebook(client, payload: dict, signature: str | None = None):
    body = json.dumps(payload, ensure_ascii=False).encode()
    return client.post("/webhooks/facebook", data=body, content_type="application/json",
                       headers={"X-Hub-Signature-256": signature or facebook_signature(body)})
