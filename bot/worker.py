"""The worker process: claims citizens with stored inbound messages and runs the pipeline on
each message, several citizens at once.

A claim is a lease on the citizen: if this process dies mid-message, the lease runs out and
another claim (here or in another worker) picks the message up again."""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Mapping

from bot import digest, logs, metrics, redact
from bot.channels import Channel
from bot.config import Settings, load_env_file
from bot.media import MediaStore
from bot.messages import StoredMessage
from bot.migrations import SchemaTooNew
from bot.pipeline import Pipeline, RetryLater
from bot.repository import Claim, Repository, conversation_from_document
from bot.supervisor import REFUSED
from nlu.client import NluClient, NluUnavailable

log = logging.getLogger("tongdai.worker")

LEASE_SECONDS = 60.0
CONCURRENCY = 32  # citizens one worker handles at once: 100 messages/s with sends taking 200 ms need 20+
# The lanes share a few connections: the embedded server runs one command at a time, in the order
# they come, so 32 lanes' commands queued there would make every webhook's insert wait behind them.
DATABASE_CONNECTIONS = 4
NICENESS = 10  # below the web process and the database (see main)
FINISH_GRACE_SECONDS = 2.0  # another worker may take the citizen this long after their last message
MAX_ERRORS = 8
IDLE_POLL_SECONDS = 0.05  # an indexed query; keeps message -> reply latency low
DAILY_CHECK_SECONDS = 60.0  # how often a worker asks whether the day's overdue alert is due


def backoff(errors: int) -> float:
    return min(2.0 ** errors, 300.0)


