"""What staff do to a case, in one place for the console and any other tool: every change is
recorded in the case's history, and a public one is told to the citizen on their channel."""
from __future__ import annotations

import time

from bot import logs, texts
from bot.repository import CLOSED_STATUSES, Repository
from bot.routing import RoutingTable

STATUSES = ("new", "routed", "in_progress", "resolved", "not_responsible", "duplicate", "reopened", "withdrawn")


def change_status(repository: Repository, code: str, status: str, *, by: str, note: str, public: bool,
                  key: str | None = None) -> None:
    """`key` (e.g. made when the form was drawn) makes a form posted twice one change."""
    if status not in STATUSES:
        raise ValueError(f"unknown status: {status}")
    case = _case(repository, code)
    if status in CLOSED_STATUSES and case.get("sent_back") == "yes":
        repository.update_case(case["code"], sent_back="no")  # the hotline decided: no longer returned
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
            key: str | None = None, public: bool = True) -> None:
    """Send the case to another agency; a public move is told to the citizen (with the reason)."""
    if agency not in routing.agencies:
        raise ValueError(f"unknown agency: {agency}")
    case = _case(repository, code)
    name = routing.agencies[agency]
    repository.update_case(case["code"], agency=agency, agency_name=name, status="routed", sent_back="no")
    change_status(repository, case["code"], "routed", by=by, public=public, key=key,
                  note=f"Chuyển đến {name}" + (f". {note}" if note else ""))


# ---- what the citizen does to their own cases, from the conversation -------------------------

def file(repository: Repository, *, source: str, channel: str, user_id: str, category: str, description: str,
         details: dict, district: str | None, media: list[str], urgent: bool) -> dict:
    """File a case for the message `source` (filing again for it returns the first one)."""
    route = RoutingTable.current(repository).route(category, district, urgent)
    return repository.file_case(source=source, channel=channel, user_id=user_id, category=category,
                                description=description, details=details, media=media, district=district,
                                route=route, priority="urgent" if urgent else "normal")


def add_from_citizen(repository: Repository, text: str, *, key: str, code: str | None = None,
                     source: str | None = None, district: str | None = None) -> dict | None:
    """What the citizen adds to an open case (an urgent case's address, a health follow-up), in its
    history; a district named for the first time, or a new one, routes the case there."""
    case = repository.find_case(code) if code else repository.find_case_by_source(source)
    if case is None:
        return None
    repository.add_case_event(case["code"], case["status"], by="citizen", note=text, public=False, key=f"add:{key}")
    if district and district != case.get("district"):
        route = RoutingTable.current(repository).route(case["category"], district, case.get("priority") == "urgent")
        repository.update_case(case["code"], district=district, agency=route.agency, agency_name=route.agency_name)
        repository.add_case_event(case["code"], case["status"], by="bot", public=False, key=f"route:{key}",
                                  note=f"Chuyển đến {route.agency_name} (người dân cho biết địa chỉ)")
    return case


def withdraw(repository: Repository, code: str, *, key: str) -> None:
    """The citizen takes the case back; the agency sees it closed as withdrawn."""
    repository.change_status(code, "withdrawn", by="citizen", public=True, key=f"withdraw:{key}",
                             note="Người dân rút lại hồ sơ")


def reopen(repository: Repository, code: str, *, key: str) -> None:
    repository.change_status(code, "reopened", by="citizen", public=True, key=f"reopen:{key}",
                             note="Người dân báo chưa được xử lý")


def move_to_agency(repository: Repository, code: str, agency: str, agency_name: str, *, by: str, note: str) -> None:
    """An agency merged into another: its open cases move with their status, the step recorded
    (internal: nothing changed for the citizen)."""
    case = _case(repository, code)
    repository.update_case(case["code"], agency=agency, agency_name=agency_name)
    repository.add_case_event(case["code"], case["status"], by=by, note=note, public=False)


def send_back(repository: Repository, code: str, *, by: str, reason: str, key: str | None = None) -> None:
    """An agency finds the case is not theirs ("không thuộc thẩm quyền"): it goes back to the
    hotline's queue with the reason, open, for the hotline to re-route or close. The citizen is not
    told: the case has not moved on for them yet."""
    case = _case(repository, code)
    repository.update_case(case["code"], status="new", sent_back="yes", sent_back_ts=time.time(), sent_back_by=by,
                           sent_back_agency=case.get("agency"), sent_back_reason=reason)
    repository.add_case_event(case["code"], "not_responsible", by=by, note=reason, public=False, key=key,
                              kind="sent_back")


def _case(repository: Repository, code: str) -> dict:
    case = repository.find_case(code)
    if case is None:
        raise KeyError(code)
    return case


def _tell_citizen(repository: Repository, case: dict, key: str, status: str, note: str) -> None:
    repository.queue_notice(channel=case["channel"], user_id=case["user_id"], key=f"notice:{key}",
                            text=texts.status_notice(case["code"], case["category"], status, note),
                            correlation_id=logs.current())
