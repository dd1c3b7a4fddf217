"""What a delivery carries: MLflow's ``{"entity", "action", "timestamp", "data"}`` with its payload shapes.

``data`` follows ``mlflow/webhooks/types.py`` field for field (``registered_model.created`` has name, tags
and description; ``model_version_alias.deleted`` has name and alias; ...). The body is serialized once, when
the event is written to the outbox, with ``json.dumps`` defaults as MLflow does; the exact string stored is
what is signed and sent on every attempt.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bakehouse.entities.webhook import WebhookEvent

PROMPT_TAG = "mlflow.prompt.is_prompt"
PROMPT_TYPE_TAG = "_mlflow_prompt_type"
PROMPT_TEXT_TAG = "mlflow.prompt.text"

#: what MLflow's "test" sends for each event (``<Payload>.example()``)
EXAMPLES: dict[str, dict[str, Any]] = {
    "registered_model.created": {
        "name": "example_model",
        "tags": {"example_key": "example_value"},
        "description": "An example registered model",
    },
    "model_version.created": {
        "name": "example_model",
        "version": "1",
        "source": "models:/123",
        "run_id": "abcd1234abcd5678",
        "tags": {"example_key": "example_value"},
        "description": "An example model version",
    },
    "model_version_tag.set": {
        "name": "example_model",
        "version": "1",
        "key": "example_key",
        "value": "example_value",
    },
    "model_version_tag.deleted": {"name": "example_model", "version": "1", "key": "example_key"},
    "model_version_alias.created": {"name": "example_model", "alias": "example_alias", "version": "1"},
    "model_version_alias.deleted": {"name": "example_model", "alias": "example_alias"},
    "prompt.created": {
        "name": "example_prompt",
        "tags": {"example_key": "example_value"},
        "description": "An example prompt",
    },
    "prompt_version.created": {
        "name": "example_prompt",
        "version": "1",
        "template": "Hello {{name}}!",
        "tags": {"example_key": "example_value"},
        "description": "An example prompt version",
    },
    "prompt_tag.set": {"name": "example_prompt", "key": "example_key", "value": "example_value"},
    "prompt_tag.deleted": {"name": "example_prompt", "key": "example_key"},
    "prompt_version_tag.set": {
        "name": "example_prompt",
        "version": "1",
        "key": "example_key",
        "value": "example_value",
    },
    "prompt_version_tag.deleted": {"name": "example_prompt", "version": "1", "key": "example_key"},
    "prompt_alias.created": {"name": "example_prompt", "alias": "example_alias", "version": "1"},
    "prompt_alias.deleted": {"name": "example_prompt", "alias": "example_alias"},
}


def envelope(event: WebhookEvent, data: dict[str, Any], when: datetime | None = None) -> str:
    """The JSON body of a delivery, as the exact string that is signed and sent."""
    return json.dumps(
        {
            "entity": event.entity,
            "action": event.action,
            "timestamp": (when or datetime.now(UTC)).isoformat(),
            "data": data,
        }
    )


def is_prompt_tags(tags: dict[str, str]) -> bool:
    """MLflow sends ``prompt*`` events instead of model events for registered models tagged as prompts."""
    return str(tags.get(PROMPT_TAG, "false")).lower() == "true"


def registered_model_created(
    name: str, tags: dict[str, str], description: str | None
) -> tuple[WebhookEvent, dict[str, Any]]:
    if is_prompt_tags(tags):
        kept = {k: v for k, v in tags.items() if k not in (PROMPT_TAG, PROMPT_TYPE_TAG)}
        return WebhookEvent("prompt", "created"), {"name": name, "tags": kept, "description": description}
    return WebhookEvent("registered_model", "created"), {
        "name": name,
        "tags": dict(tags),
        "description": description,
    }


def model_version_created(
    name: str,
    version: str,
    source: str,
    run_id: str | None,
    tags: dict[str, str],
    description: str | None,
) -> tuple[WebhookEvent, dict[str, Any]]:
    if is_prompt_tags(tags):
        kept = {k: v for k, v in tags.items() if k not in (PROMPT_TAG, PROMPT_TYPE_TAG, PROMPT_TEXT_TAG)}
        return WebhookEvent("prompt_version", "created"), {
            "name": name,
            "version": version,
            "template": tags.get(PROMPT_TEXT_TAG),
            "tags": kept,
            "description": description or None,
        }
    return WebhookEvent("model_version", "created"), {
        "name": name,
        "version": version,
        "source": source,
        "run_id": run_id or None,
        "tags": dict(tags),
        "description": description or None,
    }


def version_tag(
    prompt: bool, name: str, version: str, key: str, value: str | None
) -> tuple[WebhookEvent, dict[str, Any]]:
    """``model_version_tag.set`` (with a value) or ``.deleted`` (value None); ``prompt_version_tag.*``."""
    entity = "prompt_version_tag" if prompt else "model_version_tag"
    if value is None:
        return WebhookEvent(entity, "deleted"), {"name": name, "version": version, "key": key}
    return WebhookEvent(entity, "set"), {"name": name, "version": version, "key": key, "value": value}


def alias(
    prompt: bool, name: str, alias_name: str, version: str | None
) -> tuple[WebhookEvent, dict[str, Any]]:
    """``model_version_alias.created`` (with a version) or ``.deleted`` (version None); ``prompt_alias.*``."""
    entity = "prompt_alias" if prompt else "model_version_alias"
    if version is None:
        return WebhookEvent(entity, "deleted"), {"name": name, "alias": alias_name}
    return WebhookEvent(entity, "created"), {"name": name, "alias": alias_name, "version": version}


def prompt_tag(name: str, key: str, value: str | None) -> tuple[WebhookEvent, dict[str, Any]]:
    """Tags on a registered model send events only when the model is a prompt (as in MLflow)."""
    if value is None:
        return WebhookEvent("prompt_tag", "deleted"), {"name": name, "key": key}
    return WebhookEvent("prompt_tag", "set"), {"name": name, "key": key, "value": value}
