import json
import unicodedata

from tests.conftest import load_fixture, post_zalo, zalo_signature
from tests.helpers import database_contents, inbound


def test_user_send_text(client, repository):
    event = load_fixture("zalo", "user_send_text")
    response = post_zalo(client, event)
    assert response.status_code == 200
    [stored] = inbound(repository)
    assert stored["channel"] == "zalo"
    assert stored["message_id"] == event["message"]["msg_id"]
    assert stored["user_id"] == event["sender"]["id"]
    assert stored["text"] == event["message"]["text"]
    assert stored["state"] == "pending" and stored["created_at"] is not None


def test_user_send_sticker(client, repository, worker, fake_zalo):
    response = post_zalo(client, load_fixture("zalo", "user_send_sticker"))
    assert response.status_code == 200
    [sticker] = inbound(repository)[0]["attachments"]
    assert (sticker["type"], sticker["description"]) == ("sticker", "bfe458bf64fa8da4d4eb")
    worker.drain()
    [reply] = fake_zalo.received
    assert "có thể giúp gì" in reply["message"]["text"]


def test_redelivered_event_is_stored_once(client, repository):
    event = load_fixture("zalo", "user_send_text")
    for _ in range(3):
        assert post_zalo(client, event).status_code == 200
    assert len(inbound(repository)) == 1


def test_decomposed_text_is_stored_as_nfc(client, repository):
    event = load_fixture("zalo", "user_send_text")
    event["message"]["text"] = unicodedata.normalize("NFD", "Phản ánh vi phạm ở Tiểu Cần")
    assert post_zalo(client, event).status_code == 200
    assert inbound(repository)[0]["text"] == "Phản ánh vi phạm ở Tiểu Cần"


def test_bad_signature_is_403_and_stores_nothing(client, repository):
    event = load_fixture("zalo", "user_send_text")
    before = database_contents(repository)
    body = json.dumps(event).encode()
    wrong_key = zalo_signature(body, key="not-the-oa-secret-key")
    assert post_zalo(client, event, signature=wrong_key).status_code == 403
    assert post_zalo(client, event, signature="mac=").status_code == 403
    assert database_contents(repository) == before


def test_missing_signature_is_403(client, repository):
    body = json.dumps(load_fixture("zalo", "user_send_text")).encode()
    response = client.post("/webhooks/zalo", data=body, content_type="application/json")
    assert response.status_code == 403
    assert inbound(repository) == []


def test_malformed_json_is_400_and_stores_nothing(client, repository):
    before = database_contents(repository)
    response = client.post("/webhooks/zalo", data=b'{"event_name": "user_send_text", ',
                           content_type="application/json",
                           headers={"X-ZEvent-Signature": "mac=00"})
    assert response.status_code == 400
    assert database_contents(repository) == before


def test_text_event_without_message_id_is_400(client, repository):
    event = load_fixture("zalo", "user_send_text")
    del event["message"]["msg_id"]
    assert post_zalo(client, event).status_code == 400
    assert inbound(repository) == []


def test_unconfigured_channel_is_404(unconfigured_app):
    response = post_zalo(unconfigured_app.test_client(), load_fixture("zalo", "user_send_text"))
    assert response.status_code == 404
    assert inbound(unconfigured_app.extensions["repository"]) == []
