"""Who may do what in the console: staff accounts, passwords, lock-out, roles, the audit log."""
from __future__ import annotations

import secrets
import time
from functools import wraps

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, current_app, g
from flask_login import LoginManager, UserMixin, current_user, login_required
from flask_wtf.csrf import CSRFProtect

from bot.alerts import HOTLINE_ROLES
from bot.config import Settings
from bot.console import sessions
from bot.repository import Repository

ROLES = {"operator": "Điện thoại viên", "agency": "Cơ quan xử lý", "admin": "Quản trị viên"}
# Who sees a citizen's full phone number, per category (an admin changes it under "Bảo mật"): the
# hotline always calls back; an agency only where it must call the citizen itself. A violation's
# reporter was promised confidentiality, so the district committee does not see it.
PHONE_VISIBILITY_DEFAULT = {"report": ["operator"], "suggestion": ["operator"],
                            "welfare": ["operator", "agency"], "health_advice": ["operator", "agency"]}

passwords = PasswordHasher()
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


def ensure_first_admin(repo: Repository, settings: Settings) -> str | None:
    """Create ADMIN_USERNAME when there is no staff account. Returns the generated password (to be
    printed once), or None when ADMIN_PASSWORD was given or an account exists."""
    if repo.count_staff():
        return None
    password = settings.admin_password or secrets.token_urlsafe(12)
    created = repo.create_staff(username=settings.admin_username, password_hash=passwords.hash(password),
                                role="admin", name="Quản trị viên")
    if created:
        repo.audit_log("hệ thống", "staff.create", settings.admin_username, None, {"role": "admin"})
    return password if created and not settings.admin_password else None
