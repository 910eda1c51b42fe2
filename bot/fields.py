"""Is this message an answer to the detail the bot asked for? One check per kind of detail.

A check returns the value to keep (the citizen's own words, or the normalized value for a
phone or a name), `DECLINED`, or None when the message is something else — a question, a yes,
a name where a phone was asked — which the conversation then deals with and asks again."""
from __future__ import annotations

import re
from typing import Callable

from bot import cues
from bot.plain import plain_text
from nlu.client import Parse
from nlu.entities import SURNAMES
from nlu.text import normalize, strip_diacritics

DECLINED = "\0declined"
_CHAT = {"greet", "thanks", "goodbye", "bot_challenge", "affirm", "deny", "cancel", "not_yet", "insult"}
_YES_NO = re.compile(r"^(?:u|uh|um|vang|da|co|ok|okay|dung|dung roi|phai|khong|chua|sai|roi|duoc|yes|no|"
                     r"a|ah|oke|hi|hello|alo|chao|xin chao|cam on|thanks)(?: (?:a|nha|nhe|roi|ha|ad))*$")
_PLACE_WORDS = re.compile(
    r"\b(?:ap|khom|xa|phuong|thi tran|huyen|thi xa|thanh pho|tinh|duong|so nha|so \d|hem|kiet|to \d|to dan pho|"
    r"gan|canh|ke ben|truoc|sau|doi dien|cho|cau|nga (?:ba|tu|nam)|quan|tiem|truong|chua|nha|khu|cong vien|"
    r"benh vien|tram|ben|vam|kenh|rach|song|lo|cong ty|nha may|dinh|mieu|nha tho|ubnd|uy ban|p\d+|q\d+)\b")
_TIME_WORDS = re.compile(
    r"\b(?:hom|bua|nay|qua|toi|sang|trua|chieu|dem|khuya|gio|luc|hoi|moi|vua|dang|hien|thu|chu nhat|tuan|thang|"
    r"ngay|nam|lien tuc|hang|moi|thuong xuyen|may|lau|tu|den|gan day|dao nay|nua dem|rang sang|sang som)\b|"
    r"\d{1,2} ?(?:h|g|gio|:)\d{0,2}\b|\d{1,2}/\d{1,2}")
# Words that are no part of a name. Typed with diacritics they are certain; without, only those
# that no Vietnamese or Khmer name is spelled like ("thi" is Thị, "ho" Hồ, "dang" Đặng).
_NAME_STOP_TYPED = set("không có được gì sao nào là tôi tui em anh chị mình tên của ở tại thì mà vì để cho nhé nha "
                       "rồi hả hỏi biết muốn cần xin hỗ trợ giúp số điện thoại sđt bệnh sốt khó thở đang bị phản "
                       "ánh góp ý tổng đài ạ ơi vậy".split())
_NAME_STOP_PLAIN = set("khong ko k duoc gi sao nao toi tui minh ten cua tai vi nhe nha roi hoi biet muon xin giup "
                       "so dien thoai sdt benh sot phan gop tong dai oi vay".split())
_FILLER_REQUEST = set("u uh um vang da co ok dung roi phai khong chua gi a nha nhe ha duoc tuy sao cung".split())


def _entity(parse: Parse, *names: str) -> str | None:
    return next((e["value"] for e in parse.entities if e["entity"] in names), None)


def _chat(text: str, parse: Parse) -> bool:
    """A yes, no, greeting or thanks: never a detail."""
    plain = plain_text(text)
    return bool(_YES_NO.match(plain)) or (parse.intent in _CHAT and parse.confidence >= 0.6 and len(plain.split()) <= 4)


def description(text: str, parse: Parse) -> str | None:
    plain = plain_text(text)
    if _chat(text, parse) or len(plain.split()) < 3 and len(plain) < 12:
        return None
    return text.strip()


_AT = re.compile(r"^(?:ở|o|tại|tai)\s+", re.IGNORECASE)


def place(text: str, parse: Parse) -> str | None:
    plain = plain_text(text)
    if _entity(parse, "commune", "district") or _PLACE_WORDS.search(plain) and not cues.is_question(text):
        return _AT.sub("", text.strip())
    if cues.declines(text, parse):
        return DECLINED
    return None


def free_place(text: str, parse: Parse) -> str | None:
    """Asked again, a place the NLU does not know ("Giồng Lớn") is taken as the citizen wrote it."""
    plain = plain_text(text)
    if _chat(text, parse) or cues.is_question(text) or _entity(parse, "phone", "time", "case_code") \
            or re.search(r"\b(?:dau cung|cho nao cung|khong biet|dau do)\b", plain):
        return None
    return _AT.sub("", text.strip()) if len(plain.split()) >= 2 else None


def time(text: str, parse: Parse) -> str | None:
    plain = plain_text(text)
    if _entity(parse, "time"):
        return text.strip()
    if cues.declines(text, parse) or re.search(r"\b(?:khong|chua) (?:nho|biet|ro)\b", plain):
        return DECLINED
    if _TIME_WORDS.search(plain) and not cues.is_question(text):
        return text.strip()
    return None


