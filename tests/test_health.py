from bot.app import create_app
from bot.config import Settings
from tests.conftest import free_port


def test_healthz_is_ok_when_database_and_nlu_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok", "nlu": "ok",
                                   "channels": {"zalo": "ok", "facebook": "ok", "web": "ok"}}


def test_healthz_is_503_and_names_the_nlu_when_it_is_down(settings):
    env = {"MONGODB_URI": settings.database_uri, "VAR_DIR": str(settings.var_dir),
           "NLU_URL": f"http://127.0.0.1:{free_port()}"}
    app = create_app(Settings.from_env(env))
    try:
        response = app.test_client().get("/healthz")
        assert response.status_code == 503
        assert response.get_json()["nlu"] == "down" and response.get_json()["database"] == "ok"
    finally:
        app.extensions["repository"].close()


def test_metrics_count_webhook_outcomes(client):
    client.post("/webhooks/zalo", data=b"{}", headers={"X-ZEvent-Signature": "mac=00"})
    text = client.get("/metrics").get_data(as_text=True)
    assert 'tongdai_webhook_events_total{channel="zalo",outcome="bad_payload"}' in text


def test_metrics_report_processing_sends_nlu_latency_and_the_queue(client, worker, fake_zalo):
    from tests.conftest import load_fixture, post_zalo
    event = load_fixture("zalo", "user_send_text")
    assert post_zalo(client, event).status_code == 200
    event["message"]["msg_id"] = "second"
    assert post_zalo(client, event).status_code == 200
    waiting = client.get("/metrics").get_data(as_text=True)
    assert "tongdai_queue_depth 2.0" in waiting
    worker.drain()
    text = client.get("/metrics").get_data(as_text=True)
    assert "tongdai_queue_depth 0.0" in text and "tongdai_queue_oldest_age_seconds 0.0" in text
    assert 'tongdai_messages_processed_total{channel="zalo",outcome="done"}' in text
    assert 'tongdai_sends_total{channel="zalo",error_code="",result="sent"}' in text
    assert "tongdai_nlu_parse_seconds_count" in text
    assert event["sender"]["id"] not in text and event["message"]["text"] not in text
