"""Facebook Messenger: verification handshake, signed events, and the Send API."""
from __future__ import annotations

import hashlib
import hmac
import json
import pathlib
import time
from typing import Mapping

import requests

from bot.channels import DAY, Window, kept_alive_session
from bot.config import Settings
from bot.messages import Event, SendResult
from bot.repository import Repository
from webhooks import facebook_events

TOKEN_INVALID = 190
RETRYABLE_CODES = {2: "Lỗi tạm thời của Facebook", 613: "Facebook giới hạn tốc độ gửi"}
PERMANENT_CODES = {
    10: "Ngoài thời hạn được phép nhắn tin cho người dùng",
    190: "Page access token không hợp lệ hoặc đã hết hạn",
    551: "Người dùng hiện không nhận được tin nhắn",
}
# Files sent with the Send API (multipart `filedata`) may be up to 25 MB.
MAX_IMAGE_BYTES = 25 * 1024 * 1024


def addressing(user_id: str, tag: str | None) -> dict:
    """Recipient and messaging type, the same for every kind of message."""
    if tag:
        return {"recipient": {"id": user_id}, "messaging_type": "MESSAGE_TAG", "tag": tag}
    return {"recipient": {"id": user_id}, "messaging_type": "RESPONSE"}


class FacebookChannel:
    name = "facebook"
    # Meta retries "with decreasing frequency over the next 36 hours" and drops what is still
    # unacknowledged after 36 hours (Graph API Webhooks): anything older than two days is refused.
    max_event_age_seconds = 48 * 3600

    def __init__(self, settings: Settings, repository: Repository, http: requests.Session | None = None):
        self.settings = settings
        self.repository = repository
        self.http = http or kept_alive_session()

    def health(self) -> str:
        # A page token dies when a page admin changes their password: staff must replace it.
        stored = self.repository.token(self.name) or {}
        return "token_invalid" if stored.get("invalid_ts") else "ok"

    def is_configured(self) -> bool:
        s = self.settings
        return bool(s.fb_app_secret and s.fb_verify_token and s.fb_page_access_token)

    def reply_window(self, since_last_inbound: float, by_staff: bool) -> Window:
        # Messenger: anything within 24 h of the user's last message; after that only a reply
        # typed by a person, tagged HUMAN_AGENT, and only up to 7 days.
        if since_last_inbound <= DAY:
            return Window(True)
        if by_staff and since_last_inbound <= 7 * DAY:
            return Window(True, tag="HUMAN_AGENT")
        if by_staff:
            return Window(False, reason="Đã quá 7 ngày kể từ tin nhắn cuối của người dân: "
                                        "Messenger không cho phép gửi tin.")
        return Window(False, reason="Đã quá 24 giờ kể từ tin nhắn cuối của người dân: Messenger chỉ "
                                    "cho phép cán bộ trả lời (trong 7 ngày), không cho gửi tin tự động.")

    def handshake(self, args: Mapping[str, str]) -> tuple[int, str]:
        """Meta's subscription check: echo the challenge when the verify token matches."""
        token = args.get("hub.verify_token", "")
        if args.get("hub.mode") == "subscribe" and hmac.compare_digest(
                token.encode(), self.settings.fb_verify_token.encode()):
            return 200, args.get("hub.challenge", "")
        return 403, "Forbidden"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        given = headers.get("X-Hub-Signature-256", "")
        if not given.startswith("sha256="):
            return False
        expected = hmac.new(self.settings.fb_app_secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(given[7:].strip().lower(), expected)

    def parse(self, body: bytes) -> list[Event]:
        return facebook_events.parse(body)

    def send_text(self, user_id: str, text: str, tag: str | None = None, choices: tuple = ()) -> SendResult:
        payload = {**addressing(user_id, tag), "message": {"text": text, "metadata": facebook_events.BOT_METADATA}}
        if choices:  # Messenger allows 13 quick replies, titles of 20 characters
            payload["message"]["quick_replies"] = [{"content_type": "text", "title": title[:20], "payload": value}
                                                   for title, value in choices[:13]]
        return self._post(json=payload)

    def send_image(self, user_id: str, path: pathlib.Path, mime: str, tag: str | None = None) -> SendResult:
        """Upload and send in one multipart call (the Send API's `filedata`)."""
        if not mime.startswith("image/"):
            return SendResult(ok=False, error_code="image_type", error="Tệp này không phải là ảnh.")
        try:
            size = path.stat().st_size
        except OSError:
            return SendResult(ok=False, error_code="image_missing", error="Không tìm thấy tệp ảnh để gửi.")
        if size > MAX_IMAGE_BYTES:
            return SendResult(ok=False, error_code="image_too_large",
                              error="Ảnh vượt giới hạn 25 MB của Messenger: vui lòng chọn ảnh nhỏ hơn.")
        message = {"attachment": {"type": "image", "payload": {"is_reusable": True}},
                   "metadata": facebook_events.BOT_METADATA}
        # Multipart fields are strings: the objects go as JSON text.
        fields = {key: json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
                  for key, value in {**addressing(user_id, tag), "message": message}.items()}
        with path.open("rb") as image:
            return self._post(data=fields, files={"filedata": (path.name, image, mime)})

    def _post(self, **body) -> SendResult:
        try:
            response = self.http.post(
                f"{self.settings.fb_graph_url}/me/messages",
                params={"access_token": self.settings.fb_page_access_token or ""}, timeout=20, **body)
            answer = response.json()
        except requests.ReadTimeout:
            # Meta has the request and may have delivered it: sending again could double it.
            return SendResult(ok=False, error_code="timeout", uncertain=True,
                              error="Facebook không trả lời kịp: tin có thể đã đến người dân, kiểm tra trước khi gửi lại.")
        except (requests.RequestException, ValueError) as exc:
            return SendResult(ok=False, error_code="network", retryable=True,
                              error=f"Không kết nối được Facebook: {type(exc).__name__}")
        if response.status_code == 200 and isinstance(answer, dict) and answer.get("message_id"):
            self._token_state(valid=True)
            return SendResult(ok=True, platform_message_id=str(answer["message_id"]))
        error = answer.get("error") or {} if isinstance(answer, dict) else {}
        code = error.get("code")
        if code == TOKEN_INVALID:
            self._token_state(valid=False)
        if code in RETRYABLE_CODES or response.status_code >= 500:
            return SendResult(ok=False, error_code=str(code), retryable=True,
                              error=RETRYABLE_CODES.get(code, f"Facebook lỗi HTTP {response.status_code}"))
        return SendResult(ok=False, error_code=str(code),
                          error=PERMANENT_CODES.get(code, f"Facebook báo lỗi {code}: {error.get('message', '')}"))

    def _token_state(self, valid: bool) -> None:
        stored = self.repository.token(self.name)
        if valid and stored and stored.get("invalid_ts"):
            self.repository.update_token(self.name, invalid_ts=None)
        elif not valid:
            self.repository.seed_token(self.name)
            self.repository.update_token(self.name, invalid_ts=time.time())
