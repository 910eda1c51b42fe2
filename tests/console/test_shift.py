"""A hotline shift through the console's rules (issue 14), with Flask's test client: who may hand a
chat back, the agency's send-back, explicit public/internal, one overdue count, search, dates,
errors, the audit log, agencies and districts that change, canned replies, the daily overdue alert,
phone confidentiality. test_browser_shift.py walks the same shift in Chromium."""
from __future__ import annotations

import re
import time
import uuid

import pytest

from bot import digest, texts
from bot.config import Settings
from bot.repository import OPEN_STATUSES
from bot.routing import RoutingTable
from tests.conftest import post_zalo
from tests.console.test_console import CITIZEN, escalate, file_report, post_form, routing_form, signed_in
from tests.fakes import FakeSMTP
from tests.test_end_to_end import zalo_text

CHAT = f"/console/chats/zalo/{CITIZEN}"
DAY = 86400


def page_text(client, url: str) -> str:
    return client.get(url).get_data(as_text=True)


def after(client, answer) -> str:
    """The page a post redirected to (with its flash messages)."""
    return client.get(answer.headers["Location"]).get_data(as_text=True)


def file_welfare(repository, phone="0909123456", user=CITIZEN, channel="zalo", district="Huyện Càng Long"):
    return repository.file_case(source=f"{channel}:{uuid.uuid4().hex}", channel=channel, user_id=user,
                                category="welfare", description="Mất việc, cần hỗ trợ lương thực", district=district,
                                details={"name": "Thạch Thị Sa Rinh", "phone": phone},
                                route=RoutingTable.load().route("welfare", district))


# ---- 1. ownership ----------------------------------------------------------------------------

def test_only_the_holder_hands_back_or_closes_and_only_after_confirming(app, client, staff, repository, worker):
    escalate(client, worker, repository)
    holder, colleague = signed_in(app, "dtv1"), signed_in(app, "dtv2")
    post_form(holder, CHAT, CHAT + "/claim", {})
    # A colleague's forged post (the page shows them no button) is refused and changes nothing.
    answer = post_form(colleague, CHAT, CHAT + "/close", {"close-confirm": "yes", "close-notify": "y",
                                                          "close-message": "Tạm biệt"})
    assert "chỉ người đang xử lý hoặc quản trị viên" in after(colleague, answer)
    assert "Giao lại cho trợ lý tự động" not in page_text(colleague, CHAT)
    # The holder's post without the confirmation step does nothing either.
    answer = post_form(holder, CHAT, CHAT + "/handback", {})
    assert "Vui lòng xác nhận" in after(holder, answer)
    conversation = repository.conversation("zalo", CITIZEN)
    assert (conversation["handler"], conversation["staff_owner"]) == ("staff", "dtv1")
    assert repository.messages.count_documents({"kind": "notice"}) == 0

    post_form(holder, CHAT, CHAT + "/close", {"close-confirm": "yes", "close-notify": "y",
                                              "close-message": "Cán bộ xin phép kết thúc, chúc anh/chị sức khỏe."})
    assert repository.conversation("zalo", CITIZEN)["handler"] == "bot"
    [notice] = repository.messages.find({"kind": "notice"})
    assert notice["text"] == "Cán bộ xin phép kết thúc, chúc anh/chị sức khỏe." and notice["user_id"] == CITIZEN
    assert repository.audit_entries()[0]["action"] == "chat.close"


def test_an_admin_takes_over_a_colleagues_chat_and_the_colleague_is_told(app, client, staff, repository, worker):
    escalate(client, worker, repository)
    holder, admin = signed_in(app, "dtv1"), signed_in(app, "quantri")
    post_form(holder, CHAT, CHAT + "/claim", {})
    assert post_form(admin, CHAT, CHAT + "/claim", {}).status_code == 302  # without take_over: not taken
    assert repository.conversation("zalo", CITIZEN)["staff_owner"] == "dtv1"
    assert "Tiếp quản" in page_text(admin, CHAT)
    post_form(admin, CHAT, CHAT + "/claim", {"take_over": "yes"})
    assert repository.conversation("zalo", CITIZEN)["staff_owner"] == "quantri"
    [alert] = repository.alerts_for("dtv1")
    assert "Cán bộ quantri đã tiếp quản" in alert["text"] and alert["url"] == CHAT
    entry = repository.audit_entries()[0]
    assert (entry["action"], entry["before"]["staff_owner"], entry["after"]["staff_owner"]) == \
        ("chat.takeover", "dtv1", "quantri")
    # The former holder can no longer answer, hand back or close it.
    answer = post_form(holder, CHAT, CHAT + "/reply", {"text": "Xin chào", "send_key": uuid.uuid4().hex})
    assert "cần nhận xử lý" in after(holder, answer)
    assert holder.get("/console/live").get_json()["alerts"] == 1


