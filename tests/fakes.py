"""Local HTTP servers that behave like the platforms' send APIs, errors included. The app
reaches them only through FB_GRAPH_URL / ZALO_OPENAPI_URL, as it would reach the real ones.

Plain http.server rather than a WSGI server: Zalo's `access_token` header has an underscore,
and WSGI servers drop such headers."""
from __future__ import annotations

import itertools
import json
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def parse_multipart(content_type: str, raw: bytes) -> dict:
    """A multipart/form-data body: {name: text} for fields, {name: {filename, mime, size, data}} for files."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    parts = {}
    for part in message.iter_parts():
        name, data = part.get_param("name", header="content-disposition"), part.get_payload(decode=True) or b""
        filename = part.get_filename()
        parts[name] = data.decode() if filename is None else {
            "filename": filename, "mime": part.get_content_type(), "size": len(data), "data": data}
    return parts


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # a worker's lanes connect at once, as they would to the real APIs


class FakePlatform:
    """Serves `handle(path, query, headers, payload) -> (status, body)` on a free loopback port
    in a thread, and records what it received."""

    def __init__(self, latency: float = 0.0):
        self.latency = latency  # seconds before a send is answered: the real APIs take 100-500 ms
        self.closed = threading.Event()  # a closed fake answers at once: its latency never holds up a shutdown
        self.received: list[dict] = []
        self.received_at: list[float] = []  # time.monotonic() of each send, for benchmarks
        self.queued_errors: list = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.sent = threading.Condition(self.lock)  # notified on every recorded send
        platform = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # kept-alive connections, as the real APIs allow
            wbufsize = -1  # headers and body in one write: no delayed-ACK wait on a kept-alive connection

            def do_POST(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                query = parse_qs(url.query)
                if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                    query.update(parse_qs(raw.decode()))
                    payload = None
                elif self.headers.get("Content-Type", "").startswith("multipart/form-data"):
                    payload = {"multipart": parse_multipart(self.headers["Content-Type"], raw)}
                else:
                    try:
                        payload = json.loads(raw or b"null")
                    except ValueError:
                        payload = None
                if platform.latency:
                    platform.closed.wait(platform.latency)  # the platform's own response time
                status, body = platform.handle(url.path, query, self.headers, payload)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                """Attachments on the platform's CDN: `platform.files[path] = (content_type, bytes)`."""
                content_type, data = platform.files.get(urlsplit(self.path).path, ("text/plain", None))
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def handle(self, path, query, headers, payload) -> tuple[int, dict]:
        """`query` holds the query string and, for form posts, the form fields."""
        raise NotImplementedError

    def fail_next(self, error):
        """The next send gets this platform error instead of success."""
        self.queued_errors.append(error)

    def record(self, payload: dict):
        with self.lock:
            self.received.append(payload)
            self.received_at.append(time.monotonic())
            self.sent.notify_all()
            return self.queued_errors.pop(0) if self.queued_errors else None

    def reset(self):
        with self.lock:
            self.received.clear()
            self.received_at.clear()
            self.queued_errors.clear()
            self.files.clear()

    def wait_for(self, count: int, timeout: float = 60.0) -> list[dict]:
        with self.sent:
            if not self.sent.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"expected {count} sends, got {len(self.received)}")
            return list(self.received)

    def close(self):
        self.closed.set()
        self.server.shutdown()
        self.server.server_close()


ZALO_BUTTON_TYPES = {"oa.query.show", "oa.query.hide", "oa.open.url", "oa.open.sms", "oa.open.phone"}


