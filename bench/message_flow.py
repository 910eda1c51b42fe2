"""100 Zalo messages through the real processes (embedded database, NLU server, web app,
worker) to a fake Zalo Open API: webhook answer time and message -> reply time."""
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import requests

from bot.config import REPO_ROOT, Settings
from bot.run import services
from tests.conftest import free_port, load_fixture, wait_until, zalo_environment, zalo_signature
from tests.fakes import FakeZalo

MESSAGES = 100
RATE_PER_SECOND = 10
TEXTS = [
    "tối qua ở khóm 4 phường 1 có đám nhậu đông người không đeo khẩu trang",
    "em mất việc vì dịch, gia đình khó khăn xin được hỗ trợ",
    "nen bo tri them diem tiem vaccine o xa Long Hiep",
    "con tôi sốt cao, SpO2 95 thì có cần đi viện không",
    "xin chào",
]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def summary(name: str, seconds: list[float]) -> str:
    ms = [s * 1000 for s in seconds]
    return (f"{name}: p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, "
            f"max {max(ms):.1f} ms, mean {statistics.mean(ms):.1f} ms (n={len(ms)})")


def run() -> None:
    fake = FakeZalo()
    with tempfile.TemporaryDirectory() as var:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "NLU_URL")}
        env.update(PORT=str(port), NLU_PORT=str(free_port()), EMBEDDED_DB_PORT=str(free_port()),
                   VAR_DIR=var, PYTHONUNBUFFERED="1", **zalo_environment(fake.url))
        settings = Settings.from_env(env)
        env.update(MONGODB_URI=settings.database_uri, NLU_URL=settings.nlu_base_url)
        logs = Path(var) / "logs"
        logs.mkdir()
        processes = [subprocess.Popen(["bash", "-c", command], cwd=REPO_ROOT, env=env,
                                      stdout=open(logs / f"{name}.log", "w"), stderr=subprocess.STDOUT)
                     for name, command in services(settings)]
        try:
            started = time.monotonic()
            url = f"http://127.0.0.1:{port}"
            wait_until(lambda: _healthy(url), 300, "the services", interval=0.2)
            print(f"all services healthy {time.monotonic() - started:.1f} s after start")
            answer, sent_at = [], {}
            template = load_fixture("zalo", "user_send_text")
            for i in range(MESSAGES):
                event = json.loads(json.dumps(template))
                event["sender"]["id"] = f"bench-user-{i}"
                event["message"].update(msg_id=f"bench-{i}", text=TEXTS[i % len(TEXTS)])
                body = json.dumps(event).encode()
                headers = {"Content-Type": "application/json", "X-ZEvent-Signature": zalo_signature(body)}
                sent_at[f"bench-user-{i}"] = t0 = time.monotonic()
                response = requests.post(f"{url}/webhooks/zalo", data=body, headers=headers, timeout=10)
                answer.append(time.monotonic() - t0)
                assert response.status_code == 200, response.text
                time.sleep(max(0.0, t0 + 1 / RATE_PER_SECOND - time.monotonic()))
            fake.wait_for(MESSAGES, timeout=300)
            replies = [at - sent_at[p["recipient"]["user_id"]] for p, at in zip(fake.received, fake.received_at)]
            print(f"{MESSAGES} messages at {RATE_PER_SECOND}/s on the embedded database:")
            print("  " + summary("webhook answer", answer))
            print("  " + summary("message -> reply", replies))
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
            fake.close()


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False
