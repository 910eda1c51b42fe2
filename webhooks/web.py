"""The web chat (`/`): a citizen talks to the bot in a browser, no platform account needed.

Identity is a random id in a signed cookie of its own (`tongdai_chat`: HttpOnly, SameSite=Lax,
Secure outside local development), never the console's session cookie: a staff member who also
chats on the same browser keeps the two apart, and the chat's 30-day cookie never makes a staff
session last 30 days. The browser
posts messages as JSON, or photos with a custom header, which a cross-site form cannot do; it
polls the conversation for the bot's answers. A "send" on this channel only records the reply:
the page fetches it from the history."""
from __future__ import annotations

import json
import pathlib
import secrets
import time
import uuid
from typing import Mapping

from flask import Blueprint, abort, current_app, g, render_template, request, send_file
from itsdangerous import BadSignature, URLSafeSerializer

from bot import intake, rate_limit, texts
from bot.addresses import limit_key
from bot.channels import Window
from bot.config import Settings
from bot.media import MediaStore
from bot.messages import Attachment, Event, InboundMessage, SendResult, nfc
from bot.repository import DatabaseUnavailable, Repository
from bot.text_split import PLATFORM_TEXT_LIMIT

MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_BODY_BYTES = MAX_PHOTO_BYTES + 64 * 1024  # the photo, its caption and the form's own lines
MAX_MESSAGE_BYTES = 64 * 1024  # 2,000 characters, each \uXXXX-escaped, and the id: well under this
UPLOAD_HEADER = ("X-Requested-With", "tongdai1022")
# A person types a few messages a minute; a script types hundreds. Counted in the database, so
# every web process and machine agrees.
MESSAGES_PER_MINUTE = 20
TOO_FAST = {"error": "Anh/chị gửi quá nhanh. Vui lòng đợi một chút rồi gửi tiếp."}
# A script can drop its cookie and be a new citizen on every message: its address is counted too
# (WEB_CHAT_IP_PER_MINUTE; a family or an office behind one address shares it).
TOO_MANY_FROM_ADDRESS = {"error": texts.WEB_CHAT_TOO_MANY_FROM_ADDRESS}


class WebChannel:
    name = "web"
    receives_webhooks = False
    max_event_age_seconds = 60.0  # stamped by this server as it arrives

    def __init__(self, settings: Settings, repository: Repository):
        self.settings = settings
        self.media = MediaStore(settings.var_dir / "media", repository)

    def is_configured(self) -> bool:
        return True

    def health(self) -> str:
        return "ok"

    def verify(self, body: bytes, headers: Mapping[str, str]) -> bool:
        return False

    def parse(self, body: bytes) -> list[Event]:
        return []

    def reply_window(self, since_last_inbound: float, by_staff: bool) -> Window:
        return Window(True)

    def send_text(self, user_id: str, text: str, tag: str | None = None, choices: tuple = ()) -> SendResult:
        return SendResult(ok=True, platform_message_id=f"web-{uuid.uuid4().hex}")

    def send_image(self, user_id: str, path: pathlib.Path, mime: str, tag: str | None = None) -> SendResult:
        """The page shows the photos of a reply's `attachments` from /chat/media/<sha256>: the file
        only has to be in the media store, where it is put here if it is not yet."""
        if not mime.startswith("image/"):
            return SendResult(ok=False, error_code="image_type", error="Tệp này không phải là ảnh.")
        try:
            with path.open("rb") as image:
                data = image.read(MAX_PHOTO_BYTES + 1)
        except OSError:
            return SendResult(ok=False, error_code="image_missing", error="Không tìm thấy tệp ảnh để gửi.")
        if len(data) > MAX_PHOTO_BYTES:
            return SendResult(ok=False, error_code="image_too_large",
                              error="Ảnh lớn hơn 10 MB: vui lòng chọn ảnh nhỏ hơn.")
        kept = self.media.store_image(data)
        if "stored" not in kept:
            return SendResult(ok=False, error_code="image_type", error=f"Không gửi được ảnh: {kept['fetch_error']}.")
        return SendResult(ok=True, platform_message_id=f"web-{kept['stored']['sha256'][:16]}-{uuid.uuid4().hex[:8]}")


web_chat = Blueprint("web_chat", __name__, template_folder="templates", static_folder="static",
                     static_url_path="/static/chat")


