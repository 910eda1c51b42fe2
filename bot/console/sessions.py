"""A staff member's session, held on the server's side too. The signed cookie names the account,
the account's session epoch when they signed in, when that was and when they last did something.
Every request checks them against the account in the database: signing out, a new password, a
new role or agency, an unlock or a closed account raise the epoch and end every session of that
account at once, on every device; a session also ends CONSOLE_SESSION_HOURS after sign-in and
after CONSOLE_IDLE_MINUTES without the person doing anything (the pages' own polling does not count,
unless the person moved or typed in the page since the last poll: console.js says so)."""
from __future__ import annotations

import time

from flask import current_app, request, session
from flask_login import login_user

POLL_HEADER = "X-Console-Poll"      # console.js: this request is the page polling on its own
ACTIVE_HEADER = "X-Console-Active"  # … but the person used the page since the last poll
TOUCH_EVERY_SECONDS = 60            # the cookie is rewritten at most this often for activity…


def start(staff) -> None:
    """Sign in: a fresh session (nothing an earlier visitor left in it survives), bound to the
    account's current epoch."""
    session.clear()
    login_user(staff)
    now = time.time()
    session.update(epoch=staff.session_epoch, login_ts=now, active_ts=now)


def keep(epoch: int) -> None:
    """After this account's epoch was raised by its own holder (a password change): this session
    goes on, every other one ends."""
    session["epoch"] = epoch


def valid(document: dict) -> bool:
    """Whether this request's session still belongs to `document`'s account; records activity."""
    settings, now = current_app.extensions["settings"], time.time()
    login_ts, active_ts = session.get("login_ts"), session.get("active_ts")
    if session.get("epoch") != epoch_of(document) or not isinstance(login_ts, (int, float)) \
            or not isinstance(active_ts, (int, float)) \
            or now - login_ts > settings.console_session_hours * 3600 \
            or now - active_ts > settings.console_idle_minutes * 60:
        session.clear()
        return False
    passive = request.headers.get(POLL_HEADER) and not request.headers.get(ACTIVE_HEADER)
    # … and well within the idle limit
    if not passive and now - active_ts > min(TOUCH_EVERY_SECONDS, settings.console_idle_minutes * 15):
        session["active_ts"] = now
    return True


def epoch_of(document: dict) -> int:
    return int(document.get("session_epoch") or 0)
