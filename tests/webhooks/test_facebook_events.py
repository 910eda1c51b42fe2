"""One test per Messenger fixture: the stored normalized message, and what the bot does with it."""
from tests.conftest import load_fixture, post_facebook
from tests.helpers import inbound, the_inbound

PSID = "6543217890123456"


def deliver(client, name: str) -> dict:
    payload = load_fixture("facebook", name)
    assert post_facebook(client, payload).status_code == 200
    return payload


def test_messages__batch(client, repository, worker, fake_graph):
    """3 entries x 2 messages in one POST: 6 messages stored in order, 6 answers."""
    deliver(client, "messages__batch")
    messages = sorted(inbound(repository), key=lambda m: m["received_ts"])
    assert [m["message_id"] for m in messages] == [f"m_batch_{e}_{m}" for e in range(3) for m in range(2)]
    worker.drain()
    assert sorted(p["recipient"]["id"] for p in fake_graph.received) == \
        sorted(f"psid-batch-{e}-{m}" for e in range(3) for m in range(2))
    # Each report names its place but not its time: each citizen is asked when it happened.
    assert all("khi nào" in p["message"]["text"] for p in fake_graph.received)


def test_messages__echo(client, repository, worker, fake_graph):
    """The echo of the bot's own message (it carries our metadata): nothing stored or sent."""
    deliver(client, "messages__echo")
    assert repository.messages.count_documents({}) == 0
    worker.drain()
    assert fake_graph.received == []


def test_messages__echo_from_page_inbox(client, repository, worker, fake_graph):
    """A person answered from Meta's Page inbox: a staff message, and the bot stays silent."""
    deliver(client, "messages__echo_from_page_inbox")
    staff = repository.messages.find_one({"message_id": "m_echo_staff_01"})
    assert (staff["direction"], staff["sender"], staff["user_id"]) == ("out", "staff", PSID)
    deliver(client, "messages")
    worker.drain()
    assert fake_graph.received == []


def test_messages__quick_reply(client, repository, worker, fake_graph):
    """The citizen tapped "Phản ánh vi phạm": asked for the details, no case filed from the button."""
    deliver(client, "messages__quick_reply")
    message = the_inbound(repository)
    assert (message["text"], message["payload"]) == ("Phản ánh vi phạm", "CATEGORY_report")
    worker.drain()
    [ask] = fake_graph.texts_to(PSID)
    assert "mô tả vi phạm" in ask and repository.cases.count_documents({}) == 0


def test_messages__image(client, repository):
    deliver(client, "messages__image")
    [image] = the_inbound(repository)["attachments"]
    assert image["type"] == "image" and image["url"].startswith("https://scontent.xx.fbcdn.net/")


def test_messages__video_audio_file(client, repository):
    deliver(client, "messages__video_audio_file")
    assert [a["type"] for a in the_inbound(repository)["attachments"]] == ["video", "audio", "file"]


def test_messages__location(client, repository, worker, fake_graph):
    deliver(client, "messages__location")
    [location] = the_inbound(repository)["attachments"]
    assert (location["latitude"], location["longitude"]) == (9.8127, 106.2993)
    worker.drain()
    [reply] = fake_graph.texts_to(PSID)
    assert "vị trí" in reply


def test_messages__fallback(client, repository):
    deliver(client, "messages__fallback")
    assert the_inbound(repository)["attachments"][0]["type"] == "fallback"


def test_messages__reply_to(client, repository):
    deliver(client, "messages__reply_to")
    assert the_inbound(repository)["reply_to"] == "m_bot_earlier"


def test_messaging_postbacks(client, repository, worker, fake_graph):
    """The Get Started button: greeted with the hotline's services."""
    deliver(client, "messaging_postbacks")
    message = the_inbound(repository)
    assert (message["event"], message["payload"], message["message_id"]) == ("postback", "GET_STARTED", "m_pb_01")
    worker.drain()
    [greeting] = fake_graph.received
    assert "Tổng đài 1022 xin chào" in greeting["message"]["text"]
    assert [q["payload"] for q in greeting["message"]["quick_replies"]] == [
        "CATEGORY_report", "CATEGORY_suggestion", "CATEGORY_welfare", "CATEGORY_health_advice"]
    assert repository.cases.count_documents({}) == 0


def test_message_deliveries(client, repository, worker, fake_graph):
    repository.messages.insert_one({"channel": "facebook", "message_id": "reply:x:0", "user_id": PSID,
                                    "direction": "out", "state": "sent", "platform_message_id": "m_sent_1"})
    deliver(client, "message_deliveries")
    assert repository.messages.find_one({"message_id": "reply:x:0"})["delivered_ts"] > 0
    worker.drain()
    assert inbound(repository) == [] and fake_graph.received == []


def test_message_reads(client, repository, worker, fake_graph):
    repository.messages.insert_one({"channel": "facebook", "message_id": "reply:x:0", "user_id": PSID,
                                    "direction": "out", "state": "sent", "sent_ts": 1636616408.0})
    repository.messages.insert_one({"channel": "facebook", "message_id": "reply:y:0", "user_id": PSID,
                                    "direction": "out", "state": "sent", "sent_ts": 1636616410.0})
    deliver(client, "message_reads")  # watermark 1636616409000 ms
    assert "seen_ts" in repository.messages.find_one({"message_id": "reply:x:0"})
    assert "seen_ts" not in repository.messages.find_one({"message_id": "reply:y:0"})
    worker.drain()
    assert fake_graph.received == []


def test_standby(client, repository):
    """Under the handover protocol a thread another app controls sends its events as standby."""
    deliver(client, "standby")
    assert the_inbound(repository)["text"] == "Alo, có ai ở đó không?"


def test_instagram(client, repository):
    deliver(client, "instagram")
    assert repository.messages.count_documents({}) == 0


def test_messages__location_answers_where_during_a_report(client, repository, worker, fake_graph):
    from tests.test_end_to_end import facebook_text
    assert post_facebook(client, facebook_text("tối qua có đám nhậu đông người", "m_first")).status_code == 200
    worker.drain()
    deliver(client, "messages__location")
    worker.drain()
    form = repository.conversation("facebook", PSID)["form"]
    assert form["asking"] == "confirm" and "9.81270, 106.29930" in form["values"]["place"]
