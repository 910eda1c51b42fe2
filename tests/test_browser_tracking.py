"""The public tracking page and the privacy page in a real browser (issue 17): Playwright driving
Debian's Chromium, on a 360 px phone and on a desktop, against the running app (real database,
real NLU server, the worker running). Screenshots in var/screenshots/."""
from __future__ import annotations

import threading

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from bot import cases
from bot.app import create_app
from bot.config import Settings
from bot.worker import Worker, build_pipeline
from tests.browser import screenshot
from tests.conftest import environment_for_tests, free_port
from webhooks.registry import build_channels

PHONE = "0918123456"


@pytest.fixture
def site(database_uri, nlu_url, fake_zalo, fake_graph, tmp_path):
    """The app on a port known in advance: PUBLIC_URL, in the links the bot sends, is its address."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    settings = Settings.from_env({**environment_for_tests(database_uri, nlu_url, fake_zalo.url, fake_graph.base_url,
                                                          tmp_path / "var"), "PUBLIC_URL": url})
    app = create_app(settings)
    repository = app.extensions["repository"]
    worker = Worker(repository, build_pipeline(settings, repository, build_channels(settings, repository)),
                    worker_id="browser-worker")
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    working = threading.Thread(target=worker.run_forever, daemon=True)
    working.start()
    yield url, repository
    worker.stopping.set()
    working.join(timeout=30)
    server.shutdown()
    repository.close()


def a_case(repository, phone: str | None = PHONE) -> dict:
    details = {"place": "khóm 3 phường 7", "name": "Lâm Thị Sa Ry", **({"phone": phone} if phone else {})}
    case = cases.file(repository, source=f"zalo:browser-{phone}", channel="zalo", user_id="5519034418827731",
                      category="welfare", description="Nhà tui mất việc, xin hỗ trợ gạo", details=details,
                      district="Thành phố Trà Vinh", media=[], urgent=False)
    cases.add_note(repository, case["code"], by="dtv1", note="Đã gọi chị Sa Ry, hẹn thứ Hai", public=False, key="n1")
    cases.change_status(repository, case["code"], "in_progress", by="ldtbxh", public=True,
                        note="Phòng Lao động đang xác minh hoàn cảnh để hỗ trợ")
    return repository.find_case(case["code"])


def look_up(tab, url: str, code: str, digits: str = "") -> None:
    tab.goto(f"{url}/tra-cuu")
    tab.get_by_label("Mã hồ sơ").fill(code)
    tab.get_by_label("4 số cuối điện thoại").fill(digits)
    tab.get_by_role("button", name="Tra cứu").click()
    tab.wait_for_load_state()  # the answer's page laid out with its stylesheet before anything is measured


def fits(tab) -> bool:
    return tab.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("screen", ["page", "desktop"])
def test_a_citizen_follows_a_case_and_sees_nothing_personal(site, screen, request):
    url, repository = site
    tab, label = request.getfixturevalue(screen), "360px" if screen == "page" else "desktop"
    case = a_case(repository)
    tab.goto(f"{url}/tra-cuu")
    expect(tab.get_by_role("heading", name="Tra cứu hồ sơ")).to_be_visible()
    assert fits(tab)
    screenshot(tab, f"tra-cuu-form-{label}")
    look_up(tab, url, case["code"].lower(), PHONE[-4:])
    result = tab.locator("#result")
    expect(result).to_be_visible()
    shown = result.inner_text()
    for wanted in (case["code"], "Đề nghị hỗ trợ an sinh", "Đang xử lý", case["agency_name"],
                   "Phòng Lao động đang xác minh hoàn cảnh để hỗ trợ", "Hạn xử lý"):
        assert wanted in shown, wanted
    page_text = tab.locator("body").inner_text()
    for private in ("Lâm Thị Sa Ry", "Sa Ry", PHONE, "mất việc", "khóm 3", "Đã gọi", "5519034418827731"):
        assert private not in page_text, private
    assert tab.url == f"{url}/tra-cuu"  # the code and digits were posted, not put in the address
    assert fits(tab)
    screenshot(tab, f"tra-cuu-found-{label}")


def test_a_wrong_code_and_a_wrong_phone_read_the_same(site, page):
    url, repository = site
    case = a_case(repository)
    answers = []
    for code, digits, name in ((f"TV-{'B' if case['code'][3] == 'A' else 'A'}{case['code'][4:]}", PHONE[-4:], "wrong-code"),
                               (case["code"], "0000", "wrong-phone"), (case["code"], "", "no-phone")):
        look_up(page, url, code, digits)
        notice = page.locator("#not-found")
        expect(notice).to_be_visible()
        answers.append(notice.inner_text())
        assert page.locator("#result").count() == 0 and "Sa Ry" not in page.locator("body").inner_text()
        screenshot(page, f"tra-cuu-{name}-360px")
    assert len(set(answers)) == 1 and "Không tìm thấy hồ sơ" in answers[0]
    look_up(page, url, "TV-12AB")  # what cannot be a code is said so, next to the field
    expect(page.locator("#ma-error")).to_contain_text("TV- và 6 ký tự")
    assert page.get_by_label("Mã hồ sơ").get_attribute("aria-invalid") == "true"


def test_the_link_in_the_chat_opens_the_page_with_the_code_and_the_privacy_page_explains(site, page, desktop):
    url, repository = site
    page.goto(url)
    page.get_by_label("Nội dung tin nhắn").fill(
        "Tối nay ở khóm 3 phường 7 TP Trà Vinh có đám nhậu hơn 20 người, không đeo khẩu trang")
    page.keyboard.press("Enter")
    summary = page.locator('.message[data-direction="out"]').filter(has_text="kiểm tra lại")
    expect(summary).to_have_count(1, timeout=30_000)
    assert "quyen-rieng-tu" in summary.inner_text()  # the first reply: what is kept and why
    page.locator(".choices").get_by_role("button", name="Gửi").click()
    link = page.locator('.message[data-direction="out"] a[href*="/tra-cuu?ma=TV-"]')
    expect(link).to_have_count(1, timeout=30_000)
    screenshot(page, "web-chat-tracking-link-360px")
    code = repository.cases.find_one()["code"]
    page.goto(link.get_attribute("href"))
    expect(page.get_by_label("Mã hồ sơ")).to_have_value(code)
    page.get_by_role("button", name="Tra cứu").click()  # a web-chat case has no phone: the code is enough
    expect(page.locator("#result-status")).to_have_text("Đã chuyển cơ quan chức năng")

    for tab, label in ((page, "360px"), (desktop, "desktop")):
        tab.goto(f"{url}/quyen-rieng-tu")
        expect(tab.get_by_role("heading", name="Quyền riêng tư và dữ liệu cá nhân")).to_be_visible()
        assert "xóa dữ liệu của tôi" in tab.locator("main").inner_text() and fits(tab)
        screenshot(tab, f"quyen-rieng-tu-{label}")
