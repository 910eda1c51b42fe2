"""The conversation as a pure state machine: `respond(conversation, turn, understand)` reads one
citizen message in the state the chat is in and returns the replies, the new state and the
effects (a case to file, a note to add, a hand-off...) for the pipeline to apply. It touches no
database and no network: what it needs to know comes through `understand` (the NLU, the
citizen's own cases), so every rule is a table test that runs in microseconds.

The rules, in the order they apply:
 1. The chat waits for a person, or a person holds it: until someone takes it the bot only
    acknowledges (urgent: once a minute, with 115; otherwise once in ten minutes); what the citizen
    says goes on the urgent case; danger signs still raise the alarm.
 2. Danger signs beat everything: 115 advice, an urgent case, an urgent hand-off.
 3. Khmer script: a person, with a Khmer sentence.
 4. A form left too long expires.
 5. "Xem / xóa dữ liệu của tôi" (personal data, Nghị định 13/2023) is answered at any point; an
    open form is kept.
 6. Buttons mean what they say (a rating button rates its resolved case).
 7. A photo or a shared location goes with the open form.
 8. An open form: the answer is checked against the detail asked; a decline, a question, a
    change of mind, a cancel, a switch of service are each dealt with.
 9. Otherwise: a rating typed after a case was resolved, its optional comment, withdraw, re-open,
    look up, ask for a person, a question the knowledge base answers, a service, a rule question
    it cannot answer (for staff, in their list), small talk, off-topic chatter, or not understood
    (two service-like turns: a person).
The first reply a new citizen gets (an emergency's excepted: 115 comes alone) ends with one
sentence on what is kept and why, and the privacy page's address."""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Protocol

from bot import cues, forms, rights, texts
from bot.danger import emergency_line_failed, is_emergency
from bot.forms import Form
from bot.hours import VIETNAM
from bot.plain import plain_text
from nlu.client import Parse
from nlu.text import normalize, strip_diacritics

CONFIDENCE_THRESHOLD = 0.4       # the dialogue's floor, for an NLU server configured without one
SWITCH_CONFIDENCE = 0.6          # a service the citizen switches to mid-form
NOT_UNDERSTOOD_TURNS = 2         # service-like turns not understood in a row: a person takes over
FIELD_RETRIES = 2                # a detail asked again at most twice, then a person is offered
URGENT_ACK_SECONDS = 60
HANDOFF_ACK_SECONDS = 600
REOPEN_DAYS = 30
RATING_DAYS = 7                  # a rating typed, not pressed, counts this long after the resolution
RATING_COMMENT_MINUTES = 30      # after a rating, the next message is its comment for this long
WITHDRAWABLE = ("new", "routed", "reopened")   # until an agency starts work on it
SERVICES = ("report", "suggestion", "welfare", "health_advice")
GET_STARTED, ASK_HUMAN = "GET_STARTED", "ASK_HUMAN"
_KHMER = re.compile("[\u1780-\u17ff\u19e0-\u19ff]")
_SERVICE_WORDS = re.compile(
    r"\b(?:phan anh|to giac|vi pham|tu tap|nhau|dam|khong deo|ho tro|tro cap|goi|mat viec|that nghiep|ngheo|gop y|"
    r"kien nghi|de xuat|nen|benh|sot|ho|dau|tiem|vac xin|vaccine|xet nghiem|test|cach ly|f0|f1|thuoc|ho so|"
    r"chot|phong toa|cong an|ubnd|xa|ap|khom|huyen)\b")
# Chatter a hotline hears every evening: never a request, whatever its length.
_OFF_TOPIC = re.compile(r"\b(?:xo so|ve so|so de|lo de|bong da|da banh|world cup|thoi tiet|du bao|troi (?:mua|nang)|"
                        r"nguoi yeu|ban dat|ban nha|vay tien|tien ao|game|phim|ca si|tu vi|boi toan)\b")
_HEALTH_TOPICS = (("testing", re.compile(r"\b(?:xet nghiem|test|pcr|que thu)\b")),
                  ("vaccine", re.compile(r"\b(?:tiem|vac xin|vaccine|vacxin|mui)\b")),
                  ("home_care", re.compile(r"\b(?:f0|cach ly|tai nha|duong tinh|sot|ho|dau hong|mat vi)\b")))


# ---- what the bot knows and decides --------------------------------------------------------------

@dataclass(frozen=True)
class CaseView:
    """A filed case as the conversation sees it."""
    code: str
    source: str
    category: str
    status: str
    created_ts: float
    channel: str = ""
    user_id: str = ""
    resolved_ts: float | None = None
    district: str | None = None
    topic: str | None = None
    phone: str | None = None
    agency_name: str | None = None
    rating: int | None = None


@dataclass(frozen=True)
class MyData:
    """What is kept about this account ("xem dữ liệu của tôi")."""
    messages: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    media: int = 0
    cases: tuple[CaseView, ...] = ()
    names: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    retention_months: int = 0
    erasure_pending: bool = False


@dataclass(frozen=True)
class Answer:
    """A published knowledge-base entry that answers the citizen's question (bot/knowledge.py)."""
    entry_id: str
    text: str            # the answer
    source: str          # "Nghị quyết 128/NQ-CP ngày 11/10/2021 (Chính phủ)"
    url: str
    updated: str         # dd/mm/yyyy, when staff last changed it
    confidence: float


