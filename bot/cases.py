"""What staff do to a case, in one place for the console and any other tool: every change is
recorded in the case's history, and a public one is told to the citizen on their channel."""
from __future__ import annotations

from bot import logs, texts
from bot.repository import Repository
from bot.routing import RoutingTable

STATUSES = ("new", "routed", "in_progress", "resolved", "not_responsible", "duplicate", "reopened", "withdrawn")


def change_status(repository: Repository, code: str, status: str, *, by: str, note: str, public: bool,
                  key: str | None = None) -> None:
    """`key` (e.g. made when the form was drawn) makes a form posted twice one change."""
    if status not in STATUSES:
        raise ValueError(f"unknown status: {status}")
    case = _case(repository, code)
    key = repository.change_status(case["code"], status, by=by, note=note, public=public, key=key)
    if public:
        _tell_citizen(repository, case, key, status, note)


def add_note(repository: Repository, code: str, *, by: str, note: str, public: bool, key: str) -> None:
    """A note in the case's history; a public one is also sent to the citizen."""
    case = _case(repository, code)
    key = f"{case['code']}:note:{key}"
    repository.add_case_event(case["code"], case["status"], by=by, note=note, public=public, key=key)
    if public:
        _tell_citizen(repository, case, key, case["status"], note)


def reroute(repository: Repository, routing: RoutingTable, code: str, agency: str, *, by: str, note: str,
            key: str | None = None) -> None:
    """Send the case to another agency; the citizen is told where it went."""
    if agency not in routing.agencies:
        raise ValueError(f"unknown agency: {agency}")
    case = _case(repository, code)
    name = routing.agencies[agency]
    repository.update_case(case["code"], agency=agency, agency_name=name, status="routed")
    change_status(repository, case["code"], "routed", by=by, public=True, key=key,
                  note=f"Chuyển đến {name}" + (f". {note}" if note else ""))


def _case(repository: Repository, code: str) -> dict:
    case = repository.find_case(code)
    if case is None:
        raise KeyError(code)
    return case


def _tell_citizen(repository: Repository, case: dict, key: str, status: str, note: str) -> None:
    repository.queue_notice(channel=case["channel"], user_id=case["user_id"], key=f"notice:{key}",
                            text=texts.status_notice(case["code"], case["category"], status, note),
                            correlation_id=logs.current())
