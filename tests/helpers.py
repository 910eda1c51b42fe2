"""Small assertions shared by the tests, and the citizen who talks to the bot through the signed webhooks."""
from __future__ import annotations

import io
import itertools
import re
import time
from dataclasses import dataclass

from bot import texts
from tests.conftest import load_fixture, post_facebook, post_zalo

message_numbers = itertools.count(1)
# The sentence a new citizen's first reply ends with (tests/test_personal_data.py checks it).
PRIVACY_NOTE = re.compile(r"\n\n" + re.escape(texts.PRIVACY_NOTE).replace(re.escape(texts.SITE), r"\S+") + "$")


def without_privacy_note(text: str) -> str:
    return PRIVACY_NOTE.sub("", text)


def jpeg(width: int = 64, height: int = 48, rgb: tuple = (180, 40, 40)) -> bytes:
    """A real JPEG photo: the media store keeps only what decodes as one."""
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (width, height), rgb).save(out, "JPEG")
    return out.getvalue()


def database_contents(repository) -> dict[str, int]:
    """Document count of every collection: compared before and after a rejected request.
    The `count` command (exact on a single server) rather than count_documents, which the
    embedded server answers by aggregating every document: 5 ms instead of 25 for a database,
    and the fuzz tests compare thousands of times."""
    db = repository.db
    return {name: db[name].estimated_document_count() for name in db.list_collection_names()}


def inbound(repository) -> list[dict]:
    return list(repository.messages.find({"direction": "in"}))


def the_inbound(repository) -> dict:
    """The one inbound message stored (fails when there is none or more than one)."""
    [message] = inbound(repository)
    return message


@dataclass
class Citizen:
    """One person writing to the OA (Zalo) or the Page (Messenger)."""
    platform: str
    user_id: str
    client: object
    worker: object
    fake: object
    privacy_note: bool = False  # keep the privacy sentence of the first reply in what says() returns

    def says(self, text: str, payload: str | None = None) -> list[str]:
        """Send a line through the signed webhook, let the worker handle it, and return what the
        bot answered this person (nothing, while people hold the chat), the first reply's privacy
        sentence left out unless asked for."""
        before = len(self.fake.texts_to(self.user_id))
        assert self._post(self._message(text, payload)).status_code == 200
        self.worker.drain()
        said = self.fake.texts_to(self.user_id)[before:]
        return said if self.privacy_note else [without_privacy_note(t) for t in said]

    def presses(self, title: str) -> list[str]:
        """Tap the button titled `title` under the last message that had buttons: on Messenger a quick
        reply (its payload), on Zalo the text an oa.query.hide button sends back."""
        for sent in reversed(self.fake.received):
            recipient = sent.get("recipient") or {}
            if self.user_id not in (recipient.get("user_id"), recipient.get("id")):
                continue
            message = sent.get("message") or {}
            if self.platform == "zalo":
                buttons = ((message.get("attachment") or {}).get("payload") or {}).get("buttons") or []
                pressed = next((b["payload"] for b in buttons if b["title"] == title), None)
                if buttons:
                    assert pressed, f"no button {title!r} in {[b['title'] for b in buttons]}"
                    return self.says(pressed)
            elif message.get("quick_replies"):
                pressed = next((q["payload"] for q in message["quick_replies"] if q["title"] == title), None)
                assert pressed, f"no button {title!r} in {[q['title'] for q in message['quick_replies']]}"
                return self.says(title, payload=pressed)
        raise AssertionError(f"no message with buttons was sent to {self.user_id}")

    def is_answered_by_staff(self, text: str) -> None:
        """A person answers from the platform's own inbox (Zalo's OA chat tool, Meta's Page inbox)."""
        if self.platform == "zalo":
            event = load_fixture("zalo", "oa_send_text__by_staff")
            event["recipient"]["id"] = self.user_id
            event["message"].update(text=text, msg_id=f"staff-{next(message_numbers)}")
            event["timestamp"] = str(int(time.time() * 1000))
        else:
            event = load_fixture("facebook", "messages__echo_from_page_inbox")
            echo = event["entry"][0]["messaging"][0]
            echo["recipient"]["id"] = self.user_id
            echo["message"].update(text=text, mid=f"m_staff_{next(message_numbers)}")
        assert self._post(event).status_code == 200
        self.worker.drain()

    def _message(self, text: str, payload: str | None) -> dict:
        number = next(message_numbers)
        if self.platform == "zalo":  # Zalo has no quick replies: citizens type
            assert payload is None
            event = load_fixture("zalo", "user_send_text")
            event["sender"]["id"] = self.user_id
            event["message"].update(text=text, msg_id=f"zmsg-{number}")
            event["timestamp"] = str(int(time.time() * 1000))
            return event
        event = load_fixture("facebook", "messages")
        messaging = event["entry"][0]["messaging"][0]
        messaging["sender"]["id"] = self.user_id
        messaging["timestamp"] = int(time.time() * 1000)
        messaging["message"].update(text=text, mid=f"m_{number}")
        if payload:
            messaging["message"]["quick_reply"] = {"payload": payload}
        return event

    def _post(self, event: dict):
        return (post_zalo if self.platform == "zalo" else post_facebook)(self.client, event)
