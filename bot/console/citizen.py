"""The citizen beside a chat or a case: who they are as far as we know, and their other cases and
conversations, across Zalo, Messenger and the web when a phone number links them."""
from __future__ import annotations

from flask_login import current_user

from bot.console import format as vn
from bot.console.access import repository

SHOWN = 20


def citizen_panel(channel: str, user_id: str) -> dict:
    conversation = repository().find_conversation(channel, user_id) or {}
    own, _ = repository().find_cases(channel=channel, user_id=user_id, limit=SHOWN)
    profile_phone = vn.normalize_phone((conversation.get("profile") or {}).get("phone"))
    numbers = ({vn.normalize_phone(_phone(c)) for c in own} | {profile_phone}) - {""}
    linked = [case for number in sorted(numbers) for case in repository().find_cases(phone=number, limit=SHOWN)[0]]
    cases = {c["code"]: c for c in [*own, *linked]}.values()
    if current_user.role == "agency":  # another agency's case is not disclosed, even here
        cases = [c for c in cases if c.get("agency") == current_user.agency]
    cases = sorted(cases, key=lambda c: c.get("created_ts", 0), reverse=True)
    # A number is shown in full when the rule (per category) lets this person see it on one of the
    # cases it came with; a number the citizen gave the platform itself, to the hotline.
    phones: dict[str, bool] = {}
    for case in cases:
        number = vn.normalize_phone(_phone(case))
        if number:
            phones[number] = phones.get(number, False) or current_user.may_see_phone(case["category"])
    if profile_phone and current_user.is_hotline:
        phones[profile_phone] = phones.get(profile_phone, False) or current_user.may_see_phone(None)
    others = []
    if current_user.is_hotline:
        pairs = sorted({(c["channel"], c["user_id"]) for c in cases} - {(channel, user_id)})
        others = repository().conversations_of(pairs)
    latest = cases[0] if cases else {}
    name = (conversation.get("profile") or {}).get("name") or next(
        ((c.get("details") or {}).get("name") for c in cases if (c.get("details") or {}).get("name")), None)
    return {
        "name": name,
        "phones": [number if visible else vn.mask_phone(number) for number, visible in phones.items()],
        "district": latest.get("district"),
        "channel": channel,
        "cases": cases,
        "conversations": others,
    }


def _phone(case: dict) -> str | None:
    return (case.get("details") or {}).get("phone")
