"""The web chat in a real browser: Playwright driving Debian's Chromium against the running app
(real database, real NLU server, the worker running)."""
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from werkzeug.serving import make_server

from bot.config import REPO_ROOT
from tests.webhooks.test_web import PNG

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = REPO_ROOT / "var" / "screenshots"
# As root in a container, and on a machine without general internet access.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]


@pytest.fixture
def live_url(app, worker):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    working = threading.Thread(target=worker.run_forever, daemon=True)
    working.start()
    yield f"http://127.0.0.1:{server.server_port}"
    worker.stopping.set()
    working.join(timeout=30)
    server.shutdown()


@pytest.fixture
def page():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 360, "height": 740}, locale="vi-VN")
        yield context.new_page()
        browser.close()


def test_citizen_sends_a_report_and_a_photo_and_reads_the_answers(live_url, page, tmp_path):
    page.goto(live_url)
    expect(page.get_by_role("heading")).to_have_text("Tổng đài 1022 Trà Vinh")
    page.get_by_label("Nội dung tin nhắn").fill("Xin chào tổng đài")
    page.keyboard.press("Enter")
    choice = page.get_by_role("button", name="Phản ánh vi phạm")  # a service offered as a button
    expect(choice).to_be_visible(timeout=30_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "web-chat-greeting-360px.png"))
    choice.click()
    expect(page.locator('.message[data-direction="out"]').filter(has_text="mô tả vi phạm")).to_have_count(
        1, timeout=30_000)
    page.get_by_label("Nội dung tin nhắn").fill("Tối qua ở khóm 3 phường 7 có đám nhậu hơn 20 người, không đeo khẩu trang")
    page.get_by_role("button", name="Gửi", exact=True).click()
    summary = page.locator('.message[data-direction="out"]').filter(has_text="kiểm tra lại")
    expect(summary).to_have_count(1, timeout=30_000)
    assert "Phường 7, Thành phố Trà Vinh" in summary.inner_text()
    page.locator(".choices").get_by_role("button", name="Gửi").click()  # confirm the summary
    answer = page.locator('.message[data-direction="out"]').filter(has_text="TV-")
    expect(answer).to_have_count(1, timeout=30_000)
    assert "phản ánh vi phạm" in answer.inner_text()

    photo = tmp_path / "dam-tiec.png"
    photo.write_bytes(PNG)
    page.locator("#photo").set_input_files(str(photo))
    expect(page.locator(".message.in img")).to_have_count(1, timeout=30_000)
    expect(page.locator('.message[data-direction="out"]').filter(has_text="đã nhận hình ảnh")).to_have_count(
        1, timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "web-chat-360px.png"), full_page=True)
    assert Path(SCREENSHOTS / "web-chat-360px.png").stat().st_size > 0
