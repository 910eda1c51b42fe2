"""Deterministic entity extraction on the citizen's own text. Pure Python: no rasa here.

Entities (values are canonical, offsets point into the text as given):
  district   "Huyện Cầu Kè", ... (the `name`s in data/places.yml)
  commune    "Xã Long Đức, Thành phố Trà Vinh"; just "Phường 1" when the district is unknown
  phone      "0912345678" (mobile) or "02943855123" (landline)
  case_code  "TV-8HK3MA"
  time       the phrase as typed, normalized: "tối qua", "8h tối", "20/11", "thứ 7"
  person_name      "Nguyễn Văn Tám" (after "tôi tên", "họ tên:", "mẹ tôi là"...), each syllable capitalized
  situation        "mất việc", "F0", "cách ly tại nhà", "hộ nghèo"... (canonical short phrases)
  support_request  what follows "xin hỗ trợ", "cần", "xin" + gạo/tiền mặt/thuốc..., as typed: "gạo và tiền mặt"
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

from nlu.text import normalize, strip_diacritics

PLACES = Path(__file__).resolve().parent.parent / "data" / "places.yml"
_ZERO_WIDTH = set("\u200b\u200c\u200d\u2060\ufeff\u00ad")


def load_places(path: Path = PLACES) -> dict:
    import yaml  # in the Rasa environment; the extractor itself takes the loaded dict

    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


# --- folding: match without case or diacritics, report offsets in the original text ----------

class Folded:
    """Lower-case, diacritics-free copy of a text, with the original offset of each character."""

    def __init__(self, text: str):
        self.original = text
        chars, origin = [], []
        for i, char in enumerate(text):
            if char in _ZERO_WIDTH or unicodedata.combining(char):
                continue  # decomposed (NFD) marks belong to the letter before them
            for folded in strip_diacritics(char.lower()):
                if not unicodedata.combining(folded):
                    chars.append(folded)
                    origin.append(i)
        self.text = "".join(chars)
        self._origin = origin

    def span(self, start: int, end: int) -> Tuple[int, int]:
        """Original offsets of the folded characters start..end (end exclusive)."""
        first, last = self._origin[start], self._origin[end - 1] + 1
        while last < len(self.original) and unicodedata.combining(self.original[last]):
            last += 1
        return first, last

    def typed(self, start: int, end: int) -> str:
        """The original text of folded start..end, normalized, punctuation as single spaces."""
        first, last = self.span(start, end)
        return " ".join(re.findall(r"\w+", normalize(self.original[first:last])))


def _key(phrase: str) -> str:
    return " ".join(re.findall(r"\w+", normalize(phrase)))


def _accents_agree(typed: str, canonical: str) -> bool:
    """Typed without any diacritics, or with exactly the canonical ones: 'hòa tan' is no 'Hòa Tân'
    and 'tôi qua' no 'tối qua', while 'hoa tan' may be either and counts."""
    return typed == strip_diacritics(typed) or typed == canonical


@dataclass(frozen=True)
class Entity:
    entity: str
    value: str
    start: int
    end: int

    def as_dict(self) -> dict:
        return {"entity": self.entity, "value": self.value, "start": self.start, "end": self.end}


# --- places -----------------------------------------------------------------------------------

_KINDS = {"thành phố": ["thành phố", "tp"], "thị xã": ["thị xã", "tx"], "huyện": ["huyện", "h"],
          "thị trấn": ["thị trấn", "tt"], "phường": ["phường", "p"], "xã": ["xã"]}
# A bare commune name right after these words names a hamlet or a neighbourhood.
_HAMLET_WORDS = {"ap", "khom", "to"}
DUYEN_HAI = ("Huyện Duyên Hải", "Thị xã Duyên Hải")


@dataclass(frozen=True)
class _Form:
    """One way of writing a unit: its words (a prefix and a name part, each checked for
    diacritics on its own) and what it names."""
    entity: str
    values: Tuple[Tuple[str, str], ...]  # (unit name, its district); several when ambiguous
    parts: Tuple[str, ...]  # canonical accented parts, e.g. ("thị trấn", "cầu kè")
    bare: bool = False


def _split_kind(name: str) -> Tuple[str, str]:
    key = _key(name)
    for kind in sorted(_KINDS, key=len, reverse=True):
        if key.startswith(kind + " "):
            return kind, key[len(kind) + 1:]
    raise ValueError(f"places.yml: {name!r} does not start with its kind ({', '.join(_KINDS)})")


def _forms(entity: str, name: str, district: str, aliases: List[str], bare: bool) -> Iterator[_Form]:
    kind, short = _split_kind(name)
    value = ((name, district),)
    for prefix in _KINDS[kind]:
        yield _Form(entity, value, (prefix, short))
        if short.isdigit():  # p1, p01, phường 01
            yield _Form(entity, value, (prefix + short,))
            yield _Form(entity, value, (prefix, "0" + short))
    if bare and not short.isdigit():
        yield _Form(entity, value, (short,), bare=True)
    for alias in aliases:
        yield _Form(entity, value, (_key(alias),))


class _PlaceTable:
    def __init__(self, places: dict):
        forms: List[_Form] = []
        for district in places["districts"]:
            dname = district["name"]
            _, dshort = _split_kind(dname)
            if dname in DUYEN_HAI:  # the bare name is added once below, naming both
                forms += _forms("district", dname, dname, district.get("aliases", []), False)
            else:
                forms += _forms("district", dname, dname, district.get("aliases", []),
                                district.get("bare", True))
            for commune in district["communes"]:
                commune = {"name": commune} if isinstance(commune, str) else commune
                _, cshort = _split_kind(commune["name"])
                # "Càng Long" alone is the huyện, not its thị trấn.
                bare = commune.get("bare", True) and cshort != dshort
                forms += _forms("commune", commune["name"], dname, commune.get("aliases", []), bare)
        forms.append(_Form("district", tuple((d, d) for d in DUYEN_HAI), ("duyên hải",), bare=True))
        # Same spelling, several units (phường 1, Định An): one form naming them all.
        merged: Dict[Tuple[str, Tuple[str, ...]], _Form] = {}
        for form in forms:
            key = (form.entity, form.parts)
            if key in merged:
                old = merged[key]
                form = _Form(form.entity, old.values + form.values, form.parts, old.bare)
            merged[key] = form
        self.by_words: Dict[Tuple[str, ...], List[_Form]] = {}
        for form in merged.values():
            words = tuple(strip_diacritics(" ".join(form.parts)).split())
            self.by_words.setdefault(words, []).append(form)
        self.longest = max(map(len, self.by_words))

    def find(self, folded: Folded) -> Iterator[Tuple[_Form, int, int]]:
        """Longest matches, left to right: (form, folded start, folded end)."""
        tokens = [(m.start(), m.end()) for m in re.finditer(r"[a-z0-9]+", folded.text)]
        i = 0
        while i < len(tokens):
            for n in range(min(self.longest, len(tokens) - i), 0, -1):
                window = tokens[i:i + n]
                words = tuple(folded.text[s:e] for s, e in window)
                # Words of one name are separated by spaces, dots or dashes, not commas.
                if words not in self.by_words or any(
                        not re.fullmatch(r"[\s.\-]+", folded.text[a[1]:b[0]])
                        for a, b in zip(window, window[1:])):
                    continue
                form = self._accepted(folded, window, words, tokens[i - 1] if i else None)
                if form:
                    yield form, window[0][0], window[-1][1]
                    i += n
                    break
            else:
                i += 1

    def _accepted(self, folded, window, words, previous) -> Optional[_Form]:
        for form in self.by_words.get(words, []):
            if form.bare and form.entity == "commune" and previous and \
                    folded.text[previous[0]:previous[1]] in _HAMLET_WORDS:
                continue
            at, ok = 0, True
            for part in form.parts:
                n = len(part.split())
                typed = folded.typed(window[at][0], window[at + n - 1][1])
                ok = ok and _accents_agree(typed, part)
                at += n
            if ok:
                return form
        return None


def _resolve_places(found: List[Tuple[_Form, int, int]], folded: Folded) -> List[Entity]:
    # Districts the message names, bare "Duyên Hải" counting as both.
    maybe = {v for form, _, _ in found if form.entity == "district" for v, _ in form.values}
    out: List[Entity] = []
    commune_districts = set()
    for form, start, end in found:
        if form.entity != "commune":
            continue
        values = [v for v in form.values if v[1] in maybe] or list(form.values)
        span = folded.span(start, end)
        if len(values) == 1:
            name, district = values[0]
            commune_districts.add(district)
            out.append(Entity("commune", f"{name}, {district}", *span))
        elif len({name for name, _ in values}) == 1:  # phường 1 of which town: not said
            out.append(Entity("commune", values[0][0], *span))
        elif len({district for _, district in values}) == 1:  # xã or thị trấn Định An: not said
            commune_districts.add(values[0][1])
    for form, start, end in found:
        if form.entity != "district":
            continue
        values = [v for v, _ in form.values]
        if len(values) > 1:  # bare "Duyên Hải"
            values = [v for v in values if v in commune_districts] or [DUYEN_HAI[0]]
        out.append(Entity("district", values[0], *folded.span(start, end)))
    if not any(e.entity == "district" for e in out):
        for form, start, end in found:  # the district a commune is in, when it is certain
            if form.entity == "commune":
                candidates = {d for _, d in form.values}
                if len(candidates) == 1:
                    out.append(Entity("district", candidates.pop(), *folded.span(start, end)))
    return out


# --- phone numbers, case codes, times ---------------------------------------------------------

_NUMBER = re.compile(r"(?<![\d+])(?:\(|\+)?\d(?:[ .\-()]{0,3}\d)+")
_MOBILE = re.compile(r"0[35789]\d{8}")
_LANDLINE = re.compile(r"02\d{9}")


def canonical_phone(digits: str) -> Optional[str]:
    """'84912345678' -> '0912345678'; None unless a Vietnamese mobile or landline number."""
    if digits.startswith("840"):
        digits = digits[2:]
    elif digits.startswith("84"):
        digits = "0" + digits[2:]
    return digits if _MOBILE.fullmatch(digits) or _LANDLINE.fullmatch(digits) else None


def _phones(folded: Folded) -> Iterator[Entity]:
    text, at = folded.text, 0
    while (match := _NUMBER.search(text, at)):
        best, digits, first_group_end = None, "", match.end()
        for i in range(match.start(), match.end()):
            if not text[i].isdigit():
                first_group_end = min(first_group_end, i)
                continue
            digits += text[i]
            if len(digits) > 13:
                break
            # A number ends where its digits do: "0912345678 2 người" is one number and a count.
            if (i + 1 == len(text) or not text[i + 1].isdigit()) and (phone := canonical_phone(digits)):
                best = (i + 1, phone)
        if best:
            yield Entity("phone", best[1], *folded.span(match.start(), best[0]))
            at = best[0]
        else:
            at = max(first_group_end, match.start() + 1)


_CASE_CODE = re.compile(r"(?<![a-z0-9])tv([\s.\-_]?)([a-hj-np-z2-9]{6})(?![a-z0-9])")


def _case_codes(folded: Folded) -> Iterator[Entity]:
    for match in _CASE_CODE.finditer(folded.text):
        start, end = folded.span(*match.span(2))
        typed = folded.original[start:end]
        if not typed.isascii():
            continue  # "tv truyền" is a word with diacritics, not a code
        # "tv truyen" without diacritics could still be a word: after a space a code needs a
        # digit, or to be typed in capitals.
        if match.group(1).isspace() and not (re.search(r"\d", typed) or typed.isupper()):
            continue
        yield Entity("case_code", "TV-" + typed.upper(), *folded.span(*match.span()))


_PART = "sang|trua|chieu|toi|dem|khuya"
_DAY = "hom nay|hom qua|hom kia|hom truoc|nay|qua|mai|mot|kia"
_NOT_AFTER = r"(?! ?(?:trieu|tr|ngan|nghin|k|nguoi|lan)\b)"  # "thu 2 trieu" is money
_TIME_GRAMMAR = "|".join([
    # 8h tối, 20h30, 20:30, 8 giờ 15 sáng mai
    # ("1:" alone, as in "phản ánh số 1:", is no time: the colon form needs its minutes)
    rf"(?:[01]?\d|2[0-4]) ?(?:(?:h|g|gio)(?: ?\d{{1,2}}(?: ?(?:p|phut))?)?|:[0-5]\d){_NOT_AFTER}"
    rf"(?: (?:{_PART}))?(?: (?:{_DAY}))?",
    # 20/11, 20/11/2021, ngày 20 tháng 11
    r"(?:ngay )?(?:[12]\d|3[01]|0?[1-9])/(?:1[0-2]|0?[1-9])(?:/(?:\d{4}|\d{2}))?",
    r"ngay \d{1,2} thang \d{1,2}(?: nam \d{4})?",
    # thứ 7, tối thứ bảy tuần trước, chủ nhật
    rf"(?:(?:{_PART}) )?(?:thu (?:[2-7]|hai|ba|tu|nam|sau|bay){_NOT_AFTER}|chu nhat)"
    r"(?: tuan (?:nay|truoc|sau|toi|roi|qua))?",
    # tối nay, tối hôm qua, sáng mai, chiều hổm
    rf"(?:{_PART})(?: hom)? (?:{_DAY}|hom)",
    # hôm qua, bữa nay, ngày hôm qua, bữa hổm, hồi chiều, mấy bữa nay
    r"(?:ngay|hom|bua)(?: hom)? (?:nay|qua|kia|mai|mot|truoc|hom)",
    rf"hoi (?:{_PART}|hom|nay)|luc nay|nay gio|may (?:bua|hom|ngay) (?:nay|truoc)",
    r"(?:tuan|thang) (?:nay|truoc|sau|toi|roi|qua)|cuoi tuan|dau tuan",
])
# Written with single spaces above: " ?" is an optional space, " " one or more.
_TIME = re.compile(r"(?<![\w/:])(?:" + _TIME_GRAMMAR.replace(" ?", "\0").replace(" ", r"[ \t]+")
                   .replace("\0", r"[ \t]?") + r")(?![\w/:])")
# The diacritics each word of a time expression may have ("toi" is tối or tới, never tôi).
_TIME_WORDS = {
    "sang": "sáng", "trua": "trưa", "chieu": "chiều", "toi": "tối tới", "dem": "đêm",
    "nay": "nay nãy này", "mot": "mốt", "hom": "hôm hổm", "bua": "bữa", "ngay": "ngày",
    "truoc": "trước", "gio": "giờ", "phut": "phút", "thu": "thứ", "tu": "tư", "nam": "năm",
    "sau": "sáu sau", "bay": "bảy bẩy", "chu": "chủ", "nhat": "nhật", "tuan": "tuần",
    "roi": "rồi", "thang": "tháng", "hoi": "hồi", "luc": "lúc", "may": "mấy", "cuoi": "cuối",
    "dau": "đầu",
}


# Between two parts of one time: "tối nay lúc 7 giờ", "hôm qua, khoảng 8h" is one time, the hour kept.
_TIME_JOIN = re.compile(r"[ \t]*,?[ \t]*(?:(?:luc|vao|vao luc|khoang|tam|hoi|chung|co) )?[ \t]*")


def _times(folded: Folded) -> Iterator[Entity]:
    allowed = lambda word: _TIME_WORDS.get(strip_diacritics(word), "").split()  # noqa: E731
    spans = [match.span() for match in _TIME.finditer(folded.text)
             if all(word == strip_diacritics(word) or word in allowed(word)
                    for word in folded.typed(*match.span()).split())]
    joined: List[Tuple[int, int]] = []
    for start, end in spans:
        if joined and _TIME_JOIN.fullmatch(folded.text[joined[-1][1]:start]):
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    for start, end in joined:
        start, end = folded.span(start, end)
        yield Entity("time", " ".join(normalize(folded.original[start:end]).split()), start, end)


class EntityExtractor:
    def __init__(self, places: dict):
        self._places = _PlaceTable(places)

    def extract(self, text: str) -> List[dict]:
        """Entities in text order, each (entity, value) once."""
        folded = Folded(text)
        found = list(_case_codes(folded)) + list(_phones(folded)) + list(_times(folded))
        found += _resolve_places(list(self._places.find(folded)), folded)
        # A name or a request stops where a place, a number or a time begins.
        words, blocked = _Words(folded), [(e.start, e.end) for e in found]
        found += list(_situations(words)) + list(_names(words, blocked)) + list(_requests(words, blocked))
        # A span claimed by an earlier kind (a phone number, a code) is not also a place or time;
        # a commune and the district it implies share theirs.
        kept: List[Entity] = []
        for entity in found:
            if not any(entity.start < k.end and k.start < entity.end for k in kept
                       if {k.entity, entity.entity} not in ({entity.entity}, {"commune", "district"})):
                kept.append(entity)
        out, seen = [], set()
        for entity in sorted(kept, key=lambda e: (e.start, e.end)):
            if (entity.entity, entity.value) not in seen:
                seen.add((entity.entity, entity.value))
                out.append(entity.as_dict())
        return out


# --- welfare: a person's name, their situation, the support they ask for ----------------------

def _options(*groups: str) -> List[str]:
    """_options("xin|cần", "|được", "hỗ trợ") -> "xin hỗ trợ", "xin được hỗ trợ", "cần hỗ trợ", ...:
    one option of each group, an empty option skipping the group."""
    phrases = [""]
    for group in groups:
        phrases = [f"{p} {o}".strip() for p in phrases for o in group.split("|")]
    return phrases


class _Words:
    """The words of a folded text (letters and digits), with how each was typed."""

    def __init__(self, folded: Folded):
        self.folded = folded
        self.spans = [m.span() for m in re.finditer(r"[a-z0-9]+", folded.text)]
        self.plain = tuple(folded.text[s:e] for s, e in self.spans)
        # As typed: NFC, case kept (a name is told by its capitals); and normalized, to compare.
        self.cased = [unicodedata.normalize("NFC", "".join(
            c for c in folded.original[slice(*folded.span(s, e))] if c not in _ZERO_WIDTH))
            for s, e in self.spans]
        self.typed = [normalize(word) for word in self.cased]

    def __len__(self) -> int:
        return len(self.spans)

    def gap(self, i: int) -> str:
        """What separates word i from the word before it."""
        return self.folded.text[self.spans[i - 1][1]:self.spans[i][0]] if i else ""

    def span(self, i: int, j: int) -> Tuple[int, int]:
        """Original offsets of words i..j (j exclusive)."""
        return self.folded.span(self.spans[i][0], self.spans[j - 1][1])

    def as_typed(self, i: int, j: int) -> str:
        start, end = self.span(i, j)
        text = "".join(c for c in self.folded.original[start:end] if c not in _ZERO_WIDTH)
        return " ".join(unicodedata.normalize("NFC", text).split())


class _Phrases:
    """Canonical phrases found word by word: words apart by blanks only, each typed without
    diacritics or with exactly the canonical ones ("mat viec", "mất việc", not "mát việc")."""

    def __init__(self, phrases: Dict[str, str]):  # canonical phrase -> value
        self._by_plain: Dict[Tuple[str, ...], List[Tuple[Tuple[str, ...], str]]] = {}
        for phrase, value in phrases.items():
            words = tuple(_key(phrase).split())
            plain = tuple(strip_diacritics(" ".join(words)).split())
            self._by_plain.setdefault(plain, []).append((words, value))
        self._longest = max(map(len, self._by_plain))

    def match(self, words: _Words, i: int) -> Optional[Tuple[int, str]]:
        """The longest phrase starting at word i: (how many words, its value)."""
        for n in range(min(self._longest, len(words) - i), 0, -1):
            candidates = self._by_plain.get(words.plain[i:i + n])
            if not candidates or any(not re.fullmatch(r"[ \t]+", words.gap(k)) for k in range(i + 1, i + n)):
                continue
            typed = words.typed[i:i + n]
            for canonical, value in candidates:
                if all(t == strip_diacritics(t) or t == c for t, c in zip(typed, canonical)):
                    return n, value
        return None


_ME = "tôi|tui|em|mình|con|cháu"
_KIN = "mẹ|má|ba|bà|bố|cha|ông|vợ|chồng|con|cháu|anh|chị|em"
# "tên" cues say a name follows; after "tôi là" a name is only taken when it looks like one
# with its capitals or its diacritics ("tôi là công nhân", "toi la lam thue" are no names).
_NAME_CUES = _Phrases({
    **dict.fromkeys(_options(_ME, "tên", "|là") + _options("tên", "|của", _ME, "|là")
                    + _options("họ", "|và", "tên", "|là") + _options(_KIN, "|của", _ME, "tên", "|là")
                    + ["tên là", "người cần hỗ trợ tên", "người cần hỗ trợ tên là"], "strong"),
    **dict.fromkeys(_options("tôi|tui|em|mình", "là", "|ông|bà|anh|chị|cô|chú|bác")
                    + _options(_KIN, "|của", _ME, "là") + ["người cần hỗ trợ là"], "weak"),
})
# Common Vietnamese surnames, and those of Trà Vinh's Khmer families (Thạch, Kim, Sơn, Danh...).
# Left out: those that are everyday words after "tôi là" (Ông, Thân, La, Tất).
SURNAMES = set(("nguyễn trần lê phạm hoàng huỳnh phan vũ võ đặng bùi đỗ hồ ngô dương lý lí thạch kim sơn "
                "lâm danh châu chau trương đinh đoàn lương lưu mai tô trịnh cao hà tạ triệu thái tăng "
                "kiên quách diệp từ đào kha lạc tiêu mạc khưu hứa âu lữ phùng giang mã liêu").split())
_SURNAMES_PLAIN = {strip_diacritics(name) for name in SURNAMES}
# Words that end a name: what usually follows one in a message. Without diacritics only those
# that are no common name syllable ("nam" may be Nam, "lam" Lâm, "huyen" Huyền).
_NAME_ENDS = set(("ở tại nhà số sđt đt điện thoại xin cần muốn mong đề nghị bị mất thất nghèo làm đang hiện "
                  "sinh tuổi ấp khóm xã phường huyện tỉnh là và có ngụ trú thường con vợ chồng mẹ địa chỉ "
                  "vì do đã được hỗ trợ hộ bán mua nay hôm cho của với ạ nha nhé ơi sống đi người tính").split())
_NAME_ENDS_PLAIN = set("o sdt dt xin can muon mong bi mat that ngheo sinh tuoi ap khom xa la va ngu tru me dia "
                       "duoc tro nguoi cua voi nhe oi hom cho mua".split())
# Middle names alone are no name: "Nguyễn Thị" is what is left of a cut name.
_MIDDLE_ONLY = {"văn", "thị", "van", "thi"}


def _is_title(word: str) -> bool:
    return word[:1].isupper() and (len(word) == 1 or word[1:].islower())


def _name_at(words: _Words, j: int, weak: bool, blocked: List[Tuple[int, int]]) -> Optional[Tuple[int, int]]:
    """The name starting at word j, as words j..k: 2 to 5 syllables, each capitalized, or all in
    one case (lower or upper) and starting with a known surname."""
    title = _is_title(words.cased[j])
    # After "tôi là" even capitals need a surname ("Tôi là Công Nhân"). "lâm" is a surname, "làm"
    # (to work) is not; "lam" may be either.
    if (weak or not title) and words.typed[j] not in SURNAMES and words.typed[j] not in _SURNAMES_PLAIN:
        return None
    upper = words.cased[j].isupper()
    k = j
    while k < len(words) and k - j < 5:
        word, typed = words.cased[k], words.typed[k]
        if k > j and not re.fullmatch(r"[ \t]+", words.gap(k)):
            break
        if not word.isalpha() or _overlaps(words.span(k, k + 1), blocked):
            break
        if typed in _NAME_ENDS or typed in _NAME_ENDS_PLAIN:
            break
        if not (_is_title(word) if title else word.isupper() == upper and (upper or word.islower())):
            break
        k += 1
    if k - j < 2 or words.typed[k - 1] in _MIDDLE_ONLY:
        return None
    if weak and not title and all(t == strip_diacritics(t) for t in words.typed[j:k]):
        return None  # "toi la ..." without capitals or diacritics: too easily something else
    return j, k


def _overlaps(span: Tuple[int, int], blocked: List[Tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in blocked)


def _names(words: _Words, blocked: List[Tuple[int, int]]) -> Iterator[Entity]:
    i = 0
    while i < len(words):
        cue = _NAME_CUES.match(words, i)
        found = cue and i + cue[0] < len(words) and re.fullmatch(r"[ \t]*[:\-–]?[ \t]*", words.gap(i + cue[0])) \
            and _name_at(words, i + cue[0], cue[1] == "weak", blocked)
        if found:
            start, end = found
            value = " ".join(w[:1].upper() + w[1:] for w in words.typed[start:end])
            yield Entity("person_name", value, *words.span(start, end))
            i = end
        else:
            i += 1


_SITUATIONS = _Phrases({
    **dict.fromkeys(_options("|bị", "mất việc|mất việc làm|mất việc làm ăn"), "mất việc"),
    **dict.fromkeys(_options("|bị", "thất nghiệp"), "thất nghiệp"),
    **dict.fromkeys(_options("|bị", "|cho", "nghỉ việc|ngừng việc|tạm nghỉ việc|nghỉ làm"), "nghỉ việc"),
    **dict.fromkeys(["mất thu nhập", "không có thu nhập", "không còn thu nhập", "hết thu nhập",
                     "không có việc làm", "không có việc", "không còn việc làm"], "không có thu nhập"),
    **{f: f.upper() for f in ("f0", "f1", "f2")},
    **dict.fromkeys(_options("|bị|đang", "cách ly|cách li"), "cách ly"),
    **dict.fromkeys(_options("|bị|đang", "cách ly|cách li", "tại nhà|ở nhà"), "cách ly tại nhà"),
    **dict.fromkeys(_options("|bị|đang", "cách ly|cách li", "tập trung"), "cách ly tập trung"),
    **dict.fromkeys(_options("|bị|đang", "phong tỏa"), "bị phong tỏa"),
    **dict.fromkeys(_options("|thuộc", "|diện", "hộ nghèo"), "hộ nghèo"),
    **dict.fromkeys(_options("|thuộc", "|diện", "|hộ", "cận nghèo"), "hộ cận nghèo"),
    "khuyết tật": "khuyết tật", "neo đơn": "neo đơn", "mồ côi": "mồ côi",
})


def _situations(words: _Words) -> Iterator[Entity]:
    i = 0
    while i < len(words):
        found = _SITUATIONS.match(words, i)
        if found:
            yield Entity("situation", found[1], *words.span(i, i + found[0]))
            i += found[0]
        else:
            i += 1


_GIVE = "hỗ trợ|trợ giúp|giúp đỡ|cứu trợ|trợ cấp"
_REQUEST_CUES = _Phrases({
    # then whatever is asked for: "xin hỗ trợ chỗ ở"
    **dict.fromkeys(_options("xin|đề nghị|cần|mong|muốn|mong muốn|rất mong", "|được", "|nhận", _GIVE), "any"),
    # then one of the things below: "xin gạo", "cần ít thuốc", "mong được tiền mặt"
    **dict.fromkeys(_options("xin|cần|đề nghị|mong được|muốn được|muốn xin|xin cấp", "|được", "|nhận", "|thêm",
                             "|ít|một ít|chút|một chút"), "item"),
})
ITEMS = _Phrases(dict.fromkeys(
    "gạo|tiền mặt|tiền|thực phẩm|nhu yếu phẩm|lương thực|thuốc|thuốc men|mì gói|mì tôm|mì|sữa|rau|rau củ|"
    "trứng|dầu ăn|nước mắm|muối|nước uống|khẩu trang|đồ ăn|thức ăn|quà|phần quà|túi an sinh|gói hỗ trợ|"
    "tiền điện|tiền nước|tiền nhà|tiền trọ|học phí|viện phí|chỗ ở|việc làm|vốn|bảo hiểm y tế|thẻ bảo hiểm y tế|"
    "nhu phẩm|đồ dùng|tã|bỉm|sữa bột|nước sạch|giống|cây giống|con giống".split("|"), "item"))
# Before the thing asked for: how much, or whom it is for; after whom, only a thing counts
# ("xin hỗ trợ cho gia đình tôi gạo"; "xin giúp đỡ gia đình ông", "cho bà cụ hàng xóm" ask for none).
_REQUEST_FOR = _Phrases({
    **dict.fromkeys(["về", "thêm", "ít", "một ít", "chút", "một chút"], "amount"),
    **dict.fromkeys([p for p in _options("|cho|giúp|giùm|dùm", "|gia đình|nhà|hộ|" + _KIN, "|của",
                                         "|" + _ME + "|chúng tôi|ông|bà|anh|chị|cô|chú|bác") if p], "whom"),
})
# Where the request ends: a reason, a contact, a place, the citizen going on about something else.
_REQUEST_ENDS = _Phrases(dict.fromkeys(
    "vì|do|bởi|tại|để|nên|nhưng|mà|ở|cho|là|sđt|số|đt|điện thoại|liên hệ|gọi|địa chỉ|ấp|khóm|xã|phường|huyện|"
    "thị trấn|thành phố|tỉnh|nhà tôi|tôi|tui|em|mình|cảm ơn|gì|không|nào|sao|hiện|đang|trong|từ|khi|nếu|"
    "vậy|được không|ạ|nha|nhé|nhe|ha|luôn|đi|thì|gấp|khẩn cấp|ngay|liền|lấy|nộp|chưa|rồi|đâu|hả|hông|"
    "với|và|hoặc|cùng".split("|"), "end"))
_NOT = {"khong", "ko", "k", "kh", "chua", "hong", "chang"}  # "không cần vốn" asks for nothing
# Words that join things asked for ("gạo, mì gói và tiền mặt"), never the last word.
_JOINERS = {"và", "va", "hoặc", "hoac", "cùng", "cung", "với", "voi", "thêm", "them"}


def _request_at(words: _Words, j: int, items_only: bool, blocked) -> Optional[Tuple[int, int]]:
    first = j
    while not ITEMS.match(words, j) and (skip := _REQUEST_FOR.match(words, j)):
        j += skip[0]
        items_only = items_only or skip[1] == "whom"
    if j >= len(words) or (items_only and not ITEMS.match(words, j)) or \
            (j > first and not re.fullmatch(r"[ \t]+", words.gap(j))):
        return None
    k, end = j, None
    while k < len(words) and k - j < 15:
        gap = words.gap(k) if k > j else ""
        if re.search(r"[.;!?\n]", gap) or _overlaps(words.span(k, k + 1), blocked):
            break
        joined = k + 1 if words.typed[k] in _JOINERS and k + 1 < len(words) else k
        item = ITEMS.match(words, joined)
        if "," in gap or "-" in gap:
            if not item:  # after a comma only more of the things asked for
                break
        if item:
            k = end = joined + item[0]
            continue
        if _REQUEST_ENDS.match(words, k):
            if words.typed[k] not in _JOINERS or k == j:
                break
            k += 1  # "gạo với tiền": a joiner inside the request
            continue
        k = end = k + 1
    return (j, end) if end else None


def _requests(words: _Words, blocked: List[Tuple[int, int]]) -> Iterator[Entity]:
    i = 0
    while i < len(words):
        cue = _REQUEST_CUES.match(words, i) if not i or words.plain[i - 1] not in _NOT else None
        found = cue and i + cue[0] < len(words) and re.fullmatch(r"[ \t]*:?[ \t]*", words.gap(i + cue[0])) \
            and _request_at(words, i + cue[0], cue[1] == "item", blocked)
        if found:
            yield Entity("support_request", words.as_typed(*found), *words.span(*found))
            i = found[1]
        else:
            i += 1
