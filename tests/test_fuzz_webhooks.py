"""Generated hostile input against both webhooks and the web chat: never a 5xx, and a rejected
request leaves no trace in the database. Bodies are random bytes, random JSON, real events with a
wrong type in some field, deep nesting, bad UTF-8 and NFD text; some are signed correctly so the
parser really runs on them. Derandomized: CI sees the same examples every run."""
from __future__ import annotations

import copy
import dataclasses
import hashlib
import io
import json
import time
import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from bot import texts
from tests.conftest import facebook_signature, load_fixture
from tests.helpers import database_contents, inbound
from webhooks.web import CITIZEN_COOKIE

# Each test takes its fixtures (app, database: made once per test) and runs an inner @given
# function over them, so every example hits the same app and the same, growing, database, and the
# test can assert on what all its examples did together.
FUZZ = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples)


# Examples per target: 6,000 here; test_fuzz_nlu_text.py runs 4,400 more (10,400 in all).
UNSIGNED, SIGNED_MALFORMED, SIGNED_WELL_FORMED, WEB_MESSAGES, WEB_PHOTOS = 1500, 700, 300, 600, 400

ZALO_FIXTURES = [load_fixture("zalo", name) for name in (
    "user_send_text", "user_send_image", "user_send_location", "user_send_file", "follow",
    "user_submit_info", "user_seen_message", "user_received_message", "oa_send_text__by_staff")]
FACEBOOK_FIXTURES = [load_fixture("facebook", name) for name in (
    "messages", "messages__batch", "messages__image", "messages__location", "messages__quick_reply",
    "messages__reply_to", "messages__echo_from_page_inbox", "messaging_postbacks", "message_deliveries",
    "message_reads", "standby")]

OPERATORS = [{"$gt": ""}, {"$ne": None}, {"$where": "sleep(1000)"}, {"$regex": ".*"}, {"$in": [1]}]
scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
           | st.sampled_from([float("inf"), float("nan"), 10 ** 25, 2 ** 63, -(2 ** 63) - 1, -1])
           | st.sampled_from(["", "0", "-1", "1e309", "NaN", "mac=", "\x00", "\u0301", "9" * 30,
                              "x" * 5000, unicodedata.normalize("NFD", "Phản ánh ở Tiểu Cần")]))
def _containers(inner):
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4))


json_values = st.recursive(scalars | st.sampled_from(OPERATORS).map(copy.deepcopy), _containers, max_leaves=12)


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


hostile_bytes = st.one_of(
    st.binary(max_size=600),
    json_values.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
    st.integers(100, 200_000).map(lambda n: b"[" * n),                       # deeper than the parser
    st.integers(100, 5000).map(_nested),
    st.binary(min_size=1, max_size=40).map(lambda b: b'{"event_name":"user_send_text","x":"' + b + b'\xff"}'),
)


def _paths(value, prefix=()):
    """Every path to a field inside a JSON document."""
    yield prefix
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _paths(inner, prefix + (key,))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _paths(inner, prefix + (index,))


# Numbers no platform sends, for the fields that hold numbers (timestamps, sizes, watermarks):
# beyond a 64-bit integer, infinite, or written as digits.
extreme_numbers = st.sampled_from([float("inf"), float("-inf"), float("nan"), 10 ** 25, 2 ** 63, -(2 ** 63) - 1,
                                   -1, 1e300, "9" * 30, "1e400", "-5"])


@st.composite
def mutated_event(draw, fixtures, values=json_values):
    """A real event with one to three fields replaced by a value of some other type, or removed."""
    event = copy.deepcopy(draw(st.sampled_from(fixtures)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(event))[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = event
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict) and draw(st.booleans()) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(values)
    return event


def _body(event) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8", "surrogatepass")


def zalo_mac(body: bytes, app_id: str, key: str) -> str:
    """The signature as Zalo computes it, whatever the body holds (the timestamp as the body says)."""
    try:
        timestamp = str(json.loads(body).get("timestamp", ""))
    except (ValueError, AttributeError, RecursionError):
        timestamp = ""
    return "mac=" + hashlib.sha256(app_id.encode() + body + timestamp.encode() + key.encode()).hexdigest()


NOW_MS = int(time.time() * 1000)
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"), max_size=80)
content_types = st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded",
                                 "multipart/form-data; boundary=x", "application/json; charset=latin-1", ""])


