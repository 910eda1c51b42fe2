"""Every platform the product speaks, by slug. Adding a platform is one line here."""
from __future__ import annotations

from bot.channels import Channel
from bot.config import Settings
from bot.repository import Repository
from webhooks.facebook import FacebookChannel
from webhooks.web import WebChannel
from webhooks.zalo import ZaloChannel

CHANNEL_CLASSES = (ZaloChannel, FacebookChannel, WebChannel)


def build_channels(settings: Settings, repository: Repository) -> dict[str, Channel]:
    return {cls.name: cls(settings, repository) for cls in CHANNEL_CLASSES}
