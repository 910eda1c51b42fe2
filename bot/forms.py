"""The details each kind of case needs, asked one at a time, then confirmed before filing.

A form is a small state kept on the conversation: the category, the values so far, what the bot
is asking now ("confirm" once everything required is there, "fix" while the citizen picks what to
correct). `start` and `advance` are pure: they take the state and the understood message and
return the next state, the reply, and — once confirmed — what to file."""
from __future__ import annotations

import re
from dataclasses import dataclass

from bot import texts
from nlu.client import Parse
from nlu.text import strip_diacritics

CONFIRM, EDIT, CANCEL, FIX = "FORM_CONFIRM", "FORM_EDIT", "FORM_CANCEL", "FORM_FIX_"
CANCEL_WORDS = {"huy", "huy bo", "thoi", "thoi khong gui nua", "cancel"}
# Zalo shows no buttons: the summary asks the citizen to type them (texts.CONFIRM_HINT).
SEND_WORDS = {"gui", "gui di", "dong y"}  # not "dung": "dừng" (stop) reads the same without diacritics
EDIT_WORD = "sua"
# A first message made only of these words says what the citizen wants, not what happened:
# it is no description ("tôi muốn phản ánh", "xin hỗ trợ", "cho em hỏi về sức khỏe").
REQUEST_WORDS = set("cho toi em minh tui chau con muon can xin duoc co phan anh to giac bao gop y kien nghi de "
                    "ho tro giup do tu van hoi ve suc khoe a voi nhe oi tong dai 1022".split())
CONFIRM_CHOICES = (("Gửi", CONFIRM), ("Sửa thông tin", EDIT), ("Hủy", CANCEL))


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    question: str
    required: bool = True
    entities: tuple[str, ...] = ()  # NLU entities that fill it without asking


WHERE = ("commune", "district")
FORMS: dict[str, tuple[Field, ...]] = {
    "report": (
        Field("description", "Nội dung", texts.ASK_DETAILS["report"]),
        Field("place", "Địa điểm", texts.ASK_PLACE, entities=WHERE),
        Field("time", "Thời gian", texts.ASK_TIME, entities=("time",)),
        Field("phone", "Số điện thoại liên hệ", "", required=False, entities=("phone",)),
    ),
    "suggestion": (
        Field("description", "Nội dung góp ý", texts.ASK_DETAILS["suggestion"]),
        Field("phone", "Số điện thoại liên hệ", "", required=False, entities=("phone",)),
    ),
    "welfare": (
        Field("description", "Hoàn cảnh", texts.ASK_DETAILS["welfare"]),
        Field("name", "Họ và tên", texts.ASK_NAME, entities=("person_name",)),
        Field("phone", "Số điện thoại", texts.ASK_PHONE, entities=("phone",)),
        Field("place", "Địa chỉ", texts.ASK_ADDRESS, entities=WHERE),
        Field("request", "Đề nghị hỗ trợ", texts.ASK_REQUEST, entities=("support_request",)),
    ),
}


@dataclass
class Step:
    form: dict | None             # the state to keep; None when the form is finished or dropped
    reply: str | None = None
    choices: tuple = ()
    file: dict | None = None      # {"category", "description", "details", "district", "media"}: file it now


def start(category: str, text: str | None, entities: list[dict], now: float) -> Step:
    form = {"category": category, "values": {}, "district": None, "media": [], "asking": None, "updated_ts": now}
    if text and not is_bare_request(text):
        form["values"]["description"] = text
    _fill_from_entities(form, entities)
    return _next(form)


