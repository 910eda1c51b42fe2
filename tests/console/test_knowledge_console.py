"""The knowledge base's console pages (issue 13): who may do what, drafts, the preview, publishing
and retiring, search and filters, the history in the audit log."""
from __future__ import annotations

import re

import pytest

from bot import knowledge_entries
from tests.console.conftest import csrf_token, sign_in

ENTRY = {"questions": "Đám cưới được bao nhiêu người?\ndam cuoi dc may nguoi", "answer": "Tùy cấp độ dịch của xã.",
         "source_document": "Nghị quyết 128/NQ-CP ngày 11/10/2021", "source_issuer": "Chính phủ",
         "source_url": "https://vanban.chinhphu.vn", "valid_from": "11/10/2021", "valid_until": ""}


@pytest.fixture
def admin(app, staff):
    client = app.test_client()
    assert sign_in(client, "quantri").status_code == 302
    return client


def post_form(client, page_url: str, data: dict, url: str | None = None, **kwargs):
    """Post a console form with the CSRF token of the page it is on."""
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    return client.post(url or page_url, data={**data, "csrf_token": token}, **kwargs)


def create(client, **changes) -> str:
    response = post_form(client, "/console/knowledge/new", {**ENTRY, "action": "save", **changes})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[1]


def test_agencies_have_no_knowledge_base_pages(app, staff):
    client = app.test_client()
    sign_in(client, "ubnd_cl")
    for url in ("/console/knowledge", "/console/knowledge/new", "/console/questions"):
        assert client.get(url).status_code == 403, url


def test_an_operator_writes_a_draft_previews_it_and_cannot_publish_it(operator, repository):
    preview = post_form(operator, "/console/knowledge/new", {**ENTRY, "action": "preview"}).get_data(as_text=True)
    assert "zalo-bubble" in preview and "Theo Nghị quyết 128/NQ-CP ngày 11/10/2021 (Chính phủ), cập nhật" in preview
    assert "Hỏi cán bộ" in preview and repository.knowledge_entries() == []   # a preview saves nothing
    entry_id = create(operator)
    entry = repository.find_entry(entry_id)
    assert (entry["status"], entry["questions"], entry["valid_from"], entry["created_by"]) == \
        ("draft", ["Đám cưới được bao nhiêu người?", "dam cuoi dc may nguoi"], "2021-10-11", "dtv1")
    page = f"/console/knowledge/{entry_id}"
    assert post_form(operator, page, {}, url=f"{page}/publish").status_code == 403
    assert repository.find_entry(entry_id)["status"] == "draft"
    [logged] = repository.find_audit(target=f"kb:{entry_id}")[0]
    assert (logged["action"], logged["who"]) == ("kb.create", "dtv1")
    assert "Soạn mục hỏi đáp" in operator.get(page).get_data(as_text=True)   # its history, in Vietnamese


@pytest.mark.parametrize("changes, field, message", [
    ({"questions": "  "}, "questions", "ít nhất một câu hỏi"),
    ({"valid_from": "32/13/2021"}, "valid_from", "dd/mm/yyyy"),
    ({"valid_until": "01/01/2021"}, "valid_until", "sau ngày áp dụng"),
    ({"source_url": "javascript:alert(1)"}, "source_url", "https://"),
    ({"answer": "Câu trả lời rất dài. " * 188}, "answer", "hai tin nhắn"),
])
def test_a_wrong_value_is_marked_beside_its_field_and_nothing_is_saved(operator, repository, changes, field, message):
    page = post_form(operator, "/console/knowledge/new", {**ENTRY, "action": "save", **changes})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and message in html
    assert re.search(rf'id="{field}"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="{field}"', html)
    assert repository.knowledge_entries() == []


def test_a_post_without_its_csrf_token_is_refused(operator, repository):
    assert operator.post("/console/knowledge/new", data={**ENTRY, "action": "save"}).status_code == 400
    assert repository.knowledge_entries() == []


