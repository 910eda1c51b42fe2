"""The one module that owns MongoDB: every query and index of the app lives here.

It keeps to the operations the embedded server (nx-27017) gets right, as measured in
DESIGN.md and asserted by tests/test_repository_conformance.py:
- times that are queried or updated are epoch seconds (floats); `created_at` is a datetime
  written once at insert (nx stores a datetime given to `$set` as a string and does not
  compare datetimes in range queries);
- states are strings, never booleans (nx stores `$set: True` as 1);
- no `$push` of subdocuments (nx stores them as JSON strings).
"""
from __future__ import annotations

import secrets
import time
from datetime import datetime, timezone

from pymongo import ASCENDING, DESCENDING, MongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from bot import migrations
from bot.conversation import CaseView, Conversation
from bot.forms import Form
from bot.messages import InboundMessage, Receipt, StaffMessage
from bot.routing import Route

CASE_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on a phone
CASE_CODE_LENGTH = 6
CLAIM_SCAN = 50  # pending messages looked at per claim; those of busy citizens are skipped
SERVICE_CATEGORIES = ("report", "suggestion", "welfare", "health_advice")
CLOSED_STATUSES = ("resolved", "not_responsible", "duplicate", "withdrawn")
OPEN_STATUSES = ("new", "routed", "in_progress", "reopened")


INDEXES = [  # (collection, keys, unique)
    ("messages", [("channel", ASCENDING), ("message_id", ASCENDING)], True),
    ("messages", [("state", ASCENDING), ("lease_until", ASCENDING)], False),
    ("messages", [("direction", ASCENDING), ("state", ASCENDING), ("received_ts", ASCENDING)], False),
    ("messages", [("channel", ASCENDING), ("user_id", ASCENDING), ("received_ts", ASCENDING)], False),
    ("messages", [("channel", ASCENDING), ("platform_message_id", ASCENDING)], False),
    ("conversations", [("channel", ASCENDING), ("user_id", ASCENDING)], True),
    ("conversations", [("handler", ASCENDING), ("handoff_priority", ASCENDING)], False),
    ("conversations", [("handler", ASCENDING), ("staff_owner", ASCENDING)], False),
    ("cases", [("code", ASCENDING)], True),
    ("cases", [("source", ASCENDING)], True),
    ("cases", [("channel", ASCENDING), ("user_id", ASCENDING)], False),
    ("cases", [("created_ts", DESCENDING)], False),
    ("cases", [("agency", ASCENDING), ("created_ts", DESCENDING)], False),
    ("cases", [("status", ASCENDING), ("due_ts", ASCENDING)], False),
    ("cases", [("details.phone", ASCENDING)], False),
    ("case_events", [("key", ASCENDING)], True),
    ("case_events", [("code", ASCENDING), ("ts", ASCENDING)], False),
    ("staff", [("username", ASCENDING)], True),
    ("audit", [("ts", DESCENDING)], False),
    ("alerts", [("key", ASCENDING)], True),
    ("alerts", [("username", ASCENDING), ("ts", DESCENDING)], False),
    ("conversations", [("last_in_ts", DESCENDING)], False),
    ("rate_buckets", [("key", ASCENDING), ("bucket", ASCENDING)], True),
]
SINGLE_FIELD_INDEXES = [("messages", "state"), ("messages", "user_id"), ("messages", "message_id"),
                        ("messages", "platform_message_id"), ("conversations", "user_id"),
                        ("conversations", "handler"), ("cases", "user_id"), ("cases", "status"),
                        ("cases", "agency"), ("cases", "district"), ("cases", "sent_back"),
                        ("case_events", "code"), ("rate_buckets", "key"), ("alerts", "username"),
                        ("audit", "who"), ("audit", "action"), ("audit", "target"),
                        ("login_throttle", "account"), ("login_throttle", "until")]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"  # nx-27017 stores $set True as 1


def conversation_document(c: Conversation) -> dict:
    return {"handler": c.handler, "handler_since_ts": c.handler_since_ts, "handoff_reason": c.handoff_reason,
            "handoff_priority": "urgent" if c.urgent else "normal",
            "form": c.form.to_document() if c.form else None, "not_understood": c.not_understood,
            "menu_offered": _yes(c.menu_offered), "urgent_case": c.urgent_case, "last_ack_ts": c.last_ack_ts}


def conversation_from_document(doc: dict) -> Conversation:
    return Conversation(
        channel=doc["channel"], user_id=doc["user_id"], handler=doc.get("handler") or "bot",
        handler_since_ts=float(doc.get("handler_since_ts") or 0.0), handoff_reason=doc.get("handoff_reason"),
        urgent=doc.get("handoff_priority") == "urgent",
        form=Form.from_document(doc["form"]) if doc.get("form") else None,
        not_understood=int(doc.get("not_understood") or 0), menu_offered=doc.get("menu_offered") == "yes",
        urgent_case=doc.get("urgent_case"), last_ack_ts=float(doc.get("last_ack_ts") or 0.0),
        notices_waiting=doc.get("notices_waiting") == "yes")


def case_view(case: dict) -> CaseView:
    details = case.get("details") or {}
    return CaseView(code=case["code"], source=case["source"], category=case["category"], status=case["status"],
                    created_ts=float(case.get("created_ts") or 0.0), channel=case["channel"], user_id=case["user_id"],
                    resolved_ts=case.get("resolved_ts"), district=case.get("district"), topic=details.get("topic"),
                    phone=details.get("phone"), agency_name=case.get("agency_name"))


class DatabaseUnavailable(Exception):
    """The database did not answer; callers answer 503 or retry later."""


