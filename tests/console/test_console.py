"""The console through Flask's test client: accounts, roles, the audit log, chats and cases.
(The browser tests in test_browser_console.py drive the same pages in Chromium.)"""
from __future__ import annotations

import time
import uuid

import pytest

from bot import texts
from bot.app import create_app
from bot.config import Settings
from bot.console.throttle import PAIR_FREE as MAX_FAILURES
from bot.routing import RoutingTable
from tests.conftest import post_zalo
from tests.console.conftest import PASSWORD, csrf_token, sign_in
from tests.test_end_to_end import zalo_text

CITIZEN = "246845883529197922"


def signed_in(app, username: str):
    client = app.test_client()
    assert sign_in(client, username).status_code == 302
    return client


def post_form(client, page_url: str, url: str, data: dict):
    """Post a form the way the browser does: with the CSRF token of the page it is on."""
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **data})


def file_report(repository, district="Huyện Càng Long", phone="0912345678", source=None, **extra):
    return repository.file_case(source=source or f"zalo:{uuid.uuid4().hex}", channel="zalo", user_id=CITIZEN,
                                category="report", description="Tụ tập đông người", district=district,
                                details={"phone": phone}, route=RoutingTable.load().route("report", district),
                                **extra)


def escalate(client, worker, repository, text="cho tôi gặp cán bộ", mid="z-1", user=CITIZEN):
    assert post_zalo(client, zalo_text(text, mid, user)).status_code == 200
    worker.drain()
    assert repository.conversation("zalo", user)["handler"] == "waiting"


# ---- accounts ----------------------------------------------------------------------------------

def test_first_admin_comes_from_the_environment(settings, repository):
    env = {"MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url, "VAR_DIR": str(settings.var_dir),
           "ADMIN_USERNAME": "truongca", "ADMIN_PASSWORD": "mot-mat-khau-du-dai"}
    repository.staff.delete_many({})
    app = create_app(Settings.from_env(env))
    try:
        assert [a["username"] for a in repository.list_staff()] == ["truongca"]
        assert repository.find_staff("truongca")["password_hash"].startswith("$argon2")
        assert sign_in(app.test_client(), "truongca", "mot-mat-khau-du-dai").status_code == 302
        create_app(Settings.from_env(env)).extensions["repository"].close()  # a restart adds no second admin
        assert repository.count_staff() == 1
    finally:
        app.extensions["repository"].close()


