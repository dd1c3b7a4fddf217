"""The app built from the ENDPOINTS table: routes, OpenAPI, MLflow's request conventions and error bodies."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from server_app_helpers import SyncASGIClient, make_app
from starlette.routing import Route

from bakehouse.server.handlers.meta import _PLACEHOLDER
from bakehouse.wire.endpoints import all_endpoints

API = "/api/2.0/mlflow"


def _mounted(app: Any) -> set[tuple[str, str]]:
    out = set()
    for route in app.routes:
        if isinstance(route, Route):
            for method in route.methods or ():
                out.add((method, route.path))
    return out


def test_endpoints_routes_and_openapi_agree(app: Any, api: SyncASGIClient) -> None:
    endpoints = all_endpoints()
    names = {e.name for e in endpoints}
    assert {
        "CreateExperiment",
        "LogBatch",
        "CreateLoggedModel",
        "GetMetricHistoryBulkInterval",
        "UploadArtifact",
        "ListArtifactsProxy",
    } <= names
    assert "ExportTraces" in names and "StartTraceV3" in names
    mounted = _mounted(app)
    doc = api.get("/api/2.0/openapi.json").json()

    def doc_path_of(ep: Any) -> str:
        return ("" if ep.root else f"/api/{ep.version}") + _PLACEHOLDER.sub(r"{\1}", ep.path)

    for ep in endpoints:
        for method in ep.methods:
            roots = [""] if ep.root else [f"/api/{ep.version}", f"/ajax-api/{ep.version}"]
            for root in roots:
                assert (method, f"{root}{ep.path}") in mounted, (ep.name, method, root)
            assert method.lower() in doc["paths"][doc_path_of(ep)], (ep.name, method)
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    expected = {(m, doc_path_of(e)) for e in endpoints for m in e.methods}
    assert documented == expected


def test_static_prefix_moves_every_route(tmp_path: Path) -> None:
    app = make_app(tmp_path, static_prefix="/mlflow")
    client = SyncASGIClient(app)
    try:
        assert client.get("/mlflow/health").text == "OK"
        assert client.get("/health").status_code == 404
        r = client.post("/mlflow/api/2.0/mlflow/experiments/create", json={"name": "p"})
        assert r.status_code == 200 and r.json()["experiment_id"]
        assert client.post("/mlflow/ajax-api/2.0/mlflow/experiments/search", json={}).status_code == 200
    finally:
        client.close()
        app.state.tracking_store.engine.dispose()


def test_health_version_server_info(api: SyncASGIClient) -> None:
    assert api.get("/health").text == "OK"
    assert api.get("/version").status_code == 200
    info = api.get("/api/3.0/mlflow/server-info").json()
    assert info["artifact_serving_enabled"] is True
    assert info["multipart_uploads_enabled"] is False


def test_get_query_strings_repeated_keys_and_numbers(api: SyncASGIClient, run_id: str) -> None:
    body = {
        "run_id": run_id,
        "metrics": [{"key": "m", "value": float(i), "timestamp": i, "step": i} for i in range(10)],
    }
    assert api.post(f"{API}/runs/log-batch", json=body).status_code == 200
    r = api.get(
        f"{API}/metrics/get-history", params={"run_uuid": run_id, "metric_key": "m", "max_results": "4"}
    )
    assert [m["step"] for m in r.json()["metrics"]] == [0, 1, 2, 3]
    token = r.json()["next_page_token"]
    r2 = api.get(
        f"{API}/metrics/get-history",
        params={"run_id": run_id, "metric_key": "m", "page_token": token, "max_results": 100},
    )
    assert [m["step"] for m in r2.json()["metrics"]] == list(range(4, 10))
    r3 = api.get(
        f"{API}/metrics/get-history-bulk-interval",
        params=[("run_ids", run_id), ("run_ids", run_id), ("metric_key", "m"), ("max_results", "3")],
    )
    assert r3.status_code == 200
    assert {m["run_id"] for m in r3.json()["metrics"]} == {run_id}
    backwards = api.get(
        f"{API}/metrics/get-history-bulk-interval",
        params={"run_ids": run_id, "metric_key": "m", "start_step": 5, "end_step": 2},
    )
    assert (
        backwards.status_code == 400
        and "end_step must be greater than start_step" in backwards.json()["message"]
    )
    nameless = api.get(f"{API}/experiments/get-by-name", params={"experiment_name": ""})
    assert nameless.status_code == 400 and nameless.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    ajax = api.get(
        "/ajax-api/2.0/mlflow/metrics/get-history-bulk", params=[("run_id", run_id), ("metric_key", "m")]
    )
    assert len(ajax.json()["metrics"]) == 10


def test_non_finite_values_round_trip_as_strings(api: SyncASGIClient, run_id: str) -> None:
    metrics = [
        {"key": "nan", "value": "NaN", "timestamp": 1},
        {"key": "inf", "value": "Infinity", "timestamp": 1},
        {"key": "ninf", "value": "-Infinity", "timestamp": 1},
    ]
    assert api.post(f"{API}/runs/log-batch", json={"run_id": run_id, "metrics": metrics}).status_code == 200
    data = api.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]
    values = {m["key"]: m["value"] for m in data["metrics"]}
    assert values["nan"] == "NaN"
    assert values["inf"] == "Infinity" or values["inf"] == pytest.approx(1.7976931348623157e308)
    assert values["ninf"] == "-Infinity" or values["ninf"] == pytest.approx(-1.7976931348623157e308)
    assert not any(isinstance(v, float) and math.isnan(v) for v in values.values())


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"{not json", "Malformed JSON"),
        (b"[1, 2]", "JSON object"),
        (b'"just a string"', "Malformed JSON"),
        (b'{"name": 5}', "name"),
        (b"{}", "Missing value for required parameter 'name'"),
    ],
)
def test_bad_bodies_are_400_invalid_parameter_value(
    api: SyncASGIClient, content: bytes, fragment: str
) -> None:
    r = api.post(f"{API}/experiments/create", content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert fragment in r.json()["message"]


@pytest.mark.parametrize(
    "headers, message",
    [
        ({}, "Bad Request. Content-Type header is missing."),
        ({"Content-Type": "text/plain"}, "Bad Request. Content-Type must be one of ['application/json']."),
        ({"Content-Type": "application/x-www-form-urlencoded"}, "Content-Type must be one of"),
    ],
)
def test_post_bodies_must_be_declared_json_as_mlflow_requires(
    api: SyncASGIClient, headers: dict[str, str], message: str
) -> None:
    """A form or text/plain post (which a browser sends cross-site without a preflight) creates nothing."""
    before = api.post(f"{API}/experiments/search", json={"max_results": 1000}).json().get("experiments", [])
    r = api.post(f"{API}/experiments/create", content=b'{"name": "sneaky"}', headers=headers)
    assert r.status_code == 400
    assert (
        r.json() == {"error_code": "INVALID_PARAMETER_VALUE", "message": message}
        or message in r.json()["message"]
    )
    after = api.post(f"{API}/experiments/search", json={"max_results": 1000}).json().get("experiments", [])
    assert len(after) == len(before) and all(e["name"] != "sneaky" for e in after)
    ok = api.post(
        f"{API}/experiments/create",
        content=b'{"name": "declared"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.status_code == 200


def test_double_encoded_json_and_unknown_fields_are_accepted(api: SyncASGIClient) -> None:
    r = api.post(
        f"{API}/experiments/create",
        content=b'"{\\"name\\": \\"dbl\\", \\"future_field\\": 1}"',
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 200
    eid = r.json()["experiment_id"]
    assert (
        api.get(f"{API}/experiments/get", params={"experiment_id": eid, "whatever": "x"}).json()[
            "experiment"
        ]["name"]
        == "dbl"
    )


def test_body_size_is_bounded(tmp_path: Path) -> None:
    app = make_app(tmp_path, max_json_body_bytes=1000)
    client = SyncASGIClient(app)
    try:
        r = client.post(f"{API}/experiments/create", json={"name": "x" * 2000})
        assert r.status_code == 400
        assert "larger than the limit" in r.json()["message"]
    finally:
        client.close()
        app.state.tracking_store.engine.dispose()


def test_error_codes_and_statuses_follow_mlflow(api: SyncASGIClient) -> None:
    assert api.post(f"{API}/experiments/create", json={"name": "dup"}).status_code == 200
    dup = api.post(f"{API}/experiments/create", json={"name": "dup"})
    assert (dup.status_code, dup.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
    missing = api.get(f"{API}/runs/get", params={"run_id": "nope"})
    assert (missing.status_code, missing.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    unknown = api.get("/api/2.0/mlflow/no-such-endpoint")
    assert (unknown.status_code, unknown.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
    wrong_method = api.get(f"{API}/runs/log-batch")
    assert wrong_method.status_code == 405


class ExplodingStore:
    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("secret detail /etc/shadow")

        return fail


def test_unknown_exceptions_are_generic_500_without_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bakehouse.server.app import create_app
    from bakehouse.server.config import ServerConfig

    app = create_app(
        ServerConfig(artifacts_destination=str(tmp_path), serve_ui=False),
        tracking_store=ExplodingStore(),
        registry_store=object(),
    )
    client = SyncASGIClient(app)
    try:
        r = client.get(f"{API}/runs/get", params={"run_id": "x"})
    finally:
        client.close()
    assert r.status_code == 500
    assert r.json() == {
        "error_code": "INTERNAL_ERROR",
        "message": "Internal server error; see the server log.",
    }
    assert "secret detail" in caplog.text  # the traceback goes to the log only


def test_local_artifact_location_outside_root_is_refused(api: SyncASGIClient, tmp_path: Path) -> None:
    r = api.post(f"{API}/experiments/create", json={"name": "escape", "artifact_location": "/etc"})
    assert r.status_code == 400
    assert "artifact" in r.json()["message"]


def test_logged_model_endpoints(api: SyncASGIClient, run_id: str) -> None:
    run = api.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]
    eid = run["info"]["experiment_id"]
    created = api.post(
        f"{API}/logged-models",
        json={
            "experiment_id": eid,
            "name": "m",
            "source_run_id": run_id,
            "params": [{"key": "a", "value": "1"}],
            "tags": [{"key": "t", "value": "v"}],
        },
    )
    assert created.status_code == 200, created.text
    model = created.json()["model"]
    mid = model["info"]["model_id"]
    assert model["info"]["status"] == "LOGGED_MODEL_PENDING"
    assert model["info"]["artifact_uri"] == f"mlflow-artifacts:/{eid}/models/{mid}/artifacts"
    done = api.patch(f"{API}/logged-models/{mid}", json={"model_id": mid, "status": "LOGGED_MODEL_READY"})
    assert done.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    assert (
        api.patch(f"{API}/logged-models/{mid}/tags", json={"tags": [{"key": "x", "value": "y"}]}).status_code
        == 200
    )
    assert api.delete(f"{API}/logged-models/{mid}/tags/t").status_code == 200
    assert (
        api.post(
            f"{API}/logged-models/{mid}/params", json={"params": [{"key": "b", "value": "2"}]}
        ).status_code
        == 200
    )
    got = api.get(f"{API}/logged-models/{mid}").json()["model"]
    assert {t["key"]: t["value"] for t in got["info"]["tags"]} == {"x": "y"}
    assert {p["key"]: p["value"] for p in got["data"]["params"]} == {"a": "1", "b": "2"}
    found = api.post(f"{API}/logged-models/search", json={"experiment_ids": [eid]}).json()["models"]
    assert [m["info"]["model_id"] for m in found] == [mid]
    listing = api.get(f"{API}/logged-models/{mid}/artifacts/directories").json()
    assert listing["root_uri"].endswith(f"{mid}/artifacts")
    assert api.delete(f"{API}/logged-models/{mid}").status_code == 200


def test_legacy_log_model_appends_history(api: SyncASGIClient, run_id: str) -> None:
    import json

    for flavor in ("sklearn", "pytorch"):
        model = {
            "run_id": run_id,
            "artifact_path": "model",
            "utc_time_created": "2026-01-01 00:00:00.000000",
            "flavors": {flavor: {}},
        }
        r = api.post(f"{API}/runs/log-model", json={"run_id": run_id, "model_json": json.dumps(model)})
        assert r.status_code == 200, r.text
    incomplete = api.post(f"{API}/runs/log-model", json={"run_id": run_id, "model_json": '{"flavors": {}}'})
    assert incomplete.status_code == 400
    assert incomplete.json()["message"] == (
        "Model json is missing mandatory fields: artifact_path, run_id, utc_time_created"
    )
    tags = api.get(f"{API}/runs/get", params={"run_id": run_id}).json()["run"]["data"]["tags"]
    history = next(t["value"] for t in tags if t["key"] == "mlflow.log-model.history")
    assert [list(m["flavors"]) for m in json.loads(history)] == [["sklearn"], ["pytorch"]]


# ---------------------------------------------------------------------------- no failure hidden
def test_a_store_factory_error_surfaces_instead_of_a_retry(tmp_path: Path) -> None:
    """A TypeError inside our own store is a bug to see, never a cue to call the factory another way."""
    from bakehouse import plugins
    from bakehouse.server.app import create_app
    from bakehouse.server.config import ServerConfig

    calls: list[tuple[Any, ...]] = []

    def broken_store(*args: Any, **kwargs: Any) -> Any:
        calls.append(args)
        raise TypeError("a bug inside the store")

    plugins.tracking_stores.register("brokenstore", broken_store)
    plugins.registry_stores.register("brokenregistry", broken_store)
    try:
        config = ServerConfig(backend_store_uri="brokenstore://x", artifacts_destination=str(tmp_path))
        with pytest.raises(TypeError, match="a bug inside the store"):
            create_app(config)
        assert len(calls) == 1
        # the registry is not quietly switched off either
        config = ServerConfig(
            backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
            registry_store_uri="brokenregistry://x",
            artifacts_destination=str(tmp_path),
        )
        with pytest.raises(TypeError, match="a bug inside the store"):
            create_app(config)
    finally:
        plugins.tracking_stores._items.pop("brokenstore", None)
        plugins.registry_stores._items.pop("brokenregistry", None)


def test_an_endpoint_group_that_fails_to_import_surfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    from bakehouse.wire import endpoints

    monkeypatch.setattr(endpoints, "GROUPS", (*endpoints.GROUPS, "not_built_yet"))
    with pytest.raises(ModuleNotFoundError, match="bakehouse.wire.not_built_yet"):
        endpoints.all_endpoints()


def test_a_missing_database_driver_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from bakehouse.errors import InvalidParameterError
    from bakehouse.store.db import engine

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "pymysql" else real_find_spec(name, *a)
    )
    with pytest.raises(InvalidParameterError, match=r"pip install 'bakehouse\[mysql\]'"):
        engine._create_engine("mysql+pymysql://root@127.0.0.1:1/none")
