"""The chat-style copy of a test message: how the same words look typed fast on Zalo or
Messenger. Lower case, no diacritics, the common teencode and abbreviations, most punctuation
and polite particles dropped. Deterministic: the choices hang on a hash of the text, so every run
and every machine makes the same copy. Pure Python, no rasa."""
import hashlib
import random
import re
import unicodedata

from nlu.text import strip_diacritics

# Whole words or phrases (lower case, NFC) and what people type instead; one of the choices is
# taken, or the word is kept as it is with the probability KEEP.
ABBREVIATIONS = [
    ("số điện thoại", ["sdt", "sđt", "đt"]),
    ("như thế nào", ["ntn", "sao"]),
    ("thế nào", ["sao", "ntn"]),
    ("bao nhiêu", ["bn", "bnhiu"]),
    ("bây giờ", ["bh", "h"]),
    ("mọi người", ["mn", "mng"]),
    ("xét nghiệm", ["xn"]),
    ("bệnh viện", ["bv"]),
    ("ủy ban nhân dân", ["ubnd"]),
    ("thành phố", ["tp"]),
    ("không", ["ko", "k", "hok", "hông", "khum"]),
    ("được", ["dc", "đc", "dk"]),
    ("gì", ["j", "gi"]),
    ("rồi", ["r", "roi"]),
    ("vậy", ["z", "v", "dậy"]),
    ("với", ["vs", "voi"]),
    ("biết", ["bít", "bik"]),
    ("người", ["ng"]),
    ("mình", ["mk", "mik"]),
    ("quá", ["wa", "qá"]),
    ("anh", ["a"]),
    ("em", ["e"]),
    ("chị", ["c", "chế"]),
    ("trước", ["trc"]),
    ("cũng", ["cx"]),
    ("nữa", ["nx"]),
    ("luôn", ["lun"]),
    ("muốn", ["mún"]),
    ("nhiều", ["nhìu"]),
    ("đang", ["đag"]),
    ("hôm", ["hum"]),
    ("nhé", ["nha", "nhe", "nhen"]),
    ("vợ", ["vk"]),
    ("chồng", ["ck"]),
    ("cảm ơn", ["cám ơn", "tks", "thanks"]),
    ("tôi", ["t", "tui", "toi"]),
]
KEEP = 0.25
# Polite particles and openings that a quick typist leaves out.
DROPPED = re.compile(r"(?<!\w)(ạ|dạ|kính gửi|xin chào|thưa)(?!\w)")
_RULES = [(re.compile(r"(?<!\w)" + re.escape(word) + r"(?!\w)"), choices)
          for word, choices in ABBREVIATIONS]


def chat_style(text: str) -> str:
    """'Cho tôi hỏi F1 có được đi chợ không ạ?' -> 'cho tui hoi f1 co dc di cho ko?'"""
    rng = random.Random(hashlib.sha256(text.encode("utf-8")).digest())
    out = unicodedata.normalize("NFC", text).lower()
    out = DROPPED.sub("", out)
    for pattern, choices in _RULES:
        out = pattern.sub(lambda m: m.group() if rng.random() < KEEP else rng.choice(choices), out)
    out = strip_diacritics(out)
    # Punctuation goes, except a question mark now and then; no sentence ends with a full stop.
    out = re.sub(r"[^\w\s?]", " ", out)
    if rng.random() < 0.5:
        out = out.replace("?", " ")
    return " ".join(out.split())
