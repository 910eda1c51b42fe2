"""Zalo Official Account: webhook verification, event parsing and the Open API v3 send."""
from __future__ import annotations

import hashlib
import hmac
import logging
import pathlib
from typing import Callable, Mapping

import requests

from bot.channels import DAY, Window, kept_alive_session
from bot.config import Settings
from bot.messages import Event, SendResult, nfc
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

# Buttons of a consultation message (oa.query.*): at most 5, titles up to 100 characters.
MAX_BUTTONS = 5
BUTTON_TITLE_LIMIT = 100
# Images are uploaded first (/v2.0/oa/upload/image): JPG or PNG, at most 1 MB.
IMAGE_TYPES = {"image/jpeg", "image/png"}
MAX_IMAGE_BYTES = 1024 * 1024


def button_title(title: str) -> str:
    """NFC first, so a Vietnamese letter and its tone mark count (and are cut) as one character;
    a title too long is cut at a word, not inside one."""
    title = " ".join(nfc(title).split())
    if len(title) <= BUTTON_TITLE_LIMIT:
        return title
    cut = title[:BUTTON_TITLE_LIMIT - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut else cut) + "…"


def buttons(choices: tuple) -> list[dict]:
    # oa.query.hide rather than .show: the press comes back as a text message, which .show would
    # also print in the citizen's chat — our payload code instead of the title they tapped.
    titled = [(button_title(title), payload) for title, payload in choices[:MAX_BUTTONS]]
    return [{"type": "oa.query.hide", "title": title, "payload": zalo_events.button_query(payload, title)}
            for title, payload in titled]


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",")


class ZaloChannel:
    name = "zalo"
    # Zalo retries a failed delivery after 30 s, 5, 15, 30 min and 1 h, then disables the webhook
    # (older write-ups: for up to 12 h). An event older than a day is no retry: it is refused.
    max_event_age_seconds = 24 * 3600

    def __init__(self, settings: Settings, repository: Repository, http: requests.Session | None = None):
        self.settings = settings
        self.http = http or kept_alive_session()
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
        message: dict = {"text": text}
        if choices:  # Zalo's answer to quick replies: buttons under the text
            message["attachment"] = {"type": "template", "payload": {"buttons": buttons(choices)}}
        payload = {"recipient": {"user_id": user_id}, "message": message}
        return self._with_token(lambda token: self._send(token, payload))

    def send_image(self, user_id: str, path: pathlib.Path, mime: str, tag: str | None = None) -> SendResult:
        refused = self._refuse_image(path, mime)
        if refused:
            return refused
        uploaded: dict = {}

        def upload_then_send(token: str | None) -> SendResult:
            if "attachment_id" not in uploaded:  # a retry after a token refresh reuses the upload
                with path.open("rb") as image:
                    result, data = self._call(token, "/v2.0/oa/upload/image",
                                              files={"file": (path.name, image, mime)})
                if result.uncertain:  # an upload reaches nobody: it is safe to try again
                    return SendResult(ok=False, error_code=result.error_code, retryable=True, error=result.error)
                if not result.ok:
                    return result
                if not data.get("attachment_id"):
                    return SendResult(ok=False, error_code="no_attachment_id",
                                      error="Zalo nhận ảnh nhưng không trả về mã ảnh")
                uploaded["attachment_id"] = str(data["attachment_id"])
            return self._send(token, {"recipient": {"user_id": user_id}, "message": {"attachment": {
                "type": "template", "payload": {"template_type": "media", "elements": [
                    {"media_type": "image", "attachment_id": uploaded["attachment_id"]}]}}}})

        return self._with_token(upload_then_send)

    @staticmethod
    def _refuse_image(path: pathlib.Path, mime: str) -> SendResult | None:
        """Zalo's limits, checked before any call."""
        if mime not in IMAGE_TYPES:
            return SendResult(ok=False, error_code="image_type",
                              error="Zalo chỉ nhận ảnh JPG hoặc PNG: vui lòng chọn ảnh khác.")
        try:
            size = path.stat().st_size
        except OSError:
            return SendResult(ok=False, error_code="image_missing", error="Không tìm thấy tệp ảnh để gửi.")
        if size > MAX_IMAGE_BYTES:
            return SendResult(ok=False, error_code="image_too_large",
                              error=f"Ảnh nặng {megabytes(size)} MB, vượt giới hạn 1 MB của Zalo: "
                                    "vui lòng giảm kích thước ảnh rồi gửi lại.")
        return None

    def _with_token(self, attempt: Callable[[str | None], SendResult]) -> SendResult:
        token = self.tokens.access_token()
        result = attempt(token)
        if result.error_code in TOKEN_ERRORS:
            fresh = self.tokens.refresh(token)
            if fresh:
                result = attempt(fresh)
        return result

    def _send(self, token: str | None, payload: dict) -> SendResult:
        result, data = self._call(token, "/v3.0/oa/message/cs", json=payload)
        if result.ok and data.get("message_id"):
            return SendResult(ok=True, platform_message_id=str(data["message_id"]))
        return result

    def _call(self, token: str | None, path: str, **body) -> tuple[SendResult, dict]:
        """One Open API call; Zalo answers errors with HTTP 200 and a non-zero "error"."""
        try:
            response = self.http.post(f"{self.settings.zalo_openapi_url}{path}",
                                      headers={"access_token": token or ""}, timeout=10, **body)
            answer = response.json()
        except requests.ReadTimeout:
            # Zalo has the request and may have delivered it: sending again could double it.
            return SendResult(ok=False, error_code="timeout", uncertain=True,
                              error="Zalo không trả lời kịp: tin có thể đã đến người dân, kiểm tra trước khi gửi lại."), {}
        except (requests.RequestException, ValueError) as exc:
            return SendResult(ok=False, error_code="network", retryable=True,
                              error=f"Không kết nối được Zalo: {type(exc).__name__}"), {}
        code = answer.get("error", -1) if isinstance(answer, dict) else -1
        if response.status_code == 200 and code == 0:
            data = answer.get("data")
            return SendResult(ok=True), data if isinstance(data, dict) else {}
        if code in RETRYABLE_ERRORS or response.status_code >= 500:
            return SendResult(ok=False, error_code=str(code), retryable=True,
                              error=RETRYABLE_ERRORS.get(code, f"Zalo lỗi HTTP {response.status_code}")), {}
        message = answer.get("message", "") if isinstance(answer, dict) else ""
        return SendResult(ok=False, error_code=str(code),
                          error=PERMANENT_ERRORS.get(code, f"Zalo báo lỗi {code}: {message}")), {}
