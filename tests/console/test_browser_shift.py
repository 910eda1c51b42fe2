"""A hotline shift in real browsers (issue 14): two operators in two browsers contending for an
urgent chat, an admin taking it over, a session that ends and a server that restarts under an open
queue, an agency's send-back round trip on a phone, canned replies and Ctrl+Enter on a 360 px
screen, every page at 360 px without sideways scrolling, the routing form keeping the other edits.
Screenshots are kept under var/screenshots/ (console-shift-*)."""
from __future__ import annotations

import threading
import time

import pytest
from playwright.sync_api import expect
from werkzeug.serving import WSGIRequestHandler, make_server

from bot import texts
from bot.routing import RoutingTable
from tests.browser import screenshot
from tests.conftest import free_port, post_zalo, wait_until
from tests.console.conftest import PASSWORD, password_hash
from tests.test_end_to_end import zalo_text

CITIZEN = "246845883529197922"  # the Zalo fixture's user
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 860}
LIVE = 20_000  # ms: the page polls every second here; the worker must have handled the message first
# Records what the page raises instead of showing it: browser notifications and the bell.
RECORD_ALERTS = """
window.__notified = [];
window.__beeps = 0;
window.Notification = function (title, options) { window.__notified.push(title + ": " + ((options || {}).body || "")); };
window.Notification.permission = "granted";
window.Notification.requestPermission = function () { return Promise.resolve("granted"); };
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function () { window.__beeps += 1; return start.apply(this, arguments); };
"""
CREW = (("an", "Nguyễn Văn An", "operator", None), ("binh", "Trần Thị Bình", "operator", None),
        ("cuong", "Lê Văn Cường", "admin", None), ("ubnd_cl", "UBND huyện Càng Long", "agency", "ubnd_cang_long"),
        ("ubnd_ck", "UBND huyện Cầu Kè", "agency", "ubnd_cau_ke"))


@pytest.fixture
def crew(repository):
    for username, name, role, agency in CREW:
        repository.create_staff(username=username, password_hash=password_hash(), role=role, agency=agency,
                                name=name)
    return repository


@pytest.fixture
def person(browser):
    """A person at their own device: person("desktop") or person("phone"), each its own browser
    context (own cookies, own session), notifications allowed and recorded."""
    contexts = []

    def open_one(kind: str = "desktop"):
        context = browser.new_context(viewport=PHONE if kind == "phone" else DESKTOP, locale="vi-VN")
        context.add_init_script(RECORD_ALERTS)
        contexts.append(context)
        return context.new_page()

    yield open_one
    for context in contexts:
        context.close()


