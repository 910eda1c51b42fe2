"""Every message we send, the bot's and staff's: recorded before it goes (its key makes a retry
a no-op), sent only inside the platform's window, its outcome stored where staff can read it."""
from __future__ import annotations

import logging
import time
from typing import Mapping

from bot import logs, metrics
from bot.channels import Channel, Window
from bot.media import MediaStore
from bot.repository import Repository

log = logging.getLogger("tongdai.outbox")


class RetryLater(Exception):
    """A step failed in a way that another attempt may fix (e.g. the platform rate-limited us)."""


class Outbox:
    def __init__(self, repository: Repository, channels: Mapping[str, Channel], media: MediaStore):
        self.repository = repository
        self.channels = channels
        self.media = media

    def window(self, channel: str, user_id: str, by_staff: bool, last_inbound_ts: float | None = None) -> Window:
        """May we message this citizen now? The platforms' windows run from their last message.
        `last_inbound_ts`: a message of theirs we know of (the one being answered): when it opens
        the window, their latest does too, and the database is not asked."""
        if last_inbound_ts is not None:
            window = self.channels[channel].reply_window(time.time() - last_inbound_ts, by_staff=by_staff)
            if window.allowed:
                return window
        last = self.repository.last_inbound_ts(channel, user_id)
        return self.channels[channel].reply_window(time.time() - (last or 0.0), by_staff=by_staff)

    def send(self, channel: str, user_id: str, key: str, text: str, window: Window, *, choices: tuple = (),
             in_reply_to: str | None = None, refused_state: str = "refused", staff_id: str | None = None,
             photo: dict | None = None) -> str:
        """Send `text`, or a `photo` kept by bot/media.py. Returns "sent", `refused_state`, "failed",
        "uncertain" (the platform took the request but never answered: not sent again, staff see
        it) or "already_attempted"; raises RetryLater when the platform asks us to try again later
        (the record then waits in state "retry")."""
        record = self.repository.begin_outbound(
            channel=channel, user_id=user_id, message_id=key, text=text, in_reply_to=in_reply_to, choices=choices,
            staff_id=staff_id, attachments=[{"type": "image", "stored": photo}] if photo else None,
            correlation_id=logs.current())
        if record is None:
            return "already_attempted"
        if not window.allowed:
            self.repository.finish_outbound(record["_id"], refused_state, error=window.reason)
            metrics.SENDS.labels(channel, refused_state, "").inc()
            log.info("send %s: %s", channel, refused_state, extra={"channel": channel, "state": refused_state,
                                                                   "key": key, "reason": window.reason})
            return refused_state
        started = time.monotonic()
        result = self._send_recorded(record, window.tag)
        sent_ms = round((time.monotonic() - started) * 1000, 1)
        state = "sent" if result.ok else "uncertain" if result.uncertain else "retry" if result.retryable else "failed"
        metrics.SENDS.labels(channel, state, result.error_code or "").inc()
        if result.ok:
            self.repository.finish_outbound(record["_id"], "sent", sent_ts=time.time(), tag=window.tag,
                                            platform_message_id=result.platform_message_id)
        else:
            self.repository.finish_outbound(record["_id"], state, error_code=result.error_code, error=result.error)
        # Logged once the outcome is recorded: what the platform did comes first.
        log.log(logging.INFO if result.ok else logging.WARNING, "send %s: %s%s", channel, state,
                "" if result.ok else f" {result.error_code} {result.error}",
                extra={"channel": channel, "state": state, "key": key, "sender": record.get("sender", "bot"),
                       "duration_ms": sent_ms, **({} if result.ok else {"error_code": result.error_code})})
        if result.retryable and not result.ok:
            raise RetryLater(f"send failed: {result.error_code}")
        return state

    def send_photo(self, channel: str, user_id: str, photo: dict, key: str, staff_id: str | None = None) -> str:
        """A photo from staff (the console). "retry" when the platform asked for a later attempt:
        the record waits, and the same key sends it."""
        try:
            return self.send(channel, user_id, key, "", self.window(channel, user_id, by_staff=True),
                             staff_id=staff_id, photo=photo)
        except RetryLater:
            return "retry"

    def _send_recorded(self, record: dict, tag: str | None):
        # What was recorded first is what goes out: a retried message may have been decided
        # differently this time (its form moved on).
        channel = self.channels[record["channel"]]
        photo = next((a["stored"] for a in record.get("attachments") or [] if a.get("type") == "image"), None)
        if photo:
            return channel.send_image(record["user_id"], self.media.path_of(photo), photo["content_type"], tag=tag)
        choices = tuple(tuple(c) for c in record.get("choices") or ())
        return channel.send_text(record["user_id"], record["text"], tag=tag, choices=choices)
