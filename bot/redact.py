"""No token, secret or full phone number in any log line, whoever writes it.

Libraries log what we cannot word ourselves: urllib3 logs every URL at DEBUG (Messenger's Send API
carries the page token in its query string) and pymongo logs whole command documents (stored
tokens, citizens' messages). So every log record is masked as it is made, for every logger and
every handler: a record factory, installed by each process (web app and worker)."""
from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote, urlsplit

MASK = "***"
# A credential named in a URL, a form, a header dump or a JSON document (quotes escaped or not).
_NAMED = re.compile(r"""(?i)((?:access_token|refresh_token|secret_key|client_secret|app_?secret(?:_proof)?|"""
                    r"""verify_token|oa_secret_key|password|authorization)\\?['"]?\s*[:=]\s*\\?['"]?)"""
                    r"""(?:Bearer\s+)?[^\s"'\\&,;}\]]+""")
# Vietnamese phone numbers (0 or +84, then 9 or 10 digits, maybe grouped): the first three and
# last two digits stay, enough for staff to tell two numbers apart.
_PHONE = re.compile(r"(?<![\d\w])(?:\+?84|0)(?:[ .-]?\d){8,10}(?![\d])")

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def _mask_phone(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match.group())
    return digits[:3] + "*" * (len(digits) - 5) + digits[-2:]


def redact(text: str) -> str:
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _NAMED.sub(lambda m: m.group(1) + MASK, text)
    return _PHONE.sub(_mask_phone, text)


def _masked_record_factory(make_record):
    def make(*args, **kwargs):
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record stays as it is: logging reports it as usual
            return record
        masked = redact(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record
    return make


def install(*secrets: str | None) -> None:
    """Mask `secrets` (the configured tokens and keys) and every named credential and phone number
    in all log records of this process. Calling it again adds secrets; the factory is set once."""
    global _installed
    with _lock:
        _secrets.update(s for s in secrets if s and len(s) >= 6)
        if not _installed:
            logging.setLogRecordFactory(_masked_record_factory(logging.getLogRecordFactory()))
            _installed = True


def install_for(settings) -> None:
    install(settings.fb_app_secret, settings.fb_verify_token, settings.fb_page_access_token,
            settings.zalo_app_secret, settings.zalo_oa_secret_key, settings.zalo_access_token,
            settings.zalo_refresh_token, settings.admin_password, settings.smtp_password, settings.token_key,
            _database_password(settings))


def _database_password(settings) -> str | None:
    try:
        return unquote(urlsplit(settings.database_uri).password or "") or None
    except ValueError:
        return None
