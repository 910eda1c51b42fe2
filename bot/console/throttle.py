"""How often a password may be tried, so that guessing is slow, a flood of sign-ins cannot take the
webhooks' CPU, and nobody can lock a real person out.

Each attempt is counted, before the password is checked, under up to three keys:
- this username from this network (5 free attempts);
- this network, whatever the username (20);
- this username from networks it never signed in from (10): a guesser spread over many
  addresses slows down, while the person at their usual desk is never counted here.
Past its free attempts a key waits 15 s, then 30 s, 1 min … up to 15 min between attempts (a
back-off, not a lock); an hour without attempts forgets it. The count is reserved atomically
(compare-and-set on the key's count), so 40 guesses at once get 5 checks, not 11. Unknown
usernames are counted the same way, so a refusal says nothing about whether an account exists.

Password checks (Argon2id, 64 MiB, ~0.15 s of one core) run at most CONCURRENT_CHECKS at a time in a
process, with at most WAITING requests waiting briefly for a turn; the rest are told to try again
in a few seconds, so web threads and the other core stay free for the platforms' webhooks."""
from __future__ import annotations

import hashlib
import logging
import threading
import time
import unicodedata
from dataclasses import dataclass, field

from bot import metrics
from bot.addresses import client_address, network_of
from bot.repository import Repository

log = logging.getLogger("tongdai.console.login")

PAIR_FREE, NETWORK_FREE, ACCOUNT_FREE = 5, 20, 10
BACKOFF_START, BACKOFF_CAP = 15.0, 15 * 60.0
WINDOW = 3600.0  # an hour without attempts: the key starts over
KNOWN_NETWORKS = 10  # the networks an account last signed in from
KNOWN_FOR = 90 * 86400
CONCURRENT_CHECKS, WAITING, WAIT_SECONDS = 1, 2, 2.0
CAS_TRIES = 5


def backoff(attempts: int, free: int) -> float:
    """The wait after the `attempts`-th attempt under a key with `free` free attempts."""
    if attempts < free:
        return 0.0
    return min(BACKOFF_CAP, BACKOFF_START * 2 ** (attempts - free))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def account_key(username: str) -> str:
    return _digest("account", normalized(username))


def normalized(username: str) -> str:
    return unicodedata.normalize("NFC", (username or "").strip().lower())[:100]


@dataclass
class Attempt:
    """One sign-in attempt's place in the counts: what was counted, and the client's network."""
    network: str
    counted: list[tuple[str, str]]  # (kind, key) counted for this attempt: kind pair, network, account
    retry_after: float = 0.0        # > 0: refused, try again after this many seconds
    slowed: list[tuple[str, float]] = field(default_factory=list)  # (kind, seconds): keys this attempt made wait

    @property
    def refused(self) -> bool:
        return self.retry_after > 0


class Throttle:
    def __init__(self, repository: Repository):
        self.repository = repository

    def reserve(self, username: str, known_networks: dict | None) -> Attempt:
        """Count this attempt under each of its keys; refused (and counted nowhere) when one of
        them is waiting."""
        now, name = time.time(), normalized(username)
        network = network_of(client_address())
        account = account_key(name)
        keys = [("pair", _digest("pair", name, network), PAIR_FREE),
                ("network", _digest("network", network), NETWORK_FREE)]
        known = {k for k, ts in (known_networks or {}).items() if now - float(ts) < KNOWN_FOR}
        if known_network(network) not in known:
            keys.append(("account", account, ACCOUNT_FREE))
        attempt = Attempt(network, [])
        for kind, key, free in keys:
            wait, made_wait = self._count(key, free, None if kind == "network" else account, now)
            if made_wait:
                attempt.slowed.append((kind, made_wait))
            if wait > 0:
                for _, counted in attempt.counted:
                    self.repository.refund_login_throttle(counted)
                attempt.counted, attempt.retry_after = [], wait
                return attempt
            attempt.counted.append((kind, key))
        return attempt

    def _count(self, key: str, free: int, account: str | None, now: float) -> tuple[float, float]:
        """(0, the wait this attempt starts, if any) when it was counted under `key`; else (how
        long to wait, 0)."""
        for _ in range(CAS_TRIES):
            current = self.repository.login_throttle(key)
            if current is None:
                if self.repository.start_login_throttle(key, account, now, now + backoff(1, free)):
                    return 0.0, backoff(1, free)
                continue  # another request made it first
            if current["until"] > now:
                return current["until"] - now, 0.0
            attempts = (current["n"] if now - current["ts"] < WINDOW else 0) + 1
            wait = backoff(attempts, free)
            if self.repository.advance_login_throttle(key, current["n"], current["ts"], attempts, now, now + wait):
                return 0.0, wait
        return 1.0, 0.0  # many attempts at this very moment: others were counted, this one waits

    def succeeded(self, attempt: Attempt, username: str) -> None:
        """The right password: this username and network start over; the other keys count
        failures only. The network becomes one the account is known from."""
        for kind, key in attempt.counted:
            if kind == "pair":
                self.repository.clear_login_throttle(key)
            else:
                self.repository.refund_login_throttle(key)
        self.repository.remember_network(username, known_network(attempt.network), time.time(), KNOWN_NETWORKS)

    def unlock(self, username: str) -> int:
        """An admin's unlock: every count against this username, from every network."""
        return self.repository.clear_account_throttles(account_key(username))

    def waiting_accounts(self) -> set[str]:
        """The account keys with a count waiting now (the staff page marks them)."""
        return self.repository.throttled_accounts(time.time())


def known_network(network: str) -> str:
    return _digest("known", network)


class CheckSlots:
    """At most CONCURRENT_CHECKS password checks at once in this process; up to WAITING more wait
    WAIT_SECONDS for a turn; any other is refused at once (the caller answers "try again")."""

    def __init__(self, concurrent: int = CONCURRENT_CHECKS, waiting: int = WAITING, wait: float = WAIT_SECONDS):
        self._slots = threading.BoundedSemaphore(concurrent)
        self._lock = threading.Lock()
        self._waiting, self._max_waiting, self._wait = 0, waiting, wait

    def acquire(self) -> bool:
        if self._slots.acquire(blocking=False):
            return True
        with self._lock:
            if self._waiting >= self._max_waiting:
                return False
            self._waiting += 1
        try:
            return self._slots.acquire(timeout=self._wait)
        finally:
            with self._lock:
                self._waiting -= 1

    def release(self) -> None:
        self._slots.release()


SLOTS = CheckSlots()


def count(outcome: str) -> None:
    metrics.LOGIN_ATTEMPTS.labels(outcome).inc()
