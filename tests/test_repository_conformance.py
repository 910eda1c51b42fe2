"""MongoDB's documented behaviour for every operation bot/repository.py uses. The suite runs
on the embedded server by default and on a real MongoDB with TEST_MONGODB_URI, so these tests
are what lets the embedded server stand in for MongoDB."""
import threading
import unicodedata
from datetime import datetime, timezone

import pytest
from pymongo import ASCENDING, MongoClient, ReturnDocument
from pymongo.errors import DuplicateKeyError

from bot.repository import INDEX_SET, Repository


@pytest.fixture
def db(database_uri):
    client = MongoClient(database_uri, tz_aware=True)
    yield client.get_default_database()
    client.close()


def test_unique_compound_index_rejects_a_second_document_and_creating_it_again_is_a_no_op(db):
    for _ in range(2):
        db.messages.create_index([("channel", ASCENDING), ("message_id", ASCENDING)], unique=True)
    db.messages.insert_one({"channel": "zalo", "message_id": "1"})
    db.messages.insert_one({"channel": "facebook", "message_id": "1"})
    with pytest.raises(DuplicateKeyError):
        db.messages.insert_one({"channel": "zalo", "message_id": "1"})
    assert db.messages.count_documents({}) == 2


def test_find_one_and_update_claims_the_oldest_matching_document_and_returns_it_after(db):
    db.q.insert_many([{"n": n, "state": "pending", "lease_until": 0.0, "attempts": 0, "ts": float(10 - n)}
                      for n in range(3)])
    claimed = db.q.find_one_and_update(
        {"state": "pending", "lease_until": {"$lte": 100.0}},
        {"$set": {"lease_until": 160.5, "worker": "w"}, "$inc": {"attempts": 1}},
        sort=[("ts", ASCENDING)], return_document=ReturnDocument.AFTER)
    assert claimed["n"] == 2 and claimed["lease_until"] == 160.5 and claimed["attempts"] == 1
    again = db.q.find_one_and_update({"state": "pending", "lease_until": {"$lte": 100.0}},
                                     {"$set": {"lease_until": 160.5}}, sort=[("ts", ASCENDING)])
    assert again["n"] == 1
    assert db.q.find_one_and_update({"n": 99}, {"$set": {"x": 1}}) is None


def test_a_write_whose_filter_has_an_or_touches_only_documents_matching_all_of_it(db):
    """Given `{"user_id": "z", "$or": [a range, an equality]}`, the embedded server's
    find_one_and_update and update_one (not find) took a document the `$or` alone matched: the
    lock meant for one citizen took another's conversation. Wrapped in `$and`, both servers agree."""
    db.c.insert_many([{"user_id": "x", "lock_owner": "A", "lock_until": 99.0}, {"user_id": "y", "lock_until": 99.0}])
    either = {"$or": [{"lock_until": {"$lte": 10.0}}, {"lock_owner": "A"}]}
    assert db.c.find_one_and_update({"$and": [{"user_id": "z"}, either]}, {"$set": {"taken": "yes"}}) is None
    assert db.c.update_one({"$and": [{"user_id": "z"}, either]}, {"$set": {"taken": "yes"}}).matched_count == 0
    taken = db.c.find_one_and_update({"$and": [{"user_id": "x"}, either]}, {"$set": {"taken": "yes"}},
                                     return_document=ReturnDocument.AFTER)
    assert taken["user_id"] == "x" and db.c.count_documents({"taken": "yes"}) == 1


