"""Registry webhooks end to end: the official ``mlflow`` client, a real ``bakehouse server`` with two
workers (no encryption key configured), and a real HTTP receiver on 127.0.0.1.

Signatures are checked with MLflow's own ``_generate_hmac_signature``, so what a receiver written for MLflow
accepts is what is verified here.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.webhooks.delivery import _generate_hmac_signature
from server_process import Server, start_server
from webhook_receiver import Receiver, start_receiver

pytestmark = pytest.mark.timeout(180)

MODEL_EVENTS = [
    "registered_model.created",
    "model_version.created",
    "model_version_tag.set",
    "model_version_tag.deleted",
    "model_version_alias.created",
    "model_version_alias.deleted",
]
OPEN_POLICY = {
    "MLFLOW_WEBHOOK_ALLOWED_SCHEMES": "http,https",
    "MLFLOW_WEBHOOK_ALLOW_PRIVATE_IPS": "true",
    "BAKEHOUSE_WEBHOOK_RETRY_BACKOFF": "0.2",
}


def _clean_env(tmp: Path, extra: dict[str, str]) -> dict[str, str]:
    return {
        "BAKEHOUSE_WEBHOOK_SECRET_ENCRYPTION_KEY": "",
        "MLFLOW_WEBHOOK_SECRET_ENCRYPTION_KEY": "",
        "BAKEHOUSE_WEBHOOK_SECRET_KEY_FILE": str(tmp / "webhook-secret.key"),
        **extra,
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("webhooks")
    running = start_server(workdir, extra_args=["--workers", "2"], env=_clean_env(workdir, OPEN_POLICY))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = start_receiver()
    try:
        yield running
    finally:
        running.stop()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _check_signature(secret: str, request: object) -> None:
    headers = request.headers
    delivery_id = headers["X-MLflow-Delivery-Id"]
    timestamp = headers["X-MLflow-Timestamp"]
    assert abs(time.time() - int(timestamp)) < 120
    expected = _generate_hmac_signature(secret, delivery_id, timestamp, request.body)
    assert headers["X-MLflow-Signature"] == expected


def test_every_registry_event_arrives_once_signed_as_mlflow_signs(server: Server, receiver: Receiver) -> None:
    client = MlflowClient(tracking_uri=server.url)
    secret = "ci-shared-secret"
    hook = client.create_webhook(
        name=_name("ci"), url=f"{receiver.url}/hook", events=MODEL_EVENTS, secret=secret, description="CI"
    )
    assert sorted(str(e) for e in hook.events) == sorted(MODEL_EVENTS)
    name = _name("model")
    client.create_registered_model(name, tags={"team": "ml"}, description="iris")
    version = client.create_model_version(name, "s3://bucket/iris/model", tags={"k": "v"})
    client.set_model_version_tag(name, version.version, "validated", "yes")
    client.delete_model_version_tag(name, version.version, "validated")
    client.set_registered_model_alias(name, "champion", version.version)
    client.delete_registered_model_alias(name, "champion")

    got = receiver.wait_for(len(MODEL_EVENTS))
    time.sleep(1.0)  # anything sent twice would show up now
    got = receiver.accepted()
    bodies = [json.loads(r.body) for r in got]
    assert sorted(f"{b['entity']}.{b['action']}" for b in bodies) == sorted(MODEL_EVENTS)
    assert len({r.headers["X-MLflow-Delivery-Id"] for r in got}) == len(MODEL_EVENTS)
    for request in got:
        assert request.path == "/hook" and request.headers["Content-Type"] == "application/json"
        _check_signature(secret, request)
    data = {f"{b['entity']}.{b['action']}": b["data"] for b in bodies}
    assert data["registered_model.created"] == {"name": name, "tags": {"team": "ml"}, "description": "iris"}
    assert data["model_version.created"] == {
        "name": name,
        "version": "1",
        "source": "s3://bucket/iris/model",
        "run_id": None,
        "tags": {"k": "v"},
        "description": None,
    }
    assert data["model_version_alias.created"] == {"name": name, "alias": "champion", "version": "1"}
    assert data["model_version_alias.deleted"] == {"name": name, "alias": "champion"}

    log = _settled_deliveries(server.url, hook.webhook_id, len(MODEL_EVENTS))
    assert sorted(str(d.event) for d in log) == sorted(MODEL_EVENTS)
    assert {d.status.value for d in log} == {"SUCCEEDED"} and {d.attempts for d in log} == {1}


def _settled_deliveries(url: str, webhook_id: str, count: int) -> list[Any]:
    """The webhook's delivery log once ``count`` deliveries are no longer SENDING (at most 15 s).

    A receiver's answer reaches the test before the server has recorded it in the log: reading the log at
    once raced with that write (a CI failure saw SENDING after the receiver's 200).
    """
    from bakehouse.client.client import Client

    deadline = time.monotonic() + 15
    while True:
        log = Client(tracking_uri=url).list_webhook_deliveries(webhook_id=webhook_id)
        settled = [d for d in log if d.status.value != "SENDING"]
        if len(settled) >= count or time.monotonic() > deadline:
            return list(log)
        time.sleep(0.05)


def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_try(
    server: Server, receiver: Receiver
) -> None:
    receiver.fail_first(2)
    client = MlflowClient(tracking_uri=server.url)
    hook = client.create_webhook(
        name=_name("flaky"), url=f"{receiver.url}/flaky", events=["registered_model.created"], secret="s"
    )
    name = _name("retried")
    client.create_registered_model(name)
    (accepted,) = receiver.wait_for(1)
    attempts = [
        r
        for r in receiver.requests
        if r.headers["X-MLflow-Delivery-Id"] == accepted.headers["X-MLflow-Delivery-Id"]
    ]
    assert [r.status for r in attempts] == [503, 503, 200]
    assert {r.body for r in attempts} == {accepted.body} and json.loads(accepted.body)["data"]["name"] == name
    for request in attempts:
        _check_signature("s", request)

    (delivery,) = _settled_deliveries(server.url, hook.webhook_id, 1)
    assert delivery.status.value == "SUCCEEDED" and delivery.attempts == 3
    assert [a.status_code for a in delivery.attempt_log] == [503, 503, 200]
    first, second, third = (a.timestamp for a in delivery.attempt_log)
    assert second - first >= 150 and third - second >= 300  # back-off: 0.2 s, then 0.4 s


def test_mlflow_clients_test_call_and_crud(server: Server, receiver: Receiver) -> None:
    client = MlflowClient(tracking_uri=server.url)
    hook = client.create_webhook(
        name=_name("t"), url=f"{receiver.url}/t", events=["model_version.created"], secret="x"
    )
    result = client.test_webhook(hook.webhook_id)
    assert result.success and result.response_status == 200 and result.response_body == "ok"
    (sent,) = receiver.wait_for(1)
    assert json.loads(sent.body)["data"]["name"] == "example_model"
    _check_signature("x", sent)

    assert client.get_webhook(hook.webhook_id).name == hook.name
    assert hook.webhook_id in {w.webhook_id for w in client.list_webhooks(max_results=100)}
    updated = client.update_webhook(hook.webhook_id, status="DISABLED", description="paused")
    assert str(updated.status) == "DISABLED" and updated.description == "paused"
    client.delete_webhook(hook.webhook_id)
    with pytest.raises(MlflowException, match="not found"):
        client.get_webhook(hook.webhook_id)


def test_private_and_plain_http_targets_are_refused_by_default(tmp_path: Path, receiver: Receiver) -> None:
    strict = start_server(tmp_path, env=_clean_env(tmp_path, {}))
    try:
        client = MlflowClient(tracking_uri=strict.url)
        with pytest.raises(MlflowException, match="Invalid webhook URL scheme: 'http'"):
            client.create_webhook(
                name="local", url=f"{receiver.url}/hook", events=["registered_model.created"]
            )
        https_local = receiver.url.replace("http://", "https://")
        with pytest.raises(MlflowException, match="non-public IP address"):
            client.create_webhook(name="local", url=https_local, events=["registered_model.created"])
        with pytest.raises(MlflowException, match="non-public IP address"):
            client.create_webhook(
                name="meta", url="https://169.254.169.254/latest", events=["prompt.created"]
            )
        assert list(client.list_webhooks()) == []
        public = client.create_webhook(name="public", url="https://1.1.1.1/hook", events=["prompt.created"])
        with pytest.raises(MlflowException, match="non-public IP address"):
            client.update_webhook(public.webhook_id, url="https://10.0.0.8/hook")
        assert client.get_webhook(public.webhook_id).url == "https://1.1.1.1/hook"
    finally:
        strict.stop()
    assert receiver.requests == []
