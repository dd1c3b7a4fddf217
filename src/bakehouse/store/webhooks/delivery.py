"""Sending webhooks: MLflow's headers and signature, one attempt at a time, retried with back-off.

Each attempt is a POST of the stored JSON body with

- ``X-MLflow-Delivery-Id``: the delivery's id, the same on every attempt (receivers de-duplicate on it);
- ``X-MLflow-Timestamp``: Unix seconds of this attempt;
- ``X-MLflow-Signature``: ``v1,`` + base64(HMAC-SHA256(secret, ``"{delivery_id}.{timestamp}.{body}"``)),
  only when the webhook has a secret — exactly what ``mlflow.webhooks.delivery`` computes, so a receiver
  written for MLflow verifies these.

A 2xx answer is success. Connection errors, timeouts, 408, 429 and 5xx are retried up to
``*_WEBHOOK_REQUEST_MAX_RETRIES`` times (default 3), waiting ``backoff * 2**(n-1)`` seconds before retry n
(default 1, 2, 4 s; a ``Retry-After`` header is honoured up to a minute). Any other answer, and a refused
address, ends the delivery as FAILED. Every attempt is written to the delivery log.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpcore

from bakehouse import settings
from bakehouse.entities.webhook import DeliveryStatus, WebhookEvent, WebhookTestResult
from bakehouse.errors import BakehouseError
from bakehouse.store.webhooks import payloads
from bakehouse.store.webhooks.sql import DELIVERIES_QUEUED, ClaimedDelivery, SqlWebhookStore
from bakehouse.store.webhooks.targets import CheckedNetworkBackend, TargetPolicy, check_url

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_BACKOFF = 60.0
MAX_LOGGED_BODY = 1024
USER_AGENT = "bakehouse-webhooks"


def sign(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """MLflow's ``v1,<base64 HMAC-SHA256 of "delivery_id.timestamp.body">``."""
    digest = hmac.new(
        secret.encode("utf-8"), f"{delivery_id}.{timestamp}.{body}".encode(), hashlib.sha256
    ).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode('ascii')}"


def verify(secret: str, headers: dict[str, str], body: str, tolerance: float = 300.0) -> bool:
    """What a receiver does: recompute the signature, compare in constant time, reject stale timestamps."""
    lowered = {k.lower(): v for k, v in headers.items()}
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    delivery_id = lowered.get(DELIVERY_ID_HEADER.lower(), "")
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    if not signature or not delivery_id or not timestamp.isdigit():
        return False
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature, sign(secret, delivery_id, timestamp, body))


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    body: str | None
    error: str | None
    retryable: bool
    retry_after: float | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class WebhookSender:
    """One connection pool whose every connect goes through the address check."""

    def __init__(self, policy: TargetPolicy, timeout: float | None = None) -> None:
        self.policy = policy
        self.timeout = timeout if timeout is not None else settings.webhook_request_timeout()
        self._pool = httpcore.ConnectionPool(
            network_backend=CheckedNetworkBackend(policy), max_connections=20, retries=0
        )

    def close(self) -> None:
        self._pool.close()

    def attempt(self, url: str, body: str, delivery_id: str, secret: str | None) -> AttemptResult:
        """One POST; never raises for network or address problems (they are the result)."""
        try:
            check_url(url, TargetPolicy(self.policy.allowed_schemes, allow_private_ips=True))  # scheme, shape
        except BakehouseError as exc:
            return AttemptResult(None, None, exc.message, retryable=False)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            DELIVERY_ID_HEADER: delivery_id,
            TIMESTAMP_HEADER: timestamp,
        }
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, delivery_id, timestamp, body)
        timeouts = {
            "connect": self.timeout,
            "read": self.timeout,
            "write": self.timeout,
            "pool": self.timeout,
        }
        try:
            response = self._pool.request(
                "POST",
                url,
                headers=list(headers.items()),
                content=body.encode("utf-8"),
                extensions={"timeout": timeouts},
            )
        except BakehouseError as exc:  # the address check refused the destination
            return AttemptResult(None, None, exc.message, retryable=False)
        except httpcore.TimeoutException as exc:
            return AttemptResult(
                None, None, f"timed out after {self.timeout:g} s ({type(exc).__name__})", True
            )
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            retryable = not isinstance(exc, httpcore.UnsupportedProtocol)
            return AttemptResult(None, None, f"{type(exc).__name__}: {exc}", retryable)
        text = response.content[:MAX_LOGGED_BODY].decode("utf-8", errors="replace")
        status = response.status
        retry_after = None
        for name, value in response.headers:
            if name.lower() == b"retry-after":
                retry_after = _retry_after(value.decode("latin-1"))
        if 200 <= status < 300:
            return AttemptResult(status, text, None, retryable=False)
        return AttemptResult(status, text, f"HTTP {status}", status in RETRYABLE_STATUS, retry_after)


def send_test(
    url: str, encrypted_secret: str | None, event: WebhookEvent, policy: TargetPolicy
) -> WebhookTestResult:
    """MLflow's "test webhook": the event's example payload, sent once, answered with what came back."""
    import uuid

    body = payloads.envelope(event, payloads.EXAMPLES[str(event)])
    try:
        secret = _decrypt(encrypted_secret)
    except BakehouseError as exc:
        return WebhookTestResult(success=False, error_message=f"Failed to test webhook: {exc.message}")
    sender = WebhookSender(policy)
    try:
        result = sender.attempt(url, body, str(uuid.uuid4()), secret)
    finally:
        sender.close()
    if result.status_code is None:
        return WebhookTestResult(success=False, error_message=f"Failed to test webhook: {result.error}")
    return WebhookTestResult(
        success=result.status_code < 400, response_status=result.status_code, response_body=result.body
    )


