"""The platforms' tokens are kept encrypted in the database (AES-256-GCM), so a copy of the database
— a backup archive, a dump, a stolen disk — does not hand out the hotline's Zalo OA. The key is
TOKEN_KEY, or derived from SECRET_KEY; neither is stored with the data (the backup archives hold
the database and media only). A value written before tokens were encrypted is read as it is and
sealed at its first use (webhooks/zalo_tokens.py)."""
from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "enc:v1:"
PURPOSE = b"tongdai1022 platform tokens"


class TokenUnreadable(Exception):
    """A stored token was sealed with another key (SECRET_KEY or TOKEN_KEY changed)."""


class TokenCipher:
    def __init__(self, key_material: str):
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PURPOSE).derive(key_material.encode())
        self._aead = AESGCM(key)

    @classmethod
    def for_settings(cls, settings) -> "TokenCipher":
        return cls(settings.token_key or settings.secret_key())

    def seal(self, value: str | None) -> str | None:
        if value is None or value.startswith(PREFIX):
            return value
        nonce = os.urandom(12)
        return PREFIX + base64.urlsafe_b64encode(nonce + self._aead.encrypt(nonce, value.encode(), PURPOSE)).decode()

    def open(self, value: str | None) -> str | None:
        if not is_sealed(value):
            return value  # written before tokens were encrypted
        try:
            raw = base64.urlsafe_b64decode(value[len(PREFIX):])
            return self._aead.decrypt(raw[:12], raw[12:], PURPOSE).decode()
        except (InvalidTag, ValueError) as exc:
            raise TokenUnreadable("a stored token was encrypted with another key") from exc


def is_sealed(value) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)