def test_every_conversation_is_listed_and_one_back_with_the_bot_is_claimed_again(app, client, staff, repository,
                                                                                  worker):
    escalate(client, worker, repository, "mẹ tôi khó thở, spo2 90", "z-urgent")
    assert post_zalo(client, zalo_text("xin chào", "z-other", "1007")).status_code == 200
    worker.drain()
    operator = signed_in(app, "dtv1")
    post_form(operator, CHAT, CHAT + "/claim", {})
    post_form(operator, CHAT, CHAT + "/handback", {"handback-confirm": "yes"})  # no message this time
    assert repository.messages.count_documents({"kind": "notice"}) == 0
    everything = page_text(operator, "/console/chats/all")
    assert "2 cuộc trò chuyện" in everything and "…1007" in everything and "xin chào" in everything
    assert "…7922" not in page_text(operator, "/console/chats/all?state=staff")
    assert "…7922" in page_text(operator, "/console/chats/all?state=bot")
    assert "Nhận xử lý" in page_text(operator, CHAT)
    post_form(operator, CHAT, CHAT + "/claim", {})
    assert repository.conversation("zalo", CITIZEN)["staff_owner"] == "dtv1"
    assert [e["action"] for e in repository.audit_entries()][:3] == ["chat.claim", "chat.handback", "chat.claim"]


# ---- 2. alerts: what the page polls --------------------------------------------------------------

def test_the_live_poll_counts_waiting_chats_names_urgent_ones_and_my_unread_chats(app, client, staff, repository,
                                                                                   worker):
    escalate(client, worker, repository, "cho tôi gặp cán bộ", "z-n", "1001")
    escalate(client, worker, repository, "con tôi co giật, li bì", "z-u", "1002")
    operator = signed_in(app, "dtv1")
    live = operator.get("/console/live").get_json()
    assert live["waiting"] == 2 and [c["key"].split(":")[1] for c in live["urgent"]] == ["1002"]
    assert live["urgent"][0]["reason"] == "Sức khỏe khẩn cấp" and live["unread"] == []
    url = "/console/chats/zalo/1001"
    post_form(operator, url, url + "/claim", {})
    assert operator.get("/console/live").get_json()["unread"] == []  # claimed: read up to now
    assert post_zalo(client, zalo_text("anh ơi còn đó không", "z-n2", "1001")).status_code == 200
    worker.drain()
    [unread] = operator.get("/console/live").get_json()["unread"]
    assert unread["url"] == url and unread["text"] == "anh ơi còn đó không"
    assert "Tin mới" in page_text(operator, "/console/chats/rows")
    operator.get(url)  # opening the chat reads it
    assert operator.get("/console/live").get_json()["unread"] == []
    assert "anh ơi còn đó không" in page_text(operator, "/console/chats/rows")  # the last message, from the conversation
    assert signed_in(app, "ubnd_cl").get("/console/live").get_json() == {"alerts": 0, "latest_alerts": []}


def test_a_signed_out_poll_is_sent_to_the_sign_in_page(client, staff):
    answer = client.get("/console/live")
    assert answer.status_code == 302 and "/console/login" in answer.headers["Location"]


# ---- 3. agencies and the hotline -----------------------------------------------------------------

