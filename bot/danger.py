"""Danger signs of a health emergency, in any spelling: with or without diacritics, teencode,
typos and unconverted Telex that people really type ("sp02", "tho ko noi", "khos thowr"). A
danger sign beats every other rule of the conversation, so this errs towards alarm: a false
alarm costs a staff member a look, a missed one can cost a life. Signs follow the Ministry of
Health's home-care guidance for F0 (khó thở, SpO2 under 94 %, đau tức ngực, tím môi, lơ mơ / li
bì, co giật, ngất), plus the other emergencies a hotline hears (stroke, poisoning, a limp baby).

Everything is matched on the plain form of the text (lower case, teencode expanded, no
diacritics), so every pattern below is written without diacritics."""
from __future__ import annotations

import re

from bot.plain import plain_text

_FAMILY = r"(?:ong|ba|me|ma|bo|cha|tia|be|chau|vo|chong|noi|ngoai|ba gia|ong gia|nguoi benh|ong ay|ba ay|no|thang nho|con nho)"
_SIGNS = [
    # breathing
    r"kho tho", r"tho kho", r"tho (?:khong|chang) (?:noi|duoc|ra hoi|ra|thong|deu)", r"mat (?:may )?xanh (?:le|tai|mat)", r"khong (?:the )?tho (?:noi|duoc|nua)",
    r"khong (?:con )?tho\b(?! (?:doc|gap|kho|met|hut|nhanh|rit|ra|nhe))",
    r"tho (?:doc|gap|dot|hut|rit|phi pho|nang nhoc|met|yeu|thoi thop|ngat quang|nhanh|ngap|khong ra hoi|ra tieng)",
    r"(?<!di )(?<!chay )hut hoi", r"(?<!nong )ngop(?! no)", r"nghet tho", r"ngat tho", r"tuc tho", r"met khi tho", r"ngung tho",
    r"tho khong deu", r"hit (?:vao|vo) (?:khong|chang) (?:vao|vo|duoc|noi)", r"nhu ca (?:mac can|thieu nuoc|tren can)",
    r"canh mui phap phong", r"nguc thut", r"rut lom long nguc", r"met dut hoi",
    # chest and heart
    r"(?:dau|tuc|nang|nhoi|that|ep) (?:tuc )?nguc", r"nguc (?:dau|tuc|nang|nhoi)",
    r"tim dap (?:nhanh|manh|loan|thinh thich)", r"va mo hoi", r"trang bech",
    r"mach (?:nhanh|yeu|cham|khong deu)", r"(?:tut|ha) huyet ap", r"huyet ap (?:tut|thap)",
    # colour: "tím" is also "tìm" (to look for) without diacritics
    r"tim tai\b(?! lieu| khoan| san)", r"moi (?:\w+ ){0,2}tim\b", r"tim (?:moi|ngon|dau ngon)\b(?! cach| nguoi| noi| thu)",
    r"(?:moi|mat|da|nguoi) (?:\w+ )?(?:tai xanh|xanh tai|tai nhot|tham xi|xam ngat)",
    # consciousness: "ngất", not "ngắt điện" or "ngất ngây"; "xỉu", not "chờ xíu" or "cười xỉu"
    r"lo mo", r"li bi", r"lim(?: di| dan)?\b", r"lu du", r"lu lan", r"lo do\b", r"me man", r"hon me", r"me sang",
    r"noi sang", r"bat tinh", r"tinh tinh me me", r"nam im re", r"nga quy", r"noi (?:chuyen )?(?:lon xon|tam bay|nham)",
    r"(?<!ngot )(?<!ngao )ngat\b(?! (?:dien|ket noi|mang|may|nuoc|ngang|quang|nhip|loi|ngay))",
    r"(?:bi|ngat|te) xiu\b", r"(?<!doi )(?<!cho )(?<!chut )(?<!mot )(?<!ti )(?<!cuoi )(?<!met )xiu (?:roi|luon|di|nguoi|mat|len)\b",
    rf"\b{_FAMILY} (?:\w+ )?xiu\b", r"(?:do|keo|dat) (?:\w+ )?day (?:khong|chang) (?:noi|duoc)",
    r"(?:goi|lay|keu|danh thuc) (?:\w+ ){0,2}(?:khong|chang) (?:day|tinh|tra loi|len tieng|thua|nghe)",
    r"kho danh thuc", r"khong (?:con )?tinh tao", r"ngu ru", r"met la", r"mat tron (?:len|nguoc|trang)",
    # seizures, bleeding
    r"co giat", r"len (?:con )?(?:giat|kinh)", r"giat kinh", r"giut kinh", r"gi[au]t (?:gi[au]t )?(?:tay chan|nguoi|het nguoi)",
    r"(?:ho|non|oi|khac|mui) ra mau", r"chay mau (?:nhieu|khong cam|qua troi|du lam|am dao)", r"ra huyet",
    # stroke, poisoning, infants, other emergencies
    r"meo mieng", r"(?:yeu|liet|te) nua nguoi", r"noi (?:ngong|dot|khong ra tieng|lap)", r"dot quy",
    r"uong (?:thuoc (?:ray|sau|tru sau|diet co|chuot|co)|nuoc tay|xang)", r"ngo doc", r"sui bot",
    r"bo bu", r"bu kem", r"mem nhun", r"nguoi mem", r"(?:bi|gap|vua bi|moi bi) tai nan", r"bong nang",
    # found by a third set written blind
    r"hit (?:khong|chang) (?:vao|vo|duoc|noi)", r"thoi thop", r"(?:nguc|bung) (?:\w+ ){0,2}phap phong",
    r"moi (?:\w+ ){0,2}(?:tham|bam den|bam tim|xam)", r"tho co cu", r"(?:hoi tho )?dut quang", r"dut hoi",
    r"tho luc co luc (?:khong|ko)", r"(?:dau|tuc|nang|nhoi|that|ep) (?:\w+ ){1,2}nguc",
    r"khong nhan ra ai", r"quo quang", r"(?:tu nhien|bong|bat) (?:\w+ ){0,3}nam im", r"nam im (?:re|khong|chang)",
    r"keu (?:\w+ ){0,2}mo mat (?:ra )?roi nham", r"khong noi gi (?:het|ca)",
    r"bi giut\b(?! (?:do|dien thoai|tien|xe|tui|giay|mat|day chuyen))", r"giut (?:hoai|lien|tay|chan|nguoi|giut)",
    r"kinh phong", r"(?:guc|nga guc|te guc) (?:xuong|ra)", r"trung gio", r"mieng meo", r"meo (?:qua|xech|mieng)",
    r"noi nhu nguoi say", r"lech qua (?:1|mot) ben", r"dau dau (?:du doi|nhu bua|du lam|kinh khung|nhu bua bo)",
    r"nuot (?:nham )?(?:thuoc|pin|vien|dong xu|hat|kim)", r"uong nham", r"uong het (?:\w+ ){0,2}thuoc",
    r"uong (?:\w+ )?thuoc ngu", r"(?:uong|nuot|an|nham) (?:\w+ ){0,2}(?:dau hoi|thuoc chuot|thuoc tru|thuoc diet)",
    r"chay mau (?:\w+ ){0,2}(?:qua troi|khong cam|khong ngung|nhieu|du lam|hoai)", r"mau (?:phun|chay (?:khong|chang) ngung)",
    r"ra mau (?:nhieu|qua troi|hoai|khong ngung|du lam)", r"di cau ra (?:mau|phan den)", r"phan den",
    r"(?:mang thai|co bau|mang bau|thai phu|de xong|sinh xong|vua de|vua sinh) (?:\w+ ){0,6}(?:ra mau|dau bung du doi|ra nuoc)",
    r"thai (?:\w+ )?(?:dap it|khong dap|it may|khong may)", r"vang da", r"so sinh (?:\w+ ){0,6}(?:bu it|ngu hoai|li bi|sot)",
    r"bu it", r"sot xuat huyet (?:\w+ ){0,8}(?:dau bung|oi|lanh|chay mau|li bi)", r"(?:chan tay|tay chan) lanh",
    r"co cung\b(?! (?:mot|luc|nhau|la|ve|voi|dia|ten|ngay|gio|cach|quan))", r"khong cui (?:dau )?(?:\w+ )?(?:duoc|noi)",
    r"nam bat dong", r"roi tu (?:\w+ ){0,3}xuong", r"te (?:\w+ ){0,2}khong (?:dung|day|nhuc nhich)", r"bong nuoc soi",
    r"dien giat", r"duoi nuoc", r"chet duoi", r"ran (?:\w+ )?can", r"hoc (?:\w+ )?(?:xuong|hot|hat|keo|vien|do an)",
    r"mac nghen",
    # found by a fourth set written blind
    r"tho (?:hon hen|cuc|nhu keo be)", r"noi (?:khong|chang) ra hoi", r"vai nhap", r"xam xit",
    r"(?:dau )?ngon tay (?:\w+ ){0,2}tim\b", r"mat (?:\w+ )?tim (?:tai|het|roi|ngat|lai)", r"mat tim\b(?! (?:kiem|cach|viec|duong|hieu))",
    r"(?:bi |tu nhien |bong )do nguoi", r"do nguoi (?:ra|luon|het)", r"(?:tu nhien|bong) (?:\w+ ){0,3}(?:khong|chang) noi (?:duoc|noi)", r"bi (?:dam|chem)\b",
    r"mau chay (?:\w+ )?(?:nhieu|qua troi|lenh lang|du lam)", r"chay mau (?:\w+ ){0,2}lenh lang",
    # found by a fifth set written blind
    r"rut lom", r"xam ngoet", r"u o\b", r"khong (?:co )?phan ung", r"dap ung kem", r"gcs (?:giam|\d)",
    r"(?:goi|keu) (?:\w+ ){0,2}(?:ba|me|ma|ong|bo|cha|nha|cua)\b(?: \w+){0,3} (?:khong|chang) (?:bat may|ai (?:tra loi|bat|nghe))",
    r"nam guc", r"toi sam (?:mat|mat mui)", r"ca noc", r"te (?:mieng|luoi|moi)", r"ra mau (?:o at|xoi xa)",
    r"(?:ri|vo|chay) (?:nuoc )?oi", r"(?:be|thai|con) (?:\w+ )?it dap", r"(?:khong|chang) ngoi day (?:duoc|noi)",
    r"gay (?:\w+ ){0,2}(?:loi|ho|troi) xuong", r"phong (?:nuoc soi|nang|nguyen|het|ca)", r"ngung tim", r"ep tim",
    r"het (?:binh )?oxy", r"chuyen vien gap", r"(?:tho|khong the) (?:\w+ )?bang binh",
]
_SIGN = re.compile(r"\b(?:" + "|".join(_SIGNS) + r")\b")
# Right before the sign: "không khó thở", "chưa bị li bì", "hết khó thở" (denied); "nếu khó thở thì…",
# "làm sao biết mình bị khó thở", "phòng co giật", "thế nào gọi là lơ mơ" (a question about it).
_DENIED = re.compile(r"\b(?:(?:khong|chua|het|bot|khoi|chang)(?: (?:bi|co|con|thay|he|may|thay bi|con bi))?|neu|lo|"
                     r"phong khi|phong|de phong|phong ngua|tranh|khi nao|the nao (?:goi )?la|hoi ve|"
                     r"biet(?: minh| la)?(?: co| bi)?|cham soc(?: nguoi)?|noi ve|xem (?:tren )?\w+ noi|"
                     r"hay|hay bi|thuong bi|de bi|muon|bao nhieu la|the nao la|nhu the nao la|khi)(?: bi)? $")
