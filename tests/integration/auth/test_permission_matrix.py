"""Every role × every endpoint family: allowed calls succeed, the others get 401/403 with MLflow's codes.

Calls go through the official ``mlflow`` client where it has them (MlflowClient, the basic-auth
AuthServiceClient); raw HTTP otherwise. Each case builds fresh resources (the owner creates them and the
admin grants the role), so destructive calls never affect another case.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from auth_support import AuthServer, credentials, server_start_refused

pytest.importorskip("mlflow")
import mlflow.server
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException
from requests import HTTPError


def error_code_of(exc: BaseException) -> str:
    """The REST error code, whether the client raised MlflowException or requests' HTTPError."""
    if isinstance(exc, MlflowException):
        return str(exc.error_code)
    response = exc.response
    return str(response.json()["error_code"])


GRANTS = {"reader": "READ", "editor": "EDIT", "manager": "MANAGE", "nobody": "NO_PERMISSIONS"}
READ, UPDATE, DELETE, MANAGE, ADMIN_ONLY, ANYONE = "read", "update", "delete", "manage", "admin", "anyone"
SELF_OWNER = "self"  # a user may read their own account; only admins read others
ALLOWED = {
    READ: {"admin", "owner", "reader", "editor", "manager"},
    UPDATE: {"admin", "owner", "editor", "manager"},
    DELETE: {"admin", "owner", "manager"},
    MANAGE: {"admin", "owner", "manager"},
    ADMIN_ONLY: {"admin"},
    SELF_OWNER: {"admin", "owner"},
    ANYONE: {"admin", "owner", "reader", "editor", "manager", "nobody"},
}


class World:
    """Resources owned by 'owner', with the role under test granted on them by the admin."""

    def __init__(self, server: AuthServer, role: str, tmp_path: Path) -> None:
        self.server = server
        self.role = role
        self.tmp_path = tmp_path
        with credentials("owner"):
            owner = MlflowClient(server.url)
            self.experiment_id = owner.create_experiment(f"matrix-{uuid.uuid4().hex[:8]}")
            run = owner.create_run(self.experiment_id)
            self.run_id = run.info.run_id
            owner.log_metric(self.run_id, "m", 1.0)
            local = tmp_path / "hello.txt"
            local.write_text("hello")
            owner.log_artifact(self.run_id, str(local))
            self.model = f"model-{uuid.uuid4().hex[:8]}"
            owner.create_registered_model(self.model)
            self.version = owner.create_model_version(
                self.model, f"{run.info.artifact_uri}/hello.txt", run_id=self.run_id
            ).version
        self.trace_id = _owner_trace(server, self.experiment_id)
        if role in GRANTS:
            with credentials("admin"):
                auth = mlflow.server.get_app_client("basic-auth", tracking_uri=server.url)
                auth.grant_user_permission(role, "experiment", self.experiment_id, GRANTS[role])
                auth.grant_user_permission(role, "registered_model", self.model, GRANTS[role])

    def client(self) -> MlflowClient:
        return MlflowClient(self.server.url)


def _spans_body(otel_id: str) -> bytes:
    import time

    from bakehouse.entities.trace import Span
    from bakehouse.wire.otlp import encode_export_request

    now = time.time_ns()
    return encode_export_request(
        [Span(f"tr-{otel_id}", uuid.uuid4().hex[:16], None, "t", now, now + 1000, "OK")]
    )


