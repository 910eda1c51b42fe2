"""Administration: staff accounts, who sees phone numbers, the audit log. (Agencies, districts and
the routing table: routing_admin.py; canned replies: replies.py.)"""
from __future__ import annotations

import logging
import math
from datetime import timedelta

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot import texts
from bot.console import audit_view, format as vn, throttle
from bot.console.access import (PHONE_VISIBILITY_DEFAULT, ROLES, audit, passwords, phone_visibility, repository,
                                roles, verify)
from bot.console.blueprint import console
from bot.console.cases import routing
from bot.console.forms import ActionForm, StaffForm, StaffUpdateForm, errors_of, options

AUDIT_PAGE_SIZE = 50
log = logging.getLogger("tongdai.console.login")


def _agency_choices(agencies: dict | None = None) -> list:
    return options([("", "—"), *(agencies or routing().agencies).items()])


def _agency_for(role: str, agency: str | None) -> str | None:
    return agency or None if role == "agency" else None


@console.route("/admin/staff", methods=["GET", "POST"])
@roles("admin")
def staff_list():
    form = StaffForm()
    form.agency.choices = _agency_choices()
    if form.validate_on_submit():
        agency = _agency_for(form.role.data, form.agency.data)
        if form.role.data == "agency" and not agency:
            flash("Tài khoản cơ quan xử lý cần chọn cơ quan.", "error")
        elif not form.password.data:
            flash("Vui lòng nhập mật khẩu.", "error")
        elif repository().create_staff(username=form.username.data, name=form.name.data,
                                       password_hash=passwords.hash(form.password.data),
                                       role=form.role.data, agency=agency, email=form.email.data or None,
                                       must_change_password=True):  # the admin knows it: the owner changes it
            audit("staff.create", form.username.data, None, {"name": form.name.data, "role": form.role.data,
                                                             "agency": agency, "email": form.email.data or None})
            flash(f"Đã tạo tài khoản {form.username.data}.", "info")
            return redirect(url_for("console.staff_list"))
        else:
            flash("Tên đăng nhập đã có.", "error")
    elif form.is_submitted():
        flash(errors_of(form), "error")
    accounts, table = repository().list_staff(), routing()
    updates = {}
    for account in accounts:
        update = StaffUpdateForm(prefix=account["username"], role=account["role"], agency=account.get("agency") or "",
                                 active=account.get("active") == "yes", email=account.get("email") or "")
        update.agency.choices = _agency_choices(table.agencies)
        updates[account["username"]] = update
    waiting = throttle.Throttle(repository()).waiting_accounts()
    slowed = {a["username"] for a in accounts if throttle.account_key(a["username"]) in waiting}
    return render_template("console/staff.html", form=form, accounts=accounts, updates=updates, roles=ROLES,
                           agency_name=table.agency_name, retired=table.retired_agencies, slowed=slowed)


@console.post("/admin/staff/<username>")
@roles("admin")
def staff_update(username: str):
    account = repository().find_staff(username)
    if account is None:
        return redirect(url_for("console.staff_list"))
    form = StaffUpdateForm(prefix=username)
    form.agency.choices = _agency_choices()
    form.account = username
    if not form.validate_on_submit():
        flash(errors_of(form), "error")
        return redirect(url_for("console.staff_list"))
    if form.password.data and verify(account["password_hash"], form.password.data):
        flash("Mật khẩu mới phải khác mật khẩu hiện tại.", "error")
        return redirect(url_for("console.staff_list"))
    if form.role.data == "agency" and not form.agency.data:
        flash("Tài khoản cơ quan xử lý cần chọn cơ quan.", "error")
        return redirect(url_for("console.staff_list"))
    if username == current_user.username and (form.role.data != "admin" or not form.active.data):
        flash("Không thể tự bỏ quyền quản trị hoặc tự khóa tài khoản của mình.", "error")
        return redirect(url_for("console.staff_list"))
    changes = {"role": form.role.data, "agency": _agency_for(form.role.data, form.agency.data),
               "active": "yes" if form.active.data else "no", "email": form.email.data or None}
    if form.name.data:
        changes["name"] = form.name.data
    before = {k: account.get(k) for k in changes}
    if form.password.data:
        changes["password_hash"] = passwords.hash(form.password.data)
        if username != current_user.username:  # a password the admin knows: its owner must change it
            changes["must_change_password"] = "yes"
    repository().update_staff(username, **changes)
    # Less or other access, a new password, an unlock after a suspected attack: the account's open
    # sessions end (bot/console/sessions.py).
    if form.password.data or form.unlock.data or any(changes[k] != account.get(k) for k in ("role", "agency", "active")):
        repository().end_sessions(username)
    audit("staff.update", username, before,
          {k: v for k, v in changes.items() if k != "password_hash"} | ({"password": "đã đổi"} if form.password.data else {}))
    if form.unlock.data:
        cleared = throttle.Throttle(repository()).unlock(username)
        log.warning("sign-in unlocked", extra={"account": username, "counts_cleared": cleared})
        audit("login.unlock", username, None, {"counts_cleared": cleared})
    flash(f"Đã cập nhật tài khoản {username}.", "info")
    return redirect(url_for("console.staff_list"))


@console.get("/admin/audit")
@roles("admin")
def audit_log():
    args = {name: (request.args.get(name) or "").strip()[:100] for name in ("who", "action", "target", "from", "to")}
    start, end = vn.parse_vn_date(args["from"]), vn.parse_vn_date(args["to"])
    errors = {name: f"Ngày “{args[name]}” không hợp lệ. Nhập theo dạng dd/mm/yyyy."
              for name, parsed in (("from", start), ("to", end)) if args[name] and parsed is None}
    page = max(1, request.args.get("page", 1, type=int) or 1)
    entries, total = ([], 0) if errors else repository().find_audit(
        who=args["who"], action=args["action"], target=args["target"].upper() if args["target"].upper().startswith("TV-")
        else args["target"], since=vn.start_of_day(start) if start else None,
        until=vn.start_of_day(end + timedelta(days=1)) if end else None,
        skip=(page - 1) * AUDIT_PAGE_SIZE, limit=AUDIT_PAGE_SIZE)
    table = routing()
    rows = [{"entry": e, "action": audit_view.action_name(e["action"]), "target": audit_view.target_text(e),
             "changes": audit_view.changes(e, table.agency_name)} for e in entries]
    actions = {a: audit_view.action_name(a) for a in {*audit_view.ACTIONS, *repository().audit_actions()}}
    return render_template("console/audit.html", rows=rows, total=total, page=page, args=args, errors=errors,
                           pages=max(1, math.ceil(total / AUDIT_PAGE_SIZE)), staff=repository().list_staff(),
                           actions=sorted(actions.items(), key=lambda item: item[1]))


@console.route("/admin/privacy", methods=["GET", "POST"])
@roles("admin")
def privacy_settings():
    """Who sees a citizen's full phone number, per category and role."""
    form = ActionForm()
    current = phone_visibility()
    if form.validate_on_submit():
        edited = {category: [role for role in ROLES if request.form.get(f"{category}-{role}")]
                  for category in texts.CATEGORY_NAMES}
        repository().save_setting("phone_visibility", edited)
        audit("privacy.update", "phone_visibility", current, edited)
        flash("Đã lưu quyền xem số điện thoại.", "info")
        return redirect(url_for("console.privacy_settings"))
    return render_template("console/privacy.html", form=form, visibility=current, roles=ROLES,
                           categories=texts.CATEGORY_NAMES, defaults=PHONE_VISIBILITY_DEFAULT)


