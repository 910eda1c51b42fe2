"""Every message we send, the bot's and staff's: recorded before it goes (its key makes a retry
a no-op), sent only inside the platform's window, its outcome stored where staff can read it."""
from __future__ import annotations

import logging
import time
from typing import Mapping

from bot import metrics
from bot.channels import Channel, Window
from bot.repository import Repository

log = logging.getLogger("tongdai.outbox")


class RetryLater(Exception):
    """A step failed in a way that another attempt may fix (e.g. the platform rate-limited us)."""


class Outbox:
    def __init__(self, repository: Repository, channels: Mapping[str, Channel]):
        self.repository = repository
        self.channels = channels

    def window(self, channel: str, user_id: str, by_staff: bool) -> Window:
        """May we message this citizen now? The platforms' windows run from their last message."""
        last = self.repository.last_inbound_ts(channel, user_id)
        return self.channels[channel].reply_window(time.time() - (last or 0.0), by_staff=by_staff)

    def send(self, channel: str, user_id: str, key: str, text: str, window: Window, *, choices: tuple = (),
             in_reply_to: str | None = None, refused_state: str = "refused", staff_id: str | None = None) -> str:
        """Returns "sent", `refused_state`, "failed" or "already_attempted"; raises RetryLater when
        the platform asks us to try again later (the record then waits in state "retry")."""
        record = self.repository.begin_outbound(channel=channel, user_id=user_id, message_id=key, text=text,
                                                in_reply_to=in_reply_to, choices=choices, staff_id=staff_id)
        if record is None:
            return "already_attempted"
        # A retried message may have been decided differently this time (its form moved on):
        # what was recorded first is what goes out.
        text, choices = record["text"], tuple(tuple(c) for c in record.get("choices") or ())
        if not window.allowed:
            self.repository.finish_outbound(record["_id"], refused_state, error=window.reason)
            metrics.SENDS.labels(channel, refused_state, "").inc()
            return refused_state
        result = self.channels[channel].send_text(user_id, text, tag=window.tag, choices=choices)
        state = "sent" if result.ok else "retry" if result.retryable else "failed"
        metrics.SENDS.labels(channel, state, result.error_code or "").inc()
        if result.ok:
            self.repository.finish_outbound(record["_id"], "sent", sent_ts=time.time(), tag=window.tag,
                                            platform_message_id=result.platform_message_id)
            return "sent"
        fields = {"error_code": result.error_code, "error": result.error}
        log.warning("send to %s failed: %s %s", channel, result.error_code, result.error)
        self.repository.finish_outbound(record["_id"], state, **fields)
        if result.retryable:
            raise RetryLater(f"send failed: {result.error_code}")
        return "failed"
