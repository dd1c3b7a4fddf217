"""Per-client limits: a token bucket for request rate, and a back-off for failed logins.

Both are kept in memory per server process and keyed by the client's address, so one client hammering
the server (or guessing passwords) is slowed down while every other client is served normally.
"""

from __future__ import annotations

import threading
import time
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


class LoginThrottle:
    """After ``free_attempts`` failures a client waits 1, 2, 4 ... up to ``max_delay`` seconds between tries."""

    def __init__(self, free_attempts: int = 5, max_delay: float = 300.0, forget_after: float = 900.0) -> None:
        self.free_attempts = free_attempts
        self.max_delay = max_delay
        self.forget_after = forget_after
        self._clients: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def retry_after(self, client: str) -> float:
        """Seconds the client must still wait before its credentials are even checked (0: go ahead)."""
        now = time.monotonic()
        with self._lock:
            state = self._clients.get(client)
            if state is None:
                return 0.0
            if now - state.last > self.forget_after:
                del self._clients[client]
                return 0.0
            return max(0.0, state.blocked_until - now)

    def failed(self, client: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._clients) >= MAX_TRACKED_CLIENTS:
                self._clients.clear()
            state = self._clients.setdefault(client, _Failures())
            state.count += 1
            state.last = now
            if state.count >= self.free_attempts:
                delay = min(self.max_delay, 2.0 ** (state.count - self.free_attempts))
                state.blocked_until = now + delay

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._clients.pop(client, None)
