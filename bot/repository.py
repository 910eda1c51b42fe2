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

import hashlib
import itertools
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from pymongo import ASCENDING, DESCENDING, IndexModel, MongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from bot import migrations
from bot.conversation import CaseView, Conversation
from bot.forms import Form
from bot.messages import MESSAGE, InboundMessage, Receipt, StaffMessage, StoredMessage
from bot.routing import Route

CASE_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on a phone
CASE_CODE_LENGTH = 6
CLAIM_PAGE = 50  # pending messages looked at per page of the queue's scan; those of busy citizens are skipped
CLAIM_PAGES = 4  # pages looked at for citizens not yet held (one citizen's burst cannot hold up the others)
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
    ("kb_entries", [("status", ASCENDING), ("updated_ts", DESCENDING)], False),
    ("kb_questions", [("status", ASCENDING), ("created_ts", ASCENDING)], False),
    ("kb_questions", [("channel", ASCENDING), ("user_id", ASCENDING)], False),
    ("data_requests", [("code", ASCENDING)], True),
    ("data_requests", [("source", ASCENDING)], True),
    ("data_requests", [("channel", ASCENDING), ("user_id", ASCENDING)], False),
    ("cases", [("closed_ts", ASCENDING)], False),
]
SINGLE_FIELD_INDEXES = [("messages", "state"), ("messages", "user_id"), ("messages", "message_id"),
                        ("messages", "platform_message_id"), ("conversations", "user_id"),
                        ("conversations", "handler"), ("cases", "user_id"), ("cases", "status"),
                        ("cases", "agency"), ("cases", "district"), ("cases", "sent_back"),
                        ("case_events", "code"), ("rate_buckets", "key"), ("alerts", "username"),
                        ("audit", "who"), ("audit", "action"), ("audit", "target"), ("kb_entries", "status"),
                        ("kb_questions", "status"), ("cases", "duplicate_review"), ("cases", "rating_flag"),
                        ("cases", "rating_ts"), ("data_requests", "state"), ("login_throttle", "account"),
                        ("login_throttle", "until")]
# A guesser's counts are forgotten a day after they began (throttle.WINDOW is an hour); rate
# buckets live a day and a bit (the longest is a day's photo quota).
TTL_INDEXES = [("login_throttle", "created_at", 86400), ("rate_buckets", "created_at", 2 * 86400)]
# Names the index set above: a database that records this one has them all (ensure_indexes).
INDEX_SET = hashlib.sha256(repr((INDEXES, SINGLE_FIELD_INDEXES, TTL_INDEXES)).encode()).hexdigest()[:16]


def count_matching(collection, query: dict) -> int:
    """count_documents() takes 400 ms over 10k documents on the embedded server (it decodes every
    document), this 1 ms; both are exact on MongoDB."""
    return next(collection.aggregate([{"$match": query}, {"$count": "n"}]), {"n": 0})["n"]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"  # nx-27017 stores $set True as 1


def conversation_document(c: Conversation) -> dict:
    return {"handler": c.handler, "handler_since_ts": c.handler_since_ts, "handoff_reason": c.handoff_reason,
            "handoff_priority": "urgent" if c.urgent else "normal",
            "form": c.form.to_document() if c.form else None, "not_understood": c.not_understood,
            "menu_offered": _yes(c.menu_offered), "urgent_case": c.urgent_case, "last_ack_ts": c.last_ack_ts,
            "last_question": c.last_question, "privacy_told": _yes(c.privacy_told),
            "rating_comment_for": c.rating_comment_for, "rating_comment_until": c.rating_comment_until}


def conversation_from_document(doc: dict) -> Conversation:
    return Conversation(
        channel=doc["channel"], user_id=doc["user_id"], handler=doc.get("handler") or "bot",
        handler_since_ts=float(doc.get("handler_since_ts") or 0.0), handoff_reason=doc.get("handoff_reason"),
        urgent=doc.get("handoff_priority") == "urgent",
        form=Form.from_document(doc["form"]) if doc.get("form") else None,
        not_understood=int(doc.get("not_understood") or 0), menu_offered=doc.get("menu_offered") == "yes",
        urgent_case=doc.get("urgent_case"), last_ack_ts=float(doc.get("last_ack_ts") or 0.0),
        notices_waiting=doc.get("notices_waiting") == "yes", last_question=doc.get("last_question"),
        privacy_told=doc.get("privacy_told") == "yes", rating_comment_for=doc.get("rating_comment_for"),
        rating_comment_until=float(doc.get("rating_comment_until") or 0.0))


