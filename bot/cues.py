"""What a short reply means when the NLU alone must not decide: the answer to "shall I send
it?", declining a detail, a question, taking a case back, a forgotten or mistyped code.

The rule for the summary is one-sided on purpose: a case is filed only on a clear yes; any
negation, hesitation or question vetoes it, and the citizen is asked again with buttons.
Without diacritics "dung" is đúng (yes), dừng (stop) and đừng (don't): only the phrases that
can only mean yes ("dung roi", "dung vay") count, "dung gui" is "đừng gửi"."""
from __future__ import annotations

import re

from bot.plain import plain_text
from nlu.client import Parse
from nlu.text import normalize

YES, NO, WAIT, EDIT, CANCEL, UNCLEAR = "yes", "no", "wait", "edit", "cancel", "unclear"

_YES_PHRASES = re.compile(
    r"\b(?:dung roi|dung vay|dung het(?: roi)?|dung a|dung rui|chinh xac|chuan|ok|okay|yes|gui|gui di|gui luon|"
    r"gui giup|gui gium|gui dum|dong y|xac nhan|u|uh|um|uhm|vang|da|co|phai|phai roi|duoc|duoc roi|on roi|"
    r"het roi|vay do|nhu vay|vay la du|du roi)\b")
_FILLER = set("a ah nha nhe nhen nghen ne roi r luon di giup gium dum voi em anh chi tui toi minh con chu co bac "
              "ad admin tong dai 1022 thong tin tren do vay la ban oi thi cam on nhieu ha nhanh lien day che".split())
# Any of these in the answer, and it is no yes: no, not yet, wait, stop, wrong, change, a doubt.
_VETO = re.compile(
    r"\b(?:khong|chua|dung gui|dung lai|dung co|khoan|doi|cho (?:chut|xiu|ti|da|lat)|tu tu|sai|huy|thoi|stop|"
    r"ngung|suy nghi|coi lai|xem lai|kiem tra lai|doc lai|hoi (?:lai|y|chong|vo|ba|ma|con|nha)|sua|nhung|ma|"
    r"bo qua|khoi|de (?:\w+ )?(?:coi|xem|hoi|tinh|nghi)|mai|lat nua|chut nua|sau|nham|lon)\b")
_TYPED_DUNG_NEGATIVE = re.compile(r"\b(?:dừng|đừng)\b")
_TYPED_DUNG_YES = re.compile(r"\bđúng\b")
_TYPED_WAIT = re.compile(r"\b(?:chờ|đợi)\b")
_NO = re.compile(r"^(?:khong|khong phai|khong dung|chua dung|sai|sai roi|khong gui|no|khong nha)\b|"
                 r"\b(?:dung gui|khong gui|sai roi|chua dung|khong dung|khong chinh xac|dung lai|stop)\b")
_WAIT = re.compile(r"\b(?:khoan|doi|cho chut|cho xiu|cho da|cho ti|tu tu|suy nghi|coi lai|xem lai|kiem tra lai|"
                   r"hoi lai|hoi y|de (?:\w+ )?(?:coi|xem|hoi|tinh)|chua|lat nua|chut nua|mai)\b")
_CANCEL = re.compile(r"^(?:huy|huy bo|huy di|thoi|thoi khoi|thoi bo di|thoi khong gui nua|bo di|cancel)$|"
                     r"\b(?:huy (?:bo|di|het|luon)|thoi khong (?:gui|can)|khong gui nua|bo qua di)\b")
_EDIT = re.compile(r"^sua\b|\b(?:muon sua|can sua|sua lai|thay doi|doi lai)\b")


def summary_answer(text: str, parse: Parse | None) -> str:
    """The citizen's typed answer to the summary (the buttons are read by the caller)."""
    plain, typed = plain_text(text), normalize(text)
    if not plain:
        return UNCLEAR
    if _CANCEL.search(plain):
        return CANCEL
    if _EDIT.search(plain):
        return EDIT
    negative_dung = _TYPED_DUNG_NEGATIVE.search(typed)
    if _NO.search(plain) or (negative_dung and "gửi" in typed):
        return NO
    if _WAIT.search(plain) or _TYPED_WAIT.search(typed) or negative_dung:
        return WAIT
    if _VETO.search(plain) or is_question(text):
        return UNCLEAR
    words = plain.split()
    rest = _YES_PHRASES.sub(" ", plain).split()
    if _TYPED_DUNG_YES.search(typed):  # typed with its diacritics, "đúng" can only be yes
        rest = [word for word in rest if word != "dung"]
    if len(rest) < len(words) and all(word in _FILLER for word in rest):
        return YES
    if parse is None or "dung" in words:
        return UNCLEAR
    if parse.intent == "affirm" and parse.confidence >= 0.7 and len(words) <= 8:
        return YES
    return {"deny": NO, "not_yet": WAIT, "cancel": CANCEL}.get(parse.intent, UNCLEAR)


def cancels(text: str, parse: Parse | None) -> bool:
    """Drop what is being composed: said in words, or very clearly by the NLU ("gửi" alone once
    read as cancel at 0.56: a short word is never enough)."""
    plain = plain_text(text)
    return bool(_CANCEL.search(plain)) or (parse is not None and parse.intent == "cancel" and parse.confidence >= 0.85
                                            and len(plain.split()) >= 2)