def test_find_one_and_update_is_atomic_under_concurrent_claims(db):
    db.q.insert_many([{"n": n, "lease_until": 0.0} for n in range(40)])
    claims, lock = [], threading.Lock()

    def claim_all():
        while True:
            doc = db.q.find_one_and_update({"lease_until": {"$lte": 1.0}}, {"$set": {"lease_until": 9.0}})
            if doc is None:
                return
            with lock:
                claims.append(doc["n"])

    threads = [threading.Thread(target=claim_all) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(claims) == list(range(40))


def test_update_one_set_and_inc_and_count_documents(db):
    db.m.insert_many([{"k": 1, "state": "pending", "errors": 0}, {"k": 2, "state": "pending", "errors": 0}])
    result = db.m.update_one({"k": 1}, {"$set": {"state": "done", "outcome": {"intent": "report"}},
                                        "$inc": {"errors": 2}})
    assert result.matched_count == 1
    assert db.m.find_one({"k": 1})["outcome"] == {"intent": "report"}
    assert db.m.find_one({"k": 1})["errors"] == 2
    assert db.m.count_documents({"state": "pending"}) == 1
    assert db.m.update_one({"k": 3}, {"$set": {"state": "x"}}).matched_count == 0


def test_find_with_sort_returns_documents_in_order(db):
    db.m.insert_many([{"u": "a", "ts": 3.0}, {"u": "a", "ts": 1.0}, {"u": "b", "ts": 2.0}])
    assert [d["ts"] for d in db.m.find({"u": "a"}).sort("ts", ASCENDING)] == [1.0, 3.0]


def test_datetimes_and_vietnamese_text_round_trip(db):
    created = datetime(2026, 11, 25, 8, 30, 15, 123000, tzinfo=timezone.utc)
    text = unicodedata.normalize("NFC", "Phản ánh: tụ tập đông người ở ấp Ô Lắc, xã Đôn Châu 🙏")
    db.m.insert_one({"created_at": created, "text": text})
    stored = db.m.find_one()
    assert stored["created_at"] == created and stored["text"] == text


def test_list_collections_and_drop_database(db):
    db.a.insert_one({"x": 1})
    assert "a" in db.list_collection_names()


def test_repository_creates_its_indexes_idempotently(database_uri):
    repository = Repository(database_uri)
    try:
        repository.ensure_indexes()
        repository.ensure_indexes()
        keys = [[k for k, _ in ix["key"]] for ix in repository.messages.index_information().values()]
        assert ["channel", "message_id"] in keys
        assert any(v.get("unique") and [k for k, _ in v["key"]] == ["code"]
                   for v in repository.cases.index_information().values())
    finally:
        repository.close()


def test_a_database_made_with_another_index_set_gets_the_current_one(database_uri):
    """A start reads which index set the database has; after an upgrade that adds one, the
    next start makes it (ensure_indexes skips only when the recorded set is this code's)."""
    repository = Repository(database_uri)
    try:
        repository.ensure_indexes()
        assert repository.db.schema.find_one({"_id": "indexes"})["set"] == INDEX_SET
        def closed_ts_index() -> list[str]:  # by its key: the embedded server names indexes its own way
            return [name for name, ix in repository.cases.index_information().items() if ix["key"] == [("closed_ts", 1)]]

        repository.cases.drop_index(closed_ts_index()[0])
        repository.ensure_indexes()  # the same set recorded: nothing is sent
        assert closed_ts_index() == []
        repository.db.schema.update_one({"_id": "indexes"}, {"$set": {"set": "made-by-older-code"}})
        repository.ensure_indexes()
        assert len(closed_ts_index()) == 1
        assert repository.db.schema.find_one({"_id": "indexes"})["set"] == INDEX_SET
    finally:
        repository.close()


def test_upsert_with_set_on_insert_creates_once_and_never_overwrites(db):
    db.c.create_index([("channel", ASCENDING), ("user_id", ASCENDING)], unique=True)
    who = {"channel": "zalo", "user_id": "u1"}
    first = db.c.update_one(who, {"$set": {"updated_ts": 1.0}, "$setOnInsert": {"handler": "bot"}}, upsert=True)
    db.c.update_one(who, {"$set": {"handler": "staff"}})
    again = db.c.update_one(who, {"$set": {"updated_ts": 2.0}, "$setOnInsert": {"handler": "bot"}}, upsert=True)
    assert first.upserted_id is not None and again.upserted_id is None
    assert db.c.find_one(who, {"_id": 0}) == {**who, "updated_ts": 2.0, "handler": "staff"}


def test_or_with_exists_matches_missing_fields_and_expired_leases(db):
    db.c.insert_many([{"k": 1}, {"k": 2, "lock_until": 5.0}, {"k": 3, "lock_until": 50.0}])
    free = {"$or": [{"lock_until": {"$lte": 10.0}}, {"lock_until": {"$exists": False}}]}
    assert sorted(d["k"] for d in db.c.find(free)) == [1, 2]


def test_update_many_with_in_and_nested_documents_and_lists(db):
    db.m.insert_many([{"pid": "a", "ts": 1.0}, {"pid": "b", "ts": 2.0}, {"pid": "c", "ts": 3.0}])
    assert db.m.update_many({"pid": {"$in": ["a", "b"]}, "seen": {"$exists": False}},
                            {"$set": {"seen": 9.0}}).modified_count == 2
    attachments = [{"type": "image", "stored": {"sha256": "ab", "bytes": 3}}, {"type": "location", "latitude": 9.9}]
    db.m.update_one({"pid": "c"}, {"$set": {"attachments": attachments, "choices": [["Phản ánh", "P"]]}})
    stored = db.m.find_one({"pid": "c"})
    assert stored["attachments"] == attachments and stored["choices"] == [["Phản ánh", "P"]]
    assert db.m.find_one({"pid": "c"}, sort=[("ts", -1)])["pid"] == "c"
    assert [d["pid"] for d in db.m.find({"ts": {"$gt": 1.5}}).sort("ts", ASCENDING).limit(1)] == ["b"]


def test_counting_with_an_aggregate_match_and_count(db):
    """Repository._count: an exact count. When nothing matches MongoDB yields no document and
    the embedded server {"n": 0}: _count reads both as 0."""
    db.c.insert_many([{"status": "routed", "due_ts": float(n), "tag": {"phone": "09"}} for n in range(5)]
                     + [{"status": "resolved", "due_ts": 1.0}])
    count = lambda query: list(db.c.aggregate([{"$match": query}, {"$count": "n"}]))
    assert count({"status": "routed", "due_ts": {"$lt": 3.0}}) == [{"n": 3}]
    assert count({"status": {"$in": ["routed", "resolved"]}}) == [{"n": 6}]
    assert count({"status": "duplicate"}) in ([], [{"n": 0}])


def test_skip_limit_and_descending_sort_page_through_a_collection(db):
    db.p.insert_many([{"n": n, "ts": float(n)} for n in range(12)])
    page = lambda skip: [d["n"] for d in db.p.find().sort("ts", -1).skip(skip).limit(5)]
    assert (page(0), page(5), page(10)) == ([11, 10, 9, 8, 7], [6, 5, 4, 3, 2], [1, 0])


def test_a_range_on_a_float_combined_with_an_equality(db):
    db.r.insert_many([{"agency": a, "created_ts": float(t)} for a in ("x", "y") for t in range(10)])
    assert db.r.count_documents({"agency": "x", "created_ts": {"$gte": 3.0, "$lt": 7.0}}) == 4


def test_replace_one_upserts_a_document_whose_keys_are_vietnamese_names(db):
    table = {"routes": {"report": {"*": "bcd_tinh", "Huyện Càng Long": "ubnd_cang_long"}}, "sla_hours": {"report": 12.5}}
    for version in (table, {**table, "sla_hours": {"report": 24.0}}):
        db.settings.replace_one({"_id": "routing"}, {"_id": "routing", "table": version}, upsert=True)
    assert db.settings.count_documents({}) == 1
    stored = db.settings.find_one({"_id": "routing"})["table"]
    assert stored["routes"]["report"]["Huyện Càng Long"] == "ubnd_cang_long" and stored["sla_hours"]["report"] == 24.0


def test_a_regex_given_as_a_string_matches_the_end_of_a_nested_field(db):
    """find_cases(phone_ending=...): the last digits of a phone. (A compiled pattern is refused
    by the embedded server: the repository always sends the {"$regex": "..."} form.)"""
    db.cases.insert_many([{"n": 1, "details": {"phone": "0912345678"}}, {"n": 2, "details": {"phone": "0956781234"}},
                          {"n": 3, "details": {}}])
    assert [d["n"] for d in db.cases.find({"details.phone": {"$regex": "5678$"}})] == [1]


def test_a_descending_sort_puts_documents_without_the_field_last(db):
    """all_conversations: sorted by the citizen's last message; older conversations have none."""
    db.conv.insert_many([{"u": "a", "last_in_ts": 5.0}, {"u": "b"}, {"u": "c", "last_in_ts": 9.0}])
    assert [d["u"] for d in db.conv.find().sort("last_in_ts", -1)] == ["c", "a", "b"]


def test_distinct_lists_each_value_once(db):
    """audit_actions: the audit log's filter offers every action recorded."""
    db.audit.insert_many([{"action": a} for a in ("login", "case.status", "login", "chat.claim")])
    assert sorted(db.audit.distinct("action")) == ["case.status", "chat.claim", "login"]


def test_find_one_and_update_with_alternatives_takes_the_chat_once_and_returns_it_before(db):
    """take_chat: waiting, held on the platform, or (for an admin) held by someone else."""
    db.conv.insert_many([{"u": "w", "handler": "waiting", "staff_owner": None},
                         {"u": "s", "handler": "staff", "staff_owner": "dtv1"}])
    claimable = lambda me: {"$or": [{"handler": "waiting"}, {"handler": "staff", "staff_owner": None},
                                    {"handler": "staff", "staff_owner": {"$ne": me}}]}
    before = db.conv.find_one_and_update({"u": "s", **claimable("dtv1")}, {"$set": {"staff_owner": "x"}})
    assert before is None  # your own chat is not taken from a colleague
    before = db.conv.find_one_and_update({"u": "s", **claimable("quantri")}, {"$set": {"staff_owner": "quantri"}},
                                         projection={"_id": 0, "u": 1, "staff_owner": 1})
    assert before == {"u": "s", "staff_owner": "dtv1"}
    assert db.conv.find_one({"u": "s"})["staff_owner"] == "quantri"
    assert db.conv.find_one_and_update({"u": "w", "handler": {"$in": ["waiting", "staff"]}},
                                       {"$set": {"handler": "bot"}})["handler"] == "waiting"


# ---- the knowledge base (issue 13) ---------------------------------------------------------------

def test_a_string_id_is_unique_and_lists_of_strings_come_back_as_lists(db):
    db.kb.insert_one({"_id": "tiem-mui-3", "questions": ["Khi nào tiêm mũi 3?", "mui 3"], "scope": [],
                      "valid_until": None})
    with pytest.raises(DuplicateKeyError):
        db.kb.insert_one({"_id": "tiem-mui-3"})
    found = db.kb.find_one({"_id": "tiem-mui-3"})
    assert found["questions"] == ["Khi nào tiêm mũi 3?", "mui 3"] and found["scope"] == [] \
        and found["valid_until"] is None


def test_find_one_and_update_only_from_the_statuses_given_returns_the_document_before(db):
    db.kb.insert_one({"_id": "e1", "status": "draft", "scope": []})
    before = db.kb.find_one_and_update({"_id": "e1", "status": {"$in": ["draft", "retired"]}},
                                       {"$set": {"status": "published", "scope": ["Huyện Cầu Kè"], "approved_by": None}})
    assert before["status"] == "draft"
    after = db.kb.find_one({"_id": "e1"})
    assert (after["status"], after["scope"], after["approved_by"]) == ("published", ["Huyện Cầu Kè"], None)
    assert db.kb.find_one_and_update({"_id": "e1", "status": {"$in": ["draft"]}}, {"$set": {"status": "x"}}) is None


def test_inc_with_upsert_creates_the_counter_then_counts(db):
    for _ in range(3):
        db.settings.update_one({"_id": "knowledge_version"}, {"$inc": {"value": 1}}, upsert=True)
    assert db.settings.find_one({"_id": "knowledge_version"})["value"] == 3


def test_the_repository_keeps_entries_and_questions(database_uri):
    repository = Repository(database_uri)
    try:
        repository.ensure_indexes()
        assert repository.knowledge_version() == 0
        repository.bump_knowledge_version()
        assert repository.knowledge_version() == 1
        assert repository.insert_entry({"_id": "a", "status": "draft", "updated_ts": 1.0})
        assert not repository.insert_entry({"_id": "a", "status": "draft", "updated_ts": 1.0})
        repository.insert_entry({"_id": "b", "status": "published", "updated_ts": 2.0})
        assert [e["_id"] for e in repository.knowledge_entries()] == ["b", "a"]
        assert [e["_id"] for e in repository.published_entries()] == ["b"]
        assert repository.update_entry("a", statuses=("published",), answer="x") is None
        assert repository.update_entry("a", statuses=("draft",), status="published")["status"] == "draft"
        assert {e["_id"] for e in repository.published_entries()} == {"a", "b"}
        for n, status in enumerate(["waiting", "auto", "waiting"]):
            assert repository.record_question(key=f"zalo:m{n}", channel="zalo", user_id="u", text=f"hỏi {n}",
                                              district=None, status=status, entry_id=None, confidence=0.1)
        assert not repository.record_question(key="zalo:m0", channel="zalo", user_id="u", text="again",
                                              district=None, status="waiting", entry_id=None, confidence=0.1)
        waiting, total = repository.find_questions("waiting")
        assert [q["_id"] for q in waiting] == ["zalo:m0", "zalo:m2"] and total == 2
        assert repository.update_question("zalo:m1", statuses=("auto",), status="waiting")["status"] == "auto"
        assert repository.update_question("zalo:m1", statuses=("auto",), status="waiting") is None
        assert repository.count_questions("waiting") == 3
    finally:
        repository.close()
# ---- the citizen's side (issue 17): erasure, retention, duplicates ------------------------------

def test_a_field_inside_a_list_of_subdocuments_is_matched_by_its_dotted_path(db):
    db.m.insert_many([{"n": 1, "attachments": [{"type": "image", "stored": {"sha256": "aa"}}]},
                      {"n": 2, "attachments": [{"type": "sticker"}, {"stored": {"sha256": "bb"}}]},
                      {"n": 3, "attachments": []}])
    assert [d["n"] for d in db.m.find({"attachments.stored.sha256": "bb"})] == [2]
    assert db.m.find_one({"attachments.stored.sha256": "cc"}) is None


def test_set_and_unset_in_one_update_and_exists_false_after_it(db):
    db.c.insert_many([{"code": "A", "description": "x", "rating_comment": "chậm quá", "details": {"phone": "09"}},
                      {"code": "B", "description": "y"}])
    db.c.update_one({"code": "A"}, {"$set": {"description": "", "details": {"topic": "vaccine"}, "erased_ts": 1.5},
                                    "$unset": {"rating_comment": ""}})
    erased = db.c.find_one({"code": "A"}, {"_id": 0})
    assert erased == {"code": "A", "description": "", "details": {"topic": "vaccine"}, "erased_ts": 1.5}
    assert [d["code"] for d in db.c.find({"erased_ts": {"$exists": False}})] == ["B"]


def test_a_range_with_exists_false_and_an_in_finds_closed_cases_not_yet_erased(db):
    db.c.insert_many([{"code": "old", "status": "resolved", "closed_ts": 10.0},
                      {"code": "erased", "status": "resolved", "closed_ts": 10.0, "erased_ts": 20.0},
                      {"code": "recent", "status": "resolved", "closed_ts": 99.0},
                      {"code": "open", "status": "routed", "closed_ts": None}])
    found = db.c.find({"closed_ts": {"$lt": 50.0}, "erased_ts": {"$exists": False},
                       "status": {"$in": ["resolved", "withdrawn"]}})
    assert [d["code"] for d in found] == ["old"]


def test_a_regex_alternation_inside_an_or_finds_alerts_about_an_account(db):
    db.alerts.insert_many([{"n": 1, "url": "/console/chats/zalo/5519", "text": "Tin mới"},
                           {"n": 2, "url": "/console/cases/TV-ABC234", "text": "Hồ sơ"},
                           {"n": 3, "url": "/console/alerts", "text": "Hồ sơ TV-XYZ234 quá hạn"},
                           {"n": 4, "url": "/console/alerts", "text": "khác"}])
    query = {"$or": [{"url": {"$regex": "TV\\-XYZ234|TV\\-ABC234|5519"}}, {"text": {"$regex": "TV\\-XYZ234|TV\\-ABC234|5519"}}]}
    assert sorted(d["n"] for d in db.alerts.find(query)) == [1, 2, 3]


def test_a_list_of_strings_and_a_null_are_set_and_read_back(db):
    db.c.insert_one({"code": "A", "duplicates": ["TV-B"], "duplicate_of": "TV-Z"})
    db.c.update_one({"code": "A"}, {"$set": {"duplicates": ["TV-B", "TV-C"], "duplicate_of": None}})
    doc = db.c.find_one({"code": "A"})
    assert doc["duplicates"] == ["TV-B", "TV-C"] and doc["duplicate_of"] is None
    assert db.c.find_one({"duplicate_of": None})["code"] == "A"


def test_a_compare_and_set_on_a_count_and_a_float_time_lets_exactly_one_writer_through(db):
    """Sign-in counts (bot/console/throttle.py): read, then update only if unchanged."""
    db.login_throttle.insert_one({"_id": "k", "account": "a", "n": 1, "ts": 1764000000.123456, "until": 0.0})
    wins, lock = [], threading.Lock()

    def count_one():
        for _ in range(20):
            current = db.login_throttle.find_one({"_id": "k"})
            done = db.login_throttle.update_one({"_id": "k", "n": current["n"], "ts": current["ts"]},
                                                {"$set": {"n": current["n"] + 1, "ts": current["ts"] + 0.001}})
            if done.modified_count:
                with lock:
                    wins.append(current["n"] + 1)
                return

    threads = [threading.Thread(target=count_one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == list(range(2, 2 + len(wins))) and db.login_throttle.find_one()["n"] == 1 + len(wins)
    db.login_throttle.update_one({"_id": "k", "n": {"$gt": 0}}, {"$inc": {"n": -1}})
    assert db.login_throttle.find_one()["n"] == len(wins)
    db.login_throttle.insert_one({"_id": "p", "account": "a", "n": 1, "ts": 1.0, "until": 5.0})
    assert {d["account"] for d in db.login_throttle.find({"until": {"$gt": 4.5}}, {"account": 1})} == {"a"}
    assert db.login_throttle.delete_many({"account": "a"}).deleted_count == 2
    db.login_throttle.create_index("created_at", expireAfterSeconds=86400)  # the index exists, twice is a no-op
    db.login_throttle.create_index("created_at", expireAfterSeconds=86400)