class FakeZalo(FakePlatform):
    """Zalo's Open API (`POST /v3.0/oa/message/cs`, `POST /v2.0/oa/upload/image`) and OAuth
    (`POST /v4/oa/access_token`) on one server. Like Zalo: errors come back with HTTP 200 and a
    non-zero `error` (a message of the wrong shape: -201); every refresh returns a new pair, the
    refresh token is single-use and the old access token dies. Uploaded images are kept in
    `uploads` by attachment id; a message naming an unknown attachment id is refused."""

    MAX_IMAGE_BYTES = 1024 * 1024

    ACCESS_TOKEN = "zalo-access-token"
    REFRESH_TOKEN = "zalo-refresh-token"
    APP_SECRET = "zalo-app-secret"

    def __init__(self, latency: float = 0.0):
        super().__init__(latency)
        self.reset()

    def reset(self):
        super().reset()
        with self.lock:
            self.access_token, self.refresh_token = self.ACCESS_TOKEN, self.REFRESH_TOKEN
            self.access_token_expired = False
            self.oauth_calls = 0
            self.oauth_delay = 0.0
            self.oauth_answers = threading.Event()  # never set: every answer takes oauth_delay
            self.uploads: dict[str, dict] = {}     # attachment id -> {filename, mime, size}
            self.upload_calls = 0
            self.upload_errors: list = []
            self.rejected: list = []               # well-authenticated bodies refused with -201

    def fail_next_upload(self, error):
        self.upload_errors.append(error)

    def handle(self, path, query, headers, payload):
        if path == "/v4/oa/access_token":
            return self.refresh(headers, query)
        if path not in ("/v3.0/oa/message/cs", "/v2.0/oa/upload/image"):
            return 404, {"error": 404, "message": "not found"}
        if headers.get("access_token") != self.access_token:
            return 200, {"error": -216, "message": "Access token is invalid"}
        if self.access_token_expired:
            return 200, {"error": -220, "message": "Access token has expired"}
        if path == "/v2.0/oa/upload/image":
            return self.upload(payload)
        problem = self.message_problem(payload)
        if problem:
            with self.lock:
                self.rejected.append(payload)
            return 200, {"error": -201, "message": f"Parameters are invalid: {problem}"}
        error = self.record(payload)
        if error is not None:
            return 200, {"error": error, "message": "error"}
        return 200, {"error": 0, "message": "Success",
                     "data": {"message_id": f"zmsg{next(self.ids)}",
                              "user_id": payload["recipient"]["user_id"]}}

    def message_problem(self, payload) -> str | None:
        """What Zalo would refuse in a consultation message, or None."""
        if not isinstance(payload, dict) or not isinstance(payload.get("recipient"), dict) \
                or not payload["recipient"].get("user_id"):
            return "recipient.user_id"
        message = payload.get("message")
        if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
            return "message"
        if "text" in message and (not isinstance(message["text"], str) or len(message["text"]) > 2000):
            return "message.text"
        attachment = message.get("attachment")
        if attachment is None:
            return None
        body = attachment.get("payload") if isinstance(attachment, dict) else None
        if attachment.get("type") != "template" or not isinstance(body, dict):
            return "message.attachment"
        if body.get("template_type") == "media":
            elements = body.get("elements")
            if not isinstance(elements, list) or len(elements) != 1 or elements[0].get("media_type") != "image":
                return "elements"
            if not elements[0].get("url") and elements[0].get("attachment_id") not in self.uploads:
                return "elements.attachment_id"
            return None
        if "template_type" in body or not message.get("text"):
            return "template_type"
        buttons = body.get("buttons")
        if not isinstance(buttons, list) or not 1 <= len(buttons) <= 5:
            return "buttons"
        for button in buttons:
            if not isinstance(button, dict) or button.get("type") not in ZALO_BUTTON_TYPES:
                return "buttons.type"
            if not isinstance(button.get("title"), str) or not 1 <= len(button["title"]) <= 100:
                return "buttons.title"
            if button["type"].startswith("oa.query.") and not (
                    isinstance(button.get("payload"), str) and 1 <= len(button["payload"]) <= 1000):
                return "buttons.payload"
        return None

    def upload(self, payload):
        image = ((payload or {}).get("multipart") or {}).get("file")
        with self.lock:
            self.upload_calls += 1
            if self.upload_errors:
                return 200, {"error": self.upload_errors.pop(0), "message": "error"}
            if not isinstance(image, dict) or image["mime"] not in ("image/jpeg", "image/png"):
                return 200, {"error": -201, "message": "Parameters are invalid: file"}
            if image["size"] > self.MAX_IMAGE_BYTES:
                return 200, {"error": -210, "message": "File size exceeds the limit"}
            attachment_id = f"zimg{next(self.ids)}"
            self.uploads[attachment_id] = {k: image[k] for k in ("filename", "mime", "size")}
        return 200, {"error": 0, "message": "Success", "data": {"attachment_id": attachment_id}}

    def refresh(self, headers, form):
        # The fake server's own response latency (a slow OAuth server widens the window for a race).
        self.oauth_answers.wait(self.oauth_delay)
        with self.lock:
            self.oauth_calls += 1
            if headers.get("secret_key") != self.APP_SECRET:
                return 200, {"error": -14002, "error_name": "Invalid app secret",
                             "error_description": "secret_key is invalid"}
            if form.get("grant_type") != ["refresh_token"] or form.get("refresh_token") != [self.refresh_token]:
                return 200, {"error": -14014, "error_name": "Invalid refresh token",
                             "error_description": "Refresh token is invalid or has been used"}
            n = next(self.ids)
            self.access_token, self.refresh_token = f"zalo-access-{n}", f"zalo-refresh-{n}"
            self.access_token_expired = False
            return 200, {"access_token": self.access_token, "refresh_token": self.refresh_token,
                         "expires_in": "90000"}

    def texts_to(self, user_id: str) -> list[str]:
        return [p["message"]["text"] for p in self.received
                if p["recipient"]["user_id"] == user_id and "text" in p["message"]]


