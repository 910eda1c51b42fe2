"""The web chat's HTTP side (the browser test drives the page itself)."""
import io
import struct
import zlib

from tests.helpers import database_contents, inbound
from webhooks.web import CITIZEN_COOKIE


def png(width: int = 160, height: int = 100, rgb: tuple = (200, 60, 40)) -> bytes:
    """A real, solid-colour PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PNG = png()


def say(client, text, message_id="0f8e6c1a-aaaa-bbbb"):
    return client.post("/chat/messages", json={"text": text, "id": message_id})


def test_page_is_vietnamese_and_gives_a_signed_identity(client):
    response = client.get("/")
    assert response.status_code == 200
    assert 'lang="vi"' in response.get_data(as_text=True) and "Tổng đài 1022" in response.get_data(as_text=True)
    cookie = client.get_cookie(CITIZEN_COOKIE)
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_message_is_stored_once_even_when_resent(client, repository):
    client.get("/")
    assert say(client, "Xin chào").status_code == 202
    assert say(client, "Xin chào").status_code == 202  # the page resends after a network error
    [message] = inbound(repository)
    assert (message["channel"], message["text"]) == ("web", "Xin chào")


def test_bad_messages_are_refused_and_leave_no_trace(client, repository):
    client.get("/")
    before = database_contents(repository)
    assert say(client, "   ").status_code == 400
    assert say(client, "x" * 2001).status_code == 400
    assert client.post("/chat/messages", data={"text": "form post from another site"}).status_code == 400
    assert database_contents(repository) == before


def test_answer_appears_in_the_conversation_and_only_for_its_citizen(app, client, repository, worker):
    client.get("/")
    assert say(client, "Tối qua ở phường 7 TP Trà Vinh có đám nhậu 20 người không đeo khẩu trang").status_code == 202
    worker.drain()
    assert say(client, "đúng", "1a2b3c4d-yes").status_code == 202
    worker.drain()
    conversation = client.get("/chat/messages?after=0").get_json()["messages"]
    assert [m["direction"] for m in conversation] == ["in", "out", "in", "out"]
    assert "kiểm tra lại" in conversation[1]["text"] and [c["title"] for c in conversation[1]["choices"]] == [
        "Gửi", "Sửa thông tin", "Hủy"]
    assert "TV-" in conversation[3]["text"]
    stranger = app.test_client()
    stranger.get("/")
    assert stranger.get("/chat/messages?after=0").get_json()["messages"] == []


def test_photo_upload_needs_the_page_header_and_an_image(client, repository):
    client.get("/")
    upload = lambda headers, data: client.post(  # noqa: E731
        "/chat/photos", headers=headers, content_type="multipart/form-data",
        data={"photo": (io.BytesIO(data), "anh.png", "image/png"), "caption": "Ảnh đám tiệc"})
    assert upload({}, PNG).status_code == 403
    assert inbound(repository) == []
    assert upload({"X-Requested-With": "tongdai1022"}, PNG).status_code == 202
    [message] = inbound(repository)
    assert message["text"] == "Ảnh đám tiệc" and message["attachments"][0]["stored"]["content_type"] == "image/png"
    photo_url = client.get("/chat/messages?after=0").get_json()["messages"][0]["photos"][0]
    assert client.get(photo_url).data == PNG


def test_a_photo_is_served_only_to_its_sender(app, client):
    client.get("/")
    client.post("/chat/photos", headers={"X-Requested-With": "tongdai1022"}, content_type="multipart/form-data",
                data={"photo": (io.BytesIO(PNG), "anh.png", "image/png")})
    photo_url = client.get("/chat/messages?after=0").get_json()["messages"][0]["photos"][0]
    stranger = app.test_client()
    stranger.get("/")
    assert stranger.get(photo_url).status_code == 404


def test_web_channel_has_no_webhook(client):
    assert client.post("/webhooks/web", data=b"{}").status_code == 404


def test_a_citizen_sending_faster_than_a_person_can_type_is_slowed_down(client, repository):
    client.get("/")
    codes = [say(client, f"tin nhắn {i}", f"rate-limit-{i:04d}").status_code for i in range(25)]
    assert codes[:20] == [202] * 20 and codes[-1] == 429
    assert len(inbound(repository)) == 20
    assert "quá nhanh" in say(client, "nữa", "rate-limit-9999").get_json()["error"]
