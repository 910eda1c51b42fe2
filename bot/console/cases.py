"""Cases: the list with filters, one case's page, what staff change on it, and the CSV export."""
from __future__ import annotations

import math
import time
import uuid
from datetime import timedelta

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from bot import cases as case_actions, texts
from bot.alerts import alert_agency, alert_hotline
from bot.console import export, format as vn, params
from bot.console.access import audit, repository, roles
from bot.console.blueprint import console
from bot.console.chats import send_attachment
from bot.console.citizen import citizen_panel
from bot.console.forms import INTERNAL, PUBLIC, NoteForm, RouteForm, StatusForm, errors_of, options
from bot.console.search import search_terms
from bot.forms import FORMS
from bot.routing import ANY_DISTRICT, RoutingTable

PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
FILTERS = ("category", "status", "district", "agency", "from", "to", "overdue", "sent_back", "q")
DATE_HELP = "Nhập ngày theo dạng dd/mm/yyyy, ví dụ 25/11/2026."


def routing() -> RoutingTable:
    return RoutingTable.current(repository())


def districts(table: RoutingTable) -> list[str]:
    """Every district a case may name: routed now, and the old and retired ones still on old cases."""
    return sorted({*table.districts, *table.district_aliases, *table.retired_districts} - {ANY_DISTRICT})


def _filters(table: RoutingTable) -> tuple[dict, dict, dict]:
    """The list's filters from the query string: (what the page shows, what the query gets, what
    is wrong with them, field by field)."""
    args = {name: (request.args.get(name) or "").strip()[:100] for name in FILTERS}
    query = {"category": args["category"], "status": args["status"], "agency": args["agency"],
             "overdue": args["overdue"] == "1", "sent_back": args["sent_back"] == "1"}
    if args["district"]:  # a district named now also finds the cases filed under its old names
        query["districts"] = table.names_of(table.current_district(args["district"]))
    errors = {}
    start, end = vn.parse_vn_date(args["from"]), vn.parse_vn_date(args["to"])
    for name, value, parsed in (("from", args["from"], start), ("to", args["to"], end)):
        if value and parsed is None:
            errors[name] = f"Ngày “{value}” không hợp lệ. {DATE_HELP}"
    if start and end and start > end:
        errors["to"] = "“Đến ngày” phải sau hoặc bằng “Từ ngày”."
    if not errors:
        query["created_from"] = vn.start_of_day(start) if start else None
        query["created_to"] = vn.start_of_day(end + timedelta(days=1)) if end else None
    if args["q"]:
        query.update(search_terms(args["q"]))
    if current_user.role == "agency":  # an agency sees its own cases and nothing else
        query["agency"] = current_user.agency or "-"
    return args, query, errors


@console.get("/cases")
@login_required
def case_list():
    table = routing()
    args, query, errors = _filters(table)
    page = max(1, request.args.get("page", 1, type=int) or 1)
    found, total = ([], 0) if errors else repository().find_cases(**query, skip=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    folded = sum(1 for name in FILTERS if name != "q" and args[name])
    return render_template("console/cases.html", cases=found, total=total, page=page,
                           pages=max(1, math.ceil(total / PAGE_SIZE)), args=args, errors=errors, folded=folded,
                           agencies=table.agencies, retired_agencies=table.retired_agencies,
                           districts=districts(table), categories=texts.CATEGORY_NAMES, statuses=texts.STATUS_NAMES)


FORMATS = {"csv": ("text/csv; charset=utf-8", export.as_csv),
           "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", export.as_xlsx)}