# Somewhere before it: teaching, first aid, a history, a hypothesis, a proposal for people who have it.
_ABOUT = re.compile(r"\b(?:so cuu|huong dan|xu tri|nhan biet|dau hieu|tai lieu|tien su|cho nguoi bi|neu|lo nhu|"
                    r"mai mot|sau nay|trong truong hop|gop y|de nghi|nen|nghe noi|don|tren face|tren mang|clip|"
                    r"tiktok|coi phim|xem phim|tin tuc|canh)\b")
# The whole message asks only to know, teaches, or passes on a rumour: "em hỏi để biết trước thôi",
# "cần poster các dấu hiệu nguy hiểm", "nghe nói bên Sài Gòn có người…".
_ONLY_TO_KNOW = re.compile(r"\b(?:hoi de biet|de biet (?:truoc|thoi)|hoi cho biet|poster|to roi|tap huan|tuyen truyen|"
                           r"moi bac si|noi chuyen ve|tai lieu)\b")
# Right after it: "khó thở là dấu hiệu gì", "môi tím là bị gì", "hôm qua khó thở nhưng nay hết rồi".
_DENIED_AFTER = re.compile(r"^(?: \w+){0,6} (?:la|co phai la) (?:sao|gi|dau hieu|the nao|trieu chung|nhu the nao|"
                           r"(?:bi|benh) gi|(?:bi )?sao|phan ung)\b|^ khi nao\b|"
                           r"^(?: \w+){0,4} co phai (?:la )?(?:trieu chung|dau hieu|benh|do|phan ung)\b|^(?: \w+){0,4} (?:nhu the nao|ra sao)$|"
                           r"^(?: \w+){0,8} (?:tinh (?:tao )?lai|binh thuong (?:lai )?roi|ve roi|khoe (?:lai )?roi)\b|^(?: \w+){0,6} (?:nhung|ma) (?:\w+ )?(?:nay|gio|bay gio|hien|hom nay) "
                           r"(?:da )?(?:het|khoe|khoi|do|on|binh thuong)\b|"
                           r"^(?: \w+){0,8} gio (?:\w+ ){0,3}(?:khoe|khoi|het|on dinh|binh thuong)|"
                           r"^(?: \w+){0,8} (?:la het|la khoi|thi het)\b|^(?: \w+){0,3} (?:co )?dau hieu (?:gi|nao|de)\b|"
                           r"^ do (?:an trau|lanh|son)\b")
