"""`/webhooks/<channel>`: verify, parse, store, then answer 200. Nothing else happens here:
the worker does the slow part, so platforms get their answer within their deadline."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request

from bot.channels import BadPayload
from bot.repository import DatabaseUnavailable
from bot import intake, metrics

MAX_EVENT_BYTES = 1024 * 1024  # platform events are a few kilobytes; a 50-event batch well under this

webhooks = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _channel(slug: str):
    channel = current_app.extensions["channels"].get(slug)
    if channel is None or not channel.is_configured() or not getattr(channel, "receives_webhooks", True):
        abort(404)
    return channel


@webhooks.get("/<slug>")
def handshake(slug: str):
    channel = _channel(slug)
    if not hasattr(channel, "handshake"):
        abort(405)
    status, body = channel.handshake(request.args)
    return Response(body, status=status, mimetype="text/plain")


@webhooks.post("/<slug>")
def receive(slug: str):
    channel = _channel(slug)
    request.max_content_length = MAX_EVENT_BYTES  # larger bodies get 413 before being read
    body = request.get_data(cache=False)
    if request.content_length is None and len(body) == MAX_EVENT_BYTES:
        request.stream.read(1)  # a chunked body cut at the limit (gunicorn): 413 if more was coming
    try:
        if not channel.verify(body, request.headers):
            metrics.WEBHOOK_EVENTS.labels(slug, "bad_signature").inc()
            return {"error": "invalid signature"}, 403
        events = channel.parse(body)
    except BadPayload as exc:
        metrics.WEBHOOK_EVENTS.labels(slug, "bad_payload").inc()
        return {"error": f"malformed event: {exc}"}, 400
    try:
        outcomes = intake.accept(current_app.extensions["repository"], events, channel=slug)
    except DatabaseUnavailable:
        # 503 makes the platform deliver again later instead of us losing the message.
        metrics.WEBHOOK_EVENTS.labels(slug, "database_unavailable").inc()
        return {"error": "temporarily unavailable"}, 503
    for outcome, count in outcomes.items():
        metrics.WEBHOOK_EVENTS.labels(slug, outcome).inc(count)
    return {"status": "ok", **outcomes}, 200
