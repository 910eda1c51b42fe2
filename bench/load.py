"""Webhook answer time under 300 events/s for 30 s, beside a bare endpoint in the same server that
only stores one document and answers 200 (BENCH_BARE_ENDPOINT=1). Open loop: each request leaves
at its scheduled time whatever the previous ones are doing, and its time runs from that schedule,
so a slow server cannot hide its queue (no coordinated omission). Then each process's resident
memory after the load."""
from __future__ import annotations

import copy
import http.client
import json
import os
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

from bench.message_flow import TEXTS, percentile
from bench.services import resident_memory_mb, running_processes
from tests.conftest import load_fixture, zalo_signature
from tests.fakes import FakeGraphAPI, FakeZalo

RATE = int(os.environ.get("BENCH_LOAD_RATE", "300"))
SECONDS = int(os.environ.get("BENCH_LOAD_SECONDS", "30"))
SENDERS = 64  # enough threads that a request never waits for a free one at this rate
GOAL = 1.5
SEND_LATENCY = 0.2


def zalo_bodies(count: int, tag: str, citizens: int = 500) -> list[tuple[bytes, dict]]:
    """Signed, distinct Zalo text events from `citizens` senders in turn, made before the clock starts."""
    template = load_fixture("zalo", "user_send_text")
    bodies = []
    for i in range(count):
        event = copy.deepcopy(template)
        event["sender"]["id"] = f"load-{tag}-{i % citizens}"
        event["message"].update(msg_id=f"load-{tag}-{i}", text=TEXTS[i % len(TEXTS)])
        body = json.dumps(event, ensure_ascii=False).encode()
        bodies.append((body, {"Content-Type": "application/json", "X-ZEvent-Signature": zalo_signature(body)}))
    return bodies


def open_loop(url: str, path: str, bodies: list[tuple[bytes, dict]], rate: float) -> tuple[list[float], dict]:
    """POST each body at start + i/rate. Returns each request's time from its schedule to its
    answer (seconds) and the count of each status."""
    address = urlsplit(url)
    local = threading.local()
    statuses: dict = {}
    lock = threading.Lock()

    def post(scheduled: float, body: bytes, headers: dict) -> float:
        connection = getattr(local, "connection", None)
        if connection is None:
            connection = local.connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            local.connection = None
            status = "error"
        with lock:
            statuses[status] = statuses.get(status, 0) + 1
        return time.monotonic() - scheduled

    with ThreadPoolExecutor(SENDERS) as pool:
        start = time.monotonic() + 0.5
        futures = []
        for i, (body, headers) in enumerate(bodies):
            scheduled = start + i / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(post, scheduled, body, headers))
        late = time.monotonic() - (start + (len(bodies) - 1) / rate)
        latencies = [f.result() for f in futures]
    if late > 0.5:
        print(f"  (the load generator itself fell {late:.2f} s behind its schedule)")
    return latencies, statuses


def line(name: str, latencies: list[float], statuses: dict) -> str:
    ms = [s * 1000 for s in latencies]
    return (f"{name}: p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms, max {max(ms):.1f} ms "
            f"(n={len(ms)}, answers {statuses})")


def run() -> None:
    # The worker's load on the database depends on how fast its sends are answered: as the real APIs.
    zalo, graph = FakeZalo(latency=SEND_LATENCY), FakeGraphAPI(latency=SEND_LATENCY)
    count = RATE * SECONDS
    try:
        with running_processes(zalo.url, graph.base_url, extra_env={"BENCH_BARE_ENDPOINT": "1"}) as (url, pids, _):
            print(f"webhook vs bare endpoint, open loop at {RATE} events/s for {SECONDS} s each, same server:")
            open_loop(url, "/bench/bare", zalo_bodies(RATE, "warm"), RATE)  # warm connections and caches
            bare = open_loop(url, "/bench/bare", zalo_bodies(count, "bare"), RATE)
            print("  " + line("bare (read body, insert one document, 200)", *bare))
            # The worker paused: the webhook alone, on the same terms as the bare endpoint.
            os.kill(pids["worker"], signal.SIGSTOP)
            try:
                alone = open_loop(url, "/webhooks/zalo", zalo_bodies(count, "alone"), RATE)
            finally:
                os.kill(pids["worker"], signal.SIGCONT)
            print("  " + line("webhook, worker paused", *alone))
            busy = open_loop(url, "/webhooks/zalo", zalo_bodies(count, "busy"), RATE)
            print("  " + line("webhook, worker processing the backlog", *busy))
            # The bare endpoint again while the worker still drains the backlog: both share the
            # database with it, so this pair compares the webhook path alone again.
            bare_busy = open_loop(url, "/bench/bare", zalo_bodies(count, "bare-busy"), RATE)
            print("  " + line("bare, worker processing the backlog", *bare_busy))
            for name, (webhook, _), (baseline, _) in (("worker paused / idle", alone, bare),
                                                      ("worker busy", busy, bare_busy)):
                p50 = percentile(webhook, 50) / percentile(baseline, 50)
                p99 = percentile(webhook, 99) / percentile(baseline, 99)
                verdict = "within" if max(p50, p99) <= GOAL else "above"
                print(f"  ratio webhook/bare ({name}): p50 {p50:.2f}x, p99 {p99:.2f}x ({verdict} the {GOAL}x goal)")
            waiting = requests.get(f"{url}/metrics", timeout=30).text
            depth = next((l.split()[-1] for l in waiting.splitlines() if l.startswith("tongdai_queue_depth ")), "?")
            print(f"  messages still queued for the worker at the end: {depth}")
            print("resident memory after the load (VmRSS):")
            for name, pid in pids.items():
                print(f"  {name}: {resident_memory_mb(pid):.0f} MB")
    finally:
        zalo.close()
        graph.close()
