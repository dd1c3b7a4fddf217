"""``bakehouse webhooks``: create, list, get, update, delete, test registry webhooks; read the delivery log.

``deliver`` sends what is due from an embedded store (no server running): the same dispatcher a
``bakehouse server`` runs in each worker, once or until interrupted.
"""

from __future__ import annotations

import time
from typing import Any

import click

from bakehouse.cli import output
from bakehouse.cli.options import FullHelpGroup, json_option, make_client, tracking_uri_option


def _events_help() -> str:
    from bakehouse.entities.webhook import ALL_EVENTS

    return "Event to send (repeatable): " + ", ".join(str(e) for e in ALL_EVENTS) + "."


def _show(webhook: Any, as_json: bool) -> None:
    if as_json:
        output.print_json(webhook)
        return
    output.print_mapping(
        f"Webhook {webhook.name}",
        {
            "id": webhook.webhook_id,
            "url": webhook.url,
            "events": ", ".join(str(e) for e in webhook.events),
            "status": webhook.status.value,
            "description": webhook.description or "",
            "updated": output.format_time(webhook.last_updated_timestamp),
        },
    )


@click.group(
    "webhooks", cls=FullHelpGroup, help="Registry webhooks (MLflow 3's API): tell CI when models change."
)
def webhooks_group() -> None:
    pass


