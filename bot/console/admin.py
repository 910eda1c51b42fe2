"""Administration: staff accounts, agencies with the routing table and SLA hours, the audit log."""
from __future__ import annotations

import re
import time

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot.console.access import ROLES, audit, passwords, repository, roles
from bot.console.blueprint import console
from bot.console.cases import routing
from bot import texts
from bot.console.forms import ActionForm, StaffForm, StaffUpdateForm, errors_of, options
from bot.routing import ANY_DISTRICT, RoutingTable


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
                                       role=form.role.data, agency=agency):
            audit("staff.create", form.username.data, None, {"role": form.role.data, "agency": agency})
            flash(f"Đã tạo tài khoản {form.username.data}.", "info")
            return redirect(url_for("console.staff_list"))
        else:
            flash("Tên đăng nhập đã có.", "error")
    elif form.is_submitted():
        flash(errors_of(form), "error")
    accounts, agencies = repository().list_staff(), routing().agencies
    updates = {}
    for account in accounts:
        update = StaffUpdateForm(prefix=account["username"], role=account["role"], agency=account.get("agency") or "",
                                 active=account.get("active") == "yes")
        update.agency.choices = _agency_choices(agencies)
        updates[account["username"]] = update
    return render_template("console/staff.html", form=form, accounts=accounts, updates=updates, roles=ROLES,
                           agencies=agencies, now_ts=time.time())


@console.post("/admin/staff/<username>")
@roles("admin")
def staff_update(username: str):
    account = repository().find_staff(username)
    if account is None:
        return redirect(url_for("console.staff_list"))
    form = StaffUpdateForm(prefix=username)
    form.agency.choices = _agency_choices()
    if not form.validate_on_submit():
        flash(errors_of(form), "error")
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


SLA_KEYS = ("report", "suggestion", "welfare", "health_advice", "urgent")
AGENCY_ID = re.compile(r"^[a-z0-9_]{2,40}$")
MAX_SLA_HOURS = 24 * 60


def _edited_table(form, table: RoutingTable) -> tuple[dict | None, str | None]:
    """The table as the admin submitted it, or what is wrong with it (in Vietnamese)."""
    agencies = {key: (form.get(f"agency-{key}") or "").strip() for key in table.agencies}
    new_id, new_name = (form.get("new-agency-id") or "").strip(), (form.get("new-agency-name") or "").strip()
    if new_id or new_name:
        if not AGENCY_ID.match(new_id) or new_id in agencies:
            return None, "Mã cơ quan mới 2–40 ký tự: chữ thường không dấu, số, dấu gạch dưới; không trùng mã đã có."
        agencies[new_id] = new_name
    if any(not name or len(name) > 200 for name in agencies.values()):
        return None, "Tên cơ quan không được để trống (tối đa 200 ký tự)."
    sla = {}
    for key in SLA_KEYS:
        try:
            sla[key] = float((form.get(f"sla-{key}") or "").replace(",", "."))
        except ValueError:
            return None, "Thời hạn xử lý phải là số giờ."
        if not 0 < sla[key] <= MAX_SLA_HOURS:
            return None, f"Thời hạn xử lý phải từ trên 0 đến {MAX_SLA_HOURS} giờ."
    routes = {}
    for category, by_district in table.routes.items():
        routes[category] = {}
        for number, district in enumerate(by_district):
            agency = form.get(f"route-{category}-{number}")
            if agency not in agencies:
                return None, "Mỗi ô của bảng phân công phải chọn một cơ quan."
            routes[category][district] = agency
    return {"agencies": agencies, "routes": routes, "sla_hours": sla}, None


@console.route("/admin/routing", methods=["GET", "POST"])
@roles("admin")
def routing_settings():
    table = routing()
    form = ActionForm()
    if form.validate_on_submit():
        edited, error = _edited_table(request.form, table)
        if error:
            flash(error, "error")
        else:
            before = table.to_document()
            repository().save_routing_table(edited)
            changed = [key for key in edited if edited[key] != before[key]]
            audit("routing.update", "routing", {k: before[k] for k in changed}, {k: edited[k] for k in changed})
            flash("Đã lưu. Hồ sơ mới được phân công theo bảng này ngay từ bây giờ.", "info")
            return redirect(url_for("console.routing_settings"))
    categories = [(key, texts.CATEGORY_NAMES[key]) for key in table.routes]
    return render_template("console/routing.html", table=table, form=form, categories=categories,
                           sla_keys=[(key, texts.CATEGORY_NAMES.get(key, "Hồ sơ khẩn (mọi loại)")) for key in SLA_KEYS],
                           any_district=ANY_DISTRICT)