def test_without_admin_password_one_is_generated_into_a_file_only_once(settings, repository, capsys):
    env = {"MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url, "VAR_DIR": str(settings.var_dir)}
    repository.staff.delete_many({})
    create_app(Settings.from_env(env)).extensions["repository"].close()
    assert "Tài khoản quản trị đầu tiên" in capsys.readouterr().out
    username, password = (settings.var_dir / "first-admin-password").read_text().split()
    assert sign_in(create_app(Settings.from_env(env)).test_client(), username, password).status_code == 302
    assert "Tài khoản quản trị đầu tiên" not in capsys.readouterr().out  # not made again


def test_wrong_passwords_lock_the_account_and_unknown_users_read_the_same(app, staff):
    client = app.test_client()
    unknown = sign_in(client, "khong-co-ai", "x").get_data(as_text=True)
    for _ in range(MAX_FAILURES):
        answer = sign_in(client, "dtv2", "sai")
        assert answer.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in unknown
    locked = sign_in(client, "dtv2")
    assert locked.status_code == 429 and "tạm khóa" in locked.get_data(as_text=True)
    admin = signed_in(app, "quantri")
    post_form(admin, "/console/admin/staff", "/console/admin/staff/dtv2",
              {"dtv2-role": "operator", "dtv2-active": "y", "dtv2-unlock": "y"})
    assert sign_in(client, "dtv2").status_code == 302


def test_login_never_redirects_off_site(app, staff):
    client = app.test_client()
    page = client.get("/console/login?next=https://evil.example/")
    answer = client.post("/console/login?next=https://evil.example/", data={
        "username": "dtv1", "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert answer.status_code == 302 and answer.headers["Location"] == "/console/chats"


def test_pages_need_a_signed_in_staff_member(client, staff):
    for url in ("/console/", "/console/chats", "/console/cases", "/console/dashboard", "/console/admin/staff"):
        answer = client.get(url)
        assert answer.status_code == 302 and "/console/login" in answer.headers["Location"], url


def test_roles(app, staff):
    agency, operator = signed_in(app, "ubnd_cl"), signed_in(app, "dtv1")
    assert agency.get("/console/chats").status_code == 403
    assert agency.get("/console/admin/staff").status_code == 403
    assert operator.get("/console/admin/audit").status_code == 403
    assert operator.get("/console/chats").status_code == 200


def test_admin_creates_an_agency_account_and_the_audit_log_records_it(app, staff):
    admin = signed_in(app, "quantri")
    answer = post_form(admin, "/console/admin/staff", "/console/admin/staff", {
        "username": "ldtbxh_ck", "name": "Phòng LĐ-TB&XH Cầu Kè", "password": "mat-khau-moi-dai",
        "role": "agency", "agency": "ldtbxh_cau_ke"})
    assert answer.status_code == 302
    assert staff.find_staff("ldtbxh_ck")["agency"] == "ldtbxh_cau_ke"
    entry = staff.audit_entries()[0]
    assert (entry["who"], entry["action"], entry["target"]) == ("quantri", "staff.create", "ldtbxh_ck")
    assert "mat-khau-moi-dai" not in str(staff.audit_entries())
    page = admin.get("/console/admin/audit").get_data(as_text=True)
    assert "staff.create" in page and "ldtbxh_ck" in page


def test_a_post_without_the_csrf_token_changes_nothing(app, staff, repository):
    case = file_report(repository)
    operator = signed_in(app, "dtv1")
    answer = operator.post(f"/console/cases/{case['code']}/status",
                           data={"status": "resolved", "send_key": "c" * 32, "visibility": "public"})
    assert answer.status_code == 400
    assert repository.find_case(case["code"])["status"] == "routed"


def test_logout_needs_the_token_too(app, staff):
    operator = signed_in(app, "dtv1")
    operator.post("/console/logout")
    assert operator.get("/console/chats").status_code == 200  # a forged log-out did nothing
    post_form(operator, "/console/chats", "/console/logout", {})
    assert operator.get("/console/chats").status_code == 302


# ---- chats ---------------------------------------------------------------------------------------

def test_queue_lists_urgent_chats_first_then_the_longest_waiting(app, client, staff, repository, worker):
    escalate(client, worker, repository, "cho tôi gặp cán bộ", "z-a", "1001")
    escalate(client, worker, repository, "tôi muốn nói chuyện với nhân viên", "z-b", "1002")
    escalate(client, worker, repository, "mẹ tôi khó thở, spo2 90", "z-c", "1003")
    rows = signed_in(app, "dtv1").get("/console/chats/rows").get_data(as_text=True)
    order = [rows.index(f"…{user}") for user in ("1003", "1001", "1002")]
    assert order == sorted(order)
    assert "Sức khỏe khẩn cấp" in rows and "spo2 90" in rows


def test_only_one_operator_gets_a_chat(app, client, staff, repository, worker):
    escalate(client, worker, repository)
    first, second = signed_in(app, "dtv1"), signed_in(app, "dtv2")
    url = f"/console/chats/zalo/{CITIZEN}"
    post_form(first, url, url + "/claim", {})
    answer = post_form(second, url, url + "/claim", {})
    assert "đã có cán bộ khác nhận" in second.get(answer.headers["Location"]).get_data(as_text=True)
    assert repository.conversation("zalo", CITIZEN)["staff_owner"] == "dtv1"


def test_a_reply_posted_twice_is_sent_once(app, client, staff, repository, worker, fake_zalo):
    escalate(client, worker, repository)
    operator = signed_in(app, "dtv1")
    url = f"/console/chats/zalo/{CITIZEN}"
    post_form(operator, url, url + "/claim", {})
    sent_before = len(fake_zalo.received)
    form = {"text": "Cán bộ xin trả lời", "send_key": uuid.uuid4().hex}
    post_form(operator, url, url + "/reply", form)
    post_form(operator, url, url + "/reply", form)  # a double click, a browser re-post
    assert fake_zalo.texts_to(CITIZEN)[sent_before - len(fake_zalo.received):] == ["Cán bộ xin trả lời"]
    [record] = repository.messages.find({"sender": "staff"})
    assert (record["staff_id"], record["state"]) == ("dtv1", "sent")


def test_a_rate_limited_staff_reply_is_sent_later_by_the_worker(app, client, staff, repository, worker, fake_zalo):
    escalate(client, worker, repository)
    operator = signed_in(app, "dtv1")
    url = f"/console/chats/zalo/{CITIZEN}"
    post_form(operator, url, url + "/claim", {})
    fake_zalo.fail_next(-32)  # Zalo: rate limit
    key = uuid.uuid4().hex
    answer = post_form(operator, url, url + "/reply", {"text": "Cán bộ trả lời", "send_key": key})
    assert "sẽ tự gửi lại" in operator.get(answer.headers["Location"]).get_data(as_text=True)
    repository.messages.update_one({"message_id": f"staff:{key}"}, {"$set": {"not_before": 0.0}})
    worker.drain()
    assert repository.find_message("zalo", f"staff:{key}")["state"] == "sent"
    # The fake records every attempt: the one answered -32, and the worker's, accepted.
    assert fake_zalo.texts_to(CITIZEN).count("Cán bộ trả lời") == 2
    worker.drain()
    assert fake_zalo.texts_to(CITIZEN).count("Cán bộ trả lời") == 2


def test_the_bot_is_silent_while_staff_hold_the_chat_and_answers_after_hand_back(app, client, staff, repository,
                                                                                worker, fake_zalo):
    escalate(client, worker, repository)
    operator = signed_in(app, "dtv1")
    url = f"/console/chats/zalo/{CITIZEN}"
    post_form(operator, url, url + "/claim", {})
    sent_before = len(fake_zalo.received)
    assert post_zalo(client, zalo_text("xin chào", "z-2")).status_code == 200
    worker.drain()
    assert len(fake_zalo.received) == sent_before
    post_form(operator, url, url + "/handback", {"handback-confirm": "yes", "handback-notify": "y",
                                                 "handback-message": texts.CHAT_HANDED_BACK})
    worker.drain()
    assert fake_zalo.texts_to(CITIZEN)[-1] == texts.CHAT_HANDED_BACK  # the citizen is told the person left
    assert post_zalo(client, zalo_text("xin chào", "z-3")).status_code == 200
    worker.drain()
    assert len(fake_zalo.received) == sent_before + 2  # and the bot answers again
    assert [e["action"] for e in repository.audit_entries()][:2] == ["chat.handback", "chat.claim"]


def test_html_in_a_citizens_message_is_shown_as_text(app, client, staff, repository, worker):
    escalate(client, worker, repository, "<script>alert('x')</script> cho tôi gặp cán bộ", "z-x")
    page = signed_in(app, "dtv1").get(f"/console/chats/zalo/{CITIZEN}")
    html = page.get_data(as_text=True)
    assert "<script>alert" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")


# ---- cases --------------------------------------------------------------------------------------

def test_case_list_filters_and_search(app, staff, repository):
    cang_long = file_report(repository, phone="0912345678")
    cau_ke = file_report(repository, district="Huyện Cầu Kè", phone="0987654321")
    overdue = file_report(repository, district="Huyện Trà Cú", phone="0911111111")
    repository.update_case(overdue["code"], due_ts=time.time() - 3600)
    operator = signed_in(app, "dtv1")

    def codes(query: str) -> set[str]:
        html = operator.get(f"/console/cases?{query}").get_data(as_text=True)
        return {c["code"] for c in (cang_long, cau_ke, overdue) if c["code"] in html}

    everything = {cang_long["code"], cau_ke["code"], overdue["code"]}
    assert codes("") == everything
    assert codes("district=Huy%E1%BB%87n+C%E1%BA%A7u+K%C3%A8") == {cau_ke["code"]}
    assert codes("agency=ubnd_cang_long") == {cang_long["code"]}
    assert codes("overdue=1") == {overdue["code"]}
    assert codes(f"q={cau_ke['code'].lower()}") == {cau_ke["code"]}
    assert codes("q=%2B84+987+654+321") == {cau_ke["code"]}  # a phone as people write it
    assert codes("category=welfare") == set()
    today = time.strftime("%d/%m/%Y", time.gmtime(time.time() + 7 * 3600))
    assert codes(f"from={today}&to={today}") == everything
    assert codes("from=01/01/2020&to=31/12/2020") == set()
    html = operator.get("/console/cases").get_data(as_text=True)
    assert "0912***678" in html and "0912345678" not in html  # masked in lists


def test_case_list_pages(app, staff, repository):
    for _ in range(55):
        file_report(repository)
    operator = signed_in(app, "dtv1")
    first = operator.get("/console/cases").get_data(as_text=True)
    second = operator.get("/console/cases?page=2").get_data(as_text=True)
    assert "55 hồ sơ, trang 1/2" in first and "trang 2/2" in second
    assert first.count('href="/console/cases/TV-') == 50 and second.count('href="/console/cases/TV-') == 5


def test_phone_in_full_only_on_the_case_page_and_only_for_roles_that_call_back(app, staff, repository):
    case = file_report(repository)
    assert "0912345678" in signed_in(app, "dtv1").get(f"/console/cases/{case['code']}").get_data(as_text=True)
    # The reporter of a violation was promised confidentiality: the district committee sees it masked.
    agency_page = signed_in(app, "ubnd_cl").get(f"/console/cases/{case['code']}").get_data(as_text=True)
    assert "0912345678" not in agency_page and "0912***678" in agency_page
    admin_page = signed_in(app, "quantri").get(f"/console/cases/{case['code']}").get_data(as_text=True)
    assert "0912345678" not in admin_page and "0912***678" in admin_page


def test_internal_note_stays_internal_and_a_public_one_is_told(app, staff, repository):
    case = file_report(repository)
    operator = signed_in(app, "dtv1")
    url = f"/console/cases/{case['code']}"
    post_form(operator, url, url + "/note", {"note": "Gọi lại lúc 14h", "send_key": uuid.uuid4().hex})
    post_form(operator, url, url + "/note", {"note": "Đã cử cán bộ xác minh", "visibility": "public",
                                             "send_key": uuid.uuid4().hex})
    notices = list(repository.messages.find({"kind": "notice"}))
    assert [n["text"] for n in notices if "Gọi lại" in n["text"]] == []
    assert any("Đã cử cán bộ xác minh" in n["text"] for n in notices)
    assert [e["public"] for e in repository.case_history(case["code"])][-2:] == ["no", "yes"]


def test_reroute_moves_the_case_to_another_agency_that_then_sees_it(app, staff, repository):
    case = file_report(repository, district="Huyện Cầu Kè")
    agency = signed_in(app, "ubnd_cl")
    assert agency.get(f"/console/cases/{case['code']}").status_code == 404
    url = f"/console/cases/{case['code']}"
    post_form(signed_in(app, "dtv1"), url, url + "/route",
              {"agency": "ubnd_cang_long", "note": "Địa điểm thuộc Càng Long", "send_key": uuid.uuid4().hex})
    moved = repository.find_case(case["code"])
    assert (moved["agency"], moved["status"]) == ("ubnd_cang_long", "routed")
    assert agency.get(url).status_code == 200
    assert post_form(agency, url, url + "/route", {"agency": "cdc", "send_key": uuid.uuid4().hex}).status_code == 403


def test_status_form_posted_twice_makes_one_change_and_one_notice(app, staff, repository):
    case = file_report(repository)
    operator = signed_in(app, "dtv1")
    url = f"/console/cases/{case['code']}"
    form = {"status": "resolved", "note": "Đã xử phạt", "visibility": "public", "send_key": uuid.uuid4().hex}
    post_form(operator, url, url + "/status", form)
    post_form(operator, url, url + "/status", form)
    assert [e["status"] for e in repository.case_history(case["code"])] == ["new", "routed", "resolved"]
    assert repository.messages.count_documents({"kind": "notice"}) == 1


def test_csv_export_is_utf8_with_bom_and_respects_the_agency(app, staff, repository):
    own, other = file_report(repository), file_report(repository, district="Huyện Cầu Kè")
    answer = signed_in(app, "ubnd_cl").get("/console/cases/export.csv")
    assert answer.mimetype == "text/csv" and answer.data.startswith("\ufeff".encode())
    body = answer.data.decode("utf-8-sig")
    assert own["code"] in body and other["code"] not in body
    assert "Ủy ban nhân dân huyện Càng Long" in body


def test_dashboard_counts(app, staff, repository):
    file_report(repository)
    file_report(repository, district="Huyện Cầu Kè")
    late = file_report(repository)
    repository.update_case(late["code"], due_ts=time.time() - 60)
    html = signed_in(app, "dtv1").get("/console/dashboard").get_data(as_text=True)
    assert '<span class="big">3</span> hồ sơ' in html
    assert '<span class="big">1</span> hồ sơ đang quá hạn' in html
    assert "Huyện Cầu Kè" in html
    only_own = signed_in(app, "ubnd_cl").get("/console/dashboard").get_data(as_text=True)
    assert '<span class="big">2</span> hồ sơ' in only_own


# ---- administration: agencies, routing, SLA ----------------------------------------------------

def routing_form(table: RoutingTable, **changes) -> dict:
    """The routing page's form as the browser posts it, with `changes` applied."""
    form = {f"agency-{key}": name for key, name in table.agencies.items()}
    form.update({f"sla-{key}": str(hours) for key, hours in table.sla_hours.items()})
    for category, by_district in table.routes.items():
        form.update({f"route-{category}-{n}": agency for n, agency in enumerate(by_district.values())})
    form.update(changes)
    return form


def test_admin_edits_agencies_routing_and_sla_and_new_cases_follow_at_once(app, staff, repository, client, worker):
    admin = signed_in(app, "quantri")
    table = RoutingTable.load()
    post_form(admin, "/console/admin/routing", "/console/admin/routing", routing_form(
        table, **{"new-agency-id": "ca_cang_long", "new-agency-name": "Công an huyện Càng Long", "sla-report": "12"}))
    edited = RoutingTable.current(repository)
    assert edited.agencies["ca_cang_long"] == "Công an huyện Càng Long" and edited.sla_hours["report"] == 12
    row = list(table.routes["report"]).index("Huyện Càng Long")
    post_form(admin, "/console/admin/routing", "/console/admin/routing",
              routing_form(edited, **{f"route-report-{row}": "ca_cang_long"}))

    citizen = zalo_text("tối qua ở ấp An Bình xã An Trường huyện Càng Long có đám cưới hơn 100 người không đeo khẩu trang",
                        "z-route-1")
    assert post_zalo(client, citizen).status_code == 200
    worker.drain()
    assert post_zalo(client, zalo_text("đúng", "z-route-2")).status_code == 200
    worker.drain()
    [case] = repository.cases.find({"category": "report"})
    assert (case["agency"], case["agency_name"]) == ("ca_cang_long", "Công an huyện Càng Long")
    assert abs(case["due_ts"] - case["created_ts"] - 12 * 3600) < 1
    assert [e["action"] for e in repository.audit_entries()][:2] == ["routing.update", "routing.update"]


def test_a_wrong_routing_form_changes_nothing(app, staff, repository):
    admin = signed_in(app, "quantri")
    table = RoutingTable.load()
    for bad in ({"sla-report": "-3"}, {"sla-urgent": "một giờ"}, {"route-report-0": "khong_co"},
                {"new-agency-id": "Sở Y tế", "new-agency-name": "Sở Y tế"}, {"agency-cdc": ""}):
        answer = post_form(admin, "/console/admin/routing", "/console/admin/routing", routing_form(table, **bad))
        assert answer.status_code == 200 and 'class="flash error"' in answer.get_data(as_text=True), bad
    assert repository.routing_table() is None
    assert signed_in(app, "dtv1").get("/console/admin/routing").status_code == 403


def test_chat_history_shows_photos_inline_locations_as_map_links_and_replies_from_zalos_own_tool(
        app, client, staff, repository, worker, fake_zalo):
    from tests.conftest import load_fixture
    from tests.test_media import PHOTO, image_event
    fake_zalo.files["/photo.jpg"] = ("image/jpeg", PHOTO)
    escalate(client, worker, repository)
    assert post_zalo(client, image_event(f"{fake_zalo.url}/photo.jpg")).status_code == 200
    assert post_zalo(client, load_fixture("zalo", "user_send_location")).status_code == 200
    assert post_zalo(client, load_fixture("zalo", "oa_send_text__by_staff")).status_code == 200
    worker.drain()
    operator = signed_in(app, "dtv1")
    html = operator.get(f"/console/chats/zalo/{CITIZEN}").get_data(as_text=True)
    photo_url = f"/console/chats/zalo/{CITIZEN}/media/{image_event('x')['message']['msg_id']}/0"
    assert f'<img src="{photo_url}"' in html
    assert operator.get(photo_url).data == PHOTO
    assert "https://www.openstreetmap.org/?mlat=" in html
    staff_reply = html[html.index("Cán bộ 7719385011"):]  # the admin_id of Zalo's OA chat tool
    assert staff_reply.index("đã chuyển phản ánh về Công an phường 5") < staff_reply.index("</article>")
    assert signed_in(app, "ubnd_cl").get(photo_url).status_code == 403  # not an agency's to open


def test_staff_change_their_own_password(app, staff):
    operator = signed_in(app, "dtv1")
    wrong = post_form(operator, "/console/account", "/console/account",
                      {"current": "khong-dung", "new": "mat-khau-thu-hai-2026", "again": "mat-khau-thu-hai-2026"})
    assert "không đúng" in wrong.get_data(as_text=True)
    mismatch = post_form(operator, "/console/account", "/console/account",
                         {"current": PASSWORD, "new": "mat-khau-thu-hai-2026", "again": "khac-hoan-toan"})
    assert "không khớp" in mismatch.get_data(as_text=True)
    assert post_form(operator, "/console/account", "/console/account",
                     {"current": PASSWORD, "new": "mat-khau-thu-hai-2026", "again": "mat-khau-thu-hai-2026"}).status_code == 302
    assert sign_in(app.test_client(), "dtv1").status_code == 401
    assert sign_in(app.test_client(), "dtv1", "mat-khau-thu-hai-2026").status_code == 302
    assert staff.audit_entries()[0]["action"] in ("login", "account.password")


def test_a_chat_answered_from_zalos_own_tool_can_be_taken_over_in_the_console(app, client, staff, repository, worker):
    from tests.conftest import load_fixture
    assert post_zalo(client, load_fixture("zalo", "oa_send_text__by_staff")).status_code == 200
    worker.drain()
    assert repository.conversation("zalo", CITIZEN)["handler"] == "staff"
    operator = signed_in(app, "dtv1")
    url = f"/console/chats/zalo/{CITIZEN}"
    assert "Nhận xử lý" in operator.get(url).get_data(as_text=True)
    post_form(operator, url, url + "/claim", {})
    assert repository.conversation("zalo", CITIZEN)["staff_owner"] == "dtv1"
    post_form(signed_in(app, "dtv2"), url, url + "/claim", {})  # now it has a console owner: taken
    assert repository.conversation("zalo", CITIZEN)["staff_owner"] == "dtv1"


def test_a_notice_queued_from_the_console_carries_the_requests_correlation_id(app, staff, repository, worker):
    case = file_report(repository)
    operator = signed_in(app, "dtv1")
    url = f"/console/cases/{case['code']}"
    token = csrf_token(operator.get(url).get_data(as_text=True))
    answer = operator.post(url + "/status", headers={"X-Request-Id": "console-req-12345678"},
                           data={"csrf_token": token, "status": "in_progress", "visibility": "public",
                                 "send_key": uuid.uuid4().hex})
    assert answer.headers["X-Request-Id"] == "console-req-12345678"
    [notice] = repository.messages.find({"kind": "notice"})
    assert notice["correlation_id"] == "console-req-12345678"


def test_a_form_posted_wrong_is_answered_in_vietnamese_and_changes_nothing(app, staff, repository):
    case = file_report(repository)
    operator = signed_in(app, "dtv1")
    url = f"/console/cases/{case['code']}"
    answer = post_form(operator, url, url + "/status", {"status": "da_xoa", "send_key": uuid.uuid4().hex})
    page = operator.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Lựa chọn không hợp lệ." in page and "Not a valid choice" not in page
    answer = post_form(operator, url, url + "/note", {"send_key": "khong-hop-le"})  # no note, a bad key
    page = operator.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Vui lòng nhập ghi chú." in page and "Invalid input" not in page
    assert repository.find_case(case["code"])["status"] == "routed"
    assert [e["status"] for e in repository.case_history(case["code"])] == ["new", "routed"]


def test_the_pages_poll_as_often_as_console_refresh_seconds_says(operator):
    """The queue, a chat's history and the live poll ask for news every CONSOLE_REFRESH_SECONDS
    (1 in the tests, whose browsers wait on those polls); 5 by default, never under 1."""
    page = operator.get("/console/chats").get_data(as_text=True)
    assert 'data-live-seconds="1"' in page and 'data-refresh-seconds="1"' in page
    assert Settings.from_env({}).console_refresh_seconds == 5.0
    assert Settings.from_env({"CONSOLE_REFRESH_SECONDS": "0.1"}).console_refresh_seconds == 1.0
