"""The web chat in a real browser: Playwright driving Debian's Chromium against the running app
(real database, real NLU server, the worker running)."""
from pathlib import Path

from playwright.sync_api import expect

from tests.browser import SCREENSHOTS
from tests.webhooks.test_web import PNG


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
