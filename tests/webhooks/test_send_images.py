"""Photos sent to citizens (staff send them from the console): Zalo uploads then sends a media
template, Messenger uploads and sends in one multipart call, the web chat shows the photo in the
page. Refused before any call when the platform cannot take it; failures kept with the reason."""
import pytest

from bot.media import MediaStore
from tests.conftest import load_fixture, post_facebook, post_zalo
from tests.webhooks.test_web import png, say
from tests.webhooks.test_zalo_tokens import stored_pair
from webhooks.facebook import FacebookChannel
from webhooks.facebook_events import BOT_METADATA
from webhooks.web import WebChannel
from webhooks.zalo import ZaloChannel

CITIZEN = "246845883529197922"
PSID = "6543217890123456"
PNG = png(320, 200, (30, 120, 60))


@pytest.fixture
def photo(settings, repository) -> dict:
    """A photo staff attached, kept like every file (bot/media.py)."""
    return MediaStore(settings.var_dir / "media", repository).store_image(PNG)["stored"]


def file_of(tmp_path, size: int, name: str = "anh.png"):
    path = tmp_path / name
    with path.open("wb") as f:
        f.truncate(size)  # sparse: the size is what matters
    return path


def the_outbound(repository) -> dict:
    [record] = list(repository.messages.find({"direction": "out"}))
    return record


# ---- Zalo -------------------------------------------------------------------------------------

def test_zalo_photo_is_uploaded_then_sent_as_a_media_template(client, repository, worker, fake_zalo, photo):
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200  # the window is open
    assert worker.pipeline.outbox.send_photo("zalo", CITIZEN, photo, key="staff:photo-1") == "sent"
    [(attachment_id, upload)] = fake_zalo.uploads.items()
    assert upload == {"filename": photo["sha256"], "mime": "image/png", "size": len(PNG)}
    [sent] = fake_zalo.received
    assert sent["recipient"] == {"user_id": CITIZEN}
    assert sent["message"]["attachment"] == {"type": "template", "payload": {
        "template_type": "media", "elements": [{"media_type": "image", "attachment_id": attachment_id}]}}
    record = the_outbound(repository)
    assert record["state"] == "sent" and record["platform_message_id"].startswith("zmsg")
    assert record["attachments"] == [{"type": "image", "stored": photo}]
    assert worker.pipeline.outbox.send_photo("zalo", CITIZEN, photo, key="staff:photo-1") == "already_attempted"
    assert fake_zalo.upload_calls == 1 and len(fake_zalo.received) == 1


def test_zalo_photo_with_an_expired_token_refreshes_once_and_uploads_once(settings, repository, fake_zalo, photo):
    fake_zalo.access_token_expired = True
    path = MediaStore(settings.var_dir / "media", repository).path_of(photo)
    result = ZaloChannel(settings, repository).send_image(CITIZEN, path, "image/png")
    assert result.ok
    assert fake_zalo.oauth_calls == 1 and len(fake_zalo.uploads) == 1 and len(fake_zalo.received) == 1
    assert stored_pair(settings, repository)["access_token"] == fake_zalo.access_token


@pytest.mark.parametrize("size, mime, code, reason", [
    (1024 * 1024 + 1, "image/png", "image_too_large", "vượt giới hạn 1 MB của Zalo"),
    (1000, "image/gif", "image_type", "JPG hoặc PNG"),
])
def test_a_photo_zalo_cannot_take_is_refused_without_a_call(settings, repository, fake_zalo, tmp_path,
                                                            size, mime, code, reason):
    result = ZaloChannel(settings, repository).send_image(CITIZEN, file_of(tmp_path, size), mime)
    assert (result.ok, result.retryable, result.error_code) == (False, False, code)
    assert reason in result.error
    assert fake_zalo.upload_calls == 0 and fake_zalo.received == []


def test_zalo_refusing_the_photo_is_stored_as_failed_with_the_reason(client, repository, worker, fake_zalo, photo):
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    fake_zalo.fail_next(-230)
    assert worker.pipeline.outbox.send_photo("zalo", CITIZEN, photo, key="staff:photo-1") == "failed"
    record = the_outbound(repository)
    assert (record["state"], record["error_code"]) == ("failed", "-230") and "7 ngày" in record["error"]
    fake_zalo.fail_next_upload(-211)
    assert worker.pipeline.outbox.send_photo("zalo", CITIZEN, photo, key="staff:photo-2") == "failed"
    assert "hạn mức" in repository.messages.find_one({"message_id": "staff:photo-2"})["error"]
    assert len(fake_zalo.received) == 1  # the refused one; nothing sent after a failed upload


