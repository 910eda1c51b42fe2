"""Danger signs of a health emergency, in any spelling: with or without diacritics, teencode,
typos that people really make ("sp02", "tho ko noi"). A danger sign beats every other rule of
the conversation, so this errs towards alarm: a false alarm costs a staff member a look, a
missed one can cost a life. Signs follow the Ministry of Health's home-care guidance for F0
(khó thở, SpO2 under 94 %, đau tức ngực, tím môi, lơ mơ / li bì, co giật, ngất).

Everything is matched on the plain form of the text (lower case, teencode expanded, no
diacritics), so every pattern below is written without diacritics."""
from __future__ import annotations

import re

from bot.plain import plain_text

_SIGNS = [
    # breathing
    r"kho tho", r"tho kho", r"tho (?:khong|chang) (?:noi|duoc|ra hoi|ra)", r"khong (?:tho|the tho) (?:noi|duoc)",
    r"tho (?:doc|gap|dot|hut|rit|phi pho|nang nhoc|met|yeu|thoi thop|ngat quang|nhanh)", r"hut hoi", r"ngop",
    r"nghet tho", r"ngat tho", r"tuc tho", r"met khi tho", r"ngung tho", r"khong con tho", r"tho khong deu",
    # chest
    r"(?:dau|tuc|nang|nhoi|that|ep) (?:tuc )?nguc", r"nguc (?:dau|tuc|nang|nhoi)",
    # colour: "tím" is also "tìm" (to look for) without diacritics
    r"tim tai\b(?! lieu| khoan| san)", r"moi (?:\w+ ){0,2}tim\b", r"tim (?:moi|ngon|dau ngon)\b(?! cach| nguoi| noi| thu)",
    r"(?:moi|mat|da) (?:\w+ )?(?:tai xanh|xanh tai|tai nhot)",
    # consciousness: "ngất", not "ngắt điện"; "xỉu", not "chờ xíu"
    r"lo mo", r"li bi", r"lim(?: di| dan)?\b", r"lu du", r"lu lan", r"me man", r"hon me", r"bat tinh",
    r"ngat\b(?! (?:dien|ket noi|mang|may|nuoc|ngang|quang|nhip|loi))", r"(?:bi|ngat|te|muon) xiu\b", r"xiu (?:di|luon)",
    r"(?:goi|lay|keu|danh thuc) (?:\w+ )?(?:khong|chang) (?:day|tinh|tra loi)", r"kho danh thuc",
    r"khong (?:con )?tinh tao", r"ngu ru", r"met la",
    # seizures, bleeding, circulation
    r"co giat", r"len con giat", r"giat kinh", r"(?:ho|non|oi) ra mau", r"mach (?:nhanh|yeu|cham)",
    r"(?:tut|ha) huyet ap", r"huyet ap (?:tut|thap)",
]
_SIGN = re.compile(r"\b(?:" + "|".join(_SIGNS) + r")")
# "không khó thở", "hết khó thở rồi", "đỡ tức ngực", "chưa bị li bì": the sign is denied. A
# negation counts only right before the sign (up to two words between).
_DENIED = re.compile(r"\b(?:khong|chua|het|bot|khoi|chang)(?: (?:bi|co|con|thay|he|may))?(?: \w+)? $")
# "SpO2 92", "sp02 con 89%", "oxy 90", "chỉ số oxi trong máu 88", "spo2 sáng 97 chiều 91"; a
# reading ends where another measure begins ("spo2 98 mạch 88").
_OXYGEN = re.compile(r"\b(?:spo2|sp02|spo 2|sp o2|spo|sop2|oxy|oxi|o2|bao hoa oxy)\b")
_OTHER_MEASURE = re.compile(r"\b(?:mach|nhiet|huyet ap|nhip|sot|do c|can nang|tuoi|ngay|lan|lit|trieu|ngan)\b")
_READING = re.compile(r"(?<!\d)(\d{2,3})(?!\d)")
_OXYGEN_DANGER_BELOW = 94
_OXYGEN_PLAUSIBLE_FROM = 40  # "oxy 10 lít", "spo2 3 lần": a quantity, not a reading

# "gọi 115 không được", "115 ko nghe máy", "115 bận hoài": the emergency line did not help.
_LINE_FAILED = re.compile(r"\b115\b.{0,30}(?:khong|hong|chua|ban|ko)\b.{0,15}(?:nghe|bat|duoc|toi|lien lac|ai)"
                          r"|\b(?:goi|call)\b.{0,10}\b115\b.{0,20}(?:khong|hong|chua|ban)"
                          r"|\b115\b.{0,10}\b(?:ban|tut tut|may ban)")


def is_emergency(text: str) -> bool:
    plain = plain_text(text)
    for match in _SIGN.finditer(plain):
        if not _DENIED.search(plain[max(0, match.start() - 30):match.start()]):
            return True
    return any(_low_oxygen(plain[match.end():match.end() + 40]) for match in _OXYGEN.finditer(plain))


def _low_oxygen(after_keyword: str) -> bool:
    other = _OTHER_MEASURE.search(after_keyword)
    readings = _READING.findall(after_keyword[:other.start()] if other else after_keyword)
    return any(_OXYGEN_PLAUSIBLE_FROM <= int(value) < _OXYGEN_DANGER_BELOW for value in readings)


def emergency_line_failed(text: str) -> bool:
    return bool(_LINE_FAILED.search(plain_text(text)))
