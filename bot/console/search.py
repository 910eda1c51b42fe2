"""What staff type in a search box, read as a case code, a full phone number or its last digits."""
from __future__ import annotations

import re

from bot.console import format as vn

# "TV-ABC234", "tv abc234", "tvabc234", "abc234": the code without caring for case or the prefix.
CASE_CODE = re.compile(r"^(?:TV-?)?([A-Z0-9]{6})$")
PHONE_ENDING = re.compile(r"^\d{3,9}$")  # the last digits of a phone number, as read out on a call


def search_terms(q: str) -> dict:
    """find_cases' filters for `q`."""
    compact = re.sub(r"[\s.]", "", q.upper())
    code = CASE_CODE.match(compact)
    if code and not compact.isdigit():
        return {"code": "TV-" + code.group(1)}
    phone = vn.normalize_phone(q)
    if PHONE_ENDING.match(phone):
        return {"phone_ending": phone}
    return {"phone": phone or compact}