def test_a_rate_limited_zalo_photo_waits_and_the_same_key_sends_it_once(client, repository, worker, fake_zalo, photo):
    assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
    fake_zalo.fail_next(-32)
    assert worker.pipeline.outbox.send_photo("zalo", CITIZEN, photo, key="staff:photo-1") == "retry"
    assert the_outbound(repository)["state"] == "retry"
    assert worker.pipeline.outbox.send_photo("zalo", CITIZEN, photo, key="staff:photo-1") == "sent"
    assert the_outbound(repository)["state"] == "sent" and len(fake_zalo.received) == 2


# ---- Messenger --------------------------------------------------------------------------------

def test_messenger_photo_goes_as_multipart_filedata_marked_as_ours(client, repository, worker, fake_graph, photo):
    assert post_facebook(client, load_fixture("facebook", "messages")).status_code == 200
    assert worker.pipeline.outbox.send_photo("facebook", PSID, photo, key="staff:photo-1") == "sent"
    [sent] = fake_graph.received
    assert sent["recipient"] == {"id": PSID} and sent["messaging_type"] == "RESPONSE" and "tag" not in sent
    assert sent["message"] == {"attachment": {"type": "image", "payload": {"is_reusable": True}},
                               "metadata": BOT_METADATA}
    assert sent["filedata"] == {"filename": photo["sha256"], "mime": "image/png", "size": len(PNG)}
    assert the_outbound(repository)["state"] == "sent"


def test_messenger_photo_from_staff_after_24_hours_carries_the_human_agent_tag(client, repository, worker,
                                                                               fake_graph, photo):
    assert post_facebook(client, load_fixture("facebook", "messages")).status_code == 200
    repository.messages.update_one({"direction": "in"}, {"$inc": {"received_ts": -25 * 3600}})
    assert worker.pipeline.outbox.send_photo("facebook", PSID, photo, key="staff:photo-1") == "sent"
    [sent] = fake_graph.received
    assert (sent["messaging_type"], sent["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


def test_a_photo_over_messengers_limit_is_refused_without_a_call(settings, repository, fake_graph, tmp_path):
    result = FacebookChannel(settings, repository).send_image(PSID, file_of(tmp_path, 25 * 1024 * 1024 + 1),
                                                              "image/jpeg")
    assert (result.ok, result.retryable, result.error_code) == (False, False, "image_too_large")
    assert "25 MB" in result.error and fake_graph.received == []


def test_messenger_refusing_the_photo_is_stored_as_failed_with_the_reason(client, repository, worker,
                                                                          fake_graph, photo):
    assert post_facebook(client, load_fixture("facebook", "messages")).status_code == 200
    fake_graph.fail_next(551)
    assert worker.pipeline.outbox.send_photo("facebook", PSID, photo, key="staff:photo-1") == "failed"
    record = the_outbound(repository)
    assert (record["state"], record["error_code"]) == ("failed", "551") and "không nhận được" in record["error"]


# ---- web chat ---------------------------------------------------------------------------------

def test_a_photo_sent_to_a_web_citizen_shows_in_their_page_only(app, client, repository, worker, photo):
    client.get("/")
    assert say(client, "Cho tôi xin hình hướng dẫn").status_code == 202
    citizen = repository.messages.find_one({"direction": "in"})["user_id"]
    assert worker.pipeline.outbox.send_photo("web", citizen, photo, key="staff:photo-1") == "sent"
    [reply] = [m for m in client.get("/chat/messages?after=0").get_json()["messages"] if m["direction"] == "out"]
    assert reply["photos"] == [f"/chat/media/{photo['sha256']}"]
    assert client.get(reply["photos"][0]).data == PNG
    stranger = app.test_client()
    stranger.get("/")
    assert stranger.get(reply["photos"][0]).status_code == 404


def test_the_web_channel_refuses_what_is_not_an_image(settings, repository, tmp_path):
    result = WebChannel(settings, repository).send_image("citizen", file_of(tmp_path, 100, "hoso.pdf"),
                                                         "application/pdf")
    assert (result.ok, result.error_code) == (False, "image_type") and "không phải là ảnh" in result.error
