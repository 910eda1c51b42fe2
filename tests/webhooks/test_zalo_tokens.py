"""Zalo OA tokens: kept in the database (encrypted: tests/security/test_data_at_rest.py), refreshed
under one lease, never overwritten by an error."""
import threading
import time

import requests

from bot.repository import Repository
from tests.fakes import FakeZalo
from webhooks.zalo import ZaloChannel
from webhooks.zalo_tokens import ZaloTokens


def stored_pair(settings, repository) -> dict:
    """The stored pair as the app reads it (decrypted)."""
    return ZaloTokens(settings, repository, requests.Session())._stored()


def test_expired_access_token_is_refreshed_once_and_the_send_retried(settings, repository, fake_zalo):
    fake_zalo.access_token_expired = True
    result = ZaloChannel(settings, repository).send_text("246845883529197922", "Xin chào")
    assert result.ok
    assert fake_zalo.oauth_calls == 1 and len(fake_zalo.received) == 1
    stored = stored_pair(settings, repository)
    assert (stored["access_token"], stored["refresh_token"]) == (fake_zalo.access_token, fake_zalo.refresh_token)
    assert stored["expires_ts"] > time.time() + 24 * 3600


def test_invalid_access_token_is_refreshed_and_the_new_pair_kept_across_restarts(settings, repository, fake_zalo):
    fake_zalo.access_token = "rotated-elsewhere"
    assert ZaloChannel(settings, repository).send_text("u1", "Xin chào").ok
    # A restarted process still has the old token in its environment: the database wins.
    assert ZaloChannel(settings, repository).send_text("u1", "Xin chào lần nữa").ok
    assert fake_zalo.oauth_calls == 1 and len(fake_zalo.received) == 2


def test_oauth_error_with_http_200_keeps_the_stored_pair_and_is_reported(settings, repository, fake_zalo, client):
    fake_zalo.access_token_expired = True
    fake_zalo.refresh_token = "someone-else-spent-ours"
    result = ZaloChannel(settings, repository).send_text("u1", "Xin chào")
    assert not result.ok and result.error_code == "-220" and not result.retryable
    assert "hết hạn" in result.error
    stored = stored_pair(settings, repository)
    assert stored["access_token"] == FakeZalo.ACCESS_TOKEN and stored["refresh_token"] == FakeZalo.REFRESH_TOKEN
    assert "-14014" in stored["refresh_error"]
    health = client.get("/healthz").get_json()
    assert health["channels"]["zalo"] == "token_refresh_failed"


def test_two_processes_refreshing_at_once_make_exactly_one_refresh_call(settings, repository, fake_zalo):
    fake_zalo.oauth_delay = 0.5
    stale = ZaloTokens(settings, repository, requests.Session()).access_token()
    results, barrier = [], threading.Barrier(2)

    def refresh_in_another_process():
        own = Repository(settings.database_uri)  # its own connection, as another process has
        try:
            tokens = ZaloTokens(settings, own, requests.Session())
            barrier.wait()
            results.append(tokens.refresh(stale))
        finally:
            own.close()

    threads = [threading.Thread(target=refresh_in_another_process) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert fake_zalo.oauth_calls == 1
    assert results == [fake_zalo.access_token] * 2


def test_token_near_expiry_is_refreshed_before_sending(settings, repository, fake_zalo):
    ZaloChannel(settings, repository).tokens.access_token()  # seeds the database from the environment
    repository.update_token("zalo", expires_ts=time.time() + 600)
    channel = ZaloChannel(settings, repository)  # (a process reads the stored pair again every 30 s)
    assert channel.send_text("u1", "Xin chào").ok
    assert fake_zalo.oauth_calls == 1
    assert fake_zalo.received and stored_pair(settings, repository)["access_token"] == fake_zalo.access_token
