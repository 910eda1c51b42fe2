"""The web chat's photos and limits: a photo is refused (size, limits, the day's quota) before
any of it is read, its type is what its bytes decode as, only a stored message leaves a file; the
per-address limit holds under 100 concurrent posts and counts an IPv6 /64 as one address."""
from __future__ import annotations

import dataclasses
import io
import struct
import threading
import zlib

import pytest

from tests.helpers import inbound
from tests.test_hostile_requests import CountingStream
from tests.webhooks.test_web import PNG
from webhooks.web import MAX_PHOTO_BODY_BYTES, MAX_PHOTO_BYTES, PHOTO_BYTES_PER_CITIZEN_DAY

UPLOAD = {"X-Requested-With": "tongdai1022"}


def media_files(settings) -> list:
    folder = settings.var_dir / "media"
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def post_photo(client, data: bytes, mimetype="image/png", message_id=None, address="203.0.113.9"):
    headers = {**UPLOAD, **({"X-Message-Id": message_id} if message_id else {})}
    return client.post("/chat/photos", data={"photo": (io.BytesIO(data), "anh.png", mimetype)}, headers=headers,
                       content_type="multipart/form-data", environ_base={"REMOTE_ADDR": address})


@pytest.fixture
def limited(app, settings):
    app.extensions["settings"] = dataclasses.replace(settings, web_chat_ip_per_minute=3)
    return app