# An episode told as past: "hồi nhỏ có bị co giật", "tuần trước khó thở phải nằm viện".
_PAST = re.compile(r"\b(?:hoi nho|ngay xua|hoi xua|hom bua|bua truoc|bua hom|nam ngoai|tu (?:nam )?\d{4}|nam \d{4}|"
                   r"hoi (?:mang bau|nam|thang)|nam roi|truoc day|tuan truoc|tuan roi|thang truoc|thang roi|"
                   r"hoi truoc|lan truoc|dot truoc|hoi do)\b")
_NOW = re.compile(r"\b(?:gio|bay gio|hien|dang|nay|hom nay|sang nay|toi nay|lai|van)\b")
# "trời nóng ngộp", "giá xăng ngộp thở", "cười xỉu": not a person in danger.
# "trời nóng ngộp", "giá xăng tăng mà khó thở ghê", "đẹp trai muốn xỉu", "thở không nổi vì tiền nhà":
# words for money, heat, smoke or a joke around a breathing or fainting word.
_IDIOM = re.compile(r"\b(?:nong nuc|nong qua|nong ngop|oi buc|gia (?:xang|ca|vang|tang|dien|nha|thit)|xang|"
                    r"tien (?:nha|dien|no|tro|hoc)|no ngan hang|ngan hang|ngap dau|buon ban|e am|deadline|map|dep trai|"
                    r"de thuong|haha|hihi|ahihi|khoi (?:mu|bui|rac|xe|thuoc)|dot rac|dong nghet|chat choi|khau trang|"
                    r"cuoi (?:xiu|muon|bo|nga)|tuc (?:muon|qua|minh|gian)|ket xe|doi bung|so (?:muon|qua|chet)|phim|"
                    r"ngop nguoi|crush|thu tuc|chen chuc|xep hang|toc dai|hut thuoc)\b|"
                    r"\bvi (?:tien|no|gia|xang|viec|deadline|hoc|cong viec|ket xe|khoi|mat viec)")
