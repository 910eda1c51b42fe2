"""The plain form of a citizen's words that the bot's own rules match: normalized (NFC, lower
case, one tone-mark placement), teencode expanded ("ko" -> "không"), punctuation dropped except
"?", diacritics removed — so one rule covers "khó thở", "kho tho" and "khó thỡ"."""
from __future__ import annotations

import re
from functools import lru_cache

from nlu.text import strip_diacritics, words


_STRETCHED = re.compile(r"([a-z])\1{2,}")  # "khoooo thooo": typed long, read once


@lru_cache(maxsize=4096)
def plain_text(text: str) -> str:
    return _STRETCHED.sub(r"\1", strip_diacritics(" ".join(words(text))))
