"""The hotline's staffed hours, in Vietnam time: outside them the bot says honestly that a
person will answer later, and that 115 is the number for an emergency."""
from __future__ import annotations

from datetime import datetime, time as clock, timedelta, timezone

VIETNAM = timezone(timedelta(hours=7))


def in_working_hours(hours: tuple[clock, clock], now: datetime | None = None) -> bool:
    local = (now or datetime.now(timezone.utc)).astimezone(VIETNAM).time()
    start, end = hours
    if start == end:  # "00:00-00:00": staffed around the clock
        return True
    return start <= local < end if start < end else not end <= local < start  # "22:00-06:00" spans midnight


def parse_working_hours(value: str) -> tuple[clock, clock]:
    """"07:00-21:00" -> (07:00, 21:00), Vietnam time."""
    start, end = (clock.fromisoformat(part.strip()) for part in value.split("-"))
    return start, end