class Understanding(Protocol):
    form_timeout_minutes: int
    quiet_minutes: int
    working_hours: str  # "07:00-21:00", for the text

    def parse(self, text: str) -> Parse: ...
    def own_cases(self) -> list[CaseView]: ...             # this account's cases, newest first
    def case(self, code: str) -> CaseView | None: ...      # any case by code
    def health_line(self, district: str | None) -> str | None: ...  # "Trung tâm Y tế ...: 0294..." if staff set it
    def answer(self, question: str, district: str | None, day: date) -> Answer | None: ...  # above the threshold
    def my_data(self) -> MyData: ...                       # what is kept about this account


@dataclass(frozen=True)
class Conversation:
    channel: str
    user_id: str
    handler: str = "bot"              # bot | waiting (for a person) | staff (a person holds it)
    handler_since_ts: float = 0.0
    handoff_reason: str | None = None
    urgent: bool = False              # the hand-off is urgent
    form: Form | None = None
    not_understood: int = 0
    menu_offered: bool = False        # the services menu was offered after off-topic chatter
    urgent_case: str | None = None    # source key of the urgent case while its hand-off lasts
    last_ack_ts: float = 0.0          # the last automatic acknowledgement while waiting for a person
    notices_waiting: bool = False     # status notices wait for the citizen's next message (the pipeline's)
    last_question: str | None = None  # source key of the last question answered from the knowledge base
    privacy_told: bool = False        # the first reply said what is kept and why
    rating_comment_for: str | None = None  # the case just rated: the next message may be its comment
    rating_comment_until: float = 0.0


@dataclass(frozen=True)
class Turn:
    message_id: str
    text: str
    now: float
    payload: str | None = None
    attachments: tuple[str, ...] = ()       # types of what came with it: image, video, file, location...
    location: tuple[float, float] | None = None
    in_working_hours: bool = True



@dataclass(frozen=True)
class Reply:
    text: str                  # "{code}" stands for the code of the case this turn files
    choices: tuple = ()


# Effects, applied by the pipeline through bot/cases.py, in order.
@dataclass(frozen=True)
class FileCase:
    category: str
    description: str
    details: dict = field(default_factory=dict)
    district: str | None = None
    media: tuple[str, ...] = ()
    urgent: bool = False


@dataclass(frozen=True)
class AppendToCase:
    text: str
    code: str | None = None
    source: str | None = None   # the case filed from that message (its code may not be known yet)
    district: str | None = None  # a district now named: the case is routed there


@dataclass(frozen=True)
class Withdraw:
    code: str


@dataclass(frozen=True)
class Reopen:
    code: str


@dataclass(frozen=True)
class StartHandoff:
    reason: str
    urgent: bool = False


@dataclass(frozen=True)
class ReturnToBot:
    pass


@dataclass(frozen=True)
class RecordQuestion:
    """A question: answered from `entry_id`, or (None) waiting in staff's list."""
    text: str
    district: str | None = None
    entry_id: str | None = None
    confidence: float = 0.0


@dataclass(frozen=True)
class AskStaff:
    """The citizen wants a person's answer to the question the bot answered (`source`)."""
    source: str


@dataclass(frozen=True)
class Rate:
    code: str
    score: int


@dataclass(frozen=True)
class RateComment:
    code: str
    text: str


@dataclass(frozen=True)
class ShowMyData:
    """Recorded (audited): the citizen asked what is kept about them."""


@dataclass(frozen=True)
class RequestErasure:
    """The citizen asked for their data to be erased: a request for an admin to approve."""


Effect = FileCase | AppendToCase | Withdraw | Reopen | StartHandoff | ReturnToBot | RecordQuestion | AskStaff | Rate \
    | RateComment | ShowMyData | RequestErasure


@dataclass(frozen=True)
class Outcome:
    replies: tuple[Reply, ...]
    state: Conversation
    effects: tuple[Effect, ...] = ()
    facts: dict = field(default_factory=dict)   # for the log line: intent, confidence, form step...


def _out(state: Conversation, *replies: Reply | str | None, effects: tuple = (), **facts) -> Outcome:
    kept = tuple(r if isinstance(r, Reply) else Reply(r) for r in replies if r)
    return Outcome(kept, state, tuple(effects), facts)


class _Memo:
    """The NLU is asked once per turn, and only when a rule needs it."""

    def __init__(self, understand: Understanding, text: str):
        self.understand, self.text, self._parse = understand, text, None

    @property
    def parse(self) -> Parse:
        if self._parse is None:
            self._parse = self.understand.parse(self.text) if self.text.strip() else Parse("nlu_fallback", 0.0, [])
        return self._parse


# ---- the rules ---------------------------------------------------------------------------------

def respond(conversation: Conversation, turn: Turn, understand: Understanding) -> Outcome:
    c, memo, effects = conversation, _Memo(understand, turn.text), ()
    if c.handler != "bot" and turn.now - c.handler_since_ts > understand.quiet_minutes * 60:
        c, effects = _with_bot(c), (ReturnToBot(),)
    if c.handler != "bot":
        return _while_people_hold(c, turn, memo)
    if is_emergency(turn.text):
        return _emergency(c, turn, memo, prior=effects)
    if _KHMER.search(turn.text):
        return _hand_off(c, turn, "khmer", understand, prior=effects)
    expired_note = None
    if c.form and forms.expired(c.form, turn.now, understand.form_timeout_minutes):
        c, expired_note = replace(c, form=None), texts.FORM_EXPIRED
    outcome = _data_rights(c, turn, memo) or _buttons(c, turn, memo) or _attachments(c, turn, memo) \
        or (_in_form(c, turn, memo) if c.form else _free(c, turn, memo))
    replies = (Reply(expired_note), *outcome.replies) if expired_note else outcome.replies
    return _told_privacy(replace(outcome, replies=replies, effects=effects + outcome.effects))


