"""One inbound message, start to finish: understand it, decide, file a case, reply.
Every step is idempotent, so a message processed twice (a worker died mid-way and the
claim was retried) files one case and sends one reply."""
from __future__ import annotations

import time
from typing import Mapping

from bot import dialogue, forms, metrics, texts
from bot.channels import Channel
from bot.config import Settings
from bot.handoff import in_working_hours, parse_working_hours
from bot.media import MediaStore
from bot.messages import FOLLOW, MESSAGE, UNFOLLOW
from bot.outbox import Outbox, RetryLater
from bot.repository import Repository
from bot.routing import RoutingTable
from bot.text_split import split_text
from nlu.client import NluClient


class Pipeline:
    def __init__(self, repository: Repository, nlu: NluClient, channels: Mapping[str, Channel],
                 media: MediaStore, settings: Settings):
        self.repository = repository
        self.settings = settings
        self.nlu = nlu
        self.channels = channels
        self.media = media
        self.outbox = Outbox(repository, channels, media)

    def handle(self, message: dict) -> dict:
        channel, user = message["channel"], message["user_id"]
        kind = message.get("kind", MESSAGE)
        if kind != MESSAGE:
            return self._account_event(message, kind)
        attachments = self.media.keep_all(message) if message.get("attachments") else []
        conversation = self.repository.conversation(channel, user)
        if conversation.get("notices_waiting") == "yes":  # they wrote: the window is open again
            self.repository.release_waiting_notices(channel, user)
        if self._held_by_people(conversation):
            return {"held_by_staff": True}  # people hold this chat: the bot never answers
        return self.converse(message, conversation, attachments)

    def _account_event(self, message: dict, kind: str) -> dict:
        """Zalo's follow, unfollow and shared contact details."""
        channel, user = message["channel"], message["user_id"]
        if kind == UNFOLLOW:
            self.repository.update_conversation(channel, user, following="no")
            return {"action": "unfollowed"}
        if kind == FOLLOW:
            self.repository.update_conversation(channel, user, following="yes")
            return {"reply_state": self.reply(message, texts.WELCOME, texts.SERVICE_CHOICES)}
        self.repository.update_conversation(channel, user, profile=message.get("info") or {})  # USER_INFO
        return {"reply_state": self.reply(message, texts.INFO_RECEIVED)}

    def _held_by_people(self, conversation: dict) -> bool:
        if conversation["handler"] == "bot":
            return False
        if time.time() - conversation.get("handler_since_ts", 0) < self.settings.handoff_quiet_minutes * 60:
            return True
        self.repository.set_handler(conversation["channel"], conversation["user_id"], "bot")  # left quiet too long
        return False

    def converse(self, message: dict, conversation: dict, attachments: list[dict]) -> dict:
        channel, user = message["channel"], message["user_id"]
        now, text, payload = time.time(), message["text"], message.get("payload")
        form = conversation.get("form")
        if form and forms.expired(form, now, self.settings.form_timeout_minutes):
            self.repository.update_conversation(channel, user, form=None)
            form = None
            self.reply(message, texts.FORM_EXPIRED, key="expired")
        category = dialogue.category_of(payload)
        if category in forms.FORMS:
            return self.act_on_form(message, forms.start(category, None, [], now), {})
        if category:  # a health question gets guidance and a case at once, without a form
            return {"reply_state": self.reply(message, texts.ASK_DETAILS[category])}
        button = dialogue.for_payload(payload)
        if button:
            return {"reply_state": self.reply(message, button.reply, button.choices)}
        location = next((a for a in attachments if a.get("type") == "location" and a.get("latitude") is not None), None)
        if form and location:
            step = forms.add_location(form, texts.shared_location(location["latitude"], location["longitude"]), now)
            if step.reply:
                return self.act_on_form(message, step, {})
        if attachments and not text.strip():
            if form:
                return self.act_on_form(message, forms.add_media(form, message["message_id"], now), {})
            return {"reply_state": self.reply(message, texts.attachment_received([a["type"] for a in attachments]))}
        decision = dialogue.before_nlu(text)
        if decision:
            return self.act(message, decision, {})
        with metrics.NLU_SECONDS.time():
            parse = self.nlu.parse(text)
        outcome = {"intent": parse.intent, "confidence": round(parse.confidence, 4)}
        if form and (parse.intent != "ask_human" or forms.names_a_field(form, text, payload)):
            return self.act_on_form(message, forms.advance(form, text, parse, payload, now), outcome)
        if parse.intent in forms.FORMS and parse.confidence >= dialogue.CONFIDENCE_THRESHOLD \
                and not dialogue.find_case_code(text):
            return self.act_on_form(message, forms.start(parse.intent, text, parse.entities, now), outcome)
        misunderstood = conversation.get("not_understood", 0)
        phones = [e["value"] for e in parse.entities if e["entity"] == "phone"]
        decision = dialogue.decide(text, parse, lambda code: self._case_of(message, code, phones), misunderstood)
        return self.act(message, decision, outcome, misunderstood)

    def act_on_form(self, message: dict, step: forms.Step, outcome: dict) -> dict:
        """Keep the form's new state; file the case once the citizen confirmed it."""
        self.repository.update_conversation(message["channel"], message["user_id"], form=step.form)
        if step.file:
            return self.act(message, dialogue.Decision(file_case=step.file["category"], district=step.file["district"],
                                                       details=step.file), outcome)
        outcome["form"] = step.form["asking"] if step.form else "closed"
        outcome["reply_state"] = self.reply(message, step.reply, step.choices)
        return outcome

    def act(self, message: dict, decision: dialogue.Decision, outcome: dict, misunderstood: int = 0) -> dict:
        channel, user = message["channel"], message["user_id"]
        replies = [decision.reply] if decision.reply else []
        if decision.file_case:
            details = decision.details or {}
            case = self.repository.file_case(
                source=f"{channel}:{message['message_id']}", channel=channel, user_id=user,
                category=decision.file_case, description=details.get("description") or message["text"],
                details=details.get("details") or {}, media=details.get("media") or [],
                district=decision.district,
                route=RoutingTable.current(self.repository).route(decision.file_case, decision.district,
                                                                  decision.urgent),
                priority="urgent" if decision.urgent else "normal")
            outcome["case_code"] = case["code"]
            replies.append(texts.case_filed(case["category"], case["code"]))
        # Consecutive turns the bot did not understand: the second one hands the chat to a person.
        streak = misunderstood + 1 if decision.not_understood and not decision.handoff else 0
        if streak != misunderstood:
            self.repository.update_conversation(channel, user, not_understood=streak)
        if decision.reopen:
            self.repository.change_status(decision.reopen, "reopened", by="citizen", public=True,
                                          note="Người dân báo chưa được xử lý")
        if decision.handoff:
            self.repository.start_handoff(channel, user, decision.handoff.reason, decision.handoff.urgent)
            hours = self.settings.working_hours
            replies.append(texts.handoff(decision.handoff.reason, in_working_hours(parse_working_hours(hours)), hours))
            outcome["handoff"] = decision.handoff.reason
        outcome["reply_state"] = self.reply(message, "\n\n".join(replies), decision.choices)
        return outcome

    def reply(self, inbound: dict, text: str, choices: tuple = (), key: str = "reply") -> str:
        """Send `text` (in as many parts as the platform needs) in answer to `inbound`. Each part
        has its own record, keyed on the inbound message: a retry resends only what did not go."""
        channel, user = inbound["channel"], inbound["user_id"]
        window = self.outbox.window(channel, user, by_staff=False)
        parts = split_text(text)
        states = [self.outbox.send(channel, user, f"{key}:{inbound['message_id']}:{i}", part, window,
                                   choices=choices if i == len(parts) - 1 else (),  # buttons go with the last part
                                   in_reply_to=inbound["message_id"])
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

    def _case_of(self, message: dict, code: str, phones: list[str]) -> dict | None:
        """Only the citizen who filed a case may see it: the same account, or whoever gives the
        phone number recorded on it."""
        case = self.repository.find_case(code)
        if case is None:
            return None
        same_account = (case["channel"], case["user_id"]) == (message["channel"], message["user_id"])
        return case if same_account or (case.get("details") or {}).get("phone") in phones else None
