"""`make run` from this checkout: prints the URL, answers /healthz, carries a real message
through all its processes to a reply, and Ctrl-C leaves no process of ours running."""
import json
import os
import signal
import subprocess
import threading
from pathlib import Path

import pytest
import requests

from bot.config import REPO_ROOT
from tests.conftest import free_port, load_fixture, wait_until, zalo_environment, zalo_signature

pytestmark = pytest.mark.slow  # not in `make test-fast`: the whole of `make run`

OUR_VARIABLES = ("MONGODB_URI", "NLU_URL", "HOST", "PORT", "SECRET_KEY", "VAR_DIR")


def descendants(root: int) -> set[int]:
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {root}
    while frontier:
        children = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= children
        frontier = children
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_make_run_serves_replies_and_ctrl_c_stops_everything(tmp_path, fake_zalo):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in OUR_VARIABLES}
    env.update(PORT=str(port), NLU_PORT=str(free_port()), EMBEDDED_DB_PORT=str(free_port()),
               VAR_DIR=str(tmp_path / "var"), **zalo_environment(fake_zalo.url))
    make = subprocess.Popen(["make", "run"], cwd=REPO_ROOT, env=env, start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    output: list[str] = []
    threading.Thread(target=lambda: output.extend(line.decode(errors="replace") for line in make.stdout),
                     daemon=True).start()
    seen: set[int] = set()
    try:
        url = f"http://127.0.0.1:{port}/"

        def healthy():
            seen.update(descendants(make.pid))
            assert make.poll() is None, "make run exited:\n" + "".join(output)
            try:
                return requests.get(url + "healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_until(healthy, 240, "/healthz to answer 200", interval=0.5)
        assert any(url in line for line in output), "".join(output)

        event = load_fixture("zalo", "user_send_text")
        for text, msg_id, answers in ((None, None, 1), ("đúng", "confirm-1", 2)):  # the report, then "yes"
            if text:
                event["message"].update(text=text, msg_id=msg_id)
            body = json.dumps(event).encode()
            response = requests.post(url + "webhooks/zalo", data=body, timeout=5, headers={
                "Content-Type": "application/json", "X-ZEvent-Signature": zalo_signature(body)})
            assert response.status_code == 200
            reply = fake_zalo.wait_for(answers, timeout=60)[-1]
        assert "TV-" in reply["message"]["text"]
        # The web process reports the worker's counters (prometheus-client multiprocess mode).
        wait_until(lambda: 'tongdai_messages_processed_total{channel="zalo",outcome="done"} 2.0'
                   in requests.get(url + "metrics", timeout=5).text, 10, "the worker's counter on /metrics")
        seen.update(descendants(make.pid))
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
            make.wait(timeout=60)
        print("".join(output))  # shown by pytest when the test fails
    assert len(seen) >= 4, "expected the database, NLU, web and worker processes"
    wait_until(lambda: not any(alive(pid) for pid in seen), 10, "every started process to exit")