_SOFT_SIGNS = {"ngop", "xiu", "ngat", "kho", "nghet", "hut", "tuc", "noi"}
# "con mèo nhà tui co giật", "cá trong ao ngộp oxy", "heo nái bị co giật": not a person.
_ANIMAL = re.compile(r"\b(?:(?:con )?(?:heo|trau|heo nai)|con (?:meo|cho|ga|lon|bo|ca|chim|de|vit)|"
                     r"ca (?:trong|duoi|o) (?:ao|ho|be|mung))\b(?: \w+){0,6} $|\b(?:ca|tom) $")

# "SpO2 92", "sp02 con 89%", "ô xy 87", "máy kẹp ngón tay ra số 89", "spo2 sáng 97 chiều 91", "chín hai";
# a reading ends where another measure begins ("spo2 98 mạch 88").
_OXYGEN = re.compile(r"\b(?:spo2|sp02|spo 2|sp o2|spo|sop2|oxy|oxi|o xy|o2|bao hoa oxy|kep tay|kep ngon|ngon tay|may do)\b")
_OTHER_MEASURE = re.compile(r"\b(?:mach|nhiet|huyet ap|nhip|sot|do c|can nang|tuoi|ngay|lan|lit|trieu|ngan|mui)\b")
_READING = re.compile(r"(?<!\d)(\d{2,3})(?!\d)")
_BELOW = re.compile(r"\b(?:duoi|thap hon|chua toi|khong toi|chua den|khong den) (\d{2})\b")  # "dưới 94": 93
_CRY = re.compile(r"\b(?:(?<!tra )(?<!nghien )cuu (?:voi|tui|toi|em|nguoi|con|gium|giup|dum|me|ba|ma)|cap cuu|115 dau)\b")
_OXYGEN_DANGER_BELOW = 94
_OXYGEN_PLAUSIBLE_FROM = 40  # "oxy 10 lít", "spo2 3 lần": a quantity, not a reading
_PRESSURE = re.compile(r"\b(?:ha|huyet ap)\D{0,6}?(\d{2,3}) ?/ ?\d{2,3}")  # systolic under 90
_PULSE = re.compile(r"\b(?:mach|nhip tim|tim dap)\D{0,15}?(\d{2,3})(?!\d)")
_UNITS = {"mot": 1, "hai": 2, "ba": 3, "bon": 4, "tu": 4, "nam": 5, "lam": 5, "sau": 6, "bay": 7, "tam": 8, "chin": 9}
_NUMBER_WORDS = re.compile(r"\b(bay|tam|chin) (?:muoi |chuc )?(mot|hai|ba|bon|tu|nam|lam|sau|bay|tam|chin)\b")
_ROUGH_READING = re.compile(r"\b([5-8]) may\b")  # "tụt xuống 8 mấy": in the eighties

