"""Hand-off to a person, through the whole pipeline: the bot says what happens next, then stays
silent while people hold the chat, and speaks again only after the quiet period."""
from bot import texts
from tests.conftest import load_fixture, post_zalo

CITIZEN = "246845883529197922"


def say(client, text: str, msg_id: str):
    event = load_fixture("zalo", "user_send_text")
    event["message"].update(text=text, msg_id=msg_id)
    assert post_zalo(client, event).status_code == 200


def test_asking_for_a_person_then_silence_until_the_quiet_period_ends(client, repository, worker, fake_zalo):
    say(client, "cho tôi gặp cán bộ trực tổng đài", "h1")
    worker.drain()
    [handoff] = fake_zalo.texts_to(CITIZEN)
    assert "chuyển cuộc trò chuyện đến cán bộ" in handoff
    conversation = repository.conversation("zalo", CITIZEN)
    assert (conversation["handler"], conversation["handoff_reason"]) == ("waiting", "ask_human")
    say(client, "alo có ai không", "h2")
    say(client, "alo", "h2b")
    worker.drain()
    # acknowledged once (not every message) while nobody has answered yet
    assert fake_zalo.texts_to(CITIZEN)[1:] == [texts.handoff_ack(True, "00:00-00:00")]
    assert repository.messages.find_one({"message_id": "h2b"})["outcome"] == {"held_by_staff": True}
    repository.update_conversation("zalo", CITIZEN, handler_since_ts=0.0)  # nobody answered for hours
    say(client, "xin chào", "h3")
    worker.drain()
    assert len(fake_zalo.received) == 3 and repository.conversation("zalo", CITIZEN)["handler"] == "bot"


def test_health_emergency_gets_advice_an_urgent_case_and_a_person(client, repository, worker, fake_zalo):
    say(client, "ba tui bị covid, giờ khó thở lắm, đo spo2 có 90 à", "e1")
    worker.drain()
    [reply] = fake_zalo.texts_to(CITIZEN)
    assert "115" in reply and "TV-" in reply and "cán bộ y tế" in reply
    case = repository.cases.find_one()
    assert (case["category"], case["priority"]) == ("health_advice", "urgent")
    assert repository.conversation("zalo", CITIZEN)["handoff_priority"] == "urgent"


def test_two_turns_not_understood_in_a_row_go_to_a_person(client, repository, worker, fake_zalo):
    say(client, "🙏🙏🙏", "n0")  # chatter: answered, never counted towards a person
    say(client, "ấp qwrtz xã zxcvb huyện lkjhg", "n1")
    say(client, "ấp zxqw xã vbnm mnbv huyện poiuy", "n2")
    worker.drain()
    chatter, first, second = fake_zalo.texts_to(CITIZEN)
    assert texts.OFF_TOPIC_REPLY in chatter
    assert "chưa hiểu rõ" in first and "chuyển cuộc trò chuyện" in second
    assert repository.conversation("zalo", CITIZEN)["handoff_reason"] == "not_understood"


def test_khmer_message_goes_to_a_person(client, repository, worker, fake_zalo):
    say(client, "ខ្ញុំចង់សួរអំពីការជួយឧបត្ថម្ភ", "k1")
    worker.drain()
    assert repository.conversation("zalo", CITIZEN)["handoff_reason"] == "khmer"
    [reply] = fake_zalo.texts_to(CITIZEN)
    assert texts.KHMER["handoff"] in reply  # told in their own language too
    assert "outcome" in repository.messages.find_one({"message_id": "k1"})
    assert "intent" not in repository.messages.find_one({"message_id": "k1"})["outcome"]  # no guessing
