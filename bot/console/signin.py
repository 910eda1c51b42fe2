"""Checking a staff member's password: throttled (bot/console/throttle.py), one answer for a
wrong password and an unknown account, every failure and every slow-down logged and audited."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from bot import metrics
from bot.console import throttle
from bot.console.access import DUMMY_HASH, Staff, passwords, repository, verify

log = logging.getLogger("tongdai.console.login")

WRONG = "Tên đăng nhập hoặc mật khẩu không đúng."
BUSY = "Hệ thống đang bận xử lý đăng nhập. Vui lòng thử lại sau vài giây."
UNKNOWN = "(không rõ)"  # the audit never keeps a username that has no account: it may be a password


@dataclass
class SignIn:
    staff: Staff | None = None
    error: str | None = None
    status: int = 200
    retry_after: int = 0


def slowed_text(seconds: float) -> str:
    wait = f"{math.ceil(seconds / 60)} phút" if seconds > 60 else f"{math.ceil(seconds)} giây"
    return f"Đăng nhập tạm khóa do nhập sai nhiều lần. Vui lòng thử lại sau {wait}."


def check_password(username: str, password: str) -> SignIn:
    """The staff member, or why not (in Vietnamese), with the HTTP status to answer."""
    if not throttle.SLOTS.acquire():  # before any database work: a flood's surplus costs next to nothing
        throttle.count("busy")
        return SignIn(error=BUSY, status=503, retry_after=2)
    try:
        document = repository().find_staff(username)
        account = document if document and document.get("active") == "yes" else None
        attempt = throttle.Throttle(repository()).reserve(username, (account or {}).get("known_networks"))
        _audit_slowed(account, attempt)
        if attempt.refused:
            throttle.count("throttled")
            return SignIn(error=slowed_text(attempt.retry_after), status=429, retry_after=math.ceil(attempt.retry_after))
        metrics.PASSWORD_CHECKS.inc()
        right = verify(account["password_hash"] if account else DUMMY_HASH, password) and account is not None
    finally:
        throttle.SLOTS.release()
    if not right:
        throttle.count("wrong")
        _audit_failure(account, attempt)
        return SignIn(error=WRONG, status=401)
    throttle.Throttle(repository()).succeeded(attempt, account["username"])
    fields = {"last_login_ts": time.time()}
    if passwords.check_needs_rehash(account["password_hash"]):
        fields["password_hash"] = passwords.hash(password)
    repository().update_staff(account["username"], **fields)
    throttle.count("success")
    return SignIn(staff=Staff(account))


def _audit_failure(account: dict | None, attempt: throttle.Attempt) -> None:
    target = account["username"] if account else UNKNOWN
    log.warning("sign-in failed", extra={"account": target, "network": attempt.network})
    repository().audit_log(UNKNOWN, "login.failed", target, None, {"address": attempt.network})


def _audit_slowed(account: dict | None, attempt: throttle.Attempt) -> None:
    for kind, seconds in attempt.slowed:
        if not seconds:
            continue
        target = UNKNOWN if kind == "network" or not account else account["username"]
        log.warning("sign-in attempts slowed down", extra={"account": target, "network": attempt.network,
                                                            "key_kind": kind, "wait_seconds": round(seconds)})
        repository().audit_log(UNKNOWN, "login.throttled", target, None,
                               {"address": attempt.network, "kind": kind, "seconds": round(seconds)})
