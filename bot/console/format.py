"""How the console shows times, durations and phone numbers: Vietnamese, GMT+7, dd/mm/yyyy."""
from __future__ import annotations

import re
import time
from datetime import date, datetime, timedelta, timezone

from flask import Flask

from bot import texts
from bot.console.access import staff_names
from bot.repository import CLOSED_STATUSES

VIETNAM = timezone(timedelta(hours=7))
CHANNEL_NAMES = {"zalo": "Zalo", "facebook": "Messenger", "web": "Web"}
HANDOFF_REASONS = {"ask_human": "Người dân muốn gặp cán bộ", "not_understood": "Bot chưa hiểu hai lần liền",
                   "urgent_health": "Sức khỏe khẩn cấp", "khmer": "Tin nhắn tiếng Khmer",
                   "staff_replied": "Cán bộ đã trả lời trên nền tảng", "question": "Câu hỏi cần cán bộ trả lời"}
SEND_STATES = {"sent": "đã gửi", "sending": "đang gửi", "retry": "chờ gửi lại", "queued": "chờ gửi",
               "failed": "gửi lỗi", "refused": "không được gửi", "waiting_window": "chờ người dân nhắn lại",
               "uncertain": "không rõ đã gửi chưa"}


def local(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, VIETNAM) if ts else None


def vn_datetime(ts: float | None) -> str:
    return local(ts).strftime("%d/%m/%Y %H:%M") if ts else ""


def vn_date(ts: float | None) -> str:
    return local(ts).strftime("%d/%m/%Y") if ts else ""


# The hotline's records start in 2021; a year like 9999 is a typo (and its next day overflows).
YEARS = range(2000, 2101)


def parse_vn_date(value: str | None) -> date | None:
    """"25/11/2026" (what staff type) or "2026-11-25" (what a date picker sends), between 2000 and 2100."""
    value = (value or "").strip()
    for pattern in ("%d/%m/%Y", "%Y-%m-%d"):
        try:
            day = datetime.strptime(value, pattern).date()
        except ValueError:
            continue
        return day if day.year in YEARS else None
    return None


def start_of_day(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=VIETNAM).timestamp()


def duration(seconds: float) -> str:
    """3 ngày 2 giờ, 2 giờ 5 phút, 4 phút."""
    minutes = int(abs(seconds) // 60)
    days, hours, minutes = minutes // 1440, minutes % 1440 // 60, minutes % 60
    if days:
        return f"{days} ngày {hours} giờ" if hours else f"{days} ngày"
    if hours:
        return f"{hours} giờ {minutes} phút" if minutes else f"{hours} giờ"
    return f"{minutes} phút"


def waited(since_ts: float | None) -> str:
    return duration(time.time() - since_ts) if since_ts else ""


def ago(ts: float | None) -> str:
    """"5 phút trước"; "vừa xong" under a minute."""
    if not ts:
        return ""
    return "vừa xong" if time.time() - ts < 60 else f"{duration(time.time() - ts)} trước"


def sla(case: dict) -> str:
    if case.get("status") in CLOSED_STATUSES:
        return "Đã đóng"
    left = (case.get("due_ts") or 0) - time.time()
    return f"Còn {duration(left)}" if left >= 0 else f"Quá hạn {duration(left)}"


def is_overdue(case: dict) -> bool:
    return case.get("status") not in CLOSED_STATUSES and \
        (case.get("due_ts") or 0) < time.time()


def normalize_phone(value: str | None) -> str:
    """"+84 912.345.678" -> "0912345678", the form the bot stores."""
    digits = re.sub(r"\D", "", value or "")
    return "0" + digits[2:] if digits.startswith("84") and len(digits) >= 11 else digits


def mask_phone(value: str | None) -> str:
    """0912345678 -> 0912***678: enough to tell two callers apart, not enough to call them."""
    digits = normalize_phone(value)
    if len(digits) < 7:
        return "***" if digits else ""
    return digits[:4] + "*" * (len(digits) - 7) + digits[-3:]


ACTORS = {"bot": "Tổng đài tự động", "citizen": "Người dân", "hệ thống": "Hệ thống"}


def staff_name(username: str | None) -> str:
    """A console account's full name; an id from a platform's own inbox is shown as it is."""
    return staff_names().get(username, username or "")


def actor(by: str | None) -> str:
    return ACTORS.get(by) or staff_name(by)


def chat_label(chat: dict) -> str:
    """Who a chat is with, as far as we know: "Nguyễn Văn A (Zalo …7922)"."""
    name = (chat.get("profile") or {}).get("name") or "Người dân"
    return f"{name} ({CHANNEL_NAMES.get(chat.get('channel'), chat.get('channel'))} …{str(chat.get('user_id', ''))[-4:]})"


def web_link(url: str | None) -> str | None:
    """A link a citizen's attachment carries, only when it is a web address: a `javascript:` or
    `data:` URL is never made a link (the CSP would block it; it must not rely on that)."""
    url = (url or "").strip()
    return url if url.lower().startswith(("https://", "http://")) else None


def register_filters(app: Flask) -> None:
    app.jinja_env.filters.update(
        vn_datetime=vn_datetime, vn_date=vn_date, waited=waited, sla=sla, mask_phone=mask_phone,
        category_name=lambda c: texts.CATEGORY_NAMES.get(c, c or ""),
        status_name=lambda s: texts.STATUS_NAMES.get(s, s or ""),
        channel_name=lambda c: CHANNEL_NAMES.get(c, c),
        handoff_reason=lambda r: HANDOFF_REASONS.get(r, r or ""),
        send_state=lambda s: SEND_STATES.get(s, s or ""),
        actor=actor, staff_name=staff_name, ago=ago, chat_label=chat_label, web_link=web_link)
    app.jinja_env.globals.update(is_overdue=is_overdue)
