"""Checks shared by the platforms' payload parsers: a malformed field is a BadPayload (400)."""
from __future__ import annotations

import json

from bot.channels import BadPayload


def json_object(body: bytes, required: str, kind: type) -> dict:
    """The body as a JSON object whose `required` field is of `kind`."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:  # nested deeper than the parser goes: not an event
        raise BadPayload("body is not JSON") from exc
    if not isinstance(payload, dict) or not isinstance(payload.get(required), kind):
        raise BadPayload(f"no {required}")
    return payload


def obj(value, what: str) -> dict:
    if not isinstance(value, dict):
        raise BadPayload(f"{what} is not an object")
    return value


def ident(value, what: str) -> str:
    """Platform ids are big integers, sometimes sent as strings: kept as strings."""
    if not isinstance(value, (str, int)) or isinstance(value, bool) or value == "":
        raise BadPayload(f"missing {what}")
    return str(value)


def items(value, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise BadPayload(f"{what} is not a list")
    return value


def text_or_none(value) -> str | None:
    """A field stored as text (a payload, a URL, a name): anything else in it is dropped, so a
    subdocument such as {"$gt": ""} never reaches the database or a later query."""
    return value if isinstance(value, str) else None


def ident_or_none(value) -> str | None:
    """An optional platform id (a quoted message's)."""
    if isinstance(value, (str, int)) and not isinstance(value, bool) and value != "":
        return str(value)
    return None


def int64_or_none(value) -> int | None:
    """A count or a time in milliseconds: a non-negative integer the database can hold (8 bytes)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value < 2 ** 63 else None


def number_or_none(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if number == number and abs(number) != float("inf") else None
