"""Local HTTP servers that behave like the platforms' send APIs, errors included. The app
reaches them only through FB_GRAPH_URL / ZALO_OPENAPI_URL, as it would reach the real ones."""
from __future__ import annotations

import itertools
import threading
import time

from flask import Flask, jsonify, request
from werkzeug.serving import make_server


class FakePlatform:
    """Runs a Flask app on a free loopback port in a thread and records what it received."""

    def __init__(self):
        self.app = Flask(type(self).__name__)
        self.received: list[dict] = []
        self.queued_errors: list = []
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        self.routes()
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def routes(self):
        raise NotImplementedError

    def fail_next(self, error):
        """The next send gets this platform error instead of success."""
        self.queued_errors.append(error)

    def record(self, payload: dict):
        with self.lock:
            self.received.append(payload)
            return self.queued_errors.pop(0) if self.queued_errors else None

    def reset(self):
        with self.lock:
            self.received.clear()
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


class FakeZaloOpenAPI(FakePlatform):
    """`POST /v3.0/oa/message/cs`: like Zalo, errors come back with HTTP 200 and error != 0."""

    access_token = "zalo-access-token"

    def routes(self):
        @self.app.post("/v3.0/oa/message/cs")
        def send():
            if request.headers.get("access_token") != self.access_token:
                return jsonify(error=-216, message="Access token is invalid")
            payload = request.get_json()
            error = self.record(payload)
            if error is not None:
                return jsonify(error=error, message="error")
            return jsonify(error=0, message="Success",
                           data={"message_id": f"zmsg{next(self.ids)}",
                                 "user_id": payload["recipient"]["user_id"]})

    def texts_to(self, user_id: str) -> list[str]:
        return [p["message"]["text"] for p in self.received if p["recipient"]["user_id"] == user_id]


class FakeGraphAPI(FakePlatform):
    """`POST /v21.0/me/messages?access_token=…`: the Graph API's Send API."""

    page_token = "fb-page-token"

    def routes(self):
        @self.app.post("/v21.0/me/messages")
        def send():
            if request.args.get("access_token") != self.page_token:
                return jsonify(error={"message": "Invalid OAuth access token.",
                                      "type": "OAuthException", "code": 190}), 400
            payload = request.get_json()
            error = self.record(payload)
            if error is not None:
                return jsonify(error={"message": "error", "type": "OAuthException",
                                      "code": error}), 400
            return jsonify(recipient_id=payload["recipient"]["id"], message_id=f"m_{next(self.ids)}")

    @property
    def base_url(self) -> str:
        return f"{self.url}/v21.0"

    def texts_to(self, psid: str) -> list[str]:
        return [p["message"]["text"] for p in self.received if p["recipient"]["id"] == psid]
