"""The public tracking page (`/tra-cuu`): a citizen follows a case without chatting. The case code,
and the last four digits of the phone when the case has one, show its category, agency, due date
and the status history with public notes only — nothing personal. A wrong code and a wrong phone
get the same answer, and every address has a budget of lookups per hour: four digits are only
10,000 guesses.

Lookups are posted, so codes and digits stay out of addresses, logs and the Referer; a link from
the chat (`?ma=TV-…`) only fills the form in. The form carries no CSRF token on purpose: a forged
post can only make someone's browser look a case up, and the page it gets back stays with them."""
from __future__ import annotations

import hmac
import re

from flask import Blueprint, current_app, render_template, request
from pymongo.errors import PyMongoError

from bot import rate_limit, texts
from bot.addresses import limit_key
from bot.repository import CLOSED_STATUSES, DatabaseUnavailable, Repository

CODE = re.compile(r"^TV-?([A-HJ-NP-Z2-9]{6})$")
DIGITS = re.compile(r"^\d{4}$")
WINDOW_SECONDS = 3600
NOT_FOUND = ("Không tìm thấy hồ sơ khớp với mã và 4 số cuối điện thoại đã nhập. Anh/chị kiểm tra lại mã "
             "hồ sơ và 4 số cuối của số điện thoại đã để lại khi gửi (hồ sơ gửi không kèm số điện thoại thì "
             "để trống ô này).")
BAD_CODE = ("Mã hồ sơ có dạng TV- và 6 ký tự (chữ in hoa và số, không có số 0, số 1, chữ O, chữ I), "
            "ví dụ TV-8HK3MA.")
BAD_DIGITS = "Nhập đúng 4 chữ số cuối của số điện thoại, hoặc để trống."
TOO_MANY = ("Có quá nhiều lượt tra cứu từ cùng một địa chỉ mạng. Anh/chị vui lòng thử lại sau một giờ, "
            "hoặc nhắn mã hồ sơ cho Tổng đài 1022 trên Zalo, Messenger.")
BUSY = "Hệ thống đang bận, anh/chị vui lòng thử lại sau ít phút."

tracking = Blueprint("tracking", __name__, template_folder="templates", static_folder="static",
                     static_url_path="/static/public")


@tracking.after_request
def citizen_page_headers(response):
    # The answer is one citizen's: never cached on the way, never framed, no code leaked onward.
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'self'; "
                                "form-action 'self'; frame-ancestors 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def _repository() -> Repository:
    return current_app.extensions["repository"]


def normalize_code(typed: str) -> str | None:
    """"tv 8hk3ma", "TV-8HK3MA", "tv8hk3ma" -> "TV-8HK3MA"; None when it cannot be a code."""
    match = CODE.match(re.sub(r"[\s.]", "", typed or "").upper().replace("–", "-").replace("—", "-"))
    return f"TV-{match.group(1)}" if match else None


def _phone_matches(phone: str | None, digits: str) -> bool:
    """A case without a phone is found by its code alone; one with a phone needs its last four digits."""
    if not phone:
        return True
    return hmac.compare_digest(re.sub(r"\D", "", phone)[-4:].encode(), digits.encode())


def find(repository: Repository, code: str, digits: str) -> dict | None:
    """What the page may show of the case, or None — the same None for a wrong code and a wrong phone."""
    # A first look that reads as little for a case as for none: a wrong phone takes the time of a wrong code.
    key = repository.case_key(code)
    if key is None or key.get("erased_ts") or not _phone_matches((key.get("details") or {}).get("phone"), digits):
        return None
    case = repository.find_case(code)
    main = repository.find_case(case["duplicate_of"]) if case.get("duplicate_of") else None
    return {"code": case["code"], "category": texts.CATEGORY_NAMES.get(case["category"], ""),
            "status": texts.STATUS_NAMES.get(case["status"], case["status"]),
            "closed": case["status"] in CLOSED_STATUSES, "agency": case.get("agency_name") or "",
            "created_ts": case.get("created_ts"), "due_ts": case.get("due_ts"),
            "main_status": texts.STATUS_NAMES.get(main["status"], main["status"]) if main else None,
            "timeline": [{"ts": e.get("ts"), "status": texts.STATUS_NAMES.get(e["status"], e["status"]),
                          "note": e.get("note") or ""} for e in repository.public_history(case["code"])]}


@tracking.get("/tra-cuu")
def form():
    return render_template("tracking.html", code=(normalize_code(request.args.get("ma", "")) or ""), digits="",
                           errors={}, result=None, not_found=None)


@tracking.post("/tra-cuu")
def lookup():
    typed_code, digits = (request.form.get("ma") or "")[:40].strip(), (request.form.get("so") or "")[:20].strip()
    code, errors = normalize_code(typed_code), {}
    if not code:
        errors["ma"] = BAD_CODE
    if digits and not DIGITS.match(digits):
        errors["so"] = BAD_DIGITS
    page = {"code": code or typed_code, "digits": digits, "errors": errors, "result": None, "not_found": None}
    if errors:
        return render_template("tracking.html", **page), 400
    repository = _repository()
    limit = current_app.extensions["settings"].tracking_lookups_per_hour
    try:
        if not rate_limit.within(repository, limit_key("tra-cuu"), limit, WINDOW_SECONDS):
            return render_template("tracking.html", **page, refused=TOO_MANY), 429
        page["result"] = find(repository, code, digits)
    except (DatabaseUnavailable, PyMongoError):
        return render_template("tracking.html", **page, refused=BUSY), 503
    page["not_found"] = None if page["result"] else NOT_FOUND
    return render_template("tracking.html", **page), 200 if page["result"] else 404
