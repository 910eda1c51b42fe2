"""The audit log as people read it: Vietnamese action names, and what changed, field by field."""
from __future__ import annotations

from bot import knowledge_entries, texts
from bot.console import format as vn
from bot.console.access import ROLES

ACTIONS = {
    "login": "Đăng nhập", "logout": "Đăng xuất", "account.password": "Đổi mật khẩu",
    "login.failed": "Đăng nhập sai", "login.throttled": "Tạm khóa đăng nhập", "login.unlock": "Mở khóa đăng nhập",
    "staff.create": "Tạo tài khoản", "staff.update": "Sửa tài khoản",
    "chat.claim": "Nhận xử lý cuộc trò chuyện", "chat.takeover": "Tiếp quản cuộc trò chuyện",
    "chat.reply": "Trả lời người dân", "chat.handback": "Giao lại cho trợ lý tự động",
    "chat.close": "Đóng cuộc trò chuyện",
    "case.status": "Đổi trạng thái hồ sơ", "case.note": "Ghi chú hồ sơ", "case.route": "Chuyển cơ quan xử lý",
    "case.send_back": "Trả hồ sơ về tổng đài", "cases.export": "Tải danh sách hồ sơ",
    "routing.update": "Sửa cơ quan, phân công, thời hạn", "replies.update": "Sửa mẫu trả lời",
    "privacy.update": "Sửa quyền xem số điện thoại",
    "kb.create": "Soạn mục hỏi đáp", "kb.update": "Sửa mục hỏi đáp", "kb.publish": "Duyệt, đưa mục hỏi đáp vào sử dụng",
    "kb.retire": "Ngừng dùng mục hỏi đáp", "kb.import": "Nhập mục hỏi đáp từ tệp",
    "question.answer": "Trả lời câu hỏi của người dân", "question.close": "Bỏ qua câu hỏi của người dân",
    # the citizen's side (issue 17)
    "case.duplicate": "Đánh dấu hồ sơ trùng", "case.not_duplicate": "Ghi nhận không trùng",
    "case.rating_seen": "Xem lại đánh giá thấp",
    "privacy.view": "Người dân xem dữ liệu của mình", "privacy.erase_request": "Người dân yêu cầu xóa dữ liệu",
    "privacy.erase_approve": "Duyệt yêu cầu xóa dữ liệu", "privacy.erase_reject": "Từ chối yêu cầu xóa dữ liệu",
    "privacy.erased": "Xóa dữ liệu cá nhân", "retention.run": "Tự động xóa dữ liệu hết hạn lưu",
}
FIELDS = {
    "status": "Trạng thái", "agency": "Cơ quan", "role": "Vai trò", "active": "Hoạt động", "name": "Họ tên",
    "email": "Thư điện tử", "handler": "Người trả lời", "staff_owner": "Cán bộ xử lý", "public": "Gửi người dân",
    "note": "Nội dung", "rows": "Số dòng", "states": "Kết quả gửi", "key": "Mã lần gửi", "password": "Mật khẩu",
    "locked_until": "Khóa đến", "failed_logins": "Số lần sai mật khẩu", "told": "Lời nhắn cho người dân",
    "sla_hours": "Thời hạn (giờ)", "agencies": "Tên cơ quan", "routes": "Phân công", "sent_back": "Trả về tổng đài",
    "count": "Số mẫu", "retired_agencies": "Cơ quan ngừng hoạt động", "district_aliases": "Tên huyện cũ",
    "retired_districts": "Huyện đã bỏ", "merged_into": "Sáp nhập vào", "urgent": "Hồ sơ khẩn", "ts": "Thời điểm",
    "questions": "Câu hỏi", "answer": "Trả lời", "source_document": "Văn bản", "source_issuer": "Cơ quan ban hành",
    "source_url": "Đường dẫn văn bản", "scope": "Phạm vi", "valid_from": "Áp dụng từ", "valid_until": "Đến ngày",
    "added": "Mục thêm", "updated": "Bản nháp cập nhật", "kept": "Mục giữ nguyên",
    "main": "Hồ sơ chính", "possible_duplicates": "Gợi ý trùng", "rating_flag": "Đánh giá thấp cần xem",
    "state": "Trạng thái yêu cầu", "cases": "Số hồ sơ", "messages": "Số tin nhắn", "files": "Số tệp",
    "conversations": "Số cuộc trò chuyện", "notice": "Báo cho người dân", "channel": "Kênh",
    "address": "Địa chỉ mạng", "kind": "Theo", "format": "Dạng tệp", "seconds": "Chờ (giây)", "counts_cleared": "Số bộ đếm đã xóa",
}
HANDLERS = {"bot": "Trợ lý tự động", "waiting": "Chờ cán bộ", "staff": "Cán bộ"}
KB_STATUSES = {**knowledge_entries.STATUSES, **knowledge_entries.QUESTION_STATUSES}
THROTTLE_KINDS = {"pair": "tài khoản này từ địa chỉ này", "network": "mọi tài khoản từ địa chỉ này",
                  "account": "tài khoản này từ địa chỉ lạ"}