class Worker:
    """Claims citizens with waiting messages, `concurrency` at a time: one slow send (the platforms
    take 100-500 ms) holds up only its own citizen. Each citizen's messages go through one lane,
    in order, under the citizen's lock in the database, so several workers agree too."""

    def __init__(self, repository: Repository, pipeline: Pipeline, worker_id: str | None = None,
                 lease_seconds: float = LEASE_SECONDS, concurrency: int = CONCURRENCY):
        self.repository = repository
        self.lease_seconds = lease_seconds
        self.pipeline = pipeline
        self.concurrency = concurrency
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.stopping = threading.Event()

    def run_once(self) -> str:
        """Process at most one message (tests and batch runs). Returns "processed", "idle" or
        "waiting" (NLU down)."""
        claims = self.repository.claim_citizens(self.worker_id, self.lease_seconds, limit=1)
        if claims:
            result = self._lane(Claim(claims[0].conversation, claims[0].messages[:1]))
            return "waiting" if result == "nlu_unavailable" else "processed"
        notice = self.repository.claim_notice()
        if notice is None:
            return "idle"
        self._send_notice(notice)
        return "processed"

    def _send_notice(self, notice: dict) -> None:
        with logs.bound(notice.get("correlation_id") or logs.new_id()):
            self.pipeline.send_notice(notice)

    def _lane(self, claim: Claim) -> str:
        """One citizen's claimed messages, oldest first. Stops at a message that is not done (it
        was given back, unlocking the citizen): the citizen's later messages wait behind it.
        Returns the last message's result."""
        conversation, result = claim.conversation, "done"
        for n, message in enumerate(claim.messages):
            more = n + 1 < len(claim.messages)
            # Every line logged while handling it, the sends' included, carries the webhook's id.
            with logs.bound(message.correlation_id or logs.new_id()):
                result, conversation = self._process(message, conversation, more)
            if result != "done" or conversation is None:  # (None: the lock ran out; another worker has the rest)
                break
        return result

    def _process(self, message: StoredMessage, conversation: dict, more: bool) -> tuple[str, dict | None]:
        """Returns "done", "retry", "failed" or "nlu_unavailable", and when `more`, the conversation
        as it is now, still locked for the citizen's next message."""
        started, started_ts = time.monotonic(), time.time()
        if conversation.get("last_done_id") == message.message_id:
            # A worker kept this turn and died before marking the message: it is not done again.
            self.repository.finish_message(message, "done", self.worker_id, started_ts, recovered="yes")
            if not more:
                self.repository.unlock_citizen(message.channel, message.user_id, self.worker_id)
            metrics.MESSAGES_PROCESSED.labels(message.channel, "done").inc()
            return "done", conversation
        outcome, after = {}, None
        try:
            before = conversation_from_document(conversation)
            handled = self.pipeline.handle(message, before)
            outcome = handled.facts
            # The citizen stays locked for the next message, or a short grace while this one is marked done.
            hold = self.lease_seconds if more else min(FINISH_GRACE_SECONDS, self.lease_seconds)
            after = self.repository.end_turn(message, before, handled.state, self.worker_id, time.time() + hold,
                                             read=more)
            self.repository.finish_message(message, "done", self.worker_id, started_ts, outcome=outcome)
            result = "done"
        except NluUnavailable:
            self.repository.release_message(message, 2.0, "nlu_unavailable", failed=False, worker_id=self.worker_id)
            result = "nlu_unavailable"
        except Exception as exc:  # one bad message must not stop the others
            if not isinstance(exc, RetryLater):
                log.exception("message %s failed", message.id)
            errors = self.repository.release_message(message, backoff(message.errors), f"{type(exc).__name__}: {exc}",
                                                     failed=True, worker_id=self.worker_id)
            if errors >= MAX_ERRORS:
                self.repository.finish_message(message, "failed", self.worker_id, started_ts)
            result = "failed" if errors >= MAX_ERRORS else "retry"
        metrics.MESSAGES_PROCESSED.labels(message.channel, result).inc()
        self._log_processed(message, result, outcome, started)
        return result, after

    @staticmethod
    def _log_processed(message: StoredMessage, result: str, outcome: dict, started: float) -> None:
        """One line per message: what was decided and how long it took, never what was written."""
        kept = ("intent", "confidence", "reply_state", "case_code", "handoff", "form", "knowledge_entry",
                "knowledge_confidence", "question")
        fields = {key: outcome[key] for key in kept if key in outcome}
        if outcome.get("held_by_staff"):
            fields["held_by_staff"] = True
        log.info("message %s: %s", message.channel, result, extra={
            "channel": message.channel, "kind": message.kind, "outcome": result, **fields,
            "attempt": message.attempts + 1, "duration_ms": round((time.monotonic() - started) * 1000, 1),
            # from the webhook's store to now: the wait in the queue and the processing
            "latency_ms": round((time.time() - message.received_ts) * 1000, 1)})

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
        log.info("worker %s started, %d citizens at a time", self.worker_id, self.concurrency)
        lanes: dict[tuple, Future] = {}  # citizen (or notice) -> its lane
        daily_checked = 0.0
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="lane") as pool:
            while not self.stopping.is_set():
                for key in [key for key, lane in lanes.items() if lane.done()]:
                    del lanes[key]
                room = self.concurrency - len(lanes)
                claimed = False
                try:
                    if room:
                        claims = self.repository.claim_citizens(self.worker_id, self.lease_seconds, room,
                                                                frozenset(lanes))
                        for claim in claims:
                            first = claim.messages[0]
                            lanes[(first.channel, first.user_id)] = pool.submit(self._guarded, self._lane, claim)
                        notice = None if claims else self.repository.claim_notice()
                        if notice is not None:
                            lanes[("notice", notice["_id"])] = pool.submit(self._guarded, self._send_notice, notice)
                        claimed = bool(claims) or notice is not None
                    pause = 0.0 if claimed else IDLE_POLL_SECONDS
                except Exception:  # the database may be restarting: wait and try again
                    log.exception("worker loop error")
                    pause = 2.0
                if time.monotonic() - daily_checked > DAILY_CHECK_SECONDS:
                    daily_checked = time.monotonic()
                    # In a thread: a slow mail server must not hold up citizens' messages.
                    threading.Thread(target=self._daily_overdue_alert, daemon=True, name="daily-overdue").start()
                if len(lanes) >= self.concurrency:  # full: until a lane ends
                    wait(list(lanes.values()), timeout=self.lease_seconds, return_when=FIRST_COMPLETED)
                elif pause:
                    self.stopping.wait(pause)
        log.info("worker %s stopped", self.worker_id)

    @staticmethod
    def _guarded(job, *args) -> None:
        try:
            job(*args)
        except Exception:  # the database went away mid-lane: the citizen's lock runs out, another claim retries
            log.exception("%s failed", job.__name__)


def build_pipeline(settings: Settings, repository: Repository, channels: Mapping[str, Channel],
                   nlu: NluClient | None = None) -> Pipeline:
    return Pipeline(repository, nlu or NluClient(settings.nlu_base_url), channels,
                    MediaStore.for_settings(settings, repository), settings)


def main() -> None:
    # The entry point wires the platforms in; the core itself never imports them.
    from webhooks.registry import build_channels

    # Webhook answers first when the machine is busy: a platform waits seconds at most for its 200
    # and then delivers again, while a backlog only waits a little longer.
    os.nice(NICENESS)
    load_env_file()
    logs.setup("worker")
    settings = Settings.from_env()
    redact.install_for(settings)
    repository = Repository(settings.database_uri, connections=DATABASE_CONNECTIONS)
    try:
        repository.wait_until_ready(60)
    except SchemaTooNew as exc:
        log.error("not starting: %s", exc)
        sys.exit(REFUSED)
    worker = Worker(repository, build_pipeline(settings, repository, build_channels(settings, repository)),
                    lease_seconds=settings.worker_lease_seconds, concurrency=settings.worker_concurrency)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.stopping.set())
    worker.run_forever()


if __name__ == "__main__":
    main()
