"""Cases: the list with filters, one case's page, what staff change on it, and the CSV export."""
from __future__ import annotations

import csv
import io
import math
import re
import time
import uuid
from datetime import timedelta

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from bot import cases as case_actions, texts
from bot.console import format as vn
from bot.console.access import audit, repository, roles
from bot.console.blueprint import console
from bot.console.chats import send_attachment
from bot.console.forms import NoteForm, RouteForm, StatusForm, errors_of, options
from bot.forms import FORMS
from bot.routing import ANY_DISTRICT, RoutingTable

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
CASE_CODE = re.compile(r"^(?:TV-)?([A-Z0-9]{6})$")


def routing() -> RoutingTable:
    return RoutingTable.current(repository())


def districts(table: RoutingTable) -> list[str]:
    return sorted({d for by_district in table.routes.values() for d in by_district if d != ANY_DISTRICT})


def _filters() -> tuple[dict, dict]:
    """The list's filters from the query string: (what the page shows, what the query gets)."""
    args = {name: (request.args.get(name) or "").strip()[:100] for name in
            ("category", "status", "district", "agency", "from", "to", "overdue", "q")}
    query = {"category": args["category"], "status": args["status"], "district": args["district"],
             "agency": args["agency"], "overdue": args["overdue"] == "1"}
    start, end = vn.parse_vn_date(args["from"]), vn.parse_vn_date(args["to"])
    query["created_from"] = vn.start_of_day(start) if start else None
    query["created_to"] = vn.start_of_day(end + timedelta(days=1)) if end else None
    q = args["q"].upper().replace(" ", "")
    if CASE_CODE.match(q):
        query["code"] = "TV-" + CASE_CODE.match(q).group(1)
    elif q:
        query["phone"] = vn.normalize_phone(q) or q
    if current_user.role == "agency":  # an agency sees its own cases and nothing else
        query["agency"] = current_user.agency or "-"
    return args, query


@console.get("/cases")
@login_required
def case_list():
    args, query = _filters()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    found, total = repository().find_cases(**query, skip=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    table = routing()
    return render_template("console/cases.html", cases=found, total=total, page=page,
                           pages=max(1, math.ceil(total / PAGE_SIZE)), args=args, agencies=table.agencies,
                           districts=districts(table), categories=texts.CATEGORY_NAMES,
                           statuses=texts.STATUS_NAMES)


@console.get("/cases/export.csv")
@login_required
def case_export():
    _, query = _filters()
    found, _ = repository().find_cases(**query, limit=EXPORT_LIMIT)
    out = io.StringIO()
    out.write("\ufeff")  # the BOM: Excel then reads the file as UTF-8, Vietnamese intact
    writer = csv.writer(out)
    writer.writerow(["Mã hồ sơ", "Ngày tiếp nhận", "Loại", "Trạng thái", "Ưu tiên", "Huyện", "Cơ quan xử lý",
                     "Hạn xử lý", "Quá hạn", "Kênh", "Số điện thoại", "Nội dung"])
    for case in found:
        writer.writerow([case["code"], vn.vn_datetime(case.get("created_ts")),
                         texts.CATEGORY_NAMES.get(case["category"], case["category"]),
                         texts.STATUS_NAMES.get(case["status"], case["status"]),
                         "Khẩn" if case.get("priority") == "urgent" else "Thường", case.get("district") or "",
                         case.get("agency_name") or "", vn.vn_datetime(case.get("due_ts")),
                         "Có" if vn.is_overdue(case) else "Không", vn.CHANNEL_NAMES.get(case["channel"], ""),
                         vn.mask_phone((case.get("details") or {}).get("phone")), case.get("description") or ""])
    audit("cases.export", request.query_string.decode()[:500], None, {"rows": len(found)})
    filename = f"ho-so-1022-{time.strftime('%Y%m%d-%H%M')}.csv"
    return Response(out.getvalue().encode("utf-8"), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _case_or_404(code: str) -> dict:
    case = repository().find_case(code)
    # Another agency's case is answered like a missing one: its existence is not disclosed.
    if case is None or not current_user.may_open(case):
        abort(404)
    return case


def _detail_rows(case: dict) -> list[tuple[str, str]]:
    labels = {field.name: field.label for field in FORMS.get(case["category"], ())}
    rows = []
    for name, value in (case.get("details") or {}).items():
        if name == "phone" and not current_user.sees_phones:
            value = vn.mask_phone(value)
        rows.append((labels.get(name, name), value))
    return rows


@console.get("/cases/<code>")
@login_required
def case_page(code: str):
    case = _case_or_404(code)
    table = routing()
    history = repository().case_history(case["code"])
    notices = {m["message_id"]: m for m in repository().messages_with_ids(
        case["channel"], [f"notice:{e['key']}" for e in history if e.get("public") == "yes"])}
    key = uuid.uuid4().hex
    route_form = RouteForm(send_key=key, agency=case.get("agency"))
    route_form.agency.choices = options(table.agencies.items())
    return render_template(
        "console/case.html", case=case, details=_detail_rows(case), history=history, notices=notices,
        media=repository().messages_with_ids(case["channel"], case.get("media_messages") or []),
        conversation=repository().recent_history(case["channel"], case["user_id"], limit=100),
        status_form=StatusForm(send_key=key, status=case["status"]), note_form=NoteForm(send_key=key),
        route_form=route_form, overdue=vn.is_overdue(case))


def _back(case: dict):
    return redirect(url_for("console.case_page", code=case["code"]))


def _form_errors(form) -> None:
    flash(errors_of(form), "error")


@console.post("/cases/<code>/status")
@login_required
def case_status(code: str):
    case = _case_or_404(code)
    form = StatusForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(case)
    case_actions.change_status(repository(), case["code"], form.status.data, by=current_user.username,
                               note=form.note.data, public=form.public.data, key=f"{case['code']}:{form.send_key.data}")
    audit("case.status", case["code"], {"status": case["status"]},
          {"status": form.status.data, "public": form.public.data, "note": form.note.data})
    flash("Đã cập nhật trạng thái" + (" và thông báo cho người dân." if form.public.data else "."), "info")
    return _back(case)


@console.post("/cases/<code>/note")
@login_required
def case_note(code: str):
    case = _case_or_404(code)
    form = NoteForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(case)
    case_actions.add_note(repository(), case["code"], by=current_user.username, note=form.note.data,
                          public=form.public.data, key=form.send_key.data)
    audit("case.note", case["code"], None, {"note": form.note.data, "public": form.public.data})
    flash("Đã thêm ghi chú.", "info")
    return _back(case)


@console.post("/cases/<code>/route")
@roles("operator", "admin")
def case_route(code: str):
    case = _case_or_404(code)
    table = routing()
    form = RouteForm()
    form.agency.choices = options(table.agencies.items())
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(case)
    case_actions.reroute(repository(), table, case["code"], form.agency.data, by=current_user.username,
                         note=form.note.data, key=f"{case['code']}:{form.send_key.data}")
    audit("case.route", case["code"], {"agency": case.get("agency")}, {"agency": form.agency.data})
    flash(f"Đã chuyển hồ sơ đến {table.agencies[form.agency.data]}.", "info")
    return _back(case)


@console.get("/cases/<code>/media/<message_id>/<int:index>")
@login_required
def case_media(code: str, message_id: str, index: int):
    case = _case_or_404(code)
    if message_id not in (case.get("media_messages") or []):
        abort(404)
    message = repository().find_message(case["channel"], message_id)
    if message is None:
        abort(404)
    return send_attachment(message, index)
