"""What the core needs from a chat platform. Each platform implements it in its own module
under `webhooks/`; the core never imports them (the entry points hand them in)."""
from __future__ import annotations

import pathlib
from dataclasses import dataclass
from typing import Mapping, Protocol

import requests

from bot.messages import Event, SendResult


class BadPayload(ValueError):
    """The body is not an event this platform sends: answered with 400, nothing stored."""


HOUR = 3600.0
DAY = 24 * HOUR
CONNECTIONS = 64  # kept-alive connections per platform host: more than a worker's lanes


def kept_alive_session() -> requests.Session:
    """A session every lane of a worker can share without opening a connection per send
    (requests keeps 10 per host by default and drops the rest after each use)."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=CONNECTIONS)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


@dataclass(frozen=True)
class Window:
    """Whether the platform lets us message this user now, and how."""
    allowed: bool
    tag: str | None = None     # e.g. Messenger's HUMAN_AGENT outside the 24-hour window
    reason: str | None = None  # why not, in Vietnamese, for staff


class Channel(Protocol):
    name: str  # the slug used in URLs, the database and tests
    # An event older than this is no delivery the platform still retries: a replay, refused.
    max_event_age_seconds: float

    def is_configured(self) -> bool: ...

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool: ...

    def parse(self, body: bytes) -> list[Event]: ...

    def reply_window(self, since_last_inbound: float, by_staff: bool) -> Window: ...

    def send_text(self, user_id: str, text: str, tag: str | None = None, choices: tuple = ()) -> SendResult: ...

    def send_image(self, user_id: str, path: pathlib.Path, mime: str, tag: str | None = None) -> SendResult:
        """Send one photo: `path` is our copy (bot/media.py). A photo the platform cannot take
        (too large, wrong type) is refused before any call, with the reason for staff."""
        ...

    def health(self) -> str: ...  # "ok", or what staff must fix (e.g. "token_refresh_failed")
