"""What staff do to a case, in one place for the console and any other tool: every change is
recorded in the case's history, and a public one is told to the citizen on their channel."""
from __future__ import annotations

import time

from bot import duplicates, logs, texts
from bot.alerts import alert_hotline
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
        _tell_group(repository, case, key, status, note)


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
    case = repository.file_case(source=source, channel=channel, user_id=user_id, category=category,
                                description=description, details=details, media=media, district=district,
                                route=route, priority="urgent" if urgent else "normal")
    duplicates.suggest(repository, case)
    return case


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
    """The citizen takes the case back; the agency sees it closed as withdrawn. The others who
    reported the same incident still want it handled: the oldest of them becomes the main case."""
    repository.change_status(code, "withdrawn", by="citizen", public=True, key=f"withdraw:{key}",
                             note="Người dân rút lại hồ sơ")
    case = repository.find_case(code)
    if case and case.get("duplicates"):
        _promote(repository, case, key=f"withdraw:{key}")


def reopen(repository: Repository, code: str, *, key: str) -> None:
    note = "Người dân báo chưa được xử lý"
    key = repository.change_status(code, "reopened", by="citizen", public=True, key=f"reopen:{key}", note=note)
    case = repository.find_case(code)
    if case:
        _tell_group(repository, case, key, "reopened", note)


# ---- satisfaction: the citizen rates a resolved case ---------------------------------------------

def rate(repository: Repository, code: str, score: int, *, key: str) -> None:
    """A rating of 1–5; a low one reopens nothing but flags the case for the hotline (an alert, and
    the dashboard's list of cases to look at again). Rating again replaces the score."""
    case = _case(repository, code)
    low = score <= texts.LOW_RATING
    repository.update_case(case["code"], rating=score, rating_ts=time.time(),
                           **({"rating_flag": "yes"} if low else {}))
    repository.add_case_event(case["code"], case["status"], by="citizen", note=f"Người dân đánh giá {score}/5",
                              public=False, key=f"rate:{key}", kind="rating")
    if low:
        alert_hotline(repository, key=f"rating:{key}", kind="low_rating", url=f"/console/cases/{case['code']}",
                      text=f"Người dân đánh giá hồ sơ {case['code']} ({case.get('agency_name')}) {score}/5: "
                           "cần xem lại việc xử lý.")


def rating_comment(repository: Repository, code: str, text: str, *, key: str) -> None:
    case = _case(repository, code)
    repository.update_case(case["code"], rating_comment=text)
    repository.add_case_event(case["code"], case["status"], by="citizen", note=f"Góp ý khi đánh giá: {text}",
                              public=False, key=f"rate-comment:{key}", kind="rating")


def clear_rating_flag(repository: Repository, code: str, *, by: str, note: str) -> None:
    """The hotline looked at a low-rated case again."""
    case = _case(repository, code)
    repository.update_case(case["code"], rating_flag="seen")
    repository.add_case_event(case["code"], case["status"], by=by, note=note or "Đã xem lại đánh giá thấp",
                              public=False, kind="rating")


# ---- duplicates: one incident reported by several citizens ---------------------------------------

def mark_duplicate(repository: Repository, code: str, main_code: str, *, by: str, key: str | None = None) -> str:
    """`code` is handled as part of `main_code` (or of the case that one is itself part of): its
    citizen is told, and hears of every status change of the main case from then on. A case that
    was itself the main of others brings them along. Returns the main case's code."""
    case, main = _case(repository, code), _case(repository, main_code)
    if main.get("duplicate_of"):
        main = _case(repository, main["duplicate_of"])
    if main["code"] == case["code"]:
        raise ValueError("a case cannot duplicate itself")
    members = [case["code"], *(case.get("duplicates") or [])]
    repository.update_case(main["code"], duplicates=sorted({*(main.get("duplicates") or []), *members}))
    for member in members:
        repository.update_case(member, duplicate_of=main["code"], duplicates=[], possible_duplicates=[],
                               duplicate_review="done")
    change_status(repository, case["code"], "duplicate", by=by, public=True, key=key,
                  note="Hồ sơ được xử lý chung với hồ sơ cùng sự việc; anh/chị sẽ được báo khi có tiến triển.")
    return main["code"]


def dismiss_duplicates(repository: Repository, code: str, *, by: str) -> None:
    """Staff looked: not the same incident."""
    case = _case(repository, code)
    repository.update_case(case["code"], possible_duplicates=[], duplicate_review="done")
    repository.add_case_event(case["code"], case["status"], by=by, public=False,
                              note="Không trùng với hồ sơ được gợi ý")


def _promote(repository: Repository, main: dict, *, key: str) -> None:
    members = [m for m in (repository.find_case(code) for code in main["duplicates"]) if m]
    if not members:
        return
    members.sort(key=lambda m: m.get("created_ts") or 0)
    heir, rest = members[0], [m["code"] for m in members[1:]]
    repository.update_case(main["code"], duplicates=[])
    repository.update_case(heir["code"], duplicate_of=None, duplicates=rest)
    for code in rest:
        repository.update_case(code, duplicate_of=heir["code"])
    change_status(repository, heir["code"], "routed", by="bot", public=True, key=f"promote:{key}",
                  note=f"Chuyển đến {heir.get('agency_name')} để xử lý tiếp")


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
    """A resolved case also asks the citizen to rate its handling, with buttons."""
    text, choices = texts.status_notice(case["code"], case["category"], status, note), ()
    if status == "resolved":
        text, choices = f"{text}\n\n{texts.rating_request(case['code'])}", texts.rating_choices(case["code"])
    repository.queue_notice(channel=case["channel"], user_id=case["user_id"], key=f"notice:{key}", text=text,
                            correlation_id=logs.current(), choices=choices)


def _tell_group(repository: Repository, main: dict, key: str, status: str, note: str) -> None:
    """Everyone whose report is a duplicate of `main` hears of its new status."""
    for code in main.get("duplicates") or []:
        member = repository.find_case(code)
        if member:
            repository.queue_notice(channel=member["channel"], user_id=member["user_id"],
                                    key=f"notice:{key}:{code}", text=texts.group_notice(code, status, note),
                                    correlation_id=logs.current())