def _told_privacy(outcome: Outcome) -> Outcome:
    """A new citizen's first reply says what is kept and why (Nghị định 13/2023)."""
    if outcome.state.privacy_told or not outcome.replies or outcome.facts.get("handoff") == "urgent_health":
        return outcome
    return replace(outcome, replies=(*outcome.replies, Reply(texts.PRIVACY_NOTE)),
                   state=replace(outcome.state, privacy_told=True))


def _with_bot(c: Conversation) -> Conversation:
    return replace(c, handler="bot", handoff_reason=None, urgent=False, urgent_case=None, not_understood=0,
                   last_ack_ts=0.0)


def _while_people_hold(c: Conversation, turn: Turn, memo: _Memo) -> Outcome:
    """A person holds or will take the chat. The bot stays out of their way, but a citizen is
    never left in silence before someone takes it, and danger still raises the alarm."""
    if is_emergency(turn.text) and not c.urgent_case:
        return _emergency(c, turn, memo)
    taken = c.handler == "staff"  # claimed in the console, or answered from the platform's own inbox
    if c.urgent_case and not taken:
        district = _district(memo.parse)
        append = AppendToCase(turn.text, source=c.urgent_case, district=district)
        if emergency_line_failed(turn.text):
            return _out(replace(c, last_ack_ts=turn.now), texts.emergency_line_failed(memo.understand.health_line(district)),
                        effects=(append,), handoff="urgent_health")
        if turn.now - c.last_ack_ts >= URGENT_ACK_SECONDS:
            return _out(replace(c, last_ack_ts=turn.now), texts.urgent_ack(turn.in_working_hours), effects=(append,), handoff="urgent_health")
        return _out(c, effects=(append,), handoff="urgent_health")
    if c.urgent_case:  # a person holds it: what the citizen adds still goes on the urgent case
        return _out(c, effects=(AppendToCase(turn.text, source=c.urgent_case),), held_by_staff=True)
    if taken or turn.now - c.last_ack_ts < HANDOFF_ACK_SECONDS:
        return _out(c, held_by_staff=True)
    return _out(replace(c, last_ack_ts=turn.now), texts.handoff_ack(turn.in_working_hours, memo.understand.working_hours),
                held_by_staff=True)


def _emergency(c: Conversation, turn: Turn, memo: _Memo, prior: tuple = ()) -> Outcome:
    district = _district(memo.parse) if turn.text.strip() else None
    state = replace(c, handler="waiting" if c.handler != "staff" else "staff", handoff_reason="urgent_health",
                    urgent=True, urgent_case=_source(c, turn), last_ack_ts=0.0, not_understood=0,
                    handler_since_ts=turn.now if c.handler == "bot" else c.handler_since_ts)
    effects = (*prior, FileCase("health_advice", turn.text, {"topic": "emergency"}, district, urgent=True))
    if c.handler != "staff":
        effects += (StartHandoff("urgent_health", urgent=True),)
    reply = texts.emergency(memo.understand.health_line(district), turn.in_working_hours,
                            memo.understand.working_hours, knows_place=district is not None)
    return _out(state, reply, effects=effects, handoff="urgent_health")


def _hand_off(c: Conversation, turn: Turn, reason: str, understand: Understanding, prior: tuple = ()) -> Outcome:
    state = replace(c, handler="waiting", handler_since_ts=turn.now, handoff_reason=reason, urgent=False,
                    urgent_case=None, last_ack_ts=0.0, not_understood=0)
    reply = texts.handoff(reason, turn.in_working_hours, understand.working_hours)
    return _out(state, reply, effects=(*prior, StartHandoff(reason)), handoff=reason)


def _buttons(c: Conversation, turn: Turn, memo: _Memo) -> Outcome | None:
    payload = turn.payload
    if not payload:
        return None
    category = payload.removeprefix(texts.CATEGORY_PAYLOAD) if payload.startswith(texts.CATEGORY_PAYLOAD) else None
    if category == "health_advice":
        return _out(replace(c, form=None), texts.ASK_DETAILS["health_advice"])
    if category in forms.FORMS:
        return _ask_next(c, forms.start(category, None, None, turn.now, carried=c.form))
    if payload == GET_STARTED:
        return _out(c, Reply(texts.GREETING, texts.SERVICE_CHOICES))
    if payload == ASK_HUMAN:
        return _hand_off(c, turn, "ask_human", memo.understand)
    if payload == texts.ASK_STAFF and c.last_question:
        return _out(replace(c, last_question=None), texts.question_noted(turn.in_working_hours, memo.understand.working_hours),
                    effects=(AskStaff(c.last_question),), question="waiting")
    if payload == texts.ASK_STAFF:  # nothing to ask about any more: a person, as asked
        return _hand_off(c, turn, "ask_human", memo.understand)
    if payload.startswith(texts.RATE_PAYLOAD):
        return _rating_button(c, turn, memo, payload)
    if c.form and payload.startswith("FORM_"):
        return _form_button(c, turn, payload)
    return None


