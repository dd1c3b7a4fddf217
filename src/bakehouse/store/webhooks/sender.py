"""Sending one webhook request: MLflow's headers and signature, over an address-checked connection.

Each attempt is a POST of the stored JSON body with

- ``X-MLflow-Delivery-Id``: the delivery's id, the same on every attempt (receivers de-duplicate on it);
- ``X-MLflow-Timestamp``: Unix seconds of this attempt;
- ``X-MLflow-Signature``: ``v1,`` + base64(HMAC-SHA256(secret, ``"{delivery_id}.{timestamp}.{body}"``)),
  only when the webhook has a secret — exactly what ``mlflow.webhooks.delivery`` computes, so a receiver
  written for MLflow verifies these.

A 2xx answer is success; what is retried, and when, is decided by :mod:`.delivery`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

import httpcore

from bakehouse import settings
from bakehouse.entities.webhook import WebhookEvent, WebhookTestResult
from bakehouse.errors import BakehouseError
from bakehouse.store.webhooks import payloads
from bakehouse.store.webhooks.targets import CheckedNetworkBackend, TargetPolicy, check_url

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
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
        secret = decrypt_secret(encrypted_secret)
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


def decrypt_secret(encrypted_secret: str | None) -> str | None:
    if not encrypted_secret:
        return None
    from bakehouse.store.webhooks.secrets import secret_box

    return secret_box().decrypt(encrypted_secret)
