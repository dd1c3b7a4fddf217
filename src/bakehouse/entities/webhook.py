"""Registry webhooks, as MLflow 3 names them: events ``<entity>.<action>``, a target URL, an optional secret.

The secret never appears on these objects: it is write-only (stored encrypted, used only to sign deliveries),
as in MLflow, whose ``Webhook`` message has no secret field. A :class:`WebhookDelivery` is one event on its
way to one webhook, with every attempt recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class WebhookStatus(str, Enum):
    ACTIVE = "ACTIVE"
    DISABLED = "DISABLED"


#: which actions each entity has (MLflow's ``VALID_ENTITY_ACTIONS``; budget policies are a gateway matter)
VALID_ENTITY_ACTIONS: dict[str, tuple[str, ...]] = {
    "registered_model": ("created",),
    "model_version": ("created",),
    "model_version_tag": ("set", "deleted"),
    "model_version_alias": ("created", "deleted"),
    "prompt": ("created",),
    "prompt_version": ("created",),
    "prompt_tag": ("set", "deleted"),
    "prompt_version_tag": ("set", "deleted"),
    "prompt_alias": ("created", "deleted"),
}


class InvalidWebhookEventError(ValueError):
    """An entity/action pair MLflow does not define."""


@dataclass(frozen=True, order=True)
class WebhookEvent:
    entity: str
    action: str

    def __post_init__(self) -> None:
        valid = VALID_ENTITY_ACTIONS.get(self.entity)
        if valid is None:
            raise InvalidWebhookEventError(
                f"Invalid webhook entity {self.entity!r}. Valid entities are: {sorted(VALID_ENTITY_ACTIONS)}"
            )
        if self.action not in valid:
            raise InvalidWebhookEventError(
                f"Invalid action '{self.action}' for entity '{self.entity}'. Valid actions are: {sorted(valid)}"
            )

    @classmethod
    def parse(cls, text: str) -> WebhookEvent:
        """``"model_version.created"`` -> ``WebhookEvent("model_version", "created")``."""
        entity, sep, action = text.strip().partition(".")
        if not sep or not entity or not action:
            raise InvalidWebhookEventError(
                f"Invalid event string format: {text}. Expected format: 'entity.action' "
                "(e.g., 'registered_model.created')"
            )
        return cls(entity.lower(), action.lower())

    def __str__(self) -> str:
        return f"{self.entity}.{self.action}"


ALL_EVENTS: tuple[WebhookEvent, ...] = tuple(
    WebhookEvent(entity, action) for entity, actions in VALID_ENTITY_ACTIONS.items() for action in actions
)


@dataclass(frozen=True)
class Webhook:
    webhook_id: str
    name: str
    url: str
    events: tuple[WebhookEvent, ...]
    status: WebhookStatus = WebhookStatus.ACTIVE
    description: str | None = None
    creation_timestamp: int = 0
    last_updated_timestamp: int = 0


@dataclass(frozen=True)
class WebhookTestResult:
    success: bool
    response_status: int | None = None
    response_body: str | None = None
    error_message: str | None = None


class DeliveryStatus(str, Enum):
    PENDING = "PENDING"  # waiting for its (next) attempt
    SENDING = "SENDING"  # claimed by a server process; back to due if its lease runs out
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"  # gave up: a final error, or out of retries
    CANCELLED = "CANCELLED"  # the webhook was deleted or disabled before it went out


@dataclass(frozen=True)
class WebhookDeliveryAttempt:
    attempt: int
    timestamp: int
    duration_ms: int
    status_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class WebhookDelivery:
    delivery_id: str
    webhook_id: str
    event: WebhookEvent
    status: DeliveryStatus
    attempts: int
    creation_timestamp: int
    next_attempt_timestamp: int | None = None
    delivered_timestamp: int | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    payload: str = ""
    attempt_log: tuple[WebhookDeliveryAttempt, ...] = field(default_factory=tuple)
