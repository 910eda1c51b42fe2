"""Checks shared by the platforms' payload parsers: a malformed field is a BadPayload (400)."""
from __future__ import annotations

import json

from bot.channels import BadPayload


def json_object(body: bytes, required: str, kind: type) -> dict:
    """The body as a JSON object whose `required` field is of `kind`."""
    try:
        payload = json.loads(body)
    except ValueError as exc:
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