def _decrypt(encrypted_secret: str | None) -> str | None:
    if not encrypted_secret:
        return None
    from bakehouse.store.webhooks.secrets import secret_box

    return secret_box().decrypt(encrypted_secret)


def backoff_delay(retry: int, base: float, retry_after: float | None = None) -> float:
    """Seconds before retry number ``retry`` (1-based): ``base * 2**(retry-1)`` plus up to 10% jitter."""
    if retry_after is not None:
        return min(retry_after, MAX_BACKOFF)
    delay: float = min(base * 2.0 ** (retry - 1), MAX_BACKOFF)
    return delay + random.uniform(0, delay / 10)


class WebhookDispatcher:
    """Claims due deliveries, sends them on a small thread pool, records the outcome, schedules retries.

    Runs in every server process (each claims different rows); ``run_once`` drains what is due now, for
    ``bakehouse webhooks deliver`` and tests.
    """

    def __init__(
        self,
        store: SqlWebhookStore,
        poll_interval: float = 1.0,
        workers: int | None = None,
        max_retries: int | None = None,
        backoff: float | None = None,
        prune_after_days: float = 30.0,
    ) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.max_retries = settings.webhook_max_retries() if max_retries is None else max_retries
        self.backoff = settings.webhook_retry_backoff() if backoff is None else backoff
        self.sender = WebhookSender(store.policy)
        self.lease_ms = int((self.sender.timeout + 30) * 1000)
        self.prune_after_ms = int(prune_after_days * 86_400_000)
        self._workers = workers or settings.webhook_delivery_workers()
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="bakehouse-webhook")
        self._in_flight = threading.Semaphore(self._workers)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_prune = 0.0

    # --------------------------------------------------------------------------------- one delivery
    def deliver(self, claim: ClaimedDelivery) -> DeliveryStatus:
        started = int(time.time() * 1000)
        clock = time.monotonic()
        try:
            secret = _decrypt(claim.encrypted_secret)
        except BakehouseError as exc:
            result = AttemptResult(None, None, exc.message, retryable=False)
        else:
            result = self.sender.attempt(claim.url, claim.payload, claim.delivery_id, secret)
        duration = int((time.monotonic() - clock) * 1000)
        retry_at = None
        if result.succeeded:
            outcome = DeliveryStatus.SUCCEEDED
        elif result.retryable and claim.attempt <= self.max_retries:
            outcome = DeliveryStatus.PENDING
            retry_at = int(
                (time.time() + backoff_delay(claim.attempt, self.backoff, result.retry_after)) * 1000
            )
        else:
            outcome = DeliveryStatus.FAILED
        self.store.record_attempt(
            claim, started, duration, result.status_code, result.error, outcome, retry_at
        )
        if outcome is DeliveryStatus.SUCCEEDED:
            logger.info("Webhook %s: %s delivered (%s)", claim.webhook_id, claim.event, result.status_code)
        elif outcome is DeliveryStatus.PENDING:
            logger.warning(
                "Webhook %s: %s attempt %d failed (%s); retrying",
                claim.webhook_id,
                claim.event,
                claim.attempt,
                result.error,
            )
        else:
            logger.error(
                "Webhook %s: %s failed after %d attempt(s): %s",
                claim.webhook_id,
                claim.event,
                claim.attempt,
                result.error,
            )
        return outcome

    def run_once(self) -> int:
        """Send everything due now, synchronously; returns how many attempts were made."""
        claims = self.store.claim_due(limit=100, lease_ms=self.lease_ms)
        for claim in claims:
            self.deliver(claim)
        return len(claims)

    # ------------------------------------------------------------------------------- the background
    def _submit(self, claim: ClaimedDelivery) -> None:
        def work() -> None:
            try:
                self.deliver(claim)
            except Exception:  # the lease expires and another attempt follows
                logger.exception("Webhook delivery %s crashed", claim.delivery_id)
            finally:
                self._in_flight.release()

        self._pool.submit(work)

    def _loop(self) -> None:
        while not self._stop.is_set():
            DELIVERIES_QUEUED.wait(self.poll_interval)
            DELIVERIES_QUEUED.clear()
            if self._stop.is_set():
                return
            try:
                free = 0
                while self._in_flight.acquire(blocking=False):
                    free += 1
                claims = self.store.claim_due(limit=free, lease_ms=self.lease_ms) if free else []
                for _ in range(free - len(claims)):
                    self._in_flight.release()
                for claim in claims:
                    self._submit(claim)
                self._maybe_prune()
            except Exception:  # a database hiccup must not end delivery for good
                logger.exception("Webhook dispatcher poll failed; retrying in %.1f s", self.poll_interval)

    def _maybe_prune(self) -> None:
        if time.monotonic() - self._last_prune < 3600:
            return
        self._last_prune = time.monotonic()
        removed = self.store.prune(int(time.time() * 1000) - self.prune_after_ms)
        if removed:
            logger.info("Pruned %d finished webhook deliveries from the log", removed)

    def start(self) -> WebhookDispatcher:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="bakehouse-webhook-dispatch", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        DELIVERIES_QUEUED.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.sender.close()
