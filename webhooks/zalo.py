"""Zalo Official Account: webhook verification, event parsing and the Open API v3 send."""
from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Mapping

import requests

from bot.channels import DAY, Window
from bot.config import Settings
from bot.messages import Event, SendResult
from bot.repository import Repository
from webhooks import zalo_events
from webhooks.zalo_tokens import ZaloTokens

log = logging.getLogger("tongdai.zalo")

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


TOKEN_ERRORS = {"-216", "-220"}  # invalid / expired access token: refresh once, retry once


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
        timestamp = str(zalo_events.load(body).get("timestamp", ""))
        s = self.settings
        expected = hashlib.sha256(s.zalo_app_id.encode() + body + timestamp.encode()
                                  + s.zalo_oa_secret_key.encode()).hexdigest()
        return hmac.compare_digest(given[4:].strip().lower(), expected)

    def parse(self, body: bytes) -> list[Event]:
        return zalo_events.parse(body)

    def send_text(self, user_id: str, text: str, tag: str | None = None, choices: tuple = ()) -> SendResult:
        # Zalo consultation messages have no quick replies: the bot's texts name the options.
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