def test_over_the_limit_a_photo_is_refused_before_it_is_read_or_written(limited, settings):
    client = limited.test_client()
    client.get("/")
    for n in range(3):
        assert client.post("/chat/messages", json={"text": f"tin {n}", "id": f"limit-text-{n:04d}"},
                           environ_base={"REMOTE_ADDR": "203.0.113.9"}).status_code == 202
    body = CountingStream(2 * 1024 * 1024)
    answer = client.post("/chat/photos", input_stream=body, content_length=body.size, headers=UPLOAD,
                         content_type="multipart/form-data; boundary=x", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert answer.status_code == 429 and body.read_bytes == 0
    assert media_files(settings) == []


def test_a_photo_declared_over_the_limit_is_413_unread(client, settings):
    body = CountingStream(MAX_PHOTO_BODY_BYTES + 1)
    answer = client.post("/chat/photos", input_stream=body, content_length=body.size, headers=UPLOAD,
                         content_type="multipart/form-data; boundary=x")
    assert answer.status_code == 413 and body.read_bytes == 0 and media_files(settings) == []


def test_the_days_photo_quota_is_counted_from_the_declared_size_before_reading(client, settings):
    client.get("/")
    size = MAX_PHOTO_BYTES - 1024
    codes = []
    for n in range(PHOTO_BYTES_PER_CITIZEN_DAY // size + 1):
        body = CountingStream(size)
        codes.append(client.post("/chat/photos", input_stream=body, content_length=size, headers=UPLOAD,
                                 content_type="multipart/form-data; boundary=x",
                                 environ_base={"REMOTE_ADDR": f"198.51.100.{n}"}).status_code)
        if codes[-1] == 429:
            assert body.read_bytes == 0
    assert codes[-1] == 429 and 429 not in codes[:-1]
    assert "ngày mai" in client.post("/chat/photos", data={"photo": (io.BytesIO(PNG), "a.png", "image/png")},
                                     headers=UPLOAD, content_type="multipart/form-data").get_json()["error"]


@pytest.mark.parametrize("data", [b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
                                  b"GIF89a" + b"\x00" * 40, b"<html><script>alert(1)</script></html>",
                                  PNG[:60], b"\x89PNG\r\n\x1a\n" + b"not really"])
def test_a_photo_is_what_its_bytes_decode_as_not_what_the_browser_claims(client, repository, settings, data):
    client.get("/")
    answer = post_photo(client, data, "image/png")
    assert answer.status_code == 400 and "JPG, PNG" in answer.get_json()["error"]
    assert inbound(repository) == [] and media_files(settings) == []


def grey_png(side: int) -> bytes:
    """A black PNG `side` pixels square: a few dozen kilobytes however many pixels it decodes to."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    packer, row = zlib.compressobj(9), b"\0" * (side + 1)
    pixels = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))


def test_a_photo_that_would_decode_to_more_pixels_than_a_camera_takes_is_refused(client, repository, settings):
    """ASVS 12.1.2: 64 megapixels (64 MB once decoded) in a small upload are refused before decoding."""
    client.get("/")
    bomb = grey_png(8000)
    assert len(bomb) < 200 * 1024
    assert post_photo(client, bomb).status_code == 400
    assert inbound(repository) == [] and media_files(settings) == []
    assert post_photo(client, grey_png(1000)).status_code == 202  # the same picture, a camera's size


def test_a_real_photo_is_kept_under_the_type_its_bytes_say(client, repository, settings):
    client.get("/")
    assert post_photo(client, PNG, "image/jpeg").status_code == 202
    [message] = inbound(repository)
    assert message["attachments"][0]["stored"]["content_type"] == "image/png"
    assert [p.read_bytes() for p in media_files(settings)] == [PNG]


def test_a_resent_photo_id_with_other_bytes_leaves_no_orphan_file(client, repository, settings):
    from tests.webhooks.test_web import png
    client.get("/")
    assert post_photo(client, PNG, message_id="resend-photo-0001").status_code == 202
    assert post_photo(client, png(10, 10, (1, 2, 3)), message_id="resend-photo-0001").status_code == 202
    assert len(inbound(repository)) == 1
    assert [p.read_bytes() for p in media_files(settings)] == [PNG]  # the second photo was never written


def test_one_hundred_posts_at_once_get_no_more_than_the_limit(app, settings, repository):
    app.extensions["settings"] = dataclasses.replace(settings, web_chat_ip_per_minute=60)
    clients = [app.test_client() for _ in range(100)]
    start, codes = threading.Barrier(100), []

    def post(client, n):
        start.wait()
        codes.append(client.post("/chat/messages", json={"text": f"tin {n}", "id": f"concurrent-{n:04d}"},
                                 environ_base={"REMOTE_ADDR": "203.0.113.77"}).status_code)

    threads = [threading.Thread(target=post, args=(c, n)) for n, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(codes) == 100 and set(codes) <= {202, 429}
    assert 50 <= codes.count(202) <= 60 and len(inbound(repository)) == codes.count(202)


def test_an_ipv6_client_rotating_addresses_in_its_64_is_one_address(app, settings):
    app.extensions["settings"] = dataclasses.replace(settings, web_chat_ip_per_minute=3)

    def say(address, n):
        return app.test_client().post("/chat/messages", json={"text": "xin chào", "id": f"ipv6-rotate-{n:04d}"},
                                      environ_base={"REMOTE_ADDR": address}).status_code

    codes = [say(f"2001:db8:7:1::{n:x}", n) for n in range(1, 6)]
    assert codes == [202] * 3 + [429] * 2
    assert say("2001:db8:7:2::1", 99) == 202  # the next /64 is someone else


def test_behind_nginx_the_web_process_counts_each_citizens_address(database_uri, nlu_url, fake_zalo, fake_graph,
                                                                    tmp_path):
    """Through waitress itself (which drops X-Forwarded-For unless told otherwise): with TRUST_PROXY=1
    the address nginx saw is counted, not nginx's own 127.0.0.1."""
    import os
    import subprocess
    import sys

    import requests

    from bot.config import REPO_ROOT
    from tests.conftest import environment_for_tests, free_port, wait_until
    port = free_port()
    env = {**os.environ, **environment_for_tests(database_uri, nlu_url, fake_zalo.url, fake_graph.base_url,
                                                 tmp_path / "var"),
           "PORT": str(port), "TRUST_PROXY": "1", "WEB_CHAT_IP_PER_MINUTE": "2", "SECURE_COOKIES": "0"}
    process = subprocess.Popen([sys.executable, "-m", "bot.web"], cwd=REPO_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def say(address, n):
        return requests.post(f"{url}/chat/messages", json={"text": "xin chào", "id": f"behind-nginx-{n:04d}"},
                             headers={"X-Forwarded-For": address}, timeout=10).status_code

    def up():
        assert process.poll() is None, "the web process exited"
        try:
            return requests.get(f"{url}/healthz", timeout=2).status_code in (200, 503)
        except requests.RequestException:
            return False

    try:
        wait_until(up, 60, "the web process")
        assert [say(f"198.51.100.{n}", n) for n in range(4)] == [202] * 4  # four citizens
        assert [say("203.0.113.5", 10 + n) for n in range(3)] == [202, 202, 429]  # one citizen, limit 2
        assert requests.get(f"{url}/metrics", headers={"X-Forwarded-For": "203.0.113.5"}, timeout=10).status_code == 403
    finally:
        process.terminate()
        process.wait(timeout=30)
