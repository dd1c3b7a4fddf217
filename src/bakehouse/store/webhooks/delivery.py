"""Delivering queued webhooks: claim what is due, send it, record the attempt, retry with back-off.

Connection errors, timeouts, 408, 429 and 5xx answers are retried up to ``*_WEBHOOK_REQUEST_MAX_RETRIES``
times (default 3), waiting ``backoff * 2**(n-1)`` seconds before retry n (default 1, 2, 4 s, plus up to 10%
jitter; a ``Retry-After`` header is honoured up to a minute). Any other answer, and a refused address, ends
the delivery as FAILED. Every attempt is written to the delivery log.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from bakehouse import settings
from bakehouse.entities.webhook import DeliveryStatus
from bakehouse.errors import BakehouseError
from bakehouse.store.webhooks.sender import AttemptResult, WebhookSender, decrypt_secret
from bakehouse.store.webhooks.sql import DELIVERIES_QUEUED, ClaimedDelivery, SqlWebhookStore

logger = logging.getLogger(__name__)

MAX_BACKOFF = 60.0


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
            secret = decrypt_secret(claim.encrypted_secret)
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
