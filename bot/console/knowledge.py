"""The knowledge base staff keep (issue 13): entries listed, searched, edited with a preview of the
Zalo message, published and retired; and the questions the bot could not answer, which staff
answer through the citizen's own platform and keep as a new draft entry.

Operators and admins only. Operators write drafts; admins also edit published entries, publish
and retire. Every change is in the audit log (target "kb:<id>" or "question:<key>"), and each
entry's page shows its own history from there."""
from __future__ import annotations

import math
import time
import uuid

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length
from wtforms.widgets import CheckboxInput, ListWidget

from bot import knowledge_entries as kb, texts
from bot.console import audit_view, format as vn
from bot.console.access import audit, repository, roles
from bot.console.blueprint import console
from bot.console.forms import ActionForm, OnceForm, errors_of, stripped
from bot.knowledge import THRESHOLD, KnowledgeBase
from bot.media import MediaStore
from bot.outbox import Outbox, RetryLater
from bot.plain import plain_text
from bot.routing import RoutingTable

HOTLINE = ("operator", "admin")
PAGE_SIZE = 50
MAX_QUESTIONS, MAX_QUESTION_LENGTH, MAX_ANSWER = 30, 300, 4000
EDITED_FIELDS = ("questions", "answer", "source_document", "source_issuer", "source_url", "scope", "valid_from",
                 "valid_until")


class EntryForm(FlaskForm):
    questions = TextAreaField("Câu hỏi (mỗi dòng một cách hỏi)", filters=[stripped])
    answer = TextAreaField("Trả lời", filters=[stripped])
    source_document = StringField("Văn bản (số, ngày)", filters=[stripped], validators=[Length(max=300)])
    source_issuer = StringField("Cơ quan ban hành", filters=[stripped], validators=[Length(max=200)])
    source_url = StringField("Đường dẫn văn bản", filters=[stripped], validators=[Length(max=500)])
    scope = SelectMultipleField("Phạm vi (để trống: toàn tỉnh)", choices=[], widget=ListWidget(prefix_label=False),
                                option_widget=CheckboxInput(), validate_choice=False)
    valid_from = StringField("Áp dụng từ ngày", filters=[stripped])
    valid_until = StringField("Đến ngày (để trống: chưa hết hạn)", filters=[stripped])


class AnswerForm(OnceForm):
    answer = TextAreaField("Câu trả lời gửi người dân", filters=[stripped])


def _districts() -> list[str]:
    return RoutingTable.current(repository()).districts


def _knowledge() -> KnowledgeBase:
    """The same published index the worker answers from, kept per web process."""
    extensions = current_app.extensions
    if "knowledge" not in extensions:
        extensions["knowledge"] = KnowledgeBase(repository())
    return extensions["knowledge"]


def _outbox() -> Outbox:
    media = MediaStore(current_app.extensions["settings"].var_dir / "media", repository())
    return Outbox(repository(), current_app.extensions["channels"], media)


def _entry(entry_id: str) -> dict:
    entry = repository().find_entry(entry_id)
    if entry is None:
        abort(404)
    return entry


def _may_edit(entry: dict | None) -> bool:
    return entry is None or entry["status"] == "draft" or current_user.role == "admin"


@console.app_template_filter("kb_day")
def _vn_day(iso: str | None) -> str:
    """"2021-10-11" (as stored) -> "11/10/2021"."""
    return f"{iso[8:10]}/{iso[5:7]}/{iso[:4]}" if iso else ""


@console.app_template_filter("audit_action")
def _audit_action(action: str) -> str:
    return audit_view.action_name(action)


@console.app_template_filter("audit_changes")
def _audit_changes(entry: dict) -> list:
    return audit_view.changes(entry, RoutingTable.current(repository()).agency_name)


# ---- the list ----------------------------------------------------------------------------------

@console.get("/knowledge")
@roles(*HOTLINE)
def knowledge_list():
    args = {name: (request.args.get(name) or "").strip()[:200]
            for name in ("q", "status", "district", "review", "ask", "ask_district")}
    entries = repository().knowledge_entries()
    if args["status"] in kb.STATUSES:
        entries = [e for e in entries if e["status"] == args["status"]]
    if args["district"] == "province":
        entries = [e for e in entries if not e.get("scope")]
    elif args["district"]:
        entries = [e for e in entries if args["district"] in (e.get("scope") or [])]
    if args["review"] == "yes":
        entries = [e for e in entries if e.get("needs_review") == "yes"]
    if args["q"]:  # typed with or without diacritics, like citizens type
        wanted = plain_text(args["q"])
        entries = [e for e in entries if wanted in plain_text(" ".join([e["_id"], *e.get("questions", []), e.get("answer", ""),
                                                                         kb.source_text(e)]))]
    page = max(1, request.args.get("page", 1, type=int) or 1)
    shown = entries[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]
    tried = None
    if args["ask"]:
        district = args["ask_district"] if args["ask_district"] in _districts() else None
        tried = {"match": _knowledge().best(args["ask"], district, vn.local(time.time()).date()),
                 "near": _knowledge().index().search(args["ask"], district, vn.local(time.time()).date(), limit=3)}
    return render_template("console/knowledge_list.html", entries=shown, total=len(entries), page=page,
                           pages=max(1, math.ceil(len(entries) / PAGE_SIZE)), args=args, statuses=kb.STATUSES,
                           districts=_districts(), tried=tried, threshold=THRESHOLD)


