"""Zalo OA webhook payloads -> normalized events. One function per kind of event; the table
below says which event names each handles, and which are deliberately ignored."""
from __future__ import annotations

import re

from bot.channels import BadPayload
from bot.messages import (FOLLOW, UNFOLLOW, USER_INFO, Attachment, Event, InboundMessage, Receipt,
                          StaffMessage)
from webhooks.payload import (ident, ident_or_none, int64_or_none, items, json_object, number_or_none, obj,
                              text_or_none)

CHANNEL = "zalo"

# Zalo has no quick replies: a button of type oa.query.hide sends its payload string back as the
# citizen's own text message (user_send_text). The string carries our payload and the button's
# title — "#tongdai1022|FORM_CONFIRM|Gửi" — so the message reaches the pipeline exactly like a
# Messenger quick reply: the title as text, the payload as payload.
BUTTON_MARK = "#tongdai1022|"
BUTTON_PAYLOAD = re.compile(r"[A-Z][A-Za-z0-9_]{0,99}")


def button_query(payload: str, title: str) -> str:
    return f"{BUTTON_MARK}{payload}|{title}"


def pressed_button(text: str) -> tuple[str, str] | None:
    """(payload, title) when `text` is what one of our buttons sent, else None."""
    if not text.startswith(BUTTON_MARK):
        return None
    payload, _, title = text[len(BUTTON_MARK):].partition("|")
    return (payload, title) if BUTTON_PAYLOAD.fullmatch(payload) else None


def load(body: bytes) -> dict:
    return json_object(body, "event_name", str)


def parse(body: bytes) -> list[Event]:
    event = load(body)
    handler = EVENT_HANDLERS.get(event["event_name"])
    return handler(event) if handler else []  # unknown or ignored: acknowledged, counted




def _timestamp(event: dict) -> int:
    try:
        timestamp = int64_or_none(int(event.get("timestamp") or 0))
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: "Infinity"
        raise BadPayload("timestamp is not a number") from exc
    if timestamp is None:  # negative, or more than the database holds
        raise BadPayload("timestamp out of range")
    return timestamp


def _attachment(item) -> Attachment:
    item = obj(item, "attachment")
    kind, payload = str(item.get("type") or "unknown"), item.get("payload") or {}
    if not isinstance(payload, dict):
        raise BadPayload("attachment payload is not an object")
    if kind == "location":
        coordinates = payload.get("coordinates")  # strings, in Zalo's payloads
        coordinates = coordinates if isinstance(coordinates, dict) else {}
        return Attachment(kind, latitude=number_or_none(coordinates.get("latitude")),
                          longitude=number_or_none(coordinates.get("longitude")))
    size = payload.get("size")
    return Attachment(kind, url=text_or_none(payload.get("url")) or text_or_none(payload.get("thumbnail")),
                      name=text_or_none(payload.get("name")),
                      size=int64_or_none(int(size)) if isinstance(size, (str, int)) and str(size).isdigit() else None,
                      description=text_or_none(payload.get("description")) or text_or_none(payload.get("id")))


def _attachments(message: dict) -> tuple[Attachment, ...]:
    return tuple(_attachment(item) for item in items(message.get("attachments"), "attachments"))


def citizen_message(event: dict) -> list[Event]:
    sender, message = obj(event.get("sender"), "sender"), obj(event.get("message"), "message")
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        raise BadPayload("message.text is not a string")
    button = pressed_button(text or "")
    return [InboundMessage(channel=CHANNEL, message_id=ident(message.get("msg_id"), "message.msg_id"),
                           user_id=ident(sender.get("id"), "sender.id"), text=button[1] if button else text or "",
                           sent_at_ms=_timestamp(event), event=event["event_name"],
                           attachments=_attachments(message), payload=button[0] if button else None,
                           reply_to=ident_or_none(message.get("quote_msg_id")))]


def follow(event: dict) -> list[Event]:
    # follow/unfollow name the user in `follower` and carry no message id: the event itself
    # (user and time) is the dedupe key.
    user = ident(obj(event.get("follower"), "follower").get("id"), "follower.id")
    kind = FOLLOW if event["event_name"] == "follow" else UNFOLLOW
    timestamp = _timestamp(event)
    return [InboundMessage(channel=CHANNEL, message_id=f"{kind}:{user}:{timestamp}", user_id=user,
                           text="", sent_at_ms=timestamp, event=event["event_name"], kind=kind)]


def submit_info(event: dict) -> list[Event]:
    user = ident(obj(event.get("sender"), "sender").get("id"), "sender.id")
    info = obj(event.get("info"), "info")
    address = info.get("full_address") if isinstance(info.get("full_address"), dict) else {}
    shared = {"name": info.get("name"), "phone": info.get("phone"),
              "address": address.get("user_address") or info.get("address"),
              "ward": address.get("user_ward") or info.get("ward"),
              "district": address.get("user_district") or info.get("district"),
              "city": address.get("user_city") or info.get("city")}
    timestamp = _timestamp(event)
    return [InboundMessage(channel=CHANNEL, message_id=f"info:{user}:{timestamp}", user_id=user, text="",
                           sent_at_ms=timestamp, event=event["event_name"], kind=USER_INFO,
                           info={k: str(v) for k, v in shared.items() if v})]


def receipt(event: dict) -> list[Event]:
    # Delivery and read receipts of our messages: the OA is the sender, the citizen the recipient.
    user = ident(obj(event.get("recipient"), "recipient").get("id"), "recipient.id")
    message = obj(event.get("message"), "message")
    ids = items(message.get("msg_ids"), "message.msg_ids") or ([message["msg_id"]] if message.get("msg_id") else [])
    status = "seen" if event["event_name"] == "user_seen_message" else "delivered"
    return [Receipt(channel=CHANNEL, user_id=user, status=status, message_ids=tuple(map(str, ids)))]


def oa_echo(event: dict) -> list[Event]:
    sender, message = obj(event.get("sender"), "sender"), obj(event.get("message"), "message")
    if not sender.get("admin_id"):
        return []  # the echo of what this bot sent through the API
    return [StaffMessage(channel=CHANNEL, message_id=ident(message.get("msg_id"), "message.msg_id"),
                         user_id=ident(obj(event.get("recipient"), "recipient").get("id"), "recipient.id"),
                         text=text_or_none(message.get("text")) or "", sent_at_ms=_timestamp(event),
                         staff_id=str(sender["admin_id"]), attachments=_attachments(message))]


USER_MESSAGE_EVENTS = ("user_send_text", "user_send_image", "user_send_link", "user_send_audio",
                       "user_send_video", "user_send_sticker", "user_send_location",
                       "user_send_business_card", "user_send_file", "user_send_gif",
                       "anonymous_send_text")
OA_ECHO_EVENTS = ("oa_send_text", "oa_send_image", "oa_send_file", "oa_send_sticker", "oa_send_gif",
                  "oa_send_list")
EVENT_HANDLERS = {
    **dict.fromkeys(USER_MESSAGE_EVENTS, citizen_message),
    **dict.fromkeys(OA_ECHO_EVENTS, oa_echo),
    "follow": follow,
    "unfollow": follow,
    "user_submit_info": submit_info,
    "user_received_message": receipt,
    "user_seen_message": receipt,
}