def test_an_agencys_not_responsible_sends_the_case_back_to_the_hotline_which_reroutes_it(app, staff, repository):
    case = file_report(repository)
    url = f"/console/cases/{case['code']}"
    agency, operator = signed_in(app, "ubnd_cl"), signed_in(app, "dtv1")
    assert "không thuộc thẩm quyền (trả về tổng đài)" in page_text(agency, url)
    answer = post_form(agency, url, url + "/status", {"status": "not_responsible", "send_key": uuid.uuid4().hex})
    assert "Vui lòng ghi lý do" in after(agency, answer)  # a reason is required
    post_form(agency, url, url + "/status", {"status": "not_responsible", "visibility": "internal",
                                             "note": "Địa điểm thuộc xã Tân An, huyện Cầu Kè", "send_key": uuid.uuid4().hex})
    returned = repository.find_case(case["code"])
    assert (returned["status"], returned["sent_back"], returned["agency"]) == ("new", "yes", "ubnd_cang_long")
    assert returned["status"] in OPEN_STATUSES and repository.messages.count_documents({"kind": "notice"}) == 0
    [alert] = repository.alerts_for("dtv1")
    assert "trả hồ sơ" in alert["text"] and "Cầu Kè" in alert["text"] and repository.alerts_for("quantri")
    queue = page_text(operator, "/console/chats/rows")
    assert case["code"] in queue and "Tân An" in queue
    assert case["code"] in page_text(operator, "/console/cases?sent_back=1")
    assert "đã trả hồ sơ về tổng đài" in page_text(operator, url)

    post_form(operator, url, url + "/route", {"agency": "ubnd_cau_ke", "visibility": "internal",
                                              "note": "Theo cơ quan Càng Long", "send_key": uuid.uuid4().hex})
    moved = repository.find_case(case["code"])
    assert (moved["agency"], moved["status"], moved["sent_back"]) == ("ubnd_cau_ke", "routed", "no")
    assert case["code"] not in page_text(operator, "/console/chats/rows")
    assert repository.messages.count_documents({"kind": "notice"}) == 0  # internal: the citizen is not told
    history = repository.case_history(case["code"])
    assert [(e["status"], e.get("kind"), e["public"]) for e in history][-2:] == [
        ("not_responsible", "sent_back", "no"), ("routed", None, "no")]


def test_an_agency_writes_to_the_hotline_by_default_and_notes_reach_the_other_side(app, staff, repository):
    case = file_report(repository)
    url = f"/console/cases/{case['code']}"
    agency = signed_in(app, "ubnd_cl")
    html = page_text(agency, url)
    for form in ("status-visibility", "note-visibility"):  # both forms: internal pre-selected for an agency
        assert re.search(rf'checked[^>]*id="{form}-internal"|id="{form}-internal"[^>]*checked', html), form
    post_form(agency, url, url + "/note", {"note": "Đã cử tổ công tác, chờ kết quả", "visibility": "internal",
                                           "send_key": uuid.uuid4().hex})
    assert repository.messages.count_documents({"kind": "notice"}) == 0
    assert "Đã cử tổ công tác" in repository.alerts_for("dtv2")[0]["text"]
    post_form(signed_in(app, "dtv1"), url, url + "/note", {"note": "Xin báo kết quả trước 17h", "visibility": "internal",
                                                            "send_key": uuid.uuid4().hex})
    assert "Xin báo kết quả trước 17h" in repository.alerts_for("ubnd_cl")[0]["text"]
    assert "Cán bộ dtv1" in page_text(agency, url)  # staff by name in the history


def test_an_unchanged_status_without_a_note_is_refused_and_with_one_is_a_note(app, staff, repository):
    case = file_report(repository)
    url = f"/console/cases/{case['code']}"
    operator = signed_in(app, "dtv1")
    answer = post_form(operator, url, url + "/status", {"status": "routed", "visibility": "public",
                                                        "send_key": uuid.uuid4().hex})
    assert "Trạng thái không đổi" in after(operator, answer)
    assert len(repository.case_history(case["code"])) == 2
    post_form(operator, url, url + "/status", {"status": "routed", "visibility": "internal", "note": "Đã gọi cơ quan",
                                               "send_key": uuid.uuid4().hex})
    last = repository.case_history(case["code"])[-1]
    assert (last["status"], last["note"], last["public"]) == ("routed", "Đã gọi cơ quan", "no")


