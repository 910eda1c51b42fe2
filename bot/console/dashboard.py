"""The dashboard: how many cases, of what, where, how far along, and whether they were handled in
time; drawn as bars, since people would rather look than read."""
from __future__ import annotations

import time
from collections import Counter
from datetime import datetime, timedelta

from flask import render_template, request
from flask_login import current_user, login_required

from bot import texts
from bot.console import format as vn, ratings
from bot.console.blueprint import console
from bot.console.access import repository

DAYS_SHOWN = 14
WEEKS_SHOWN = 8
PERIODS = (7, 30, 90, 365)


def _day(ts: float) -> str:
    return vn.local(ts).strftime("%d/%m")


def _week_start(ts: float) -> str:
    local = vn.local(ts)
    return (local - timedelta(days=local.weekday())).strftime("%d/%m")


def _series(cases: list[dict], keys: list[str], key_of) -> list[dict]:
    """Per period: the count of each category, in order, for stacked columns."""
    counts = {key: Counter() for key in keys}
    for case in cases:
        key = key_of(case["created_ts"])
        if key in counts:
            counts[key][case["category"]] += 1
    return [{"label": key, "total": sum(counts[key].values()),
             "parts": [(category, counts[key][category]) for category in texts.CATEGORY_NAMES]} for key in keys]


def _bars(counter: Counter, names: dict | None = None) -> list[tuple[str, int]]:
    return [((names or {}).get(key, key) or "Chưa rõ", n) for key, n in counter.most_common()]


def figures(now: float, period_days: int, agency: str | None) -> dict:
    today = datetime.fromtimestamp(now, vn.VIETNAM).date()
    first_week = today - timedelta(days=today.weekday() + 7 * (WEEKS_SHOWN - 1))
    since = min(vn.start_of_day(first_week), now - period_days * 86400)
    cases = repository().cases_for_figures(since, agency)
    in_period = [c for c in cases if c["created_ts"] >= now - period_days * 86400]
    days = [(today - timedelta(days=n)).strftime("%d/%m") for n in range(DAYS_SHOWN - 1, -1, -1)]
    weeks = [(first_week + timedelta(weeks=n)).strftime("%d/%m") for n in range(WEEKS_SHOWN)]
    # On time is about cases the agencies resolved: one the citizen withdrew, a duplicate or one
    # not theirs is closed but was not "handled", and counts in neither figure.
    closed = [c for c in in_period if c["status"] == "resolved" and c.get("resolved_ts")]
    in_time = sum(1 for c in closed if c["resolved_ts"] <= c["due_ts"])
    # Overdue is a fact about now, not about the period shown: the same count as the case list's
    # "quá hạn" filter, whatever was filed when.
    overdue_open = repository().count_cases(overdue=True, now=now, agency=agency)
    return {
        "total": len(in_period),
        "by_day": _series(cases, days, _day),
        "by_week": _series(cases, weeks, _week_start),
        "by_category": _bars(Counter(c["category"] for c in in_period), texts.CATEGORY_NAMES),
        "by_district": _bars(Counter(c.get("district") or "" for c in in_period)),
        "by_status": _bars(Counter(c["status"] for c in in_period), texts.STATUS_NAMES),
        "closed": len(closed), "in_time": in_time, "overdue_open": overdue_open,
        "sla_percent": round(100 * in_time / len(closed)) if closed else None,
    }


@console.get("/dashboard")
@login_required
def dashboard():
    period = request.args.get("days", 30, type=int)
    period = period if period in PERIODS else 30
    agency = current_user.agency if current_user.role == "agency" else None
    now = time.time()
    return render_template("console/dashboard.html", f=figures(now, period, agency), period=period,
                           periods=PERIODS, categories=list(texts.CATEGORY_NAMES.items()),
                           r=ratings.figures(now - period * 86400, agency))
