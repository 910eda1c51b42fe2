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

from bot.messages import InboundMessage, Receipt, StaffMessage
from bot.routing import Route

CASE_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on a phone
CASE_CODE_LENGTH = 6
CLAIM_SCAN = 50  # pending messages looked at per claim; those of busy citizens are skipped
SERVICE_CATEGORIES = ("report", "suggestion", "welfare", "health_advice")


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

    def close(self) -> None:
        self.client.close()

    def ping(self) -> bool:
        try:
            self.client.admin.command("ping")
            return True
        except PyMongoError:
            return False

    def ensure_indexes(self) -> None:
        """Idempotent: creating an index that exists is a no-op."""
        self.messages.create_index([("channel", ASCENDING), ("message_id", ASCENDING)], unique=True)
        self.messages.create_index([("state", ASCENDING), ("lease_until", ASCENDING)])
        self.messages.create_index([("direction", ASCENDING), ("state", ASCENDING), ("received_ts", ASCENDING)])
        self.conversations.create_index([("handler", ASCENDING), ("handoff_priority", ASCENDING)])
        self.messages.create_index([("channel", ASCENDING), ("user_id", ASCENDING), ("received_ts", ASCENDING)])
        self.messages.create_index([("channel", ASCENDING), ("platform_message_id", ASCENDING)])
        self.conversations.create_index([("channel", ASCENDING), ("user_id", ASCENDING)], unique=True)
        self.cases.create_index([("code", ASCENDING)], unique=True)
        self.cases.create_index([("source", ASCENDING)], unique=True)
        self.cases.create_index([("channel", ASCENDING), ("user_id", ASCENDING)])
        self.case_events.create_index([("key", ASCENDING)], unique=True)
        self.case_events.create_index([("code", ASCENDING), ("ts", ASCENDING)])

    def wait_until_ready(self, deadline_seconds: float) -> None:
        """At start-up the database may still be starting (make run starts everything at once)."""
        deadline = time.monotonic() + deadline_seconds
        while True:
            try:
                self.ensure_indexes()
                return
            except PyMongoError as exc:
                if time.monotonic() > deadline:
                    raise DatabaseUnavailable(str(exc)) from exc
                time.sleep(0.5)

    # ---- inbound messages: the queue the worker drains -------------------------------------

    def store_inbound(self, messages: list[InboundMessage]) -> int:
        """Store each message once; a redelivered one is skipped. Returns how many were new."""
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

    def apply_receipt(self, receipt: Receipt) -> int:
        """Mark our messages delivered or seen. Returns how many were updated."""
        field = f"{receipt.status}_ts"
        query = {"channel": receipt.channel, "direction": "out", field: {"$exists": False}}
        if receipt.message_ids:
            query["platform_message_id"] = {"$in": list(receipt.message_ids)}
        elif receipt.watermark_ms:
            # Messenger: everything we sent this user up to the watermark.
            query.update(user_id=receipt.user_id, state="sent", sent_ts={"$lte": receipt.watermark_ms / 1000})
        else:
            return 0
        try:
            return self.messages.update_many(query, {"$set": {field: time.time()}}).modified_count
        except PyMongoError as exc:
            raise DatabaseUnavailable(str(exc)) from exc

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

    def set_handler(self, channel: str, user_id: str, handler: str) -> None:
        """"bot" answers; "waiting" (for a person) or "staff" (a person holds it): the bot is silent."""
        self.update_conversation(channel, user_id, handler=handler, handler_since_ts=time.time())

    def start_handoff(self, channel: str, user_id: str, reason: str, urgent: bool) -> None:
        """The chat waits for a person (the console's queue: urgent first, then oldest)."""
        self.update_conversation(channel, user_id, handler="waiting", handler_since_ts=time.time(),
                                 handoff_reason=reason, handoff_priority="urgent" if urgent else "normal")

    def save_attachments(self, doc_id, attachments: list[dict]) -> None:
        self.messages.update_one({"_id": doc_id}, {"$set": {"attachments": attachments}})

    def history(self, channel: str, user_id: str, after_ts: float = 0.0, limit: int = 200) -> list[dict]:
        """One citizen's conversation, both directions, oldest first."""
        return list(self.messages.find({"channel": channel, "user_id": user_id, "received_ts": {"$gt": after_ts}})
                    .sort("received_ts", ASCENDING).limit(limit))

    def count_inbound_since(self, channel: str, user_id: str, since_ts: float) -> int:
        return self.messages.count_documents({"channel": channel, "user_id": user_id, "direction": "in",
                                              "received_ts": {"$gt": since_ts}})

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

    def _unlock_user(self, channel: str, user_id: str, worker_id: str) -> None:
        self.conversations.update_one({"channel": channel, "user_id": user_id, "lock_owner": worker_id},
                                      {"$set": {"lock_owner": None, "lock_until": 0.0}})

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
        self._unlock_user(message["channel"], message["user_id"], message["worker"])

    def last_inbound_ts(self, channel: str, user_id: str) -> float | None:
        """When this user last wrote to us: the platforms' reply windows run from it."""
        last = self.messages.find_one({"channel": channel, "user_id": user_id, "direction": "in"},
                                      sort=[("received_ts", DESCENDING)])
        return last["received_ts"] if last else None

    def queue_figures(self, now: float) -> tuple[int, float]:
        """How many inbound messages wait, and the age in seconds of the oldest."""
        waiting = {"direction": "in", "state": "pending"}
        oldest = self.messages.find_one(waiting, sort=[("received_ts", ASCENDING)])
        return self.messages.count_documents(waiting), (now - oldest["received_ts"]) if oldest else 0.0

    def handoffs_waiting(self) -> dict[str, int]:
        return {priority: self.conversations.count_documents({"handler": "waiting", "handoff_priority": priority})
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
                       key: str | None = None) -> None:
        """One line of a case's history (a collection of its own: history is only ever added to).
        `key` makes a retried write a no-op."""
        try:
            self.case_events.insert_one({"key": key or f"{code}:{time.time_ns()}", "code": code, "status": status,
                                         "by": by, "note": note, "public": "yes" if public else "no",
                                         "created_at": utcnow(), "ts": time.time()})
        except DuplicateKeyError:
            pass

    def change_status(self, code: str, status: str, *, by: str, note: str, public: bool) -> str:
        """Move a case along its lifecycle and record who did it, when and why. Returns the key
        of the history entry."""
        fields = {"status": status, "updated_ts": time.time()}
        if status == "resolved":
            fields["resolved_ts"] = time.time()
        self.cases.update_one({"code": code}, {"$set": fields})
        key = f"{code}:{time.time_ns()}"
        self.add_case_event(code, status, by=by, note=note, public=public, key=key)
        return key

    def case_history(self, code: str) -> list[dict]:
        return list(self.case_events.find({"code": code}).sort("ts", ASCENDING))

    def find_case(self, code: str) -> dict | None:
        return self.cases.find_one({"code": code.upper()})

    # ---- outbound messages ----------------------------------------------------------------

    def begin_outbound(self, *, channel: str, user_id: str, message_id: str, text: str,
                       in_reply_to: str | None, choices: tuple = ()) -> dict | None:
        """Record a reply before sending it. Returns the record to send, or None when this reply
        was already sent or attempted: a send that crashed half-way is never repeated blindly."""
        document = {
            "channel": channel,
            "message_id": message_id,
            "user_id": user_id,
            "direction": "out",
            "text": text,
            "choices": [list(choice) for choice in choices],
            "in_reply_to": in_reply_to,
            "created_at": utcnow(),
            "received_ts": time.time(),
            "state": "sending",
            "attempts": 1,
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

    def queue_notice(self, *, channel: str, user_id: str, key: str, text: str) -> None:
        """A message the bot sends on its own (a case's status changed): the worker sends it."""
        try:
            self.messages.insert_one({"channel": channel, "message_id": key, "user_id": user_id, "direction": "out",
                                      "kind": "notice", "text": text, "choices": [], "in_reply_to": None,
                                      "created_at": utcnow(), "received_ts": time.time(), "state": "queued",
                                      "not_before": 0.0, "attempts": 0})
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

    def release_token_lease(self, name: str, owner: str) -> None:
        self.tokens.update_one({"_id": name, "lease_owner": owner},
                               {"$set": {"lease_owner": None, "lease_until": 0.0}})
