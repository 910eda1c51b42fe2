"""`/webhooks/<channel>`: verify, parse, store, then answer 200. Nothing else happens here:
the worker does the slow part, so platforms get their answer within their deadline."""
from __future__ import annotations

import time

from flask import Blueprint, Response, abort, current_app, request

from bot.channels import BadPayload
from bot.repository import DatabaseUnavailable
from bot import intake, metrics

MAX_EVENT_BYTES = 1024 * 1024  # platform events are a few kilobytes; a 50-event batch well under this
# Meta batches "up to 1000 updates" in a request; Zalo sends one event. Anything bigger is no
# platform's (one signed batch of 9,500 receipts once held a web thread for 12 s).
MAX_EVENTS = 1000

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
    if sum(max(1, len(getattr(event, "message_ids", ()))) for event in events) > MAX_EVENTS:  # a receipt's ids count
        metrics.WEBHOOK_EVENTS.labels(slug, "too_many_events").inc()
        return {"error": f"more than {MAX_EVENTS} events in one request"}, 413
    events, stale = intake.fresh(events, channel.max_event_age_seconds, time.time())
    try:
        outcomes = intake.accept(current_app.extensions["repository"], events, channel=slug)
    except DatabaseUnavailable:
        # 503 makes the platform deliver again later instead of us losing the message.
        metrics.WEBHOOK_EVENTS.labels(slug, "database_unavailable").inc()
        return {"error": "temporarily unavailable"}, 503
    if stale:  # a replay, or a clock far off: answered 200 so that it is not delivered again, kept nowhere
        outcomes["stale"] = stale
    for outcome, count in outcomes.items():
        metrics.WEBHOOK_EVENTS.labels(slug, outcome).inc(count)
    return {"status": "ok", **outcomes}, 200
