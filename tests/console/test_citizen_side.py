"""The console's part of the citizen's side (issue 17): reports that may be one incident, side by
side, grouped with one click; low ratings flagged for the hotline and the ratings on the dashboard;
erasure requests approved or refused by an admin. Each step in the audit log."""
from __future__ import annotations

import time

from bot import cases, privacy, texts
from tests.console.test_console import post_form, signed_in

NIGHT = "tối nay ở khóm 3 phường 7 TP Trà Vinh có đám nhậu hơn 20 người, mở nhạc ồn ào"
SAME_NIGHT = "Khóm 3 phường 7 tp trà vinh nhà ông Sáu tụ tập ăn nhậu đông người, không đeo khẩu trang"


def report(repository, text: str, user: str, phone: str | None = None) -> dict:
    details = {"place": "khóm 3 phường 7", "commune": "Phường 7, Thành phố Trà Vinh", **({"phone": phone} if phone else {})}
    return cases.file(repository, source=f"zalo:{user}-{time.time_ns()}", channel="zalo", user_id=user,
                      category="report", description=text, details=details, district="Thành phố Trà Vinh", media=[],
                      urgent=False)


def notices_to(repository, user: str) -> list[str]:
    return [m["text"] for m in repository.messages.find({"user_id": user, "kind": "notice"}).sort("received_ts", 1)]


# ---- duplicates --------------------------------------------------------------------------------

def test_a_likely_duplicate_is_shown_beside_its_match_and_grouped_in_one_click(app, staff, repository):
    first = report(repository, NIGHT, "citizen-a")
    second = report(repository, SAME_NIGHT, "citizen-b")
    assert repository.find_case(second["code"])["possible_duplicates"] == [first["code"]]
    operator = signed_in(app, "dtv1")
    page = operator.get("/console/duplicates").get_data(as_text=True)
    assert first["code"] in page and second["code"] in page and "ông Sáu" in page and "hơn 20 người" in page
    marked = post_form(operator, "/console/duplicates", f"/console/duplicates/{second['code']}/mark",
                       {"main": first["code"], "send_key": "0" * 32})
    assert marked.status_code == 302
    dup, main = repository.find_case(second["code"]), repository.find_case(first["code"])
    assert (dup["status"], dup["duplicate_of"], main["duplicates"]) == ("duplicate", first["code"], [second["code"]])
    assert "xử lý chung" in notices_to(repository, "citizen-b")[-1]
    assert f'id="dup-{second["code"]}"' not in operator.get("/console/duplicates").get_data(as_text=True)
    assert repository.find_audit(action="case.duplicate")[0][0]["after"] == {"status": "duplicate", "main": first["code"]}

    # the main case moves on: both citizens are told
    cases.change_status(repository, first["code"], "in_progress", by="ubnd_tp", public=True, note="Đã cử tổ công tác")
    assert "Đã cử tổ công tác" in notices_to(repository, "citizen-a")[-1]
    told = notices_to(repository, "citizen-b")[-1]
    assert second["code"] in told and texts.STATUS_NAMES["in_progress"] in told and "Đã cử tổ công tác" in told
    assert first["code"] not in told  # the other citizen's case is not named
    # an internal step is told to nobody
    before = len(notices_to(repository, "citizen-b"))
    cases.change_status(repository, first["code"], "in_progress", by="ubnd_tp", public=False, note="nội bộ")
    assert len(notices_to(repository, "citizen-b")) == before


def test_not_the_same_incident_is_recorded_and_leaves_the_list(app, staff, repository):
    first = report(repository, NIGHT, "citizen-a")
    second = report(repository, SAME_NIGHT, "citizen-b")
    operator = signed_in(app, "dtv1")
    assert post_form(operator, "/console/duplicates", f"/console/duplicates/{second['code']}/dismiss", {}).status_code == 302
    assert repository.find_case(second["code"])["status"] == "routed"
    assert f'id="dup-{second["code"]}"' not in operator.get("/console/duplicates").get_data(as_text=True)
    assert repository.find_audit(action="case.not_duplicate")[1] == 1
    assert first["code"] in operator.get(f"/console/cases/{first['code']}").get_data(as_text=True)


def test_an_agency_does_not_group_reports(app, staff):
    agency = signed_in(app, "ubnd_cl")
    assert agency.get("/console/duplicates").status_code == 403


def test_a_withdrawn_main_case_hands_its_group_to_the_oldest_duplicate(repository):
    main = report(repository, NIGHT, "citizen-a")
    dup = report(repository, SAME_NIGHT, "citizen-b")
    cases.mark_duplicate(repository, dup["code"], main["code"], by="dtv1")
    cases.withdraw(repository, main["code"], key="zalo:m-withdraw")
    heir = repository.find_case(dup["code"])
    assert heir["status"] == "routed" and heir.get("duplicate_of") is None
    assert repository.find_case(main["code"])["duplicates"] == []


