"""Chats: the queue of chats waiting for a person, every conversation, one chat's history, who
holds it, and answering it through the citizen's own platform."""
from __future__ import annotations

import math
import uuid

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user

from bot import texts
from bot.console import format as vn
from bot.console.access import audit, repository, roles
from bot.console.blueprint import console
from bot.console.citizen import citizen_panel
from bot.console.forms import ActionForm, ReleaseForm, ReplyForm, errors_of
from bot.console.replies import canned_replies
from bot.console.search import search_terms
from bot.media import MediaStore
from bot.outbox import Outbox, RetryLater

OPERATORS = ("operator", "admin")
STAFF_REPLY_RETRY_SECONDS = 30.0
PAGE_SIZE = 50
HANDLERS = {"bot": "Trợ lý tự động đang trả lời", "waiting": "Đang chờ cán bộ", "staff": "Cán bộ đang xử lý"}
SENT_BACK_SHOWN = 20


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
        if "last_in_ts" not in chat:  # recorded by the worker since issue 14; older chats are looked up
            last = repository().last_inbound(chat["channel"], chat["user_id"]) or {}
            chat.update(last_in_text=last.get("text", ""), last_in_ts=last.get("received_ts"))
        chat["unread"] = (chat.get("last_in_ts") or 0) > (chat.get("owner_seen_ts") or 0)
    return chats


def _queue_context() -> dict:
    sent_back, sent_back_total = repository().find_cases(sent_back=True, limit=SENT_BACK_SHOWN)
    return {"waiting": _with_last_message(repository().waiting_chats()),
            "mine": _with_last_message(repository().chats_held_by(current_user.username)),
            "sent_back": sent_back, "sent_back_total": sent_back_total}


@console.get("/chats")
@roles(*OPERATORS)
def queue():
    return render_template("console/queue.html", **_queue_context())


@console.get("/chats/rows")
@roles(*OPERATORS)
def queue_rows():
    """The queue's tables alone: the page fetches them every few seconds."""
    return render_template("console/_queue_tables.html", **_queue_context())