# "gọi 115 không được", "115 ko nghe máy", "115 bận hoài": the emergency line did not help.
_LINE_FAILED = re.compile(r"\b115\b.{0,30}(?:khong|hong|chua|ban|ko)\b.{0,15}(?:nghe|bat|duoc|toi|lien lac|ai)"
                          r"|\b(?:khong|chua) (?:goi|lien lac|ket noi) (?:duoc |noi )?(?:\w+ ){0,2}115\b"
                          r"|\b(?:goi|call)\b.{0,10}\b115\b.{0,20}(?:khong|hong|chua|ban)"
                          r"|\b115\b.{0,10}\b(?:ban|tut tut|may ban)")
_TELEX_WORD = re.compile(r"\b([a-z]*(?:[aeiouy][a-z]*)?)([sfrxj])\b")


def is_emergency(text: str) -> bool:
    plain = plain_text(text)
    return _danger_in(plain) or _danger_in(_untelex(plain))


def emergency_line_failed(text: str) -> bool:
    return bool(_LINE_FAILED.search(plain_text(text)))


def _danger_in(plain: str) -> bool:
    signs = [] if _ONLY_TO_KNOW.search(plain) else _SIGN.finditer(plain)
    for match in signs:
        before, after = plain[max(0, match.start() - 40):match.start()], plain[match.end():match.end() + 60]
        if _DENIED.search(before[-30:]) or _DENIED_AFTER.search(after) or _ABOUT.search(before[-30:]):
            continue
        if _told_as_past(before):
            continue
        if _SOFT_SIGNS & set(match.group().split()) and _IDIOM.search(before[-40:] + " " + after[:25]):
            continue
        if _ANIMAL.search(before[-40:]):
            continue
        return True
    if _CRY.search(plain) and len(plain.split()) <= 6:  # "cứu với", "cấp cứu!!!", "115 đâu, cứu người"
        return True
    words = _NUMBER_WORDS.sub(lambda m: str(_UNITS[m.group(1)] * 10 + _UNITS[m.group(2)]), plain)
    words = _ROUGH_READING.sub(lambda m: m.group(1) + "9", re.sub(r"\b9o\b", "90", words))
    if any(_low_oxygen(words[m.end():m.end() + 40], words[max(0, m.start() - 30):m.start()])
           and not _told_as_past(words[max(0, m.start() - 40):m.start()]) for m in _OXYGEN.finditer(words)):
        return True
    if any(int(value) >= 130 or 20 <= int(value) < 45 for value in _PULSE.findall(plain)):
        return True
    return any(50 <= int(top) < 90 for top in _PRESSURE.findall(plain))


