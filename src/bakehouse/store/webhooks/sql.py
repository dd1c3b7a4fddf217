"""Webhook subscriptions and the delivery outbox on SQLite, PostgreSQL and MySQL.

:func:`enqueue` is called by the registry store inside the transaction of the change it reports: one outbox
row per active webhook subscribed to the event, so a rolled-back change sends nothing and a committed one is
never lost (a server that was down sends it when it comes back). After the commit the registry store calls
:func:`wake` so this process's dispatcher sends at once; other processes find the row on their next poll.

Server processes share the rows through short leases: a claim is one conditional ``UPDATE`` (``PENDING`` and
due, or ``SENDING`` with an expired lease), so each attempt is made by exactly one process, and a process
that dies mid-send only delays the row until its lease runs out.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, delete, insert, or_, select, update

from bakehouse.entities.page import PagedList
from bakehouse.entities.webhook import (
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEvent,
    WebhookStatus,
    WebhookTestResult,
)
from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.store.db.schema import (
    webhook_deliveries,
    webhook_delivery_attempts,
    webhook_events,
    webhooks,
)
from bakehouse.store.db.transactions import write_transaction
from bakehouse.store.page_token import decode_page_token, encode_page_token
from bakehouse.store.webhooks import payloads
from bakehouse.store.webhooks.targets import TargetPolicy, check_url
from bakehouse.store.webhooks.validation import (
    validate_description,
    validate_events,
    validate_name,
    validate_secret,
    validate_status,
)

logger = logging.getLogger(__name__)

LIST_MAX_RESULTS_DEFAULT = 100
LIST_MAX_RESULTS_THRESHOLD = 1000
DELIVERIES_MAX_RESULTS_DEFAULT = 100
_ENQUEUED_FLAG = "bakehouse_webhook_enqueued"

wh, whe, whd, wha = webhooks, webhook_events, webhook_deliveries, webhook_delivery_attempts

#: set after a commit that queued deliveries: this process's dispatcher sends them without waiting to poll
DELIVERIES_QUEUED = threading.Event()


def _now() -> int:
    return int(time.time() * 1000)


def wake() -> None:
    DELIVERIES_QUEUED.set()


# ------------------------------------------------------------------------------------------- the outbox
def enqueue(conn: Any, event: WebhookEvent, data: dict[str, Any]) -> int:
    """Queue ``event`` for every active subscriber, inside the caller's transaction; returns how many."""
    targets = (
        conn.execute(
            select(wh.c.webhook_id)
            .join(whe, whe.c.webhook_id == wh.c.webhook_id)
            .where(
                whe.c.entity == event.entity,
                whe.c.action == event.action,
                wh.c.status == WebhookStatus.ACTIVE.value,
            )
        )
        .scalars()
        .all()
    )
    if not targets:
        return 0
    now = _now()
    body = payloads.envelope(event, data)
    conn.execute(
        insert(whd),
        [
            {
                "delivery_id": str(uuid.uuid4()),
                "webhook_id": webhook_id,
                "entity": event.entity,
                "action": event.action,
                "payload": body,
                "status": DeliveryStatus.PENDING.value,
                "attempts": 0,
                "creation_time": now,
                "next_attempt_time": now,
            }
            for webhook_id in targets
        ],
    )
    conn.info[_ENQUEUED_FLAG] = True
    return len(targets)


def take_enqueued_flag(conn: Any) -> bool:
    """Whether this transaction queued deliveries (and forget it: pooled connections outlive transactions)."""
    return bool(conn.info.pop(_ENQUEUED_FLAG, False))


@dataclass(frozen=True)
class ClaimedDelivery:
    """A due delivery this process now holds the lease on, with what is needed to send it."""

    delivery_id: str
    webhook_id: str
    event: WebhookEvent
    url: str
    encrypted_secret: str | None
    payload: str
    attempt: int  # the number of the attempt about to be made (1 = first)


def _encrypt(secret: str | None) -> str | None:
    if not secret:
        return None
    from bakehouse.store.webhooks.secrets import secret_box  # cryptography loads only when a secret is set

    return secret_box().encrypt(secret)


