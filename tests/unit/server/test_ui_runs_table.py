"""The UI's columnar runs helper and its permissions helper, in process.

``GET /ajax-api/2.0/bakehouse/runs/table`` must select, order and page exactly like ``runs/search`` (it is
the runs table's source of truth on Bakehouse servers), only in columns; with ``--auth`` it must refuse
experiments the caller may not read, and ``permissions/mine`` must describe what the caller may do.
"""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path
from typing import Any

import pytest
from server_app_helpers import SyncASGIClient
from sqlalchemy import event

from bakehouse.server.app import create_app
from bakehouse.server.config import ServerConfig

TABLE = "/ajax-api/2.0/bakehouse/runs/table"
MINE = "/ajax-api/2.0/bakehouse/permissions/mine"
SEARCH = "/api/2.0/mlflow/runs/search"


def make_app(tmp_path: Path, **overrides: Any) -> Any:
    """An app over fresh SQLite with the UI routes mounted (the shared helper turns the UI off)."""
    return create_app(
        ServerConfig(
            backend_store_uri=f"sqlite:///{tmp_path / 'server.db'}",
            artifacts_destination=str(tmp_path / "artifacts"),
            serve_ui=True,
            **overrides,
        )
    )


@pytest.fixture
def ui_api(tmp_path: Path) -> Any:
    app = make_app(tmp_path)
    client = SyncASGIClient(app)
    yield client
    client.close()
    app.state.tracking_store.engine.dispose()


def _seed(api: SyncASGIClient) -> str:
    eid = api.post("/api/2.0/mlflow/experiments/create", json={"name": "table"}).json()["experiment_id"]
    for i in range(12):
        run = api.post(
            "/api/2.0/mlflow/runs/create",
            json={"experiment_id": eid, "start_time": 1000 + i, "run_name": f"r{i:02d}"},
        ).json()["run"]
        rid = run["info"]["run_id"]
        metrics = [{"key": "loss", "value": 1.0 / (i + 1), "timestamp": 5, "step": 0}]
        if i % 3 == 0:
            metrics.append({"key": "rare", "value": float(i), "timestamp": 5, "step": 0})
        if i == 4:
            metrics.append({"key": "rare", "value": math.nan, "timestamp": 6, "step": 1})
        params = [{"key": "model", "value": "tree" if i % 2 else "linear"}, {"key": "depth", "value": str(i)}]
        tags = [{"key": "team", "value": "a" if i < 6 else "b"}] if i % 4 else []
        body = {"run_id": rid, "metrics": metrics, "params": params, "tags": tags}
        assert (
            api.post(
                "/api/2.0/mlflow/runs/log-batch",
                content=json.dumps(body).replace("NaN", '"NaN"'),
                headers={"Content-Type": "application/json"},
            ).status_code
            == 200
        )
    return str(eid)


def _rows_from_columns(page: dict[str, Any]) -> list[dict[str, Any]]:
    n = page["count"]
    rows = [
        {
            "id": page["runs"]["run_id"][i],
            "name": page["runs"]["run_name"][i],
            "params": {},
            "metrics": {},
            "tags": {},
        }
        for i in range(n)
    ]
    for section in ("params", "metrics", "tags"):
        for key, col in page[section].items():
            if isinstance(col, list):
                assert len(col) == n
                pairs = list(enumerate(col))
            else:
                pairs = list(zip(col["i"], col["v"]))
            for i, value in pairs:
                rows[i][section][key] = value
    return rows


