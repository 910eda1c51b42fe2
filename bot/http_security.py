"""What every response says to the browser about itself, and who may look at the app's own state
(/metrics, /healthz's details)."""
from __future__ import annotations

import hmac

from flask import Flask, current_app, request

from bot.addresses import client_address, in_networks

# Everything the console and the web chat load comes from the app itself: no CDN, no inline script
# or style, no frame around any page (clickjacking), no plugin.
CONTENT_SECURITY_POLICY = ("default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
                           "form-action 'self'; frame-ancestors 'none'")
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    app.after_request(_headers)


def _headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    # Chats, cases and the web chat's history are personal data: never kept by a browser or a proxy.
    # The app's own scripts and styles may be.
    if not (request.endpoint or "").endswith("static"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def may_observe() -> bool:
    """/metrics and /healthz's details: from METRICS_ALLOW's addresses (loopback by default, where
    `make run` and a local Prometheus ask), or with METRICS_TOKEN as a bearer token."""
    settings = current_app.extensions["settings"]
    if in_networks(client_address(), settings.metrics_allow):
        return True
    given = request.headers.get("Authorization", "")
    return bool(settings.metrics_token) and given.startswith("Bearer ") and \
        hmac.compare_digest(given[7:].strip().encode(), settings.metrics_token.encode())
