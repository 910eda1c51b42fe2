"""What every console page polls (console.js): the waiting count for the tab title, urgent chats
and new messages in my chats for a sound and a notification, my unread alerts. A page whose poll
is answered with the sign-in page knows the session ended and says so."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from bot.console import format as vn
from bot.console.access import repository
from bot.console.blueprint import console
from bot.console.forms import ActionForm

LATEST_ALERTS = 5


def _chat(chat: dict, **extra) -> dict:
    return {"key": f"{chat['channel']}:{chat['user_id']}", "name": vn.chat_label(chat),
            "url": url_for("console.chat", channel=chat["channel"], user_id=chat["user_id"]), **extra}


@console.get("/live")
@login_required
def live():
    answer = {"alerts": repository().count_alerts(current_user.username),
              "latest_alerts": [{"key": a["key"], "text": a["text"], "url": url_for("console.alert_open", key=a["key"])} for a in
                                repository().alerts_for(current_user.username, unread_only=True, limit=LATEST_ALERTS)]}
    if current_user.handles_chats:
        waiting = repository().waiting_chats()
        answer["waiting"] = len(waiting)
        # A chat handed over again is a new alert: its key carries when it started waiting.
        answer["urgent"] = [_chat(c, key=f"{c['channel']}:{c['user_id']}:{c.get('handler_since_ts', 0):.0f}",
                                  reason=vn.HANDOFF_REASONS.get(c.get("handoff_reason"), ""))
                            for c in waiting if c.get("handoff_priority") == "urgent"]
        answer["unread"] = [_chat(c, ts=c.get("last_in_ts") or 0, text=(c.get("last_in_text") or "")[:120])
                            for c in repository().chats_held_by(current_user.username)
                            if (c.get("last_in_ts") or 0) > (c.get("owner_seen_ts") or 0)]
    return answer


@console.get("/alerts")
@login_required
def alerts():
    return render_template("console/alerts.html", alerts=repository().alerts_for(current_user.username, limit=100),
                           form=ActionForm())


@console.post("/alerts/read")
@login_required
def alerts_read():
    if ActionForm().validate_on_submit():
        repository().mark_alerts_read(current_user.username)
        flash("Đã đánh dấu tất cả là đã đọc.", "info")
    return redirect(url_for("console.alerts"))


@console.get("/alerts/open")
@login_required
def alert_open():
    """Opening an alert marks it read, then goes where it points (a page of this console only)."""
    alert = repository().find_alert(current_user.username, request.args.get("key", ""))
    if alert is None:
        return redirect(url_for("console.alerts"))
    repository().mark_alerts_read(current_user.username, alert["key"])
    return redirect(alert["url"] if alert["url"].startswith("/console/") else url_for("console.alerts"))