class FakeGraphAPI(FakePlatform):
    """`POST /v21.0/me/messages?access_token=…`: the Graph API's Send API, JSON or — to upload
    and send a file at once — multipart with `recipient`, `message` (JSON text) and `filedata`.
    A multipart send is recorded as JSON would be, its file as `filedata: {filename, mime, size}`."""

    MAX_FILE_BYTES = 25 * 1024 * 1024

    PAGE_TOKEN = "fb-page-token"

    def __init__(self, latency: float = 0.0):
        super().__init__(latency)
        self.reset()

    def reset(self):
        super().reset()
        self.page_token = self.PAGE_TOKEN

    def handle(self, path, query, headers, payload):
        if path != "/v21.0/me/messages":
            return 404, {"error": {"message": "Unknown path", "code": 803}}
        if query.get("access_token") != [self.page_token]:
            return 400, {"error": {"message": "Invalid OAuth access token.",
                                   "type": "OAuthException", "code": 190}}
        upload = isinstance(payload, dict) and "multipart" in payload
        if upload:
            try:
                payload = self.upload(payload["multipart"])
            except (KeyError, TypeError, ValueError) as exc:
                return 400, {"error": {"message": f"(#100) Invalid parameter: {exc}",
                                       "type": "OAuthException", "code": 100}}
        error = self.record(payload)
        if error is not None:
            return 400, {"error": {"message": "error", "type": "OAuthException", "code": error}}
        answer = {"recipient_id": payload["recipient"]["id"], "message_id": f"m_{next(self.ids)}"}
        return 200, {**answer, "attachment_id": f"att_{next(self.ids)}"} if upload else answer

    def upload(self, parts: dict) -> dict:
        """The JSON-like record of a multipart send; ValueError for what the Graph API refuses."""
        sent = {"recipient": json.loads(parts["recipient"]), "messaging_type": parts.get("messaging_type"),
                "message": json.loads(parts["message"])}
        if parts.get("tag"):
            sent["tag"] = parts["tag"]
        attachment, filedata = sent["message"].get("attachment") or {}, parts.get("filedata")
        if attachment.get("type") not in ("image", "audio", "video", "file") or not isinstance(filedata, dict):
            raise ValueError("message.attachment and filedata")
        if attachment["type"] == "image" and not filedata["mime"].startswith("image/"):
            raise ValueError("filedata is not an image")
        if filedata["size"] > self.MAX_FILE_BYTES:
            raise ValueError("filedata over 25 MB")
        sent["filedata"] = {k: filedata[k] for k in ("filename", "mime", "size")}
        return sent

    @property
    def base_url(self) -> str:
        return f"{self.url}/v21.0"

    def texts_to(self, psid: str) -> list[str]:
        return [p["message"]["text"] for p in self.received if p["recipient"]["id"] == psid and "text" in p["message"]]


class FakeSMTP:
    """A mail server on a free loopback port that accepts every message and keeps it (parsed), as
    the app reaches a real one through SMTP_HOST / SMTP_PORT (no TLS here: SMTP_STARTTLS=0)."""

    def __init__(self):
        import socketserver
        from email import message_from_bytes
        from email.policy import default

        self.messages: list = []
        fake = self

        class Session(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self):
                self.reply("220 fake-smtp ESMTP")
                recipients = []
                while True:
                    line = self.rfile.readline().decode(errors="replace").strip()
                    command = line[:4].upper()
                    if not line or command == "QUIT":
                        self.reply("221 bye")
                        return
                    if command == "EHLO":
                        self.reply("250-fake-smtp")
                        self.reply("250 8BITMIME")
                    elif command == "RCPT":
                        recipients.append(line.split(":", 1)[1].strip(" <>"))
                        self.reply("250 ok")
                    elif command == "DATA":
                        self.reply("354 go ahead")
                        data = b""
                        while not data.endswith(b"\r\n.\r\n"):
                            data += self.rfile.readline()
                        fake.messages.append((recipients, message_from_bytes(data[:-5], policy=default)))
                        recipients = []
                        self.reply("250 queued")
                    else:  # HELO, MAIL, RSET, NOOP
                        self.reply("250 ok")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Session)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