def _rows_from_search(out: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for run in out.get("runs", []):
        data = run.get("data", {})
        rows.append(
            {
                "id": run["info"]["run_id"],
                "name": run["info"]["run_name"],
                "params": {p["key"]: p["value"] for p in data.get("params", [])},
                "metrics": {m["key"]: m["value"] for m in data.get("metrics", [])},
                "tags": {t["key"]: t["value"] for t in data.get("tags", []) if t["key"] != "mlflow.runName"},
            }
        )
    return rows


@pytest.mark.parametrize(
    "filter_string, order_by",
    [
        ("", []),
        ("metrics.loss < 0.3", ["metrics.loss ASC"]),
        ("params.model = 'tree' OR tags.team = 'b'", ["params.depth DESC"]),
        ("metrics.rare >= 0", ["metrics.rare DESC"]),
    ],
)
def test_runs_table_pages_match_runs_search(
    ui_api: SyncASGIClient, filter_string: str, order_by: list[str]
) -> None:
    eid = _seed(ui_api)
    got: list[dict[str, Any]] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {
            "experiment_ids": eid,
            "filter": filter_string,
            "max_results": 5,
            "order_by": order_by,
        }
        if token:
            params["page_token"] = token
        r = ui_api.get(TABLE, params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        got += _rows_from_columns(page)
        pages += 1
        token = page.get("next_page_token")
        if not token:
            break
        assert json.loads(base64.b64decode(token)) == {
            "offset": 5 * pages
        }  # offset tokens: the UI pages in parallel
    want = _rows_from_search(
        ui_api.post(
            SEARCH,
            json={
                "experiment_ids": [eid],
                "filter": filter_string,
                "max_results": 1000,
                "order_by": order_by,
            },
        ).json()
    )
    for row in got:
        row["tags"].pop("mlflow.runName", None)
    assert [r["id"] for r in got] == [r["id"] for r in want]  # same runs, same order
    assert got == want  # same values (NaN as the string "NaN", like MLflow's JSON)
    assert len(got) > 0


def test_runs_table_columns_are_dense_or_sparse(ui_api: SyncASGIClient) -> None:
    eid = _seed(ui_api)
    page = ui_api.get(TABLE, params={"experiment_ids": eid, "max_results": 100}).json()
    assert page["count"] == 12 and "next_page_token" not in page
    assert isinstance(page["metrics"]["loss"], list)  # every run has it
    rare = page["metrics"]["rare"]
    assert (
        isinstance(rare, dict) and len(rare["i"]) == len(rare["v"]) == 5
    )  # runs 0, 3, 6, 9 and the NaN of run 4
    assert "NaN" in rare["v"]
    assert set(page["runs"]) == {
        "run_id",
        "run_name",
        "experiment_id",
        "user_id",
        "status",
        "start_time",
        "end_time",
        "lifecycle_stage",
    }
    assert page["runs"]["run_name"][0] == "r11"  # newest first, as runs/search


def test_runs_table_refuses_bad_input(ui_api: SyncASGIClient) -> None:
    eid = _seed(ui_api)
    bad_filter = ui_api.get(TABLE, params={"experiment_ids": eid, "filter": "metrics.loss <<< 1"})
    assert bad_filter.status_code == 400 and bad_filter.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert ui_api.get(TABLE, params={"experiment_ids": "x"}).status_code == 400
    assert ui_api.get(TABLE).status_code == 400
    assert ui_api.get(TABLE, params={"experiment_ids": eid, "max_results": 0}).status_code == 400
    assert ui_api.get(TABLE, params={"experiment_ids": eid, "max_results": 50001}).status_code == 400
    assert ui_api.get(TABLE, params={"experiment_ids": eid, "page_token": "garbage"}).status_code == 400
    empty = ui_api.get(TABLE, params={"experiment_ids": "999"}).json()
    assert empty["count"] == 0 and empty["metrics"] == {}
    for bad in ({"include": "params,secrets"}, {"total": "maybe"}):
        refused = ui_api.get(TABLE, params={"experiment_ids": eid, **bad})
        assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_runs_table_include_and_total(ui_api: SyncASGIClient) -> None:
    """``include`` leaves out whole key groups (the rest unchanged); ``total`` counts every matching run,
    whatever the page, so a client fetching all pages asks for none past the end."""
    eid = _seed(ui_api)
    full = ui_api.get(TABLE, params={"experiment_ids": eid, "max_results": 5}).json()
    assert "total" not in full and set(full) >= {"params", "metrics", "tags"}
    lean = ui_api.get(
        TABLE, params={"experiment_ids": eid, "max_results": 5, "include": "params,metrics", "total": "true"}
    ).json()
    assert "tags" not in lean and lean["total"] == 12
    assert {k: lean[k] for k in ("runs", "params", "metrics", "count", "next_page_token")} == {
        k: full[k] for k in ("runs", "params", "metrics", "count", "next_page_token")
    }
    filtered = {"experiment_ids": eid, "filter": "params.model = 'tree'", "max_results": 2, "total": "true"}
    last = ui_api.get(TABLE, params={**filtered, "page_token": lean["next_page_token"]}).json()
    assert last["total"] == 6 and last["count"] == 1 and "next_page_token" not in last
    # the count ignores the order (runs without the sort's metric count too) and honours the filter
    for order_by, filter_string, want in (
        ("metrics.rare DESC", "", 12),
        ("params.depth ASC", "metrics.rare >= 0", 4),  # runs 0, 3, 6, 9 (run 4's rare is NaN)
        ("metrics.loss ASC", "metrics.loss < 0.3 OR tags.team = 'a'", 11),  # runs 3..11, and 1, 2
    ):
        counted = ui_api.get(
            TABLE,
            params={"experiment_ids": eid, "order_by": order_by, "filter": filter_string, "total": "true"},
        ).json()
        searched = ui_api.post(
            SEARCH, json={"experiment_ids": [eid], "filter": filter_string, "order_by": [order_by]}
        ).json()
        assert counted["total"] == want == counted["count"] == len(searched["runs"]), (
            order_by,
            filter_string,
        )
    none = ui_api.get(TABLE, params={"experiment_ids": "999", "include": "metrics", "total": "true"}).json()
    assert none == {"count": 0, "runs": none["runs"], "metrics": {}, "total": 0}


def test_runs_table_exact_keys(ui_api: SyncASGIClient) -> None:
    """``param_keys`` / ``metric_keys`` / ``tag_keys`` send exactly those keys (the same columns as the whole
    groups), and the SQL itself names them: no other key is read from the database."""
    eid = _seed(ui_api)
    base = {"experiment_ids": eid, "max_results": 100}
    full = ui_api.get(TABLE, params=base).json()
    engine = ui_api.app.state.tracking_store.engine
    statements: list[str] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.set_trace_callback(statements.append)

    engine.dispose()  # new connections: each one traces its statements (sqlite3's expanded SQL)
    event.listen(engine, "connect", trace)
    try:
        r = ui_api.get(
            TABLE,
            params={
                **base,
                "param_keys": ["depth", "depth", "absent"],
                "metric_keys": ["rare", "loss"],
                "total": "true",
            },
        )
    finally:
        event.remove(engine, "connect", trace)
        engine.dispose()
    assert r.status_code == 200, r.text
    lean = r.json()
    assert set(lean) == {"count", "runs", "params", "metrics", "total"}  # no tags: not asked for
    assert lean["params"] == {"depth": full["params"]["depth"]}  # "model" not sent, "absent" has no values
    assert lean["metrics"] == {"loss": full["metrics"]["loss"], "rare": full["metrics"]["rare"]}
    assert lean["runs"] == full["runs"] and lean["total"] == 12
    reads = [s for s in statements if " FROM params " in s or " FROM latest_metrics " in s]
    assert len(reads) == 2 and not any(" FROM tags " in s for s in statements), statements
    assert all('"key" IN (' in s for s in reads), reads
    assert "'depth', 'absent'" in reads[0] or "'depth', 'absent'" in reads[1], reads
    # a group named by keys and another sent whole
    mixed = ui_api.get(TABLE, params={**base, "include": "tags", "metric_keys": "loss"}).json()
    assert mixed["tags"] == full["tags"] and mixed["metrics"] == {"loss": full["metrics"]["loss"]}
    assert "params" not in mixed
    # run columns: run_id always, then only those named
    named = ui_api.get(TABLE, params={**base, "metric_keys": "loss", "run_fields": "run_name"}).json()
    assert named["runs"] == {"run_id": full["runs"]["run_id"], "run_name": full["runs"]["run_name"]}
    # the limit itself is allowed
    at_limit = ui_api.get(TABLE, params={**base, "metric_keys": ["loss"] + [f"k{i}" for i in range(63)]})
    assert at_limit.status_code == 200 and at_limit.json()["metrics"] == {"loss": full["metrics"]["loss"]}


def test_runs_table_refuses_bad_keys(ui_api: SyncASGIClient) -> None:
    eid = _seed(ui_api)
    for bad in (
        {"param_keys": ""},
        {"metric_keys": "x" * 251},
        {"metric_keys": [f"k{i}" for i in range(40)], "param_keys": [f"p{i}" for i in range(25)]},
        {"include": "params", "param_keys": "depth"},
        {"run_fields": "run_name,artifact_uri"},
    ):
        refused = ui_api.get(TABLE, params={"experiment_ids": eid, **bad})
        assert refused.status_code == 400, bad
        assert refused.json()["error_code"] == "INVALID_PARAMETER_VALUE", refused.text


def test_permissions_mine_without_auth(ui_api: SyncASGIClient) -> None:
    assert ui_api.get(MINE).json() == {"auth": False}


def test_helpers_with_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEHOUSE_ADMIN_PASSWORD", "admin-password-1")
    app = make_app(tmp_path, app_name="basic-auth", auth_default_permission="READ")
    api = SyncASGIClient(app)
    try:
        admin = ("admin", "admin-password-1")
        assert (
            api.post(
                "/api/2.0/mlflow/users/create",
                json={"username": "bob", "password": "bob-password-1"},
                auth=admin,
            ).status_code
            == 200
        )
        ids = []
        for name in ("readable", "hidden", "editable"):
            ids.append(
                api.post("/api/2.0/mlflow/experiments/create", json={"name": name}, auth=admin).json()[
                    "experiment_id"
                ]
            )
        grant = "/api/2.0/mlflow/experiments/permissions/create"
        api.post(
            grant,
            json={"experiment_id": ids[1], "username": "bob", "permission": "NO_PERMISSIONS"},
            auth=admin,
        )
        api.post(grant, json={"experiment_id": ids[2], "username": "bob", "permission": "EDIT"}, auth=admin)
        bob = ("bob", "bob-password-1")
        mine = api.get(MINE, auth=bob).json()
        assert mine["auth"] is True and mine["user"] == "bob" and mine["is_admin"] is False
        assert mine["default_permission"] == "READ"
        assert mine["experiments"] == {str(ids[1]): "NO_PERMISSIONS", str(ids[2]): "EDIT"}
        assert api.get(MINE, auth=admin).json()["is_admin"] is True
        assert api.get(MINE).status_code == 401
        # the runs helper checks READ on every experiment, like runs/get
        assert api.get(TABLE, params={"experiment_ids": ids[0]}, auth=bob).status_code == 200
        refused = api.get(TABLE, params={"experiment_ids": f"{ids[0]},{ids[1]}"}, auth=bob)
        assert refused.status_code == 403, refused.text
        assert api.get(TABLE, params={"experiment_ids": ids[1]}).status_code == 401
    finally:
        api.close()
        app.state.tracking_store.engine.dispose()
