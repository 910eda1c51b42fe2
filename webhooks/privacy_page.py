"""The privacy page (`/quyen-rieng-tu`): what Tổng đài 1022 keeps about a citizen, why, for how long
and who reads it, and how to see or erase it (Nghị định 13/2023/NĐ-CP on personal data). The
first reply to a new citizen links here."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template

from webhooks.tracking import citizen_page_headers

privacy_page = Blueprint("privacy_page", __name__, template_folder="templates")
privacy_page.after_request(citizen_page_headers)


@privacy_page.get("/quyen-rieng-tu")
def page():
    settings = current_app.extensions["settings"]
    return render_template("privacy.html", months=settings.retention_months, backups=settings.backup_keep)
