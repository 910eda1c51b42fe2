"""E-mail to staff (the daily overdue alert) through the SMTP server in the settings."""
from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from bot.config import Settings

log = logging.getLogger("tongdai.mail")
TIMEOUT_SECONDS = 20


def configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def send(settings: Settings, to: list[str], subject: str, body: str) -> bool:
    """One message to `to`; False (and a log line, without the addresses) when the server refused it."""
    if not configured(settings) or not to:
        return False
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.smtp_from, ", ".join(to), subject
    message.set_content(body)  # UTF-8: Vietnamese intact
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS) as server:
            if settings.smtp_starttls:
                server.starttls()
            if settings.smtp_user:
                server.login(settings.smtp_user, settings.smtp_password or "")
            server.send_message(message)
        return True
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("mail not sent: %s", type(exc).__name__, extra={"recipients": len(to)})
        return False
