"""What a citizen's words ask of their personal data and of a resolved case, read without the NLU:
"xem dữ liệu của tôi", "xóa dữ liệu của tôi" (Nghị định 13/2023/NĐ-CP) and a typed rating ("5",
"4 sao", "rất hài lòng"). Pure functions over the plain text (bot/plain.py)."""
from __future__ import annotations

import re

from bot.plain import plain_text

VIEW, ERASE = "view", "erase"
_ME = r"(?:toi|tui|em|minh|con|chau|anh|chi)"
_MY_DATA = rf"(?:du lieu|thong tin ca nhan|thong tin (?:cua )?{_ME}|tin nhan (?:cua )?{_ME})"
_ERASE = re.compile(rf"\bxoa (?:\w+ ){{0,3}}{_MY_DATA}\b|\bkhong muon (?:\w+ ){{0,3}}luu (?:\w+ ){{0,2}}"
                    rf"(?:du lieu|thong tin|tin nhan)\b")
# "kiểm tra lại thông tin của tôi" at a summary is a doubt, not a request: viewing names the data.
_VIEW = re.compile(rf"\b(?:xem|coi|cho (?:{_ME} )?(?:xem|coi|biet)) (?:\w+ ){{0,3}}(?:du lieu|thong tin ca nhan)\b|"
                   rf"\bdu lieu (?:cua )?{_ME}\b|\b(?:tong dai )?(?:luu|giu) (?:nhung )?(?:gi|thong tin gi|du lieu gi) "
                   rf"(?:ve|cua) {_ME}\b")


def data_request(text: str) -> str | None:
    """VIEW, ERASE or None."""
    plain = plain_text(text)
    if _ERASE.search(plain):
        return ERASE
    if _VIEW.search(plain):
        return VIEW
    return None


_FILLER = r"(?: (?:a|ah|nha|nhe|nhen|ne|thoi|roi|ad|admin|tong dai))*"
_SCORE = re.compile(rf"^(?:(?:cho|danh gia|cham|em|tui|toi|minh) )*([1-5])(?: ?(?:sao|diem|d|5|tren 5))?{_FILLER}$")
_WORDS = ((re.compile(rf"^(?:rat|qua) (?:khong hai long|te|kem|do){_FILLER}$"), 1),
          (re.compile(rf"^(?:khong hai long|te|kem|chua hai long){_FILLER}$"), 2),
          (re.compile(rf"^(?:binh thuong|tam duoc|tam tam){_FILLER}$"), 3),
          (re.compile(rf"^(?:hai long|tot){_FILLER}$"), 4),
          (re.compile(rf"^(?:rat (?:hai long|tot)|qua tot|tuyet voi|xuat sac){_FILLER}$"), 5))


def typed_score(text: str) -> int | None:
    """A rating typed rather than pressed: "5", "cho 4 sao nha", "5/5", "rất hài lòng"."""
    plain = plain_text(text)
    match = _SCORE.match(plain)
    if match:
        return int(match.group(1))
    return next((score for words, score in _WORDS if words.match(plain)), None)