def new_case_code() -> str:
    return "TV-" + "".join(secrets.choice(CASE_CODE_ALPHABET) for _ in range(CASE_CODE_LENGTH))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Repository:
    def __init__(self, uri: str, server_timeout_ms: int = 5000, connect_timeout_ms: int | None = None):
        # connectTimeoutMS is also the heartbeat's socket timeout: kept longer than a short server
        # selection, so a database busy for a second is not taken for a database that is down.
        self.client = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=server_timeout_ms,
                                  connectTimeoutMS=connect_timeout_ms or server_timeout_ms)
        self.db = self.client.get_default_database()
        self.messages = self.db["messages"]
        self.cases = self.db["cases"]
        self.tokens = self.db["tokens"]
        self.conversations = self.db["conversations"]
        self.case_events = self.db["case_events"]
        self.staff = self.db["staff"]
        self.audit = self.db["audit"]
        self.rate_buckets = self.db["rate_buckets"]
        self.alerts = self.db["alerts"]
        self.settings = self.db["settings"]

    def close(self) -> None:
        self.client.close()

    def ping(self) -> bool:
        try:
            self.client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    def ensure_indexes(self) -> None:
        """Idempotent: creating an index that exists is a no-op.

        The compound indexes serve MongoDB. The embedded server's planner uses single-field
        indexes only (measured with explain(): with (state, lease_until) indexed, `state:
        "pending"` was still a full scan, 100 ms at 100k messages; with `state` alone, 1 ms), so
        the leading field of each hot query gets its own index too."""
        for collection, fields, unique in INDEXES:
            self.db[collection].create_index(fields, unique=unique)
        for collection, field in SINGLE_FIELD_INDEXES:
            self.db[collection].create_index(field)
        # A guesser's counts are forgotten a day after they began (throttle.WINDOW is an hour); rate
        # buckets live a day and a bit (the longest is a day's photo quota).
        self.db["login_throttle"].create_index("created_at", expireAfterSeconds=86400)
        self.rate_buckets.create_index("created_at", expireAfterSeconds=2 * 86400)

    def _count(self, collection, query: dict) -> int:
        """count_documents() takes 400 ms over 10k documents on the embedded server, this 1 ms;
        both are exact on MongoDB."""
        return next(collection.aggregate([{"$match": query}, {"$count": "n"}]), {"n": 0})["n"]

    def wait_until_ready(self, deadline_seconds: float) -> None:
        """At start-up the database may still be starting. Brings its schema up to date first
        (bot/migrations: a migration may have to fix documents before an index can be made);
        raises SchemaTooNew when the database was written by newer code."""
        deadline = time.monotonic() + deadline_seconds
        while True:
            try:
                migrations.upgrade(self.db)
                self.ensure_indexes()
                return
            except PyMongoError as exc:
                if time.monotonic() > deadline:
                    raise DatabaseUnavailable(str(exc)) from exc
                time.sleep(0.5)

    # ---- inbound messages: the queue the worker drains -------------------------------------

    def store_inbound(self, messages: list[InboundMessage], correlation_id: str | None = None) -> int:
        """Store each message once; a redelivered one is skipped (it keeps its first correlation
        id). Returns how many were new."""
        stored = 0
        for message in messages:
            document = {
                "channel": message.channel,
                "message_id": message.message_id,
                "user_id": message.user_id,
                "direction": "in",
                "event": message.event,
                "kind": message.kind,
                "text": message.text,
                "attachments": [a.to_document() for a in message.attachments],
                "payload": message.payload,
                "reply_to": message.reply_to,
                "info": message.info,
                "sent_at_ms": message.sent_at_ms,
                "created_at": utcnow(),
                "received_ts": time.time(),
                "state": "pending",
                "lease_until": 0.0,
                "attempts": 0,
                "errors": 0,
                "correlation_id": correlation_id,
            }
            try:
                self.messages.insert_one(document)
                stored += 1
            except DuplicateKeyError:
                pass  # the platform retried a delivery we already have
            except PyMongoError as exc:
                raise DatabaseUnavailable(str(exc)) from exc
        return stored

    def store_staff_message(self, message: StaffMessage) -> bool:
        """A reply a person sent from the platform's own inbox: kept in the history, and the
        conversation is left to people from now on. Returns False for a redelivery."""
        try:
            self.messages.insert_one({
                "channel": message.channel, "message_id": message.message_id,
                "user_id": message.user_id, "direction": "out", "sender": "staff",
                "staff_id": message.staff_id, "text": message.text,
                "attachments": [a.to_document() for a in message.attachments],
                "sent_at_ms": message.sent_at_ms, "created_at": utcnow(), "received_ts": time.time(),
                "state": "sent", "sent_ts": time.time(), "platform_message_id": message.message_id})
        except DuplicateKeyError:
            return False
        except PyMongoError as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        self.set_handler(message.channel, message.user_id, "staff")
        return True

    def apply_receipts(self, receipts: list[Receipt]) -> int:
        """Mark our messages delivered or seen: one update per channel and status for the receipts
        that name messages, one per user for those with a watermark (Messenger: everything we sent
        this user up to it). Returns how many were updated."""
        named: dict[tuple[str, str], set[str]] = {}
        marks: dict[tuple[str, str, str], int] = {}
        for receipt in receipts:
            if receipt.message_ids:
                named.setdefault((receipt.channel, receipt.status), set()).update(receipt.message_ids)
            elif receipt.watermark_ms:
                key = (receipt.channel, receipt.status, receipt.user_id)
                marks[key] = max(marks.get(key, 0), receipt.watermark_ms)
        updated, now = 0, time.time()
        try:
            for (channel, status), ids in named.items():
                field = f"{status}_ts"
                updated += self.messages.update_many(
                    {"channel": channel, "direction": "out", field: {"$exists": False},
                     "platform_message_id": {"$in": sorted(ids)}}, {"$set": {field: now}}).modified_count
            for (channel, status, user_id), watermark_ms in marks.items():
                field = f"{status}_ts"
                updated += self.messages.update_many(
                    {"channel": channel, "direction": "out", field: {"$exists": False}, "user_id": user_id,
                     "state": "sent", "sent_ts": {"$lte": watermark_ms / 1000}}, {"$set": {field: now}}).modified_count
        except PyMongoError as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        return updated

    # ---- conversations: who holds the chat, what the citizen told us about themselves ------

    def conversation(self, channel: str, user_id: str) -> dict:
        return self.conversations.find_one({"channel": channel, "user_id": user_id}) or {
            "channel": channel, "user_id": user_id, "handler": "bot"}

    def update_conversation(self, channel: str, user_id: str, **fields) -> None:
        on_insert = {"created_at": utcnow()}
        if "handler" not in fields:
            on_insert["handler"] = "bot"
        self.conversations.update_one({"channel": channel, "user_id": user_id},
                                      {"$set": {"updated_ts": time.time(), **fields}, "$setOnInsert": on_insert},
                                      upsert=True)

    def set_handler(self, channel: str, user_id: str, handler: str, **fields) -> None:
        """"bot" answers; "waiting" (for a person) or "staff" (a person holds it): the bot is silent.
        Back with the bot, the hand-off's own state is cleared."""
        if handler == "bot":
            fields = {"urgent_case": None, "last_ack_ts": 0.0, **fields}
        self.update_conversation(channel, user_id, handler=handler, handler_since_ts=time.time(), **fields)

    def load_conversation(self, channel: str, user_id: str) -> Conversation:
        return conversation_from_document(self.conversation(channel, user_id))

    def save_conversation(self, before: Conversation, after: Conversation) -> None:
        """Write what the turn changed, only that: a person may claim the chat meanwhile."""
        old, new = conversation_document(before), conversation_document(after)
        changed = {key: value for key, value in new.items() if old.get(key) != value}
        if "handler" in changed:  # the console's queue reads them together
            changed.update({key: new[key] for key in ("handler_since_ts", "handoff_reason", "handoff_priority")})
        if changed:
            self.update_conversation(after.channel, after.user_id, **changed)

    def save_attachments(self, doc_id, attachments: list[dict]) -> None:
        self.messages.update_one({"_id": doc_id}, {"$set": {"attachments": attachments}})

    def history(self, channel: str, user_id: str, after_ts: float = 0.0, limit: int = 200) -> list[dict]:
        """One citizen's conversation, both directions, oldest first."""
        return list(self.messages.find({"channel": channel, "user_id": user_id, "received_ts": {"$gt": after_ts}})
                    .sort("received_ts", ASCENDING).limit(limit))

    def recent_history(self, channel: str, user_id: str, limit: int = 500) -> list[dict]:
        """The latest `limit` messages of a conversation, oldest first."""
        latest = self.messages.find({"channel": channel, "user_id": user_id}).sort("received_ts", DESCENDING).limit(limit)
        return list(latest)[::-1]

    def find_message(self, channel: str, message_id: str) -> dict | None:
        return self.messages.find_one({"channel": channel, "message_id": str(message_id)})

    def find_conversation(self, channel: str, user_id: str) -> dict | None:
        return self.conversations.find_one({"channel": channel, "user_id": user_id}, {"form": 0})

    def add_to_bucket(self, key: str, bucket: int, amount: int = 1) -> int:
        """Add `amount` to the count of `key` in time bucket `bucket`, atomically (one $inc, every
        web process and machine agreeing); returns the new count (bot/rate_limit.py)."""
        try:
            for _ in range(3):
                try:
                    self.rate_buckets.insert_one({"key": key, "bucket": bucket, "n": amount, "created_at": utcnow()})
                    return amount
                except DuplicateKeyError:  # counted before: add to it
                    pass
                found = self.rate_buckets.find_one_and_update({"key": key, "bucket": bucket}, {"$inc": {"n": amount}},
                                                              return_document=ReturnDocument.AFTER)
                if found is not None:
                    return int(found["n"])
            raise DatabaseUnavailable("rate bucket kept vanishing")
        except PyMongoError as exc:
            raise DatabaseUnavailable(str(exc)) from exc

    def bucket_count(self, key: str, bucket: int) -> int:
        try:
            found = self.rate_buckets.find_one({"key": key, "bucket": bucket})
        except PyMongoError as exc:
            raise DatabaseUnavailable(str(exc)) from exc
        return int(found["n"]) if found else 0

    def claim_inbound(self, worker_id: str, lease_seconds: float) -> dict | None:
        """Take the oldest message that may be processed now, with a lease.

        One citizen's messages are processed in order and one at a time, even by several workers:
        a worker first takes a lease on the citizen's conversation, then their oldest pending
        message; if that one waits for a retry, their later messages wait too."""
        now = time.time()
        candidates = self.messages.find({"state": "pending", "lease_until": {"$lte": now}},
                                        {"channel": 1, "user_id": 1}).sort("received_ts", ASCENDING).limit(CLAIM_SCAN)
        tried = set()
        for candidate in candidates:
            user = (candidate["channel"], candidate["user_id"])
            if user in tried or not self._lock_user(*user, worker_id, now + lease_seconds):
                tried.add(user)
                continue
            tried.add(user)
            message = self._claim_oldest(*user, worker_id, now, lease_seconds)
            if message:
                return message
            self._unlock_user(*user, worker_id)
        return None

    def _claim_oldest(self, channel: str, user_id: str, worker_id: str, now: float, lease_seconds: float):
        oldest = self.messages.find_one({"channel": channel, "user_id": user_id, "direction": "in",
                                         "state": "pending"}, sort=[("received_ts", ASCENDING)])
        if oldest is None or oldest["lease_until"] > now:
            return None
        return self.messages.find_one_and_update(
            {"_id": oldest["_id"], "state": "pending", "lease_until": {"$lte": now}},
            {"$set": {"lease_until": now + lease_seconds, "worker": worker_id, "claimed_ts": now},
             "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER)

    def _lock_user(self, channel: str, user_id: str, worker_id: str, until: float) -> bool:
        who = {"channel": channel, "user_id": user_id}
        free = {"$or": [{"lock_until": {"$lte": time.time()}}, {"lock_until": {"$exists": False}}]}
        lock = {"lock_owner": worker_id, "lock_until": until}
        if self.conversations.find_one_and_update({**who, **free}, {"$set": lock}) is not None:
            return True
        try:  # no conversation yet (a first message): create it locked
            self.conversations.insert_one({**who, **lock, "created_at": utcnow(), "handler": "bot"})
            return True
        except DuplicateKeyError:
            return False  # it exists and another worker holds it

    def _unlock_user(self, channel: str, user_id: str, worker_id: str, **fields) -> None:
        self.conversations.update_one({"channel": channel, "user_id": user_id, "lock_owner": worker_id},
                                      {"$set": {"lock_owner": None, "lock_until": 0.0, **fields}})

    def release_inbound(self, message: dict, delay_seconds: float, reason: str, failed: bool) -> int:
        """Give a claimed message back to the queue, to be tried after a delay. `failed` counts
        the attempt as an error (an unreachable NLU server is not the message's fault).
        Returns the message's error count."""
        update = {"$set": {"lease_until": time.time() + delay_seconds, "last_error": reason}}
        if failed:
            update["$inc"] = {"errors": 1}
        document = self.messages.find_one_and_update({"_id": message["_id"]}, update,
                                                     return_document=ReturnDocument.AFTER)
        self._unlock_user(message["channel"], message["user_id"], message["worker"])
        return (document or {}).get("errors", 0)

    def finish_inbound(self, message: dict, state: str, **outcome) -> None:
        self.messages.update_one(
            {"_id": message["_id"]},
            {"$set": {"state": state, "lease_until": 0.0, "finished_ts": time.time(), **outcome}},
        )
        # The console lists and sorts chats by the citizen's last message: kept on the conversation
        # by the write that unlocks it, rather than looked up per chat on every page.
        last = {"last_in_ts": message["received_ts"], "last_in_text": (message.get("text") or "")[:300],
                "last_in_media": "yes" if message.get("attachments") else "no"} \
            if message.get("direction") == "in" and message.get("kind", "message") == "message" else {}
        self._unlock_user(message["channel"], message["user_id"], message["worker"], **last)

    def last_inbound(self, channel: str, user_id: str) -> dict | None:
        return self.messages.find_one({"channel": channel, "user_id": user_id, "direction": "in"},
                                      sort=[("received_ts", DESCENDING)])

    def last_inbound_ts(self, channel: str, user_id: str) -> float | None:
        """When this user last wrote to us: the platforms' reply windows run from it."""
        last = self.last_inbound(channel, user_id)
        return last["received_ts"] if last else None

    def queue_figures(self, now: float) -> tuple[int, float]:
        """How many inbound messages wait, and the age in seconds of the oldest."""
        waiting = {"direction": "in", "state": "pending"}
        oldest = self.messages.find_one(waiting, sort=[("received_ts", ASCENDING)])
        return self._count(self.messages, waiting), (now - oldest["received_ts"]) if oldest else 0.0

    def handoffs_waiting(self) -> dict[str, int]:
        return {priority: self._count(self.conversations, {"handler": "waiting", "handoff_priority": priority})
                for priority in ("urgent", "normal")}

    # ---- cases ----------------------------------------------------------------------------

    def file_case(self, *, source: str, channel: str, user_id: str, category: str, description: str,
                  route: Route, district: str | None = None, priority: str = "normal",
                  details: dict | None = None, media: list[str] | None = None) -> dict:
        """File one case for the message `source`, routed to its agency; filing again for the same
        message returns the first case."""
        if category not in SERVICE_CATEGORIES:
            raise ValueError(f"not a service category: {category}")
        for _ in range(10):
            existing = self.cases.find_one({"source": source})
            if existing:
                self._record_filing(existing)  # a worker may have died between the two writes
                return existing
            now = time.time()
            document = {
                "code": new_case_code(),
                "source": source,
                "channel": channel,
                "user_id": user_id,
                "category": category,
                "description": description,
                "details": details or {},
                "media_messages": media or [],  # ids of the messages whose attachments go with it
                "district": district,
                "priority": priority,
                "agency": route.agency,
                "agency_name": route.agency_name,
                "status": "routed",
                "created_at": utcnow(),
                "created_ts": now,
                "due_ts": now + route.due_hours * 3600,
            }
            try:
                self.cases.insert_one(document)
                self._record_filing(document)
                return document
            except DuplicateKeyError:
                continue  # another worker filed it just now, or the code was taken: look again
        raise RuntimeError("could not allocate a unique case code")

    def _record_filing(self, case: dict) -> None:
        """The first entries of the case's status history: filed, then routed to its agency."""
        for step, (status, note) in enumerate([("new", "Tiếp nhận qua tổng đài tự động"),
                                               ("routed", f"Chuyển đến {case['agency_name']}")]):
            self.add_case_event(case["code"], status, by="bot", note=note, public=True, key=f"{case['code']}:{step}")

    def add_case_event(self, code: str, status: str, *, by: str, note: str, public: bool,
                       key: str | None = None, kind: str | None = None) -> None:
        """One line of a case's history (a collection of its own: history is only ever added to).
        `key` makes a retried write a no-op; `kind` names what happened when the status alone does
        not (e.g. "sent_back": an agency returned the case to the hotline)."""
        try:
            self.case_events.insert_one({"key": key or f"{code}:{time.time_ns()}", "code": code, "status": status,
                                         "by": by, "note": note, "public": "yes" if public else "no",
                                         **({"kind": kind} if kind else {}),
                                         "created_at": utcnow(), "ts": time.time()})
        except DuplicateKeyError:
            pass

    def change_status(self, code: str, status: str, *, by: str, note: str, public: bool,
                      key: str | None = None) -> str:
        """Move a case along its lifecycle and record who did it, when and why. Returns the key
        of the history entry (`key` makes a repeated request one change)."""
        fields = {"status": status, "updated_ts": time.time()}
        if status == "resolved":
            fields["resolved_ts"] = time.time()
        self.cases.update_one({"code": code}, {"$set": fields})
        key = key or f"{code}:{time.time_ns()}"
        self.add_case_event(code, status, by=by, note=note, public=public, key=key)
        return key

    def find_case_event(self, key: str) -> dict | None:
        return self.case_events.find_one({"key": key})

    def case_history(self, code: str) -> list[dict]:
        return list(self.case_events.find({"code": code}).sort("ts", ASCENDING))

    def find_case(self, code: str) -> dict | None:
        return self.cases.find_one({"code": code.upper()})

    def find_case_by_source(self, source: str) -> dict | None:
        return self.cases.find_one({"source": source})

    def own_cases(self, channel: str, user_id: str, limit: int = 20) -> list[CaseView]:
        """A citizen's cases filed from this account, newest first."""
        found = self.cases.find({"channel": channel, "user_id": user_id}).sort("created_ts", DESCENDING).limit(limit)
        return [case_view(case) for case in found]

    # ---- outbound messages ----------------------------------------------------------------

    def begin_outbound(self, *, channel: str, user_id: str, message_id: str, text: str,
                       in_reply_to: str | None, choices: tuple = (), staff_id: str | None = None,
                       attachments: list | None = None, correlation_id: str | None = None) -> dict | None:
        """Record a reply before sending it. Returns the record to send, or None when this reply
        was already sent or attempted: a send that crashed half-way is never repeated blindly."""
        document = {
            "channel": channel,
            "message_id": message_id,
            "user_id": user_id,
            "direction": "out",
            "sender": "staff" if staff_id else "bot",
            "staff_id": staff_id,
            "text": text,
            "choices": [list(choice) for choice in choices],
            "in_reply_to": in_reply_to,
            **({"attachments": attachments} if attachments else {}),  # e.g. a photo staff send
            "created_at": utcnow(),
            "received_ts": time.time(),
            "state": "sending",
            "attempts": 1,
            "correlation_id": correlation_id,
        }
        try:
            self.messages.insert_one(document)
            return document
        except DuplicateKeyError:
            pass
        retry = self.messages.find_one_and_update(
            {"channel": channel, "message_id": message_id, "state": "retry"},
            {"$set": {"state": "sending"}, "$inc": {"attempts": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if retry:
            return retry
        # A record still "sending" means a worker died mid-send: we cannot know whether the
        # platform delivered it, so it is marked for staff instead of sent twice.
        self.messages.update_one({"channel": channel, "message_id": message_id, "state": "sending"},
                                 {"$set": {"state": "uncertain"}})
        return None

    def queue_notice(self, *, channel: str, user_id: str, key: str, text: str,
                     correlation_id: str | None = None) -> None:
        """A message the bot sends on its own (a case's status changed): the worker sends it, under
        the correlation id of the request that caused it."""
        try:
            self.messages.insert_one({"channel": channel, "message_id": key, "user_id": user_id, "direction": "out",
                                      "kind": "notice", "text": text, "choices": [], "in_reply_to": None,
                                      "created_at": utcnow(), "received_ts": time.time(), "state": "queued",
                                      "not_before": 0.0, "attempts": 0, "correlation_id": correlation_id})
        except DuplicateKeyError:
            pass

    def claim_notice(self) -> dict | None:
        return self.messages.find_one_and_update(
            {"direction": "out", "state": "queued", "not_before": {"$lte": time.time()}},
            {"$set": {"state": "retry"}}, sort=[("received_ts", ASCENDING)], return_document=ReturnDocument.AFTER)

    def requeue_notice(self, doc_id, delay_seconds: float) -> None:
        self.messages.update_one({"_id": doc_id}, {"$set": {"state": "queued", "not_before": time.time() + delay_seconds}})

    def release_waiting_notices(self, channel: str, user_id: str) -> int:
        """The citizen wrote again: notices held back by the platform's window can go now."""
        released = self.messages.update_many(
            {"channel": channel, "user_id": user_id, "direction": "out", "state": "waiting_window"},
            {"$set": {"state": "queued", "not_before": 0.0}}).modified_count
        self.update_conversation(channel, user_id, notices_waiting="no")
        return released

    def finish_outbound(self, doc_id, state: str, **fields) -> None:
        self.messages.update_one({"_id": doc_id}, {"$set": {"state": state, **fields}})

    # ---- platform tokens (refreshed at run time; the environment only seeds them) ----------

    def seed_token(self, name: str, **fields) -> None:
        """Store the environment's token unless the database already has one for `name`."""
        try:
            self.tokens.insert_one({"_id": name, "lease_owner": None, "lease_until": 0.0,
                                    "updated_ts": time.time(), **fields})
        except DuplicateKeyError:
            pass

    def token(self, name: str) -> dict | None:
        return self.tokens.find_one({"_id": name})

    def acquire_token_lease(self, name: str, owner: str, seconds: float) -> bool:
        """One refresher at a time across every process: a lease that expires if its holder dies."""
        now = time.time()
        return self.tokens.find_one_and_update(
            {"_id": name, "lease_until": {"$lte": now}},
            {"$set": {"lease_owner": owner, "lease_until": now + seconds}}) is not None

    def update_token(self, name: str, **fields) -> None:
        """Unconditional: a new pair from the platform is the only valid one, whoever holds the
        lease now (its refresh token is single-use and the old one is already spent)."""
        self.tokens.update_one({"_id": name}, {"$set": {"updated_ts": time.time(), **fields}})

    def replace_token_pair(self, name: str, access_token: str, sealed_access: str, sealed_refresh: str | None) -> bool:
        """Store the pair encrypted, only if the access token is still `access_token` (a refresh
        elsewhere in between wins)."""
        return self.tokens.update_one({"_id": name, "access_token": access_token},
                                      {"$set": {"access_token": sealed_access, "refresh_token": sealed_refresh}}
                                      ).modified_count == 1

    def release_token_lease(self, name: str, owner: str) -> None:
        self.tokens.update_one({"_id": name, "lease_owner": owner},
                               {"$set": {"lease_owner": None, "lease_until": 0.0}})

    # ---- settings an admin edits in the console -------------------------------------------

    def routing_table(self) -> dict | None:
        document = self.db["settings"].find_one({"_id": "routing"})
        return document["table"] if document else None

    def save_routing_table(self, table: dict) -> None:
        self.db["settings"].replace_one({"_id": "routing"}, {"_id": "routing", "table": table,
                                                             "updated_ts": time.time()}, upsert=True)

    def setting(self, name: str) -> dict | list | None:
        """A setting an admin edited in the console (None: the default, from data/ or the code)."""
        document = self.settings.find_one({"_id": name})
        return document["value"] if document else None

    def save_setting(self, name: str, value) -> None:
        self.settings.replace_one({"_id": name}, {"_id": name, "value": value, "updated_ts": time.time()}, upsert=True)

    def claim_job(self, name: str) -> bool:
        """True for the first process to ask for the job `name` (e.g. today's overdue alert), once."""
        try:
            self.db["jobs"].insert_one({"_id": name, "created_at": utcnow(), "ts": time.time()})
            return True
        except DuplicateKeyError:
            return False

    # ---- staff accounts and the audit log ---------------------------------------------------

    def count_staff(self) -> int:
        return self._count(self.staff, {})

    def create_staff(self, *, username: str, password_hash: str, role: str, agency: str | None = None,
                     name: str | None = None, email: str | None = None) -> bool:
        """False when the username is taken (also when two processes create the first admin at once)."""
        try:
            self.staff.insert_one({"username": username, "password_hash": password_hash, "role": role,
                                   "agency": agency, "name": name or username, "active": "yes", "email": email,
                                   "session_epoch": 0, "created_at": utcnow(),
                                   "created_ts": time.time()})
            return True
        except DuplicateKeyError:
            return False

    def find_staff(self, username: str) -> dict | None:
        return self.staff.find_one({"username": str(username)})

    def list_staff(self) -> list[dict]:
        return list(self.staff.find({}, {"password_hash": 0}).sort("username", ASCENDING))

    def update_staff(self, username: str, **fields) -> None:
        self.staff.update_one({"username": username}, {"$set": fields})

    def end_sessions(self, username: str) -> int:
        """Every session of this account ends (bot/console/sessions.py). Returns the new epoch."""
        account = self.staff.find_one_and_update({"username": str(username)}, {"$inc": {"session_epoch": 1}},
                                                 return_document=ReturnDocument.AFTER)
        return int(account["session_epoch"]) if account else 0

    # ---- sign-in attempts (bot/console/throttle.py) --------------------------------------------

    def login_throttle(self, key: str) -> dict | None:
        return self.db["login_throttle"].find_one({"_id": key})

    def start_login_throttle(self, key: str, account: str | None, now: float, until: float) -> bool:
        """The first attempt under `key`; False when another request made it first."""
        try:
            self.db["login_throttle"].insert_one({"_id": key, "account": account, "n": 1, "ts": now, "until": until,
                                                  "created_at": utcnow()})
            return True
        except DuplicateKeyError:
            return False

    def advance_login_throttle(self, key: str, n: int, ts: float, attempts: int, now: float, until: float) -> bool:
        """Compare-and-set: count one more attempt only if nobody counted one since we read
        (`n`, `ts`); False otherwise (read again)."""
        return self.db["login_throttle"].update_one(
            {"_id": key, "n": n, "ts": ts}, {"$set": {"n": attempts, "ts": now, "until": until}}).modified_count == 1

    def refund_login_throttle(self, key: str) -> None:
        self.db["login_throttle"].update_one({"_id": key, "n": {"$gt": 0}}, {"$inc": {"n": -1}})

    def clear_login_throttle(self, key: str) -> None:
        self.db["login_throttle"].delete_one({"_id": key})

    def clear_account_throttles(self, account: str) -> int:
        return self.db["login_throttle"].delete_many({"account": account}).deleted_count

    def throttled_accounts(self, now: float) -> set[str]:
        return {d["account"] for d in self.db["login_throttle"].find({"until": {"$gt": now}}, {"account": 1})
                if d.get("account")}

    def remember_network(self, username: str, network: str, now: float, keep: int) -> None:
        """The networks an account last signed in from, `keep` of them (a whole-field write: two
        sign-ins at once may lose one, which only means one more count next time)."""
        account = self.staff.find_one({"username": str(username)}, {"known_networks": 1}) or {}
        known = {**(account.get("known_networks") or {}), network: now}
        latest = dict(sorted(known.items(), key=lambda item: item[1], reverse=True)[:keep])
        self.staff.update_one({"username": str(username)}, {"$set": {"known_networks": latest}})

    def audit_log(self, who: str, action: str, target: str, before=None, after=None) -> None:
        self.audit.insert_one({"who": who, "action": action, "target": target, "before": before, "after": after,
                               "created_at": utcnow(), "ts": time.time()})

    def audit_entries(self, limit: int = 200) -> list[dict]:
        return list(self.audit.find().sort("ts", DESCENDING).limit(limit))

    def find_audit(self, *, who: str | None = None, action: str | None = None, target: str | None = None,
                   since: float | None = None, until: float | None = None, skip: int = 0,
                   limit: int = 50) -> tuple[list[dict], int]:
        """One page of the audit log, newest first, and how many entries match."""
        query: dict = {key: str(value) for key, value in (("who", who), ("action", action), ("target", target)) if value}
        if since is not None or until is not None:
            query["ts"] = {**({"$gte": since} if since is not None else {}), **({"$lt": until} if until is not None else {})}
        total = self._count(self.audit, query)
        return list(self.audit.find(query).sort("ts", DESCENDING).skip(max(0, skip)).limit(limit)), total

    def audit_actions(self) -> list[str]:
        return sorted(self.audit.distinct("action"))

    # ---- alerts for staff: a case sent back, a note, a chat taken over, the daily overdue list --

    def add_alert(self, usernames: list[str], *, key: str, kind: str, text: str, url: str) -> int:
        """One alert per person; `key` makes a repeated event (a re-post, a second digest run) one
        alert. Returns how many were new."""
        added = 0
        for username in usernames:
            try:
                self.alerts.insert_one({"key": f"{key}:{username}", "username": username, "kind": kind, "text": text,
                                        "url": url, "read": "no", "created_at": utcnow(), "ts": time.time()})
                added += 1
            except DuplicateKeyError:
                pass
        return added

    def alerts_for(self, username: str, *, unread_only: bool = False, after_ts: float = 0.0, skip: int = 0,
                   limit: int = 50) -> list[dict]:
        query = {"username": username, **({"read": "no"} if unread_only else {}),
                 **({"ts": {"$gt": after_ts}} if after_ts else {})}
        return list(self.alerts.find(query).sort("ts", DESCENDING).skip(max(0, skip)).limit(limit))

    def count_alerts(self, username: str, *, unread_only: bool = True) -> int:
        return self._count(self.alerts, {"username": username, **({"read": "no"} if unread_only else {})})

    def find_alert(self, username: str, key: str) -> dict | None:
        """`key` as stored (the event's key and the username)."""
        return self.alerts.find_one({"username": username, "key": key})

    def mark_alerts_read(self, username: str, key: str | None = None) -> int:
        query = {"username": username, "read": "no", **({"key": key} if key else {})}
        return self.alerts.update_many(query, {"$set": {"read": "yes"}}).modified_count

    def active_staff(self, roles: tuple[str, ...], agency: str | None = None) -> list[str]:
        """Usernames of the active accounts with one of `roles` (and of `agency`, when given)."""
        return [a["username"] for a in self._active(roles, agency)]

    def staff_emails(self, roles: tuple[str, ...], agency: str | None = None) -> list[str]:
        return [a["email"] for a in self._active(roles, agency) if a.get("email")]

    def _active(self, roles: tuple[str, ...], agency: str | None) -> list[dict]:
        query = {"role": {"$in": list(roles)}, "active": "yes", **({"agency": agency} if agency else {})}
        return list(self.staff.find(query, {"username": 1, "email": 1}))

    # ---- the console: chats waiting for people, cases -----------------------------------------

    def waiting_chats(self) -> list[dict]:
        """Chats waiting for a person: urgent first, then the longest waiting."""
        chats = list(self.conversations.find({"handler": "waiting"}, {"form": 0}))
        chats.sort(key=lambda c: (c.get("handoff_priority") != "urgent", c.get("handler_since_ts", 0)))
        return chats

    def chats_held_by(self, username: str) -> list[dict]:
        return list(self.conversations.find({"handler": "staff", "staff_owner": username}, {"form": 0})
                    .sort("handler_since_ts", ASCENDING))

    def claim_chat(self, channel: str, user_id: str, username: str) -> bool:
        """Only one person takes a waiting chat, even when two click at once. A chat answered from
        the platform's own inbox (held by people, no console owner) can be taken over too."""
        return self.take_chat(channel, user_id, username) is not None

    def take_chat(self, channel: str, user_id: str, username: str, *, from_bot: bool = False,
                  from_colleague: bool = False) -> dict | None:
        """Give the chat to `username` if nobody else holds it now: waiting, held on the platform
        with no console owner, with the bot (`from_bot`: claimed again from the list of every
        conversation) or held by a colleague (`from_colleague`: an admin's take-over). Atomic: of
        two people clicking at once one gets it. Returns the conversation as it was, or None."""
        claimable = [{"handler": "waiting"}, {"handler": "staff", "staff_owner": None}]
        if from_bot:
            claimable.append({"handler": "bot"})
        if from_colleague:
            claimable.append({"handler": "staff", "staff_owner": {"$ne": username}})
        now = time.time()
        return self.conversations.find_one_and_update(
            {"channel": channel, "user_id": user_id, "$or": claimable},
            {"$set": {"handler": "staff", "staff_owner": username, "handler_since_ts": now, "updated_ts": now,
                      "owner_seen_ts": now}},
            projection={"form": 0})

    def release_chat(self, channel: str, user_id: str, *, owner: str | None) -> dict | None:
        """Hand the chat back to the bot, if `owner` still holds it (None: whoever holds it, for an
        admin). Returns the conversation as it was, or None when it was not theirs to release."""
        query = {"channel": channel, "user_id": user_id, "handler": {"$in": ["waiting", "staff"]}}
        if owner is not None:
            query.update(handler="staff", staff_owner=owner)
        now = time.time()
        return self.conversations.find_one_and_update(
            query, {"$set": {"handler": "bot", "staff_owner": None, "not_understood": 0, "handler_since_ts": now,
                             "updated_ts": now, "urgent_case": None, "last_ack_ts": 0.0}}, projection={"form": 0})

    def mark_chat_seen(self, channel: str, user_id: str, username: str) -> None:
        """The holder has read the chat up to now (the queue's unread mark)."""
        self.conversations.update_one({"channel": channel, "user_id": user_id, "staff_owner": username},
                                      {"$set": {"owner_seen_ts": time.time()}})

    def all_conversations(self, *, handler: str | None = None, channel: str | None = None,
                          user_ids: list[str] | None = None, skip: int = 0,
                          limit: int = 50) -> tuple[list[dict], int]:
        """Every conversation, the latest citizen message first, and how many match."""
        query: dict = {}
        if handler:
            query["handler"] = handler
        if channel:
            query["channel"] = channel
        if user_ids is not None:
            query["user_id"] = {"$in": list(user_ids)}
        total = self._count(self.conversations, query)
        page = self.conversations.find(query, {"form": 0}).sort("last_in_ts", DESCENDING).skip(max(0, skip)).limit(limit)
        return list(page), total

    def conversations_of(self, pairs: list[tuple[str, str]]) -> list[dict]:
        """The conversations of these (channel, user id) pairs: one citizen on several platforms.
        (One indexed look-up each: an `$or` of them is a full scan on the embedded server.)"""
        found = (self.find_conversation(channel, user_id) for channel, user_id in pairs)
        return [conversation for conversation in found if conversation]

    def find_cases(self, *, category: str | None = None, status: str | None = None, district: str | None = None,
                   agency: str | None = None, created_from: float | None = None, created_to: float | None = None,
                   overdue: bool = False, code: str | None = None, phone: str | None = None,
                   channel: str | None = None, user_id: str | None = None,
                   skip: int = 0, limit: int = 50, now: float | None = None, districts: list[str] | None = None,
                   phone_ending: str | None = None, sent_back: bool = False,
                   statuses: list[str] | None = None) -> tuple[list[dict], int]:
        """One page of cases, newest first, and how many match. `districts`: any of these names (a
        district and its old names); `phone_ending`: the last digits of the phone."""
        query = self._case_query(category=category, status=status, district=district, agency=agency,
                                 created_from=created_from, created_to=created_to, overdue=overdue, code=code,
                                 phone=phone, channel=channel, user_id=user_id, now=now, districts=districts,
                                 phone_ending=phone_ending, sent_back=sent_back, statuses=statuses)
        if query is None:
            return [], 0
        total = self._count_cases(query)
        page = list(self.cases.find(query).sort("created_ts", DESCENDING).skip(max(0, skip)).limit(limit))
        return page, total

    def count_cases(self, **filters) -> int:
        """How many cases match `find_cases`' filters (e.g. overdue=True: the one overdue count)."""
        query = self._case_query(**filters)
        return 0 if query is None else self._count_cases(query)

    def _count_cases(self, query: dict) -> int:
        """Over several statuses, one count per status: the embedded server uses the status index
        for an equality, not for `$in` (the overdue count: 3 ms instead of 38 ms over 10k cases)."""
        statuses = query.get("status")
        if isinstance(statuses, dict) and set(statuses) == {"$in"}:
            return sum(self._count(self.cases, {**query, "status": status}) for status in statuses["$in"])
        return self._count(self.cases, query)

    @staticmethod
    def _case_query(*, category=None, status=None, district=None, agency=None, created_from=None, created_to=None,
                    overdue=False, code=None, phone=None, channel=None, user_id=None, now=None, districts=None,
                    phone_ending=None, sent_back=False, statuses=None) -> dict | None:
        """None when nothing can match."""
        query: dict = {}
        for field, value in (("category", category), ("status", status), ("district", district),
                             ("agency", agency), ("code", code), ("details.phone", phone),
                             ("channel", channel), ("user_id", user_id)):
            if value:
                query[field] = str(value)
        if created_from is not None or created_to is not None:
            query["created_ts"] = {**({"$gte": created_from} if created_from is not None else {}),
                                   **({"$lt": created_to} if created_to is not None else {})}
        if districts:  # an equality when there is one name: the embedded server indexes it
            query["district"] = str(districts[0]) if len(districts) == 1 else {"$in": [str(d) for d in districts]}
        if phone_ending:
            # digits only (checked by the caller's pattern): safe inside a regular expression
            query["details.phone"] = {"$regex": f"{phone_ending}$"}
        if sent_back:
            query["sent_back"] = "yes"
        if statuses is not None:
            query["status"] = {"$in": [str(s) for s in statuses]}
        if overdue:
            if status and status not in OPEN_STATUSES:
                return None
            query.setdefault("status", {"$in": list(OPEN_STATUSES)})
            query["due_ts"] = {"$lt": now or time.time()}
        return query

    def cases_for_figures(self, since_ts: float, agency: str | None = None) -> list[dict]:
        """What the dashboard counts: the cases filed since `since_ts`, the few fields it needs."""
        query = {"created_ts": {"$gte": since_ts}, **({"agency": agency} if agency else {})}
        fields = {"category": 1, "district": 1, "status": 1, "agency": 1, "created_ts": 1, "due_ts": 1,
                  "resolved_ts": 1, "_id": 0}
        return list(self.cases.find(query, fields))

    def open_overdue_cases(self, now: float) -> list[dict]:
        """Every open case past its due time, the few fields the daily overdue alert needs."""
        return list(self.cases.find({"status": {"$in": list(OPEN_STATUSES)}, "due_ts": {"$lt": now}},
                                    {"code": 1, "agency": 1, "sent_back": 1, "due_ts": 1, "_id": 0}))

    def update_case(self, code: str, **fields) -> None:
        self.cases.update_one({"code": code}, {"$set": {"updated_ts": time.time(), **fields}})

    def messages_with_ids(self, channel: str, message_ids: list[str]) -> list[dict]:
        return list(self.messages.find({"channel": channel, "message_id": {"$in": list(message_ids)}}))

    def requeue_outbound(self, channel: str, message_id: str, delay_seconds: float) -> None:
        """A staff reply the platform asked us to retry: the worker sends it (see claim_notice)."""
        self.messages.update_one({"channel": channel, "message_id": message_id, "state": "retry"},
                                 {"$set": {"state": "queued", "not_before": time.time() + delay_seconds}})