@web_chat.errorhandler(413)
def too_large(_error):
    return {"error": texts.WEB_CHAT_TOO_LARGE}, 413


CITIZEN_COOKIE = "tongdai_chat"
CITIZEN_COOKIE_DAYS = 30


def _signer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="web-chat-citizen")


def _citizen() -> str:
    if "citizen" not in g:
        try:
            citizen = _signer().loads(request.cookies.get(CITIZEN_COOKIE, ""))
        except BadSignature:
            citizen = None
        # The cookie is signed, so only we write it; a value of another shape is still never used.
        if not isinstance(citizen, str) or not 16 <= len(citizen) <= 64:
            citizen, g.new_citizen = secrets.token_urlsafe(16), True
        g.citizen = citizen
    return g.citizen


@web_chat.after_request
def _citizen_cookie(response):
    if g.get("new_citizen") or (request.endpoint == "web_chat.page" and "citizen" in g):
        response.set_cookie(CITIZEN_COOKIE, _signer().dumps(g.citizen), max_age=CITIZEN_COOKIE_DAYS * 86400,
                            httponly=True, samesite="Lax", secure=current_app.extensions["settings"].secure_cookies)
    return response


def _repository() -> Repository:
    return current_app.extensions["repository"]


def _media() -> MediaStore:
    return MediaStore(current_app.extensions["settings"].var_dir / "media", _repository())


BUSY = {"error": "Hệ thống đang bận, anh/chị vui lòng gửi lại sau ít phút."}
# Photos a day: a citizen documenting a violation sends a few; a family or an office shares an address.
PHOTO_BYTES_PER_CITIZEN_DAY = 50 * 1024 * 1024
PHOTO_BYTES_PER_ADDRESS_DAY = 200 * 1024 * 1024
TOO_MANY_PHOTOS = {"error": "Anh/chị đã gửi nhiều ảnh trong hôm nay. Vui lòng gửi tiếp vào ngày mai, hoặc gọi 1022."}


def _refused(citizen: str, photo_bytes: int = 0):
    """Why this message or photo is not taken now (an answer with 429), or None. Every request
    counts, before anything of it is read or stored."""
    repository, settings = _repository(), current_app.extensions["settings"]
    if not rate_limit.within(repository, limit_key("web-ip"), settings.web_chat_ip_per_minute, 60):
        return TOO_MANY_FROM_ADDRESS, 429
    if not rate_limit.within(repository, f"web-citizen:{citizen}", MESSAGES_PER_MINUTE, 60):
        return TOO_FAST, 429
    if photo_bytes and not (
            rate_limit.within(repository, limit_key("web-photo-bytes"), PHOTO_BYTES_PER_ADDRESS_DAY, 86400, photo_bytes)
            and rate_limit.within(repository, f"web-photo-bytes:{citizen}", PHOTO_BYTES_PER_CITIZEN_DAY, 86400,
                                  photo_bytes)):
        return TOO_MANY_PHOTOS, 429
    return None


def _accept(message: InboundMessage, then=None) -> tuple[dict, int]:
    """Store the message (a resend of the same id is stored once); `then()` runs when it was new."""
    try:
        new = intake.accept(_repository(), [message]).get("stored")
    except DatabaseUnavailable:
        return BUSY, 503
    if new and then:
        then()
    return {"status": "stored", "id": message.message_id}, 202


def _message_id(citizen: str, body_id=None) -> str:
    # The page sends its own id with each message, so a resend after a network error is one message.
    client_id = str(request.headers.get("X-Message-Id") or body_id or "")
    if not (8 <= len(client_id) <= 64) or not client_id.replace("-", "").isalnum():
        client_id = uuid.uuid4().hex
    return f"{citizen}:{client_id}"


@web_chat.get("/")
def page():
    _citizen()
    return render_template("chat.html")


def _json_body():
    """The posted JSON, or None: not JSON, or nested deeper than the parser goes."""
    if not request.is_json:
        return None
    request.max_content_length = MAX_MESSAGE_BYTES  # larger bodies get 413 before being read
    try:
        return json.loads(request.get_data(cache=False))
    except (ValueError, RecursionError):
        return None