def _attachments(c: Conversation, turn: Turn, memo: _Memo) -> Outcome | None:
    if not turn.attachments:
        return None
    form = c.form
    if form and turn.location and form.field("place"):
        lat, lon = turn.location
        form = forms.with_value(form, "place", texts.shared_location(lat, lon))
    elif form and not turn.text.strip():
        form = replace(form, media=(*form.media, turn.message_id))
    if form and not turn.text.strip():
        state, question, choices = forms.next_question(replace(form, updated_ts=turn.now))
        return _out(replace(c, form=state), texts.MEDIA_ADDED, Reply(question, choices))
    if form:
        return _in_form(replace(c, form=replace(form, media=(*form.media, turn.message_id))), turn, memo)
    if not turn.text.strip():
        return _out(c, texts.attachment_received(list(turn.attachments)))
    return None


def _form_button(c: Conversation, turn: Turn, payload: str) -> Outcome:
    form = replace(c.form, updated_ts=turn.now)
    if payload == forms.CANCEL:
        return _out(replace(c, form=None), texts.FORM_CANCELLED)
    if payload == forms.CONFIRM and form.asking == forms.ASKING_CONFIRM:
        return _file(c, form, turn)
    if payload == forms.EDIT:
        return _which_detail(c, form)
    chosen = forms.field_named(form, payload, "")
    if chosen:
        return _correct(c, form, chosen)
    return _ask_next(c, form)  # a stale button: show where we are


def _which_detail(c: Conversation, form: Form, lead: str = texts.ASK_WHICH_FIELD, extra: tuple = (), **facts) -> Outcome:
    return _out(replace(c, form=replace(form, asking=forms.ASKING_FIX)), Reply(lead, forms.fix_choices(form) + extra),
                **facts)


def _correct(c: Conversation, form: Form, chosen: forms.Field, **facts) -> Outcome:
    form, question = forms.ask_again(form, chosen.name)
    return _out(replace(c, form=form), question, **facts)


def _in_form(c: Conversation, turn: Turn, memo: _Memo) -> Outcome:
    form = replace(c.form, updated_ts=turn.now)
    parse = memo.parse
    facts = {"intent": parse.intent, "confidence": round(parse.confidence, 4)}
    if cues.wants_withdraw(turn.text, parse) and _withdrawable(memo):
        return replace(_withdraw(c, turn, memo), state=replace(c, form=form))
    switched = _switch(c, form, turn, memo)
    if switched:
        return switched
    if form.asking == forms.ASKING_CONFIRM:
        return _at_summary(c, form, turn, memo)
    if form.asking == forms.ASKING_FIX:
        return _which_field(c, form, turn, memo, **facts)
    asked = form.field(form.asking)
    answered = forms.answer(form, turn.text, parse)
    declining = answered is not None and answered[1] == "declined"
    # "thôi khỏi" at the phone question declines the phone, not the whole report
    if cues.cancels(turn.text, parse) and not (declining and asked.declinable and "huy" not in plain_text(turn.text)):
        return _out(replace(c, form=None), texts.FORM_CANCELLED, **facts)
    if parse.intent == "ask_human" and not declining and not _entity_for(asked, parse) \
            and parse.confidence >= (SWITCH_CONFIDENCE if answered else CONFIDENCE_THRESHOLD):
        return _hand_off(replace(c, form=form), turn, "ask_human", memo.understand)
    if answered and not declining:
        return _ask_next(c, answered[0], **facts)
    if declining:
        if asked.declinable:
            state, question, choices = forms.next_question(answered[0])
            return _out(replace(c, form=state), texts.DECLINE_OK, Reply(question, choices), **facts)
        return _again(c, form, asked, asked.why, **facts)
    noted_form, noted = forms.other_details(form, turn.text, parse)
    if noted:  # e.g. the address given while the name was asked: kept, and the name asked again
        return _out(replace(c, form=noted_form), texts.noted(noted), asked.question, **facts)
    if parse.intent == "health_advice" and parse.confidence >= SWITCH_CONFIDENCE:
        return _again(c, form, asked, _health_guidance(turn.text), **facts)
    if cues.is_question(turn.text) or parse.intent == "rule_question":
        if _asks_about(turn.text, asked):
            return _again(c, form, asked, asked.why, **facts)
        found = _look_up(turn, memo)  # answered now if staff have; otherwise on their list, as promised
        again = _again(c, form, asked, _answer_text(found) if found else texts.QUESTION_LATER, **facts)
        return replace(again, effects=(_recorded(turn, memo, found),))
    return _again(c, form, asked, texts.NOT_AN_ANSWER, **facts)


def _entity_for(asked: forms.Field, parse: Parse) -> bool:
    return any(e["entity"] in asked.entities for e in parse.entities)


def _which_field(c: Conversation, form: Form, turn: Turn, memo: _Memo, **facts) -> Outcome:
    """The citizen picks the detail to correct; they may also cancel, or go back to the summary."""
    chosen = forms.field_named(form, None, turn.text)
    if chosen:
        return _correct(c, form, chosen, **facts)
    answer = cues.summary_answer(turn.text, memo.parse)
    if answer == cues.CANCEL:
        return _out(replace(c, form=None), texts.FORM_CANCELLED, **facts)
    if answer == cues.YES and forms.complete(form):  # "sai rồi" … "à không, đúng rồi gửi đi"
        return _file(c, form, turn)
    return _which_detail(c, form, **facts)


