"""The normalized types every platform event becomes, and the result of a send."""
from __future__ import annotations

import unicodedata
from dataclasses import asdict, dataclass, field


def nfc(text: str | None) -> str:
    return unicodedata.normalize("NFC", text or "")


@dataclass(frozen=True)
class Attachment:
    type: str                      # image, gif, video, audio, file, sticker, link, location, business_card, fallback
    url: str | None = None         # the platform's URL: it expires, so the worker keeps a copy
    name: str | None = None
    size: int | None = None
    description: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    stored: dict | None = None     # our copy (see bot/media.py), once kept

    def to_document(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


# What an inbound event asks of us: a citizen's message goes through the pipeline; the others
# are recorded and handled without the NLU.
MESSAGE, FOLLOW, UNFOLLOW, USER_INFO = "message", "follow", "unfollow", "user_info"


@dataclass(frozen=True)
class InboundMessage:
    channel: str          # "zalo", "facebook", "web"
    message_id: str       # the platform's id: the dedupe key within a channel
    user_id: str          # the platform's id of the citizen
    text: str             # NFC-normalized; may be empty (a photo, a location, a follow)
    sent_at_ms: int       # the platform's timestamp, milliseconds since the epoch
    event: str = "text"   # the platform's event name, kept for the record
    kind: str = MESSAGE
    attachments: tuple[Attachment, ...] = ()
    payload: str | None = None   # a quick reply's or a button's payload
    reply_to: str | None = None  # the platform id of the message this one quotes
    info: dict = field(default_factory=dict)  # what the citizen shared (name, phone, address)

    def __post_init__(self):
        object.__setattr__(self, "text", nfc(self.text))


@dataclass(frozen=True)
class StaffMessage:
    """A person answered from the platform's own inbox (Zalo's OA chat tool, Meta's Page inbox):
    kept in the history, and the bot leaves the conversation to that person."""
    channel: str
    message_id: str
    user_id: str
    text: str
    sent_at_ms: int
    staff_id: str | None = None
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self):
        object.__setattr__(self, "text", nfc(self.text))


@dataclass(frozen=True)
class Receipt:
    """The citizen's device got (`delivered`) or showed (`seen`) our messages."""
    channel: str
    user_id: str
    status: str
    message_ids: tuple[str, ...] = ()
    watermark_ms: int | None = None  # Messenger: everything sent up to this time


Event = InboundMessage | StaffMessage | Receipt


@dataclass(frozen=True)
class SendResult:
    ok: bool
    platform_message_id: str | None = None
    error_code: str | None = None
    error: str | None = None     # what went wrong, for staff (Vietnamese where shown to them)
    retryable: bool = False      # a later attempt may succeed (rate limit, temporary failure)
    uncertain: bool = False      # the platform got the request but did not answer: it may have been delivered


@dataclass(frozen=True)
class StoredMessage:
    """A citizen's inbound event as the worker takes it from the queue (bot/repository.py makes
    it from the stored document)."""
    id: object            # the database's _id
    channel: str
    message_id: str
    user_id: str
    text: str
    received_ts: float    # when the webhook stored it: the order of a citizen's messages
    kind: str = MESSAGE
    attachments: tuple[dict, ...] = ()  # as stored: the platform's URL, and our copy once kept
    payload: str | None = None
    info: dict = field(default_factory=dict)
    correlation_id: str | None = None
    attempts: int = 0     # attempts that ended before this one (finished, failed or given back)
    errors: int = 0       # of those, the ones that failed
