"""Zalo Official Account: webhook verification, event parsing and the Open API v3 send."""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Mapping

import requests

from bot.channels import BadPayload
from bot.config import Settings
from bot.messages import InboundMessage, SendResult

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


class ZaloChannel:
    name = "zalo"

    def __init__(self, settings: Settings, http: requests.Session | None = None):
        self.settings = settings
        self.http = http or requests.Session()

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

    def send_text(self, user_id: str, text: str) -> SendResult:
        try:
            response = self.http.post(
                f"{self.settings.zalo_openapi_url}/v3.0/oa/message/cs",
                headers={"access_token": self.settings.zalo_access_token or ""},
                json={"recipient": {"user_id": user_id}, "message": {"text": text}},
                timeout=10,
            )
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