def log_in(page, base: str, username: str):
    page.goto(f"{base}/console/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    expect(page.locator("form.who")).to_be_attached()  # signed in (the menu may be folded on a phone)
    # The page laid out with its stylesheet: on a busy machine a size measured before it loaded
    # was the unstyled header's (two lines, 80 px).
    page.wait_for_load_state()


def notified(page) -> list[str]:
    return page.evaluate("window.__notified")


def wider_than_the_screen(page) -> list[str]:
    return page.evaluate("""[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > innerWidth + 1)
        .map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))""")


def case_of(repository, category: str = "report", district: str = "Huyện Càng Long", phone: str = "0912345678"):
    return repository.file_case(source=f"zalo:walk-{category}-{district}", channel="zalo", user_id=CITIZEN,
                                category=category, description="Quán karaoke mở cửa, tụ tập đông người",
                                district=district, details={"place": "Ấp 3, xã An Trường", "phone": phone},
                                route=RoutingTable.load().route(category, district))


# ---- 1 and 2: two operators, one urgent chat; alerts; the admin takes over; close and claim again ----

def test_two_operators_contend_for_an_urgent_chat_and_an_admin_takes_it_over(live_url, app, crew, person, fake_zalo):
    an, binh = person(), person()
    log_in(an, live_url, "an")
    log_in(binh, live_url, "binh")
    for page in (an, binh):
        expect(page.locator("#queue")).to_contain_text("Không có cuộc trò chuyện nào đang chờ")
    assert post_zalo(app.test_client(), zalo_text("mẹ tôi khó thở, spo2 chỉ còn 90", "walk-urgent-1")).status_code == 200
    for page in (an, binh):  # both queues show it, with a sound, a notification and the count in the tab title
        expect(page.locator("#queue tbody tr").filter(has_text="Sức khỏe khẩn cấp")).to_have_count(1, timeout=LIVE)
        expect(page).to_have_title("(1) Hàng chờ · Tổng đài 1022", timeout=LIVE)
        wait_until(lambda: any(n.startswith("Cuộc trò chuyện khẩn") for n in notified(page)), 15, "the notification")
        expect(page.locator("#live-alert")).to_contain_text("Cuộc trò chuyện khẩn")
        assert page.evaluate("window.__beeps") >= 1
    screenshot(an, "console-shift-urgent-alert")

    for page in (an, binh):
        page.locator("#queue tbody tr").filter(has_text="Sức khỏe khẩn cấp").get_by_role("link", name="Mở").click()
        expect(page.get_by_role("button", name="Nhận xử lý")).to_be_visible()
    an.get_by_role("button", name="Nhận xử lý").click()
    binh.get_by_role("button", name="Nhận xử lý").click()  # a second later, on a page drawn before An's claim
    expect(an.locator("#chat-state")).to_contain_text("Anh/chị đang xử lý")
    expect(an.locator(".citizen-panel")).to_contain_text("tư vấn sức khỏe")  # the urgent case the bot filed, beside the chat
    expect(binh.get_by_role("alert").first).to_contain_text("đã có cán bộ khác nhận: Nguyễn Văn An")
    expect(binh.locator("#chat-state")).to_contain_text("Nguyễn Văn An")
    expect(binh.get_by_label("Nội dung trả lời")).to_be_disabled()
    expect(binh.get_by_text("Đóng cuộc trò chuyện", exact=True)).to_have_count(0)
    assert crew.conversation("zalo", CITIZEN)["staff_owner"] == "an"
    screenshot(binh, "console-shift-claim-lost")

    an.get_by_label("Nội dung trả lời").fill("Cán bộ Tổng đài 1022 đây ạ. Anh/chị cho biết địa chỉ để gọi 115 hỗ trợ.")
    an.get_by_role("button", name="Gửi qua Zalo").click()
    expect(an.get_by_role("status").first).to_have_text("Đã gửi.")
    an.goto(f"{live_url}/console/chats")  # An works the queue; the citizen answers meanwhile
    assert post_zalo(app.test_client(), zalo_text("ấp Mỹ Văn, xã Đức Mỹ", "walk-urgent-2")).status_code == 200
    wait_until(lambda: any(n.startswith("Tin nhắn mới") and "Đức Mỹ" in n for n in notified(an)), 25, "the new message")
    expect(an.locator("#queue tr.unread")).to_contain_text("Tin mới")

    cuong = person()
    log_in(cuong, live_url, "cuong")
    cuong.goto(f"{live_url}/console/chats/zalo/{CITIZEN}")
    expect(cuong.locator("#chat-state")).to_contain_text("Nguyễn Văn An")
    cuong.get_by_text("Tiếp quản", exact=True).click()
    screenshot(cuong, "console-shift-takeover-confirm")
    cuong.get_by_role("button", name="Xác nhận tiếp quản").click()
    expect(cuong.locator("#chat-state")).to_contain_text("Anh/chị đang xử lý")
    wait_until(lambda: any("Lê Văn Cường đã tiếp quản" in n for n in notified(an)), 15, "An told of the take-over")
    expect(an.locator("[data-badge=alerts]")).to_have_text("1")

    cuong.get_by_text("Đóng cuộc trò chuyện", exact=True).click()
    expect(cuong.locator("details.confirm[open] textarea")).to_have_value(texts.CHAT_CLOSED)
    cuong.get_by_role("button", name="Xác nhận đóng").click()
    expect(cuong.get_by_role("status").first).to_contain_text("Đã đóng cuộc trò chuyện. Đã nhắn cho người dân.")
    wait_until(lambda: texts.CHAT_CLOSED in fake_zalo.texts_to(CITIZEN), 20, "the closing message to the citizen")

    # The chat is back with the bot: "Tất cả cuộc trò chuyện" lists it and it can be claimed again.
    an.goto(f"{live_url}/console/chats/all")
    row = an.locator("table.chats tbody tr").filter(has_text="…7922")
    expect(row).to_contain_text("Trợ lý tự động đang trả lời")
    row.get_by_role("link", name="Mở").click()
    an.get_by_role("button", name="Nhận xử lý").click()
    expect(an.locator("#chat-state")).to_contain_text("Anh/chị đang xử lý")
    screenshot(an, "console-shift-claimed-again")


# ---- 2: a page never looks alive while it is not -------------------------------------------------

class RestartableServer:
    """The web app on a fixed port that can be stopped and started again, like a restart."""

    class Handler(WSGIRequestHandler):
        protocol_version = "HTTP/1.0"  # no kept-alive connection outlives the stop

    def __init__(self, app):
        self.app, self.port, self.server = app, free_port(), None
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self):
        self.server = make_server("127.0.0.1", self.port, self.app, threaded=True, request_handler=self.Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_the_queue_says_so_when_the_session_ends_or_the_server_restarts(app, crew, person):
    server = RestartableServer(app)
    server.start()
    try:
        page = person("phone")
        log_in(page, server.url, "an")
        banner = page.locator("#connection")
        expect(banner).to_be_hidden()
        server.stop()
        expect(banner).to_contain_text("Mất kết nối với máy chủ", timeout=LIVE)
        expect(page).to_have_title("[Mất kết nối] Hàng chờ · Tổng đài 1022")
        screenshot(page, "console-shift-offline-360px")
        server.start()
        expect(banner).to_contain_text("Đã kết nối lại", timeout=LIVE)
        expect(banner).to_be_hidden(timeout=LIVE)

        page.context.clear_cookies()  # the session ends (expired, signed out elsewhere, account locked)
        expect(banner).to_contain_text("Phiên đăng nhập đã kết thúc", timeout=LIVE)
        expect(page).to_have_title("[Đã đăng xuất] Hàng chờ · Tổng đài 1022")
        screenshot(page, "console-shift-signed-out-360px")
        banner.get_by_role("link", name="Đăng nhập lại").click()
        page.get_by_label("Tên đăng nhập").fill("an")
        page.get_by_label("Mật khẩu").fill(PASSWORD)
        page.get_by_role("button", name="Đăng nhập").click()
        expect(page.get_by_role("heading", name="Cuộc trò chuyện chờ cán bộ")).to_be_visible()  # back where it was
        expect(banner).to_be_hidden()
    finally:
        server.stop()


# ---- 3: the agency's send-back round trip, the agency on a phone ------------------------------------

def test_an_agency_sends_a_case_back_and_the_hotline_reroutes_it(live_url, crew, person, fake_zalo):
    case = case_of(crew)
    agency, operator = person("phone"), person()
    log_in(operator, live_url, "binh")
    log_in(agency, live_url, "ubnd_cl")
    agency.get_by_role("link", name=case["code"]).click()
    expect(agency.locator("#details-title + .facts")).to_contain_text("0912***678")  # the reporter stays confidential
    expect(agency.locator("#status-visibility-internal")).to_be_checked()  # an agency writes to the hotline first
    agency.get_by_label("Trạng thái mới").select_option("not_responsible")
    agency.locator("#status-note").fill("Địa điểm thuộc xã Hòa Ân, huyện Cầu Kè, không thuộc Càng Long")
    agency.get_by_role("button", name="Cập nhật").click()
    expect(agency.get_by_role("status").first).to_contain_text("Đã trả hồ sơ về tổng đài")
    expect(agency.locator("#sent-back-note")).to_be_visible()
    screenshot(agency, "console-shift-sent-back-360px")

    wait_until(lambda: any("trả hồ sơ " + case["code"] in n for n in notified(operator)), 15, "the hotline alerted")
    expect(operator.locator("#queue")).to_contain_text(case["code"], timeout=LIVE)
    operator.locator("#queue").get_by_role("link", name=case["code"]).click()
    expect(operator.locator("#sent-back-note")).to_contain_text("Hòa Ân")
    operator.get_by_label("Chuyển đến cơ quan").select_option("ubnd_cau_ke")
    operator.locator("#route-note").fill("Theo UBND huyện Càng Long: địa điểm thuộc Cầu Kè")
    expect(operator.locator("#route-visibility-internal")).to_be_checked()
    operator.get_by_role("button", name="Chuyển", exact=True).click()
    expect(operator.get_by_role("status").first).to_contain_text("Đã chuyển hồ sơ đến Ủy ban nhân dân huyện Cầu Kè")
    screenshot(operator, "console-shift-rerouted")

    cau_ke = person("phone")
    log_in(cau_ke, live_url, "ubnd_ck")
    expect(cau_ke.locator("[data-badge=alerts]")).to_have_text("1", timeout=LIVE)
    expect(cau_ke.locator("#live-alert")).to_contain_text(f"Tổng đài chuyển hồ sơ {case['code']}")
    expect(cau_ke.get_by_role("link", name=case["code"], exact=True)).to_be_visible()
    screenshot(cau_ke, "console-shift-rerouted-agency-360px")
    assert not [t for t in fake_zalo.texts_to(CITIZEN) if case["code"] in t]  # internal all along


# ---- 4 and 7: the phone: header, reply box, canned replies, every page without sideways scrolling ---

def _long_chat(app, repository) -> None:
    """A citizen who asked for a person after a long exchange with the bot."""
    assert post_zalo(app.test_client(), zalo_text("cho tôi gặp cán bộ", "walk-long-0")).status_code == 200
    wait_until(lambda: repository.conversation("zalo", CITIZEN).get("handler") == "waiting", 30, "the hand-off")
    now = time.time()
    repository.messages.insert_many([
        {"channel": "zalo", "message_id": f"walk-long-{n}", "user_id": CITIZEN, "direction": "in" if n % 2 else "out",
         "sender": "bot", "text": f"Tin nhắn thứ {n} trong cuộc trò chuyện dài với tổng đài", "state": "done",
         "received_ts": now - 3600 + n, "lease_until": 0.0} for n in range(1, 41)])


def test_a_shift_on_a_360_px_phone(live_url, app, crew, person, fake_zalo):
    _long_chat(app, crew)
    case = case_of(crew)
    page = person("phone")
    log_in(page, live_url, "an")
    header = page.locator("header.top").bounding_box()
    assert header["height"] <= 64, header  # brand, alerts and a menu button on one line
    expect(page.locator("#main-nav")).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(page.locator("#main-nav").get_by_role("link", name="Tất cả cuộc trò chuyện")).to_be_visible()
    screenshot(page, "console-shift-menu-360px")
    page.get_by_role("button", name="Menu").click()

    page.locator("#queue tbody tr").first.get_by_role("link", name="Mở").click()
    page.get_by_role("button", name="Nhận xử lý").click()
    reply = page.get_by_label("Nội dung trả lời")
    box = reply.bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box  # reachable without scrolling
    page.get_by_role("button", name="Gửi qua Zalo").scroll_into_view_if_needed()
    assert page.get_by_role("button", name="Gửi qua Zalo").bounding_box()["y"] < PHONE["height"]
    screenshot(page, "console-shift-chat-360px")

    reply.click()
    reply.type("/11")
    expect(page.locator("#canned-suggest")).to_contain_text("Cấp cứu 115")
    screenshot(page, "console-shift-canned-360px")
    reply.press("Enter")
    assert page.evaluate("document.getElementById('reply-text').value").startswith("Các dấu hiệu anh/chị mô tả")
    sent_before = len(fake_zalo.received)
    reply.press("Control+Enter")
    expect(page.get_by_role("status").first).to_have_text("Đã gửi.")
    [sent] = fake_zalo.wait_for(sent_before + 1)[sent_before:]
    assert sent["message"]["text"].startswith("Các dấu hiệu anh/chị mô tả có thể nguy hiểm. Anh/chị gọi ngay cấp cứu 115")

    page.goto(f"{live_url}/console/cases")
    first = page.locator("table.list tbody tr").first.bounding_box()
    assert first["y"] < PHONE["height"] / 2, first  # the filters are folded behind one button
    page.get_by_text("Bộ lọc", exact=True).click()
    expect(page.get_by_label("Chỉ hồ sơ quá hạn")).to_be_visible()

    for path, name in (("/console/chats", "queue"), ("/console/chats/all", "all-chats"),
                       (f"/console/chats/zalo/{CITIZEN}", "chat"), ("/console/cases", "cases"),
                       (f"/console/cases/{case['code']}", "case"),
                       ("/console/dashboard", "dashboard"), ("/console/alerts", "alerts"), ("/console/account", "account"),
                       ("/console/cases/TV-ZZZZZZ", "404")):
        page.goto(live_url + path)
        assert not wider_than_the_screen(page), (path, wider_than_the_screen(page))
        screenshot(page, f"console-shift-{name}-360px")
    expect(page.get_by_role("heading", name="Không tìm thấy")).to_be_visible()

    admin = person("phone")
    log_in(admin, live_url, "cuong")
    for path, name in (("/console/admin/staff", "staff"), ("/console/admin/routing", "routing"),
                       ("/console/admin/replies", "replies"), ("/console/admin/privacy", "privacy"),
                       ("/console/admin/audit", "audit")):
        admin.goto(live_url + path)
        assert not wider_than_the_screen(admin), (path, wider_than_the_screen(admin))
        screenshot(admin, f"console-shift-admin-{name}-360px")
    expect(admin.locator("table.audit")).to_contain_text("Nhận xử lý cuộc trò chuyện")  # readable, by name
    expect(admin.locator("table.audit")).to_contain_text("Nguyễn Văn An")


# ---- 8: the routing form keeps every other edit when one is wrong ----------------------------------

def test_the_routing_form_marks_the_wrong_field_and_keeps_the_other_edits(live_url, crew, person):
    page = person()
    log_in(page, live_url, "cuong")
    page.goto(f"{live_url}/console/admin/routing")
    page.get_by_label("Phản ánh vi phạm phòng, chống dịch", exact=True).fill("một ngày")
    page.get_by_label("Tên cơ quan cdc").fill("Trung tâm Kiểm soát bệnh tật tỉnh Trà Vinh")
    page.get_by_label("Thêm huyện / đơn vị mới").fill("Thị xã Cầu Kè")
    page.get_by_role("button", name="Lưu thay đổi").click()
    expect(page.get_by_role("alert").first).to_contain_text("Chưa lưu: 1 ô cần sửa")
    expect(page.locator("#err-sla-report")).to_contain_text("Thời hạn phải là số giờ")
    expect(page.get_by_label("Tên cơ quan cdc")).to_have_value("Trung tâm Kiểm soát bệnh tật tỉnh Trà Vinh")
    expect(page.get_by_label("Thêm huyện / đơn vị mới")).to_have_value("Thị xã Cầu Kè")
    screenshot(page, "console-shift-routing-error")
    page.locator("#sla-report").fill("12")
    page.get_by_role("button", name="Lưu thay đổi").click()
    expect(page.get_by_role("status").first).to_contain_text("Đã thêm Thị xã Cầu Kè")
    table = RoutingTable.current(crew)
    assert table.sla_hours["report"] == 12 and "Thị xã Cầu Kè" in table.districts
    assert table.agencies["cdc"] == "Trung tâm Kiểm soát bệnh tật tỉnh Trà Vinh"
