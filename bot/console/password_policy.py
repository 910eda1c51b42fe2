"""What a staff password must be (ASVS 2.1): at least 12 characters, not mostly one character or a
run along the keyboard or the alphabet, not made of the username, not a common password with
digits and symbols around it (data/common_passwords.txt), and not the password it replaces.
Everything else is allowed: spaces, Vietnamese letters, a long phrase."""
from __future__ import annotations

import functools
import re
import unicodedata

from bot.config import REPO_ROOT

MIN_LENGTH, MAX_LENGTH = 12, 128
COMMON_FILE = REPO_ROOT / "data" / "common_passwords.txt"
RUNS = ("0123456789", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm", "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
        "qazwsxedcrfvtgbyhnujmikolp", "zaqxswcdevfrbgtnhymjukilop")


@functools.cache
def common() -> frozenset[str]:
    lines = COMMON_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _letters(text: str) -> str:
    """The letters of `text`, lower case and without tone marks: "Mật khẩu!" -> "matkhau"."""
    plain = unicodedata.normalize("NFD", text.lower()).replace("đ", "d")
    return "".join(c for c in plain if "a" <= c <= "z")


def _core(text: str) -> str:
    """The word inside digits and symbols, read as the letters it imitates: "P@ssw0rd2024!" -> "password"."""
    word = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", text.lower())
    return _letters(word.translate(str.maketrans("@4301$5!7", "aaeoissit")))


def _a_run(text: str) -> bool:
    """Along a row of the keyboard, the alphabet or the digits, either way, repeated or not."""
    compact = re.sub(r"[\s._\-]", "", text.lower())
    for run in RUNS:
        cycle = run * (len(compact) // len(run) + 2)
        if compact in cycle or compact[::-1] in cycle:
            return True
    return False


def problem(password: str, username: str | None = None) -> str | None:
    """What is wrong with `password` (Vietnamese, for the form), or None."""
    password = unicodedata.normalize("NFC", password or "")
    if len(password) < MIN_LENGTH:
        return f"Mật khẩu cần ít nhất {MIN_LENGTH} ký tự."
    if len(password) > MAX_LENGTH:
        return f"Mật khẩu dài tối đa {MAX_LENGTH} ký tự."
    if len(set(password.lower())) < 5 or _a_run(password):
        return "Mật khẩu quá đơn giản (lặp lại hoặc theo thứ tự bàn phím). Vui lòng chọn mật khẩu khác."
    name = _letters(username or "")
    if len(name) >= 3 and (name in _letters(password) or name in _core(password)):
        return "Mật khẩu không được chứa tên đăng nhập."
    if _letters(password) in common() or _core(password) in common() or not _letters(password) \
            and len(set(password)) < 8:
        return "Mật khẩu này quá phổ biến, dễ bị đoán. Vui lòng chọn mật khẩu khác (ví dụ một câu ngắn dễ nhớ)."
    return None
