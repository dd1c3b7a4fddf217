"""Webhook methods of the Client, with MlflowClient's names, over the registry store's ``webhooks``.

On an embedded store (SQLite, PostgreSQL) the calls go straight to the database and ``test_webhook`` sends
from this process; deliveries of registry events are sent by a ``bakehouse server`` on the same database
(or ``bakehouse webhooks deliver``). Over HTTP, the server does both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bakehouse.entities.page import PagedList
from bakehouse.entities.webhook import (
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookStatus,
    WebhookTestResult,
)
from bakehouse.errors import NotImplementedFeatureError


class WebhookClientMixin:
    registry_store: Any

    @property
    def _webhooks(self) -> Any:
        store = getattr(self.registry_store, "webhooks", None)
        if store is None:
            raise NotImplementedFeatureError("This registry store does not support webhooks.")
        return store

    def create_webhook(
        self,
        name: str,
        url: str,
        events: Sequence[WebhookEvent | str],
        description: str | None = None,
        secret: str | None = None,
        status: WebhookStatus | str | None = None,
    ) -> Webhook:
        """Subscribe ``url`` to registry ``events`` (``"model_version.created"``, ``WebhookEvent(...)``)."""
        return self._webhooks.create_webhook(  # type: ignore[no-any-return]  # SQL and REST webhook stores share no protocol yet
            name=name, url=url, events=events, description=description, secret=secret, status=status
        )

    def get_webhook(self, webhook_id: str) -> Webhook:
        return self._webhooks.get_webhook(webhook_id)  # type: ignore[no-any-return]  # SQL and REST webhook stores share no protocol yet

    def list_webhooks(
        self, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]:
        return self._webhooks.list_webhooks(max_results=max_results, page_token=page_token)  # type: ignore[no-any-return]  # SQL and REST webhook stores share no protocol yet

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
        return self._webhooks.update_webhook(  # type: ignore[no-any-return]  # SQL and REST webhook stores share no protocol yet
            webhook_id,
            name=name,
            description=description,
            url=url,
            events=events,
            secret=secret,
            status=status,
        )

    def delete_webhook(self, webhook_id: str) -> None:
        self._webhooks.delete_webhook(webhook_id)

    def test_webhook(self, webhook_id: str, event: WebhookEvent | str | None = None) -> WebhookTestResult:
        """Send the example payload of ``event`` (default: the webhook's first event) once."""
        return self._webhooks.test_webhook(webhook_id, event)  # type: ignore[no-any-return]  # SQL and REST webhook stores share no protocol yet

    def list_webhook_deliveries(
        self,
        webhook_id: str | None = None,
        max_results: int | None = None,
        status: DeliveryStatus | str | None = None,
    ) -> list[WebhookDelivery]:
        """The delivery log, newest first: what was sent where, how it went, every attempt."""
        return self._webhooks.list_deliveries(  # type: ignore[no-any-return]  # SQL and REST webhook stores share no protocol yet
            webhook_id=webhook_id, max_results=max_results, status=status
        )