# ---------------------------------------------------------------------------------------------- the store
class SqlWebhookStore:
    """MLflow's webhook API (create, get, list, update, delete, test) plus the delivery log."""

    def __init__(self, engine: Engine, policy: TargetPolicy | None = None) -> None:
        self.engine = engine
        self._policy = policy

    @property
    def policy(self) -> TargetPolicy:
        """The URL policy: fixed when given, else read from the environment each time (tests change it)."""
        return self._policy or TargetPolicy.from_env()

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with write_transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Any]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def _require(self, conn: Any, webhook_id: str) -> Any:
        row = conn.execute(select(wh).where(wh.c.webhook_id == webhook_id)).first()
        if row is None:
            raise NotFoundError(f"Webhook with ID {webhook_id} not found.")
        return row

    def _entities(self, conn: Any, rows: Sequence[Any]) -> list[Webhook]:
        ids = [r.webhook_id for r in rows]
        events: dict[str, list[WebhookEvent]] = {}
        if ids:
            for e in conn.execute(select(whe).where(whe.c.webhook_id.in_(ids))):
                events.setdefault(e.webhook_id, []).append(WebhookEvent(e.entity, e.action))
        return [
            Webhook(
                webhook_id=r.webhook_id,
                name=r.name,
                url=r.url,
                events=tuple(sorted(events.get(r.webhook_id, []))),
                status=WebhookStatus(r.status),
                description=r.description,
                creation_timestamp=r.creation_time,
                last_updated_timestamp=r.last_updated_time,
            )
            for r in rows
        ]

    # ------------------------------------------------------------------------------------- the API
    def create_webhook(
        self,
        name: str,
        url: str,
        events: Sequence[WebhookEvent | str],
        description: str | None = None,
        secret: str | None = None,
        status: WebhookStatus | str | None = None,
    ) -> Webhook:
        validate_name(name)
        parsed = validate_events(events)
        check_url(url, self.policy)
        state = validate_status(status)
        stored_secret = _encrypt(validate_secret(secret))
        now = _now()
        webhook_id = str(uuid.uuid4())
        with self._write() as conn:
            conn.execute(
                insert(wh).values(
                    webhook_id=webhook_id,
                    name=name,
                    description=validate_description(description) or None,
                    url=url,
                    status=state.value,
                    secret=stored_secret,
                    creation_time=now,
                    last_updated_time=now,
                )
            )
            conn.execute(
                insert(whe),
                [{"webhook_id": webhook_id, "entity": e.entity, "action": e.action} for e in parsed],
            )
            return self._entities(conn, [self._require(conn, webhook_id)])[0]

    def get_webhook(self, webhook_id: str) -> Webhook:
        with self._read() as conn:
            return self._entities(conn, [self._require(conn, webhook_id)])[0]

    def list_webhooks(
        self, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]:
        limit = max_results or LIST_MAX_RESULTS_DEFAULT
        if not 1 <= limit <= LIST_MAX_RESULTS_THRESHOLD:
            raise InvalidParameterError(f"max_results must be between 1 and {LIST_MAX_RESULTS_THRESHOLD}.")
        offset = decode_page_token(page_token) if page_token else 0
        with self._read() as conn:
            rows = conn.execute(
                select(wh)
                .order_by(wh.c.creation_time.desc(), wh.c.webhook_id)
                .offset(offset)
                .limit(limit + 1)
            ).all()
            items = self._entities(conn, rows[:limit])
        return PagedList(items, encode_page_token(offset + limit) if len(rows) > limit else None)

    def update_webhook(
        self,
        webhook_id: str,
        name: str | None = None,
        description: str | None = None,
        url: str | None = None,
        events: Sequence[WebhookEvent | str] | None = None,
        secret: str | None = None,
        status: WebhookStatus | str | None = None,
    ) -> Webhook:
        """None leaves a field as it is; an empty description or secret clears it (MLflow's semantics)."""
        values: dict[str, Any] = {}
        if name is not None:
            values["name"] = validate_name(name)
        if url is not None:
            check_url(url, self.policy)
            values["url"] = url
        if description is not None:
            values["description"] = validate_description(description) or None
        if secret is not None:
            values["secret"] = _encrypt(validate_secret(secret))
        if status is not None:
            values["status"] = validate_status(status).value
        parsed = validate_events(events) if events is not None else None
        with self._write() as conn:
            self._require(conn, webhook_id)
            conn.execute(
                update(wh).where(wh.c.webhook_id == webhook_id).values(last_updated_time=_now(), **values)
            )
            if parsed is not None:
                conn.execute(delete(whe).where(whe.c.webhook_id == webhook_id))
                conn.execute(
                    insert(whe),
                    [{"webhook_id": webhook_id, "entity": e.entity, "action": e.action} for e in parsed],
                )
            if values.get("status") == WebhookStatus.DISABLED.value:
                self._cancel_pending(conn, webhook_id, "the webhook was disabled")
            return self._entities(conn, [self._require(conn, webhook_id)])[0]

    def delete_webhook(self, webhook_id: str) -> None:
        with self._write() as conn:
            self._require(conn, webhook_id)
            conn.execute(delete(whe).where(whe.c.webhook_id == webhook_id))
            conn.execute(delete(wh).where(wh.c.webhook_id == webhook_id))
            self._cancel_pending(conn, webhook_id, "the webhook was deleted")

    def test_webhook(self, webhook_id: str, event: WebhookEvent | str | None = None) -> WebhookTestResult:
        """Send MLflow's example payload for ``event`` (default: the webhook's first event) once, now."""
        from bakehouse.store.webhooks.sender import send_test  # the HTTP client loads only when used

        with self._read() as conn:
            row = self._require(conn, webhook_id)
            webhook = self._entities(conn, [row])[0]
        chosen = validate_events([event])[0] if event is not None else webhook.events[0]
        return send_test(webhook.url, row.secret, chosen, self.policy)

    def _cancel_pending(self, conn: Any, webhook_id: str, reason: str) -> None:
        conn.execute(
            update(whd)
            .where(
                whd.c.webhook_id == webhook_id,
                whd.c.status.in_([DeliveryStatus.PENDING.value, DeliveryStatus.SENDING.value]),
            )
            .values(status=DeliveryStatus.CANCELLED.value, last_error=reason, next_attempt_time=None)
        )

    # -------------------------------------------------------------------------------- the delivery log
    def list_deliveries(
        self,
        webhook_id: str | None = None,
        max_results: int | None = None,
        status: DeliveryStatus | str | None = None,
    ) -> list[WebhookDelivery]:
        """Newest first, each with its attempts."""
        limit = max_results or DELIVERIES_MAX_RESULTS_DEFAULT
        if not 1 <= limit <= LIST_MAX_RESULTS_THRESHOLD:
            raise InvalidParameterError(f"max_results must be between 1 and {LIST_MAX_RESULTS_THRESHOLD}.")
        query = select(whd)
        if webhook_id:
            query = query.where(whd.c.webhook_id == webhook_id)
        if status:
            try:
                wanted = DeliveryStatus(str(status).upper())
            except ValueError:
                raise InvalidParameterError(
                    f"Invalid delivery status {status!r}: use one of {[s.value for s in DeliveryStatus]}"
                ) from None
            query = query.where(whd.c.status == wanted.value)
        with self._read() as conn:
            rows = conn.execute(
                query.order_by(whd.c.creation_time.desc(), whd.c.delivery_id).limit(limit)
            ).all()
            attempts: dict[str, list[WebhookDeliveryAttempt]] = {}
            ids = [r.delivery_id for r in rows]
            for start in range(0, len(ids), 500):
                for a in conn.execute(
                    select(wha).where(wha.c.delivery_id.in_(ids[start : start + 500])).order_by(wha.c.attempt)
                ):
                    attempts.setdefault(a.delivery_id, []).append(
                        WebhookDeliveryAttempt(a.attempt, a.timestamp, a.duration_ms, a.status_code, a.error)
                    )
        return [
            WebhookDelivery(
                delivery_id=r.delivery_id,
                webhook_id=r.webhook_id,
                event=WebhookEvent(r.entity, r.action),
                status=DeliveryStatus(r.status),
                attempts=r.attempts,
                creation_timestamp=r.creation_time,
                next_attempt_timestamp=r.next_attempt_time,
                delivered_timestamp=r.delivered_time,
                last_status_code=r.last_status_code,
                last_error=r.last_error,
                payload=r.payload,
                attempt_log=tuple(attempts.get(r.delivery_id, [])),
            )
            for r in rows
        ]

    # ------------------------------------------------------------------------- used by the dispatcher
    def _claimable(self, now: int) -> Any:
        return or_(
            and_(whd.c.status == DeliveryStatus.PENDING.value, whd.c.next_attempt_time <= now),
            and_(whd.c.status == DeliveryStatus.SENDING.value, whd.c.lease_until < now),
        )

    def claim_due(self, limit: int, lease_ms: int) -> list[ClaimedDelivery]:
        """Take the lease on up to ``limit`` due deliveries (oldest first)."""
        now = _now()
        with self._read() as conn:
            candidates = (
                conn.execute(
                    select(whd.c.delivery_id)
                    .where(self._claimable(now))
                    .order_by(whd.c.next_attempt_time, whd.c.creation_time)
                    .limit(limit)
                )
                .scalars()
                .all()
            )
        claimed: list[ClaimedDelivery] = []
        for delivery_id in candidates:
            with self._write() as conn:
                taken = conn.execute(
                    update(whd)
                    .where(whd.c.delivery_id == delivery_id, self._claimable(now))
                    .values(
                        status=DeliveryStatus.SENDING.value,
                        lease_until=now + lease_ms,
                        attempts=whd.c.attempts + 1,
                    )
                ).rowcount
                if taken != 1:
                    continue  # another process got it first
                row = conn.execute(
                    select(whd, wh.c.url, wh.c.secret, wh.c.status.label("webhook_status"))
                    .select_from(whd.outerjoin(wh, wh.c.webhook_id == whd.c.webhook_id))
                    .where(whd.c.delivery_id == delivery_id)
                ).one()
                if row.url is None or row.webhook_status != WebhookStatus.ACTIVE.value:
                    gone = "deleted" if row.url is None else "disabled"
                    conn.execute(
                        update(whd)
                        .where(whd.c.delivery_id == delivery_id)
                        .values(
                            status=DeliveryStatus.CANCELLED.value,
                            attempts=whd.c.attempts - 1,
                            last_error=f"the webhook was {gone}",
                            next_attempt_time=None,
                        )
                    )
                    continue
            claimed.append(
                ClaimedDelivery(
                    delivery_id=delivery_id,
                    webhook_id=row.webhook_id,
                    event=WebhookEvent(row.entity, row.action),
                    url=row.url,
                    encrypted_secret=row.secret,
                    payload=row.payload,
                    attempt=row.attempts,
                )
            )
        return claimed

    def record_attempt(
        self,
        claim: ClaimedDelivery,
        started: int,
        duration_ms: int,
        status_code: int | None,
        error: str | None,
        outcome: DeliveryStatus,
        retry_at: int | None = None,
    ) -> None:
        """Log one attempt and move the delivery on: SUCCEEDED, FAILED, or PENDING again at ``retry_at``."""
        values: dict[str, Any] = {
            "status": outcome.value,
            "lease_until": None,
            "last_status_code": status_code,
            "last_error": error,
            "next_attempt_time": retry_at if outcome is DeliveryStatus.PENDING else None,
        }
        if outcome is DeliveryStatus.SUCCEEDED:
            values["delivered_time"] = started + duration_ms
        with self._write() as conn:
            conn.execute(
                insert(wha).values(
                    delivery_id=claim.delivery_id,
                    attempt=claim.attempt,
                    timestamp=started,
                    duration_ms=duration_ms,
                    status_code=status_code,
                    error=error,
                )
            )
            conn.execute(
                update(whd)
                .where(whd.c.delivery_id == claim.delivery_id, whd.c.status == DeliveryStatus.SENDING.value)
                .values(**values)
            )

    def prune(self, older_than_ms: int) -> int:
        """Drop finished deliveries (and their attempts) created before ``older_than_ms``."""
        finished = [
            DeliveryStatus.SUCCEEDED.value,
            DeliveryStatus.FAILED.value,
            DeliveryStatus.CANCELLED.value,
        ]
        with self._write() as conn:
            ids = (
                conn.execute(
                    select(whd.c.delivery_id).where(
                        whd.c.creation_time < older_than_ms, whd.c.status.in_(finished)
                    )
                )
                .scalars()
                .all()
            )
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                conn.execute(delete(wha).where(wha.c.delivery_id.in_(chunk)))
                conn.execute(delete(whd).where(whd.c.delivery_id.in_(chunk)))
        return len(ids)
