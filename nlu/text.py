"""Vietnamese text clean-up shared by the Rasa component and tests. Pure Python: no rasa here."""
import re
import unicodedata

# Zalo/Messenger copy-paste leaves these invisible characters inside words.
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# Vietnamese tone and vowel marks all live in this block; limiting removal to it keeps other
# scripts (Khmer vowel signs are combining marks too) intact.
_COMBINING_LATIN = re.compile("[\u0300-\u036f]")


def normalize(text: str) -> str:
    """NFC, lower case, zero-width characters removed, whitespace collapsed and trimmed."""
    text = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH).lower()
    # lower() can leave combining marks behind (e.g. "İ"), so compose once more.
    return " ".join(unicodedata.normalize("NFC", text).split())


def strip_diacritics(text: str) -> str:
    """'Phản ánh ở Đôn Châu' -> 'Phan anh o Don Chau'."""
    text = _COMBINING_LATIN.sub("", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFC", text.replace("đ", "d").replace("Đ", "D"))


def with_plain_copy(text: str) -> str:
    """Normalized text followed by the diacritics-free form of every word that has marks, so that
    'phản ánh vi phạm' and 'phan anh vi pham' share word and character features."""
    words = normalize(text).split()
    plain = [p for w in words if (p := strip_diacritics(w)) != w]
    return " ".join(words + plain)
