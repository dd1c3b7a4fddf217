"""When the HTTP clients retry, for how long, and what they say: one policy for the REST transport and
the artifact-proxy client.

- What was never processed is retried for any call: a refused connection, a connect timeout, HTTP 429 and
  503 (the server, or the proxy in front of it, said "not now").
- What may have been processed is retried only for calls that are safe to repeat (reads, and writes whose
  repeat changes nothing, such as ``log-batch``): HTTP 502/504 from a reverse proxy whose upstream restarted,
  a read timeout, a connection dropped mid-answer. Other calls report the error instead of risking a double
  write.
- A refused connection to a server this process has never reached is reported after a short window
  (``first_contact_window``, 1 s): a wrong address or a server that is not running fails fast with a clear
  message. Once a server has answered, a refused connection means it is restarting and gets the full window.
- Every call stops after ``window`` seconds (``BAKEHOUSE_HTTP_RETRY_TIMEOUT``) or ``max_retries`` retries,
  whichever comes first. Back-off doubles from ``backoff_factor`` up to 15 s, with jitter, and honours
  ``Retry-After`` while it fits in the window.
- Short blips stay silent; once a call has waited 2 s, one warning per outage says what is retried and for how
  long (concurrent calls to the same server share it), and the error on giving up says how long it tried.
"""

from __future__ import annotations

import enum
import functools
import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlsplit

from bakehouse.errors import BakehouseError, DeadlineExceededError, TemporarilyUnavailableError
from bakehouse.settings import HttpSettings

logger = logging.getLogger(__name__)

#: answers that mean the request was not processed: any call may be sent again
NOT_PROCESSED_STATUSES = frozenset({429, 503})
#: answers a reverse proxy gives while its upstream restarts: the request may have been processed
MAYBE_PROCESSED_STATUSES = frozenset({502, 504})
MAX_BACKOFF_SECONDS = 15.0
NOTICE_AFTER_SECONDS = 2.0
FIRST_CONTACT_WINDOW_SECONDS = 1.0


class Failure(enum.Enum):
    """What a failed attempt means for sending it again. Each HTTP client library maps its own exceptions
    to one of these (the transport's urllib3 errors, the artifact client's httpx errors), so the policy is
    written once."""

    #: the request never reached the server: refused, unknown host, connect timeout, TLS handshake
    NOT_SENT = "not sent"
    #: no answer in time: the server may have processed it
    TIMED_OUT = "timed out"
    #: the connection dropped mid-call: the server may have processed it
    LOST = "lost"
    #: anything else (a malformed URL, a protocol the client cannot speak): sending again cannot help
    FATAL = "fatal"


class Answer(Protocol):
    """What the policy reads of an HTTP answer (httpx's responses and the transport's replies have it)."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> Headers: ...

    def close(self) -> None: ...


class Headers(Protocol):
    """Case-insensitive header lookup (httpx's ``Headers``, ``http.client``'s ``HTTPMessage``)."""

    def get(self, name: str, /) -> str | None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """The limits one call retries within (see the module docstring)."""

    max_retries: int = 7
    backoff_factor: float = 0.5
    window: float = 60.0
    first_contact_window: float = FIRST_CONTACT_WINDOW_SECONDS
    notice_after: float = NOTICE_AFTER_SECONDS

    @classmethod
    def from_settings(cls, settings: HttpSettings) -> RetryPolicy:
        return cls(
            max_retries=max(0, settings.max_retries),
            backoff_factor=max(0.0, settings.backoff_factor),
            window=max(0.0, settings.retry_timeout),
        )


class _Servers:
    """Per process: which servers have answered at least once, and which outages were announced."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reached: set[str] = set()
        self._announced: set[str] = set()

    def reached(self, server: str) -> bool:
        with self._lock:
            return server in self._reached

    def reach(self, server: str) -> None:
        with self._lock:
            self._reached.add(server)

    def answered(self, server: str) -> bool:
        """Record an answer; True when it ends an announced outage."""
        with self._lock:
            self._reached.add(server)
            if server in self._announced:
                self._announced.discard(server)
                return True
            return False

    def forget_outage(self, server: str) -> None:
        """A call gave up: the next call during the same outage says so again."""
        with self._lock:
            self._announced.discard(server)

    def announce(self, server: str) -> bool:
        """True for the first caller of an outage (that one says so)."""
        with self._lock:
            if server in self._announced:
                return False
            self._announced.add(server)
            return True


SERVERS = _Servers()


