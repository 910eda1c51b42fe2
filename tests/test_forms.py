"""The case forms as a conversation (pure: the state machine of bot/forms.py)."""
from bot import forms, texts
from nlu.client import Parse

NOW = 1_800_000_000.0
PLACE = {"entity": "commune", "value": "Phường 7, Thành phố Trà Vinh"}
DISTRICT = {"entity": "district", "value": "Thành phố Trà Vinh"}
WHEN = {"entity": "time", "value": "tối qua"}


def said(text, intent="report", *entities):
    return text, Parse(intent, 0.99, list(entities))


def step(form, text, intent="inform", *entities, payload=None):
    return forms.advance(form, text, Parse(intent, 0.99, list(entities)), payload, NOW)


def test_a_report_with_everything_goes_straight_to_the_summary_then_is_filed_on_yes():
    first = forms.start("report", "tối qua có đám nhậu ở phường 7", [PLACE, DISTRICT, WHEN], NOW)
    assert first.form["asking"] == "confirm" and first.choices == forms.CONFIRM_CHOICES
    assert "Địa điểm: Phường 7, Thành phố Trà Vinh" in first.reply and "bí mật" in first.reply
    done = step(first.form, "đúng", "affirm")
    assert done.form is None
    assert done.file == {"category": "report", "description": "tối qua có đám nhậu ở phường 7",
                         "details": {"place": "Phường 7, Thành phố Trà Vinh", "time": "tối qua"},
                         "district": "Thành phố Trà Vinh", "media": []}


def test_missing_details_are_asked_one_at_a_time_and_free_text_answers_count():
    first = forms.start("report", "có người ở TPHCM về không khai báo", [], NOW)
    assert (first.form["asking"], first.reply) == ("place", texts.ASK_PLACE)
    second = step(first.form, "ấp Chợ, gần nhà văn hóa")
    assert (second.form["asking"], second.reply) == ("time", texts.ASK_TIME)
    third = step(second.form, "sáng nay", "inform", {"entity": "time", "value": "sáng nay"})
    assert third.form["asking"] == "confirm"
    assert third.form["values"] == {"description": "có người ở TPHCM về không khai báo",
                                    "place": "ấp Chợ, gần nhà văn hóa", "time": "sáng nay"}


def test_a_field_is_corrected_from_the_summary():
    summary = forms.start("report", "đám nhậu", [PLACE, DISTRICT, WHEN], NOW)
    which = step(summary.form, "sai rồi", "deny")
    assert which.reply == texts.ASK_WHICH_FIELD and ("Địa điểm", "FORM_FIX_place") in which.choices
    asked = step(which.form, "Địa điểm", payload="FORM_FIX_place")
    assert asked.reply == texts.ASK_PLACE and asked.form["district"] is None
    fixed = step(asked.form, "xã Long Đức", "inform", {"entity": "commune", "value": "Xã Long Đức, Thành phố Trà Vinh"},
                 DISTRICT)
    assert fixed.form["asking"] == "confirm" and "Địa điểm: Xã Long Đức, Thành phố Trà Vinh" in fixed.reply


def test_the_field_to_correct_can_be_typed_without_diacritics():
    summary = forms.start("report", "đám nhậu", [PLACE, DISTRICT, WHEN], NOW)
    which = step(summary.form, "sửa", "deny")
    assert step(which.form, "thoi gian").reply == texts.ASK_TIME


def test_cancel_at_any_step_drops_the_form():
    first = forms.start("welfare", "nhà tôi mất việc", [], NOW)
    for text, intent in (("hủy", "inform"), ("thôi khỏi", "cancel"), ("HUY", "inform")):
        cancelled = step(first.form, text, intent)
        assert (cancelled.form, cancelled.reply, cancelled.file) == (None, texts.FORM_CANCELLED, None)


def test_a_tapped_send_button_confirms_whatever_the_nlu_makes_of_its_title():
    summary = forms.start("report", "đám nhậu", [PLACE, DISTRICT, WHEN], NOW)
    assert step(summary.form, "Gửi", "cancel", payload=forms.CONFIRM).file is not None


def test_a_phone_number_given_at_the_summary_is_added():
    summary = forms.start("suggestion", "nên mở thêm điểm bán hàng lưu động", [], NOW)
    assert "Số điện thoại liên hệ: (không cung cấp)" in summary.reply
    again = step(summary.form, "sdt tui 0912 345 678", "inform", {"entity": "phone", "value": "0912345678"})
    assert "Số điện thoại liên hệ: 0912345678" in again.reply and again.form["asking"] == "confirm"


