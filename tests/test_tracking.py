"""The public tracking page `/tra-cuu` (issue 17): a case code, and the last four digits of the phone
when the case has one, show the case's category, agency, due date and public steps — nothing
personal; a wrong code and a wrong phone get the same answer; each address has a budget of lookups.
The chat replies that give a code give the page's address too."""
from __future__ import annotations

import re

import pytest

from bot import cases, texts
from bot.app import create_app
from bot.config import Settings
from tests.helpers import Citizen

PHONE = "0918123456"
DESCRIPTION = "Nhà ông Bảy Lúa ở khóm 3 tụ tập nhậu đông người"


def file_report(repository, *, phone: str | None = PHONE, source: str = "zalo:m-tra-cuu") -> dict:
    details = {"place": "khóm 3 phường 7", "time": "tối qua", **({"phone": phone} if phone else {})}
    case = cases.file(repository, source=source, channel="zalo", user_id="5519034418827731", category="report",
                      description=DESCRIPTION, details=details, district="Thành phố Trà Vinh", media=[], urgent=False)
    cases.add_note(repository, case["code"], by="dtv1", note="Đã gọi anh Tư số 0918123456 xác minh", public=False,
                   key="internal-1")
    cases.change_status(repository, case["code"], "in_progress", by="ubnd_tp", public=True,
                        note="Đã cử tổ công tác xuống kiểm tra")
    return repository.find_case(case["code"])


def look_up(client, code: str, digits: str = "", **headers):
    return client.post("/tra-cuu", data={"ma": code, "so": digits}, headers=headers)


def page_text(response) -> str:
    return re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))


def test_the_code_and_the_last_four_digits_show_the_status_and_public_steps_only(client, repository):
    case = file_report(repository)
    found = look_up(client, case["code"], "3456")
    assert found.status_code == 200
    shown = page_text(found)
    for wanted in (case["code"], texts.CATEGORY_NAMES["report"].capitalize(), case["agency_name"],
                   texts.STATUS_NAMES["in_progress"].capitalize(),
                   "Đã cử tổ công tác xuống kiểm tra", "Tiếp nhận qua tổng đài tự động", "Hạn xử lý"):
        assert wanted in shown, wanted
    for private in (PHONE, "3456", "Bảy Lúa", "khóm 3", "tối qua", "Đã gọi anh Tư", "5519034418827731"):
        assert private not in shown, private


def test_a_wrong_code_and_a_wrong_phone_get_the_same_answer(client, repository):
    case = file_report(repository)
    other = "TV-" + ("A" if case["code"][3] != "A" else "B") + case["code"][4:]
    answers = [look_up(client, code, digits) for code, digits in
               ((other, "3456"), (case["code"], "9999"), (case["code"], ""))]
    assert {a.status_code for a in answers} == {404}
    bodies = {a.get_data(as_text=True).replace(other, "CODE").replace(case["code"], "CODE")
              .replace('value="3456"', 'value=""').replace('value="9999"', 'value=""') for a in answers}
    assert len(bodies) == 1, "the answer must not tell a wrong code from a wrong phone"
    assert "Không tìm thấy hồ sơ khớp với mã và 4 số cuối" in bodies.pop()


def test_a_case_filed_without_a_phone_is_found_by_its_code_alone(client, repository):
    case = file_report(repository, phone=None)
    assert look_up(client, case["code"].lower().replace("-", " ")).status_code == 200  # "tv 8hk3ma" too
    assert look_up(client, case["code"], "1234").status_code == 200  # digits for no phone are not held against them


@pytest.mark.parametrize("code, digits, field", [("TV-12AB", "", "ma"), ("8HK3MA", "", "ma"), ("TV-8HK3MA", "12", "so"),
                                                 ("TV-8HK3MA", "12a4", "so")])
def test_what_cannot_be_a_code_or_four_digits_is_said_field_by_field(client, code, digits, field):
    answer = look_up(client, code, digits)
    assert answer.status_code == 400 and f'id="{field}-error"' in answer.get_data(as_text=True)


def test_an_address_has_a_budget_of_lookups_per_hour(settings, repository, tmp_path):
    limited = create_app(Settings.from_env({**_env(settings), "TRACKING_LOOKUPS_PER_HOUR": "3", "TRUST_PROXY": "1"}))
    client = limited.test_client()
    case = file_report(repository)
    for _ in range(3):
        assert look_up(client, case["code"], "0000", **{"X-Forwarded-For": "203.0.113.7"}).status_code == 404
    refused = look_up(client, case["code"], "3456", **{"X-Forwarded-For": "203.0.113.7"})
    assert refused.status_code == 429 and "quá nhiều lượt tra cứu" in refused.get_data(as_text=True)
    assert 'id="result"' not in refused.get_data(as_text=True)
    assert look_up(client, case["code"], "3456", **{"X-Forwarded-For": "198.51.100.2"}).status_code == 200
    limited.extensions["repository"].close()


def _env(settings: Settings) -> dict:
    return {"MONGODB_URI": settings.database_uri, "NLU_URL": settings.nlu_base_url, "VAR_DIR": str(settings.var_dir)}


def test_an_erased_case_is_not_found(client, repository):
    case = file_report(repository)
    repository.anonymise_case(case["code"], details={})
    assert look_up(client, case["code"], "3456").status_code == 404
    assert look_up(client, case["code"]).status_code == 404


def test_a_duplicate_shows_that_it_is_handled_with_another_case(client, repository):
    main = file_report(repository)
    dup = file_report(repository, source="zalo:m-tra-cuu-2", phone="0977000111")
    cases.mark_duplicate(repository, dup["code"], main["code"], by="dtv1")
    shown = page_text(look_up(client, dup["code"], "0111"))
    assert "được xử lý chung với một hồ sơ khác" in shown and texts.STATUS_NAMES["in_progress"] in shown  # the main's
    assert main["code"] not in shown


def test_the_page_is_never_cached_framed_or_sent_on_as_a_referrer(client):
    page = client.get("/tra-cuu?ma=tv-8hk3ma")
    assert page.status_code == 200 and 'value="TV-8HK3MA"' in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    privacy = client.get("/quyen-rieng-tu")
    assert privacy.status_code == 200 and "Nghị định 13/2023" in privacy.get_data(as_text=True)
    assert "12 tháng" in privacy.get_data(as_text=True)  # RETENTION_MONTHS, as configured


def test_the_reply_that_gives_a_code_gives_the_tracking_link(client, worker, fake_zalo, repository, settings):
    citizen = Citizen("zalo", "6612300998877", client, worker, fake_zalo)
    citizen.says("Phản ánh: tối nay ở khóm 3 phường 7 TP Trà Vinh có đám nhậu hơn 20 người không đeo khẩu trang")
    filed = citizen.says("đúng rồi gửi đi")[-1]
    code = repository.cases.find_one()["code"]
    assert f"{settings.public_url}/tra-cuu?ma={code}" in filed and "{site}" not in filed
    looked_up = citizen.says(f"hồ sơ {code} sao rồi")[-1]
    assert f"{settings.public_url}/tra-cuu?ma={code}" in looked_up
