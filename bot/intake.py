"""What happens to a platform's events between its webhook and our 200: everything is stored.
Citizens' messages wait for the worker; a person's reply from the platform's own inbox goes to
the history; receipts mark our messages delivered or seen."""
from __future__ import annotations

from collections import Counter

from bot.messages import Event, InboundMessage, Receipt, StaffMessage
from bot.repository import Repository


def accept(repository: Repository, events: list[Event]) -> Counter:
    """Raises DatabaseUnavailable when nothing could be stored (the platform should retry)."""
    outcomes: Counter = Counter()
    inbound = [e for e in events if isinstance(e, InboundMessage)]
    stored = repository.store_inbound(inbound)
    outcomes.update(stored=stored, duplicate=len(inbound) - stored)
    for event in events:
        if isinstance(event, StaffMessage):
            outcomes["staff_message" if repository.store_staff_message(event) else "duplicate"] += 1
        elif isinstance(event, Receipt):
            repository.apply_receipt(event)
            outcomes["receipt"] += 1
    if not events:
        outcomes["ignored"] += 1
    return +outcomes
