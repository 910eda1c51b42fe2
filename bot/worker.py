"""The worker process: claims stored inbound messages and runs the pipeline on each.

A claim is a lease: if this process dies mid-message, the lease runs out and another
claim (here or in another worker) picks the message up again."""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from typing import Mapping

from bot import digest, logs, metrics, redact
from bot.channels import Channel
from bot.config import Settings, load_env_file
from bot.media import MediaStore
from bot.migrations import SchemaTooNew
from bot.pipeline import Pipeline, RetryLater
from bot.repository import Repository
from bot.supervisor import REFUSED
from nlu.client import NluClient, NluUnavailable

log = logging.getLogger("tongdai.worker")

LEASE_SECONDS = 60.0
MAX_ERRORS = 8
IDLE_POLL_SECONDS = 0.05  # an indexed query; keeps message -> reply latency low
DAILY_CHECK_SECONDS = 60.0  # how often a worker asks whether the day's overdue alert is due


def backoff(errors: int) -> float:
    return min(2.0 ** errors, 300.0)


class Worker:
    def __init__(self, repository: Repository, pipeline: Pipeline, worker_id: str | None = None,
                 lease_seconds: float = LEASE_SECONDS):
        self.repository = repository
        self.lease_seconds = lease_seconds
        self.pipeline = pipeline
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()

    def run_once(self) -> str:
        """Process at most one message. Returns "processed", "idle" or "waiting" (NLU down)."""
        message = self.repository.claim_inbound(self.worker_id, self.lease_seconds)
        if message is None:
            notice = self.repository.claim_notice()
            if notice is None:
                return "idle"
            with logs.bound(notice.get("correlation_id") or logs.new_id()):
                self.pipeline.send_notice(notice)
            return "processed"
        # Every line logged while handling it, the sends' included, carries the webhook's id.
        with logs.bound(message.get("correlation_id") or logs.new_id()):
            return self._process(message)

    def _process(self, message: dict) -> str:
        started = time.monotonic()
        state, outcome = "processed", {}
        try:
            outcome = self.pipeline.handle(message)
        except NluUnavailable:
            self.repository.release_inbound(message, 2.0, "nlu_unavailable", failed=False)
            result, state = "nlu_unavailable", "waiting"
        except Exception as exc:  # one bad message must not stop the others
            if not isinstance(exc, RetryLater):
                log.exception("message %s failed", message["_id"])
            errors = self.repository.release_inbound(message, backoff(message.get("errors", 0)),
                                                     f"{type(exc).__name__}: {exc}", failed=True)
            if errors >= MAX_ERRORS:
                self.repository.finish_inbound(message, "failed")
            result = "failed" if errors >= MAX_ERRORS else "retry"
        else:
            self.repository.finish_inbound(message, "done", outcome=outcome)
            result = "done"
        metrics.MESSAGES_PROCESSED.labels(message["channel"], result).inc()
        self._log_processed(message, result, outcome, started)
        return state

    @staticmethod
    def _log_processed(message: dict, result: str, outcome: dict, started: float) -> None:
        """One line per message: what was decided and how long it took, never what was written."""
        fields = {key: outcome[key] for key in ("intent", "confidence", "reply_state", "case_code", "handoff", "form")
                  if key in outcome}
        if outcome.get("held_by_staff"):
            fields["held_by_staff"] = True
        log.info("message %s: %s", message["channel"], result, extra={
            "channel": message["channel"], "kind": message.get("kind"), "outcome": result, **fields,
            "attempt": message.get("attempts"), "duration_ms": round((time.monotonic() - started) * 1000, 1),
            # from the webhook's store to now: the wait in the queue and the processing
            "latency_ms": round((time.time() - message["received_ts"]) * 1000, 1)})

    def _daily_overdue_alert(self) -> None:
        try:
            digest.run_if_due(self.repository, self.pipeline.settings, time.time())
        except Exception:
            log.exception("daily overdue alert failed")

    def drain(self, deadline_seconds: float = 60.0) -> None:
        """Process until nothing is claimable (used by tests and batch runs)."""
        deadline = time.monotonic() + deadline_seconds
        while time.monotonic() < deadline:
            if self.run_once() != "processed":
                return
        raise TimeoutError("queue not drained before the deadline")

    def run_forever(self) -> None:
        log.info("worker %s started", self.worker_id)
        daily_checked = 0.0
        while not self.stopping.is_set():
            try:
                state = self.run_once()
                if time.monotonic() - daily_checked > DAILY_CHECK_SECONDS:
                    daily_checked = time.monotonic()
                    # In a thread: a slow mail server must not hold up citizens' messages.
                    threading.Thread(target=self._daily_overdue_alert, daemon=True, name="daily-overdue").start()
            except Exception:  # the database may be restarting: wait and try again
                log.exception("worker loop error")
                state = "waiting"
            if state != "processed":
                self.stopping.wait(IDLE_POLL_SECONDS if state == "idle" else 2.0)
        log.info("worker %s stopped", self.worker_id)


def build_pipeline(settings: Settings, repository: Repository, channels: Mapping[str, Channel],
                   nlu: NluClient | None = None) -> Pipeline:
    return Pipeline(repository, nlu or NluClient(settings.nlu_base_url), channels,
                    MediaStore.for_settings(settings, repository), settings)


def main() -> None:
    # The entry point wires the platforms in; the core itself never imports them.
    from webhooks.registry import build_channels

    load_env_file()
    logs.setup("worker")
    settings = Settings.from_env()
    redact.install_for(settings)
    repository = Repository(settings.database_uri)
    try:
        repository.wait_until_ready(60)
    except SchemaTooNew as exc:
        log.error("not starting: %s", exc)
        sys.exit(REFUSED)
    worker = Worker(repository, build_pipeline(settings, repository, build_channels(settings, repository)),
                    lease_seconds=settings.worker_lease_seconds)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stopping.set())
    worker.run_forever()


if __name__ == "__main__":
    main()