# ---- one entry: edit, preview, publish, retire ---------------------------------------------------

def _posted(form: EntryForm) -> tuple[dict, dict]:
    """The entry's fields as posted, and what is wrong, field by field."""
    errors: dict[str, str] = {}
    questions = [kb.nfc(line) for line in (form.questions.data or "").splitlines() if line.strip()]
    if not questions:
        errors["questions"] = "Vui lòng nhập ít nhất một câu hỏi."
    elif len(questions) > MAX_QUESTIONS or any(len(q) > MAX_QUESTION_LENGTH for q in questions):
        errors["questions"] = f"Tối đa {MAX_QUESTIONS} câu hỏi, mỗi câu {MAX_QUESTION_LENGTH} ký tự."
    answer = kb.nfc(form.answer.data)
    if not answer:
        errors["answer"] = "Vui lòng nhập câu trả lời."
    elif len(answer) > MAX_ANSWER:
        errors["answer"] = f"Câu trả lời tối đa {MAX_ANSWER} ký tự."
    url = kb.nfc(form.source_url.data)
    if url and not url.startswith(("https://", "http://")):
        errors["source_url"] = "Đường dẫn phải bắt đầu bằng https:// hoặc http://."
    days = {}
    for name in ("valid_from", "valid_until"):
        value = getattr(form, name).data
        day = vn.parse_vn_date(value) if value else None
        if value and day is None:
            errors[name] = "Ngày không hợp lệ: nhập dạng dd/mm/yyyy."
        days[name] = day.isoformat() if day else None
    if days["valid_from"] and days["valid_until"] and days["valid_until"] < days["valid_from"]:
        errors["valid_until"] = "Ngày hết hiệu lực phải sau ngày áp dụng."
    districts = _districts()
    scope = [d for d in form.scope.data or [] if d in districts]
    fields = {"questions": questions, "answer": answer, "source_document": kb.nfc(form.source_document.data),
              "source_issuer": kb.nfc(form.source_issuer.data), "source_url": url, "scope": scope, **days}
    if answer and not errors.get("answer") and len(kb.message_parts(fields)) > kb.MAX_PARTS:
        errors["answer"] = "Câu trả lời dài hơn hai tin nhắn: vui lòng rút gọn."
    return fields, errors


def _publishable(entry: dict) -> str | None:
    """Why an entry cannot answer citizens yet, or None."""
    if not entry.get("source_document") or not entry.get("source_issuer"):
        return "Cần ghi văn bản và cơ quan ban hành trước khi đưa vào sử dụng: người dân được trả lời kèm nguồn."
    return None


def _render_entry(entry: dict | None, form: EntryForm, errors: dict, preview: dict):
    history = repository().find_audit(target=f"kb:{entry['_id']}", limit=50)[0] if entry else []
    question = repository().find_question(entry["origin"].split(":", 1)[1]) \
        if entry and str(entry.get("origin", "")).startswith("question:") else None
    return render_template("console/knowledge_entry.html", entry=entry, form=form, errors=errors,
                           parts=kb.message_parts(preview) if preview.get("answer") else [],
                           choices=texts.ASK_STAFF_CHOICES, statuses=kb.STATUSES, may_edit=_may_edit(entry),
                           history=history, action=ActionForm(), question=question, publish_problem=
                           _publishable(entry) if entry else None)


def _form_for(entry: dict | None) -> EntryForm:
    form = EntryForm(data={
        "questions": "\n".join(entry.get("questions", [])), "answer": entry.get("answer", ""),
        "source_document": entry.get("source_document", ""), "source_issuer": entry.get("source_issuer", ""),
        "source_url": entry.get("source_url", ""), "scope": entry.get("scope", []),
        "valid_from": _vn_day(entry.get("valid_from")), "valid_until": _vn_day(entry.get("valid_until"))}
        if entry and request.method == "GET" else None)
    form.scope.choices = [(d, d) for d in _districts()]
    return form


