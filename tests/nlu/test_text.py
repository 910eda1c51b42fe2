"""nlu/text.py: pure Python, so it runs in the app environment without rasa."""
import subprocess
import sys
import unicodedata
from pathlib import Path

from nlu.text import normalize, strip_diacritics, with_plain_copy

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


def test_plain_copy_makes_accented_and_unaccented_text_share_words():
    accented = with_plain_copy("Phản ánh vi phạm")
    assert accented == "phản ánh vi phạm phan anh pham"
    assert set(with_plain_copy("phan anh vi pham").split()) <= set(accented.split())


def test_nlu_modules_import_without_rasa():
    code = "import sys, nlu, nlu.text, nlu.model, nlu.cli; assert 'rasa' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, check=True)
