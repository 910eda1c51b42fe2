"""The staff console in a real browser (Playwright driving Debian's Chromium) against the running
app: real database, real NLU server, the worker running, the fake platforms receiving sends.
Screenshots of the main pages are saved under var/screenshots/."""
from __future__ import annotations

import re
import time

import pytest
import requests
from playwright.sync_api import expect

from bot.console.throttle import PAIR_FREE as MAX_FAILURES
from bot.routing import RoutingTable
from tests.browser import screenshot
from tests.conftest import post_facebook, post_zalo, wait_until
from tests.console.conftest import PASSWORD
from tests.test_end_to_end import facebook_text, zalo_text
from tests.webhooks.test_web import PNG

CITIZEN = "246845883529197922"  # the Zalo fixture's user
PSID = "6543217890123456"       # the Messenger fixture's user
DAY = 86400


def log_in(page, live_url: str, username: str, password: str = PASSWORD):
    page.goto(f"{live_url}/console/")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


def test_log_in_and_lock_out_after_wrong_passwords(live_url, staff, desktop, page):
    log_in(page, live_url, "dtv1")
    expect(page.get_by_role("heading", name="Cuộc trò chuyện chờ cán bộ")).to_be_visible()
    screenshot(page, "console-queue-360px")

    for _ in range(MAX_FAILURES):
        log_in(desktop, live_url, "dtv2", "sai-mat-khau")
        expect(desktop.get_by_role("alert")).to_contain_text("không đúng")
    screenshot(desktop, "console-login-error")
    log_in(desktop, live_url, "dtv2")  # the right password no longer opens a locked account
    expect(desktop.get_by_role("alert")).to_contain_text("tạm khóa")
    assert any(e["action"] == "login.throttled" and e["target"] == "dtv2" for e in staff.audit_entries())


def test_escalated_chat_appears_in_the_queue_is_claimed_and_answered_on_zalo(live_url, app, staff, desktop, fake_zalo,
                                                                             tmp_path):
    log_in(desktop, live_url, "dtv1")
    queue = desktop.locator("#queue")
    expect(queue).to_contain_text("Không có cuộc trò chuyện nào đang chờ")
    # The citizen asks for a person; the page shows the chat without being reloaded.
    assert post_zalo(app.test_client(), zalo_text("cho tôi gặp cán bộ trực tổng đài", "z-esc-1")).status_code == 200
    row = queue.locator("tbody tr").filter(has_text="Người dân muốn gặp cán bộ")
    expect(row).to_have_count(1, timeout=30_000)
    expect(row).to_contain_text("cho tôi gặp cán bộ")
    screenshot(desktop, "console-queue")
    sent_before = len(fake_zalo.received)

    row.get_by_role("link", name="Mở").click()
    expect(desktop.get_by_label("Nội dung trả lời")).to_be_disabled()  # not claimed yet
    desktop.get_by_role("button", name="Nhận xử lý").click()
    desktop.get_by_label("Nội dung trả lời").fill("Chào anh/chị, cán bộ Tổng đài 1022 đây ạ. Anh/chị cần hỗ trợ gì?")
    desktop.get_by_role("button", name="Gửi qua Zalo").click()
    expect(desktop.get_by_role("status")).to_have_text("Đã gửi.")
    [sent] = fake_zalo.wait_for(sent_before + 1)[sent_before:]
    assert sent["recipient"]["user_id"] == CITIZEN
    assert sent["message"]["text"] == "Chào anh/chị, cán bộ Tổng đài 1022 đây ạ. Anh/chị cần hỗ trợ gì?"
    expect(desktop.locator("article.msg.staff")).to_contain_text("cán bộ Tổng đài 1022 đây ạ")

    photo = tmp_path / "huong-dan.png"
    photo.write_bytes(PNG)
    desktop.get_by_label("Ảnh gửi kèm").set_input_files(str(photo))
    desktop.get_by_role("button", name="Gửi qua Zalo").click()
    expect(desktop.get_by_role("status")).to_have_text("Đã gửi.")
    [sent_photo] = fake_zalo.wait_for(sent_before + 2)[sent_before + 1:]
    [element] = sent_photo["message"]["attachment"]["payload"]["elements"]
    assert fake_zalo.uploads[element["attachment_id"]]["size"] == len(PNG)
    expect(desktop.locator("article.msg.staff img")).to_have_count(1)
    screenshot(desktop, "console-chat")

    # The citizen answers: the bot stays silent, the person sees it in the history.
    assert post_zalo(app.test_client(), zalo_text("tôi muốn hỏi về hỗ trợ", "z-esc-2")).status_code == 200
    expect(desktop.locator("article.msg.citizen").filter(has_text="tôi muốn hỏi về hỗ trợ")).to_have_count(
        1, timeout=30_000)
    assert len(fake_zalo.received) == sent_before + 2
    desktop.get_by_text("Giao lại cho trợ lý tự động").click()  # asks for confirmation first
    desktop.get_by_role("button", name="Xác nhận giao lại").click()
    expect(desktop.get_by_role("status")).to_contain_text("Đã giao lại")
    assert staff.conversation("zalo", CITIZEN)["handler"] == "bot"