def _told_as_past(before: str) -> bool:
    past = list(_PAST.finditer(before))
    return bool(past) and not _NOW.search(before[past[-1].end():])


def _low_oxygen(after_keyword: str, before_keyword: str) -> bool:
    """A reading after the keyword ("spo2 89"), or just before it ("kẹp tay được 89, máy spo2");
    when it rose ("từ 92 lên 97") the latest reading counts."""
    other = _OTHER_MEASURE.search(after_keyword)
    after = after_keyword[:other.start()] if other else after_keyword
    after = _BELOW.sub(lambda m: str(int(m.group(1)) - 1), after)
    readings = [int(v) for v in _READING.findall(after)]
    if not readings:
        readings = [int(v) for v in _READING.findall(before_keyword.split(" mach ")[-1])][-1:]
    if len(readings) > 1 and re.search(r"\b(?:len|do lai)\b", after):  # "từ 92 lên 97", "đo lại 98"
        readings = readings[-1:]
    if re.search(r"\b(?:duoi|thap hon|nho hon) ?\d{2} ?(?:la|thi|phai)\b", after):  # a rule, not a reading
        return False
    return any(_OXYGEN_PLAUSIBLE_FROM <= value < _OXYGEN_DANGER_BELOW for value in readings)


def _untelex(plain: str) -> str:
    """Telex or VNI typed without the keyboard converting it ("khos thowr quas", "kho1 tho73"):
    tone and vowel keys dropped, so the words can be read ("kho tho qua")."""
    plain = re.sub(r"(?<=[a-z])[1-9]+(?=[a-z]|\b)", "", plain)  # VNI: digits typed after letters
    if not re.search(r"\b\w*(?:[aeiou][sfrxj]|ow|uw|aw|dd|aa|ee|oo)\w*\b", plain):
        return plain
    words = []
    for word in plain.split():
        if re.fullmatch(r"[a-z]*[aeiouy][a-z]*[sfrxj]", word) and len(word) > 2:
            word = word[:-1]
        word = re.sub(r"(?<=[aou])w|dd|aa|ee|oo", lambda m: {"dd": "d", "aa": "a", "ee": "e", "oo": "o"}.get(m.group(), ""), word)
        words.append(word)
    return " ".join(words)