def case_view(case: dict) -> CaseView:
    details = case.get("details") or {}
    return CaseView(code=case["code"], source=case["source"], category=case["category"], status=case["status"],
                    created_ts=float(case.get("created_ts") or 0.0), channel=case["channel"], user_id=case["user_id"],
                    resolved_ts=case.get("resolved_ts"), district=case.get("district"), topic=details.get("topic"),
                    phone=details.get("phone"), agency_name=case.get("agency_name"), rating=case.get("rating"))


def stored_message(doc: dict) -> StoredMessage:
    return StoredMessage(
        id=doc["_id"], channel=doc["channel"], message_id=doc["message_id"], user_id=doc["user_id"],
        text=doc.get("text") or "", received_ts=float(doc["received_ts"]), kind=doc.get("kind") or MESSAGE,
        attachments=tuple(doc.get("attachments") or ()), payload=doc.get("payload"), info=doc.get("info") or {},
        correlation_id=doc.get("correlation_id"), attempts=int(doc.get("attempts") or 0),
        errors=int(doc.get("errors") or 0))


@dataclass(frozen=True)
class Claim:
    """A citizen a worker holds: their conversation as it was locked, their messages to process."""
    conversation: dict
    messages: list[StoredMessage]


class DatabaseUnavailable(Exception):
    """The database did not answer; callers answer 503 or retry later."""