def test_welfare_asks_name_phone_address_and_request():
    s = forms.start("welfare", "tui bán vé số, giờ hết thu nhập", [], NOW)
    asked = [s.form["asking"]]
    for answer, entities in (("Nguyễn Văn Tư", []), ("0912345678", [{"entity": "phone", "value": "0912345678"}]),
                             ("ấp Kinh Xáng xã Nhị Long", []), ("xin hỗ trợ gạo", [])):
        s = step(s.form, answer, "inform", *entities)
        asked.append(s.form["asking"])
    assert asked == ["name", "phone", "place", "request", "confirm"]
    assert step(s.form, "ok", "affirm").file["details"] == {
        "name": "Nguyễn Văn Tư", "phone": "0912345678", "place": "ấp Kinh Xáng xã Nhị Long", "request": "xin hỗ trợ gạo"}


def test_welfare_takes_the_name_and_the_request_from_entities_and_asks_only_what_is_missing():
    name = {"entity": "person_name", "value": "Nguyễn Văn Tám"}
    request = {"entity": "support_request", "value": "gạo và tiền mặt"}
    first = forms.start("welfare", "Tôi tên Nguyễn Văn Tám, mất việc, xin hỗ trợ gạo và tiền mặt", [name, request], NOW)
    assert (first.form["asking"], first.reply) == ("phone", texts.ASK_PHONE)
    assert first.form["values"]["name"] == "Nguyễn Văn Tám" and first.form["values"]["request"] == "gạo và tiền mặt"
    # An answer with a cue keeps what the cue introduces; one without is taken whole.
    asked = forms.start("welfare", "nhà tôi mất việc", [], NOW)
    assert step(asked.form, "dạ tôi tên là Trần Thị Bé", "inform",
                {"entity": "person_name", "value": "Trần Thị Bé"}).form["values"]["name"] == "Trần Thị Bé"
    assert step(asked.form, "Trần Thị Bé").form["values"]["name"] == "Trần Thị Bé"


def test_photos_sent_during_the_form_go_with_the_case():
    first = forms.start("report", "có đám tiệc", [], NOW)
    with_photo = forms.add_media(first.form, "zalo-photo-1", NOW)
    assert with_photo.reply.startswith(texts.MEDIA_ADDED) and texts.ASK_PLACE in with_photo.reply
    assert with_photo.form["media"] == ["zalo-photo-1"]


def test_a_form_expires_after_the_configured_time():
    form = forms.start("report", "có đám tiệc", [], NOW).form
    assert not forms.expired(form, NOW + 59 * 60, minutes=60)
    assert forms.expired(form, NOW + 61 * 60, minutes=60)


def test_a_shared_location_answers_where():
    first = forms.start("report", "có đám tiệc tối qua", [WHEN], NOW)
    assert first.form["asking"] == "place"
    located = forms.add_location(first.form, texts.shared_location(9.9347, 106.3453), NOW)
    assert located.form["asking"] == "confirm" and "9.93470, 106.34530" in located.reply
    assert forms.add_location(forms.start("suggestion", "ý kiến", [], NOW).form, "x", NOW).reply is None


def test_the_summarys_typed_words_act_as_its_buttons_whatever_the_nlu_hears():
    """Zalo shows no buttons: "gửi" (which the model hears as cancel), "sửa", "sửa <detail>"."""
    summary = forms.start("report", "đám nhậu", [PLACE, DISTRICT, WHEN], NOW)
    assert step(summary.form, "Gửi", "cancel").file is not None
    assert step(summary.form, "sửa", "nlu_fallback").reply == texts.ASK_WHICH_FIELD
    assert step(summary.form, "sửa thời gian", "nlu_fallback").reply == texts.ASK_TIME
    assert step(summary.form, "dừng", "cancel").reply == texts.FORM_CANCELLED  # "dung" is not "đúng"


def test_a_first_message_that_only_says_what_the_citizen_wants_is_no_description():
    for wish in ("tôi muốn phản ánh", "Cho em phản ánh ạ", "đề nghị hỗ trợ", "tôi muốn góp ý kiến"):
        assert forms.is_bare_request(wish)
        assert forms.start("report", wish, [], NOW).reply == texts.ASK_DETAILS["report"]
    assert not forms.is_bare_request("xin hỗ trợ gạo") and not forms.is_bare_request("có đám nhậu")
