"""One inbound message, start to finish: understand it, decide, file a case, reply.
Every step is idempotent, so a message processed twice (a worker died mid-way and the
claim was retried) files one case and sends one reply."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

from bot import cases, knowledge_entries, metrics, privacy, texts
from bot.channels import Channel
from bot.config import Settings
from bot.conversation import (Answer, AppendToCase, AskStaff, CaseView, Conversation, FileCase, MyData, Outcome, Rate,
                              RateComment, RecordQuestion, Reopen, RequestErasure, ShowMyData, StartHandoff, Turn,
                              Withdraw, respond)
from bot.hours import in_working_hours, parse_working_hours
from bot.knowledge import KnowledgeBase
from bot.media import MediaStore
from bot.messages import FOLLOW, MESSAGE, UNFOLLOW, StoredMessage
from bot.outbox import Outbox, RetryLater
from bot.repository import Repository, case_view
from bot.routing import RoutingTable
from bot.text_split import split_text
from nlu.client import NluClient, Parse


@dataclass(frozen=True)
class Handled:
    facts: dict          # what was decided, for the worker's log line and the message's outcome
    state: Conversation  # the conversation after the turn


class Pipeline:
    def __init__(self, repository: Repository, nlu: NluClient, channels: Mapping[str, Channel],
                 media: MediaStore, settings: Settings):
        self.repository = repository
        self.settings = settings
        self.nlu = nlu
        self.channels = channels
        self.media = media
        self.outbox = Outbox(repository, channels, media)
        self.working_hours = parse_working_hours(settings.working_hours)
        self.knowledge = KnowledgeBase(repository)

    def handle(self, message: StoredMessage, conversation: Conversation) -> Handled:
        """`conversation` as the worker read it when it took the message; the worker keeps the
        state returned, in one write with the queue's own bookkeeping (Repository.end_turn)."""
        if message.kind != MESSAGE:
            return Handled(self._account_event(message, message.kind), conversation)
        attachments = self.media.keep_all(message) if message.attachments else []
        if conversation.notices_waiting:  # they wrote: the window is open again
            self.repository.release_waiting_notices(message.channel, message.user_id)
        turn = Turn(message_id=message.message_id, text=message.text, now=time.time(), payload=message.payload,
                    attachments=tuple(a["type"] for a in attachments),
                    location=next(((a["latitude"], a["longitude"]) for a in attachments
                                   if a.get("type") == "location" and a.get("latitude") is not None), None),
                    in_working_hours=in_working_hours(self.working_hours))
        outcome = respond(conversation, turn, _Understanding(self, message.channel, message.user_id))
        return Handled(self.carry_out(message, outcome), outcome.state)

    def _account_event(self, message: StoredMessage, kind: str) -> dict:
        """Zalo's follow, unfollow and shared contact details."""
        channel, user = message.channel, message.user_id
        if kind == UNFOLLOW:
            self.repository.update_conversation(channel, user, following="no")
            return {"action": "unfollowed"}
        if kind == FOLLOW:
            self.repository.update_conversation(channel, user, following="yes")
            return {"reply_state": self.reply(message, texts.WELCOME, texts.SERVICE_CHOICES)}
        self.repository.update_conversation(channel, user, profile=message.info)  # USER_INFO
        return {"reply_state": self.reply(message, texts.INFO_RECEIVED)}

    def carry_out(self, message: StoredMessage, outcome: Outcome) -> dict:
        """Apply the effects and send the replies; the caller then keeps the new state. A worker
        that dies half-way redoes the same turn, and every step is keyed on the message, so
        nothing is filed or said twice."""
        channel, user, key = message.channel, message.user_id, f"{message.channel}:{message.message_id}"
        facts = dict(outcome.facts)
        for effect in outcome.effects:
            if isinstance(effect, FileCase):
                case = cases.file(self.repository, source=key, channel=channel, user_id=user,
                                  category=effect.category, description=effect.description, details=effect.details,
                                  district=effect.district, media=list(effect.media), urgent=effect.urgent)
                facts["case_code"] = case["code"]
            elif isinstance(effect, AppendToCase):
                cases.add_from_citizen(self.repository, effect.text, key=key, code=effect.code, source=effect.source,
                                       district=effect.district)
            elif isinstance(effect, Withdraw):
                cases.withdraw(self.repository, effect.code, key=key)
            elif isinstance(effect, Reopen):
                cases.reopen(self.repository, effect.code, key=key)
            elif isinstance(effect, StartHandoff):
                facts["handoff"] = effect.reason
            elif isinstance(effect, RecordQuestion):
                self.repository.record_question(key=key, channel=channel, user_id=user, text=effect.text,
                                                district=effect.district, entry_id=effect.entry_id,
                                                status="auto" if effect.entry_id else "waiting",
                                                confidence=round(effect.confidence, 4))
            elif isinstance(effect, AskStaff):
                self.repository.update_question(effect.source, statuses=("auto",), status="waiting", asked_staff="yes")
            elif isinstance(effect, Rate):
                cases.rate(self.repository, effect.code, effect.score, key=key)
            elif isinstance(effect, RateComment):
                cases.rating_comment(self.repository, effect.code, effect.text, key=key)
            elif isinstance(effect, ShowMyData):
                privacy.record_view(self.repository, channel, user, key=key)
            elif isinstance(effect, RequestErasure):
                privacy.request_erasure(self.repository, channel, user, key=key)
        if outcome.replies:  # one message: each send costs the platform's 100-500 ms
            text = "\n\n".join(reply.text for reply in outcome.replies).replace("{code}", facts.get("case_code", "")) \
                .replace(texts.SITE, self.settings.public_url)
            choices = next((reply.choices for reply in reversed(outcome.replies) if reply.choices), ())
            facts["reply_state"] = self.reply(message, text, choices)
        return facts

    def reply(self, inbound: StoredMessage, text: str, choices: tuple = (), key: str = "reply") -> str:
        """Send `text` (in as many parts as the platform needs) in answer to `inbound`. Each part
        has its own record, keyed on the inbound message: a retry resends only what did not go."""
        channel, user = inbound.channel, inbound.user_id
        window = self.outbox.window(channel, user, by_staff=False, last_inbound_ts=inbound.received_ts)
        parts = split_text(text)
        states = [self.outbox.send(channel, user, f"{key}:{inbound.message_id}:{i}", part, window,
                                   choices=choices if i == len(parts) - 1 else (),  # buttons go with the last part
                                   in_reply_to=inbound.message_id)
                  for i, part in enumerate(parts)]
        attempted_now = [state for state in states if state != "already_attempted"]
        if not attempted_now:
            return "already_attempted"
        return next((state for state in attempted_now if state != "sent"), "sent")

    def send_notice(self, notice: dict) -> str:
        """A queued message: a case's new status, or a staff reply the platform asked us to retry.
        Outside the platform's window a notice waits for the citizen's next message instead of
        being dropped; staff see it as waiting."""
        channel, user = notice["channel"], notice["user_id"]
        by_staff = notice.get("sender") == "staff"
        window = self.outbox.window(channel, user, by_staff=by_staff)
        try:
            state = self.outbox.send(channel, user, notice["message_id"], notice["text"], window,
                                     refused_state="refused" if by_staff else "waiting_window")
        except RetryLater:
            self.repository.requeue_notice(notice["_id"], 30.0)
            return "retry"
        if state == "waiting_window":
            self.repository.update_conversation(channel, user, notices_waiting="yes")
        return state


