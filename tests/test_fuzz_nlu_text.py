"""Generated text against the NLU normalizer's pure functions (nlu/text.py: what the Rasa
component VietnameseNormalizer runs on every message; the component itself needs rasa, which
the app's environment does not have). Any text, in NFC or NFD, with zero-width characters, very
long: no exception, and the same answer whichever Unicode form the platform sent."""
from __future__ import annotations

import unicodedata

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from nlu.text import expand_teencode, normalize, strip_diacritics, with_plain_copy, words

pytestmark = pytest.mark.slow  # not in `make test-fast`: thousands of generated texts (about 30 s)

FUZZ = settings(deadline=None, derandomize=True, database=None, max_examples=1100,
                suppress_health_check=[HealthCheck.too_slow])
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"

vietnamese = st.lists(st.sampled_from(
    list("aăâeêioôơuưyđAĂÂEÊIOÔƠUƯYĐbcdghklmnpqrstvxBCDGH ?.,!/0123456789") + list(ZERO_WIDTH)
    + ["\u0300", "\u0301", "\u0303", "\u0309", "\u0323", "😀", "\n", "\t", "İ", "ẞ", "ǅ"]
    + ["hoà", "thuỷ", "khoẻ", "quí", "ko", "sdt", "bn ơi", "a lô", "TV-8HK3MA", "ស្រុក"]), max_size=300).map("".join)
any_text = st.text(max_size=300) | vietnamese | st.text(max_size=20).map(lambda t: t * 500)
forms = st.sampled_from(["NFC", "NFD", "NFKC", "NFKD"])


@FUZZ
@given(text=any_text, form=forms)
def test_normalize_is_clean_idempotent_and_blind_to_the_unicode_form(text, form):
    result = normalize(unicodedata.normalize(form, text))
    assert unicodedata.is_normalized("NFC", result)
    assert not set(ZERO_WIDTH) & set(result)
    assert result == " ".join(result.split())
    assert normalize(result) == result
    if form in ("NFC", "NFD"):  # canonical forms: the same text to a reader
        assert result == normalize(text)


@FUZZ
@given(text=any_text)
def test_strip_diacritics_leaves_no_vietnamese_marks(text):
    plain = strip_diacritics(text)
    assert not any("\u0300" <= c <= "\u036f" for c in unicodedata.normalize("NFD", plain))
    assert "đ" not in plain and "Đ" not in plain
    assert strip_diacritics(plain) == plain


@FUZZ
@given(text=any_text, form=st.sampled_from(["NFC", "NFD"]))
def test_the_classifier_input_is_the_same_for_nfc_and_nfd(text, form):
    # The classifier sees with_plain_copy(): a message must classify alike whichever form it came in.
    assert with_plain_copy(unicodedata.normalize(form, text)) == with_plain_copy(text)
    assert all(w == w.lower() for w in words(text))
    assert "/" not in with_plain_copy(text)  # no Rasa "/intent" command survives


@FUZZ
@given(text=vietnamese | any_text)
def test_expanding_chat_abbreviations_twice_changes_nothing_more(text):
    once = expand_teencode(normalize(text))
    assert expand_teencode(once) == once