@console.route("/knowledge/new", methods=["GET", "POST"])
@roles(*HOTLINE)
def knowledge_new():
    form = _form_for(None)
    if request.method == "GET":
        return _render_entry(None, form, {}, {})
    if not form.validate_on_submit():
        flash(errors_of(form), "error")
        return _render_entry(None, form, {}, {})
    fields, errors = _posted(form)
    if errors or request.form.get("action") == "preview":
        return _render_entry(None, form, errors, fields)
    entry_id = kb.new_id(fields["questions"][0])
    now = time.time()
    repository().insert_entry({"_id": entry_id, **fields, "status": "draft", "needs_review": "no", "origin": "console",
                               "created_by": current_user.username, "created_ts": now,
                               "updated_by": current_user.username, "updated_ts": now})
    audit("kb.create", f"kb:{entry_id}", None, {k: fields[k] for k in EDITED_FIELDS})
    flash("Đã lưu bản nháp. Quản trị viên duyệt rồi mới dùng để trả lời người dân.", "info")
    return redirect(url_for("console.knowledge_entry", entry_id=entry_id))


@console.route("/knowledge/<entry_id>", methods=["GET", "POST"])
@roles(*HOTLINE)
def knowledge_entry(entry_id: str):
    entry = _entry(entry_id)
    form = _form_for(entry)
    if request.method == "GET":
        return _render_entry(entry, form, {}, entry)
    if not form.validate_on_submit():
        flash(errors_of(form), "error")
        return _render_entry(entry, form, {}, entry)
    if not _may_edit(entry):
        abort(403)
    fields, errors = _posted(form)
    if errors or request.form.get("action") == "preview":
        return _render_entry(entry, form, errors, {**entry, **fields})
    changed = {k: v for k, v in fields.items() if entry.get(k) != v}
    if not changed:
        flash("Không có gì thay đổi.", "info")
        return redirect(url_for("console.knowledge_entry", entry_id=entry_id))
    before = repository().update_entry(entry_id, statuses=(entry["status"],), updated_by=current_user.username, **changed)
    if before is None:  # published or retired meanwhile by an admin
        flash("Mục này vừa được người khác đổi trạng thái: vui lòng xem lại rồi sửa.", "error")
        return redirect(url_for("console.knowledge_entry", entry_id=entry_id))
    if before["status"] == "published":
        repository().bump_knowledge_version()  # the new wording answers citizens at once
    audit("kb.update", f"kb:{entry_id}", {k: entry.get(k) for k in changed}, changed)
    flash("Đã lưu." + (" Người dân được trả lời theo nội dung mới." if before["status"] == "published" else ""), "info")
    return redirect(url_for("console.knowledge_entry", entry_id=entry_id))


@console.post("/knowledge/<entry_id>/publish")
@roles("admin")
def knowledge_publish(entry_id: str):
    entry = _entry(entry_id)
    back = redirect(url_for("console.knowledge_entry", entry_id=entry_id))
    if not ActionForm().validate_on_submit():
        return back
    problem = _publishable(entry)
    if problem:
        flash(problem, "error")
        return back
    now = time.time()
    before = repository().update_entry(entry_id, statuses=("draft", "retired"), status="published", needs_review="no",
                                       approved_by=current_user.username, published_ts=now)
    if before is None:
        flash("Mục này đang được dùng.", "info")
        return back
    repository().bump_knowledge_version()
    audit("kb.publish", f"kb:{entry_id}", {"status": before["status"]}, {"status": "published"})
    flash("Đã đưa vào sử dụng: người dân hỏi đúng nội dung này sẽ được trả lời trong vòng một phút.", "info")
    return back


@console.post("/knowledge/<entry_id>/retire")
@roles("admin")
def knowledge_retire(entry_id: str):
    _entry(entry_id)
    back = redirect(url_for("console.knowledge_entry", entry_id=entry_id))
    if not ActionForm().validate_on_submit():
        return back
    before = repository().update_entry(entry_id, statuses=("draft", "published"), status="retired",
                                       retired_by=current_user.username, retired_ts=time.time())
    if before is None:
        flash("Mục này đã ngừng dùng.", "info")
        return back
    if before["status"] == "published":
        repository().bump_knowledge_version()
    audit("kb.retire", f"kb:{entry_id}", {"status": before["status"]}, {"status": "retired"})
    flash("Đã ngừng dùng: tổng đài không trả lời người dân bằng mục này nữa.", "info")
    return back


# ---- questions waiting for staff -------------------------------------------------------------------

def _question(key: str) -> dict:
    question = repository().find_question(key)
    if question is None or question.get("channel") not in current_app.extensions["channels"]:
        abort(404)
    return question


