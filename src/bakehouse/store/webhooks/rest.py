"""The webhook API over HTTP: MLflow's ``/api/2.0/mlflow/webhooks`` endpoints (and Bakehouse's delivery log)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from bakehouse.entities.page import PagedList
from bakehouse.entities.webhook import (
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookStatus,
    WebhookTestResult,
)
from bakehouse.store.webhooks.validation import validate_events
from bakehouse.wire.transport import HttpTransport
from bakehouse.wire.webhooks import (
    BY_NAME,
    delivery_from_json,
    event_to_json,
    webhook_from_json,
    webhook_test_result_from_json,
)

API_PREFIX = "/api/2.0"


def _value(status: WebhookStatus | str | None) -> str | None:
    if status is None:
        return None
    return status.value if isinstance(status, WebhookStatus) else str(status).upper()


class RestWebhookStore:
    def __init__(self, transport: HttpTransport) -> None:
        self.transport = transport

    def _call(self, rpc: str, body: dict[str, Any], webhook_id: str | None = None) -> dict[str, Any]:
        endpoint = BY_NAME[rpc]
        path = endpoint.path.replace("{webhook_id}", quote(webhook_id or "", safe=""))
        payload = {k: v for k, v in body.items() if v is not None}
        return self.transport.call(endpoint.method, f"{API_PREFIX}{path}", payload)

    def create_webhook(
        self,
        name: str,
        url: str,
        events: Sequence[WebhookEvent | str],
        description: str | None = None,
        secret: str | None = None,
        status: WebhookStatus | str | None = None,
    ) -> Webhook:
        body = {
            "name": name,
            "url": url,
            "events": [event_to_json(e) for e in validate_events(events)],
            "description": description,
            "secret": secret,
            "status": _value(status),
        }
        return webhook_from_json(self._call("CreateWebhook", body).get("webhook") or {})

    def get_webhook(self, webhook_id: str) -> Webhook:
        return webhook_from_json(self._call("GetWebhook", {}, webhook_id).get("webhook") or {})

    def list_webhooks(
        self, max_results: int | None = None, page_token: str | None = None
    ) -> PagedList[Webhook]:
        out = self._call("ListWebhooks", {"max_results": max_results, "page_token": page_token})
        return PagedList(
            [webhook_from_json(x) for x in out.get("webhooks") or ()], out.get("next_page_token") or None
        )

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
        body = {
            "name": name,
            "description": description,
            "url": url,
            "events": [event_to_json(e) for e in validate_events(events)] if events is not None else None,
            "secret": secret,
            "status": _value(status),
        }
        return webhook_from_json(self._call("UpdateWebhook", body, webhook_id).get("webhook") or {})

    def delete_webhook(self, webhook_id: str) -> None:
        self._call("DeleteWebhook", {}, webhook_id)

    def test_webhook(self, webhook_id: str, event: WebhookEvent | str | None = None) -> WebhookTestResult:
        body = {"event": event_to_json(validate_events([event])[0]) if event is not None else None}
        return webhook_test_result_from_json(self._call("TestWebhook", body, webhook_id).get("result") or {})

    def list_deliveries(
        self,
        webhook_id: str | None = None,
        max_results: int | None = None,
        status: DeliveryStatus | str | None = None,
    ) -> list[WebhookDelivery]:
        wanted = status.value if isinstance(status, DeliveryStatus) else status
        out = self._call(
            "ListWebhookDeliveries", {"webhook_id": webhook_id, "max_results": max_results, "status": wanted}
        )
        return [delivery_from_json(d) for d in out.get("deliveries") or ()]
