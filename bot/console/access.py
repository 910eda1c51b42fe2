"""Who may do what in the console: staff accounts, passwords, lock-out, roles, the audit log."""
from __future__ import annotations

import os
import secrets
from functools import wraps
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, current_app, g
from flask_login import LoginManager, UserMixin, current_user, login_required
from flask_wtf.csrf import CSRFProtect

from bot.alerts import HOTLINE_ROLES
from bot.config import Settings, private_dir
from bot.console import password_policy, sessions
from bot.repository import Repository

ROLES = {"operator": "Điện thoại viên", "agency": "Cơ quan xử lý", "admin": "Quản trị viên"}
# Who sees a citizen's full phone number, per category (an admin changes it under "Bảo mật"): the
# hotline always calls back; an agency only where it must call the citizen itself. A violation's
# reporter was promised confidentiality, so the district committee does not see it.
PHONE_VISIBILITY_DEFAULT = {"report": ["operator"], "suggestion": ["operator"],
                            "welfare": ["operator", "agency"], "health_advice": ["operator", "agency"]}

# Argon2id at 64 MiB and 3 passes, on one lane: with argon2-cffi's default of four lanes a check
# took both cores for 110 ms, and the webhooks' answers waited behind it (p99 109 ms during a sign-in
# flood); on one lane it takes 150 ms of one core and leaves the other to them. Hashes made with
# four lanes still verify, and are redone on the next sign-in (check_needs_rehash).
passwords = PasswordHasher(parallelism=1)
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "console.login"
login_manager.login_message = "Vui lòng đăng nhập để tiếp tục."
login_manager.login_message_category = "info"
# Checked for an unknown or closed account: as long to verify as a real one, so the answer's time
# does not tell whether an account exists.
DUMMY_HASH = passwords.hash(secrets.token_urlsafe(16))


class Staff(UserMixin):
    def __init__(self, document: dict):
        self.username = document["username"]
        self.name = document.get("name") or self.username
        self.role = document["role"]
        self.agency = document.get("agency")
        self.session_epoch = sessions.epoch_of(document)
        self.must_change_password = document.get("must_change_password") == "yes"

    def get_id(self) -> str:
        return self.username

    @property
    def handles_chats(self) -> bool:
        return self.role in ("operator", "admin")

    @property
    def is_hotline(self) -> bool:
        return self.role in HOTLINE_ROLES

    def may_see_phone(self, category: str | None) -> bool:
        """`category` None: a number the citizen gave the platform itself (not with a case)."""
        if category is None:
            return self.role == "operator"
        return self.role in phone_visibility().get(category, [])

    def may_open(self, case: dict) -> bool:
        return self.role != "agency" or case.get("agency") == self.agency


def repository() -> Repository:
    return current_app.extensions["repository"]


def phone_visibility() -> dict:
    if "phone_visibility" not in g:
        g.phone_visibility = repository().setting("phone_visibility") or PHONE_VISIBILITY_DEFAULT
    return g.phone_visibility


def staff_names() -> dict[str, str]:
    """username -> full name, read once per request: staff are shown by name, not by username."""
    if "staff_names" not in g:
        g.staff_names = {a["username"]: a.get("name") or a["username"] for a in repository().list_staff()}
    return g.staff_names


@login_manager.user_loader
def load_staff(username: str) -> Staff | None:
    document = repository().find_staff(username)
    if not document or document.get("active") != "yes" or not sessions.valid(document):
        return None
    return Staff(document)


def verify(hash_: str, password: str) -> bool:
    try:
        return passwords.verify(hash_, password)
    except (VerificationError, InvalidHashError):
        return False


def roles(*allowed: str):
    """Only staff with one of these roles; others get 403."""
    def decorate(view):
        @wraps(view)
        @login_required
        def guarded(*args, **kwargs):
            if current_user.role not in allowed:
                abort(403)
            return view(*args, **kwargs)
        return guarded
    return decorate


def audit(action: str, target: str, before=None, after=None) -> None:
    """Every staff action: who, what, when, before and after."""
    repository().audit_log(current_user.username, action, target, before, after)


FIRST_ADMIN_FILE = "first-admin-password"


class WeakAdminPassword(Exception):
    """ADMIN_PASSWORD does not pass the password policy: the first admin is not created with it."""


def ensure_first_admin(repo: Repository, settings: Settings) -> Path | None:
    """Create ADMIN_USERNAME when there is no staff account, with ADMIN_PASSWORD or a generated
    password that must be changed at the first sign-in. The generated one is written to a file
    only its owner reads (never to the output or a log); returns that file, or None when
    ADMIN_PASSWORD was given or an account exists. Raises WeakAdminPassword."""
    if repo.count_staff():
        return None
    check_admin_password(settings)
    password = settings.admin_password or secrets.token_urlsafe(15)
    created = repo.create_staff(username=settings.admin_username, password_hash=passwords.hash(password),
                                role="admin", name="Quản trị viên")
    if not created:
        return None
    repo.audit_log("hệ thống", "staff.create", settings.admin_username, None, {"role": "admin"})
    if settings.admin_password:
        return None
    repo.update_staff(settings.admin_username, must_change_password="yes")
    path = private_dir(settings.var_dir) / FIRST_ADMIN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{settings.admin_username}\n{password}\n")
    return path


def check_admin_password(settings: Settings) -> None:
    """Raises WeakAdminPassword when ADMIN_PASSWORD is given and fails the password policy."""
    weak = settings.admin_password and password_policy.problem(settings.admin_password, settings.admin_username)
    if weak:
        raise WeakAdminPassword(f"ADMIN_PASSWORD: {weak}")


def forget_first_admin_password(username: str) -> None:
    """The generated password has been replaced: its file goes."""
    settings = current_app.extensions["settings"]
    if username == settings.admin_username:
        (settings.var_dir / FIRST_ADMIN_FILE).unlink(missing_ok=True)
