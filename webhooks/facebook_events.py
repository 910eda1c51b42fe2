"""Messenger webhook payloads -> normalized events."""
from __future__ import annotations

from bot.channels import BadPayload
from bot.messages import Attachment, Event, InboundMessage, Receipt, StaffMessage
from webhooks.payload import (ident, ident_or_none, int64_or_none, items, json_object, number_or_none, obj,
                              text_or_none)

CHANNEL = "facebook"
# Set on every message this bot sends and echoed back by Meta: an echo without it was typed by a
# person in the Page inbox.
BOT_METADATA = "tongdai1022-bot"


def parse(body: bytes) -> list[Event]:
    payload = json_object(body, "entry", list)
    if payload.get("object") != "page":
        return []
    events: list[Event] = []
    # Meta batches several entries, each with several events, in one request: read them all, in
    # order. Under the handover protocol, events for a thread another app controls come as standby.
    for entry in payload["entry"]:
        entry = obj(entry, "entry")
        for key in ("messaging", "standby"):
            for item in items(entry.get(key), f"entry.{key}"):
                events.extend(_event(obj(item, f"{key} event")))
    return events




def _event(event: dict) -> list[Event]:
    timestamp = int64_or_none(event.get("timestamp")) or 0
    if isinstance(event.get("message"), dict):
        return _message(event, event["message"], timestamp)
    if isinstance(event.get("postback"), dict):
        return _postback(event, event["postback"], timestamp)
    if isinstance(event.get("delivery"), dict):
        delivery = event["delivery"]
        return [Receipt(CHANNEL, _sender(event), "delivered",
                        message_ids=tuple(map(str, items(delivery.get("mids"), "delivery.mids"))),
                        watermark_ms=int64_or_none(delivery.get("watermark")))]
    if isinstance(event.get("read"), dict):
        return [Receipt(CHANNEL, _sender(event), "seen", watermark_ms=int64_or_none(event["read"].get("watermark")))]
    return []  # reactions, referrals, opt-ins...: acknowledged, not stored


def _sender(event: dict) -> str:
    return ident(obj(event.get("sender"), "sender").get("id"), "sender.id")


def _message(event: dict, message: dict, timestamp: int) -> list[Event]:
    text = message.get("text")
    if text is not None and not isinstance(text, str):
        raise BadPayload("message.text is not a string")
    mid = ident(message.get("mid"), "message.mid")
    attachments = tuple(_attachment(a) for a in items(message.get("attachments"), "attachments"))
    if message.get("is_echo"):
        if message.get("metadata") == BOT_METADATA:
            return []  # our own message, echoed back
        recipient = ident(obj(event.get("recipient"), "recipient").get("id"), "recipient.id")
        return [StaffMessage(CHANNEL, mid, recipient, text or "", timestamp,
                             staff_id=str(message.get("app_id") or "page_inbox"), attachments=attachments)]
    quick_reply = message.get("quick_reply") if isinstance(message.get("quick_reply"), dict) else {}
    reply_to = message.get("reply_to") if isinstance(message.get("reply_to"), dict) else {}
    return [InboundMessage(CHANNEL, mid, _sender(event), text or "", timestamp, event="message",
                           attachments=attachments, payload=text_or_none(quick_reply.get("payload")),
                           reply_to=ident_or_none(reply_to.get("mid")))]


def _postback(event: dict, postback: dict, timestamp: int) -> list[Event]:
    user = _sender(event)
    # Older postbacks have no mid: the user and time identify the tap.
    mid = str(postback.get("mid") or f"postback:{user}:{timestamp}")
    return [InboundMessage(CHANNEL, mid, user, str(postback.get("title") or ""), timestamp,
                           event="postback", payload=text_or_none(postback.get("payload")))]



def _attachment(item) -> Attachment:
    item = obj(item, "attachment")
    kind = str(item.get("type") or "unknown")
    payload = item.get("payload") if isinstance(item.get("payload"), dict) else {}
    if kind == "location":
        coordinates = payload.get("coordinates") if isinstance(payload.get("coordinates"), dict) else {}
        return Attachment(kind, latitude=number_or_none(coordinates.get("lat")),
                          longitude=number_or_none(coordinates.get("long")), description=text_or_none(item.get("title")))
    return Attachment(kind, url=text_or_none(payload.get("url")),
                      name=text_or_none(item.get("title")) or text_or_none(payload.get("title")))
