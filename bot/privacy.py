"""A citizen's rights over their personal data (Nghị định 13/2023/NĐ-CP): to know what is kept
("xem dữ liệu của tôi"), and to have it erased ("xóa dữ liệu của tôi") once an admin approves the
request in the console. Every step goes to the audit log: the citizen's request (by "citizen"),
the admin's decision, the erasure and what it erased."""
from __future__ import annotations

import logging
import secrets
import time

from bot import erasure, texts
from bot.conversation import MyData
from bot.media import MediaStore
from bot.outbox import Outbox
from bot.repository import CASE_CODE_ALPHABET, Repository, case_view

log = logging.getLogger("tongdai.privacy")
REQUESTS_URL = "/console/data-requests"


def summary(repository: Repository, channel: str, user_id: str, retention_months: int) -> MyData:
    messages = repository.account_messages(channel, user_id)
    cases = repository.account_cases(channel, user_id)
    profile = (repository.find_conversation(channel, user_id) or {}).get("profile") or {}
    details = [case.get("details") or {} for case in cases]
    times = [m["received_ts"] for m in messages if m.get("received_ts")]
    return MyData(
        messages=len(messages), first_ts=min(times, default=None), last_ts=max(times, default=None),
        media=sum(1 for m in messages for a in m.get("attachments") or [] if isinstance(a, dict) and a.get("stored")),
        cases=tuple(case_view(case) for case in cases),
        names=_distinct([d.get("name") for d in details] + [profile.get("name")]),
        phones=_distinct([d.get("phone") for d in details] + [profile.get("phone")]),
        places=_distinct([d.get(k) for d in details for k in ("place", "address")]),
        retention_months=retention_months,
        erasure_pending=repository.pending_data_request(channel, user_id) is not None)


def _distinct(values) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(v) for v in values if v))


def record_view(repository: Repository, channel: str, user_id: str, *, key: str) -> None:
    repository.audit_log("citizen", "privacy.view", f"{channel}:{user_id}", None, {"key": key})


def request_erasure(repository: Repository, channel: str, user_id: str, *, key: str) -> str | None:
    """File the request (once per message; one pending per account) and tell the admins."""
    if repository.pending_data_request(channel, user_id):
        return None
    code = "YC-" + "".join(secrets.choice(CASE_CODE_ALPHABET) for _ in range(6))
    if not repository.add_data_request({"code": code, "kind": "erase", "source": key, "channel": channel,
                                        "user_id": user_id, "state": "pending"}):
        return None
    repository.audit_log("citizen", "privacy.erase_request", code, None, {"channel": channel})
    repository.add_alert(repository.active_staff(("admin",)), key=f"erase:{code}", kind="data_request",
                         url=REQUESTS_URL, text=f"Người dân yêu cầu xóa dữ liệu cá nhân ({code}): cần duyệt.")
    return code


def approve(repository: Repository, outbox: Outbox, media: MediaStore, code: str, *, by: str) -> dict | None:
    """Erase what the request's account left with us, then tell them (inside the platform's window,
    checked before their messages are gone). None when the request is not pending any more."""
    request = repository.find_data_request(code)
    if request is None or not repository.update_data_request(code, expect_state="pending", state="approved",
                                                             decided_by=by, decided_ts=time.time()):
        return None
    repository.audit_log(by, "privacy.erase_approve", code, {"state": "pending"}, {"state": "approved"})
    channel, user_id = request["channel"], request["user_id"]
    window = outbox.window(channel, user_id, by_staff=False)
    erased = erasure.erase_account(repository, media, channel, user_id)
    told = outbox.send(channel, user_id, f"privacy:{code}:done", texts.ERASURE_DONE, window)
    # The confirmation's own record is the last trace of the account: anonymised too.
    erasure.erase_account(repository, media, channel, user_id)
    counts = {k: erased[k] for k in ("cases", "messages", "files")}
    repository.update_data_request(code, state="done", counts=counts, told=told)
    repository.audit_log("hệ thống", "privacy.erased", code, None, {**counts, "notice": told})
    log.info("personal data erased", extra={"request": code, **counts})
    return {**counts, "told": told}


def reject(repository: Repository, code: str, *, by: str, reason: str) -> bool:
    request = repository.find_data_request(code)
    if request is None or not repository.update_data_request(code, expect_state="pending", state="rejected",
                                                             decided_by=by, decided_ts=time.time(), reason=reason):
        return False
    repository.queue_notice(channel=request["channel"], user_id=request["user_id"], key=f"privacy:{code}:rejected",
                            text=texts.ERASURE_REJECTED.format(reason=reason.rstrip(".") + "."))
    repository.audit_log(by, "privacy.erase_reject", code, {"state": "pending"}, {"state": "rejected", "note": reason})
    return True