@pytest.fixture
def fuzz_app(app, settings):
    """The app with the per-address web-chat limit out of the way: every example comes from
    127.0.0.1 (the per-address limit has its own test)."""
    app.extensions["settings"] = dataclasses.replace(settings, web_chat_ip_per_minute=10 ** 9)
    return app


class Expect:
    """Tracks the database between examples: a rejected request must leave it as it was.

    `every_example=False` is for tests where every request must be refused: the database is then
    compared once, over the whole run (5 ms a comparison is most of an example's cost)."""

    def __init__(self, repository, every_example: bool = True):
        self.repository = repository
        self.every_example = every_example
        self.contents = self._contents()
        self.counts: dict[int, int] = {}

    def check(self, response, allowed: set[int]):
        status = response.status_code
        self.counts[status] = self.counts.get(status, 0) + 1
        assert status < 500, f"{status}: {response.get_data(as_text=True)[:300]}"
        assert status in allowed, f"{status}: {response.get_data(as_text=True)[:300]}"
        if self.every_example:
            after = self._contents()
            if status >= 400:
                assert after == self.contents, f"a rejected request ({status}) changed the database"
            self.contents = after

    @property
    def examples(self) -> int:
        return sum(self.counts.values())

    def nothing_stored(self):
        assert self._contents() == self.contents

    def _contents(self) -> dict:
        # The web chat's limits count every request before reading it (bot/rate_limit.py): a
        # counter, not a trace of what was sent.
        return {name: n for name, n in database_contents(self.repository).items() if name != "rate_buckets"}


# ---- unsigned, forged or missing signatures: 403 (or 400 for a body that is no event at all) ----

def test_zalo_rejects_forged_bodies_and_headers(fuzz_app, repository):
    client, expect = fuzz_app.test_client(), Expect(repository, every_example=False)

    @fuzz(UNSIGNED)
    @given(body=hostile_bytes | mutated_event(ZALO_FIXTURES).map(_body),
           signature=st.none() | header_text | st.text("0123456789abcdef", min_size=64, max_size=64).map("mac=".__add__),
           content_type=content_types)
    def run(body, signature, content_type):
        headers = {} if signature is None else {"X-ZEvent-Signature": signature}
        expect.check(client.post("/webhooks/zalo", data=body, content_type=content_type, headers=headers),
                     {400, 403})

    run()
    expect.nothing_stored()
    assert expect.examples == UNSIGNED and expect.counts.get(403, 0) > UNSIGNED // 3, expect.counts


def test_facebook_rejects_forged_bodies_and_headers(fuzz_app, repository):
    client, expect = fuzz_app.test_client(), Expect(repository, every_example=False)

    @fuzz(UNSIGNED)
    @given(body=hostile_bytes | mutated_event(FACEBOOK_FIXTURES).map(_body),
           signature=st.none() | header_text | st.text("0123456789abcdef", min_size=64, max_size=64).map(
               "sha256=".__add__),
           content_type=content_types)
    def run(body, signature, content_type):
        headers = {} if signature is None else {"X-Hub-Signature-256": signature}
        expect.check(client.post("/webhooks/facebook", data=body, content_type=content_type, headers=headers),
                     {403})

    run()
    expect.nothing_stored()
    assert expect.examples == UNSIGNED


# ---- correctly signed, so the parser runs: malformed is 400 and stores nothing -----------------

