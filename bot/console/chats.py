"""Chats waiting for a person: the queue, one chat's history, and answering it through the
citizen's own platform."""
from __future__ import annotations

import uuid

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from bot.console.access import audit, repository, roles
from bot.console.blueprint import console
from bot.console.forms import ActionForm, ReplyForm, errors_of
from bot.media import MediaStore
from bot.outbox import Outbox, RetryLater

OPERATORS = ("operator", "admin")
STAFF_REPLY_RETRY_SECONDS = 30.0


def _media() -> MediaStore:
    return MediaStore(current_app.extensions["settings"].var_dir / "media", repository())


def _outbox() -> Outbox:
    return Outbox(repository(), current_app.extensions["channels"], _media())


def _conversation(channel: str, user_id: str) -> dict:
    if channel not in current_app.extensions["channels"]:
        abort(404)
    conversation = repository().find_conversation(channel, user_id)
    if conversation is None:
        abort(404)
    return conversation


def _with_last_message(chats: list[dict]) -> list[dict]:
    for chat in chats:
        chat["last_text"] = (repository().last_inbound(chat["channel"], chat["user_id"]) or {}).get("text", "")
    return chats


def _queue_context() -> dict:
    return {"waiting": _with_last_message(repository().waiting_chats()),
            "mine": _with_last_message(repository().chats_held_by(current_user.username)),
            "form": ActionForm()}


@console.get("/chats")
@roles(*OPERATORS)
def queue():
    return render_template("console/queue.html", **_queue_context())


@console.get("/chats/rows")
@roles(*OPERATORS)
def queue_rows():
    """The queue's tables alone: the page fetches them every few seconds."""
    return render_template("console/_queue_tables.html", **_queue_context())


def _window_note(channel: str, user_id: str) -> tuple[bool, str]:
    """Whether staff may answer now, and what the reply box says about it."""
    window = _outbox().window(channel, user_id, by_staff=True)
    if not window.allowed:
        return False, window.reason
    if window.tag == "HUMAN_AGENT":
        return True, ("Đã quá 24 giờ kể từ tin nhắn cuối của người dân: tin trả lời sẽ gửi dưới dạng "
                      "phản hồi của nhân viên (HUMAN_AGENT), được phép đến hết 7 ngày.")
    return True, ""


@console.get("/chats/<channel>/<path:user_id>")
@roles(*OPERATORS)
def chat(channel: str, user_id: str):
    conversation = _conversation(channel, user_id)
    may_reply, window_note = _window_note(channel, user_id)
    form = ReplyForm(send_key=uuid.uuid4().hex)
    cases, _ = repository().find_cases(channel=channel, user_id=user_id, limit=20)
    return render_template("console/chat.html", chat=conversation, form=form, action=ActionForm(), cases=cases,
                           history=repository().recent_history(channel, user_id),
                           may_reply=may_reply, window_note=window_note)


@console.get("/chats/<channel>/<path:user_id>/history")
@roles(*OPERATORS)
def chat_history(channel: str, user_id: str):
    _conversation(channel, user_id)
    return render_template("console/_history.html", chat={"channel": channel, "user_id": user_id},
                           history=repository().recent_history(channel, user_id))


@console.post("/chats/<channel>/<path:user_id>/claim")
@roles(*OPERATORS)
def claim(channel: str, user_id: str):
    _conversation(channel, user_id)
    if ActionForm().validate_on_submit():
        if repository().claim_chat(channel, user_id, current_user.username):
            audit("chat.claim", f"{channel}:{user_id}", {"handler": "waiting"},
                  {"handler": "staff", "staff_owner": current_user.username})
        else:
            flash("Cuộc trò chuyện này đã có cán bộ khác nhận.", "error")
    return redirect(url_for("console.chat", channel=channel, user_id=user_id))


