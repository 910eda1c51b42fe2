"""What happens to a platform's events between its webhook and our 200: everything is stored.
Citizens' messages wait for the worker; a person's reply from the platform's own inbox goes to
the history; receipts mark our messages delivered or seen."""
from __future__ import annotations

import logging
import time
from collections import Counter

from bot import logs
from bot.messages import Event, InboundMessage, Receipt, StaffMessage
from bot.repository import Repository

log = logging.getLogger("tongdai.intake")


def fresh(events: list[Event], max_age_seconds: float, now: float) -> tuple[list[Event], int]:
    """The events a platform could still be delivering (a message or a staff reply no older than the
    platform's retry window), and how many others were dropped. A captured, correctly signed event
    replayed later is refused this way, even once its first copy is no longer kept."""
    kept, stale = [], 0
    for event in events:
        sent = getattr(event, "sent_at_ms", None)
        if sent is not None and now - sent / 1000 > max_age_seconds:
            stale += 1
        else:
            kept.append(event)
    if stale:
        log.warning("refused %d events older than the platform's retry window", stale,
                    extra={"events": stale, "max_age_hours": round(max_age_seconds / 3600)})
    return kept, stale


def accept(repository: Repository, events: list[Event], channel: str | None = None) -> Counter:
    """Raises DatabaseUnavailable when nothing could be stored (the platform should retry).
    Stored messages carry the request's correlation id: the worker logs under it too."""
    started = time.monotonic()
    outcomes: Counter = Counter()
    inbound = [e for e in events if isinstance(e, InboundMessage)]
    stored = repository.store_inbound(inbound, correlation_id=logs.current())
    outcomes.update(stored=stored, duplicate=len(inbound) - stored)
    for event in events:
        if isinstance(event, StaffMessage):
            outcomes["staff_message" if repository.store_staff_message(event) else "duplicate"] += 1
    receipts = [e for e in events if isinstance(e, Receipt)]
    if receipts:  # a batch of them in a few updates, not one each
        repository.apply_receipts(receipts)
        outcomes["receipt"] += len(receipts)
    if not events:
        outcomes["ignored"] += 1
    outcomes = +outcomes
    # One line per request, counts only: what citizens wrote is personal data and stays out of logs.
    log.info("accepted %d events", len(events), extra={
        "channel": channel or next((e.channel for e in events), None), "events": len(events),
        "outcomes": dict(outcomes), "duration_ms": round((time.monotonic() - started) * 1000, 1)})
    return outcomes
