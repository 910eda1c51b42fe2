"""In the web chat, a person's reply is signed as the hotline staff's, never taken for the bot's;
while the chat waits for a person the citizen hears back once, not after every line (issue 11)."""
import uuid

from bot import texts
from tests.console.test_console import post_form, signed_in


def say(client, text):
    assert client.post("/chat/messages", json={"text": text, "id": str(uuid.uuid4())}).status_code == 202


def test_a_staff_reply_in_the_web_chat_is_signed_by_the_hotline_staff(app, client, staff, repository, worker):
    client.get("/")
    say(client, "cho tôi gặp cán bộ")
    worker.drain()
    [citizen] = repository.messages.distinct("user_id", {"channel": "web", "direction": "in"})
    assert repository.conversation("web", citizen)["handler"] == "waiting"
    say(client, "alo")
    say(client, "có ai không")
    worker.drain()
    bot_lines = [m for m in client.get("/chat/messages?after=0").get_json()["messages"] if m["direction"] == "out"]
    assert [m["text"] for m in bot_lines][1:] == [texts.handoff_ack(True, "00:00-00:00")]  # once, not twice

    operator = signed_in(app, "dtv1")
    url = f"/console/chats/web/{citizen}"
    post_form(operator, url, url + "/claim", {})
    post_form(operator, url, url + "/reply", {"text": "Chào anh, em là cán bộ trực, em hỗ trợ ngay.",
                                              "send_key": uuid.uuid4().hex})
    conversation = client.get("/chat/messages?after=0").get_json()["messages"]
    staff_line = next(m for m in conversation if m["text"].startswith("Chào anh, em là cán bộ trực"))
    assert staff_line["from"] == f"Cán bộ dtv1 – {texts.STAFF_TITLE}"
    assert all("from" not in m for m in conversation if m is not staff_line)  # the bot's lines stay unsigned