def test_a_public_reroute_tells_the_citizen_with_the_reason_and_the_new_agency_is_alerted(app, staff, repository):
    case = file_report(repository)
    url = f"/console/cases/{case['code']}"
    post_form(signed_in(app, "dtv1"), url, url + "/route", {"agency": "ubnd_cau_ke", "visibility": "public",
                                                             "note": "Địa điểm thuộc Cầu Kè", "send_key": uuid.uuid4().hex})
    [notice] = repository.messages.find({"kind": "notice"})
    assert "Ủy ban nhân dân huyện Cầu Kè" in notice["text"] and "Địa điểm thuộc Cầu Kè" in notice["text"]
    repository.create_staff(username="ubnd_ck", password_hash="x", role="agency", agency="ubnd_cau_ke", name="UBND Cầu Kè")
    assert repository.alerts_for("ubnd_ck") == []  # created after: alerts go to who was there
    assert repository.alerts_for("ubnd_cl") == []  # another agency hears nothing


def test_the_overdue_alert_goes_once_a_day_to_each_agency_and_the_hotline_by_console_and_email(
        app, staff, repository, settings):
    late = [file_report(repository) for _ in range(2)] + [file_report(repository, district="Huyện Cầu Kè")]
    for case in late:
        repository.update_case(case["code"], due_ts=time.time() - 3600)
    repository.update_staff("ubnd_cl", email="ubnd.canglong@travinh.gov.vn")
    repository.update_staff("quantri", email="quantri@travinh.gov.vn")
    smtp = FakeSMTP()
    try:
        mailing = Settings.from_env({**_env(settings), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(smtp.port),
                                     "SMTP_STARTTLS": "0", "OVERDUE_ALERT_HOUR": "0"})
        now = time.time()
        assert digest.run_if_due(repository, mailing, now)
        assert not digest.run_if_due(repository, mailing, now + 60)  # once a day, whichever worker asks
    finally:
        smtp.close()
    [agency_alert] = repository.alerts_for("ubnd_cl")
    assert agency_alert["text"].startswith("2 hồ sơ quá hạn của Ủy ban nhân dân huyện Càng Long")
    assert all(c["code"] in agency_alert["text"] for c in late[:2]) and late[2]["code"] not in agency_alert["text"]
    assert repository.alerts_for("dtv1")[0]["text"].startswith("3 hồ sơ đang quá hạn")
    sent = {tuple(to): message for to, message in smtp.messages}
    assert set(sent) == {("ubnd.canglong@travinh.gov.vn",), ("quantri@travinh.gov.vn",)}
    body = sent[("ubnd.canglong@travinh.gov.vn",)].get_content()
    assert "2 hồ sơ quá hạn" in body and late[0]["code"] in body
    assert sent[("quantri@travinh.gov.vn",)]["Subject"] == "[Tổng đài 1022] 3 hồ sơ quá hạn"


