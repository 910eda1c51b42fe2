"""Every send error code of PLATFORMS.md, as the fake platforms return them: retried with back-off,
or a permanent failure stored with a Vietnamese reason. Never "sent", never a crash."""
import pytest

from bot.config import Settings
from tests.conftest import environment_for_tests, free_port
from webhooks.facebook import FacebookChannel
from webhooks.zalo import ZaloChannel


@pytest.mark.parametrize("code, retryable, reason", [
    (-32, True, "giới hạn tốc độ"), (-200, True, "không thành công"),
    (-201, False, "Tham số"), (-210, False, "Vượt giới hạn"), (-211, False, "hạn mức"),
    (-213, False, "chưa quan tâm OA"), (-227, False, "bị khóa"), (-230, False, "7 ngày"),
    (-232, False, "hết thời hạn"),
])
def test_zalo_error_codes(settings, repository, fake_zalo, code, retryable, reason):
    fake_zalo.fail_next(code)
    result = ZaloChannel(settings, repository).send_text("u1", "Xin chào")
    assert (result.ok, result.error_code, result.retryable) == (False, str(code), retryable)
    assert reason in result.error


@pytest.mark.parametrize("code, retryable, reason", [
    (2, True, "tạm thời"), (613, True, "giới hạn tốc độ"), (10, False, "thời hạn"),
    (551, False, "không nhận được"), (190, False, "token"),
])
def test_messenger_error_codes(settings, repository, fake_graph, code, retryable, reason):
    fake_graph.fail_next(code)
    result = FacebookChannel(settings, repository).send_text("psid", "Xin chào")
    assert (result.ok, result.error_code, result.retryable) == (False, str(code), retryable)
    assert reason in result.error


def test_a_platform_that_does_not_answer_is_retried_later(settings, repository):
    env = environment_for_tests(settings.database_uri, settings.nlu_base_url, f"http://127.0.0.1:{free_port()}",
                                f"http://127.0.0.1:{free_port()}/v21.0", settings.var_dir)
    offline = Settings.from_env(env)
    for channel in (ZaloChannel(offline, repository), FacebookChannel(offline, repository)):
        result = channel.send_text("u1", "Xin chào")
        assert (result.ok, result.retryable, result.error_code) == (False, True, "network")


def test_invalid_page_token_is_reported_until_a_send_succeeds(settings, repository, fake_graph, client):
    channel = FacebookChannel(settings, repository)
    fake_graph.page_token = "renewed-after-a-password-change"
    assert channel.send_text("psid", "Xin chào").error_code == "190"
    assert client.get("/healthz").get_json()["channels"]["facebook"] == "token_invalid"
    fake_graph.page_token = fake_graph.PAGE_TOKEN
    assert channel.send_text("psid", "Xin chào").ok
    assert client.get("/healthz").get_json()["channels"]["facebook"] == "ok"
