"""The platforms' reply windows, as each channel states them (PLATFORMS.md)."""
import pytest

from bot.channels import DAY, HOUR
from webhooks.facebook import FacebookChannel
from webhooks.zalo import ZaloChannel


@pytest.mark.parametrize("age, by_staff, allowed, tag", [
    (23 * HOUR, False, True, None),
    (25 * HOUR, False, False, None),
    (25 * HOUR, True, True, "HUMAN_AGENT"),
    (6.9 * DAY, True, True, "HUMAN_AGENT"),
    (7.1 * DAY, True, False, None),
])
def test_messenger_window(settings, repository, age, by_staff, allowed, tag):
    window = FacebookChannel(settings, repository).reply_window(age, by_staff)
    assert (window.allowed, window.tag) == (allowed, tag)
    assert (window.reason is None) == allowed


@pytest.mark.parametrize("age, allowed", [(HOUR, True), (6.9 * DAY, True), (7.1 * DAY, False)])
def test_zalo_window(settings, repository, age, allowed):
    window = ZaloChannel(settings, repository).reply_window(age, by_staff=False)
    assert window.allowed == allowed and (window.reason is None) == allowed


def test_messenger_staff_reply_outside_24_hours_carries_the_human_agent_tag(settings, repository, fake_graph):
    channel = FacebookChannel(settings, repository)
    assert channel.send_text("6543217890123456", "Cán bộ trả lời", tag="HUMAN_AGENT").ok
    [sent] = fake_graph.received
    assert sent["messaging_type"] == "MESSAGE_TAG" and sent["tag"] == "HUMAN_AGENT"
