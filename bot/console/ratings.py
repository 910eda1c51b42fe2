"""How citizens rated the handling of their resolved cases, on the dashboard: per agency, district
and category; and the low ratings (1–2) waiting for the hotline to look at the case again."""
from __future__ import annotations

from collections import defaultdict

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from bot import cases as case_actions, texts
from bot.console.access import audit, repository, roles
from bot.console.blueprint import console
from bot.console.forms import ActionForm


def _rows(rated: list[dict], key, names: dict | None = None) -> list[dict]:
    groups = defaultdict(list)
    for case in rated:
        groups[key(case) or ""].append(case["rating"])
    rows = [{"name": (names or {}).get(k, k) or "Chưa rõ", "count": len(scores),
             "average": round(sum(scores) / len(scores), 1), "low": sum(1 for s in scores if s <= texts.LOW_RATING)}
            for k, scores in groups.items()]
    return sorted(rows, key=lambda r: (r["average"], -r["count"]))


def figures(since_ts: float, agency: str | None) -> dict:
    """Ratings given since `since_ts` (of one agency's cases, for an agency account)."""
    rated = repository().rated_cases(since_ts, agency)
    scores = [c["rating"] for c in rated]
    return {
        "count": len(scores), "average": round(sum(scores) / len(scores), 1) if scores else None,
        "by_score": [(score, scores.count(score)) for score in range(5, 0, -1)],
        "by_agency": _rows(rated, lambda c: c.get("agency_name")),
        "by_district": _rows(rated, lambda c: c.get("district")),
        "by_category": _rows(rated, lambda c: c.get("category"), texts.CATEGORY_NAMES),
        "flagged": repository().low_rated_cases(agency) if current_user.is_hotline else [],
    }


@console.post("/ratings/<code>/seen")
@roles("operator", "admin")
def rating_seen(code: str):
    case = repository().find_case(code)
    if case is None or case.get("rating_flag") != "yes" or not ActionForm().validate_on_submit():
        abort(404)
    note = (request.form.get("note") or "").strip()[:500]
    case_actions.clear_rating_flag(repository(), case["code"], by=current_user.username, note=note)
    audit("case.rating_seen", case["code"], {"rating_flag": "yes"}, {"rating_flag": "seen", "note": note})
    flash(f"Đã ghi nhận: đánh giá thấp của hồ sơ {case['code']} đã được xem lại.", "info")
    return redirect(request.form.get("next") if request.form.get("next", "").startswith("/console/")
                    else url_for("console.dashboard"))