def _again(c: Conversation, form: Form, asked: forms.Field, before: str, **facts) -> Outcome:
    """Ask the same detail again, at most twice; then offer a person as well."""
    form = replace(form, retries=form.retries + 1)
    question = asked.question + (texts.HOW_TO_DECLINE if asked.declinable else "")
    if form.retries > FIELD_RETRIES:
        return _out(replace(c, form=form), before, Reply(question + "\n\n" + texts.OFFER_PERSON, texts.PERSON_CHOICES),
                    **facts)
    return _out(replace(c, form=form), before, question, **facts)


def _asks_about(text: str, asked: forms.Field) -> bool:
    plain = plain_text(text)
    words = {"name": "ten", "phone": "so|dien thoai|sdt", "place": "dia chi|dia diem|o dau", "time": "gio|luc nao|khi nao",
             "request": "ho tro|xin", "description": "noi dung|mo ta"}.get(asked.name, "")
    return bool(words) and bool(re.search(rf"\b(?:{words})\b", plain))


def _switch(c: Conversation, form: Form, turn: Turn, memo: _Memo) -> Outcome | None:
    """A different service, clearly asked for mid-form: its form, with what fits carried over."""
    parse = memo.parse
    if parse.intent not in SERVICES or parse.intent == form.category or parse.confidence < SWITCH_CONFIDENCE:
        return None
    if form.asking in (forms.ASKING_CONFIRM, forms.ASKING_FIX):
        an_answer = cues.summary_answer(turn.text, parse) != cues.UNCLEAR
    else:
        an_answer = form.asking != "description" and forms.answer(form, turn.text, parse) is not None
    if form.asking != "description" and (len(plain_text(turn.text).split()) < 4 or an_answer and not _says_switch(turn.text)):
        return None
    if parse.intent == "health_advice" and form.asking == "description":
        return _health(replace(c, form=None), turn, memo)
    if parse.intent == "health_advice":  # a symptom mid-form: guidance and its case, then the same question
        health = _health(replace(c, form=form), turn, memo)
        asked = form.field(form.asking)
        again = Reply(asked.question) if asked else Reply(forms.summary(form), forms.CONFIRM_CHOICES)
        return replace(health, replies=(*health.replies, again))
    return _ask_next(c, forms.start(parse.intent, turn.text, parse, turn.now, carried=form),
                     switched_to=parse.intent)


def _says_switch(text: str) -> bool:
    return bool(re.search(r"\b(?:thoi|khong phai|nham|chuyen qua|doi qua|muon|can|xin|ma)\b", plain_text(text)))


def _at_summary(c: Conversation, form: Form, turn: Turn, memo: _Memo) -> Outcome:
    parse = memo.parse
    answer = cues.summary_answer(turn.text, parse)
    if answer == cues.YES:
        return _file(c, form, turn)
    if cues.declines(turn.text, parse) and forms.mentions(turn.text, "phone"):  # "hổng cần số đâu"
        state = _ask_next(c, forms.declined(form, "phone") if "phone" not in form.values else form)
        return replace(state, replies=(Reply(texts.DECLINE_OK), *state.replies))
    if answer == cues.CANCEL:
        return _out(replace(c, form=None), texts.FORM_CANCELLED)
    if answer == cues.EDIT:
        chosen = forms.field_named(form, None, turn.text) if plain_text(turn.text) != "sua" else None
        return _correct(c, form, chosen) if chosen else _which_detail(c, form)
    added = forms.fill_from_entities(form, turn.text, parse)
    if added.values != form.values:  # e.g. a phone number added at the summary
        return _ask_next(c, added)
    if answer == cues.NO:
        return _which_detail(c, form, texts.NOT_SENT_NO, forms.CONFIRM_CHOICES[2:], summary_answer=answer)
    retries = form.retries + 1
    state = replace(c, form=replace(form, retries=retries))
    lead = texts.NOT_SENT_WAIT if answer == cues.WAIT else texts.NOT_SENT_UNCLEAR
    choices = forms.CONFIRM_CHOICES + (texts.PERSON_CHOICES if retries > FIELD_RETRIES else ())
    return _out(state, Reply(lead, choices), summary_answer=answer)


def _ask_next(c: Conversation, form: Form, **facts) -> Outcome:
    state, question, choices = forms.next_question(form)
    return _out(replace(c, form=state, not_understood=0), Reply(question, choices), form=state.asking, **facts)


def _file(c: Conversation, form: Form, turn: Turn) -> Outcome:
    effect = FileCase(form.category, form.values["description"], forms.details(form), form.district, form.media)
    return _out(replace(c, form=None), texts.case_filed(form.category), effects=(effect,), form="filed")


