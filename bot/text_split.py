"""Split a long reply into parts a platform accepts (Zalo and Messenger both cap a text at
2,000 characters), on the coarsest boundary that fits: paragraph, line, sentence, clause,
word. Lengths are counted after NFC, as the platforms count them."""
from __future__ import annotations

import re

from bot.messages import nfc

PLATFORM_TEXT_LIMIT = 2000
_BOUNDARIES = [re.compile(p) for p in (r"\n\s*\n", r"\n", r"(?<=[.!?…])\s+", r"(?<=[,;:])\s+", r"\s+")]


def split_text(text: str, limit: int = PLATFORM_TEXT_LIMIT) -> list[str]:
    text = nfc(text).strip()
    parts = []
    while len(text) > limit:
        end, rest = _cut(text, limit)
        parts.append(text[:end].rstrip())
        text = text[rest:].lstrip()
    return parts + [text] if text else parts


def _cut(text: str, limit: int) -> tuple[int, int]:
    """(end of this part, start of the rest). A boundary in the first half of the window would
    leave a needlessly short part, so only the second half counts; a word longer than that is cut."""
    for boundary in _BOUNDARIES:
        fits = [m for m in boundary.finditer(text, 0, limit + 1) if limit // 2 < m.start() <= limit]
        if fits:
            return fits[-1].start(), fits[-1].end()
    return limit, limit
