"""Requests to erase a citizen's personal data ("xóa dữ liệu của tôi", Nghị định 13/2023/NĐ-CP):
an admin sees what the account left with us and approves — the erasure then runs at once
(bot/privacy.py) — or refuses with a reason the citizen is told. Every step is in the audit log."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot import privacy
from bot.console import format as vn
from bot.console.access import repository, roles
from bot.console.blueprint import console
from bot.console.forms import ActionForm
from bot.media import MediaStore
from bot.outbox import Outbox
from bot.repository import OPEN_STATUSES


def _account(request_doc: dict) -> dict:
    """What an approval would erase, counted, for the admin to see before deciding."""
    channel, user_id = request_doc["channel"], request_doc["user_id"]
    cases = repository().account_cases(channel, user_id)
    return {"messages": len(repository().account_messages(channel, user_id)), "cases": len(cases),
            "open": [c["code"] for c in cases if c["status"] in OPEN_STATUSES],
            "who": f"{vn.CHANNEL_NAMES.get(channel, channel)} …{user_id[-4:]}"}


@console.get("/data-requests")
@roles("admin")
def data_requests():
    pending = [{"request": r, "account": _account(r)} for r in repository().list_data_requests("pending")]
    decided = [r for r in repository().list_data_requests(limit=50) if r["state"] != "pending"]
    return render_template("console/data_requests.html", pending=pending, decided=decided, form=ActionForm())


def _pending(code: str) -> dict:
    found = repository().find_data_request(code)
    if found is None or not ActionForm().validate_on_submit():
        abort(404)
    return found


@console.post("/data-requests/<code>/approve")
@roles("admin")
def data_request_approve(code: str):
    _pending(code)
    if request.form.get("confirm") != "yes":
        flash("Đánh dấu ô xác nhận trước khi duyệt: dữ liệu bị xóa không khôi phục được.", "error")
        return redirect(url_for("console.data_requests"))
    settings = current_app.extensions["settings"]
    media = MediaStore(settings.var_dir / "media", repository())
    done = privacy.approve(repository(), Outbox(repository(), current_app.extensions["channels"], media), media,
                           code, by=current_user.username)
    if done is None:
        flash(f"Yêu cầu {code} đã được xử lý trước đó.", "info")
    else:
        told = "đã nhắn báo người dân" if done["told"] == "sent" else "không nhắn được cho người dân (ngoài thời hạn nhắn tin của nền tảng)"
        flash(f"Đã xóa dữ liệu theo yêu cầu {code}: {done['messages']} tin nhắn, {done['cases']} hồ sơ ẩn danh, "
              f"{done['files']} tệp; {told}.", "info")
    return redirect(url_for("console.data_requests"))


@console.post("/data-requests/<code>/reject")
@roles("admin")
def data_request_reject(code: str):
    _pending(code)
    reason = (request.form.get("reason") or "").strip()[:500]
    if not reason:
        flash("Vui lòng ghi lý do từ chối: người dân sẽ được báo lý do này.", "error")
    elif privacy.reject(repository(), code, by=current_user.username, reason=reason):
        flash(f"Đã từ chối yêu cầu {code} và báo lý do cho người dân.", "info")
    else:
        flash(f"Yêu cầu {code} đã được xử lý trước đó.", "info")
    return redirect(url_for("console.data_requests"))
