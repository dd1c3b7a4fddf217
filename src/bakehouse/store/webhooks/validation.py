"""Checks on webhook fields, shared by the SQL store and the HTTP client (MLflow's rules and messages)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bakehouse.entities.webhook import InvalidWebhookEventError, WebhookEvent, WebhookStatus
from bakehouse.errors import InvalidParameterError

MAX_SECRET_LENGTH = 4096
MAX_DESCRIPTION_LENGTH = 1000
_NAME = re.compile(r"^(?=.{1,63}$)[a-z0-9]([a-z0-9._-]*[a-z0-9])?$", re.IGNORECASE)


def validate_name(name: str | None) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise InvalidParameterError(
            f"Webhook name {name!r} is invalid. It must start and end with a letter or digit, be less than 63 "
            "characters long, and contain only letters, digits, dots (.), underscores (_), and hyphens (-)."
        )
    return name


def validate_events(events: Sequence[WebhookEvent | str | None] | None) -> list[WebhookEvent]:
    """Parsed, de-duplicated events (``"model_version.created"`` strings are accepted)."""
    if not events:
        raise InvalidParameterError("Webhook events must be a non-empty list of events.")
    parsed: list[WebhookEvent] = []
    for event in events:
        if event is None:
            raise InvalidParameterError("Webhook events must not contain empty entries.")
        try:
            item = event if isinstance(event, WebhookEvent) else WebhookEvent.parse(event)
        except InvalidWebhookEventError as exc:
            raise InvalidParameterError(str(exc)) from None
        if item not in parsed:
            parsed.append(item)
    return parsed


def validate_status(value: WebhookStatus | str | None) -> WebhookStatus:
    if value is None:
        return WebhookStatus.ACTIVE
    try:
        return value if isinstance(value, WebhookStatus) else WebhookStatus(str(value).upper())
    except ValueError:
        raise InvalidParameterError(f"Invalid webhook status {value!r}: use ACTIVE or DISABLED") from None


def validate_description(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_DESCRIPTION_LENGTH:
        raise InvalidParameterError(
            f"Webhook description must be at most {MAX_DESCRIPTION_LENGTH} characters"
        )
    return value


def validate_secret(value: str | None) -> str | None:
    if value is not None and len(value) > MAX_SECRET_LENGTH:
        raise InvalidParameterError(f"Webhook secret must be at most {MAX_SECRET_LENGTH} characters")
    return value or None