def _owner_trace(server: AuthServer, experiment_id: str) -> str:
    otel_id = uuid.uuid4().hex
    with server.http("owner") as http:
        response = http.post(
            "/v1/traces",
            content=_spans_body(otel_id),
            headers={"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id},
        )
    assert response.status_code == 200, response.text
    return f"tr-{otel_id}"


def _export_spans(w: World) -> None:
    with w.server.http(w.role) as http:
        response = http.post(
            "/v1/traces",
            content=_spans_body(uuid.uuid4().hex),
            headers={"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": w.experiment_id},
        )
    if response.status_code >= 400:
        raise RestException(response.json())


def _search_traces(w: World) -> None:
    location = {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": w.experiment_id}}
    with w.server.http(w.role) as http:
        response = http.post("/api/3.0/mlflow/traces/search", json={"locations": [location]})
    if response.status_code >= 400:
        raise RestException(response.json())
    assert [t["trace_id"] for t in response.json()["traces"]]


def _download(w: World) -> None:
    path = w.client().download_artifacts(w.run_id, "hello.txt", str(w.tmp_path / "dl"))
    assert Path(path).read_text() == "hello"


def _log_artifact(w: World) -> None:
    local = w.tmp_path / "new.txt"
    local.write_text("new")
    w.client().log_artifact(w.run_id, str(local))


def _raw(method: str, path: str, **kwargs: Any) -> Callable[[World], None]:
    def call(w: World) -> None:
        with w.server.http(w.role) as http:
            response = http.request(method, path.format(w=w), **kwargs)
        if response.status_code >= 400:
            body = response.json()
            raise RestException(body)

    return call


OPERATIONS: dict[str, list[tuple[str, str, Callable[[World], Any]]]] = {
    "experiments": [
        ("get_experiment", READ, lambda w: w.client().get_experiment(w.experiment_id)),
        ("set_experiment_tag", UPDATE, lambda w: w.client().set_experiment_tag(w.experiment_id, "k", "v")),
        (
            "rename_experiment",
            UPDATE,
            lambda w: w.client().rename_experiment(w.experiment_id, f"r-{uuid.uuid4().hex}"),
        ),
        ("delete_experiment", DELETE, lambda w: w.client().delete_experiment(w.experiment_id)),
        ("create_experiment", ANYONE, lambda w: w.client().create_experiment(f"new-{uuid.uuid4().hex}")),
    ],
    "runs": [
        ("get_run", READ, lambda w: w.client().get_run(w.run_id)),
        ("create_run", UPDATE, lambda w: w.client().create_run(w.experiment_id)),
        ("set_terminated", UPDATE, lambda w: w.client().set_terminated(w.run_id)),
        ("set_tag", UPDATE, lambda w: w.client().set_tag(w.run_id, "k", "v")),
        ("delete_run", DELETE, lambda w: w.client().delete_run(w.run_id)),
    ],
    "metrics": [
        ("get_metric_history", READ, lambda w: w.client().get_metric_history(w.run_id, "m")),
        ("log_metric", UPDATE, lambda w: w.client().log_metric(w.run_id, "m", 2.0)),
        (
            "log_batch",
            UPDATE,
            lambda w: w.client().log_batch(w.run_id, params=[mlflow.entities.Param("p", "1")]),
        ),
    ],
    "artifacts": [
        ("list_artifacts", READ, lambda w: w.client().list_artifacts(w.run_id)),
        ("download_artifacts", READ, _download),
        ("log_artifact", UPDATE, _log_artifact),
        ("get_artifact_route", READ, _raw("GET", "/get-artifact?path=hello.txt&run_uuid={w.run_id}")),
    ],
    "registry": [
        ("get_registered_model", READ, lambda w: w.client().get_registered_model(w.model)),
        ("get_model_version", READ, lambda w: w.client().get_model_version(w.model, w.version)),
        ("update_registered_model", UPDATE, lambda w: w.client().update_registered_model(w.model, "desc")),
        (
            "set_alias",
            UPDATE,
            lambda w: w.client().set_registered_model_alias(w.model, "champion", w.version),
        ),
        ("delete_model_version", DELETE, lambda w: w.client().delete_model_version(w.model, w.version)),
        ("delete_registered_model", DELETE, lambda w: w.client().delete_registered_model(w.model)),
    ],
    "traces": [
        ("get_trace_info", READ, _raw("GET", "/api/3.0/mlflow/traces/{w.trace_id}")),
        ("get_trace", READ, _raw("GET", "/api/3.0/mlflow/traces/get?trace_id={w.trace_id}")),
        ("search_traces", READ, _search_traces),
        (
            "set_trace_tag",
            UPDATE,
            _raw("PATCH", "/api/2.0/mlflow/traces/{w.trace_id}/tags", json={"key": "k", "value": "v"}),
        ),
        (
            "log_feedback",
            UPDATE,
            _raw(
                "POST",
                "/api/3.0/mlflow/traces/{w.trace_id}/assessments",
                json={"assessment": {"assessment_name": "good", "feedback": {"value": True}}},
            ),
        ),
        ("export_spans", UPDATE, _export_spans),
        (
            "delete_traces",
            DELETE,
            lambda w: w.client().delete_traces(w.experiment_id, trace_ids=[w.trace_id]),
        ),
    ],
    "users": [
        (
            "create_user",
            ADMIN_ONLY,
            lambda w: mlflow.server.get_app_client("basic-auth", w.server.url).create_user(
                f"u{uuid.uuid4().hex[:8]}", "another-password"
            ),
        ),
        ("list_users", ADMIN_ONLY, _raw("GET", "/api/2.0/mlflow/users/list")),
        # migrate / sync into this server: writes with ids and owners of its own choosing
        (
            "transfer_state",
            ADMIN_ONLY,
            _raw("POST", "/api/2.0/bakehouse/transfer/state", json={"run_ids": []}),
        ),
        ("transfer_write", ADMIN_ONLY, _raw("POST", "/api/2.0/bakehouse/transfer/write", json={})),
        (
            "get_user_owner",
            SELF_OWNER,
            lambda w: mlflow.server.get_app_client("basic-auth", w.server.url).get_user("owner"),
        ),
        ("current_user", ANYONE, _raw("GET", "/api/2.0/mlflow/users/current")),
        (
            "grant_permission",
            MANAGE,
            lambda w: mlflow.server.get_app_client("basic-auth", w.server.url).grant_user_permission(
                "reader", "experiment", w.experiment_id, "READ"
            ),
        ),
    ],
}

#: operations that destroy what they touch get fresh resources; the others share one World per role
DESTRUCTIVE = {
    "delete_experiment",
    "delete_run",
    "delete_model_version",
    "delete_registered_model",
    "delete_traces",
}
_shared_worlds: dict[tuple[str, str], World] = {}


def world_for(server: AuthServer, role: str, operation_name: str, tmp_path: Path) -> World:
    if operation_name in DESTRUCTIVE:
        return World(server, role, tmp_path)
    key = (server.url, role)
    if key not in _shared_worlds:
        _shared_worlds[key] = World(server, role, tmp_path)
    world = _shared_worlds[key]
    world.tmp_path = tmp_path
    return world


CASES = [
    pytest.param(role, family, name, level, fn, id=f"{family}-{name}-{role}")
    for family, operations in OPERATIONS.items()
    for name, level, fn in operations
    for role in ("admin", "owner", "reader", "editor", "manager", "nobody")
]


@pytest.mark.parametrize("role, family, name, level, operation", CASES)
def test_permission_matrix(
    auth_server: AuthServer,
    tmp_path: Path,
    role: str,
    family: str,
    name: str,
    level: str,
    operation: Callable[[World], Any],
) -> None:
    world = world_for(auth_server, role, name, tmp_path)
    with credentials(role):
        if role in ALLOWED[level]:
            operation(world)
        else:
            with pytest.raises((MlflowException, HTTPError)) as info:
                operation(world)
            assert error_code_of(info.value) == "PERMISSION_DENIED", str(info.value)


@pytest.mark.parametrize(
    "family, name, level, operation",
    [
        pytest.param(family, name, level, fn, id=f"{family}-{name}")
        for family, operations in OPERATIONS.items()
        for name, level, fn in operations
    ],
)
def test_unauthenticated_calls_get_401(
    auth_server: AuthServer,
    tmp_path: Path,
    family: str,
    name: str,
    level: str,
    operation: Callable[[World], Any],
) -> None:
    world = world_for(auth_server, "owner", name, tmp_path)
    with credentials(None):
        role, world.role = world.role, None
        try:
            with pytest.raises((MlflowException, HTTPError)) as info:
                operation(world)
        finally:
            world.role = role
    assert error_code_of(info.value) == "UNAUTHENTICATED", str(info.value)


def test_wrong_password_is_401(auth_server: AuthServer) -> None:
    with auth_server.http("reader", "not-the-password") as http:
        response = http.get("/api/2.0/mlflow/experiments/search")
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_searches_return_only_readable_resources(auth_server: AuthServer, tmp_path: Path) -> None:
    visible = World(auth_server, "reader", tmp_path)
    hidden = World(auth_server, "nobody", tmp_path)
    with credentials("admin"):
        auth = mlflow.server.get_app_client("basic-auth", tracking_uri=auth_server.url)
        auth.grant_user_permission("reader", "experiment", hidden.experiment_id, "NO_PERMISSIONS")
        auth.grant_user_permission("reader", "registered_model", hidden.model, "NO_PERMISSIONS")
    with credentials("reader"):
        client = MlflowClient(auth_server.url)
        experiment_ids = {e.experiment_id for e in client.search_experiments(max_results=1000)}
        assert visible.experiment_id in experiment_ids and hidden.experiment_id not in experiment_ids
        models = {m.name for m in client.search_registered_models(max_results=1000)}
        assert visible.model in models and hidden.model not in models
        runs = client.search_runs([visible.experiment_id])
        assert [r.info.run_id for r in runs] == [visible.run_id]
        with pytest.raises(MlflowException) as info:
            client.search_runs([hidden.experiment_id])
        assert info.value.error_code == "PERMISSION_DENIED"
        versions = {(v.name, v.version) for v in client.search_model_versions(max_results=1000)}
        assert (visible.model, visible.version) in versions and all(n != hidden.model for n, _ in versions)


def test_admin_password_is_required_and_default_is_none(tmp_path: Path) -> None:
    proc = server_start_refused(tmp_path, {})
    assert proc.returncode != 0
    assert "BAKEHOUSE_ADMIN_PASSWORD" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