def phone(text: str, parse: Parse) -> str | None:
    found = _entity(parse, "phone")
    if found:
        return found
    if cues.declines(text, parse):
        return DECLINED
    return None


SURNAMES_PLAIN = {strip_diacritics(surname) for surname in SURNAMES}
_NAME_PREFIX = re.compile(r"^(?:(?:họ và tên|họ tên|ho va ten|ho ten|tên|ten)\s*(?:của\s*|cua\s*)?(?:tôi|toi|em|e|tui|"
                          r"mình|minh|con|cháu|chau)?\s*(?:là|la)?|(?:tôi|toi|em|e|tui|mình|minh|con|cháu|chau)\s+"
                          r"(?:tên|ten)\s*(?:là|la)?)\s*[:\-]?\s*", re.IGNORECASE)


def name(text: str, parse: Parse) -> str | None:
    """A person's name: what the NLU found, else 1–6 words that can be a name — capitalized as
    names are, or starting with a known surname ("le thi hong"); "gạo với mì gói" is none."""
    found = _entity(parse, "person_name")
    if found:
        return found
    rest = _NAME_PREFIX.sub("", normalize(text).strip(" .,!"), count=1)
    typed = rest.replace(",", " ").replace(".", " ").split()
    original = _NAME_PREFIX.sub("", text.strip(" .,!"), count=1).split()
    if cues.is_question(text) or _chat(text, parse) or not 1 <= len(typed) <= 6 \
            or any(not word.isalpha() or word in _NAME_STOP_TYPED
                   or (word == strip_diacritics(word) and word in _NAME_STOP_PLAIN) for word in typed):
        return None
    capitalized = all(word[:1].isupper() for word in original)
    if not capitalized and typed[0] not in SURNAMES and strip_diacritics(typed[0]) not in SURNAMES_PLAIN:
        return None
    return " ".join(word.capitalize() for word in typed)


def request(text: str, parse: Parse) -> str | None:
    found = _entity(parse, "support_request")
    if found:
        return found
    plain = plain_text(text)
    if cues.declines(text, parse) or re.search(r"\b(?:gi cung duoc|sao cung duoc|tuy)\b", plain):
        return DECLINED
    if cues.is_question(text) or _chat(text, parse) or all(w in _FILLER_REQUEST for w in plain.split()):
        return None
    return text.strip()


CHECKS: dict[str, Callable[[str, Parse], str | None]] = {
    "description": description, "place": place, "time": time, "phone": phone, "name": name, "request": request}


# ---- details named inside a long first message, where the NLU's entities miss them ---------------

_NOT_A_NAME = set("o tai sdt so nam tuoi sinh xin bi nha dang hien thuong la lam song que ngu tru hong khong "
                  "ko mat benh ma vi de nhan".split())
_NAME_INTRO = re.compile(r"(?:^|[\s,.;:(])(?:(?:tôi|toi|em|e|tui|mình|minh|con|cháu|chau|bà|ba|ông|ong|mẹ|me|má|ma|"
                         r"bố|bo|cha|chồng|chong|vợ|vo|ngoại|ngoai|nội|noi|cô|co|chú|chu|dì|di|họ|ho)\s+)?"
                         r"(?:tên|ten)\s*(?:là|la)?\s*[:\-]?\s*([^,.;:\n\d()]+)", re.IGNORECASE)
_ASKED_FOR = re.compile(r"\b(?:xin|can|mong|de nghi|nho)(?: \w+){0,3}? (?:ho tro|giup do|tro giup|cap)(?: them)? "
                        r"((?:\w+)(?: \w+){0,6})")
_REQUEST_ENDS = re.compile(r"\b(?:so dien thoai|sdt|so|vi|de|o|tai|nha|cho|lien he|goi|cam on|dia chi)\b")
_NO_PARSE = Parse("nlu_fallback", 0.0, [])


def name_mentioned(text: str) -> str | None:
    """"E ten Kim Thi Sa Ry, o ap…", "bà tên Nguyễn Thị Tám 81 tuổi": the name after "tên"."""
    for match in _NAME_INTRO.finditer(text):
        kept = []
        for word in match.group(1).split():
            if word.islower() and strip_diacritics(word) in _NOT_A_NAME:
                break
            kept.append(word)
        found = name(" ".join(kept[:5]), _NO_PARSE) if kept else None
        if found:
            return found
    return None


def request_mentioned(text: str) -> str | None:
    """"xin nhà nước hỗ trợ gạo ăn, sdt…": what is asked for, in the citizen's words."""
    typed = normalize(text)
    plain = strip_diacritics(typed)  # one letter for one letter: positions agree
    for match in _ASKED_FOR.finditer(plain):
        start, end = match.span(1)
        stop = _REQUEST_ENDS.search(plain, start, end)
        words = typed[start:stop.start() if stop else end].strip()
        if words and request(words, _NO_PARSE) not in (None, DECLINED):
            return words
    return None
