import unicodedata

from bot.text_split import split_text


def test_short_text_is_one_part():
    assert split_text("  Tổng đài 1022 xin chào.  ") == ["Tổng đài 1022 xin chào."]


def test_long_text_is_split_on_sentence_boundaries_under_the_limit():
    sentence = "Anh/chị theo dõi SpO2 mỗi ngày và gọi 115 khi khó thở. "
    text = sentence * 100
    parts = split_text(text, limit=2000)
    assert len(parts) == 3
    assert all(len(p) <= 2000 and p.endswith("khó thở.") for p in parts)
    assert " ".join(parts) == text.strip()


def test_paragraph_break_is_preferred_to_a_sentence_break():
    first = "Câu một. " * 170  # 1,530 characters
    text = first.strip() + "\n\n" + "Câu hai. " * 100
    assert split_text(text, limit=2000)[0] == first.strip()


def test_length_is_counted_after_nfc():
    nfd = unicodedata.normalize("NFD", "Phản ánh ở Tiểu Cần. " * 90)  # NFC: 1,889 characters
    assert len(nfd) > 2000
    assert split_text(nfd, limit=2000) == [unicodedata.normalize("NFC", nfd).strip()]


def test_a_word_longer_than_the_limit_is_cut_hard():
    parts = split_text("x" * 4500, limit=2000)
    assert [len(p) for p in parts] == [2000, 2000, 500]
