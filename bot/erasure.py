"""Erasing a citizen's personal data (Nghị định 13/2023/NĐ-CP), for an approved request
("xóa dữ liệu của tôi") and for the retention job: what they wrote, their names, phone numbers,
addresses, photos and files go; what the statistics count stays (a case's category, district,
agency, status, times and rating), so the dashboard's totals do not move.

After an approved request nothing links the data kept to the person: their platform id is
replaced everywhere by a pseudonym (not derived from it), their conversation is deleted, and the
names and numbers they gave are struck from what staff wrote about their cases (notes, the audit
log, alerts). Files under var/media/ are deleted unless another message still uses them."""
from __future__ import annotations

import re
import secrets
import unicodedata

from bot.media import MediaStore
from bot.repository import Repository

ERASED = "[đã xóa]"
CITIZEN_NOTE_ERASED = "[Nội dung người dân gửi đã xóa]"
KEPT_DETAILS = ("topic",)  # what a case's details keep: the health topic, for the figures


def pseudonym() -> str:
    return "an-" + secrets.token_hex(8)


def _phone_pattern(phone: str) -> str | None:
    """0912345678 as typed in any way: +84 912 345 678, 0912.345.678, 0912-345678."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("84"):
        digits = "0" + digits[2:]
    if len(digits) < 8:
        return None
    rest = r"[\s.\-]?".join(digits[1:])
    return rf"(?:\+?84[\s.\-]?|0){rest}(?!\d)"


def needles(values: list[str]) -> re.Pattern | None:
    """One pattern for every personal value to strike out of text staff wrote."""
    parts = []
    for value in {unicodedata.normalize("NFC", v).strip() for v in values if v and len(v.strip()) >= 4}:
        digits = re.sub(r"\D", "", value)
        phone = _phone_pattern(value) if re.fullmatch(r"[\d\s.+\-()]+", value) and 9 <= len(digits) <= 12 else None
        parts.append(phone or re.escape(value))
    return re.compile("|".join(sorted(parts, key=len, reverse=True)), re.IGNORECASE) if parts else None


def scrub(value, pattern: re.Pattern | None):
    """`value` (text, or lists and dicts of it) with every personal value struck out."""
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(ERASED, unicodedata.normalize("NFC", value))
    if isinstance(value, list):
        return [scrub(v, pattern) for v in value]
    if isinstance(value, dict):
        return {k: scrub(v, pattern) for k, v in value.items()}
    return value


def personal_values(cases: list[dict], profile: dict | None) -> list[str]:
    """What names or reaches the citizen, as they gave it: for striking it out of staff's notes."""
    found = []
    for case in cases:
        details = case.get("details") or {}
        found += [str(details[k]) for k in ("name", "phone", "address", "place") if details.get(k)]
    for key in ("name", "phone"):
        if (profile or {}).get(key):
            found.append(str(profile[key]))
    return found


def forget_media(repository: Repository, media: MediaStore, stored: list[dict]) -> int:
    """Delete the kept files no other message uses any more. Returns how many went."""
    deleted = 0
    for item in {s["sha256"]: s for s in stored if s.get("sha256")}.values():
        if repository.media_in_use(item["sha256"]):
            continue
        path = media.path_of(item)
        if path.is_file():
            path.unlink()
            deleted += 1
    return deleted


def stored_files(attachments) -> list[dict]:
    return [a["stored"] for a in attachments or [] if isinstance(a, dict) and a.get("stored")]


def strip_case(repository: Repository, case: dict, **fields) -> None:
    details = {k: v for k, v in (case.get("details") or {}).items() if k in KEPT_DETAILS}
    repository.anonymise_case(case["code"], details=details, **fields)


def erase_account(repository: Repository, media: MediaStore, channel: str, user_id: str) -> dict:
    """Everything kept about one account (an approved request). Returns what was erased, counted."""
    alias = pseudonym()
    rename = lambda text: text.replace(user_id, alias) if isinstance(text, str) else text  # noqa: E731
    cases = repository.account_cases(channel, user_id)
    conversation = repository.find_conversation(channel, user_id) or {}
    pattern = needles(personal_values(cases, conversation.get("profile")) + [user_id])
    codes = [case["code"] for case in cases]
    for case in cases:
        strip_case(repository, case, user_id=alias, source=rename(case.get("source")),
                   media_messages=[rename(m) for m in case.get("media_messages") or []])
    for event in repository.case_events_of(codes):
        note = CITIZEN_NOTE_ERASED if event.get("by") == "citizen" and event.get("note") else scrub(event.get("note"), pattern)
        if note != event.get("note"):
            repository.rewrite_case_event(event["_id"], note)
    stored = []
    messages = repository.account_messages(channel, user_id)
    for message in messages:
        stored += stored_files(message.get("attachments"))
        repository.anonymise_message(message["_id"], user_id=alias, message_id=rename(message["message_id"]),
                                     in_reply_to=rename(message.get("in_reply_to")))
    repository.delete_conversation(channel, user_id)
    chat_target = f"{channel}:{user_id}"
    for entry in repository.audit_entries_about([chat_target, *codes]):
        repository.rewrite_audit_entry(entry["_id"], target=rename(entry["target"]),
                                       before=scrub(entry.get("before"), pattern), after=scrub(entry.get("after"), pattern))
    for alert in repository.alerts_about(codes, user_id):
        repository.rewrite_alert(alert["_id"], url=rename(alert.get("url")), text=scrub(alert.get("text"), pattern))
    repository.forget_data_requests(channel, user_id, alias)
    for question in repository.account_questions(channel, user_id):
        repository.anonymise_question(question["_id"], user_id=alias, answer=scrub(question.get("answer"), pattern))
    return {"cases": len(cases), "messages": len(messages), "files": forget_media(repository, media, stored),
            "pseudonym": alias}
