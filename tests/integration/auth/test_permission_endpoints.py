"""MLflow's per-resource permission endpoints (experiments and registered models) and their JSON."""

from __future__ import annotations

import uuid

import pytest
from auth_support import ADMIN, PASSWORD, AuthServer

FAMILIES = [
    ("experiments", "experiment_id", "experiment_permission"),
    ("registered-models", "name", "registered_model_permission"),
]


def _new_resource(server: AuthServer, family: str) -> str:
    with server.http("owner") as owner:
        if family == "experiments":
            response = owner.post(
                "/api/2.0/mlflow/experiments/create", json={"name": f"perm-{uuid.uuid4().hex[:8]}"}
            )
            return str(response.json()["experiment_id"])
        name = f"perm-model-{uuid.uuid4().hex[:8]}"
        assert owner.post("/api/2.0/mlflow/registered-models/create", json={"name": name}).status_code == 200
        return name


@pytest.mark.parametrize("family, id_field, key", FAMILIES)
def test_create_get_update_delete_a_grant(
    auth_server: AuthServer, family: str, id_field: str, key: str
) -> None:
    resource = _new_resource(auth_server, family)
    base = f"/api/2.0/mlflow/{family}/permissions"
    body = {id_field: resource, "username": "reader"}
    with auth_server.http("owner") as owner, auth_server.http("reader") as reader:
        created = owner.post(f"{base}/create", json={**body, "permission": "EDIT"})
        assert created.status_code == 200, created.text
        assert created.json()[key][id_field] == resource and created.json()[key]["permission"] == "EDIT"
        again = owner.post(f"{base}/create", json={**body, "permission": "READ"})
        assert again.status_code == 400 and again.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
        fetched = owner.get(f"{base}/get", params=body)
        assert fetched.json()[key]["permission"] == "EDIT"
        assert reader.get(f"{base}/get", params=body).json()[key]["permission"] == "EDIT"  # your own grant
        assert owner.patch(f"{base}/update", json={**body, "permission": "MANAGE"}).status_code == 200
        assert owner.get(f"{base}/get", params=body).json()[key]["permission"] == "MANAGE"
        # the reader now manages the resource: it may grant others
        assert (
            reader.post(
                f"{base}/create", json={id_field: resource, "username": "editor", "permission": "READ"}
            ).status_code
            == 200
        )
        assert owner.request("DELETE", f"{base}/delete", json=body).status_code == 200
        missing = owner.get(f"{base}/get", params=body)
        assert missing.status_code == 404 and missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        # without MANAGE nobody may change grants
        denied = reader.post(
            f"{base}/create", json={id_field: resource, "username": "nobody", "permission": "READ"}
        )
        assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
        bad = owner.post(f"{base}/create", json={**body, "permission": "SUPERUSER"})
        assert bad.status_code == 400 and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_user_endpoints_show_grants(auth_server: AuthServer) -> None:
    experiment_id = _new_resource(auth_server, "experiments")
    with auth_server.http(*ADMIN) as admin:
        admin.post(
            "/api/2.0/mlflow/experiments/permissions/create",
            json={"experiment_id": experiment_id, "username": "editor", "permission": "EDIT"},
        )
        user = admin.get("/api/2.0/mlflow/users/get", params={"username": "editor"}).json()["user"]
        assert {"experiment_id": experiment_id, "user_id": user["id"], "permission": "EDIT"} in user[
            "experiment_permissions"
        ]
        listed = admin.get("/api/3.0/mlflow/users/permissions/list", params={"username": "editor"}).json()[
            "permissions"
        ]
        assert {"resource_type": "experiment", "resource_id": experiment_id, "permission": "EDIT"} in listed
        effective = admin.get(
            "/api/3.0/mlflow/users/permissions/get",
            params={"username": "editor", "resource_type": "experiment", "resource_id": experiment_id},
        )
        assert effective.json() == {"allowed": True, "permission": "EDIT"}
    with auth_server.http("editor", PASSWORD) as editor:
        mine = editor.get("/api/3.0/mlflow/users/current/permissions").json()["permissions"]
        assert {"resource_type": "experiment", "resource_id": experiment_id, "permission": "EDIT"} in mine


def test_the_metric_history_stream_needs_read_on_the_run(auth_server: AuthServer) -> None:
    """The binary history stream is a raw route: its run permission is checked from the query string."""
    import struct

    experiment_id = _new_resource(auth_server, "experiments")
    url = "/api/2.0/bakehouse/metrics/get-history-stream"
    with auth_server.http("owner") as owner, auth_server.http("reader") as reader:
        run = owner.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id})
        run_id = run.json()["run"]["info"]["run_id"]
        point = {"key": "loss", "value": 1.5, "timestamp": 7, "step": 3}
        assert (
            owner.post(
                "/api/2.0/mlflow/runs/log-batch", json={"run_id": run_id, "metrics": [point]}
            ).status_code
            == 200
        )
        grant = {"experiment_id": experiment_id, "username": "reader", "permission": "NO_PERMISSIONS"}
        assert owner.post("/api/2.0/mlflow/experiments/permissions/create", json=grant).status_code == 200
        own = owner.get(url, params={"run_id": run_id, "metric_key": "loss"})
        assert own.status_code == 200 and struct.unpack("<qqd", own.content) == (3, 7, 1.5)
        denied = reader.get(url, params={"run_id": run_id, "metric_key": "loss"})
        assert denied.status_code == 403 and denied.json()["error_code"] == "PERMISSION_DENIED"