def _free(c: Conversation, turn: Turn, memo: _Memo) -> Outcome:
    """No form open: what does the citizen want?"""
    text, parse = turn.text, memo.parse
    facts = {"intent": parse.intent, "confidence": round(parse.confidence, 4)}
    code = cues.case_code(text)
    rating = _typed_rating(c, turn, memo)
    if rating:
        return rating
    if c.rating_comment_for and turn.now <= c.rating_comment_until and not code and _comments(text, parse):
        return _out(replace(c, rating_comment_for=None, rating_comment_until=0.0),
                    texts.RATING_COMMENT_KEPT.format(code=c.rating_comment_for),
                    effects=(RateComment(c.rating_comment_for, text),), **facts)
    if cues.wants_withdraw(text, parse):
        return _withdraw(c, turn, memo)
    if code and re.search(r"\b(?:mo lai|chua (?:duoc )?(?:xu ly|giai quyet|khac phuc)|van (?:con|chua|tiep tuc)|"
                          r"tai dien|khong (?:duoc )?xu ly)\b", plain_text(text)):
        return _reopen(c, code, turn, memo)
    if code and (parse.intent in ("check_status", "nlu_fallback") or parse.confidence < CONFIDENCE_THRESHOLD
                 or len(text.strip()) <= 12
                 or re.search(r"\b(?:tra cuu|kiem tra|ho so|tinh trang|sao roi|toi dau|den dau|xu ly chua)\b",
                              plain_text(text))):
        return _out(c, _status(code, memo), **facts)
    bad_code = cues.invalid_code(text)
    if bad_code and parse.intent in ("check_status", "nlu_fallback", "out_of_scope") or bad_code and len(text) <= 14:
        return _out(c, texts.INVALID_CODE.format(code=bad_code), **facts)
    if cues.forgot_code(text) or parse.intent == "check_status":
        return _out(c, _own_cases(memo), **facts)
    if parse.intent == "ask_human" and parse.confidence >= CONFIDENCE_THRESHOLD:
        return _hand_off(c, turn, "ask_human", memo.understand)
    confident = parse.confidence >= CONFIDENCE_THRESHOLD and parse.intent != "nlu_fallback"
    found = _look_up(turn, memo) if _asks_for_information(text, parse, confident) else None
    if found:
        return _answered(c, turn, memo, found, parse.intent if confident and parse.intent in SERVICES else None,
                         **facts)
    if confident and parse.intent == "health_advice" or _speaks_of_symptoms(text) and (
            not confident or parse.intent not in SERVICES + ("ask_human", "rule_question", "check_status")):
        return _health(c, turn, memo)
    if confident and parse.intent == "rule_question" or cues.asks_about_a_rule(text) and not _opener(text) and (
            not confident or parse.intent in forms.FORMS):  # "… có được hỗ trợ không" asks; "xin hỗ trợ được không" requests
        return _out(replace(c, last_question=None),
                    Reply(texts.question_noted(turn.in_working_hours, memo.understand.working_hours),
                          _service_choice(parse.intent)),
                    effects=(_recorded(turn, memo, None),), question="waiting", **facts)
    service = parse.intent if confident and parse.intent in forms.FORMS else _opener(text)
    if service:
        return _ask_next(c, forms.start(service, text, parse, turn.now), **facts)
    if confident and parse.intent in ("affirm", "deny", "greet") and cues.is_question(text):
        return _out(c, Reply(texts.GREETING, texts.SERVICE_CHOICES), **facts)  # "có ai không?": someone there?
    if confident and parse.intent in texts.SMALL_TALK:
        choices = texts.SERVICE_CHOICES if parse.intent == "greet" else ()
        return _out(replace(c, not_understood=0), Reply(texts.SMALL_TALK[parse.intent], choices), **facts)
    if confident and parse.intent in ("out_of_scope", "insult"):
        return _off_topic(c, parse.intent, **facts)
    if _OFF_TOPIC.search(plain_text(text)) or not _SERVICE_WORDS.search(plain_text(text)) \
            and len(plain_text(text).split()) < 6:
        return _off_topic(c, "nlu_fallback", **facts)  # chatter the model did not know: not a request
    streak = c.not_understood + 1
    if streak >= NOT_UNDERSTOOD_TURNS:
        return _hand_off(c, turn, "not_understood", memo.understand)
    return _out(replace(c, not_understood=streak), Reply(texts.NOT_UNDERSTOOD, texts.SERVICE_CHOICES),
                not_understood=streak, **facts)


def _asks_for_information(text: str, parse: Parse, confident: bool) -> bool:
    """A question the knowledge base may answer: a rule or information question, a health question
    about no one's symptoms, or a question the model took for a service ("am I eligible for the
    support…" is no request for support yet). Someone's own symptoms get guidance and a case."""
    if confident and parse.intent == "rule_question" or cues.asks_about_a_rule(text):
        return True
    if _speaks_of_symptoms(text):
        return False
    return confident and parse.intent == "health_advice" or cues.is_question(text) and (
        not confident or parse.intent in SERVICES + ("out_of_scope",))


def _citizen_district(memo: _Memo) -> str | None:
    """Where the citizen is: the district they name, else the one of their latest case."""
    return _district(memo.parse) or next((case.district for case in memo.understand.own_cases() if case.district), None)


def _look_up(turn: Turn, memo: _Memo) -> Answer | None:
    return memo.understand.answer(turn.text, _citizen_district(memo), datetime.fromtimestamp(turn.now, VIETNAM).date())


def _recorded(turn: Turn, memo: _Memo, found: Answer | None) -> RecordQuestion:
    return RecordQuestion(turn.text, _citizen_district(memo), found.entry_id if found else None,
                          found.confidence if found else 0.0)


def _answer_text(found: Answer) -> str:
    return texts.knowledge_answer(found.text, found.source, found.url, found.updated)