class _Understanding:
    """What the conversation may find out while it decides (bot/conversation.py: Understanding)."""

    def __init__(self, pipeline: Pipeline, channel: str, user_id: str):
        self._pipeline, self._channel, self._user_id = pipeline, channel, user_id
        settings = pipeline.settings
        self.form_timeout_minutes = settings.form_timeout_minutes
        self.quiet_minutes = settings.handoff_quiet_minutes
        self.working_hours = settings.working_hours
        self._own: list[CaseView] | None = None

    def parse(self, text: str) -> Parse:
        with metrics.NLU_SECONDS.time():
            return self._pipeline.nlu.parse(text)

    def own_cases(self) -> list[CaseView]:
        if self._own is None:
            self._own = self._pipeline.repository.own_cases(self._channel, self._user_id)
        return self._own

    def case(self, code: str) -> CaseView | None:
        found = self._pipeline.repository.find_case(code)
        return case_view(found) if found else None

    def health_line(self, district: str | None) -> str | None:
        return RoutingTable.current(self._pipeline.repository).health_line(district)

    def answer(self, question: str, district: str | None, day) -> Answer | None:
        if district:  # an old name the citizen still uses: the entries' scope says the current one
            district = RoutingTable.current(self._pipeline.repository).current_district(district)
        with metrics.KNOWLEDGE_SECONDS.time():
            match = self._pipeline.knowledge.best(question, district, day)
        if match is None:
            return None
        entry = match.entry
        return Answer(entry.id, entry.answer, knowledge_entries.source_line(entry.source_document, entry.source_issuer),
                      entry.source_url, knowledge_entries.vn_date(entry.updated_ts), match.confidence)

    def my_data(self) -> MyData:
        return privacy.summary(self._pipeline.repository, self._channel, self._user_id,
                               self._pipeline.settings.retention_months)