def test_zalo_signed_hostile_events_are_400_or_stored_cleanly(fuzz_app, repository, settings):
    client, expect = fuzz_app.test_client(), Expect(repository)

    @fuzz(SIGNED_MALFORMED)
    @given(body=mutated_event(ZALO_FIXTURES).map(_body) | mutated_event(ZALO_FIXTURES, extreme_numbers).map(_body)
           | hostile_bytes)
    def run(body):
        signature = zalo_mac(body, settings.zalo_app_id, settings.zalo_oa_secret_key)
        expect.check(client.post("/webhooks/zalo", data=body, content_type="application/json",
                                 headers={"X-ZEvent-Signature": signature}), {200, 400})

    run()
    assert expect.examples == SIGNED_MALFORMED, expect.counts
    assert expect.counts.get(400, 0) > 0 and expect.counts.get(200, 0) > 0, expect.counts
    _assert_no_operator_stored(repository)


def test_facebook_signed_hostile_events_are_400_or_stored_cleanly(fuzz_app, repository):
    client, expect = fuzz_app.test_client(), Expect(repository)

    @fuzz(SIGNED_MALFORMED)
    @given(body=mutated_event(FACEBOOK_FIXTURES).map(_body)
           | mutated_event(FACEBOOK_FIXTURES, extreme_numbers).map(_body) | hostile_bytes)
    def run(body):
        expect.check(client.post("/webhooks/facebook", data=body, content_type="application/json",
                                 headers={"X-Hub-Signature-256": facebook_signature(body)}), {200, 400})

    run()
    assert expect.examples == SIGNED_MALFORMED, expect.counts
    assert expect.counts.get(400, 0) > 0 and expect.counts.get(200, 0) > 0, expect.counts
    _assert_no_operator_stored(repository)


def _assert_no_operator_stored(repository):
    """What a signed event carried in a string field is stored as a string, never as a subdocument
    that could later be read back into a query."""
    for message in repository.messages.find():
        for field in ("message_id", "user_id", "text", "payload", "reply_to"):
            assert message.get(field) is None or isinstance(message[field], str), (field, message)


# ---- correctly signed and well formed: 200, stored once, text in NFC ------------------------

vietnamese = st.text(st.sampled_from(list("aăâeêioôơuưyđ bcdghklmnpqrstvx?.,!0123456789")
                                     + ["\u0300", "\u0301", "\u0303", "\u0309", "\u0323", "😀", "\u200b"]),
                     min_size=1, max_size=300)
ids = st.text("0123456789", min_size=1, max_size=19)


def test_zalo_signed_well_formed_text_is_stored_once_as_nfc(fuzz_app, repository, settings):
    client = fuzz_app.test_client()
    first_text = {}  # message id -> the text first delivered with it: a later one with that id is a duplicate
    runs = []

    @fuzz(SIGNED_WELL_FORMED)
    @given(text=vietnamese, form=st.sampled_from(["NFC", "NFD"]), sender=ids, msg_id=ids,
           # within Zalo's retry window (older events are refused: tests/security/test_webhooks.py)
           timestamp=st.integers(NOW_MS - 23 * 3600_000, NOW_MS + 3600_000).map(str))
    def run(text, form, sender, msg_id, timestamp):
        event = load_fixture("zalo", "user_send_text")
        event.update(timestamp=timestamp, sender={"id": sender})
        event["message"] = {"text": unicodedata.normalize(form, text), "msg_id": msg_id}
        body = _body(event)
        headers = {"X-ZEvent-Signature": zalo_mac(body, settings.zalo_app_id, settings.zalo_oa_secret_key)}
        for _ in range(2):  # the platform's retry is the same message
            response = client.post("/webhooks/zalo", data=body, content_type="application/json", headers=headers)
            assert response.status_code == 200, response.get_data(as_text=True)
        runs.append(msg_id)
        first_text.setdefault(msg_id, unicodedata.normalize("NFC", text))
        stored = repository.messages.find_one({"channel": "zalo", "message_id": msg_id})
        assert stored["text"] == first_text[msg_id]

    run()
    assert len(runs) == SIGNED_WELL_FORMED
    assert len(inbound(repository)) == len(first_text)


