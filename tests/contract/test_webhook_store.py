"""Webhook subscriptions and the outbox, on SQLite, PostgreSQL, MySQL and the REST store (a real server).

Targets are public IP literals (``https://1.1.1.1/...``): they pass MLflow's default URL rules without a DNS
lookup, and nothing here sends anything (delivery has its own tests in tests/integration/test_webhooks.py).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from running_server import RunningServer

from bakehouse.entities.webhook import DeliveryStatus, WebhookEvent, WebhookStatus
from bakehouse.errors import InvalidParameterError, NotFoundError

pytestmark = pytest.mark.timeout(120)

TARGET = "https://1.1.1.1/hooks/ci"


@pytest.fixture(scope="module")
def webhook_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    workdir = tmp_path_factory.mktemp("webhook-server")
    server = RunningServer(f"sqlite:///{workdir / 'bakehouse.db'}", workdir)
    try:
        yield server
    finally:
        server.stop()


def _open(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """(registry store, its webhook store) on one backend."""
    if kind == "rest":
        from bakehouse.store.registry.rest import RestRegistryStore

        registry = RestRegistryStore.from_uri(request.getfixturevalue("webhook_server").url)
        yield registry, registry.webhooks
        registry.transport.close()
        return
    from bakehouse.store.registry.sql import SqlRegistryStore

    uri = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'registry.db'}",
        "postgresql": lambda: request.getfixturevalue("postgres_uri"),
        "mysql": lambda: request.getfixturevalue("mysql_uri"),
    }[kind]()
    registry = SqlRegistryStore.from_uri(uri)
    yield registry, registry.webhooks
    registry.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mysql", "rest"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    yield from _open(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "rest"])
def checked_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """For input checks: the same code runs before any SQL, so one database and the server suffice."""
    yield from _open(request.param, request, tmp_path)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def sql_stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Any, Any]]:
    """The outbox lives in the database (the REST store reaches it through the server)."""
    yield from _open(request.param, request, tmp_path)


def _name() -> str:
    return f"hook-{uuid.uuid4().hex[:8]}"


def test_create_get_update_delete(stores: tuple[Any, Any]) -> None:
    _, webhooks = stores
    name = _name()
    created = webhooks.create_webhook(
        name,
        TARGET,
        ["model_version.created", WebhookEvent("model_version_alias", "created")],
        "CI",
        "s3cret",
    )
    assert created.name == name and created.url == TARGET and created.description == "CI"
    assert set(created.events) == {
        WebhookEvent("model_version", "created"),
        WebhookEvent("model_version_alias", "created"),
    }
    assert created.status is WebhookStatus.ACTIVE
    assert created.creation_timestamp > 0 and not hasattr(created, "secret")
    assert webhooks.get_webhook(created.webhook_id) == created

    updated = webhooks.update_webhook(
        created.webhook_id, events=["registered_model.created"], status="DISABLED", description=""
    )
    assert updated.events == (WebhookEvent("registered_model", "created"),)
    assert updated.status is WebhookStatus.DISABLED
    assert updated.description is None and updated.name == name and updated.url == TARGET
    assert updated.last_updated_timestamp >= created.last_updated_timestamp

    webhooks.delete_webhook(created.webhook_id)
    with pytest.raises(NotFoundError, match=created.webhook_id):
        webhooks.get_webhook(created.webhook_id)
    with pytest.raises(NotFoundError):
        webhooks.delete_webhook(created.webhook_id)


def test_list_pages_newest_first(stores: tuple[Any, Any]) -> None:
    _, webhooks = stores
    ids = []
    for _ in range(3):
        ids.append(webhooks.create_webhook(_name(), TARGET, ["registered_model.created"]).webhook_id)
        time.sleep(0.005)  # distinct creation times: the order is by creation time
    seen: list[str] = []
    token = None
    while True:
        page = webhooks.list_webhooks(max_results=2, page_token=token)
        assert len(page) <= 2
        seen += [w.webhook_id for w in page]
        token = page.token
        if not token:
            break
    assert [i for i in seen if i in ids] == list(reversed(ids))
    with pytest.raises(InvalidParameterError, match="between 1 and 1000"):
        webhooks.list_webhooks(max_results=1001)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "-bad name-"}, "is invalid"),
        ({"events": []}, "non-empty"),
        ({"events": ["model_version.deleted"]}, "Invalid action 'deleted' for entity 'model_version'"),
        ({"events": ["experiment.created"]}, "Invalid webhook entity"),
        ({"url": "http://1.1.1.1/hook"}, "Invalid webhook URL scheme: 'http'"),
        ({"url": "https://127.0.0.1/hook"}, "must not resolve to a non-public IP address"),
        ({"url": "https://10.1.2.3/hook"}, "must not resolve to a non-public IP address"),
        ({"url": "https://[::ffff:192.168.0.1]/hook"}, "non-public"),
        ({"url": "https://127.1/hook"}, "not a canonical IP address literal"),
        ({"url": "https://user:pw@1.1.1.1/hook"}, "credentials"),
        ({"status": "PAUSED"}, "ACTIVE or DISABLED"),
    ],
)
def test_bad_webhooks_are_refused_and_nothing_is_stored(
    checked_stores: tuple[Any, Any], kwargs: dict[str, Any], message: str
) -> None:
    _, webhooks = checked_stores
    before = {w.webhook_id for w in webhooks.list_webhooks(max_results=1000)}
    arguments = {"name": _name(), "url": TARGET, "events": ["registered_model.created"], **kwargs}
    with pytest.raises(InvalidParameterError, match=message.replace("[", r"\[").replace("(", r"\(")):
        webhooks.create_webhook(**arguments)
    assert {w.webhook_id for w in webhooks.list_webhooks(max_results=1000)} == before


def test_a_bad_update_changes_nothing(checked_stores: tuple[Any, Any]) -> None:
    _, webhooks = checked_stores
    created = webhooks.create_webhook(_name(), TARGET, ["registered_model.created"])
    with pytest.raises(InvalidParameterError):
        webhooks.update_webhook(created.webhook_id, name="renamed", url="https://192.168.1.1/x")
    assert webhooks.get_webhook(created.webhook_id) == created


def _deliveries(webhooks: Any, webhook_id: str) -> list[Any]:
    return list(reversed(webhooks.list_deliveries(webhook_id=webhook_id)))


def test_registry_changes_queue_mlflow_payloads_for_subscribers_only(sql_stores: tuple[Any, Any]) -> None:
    registry, webhooks = sql_stores
    events = [
        "registered_model.created",
        "model_version.created",
        "model_version_tag.set",
        "model_version_tag.deleted",
        "model_version_alias.created",
        "model_version_alias.deleted",
    ]
    hook = webhooks.create_webhook(_name(), TARGET, events, secret="s")
    idle = webhooks.create_webhook(_name(), TARGET, ["prompt.created"])
    off = webhooks.create_webhook(_name(), TARGET, events, status="DISABLED")
    name = f"m{uuid.uuid4().hex[:8]}"
    registry.create_registered_model(name, tags={"team": "ml"}, description="d")
    registry.create_model_version(name, "s3://bucket/model", run_id="r1", tags={"k": "v"})
    registry.set_model_version_tag(name, "1", "stage", "qa")
    registry.delete_model_version_tag(name, "1", "stage")
    registry.set_registered_model_alias(name, "champion", "1")
    registry.delete_registered_model_alias(name, "champion")
    registry.set_registered_model_tag(name, "not", "an event")  # no event for plain model tags (as MLflow)

    log = _deliveries(webhooks, hook.webhook_id)
    assert [str(d.event) for d in log] == events
    assert all(d.status is DeliveryStatus.PENDING and d.attempts == 0 for d in log)
    bodies = [json.loads(d.payload) for d in log]
    assert [(b["entity"], b["action"]) for b in bodies] == [tuple(e.split(".")) for e in events]
    assert [b["data"] for b in bodies] == [
        {"name": name, "tags": {"team": "ml"}, "description": "d"},
        {
            "name": name,
            "version": "1",
            "source": "s3://bucket/model",
            "run_id": "r1",
            "tags": {"k": "v"},
            "description": None,
        },
        {"name": name, "version": "1", "key": "stage", "value": "qa"},
        {"name": name, "version": "1", "key": "stage"},
        {"name": name, "alias": "champion", "version": "1"},
        {"name": name, "alias": "champion"},
    ]
    assert all(b["timestamp"].endswith("+00:00") for b in bodies)
    assert _deliveries(webhooks, idle.webhook_id) == []
    assert _deliveries(webhooks, off.webhook_id) == []


def test_prompts_send_prompt_events(sql_stores: tuple[Any, Any]) -> None:
    registry, webhooks = sql_stores
    hook = webhooks.create_webhook(
        _name(),
        TARGET,
        ["prompt.created", "prompt_version.created", "prompt_alias.created", "prompt_tag.set"],
    )
    name = f"p{uuid.uuid4().hex[:8]}"
    registry.create_registered_model(name, tags={"mlflow.prompt.is_prompt": "true", "team": "ml"})
    registry.create_model_version(
        name, "dummy", tags={"mlflow.prompt.is_prompt": "true", "mlflow.prompt.text": "Hi {{x}}"}
    )
    registry.set_registered_model_alias(name, "prod", "1")
    registry.set_registered_model_tag(name, "owner", "me")
    data = [json.loads(d.payload)["data"] for d in _deliveries(webhooks, hook.webhook_id)]
    assert data == [
        {"name": name, "tags": {"team": "ml"}, "description": None},
        {"name": name, "version": "1", "template": "Hi {{x}}", "tags": {}, "description": None},
        {"name": name, "alias": "prod", "version": "1"},
        {"name": name, "key": "owner", "value": "me"},
    ]


def test_a_change_that_fails_queues_nothing(sql_stores: tuple[Any, Any]) -> None:
    registry, webhooks = sql_stores
    hook = webhooks.create_webhook(_name(), TARGET, ["model_version.created", "model_version_alias.created"])
    with pytest.raises(NotFoundError):
        registry.create_model_version(f"missing{uuid.uuid4().hex[:6]}", "s3://b/m")
    name = f"m{uuid.uuid4().hex[:8]}"
    registry.create_registered_model(name)
    with pytest.raises(NotFoundError):
        registry.set_registered_model_alias(name, "champion", "7")
    assert _deliveries(webhooks, hook.webhook_id) == []


def test_each_due_delivery_is_claimed_once_and_every_attempt_is_logged(sql_stores: tuple[Any, Any]) -> None:
    from bakehouse.store.webhooks.sql import SqlWebhookStore

    registry, webhooks = sql_stores
    hook = webhooks.create_webhook(_name(), TARGET, ["registered_model.created"], secret="s3cret")
    name = f"m{uuid.uuid4().hex[:8]}"
    registry.create_registered_model(name)
    other_process = SqlWebhookStore(registry.engine)  # another server sharing the database

    first = [c for c in webhooks.claim_due(limit=100, lease_ms=60_000) if c.webhook_id == hook.webhook_id]
    assert [
        c for c in other_process.claim_due(limit=100, lease_ms=60_000) if c.webhook_id == hook.webhook_id
    ] == []
    (claim,) = first
    assert claim.attempt == 1 and claim.url == TARGET and json.loads(claim.payload)["data"]["name"] == name
    assert claim.encrypted_secret and "s3cret" not in claim.encrypted_secret

    webhooks.record_attempt(claim, 1000, 12, 503, "HTTP 503", DeliveryStatus.PENDING, retry_at=0)
    (retry,) = [
        c for c in other_process.claim_due(limit=100, lease_ms=60_000) if c.webhook_id == hook.webhook_id
    ]
    assert retry.attempt == 2 and retry.delivery_id == claim.delivery_id
    other_process.record_attempt(retry, 2000, 7, 200, None, DeliveryStatus.SUCCEEDED)

    (done,) = webhooks.list_deliveries(webhook_id=hook.webhook_id)
    assert done.status is DeliveryStatus.SUCCEEDED and done.attempts == 2 and done.last_status_code == 200
    assert [(a.attempt, a.status_code, a.error) for a in done.attempt_log] == [
        (1, 503, "HTTP 503"),
        (2, 200, None),
    ]
    assert done.delivered_timestamp == 2007
    assert [
        c for c in webhooks.claim_due(limit=100, lease_ms=60_000) if c.webhook_id == hook.webhook_id
    ] == []


def test_an_expired_lease_is_claimed_again(sql_stores: tuple[Any, Any]) -> None:
    registry, webhooks = sql_stores
    hook = webhooks.create_webhook(_name(), TARGET, ["registered_model.created"])
    registry.create_registered_model(f"m{uuid.uuid4().hex[:8]}")
    (claim,) = [c for c in webhooks.claim_due(limit=100, lease_ms=-1) if c.webhook_id == hook.webhook_id]
    (again,) = [c for c in webhooks.claim_due(limit=100, lease_ms=60_000) if c.webhook_id == hook.webhook_id]
    assert again.delivery_id == claim.delivery_id and again.attempt == 2


def test_deleting_or_disabling_a_webhook_cancels_what_it_has_not_sent(sql_stores: tuple[Any, Any]) -> None:
    registry, webhooks = sql_stores
    gone = webhooks.create_webhook(_name(), TARGET, ["registered_model.created"])
    paused = webhooks.create_webhook(_name(), TARGET, ["registered_model.created"])
    registry.create_registered_model(f"m{uuid.uuid4().hex[:8]}")
    webhooks.delete_webhook(gone.webhook_id)
    webhooks.update_webhook(paused.webhook_id, status="DISABLED")
    for hook, reason in ((gone, "deleted"), (paused, "disabled")):
        (delivery,) = webhooks.list_deliveries(webhook_id=hook.webhook_id)
        assert delivery.status is DeliveryStatus.CANCELLED and reason in (delivery.last_error or "")
    claimed = {c.webhook_id for c in webhooks.claim_due(limit=100, lease_ms=60_000)}
    assert not claimed & {gone.webhook_id, paused.webhook_id}