@console.get("/cases/export.<kind>")
@login_required
def case_export(kind: str):
    if kind not in FORMATS:
        abort(404)
    _, query, errors = _filters(routing())
    if errors:
        flash(" ".join(errors.values()), "error")
        return redirect(url_for("console.case_list", **params.query()))
    found, _ = repository().find_cases(**query, limit=EXPORT_LIMIT)
    mimetype, write = FORMATS[kind]
    audit("cases.export", request.query_string.decode()[:500], None, {"rows": len(found), "format": kind})
    filename = f"ho-so-1022-{time.strftime('%Y%m%d-%H%M')}.{kind}"
    return Response(write(export.rows(found)), mimetype=mimetype,
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
        if name == "phone" and not current_user.may_see_phone(case["category"]):
            value = vn.mask_phone(value)
        rows.append((labels.get(name, name), value))
    return rows


def _status_choices() -> list:
    """An agency's "không thuộc thẩm quyền" sends the case back to the hotline (it does not close it)."""
    names = dict(texts.STATUS_NAMES)
    if current_user.role == "agency":
        names["not_responsible"] += " (trả về tổng đài)"
    return options(names.items())


@console.get("/cases/<code>")
@login_required
def case_page(code: str):
    case = _case_or_404(code)
    table = routing()
    history = repository().case_history(case["code"])
    notices = {m["message_id"]: m for m in repository().messages_with_ids(
        case["channel"], [f"notice:{e['key']}" for e in history if e.get("public") == "yes"])}
    key = uuid.uuid4().hex
    # Agencies write to the hotline by default; the hotline tells the citizen of a new status.
    default = INTERNAL if current_user.role == "agency" else PUBLIC
    status_form = StatusForm(send_key=key, status=case["status"], visibility=default)
    status_form.status.choices = _status_choices()
    route_form = RouteForm(send_key=key, agency=case.get("agency"), visibility=INTERNAL)
    route_form.agency.choices = options(table.agencies.items())
    return render_template(
        "console/case.html", case=case, details=_detail_rows(case), history=history, notices=notices,
        media=repository().messages_with_ids(case["channel"], case.get("media_messages") or []),
        conversation=repository().recent_history(case["channel"], case["user_id"], limit=100),
        status_form=status_form, note_form=NoteForm(send_key=key, visibility=INTERNAL), route_form=route_form,
        overdue=vn.is_overdue(case), citizen=citizen_panel(case["channel"], case["user_id"]),
        agency_name=table.agency_name, agencies_active=table.agencies)


def _back(case: dict):
    return redirect(url_for("console.case_page", code=case["code"]))


def _form_errors(form) -> None:
    flash(errors_of(form), "error")


def _tell_the_other_side(case: dict, key: str, what: str) -> None:
    """A note or a change between the hotline and the agency reaches the other side's alerts."""
    url = url_for("console.case_page", code=case["code"])
    if current_user.role == "agency":
        alert_hotline(repository(), key=key, kind="case_note", url=url,
                      text=f"{current_user.name} ({case.get('agency_name')}) — hồ sơ {case['code']}: {what}")
    else:
        alert_agency(repository(), case.get("agency"), key=key, kind="case_note", url=url,
                     text=f"Tổng đài ({current_user.name}) — hồ sơ {case['code']}: {what}")


@console.post("/cases/<code>/status")
@login_required
def case_status(code: str):
    case = _case_or_404(code)
    form = StatusForm()
    form.status.choices = _status_choices()
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(case)
    status, note, key = form.status.data, form.note.data, f"{case['code']}:{form.send_key.data}"
    if repository().find_case_event(key):  # the same form posted again (a double click, a re-post)
        flash("Đã cập nhật.", "info")
        return _back(case)
    if current_user.role == "agency" and status == "not_responsible":
        return _send_back(case, note, key)
    if status == case["status"]:
        if not note:
            flash("Trạng thái không đổi: chọn trạng thái khác, hoặc nhập ghi chú.", "error")
            return _back(case)
        return _add_note(case, note, form.public, form.send_key.data)
    case_actions.change_status(repository(), case["code"], status, by=current_user.username, note=note,
                               public=form.public, key=key)
    audit("case.status", case["code"], {"status": case["status"]},
          {"status": status, "public": form.public, "note": note})
    if not form.public:
        _tell_the_other_side(case, key, texts.STATUS_NAMES[status] + (f". {note}" if note else ""))
    flash("Đã cập nhật trạng thái" + (" và thông báo cho người dân." if form.public else " (nội bộ)."), "info")
    return _back(case)


def _send_back(case: dict, reason: str, key: str):
    if not reason:
        flash("Vui lòng ghi lý do không thuộc thẩm quyền (và cơ quan nên nhận, nếu biết): "
              "hồ sơ sẽ được trả về tổng đài.", "error")
        return _back(case)
    case_actions.send_back(repository(), case["code"], by=current_user.username, reason=reason, key=key)
    audit("case.send_back", case["code"], {"status": case["status"], "agency": case.get("agency")},
          {"status": "new", "sent_back": "yes", "note": reason})
    alert_hotline(repository(), key=key, kind="case_sent_back", url=url_for("console.case_page", code=case["code"]),
                  text=f"{case.get('agency_name')} trả hồ sơ {case['code']} về tổng đài (không thuộc thẩm quyền): {reason}")
    flash("Đã trả hồ sơ về tổng đài. Tổng đài sẽ chuyển cơ quan khác hoặc đóng hồ sơ.", "info")
    return _back(case)


def _add_note(case: dict, note: str, public: bool, send_key: str):
    case_actions.add_note(repository(), case["code"], by=current_user.username, note=note, public=public, key=send_key)
    audit("case.note", case["code"], None, {"note": note, "public": public})
    if not public:
        _tell_the_other_side(case, f"{case['code']}:note:{send_key}", note)
    flash("Đã thêm ghi chú" + (" và gửi cho người dân." if public else " (nội bộ)."), "info")
    return _back(case)


@console.post("/cases/<code>/note")
@login_required
def case_note(code: str):
    case = _case_or_404(code)
    form = NoteForm()
    if not form.validate_on_submit():
        _form_errors(form)
        return _back(case)
    return _add_note(case, form.note.data, form.public, form.send_key.data)


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
    key = f"{case['code']}:{form.send_key.data}"
    case_actions.reroute(repository(), table, case["code"], form.agency.data, by=current_user.username,
                         note=form.note.data, key=key, public=form.public)
    audit("case.route", case["code"], {"agency": case.get("agency")},
          {"agency": form.agency.data, "public": form.public, "note": form.note.data})
    alert_agency(repository(), form.agency.data, key=key, kind="case_routed", url=url_for("console.case_page", code=case["code"]),
                 text=f"Tổng đài chuyển hồ sơ {case['code']} đến {table.agencies[form.agency.data]}"
                      + (f": {form.note.data}" if form.note.data else "."))
    flash(f"Đã chuyển hồ sơ đến {table.agencies[form.agency.data]}"
          + (" và thông báo cho người dân." if form.public else " (nội bộ)."), "info")
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
