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
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    payload = json.loads(self.rfile.read(length) or b"null")
                except ValueError:
                    payload = None
                status, body = platform.handle(url.path, parse_qs(url.query), self.headers, payload)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
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
        raise NotImplementedError

    def fail_next(self, error):
        """The next send gets this platform error instead of success."""
        self.queued_errors.append(error)

    def record(self, payload: dict):
        with self.lock:
            self.received.append(payload)
            self.received_at.append(time.monotonic())
            return self.queued_errors.pop(0) if self.queued_errors else None

    def reset(self):
        with self.lock:
            self.received.clear()
            self.received_at.clear()
            self.queued_errors.clear()

    def wait_for(self, count: int, timeout: float = 60.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(f"expected {count} sends, got {len(self.received)}")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FakeZaloOpenAPI(FakePlatform):
    """`POST /v3.0/oa/message/cs`: like Zalo, errors come back with HTTP 200 and error != 0."""

    access_token = "zalo-access-token"

    def handle(self, path, query, headers, payload):
        if path != "/v3.0/oa/message/cs":
            return 404, {"error": 404, "message": "not found"}
        if headers.get("access_token") != self.access_token:
            return 200, {"error": -216, "message": "Access token is invalid"}
        if not isinstance(payload, dict) or "recipient" not in payload:
            return 200, {"error": -201, "message": "Parameters are invalid"}
        error = self.record(payload)
        if error is not None:
            return 200, {"error": error, "message": "error"}
        return 200, {"error": 0, "message": "Success",
                     "data": {"message_id": f"zmsg{next(self.ids)}",
                              "user_id": payload["recipient"]["user_id"]}}

    def texts_to(self, user_id: str) -> list[str]:
        return [p["message"]["text"] for p in self.received if p["recipient"]["user_id"] == user_id]


class FakeGraphAPI(FakePlatform):
    """`POST /v21.0/me/messages?access_token=…`: the Graph API's Send API."""

    page_token = "fb-page-token"

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
