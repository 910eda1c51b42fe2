"""Structured logs: one JSON object per line, with the correlation id of the message being handled.

A correlation id is given to each web request (or taken from its `X-Request-Id`), stored on the
inbound messages it carried and on every reply sent for them, and set again by the worker when it
claims a message: grep one id to follow a citizen's message from webhook to reply, across processes.

bot/redact.py masks each record as it is made; the formatter only lays out what is already masked
(and masks the extra fields it adds too, in case one ever carries free text)."""
from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import os
import re
import sys
import uuid
from datetime import datetime, timezone

from bot import redact

HEADER = "X-Request-Id"
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
# The attributes every LogRecord has; anything else on a record came from `extra=` and is logged.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}

_correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)


def new_id() -> str:
    return uuid.uuid4().hex


def accept_id(incoming: str | None) -> str:
    """An incoming X-Request-Id when it is a plain token (a proxy's request id), else a new one:
    a header is the caller's to choose, and must not carry a phone number or a line break into logs."""
    if incoming and _SANE_ID.fullmatch(incoming) and redact.redact(incoming) == incoming:
        return incoming
    return new_id()


def current() -> str | None:
    return _correlation_id.get()


def bind(correlation_id: str | None) -> contextvars.Token:
    return _correlation_id.set(correlation_id)


def unbind(token: contextvars.Token) -> None:
    _correlation_id.reset(token)


@contextlib.contextmanager
def bound(correlation_id: str | None):
    token = bind(correlation_id)
    try:
        yield correlation_id
    finally:
        unbind(token)


class CorrelationFilter(logging.Filter):
    """Puts the current correlation id on each record that passes (a record made with
    `extra={"correlation_id": ...}` keeps its own)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = _correlation_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str | None = None):
        super().__init__()
        self.service = service or os.environ.get("SERVICE_NAME") or "app"

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service,
            "pid": record.process,
        }
        correlation_id = getattr(record, "correlation_id", None) or _correlation_id.get()
        if correlation_id:
            entry["correlation_id"] = correlation_id
        for key, value in vars(record).items():
            if key not in _STANDARD and key != "correlation_id" and not key.startswith("_"):
                entry[key] = redact.redact(value) if isinstance(value, str) else value
        if record.exc_info and not record.exc_text:
            record.exc_text = redact.redact(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False, default=str)


def handler(service: str, stream=None) -> logging.Handler:
    """A handler writing JSON lines to `stream` (stderr by default), correlation ids included."""
    made = logging.StreamHandler(stream or sys.stderr)
    made.setFormatter(JsonFormatter(service))
    made.addFilter(CorrelationFilter())
    return made


def setup(service: str, level: int = logging.INFO) -> None:
    """Every record of this process (ours and the libraries') as JSON lines on stderr."""
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler(service))
    root.setLevel(level)


def init_app(app) -> None:
    """Each request of the web app gets a correlation id, returned in its X-Request-Id header."""
    from flask import g, request

    @app.before_request
    def _bind_correlation_id():
        g.correlation_id = accept_id(request.headers.get(HEADER))
        g.correlation_token = bind(g.correlation_id)

    @app.after_request
    def _return_correlation_id(response):
        if "correlation_id" in g:
            response.headers[HEADER] = g.correlation_id
        return response

    @app.teardown_request
    def _unbind_correlation_id(_error):
        token = g.pop("correlation_token", None)
        if token is not None:
            try:
                unbind(token)
            except ValueError:  # set in another context (a streamed response): nothing left to undo
                pass
