"""What the bot does with one understood message. Reads as a table: intent -> decision."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable

from bot import forms, texts
from bot.handoff import Handoff, LOW_CONFIDENCE_TURNS, is_health_emergency, is_khmer
from bot.repository import SERVICE_CATEGORIES
from nlu.client import Parse
from nlu.text import strip_diacritics

# The NLU answers nlu_fallback below the threshold chosen from its evaluation (nlu/README.md);
# this is the dialogue's own floor, for an NLU server configured without one.
CONFIDENCE_THRESHOLD = 0.4
REOPEN = re.compile(r"\b(mo lai|chua (duoc )?(xu ly|giai quyet|khac phuc)|van (con|chua|tiep tuc)|tai dien|"
                    r"khong (duoc )?xu ly)\b")
REOPEN_DAYS = 30
LOOKUP = re.compile(r"\b(tra cuu|kiem tra|ho so|tinh trang|sao roi|toi dau|den dau|xu ly chua)\b")
GET_STARTED = "GET_STARTED"  # the payload of Messenger's "Get Started" button
CASE_CODE = re.compile(r"\bTV[-\s]?([A-HJ-NP-Z2-9]{6})\b", re.IGNORECASE)

SMALL_TALK = {
    "greet": texts.GREETING,
    "thanks": texts.THANKS,
    "goodbye": texts.GOODBYE,
    "bot_challenge": texts.BOT_CHALLENGE,
    "affirm": texts.ACKNOWLEDGED,
    "deny": texts.ACKNOWLEDGED,
    "cancel": texts.NOTHING_TO_CANCEL,
}


@dataclass(frozen=True)
class Decision:
    reply: str | None = None
    file_case: str | None = None  # a category: the pipeline files the case and sends its code
    choices: tuple = ()           # (title, payload) buttons offered with the reply
    handoff: Handoff | None = None  # a person takes the chat; the bot says so and goes silent
    urgent: bool = False          # the case is urgent
    not_understood: bool = False  # counts toward the hand-off after repeated misunderstanding
    district: str | None = None   # where, when the message says: routes the case
    details: dict | None = None   # what a confirmed form collected (bot/forms.py)
    reopen: str | None = None     # the code of a resolved case the citizen says is not fixed


WITH_SERVICE_CHOICES = {texts.GREETING, texts.NOT_UNDERSTOOD}


def for_payload(payload: str | None) -> Decision | None:
    """Messenger's Get Started button."""
    if payload == GET_STARTED:
        return Decision(reply=texts.GREETING, choices=texts.SERVICE_CHOICES)
    return None


def category_of(payload: str | None) -> str | None:
    """One of the services offered as buttons, tapped: its form starts."""
    category = (payload or "").removeprefix(texts.CATEGORY_PAYLOAD)
    return category if payload and payload.startswith(texts.CATEGORY_PAYLOAD) and category in texts.ASK_DETAILS else None


def health_guidance(text: str) -> str:
    """General guidance from the curated texts, never a diagnosis."""
    plain = strip_diacritics(text.lower())
    if re.search(r"\b(f0|cach ly|tai nha|duong tinh)\b", plain):
        topic = "home_care"
    elif re.search(r"\b(xet nghiem|test|tiem|vac ?xin|vaccine)\b", plain):
        topic = "testing"
    else:
        topic = "general"
    return f"{texts.HEALTH_GUIDANCE[topic]} {texts.HEALTH_DISCLAIMER}"


def find_case_code(text: str) -> str | None:
    match = CASE_CODE.search(text)
    return f"TV-{match.group(1).upper()}" if match else None


def before_nlu(text: str) -> Decision | None:
    """What needs no understanding of the intent: Khmer script, danger signs of a health emergency."""
    if is_khmer(text):
        return Decision(handoff=Handoff("khmer"))
    if is_health_emergency(text):
        return Decision(reply=texts.EMERGENCY_ADVICE, file_case="health_advice", urgent=True,
                        handoff=Handoff("urgent_health", urgent=True))
    return None


def decide(text: str, parse: Parse, case_of_this_user: Callable[[str], dict | None],
           not_understood_before: int = 0) -> Decision:
    decision = _decide(text, parse, case_of_this_user)
    if parse.intent == "ask_human":
        return Decision(handoff=Handoff("ask_human"))
    if decision.not_understood and not_understood_before + 1 >= LOW_CONFIDENCE_TURNS:
        return Decision(handoff=Handoff("not_understood"), not_understood=True)
    if decision.reply in WITH_SERVICE_CHOICES:
        return Decision(reply=decision.reply, choices=texts.SERVICE_CHOICES, not_understood=decision.not_understood)
    return decision


def _decide(text: str, parse: Parse, case_of_this_user: Callable[[str], dict | None]) -> Decision:
    code = find_case_code(text)
    plain = strip_diacritics(text.lower())
    if code and REOPEN.search(plain):
        return _reopen(code, case_of_this_user)
    # A tracking code with a lookup word, alone, or in a message not otherwise understood: a lookup.
    if code and (parse.intent in ("check_status", "nlu_fallback") or parse.confidence < CONFIDENCE_THRESHOLD
                 or len(text.strip()) <= 12 or LOOKUP.search(plain)):
        return _status(code, case_of_this_user)
    if parse.confidence < CONFIDENCE_THRESHOLD or parse.intent == "nlu_fallback":
        return Decision(reply=texts.NOT_UNDERSTOOD, not_understood=True)
    if parse.intent in SERVICE_CATEGORIES:
        district = next((e["value"] for e in parse.entities if e["entity"] == "district"), None)
        if parse.intent == "health_advice" and forms.is_bare_request(text):  # no question yet
            return Decision(reply=texts.ASK_DETAILS["health_advice"])
        reply = health_guidance(text) if parse.intent == "health_advice" else None
        return Decision(reply=reply, file_case=parse.intent, district=district)
    if parse.intent == "check_status":
        return Decision(reply=texts.ASK_CASE_CODE)
    if parse.intent in SMALL_TALK:
        return Decision(reply=SMALL_TALK[parse.intent])
    return Decision(reply=texts.NOT_UNDERSTOOD, not_understood=True)  # out_of_scope: not understood either


def _reopen(code: str, case_of_this_user: Callable[[str], dict | None]) -> Decision:
    """A citizen may re-open their case within 30 days of its resolution (PLATFORMS.md practice)."""
    case = case_of_this_user(code)
    if case is None:
        return Decision(reply=texts.CASE_NOT_FOUND.format(code=code))
    if case["status"] != "resolved":
        return Decision(reply=texts.case_status(case["code"], case["category"], case["status"], case.get("agency_name")))
    if time.time() - case.get("resolved_ts", 0) > REOPEN_DAYS * 86400:
        return Decision(reply=texts.REOPEN_TOO_LATE.format(code=code, days=REOPEN_DAYS))
    return Decision(reply=texts.REOPENED.format(code=code), reopen=code)


def _status(code: str, case_of_this_user: Callable[[str], dict | None]) -> Decision:
    case = case_of_this_user(code)
    if case is None:
        return Decision(reply=texts.CASE_NOT_FOUND.format(code=code))
    return Decision(reply=texts.case_status(case["code"], case["category"], case["status"], case.get("agency_name")))
