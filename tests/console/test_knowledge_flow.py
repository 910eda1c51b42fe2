"""Questions answered from the knowledge base, on Zalo and on Messenger (issue 13), through the
signed webhooks, the worker, the real NLU model and database, and the console as staff use it:
an answered question, "Hỏi cán bộ", a question nobody has answered yet going to staff's list,
staff's answer reaching the citizen, kept as a draft, published, and the next citizen getting it."""
from __future__ import annotations

import pytest
import yaml

from bot import knowledge_entries, texts
from bot.config import REPO_ROOT
from tests.console.conftest import sign_in
from tests.console.test_knowledge_console import post_form
from tests.helpers import Citizen
from tests.test_conversations import people, platform  # noqa: F401  (fixtures: each citizen on Zalo and on Messenger)

SEED = yaml.safe_load((REPO_ROOT / "data" / "knowledge_seed.yml").read_text(encoding="utf-8"))
WEDDING = "cho hoi dam cuoi 50 nguoi co dc to chuc ko"
FOOTBALL = "cho hỏi sân bóng đá mini có được mở lại không"


@pytest.fixture
def published_seed(repository):
    """The seed, reviewed and published as an admin would."""
    knowledge_entries.load(repository, SEED)
    for entry in repository.knowledge_entries():
        repository.update_entry(entry["_id"], status="published", needs_review="no", approved_by="quantri")
    repository.bump_knowledge_version()


@pytest.fixture
def admin(app, staff):
    client = app.test_client()
    assert sign_in(client, "quantri").status_code == 302
    return client


def press_ask_staff(citizen: Citizen) -> list[str]:
    """Zalo sends the button's text back as the citizen's message; Messenger a quick reply."""
    if citizen.platform == "zalo":
        return citizen.says(f"#tongdai1022|{texts.ASK_STAFF}|Hỏi cán bộ")
    return citizen.says("Hỏi cán bộ", payload=texts.ASK_STAFF)


def buttons_of_last(fake, user_id: str) -> list[str]:
    payload = [p for p in fake.received if (p["recipient"].get("user_id") or p["recipient"].get("id")) == user_id][-1]
    message = payload["message"]
    return [b["title"] for b in message.get("quick_replies") or message.get("attachment", {}).get("payload", {}).get("buttons", [])]


def test_a_published_answer_with_its_source_and_date_then_hoi_can_bo(people, repository, published_seed):
    citizen = people("5519034418827731")
    [answer] = citizen.says(WEDDING)
    assert "Nghị quyết 128/NQ-CP" in answer and "cấp độ dịch" in answer
    assert "Theo Nghị quyết 128/NQ-CP ngày 11/10/2021; Chỉ thị 15/CT-TTg và 16/CT-TTg (Chính phủ, Thủ tướng Chính phủ), cập nhật" in answer
    assert "Hỏi cán bộ" in buttons_of_last(citizen.fake, citizen.user_id)
    [question] = repository.kb_questions.find()
    assert (question["status"], question["entry_id"], question["text"]) == ("auto", "dam-cuoi-dong-nguoi", WEDDING)
    [noted] = press_ask_staff(citizen)
    assert "ghi nhận câu hỏi" in noted
    assert repository.find_question(question["_id"])["status"] == "waiting"
    assert repository.find_conversation(citizen.platform, citizen.user_id)["handler"] == "bot"  # the bot stays at hand
    assert repository.cases.count_documents({}) == 0


def test_a_question_nobody_answered_goes_to_staff_whose_answer_reaches_the_citizen_and_then_everyone(
        people, repository, published_seed, operator, admin):
    first, second = people("5519034418827731"), people("7730012298456120")
    [noted] = first.says(FOOTBALL)
    assert "ghi nhận câu hỏi" in noted and "cán bộ sẽ trả lời" in noted
    [question] = repository.kb_questions.find({"status": "waiting"})
    waiting = operator.get("/console/questions").get_data(as_text=True)
    assert FOOTBALL in waiting
    page = f"/console/questions/{question['_id']}"
    said = "Sân bóng đá mini được mở lại khi xã ở cấp độ dịch 1 hoặc 2, theo thông báo của UBND huyện."
    before = len(first.fake.texts_to(first.user_id))
    assert post_form(operator, page, {"answer": said, "send_key": "a" * 32}, url=f"{page}/answer").status_code == 302
    [received] = first.fake.texts_to(first.user_id)[before:]
    assert received == texts.staff_answer(FOOTBALL, said)
    assert repository.find_question(question["_id"])["status"] == "answered"
    # one click: a draft entry, which an admin completes with its source and publishes
    drafted = post_form(operator, page, {}, url=f"{page}/draft")
    entry_id = drafted.headers["Location"].rsplit("/", 1)[1]
    entry = repository.find_entry(entry_id)
    assert (entry["status"], entry["questions"], entry["answer"], entry["origin"]) == \
        ("draft", [FOOTBALL], said, f"question:{question['_id']}")
    assert second.says(FOOTBALL) == [texts.question_noted(True, "00:00-00:00")]   # a draft answers nobody
    entry_page = f"/console/knowledge/{entry_id}"
    assert post_form(admin, entry_page, {"questions": f"{FOOTBALL}\nsân bóng mini mở lại chưa", "answer": said,
                                         "source_document": "Thông báo cấp độ dịch hằng tuần",
                                         "source_issuer": "UBND tỉnh Trà Vinh", "action": "save"}).status_code == 302
    assert post_form(admin, entry_page, {}, url=f"{entry_page}/publish").status_code == 302
    [answered] = second.says("san bong da mini co dc mo cua lai ko ad?")
    assert said in answered and "Theo Thông báo cấp độ dịch hằng tuần (UBND tỉnh Trà Vinh), cập nhật" in answered
    actions = {e["action"] for e in repository.find_audit()[0]}
    assert {"question.answer", "kb.create", "kb.update", "kb.publish"} <= actions