def advance(form: dict, text: str, parse: Parse, payload: str | None, now: float) -> Step:
    form = {**form, "values": dict(form["values"]), "updated_ts": now}
    plain = _plain(text)
    if form["asking"] == "confirm" and payload is None:
        payload = _typed_button(plain)
    # A tapped button means what it says, whatever the NLU makes of its title.
    if payload == CANCEL or (payload not in (CONFIRM, EDIT) and (parse.intent == "cancel" or plain in CANCEL_WORDS)):
        return Step(None, texts.FORM_CANCELLED)
    fields = FORMS[form["category"]]
    if form["asking"] == "confirm":
        if payload == CONFIRM or (parse.intent == "affirm" and not parse.entities):
            return Step(None, file={"category": form["category"], "description": form["values"]["description"],
                                    "details": {k: v for k, v in form["values"].items() if k != "description"},
                                    "district": form["district"], "media": form["media"]})
        if payload == EDIT or parse.intent == "deny":
            named = _field_named(fields, None, plain.removeprefix(EDIT_WORD).strip()) \
                if plain.startswith(EDIT_WORD + " ") else None
            if named:  # "sửa địa điểm"
                return _ask_again(form, named)
            form["asking"] = "fix"
            return Step(form, texts.ASK_WHICH_FIELD, tuple((f.label[:20], FIX + f.name) for f in fields))
        if _fill_from_entities(form, parse.entities):  # e.g. a phone number added at the last step
            return _next(form)
        return Step(form, texts.CONFIRM_HINT + "\n\n" + _summary(form), CONFIRM_CHOICES)
    if form["asking"] == "fix":
        chosen = _field_named(fields, payload, plain)
        if chosen is None:
            return Step(form, texts.ASK_WHICH_FIELD, tuple((f.label[:20], FIX + f.name) for f in fields))
        return _ask_again(form, chosen)
    asked = next(f for f in fields if f.name == form["asking"])
    if not _fill_from_entities(form, parse.entities, only=asked) and text.strip():
        form["values"][asked.name] = text.strip()
    _fill_from_entities(form, parse.entities)
    return _next(form)


def add_media(form: dict, message_id: str, now: float) -> Step:
    """A photo or file sent while the form is open goes with the case."""
    form = {**form, "media": [*form["media"], message_id], "updated_ts": now}
    step = _next(form)
    step.reply = texts.MEDIA_ADDED + ("\n\n" + step.reply if step.reply else "")
    return step


def add_location(form: dict, place: str, now: float) -> Step:
    """A shared location answers "where" (for forms that ask it); otherwise it is kept like a photo."""
    if not any(f.name == "place" for f in FORMS[form["category"]]):
        return Step(form, None)
    form = {**form, "values": {**form["values"], "place": place}, "updated_ts": now}
    return _next(form)


def names_a_field(form: dict, text: str, payload: str | None) -> bool:
    """At the "which detail?" step the answer names a detail, whatever else the NLU hears in it
    ("số điện thoại" sounds to it like asking for a person)."""
    return form["asking"] == "fix" and _field_named(FORMS[form["category"]], payload, _plain(text)) is not None


def is_bare_request(text: str) -> bool:
    words = _plain(text).split()
    return bool(words) and all(word in REQUEST_WORDS for word in words)


def expired(form: dict, now: float, minutes: int) -> bool:
    return now - form.get("updated_ts", 0) > minutes * 60


def _plain(text: str) -> str:
    return re.sub(r"[^\w\s]", "", strip_diacritics(text.lower())).strip()


def _typed_button(plain: str) -> str | None:
    if plain in SEND_WORDS:
        return CONFIRM
    if plain == EDIT_WORD or plain.startswith(EDIT_WORD + " "):
        return EDIT
    return None


def _ask_again(form: dict, chosen: Field) -> Step:
    form["values"].pop(chosen.name, None)
    if chosen.name == "place":
        form["district"] = None
    form["asking"] = chosen.name
    return Step(form, chosen.question or texts.ASK_PHONE)


def _next(form: dict) -> Step:
    for f in FORMS[form["category"]]:
        if f.required and f.name not in form["values"]:
            form["asking"] = f.name
            return Step(form, f.question)
    form["asking"] = "confirm"
    return Step(form, _summary(form), CONFIRM_CHOICES)


def _summary(form: dict) -> str:
    lines = [f"- {f.label}: {form['values'].get(f.name, texts.NOT_GIVEN)}" for f in FORMS[form["category"]]]
    return texts.form_summary(form["category"], lines, asks_phone="phone" not in form["values"])


def _fill_from_entities(form: dict, entities: list[dict], only: Field | None = None) -> bool:
    """Fill empty fields (or just `only`) from entities; returns whether anything was filled."""
    filled = False
    for f in [only] if only else FORMS[form["category"]]:
        if f.name in form["values"] and only is None:
            continue
        values = [e["value"] for name in f.entities for e in entities if e["entity"] == name]
        if values:
            form["values"][f.name] = values[0]
            filled = True
    district = next((e["value"] for e in entities if e["entity"] == "district"), None)
    if district:
        form["district"] = district  # the latest place named routes the case
    return filled


def _field_named(fields, payload: str | None, plain: str) -> Field | None:
    for f in fields:
        if payload == FIX + f.name or (plain and plain in strip_diacritics(f.label.lower())):
            return f
    return None
