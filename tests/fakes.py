"""Local HTTP servers that behave like the platforms' send APIs, errors included. The app
reaches them only through FB_GRAPH_URL / ZALO_OPENAPI_URL, as it would reach the real ones.

Plain http.server rather than a WSGI server: Zalo's `access_token` header has an underscore,
and WSGI servers drop such headers."""
from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakePlatform:
    """Serves `handle(path, query, headers, payload) -> (status, body)` on a free loopback port
    in a thread, and records what it received."""

    def __init__(self):
        self.received: list[dict] = []
        self.received_at: list[float] = []  # time.monotonic() of each send, for benchmarks
        self.queued_errors: list = []
        self.files: dict[str, tuple[str, bytes]] = {}
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.sent = threading.Condition(self.lock)  # notified on every recorded send
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                query = parse_qs(url.query)
                if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                    query.update(parse_qs(raw.decode()))
                    payload = None
                else:
                    try:
                        payload = json.loads(raw or b"null")
                    except ValueError:
                        payload = None
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

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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
        self.server.shutdown()
        self.server.server_close()


class FakeZalo(FakePlatform):
    """Zalo's Open API (`POST /v3.0/oa/message/cs`) and OAuth (`POST /v4/oa/access_token`) on
    one server. Like Zalo: errors come back with HTTP 200 and a non-zero `error`; every refresh
    returns a new pair, the refresh token is single-use and the old access token dies."""

    ACCESS_TOKEN = "zalo-access-token"
    REFRESH_TOKEN = "zalo-refresh-token"
    APP_SECRET = "zalo-app-secret"

    def __init__(self):
        super().__init__()
        self.reset()

    def reset(self):
        super().reset()
        with self.lock:
            self.access_token, self.refresh_token = self.ACCESS_TOKEN, self.REFRESH_TOKEN
            self.access_token_expired = False
            self.oauth_calls = 0
            self.oauth_delay = 0.0
            self.oauth_answers = threading.Event()  # never set: every answer takes oauth_delay

    def handle(self, path, query, headers, payload):
        if path == "/v4/oa/access_token":
            return self.refresh(headers, query)
        if path != "/v3.0/oa/message/cs":
            return 404, {"error": 404, "message": "not found"}
        if headers.get("access_token") != self.access_token:
            return 200, {"error": -216, "message": "Access token is invalid"}
        if self.access_token_expired:
            return 200, {"error": -220, "message": "Access token has expired"}
        if not isinstance(payload, dict) or "recipient" not in payload:
            return 200, {"error": -201, "message": "Parameters are invalid"}
        error = self.record(payload)
        if error is not None:
            return 200, {"error": error, "message": "error"}
        return 200, {"error": 0, "message": "Success",
                     "data": {"message_id": f"zmsg{next(self.ids)}",
                              "user_id": payload["recipient"]["user_id"]}}

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
        return [p["message"]["text"] for p in self.received if p["recipient"]["user_id"] == user_id]


class FakeGraphAPI(FakePlatform):
    """`POST /v21.0/me/messages?access_token=…`: the Graph API's Send API."""

    PAGE_TOKEN = "fb-page-token"

    def __init__(self):
        super().__init__()
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
        error = self.record(payload)
        if error is not None:
            return 400, {"error": {"message": "error", "type": "OAuthException", "code": error}}
        return 200, {"recipient_id": payload["recipient"]["id"], "message_id": f"m_{next(self.ids)}"}

    @property
    def base_url(self) -> str:
        return f"{self.url}/v21.0"

    def texts_to(self, psid: str) -> list[str]:
        return [p["message"]["text"] for p in self.received if p["recipient"]["id"] == psid]