def test_facebook_signed_well_formed_batches_store_every_message_once(fuzz_app, repository):
    client = fuzz_app.test_client()
    seen, runs = set(), []

    @fuzz(SIGNED_WELL_FORMED)
    @given(messages=st.lists(st.tuples(ids, st.text("abcdefXYZ_-0123456789", min_size=1, max_size=40), vietnamese),
                             min_size=1, max_size=5))
    def run(messages):
        payload = {"object": "page", "entry": [{"id": "104892745590123", "time": 1, "messaging": [
            {"sender": {"id": sender}, "recipient": {"id": "104892745590123"}, "timestamp": NOW_MS,
             "message": {"mid": f"m_{mid}", "text": unicodedata.normalize("NFD", text)}}
            for sender, mid, text in messages]}]}
        body = _body(payload)
        for _ in range(2):
            response = client.post("/webhooks/facebook", data=body, content_type="application/json",
                                   headers={"X-Hub-Signature-256": facebook_signature(body)})
            assert response.status_code == 200, response.get_data(as_text=True)
        seen.update(f"m_{mid}" for _, mid, _ in messages)
        runs.append(len(messages))

    run()
    assert len(runs) == SIGNED_WELL_FORMED
    assert sorted(m["message_id"] for m in inbound(repository)) == sorted(seen)


# ---- the web chat ------------------------------------------------------------------------------

web_bodies = st.one_of(
    hostile_bytes,
    st.fixed_dictionaries({}, optional={"text": json_values | vietnamese, "id": json_values | ids,
                                        "payload": json_values}).map(_body),
    st.fixed_dictionaries({"text": vietnamese}, optional={"id": json_values | ids, "payload": json_values}).map(_body),
)


def test_web_chat_messages_never_fail_and_refusals_leave_no_trace(fuzz_app, repository):
    expect = Expect(repository)

    @fuzz(WEB_MESSAGES)
    @given(body=web_bodies, content_type=st.just("application/json") | content_types, message_id=st.none() | header_text,
           cookie=st.none() | header_text)
    def run(body, content_type, message_id, cookie):
        client = fuzz_app.test_client()  # a new citizen each time: the per-citizen limit has its own test
        if cookie is not None:
            client.set_cookie(CITIZEN_COOKIE, cookie)
        headers = {} if message_id is None else {"X-Message-Id": message_id}
        response = client.post("/chat/messages", data=body, content_type=content_type, headers=headers)
        expect.check(response, {202, 400, 413})
        if response.status_code == 413:
            assert response.get_json()["error"] == texts.WEB_CHAT_TOO_LARGE
        if response.status_code == 202:
            assert isinstance(json.loads(body)["text"], str)

    run()
    assert expect.examples == WEB_MESSAGES
    assert expect.counts.get(400, 0) > 0 and expect.counts.get(202, 0) > 0, expect.counts
    _assert_no_operator_stored(repository)


def test_web_chat_photos_never_fail_and_refusals_leave_no_trace(fuzz_app, repository):
    expect = Expect(repository)
    png = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
           b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND"
           b"\xaeB`\x82")

    @fuzz(WEB_PHOTOS)
    @given(data=st.binary(max_size=300) | st.just(png), mimetype=st.sampled_from(
               ["image/png", "image/jpeg", "text/html", "application/x-sh", "", "IMAGE/PNG", "image/svg+xml"]),
           filename=header_text, caption=st.none() | vietnamese | header_text,
           upload_header=st.sampled_from([None, "tongdai1022", "XMLHttpRequest", ""]),
           field=st.sampled_from(["photo", "file", "photo[]"]), raw=st.none() | hostile_bytes)
    def run(data, mimetype, filename, caption, upload_header, field, raw):
        client = fuzz_app.test_client()
        headers = {} if upload_header is None else {"X-Requested-With": upload_header}
        if raw is not None:  # not multipart at all, or a broken one
            response = client.post("/chat/photos", data=raw, headers=headers,
                                   content_type="multipart/form-data; boundary=zz")
        else:
            form = {field: (io.BytesIO(data), filename, mimetype)}
            if caption is not None:
                form["caption"] = caption
            response = client.post("/chat/photos", data=form, headers=headers, content_type="multipart/form-data")
        expect.check(response, {202, 400, 403})

    run()
    assert expect.examples == WEB_PHOTOS
    assert {400, 403} <= set(expect.counts), expect.counts
