"""Alerts for staff, kept in the database and shown in the console (its header counts them, the
page raises a notification): the hotline hears of a case an agency sent back or a note on it, an
agency of a case routed to it or a note from the hotline, an operator of a chat taken over."""
from __future__ import annotations

from bot.repository import Repository

HOTLINE_ROLES = ("operator", "admin")


def alert_hotline(repository: Repository, *, key: str, kind: str, text: str, url: str) -> int:
    return repository.add_alert(repository.active_staff(HOTLINE_ROLES), key=key, kind=kind, text=text, url=url)


def alert_agency(repository: Repository, agency: str | None, *, key: str, kind: str, text: str, url: str) -> int:
    if not agency:
        return 0
    return repository.add_alert(repository.active_staff(("agency",), agency), key=key, kind=kind, text=text, url=url)
