"""The staff console (`/console/`): hotline operators answer chats waiting for a person, agencies
move their cases along, admins manage accounts. Server-rendered pages, Vietnamese throughout."""
from __future__ import annotations

from datetime import timedelta

from flask import Flask

from bot.config import Settings
from bot.console import format as vn
from bot.console.access import csrf, ensure_first_admin, login_manager
from bot.console import errors, params
from bot.console.blueprint import console
from bot.repository import Repository

# Each module adds its pages to the blueprint.
from bot.console import admin, auth, cases, chats, dashboard, knowledge, live, replies, routing_admin  # noqa: E402,F401
from bot.console import data_requests, duplicates, ratings  # noqa: E402,F401  (the citizen's side, issue 17)


def init_console(app: Flask, settings: Settings, repository: Repository) -> None:
    app.config.update(SESSION_COOKIE_SECURE=settings.secure_cookies, REMEMBER_COOKIE_SECURE=settings.secure_cookies,
                      REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax",
                      # The console's own cookie, sent to the console only (the web chat has its own).
                      SESSION_COOKIE_NAME="tongdai_console", SESSION_COOKIE_PATH="/console",
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.console_session_hours),
                      WTF_CSRF_TIME_LIMIT=12 * 3600,  # a shift: a form left open all day still posts
                      # Platforms sign their posts and the web chat takes only JSON or a custom
                      # header: CSRF tokens are for the console's forms (checked below).
                      WTF_CSRF_CHECK_DEFAULT=False)
    login_manager.init_app(app)
    csrf.init_app(app)
    app.register_blueprint(console)
    vn.register_filters(app)
    app.jinja_env.globals.update(page_url=params.page_url, query_args=params.query,
                                 refresh_seconds=f"{settings.console_refresh_seconds:g}")
    errors.register(app)
    written = ensure_first_admin(repository, settings)
    if written:  # the password itself never reaches the output or a log
        print(f"Tài khoản quản trị đầu tiên: {settings.admin_username}, mật khẩu trong tệp {written} "
              "(chỉ chủ máy đọc được; phải đổi ở lần đăng nhập đầu, tệp sẽ tự xóa)", flush=True)


@console.before_request
def _query_check():
    params.check_query()


@console.before_request
def _csrf_check():
    csrf.protect()  # every POST to the console carries the token of the page it came from


