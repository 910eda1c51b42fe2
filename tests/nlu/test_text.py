"""nlu/text.py: pure Python, so it runs in the app environment without rasa."""
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from nlu.text import expand_teencode, normalize, strip_diacritics, unify_tone_marks, with_plain_copy

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_normalize_composes_decomposed_input():
    decomposed = unicodedata.normalize("NFD", "phản ánh vi phạm")
    assert decomposed != "phản ánh vi phạm"
    assert normalize(decomposed) == "phản ánh vi phạm"


def test_normalize_removes_zero_width_characters():
    assert normalize("phản\u200b ánh\u200d vi\ufeff phạm\u2060") == "phản ánh vi phạm"


def test_normalize_lowercases_and_collapses_whitespace():
    assert normalize("  Xin   CHÀO\tTổng Đài\n1022 ") == "xin chào tổng đài 1022"


def test_normalize_of_blank_text_is_empty():
    assert normalize(" \u200b \n") == ""


def test_strip_diacritics_including_d_bar():
    assert strip_diacritics("Phản ánh ở Đôn Châu, đường Điện Biên Phủ") == \
        "Phan anh o Don Chau, duong Dien Bien Phu"
    assert strip_diacritics("ưu tiên người già, hỗ trợ gạo") == "uu tien nguoi gia, ho tro gao"


def test_strip_diacritics_leaves_other_scripts_alone():
    assert strip_diacritics("ខេត្តត្រាវិញ 😷") == "ខេត្តត្រាវិញ 😷"


@pytest.mark.parametrize("old, new", [
    ("hoà", "hòa"), ("thuỷ", "thủy"), ("khoẻ", "khỏe"), ("quí", "quý"), ("qui định", "quy định"),
    ("uỷ ban", "ủy ban"), ("hoạ", "họa"), ("toán", "toán"), ("hoàng", "hoàng"), ("người", "người"),
    ("giữa", "giữa"), ("gìn", "gìn"), ("quốc", "quốc"), ("thuở", "thuở"), ("khuỷu", "khuỷu"),
])
def test_one_tone_mark_placement(old, new):
    assert unify_tone_marks(old) == new


def test_tone_marks_are_unified_in_normalize_and_words_that_are_no_syllable_kept():
    assert normalize("Hoà Thuận, THUỶ, sức khoẻ") == "hòa thuận, thủy, sức khỏe"
    assert normalize("covid-19 spo2 f0 zalo wifi") == "covid-19 spo2 f0 zalo wifi"


@pytest.mark.parametrize("chat, expanded", [
    ("e ko bít sdt", "em không biết số điện thoại"),
    ("hok dc j", "không được gì"),
    ("a ơi mn hông bít ntn", "anh ơi mọi người không biết như thế nào"),
    ("mik vs vk r z", "mình với vợ rồi vậy"),
    ("bv tp", "bệnh viện thành phố"),
    ("ubnd xã", "ủy ban nhân dân xã"),
    ("bn tiền", "bao nhiêu tiền"),
    ("bn ơi", "bạn ơi"),  # "bn" is "bạn" when called
    ("a lô", "a lô"),
    ("50k 5kg vitamin c", "50k 5kg vitamin c"),  # k/kg/c inside or after numbers stay
    ("đ/c k.", "đ/c không."),
])
def test_teencode(chat, expanded):
    assert expand_teencode(chat) == expanded


def test_plain_copy_makes_accented_and_unaccented_text_share_words():
    accented = with_plain_copy("Phản ánh vi phạm")
    assert accented == "phản ánh vi phạm phan anh pham"
    assert set(with_plain_copy("phan anh vi pham").split()) <= set(accented.split())


def test_model_text_drops_punctuation_and_a_leading_slash_but_keeps_question_marks():
    assert with_plain_copy("/report!!") == "report"
    assert with_plain_copy("Ko dc hả???") == "không được hả ? ? ? khong duoc ha"


def test_nlu_modules_import_without_rasa():
    code = ("import sys, nlu, nlu.text, nlu.model, nlu.cli, nlu.entities, nlu.evaluate; "
            "assert 'rasa' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