@web_chat.post("/chat/messages")
def post_message():
    body = _json_body()
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return {"error": "Nội dung tin nhắn không hợp lệ."}, 400
    text = nfc(body["text"]).strip()
    if not text:
        return {"error": "Anh/chị chưa nhập nội dung."}, 400
    if len(text) > PLATFORM_TEXT_LIMIT:
        return {"error": f"Tin nhắn dài quá {PLATFORM_TEXT_LIMIT} ký tự, anh/chị vui lòng chia nhỏ."}, 400
    payload = body.get("payload") if isinstance(body.get("payload"), str) else None
    citizen = _citizen()
    try:
        refused = _refused(citizen)
    except DatabaseUnavailable:
        return BUSY, 503
    return refused or _accept(InboundMessage(channel="web", message_id=_message_id(citizen, body.get("id")),
                                             user_id=citizen, text=text, sent_at_ms=int(time.time() * 1000),
                                             payload=payload))


@web_chat.post("/chat/photos")
def post_photo():
    """Every check that needs no byte of the photo comes first (the header, the declared size, the
    limits and the day's quota); then the photo is read into memory, decoded (its type is what its
    bytes are), recorded, and only then written to disk: a refused or repeated upload leaves no file."""
    if request.headers.get(UPLOAD_HEADER[0]) != UPLOAD_HEADER[1]:
        return {"error": "Yêu cầu không hợp lệ."}, 403
    declared = request.content_length
    if declared is None:
        return {"error": "Yêu cầu không hợp lệ."}, 411
    if declared > MAX_PHOTO_BODY_BYTES:
        return {"error": texts.WEB_CHAT_TOO_LARGE}, 413
    citizen = _citizen()
    try:
        refused = _refused(citizen, photo_bytes=declared)
    except DatabaseUnavailable:
        return BUSY, 503
    if refused:
        return refused
    request.max_content_length = MAX_PHOTO_BODY_BYTES
    photo = request.files.get("photo")
    if photo is None:
        return {"error": "Anh/chị chưa chọn ảnh."}, 400
    data = photo.read(MAX_PHOTO_BYTES + 1)
    media = _media()
    described = media.describe_image(data)
    if "stored" not in described:
        return {"error": "Chỉ nhận ảnh JPG, PNG, GIF hoặc WEBP, tối đa 10 MB."}, 400
    caption = nfc(request.form.get("caption", "")).strip()[:PLATFORM_TEXT_LIMIT]
    attachment = Attachment("image", name=(photo.filename or "")[:200] or None, size=len(data),
                            stored=described["stored"])
    return _accept(InboundMessage(channel="web", message_id=_message_id(citizen), user_id=citizen, text=caption,
                                  sent_at_ms=int(time.time() * 1000), attachments=(attachment,)),
                   then=lambda: media.write(data, described["stored"]))


@web_chat.get("/chat/messages")
def history():
    try:
        after = float(request.args.get("after", 0))
    except ValueError:
        after = 0.0
    messages = _repository().history("web", _citizen(), after_ts=after)
    shown = [m for m in messages if m["direction"] == "in" or m.get("state") == "sent"]
    # A reply still being sent must not fall behind the cursor: the page asks again from there.
    unsent = [m["received_ts"] for m in messages if m not in shown]
    cursor = min(unsent) - 1e-6 if unsent else max([m["received_ts"] for m in shown], default=after)
    labels = {m.get("staff_id"): _staff_label(m.get("staff_id")) for m in shown if m.get("sender") == "staff"}
    return {"cursor": cursor, "messages": [{
        "id": str(m["_id"]), "direction": m["direction"], "text": m.get("text", ""),
        **({"from": labels[m.get("staff_id")]} if m.get("sender") == "staff" else {}),
        "photos": [f"/chat/media/{a['stored']['sha256']}" for a in m.get("attachments") or [] if a.get("stored")],
        "choices": [{"title": title, "payload": payload} for title, payload in m.get("choices") or []],
    } for m in shown]}


def _staff_label(username: str | None) -> str:
    """A person's reply must not look like the bot's: the citizen sees who answered."""
    staff = _repository().find_staff(username) if username else None
    name = (staff or {}).get("name")
    return f"{name} – {texts.STAFF_TITLE}" if name else texts.STAFF_TITLE


@web_chat.get("/chat/media/<sha256>")
def media(sha256: str):
    """Only the citizen who sent a photo can load it again."""
    for message in _repository().history("web", _citizen()):
        for attachment in message.get("attachments") or []:
            stored = attachment.get("stored") or {}
            if stored.get("sha256") == sha256:
                return send_file(_media().path_of(stored), mimetype=stored["content_type"])
    abort(404)
