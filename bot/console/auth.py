"""Signing in and out."""
from __future__ import annotations

from flask import flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user, login_required, logout_user

from bot.console.access import audit, forget_first_admin_password, passwords, repository
from bot.console.signin import check_password
from bot.console import params, sessions
from bot.console.blueprint import console
from bot.console.forms import ActionForm, LoginForm, PasswordChangeForm


def _home():
    return url_for("console.queue" if current_user.handles_chats else "console.case_list")


@console.get("/")
@login_required
def index():
    return redirect(_home())


@console.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(_home())
    form = LoginForm()
    verdict = None
    if form.validate_on_submit():
        verdict = check_password(form.username.data, form.password.data)
        if verdict.staff:
            sessions.start(verdict.staff)
            audit("login", verdict.staff.username)
            # Only a page of this console: never an open redirect to somewhere else.
            return redirect(params.safe_next(request.args.get("next")) or _home())
    error = verdict.error if verdict else None
    answer = make_response(render_template("console/login.html", form=form, error=error),
                           verdict.status if verdict else 200)
    if verdict and verdict.retry_after:
        answer.headers["Retry-After"] = str(verdict.retry_after)
    return answer


@console.before_request
def _password_to_change():
    """The first admin's generated password must be replaced before anything else."""
    if current_user.is_authenticated and current_user.must_change_password and request.endpoint not in ("console.account", "console.logout", "console.static", "console.live"):
        flash("Vui lòng đổi mật khẩu được tạo tự động trước khi tiếp tục.", "info")
        return redirect(url_for("console.account"))
    return None


@console.post("/logout")
@login_required
def logout():
    if ActionForm().validate_on_submit():
        audit("logout", current_user.username)
        repository().end_sessions(current_user.username)  # this cookie, copied or not, is dead
        logout_user()
        flash("Đã đăng xuất.", "info")
    return redirect(url_for("console.login"))


@console.route("/account", methods=["GET", "POST"])
@login_required
def account():
    form = PasswordChangeForm()
    form.account = current_user.username
    if form.validate_on_submit():
        verdict = check_password(current_user.username, form.current.data)
        if verdict.staff is None:
            form.current.errors.append(verdict.error)
        elif form.new.data == form.current.data:
            form.new.errors.append("Mật khẩu mới phải khác mật khẩu hiện tại.")
        else:
            repository().update_staff(current_user.username, password_hash=passwords.hash(form.new.data),
                                      must_change_password="no")
            sessions.keep(repository().end_sessions(current_user.username))  # every other session ends
            forget_first_admin_password(current_user.username)
            audit("account.password", current_user.username, None, {"password": "đã đổi"})
            flash("Đã đổi mật khẩu.", "info")
            return redirect(_home())
    return render_template("console/account.html", form=form)
