"""Canned replies: templates an operator inserts with a click or "/" and a shortcut, kept by admins."""
from __future__ import annotations

import functools
import re
import unicodedata

import yaml
from flask import flash, redirect, render_template, request, url_for

from bot.config import REPO_ROOT
from bot.console.access import audit, repository, roles
from bot.console.blueprint import console
from bot.console.forms import ActionForm

DEFAULTS_FILE = REPO_ROOT / "data" / "canned_replies.yml"
SHORTCUT = re.compile(r"^[a-z0-9_-]{1,20}$")
MAX_TEXT = 2000  # one platform message


@functools.cache
def _defaults() -> tuple:
    return tuple(yaml.safe_load(DEFAULTS_FILE.read_text(encoding="utf-8")))


def canned_replies() -> list[dict]:
    edited = repository().setting("canned_replies")
    return edited if edited is not None else [dict(r, shortcut=str(r["shortcut"])) for r in _defaults()]


def _nfc(value: str | None) -> str:
    return unicodedata.normalize("NFC", (value or "").strip())


def _posted(form, existing: int) -> tuple[list[dict], dict]:
    """The list as the admin submitted it, and what is wrong, field by field."""
    rows, errors = [], {}
    for n in [*range(existing), "new"]:
        shortcut, title, text = (_nfc(form.get(f"{part}-{n}")) for part in ("shortcut", "title", "text"))
        if form.get(f"delete-{n}") or (n == "new" and not (shortcut or title or text)):
            continue
        shortcut = shortcut.lower().lstrip("/")
        if not SHORTCUT.match(shortcut):
            errors[f"shortcut-{n}"] = "Phím tắt 1–20 ký tự: chữ thường không dấu, số, - hoặc _."
        elif shortcut in (r["shortcut"] for r in rows):
            errors[f"shortcut-{n}"] = "Phím tắt này đã dùng cho mẫu khác."
        if not title or len(title) > 80:
            errors[f"title-{n}"] = "Vui lòng nhập tên mẫu (tối đa 80 ký tự)."
        if not text or len(text) > MAX_TEXT:
            errors[f"text-{n}"] = f"Vui lòng nhập nội dung (tối đa {MAX_TEXT} ký tự)."
        rows.append({"shortcut": shortcut, "title": title, "text": text})
    return rows, errors


@console.route("/admin/replies", methods=["GET", "POST"])
@roles("admin")
def replies_settings():
    replies, form, errors = canned_replies(), ActionForm(), {}
    if form.validate_on_submit():
        edited, errors = _posted(request.form, len(replies))
        if not errors:
            repository().save_setting("canned_replies", edited)
            audit("replies.update", "canned_replies", {"count": len(replies)}, {"count": len(edited)})
            flash("Đã lưu mẫu trả lời.", "info")
            return redirect(url_for("console.replies_settings"))
        flash("Chưa lưu: vui lòng sửa các ô được đánh dấu bên dưới.", "error")
    return render_template("console/replies.html", replies=replies, form=form, errors=errors,
                           posted=request.form if errors else {})
