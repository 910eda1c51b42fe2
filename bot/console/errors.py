"""Errors on console pages answered in Vietnamese, inside the console's layout (other paths keep
their own answers: a webhook's 404 is for a platform, not a person)."""
from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from bot.console.blueprint import console
from bot.console.forms import LIBRARY_MESSAGES

log = logging.getLogger("tongdai.console")
PAGES = {
    400: ("Yêu cầu không hợp lệ", "Trang gửi lên không đúng dạng. Vui lòng tải lại trang rồi thử lại."),
    403: ("Không có quyền truy cập", "Tài khoản của anh/chị không được mở trang này. Nếu cần, vui lòng liên hệ "
                                     "quản trị viên."),
    404: ("Không tìm thấy", "Không có trang hoặc hồ sơ này, hoặc tài khoản của anh/chị không được xem nó."),
    405: ("Không thực hiện được", "Thao tác này không dùng được theo cách vừa gửi. Vui lòng quay lại trang trước."),
    413: ("Tệp quá lớn", "Tệp gửi lên quá lớn (tối đa 10 MB)."),
    500: ("Lỗi hệ thống", "Hệ thống gặp lỗi khi xử lý yêu cầu. Vui lòng thử lại; nếu lỗi lặp lại, báo quản trị viên "
                          "kèm thời điểm xảy ra."),
}


def register(app: Flask) -> None:
    """The app's own handler: a /console/ address that no view answers (the console's views have
    theirs, below)."""
    app.register_error_handler(HTTPException, _http_error)


def _console() -> bool:
    return request.path.startswith("/console/") or request.path == "/console"


def _page(status: int, detail: str | None = None):
    title, text = PAGES.get(status, PAGES[500] if status >= 500 else PAGES[400])
    return render_template("console/error.html", title=title, text=detail or text, status=status), status


def _http_error(error: HTTPException):
    if not _console() or error.code is None or error.code < 400:
        return error
    return _page(error.code)


@console.errorhandler(CSRFError)
def _csrf_error(error: CSRFError):
    return _page(400, LIBRARY_MESSAGES.get(error.description, PAGES[400][1]))


@console.errorhandler(Exception)
def _unexpected(error: Exception):
    if isinstance(error, HTTPException):
        return _http_error(error)
    log.exception("console error")
    return _page(500)
