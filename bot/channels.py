"""What the core needs from a chat platform. Each platform implements it in its own module
under `webhooks/`; the core never imports them (the entry points hand them in)."""
from __future__ import annotations

from typing import Mapping, Protocol

from bot.messages import InboundMessage, SendResult


class BadPayload(ValueError):
    """The body is not an event this platform sends: answered with 400, nothing stored."""


class Channel(Protocol):
    name: str  # the slug used in URLs, the database and tests

    def is_configured(self) -> bool: ...

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool: ...

    def parse(self, body: bytes) -> list[InboundMessage]: ...

    def send_text(self, user_id: str, text: str) -> SendResult: ...

    def health(self) -> str: ...  # "ok", or what staff must fix (e.g. "token_refresh_failed")
