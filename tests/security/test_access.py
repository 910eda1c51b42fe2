"""An operator cannot close, hand back or answer a colleague's chat (done in issue 14: the holder's
name is a condition of the database update, tests/console/test_shift.py walks the whole rule);
here the forged posts, one by one, and the admin's take-over, recorded."""
from __future__ import annotations

import pytest

from tests.console.test_console import CITIZEN, escalate, post_form, signed_in

CHAT = f"/console/chats/zalo/{CITIZEN}"


@pytest.mark.parametrize("action, form", [("close", {"close-confirm": "yes"}), ("handback", {"handback-confirm": "yes"}),
                                          ("reply", {"text": "Tôi trả lời thay", "send_key": "a" * 32})])
def test_an_operator_cannot_act_on_a_colleagues_chat(app, client, staff, repository, worker, fake_zalo, action, form):
    escalate(client, worker, repository)
    holder, colleague = signed_in(app, "dtv1"), signed_in(app, "dtv2")
    post_form(holder, CHAT, CHAT + "/claim", {})
    sent_before = len(fake_zalo.received)
    post_form(colleague, CHAT, f"{CHAT}/{action}", form)
    conversation = repository.conversation("zalo", CITIZEN)
    assert (conversation["handler"], conversation["staff_owner"]) == ("staff", "dtv1")
    assert len(fake_zalo.received) == sent_before and repository.messages.count_documents({"kind": "notice"}) == 0
    assert not any(e["who"] == "dtv2" and e["action"].startswith("chat.") for e in repository.audit_entries())


def test_an_admin_may_close_it_and_the_take_over_is_recorded(app, client, staff, repository, worker):
    escalate(client, worker, repository)
    post_form(signed_in(app, "dtv1"), CHAT, CHAT + "/claim", {})
    post_form(signed_in(app, "quantri"), CHAT, CHAT + "/close", {"close-confirm": "yes"})
    assert repository.conversation("zalo", CITIZEN)["handler"] == "bot"
    actions = [(e["who"], e["action"]) for e in repository.audit_entries()[:2]]
    assert actions == [("quantri", "chat.close"), ("quantri", "chat.takeover")]
