"""Reports of one incident by several citizens ("có thể trùng"): when a violation report is filed,
the open reports filed within a few hours before it are compared with it, and those that look like
the same incident are kept on the new case for staff to confirm with one click (bot/cases.py:
mark_duplicate). Only a suggestion: staff decide.

Two reports look alike when they are close in time, in the same place — the same hamlet or khóm,
or shared locations a few hundred metres apart; the same commune at least, when neither names a
hamlet — and say the same thing: kinds of incident in common (a party, a wedding, a market…) and
words in common once place names and small words are set aside. Measured on labelled pairs,
`python -m bot.duplicates` (data/duplicates/)."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.plain import plain_text
from nlu.text import normalize, strip_diacritics

WINDOW_HOURS = 6.0
NEAR_METRES = 300.0
FAR_METRES = 1000.0
CANDIDATES = 200            # open reports looked at per new report
SAME_PLACE_SIMILARITY = 0.15  # words in common needed when the place is the same spot
AREA_SIMILARITY = 0.1         # … when only the commune is the same (with a kind of incident in common)
UNKNOWN_PLACE_SIMILARITY = 0.2  # … when one report has a shared location and the other a commune

# Kinds of incident: a report names one or several. Matched on the plain text (no diacritics) and,
# where the plain form is ambiguous ("cho": chợ / cho, "chua": chùa / chưa, "le": lễ / lề), on the
# text as typed.
_KINDS = {
    "wedding": r"dam cuoi|tiec cuoi|dam hoi|an hoi|le cuoi|rap cuoi",
    "party": r"nhau|tiec|an uong|sinh nhat|lai rai|bia|say xin|ruou",
    "memorial": r"dam gio|an gio|cung gio|nha dam gio",
    "funeral": r"dam tang|dam ma|vieng|dam hieu",
    "karaoke": r"karaoke|loa keo|hat hat|hat ho|ca hat|mo nhac|hat to",
    "gambling": r"da ga|danh bai|co bac|so de|lo de|ca do|song bai|xoc dia|an tien",
    "sport": r"da banh|da bong|bong da|bong chuyen|cau long|san banh|san bong|da ca do",
    "market": r"cho tam|cho tu phat|cho (?:xa|ap|phuong|khom)|hop cho|mua ban|ban hang|hang rong|ghe ca|ben ca|"
              r"ban rau|ban ca|ca dong|ban do an|xe ban",
    "cafe": r"ca phe|cafe|cf|quan nuoc",
    "eatery": r"quan com|quan an|ngoi an|an tai cho|ban mang ve",
    "religion": r"le chua|o chua|chua ap|lam le|to chuc le|nha tho|dinh|mieu",
    "beach": r"bien|tam bien|bai tam",
    "arrivals": r"ve tu|tu (?:binh duong|sai gon|tp hcm|tphcm|dong nai|long an)|o (?:binh duong|sai gon|tp hcm)|"
                r"khong khai bao|chua khai bao|khai bao y te",
    "isolation": r"\bf0\b|\bf1\b|cach ly|tron|bo di",
    "checkpoint": r"chot|kiem dich|thu tien|doi tien|lam kho",
    "prices": r"que test|gia cao|gia cat co|dat qua|qua dat|tang gia|chat chem|binh oxy|\d+ ?(?:k|ngan|nghin)\b",
}
_KINDS_TYPED = {"market": r"chợ", "religion": r"chùa|lễ"}
KINDS = {kind: re.compile(rf"\b(?:{words})\b") for kind, words in _KINDS.items()}
KINDS_TYPED = {kind: re.compile(rf"\b(?:{words})\b") for kind, words in _KINDS_TYPED.items()}

_HAMLET = re.compile(r"\b(?:ap|khom|hem) ([a-z0-9]+(?: [a-z0-9]+)?)")
_PLACE_WORDS = re.compile(r"\b(?:ap|khom|hem|xa|phuong|p|thi tran|tt|thi xa|tx|huyen|h|thanh pho|tp|tv|tra vinh)\b")
_SMALL = set("""a ah ak ad admin ai anh ba bac bao be bi bo cac cai can cho chi chu co con cua cung da dang day de
den deu di do duoc em gan gio gi giup gium ha hay het hom hon khi khoang khong ko la lai lam lan luc luon ma mac
may minh mong moi mot muon nay ne neu nghe ngay nguoi nha nhe nhieu nho no nua o oi on ong qua ra roi rat sang
sao se so ta tai thay the thi toi tu tui tren trong truoc va van ve vi vo voi vu xin xong xuong chieu toi trua
dem sang nay bay gio luc""".split())
_PLACE_NAMES = {"xa", "phuong", "p", "tt", "thi", "huyen", "tp"}
_STOP_AFTER_HAMLET = _SMALL | _PLACE_NAMES | {"gan", "ngay"}
_LOCATION = re.compile(r"(-?\d{1,3}\.\d+),\s*(-?\d{1,3}\.\d+)")


@dataclass(frozen=True)
class Report:
    text: str
    ts: float                        # when it was filed (epoch seconds)
    commune: str | None = None       # "Xã Long Đức, Thành phố Trà Vinh", or just "Phường 1"
    district: str | None = None
    location: tuple[float, float] | None = None


def report_of(case: dict) -> Report:
    """A filed case as compared here: what happened and where, in the citizen's words."""
    details = case.get("details") or {}
    place = str(details.get("place") or "")
    found = _LOCATION.search(place) if "Vị trí đã chia sẻ" in place else None
    return Report(text=f"{case.get('description') or ''} {place}", ts=float(case.get("created_ts") or 0.0),
                  commune=details.get("commune"), district=case.get("district"),
                  location=(float(found.group(1)), float(found.group(2))) if found else None)


