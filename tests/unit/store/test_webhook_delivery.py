"""Webhook delivery pieces against real parts: MLflow's signing function, a real receiver on 127.0.0.1,
a SQLite outbox, real key files shared by separate processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from mlflow.webhooks.delivery import _generate_hmac_signature

from bakehouse.entities.webhook import DeliveryStatus, WebhookEvent
from bakehouse.store.registry.sql import SqlRegistryStore
from bakehouse.store.webhooks.delivery import WebhookDispatcher, backoff_delay
from bakehouse.store.webhooks.secrets import SecretBox, WebhookSecretError, secret_box
from bakehouse.store.webhooks.sender import sign, verify
from bakehouse.store.webhooks.sql import SqlWebhookStore
from bakehouse.store.webhooks.targets import TargetPolicy

sys.path.insert(0, str(Path(__file__).parents[2] / "integration"))
from webhook_receiver import Receiver, start_receiver

OPEN = TargetPolicy(("http", "https"), allow_private_ips=True)
STRICT = TargetPolicy(("http", "https"), allow_private_ips=False)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = start_receiver()
    yield running
    running.stop()


@pytest.fixture
def key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "keys" / "webhook.key"
    monkeypatch.setenv("BAKEHOUSE_WEBHOOK_SECRET_KEY_FILE", str(path))
    monkeypatch.delenv("BAKEHOUSE_WEBHOOK_SECRET_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY", raising=False)
    return path


@pytest.fixture
def registry(tmp_path: Path, key_file: Path) -> Iterator[SqlRegistryStore]:
    store = SqlRegistryStore.from_uri(f"sqlite:///{tmp_path / 'db.sqlite'}")
    yield store
    store.engine.dispose()


@pytest.mark.parametrize("body", ['{"a": 1}', json.dumps({"data": {"name": "ünïcode ✓"}}), ""])
def test_signature_is_byte_for_byte_mlflows(body: str) -> None:
    assert sign("sekret", "d-1", "1700000000", body) == _generate_hmac_signature(
        "sekret", "d-1", "1700000000", body
    )


def test_verify_accepts_fresh_signed_requests_only() -> None:
    now = str(int(time.time()))
    headers = {
        "X-MLflow-Delivery-Id": "d",
        "X-MLflow-Timestamp": now,
        "X-MLflow-Signature": sign("k", "d", now, "{}"),
    }
    assert verify("k", headers, "{}")
    assert not verify("other", headers, "{}")
    assert not verify("k", headers, '{"x": 1}')
    stale = str(int(time.time()) - 3600)
    assert not verify(
        "k", {**headers, "X-MLflow-Timestamp": stale, "X-MLflow-Signature": sign("k", "d", stale, "{}")}, "{}"
    )


def test_backoff_doubles_and_is_capped() -> None:
    assert [round(backoff_delay(n, 1.0), 0) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert backoff_delay(30, 1.0) <= 66.0
    assert backoff_delay(1, 1.0, retry_after=5.0) == 5.0 and backoff_delay(1, 1.0, retry_after=600) == 60.0


def test_delivery_to_an_address_that_turned_private_is_refused_at_connect_time(
    registry: SqlRegistryStore, receiver: Receiver
) -> None:
    """Saved while private targets were allowed; the dispatcher of a strict server refuses to connect."""
    SqlWebhookStore(registry.engine, OPEN).create_webhook(
        "ci", f"{receiver.url}/hook", ["registered_model.created"]
    )
    registry.create_registered_model("m")
    strict = WebhookDispatcher(SqlWebhookStore(registry.engine, STRICT), max_retries=3, backoff=0.0)
    try:
        assert strict.run_once() == 1
    finally:
        strict.stop()
    (delivery,) = registry.webhooks.list_deliveries()
    assert delivery.status is DeliveryStatus.FAILED and delivery.attempts == 1  # refused: never retried
    assert "not a public IP address" in (delivery.last_error or "")
    assert receiver.requests == []


def test_a_receiver_that_keeps_failing_is_given_up_after_the_retries(
    registry: SqlRegistryStore, receiver: Receiver
) -> None:
    receiver.fail_first(100)
    webhooks = SqlWebhookStore(registry.engine, OPEN)
    webhooks.create_webhook("ci", f"{receiver.url}/hook", ["registered_model.created"])
    registry.create_registered_model("m")
    dispatcher = WebhookDispatcher(webhooks, max_retries=2, backoff=0.0)
    try:
        for _ in range(5):
            dispatcher.run_once()
    finally:
        dispatcher.stop()
    (delivery,) = webhooks.list_deliveries()
    assert delivery.status is DeliveryStatus.FAILED and delivery.attempts == 3
    assert [a.status_code for a in delivery.attempt_log] == [503, 503, 503]
    assert len(receiver.requests) == 3


def test_a_4xx_answer_is_final(registry: SqlRegistryStore, receiver: Receiver) -> None:
    webhooks = SqlWebhookStore(registry.engine, OPEN)
    webhooks.create_webhook("ci", f"{receiver.url}/hook", ["registered_model.created"])
    registry.create_registered_model("m")
    receiver.always_answer(410)
    dispatcher = WebhookDispatcher(webhooks, max_retries=3, backoff=0.0)
    try:
        dispatcher.run_once()
        dispatcher.run_once()
    finally:
        dispatcher.stop()
    (delivery,) = webhooks.list_deliveries()
    assert (
        delivery.status is DeliveryStatus.FAILED
        and delivery.attempts == 1
        and delivery.last_status_code == 410
    )


def test_the_background_dispatcher_sends_right_after_the_commit(
    registry: SqlRegistryStore, receiver: Receiver
) -> None:
    webhooks = SqlWebhookStore(registry.engine, OPEN)
    webhooks.create_webhook("ci", f"{receiver.url}/hook", ["model_version_alias.created"], secret="s")
    registry.create_registered_model("m")
    registry.create_model_version("m", "s3://b/m")
    dispatcher = WebhookDispatcher(
        webhooks, poll_interval=30.0
    ).start()  # a poll would take 30 s: the wake-up counts
    try:
        registry.set_registered_model_alias("m", "champion", "1")
        (got,) = receiver.wait_for(1, timeout=10)
    finally:
        dispatcher.stop()
    assert json.loads(got.body)["data"] == {"name": "m", "alias": "champion", "version": "1"}
    assert verify("s", got.headers, got.body)


def test_secrets_are_stored_encrypted_and_need_the_same_key(
    registry: SqlRegistryStore, key_file: Path
) -> None:
    hook = SqlWebhookStore(registry.engine, OPEN).create_webhook(
        "ci", "https://1.1.1.1/h", ["registered_model.created"], secret="top-secret"
    )
    with registry.engine.connect() as conn:
        (stored,) = conn.exec_driver_sql("SELECT secret FROM webhooks").one()
    assert "top-secret" not in stored and stored.startswith("bh1:")
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert secret_box().decrypt(stored) == "top-secret"
    other = SecretBox(Fernet.generate_key())
    with pytest.raises(
        WebhookSecretError,
        match=f"encrypted with key {secret_box().key_id}.*BAKEHOUSE_WEBHOOK_SECRET_ENCRYPTION_KEY",
    ):
        other.decrypt(stored)
    assert hook.webhook_id


def test_processes_racing_to_create_the_key_file_all_get_the_same_key(tmp_path: Path) -> None:
    key_file = tmp_path / "shared" / "webhook.key"
    code = (
        "from bakehouse.store.webhooks.secrets import secret_box; b = secret_box(); "
        "print(b.key_id, b.decrypt(b.encrypt('x')))"
    )
    env = {
        **os.environ,
        "BAKEHOUSE_WEBHOOK_SECRET_KEY_FILE": str(key_file),
        "BAKEHOUSE_WEBHOOK_SECRET_ENCRYPTION_KEY": "",
    }
    procs = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env, text=True)
        for _ in range(4)
    ]
    outputs = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(outputs) == 1 and outputs.pop().endswith(" x")
    assert sorted(p.name for p in key_file.parent.iterdir()) == ["webhook.key"]


def test_a_configured_key_wins_over_the_file(key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = Fernet.generate_key()
    monkeypatch.setenv("MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY", key.decode())
    box = secret_box()
    assert box.key_id == SecretBox(key).key_id and not key_file.exists()
    assert WebhookEvent.parse("model_version.created") == WebhookEvent("model_version", "created")
