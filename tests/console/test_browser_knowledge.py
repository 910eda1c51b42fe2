"""The knowledge base's console pages in a real browser (issue 13), on a desktop and on a 360 px
phone: an operator writes a draft with the Zalo preview, an admin publishes it and tries a question;
a citizen's question waits, is answered from a phone and kept as a draft. Every page fits the
phone's width. Screenshots are kept under var/screenshots/ (knowledge-*)."""
from __future__ import annotations

from playwright.sync_api import expect

from bot import knowledge_entries
from tests.browser import screenshot
from tests.conftest import post_zalo, wait_until
from tests.console.test_browser_shift import CITIZEN, crew, log_in, person, wider_than_the_screen  # noqa: F401
from tests.test_end_to_end import zalo_text

ANSWER = ("Người từ 18 tuổi đã tiêm đủ 2 mũi được tiêm mũi 3 sau mũi 2 ít nhất 3 tháng. Lịch tiêm do trạm y tế "
          "xã/phường thông báo qua ấp/khóm; mang theo căn cước công dân.")


def test_an_operator_drafts_with_the_zalo_preview_and_an_admin_publishes_it(live_url, crew, person):
    operator = person("desktop")
    log_in(operator, live_url, "an")
    operator.get_by_role("link", name="Hỏi đáp").click()
    operator.get_by_role("link", name="Thêm mục mới").click()
    operator.get_by_label("Câu hỏi (mỗi dòng một cách hỏi)").fill("Khi nào được tiêm mũi 3?\nmui 3 tiem luc nao")
    operator.get_by_label("Trả lời").fill(ANSWER)
    operator.get_by_label("Văn bản (số, ngày)").fill("Công văn 10225/BYT-DP ngày 01/12/2021")
    operator.get_by_label("Cơ quan ban hành").fill("Bộ Y tế")
    operator.get_by_role("button", name="Xem trước").click()
    preview = operator.locator("#zalo-preview")
    expect(preview).to_contain_text("Theo Công văn 10225/BYT-DP ngày 01/12/2021 (Bộ Y tế), cập nhật")
    expect(preview.locator(".zalo-button")).to_have_text(["Hỏi cán bộ"])
    screenshot(operator, "knowledge-draft-preview-desktop")
    operator.get_by_role("button", name="Lưu bản nháp").click()
    expect(operator.locator("#entry-status")).to_have_text("Bản nháp")
    expect(operator.get_by_role("button", name="Duyệt và đưa vào sử dụng")).to_have_count(0)  # admins publish

    admin = person("desktop")
    log_in(admin, live_url, "cuong")
    admin.goto(f"{live_url}/console/knowledge")
    admin.get_by_role("link", name="Khi nào được tiêm mũi 3?").click()
    admin.get_by_role("button", name="Duyệt và đưa vào sử dụng").click()
    expect(admin.locator("#entry-status")).to_have_text("Đang dùng")
    expect(admin.locator("#kb-history")).to_contain_text("Duyệt, đưa mục hỏi đáp vào sử dụng")
    expect(admin.locator("#kb-history")).to_contain_text("Nguyễn Văn An")
    screenshot(admin, "knowledge-entry-published-desktop")
    admin.goto(f"{live_url}/console/knowledge")
    admin.get_by_text("Thử câu hỏi").click()
    admin.get_by_label("Câu hỏi như người dân nhắn").fill("khi nao dc tiem mui 3 vay ad")
    admin.get_by_role("button", name="Thử").click()
    expect(admin.locator("#try-result")).to_contain_text("Trả lời bằng mục Khi nào được tiêm mũi 3?")
    screenshot(admin, "knowledge-list-try-desktop")


def test_a_question_is_answered_and_kept_from_a_360_px_phone(live_url, app, crew, person, fake_zalo):
    knowledge_entries.load(crew, [{"id": "tiem-mui-3", "questions": ["Khi nào được tiêm mũi 3?"], "answer": ANSWER,
                                   "source": {"document": "Công văn 10225/BYT-DP", "issuer": "Bộ Y tế"}}])
    question = "cho hỏi đi biển đánh cá có cần giấy xét nghiệm không ad?"
    assert post_zalo(app.test_client(), zalo_text(question, "kb-walk-1")).status_code == 200
    wait_until(lambda: crew.find_question("zalo:kb-walk-1"), 30, "the question on staff's list")
    page = person("phone")
    log_in(page, live_url, "an")
    page.get_by_role("button", name="Menu").click()
    page.locator("#main-nav").get_by_role("link", name="Câu hỏi chờ").click()
    expect(page.locator("table.list")).to_contain_text(question)
    screenshot(page, "knowledge-questions-360px")
    page.get_by_role("link", name=question).click()
    page.get_by_label("Câu trả lời gửi người dân").fill("Ngư dân đi biển theo hướng dẫn của Đồn Biên phòng; hiện không "
                                                        "yêu cầu giấy xét nghiệm.")
    sent_before = len(fake_zalo.received)
    page.get_by_role("button", name="Gửi qua Zalo").click()
    expect(page.locator(".flash").first).to_have_text("Đã gửi câu trả lời.")
    [sent] = fake_zalo.wait_for(sent_before + 1)[sent_before:]
    assert sent["message"]["text"].startswith(f"Trả lời câu hỏi của anh/chị «{question}»")
    screenshot(page, "knowledge-question-answered-360px")
    page.get_by_role("button", name="Lưu thành mục hỏi đáp (bản nháp)").click()
    expect(page.locator("#entry-status")).to_have_text("Bản nháp")
    expect(page.get_by_label("Câu hỏi (mỗi dòng một cách hỏi)")).to_have_value(question)
    screenshot(page, "knowledge-draft-from-question-360px")

    for path, name in (("/console/knowledge", "list"), ("/console/knowledge/tiem-mui-3", "entry"),
                       ("/console/knowledge/new", "new"), ("/console/questions", "questions"),
                       ("/console/questions/zalo:kb-walk-1", "question"),
                       ("/console/knowledge?ask=tiem+mui+3", "try")):
        page.goto(live_url + path)
        assert not wider_than_the_screen(page), (path, wider_than_the_screen(page))
        screenshot(page, f"knowledge-{name}-360px")
