"""Prometheus metrics (`GET /metrics`).

Counters and histograms are kept by the process that counts them (web: webhooks; worker: messages,
sends, NLU latency). `make run` sets PROMETHEUS_MULTIPROC_DIR so the web process can report the
worker's too. Queue figures are read from the database when /metrics is scraped, so every process
and every machine agree on them. Labels never carry user ids, texts or tokens."""
from __future__ import annotations

import os
import time

from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily

from bot.backup import newest

WEBHOOK_EVENTS = Counter("tongdai_webhook_events_total",
                         "Webhook requests and messages by channel and outcome", ["channel", "outcome"])
MESSAGES_PROCESSED = Counter("tongdai_messages_processed_total",
                             "Inbound messages handled by the worker, by outcome", ["channel", "outcome"])
SENDS = Counter("tongdai_sends_total", "Outbound sends by channel and result (sent, refused, retry, failed)",
                ["channel", "result", "error_code"])
NLU_SECONDS = Histogram("tongdai_nlu_parse_seconds", "Time the NLU server took to parse one message",
                        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
KNOWLEDGE_SECONDS = Histogram("tongdai_knowledge_lookup_seconds",
                              "Time to look a citizen's question up in the published knowledge base",
                              buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5))
# Sign-ins: success, wrong (a wrong password or no such account: one answer), throttled (counted
# too often, bot/console/throttle.py), busy (no password-check slot free). Password checks are
# counted apart: the work a flood of sign-ins costs, whatever its answers.
LOGIN_ATTEMPTS = Counter("tongdai_login_attempts_total", "Console sign-in attempts by outcome", ["outcome"])
PASSWORD_CHECKS = Counter("tongdai_password_checks_total", "Argon2 password verifications made by sign-ins")
CONTENT_TYPE = CONTENT_TYPE_LATEST


class QueueCollector:
    """Read at scrape time from the database: what waits, and for how long."""

    def __init__(self, repository):
        self.repository = repository

    def collect(self):
        depth, oldest = self.repository.queue_figures(time.time())
        yield GaugeMetricFamily("tongdai_queue_depth", "Inbound messages waiting for the worker", value=depth)
        yield GaugeMetricFamily("tongdai_queue_oldest_age_seconds", "Age of the oldest waiting message",
                                value=oldest)
        handoffs = GaugeMetricFamily("tongdai_handoffs_waiting", "Chats waiting for a person", labels=["priority"])
        for priority, count in self.repository.handoffs_waiting().items():
            handoffs.add_metric([priority], count)
        yield handoffs


class BackupCollector:
    """The newest archive in BACKUP_DIR, so that a nightly backup that silently stopped is noticed
    (alert when it is older than a day and a bit)."""

    def __init__(self, folder):
        self.folder = folder

    def collect(self):
        archive = newest(self.folder)
        yield GaugeMetricFamily("tongdai_backup_last_timestamp_seconds",
                                "When the newest backup in BACKUP_DIR was written (0: none)",
                                value=archive.stat().st_mtime if archive else 0)


def exposition(repository, backup_dir=None) -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
    else:
        counted = REGISTRY
    queue = CollectorRegistry()
    queue.register(QueueCollector(repository))
    if backup_dir is not None:
        queue.register(BackupCollector(backup_dir))
    return generate_latest(counted) + generate_latest(queue)