# ---- ratings -----------------------------------------------------------------------------------

def test_a_low_rating_alerts_the_hotline_and_waits_on_the_dashboard_until_looked_at(app, staff, repository):
    low, good = report(repository, NIGHT, "citizen-a"), report(repository, "Chợ tự phát ở Cầu Kè", "citizen-b")
    for case in (low, good):
        cases.change_status(repository, case["code"], "resolved", by="ubnd_tp", public=True, note="Đã xử lý")
    cases.rate(repository, low["code"], 1, key="zalo:m-rate-1")
    cases.rating_comment(repository, low["code"], "3 ngày sau mới thấy ai xuống", key="zalo:m-rate-2")
    cases.rate(repository, good["code"], 5, key="zalo:m-rate-3")
    assert repository.find_case(low["code"])["status"] == "resolved"  # a low rating reopens nothing
    alerts = [a["text"] for a in repository.alerts_for("dtv1")]
    assert any(low["code"] in a and "1/5" in a for a in alerts)
    operator = signed_in(app, "dtv1")
    board = operator.get("/console/dashboard").get_data(as_text=True)
    assert 'id="ratings"' in board and "3.0/5" in board and "3 ngày sau mới thấy ai xuống" in board
    assert low["agency_name"] in board
    case_page = operator.get(f"/console/cases/{low['code']}").get_data(as_text=True)
    assert "1/5" in case_page and "Đã xem lại" in case_page
    assert post_form(operator, "/console/dashboard", f"/console/ratings/{low['code']}/seen", {}).status_code == 302
    assert repository.find_case(low["code"])["rating_flag"] == "seen"
    assert 'id="low-ratings"' not in operator.get("/console/dashboard").get_data(as_text=True)
    assert repository.find_audit(action="case.rating_seen")[1] == 1


def test_the_resolution_notice_asks_for_a_rating_with_five_buttons(repository):
    case = report(repository, NIGHT, "citizen-a")
    cases.change_status(repository, case["code"], "resolved", by="ubnd_tp", public=True, note="Đã giải tán")
    notice = repository.messages.find_one({"user_id": "citizen-a", "kind": "notice"})
    assert notice["text"].endswith(texts.rating_request(case["code"]))
    assert [tuple(c) for c in notice["choices"]] == list(texts.rating_choices(case["code"]))


# ---- erasure requests --------------------------------------------------------------------------

def test_an_admin_approves_an_erasure_request_after_confirming(app, staff, repository):
    case = report(repository, NIGHT, "citizen-a", phone="0912555666")
    code = privacy.request_erasure(repository, "zalo", "citizen-a", key="zalo:m-erase")
    assert privacy.request_erasure(repository, "zalo", "citizen-a", key="zalo:m-erase-again") is None  # one pending
    assert any(code in a["text"] for a in repository.alerts_for("quantri"))
    assert signed_in(app, "dtv1").get("/console/data-requests").status_code == 403
    admin = signed_in(app, "quantri")
    page = admin.get("/console/data-requests").get_data(as_text=True)
    assert code in page and case["code"] in page  # the open case the agency could no longer follow up
    unconfirmed = post_form(admin, "/console/data-requests", f"/console/data-requests/{code}/approve", {})
    assert unconfirmed.status_code == 302 and repository.find_case(case["code"])["description"] == NIGHT
    approved = post_form(admin, "/console/data-requests", f"/console/data-requests/{code}/approve", {"confirm": "yes"})
    assert approved.status_code == 302
    erased = repository.find_case(case["code"])
    assert erased["description"] == "" and "phone" not in erased["details"] and erased["user_id"] != "citizen-a"
    assert repository.find_data_request(code)["state"] == "done"
    assert [e["action"] for e in repository.find_audit(target=code)[0]][::-1] == [
        "privacy.erase_request", "privacy.erase_approve", "privacy.erased"]
    assert "Dữ liệu cá nhân của người gửi đã được xóa" in admin.get(f"/console/cases/{case['code']}").get_data(as_text=True)


def test_a_refused_request_tells_the_citizen_why(app, staff, repository):
    report(repository, NIGHT, "citizen-a")
    code = privacy.request_erasure(repository, "zalo", "citizen-a", key="zalo:m-erase")
    admin = signed_in(app, "quantri")
    assert post_form(admin, "/console/data-requests", f"/console/data-requests/{code}/reject", {}).status_code == 302
    assert repository.find_data_request(code)["state"] == "pending"  # no reason, no refusal
    post_form(admin, "/console/data-requests", f"/console/data-requests/{code}/reject",
              {"reason": "Hồ sơ đang được cơ quan điều tra sử dụng"})
    assert repository.find_data_request(code)["state"] == "rejected"
    assert "cơ quan điều tra" in notices_to(repository, "citizen-a")[-1]
    assert repository.find_audit(action="privacy.erase_reject")[1] == 1
