"""The details each kind of case needs, asked one at a time, then shown for confirmation.

A form is a typed record kept on the conversation: the category, the details so far (the
citizen's own words; a phone or a name normalized), the place as the NLU normalized it, what
the bot is asking now (a field, "confirm" at the summary, "fix" while the citizen picks what to
correct) and how many times it asked it again. Everything here is pure."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Mapping

from bot import texts
from bot.fields import CHECKS, DECLINED, free_place, name_mentioned, request_mentioned
from bot.plain import plain_text
from nlu.client import Parse

CONFIRM, EDIT, CANCEL, FIX = "FORM_CONFIRM", "FORM_EDIT", "FORM_CANCEL", "FORM_FIX_"
CONFIRM_CHOICES = (("Gửi", CONFIRM), ("Sửa thông tin", EDIT), ("Hủy", CANCEL))
ASKING_CONFIRM, ASKING_FIX = "confirm", "fix"
# A first message made only of these words says what the citizen wants, not what happened:
# it is no description ("tôi muốn phản ánh", "xin hỗ trợ", "cho em hỏi về sức khỏe").
REQUEST_WORDS = set("cho toi em minh tui chau con muon can xin duoc co phan anh to giac bao gop y kien nghi de "
                    "ho tro giup do tu van hoi ve suc khoe a voi nhe oi tong dai 1022 ad anh chi oi dang ky cai chut "
                    "xiu ti di ne ha viec nay".split())


@dataclass(frozen=True)
class Field:
    name: str
    label: str
    question: str
    why: str = ""                     # said when the citizen asks why, or will not give it
    required: bool = True
    declinable: bool = False          # the citizen may decline it; the form goes on without it
    asked: bool = True                # optional details that are only offered at the summary are not asked
    entities: tuple[str, ...] = ()    # NLU entities that fill it without asking


WHERE = ("commune", "district")
PHONE_OFFERED = Field("phone", "Số điện thoại liên hệ", texts.ASK_PHONE, texts.WHY_PHONE, required=False,
                      declinable=True, asked=False, entities=("phone",))
FORMS: dict[str, tuple[Field, ...]] = {
    "report": (
        Field("description", "Nội dung", texts.ASK_DETAILS["report"]),
        Field("place", "Địa điểm", texts.ASK_PLACE, texts.WHY_PLACE, entities=WHERE),
        Field("time", "Thời gian", texts.ASK_TIME, texts.WHY_TIME, declinable=True, entities=("time",)),
        PHONE_OFFERED,
    ),
    "suggestion": (
        Field("description", "Nội dung góp ý", texts.ASK_DETAILS["suggestion"]),
        PHONE_OFFERED,
    ),
    "welfare": (
        Field("description", "Hoàn cảnh", texts.ASK_DETAILS["welfare"]),
        Field("name", "Họ và tên", texts.ASK_NAME, texts.WHY_NAME, entities=("person_name",)),
        Field("phone", "Số điện thoại", texts.ASK_PHONE, texts.WHY_PHONE, declinable=True, entities=("phone",)),
        Field("place", "Địa chỉ", texts.ASK_ADDRESS, texts.WHY_PLACE, entities=WHERE),
        Field("request", "Đề nghị hỗ trợ", texts.ASK_REQUEST, texts.WHY_REQUEST, declinable=True,
              entities=("support_request",)),
    ),
}
# Details that mean the same in every form: carried over when the citizen switches service.
PORTABLE = ("place", "phone", "name", "time")


@dataclass(frozen=True)
class Form:
    category: str
    values: Mapping[str, str] = field(default_factory=dict)
    declined: tuple[str, ...] = ()
    district: str | None = None      # normalized, routes the case
    commune: str | None = None       # normalized
    media: tuple[str, ...] = ()      # ids of messages whose photos go with the case
    asking: str | None = None
    retries: int = 0                 # times the current question was asked again
    updated_ts: float = 0.0

    @property
    def fields(self) -> tuple[Field, ...]:
        return FORMS[self.category]

    def field(self, name: str) -> Field | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_document(self) -> dict:
        return {"category": self.category, "values": dict(self.values), "declined": list(self.declined),
                "district": self.district, "commune": self.commune, "media": list(self.media),
                "asking": self.asking, "retries": self.retries, "updated_ts": self.updated_ts}

    @classmethod
    def from_document(cls, doc: dict) -> "Form":
        return cls(category=doc["category"], values=dict(doc.get("values") or {}),
                   declined=tuple(doc.get("declined") or ()), district=doc.get("district"),
                   commune=doc.get("commune"), media=tuple(doc.get("media") or ()), asking=doc.get("asking"),
                   retries=int(doc.get("retries") or 0), updated_ts=float(doc.get("updated_ts") or 0.0))


def start(category: str, text: str | None, parse: Parse | None, now: float, carried: Form | None = None) -> Form:
    """A new form, with what the first message (and a form the citizen switched from) already says."""
    form = Form(category, updated_ts=now)
    if carried:
        names = {f.name for f in form.fields}
        form = replace(form, values={k: v for k, v in carried.values.items() if k in PORTABLE and k in names},
                       district=carried.district, commune=carried.commune, media=carried.media)
    if text and not is_bare_request(text) and says_what_happened(text, parse):
        form = with_value(form, "description", text.strip())
    form = fill_from_entities(form, text or "", parse) if parse else form
    for name, mentioned in (("name", name_mentioned), ("request", request_mentioned)):
        if text and form.field(name) and name not in form.values and (found := mentioned(text)):
            form = with_value(form, name, found)
    return form


def with_value(form: Form, name: str, value: str) -> Form:
    return replace(form, values={**form.values, name: value}, declined=tuple(d for d in form.declined if d != name))


def declined(form: Form, name: str) -> Form:
    values = {k: v for k, v in form.values.items() if k != name}
    return replace(form, values=values, declined=(*form.declined, name) if name not in form.declined else form.declined)


def fill_from_entities(form: Form, text: str, parse: Parse, only: str | None = None) -> Form:
    """Fill empty fields from the NLU's entities; the place keeps the citizen's own words."""
    for f in form.fields:
        if (only and f.name != only) or (not only and f.name in form.values) or not f.entities:
            continue
        found = [e for e in parse.entities if e["entity"] in f.entities]
        if found:
            value = place_words(text, found) if f.name == "place" else found[0]["value"]
            form = with_value(form, f.name, value)
    return routed_where_named(form, parse)


def routed_where_named(form: Form, parse: Parse) -> Form:
    """The latest place named routes the case."""
    commune = next((e["value"] for e in parse.entities if e["entity"] == "commune"), None)
    district = next((e["value"] for e in parse.entities if e["entity"] == "district"), None)
    if commune or district:
        return replace(form, commune=commune, district=district or (form.district if commune else None))
    return form


_SEGMENT = re.compile(r"[^,.;!?\n]+")
_PLACE_MARKER = re.compile(r"\b(?:ap|khom|to|so|so nha|hem|duong|gan|canh|ke|truoc|sau|doi dien|ngay|cho|dau|cuoi|"
                           r"xa|phuong|thi tran|huyen|thi xa|thanh pho|tp|tx)\b")
_LANDMARK_START = re.compile(r"^\s*(?:gần|gan|cạnh|canh|kế|ke|trước|truoc|sau|đối diện|doi dien|ngay|chỗ|cho|đầu|dau|"
                             r"cuối|cuoi|bên|ben)\b", re.IGNORECASE)
_PLACE_OPENING = re.compile(r"(?:^|\s)(?:ở|o|tại|tai|khu vực|khu vuc)\s+", re.IGNORECASE)


def place_words(text: str, entities: list[dict]) -> str:
    """The citizen's words for where: the hamlet or khóm, house number or landmark before and
    after the commune the NLU read ("ở ấp Chợ, xã Đại Phước, huyện Càng Long, gần chợ")."""
    spans = [(e["start"], e["end"]) for e in entities if e.get("start") is not None]
    if not spans:
        return ", ".join(e["value"] for e in entities)
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    segments = [m.span() for m in _SEGMENT.finditer(text)]
    i = next(k for k, (s, e) in enumerate(segments) if s <= first < e or first < s)
    j = next((k for k, (s, e) in enumerate(segments) if s < last <= e), i)
    while i > 0 and text[segments[i - 1][1]] == "," and _PLACE_MARKER.search(plain_text(text[slice(*segments[i - 1])])) \
            and not _PLACE_OPENING.search(text[segments[i][0]:first]):
        i -= 1
    end = last
    if _LANDMARK_START.match(text[last:segments[j][1]]):
        end = segments[j][1]
    elif j + 1 < len(segments) and text[segments[j][1]] == "," and _LANDMARK_START.match(text[slice(*segments[j + 1])]):
        end = segments[j + 1][1]
    start = segments[i][0]
    opening = [m.end() for m in _PLACE_OPENING.finditer(text, start, first + 1)]
    words = text[(opening[-1] if opening else start):end]
    return words.strip(" ,") or text.strip()


def next_question(form: Form) -> tuple[Form, str, tuple]:
    """What to ask next: the first required (or asked) detail not given nor declined, else the summary."""
    for f in form.fields:
        if f.name not in form.values and f.name not in form.declined and f.asked:
            return replace(form, asking=f.name, retries=0), f.question, ()
    return replace(form, asking=ASKING_CONFIRM, retries=0), summary(form), CONFIRM_CHOICES


def answer(form: Form, text: str, parse: Parse) -> tuple[Form, str] | None:
    """The message as an answer to the detail asked: (the form with it, "value" or "declined"),
    or None when it is no answer to that detail."""
    asked = form.field(form.asking or "")
    if asked is None:
        return None
    value = CHECKS[asked.name](text, parse)
    if value is None and asked.name == "place" and form.retries:  # a hamlet the NLU does not know
        value = free_place(text, parse)
    if value is None:
        return None
    if value == DECLINED:
        return (declined(form, asked.name), "declined") if asked.declinable else (form, "declined")
    return fill_from_entities(with_value(form, asked.name, value), text, parse), "value"




def other_details(form: Form, text: str, parse: Parse) -> tuple[Form, list[str]]:
    """What the message gives for details other than the one asked (a citizen often answers the
    next question first, or all at once): kept, or declined when it says so. Returns the labels."""
    noted = []
    for f in form.fields:
        if f.name in (form.asking, "description"):
            continue
        if f.declinable and f.name not in form.values and f.name in ("phone", "time") \
                and mentions(text, f.name) and CHECKS[f.name](text, parse) == DECLINED:
            form, _ = declined(form, f.name), noted.append(f.label)
            continue
        if f.entities and any(e["entity"] in f.entities for e in parse.entities):
            value = CHECKS[f.name](text, parse) if f.name == "place" else None
            form = routed_where_named(with_value(form, f.name, value), parse) if value not in (None, DECLINED) \
                else fill_from_entities(form, text, parse, only=f.name)
            noted.append(f.label)
    return form, noted


def ask_again(form: Form, name: str) -> tuple[Form, str]:
    """The citizen chose to correct `name`: forget it and ask it again."""
    f = form.field(name)
    values = {k: v for k, v in form.values.items() if k != name}
    form = replace(form, values=values, declined=tuple(d for d in form.declined if d != name), asking=name, retries=0)
    if name == "place":
        form = replace(form, district=None, commune=None)
    return form, f.question


# How citizens name each detail when they want to correct it ("sửa địa chỉ", "sai số điện thoại").
_FIELD_WORDS = {"description": r"noi dung|mo ta|hoan canh|gop y|su viec",
                "place": r"dia chi|dia diem|noi|cho|o dau|ap|xa|huyen",
                "time": r"thoi gian|gio|ngay|luc nao|khi nao",
                "phone": r"so dien thoai|dien thoai|so dt|sdt|so",
                "name": r"ho va ten|ho ten|ten",
                "request": r"de nghi|ho tro|can gi|xin gi"}


def field_named(form: Form, payload: str | None, text: str) -> Field | None:
    plain = plain_text(text).removeprefix("sua").strip()
    for f in form.fields:
        label = plain_text(f.label)
        if payload == FIX + f.name or len(plain) >= 3 and (re.search(rf"\b{re.escape(plain)}\b", label)
                                                            or re.search(rf"\b{re.escape(label)}\b", plain)):
            return f
    if len(plain.split()) <= 5:
        return next((f for f in form.fields if mentions(plain, f.name)), None)
    return None


def mentions(text: str, name: str) -> bool:
    return bool(re.search(rf"\b(?:{_FIELD_WORDS[name]})\b", plain_text(text)))


def complete(form: Form) -> bool:
    return all(f.name in form.values or f.name in form.declined or not f.required for f in form.fields)


def fix_choices(form: Form) -> tuple:
    return tuple((f.label[:20], FIX + f.name) for f in form.fields)


_WHERE_AND_CONTACT = re.compile(r"\b(?:ap|khom|to|xa|phuong|thi tran|huyen|thi xa|thanh pho|tp|tx|nha so|so nha|duong)"
                                r" (?:\d+\w*|\w+(?: \w+)?)|\b(?:o|tai|so dien thoai|dien thoai|lien he|so)\b")


def says_what_happened(text: str, parse: Parse | None) -> bool:
    """"phản ánh ở ấp Phú Thọ xã Hòa Lợi, sđt 0907…" names a place and a phone, not what happened."""
    spans = sorted((e["start"], e["end"]) for e in (parse.entities if parse else []) if e.get("start") is not None)
    kept, at = [], 0
    for start, end in spans:
        kept.append(text[at:start])
        at = max(at, end)
    rest = plain_text(" ".join(kept) + " " + text[at:])
    words = [w for w in _WHERE_AND_CONTACT.sub(" ", rest).split() if w not in REQUEST_WORDS and not w.isdigit()]
    return len(words) >= 2


def is_bare_request(text: str) -> bool:
    words = plain_text(text).split()
    return bool(words) and all(word in REQUEST_WORDS for word in words)


def expired(form: Form, now: float, minutes: int) -> bool:
    return now - form.updated_ts > minutes * 60


def summary(form: Form) -> str:
    lines = []
    for f in form.fields:
        value = form.values.get(f.name)
        if f.name == "place" and value and form.commune and plain_text(form.commune) not in plain_text(value):
            value = f"{value} ({form.commune})"
        elif f.name == "place" and value and form.district and plain_text(form.district) not in plain_text(value):
            value = f"{value} ({form.district})"
        lines.append(f"- {f.label}: {value or texts.NOT_GIVEN}")
    return texts.form_summary(form.category, lines, offers_phone="phone" not in form.values
                              and "phone" not in form.declined)


def details(form: Form) -> dict:
    """What the case keeps: the citizen's words for each detail, and the normalized commune."""
    kept = {k: v for k, v in form.values.items() if k != "description"}
    if form.commune:
        kept["commune"] = form.commune
    return kept
