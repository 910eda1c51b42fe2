"""Reports that may be one incident ("có thể trùng", bot/duplicates.py): each new report beside the
open reports it looks like, and one click to handle it as part of one of them — or to say it is
not the same. The hotline decides; every citizen of a group then hears of the main case."""
from __future__ import annotations

import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot import cases as case_actions
from bot.console.access import audit, repository, roles
from bot.console.blueprint import console
from bot.console.forms import ActionForm, OnceForm, errors_of

HOTLINE = ("operator", "admin")


@console.get("/duplicates")
@roles(*HOTLINE)
def duplicates():
    groups = []
    for case in repository().suggested_duplicates():
        others = [c for c in (repository().find_case(code) for code in case.get("possible_duplicates") or []) if c]
        if others:
            groups.append({"case": case, "others": others})
    return render_template("console/duplicates.html", groups=groups, form=OnceForm(send_key=uuid.uuid4().hex),
                           dismiss=ActionForm())


def _suggested(code: str) -> dict:
    case = repository().find_case(code)
    if case is None or case.get("duplicate_review") != "pending":
        abort(404)
    return case


@console.post("/duplicates/<code>/mark")
@roles(*HOTLINE)
def duplicate_mark(code: str):
    case, form = _suggested(code), OnceForm()
    main = (request.form.get("main") or "").upper()
    if not form.validate_on_submit() or main not in (case.get("possible_duplicates") or []):
        flash(errors_of(form) if form.errors else "Hồ sơ chính không nằm trong gợi ý.", "error")
        return redirect(url_for("console.duplicates"))
    kept = case_actions.mark_duplicate(repository(), case["code"], main, by=current_user.username,
                                       key=f"{case['code']}:{form.send_key.data}")
    audit("case.duplicate", case["code"], {"status": case["status"]}, {"status": "duplicate", "main": kept})
    flash(f"Đã đánh dấu {case['code']} trùng với {kept}; người gửi được báo và sẽ nhận thông báo của hồ sơ chính.",
          "info")
    return redirect(url_for("console.duplicates"))


@console.post("/duplicates/<code>/dismiss")
@roles(*HOTLINE)
def duplicate_dismiss(code: str):
    case = _suggested(code)
    if not ActionForm().validate_on_submit():
        abort(400)
    case_actions.dismiss_duplicates(repository(), case["code"], by=current_user.username)
    audit("case.not_duplicate", case["code"], {"possible_duplicates": case.get("possible_duplicates")}, None)
    flash(f"Đã ghi nhận {case['code']} không trùng với hồ sơ nào được gợi ý.", "info")
    return redirect(url_for("console.duplicates"))