def action_name(action: str) -> str:
    return ACTIONS.get(action, action)


def _label(part: str, agency_name) -> str:
    return FIELDS.get(part) or texts.CATEGORY_NAMES.get(part) or (agency_name(part) if agency_name(part) != part else part)


def _value(field: str, value, agency_name) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool) or value in ("yes", "no"):
        return "Có" if value in (True, "yes") else "Không"
    if field == "status":
        return texts.STATUS_NAMES.get(value) or KB_STATUSES.get(value, value)
    if field == "role":
        return ROLES.get(value, value)
    if field in ("agency", "merged_into") or (field == "routes"):
        return agency_name(value)
    if field == "handler":
        return HANDLERS.get(value, value)
    if field == "staff_owner":
        return vn.staff_name(value)
    if field == "kind":
        return THROTTLE_KINDS.get(value, value)
    if field in ("locked_until", "ts"):
        return vn.vn_datetime(value) if value else "—"
    if isinstance(value, list):
        return ", ".join(_value(field, v, agency_name) for v in value) or "—"
    return str(value)


def _leaves(value, path: tuple = ()) -> dict[tuple, object]:
    if isinstance(value, dict):
        out = {}
        for key, inner in value.items():
            out.update(_leaves(inner, (*path, str(key))))
        return out or ({path: None} if path else {})
    return {path: value}


def changes(entry: dict, agency_name) -> list[tuple[str, str, str]]:
    """(what, before, after) for each value that changed; nested settings down to the changed cell."""
    before, after = _leaves(entry.get("before") or {}), _leaves(entry.get("after") or {})
    rows = []
    for path in dict.fromkeys([*before, *after]):
        if before.get(path) == after.get(path) and path in before and path in after:
            continue
        field = path[-1] if path and path[-1] in FIELDS else (path[0] if path else "")
        label = " · ".join(_label(part, agency_name) for part in path) or "Giá trị"
        rows.append((label, _value(field, before.get(path), agency_name) if path in before else "—",
                     _value(field, after.get(path), agency_name) if path in after else "—"))
    return rows


def target_text(entry: dict) -> str:
    target = str(entry.get("target") or "")
    if entry.get("action", "").startswith("chat.") and ":" in target:
        channel, user_id = target.split(":", 1)
        return f"{vn.CHANNEL_NAMES.get(channel, channel)} …{user_id[-4:]}"
    if entry.get("action") in ("login", "logout", "account.password", "staff.create", "staff.update", "login.failed",
                               "login.throttled", "login.unlock"):
        return vn.staff_name(target)
    if entry.get("action") == "cases.export":
        return "bộ lọc: " + (target or "tất cả")
    return target
