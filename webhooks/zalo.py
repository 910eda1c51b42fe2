"""Zalo Official Account: webhook verification, event parsing and the Open API v3 send."""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
import time
from typing import Mapping

import requests

from bot.channels import DAY, BadPayload, Window
from bot.config import Settings
from bot.messages import InboundMessage, SendResult
from bot.repository import Repository

log = logging.getLogger("tongdai.zalo")

TEXT_EVENTS = {"user_send_text", "anonymous_send_text"}
# Zalo answers errors with HTTP 200 and a non-zero "error"; these are worth another try.
RETRYABLE_ERRORS = {-32: "Zalo giới hạn tốc độ gửi", -200: "Zalo gửi không thành công"}
PERMANENT_ERRORS = {
    -201: "Tham số không hợp lệ",
    -210: "Vượt giới hạn (ví dụ độ dài tin nhắn)",
    -211: "Hết hạn mức gửi tin của OA",
    -213: "Người dùng chưa quan tâm OA",
    -216: "Access token không hợp lệ",
    -220: "Access token đã hết hạn",
    -227: "Tài khoản người dùng bị khóa hoặc không hoạt động",
    -230: "Người dùng không tương tác với OA trong 7 ngày qua",
    -232: "Đã hết thời hạn được phép trả lời người dùng",
}


def _load_event(body: bytes) -> dict:
    try:
        event = json.loads(body)
    except ValueError as exc:
        raise BadPayload("body is not JSON") from exc
    if not isinstance(event, dict) or not isinstance(event.get("event_name"), str):
        raise BadPayload("no event_name")
    return event


TOKEN_ERRORS = {"-216", "-220"}  # invalid / expired access token: refresh once, retry once
REFRESH_MARGIN_SECONDS = 3600      # an access token lives 25 h: renew it an hour early
TOKEN_LEASE_SECONDS = 30
TOKEN_WAIT_SECONDS = 15


class ZaloTokens:
    """The OA access token, kept in the database and shared by every process.

    Zalo's refresh token is single-use: two processes refreshing at once would burn it and lock
    the OA out. So one process at a time refreshes, under a lease in the database; the new pair
    is stored before it is used; an OAuth error never overwrites the stored pair."""

    NAME = "zalo"

    def __init__(self, settings: Settings, repository: Repository, http: requests.Session):
        self.settings = settings
        self.repository = repository
        self.http = http
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{id(self)}"

    def _stored(self) -> dict:
        stored = self.repository.token(self.NAME)
        if stored is None:
            self.repository.seed_token(self.NAME, access_token=self.settings.zalo_access_token,
                                       refresh_token=self.settings.zalo_refresh_token, expires_ts=None)
            stored = self.repository.token(self.NAME)
        return stored

    def access_token(self) -> str | None:
        stored = self._stored()
        expires = stored.get("expires_ts")
        if expires and expires - time.time() < REFRESH_MARGIN_SECONDS:
            return self.refresh(stored["access_token"]) or stored["access_token"]
        return stored["access_token"]

    def refresh(self, stale: str | None) -> str | None:
        """A token newer than `stale`: refreshed here, or by whichever process holds the lease.
        None when refreshing failed."""
        asked = time.time()
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
                self.NAME, access_token=body["access_token"], refresh_token=body["refresh_token"],
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
        return "token_refresh_failed" if stored.get("refresh_failed_ts") else "ok"


class ZaloChannel:
    name = "zalo"

    def __init__(self, settings: Settings, repository: Repository, http: requests.Session | None = None):
        self.settings = settings
        self.http = http or requests.Session()
        self.tokens = ZaloTokens(settings, repository, self.http)

    def health(self) -> str:
        return self.tokens.health()

    def reply_window(self, since_last_inbound: float, by_staff: bool) -> Window:
        # Zalo: consultation messages only to users who interacted within the last 7 days.
        if since_last_inbound <= 7 * DAY:
            return Window(True)
        return Window(False, reason="Người dân không tương tác với OA trong 7 ngày qua: "
                                    "Zalo không cho phép gửi tin tư vấn.")

    def is_configured(self) -> bool:
        s = self.settings
        return bool(s.zalo_app_id and s.zalo_oa_secret_key)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        # Zalo signs with plain SHA-256 (not HMAC) of app_id + raw body + the body's own
        # "timestamp" field + the OA secret key: the body must be read to check it.
        given = headers.get("X-ZEvent-Signature", "")
        if not given.startswith("mac="):
            return False
        timestamp = str(_load_event(body).get("timestamp", ""))
        s = self.settings
        expected = hashlib.sha256(s.zalo_app_id.encode() + body + timestamp.encode()
                                  + s.zalo_oa_secret_key.encode()).hexdigest()
        return hmac.compare_digest(given[4:].strip().lower(), expected)

    def parse(self, body: bytes) -> list[InboundMessage]:
        event = _load_event(body)
        if event["event_name"] not in TEXT_EVENTS:
            return []  # other events are handled by later work; acknowledged, not stored
        sender, message = event.get("sender"), event.get("message")
        if not (isinstance(sender, dict) and isinstance(message, dict)):
            raise BadPayload("text event without sender or message")
        user_id, msg_id, text = sender.get("id"), message.get("msg_id"), message.get("text")
        if not (user_id and msg_id and isinstance(text, str)):
            raise BadPayload("text event without sender.id, message.msg_id or message.text")
        try:
            sent_at_ms = int(event.get("timestamp") or 0)
        except (TypeError, ValueError) as exc:
            raise BadPayload("timestamp is not a number") from exc
        # Zalo's ids are big integers sent as strings: kept as strings.
        return [InboundMessage(channel=self.name, message_id=str(msg_id), user_id=str(user_id),
                               text=text, sent_at_ms=sent_at_ms, event=event["event_name"])]

    def send_text(self, user_id: str, text: str, tag: str | None = None) -> SendResult:
        payload = {"recipient": {"user_id": user_id}, "message": {"text": text}}
        token = self.tokens.access_token()
        result = self._send(token, payload)
        if result.error_code in TOKEN_ERRORS:
            fresh = self.tokens.refresh(token)
            if fresh:
                result = self._send(fresh, payload)
        return result

    def _send(self, token: str | None, payload: dict) -> SendResult:
        try:
            response = self.http.post(
                f"{self.settings.zalo_openapi_url}/v3.0/oa/message/cs",
                headers={"access_token": token or ""}, json=payload, timeout=10)
            body = response.json()
        except (requests.RequestException, ValueError) as exc:
            return SendResult(ok=False, error_code="network", retryable=True,
                              error=f"Không kết nối được Zalo: {type(exc).__name__}")
        code = body.get("error", -1) if isinstance(body, dict) else -1
        if response.status_code == 200 and code == 0:
            message_id = (body.get("data") or {}).get("message_id")
            return SendResult(ok=True, platform_message_id=str(message_id) if message_id else None)
        if code in RETRYABLE_ERRORS or response.status_code >= 500:
            return SendResult(ok=False, error_code=str(code), retryable=True,
                              error=RETRYABLE_ERRORS.get(code, f"Zalo lỗi HTTP {response.status_code}"))
        return SendResult(ok=False, error_code=str(code),
                          error=PERMANENT_ERRORS.get(code, f"Zalo báo lỗi {code}: {body.get('message', '')}"))