def test_an_admin_publishes_and_retires_and_citizens_answers_follow(operator, admin, repository):
    entry_id = create(operator)
    page = f"/console/knowledge/{entry_id}"
    version = repository.knowledge_version()
    assert post_form(admin, page, {}, url=f"{page}/publish").status_code == 302
    entry = repository.find_entry(entry_id)
    assert (entry["status"], entry["approved_by"]) == ("published", "quantri")
    assert repository.knowledge_version() == version + 1
    # a published entry: operators may no longer change it, an admin may (and it answers at once)
    assert post_form(operator, page, {**ENTRY, "answer": "Khác.", "action": "save"}).status_code == 403
    assert post_form(admin, page, {**ENTRY, "answer": "Nay tùy cấp độ dịch.", "action": "save"}).status_code == 302
    assert repository.find_entry(entry_id)["answer"] == "Nay tùy cấp độ dịch." and repository.knowledge_version() == version + 2
    assert post_form(admin, page, {}, url=f"{page}/retire").status_code == 302
    assert repository.find_entry(entry_id)["status"] == "retired" and repository.knowledge_version() == version + 3
    actions = [e["action"] for e in repository.find_audit(target=f"kb:{entry_id}")[0]]
    assert actions == ["kb.retire", "kb.update", "kb.publish", "kb.create"]
    history = admin.get(page).get_data(as_text=True)
    assert "Nay tùy cấp độ dịch." in history and "Ngừng dùng mục hỏi đáp" in history


def test_an_entry_without_its_source_cannot_be_published(operator, admin, repository):
    entry_id = create(operator, source_document="", source_issuer="")
    page = f"/console/knowledge/{entry_id}"
    post_form(admin, page, {}, url=f"{page}/publish")
    assert repository.find_entry(entry_id)["status"] == "draft"
    assert "Cần ghi văn bản và cơ quan ban hành" in admin.get(page).get_data(as_text=True)


def test_the_list_finds_entries_typed_with_or_without_diacritics_and_filters_them(admin, repository):
    knowledge_entries.load(repository, [
        {"id": "tiem-mui-3", "questions": ["Khi nào tiêm mũi 3?"], "answer": "Sau mũi 2 ba tháng.",
         "source": {"document": "CV 10225/BYT-DP", "issuer": "Bộ Y tế"}},
        {"id": "tiem-cau-ke", "questions": ["Ở Cầu Kè tiêm ở đâu?"], "answer": "Tại trạm y tế xã.",
         "source": {"document": "KH", "issuer": "UBND huyện Cầu Kè"}, "scope": ["Huyện Cầu Kè"]}])
    shown = lambda query: re.findall(r'<td data-label="Câu hỏi"><a href="/console/knowledge/([a-z0-9-]+)"',
                                     admin.get(f"/console/knowledge?{query}").get_data(as_text=True))
    assert shown("q=mui+3") == shown("q=mũi+3") == ["tiem-mui-3"]
    assert shown("district=Huy%E1%BB%87n+C%E1%BA%A7u+K%C3%A8") == ["tiem-cau-ke"]
    assert shown("district=province") == ["tiem-mui-3"]
    assert sorted(shown("review=yes")) == ["tiem-cau-ke", "tiem-mui-3"]
    assert shown("status=published") == []
    assert "Cần cán bộ duyệt" in admin.get("/console/knowledge").get_data(as_text=True)


def test_trying_a_question_shows_what_the_bot_would_answer(admin, repository):
    knowledge_entries.load(repository, [{"id": "tiem-mui-3", "questions": ["Khi nào được tiêm mũi 3?"],
                                         "answer": "Sau mũi 2 ba tháng.",
                                         "source": {"document": "CV 10225/BYT-DP", "issuer": "Bộ Y tế"}}])
    asked = lambda: admin.get("/console/knowledge?ask=khi+nao+dc+tiem+mui+3+vay+ad").get_data(as_text=True)
    assert "Không trả lời" in asked()   # a draft answers nobody
    post_form(admin, "/console/knowledge/tiem-mui-3", {}, url="/console/knowledge/tiem-mui-3/publish")
    assert re.search(r"Trả lời</span> bằng mục <a[^>]*>Khi nào được tiêm mũi 3\?", asked())