def _messenger_chat_written(app, staff, days_ago: float) -> None:
    """A Messenger citizen asked for a person `days_ago` days ago and has been silent since."""
    assert post_facebook(app.test_client(), facebook_text("cho tôi gặp nhân viên", f"m-old-{days_ago}")).status_code == 200
    wait_until(lambda: staff.conversation("facebook", PSID).get("handler") == "waiting", 30, "the hand-off")
    staff.messages.update_many({"channel": "facebook", "user_id": PSID, "direction": "in"},
                               {"$set": {"received_ts": time.time() - days_ago * DAY}})


def test_reply_outside_the_window_is_refused_with_the_reason_before_sending(live_url, app, staff, desktop, fake_graph):
    _messenger_chat_written(app, staff, days_ago=8)
    log_in(desktop, live_url, "dtv1")
    desktop.locator("#queue tbody tr").filter(has_text="Messenger").get_by_role("link", name="Mở").click()
    desktop.get_by_role("button", name="Nhận xử lý").click()
    note = desktop.locator("#window-note")
    expect(note).to_contain_text("Không thể trả lời")
    expect(note).to_contain_text("quá 7 ngày")
    expect(desktop.get_by_label("Nội dung trả lời")).to_be_disabled()
    expect(desktop.get_by_role("button", name="Gửi qua Messenger")).to_be_disabled()
    screenshot(desktop, "console-chat-window-closed")
    sent_before = len(fake_graph.received)
    # Even a post made around the page (e.g. a stale tab) is refused by the server, and recorded.
    token = desktop.locator('form.reply input[name="csrf_token"]').input_value()
    cookies = {c["name"]: c["value"] for c in desktop.context.cookies()}
    answer = requests.post(f"{live_url}/console/chats/facebook/{PSID}/reply", cookies=cookies, timeout=10,
                           data={"csrf_token": token, "send_key": "a" * 32, "text": "Trả lời muộn"})
    assert answer.status_code == 200 and "quá 7 ngày" in answer.text
    assert len(fake_graph.received) == sent_before
    assert staff.find_message("facebook", "staff:" + "a" * 32)["state"] == "refused"