def new_case_code() -> str:
    return "TV-" + "".join(secrets.choice(CASE_CODE_ALPHABET) for _ in range(CASE_CODE_LENGTH))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Repository:
    def __init__(self, uri: str, server_timeout_ms: int = 5000, connect_timeout_ms: int | None = None,
                 connections: int = 100):
        # connectTimeoutMS is also the heartbeat's socket timeout: kept longer than a short server
        # selection, so a database busy for a second is not taken for a database that is down.
        self.client = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=server_timeout_ms,
                                  connectTimeoutMS=connect_timeout_ms or server_timeout_ms, maxPoolSize=connections)
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
        self.kb_entries = self.db["kb_entries"]
        self.kb_questions = self.db["kb_questions"]
        self.data_requests = self.db["data_requests"]

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
        the leading field of each hot query gets its own index too.

        Every process start calls this: once the set below has been made, the database records
        it, and a start that finds the same set reads one document instead of 14 createIndexes."""
        made = {"_id": "indexes", "set": INDEX_SET}
        if self.db[migrations.COLLECTION].find_one(made) is not None:
            return
        models: dict[str, list[IndexModel]] = {}
        for collection, fields, unique in INDEXES:
            models.setdefault(collection, []).append(IndexModel(fields, unique=unique))
        for collection, field in SINGLE_FIELD_INDEXES:
            models.setdefault(collection, []).append(IndexModel([(field, ASCENDING)]))
        for collection, field, seconds in TTL_INDEXES:
            models.setdefault(collection, []).append(IndexModel([(field, ASCENDING)], expireAfterSeconds=seconds))
        for collection, indexes in models.items():  # one command a collection: 17 ms instead of 41 for 57
            self.db[collection].create_indexes(indexes)
        self.db[migrations.COLLECTION].replace_one({"_id": "indexes"}, {**made, "made_ts": time.time()}, upsert=True)

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
        changed = self._changed(before, after)
        if changed:
            self.update_conversation(after.channel, after.user_id, **changed)

    @staticmethod
    def _changed(before: Conversation, after: Conversation) -> dict:
        """What the turn changed, only that: a person may claim the chat meanwhile."""
        old, new = conversation_document(before), conversation_document(after)
        changed = {key: value for key, value in new.items() if old.get(key) != value}
        if "handler" in changed:  # the console's queue reads them together
            changed.update({key: new[key] for key in ("handler_since_ts", "handoff_reason", "handoff_priority")})
        return changed

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

    def claim_citizens(self, worker_id: str, lease_seconds: float, limit: int,
                       busy: frozenset = frozenset()) -> list[Claim]:
        """Take up to `limit` citizens with messages to process now: each citizen's conversation
        locked for this worker (the lock is the lease), with their pending messages, oldest first.

        One citizen's messages are processed in order and one at a time, even by several workers:
        only the lock holder touches them, and it reads them under the lock (another worker may
        have processed them since the scan). If the oldest waits for a retry, the later ones wait
        too. `busy`: citizens this worker already holds.

        The scan goes by `_id` (the order of arrival) a page at a time: on the embedded server a
        sort on a field of the document, or an `$in`, is done over every pending message (17 and
        73 ms with 2,000 waiting, against 3 ms for a page by `_id` and 2 ms for one citizen's)."""
        now = time.time()
        citizens: list[tuple[str, str]] = []
        for page in range(CLAIM_PAGES):
            batch = list(self.messages.find({"state": "pending", "lease_until": {"$lte": now}},
                                            {"channel": 1, "user_id": 1})
                         .sort("_id", ASCENDING).skip(page * CLAIM_PAGE).limit(CLAIM_PAGE))
            for candidate in batch:
                citizen = (candidate["channel"], candidate["user_id"])
                if citizen not in busy and citizen not in citizens and len(citizens) < limit:
                    citizens.append(citizen)
            if len(citizens) == limit or len(batch) < CLAIM_PAGE:
                break
        claims = []
        for citizen in citizens:
            conversation = self._lock_citizen(*citizen, worker_id, now + lease_seconds)
            if conversation is None:
                continue
            waiting = self.messages.find({"user_id": citizen[1], "state": "pending", "channel": citizen[0]})
            due = list(itertools.takewhile(lambda d: d["lease_until"] <= now,
                                           sorted(waiting, key=lambda d: d["received_ts"])))
            if due:
                claims.append(Claim(conversation, [stored_message(d) for d in due]))
            else:  # processed meanwhile, or its oldest waits for a retry
                self.unlock_citizen(*citizen, worker_id)
        return claims

    def _lock_citizen(self, channel: str, user_id: str, worker_id: str, until: float) -> dict | None:
        """The citizen's conversation, locked for `worker_id`; None when another worker holds it."""
        who = {"channel": channel, "user_id": user_id}
        free = {"$or": [{"lock_until": {"$lte": time.time()}}, {"lock_until": {"$exists": False}},
                        {"lock_owner": worker_id}]}  # its own grace after a turn (end_turn)
        lock = {"lock_owner": worker_id, "lock_until": until}
        # `$and`: beside an `$or` holding an equality, the embedded server's writes drop the other
        # conditions (tests/test_repository_conformance.py).
        conversation = self.conversations.find_one_and_update({"$and": [who, free]}, {"$set": lock},
                                                              return_document=ReturnDocument.AFTER)
        if conversation is not None:
            return conversation
        document = {**who, **lock, "created_at": utcnow(), "handler": "bot"}
        try:  # no conversation yet (a first message): create it locked
            self.conversations.insert_one(document)
            return document
        except DuplicateKeyError:
            return None  # it exists and another worker holds it

    def unlock_citizen(self, channel: str, user_id: str, worker_id: str) -> None:
        self.conversations.update_one({"channel": channel, "user_id": user_id, "lock_owner": worker_id},
                                      {"$set": {"lock_owner": None, "lock_until": 0.0}})

    def end_turn(self, message: StoredMessage, before: Conversation, after: Conversation, worker_id: str,
                 lock_until: float, read: bool = False) -> dict | None:
        """Keep what the turn changed in the conversation, in the same write as the queue's own
        bookkeeping: the message's id as the last one processed (a worker that dies before
        `finish_message` leaves it pending, and the next claim finishes it without processing it
        again), the citizen's last message for the console, and the lock, held until `lock_until`:
        the lease for the citizen's next message, or a short grace while the message is marked
        done (released at once, it could be claimed by another worker before that). `read`:
        returns the conversation as it is now."""
        fields = self._changed(before, after)
        fields.update(last_done_id=message.message_id, lock_until=lock_until)
        if message.kind == MESSAGE:
            # The console lists and sorts chats by the citizen's last message: kept here rather
            # than looked up per chat on every page.
            fields.update(last_in_ts=message.received_ts, last_in_text=message.text[:300],
                          last_in_media="yes" if message.attachments else "no")
        who = {"channel": message.channel, "user_id": message.user_id}
        update = {"$set": {"updated_ts": time.time(), **fields}}
        if read:
            now = self.conversations.find_one_and_update({**who, "lock_owner": worker_id}, update,
                                                         return_document=ReturnDocument.AFTER)
            if now is not None:
                return now
        elif self.conversations.update_one({**who, "lock_owner": worker_id}, update).matched_count:
            return None
        # The lock ran out and another worker holds the citizen now: the turn is kept all the same.
        del update["$set"]["lock_until"]
        self.conversations.update_one(who, update)
        return None

    def finish_message(self, message: StoredMessage, state: str, worker_id: str, started_ts: float,
                       **outcome) -> None:
        """The message is handled (state "done", or "failed" for good); after `end_turn`."""
        self.messages.update_one({"_id": message.id}, {
            "$set": {"state": state, "lease_until": 0.0, "worker": worker_id, "claimed_ts": started_ts,
                     "finished_ts": time.time(), **outcome},
            "$inc": {"attempts": 1}})

    def release_message(self, message: StoredMessage, delay_seconds: float, reason: str, failed: bool,
                        worker_id: str) -> int:
        """Give a message back to the queue, to be tried after a delay, and unlock its citizen
        (whose later messages wait behind it). `failed` counts the attempt as an error (an
        unreachable NLU server is not the message's fault). Returns the message's error count."""
        update = {"$set": {"lease_until": time.time() + delay_seconds, "last_error": reason, "worker": worker_id},
                  "$inc": {"attempts": 1, **({"errors": 1} if failed else {})}}
        self.messages.update_one({"_id": message.id}, update)
        self.unlock_citizen(message.channel, message.user_id, worker_id)
        return message.errors + (1 if failed else 0)

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
        return count_matching(self.messages, waiting), (now - oldest["received_ts"]) if oldest else 0.0

    def handoffs_waiting(self) -> dict[str, int]:
        return {priority: count_matching(self.conversations, {"handler": "waiting", "handoff_priority": priority})
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
        # When the case closed: the retention job counts its months from it.
        fields["closed_ts"] = time.time() if status in CLOSED_STATUSES else None
        self.cases.update_one({"code": code}, {"$set": fields})
        key = key or f"{code}:{time.time_ns()}"
        self.add_case_event(code, status, by=by, note=note, public=public, key=key)
        return key

    def find_case_event(self, key: str) -> dict | None:
        return self.case_events.find_one({"key": key})

    def case_history(self, code: str) -> list[dict]:
        return list(self.case_events.find({"code": code}).sort("ts", ASCENDING))

    def recent_open_reports(self, since_ts: float, limit: int) -> list[dict]:
        """Open violation reports filed since `since_ts`, newest first (the duplicate suggestion)."""
        return list(self.cases.find({"created_ts": {"$gte": since_ts}, "category": "report",
                                     "status": {"$in": list(OPEN_STATUSES)}})
                    .sort("created_ts", DESCENDING).limit(limit))

    def suggested_duplicates(self, limit: int = 100) -> list[dict]:
        """Open reports with possible duplicates staff have not looked at, newest first."""
        return list(self.cases.find({"duplicate_review": "pending", "status": {"$in": list(OPEN_STATUSES)}})
                    .sort("created_ts", DESCENDING).limit(limit))

    def rated_cases(self, since_ts: float, agency: str | None = None) -> list[dict]:
        """Cases rated since `since_ts`, the fields the dashboard's ratings need."""
        query = {"rating_ts": {"$gte": since_ts}, **({"agency": agency} if agency else {})}
        fields = {"rating": 1, "agency_name": 1, "district": 1, "category": 1, "_id": 0}
        return [c for c in self.cases.find(query, fields) if c.get("rating")]

    def low_rated_cases(self, agency: str | None = None, limit: int = 50) -> list[dict]:
        """Low ratings the hotline has not looked at again yet, newest first."""
        query = {"rating_flag": "yes", **({"agency": agency} if agency else {})}
        return list(self.cases.find(query).sort("rating_ts", DESCENDING).limit(limit))

    def case_key(self, code: str) -> dict | None:
        """What tells whether a case may be shown on the tracking page: its phone, whether it was erased."""
        # Not {"details.phone": 1}: the embedded server returns a dotted projection under a dotted key.
        return self.cases.find_one({"code": code.upper()}, {"details": 1, "erased_ts": 1, "_id": 0})

    def public_history(self, code: str) -> list[dict]:
        """The steps of a case the citizen is told of (the public tracking page): no internal notes."""
        return list(self.case_events.find({"code": code, "public": "yes"}, {"ts": 1, "status": 1, "note": 1, "_id": 0})
                    .sort("ts", ASCENDING))

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
                     correlation_id: str | None = None, choices: tuple = ()) -> None:
        """A message the bot sends on its own (a case's status changed): the worker sends it, under
        the correlation id of the request that caused it. `choices` go as buttons (e.g. a rating)."""
        try:
            self.messages.insert_one({"channel": channel, "message_id": key, "user_id": user_id, "direction": "out",
                                      "kind": "notice", "text": text, "choices": [list(c) for c in choices],
                                      "in_reply_to": None,
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

    # ---- the knowledge base: entries staff keep, questions waiting for staff -----------------

    def insert_entry(self, document: dict) -> bool:
        """A new entry (`_id` is its id); False when the id is taken."""
        try:
            self.kb_entries.insert_one({**document, "created_at": utcnow()})
            return True
        except DuplicateKeyError:
            return False

    def find_entry(self, entry_id: str) -> dict | None:
        return self.kb_entries.find_one({"_id": str(entry_id)})

    def update_entry(self, entry_id: str, *, statuses: tuple[str, ...] | None = None, **fields) -> dict | None:
        """Change an entry if its status is one of `statuses` (None: any). Atomic: of two people
        publishing and retiring at once, one acts on what the other left. Returns it as it was."""
        query: dict = {"_id": str(entry_id)}
        if statuses is not None:
            query["status"] = {"$in": list(statuses)}
        return self.kb_entries.find_one_and_update(query, {"$set": {"updated_ts": time.time(), **fields}})

    def knowledge_entries(self) -> list[dict]:
        """Every entry, the latest changed first (a province keeps hundreds, not millions)."""
        return list(self.kb_entries.find().sort("updated_ts", DESCENDING))

    def published_entries(self) -> list[dict]:
        return list(self.kb_entries.find({"status": "published"}))

    def knowledge_version(self) -> int:
        """Raised whenever what citizens may be answered changes: the workers rebuild their index."""
        document = self.settings.find_one({"_id": "knowledge_version"})
        return int(document["value"]) if document else 0

    def bump_knowledge_version(self) -> None:
        self.settings.update_one({"_id": "knowledge_version"}, {"$inc": {"value": 1}}, upsert=True)

    def record_question(self, *, key: str, channel: str, user_id: str, text: str, district: str | None,
                        status: str, entry_id: str | None, confidence: float) -> bool:
        """A citizen's question: answered by the bot from `entry_id` ("auto") or waiting for staff.
        `key` is the message's source key: a message processed twice records one question."""
        try:
            self.kb_questions.insert_one({"_id": key, "channel": channel, "user_id": user_id, "text": text,
                                          "district": district, "status": status, "entry_id": entry_id,
                                          "confidence": confidence, "created_at": utcnow(), "created_ts": time.time()})
            return True
        except DuplicateKeyError:
            return False

    def account_questions(self, channel: str, user_id: str) -> list[dict]:
        return list(self.kb_questions.find({"channel": channel, "user_id": user_id}, {"answer": 1}))

    def questions_before(self, before_ts: float, limit: int) -> list[dict]:
        """Questions asked before `before_ts` that still hold their text and are no longer waiting."""
        return list(self.kb_questions.find({"created_ts": {"$lt": before_ts}, "status": {"$in": ["auto", "answered", "closed"]},
                                            "erased_ts": {"$exists": False}}, {"answer": 1}).limit(limit))

    def anonymise_question(self, key: str, **fields) -> None:
        """The question's words go; whether it was answered, and from which entry, stays for the figures."""
        self.kb_questions.update_one({"_id": str(key)}, {"$set": {"text": "", "erased_ts": time.time(), **fields}})

    def find_question(self, key: str) -> dict | None:
        return self.kb_questions.find_one({"_id": str(key)})

    def update_question(self, key: str, *, statuses: tuple[str, ...] | None = None, **fields) -> dict | None:
        """Like update_entry: only from one of `statuses`; returns the question as it was."""
        query: dict = {"_id": str(key)}
        if statuses is not None:
            query["status"] = {"$in": list(statuses)}
        return self.kb_questions.find_one_and_update(query, {"$set": {"updated_ts": time.time(), **fields}})

    def find_questions(self, status: str, *, skip: int = 0, limit: int = 50) -> tuple[list[dict], int]:
        """One page of questions in `status`: the waiting ones oldest first, the others newest first."""
        order = ASCENDING if status == "waiting" else DESCENDING
        page = self.kb_questions.find({"status": status}).sort("created_ts", order).skip(max(0, skip)).limit(limit)
        return list(page), count_matching(self.kb_questions, {"status": status})

    def count_questions(self, status: str) -> int:
        return count_matching(self.kb_questions, {"status": status})

    # ---- staff accounts and the audit log ---------------------------------------------------

    def count_staff(self) -> int:
        return count_matching(self.staff, {})

    def create_staff(self, *, username: str, password_hash: str, role: str, agency: str | None = None,
                     name: str | None = None, email: str | None = None, must_change_password: bool = False) -> bool:
        """False when the username is taken (also when two processes create the first admin at once)."""
        try:
            self.staff.insert_one({"username": username, "password_hash": password_hash, "role": role,
                                   "agency": agency, "name": name or username, "active": "yes", "email": email,
                                   "must_change_password": _yes(must_change_password), "session_epoch": 0,
                                   "created_at": utcnow(),
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
        total = count_matching(self.audit, query)
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
        return count_matching(self.alerts, {"username": username, **({"read": "no"} if unread_only else {})})

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
        total = count_matching(self.conversations, query)
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
            return sum(count_matching(self.cases, {**query, "status": status}) for status in statuses["$in"])
        return count_matching(self.cases, query)

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

    # ---- personal data (Nghị định 13/2023): what is kept, erasure requests, erasure, retention ----

    def account_messages(self, channel: str, user_id: str) -> list[dict]:
        """Every message of one account, both directions, the fields that may hold personal data."""
        return list(self.messages.find({"channel": channel, "user_id": user_id},
                                       {"message_id": 1, "in_reply_to": 1, "attachments": 1, "received_ts": 1,
                                        "direction": 1}))

    def account_cases(self, channel: str, user_id: str) -> list[dict]:
        return list(self.cases.find({"channel": channel, "user_id": user_id}).sort("created_ts", DESCENDING))

    def add_data_request(self, document: dict) -> bool:
        """False when this message already filed it (a retried turn)."""
        try:
            self.data_requests.insert_one({**document, "created_at": utcnow(), "created_ts": time.time()})
            return True
        except DuplicateKeyError:
            return False

    def pending_data_request(self, channel: str, user_id: str) -> dict | None:
        return self.data_requests.find_one({"channel": channel, "user_id": user_id, "state": "pending"})

    def find_data_request(self, code: str) -> dict | None:
        return self.data_requests.find_one({"code": str(code)})

    def list_data_requests(self, state: str | None = None, limit: int = 100) -> list[dict]:
        query = {"state": state} if state else {}
        return list(self.data_requests.find(query).sort("created_ts", DESCENDING).limit(limit))

    def update_data_request(self, code: str, *, expect_state: str | None = None, **fields) -> bool:
        """Atomic when `expect_state` is given: of two admins deciding at once, one does."""
        query = {"code": code, **({"state": expect_state} if expect_state else {})}
        return self.data_requests.update_one(query, {"$set": fields}).modified_count == 1

    def forget_data_requests(self, channel: str, user_id: str, pseudonym: str) -> int:
        return self.data_requests.update_many({"channel": channel, "user_id": user_id},
                                              {"$set": {"user_id": pseudonym}}).modified_count

    def anonymise_case(self, code: str, **fields) -> None:
        """What an erasure leaves of a case: what the dashboard counts (category, place at district
        level, agency, status, times, rating), nothing that names or reaches the citizen."""
        self.cases.update_one({"code": code}, {"$set": {"description": "", "erased_ts": time.time(), **fields},
                                               "$unset": {"rating_comment": ""}})

    def case_events_of(self, codes: list[str]) -> list[dict]:
        return list(self.case_events.find({"code": {"$in": list(codes)}})) if codes else []

    def rewrite_case_event(self, doc_id, note: str) -> None:
        self.case_events.update_one({"_id": doc_id}, {"$set": {"note": note}})

    def anonymise_message(self, doc_id, **fields) -> None:
        self.messages.update_one({"_id": doc_id}, {"$set": {"text": "", "attachments": [], "choices": [], "info": {},
                                                            "erased": "yes", **fields},
                                                   "$unset": {"last_error": ""}})

    def delete_conversation(self, channel: str, user_id: str) -> int:
        return self.conversations.delete_many({"channel": channel, "user_id": user_id}).deleted_count

    def audit_entries_about(self, targets: list[str]) -> list[dict]:
        return list(self.audit.find({"target": {"$in": list(targets)}})) if targets else []

    def rewrite_audit_entry(self, doc_id, **fields) -> None:
        self.audit.update_one({"_id": doc_id}, {"$set": fields})

    def alerts_about(self, codes: list[str], user_id: str) -> list[dict]:
        """Alerts whose link or text names one of these cases or this account (a full scan: rare)."""
        names = [re.escape(c) for c in codes] + [re.escape(user_id)]
        return list(self.alerts.find({"$or": [{"url": {"$regex": "|".join(names)}},
                                              {"text": {"$regex": "|".join(names)}}]}))

    def rewrite_alert(self, doc_id, **fields) -> None:
        self.alerts.update_one({"_id": doc_id}, {"$set": fields})

    def media_in_use(self, sha256: str) -> bool:
        return self.messages.find_one({"attachments.stored.sha256": sha256}, {"_id": 1}) is not None

    def open_case_accounts(self) -> set[tuple[str, str]]:
        """(channel, user id) of every account with an open case: retention keeps their chats."""
        found = self.cases.find({"status": {"$in": list(OPEN_STATUSES)}}, {"channel": 1, "user_id": 1, "_id": 0})
        return {(c["channel"], c["user_id"]) for c in found}

    def cases_closed_before(self, cutoff_ts: float, limit: int) -> list[dict]:
        """Closed cases not yet stripped of personal data, closed before `cutoff_ts`."""
        return list(self.cases.find({"closed_ts": {"$lt": cutoff_ts}, "erased_ts": {"$exists": False},
                                     "status": {"$in": list(CLOSED_STATUSES)}}).limit(limit))

    def old_messages(self, after_ts: float, before_ts: float, limit: int) -> list[dict]:
        """Messages written between the two times that still hold text or media, oldest first."""
        return list(self.messages.find({"received_ts": {"$gt": after_ts, "$lt": before_ts}, "erased": {"$exists": False}},
                                       {"channel": 1, "user_id": 1, "attachments": 1, "received_ts": 1})
                    .sort("received_ts", ASCENDING).limit(limit))

    def idle_conversations(self, before_ts: float) -> list[dict]:
        """Conversations whose last citizen message is older than `before_ts`."""
        return list(self.conversations.find({"last_in_ts": {"$lt": before_ts}},
                                            {"channel": 1, "user_id": 1, "last_in_text": 1, "profile": 1, "form": 1}))

    def forget_conversation_details(self, channel: str, user_id: str) -> None:
        self.conversations.update_one({"channel": channel, "user_id": user_id},
                                      {"$set": {"last_in_text": "", "profile": {}, "form": None}})