@console.get("/chats/all")
@roles(*OPERATORS)
def all_chats():
    """Every conversation, the bot's included: any of them can be opened and claimed again."""
    handler = request.args.get("state") if request.args.get("state") in HANDLERS else None
    channel = request.args.get("channel") if request.args.get("channel") in vn.CHANNEL_NAMES else None
    q = (request.args.get("q") or "").strip()[:100]
    user_ids = None
    if q:  # a case code or a phone: that citizen's conversations
        found, _ = repository().find_cases(**search_terms(q), limit=200)
        user_ids = sorted({c["user_id"] for c in found})
    page = max(1, request.args.get("page", 1, type=int) or 1)
    chats, total = repository().all_conversations(handler=handler, channel=channel, user_ids=user_ids,
                                                  skip=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render_template("console/chats_all.html", chats=chats, total=total, page=page,
                           pages=max(1, math.ceil(total / PAGE_SIZE)), handlers=HANDLERS,
                           channels=vn.CHANNEL_NAMES, args={"state": handler or "", "channel": channel or "", "q": q})


def _window_note(channel: str, user_id: str) -> tuple[bool, str]:
    """Whether staff may answer now, and what the reply box says about it."""
    window = _outbox().window(channel, user_id, by_staff=True)
    if not window.allowed:
        return False, window.reason
    if window.tag == "HUMAN_AGENT":
        return True, ("Đã quá 24 giờ kể từ tin nhắn cuối của người dân: tin trả lời sẽ gửi dưới dạng "
                      "phản hồi của nhân viên (HUMAN_AGENT), được phép đến hết 7 ngày.")
    return True, ""


def _mine(conversation: dict) -> bool:
    return conversation.get("handler") == "staff" and conversation.get("staff_owner") == current_user.username


@console.get("/chats/<channel>/<path:user_id>")
@roles(*OPERATORS)
def chat(channel: str, user_id: str):
    conversation = _conversation(channel, user_id)
    if _mine(conversation):
        repository().mark_chat_seen(channel, user_id, current_user.username)
    may_reply, window_note = _window_note(channel, user_id)
    return render_template("console/chat.html", chat=conversation, form=ReplyForm(send_key=uuid.uuid4().hex),
                           action=ActionForm(), mine=_mine(conversation),
                           handback_form=ReleaseForm(prefix="handback", message=texts.CHAT_HANDED_BACK),
                           close_form=ReleaseForm(prefix="close", message=texts.CHAT_CLOSED),
                           citizen=citizen_panel(channel, user_id), replies=canned_replies(),
                           history=repository().recent_history(channel, user_id),
                           may_reply=may_reply, window_note=window_note)


@console.get("/chats/<channel>/<path:user_id>/history")
@roles(*OPERATORS)
def chat_history(channel: str, user_id: str):
    conversation = _conversation(channel, user_id)
    if _mine(conversation) and (conversation.get("last_in_ts") or 0) > (conversation.get("owner_seen_ts") or 0):
        repository().mark_chat_seen(channel, user_id, current_user.username)
    return render_template("console/_history.html", chat={"channel": channel, "user_id": user_id},
                           history=repository().recent_history(channel, user_id))


@console.post("/chats/<channel>/<path:user_id>/claim")
@roles(*OPERATORS)
def claim(channel: str, user_id: str):
    conversation = _conversation(channel, user_id)
    back = redirect(url_for("console.chat", channel=channel, user_id=user_id))
    if not ActionForm().validate_on_submit():
        return back
    take_over = current_user.role == "admin" and request.form.get("take_over") == "yes"
    before = repository().take_chat(channel, user_id, current_user.username, from_bot=True, from_colleague=take_over)
    if before is None:
        holder = (repository().find_conversation(channel, user_id) or {}).get("staff_owner")
        if holder == current_user.username:
            flash("Anh/chị đang xử lý cuộc trò chuyện này.", "info")
        else:
            flash(f"Cuộc trò chuyện này đã có cán bộ khác nhận: {vn.staff_name(holder)}.", "error")
        return back
    target = f"{channel}:{user_id}"
    previous = before.get("staff_owner") if before.get("handler") == "staff" else None
    audit("chat.takeover" if previous else "chat.claim", target,
          {"handler": before.get("handler"), "staff_owner": previous},
          {"handler": "staff", "staff_owner": current_user.username})
    if previous:
        _tell_colleague(previous, conversation, "đã tiếp quản")
    return back


def _tell_colleague(username: str, conversation: dict, what: str) -> None:
    """The person who held a chat hears that someone else moved it."""
    repository().add_alert([username], key=f"chat:{conversation['channel']}:{conversation['user_id']}:{uuid.uuid4().hex}",
                           kind="chat_taken",
                           text=f"{current_user.name} {what} cuộc trò chuyện với {vn.chat_label(conversation)} "
                                "mà anh/chị đang xử lý.",
                           url=url_for("console.chat", channel=conversation["channel"], user_id=conversation["user_id"]))


@console.post("/chats/<channel>/<path:user_id>/reply")
@roles(*OPERATORS)
def reply(channel: str, user_id: str):
    conversation = _conversation(channel, user_id)
    form = ReplyForm()
    back = redirect(url_for("console.chat", channel=channel, user_id=user_id))
    if not form.validate_on_submit():
        flash(errors_of(form), "error")
        return back
    if not _mine(conversation):
        flash("Anh/chị cần nhận xử lý cuộc trò chuyện trước khi trả lời.", "error")
        return back
    outbox, key = _outbox(), f"staff:{form.send_key.data}"
    window = outbox.window(channel, user_id, by_staff=True)
    states = []
    if form.photo.data:
        kept = _media().store_image(form.photo.data.read())
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
    repository().mark_chat_seen(channel, user_id, current_user.username)
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
    """Hand the chat back to the bot: only whoever holds it, or an admin (recorded as a take-over);
    asked for twice (the button opens the confirmation); the citizen told unless staff untick it."""
    conversation = _conversation(channel, user_id)
    form = ReleaseForm(prefix=action.split(".")[1])
    back = redirect(url_for("console.chat", channel=channel, user_id=user_id))
    if not form.validate_on_submit() or form.confirm.data != "yes":
        flash(errors_of(form) if form.errors else "Vui lòng xác nhận trước khi giao lại hoặc đóng.", "error")
        return back
    admin = current_user.role == "admin"
    before = repository().release_chat(channel, user_id, owner=None if admin else current_user.username)
    if before is None:
        holder = (repository().find_conversation(channel, user_id) or {}).get("staff_owner")
        flash(f"Cán bộ {vn.staff_name(holder)} đang xử lý cuộc trò chuyện này: chỉ người đang xử lý hoặc quản trị "
              "viên mới giao lại hoặc đóng được." if holder and holder != current_user.username else
              "Cuộc trò chuyện không còn do cán bộ xử lý.", "error")
        return back
    target = f"{channel}:{user_id}"
    previous = before.get("staff_owner") if before.get("handler") == "staff" else None
    if previous and previous != current_user.username:
        audit("chat.takeover", target, {"handler": "staff", "staff_owner": previous},
              {"handler": "staff", "staff_owner": current_user.username})
        _tell_colleague(previous, conversation, "đã đóng" if action == "chat.close" else "đã giao lại cho trợ lý tự động")
    told = form.notify.data and bool(form.message.data)
    if told:
        repository().queue_notice(channel=channel, user_id=user_id, key=f"notice:{action}:{uuid.uuid4().hex}",
                                  text=form.message.data)
    audit(action, target, {"handler": before.get("handler"), "staff_owner": previous},
          {"handler": "bot", **({"told": form.message.data} if told else {})})
    flash(done + (" Đã nhắn cho người dân." if told else ""), "info")
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