@functools.lru_cache(maxsize=64)  # computed per call: keep it off the hot path
def server_key(url: str) -> str:
    """``scheme://host:port`` of a URL: what "the same server" means for reachability."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


class CallRetry:
    """The retry state of one call. Use as::

    retry = CallRetry(policy, url, "GET /api/...", idempotent=True)
    while True:
        try:
            response = client.send(request)
        except OSError as exc:  # the client library's transport errors
            failure, reason = classify(exc)  # the library's own mapping
            retry.after_error(exc, failure, reason)  # sleeps, or raises the BakehouseError for it
            continue
        if retry.after_response(response):  # closed it and slept: send again
            continue
        break
    """

    def __init__(
        self,
        policy: RetryPolicy,
        url: str,
        what: str,
        *,
        idempotent: bool,
        label: str = "the server",
        timeout: float | None = None,
    ) -> None:
        self.policy = policy
        self.server = server_key(url)
        self.what = what
        self.idempotent = idempotent
        self.label = label
        self.timeout = timeout
        self.started = time.monotonic()
        self.retries = 0
        self._announced = False

    # ----------------------------------------------------------------------------------- decisions
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def _backoff(self) -> float:
        delay = min(self.policy.backoff_factor * (2.0**self.retries), MAX_BACKOFF_SECONDS)
        return delay * (0.75 + random.random() / 2)

    def _fits(self, delay: float, window: float) -> bool:
        return self.retries < self.policy.max_retries and self.elapsed() + delay <= window

    def after_error(self, exc: BaseException, failure: Failure, reason: str) -> None:
        """Sleep before the next attempt, or raise the error this failure stands for (``reason``: what
        happened, in a few words, e.g. "connection refused")."""
        try:
            self._after_error(exc, failure, reason)
        except BakehouseError:
            self._give_up()
            raise

    def _after_error(self, exc: BaseException, failure: Failure, reason: str) -> None:
        where = f"{self.label} at {self.server}"
        if failure is Failure.NOT_SENT:
            first_contact = not SERVERS.reached(self.server)
            window = self.policy.first_contact_window if first_contact else self.policy.window
            delay = self._backoff()
            if self._fits(delay, max(window, 0.0)):
                self._sleep(delay, f"{where}: {reason}")
                return
            if first_contact:
                raise TemporarilyUnavailableError(
                    f"Could not reach {where} ({reason}). Is it running, and is the address right?"
                    f"{self._tried()}"
                ) from exc
            raise TemporarilyUnavailableError(f"{where} is unreachable: {reason}{self._tried()}") from exc
        if failure is Failure.FATAL:
            raise TemporarilyUnavailableError(f"{self.what} to {where} failed: {reason}") from exc
        delay = self._backoff()
        if self.idempotent and self._fits(delay, self.policy.window):
            self._sleep(delay, f"{where}: {reason}")
            return
        if failure is Failure.TIMED_OUT:
            limit = f" after {self.timeout:g} s" if self.timeout else ""
            raise DeadlineExceededError(
                f"{self.what} to {where} timed out{limit}{self._tried()}; "
                "raise BAKEHOUSE_HTTP_REQUEST_TIMEOUT for slow links"
            ) from exc
        raise TemporarilyUnavailableError(f"{self.what} to {where} failed: {reason}{self._tried()}") from exc

    def after_response(self, response: Answer) -> bool:
        """True (after closing the response and sleeping) when the call should be sent again."""
        status = response.status_code
        retriable = status in NOT_PROCESSED_STATUSES or (
            self.idempotent and status in MAYBE_PROCESSED_STATUSES
        )
        if not retriable:
            if SERVERS.answered(self.server):
                logger.info("%s answers again (after %.0f s)", self.server, self.elapsed())
            return False
        SERVERS.reach(self.server)  # something answers at that address: a restart, not a wrong URI
        delay = self._backoff()
        retry_after = _retry_after(response)
        if retry_after is not None:
            delay = max(delay, retry_after)
        if not self._fits(delay, self.policy.window):
            self._give_up()
            return False
        response.close()
        self._sleep(delay, f"{self.label} at {self.server} answered HTTP {status}")
        return True

    def annotate(self, error: BakehouseError) -> BakehouseError:
        """The error of a final answer, saying how long it was retried (unchanged without retries)."""
        if not self.retries:
            return error
        return type(error)(error.message + self._tried(), error.code)

    # ------------------------------------------------------------------------------------ waiting
    def _give_up(self) -> None:
        if self._announced:
            SERVERS.forget_outage(self.server)

    def _tried(self) -> str:
        if not self.retries:
            return ""
        return f" (gave up after {self.retries + 1} attempts over {self.elapsed():.1f} s)"

    def _sleep(self, delay: float, reason: str) -> None:
        """Sleep ``delay``; the wait that crosses the notice mark says so, once."""
        self.retries += 1
        logger.debug("%s; retrying %s in %.2f s", reason, self.what, delay)
        waited = self.elapsed()
        if not self._announced and waited + delay >= self.policy.notice_after:
            time.sleep(max(0.0, self.policy.notice_after - waited))
            delay -= max(0.0, self.policy.notice_after - waited)
            self._announced = True
            if SERVERS.announce(self.server):
                remaining = max(0.0, self.policy.window - self.elapsed())
                logger.warning(
                    "%s; retrying %s for up to %.0f s more (BAKEHOUSE_HTTP_RETRY_TIMEOUT)",
                    reason,
                    self.what,
                    remaining,
                )
        time.sleep(max(0.0, delay))


def _retry_after(response: Answer) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
