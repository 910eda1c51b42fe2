"""Attachments are copied from the platform's CDN (a local fake) as soon as the worker sees them."""
import hashlib

from bot.media import MediaStore
from tests.conftest import load_fixture, post_zalo
from tests.helpers import jpeg

PHOTO = jpeg()


def image_event(url: str) -> dict:
    event = load_fixture("zalo", "user_send_image")
    event["message"]["attachments"][0]["payload"]["url"] = url
    return event


def test_photo_is_kept_under_its_hash_and_recorded_on_the_message(client, repository, worker, settings, fake_zalo):
    fake_zalo.files["/photo.jpg"] = ("image/jpeg", PHOTO)
    assert post_zalo(client, image_event(f"{fake_zalo.url}/photo.jpg")).status_code == 200
    worker.drain()
    [attachment] = repository.messages.find_one({"direction": "in"})["attachments"]
    sha256 = hashlib.sha256(PHOTO).hexdigest()
    assert attachment["stored"] == {"sha256": sha256, "content_type": "image/jpeg", "bytes": len(PHOTO),
                                    "path": f"{sha256[:2]}/{sha256}"}
    assert (settings.var_dir / "media" / sha256[:2] / sha256).read_bytes() == PHOTO


def test_a_type_that_is_not_accepted_is_refused_with_a_reason(client, repository, worker, fake_zalo):
    fake_zalo.files["/photo.jpg"] = ("application/x-msdownload", b"MZ...")
    assert post_zalo(client, image_event(f"{fake_zalo.url}/photo.jpg")).status_code == 200
    worker.drain()
    [attachment] = repository.messages.find_one({"direction": "in"})["attachments"]
    assert "stored" not in attachment and "không được chấp nhận" in attachment["fetch_error"]


def test_an_expired_url_is_recorded_and_the_message_still_answered(client, repository, worker, fake_zalo):
    assert post_zalo(client, image_event(f"{fake_zalo.url}/gone.jpg")).status_code == 200
    worker.drain()
    [attachment] = repository.messages.find_one({"direction": "in"})["attachments"]
    assert "404" in attachment["fetch_error"]
    assert len(fake_zalo.received) == 1


def test_a_file_over_the_size_limit_is_not_kept(repository, settings, fake_zalo):
    fake_zalo.files["/big.pdf"] = ("application/pdf", b"%PDF" + b"x" * 5000)
    store = MediaStore.for_settings(settings, repository, max_bytes=4096)
    assert "quá lớn" in store.fetch(f"{fake_zalo.url}/big.pdf")["fetch_error"]
    assert list((settings.var_dir / "media").rglob("*")) == []  # nothing left behind