def _folded(text: str) -> str:
    """Lower case, no diacritics, no punctuation — and no teencode expansion: "hem" is hẻm here."""
    return " ".join(re.findall(r"\w+", strip_diacritics(normalize(text)).lower()))


def kinds(report: Report) -> frozenset[str]:
    plain, typed = _without_places(report), normalize(report.text)
    return frozenset(kind for kind, words in KINDS.items() if words.search(plain)) | \
        frozenset(kind for kind, words in KINDS_TYPED.items() if words.search(typed))


def hamlets(text: str) -> frozenset[str]:
    """"ấp Chợ", "khóm 3", "hẻm 12": the first word or two of the name."""
    found = set()
    for match in _HAMLET.finditer(_folded(text)):
        first, *rest = match.group(1).split()
        if first in _PLACE_NAMES:
            continue
        words = [first]
        for word in rest:
            if word in _STOP_AFTER_HAMLET:
                break
            words.append(word)
        if words:
            found.add(" ".join(words))
    return frozenset(found)


def _without_places(report: Report) -> str:
    """The plain text without the names of its commune, district and hamlets ("Ngọc Biên" is no beach)."""
    plain = plain_text(report.text)
    for name in (report.commune, report.district):
        for part in (name or "").split(","):
            bare = plain_text(re.sub(r"^(?:Xã|Phường|Thị trấn|Thị xã|Huyện|Thành phố)\s+", "", part.strip()))
            if bare:
                plain = re.sub(rf"\b{re.escape(bare)}\b", " ", plain)
    for hamlet in hamlets(report.text):
        plain = re.sub(rf"\b{re.escape(hamlet)}\b", " ", plain)
    return " ".join(_PLACE_WORDS.sub(" ", plain).split())


def _content(report: Report) -> set[str]:
    """The words that say what happened: no place names, no small words."""
    words = [w for w in _without_places(report).split() if w not in _SMALL and not w.isdigit()]
    return set(words) | {f"{a} {b}" for a, b in zip(words, words[1:])}


def similarity(a: Report, b: Report) -> float:
    """Words (and pairs of words) in common, over the shorter report's: 0 to 1."""
    ca, cb = _content(a), _content(b)
    return len(ca & cb) / min(len(ca), len(cb)) if ca and cb else 0.0


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat = math.radians((a[0] + b[0]) / 2)
    return 6_371_000 * math.hypot(math.radians(b[0] - a[0]), math.radians(b[1] - a[1]) * math.cos(lat))


def _same_commune(a: str, b: str) -> bool:
    """"Phường 1" named without its district is the "Phường 1" of the other, whichever district."""
    if "," in a and "," in b:
        return a == b
    return a.split(",")[0].strip() == b.split(",")[0].strip()


SAME_SPOT, SAME_AREA, UNKNOWN, ELSEWHERE = "same_spot", "same_area", "unknown", "elsewhere"


def place(a: Report, b: Report) -> str:
    if a.location and b.location:
        distance = metres(a.location, b.location)
        return SAME_SPOT if distance <= NEAR_METRES else ELSEWHERE if distance > FAR_METRES else SAME_AREA
    ha, hb = hamlets(a.text), hamlets(b.text)
    if a.commune and b.commune:
        if not _same_commune(a.commune, b.commune):
            return ELSEWHERE
        if ha and hb:
            return SAME_SPOT if _hamlets_meet(ha, hb) else ELSEWHERE
        return SAME_AREA
    if a.district and b.district and a.district != b.district:
        return ELSEWHERE
    return UNKNOWN


def _hamlets_meet(ha: frozenset[str], hb: frozenset[str]) -> bool:
    """"giong ong" and "giong ong thu": a name cut short is the same hamlet."""
    return any(x == y or x.startswith(f"{y} ") or y.startswith(f"{x} ") or x.split()[0] == y.split()[0]
               for x in ha for y in hb)


def alike(a: Report, b: Report) -> float | None:
    """How alike the two reports are (0 to 1) when they may be one incident, else None."""
    if abs(a.ts - b.ts) > WINDOW_HOURS * 3600:
        return None
    where = place(a, b)
    if where == ELSEWHERE:
        return None
    ka, kb = kinds(a), kinds(b)
    if ka and kb and not ka & kb:
        return None
    score = similarity(a, b)
    shared_kind = bool(ka & kb)
    if where == SAME_SPOT:
        ok = shared_kind or score >= SAME_PLACE_SIMILARITY
    elif where == SAME_AREA:
        ok = shared_kind and score >= AREA_SIMILARITY
    else:
        ok = shared_kind and score >= UNKNOWN_PLACE_SIMILARITY
    return score if ok else None


# ---- on filing --------------------------------------------------------------------------------

def suggest(repository, case: dict) -> list[str]:
    """Keep on a newly filed report the open reports it may duplicate, most alike first."""
    if case.get("category") != "report" or case.get("possible_duplicates") is not None:
        return case.get("possible_duplicates") or []
    new = report_of(case)
    found = []
    for other in repository.recent_open_reports(new.ts - WINDOW_HOURS * 3600, CANDIDATES):
        if other["code"] == case["code"] or other.get("duplicate_of"):
            continue
        score = alike(new, report_of(other))
        if score is not None:
            found.append((score, other["code"]))
    codes = [code for _, code in sorted(found, reverse=True)]
    repository.update_case(case["code"], possible_duplicates=codes, **({"duplicate_review": "pending"} if codes else {}))
    return codes
