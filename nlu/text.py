"""Vietnamese text clean-up shared by the Rasa components, the evaluation and tests.
Pure Python: no rasa here."""
import re
import unicodedata
from functools import lru_cache

# Zalo/Messenger copy-paste leaves these invisible characters inside words.
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# Vietnamese tone and vowel marks all live in this block; limiting removal to it keeps other
# scripts (Khmer vowel signs are combining marks too) intact.
_COMBINING_LATIN = re.compile("[\u0300-\u036f]")

# grave, acute, tilde, hook above, dot below
_TONES = "\u0300\u0301\u0303\u0309\u0323"
_VOWELS = "aăâeêioôơuưy"
_SYLLABLE = re.compile(f"(qu|gi(?=[{_VOWELS}])|[bcdđghklmnpqrstvx]*)([{_VOWELS}]+)([bcdđghklmnpqrstvx]*)")

# Chat abbreviations, each a whole word. Left out on purpose: "kg" (kilogram), "dk"/"đk" (được,
# đăng ký or điều kiện), "c" (chị, or vitamin C), "tt" (thị trấn, thông tin...), "cn" (chủ nhật or
# công nhân), "v" (vậy or và).
TEENCODE = {
    **dict.fromkeys(["k", "ko", "kh", "khg", "kô", "k0", "hk", "hok", "hông", "hong", "hổng", "hem",
                     "khum"], "không"),
    **dict.fromkeys(["dc", "đc", "đươc"], "được"),
    **dict.fromkeys(["j", "ji"], "gì"),
    "ntn": "như thế nào", "bn": "bao nhiêu",
    **dict.fromkeys(["sdt", "sđt", "đt", "dt"], "số điện thoại"),
    **dict.fromkeys(["mn", "mng"], "mọi người"),
    "ng": "người", "ngta": "người ta",
    "e": "em", "a": "anh", "cj": "chị",
    **dict.fromkeys(["mik", "mjk", "mk"], "mình"),
    "r": "rồi", "z": "vậy", "zậy": "vậy", "dzậy": "vậy",
    "vs": "với", "wa": "quá", "wá": "quá",
    "bv": "bệnh viện", "ubnd": "ủy ban nhân dân", "tp": "thành phố", "tx": "thị xã",
    "xn": "xét nghiệm", "kq": "kết quả", "cty": "công ty", "ck": "chồng", "vk": "vợ",
    "trc": "trước", "ms": "mới", "cx": "cũng", "lm": "làm", "nx": "nữa", "ns": "nói",
    "lun": "luôn", "mún": "muốn", "bít": "biết", "nhìu": "nhiều", "đag": "đang", "dag": "đang",
    "hum": "hôm", "tks": "cảm ơn", "thks": "cảm ơn", "cám": "cảm",
    "oke": "ok", "okie": "ok", "okela": "ok", "uk": "ừ", "uh": "ừ", "um": "ừ",
}
# The next words decide these: "bn ơi" is "bạn ơi" (not "bao nhiêu ơi"), "a lô" is no "anh".
_CONTEXT = {"bn": (re.compile(r" (?:ơi|oi)\b"), "bạn"), "a": (re.compile(r" (?:lô|lo)\b"), "a")}
_TEENCODE = re.compile(r"(?<!\w)(?:" + "|".join(sorted(map(re.escape, TEENCODE), key=len, reverse=True))
                       + r")(?!\w)")
_WORD = re.compile(r"[^\W\d_]+")


@lru_cache(maxsize=65536)
def _unify_word(word: str) -> str:
    """One lower-case syllable with its tone mark where the traditional rule puts it (hòa, thủy,
    khỏe), and "qui"/"quí" spelled "quy"/"quý"; anything that is not a syllable is left alone."""
    decomposed = unicodedata.normalize("NFD", word)
    tones = [c for c in decomposed if c in _TONES]
    if len(tones) > 1:
        return word
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
    match = _SYLLABLE.fullmatch(base)
    if not match:
        return word
    onset, vowels, coda = match.groups()
    if onset == "qu" and vowels == "i" and not coda:
        vowels = "y"
    if not tones:
        return onset + vowels + coda
    marked = [i for i, v in enumerate(vowels) if v in "ăâêôơư"]
    if marked:
        at = marked[-1]  # ươ takes the mark on ơ
    elif len(vowels) == 3:
        at = 1
    elif len(vowels) == 2:
        at = 1 if coda else 0
    elif len(vowels) == 1:
        at = 0
    else:
        return word
    vowels = vowels[: at + 1] + tones[0] + vowels[at + 1:]
    return unicodedata.normalize("NFC", onset + vowels + coda)


def unify_tone_marks(text: str) -> str:
    """'hoà thuỷ khoẻ quí' -> 'hòa thủy khỏe quý' (text already lower case and NFC)."""
    return _WORD.sub(lambda m: _unify_word(m.group()), text)


def normalize(text: str) -> str:
    """NFC, lower case, zero-width characters removed, one tone-mark placement, whitespace
    collapsed and trimmed."""
    text = unicodedata.normalize("NFC", text).translate(_ZERO_WIDTH).lower()
    # lower() can leave combining marks behind (e.g. "İ"), so compose once more.
    text = unicodedata.normalize("NFC", text)
    # Moving a tone mark can put it before a stray combining mark left outside the word ("aà" +
    # U+0300): compose again, so the result is NFC whatever came in.
    return " ".join(unicodedata.normalize("NFC", unify_tone_marks(text)).split())


def expand_teencode(text: str) -> str:
    """'e ko bít sdt' -> 'em không biết số điện thoại' (text already normalized)."""
    return _TEENCODE.sub(_expand, text)


def _expand(match: re.Match) -> str:
    word = match.group()
    rule = _CONTEXT.get(word)
    if rule and rule[0].match(match.string, match.end()):
        return rule[1]
    return TEENCODE[word]


def strip_diacritics(text: str) -> str:
    """'Phản ánh ở Đôn Châu' -> 'Phan anh o Don Chau'."""
    text = _COMBINING_LATIN.sub("", unicodedata.normalize("NFD", text))
    return unicodedata.normalize("NFC", text.replace("đ", "d").replace("Đ", "D"))


def words(text: str) -> list:
    """Normalized, teencode-expanded words; punctuation and emoji dropped, '?' kept."""
    return re.findall(r"\w+|\?", expand_teencode(normalize(text)))


def with_plain_copy(text: str) -> str:
    """The text the classifier sees: normalized words followed by the diacritics-free form of
    every word that has marks, so 'phản ánh vi phạm' and 'phan anh vi pham' share word and
    character features."""
    found = words(text)
    plain = [p for w in found if (p := strip_diacritics(w)) != w]
    return " ".join(found + plain)