_RULE_QUESTION = re.compile(
    r"\b(?:co (?:duoc|bi|vi pham|phai|can|cho phep)|duoc (?:phep )?(?:khong|ko)|co sao khong|bi phat|phat bao nhieu|"
    r"vi pham (?:khong|gi)|quy dinh|chi thi|cho phep (?:khong|ko)|phai (?:cach ly|khai bao|xet nghiem) (?:khong|ko))\b")


def asks_about_a_rule(text: str) -> bool:
    """"đám cưới 50 người có được tổ chức không", "đi ruộng có vi phạm không", "bị phạt bao nhiêu"."""
    return is_question(text) and bool(_RULE_QUESTION.search(plain_text(text))) \
        or bool(re.search(r"\bco (?:duoc|vi pham|bi phat)\b.*\b(?:khong|ko)\b", plain_text(text)))


_DECLINE = re.compile(
    r"\b(?:khong (?:muon|the|tien|can|co|de|cho|dua|nho|biet|ro|dam)|chua (?:co|biet|nho|ro|muon)|"
    r"bo qua|khoi|an danh|giau ten|bi mat|khong co (?:so|dien thoai|dt|sim)|het (?:tien|sim)|"
    r"mat (?:dien thoai|may)|xai chung|khong xai|tu choi|thoi khoi|ke di|de trong|skip|tuy)\b")
_DECLINE_ALONE = re.compile(r"^(?:khong|ko|khong a|khong co|thoi|khoi|k|no|ko co|khong nha|chiu|pass)$")


def declines(text: str, parse: Parse | None) -> bool:
    """Will not or cannot give the detail asked ("không muốn để lại số", "tui hổng có điện thoại",
    "bỏ qua", "không nhớ giờ", "cho em ẩn danh")."""
    plain = plain_text(text)
    if parse is not None and parse.intent == "decline_field" and parse.confidence >= 0.5:
        return True
    return bool(_DECLINE_ALONE.match(plain) or _DECLINE.search(plain))


_QUESTION = re.compile(r"\?|\bbao nhieu\b|\b(?:sao|tai sao|vi sao|de lam gi|lam gi|gi vay|gi the|the nao|nhu the nao|"
                       r"bao gio|bao lau|khi nao|o dau|cho nao|co duoc khong|duoc khong|co phai|phai khong|"
                       r"hay khong|khong vay|ha|hong ta|chu|co sao khong|sao khong)$|^(?:cho (?:em|tui|toi|minh|con) hoi|hoi (?:ve|thu|chut|xiu|cai)|"
                       r"sao|tai sao|vi sao|lam sao|the nao|co ai|ua)\b")


def is_question(text: str) -> bool:
    return bool(_QUESTION.search(plain_text(text)))


_WITHDRAW = re.compile(
    r"\b(?:rut (?:lai |bot )?(?:ho so|don|phan anh|de nghi|yeu cau|gop y|y kien)|rut don|rut lai|"
    r"huy (?:cai )?(?:ho so|phan anh|don|de nghi|yeu cau|gop y)|xoa (?:ho so|phan anh|don|giup|gium|dum)|"
    r"(?:khong|ko) can (?:xu ly|giai quyet|ho tro) nua|gui nham|gui lon)\b")


def wants_withdraw(text: str, parse: Parse | None) -> bool:
    """Taking a filed case back: said in so many words, or read so by the NLU when the message
    has a word of taking back in it ("cho em phản ánh cái" is an opener, whatever the model says)."""
    plain = plain_text(text)
    if _WITHDRAW.search(plain):
        return True
    return parse is not None and parse.intent == "withdraw" and parse.confidence >= 0.5 \
        and bool(re.search(r"\b(?:rut|huy|xoa|bo|khong can|nham|lon|thoi)\b", plain))


_FORGOT_CODE = re.compile(r"\b(?:quen|mat|khong nho|khong biet|khong thay|xoa mat|lam mat|tim khong ra) "
                          r"(?:\w+ )?(?:ma|ma so|ma ho so|code)\b|\b(?:ma|ma ho so) (?:\w+ )?(?:la gi|dau|may)\b|"
                          r"\b(?:ho so|phan anh|don|de nghi) (?:\w+ ){0,4}(?:gui|nop) (?:\w+ ){0,3}(?:sao roi|toi dau|"
                          r"den dau|chua|the nao)\b")


def forgot_code(text: str) -> bool:
    """"quên mã", "mất mã hồ sơ rồi", "hồ sơ tui gửi hôm qua sao rồi": a lookup without a code."""
    return bool(_FORGOT_CODE.search(plain_text(text)))


CASE_CODE = re.compile(r"\bTV[-\s]?([A-HJ-NP-Z2-9]{6})\b", re.IGNORECASE)
# Something typed as a code that cannot be one: "TV-12345", "tv-8hk3m0", "TV 8HK3MAX".
_CODE_LIKE = re.compile(r"\bTV[-\s]?([A-Z0-9]{3,10})\b", re.IGNORECASE)


def case_code(text: str) -> str | None:
    match = CASE_CODE.search(text)
    return f"TV-{match.group(1).upper()}" if match else None


def invalid_code(text: str) -> str | None:
    """A code-shaped word that is no valid code (the alphabet has no 0, O, 1, I)."""
    if case_code(text):
        return None
    for match in _CODE_LIKE.finditer(text):
        typed = match.group(1)
        if re.search(r"\d", typed) or typed.isupper() or match.group(0)[2:3] == "-":
            return match.group(0).upper()
    return None
