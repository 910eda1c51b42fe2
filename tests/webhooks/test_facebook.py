from tests.conftest import FB_VERIFY_TOKEN, facebook_signature, load_fixture, post_facebook
from tests.helpers import database_contents, inbound


def test_verification_handshake_echoes_the_challenge(client):
    response = client.get("/webhooks/facebook", query_string={
        "hub.mode": "subscribe", "hub.verify_token": FB_VERIFY_TOKEN, "hub.challenge": "1158201444"})
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "1158201444"


def test_verification_with_a_wrong_token_is_403(client):
    response = client.get("/webhooks/facebook", query_string={
        "hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"})
    assert response.status_code == 403


def test_messages(client, repository):
    payload = load_fixture("facebook", "messages")
    assert post_facebook(client, payload).status_code == 200
    [stored] = inbound(repository)
    event = payload["entry"][0]["messaging"][0]
    assert stored["channel"] == "facebook"
    assert stored["message_id"] == event["message"]["mid"]
    assert stored["user_id"] == event["sender"]["id"]
    assert stored["text"] == event["message"]["text"]


def test_redelivered_event_is_stored_once(client, repository):
    payload = load_fixture("facebook", "messages")
    for _ in range(3):
        assert post_facebook(client, payload).status_code == 200
    assert len(inbound(repository)) == 1


def test_bad_signature_is_403_and_stores_nothing(client, repository):
    before = database_contents(repository)
    response = post_facebook(client, load_fixture("facebook", "messages"), signature="sha256=" + "0" * 64)
    assert response.status_code == 403
    assert database_contents(repository) == before


def test_malformed_json_is_400_and_stores_nothing(client, repository):
    body = b'{"object": "page", "entry": [{'
    before = database_contents(repository)
    response = client.post("/webhooks/facebook", data=body, content_type="application/json",
                           headers={"X-Hub-Signature-256": facebook_signature(body)})
    assert response.status_code == 400
    assert database_contents(repository) == before


def test_unconfigured_channel_is_404(unconfigured_app):
    client = unconfigured_app.test_client()
    assert post_facebook(client, load_fixture("facebook", "messages")).status_code == 404
    assert client.get("/webhooks/facebook", query_string={"hub.mode": "subscribe"}).status_code == 404
    assert inbound(unconfigured_app.extensions["repository"]) == []