@console.get("/questions")
@roles(*HOTLINE)
def question_list():
    status = request.args.get("status") if request.args.get("status") in kb.QUESTION_STATUSES else "waiting"
    page = max(1, request.args.get("page", 1, type=int) or 1)
    questions, total = repository().find_questions(status, skip=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render_template("console/questions.html", questions=questions, total=total, page=page, status=status,
                           pages=max(1, math.ceil(total / PAGE_SIZE)), statuses=kb.QUESTION_STATUSES,
                           counts={s: repository().count_questions(s) for s in kb.QUESTION_STATUSES})


@console.get("/questions/<path:key>")
@roles(*HOTLINE)
def question_page(key: str):
    question = _question(key)
    window = _outbox().window(question["channel"], question["user_id"], by_staff=True)
    return render_template("console/question.html", question=question, statuses=kb.QUESTION_STATUSES, threshold=THRESHOLD,
                           form=AnswerForm(send_key=uuid.uuid4().hex), action=ActionForm(), window=window,
                           near=_knowledge().index().search(question["text"], question.get("district"), None, limit=3),
                           answered_from=repository().find_entry(question["entry_id"]) if question.get("entry_id") else None,
                           draft=repository().find_entry(question["draft_entry"]) if question.get("draft_entry") else None)


@console.post("/questions/<path:key>/answer")
@roles(*HOTLINE)
def question_answer(key: str):
    question = _question(key)
    form = AnswerForm()
    back = redirect(url_for("console.question_page", key=key))
    if not form.validate_on_submit():
        flash(errors_of(form), "error")
        return back
    answer = kb.nfc(form.answer.data)
    if not answer or len(answer) > 1800:
        flash("Vui lòng nhập câu trả lời (tối đa 1.800 ký tự).", "error")
        return back
    channel, user_id = question["channel"], question["user_id"]
    outbox = _outbox()
    window = outbox.window(channel, user_id, by_staff=True)
    if not window.allowed:
        flash(f"Không gửi được: {window.reason}", "error")
        return back
    before = repository().update_question(key, statuses=("waiting", "auto"), status="answered", answer=answer,
                                          answered_by=current_user.username, answered_ts=time.time())
    if before is None:
        flash("Câu hỏi này đã được trả lời hoặc bỏ qua.", "info")
        return back
    send_key = f"question:{form.send_key.data}"
    try:
        state = outbox.send(channel, user_id, send_key, texts.staff_answer(question["text"], answer), window,
                            staff_id=current_user.username)
    except RetryLater:
        repository().requeue_outbound(channel, send_key, 30.0)
        state = "queued"
    repository().update_question(key, send_key=send_key, send_state=state)
    audit("question.answer", f"question:{key}", {"status": before["status"]}, {"status": "answered", "states": [state]})
    flash("Đã gửi câu trả lời." if state in ("sent", "already_attempted") else
          f"Câu trả lời chưa đến người dân ({vn.SEND_STATES.get(state, state)}).", "info" if state == "sent" else "error")
    return back


@console.post("/questions/<path:key>/draft")
@roles(*HOTLINE)
def question_draft(key: str):
    """One click: the question and staff's answer become a draft entry, for an admin to publish."""
    question = _question(key)
    if not ActionForm().validate_on_submit() or question.get("status") != "answered":
        return redirect(url_for("console.question_page", key=key))
    if question.get("draft_entry"):
        return redirect(url_for("console.knowledge_entry", entry_id=question["draft_entry"]))
    entry_id, now = kb.new_id(question["text"]), time.time()
    fields = {"questions": [kb.nfc(question["text"])], "answer": question["answer"], "source_document": "",
              "source_issuer": "", "source_url": "", "scope": [question["district"]] if question.get("district") else [],
              "valid_from": None, "valid_until": None}
    repository().insert_entry({"_id": entry_id, **fields, "status": "draft", "needs_review": "no",
                               "origin": f"question:{key}", "created_by": current_user.username, "created_ts": now,
                               "updated_by": current_user.username, "updated_ts": now})
    repository().update_question(key, draft_entry=entry_id)
    audit("kb.create", f"kb:{entry_id}", None, {k: fields[k] for k in EDITED_FIELDS})
    flash("Đã lưu thành bản nháp: bổ sung văn bản nguồn, phạm vi rồi gửi quản trị viên duyệt.", "info")
    return redirect(url_for("console.knowledge_entry", entry_id=entry_id))


@console.post("/questions/<path:key>/close")
@roles(*HOTLINE)
def question_close(key: str):
    _question(key)
    if ActionForm().validate_on_submit():
        before = repository().update_question(key, statuses=("waiting",), status="closed",
                                              closed_by=current_user.username, closed_ts=time.time())
        if before:
            audit("question.close", f"question:{key}", {"status": "waiting"}, {"status": "closed"})
            flash("Đã bỏ qua câu hỏi.", "info")
    return redirect(url_for("console.question_list"))
