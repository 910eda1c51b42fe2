"""Administration: staff accounts and the audit log."""
from __future__ import annotations

import time

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from bot.console.access import ROLES, audit, passwords, repository, roles
from bot.console.blueprint import console
from bot.console.cases import routing
from bot.console.forms import StaffForm, StaffUpdateForm, options


def _agency_choices() -> list[tuple[str, str]]:
    return options([("", "—"), *routing().agencies.items()])


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
        elif repository().create_staff(username=form.username.data, name=form.name.data.strip(),
                                       password_hash=passwords.hash(form.password.data),
                                       role=form.role.data, agency=agency):
            audit("staff.create", form.username.data, None, {"role": form.role.data, "agency": agency})
            flash(f"Đã tạo tài khoản {form.username.data}.", "info")
            return redirect(url_for("console.staff_list"))
        else:
            flash("Tên đăng nhập đã có.", "error")
    elif form.is_submitted():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
    accounts = repository().list_staff()
    updates = {}
    for account in accounts:
        update = StaffUpdateForm(prefix=account["username"], role=account["role"], agency=account.get("agency") or "",
                                 active=account.get("active") == "yes")
        update.agency.choices = _agency_choices()
        updates[account["username"]] = update
    return render_template("console/staff.html", form=form, accounts=accounts, updates=updates, roles=ROLES,
                           agencies=routing().agencies, now_ts=time.time())


@console.post("/admin/staff/<username>")
@roles("admin")
def staff_update(username: str):
    account = repository().find_staff(username)
    if account is None:
        return redirect(url_for("console.staff_list"))
    form = StaffUpdateForm(prefix=username)
    form.agency.choices = _agency_choices()
    if not form.validate_on_submit():
        flash(" ".join(e for errors in form.errors.values() for e in errors), "error")
        return redirect(url_for("console.staff_list"))
    if username == current_user.username and (form.role.data != "admin" or not form.active.data):
        flash("Không thể tự bỏ quyền quản trị hoặc tự khóa tài khoản của mình.", "error")
        return redirect(url_for("console.staff_list"))
    changes = {"role": form.role.data, "agency": _agency_for(form.role.data, form.agency.data),
               "active": "yes" if form.active.data else "no"}
    if form.unlock.data:
        changes.update(locked_until=0.0, failed_logins=0)
    before = {k: account.get(k) for k in changes}
    if form.password.data:
        changes["password_hash"] = passwords.hash(form.password.data)
    repository().update_staff(username, **changes)
    audit("staff.update", username, before,
          {k: v for k, v in changes.items() if k != "password_hash"} | ({"password": "đã đổi"} if form.password.data else {}))
    flash(f"Đã cập nhật tài khoản {username}.", "info")
    return redirect(url_for("console.staff_list"))


@console.get("/admin/audit")
@roles("admin")
def audit_log():
    return render_template("console/audit.html", entries=repository().audit_entries(500))
