"""Zalo OA tokens (OAuth v4): kept in the database, refreshed under one lease for every process."""
from __future__ import annotations

import logging
import os
import socket
import time

import requests

from bot.config import Settings
from bot.repository import Repository
from bot.token_cipher import TokenCipher, TokenUnreadable, is_sealed

log = logging.getLogger("tongdai.zalo")

REFRESH_MARGIN_SECONDS = 3600      # an access token lives 25 h: renew it an hour early
TOKEN_LEASE_SECONDS = 30
TOKEN_WAIT_SECONDS = 15
# A send reads the pair from here rather than the database each time. A token another process
# refreshed meanwhile is refused by Zalo (-216) and looked up again at once (`refresh`).
CACHE_SECONDS = 30


class ZaloTokens:
    """The OA access token, kept in the database and shared by every process.

    Zalo's refresh token is single-use: two processes refreshing at once would burn it and lock
    the OA out. So one process at a time refreshes, under a lease in the database; the new pair
    is stored before it is used; an OAuth error never overwrites the stored pair. The pair is
    stored encrypted (bot/token_cipher.py)."""

    NAME = "zalo"

    def __init__(self, settings: Settings, repository: Repository, http: requests.Session):
        self.settings = settings
        self.repository = repository
        self.http = http
        self.cipher = TokenCipher.for_settings(settings)
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"
        self._cached: tuple[dict, float] | None = None  # (the stored pair, until when it is used)

    def _stored(self) -> dict:
        """The stored pair, decrypted. A pair stored in the clear by an earlier version is
        encrypted now, unless another process changed it meanwhile."""
        stored = self.repository.token(self.NAME)
        if stored is None:
            self.repository.seed_token(self.NAME, access_token=self.cipher.seal(self.settings.zalo_access_token),
                                       refresh_token=self.cipher.seal(self.settings.zalo_refresh_token),
                                       expires_ts=None)
            stored = self.repository.token(self.NAME)
        if stored.get("access_token") and not is_sealed(stored["access_token"]):
            self.repository.replace_token_pair(self.NAME, stored["access_token"], self.cipher.seal(stored["access_token"]),
                                               self.cipher.seal(stored.get("refresh_token")))
        try:
            return {**stored, "access_token": self.cipher.open(stored.get("access_token")),
                    "refresh_token": self.cipher.open(stored.get("refresh_token"))}
        except TokenUnreadable:
            log.error("the stored Zalo tokens cannot be decrypted: SECRET_KEY or TOKEN_KEY changed (README)")
            return {**stored, "access_token": None, "refresh_token": None, "unreadable": True}

    def access_token(self) -> str | None:
        cached = self._cached
        if cached and time.monotonic() < cached[1]:
            stored = cached[0]
        else:
            stored = self._stored()
            self._cached = (stored, time.monotonic() + CACHE_SECONDS)
        expires = stored.get("expires_ts")
        if expires and expires - time.time() < REFRESH_MARGIN_SECONDS:
            return self.refresh(stored["access_token"]) or stored["access_token"]
        return stored["access_token"]

    def refresh(self, stale: str | None) -> str | None:
        """A token newer than `stale`: refreshed here, or by whichever process holds the lease.
        None when refreshing failed."""
        asked = time.time()
        self._cached = None
        deadline = time.monotonic() + TOKEN_WAIT_SECONDS
        while time.monotonic() < deadline:
            stored = self._stored()
            if stored["access_token"] != stale:
                return stored["access_token"]
            if (stored.get("refresh_failed_ts") or 0) >= asked:
                return None  # the refresh we waited for failed: do not spend another call
            if self.repository.acquire_token_lease(self.NAME, self.owner, TOKEN_LEASE_SECONDS):
                try:
                    stored = self._stored()
                    if stored["access_token"] != stale:
                        return stored["access_token"]
                    return self._call_oauth(stored["refresh_token"])
                finally:
                    self.repository.release_token_lease(self.NAME, self.owner)
            time.sleep(0.05)
        return None

    def _call_oauth(self, refresh_token: str | None) -> str | None:
        s = self.settings
        try:
            response = self.http.post(
                f"{s.zalo_oauth_url}/v4/oa/access_token",
                headers={"secret_key": s.zalo_app_secret or ""},
                data={"refresh_token": refresh_token or "", "app_id": s.zalo_app_id,
                      "grant_type": "refresh_token"},
                timeout=10)
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            return self._refresh_failed(f"không kết nối được máy chủ OAuth của Zalo ({type(exc).__name__})")
        if isinstance(body, dict) and body.get("access_token") and body.get("refresh_token"):
            # Stored before anyone uses it: the old refresh token is spent from this moment.
            self.repository.update_token(
                self.NAME, access_token=self.cipher.seal(body["access_token"]),
                refresh_token=self.cipher.seal(body["refresh_token"]),
                expires_ts=time.time() + int(body.get("expires_in") or 90000),
                refresh_error=None, refresh_failed_ts=None)
            log.info("Zalo access token refreshed")
            return body["access_token"]
        # OAuth errors may come with HTTP 200: anything without a new pair is an error.
        body = body if isinstance(body, dict) else {}
        return self._refresh_failed(f"Zalo OAuth lỗi {body.get('error', response.status_code)}: "
                                    f"{body.get('error_description') or body.get('error_name') or ''}".strip())

    def _refresh_failed(self, reason: str) -> None:
        log.error("Zalo token refresh failed: %s", reason)
        self.repository.update_token(self.NAME, refresh_error=reason, refresh_failed_ts=time.time())
        return None

    def health(self) -> str:
        stored = self.repository.token(self.NAME) or {}
        if stored and self._stored().get("unreadable"):
            return "token_unreadable"
        return "token_refresh_failed" if stored.get("refresh_failed_ts") else "ok"