def _answered(c: Conversation, turn: Turn, memo: _Memo, found: Answer, service: str | None, **facts) -> Outcome:
    """The entry's answer, its source and date; "Hỏi cán bộ" puts the question on staff's list,
    and the service the model heard stays one tap away."""
    return _out(replace(c, last_question=_source(c, turn), not_understood=0),
                Reply(_answer_text(found), texts.ASK_STAFF_CHOICES + _service_choice(service)),
                effects=(_recorded(turn, memo, found),), knowledge_entry=found.entry_id,
                knowledge_confidence=round(found.confidence, 3), **facts)


def _service_choice(intent: str | None) -> tuple:
    """The button of the service the model heard, if it heard one."""
    return tuple(choice for choice in texts.SERVICE_CHOICES if choice[1] == f"{texts.CATEGORY_PAYLOAD}{intent}")


_OPENERS = (("report", re.compile(r"^(?:cho (?:em|tui|toi|minh|con) )?(?:phan anh|to giac|bao cao vi pham)\b")),
            ("suggestion", re.compile(r"^(?:cho (?:em|tui|toi|minh|con) )?(?:gop y|kien nghi|de xuat)\b")),
            ("welfare", re.compile(r"\b(?:xin|can|de nghi|mong)(?: \w+){0,2} (?:ho tro|tro cap|giup do)\b")))


def _opener(text: str) -> str | None:
    """A message the model cannot read that still says which service it is ("phản ánh ở ấp…")."""
    plain = plain_text(text)
    return next((service for service, opener in _OPENERS if opener.search(plain)), None)


def _off_topic(c: Conversation, kind: str, **facts) -> Outcome:
    """A short polite answer; the services menu only once. Never a person's time."""
    text = texts.INSULT_REPLY if kind == "insult" else texts.OFF_TOPIC_REPLY
    if c.menu_offered:
        return _out(c, text, **facts)
    return _out(replace(c, menu_offered=True), Reply(text + "\n\n" + texts.SERVICES, texts.SERVICE_CHOICES), **facts)


def _health(c: Conversation, turn: Turn, memo: _Memo) -> Outcome:
    """Guidance at once, never a diagnosis; one case per topic per day, follow-ups added to it."""
    if forms.is_bare_request(turn.text):
        return _out(c, texts.ASK_DETAILS["health_advice"])
    topic = "vaccine" if health_topic(turn.text) == "vaccine" else "illness"  # one case each a day
    today = datetime.fromtimestamp(turn.now, VIETNAM).date()
    open_case = next((case for case in memo.understand.own_cases()
                      if case.category == "health_advice" and case.topic == topic and case.status in WITHDRAWABLE
                      and datetime.fromtimestamp(case.created_ts, VIETNAM).date() == today), None)
    guidance = _health_guidance(turn.text)
    if open_case:
        return _out(c, guidance + "\n\n" + texts.ADDED_TO_CASE.format(code=open_case.code),
                    effects=(AppendToCase(turn.text, code=open_case.code),), case_code=open_case.code)
    effect = FileCase("health_advice", turn.text, {"topic": topic}, _district(memo.parse))
    return _out(c, guidance, texts.case_filed("health_advice"), effects=(effect,))


# Matched on the text without teencode expansion: "họng" typed "hong" is no "không".
_SYMPTOMS = re.compile(r"\b(?:sot|kho tho|ho (?:khan|dam|nhieu|hoai|lien tuc|it|nhe|co dam)|dau (?:hong|dau|bung|nguoi|minh|co)|rat hong|"
                       r"mat (?:vi|mui)|so mui|nghet mui|tieu chay|buon non|non oi|met moi|nhuc dau|ngua hong|"
                       r"duong tinh|test nhanh|que test|2 vach|hai vach)\b")


def _speaks_of_symptoms(text: str) -> bool:
    return bool(_SYMPTOMS.search(strip_diacritics(normalize(text))))


def health_topic(text: str) -> str:
    plain = plain_text(text)
    return next((topic for topic, words in _HEALTH_TOPICS if words.search(plain)), "general")


def _health_guidance(text: str) -> str:
    return f"{texts.HEALTH_GUIDANCE[health_topic(text)]} {texts.HEALTH_DISCLAIMER}"


# ---- the citizen's side: personal data and the rating of a resolved case -------------------------

def _data_rights(c: Conversation, turn: Turn, memo: _Memo) -> Outcome | None:
    """"Xem dữ liệu của tôi": what is kept, at once; "xóa dữ liệu của tôi": a request an admin
    approves in the console. Both recorded; a form being written is kept and asked again."""
    asked = None if turn.payload else rights.data_request(turn.text)
    if asked is None:
        return None
    data = memo.understand.my_data()
    if asked == rights.VIEW:
        reply, effects = texts.my_data(data), (ShowMyData(),)
    elif data.erasure_pending:
        reply, effects = texts.ERASURE_PENDING, ()
    else:
        reply, effects = texts.ERASURE_REQUESTED, (RequestErasure(),)
    if c.form:
        asked_field = c.form.field(c.form.asking)
        again = Reply(f"{texts.FORM_KEPT}\n{asked_field.question}") if asked_field else \
            Reply(forms.summary(c.form), forms.CONFIRM_CHOICES)
        return _out(c, reply, again, effects=effects, data_request=asked)
    return _out(c, reply, effects=effects, data_request=asked)


def _rating_button(c: Conversation, turn: Turn, memo: _Memo, payload: str) -> Outcome | None:
    if payload == texts.RATE_SKIP:
        return _out(replace(c, rating_comment_for=None, rating_comment_until=0.0), texts.THANKS)
    pressed = re.fullmatch(rf"{texts.RATE_PAYLOAD}([A-HJ-NP-Z2-9]{{6}})_([1-5])", payload)
    return _rate(c, turn, memo, f"TV-{pressed.group(1)}", int(pressed.group(2))) if pressed else None