@console.post("/chats/<channel>/<path:user_id>/reply")
@roles(*OPERATORS)
def reply(channel: str, user_id: str):
    conversation = _conversation(channel, user_id)
    form = ReplyForm()
    back = redirect(url_for("console.chat", channel=channel, user_id=user_id))
    if not form.validate_on_submit():
        flash(errors_of(form), "error")
        return back
    if conversation.get("handler") != "staff" or conversation.get("staff_owner") != current_user.username:
        flash("Anh/chị cần nhận xử lý cuộc trò chuyện trước khi trả lời.", "error")
        return back
    outbox, key = _outbox(), f"staff:{form.send_key.data}"
    window = outbox.window(channel, user_id, by_staff=True)
    states = []
    if form.photo.data:
        kept = _media().store(form.photo.data.read(), (form.photo.data.mimetype or "").lower())
        if "stored" not in kept:
            flash(f"Không gửi được ảnh: {kept['fetch_error']}", "error")
            return back
        states.append(outbox.send_photo(channel, user_id, kept["stored"], f"{key}:photo", current_user.username))
    if form.text.data:
        try:
            states.append(outbox.send(channel, user_id, key, form.text.data, window,
                                      staff_id=current_user.username))
        except RetryLater:
            repository().requeue_outbound(channel, key, STAFF_REPLY_RETRY_SECONDS)
            states.append("queued")
    # Each reply keeps the chat with this person a while longer (HANDOFF_QUIET_MINUTES).
    repository().set_handler(channel, user_id, "staff")
    audit("chat.reply", f"{channel}:{user_id}", None, {"key": key, "states": states})
    flash(*_outcome(channel, key, states, window.reason))
    return back


def _outcome(channel: str, key: str, states: list[str], window_reason: str | None) -> tuple[str, str]:
    """What the person who sent the reply reads about it."""
    if all(state in ("sent", "already_attempted") for state in states):
        return "Đã gửi.", "info"
    if "refused" in states:
        return f"Không gửi được: {window_reason}", "error"
    if "uncertain" in states:
        return "Nền tảng không trả lời kịp: tin có thể đã đến người dân, kiểm tra trước khi gửi lại.", "error"
    if any(state in ("queued", "retry") for state in states):
        return "Nền tảng tạm thời chưa nhận tin; hệ thống sẽ tự gửi lại.", "error"
    records = [repository().find_message(channel, k) or {} for k in (key, f"{key}:photo")]
    error = next((r.get("error") for r in records if r.get("state") == "failed" and r.get("error")), "không rõ lý do")
    return f"Gửi lỗi: {error}", "error"


def _release(channel: str, user_id: str, action: str, done: str):
    conversation = _conversation(channel, user_id)
    if ActionForm().validate_on_submit():
        repository().set_handler(channel, user_id, "bot", staff_owner=None, not_understood=0)
        audit(action, f"{channel}:{user_id}",
              {"handler": conversation.get("handler"), "staff_owner": conversation.get("staff_owner")},
              {"handler": "bot"})
        flash(done, "info")
    return redirect(url_for("console.queue"))


@console.post("/chats/<channel>/<path:user_id>/handback")
@roles(*OPERATORS)
def hand_back(channel: str, user_id: str):
    return _release(channel, user_id, "chat.handback", "Đã giao lại cuộc trò chuyện cho trợ lý tự động.")


@console.post("/chats/<channel>/<path:user_id>/close")
@roles(*OPERATORS)
def close(channel: str, user_id: str):
    return _release(channel, user_id, "chat.close", "Đã đóng cuộc trò chuyện.")


def send_attachment(message: dict, index: int):
    """One kept attachment of a message (the platform's own URL has expired by now)."""
    attachments = message.get("attachments") or []
    if not 0 <= index < len(attachments) or not attachments[index].get("stored"):
        abort(404)
    stored = attachments[index]["stored"]
    return send_file(_media().path_of(stored), mimetype=stored["content_type"],
                     as_attachment=not stored["content_type"].startswith("image/"),
                     download_name=attachments[index].get("name") or stored["sha256"][:12])


@console.get("/chats/<channel>/<path:user_id>/media/<message_id>/<int:index>")
@roles(*OPERATORS)
def chat_media(channel: str, user_id: str, message_id: str, index: int):
    message = repository().find_message(channel, message_id)
    if message is None or message["user_id"] != user_id:
        abort(404)
    return send_attachment(message, index)
