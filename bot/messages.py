"""The one normalized message type every platform's event becomes, and the result of a send."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass


def nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "")


@dataclass(frozen=True)
class InboundMessage:
    channel: str          # "zalo", "facebook", "web"
    message_id: str       # the platform's id: the dedupe key within a channel
    user_id: str          # the platform's id of the citizen
    text: str             # NFC-normalized
    sent_at_ms: int       # the platform's timestamp, milliseconds since the epoch
    event: str = "text"   # the platform's event name, kept for the record

    def __post_init__(self):
        object.__setattr__(self, "text", nfc(self.text))


@dataclass(frozen=True)
class SendResult:
    ok: bool
    platform_message_id: str | None = None
    error_code: str | None = None
    error: str | None = None     # what went wrong, for staff (Vietnamese where shown to them)
    retryable: bool = False      # a later attempt may succeed (rate limit, temporary failure)
