"""Webhook handlers: parse -> the registry store's webhook store -> MLflow's JSON."""

from __future__ import annotations

from typing import Any

from bakehouse.entities.webhook import WebhookEvent
from bakehouse.errors import InvalidParameterError, NotImplementedFeatureError
from bakehouse.server.context import RequestContext
from bakehouse.wire import webhooks as w


def _store(ctx: RequestContext) -> Any:
    registry = ctx.registry_store
    store = getattr(registry, "webhooks", None)
    if store is None:
        raise NotImplementedFeatureError("Webhooks need the model registry on a SQL database.")
    return store


def _required(value: Any, field: str) -> Any:
    if value is None or value == "" or value == []:
        raise InvalidParameterError(
            f"Missing value for required parameter '{field}'. "
            "See the API docs for more information about request parameters."
        )
    return value


def _events(items: list[w.WireWebhookEvent]) -> list[WebhookEvent]:
    try:
        return [item.parsed() for item in items]
    except ValueError as exc:
        raise InvalidParameterError(str(exc)) from None


def create_webhook(ctx: RequestContext, req: w.CreateWebhook) -> dict[str, Any]:
    webhook = _store(ctx).create_webhook(
        name=_required(req.name, "name"),
        url=_required(req.url, "url"),
        events=_events(_required(req.events, "events")),
        description=req.description or None,
        secret=req.secret or None,
        status=w.status_name(req.status),
    )
    return {"webhook": w.webhook_to_json(webhook)}


def list_webhooks(ctx: RequestContext, req: w.ListWebhooks) -> dict[str, Any]:
    page = _store(ctx).list_webhooks(max_results=req.max_results, page_token=req.page_token or None)
    out: dict[str, Any] = {"webhooks": [w.webhook_to_json(x) for x in page]}
    if page.token:
        out["next_page_token"] = page.token
    return out


def get_webhook(ctx: RequestContext, req: w.GetWebhook) -> dict[str, Any]:
    return {"webhook": w.webhook_to_json(_store(ctx).get_webhook(req.webhook_id))}


def update_webhook(ctx: RequestContext, req: w.UpdateWebhook) -> dict[str, Any]:
    webhook = _store(ctx).update_webhook(
        req.webhook_id,
        name=req.name or None,
        description=req.description,
        url=req.url or None,
        events=_events(req.events) if req.events else None,
        secret=req.secret,
        status=w.status_name(req.status),
    )
    return {"webhook": w.webhook_to_json(webhook)}


def delete_webhook(ctx: RequestContext, req: w.DeleteWebhook) -> dict[str, Any]:
    _store(ctx).delete_webhook(req.webhook_id)
    return {}


def test_webhook(ctx: RequestContext, req: w.WebhookTestRequest) -> dict[str, Any]:
    event = _events([req.event])[0] if req.event is not None else None
    result = _store(ctx).test_webhook(req.webhook_id, event)
    return {"result": w.webhook_test_result_to_json(result)}


def list_webhook_deliveries(ctx: RequestContext, req: w.ListWebhookDeliveries) -> dict[str, Any]:
    deliveries = _store(ctx).list_deliveries(
        webhook_id=req.webhook_id or None, max_results=req.max_results, status=req.status or None
    )
    return {"deliveries": [w.delivery_to_json(d) for d in deliveries]}