def _typed_rating(c: Conversation, turn: Turn, memo: _Memo) -> Outcome | None:
    """"5", "4 sao", "rất hài lòng" soon after a case of this account was resolved and not yet rated."""
    score = rights.typed_score(turn.text)
    if score is None:
        return None
    case = next((k for k in memo.understand.own_cases() if k.status == "resolved" and k.rating is None
                 and turn.now - (k.resolved_ts or 0) <= RATING_DAYS * 86400), None)
    return _rate(c, turn, memo, case.code, score) if case else None


def _rate(c: Conversation, turn: Turn, memo: _Memo, code: str, score: int) -> Outcome:
    """A rating of the account's own resolved case (pressed again, it replaces the first). Unless a
    form is being written, the next message within half an hour may say why."""
    case = next((k for k in memo.understand.own_cases() if k.code == code), None)
    if case is None:
        return _out(c, texts.CASE_NOT_FOUND.format(code=code))
    if case.status != "resolved":
        return _out(c, texts.RATING_NOT_YET.format(code=code))
    state = c if c.form else replace(c, rating_comment_for=code,
                                     rating_comment_until=turn.now + RATING_COMMENT_MINUTES * 60)
    return _out(state, Reply(texts.rated(code, score), () if c.form else texts.RATING_SKIP_CHOICES),
                effects=(Rate(code, score),), rating=score, case_code=code)


# After a rating: handling words make a comment; a clear new request or small talk does not.
_ABOUT_HANDLING = re.compile(r"(?:xu ly|can bo|giai quyet|nhanh|cham|lau|tot|te|kem|thai do|nhiet tinh|hai long|"
                             r"khong (?:ai|thay)|chua (?:thay|xong|het)|van con|cam on)")


def _comments(text: str, parse: Parse) -> bool:
    plain = plain_text(text)
    if _ABOUT_HANDLING.search(plain):
        return True
    confident = parse.confidence >= SWITCH_CONFIDENCE
    if confident and parse.intent in ("report", "welfare", "health_advice", "ask_human", "check_status", "withdraw"):
        return False
    return not (confident and parse.intent in texts.SMALL_TALK and len(plain.split()) <= 4)


def _withdrawable(memo: _Memo) -> bool:
    return any(case.status in WITHDRAWABLE for case in memo.understand.own_cases())


def _withdraw(c: Conversation, turn: Turn, memo: _Memo) -> Outcome:
    """The citizen takes back a case they filed, until an agency starts work on it."""
    code = cues.case_code(turn.text)
    own = memo.understand.own_cases()
    case = next((k for k in own if k.code == code), None) if code else next(iter(own), None)
    if case is None:
        return _out(c, texts.CASE_NOT_FOUND.format(code=code) if code else texts.NO_CASE_TO_WITHDRAW)
    if case.status == "withdrawn":
        return _out(c, texts.ALREADY_WITHDRAWN.format(code=case.code))
    if case.status not in WITHDRAWABLE:
        return _out(c, Reply(texts.CANNOT_WITHDRAW.format(code=case.code, status=texts.STATUS_NAMES[case.status]),
                             texts.PERSON_CHOICES[:1]))
    return _out(c, texts.WITHDRAWN.format(code=case.code), effects=(Withdraw(case.code),), case_code=case.code)


def _reopen(c: Conversation, code: str, turn: Turn, memo: _Memo) -> Outcome:
    """A citizen may re-open their case within 30 days of its resolution."""
    case = _visible_case(code, memo)
    if case is None:
        return _out(c, texts.CASE_NOT_FOUND.format(code=code))
    if case.status != "resolved":
        return _out(c, texts.case_status(case.code, case.category, case.status, case.agency_name))
    if turn.now - (case.resolved_ts or 0) > REOPEN_DAYS * 86400:
        return _out(c, texts.REOPEN_TOO_LATE.format(code=code, days=REOPEN_DAYS))
    return _out(c, texts.REOPENED.format(code=code), effects=(Reopen(code),))


def _status(code: str, memo: _Memo) -> str:
    case = _visible_case(code, memo)
    if case is None:
        return texts.CASE_NOT_FOUND.format(code=code)
    return texts.case_status(case.code, case.category, case.status, case.agency_name)


def _visible_case(code: str, memo: _Memo) -> CaseView | None:
    """Only the citizen who filed a case may see it: the same account, or whoever gives the
    phone number recorded on it."""
    own = next((case for case in memo.understand.own_cases() if case.code == code), None)
    if own:
        return own
    case = memo.understand.case(code)
    phones = {e["value"] for e in memo.parse.entities if e["entity"] == "phone"}
    return case if case and case.phone and case.phone in phones else None


def _own_cases(memo: _Memo) -> str:
    own = memo.understand.own_cases()
    if not own:
        return texts.NO_OWN_CASES
    return texts.own_cases([(case.code, case.category, case.status) for case in own[:5]])


def _source(c: Conversation, turn: Turn) -> str:
    """The key a case filed from this message is stored under (the repository's dedupe)."""
    return f"{c.channel}:{turn.message_id}"


def _district(parse: Parse) -> str | None:
    return next((e["value"] for e in parse.entities if e["entity"] == "district"), None)
