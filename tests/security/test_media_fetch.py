"""The attachment fetcher (bot/media.py): a signed event's URL is fetched only over HTTPS from the
platforms' media hosts, never from a loopback, private, link-local or metadata address (checked
after DNS and again on the socket), never through a redirect to elsewhere, only for the types a
citizen can send, within an overall deadline and a minimum rate, and off the citizen's path."""
from __future__ import annotations

import dataclasses
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from bot.config import MEDIA_HOSTS_DEFAULT, Settings
from bot.media import FetchPolicy, MediaStore, guarded_session
from bot.worker import Worker, build_pipeline
from tests.conftest import load_fixture, post_zalo, wait_until
from tests.helpers import jpeg
from webhooks.registry import build_channels

PHOTO = jpeg()


class Origin:
    """A media server of our own: /photo.jpg, /notes.txt, /redirect?to=URL, /slow (a byte every 0.5 s)."""

    def __init__(self):
        self.trickling = threading.Event()
        self.finished = threading.Event()
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                path, query = urlsplit(self.path).path, parse_qs(urlsplit(self.path).query)
                if path == "/photo.jpg":
                    self._send("image/jpeg", PHOTO)
                elif path == "/notes.txt":
                    self._send("text/plain", b"tongdai_queue_depth 0\n")
                elif path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", query["to"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif path == "/slow":
                    self.send_response(200)
                    self.send_header("Content-Type", "image/jpeg")
                    self.send_header("Content-Length", str(len(PHOTO)))
                    self.end_headers()
                    origin.trickling.set()
                    try:
                        for byte in PHOTO[:200]:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            origin.finished.wait(0.5)
                    except OSError:
                        pass  # the fetcher hung up: what it should do
                    finally:
                        origin.finished.set()

            def _send(self, content_type, body):
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.finished.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def origin():
    server = Origin()
    yield server
    server.close()


def store(settings, repository, hosts, private=()) -> MediaStore:
    return MediaStore(settings.var_dir / "media", repository, policy=FetchPolicy(tuple(hosts), tuple(private)))


def kept_files(settings) -> list:
    folder = settings.var_dir / "media"
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_signed_event_cannot_make_the_worker_fetch_our_own_metrics(client, repository, settings, fake_graph):
    """The finding: a signed event pointing at http://127.0.0.1:<port>/metrics was fetched and kept."""
    production = dataclasses.replace(settings, media_hosts=Settings.from_env({}).media_hosts, media_private_networks=())
    worker = Worker(repository, build_pipeline(production, repository, build_channels(production, repository)))
    event = load_fixture("zalo", "user_send_image")
    event["message"]["attachments"][0]["payload"]["url"] = "http://127.0.0.1:5000/metrics"
    assert post_zalo(client, event).status_code == 200
    worker.drain()
    [attachment] = repository.messages.find_one({"direction": "in"})["attachments"]
    assert "stored" not in attachment and "không thuộc máy chủ" in attachment["fetch_error"]
    assert kept_files(settings) == []


@pytest.mark.parametrize("url", ["http://scontent.xx.fbcdn.net/photo.jpg", "https://evil.example/photo.jpg",
                                 "https://zadn.vn.evil.example/photo.jpg", "https://photo.zadn.vn:8443/photo.jpg",
                                 "https://user:pw@photo.zadn.vn/a.jpg", "ftp://photo.zadn.vn/a.jpg",
                                 "file:///etc/passwd", "javascript:alert(1)"])
def test_only_https_urls_on_the_platforms_media_hosts(settings, repository, url):
    default = MediaStore(settings.var_dir / "media", repository)
    assert MEDIA_HOSTS_DEFAULT.startswith("https://")
    assert "fetch_error" in default.fetch(url)


def test_a_host_that_resolves_to_loopback_is_refused_even_when_listed(settings, repository, origin):
    port = origin.server.server_port
    listed = store(settings, repository, [f"http://localhost:{port}"])  # no private network allowed
    assert "nội bộ" in listed.fetch(f"http://localhost:{port}/photo.jpg")["fetch_error"]
    assert kept_files(settings) == []


def test_the_socket_itself_is_checked_whatever_the_name_resolved_to_before(origin):
    session = guarded_session(FetchPolicy((origin.url,), ()))
    with pytest.raises(requests.ConnectionError, match="refused"):
        session.get(f"{origin.url}/photo.jpg", timeout=5)
    allowed = guarded_session(FetchPolicy((origin.url,), ("127.0.0.0/8",)))
    assert allowed.get(f"{origin.url}/photo.jpg", timeout=5).content == PHOTO


@pytest.mark.parametrize("target", ["http://127.0.0.1:{other}/metrics", "http://169.254.169.254/latest/meta-data/",
                                    "http://[::1]:{port}/photo.jpg", "https://evil.example/x.jpg"])
def test_a_redirect_away_from_the_media_host_is_not_followed(settings, repository, origin, target):
    other = origin.server.server_port + 1
    fetcher = store(settings, repository, [origin.url], ["127.0.0.0/8"])
    url = f"{origin.url}/redirect?to=" + target.format(other=other, port=origin.server.server_port)
    assert "fetch_error" in fetcher.fetch(url)
    assert kept_files(settings) == []


def test_a_redirect_within_the_media_host_is_followed(settings, repository, origin):
    fetcher = store(settings, repository, [origin.url], ["127.0.0.0/8"])
    kept = fetcher.fetch(f"{origin.url}/redirect?to={origin.url}/photo.jpg")
    assert kept["stored"]["content_type"] == "image/jpeg"


def test_text_is_not_a_type_a_citizen_sends(settings, repository, origin):
    fetcher = store(settings, repository, [origin.url], ["127.0.0.0/8"])
    assert "không được chấp nhận (text/plain)" in fetcher.fetch(f"{origin.url}/notes.txt")["fetch_error"]
    assert kept_files(settings) == []


def test_a_trickling_server_is_cut_off_and_never_holds_up_the_citizens(client, repository, worker, settings,
                                                                       origin, fake_zalo):
    slow_settings = dataclasses.replace(settings, media_hosts=(*settings.media_hosts, origin.url))
    slow_worker = Worker(repository, build_pipeline(slow_settings, repository, build_channels(slow_settings, repository)))
    event = load_fixture("zalo", "user_send_image")
    event["sender"]["id"] = "citizen-with-slow-photo"
    event["message"]["attachments"][0]["payload"]["url"] = f"{origin.url}/slow"
    assert post_zalo(client, event).status_code == 200
    other = load_fixture("zalo", "user_send_text")
    other["sender"]["id"] = "another-citizen"
    other["message"].update(text="xin chào", msg_id="other-citizen-1")
    assert post_zalo(client, other).status_code == 200
    slow_worker.drain()
    # Both citizens were answered while the slow photo was still arriving, a byte at a time.
    assert fake_zalo.texts_to("another-citizen") and fake_zalo.texts_to("citizen-with-slow-photo")
    assert origin.trickling.is_set() and not origin.finished.is_set()

    def recorded():
        message = repository.messages.find_one({"user_id": "citizen-with-slow-photo"})
        return message["attachments"][0].get("fetch_error")

    assert "chậm" in wait_until(recorded, 30, "the slow download to be cut off")
    assert kept_files(settings) == []