def test_reply_between_one_and_seven_days_goes_as_a_human_agent_reply(live_url, app, staff, desktop, fake_graph):
    _messenger_chat_written(app, staff, days_ago=3)
    log_in(desktop, live_url, "dtv1")
    desktop.locator("#queue tbody tr").filter(has_text="Messenger").get_by_role("link", name="Mở").click()
    desktop.get_by_role("button", name="Nhận xử lý").click()
    expect(desktop.locator("#window-note")).to_contain_text("HUMAN_AGENT")
    sent_before = len(fake_graph.received)
    desktop.get_by_label("Nội dung trả lời").fill("Tổng đài 1022 xin trả lời anh/chị.")
    desktop.get_by_role("button", name="Gửi qua Messenger").click()
    expect(desktop.get_by_role("status")).to_have_text("Đã gửi.")
    [sent] = fake_graph.wait_for(sent_before + 1)[sent_before:]
    assert (sent["messaging_type"], sent["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")


def _case(staff, district: str = "Huyện Càng Long", phone: str = "0912345678"):
    """A violation report filed and routed as the bot files it."""
    return staff.file_case(source=f"zalo:seed-{district}", channel="zalo", user_id=CITIZEN, category="report",
                           description="Quán karaoke mở cửa, tụ tập đông người", district=district,
                           details={"place": "Ấp 3, xã An Trường", "phone": phone},
                           route=RoutingTable.load().route("report", district))


def test_status_change_is_told_to_the_citizen(live_url, app, staff, desktop, fake_zalo):
    assert post_zalo(app.test_client(), zalo_text("xin chào", "z-hello")).status_code == 200  # the window is open
    fake_zalo.wait_for(1)
    case = _case(staff)
    log_in(desktop, live_url, "dtv1")
    desktop.goto(f"{live_url}/console/cases")
    expect(desktop.get_by_role("row").filter(has_text=case["code"])).to_contain_text("0912***678")  # masked
    screenshot(desktop, "console-cases")
    desktop.get_by_role("link", name=case["code"]).click()
    expect(desktop.locator("#details-title + .facts")).to_contain_text("0912345678")  # in full on the case page, for an operator
    desktop.get_by_label("Trạng thái mới").select_option("in_progress")
    desktop.get_by_label("Ghi chú", exact=True).first.fill("Công an xã đã đến kiểm tra.")
    desktop.get_by_role("button", name="Cập nhật").click()
    expect(desktop.locator("#case-status")).to_have_text("đang xử lý")
    texts = wait_until(lambda: [t for t in fake_zalo.texts_to(CITIZEN) if case["code"] in t], 30, "the notice")
    assert "đang xử lý" in texts[0] and "Công an xã đã đến kiểm tra." in texts[0]
    # The platform has it; the worker records the outcome just after.
    wait_until(lambda: staff.messages.find_one({"kind": "notice", "state": "sent"}), 30, "the notice recorded as sent")
    desktop.reload()
    expect(desktop.locator(".timeline")).to_contain_text("đã gửi")
    screenshot(desktop, "console-case")


def test_an_agency_sees_only_its_own_cases_also_by_url(live_url, app, staff, desktop):
    own, other = _case(staff), _case(staff, "Huyện Cầu Kè")
    log_in(desktop, live_url, "ubnd_cl")
    expect(desktop.get_by_role("heading", name=re.compile("Hồ sơ"))).to_be_visible()
    expect(desktop.get_by_role("link", name=own["code"])).to_be_visible()
    expect(desktop.get_by_role("link", name=other["code"])).to_have_count(0)
    response = desktop.goto(f"{live_url}/console/cases/{other['code']}")
    assert response.status == 404
    assert desktop.goto(f"{live_url}/console/chats").status == 403  # chats are the operators' work
    assert desktop.goto(f"{live_url}/console/cases/{own['code']}").status == 200


def test_csv_export_opens_in_excel_with_vietnamese_intact(live_url, staff, desktop):
    case = _case(staff)
    log_in(desktop, live_url, "dtv1")
    desktop.goto(f"{live_url}/console/cases")
    with desktop.expect_download() as download:
        desktop.get_by_role("link", name="Tải CSV", exact=True).click()
    content = download.value.path().read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM
    lines = content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Mã hồ sơ,Ngày tiếp nhận,Loại,Trạng thái")
    [row] = [line for line in lines if case["code"] in line]
    assert "phản ánh vi phạm phòng, chống dịch" in row and "0912***678" in row and "0912345678" not in row
    with desktop.expect_download() as download:
        desktop.get_by_role("link", name="Tải Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    assert download.value.path().read_bytes().startswith(b"PK")  # a workbook: Excel's columns, whatever the locale


def test_post_without_csrf_token_is_refused(live_url, staff, desktop):
    case = _case(staff)
    log_in(desktop, live_url, "dtv1")
    cookies = {c["name"]: c["value"] for c in desktop.context.cookies()}
    answer = requests.post(f"{live_url}/console/cases/{case['code']}/status", cookies=cookies, timeout=10,
                           data={"status": "resolved", "note": "", "send_key": "b" * 32})
    assert answer.status_code == 400
    assert staff.find_case(case["code"])["status"] == "routed"


def test_dashboard_draws_the_figures(live_url, staff, desktop):
    _case(staff)
    log_in(desktop, live_url, "quantri")
    desktop.goto(f"{live_url}/console/dashboard")
    expect(desktop.locator(".tile").first).to_contain_text("1")
    expect(desktop.locator("figure.chart svg rect.cat-report")).to_have_count(2)  # this day, this week
    screenshot(desktop, "console-dashboard")


def test_admin_pages_and_the_case_list_on_a_phone(live_url, staff, desktop, page):
    _case(staff)
    log_in(desktop, live_url, "quantri")
    for path, heading, name in (("/console/admin/staff", "Tài khoản cán bộ", "console-admin-staff"),
                                ("/console/admin/routing", "Cơ quan, phân công và thời hạn xử lý", "console-admin-routing"),
                                ("/console/admin/audit", "Nhật ký thao tác", "console-admin-audit")):
        desktop.goto(live_url + path)
        expect(desktop.get_by_role("heading", name=heading)).to_be_visible()
        screenshot(desktop, name)
    expect(desktop.locator("table.list")).to_contain_text("Đăng nhập")  # this admin's own sign-in, audited
    log_in(page, live_url, "dtv1")
    page.goto(f"{live_url}/console/cases")
    expect(page.get_by_label("Tìm mã hồ sơ hoặc số điện thoại")).to_be_visible()
    wide = page.evaluate("""[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 361)
                              .map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + e.getBoundingClientRect().right)""")
    assert not wide, wide  # nothing wider than the phone
    screenshot(page, "console-cases-360px")