@webhooks_group.command("create")
@click.option("--name", required=True, help="Letters, digits, '.', '_' and '-' (at most 63).")
@click.option("--url", required=True, help="Where to POST (https on a public address unless widened).")
@click.option("--event", "events", multiple=True, required=True, help=_events_help())
@click.option("--secret", default=None, help="Signs every delivery (X-MLflow-Signature); stored encrypted.")
@click.option(
    "--description", default=None, help="Free text shown with the webhook (at most 1000 characters)."
)
@click.option("--disabled", is_flag=True, help="Create it DISABLED (no deliveries until enabled).")
@tracking_uri_option
@json_option
def create(
    name: str,
    url: str,
    events: tuple[str, ...],
    secret: str | None,
    description: str | None,
    disabled: bool,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """Subscribe URL to registry events."""
    webhook = make_client(tracking_uri).create_webhook(
        name,
        url,
        list(events),
        description=description,
        secret=secret,
        status="DISABLED" if disabled else None,
    )
    _show(webhook, as_json)


@webhooks_group.command("list")
@click.option(
    "--max-results", type=click.IntRange(1, 1000), default=100, show_default=True, help="Webhooks to show."
)
@tracking_uri_option
@json_option
def list_webhooks(max_results: int, tracking_uri: str | None, as_json: bool) -> None:
    """List webhooks, newest first."""
    hooks = make_client(tracking_uri).list_webhooks(max_results=max_results)
    if as_json:
        output.print_json(list(hooks))
        return
    output.print_table(
        ("ID", "Name", "URL", "Events", "Status"),
        ((h.webhook_id, h.name, h.url, ", ".join(str(e) for e in h.events), h.status.value) for h in hooks),
        empty="No webhooks.",
    )


@webhooks_group.command("get")
@click.argument("webhook_id")
@tracking_uri_option
@json_option
def get(webhook_id: str, tracking_uri: str | None, as_json: bool) -> None:
    """Show one webhook."""
    _show(make_client(tracking_uri).get_webhook(webhook_id), as_json)


@webhooks_group.command("update")
@click.argument("webhook_id")
@click.option("--name", default=None, help="A new name.")
@click.option("--url", default=None, help="A new target URL (checked like on create).")
@click.option("--event", "events", multiple=True, help="Replaces the event list (repeatable).")
@click.option("--secret", default=None, help="A new secret ('' removes it).")
@click.option("--description", default=None, help="A new description.")
@click.option(
    "--status",
    type=click.Choice(["ACTIVE", "DISABLED"], case_sensitive=False),
    default=None,
    help="DISABLED stops deliveries; ACTIVE resumes them.",
)
@tracking_uri_option
@json_option
def update(
    webhook_id: str,
    name: str | None,
    url: str | None,
    events: tuple[str, ...],
    secret: str | None,
    description: str | None,
    status: str | None,
    tracking_uri: str | None,
    as_json: bool,
) -> None:
    """Change a webhook; what is not given stays as it is."""
    webhook = make_client(tracking_uri).update_webhook(
        webhook_id,
        name=name,
        description=description,
        url=url,
        events=list(events) or None,
        secret=secret,
        status=status,
    )
    _show(webhook, as_json)


@webhooks_group.command("delete")
@click.argument("webhook_id")
@tracking_uri_option
def delete(webhook_id: str, tracking_uri: str | None) -> None:
    """Delete a webhook (deliveries not yet sent are cancelled; the log is kept)."""
    make_client(tracking_uri).delete_webhook(webhook_id)
    output.success(f"Deleted webhook {webhook_id}")


@webhooks_group.command("test")
@click.argument("webhook_id")
@click.option("--event", default=None, help="Which event's example payload (default: the webhook's first).")
@tracking_uri_option
@json_option
def test(webhook_id: str, event: str | None, tracking_uri: str | None, as_json: bool) -> None:
    """Send an example payload once and show the answer."""
    result = make_client(tracking_uri).test_webhook(webhook_id, event)
    if as_json:
        output.print_json(result)
    elif result.success:
        output.success(f"HTTP {result.response_status}: {result.response_body or ''}".strip())
    else:
        detail = result.error_message or f"HTTP {result.response_status}: {result.response_body or ''}"
        raise click.ClickException(f"The webhook test failed: {detail}")


@webhooks_group.command("deliveries")
@click.option("--webhook-id", default=None, help="Only this webhook's deliveries.")
@click.option("--status", default=None, help="PENDING, SENDING, SUCCEEDED, FAILED or CANCELLED.")
@click.option(
    "--max-results", type=click.IntRange(1, 1000), default=50, show_default=True, help="Deliveries to show."
)
@tracking_uri_option
@json_option
def deliveries(
    webhook_id: str | None, status: str | None, max_results: int, tracking_uri: str | None, as_json: bool
) -> None:
    """The delivery log, newest first."""
    log = make_client(tracking_uri).list_webhook_deliveries(
        webhook_id=webhook_id, max_results=max_results, status=status
    )
    if as_json:
        output.print_json(log)
        return
    output.print_table(
        ("Delivery", "Webhook", "Event", "Status", "Attempts", "Last answer", "Created"),
        (
            (
                d.delivery_id,
                d.webhook_id,
                str(d.event),
                d.status.value,
                d.attempts,
                d.last_error or (f"HTTP {d.last_status_code}" if d.last_status_code else ""),
                output.format_time(d.creation_timestamp),
            )
            for d in log
        ),
        empty="No deliveries recorded.",
    )


@webhooks_group.command("deliver")
@click.option("--follow", is_flag=True, help="Keep sending as events arrive, until interrupted.")
@click.option(
    "--poll-interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between two looks for due deliveries (with --follow).",
)
@tracking_uri_option
def deliver(follow: bool, poll_interval: float, tracking_uri: str | None) -> None:
    """Send the deliveries that are due, from an embedded store (a server does this by itself)."""
    from bakehouse.store.webhooks.delivery import WebhookDispatcher
    from bakehouse.store.webhooks.sql import SqlWebhookStore

    store = make_client(tracking_uri).registry_store
    webhooks = getattr(store, "webhooks", None)
    if not isinstance(webhooks, SqlWebhookStore):
        raise click.ClickException(
            "deliver works on a database store; a tracking server sends webhooks itself"
        )
    dispatcher = WebhookDispatcher(webhooks, poll_interval=poll_interval)
    sent = 0
    try:
        while True:
            sent += dispatcher.run_once()
            if not follow:
                break
            time.sleep(poll_interval)
    except KeyboardInterrupt:
        pass
    finally:
        dispatcher.stop()
    output.info(f"{sent} delivery attempt(s) made")
