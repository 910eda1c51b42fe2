"""Limits counted in the database, so every web process and machine agrees: each request adds to its
key's count in the current time bucket with one atomic $inc and is refused when the count over
the last window — the current bucket plus the share of the previous one the window still covers —
is over the limit. Counting first and deciding after means a hundred requests at once cannot all
see "59" and all get in (the web chat's limit once let 65 of 100 concurrent posts through 60)."""
from __future__ import annotations

import time

from bot.repository import Repository


def within(repository: Repository, key: str, limit: int, window: float, amount: int = 1,
           now: float | None = None) -> bool:
    """Count `amount` for `key` now; True while the last `window` seconds hold at most `limit`.
    Raises DatabaseUnavailable."""
    now = time.time() if now is None else now
    bucket = int(now // window)
    current = repository.add_to_bucket(key, bucket, amount)
    if current > limit:
        return False
    previous = repository.bucket_count(key, bucket - 1)
    covered = 1.0 - (now - bucket * window) / window  # how much of the previous bucket is still in the window
    return previous * covered + current <= limit
