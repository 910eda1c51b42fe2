"""The web app: webhooks, health and metrics. `create_app()` is the WSGI entry point."""
from __future__ import annotations

import io

import flask
from flask import Flask, abort
from bot import http_security, logs, metrics, redact
from bot.console import init_console
from bot.config import Settings, load_env_file
from bot.repository import Repository
from nlu.client import NluClient

MAX_BODY_BYTES = 11 * 1024 * 1024  # platform events are kilobytes; a web-chat photo up to 10 MB


class Request(flask.Request):
    """Uploaded files are parsed into memory, never into a temporary file: every body is bounded
    (MAX_BODY_BYTES), and a photo is checked before any of it reaches the disk."""

    def _get_file_stream(self, total_content_length, content_type, filename=None, content_length=None):
        return io.BytesIO()


def create_app(settings: Settings | None = None) -> Flask:
    # Entry points wire the platforms in; the core itself never imports them.
    from webhooks.blueprint import webhooks
    from webhooks.registry import build_channels
    from webhooks.privacy_page import privacy_page
    from webhooks.tracking import tracking
    from webhooks.web import web_chat

    if settings is None:
        load_env_file()
        settings = Settings.from_env()
    redact.install_for(settings)
    secret_key = settings.secret_key()
    redact.install(secret_key)
    app = Flask(__name__)
    app.request_class = Request
    app.config.update(SECRET_KEY=secret_key, MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_HTTPONLY=True)
    logs.init_app(app)
    http_security.init_app(app)
    repository = Repository(settings.database_uri, server_timeout_ms=settings.web_database_timeout_ms,
                            connect_timeout_ms=5000)
    repository.wait_until_ready(60)
    nlu = NluClient(settings.nlu_base_url, timeout=2)
    app.extensions.update(settings=settings, repository=repository, nlu=nlu,
                          channels=build_channels(settings, repository))
    app.register_blueprint(webhooks)
    app.register_blueprint(web_chat)
    app.register_blueprint(tracking)
    app.register_blueprint(privacy_page)
    init_console(app, settings, repository)

    @app.get("/healthz")
    def healthz():
        checks = {"database": "ok" if repository.ping() else "down",
                  "nlu": "ok" if nlu.is_ready() else "down"}
        healthy = all(v == "ok" for v in checks.values())
        if not http_security.may_observe():  # the verdict for anyone; what is down, for us
            return {"status": "ok" if healthy else "unavailable"}, 200 if healthy else 503
        # A channel that cannot send (e.g. its token cannot be refreshed) is reported, not fatal:
        # the other channels and the queue still work.
        channels = {name: channel.health() for name, channel in app.extensions["channels"].items()
                    if channel.is_configured()} if checks["database"] == "ok" else {}
        return ({"status": "ok" if healthy else "unavailable", **checks, "channels": channels},
                200 if healthy else 503)

    @app.get("/metrics")
    def metrics_page():
        if not http_security.may_observe():
            abort(403)
        return metrics.exposition(repository, settings.backup_dir), 200, {"Content-Type": metrics.CONTENT_TYPE}

    if settings.bench_bare_endpoint:
        _add_bench_baseline(app, repository)
    return app


def _add_bench_baseline(app: Flask, repository: Repository) -> None:
    """`make bench` only: the least a webhook can do (read the body, store one document, answer
    200), served by the same server, so the real webhook's answer time has a yardstick."""
    from flask import request

    @app.post("/bench/bare")
    def bench_bare():
        repository.db["bench_bare"].insert_one({"body": request.get_data(cache=False)})
        return {"status": "ok"}, 200
