"""When a person must take over the chat, and when the bot may speak again.

Triggers (issue 5): the citizen asks for a person; two turns in a row the bot did not
understand; an urgent health message; a message in Khmer script (Trà Vinh has a large Khmer
community, and the model knows only Vietnamese); a person already answered from the platform's
own inbox (see Repository.store_staff_message)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time as clock, timedelta, timezone

from nlu.text import strip_diacritics

VIETNAM = timezone(timedelta(hours=7))
KHMER = re.compile("[\u1780-\u17ff\u19e0-\u19ff]")
# Danger signs in health messages, matched without diacritics (citizens often type without them).
DANGER_SIGNS = re.compile(r"\b(kho tho|tho kho|dau tuc nguc|tuc nguc|tim tai|li bi|lo mo|ngat xiu|bat tinh|"
                          r"co giat|tho doc|tho gap)\b")
SPO2 = re.compile(r"\bspo2\D{0,12}?(\d{2,3})\b")
SPO2_DANGER_BELOW = 94
LOW_CONFIDENCE_TURNS = 2


@dataclass(frozen=True)
class Handoff:
    reason: str        # ask_human, not_understood, urgent_health, khmer, staff_replied
    urgent: bool = False


def is_khmer(text: str) -> bool:
    return bool(KHMER.search(text))


def is_health_emergency(text: str) -> bool:
    plain = strip_diacritics(text.lower())
    if DANGER_SIGNS.search(plain):
        return True
    return any(int(value) < SPO2_DANGER_BELOW for value in SPO2.findall(plain))


def in_working_hours(hours: tuple[clock, clock], now: datetime | None = None) -> bool:
    local = (now or datetime.now(timezone.utc)).astimezone(VIETNAM).time()
    start, end = hours
    return start <= local < end


def parse_working_hours(value: str) -> tuple[clock, clock]:
    """"07:00-21:00" -> (07:00, 21:00), Vietnam time."""
    start, end = (clock.fromisoformat(part.strip()) for part in value.split("-"))
    return start, end
