"""An NLU server that answers too slowly is an NLU server that is down: the worker gives up
after its timeout, the message waits (pending, not failed, no error counted), /healthz says
`nlu: down`, and the message is processed once the NLU answers in time again.
(The refused-connection case is in test_end_to_end.py.)"""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from bot.app import create_app
from bot.config import Settings
from bot.worker import Worker, build_pipeline
from nlu.client import NluClient
from tests.conftest import environment_for_tests, load_fixture, post_zalo, wait_until
from webhooks.registry import build_channels

CLIENT_TIMEOUT = 1.0
DELAY = 3.0  # longer than the client waits


class SlowLink:
    """In front of the real NLU server: holds each request `delay` seconds before passing it on."""

    def __init__(self, upstream: str):
        self.delay = DELAY
        self.held = threading.Event()  # set at the end so no held request outlives the test
        link = self

        class Handler(BaseHTTPRequestHandler):
            def forward(self, method):
                link.held.wait(link.delay)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream_answer = requests.request(method, upstream + self.path, data=body, timeout=10,
                                                   headers={"Content-Type": "application/json"})
                try:
                    self.send_response(upstream_answer.status_code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(upstream_answer.content)))
                    self.end_headers()
                    self.wfile.write(upstream_answer.content)
                except OSError:
                    pass  # the client gave up waiting: that is the point

            def do_GET(self):
                self.forward("GET")

            def do_POST(self):
                self.forward("POST")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.held.set()
        self.server.shutdown()
        self.server.server_close()


def test_a_slow_nlu_is_treated_as_down_and_the_message_waits_then_flows(settings, repository, client, fake_zalo,
                                                                        nlu_url):
    link = SlowLink(nlu_url)
    slow_settings = Settings.from_env(environment_for_tests(settings.database_uri, link.url, fake_zalo.url,
                                                            settings.fb_graph_url, settings.var_dir))
    app = create_app(slow_settings)
    nlu = NluClient(link.url, timeout=CLIENT_TIMEOUT)
    worker = Worker(repository, build_pipeline(settings, repository, build_channels(settings, repository), nlu))
    try:
        health = app.test_client().get("/healthz")
        assert health.status_code == 503 and health.get_json()["nlu"] == "down"
        assert post_zalo(client, load_fixture("zalo", "user_send_text")).status_code == 200
        for attempt in range(3):
            started = time.monotonic()
            wait_until(lambda: worker.run_once() == "waiting", 10, "the claim after the back-off")
            assert time.monotonic() - started < CLIENT_TIMEOUT + 4  # back-off + timeout, never blocked for good
        message = repository.messages.find_one({"direction": "in"})
        assert (message["state"], message["errors"], message["last_error"]) == ("pending", 0, "nlu_unavailable")
        assert message["attempts"] == 3
        assert fake_zalo.received == [] and repository.cases.count_documents({}) == 0

        link.delay = 0.0  # the NLU answers in time again
        assert app.test_client().get("/healthz").get_json()["nlu"] == "ok"
        wait_until(lambda: worker.run_once() == "processed", 15, "the message once the NLU answers")
        message = repository.messages.find_one({"direction": "in"})
        assert message["state"] == "done" and message["outcome"]["intent"] == "report"
        assert len(fake_zalo.wait_for(1)) == 1
    finally:
        app.extensions["repository"].close()
        link.close()
