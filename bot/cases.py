"""What staff do to a case, in one place for the console and any other tool: every change is
recorded in the case's history, and a public one is told to the citizen on their channel."""
from __future__ import annotations

from bot import texts
from bot.repository import Repository

STATUSES = ("new", "routed", "in_progress", "resolved", "not_responsible", "duplicate", "reopened")


def change_status(repository: Repository, code: str, status: str, *, by: str, note: str, public: bool) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown status: {status}")
    case = repository.find_case(code)
    if case is None:
        raise KeyError(code)
    key = repository.change_status(code, status, by=by, note=note, public=public)
    if public:
        repository.queue_notice(channel=case["channel"], user_id=case["user_id"], key=f"notice:{key}",
                                text=texts.status_notice(case["code"], case["category"], status, note))
