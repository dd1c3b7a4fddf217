"""Per-client limits: a token bucket for request rate, and a back-off for failed logins.

Both are kept in memory per server process. The rate is keyed by the client's address; the back-off by
address and user name (with a higher ceiling per address), so one client hammering the server, or
guessing a password, is slowed down while every other client, and every other user at that address, is
served normally.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

MAX_TRACKED_CLIENTS = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """``rate`` requests per second with bursts up to ``burst``; returns seconds to wait when over."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> float:
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= MAX_TRACKED_CLIENTS:
                    self._buckets.clear()
                bucket = self._buckets[client] = _Bucket(self.burst, now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate


@dataclass
class _Failures:
    count: int = 0
    blocked_until: float = 0.0
    last: float = field(default_factory=time.monotonic)


class _BackOff:
    """After ``free_attempts`` failures a key waits 1, 2, 4 ... up to ``max_delay`` seconds between tries;
    a key without a failure for ``forget_after`` seconds starts afresh. The oldest keys go first when the
    table is full, so flooding it with new keys cannot wipe the record of the ones being guessed."""

    def __init__(self, free_attempts: int, max_delay: float, forget_after: float) -> None:
        self.free_attempts = free_attempts
        self.max_delay = max_delay
        self.forget_after = forget_after
        self._keys: OrderedDict[str, _Failures] = OrderedDict()

    def retry_after(self, key: str, now: float) -> float:
        state = self._keys.get(key)
        if state is None:
            return 0.0
        if now - state.last > self.forget_after:
            del self._keys[key]
            return 0.0
        return max(0.0, state.blocked_until - now)

    def failed(self, key: str, now: float) -> None:
        state = self._keys.pop(key, None) or _Failures()
        if now - state.last > self.forget_after:
            state = _Failures()
        while len(self._keys) >= MAX_TRACKED_CLIENTS:
            self._keys.popitem(last=False)
        self._keys[key] = state  # most recent last
        state.count += 1
        state.last = now
        if state.count >= self.free_attempts:
            state.blocked_until = now + min(self.max_delay, 2.0 ** (state.count - self.free_attempts))

    def forget(self, key: str) -> None:
        self._keys.pop(key, None)


class LoginThrottle:
    """The failed-login back-off, at two levels.

    - Per address **and user name** (``free_attempts``, 5): guessing one account's password from one address
      is slowed to a crawl, while colleagues behind the same NAT address keep signing in.
    - Per **address** (``address_free_attempts``, 100): spraying guesses over many user names from one
      address is slowed too, without one person's typos locking out an office.

    API tokens and undecodable credentials carry no user name: they count under a fixed pseudo-name per kind
    (``identity``), which cannot clash with a user name (user names hold no control characters).
    A success clears that address and user name's record only (the address's count decays on its own).
    """

    TOKEN = "\x00token"
    MALFORMED = "\x00malformed"

    def __init__(
        self,
        free_attempts: int = 5,
        max_delay: float = 300.0,
        forget_after: float = 900.0,
        address_free_attempts: int = 100,
    ) -> None:
        self.per_user = _BackOff(free_attempts, max_delay, forget_after)
        self.per_address = _BackOff(address_free_attempts, max_delay, forget_after)
        self._lock = threading.Lock()

    @staticmethod
    def _key(address: str, identity: str) -> str:
        """A fixed-size key: a user name as typed can be as long as a request header allows."""
        digest = hashlib.blake2b(identity.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        return f"{address}\x00{digest}"

    def retry_after(self, address: str, identity: str) -> tuple[float, str]:
        """Seconds still to wait before these credentials are even checked (0: go ahead), and why."""
        now = time.monotonic()
        with self._lock:
            user_wait = self.per_user.retry_after(self._key(address, identity), now)
            address_wait = self.per_address.retry_after(address, now)
        if address_wait > user_wait:
            return address_wait, "Too many failed logins from this address; try again later"
        return user_wait, "Too many failed logins for this user from this address; try again later"

    def failed(self, address: str, identity: str) -> None:
        now = time.monotonic()
        with self._lock:
            self.per_user.failed(self._key(address, identity), now)
            self.per_address.failed(address, now)

    def succeeded(self, address: str, identity: str) -> None:
        with self._lock:
            self.per_user.forget(self._key(address, identity))
