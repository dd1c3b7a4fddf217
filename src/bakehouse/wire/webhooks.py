"""Registry webhooks on the wire: MLflow 3's ``WebhookService`` (``mlflow/protos/webhooks.proto``).

Paths and methods are MLflow's: ``POST|GET /mlflow/webhooks``, ``GET|PATCH|DELETE /mlflow/webhooks/{id}``,
``POST /mlflow/webhooks/{id}/test``. Events travel as proto enum names (``{"entity": "MODEL_VERSION",
"action": "CREATED"}``), status as ``ACTIVE``/``DISABLED``; the secret is accepted and never returned.
Bakehouse adds ``GET /bakehouse/webhooks/deliveries``, the delivery log. Like MLflow with auth on, every
webhook endpoint is for administrators.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, StrictInt

from bakehouse.entities.webhook import (
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookEvent,
    WebhookStatus,
    WebhookTestResult,
)
from bakehouse.wire.endpoints import Endpoint
from bakehouse.wire.messages import Int64, Text, WireModel

#: proto enum numbers, for clients that send them as numbers
_STATUS_NUMBERS = {1: "ACTIVE", 2: "DISABLED"}
_ENTITY_NUMBERS = {
    1: "REGISTERED_MODEL",
    2: "MODEL_VERSION",
    3: "MODEL_VERSION_TAG",
    4: "MODEL_VERSION_ALIAS",
    5: "PROMPT",
    6: "PROMPT_VERSION",
    7: "PROMPT_TAG",
    8: "PROMPT_VERSION_TAG",
    9: "PROMPT_ALIAS",
}
_ACTION_NUMBERS = {1: "CREATED", 2: "UPDATED", 3: "DELETED", 4: "SET"}


class WireWebhookEvent(WireModel):
    entity: Text | StrictInt | None = None
    action: Text | StrictInt | None = None

    def parsed(self) -> WebhookEvent:
        """The event, or ValueError naming what is wrong (the handler turns it into a 400)."""
        entity = _ENTITY_NUMBERS.get(self.entity, "") if isinstance(self.entity, int) else self.entity or ""
        action = _ACTION_NUMBERS.get(self.action, "") if isinstance(self.action, int) else self.action or ""
        if not entity or not action:
            raise ValueError(f"Webhook event needs an entity and an action, got {self.model_dump()}")
        return WebhookEvent(entity.lower(), action.lower())


class CreateWebhook(WireModel):
    name: Text | None = None
    description: Text | None = None
    url: Text | None = None
    events: list[WireWebhookEvent] = Field(default_factory=list)
    secret: Text | None = None
    status: Text | StrictInt | None = None


class ListWebhooks(WireModel):
    max_results: Int64 | None = None
    page_token: Text | None = None


class GetWebhook(WireModel):
    webhook_id: Text


class UpdateWebhook(WireModel):
    webhook_id: Text
    name: Text | None = None
    description: Text | None = None
    url: Text | None = None
    events: list[WireWebhookEvent] = Field(default_factory=list)
    secret: Text | None = None
    status: Text | StrictInt | None = None


class DeleteWebhook(WireModel):
    webhook_id: Text


class WebhookTestRequest(WireModel):
    webhook_id: Text
    event: WireWebhookEvent | None = None


class ListWebhookDeliveries(WireModel):
    webhook_id: Text | None = None
    status: Text | None = None
    max_results: Int64 | None = None


def status_name(value: str | int | None) -> str | None:
    if isinstance(value, int):
        return _STATUS_NUMBERS.get(value, str(value))
    return value


# ------------------------------------------------------------------------------------------- JSON shapes
def event_to_json(event: WebhookEvent) -> dict[str, str]:
    return {"entity": event.entity.upper(), "action": event.action.upper()}


def event_from_json(d: Mapping[str, Any]) -> WebhookEvent:
    return WireWebhookEvent.model_validate(d).parsed()


def webhook_to_json(w: Webhook) -> dict[str, Any]:
    out: dict[str, Any] = {
        "webhook_id": w.webhook_id,
        "name": w.name,
        "url": w.url,
        "events": [event_to_json(e) for e in w.events],
        "status": w.status.value,
        "creation_timestamp": w.creation_timestamp,
        "last_updated_timestamp": w.last_updated_timestamp,
    }
    if w.description:
        out["description"] = w.description
    return out


def webhook_from_json(d: Mapping[str, Any]) -> Webhook:
    return Webhook(
        webhook_id=str(d.get("webhook_id", "")),
        name=str(d.get("name", "")),
        url=str(d.get("url", "")),
        events=tuple(event_from_json(e) for e in d.get("events") or ()),
        status=WebhookStatus(status_name(d.get("status")) or "ACTIVE"),
        description=d.get("description") or None,
        creation_timestamp=int(d.get("creation_timestamp", 0) or 0),
        last_updated_timestamp=int(d.get("last_updated_timestamp", 0) or 0),
    )


def webhook_test_result_to_json(r: WebhookTestResult) -> dict[str, Any]:
    out: dict[str, Any] = {"success": r.success}
    if r.response_status is not None:
        out["response_status"] = r.response_status
    if r.response_body is not None:
        out["response_body"] = r.response_body
    if r.error_message is not None:
        out["error_message"] = r.error_message
    return out


def webhook_test_result_from_json(d: Mapping[str, Any]) -> WebhookTestResult:
    return WebhookTestResult(
        success=bool(d.get("success", False)),
        response_status=d.get("response_status") or None,
        response_body=d.get("response_body") or None,
        error_message=d.get("error_message") or None,
    )


def delivery_to_json(d: WebhookDelivery) -> dict[str, Any]:
    return {
        "delivery_id": d.delivery_id,
        "webhook_id": d.webhook_id,
        "event": str(d.event),
        "status": d.status.value,
        "attempts": d.attempts,
        "creation_timestamp": d.creation_timestamp,
        "next_attempt_timestamp": d.next_attempt_timestamp,
        "delivered_timestamp": d.delivered_timestamp,
        "last_status_code": d.last_status_code,
        "last_error": d.last_error,
        "payload": d.payload,
        "attempt_log": [
            {
                "attempt": a.attempt,
                "timestamp": a.timestamp,
                "duration_ms": a.duration_ms,
                "status_code": a.status_code,
                "error": a.error,
            }
            for a in d.attempt_log
        ],
    }


def delivery_from_json(d: Mapping[str, Any]) -> WebhookDelivery:
    return WebhookDelivery(
        delivery_id=str(d["delivery_id"]),
        webhook_id=str(d["webhook_id"]),
        event=WebhookEvent.parse(str(d["event"])),
        status=DeliveryStatus(str(d["status"])),
        attempts=int(d.get("attempts", 0)),
        creation_timestamp=int(d.get("creation_timestamp", 0)),
        next_attempt_timestamp=d.get("next_attempt_timestamp"),
        delivered_timestamp=d.get("delivered_timestamp"),
        last_status_code=d.get("last_status_code"),
        last_error=d.get("last_error"),
        payload=str(d.get("payload", "")),
        attempt_log=tuple(
            WebhookDeliveryAttempt(
                attempt=int(a["attempt"]),
                timestamp=int(a["timestamp"]),
                duration_ms=int(a["duration_ms"]),
                status_code=a.get("status_code"),
                error=a.get("error"),
            )
            for a in d.get("attempt_log") or ()
        ),
    )


# ---------------------------------------------------------------------------------------------- the table
_ADMIN = ("admin", "manage")
_W = "/mlflow/webhooks"


def _row(name: str, method: str, path: str, fn: str, request: Any, **kw: Any) -> Endpoint:
    return Endpoint(
        name=name,
        method=method,
        path=path,
        handler=f"webhooks:{fn}",
        request=request,
        permission=_ADMIN,
        **kw,
    )


ENDPOINTS: list[Endpoint] = [
    _row("CreateWebhook", "POST", _W, "create_webhook", CreateWebhook),
    _row("ListWebhooks", "GET", _W, "list_webhooks", ListWebhooks),
    _row("GetWebhook", "GET", f"{_W}/{{webhook_id}}", "get_webhook", GetWebhook),
    _row("UpdateWebhook", "PATCH", f"{_W}/{{webhook_id}}", "update_webhook", UpdateWebhook),
    _row("DeleteWebhook", "DELETE", f"{_W}/{{webhook_id}}", "delete_webhook", DeleteWebhook),
    _row("TestWebhook", "POST", f"{_W}/{{webhook_id}}/test", "test_webhook", WebhookTestRequest),
    _row(
        "ListWebhookDeliveries",
        "GET",
        "/bakehouse/webhooks/deliveries",
        "list_webhook_deliveries",
        ListWebhookDeliveries,
        summary="The delivery log: each event sent to a webhook, its status and every attempt, newest first.",
    ),
]

BY_NAME: dict[str, Endpoint] = {e.name: e for e in ENDPOINTS}
