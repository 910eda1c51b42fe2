"""One test per Zalo fixture: the stored normalized message, and what the bot does with it."""
import pytest

from tests.conftest import load_fixture, post_zalo
from tests.helpers import inbound, the_inbound

CITIZEN = "246845883529197922"


def deliver(client, name: str) -> dict:
    event = load_fixture("zalo", name)
    assert post_zalo(client, event).status_code == 200
    return event


def test_anonymous_send_text(client, repository):
    event = deliver(client, "anonymous_send_text")
    message = the_inbound(repository)
    assert (message["user_id"], message["message_id"]) == (event["sender"]["id"], "anon-msg-01")
    assert message["text"].startswith("toi muon phan anh")


def test_user_send_image(client, repository):
    deliver(client, "user_send_image")
    message = the_inbound(repository)
    assert message["text"] == "Đám tiệc ở khóm 2 phường 5"
    assert message["attachments"] == [{"type": "image", "url": "https://photo-stal-1.zadn.vn/abc.jpg"}]


def test_user_send_gif(client, repository):
    deliver(client, "user_send_gif")
    assert the_inbound(repository)["attachments"][0]["type"] == "gif"


def test_user_send_link(client, repository):
    deliver(client, "user_send_link")
    [link] = the_inbound(repository)["attachments"]
    assert link["url"] == "https://baotravinh.vn/tin-tuc/abc" and "phòng, chống dịch" in link["description"]


def test_user_send_audio(client, repository):
    deliver(client, "user_send_audio")
    assert the_inbound(repository)["attachments"] == [{"type": "audio", "url": "https://voice-stal.zadn.vn/voice/abc.amr"}]


def test_user_send_video(client, repository):
    deliver(client, "user_send_video")
    assert the_inbound(repository)["attachments"][0]["url"] == "https://video-stal.zadn.vn/abc.mp4"


def test_user_send_location(client, repository):
    deliver(client, "user_send_location")
    assert the_inbound(repository)["attachments"] == [{"type": "location", "latitude": 9.9347, "longitude": 106.3453}]


def test_user_send_business_card(client, repository):
    deliver(client, "user_send_business_card")
    assert the_inbound(repository)["attachments"][0]["type"] == "business_card"


def test_user_send_file(client, repository):
    deliver(client, "user_send_file")
    [file] = the_inbound(repository)["attachments"]
    assert (file["name"], file["size"]) == ("danh-sach-ho-ngheo.pdf", 24576)


def test_follow(client, repository, worker, fake_zalo):
    deliver(client, "follow")
    message = the_inbound(repository)
    assert (message["kind"], message["user_id"]) == ("follow", CITIZEN)
    worker.drain()
    [welcome] = fake_zalo.texts_to(CITIZEN)
    assert "Cảm ơn anh/chị đã quan tâm" in welcome


def test_unfollow(client, repository, worker, fake_zalo):
    deliver(client, "unfollow")
    assert the_inbound(repository)["kind"] == "unfollow"
    worker.drain()
    assert fake_zalo.received == []
    assert repository.conversation("zalo", CITIZEN)["following"] == "no"


def test_user_submit_info(client, repository, worker):
    deliver(client, "user_submit_info")
    assert the_inbound(repository)["info"] == {"name": "Nguyễn Thị Hoa", "phone": "0912345678",
                                          "address": "Ấp Kinh Xáng", "ward": "Xã Nhị Long",
                                          "district": "Càng Long", "city": "Trà Vinh"}
    worker.drain()
    assert repository.conversation("zalo", CITIZEN)["profile"]["phone"] == "0912345678"


@pytest.mark.parametrize("fixture, field", [("user_received_message", "delivered_ts"),
                                            ("user_seen_message", "seen_ts")])
def test_user_received_and_seen_message(client, repository, worker, fake_zalo, fixture, field):
    repository.messages.insert_one({"channel": "zalo", "message_id": "reply:x:0", "user_id": CITIZEN,
                                    "direction": "out", "state": "sent", "platform_message_id": "zmsg-delivered-1"})
    deliver(client, fixture)
    assert repository.messages.find_one({"message_id": "reply:x:0"})[field] > 0
    assert inbound(repository) == []
    worker.drain()
    assert fake_zalo.received == []


def test_oa_send_text(client, repository, worker, fake_zalo):
    """The echo of the bot's own message: nothing stored, nothing sent."""
    deliver(client, "oa_send_text")
    assert repository.messages.count_documents({}) == 0
    worker.drain()
    assert fake_zalo.received == []


def test_oa_send_text__by_staff(client, repository, worker, fake_zalo):
    """A person answered from Zalo's OA chat tool: a staff message, and the bot stays silent."""
    deliver(client, "oa_send_text__by_staff")
    staff = repository.messages.find_one({"message_id": "oa-echo-02"})
    assert (staff["direction"], staff["sender"], staff["staff_id"]) == ("out", "staff", "7719385011")
    assert repository.conversation("zalo", CITIZEN)["handler"] == "staff"
    deliver(client, "user_send_text")
    worker.drain()
    assert fake_zalo.received == []
    assert the_inbound(repository)["outcome"] == {"held_by_staff": True}


def test_user_reacted_message(client, repository):
    """An event this product does not use: acknowledged, nothing stored."""
    deliver(client, "user_reacted_message")
    assert repository.messages.count_documents({}) == 0
