"""Zalo's answer to Messenger's quick replies: buttons (oa.query.hide) under the text, whose
press comes back as a user_send_text carrying our payload — handled like a quick reply."""
import unicodedata

import requests

from bot import texts
from tests.conftest import load_fixture, post_facebook, post_zalo
from tests.helpers import inbound, without_privacy_note
from webhooks import zalo_events
from webhooks.zalo import MAX_BUTTONS, ZaloChannel, button_title

CITIZEN = "246845883529197922"


def zalo_text(text: str, msg_id: str) -> dict:
    event = load_fixture("zalo", "user_send_text")
    event["message"].update(text=text, msg_id=msg_id)
    return event


def buttons_of(sent: dict) -> list[dict]:
    return sent["message"]["attachment"]["payload"]["buttons"]


def press(client, button: dict, msg_id: str):
    """What Zalo posts when the citizen taps an oa.query.* button: its payload as their text."""
    assert button["type"] == "oa.query.hide"
    assert post_zalo(client, zalo_text(button["payload"], msg_id)).status_code == 200


def test_a_zalo_greeting_offers_the_services_as_buttons(client, worker, fake_zalo):
    assert post_zalo(client, zalo_text("Xin chào", "z-hello")).status_code == 200
    worker.drain()
    [greeting] = fake_zalo.received
    assert without_privacy_note(greeting["message"]["text"]) == texts.GREETING
    assert greeting["message"]["attachment"]["type"] == "template"
    assert [b["title"] for b in buttons_of(greeting)] == [title for title, _ in texts.SERVICE_CHOICES]
    assert fake_zalo.rejected == []


def test_pressing_a_zalo_service_button_does_what_the_messenger_quick_reply_does(client, repository, worker,
                                                                                  fake_zalo, fake_graph):
    assert post_zalo(client, zalo_text("Xin chào", "z-hello")).status_code == 200
    worker.drain()
    welfare = next(b for b in buttons_of(fake_zalo.received[0]) if b["title"] == "Hỗ trợ an sinh")
    press(client, welfare, "z-press")
    worker.drain()
    pressed = repository.messages.find_one({"message_id": "z-press"})
    assert (pressed["text"], pressed["payload"]) == ("Hỗ trợ an sinh", "CATEGORY_welfare")

    quick_reply = load_fixture("facebook", "messages")
    quick_reply["entry"][0]["messaging"][0]["message"].update(
        text="Hỗ trợ an sinh", mid="m_press", quick_reply={"payload": "CATEGORY_welfare"})
    assert post_facebook(client, quick_reply).status_code == 200
    worker.drain()
    on_zalo = repository.conversation("zalo", CITIZEN)["form"]
    on_messenger = repository.conversation("facebook", "6543217890123456")["form"]
    assert on_zalo["category"] == on_messenger["category"] == "welfare"
    assert on_zalo["asking"] == on_messenger["asking"] == "description"
    assert fake_zalo.texts_to(CITIZEN)[-1] == without_privacy_note(fake_graph.texts_to("6543217890123456")[-1]) \
        == texts.ASK_DETAILS["welfare"]  # the first reply on Messenger: it ends with the privacy sentence


def test_the_send_button_under_a_zalo_summary_files_the_case(client, repository, worker, fake_zalo):
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    worker.drain()
    summary = fake_zalo.received[-1]
    assert [b["title"] for b in buttons_of(summary)] == ["Gửi", "Sửa thông tin", "Hủy"]
    press(client, buttons_of(summary)[0], "z-send")
    worker.drain()
    [case] = list(repository.cases.find())
    assert case["code"] in fake_zalo.texts_to(CITIZEN)[-1]


def test_text_that_only_looks_like_a_button_is_an_ordinary_message(client, repository):
    for i, text in enumerate(["#tongdai1022|not a payload|Gửi", "#tongdai1022", "tongdai1022|FORM_CONFIRM|Gửi"]):
        assert post_zalo(client, zalo_text(text, f"z-look-{i}")).status_code == 200
    assert [(m["text"], m.get("payload")) for m in inbound(repository)] == [
        ("#tongdai1022|not a payload|Gửi", None), ("#tongdai1022", None), ("tongdai1022|FORM_CONFIRM|Gửi", None)]


def test_zalo_takes_at_most_five_buttons_with_titles_cut_at_a_word(settings, repository, fake_zalo):
    long_title = unicodedata.normalize("NFD", "Đề nghị hỗ trợ an sinh cho người lao động mất việc " * 3)
    choices = ((long_title, "CATEGORY_welfare"),) + tuple((f"Lựa chọn {i}", f"CHOICE_{i}") for i in range(6))
    assert ZaloChannel(settings, repository).send_text(CITIZEN, "Chọn một mục", choices=choices).ok
    [sent] = fake_zalo.received
    assert len(buttons_of(sent)) == MAX_BUTTONS
    title = buttons_of(sent)[0]["title"]
    assert len(title) <= 100 and title.endswith("…") and unicodedata.is_normalized("NFC", title)
    assert title[:-1] in unicodedata.normalize("NFC", long_title) and title[-2] != " "
    assert zalo_events.pressed_button(buttons_of(sent)[0]["payload"]) == ("CATEGORY_welfare", title)
    assert button_title("  Gửi  ") == "Gửi"


def test_the_fake_zalo_refuses_a_badly_shaped_template_like_zalo(fake_zalo):
    def post(message):
        return requests.post(f"{fake_zalo.url}/v3.0/oa/message/cs", headers={"access_token": fake_zalo.access_token},
                             json={"recipient": {"user_id": CITIZEN}, "message": message}, timeout=10)
    button = {"type": "oa.query.hide", "title": "Gửi", "payload": "#tongdai1022|FORM_CONFIRM|Gửi"}
    bad = [{"text": "x", "attachment": {"type": "template", "payload": {"buttons": [button] * 6}}},
           {"text": "x", "attachment": {"type": "template", "payload": {"buttons": [{**button, "type": "postback"}]}}},
           {"text": "x", "attachment": {"type": "template", "payload": {"buttons": [{**button, "title": "x" * 101}]}}},
           {"attachment": {"type": "template", "payload": {"buttons": [button]}}},
           {"attachment": {"type": "template", "payload": {"template_type": "media",
                                                           "elements": [{"media_type": "image", "attachment_id": "nope"}]}}}]
    for message in bad:
        response = post(message)
        assert response.status_code == 200 and response.json()["error"] == -201
    assert fake_zalo.received == [] and len(fake_zalo.rejected) == len(bad)
    assert post({"text": "x", "attachment": {"type": "template", "payload": {"buttons": [button]}}}).json()["error"] == 0