def _env(settings) -> dict:
    return {"MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url, "VAR_DIR": str(settings.var_dir)}


# ---- 6. one overdue count; withdrawn is closed, not resolved -------------------------------------

def test_the_overdue_count_is_the_same_for_every_period_and_the_case_list(app, staff, repository):
    for days_ago in (2, 100, 200):
        case = file_report(repository)
        repository.update_case(case["code"], created_ts=time.time() - days_ago * DAY, due_ts=time.time() - DAY)
    withdrawn = file_report(repository)
    repository.update_case(withdrawn["code"], status="withdrawn", due_ts=time.time() - DAY)
    resolved = file_report(repository)
    repository.update_case(resolved["code"], status="resolved", resolved_ts=time.time())
    operator = signed_in(app, "dtv1")
    for days in (7, 30, 365):
        html = page_text(operator, f"/console/dashboard?days={days}")
        assert '<span class="big">3</span> hồ sơ đang quá hạn' in html, days
    assert "3 hồ sơ." in page_text(operator, "/console/cases?overdue=1")
    week = page_text(operator, "/console/dashboard?days=7")
    assert "(1/1 hồ sơ đã xử lý xong trong 7 ngày)" in week  # the withdrawn one is not "handled"
    assert "đã được người gửi rút lại" in week  # and it has its own bar


# ---- 9. search, dates, errors, audit, names --------------------------------------------------------

def test_search_ignores_case_and_the_prefix_and_finds_phones_by_their_last_digits(app, staff, repository):
    case, other = file_report(repository, phone="0912345678"), file_report(repository, phone="0987654321")
    operator = signed_in(app, "dtv1")

    def found(q: str) -> set[str]:
        html = page_text(operator, f"/console/cases?q={q}")
        return {c["code"] for c in (case, other) if c["code"] in html}

    bare = case["code"][3:]
    for q in (case["code"].lower(), "tv" + bare.lower(), bare.lower(), f"TV+{bare}"):
        assert found(q) == {case["code"]}, q
    assert found("5678") == {case["code"]} and found("654321") == {other["code"]}
    assert found("0987.654.321") == {other["code"]} and found("99999") == set()


def test_an_invalid_date_is_answered_not_ignored(app, staff, repository):
    file_report(repository)
    operator = signed_in(app, "dtv1")
    html = page_text(operator, "/console/cases?from=31/02/2026")
    assert "Ngày “31/02/2026” không hợp lệ" in html and "Chưa lọc" in html
    assert "phải sau hoặc bằng" in page_text(operator, "/console/cases?from=10/11/2026&to=01/11/2026")
    answer = operator.get("/console/cases/export.csv?to=hôm+qua")
    assert answer.status_code == 302 and "không hợp lệ" in after(operator, answer)


def test_errors_are_vietnamese_pages_inside_the_console(app, client, staff, repository):
    agency = signed_in(app, "ubnd_cl")
    forbidden = agency.get("/console/chats")
    assert forbidden.status_code == 403 and "Không có quyền truy cập" in forbidden.get_data(as_text=True)
    assert "Forbidden" not in forbidden.get_data(as_text=True) and 'class="top"' in forbidden.get_data(as_text=True)
    missing = agency.get("/console/cases/TV-ZZZZZZ")
    assert missing.status_code == 404 and "Không tìm thấy" in missing.get_data(as_text=True)
    unknown = agency.get("/console/khong-co-trang-nay")
    assert unknown.status_code == 404 and "Không tìm thấy" in unknown.get_data(as_text=True)
    assert "Không tìm thấy" not in client.get("/khong-co").get_data(as_text=True)  # outside the console: untouched
    refused = agency.post("/console/cases/TV-ZZZZZZ/note", data={"note": "x"})
    assert refused.status_code == 400 and "Phiên làm việc đã hết hạn" in refused.get_data(as_text=True)


def test_the_audit_log_reads_in_vietnamese_with_what_changed_pages_and_filters(app, staff, repository):
    case = file_report(repository)
    operator = signed_in(app, "dtv1")
    url = f"/console/cases/{case['code']}"
    post_form(operator, url, url + "/status", {"status": "in_progress", "visibility": "public",
                                               "send_key": uuid.uuid4().hex})
    for n in range(60):
        repository.audit_log("dtv2", "login", "dtv2")
    admin = signed_in(app, "quantri")
    html = page_text(admin, "/console/admin/audit?action=case.status")
    assert "Đổi trạng thái hồ sơ" in html and "1 thao tác" in html and "Cán bộ dtv1" in html
    assert "<del>đã chuyển cơ quan chức năng</del> → <ins>đang xử lý</ins>" in html and "case.status" not in html.split(
        "<table")[1]
    first = page_text(admin, "/console/admin/audit")
    assert "trang 1/2" in first and "Trang sau" in first
    assert "Không có thao tác phù hợp" in page_text(admin, "/console/admin/audit?who=dtv1&action=cases.export")
    assert "không hợp lệ" in page_text(admin, "/console/admin/audit?from=32/13/2026")


# ---- 10. phone confidentiality -------------------------------------------------------------------------

def test_who_sees_a_phone_is_a_setting_per_category_and_role(app, staff, repository):
    report, welfare = file_report(repository), file_welfare(repository)
    agency = signed_in(app, "ubnd_cl")
    repository.create_staff(username="ldtbxh_cl", password_hash="x", role="agency", agency="ldtbxh_cang_long")
    report_page = page_text(agency, f"/console/cases/{report['code']}")
    assert "0912345678" not in report_page and "0912***678" in report_page
    welfare_agency = signed_in_as(app, repository, "ldtbxh_cl")
    assert "0909123456" in page_text(welfare_agency, f"/console/cases/{welfare['code']}")
    admin = signed_in(app, "quantri")
    post_form(admin, "/console/admin/privacy", "/console/admin/privacy",
              {"report-operator": "1", "report-agency": "1", "welfare-operator": "1"})
    assert "0912345678" in page_text(agency, f"/console/cases/{report['code']}")
    assert "0909123456" not in page_text(welfare_agency, f"/console/cases/{welfare['code']}")
    assert repository.audit_entries()[0]["action"] == "privacy.update"


def signed_in_as(app, repository, username: str):
    from tests.console.conftest import password_hash
    repository.update_staff(username, password_hash=password_hash())
    return signed_in(app, username)


# ---- 5. the citizen beside the chat --------------------------------------------------------------------

def test_the_citizen_panel_links_cases_and_chats_across_platforms_by_phone(app, client, staff, repository, worker):
    escalate(client, worker, repository)
    on_zalo = file_welfare(repository)
    on_messenger = file_welfare(repository, user="6543217890123456", channel="facebook")
    repository.update_conversation("facebook", "6543217890123456", handler="bot", last_in_ts=time.time())
    html = page_text(signed_in(app, "dtv1"), CHAT)
    panel = html[html.index('class="citizen-panel'):]
    assert on_zalo["code"] in panel and on_messenger["code"] in panel and "qua Messenger" in panel
    assert "Thạch Thị Sa Rinh" in panel and "0909123456" in panel
    assert "/console/chats/facebook/6543217890123456" in panel


# ---- 8. agencies and districts that change -----------------------------------------------------------

def test_a_bad_routing_form_says_which_fields_and_keeps_every_other_edit(app, staff, repository):
    admin = signed_in(app, "quantri")
    table = RoutingTable.load()
    answer = post_form(admin, "/console/admin/routing", "/console/admin/routing", routing_form(
        table, **{"sla-report": "hai ngày", "agency-cdc": "CDC Trà Vinh (đổi tên)", "district-1": "Thị xã Càng Long",
                  "new-agency-id": "Sở Y tế", "new-agency-name": "Sở Y tế"}))
    html = answer.get_data(as_text=True)
    assert "Chưa lưu: 2 ô cần sửa" in html
    assert 'id="err-sla-report"' in html and 'id="err-new-agency-id"' in html
    assert 'value="hai ngày"' in html and 'value="CDC Trà Vinh (đổi tên)"' in html and 'value="Thị xã Càng Long"' in html
    assert repository.routing_table() is None


def test_districts_are_added_renamed_merged_and_retired_and_old_names_still_route(app, staff, repository):
    old_case = file_report(repository, district="Huyện Càng Long")
    admin = signed_in(app, "quantri")
    table = RoutingTable.load()
    districts = table.districts
    post_form(admin, "/console/admin/routing", "/console/admin/routing", routing_form(
        table, **{f"district-{districts.index('Huyện Càng Long')}": "Thị xã Càng Long",
                  f"fate-district-{districts.index('Thị xã Duyên Hải')}": "merge:Huyện Duyên Hải",
                  f"fate-district-{districts.index('Huyện Tiểu Cần')}": "retire",
                  "new-district": "Xã Long Hòa"}))
    edited = RoutingTable.current(repository)
    assert "Thị xã Càng Long" in edited.districts and "Huyện Càng Long" not in edited.districts
    assert "Xã Long Hòa" in edited.districts and "Thị xã Duyên Hải" not in edited.districts
    assert edited.route("report", "Huyện Càng Long").agency == "ubnd_cang_long"  # what the NLU still says
    assert edited.route("report", "Thị xã Duyên Hải").agency == "ubnd_duyen_hai"
    assert edited.route("report", "Huyện Tiểu Cần").agency == "bcd_tinh"  # retired: like an unknown district
    assert edited.route("welfare", "Xã Long Hòa").agency == "so_ldtbxh"
    operator = signed_in(app, "dtv1")
    # Filtering by the new name finds the case filed under the old one; the old case keeps its name.
    html = page_text(operator, "/console/cases?district=Th%E1%BB%8B+x%C3%A3+C%C3%A0ng+Long")
    assert old_case["code"] in html and repository.find_case(old_case["code"])["district"] == "Huyện Càng Long"


def test_an_agency_merged_into_another_hands_over_its_routes_open_cases_and_accounts(app, staff, repository):
    open_case, closed_case = file_report(repository), file_report(repository)
    repository.update_case(closed_case["code"], status="resolved")
    admin = signed_in(app, "quantri")
    table = RoutingTable.load()
    answer = post_form(admin, "/console/admin/routing", "/console/admin/routing",
                       routing_form(table, **{"fate-agency-ubnd_cang_long": "retire"}))
    assert "còn 1 hồ sơ đang mở" in answer.get_data(as_text=True)  # retiring it alone would strand the case
    post_form(admin, "/console/admin/routing", "/console/admin/routing",
              routing_form(table, **{"fate-agency-ubnd_cang_long": "merge:ubnd_cau_ke"}))
    edited = RoutingTable.current(repository)
    assert "ubnd_cang_long" not in edited.agencies
    assert edited.retired_agencies["ubnd_cang_long"]["merged_into"] == "ubnd_cau_ke"
    assert edited.route("report", "Huyện Càng Long").agency == "ubnd_cau_ke"
    assert repository.find_case(open_case["code"])["agency"] == "ubnd_cau_ke"
    closed = repository.find_case(closed_case["code"])
    assert (closed["agency"], closed["agency_name"]) == ("ubnd_cang_long", "Ủy ban nhân dân huyện Càng Long")
    assert repository.find_staff("ubnd_cl")["agency"] == "ubnd_cau_ke"
    assert "(đã ngừng)" in page_text(signed_in(app, "dtv1"), "/console/cases")


# ---- 4. canned replies -------------------------------------------------------------------------------

def test_admins_keep_canned_replies_and_operators_see_them_in_the_reply_box(app, client, staff, repository, worker):
    admin = signed_in(app, "quantri")
    html = page_text(admin, "/console/admin/replies")
    assert "/115 · Cấp cứu 115" in html
    count = html.count('name="delete-')
    answer = post_form(admin, "/console/admin/replies", "/console/admin/replies", {
        **_replies_form(html), "shortcut-new": "Giờ trực", "title-new": "Giờ trực", "text-new": "Tổng đài trực 7h–21h."})
    assert "Phím tắt 1–20 ký tự" in answer.get_data(as_text=True) and 'value="Giờ trực"' in answer.get_data(as_text=True)
    post_form(admin, "/console/admin/replies", "/console/admin/replies", {
        **_replies_form(html), "delete-0": "1", "shortcut-new": "giotruc", "title-new": "Giờ trực",
        "text-new": "Tổng đài trực từ 7 giờ đến 21 giờ hằng ngày."})
    saved = repository.setting("canned_replies")
    assert len(saved) == count and saved[-1]["shortcut"] == "giotruc" and "chao" not in [r["shortcut"] for r in saved]
    escalate(client, worker, repository)
    chat = page_text(signed_in(app, "dtv1"), CHAT)
    assert 'data-shortcut="giotruc"' in chat and "Tổng đài trực từ 7 giờ đến 21 giờ hằng ngày." in chat


def _replies_form(html: str) -> dict:
    """The replies page's form as the browser posts it."""
    fields = dict(re.findall(r'name="((?:shortcut|title)-\d+)" value="([^"]*)"', html))
    fields.update(re.findall(r'name="(text-\d+)"[^>]*>([^<]*)</textarea>', html))
    return {k: v.replace("&amp;", "&").replace("&#34;", '"').replace("&#39;", "'") for k, v in fields.items()}


@pytest.mark.parametrize("role", ["operator", "agency", "admin"])
def test_every_page_of_a_role_renders(app, staff, repository, role):
    case = file_report(repository)
    username = {"operator": "dtv1", "agency": "ubnd_cl", "admin": "quantri"}[role]
    client = signed_in(app, username)
    pages = ["/console/cases", f"/console/cases/{case['code']}", "/console/dashboard", "/console/alerts",
             "/console/account"]
    if role != "agency":
        pages += ["/console/chats", "/console/chats/all"]
    if role == "admin":
        pages += ["/console/admin/staff", "/console/admin/routing", "/console/admin/replies",
                  "/console/admin/privacy", "/console/admin/audit"]
    for url in pages:
        answer = client.get(url)
        assert answer.status_code == 200, url
