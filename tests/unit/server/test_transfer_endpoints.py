"""The transfer endpoints (what `bakehouse migrate` and `sync` write to a Bakehouse server through)."""

from __future__ import annotations

import math
from typing import Any

from server_app_helpers import SyncASGIClient

TRANSFER = "/api/2.0/bakehouse/transfer"
RUN = {
    "run_id": "f" * 32,
    "experiment_id": "7",
    "name": "kept",
    "user_id": "ada",
    "status": "FINISHED",
    "start_time": 5,
    "end_time": 9,
    "params": {"lr": "0.1"},
    "tags": {"mlflow.runName": "kept"},
}
EXPERIMENT = {
    "experiment_id": "7",
    "name": "moved",
    "artifact_location": None,
    "creation_time": 1,
    "last_update_time": 2,
    "tags": {"team": "a"},
}


def test_ids_timestamps_and_non_finite_points_arrive_as_sent(api: SyncASGIClient, app: Any) -> None:
    root = app.state.tracking_store.default_artifact_root.rstrip(
        "/"
    )  # "mlflow-artifacts:/" + "/7" would name a host
    body = {
        "experiments": [{**EXPERIMENT, "artifact_location": f"{root}/7"}],
        "runs": [{**RUN, "artifact_uri": f"{root}/7/{'f' * 32}/artifacts"}],
        "metrics": {"f" * 32: [["loss", "NaN", 10, 0], ["loss", "Infinity", 11, 1], ["loss", 0.5, 12, 2]]},
    }
    assert api.post(f"{TRANSFER}/write", json=body).status_code == 200
    run = api.get("/api/2.0/mlflow/runs/get", params={"run_id": "f" * 32}).json()["run"]
    assert (run["info"]["experiment_id"], run["info"]["start_time"], run["info"]["end_time"]) == ("7", 5, 9)
    history = api.get(
        "/api/2.0/mlflow/metrics/get-history", params={"run_id": "f" * 32, "metric_key": "loss"}
    ).json()["metrics"]
    assert [m["value"] for m in history] == ["NaN", "Infinity", 0.5]
    with app.state.tracking_store.engine.connect() as conn:  # the latest point names the run's experiment
        latest = conn.exec_driver_sql("SELECT key, experiment_id FROM latest_metrics").all()
    assert [tuple(r) for r in latest] == [("loss", 7)]
    ordered = api.post(
        "/api/2.0/mlflow/runs/search",
        json={"experiment_ids": ["7"], "order_by": ["metrics.loss DESC"], "filter": "metrics.loss > 0.1"},
    ).json()["runs"]
    assert [r["info"]["run_id"] for r in ordered] == ["f" * 32]
    state = api.post(f"{TRANSFER}/state", json={"run_ids": ["f" * 32], "experiment_ids": ["7"]}).json()
    assert state["runs"]["f" * 32]["params"] == {"lr": "0.1"}
    assert state["metric_summaries"]["f" * 32]["loss"]["count"] == 3
    again = api.post(f"{TRANSFER}/write", json=body)  # idempotent: nothing twice
    assert again.status_code == 200
    points = api.post(f"{TRANSFER}/metric-points", json={"run_ids": ["f" * 32]}).json()["metrics"]["f" * 32]
    assert len(points) == 3 and math.isnan(float(points[0][1]))


def test_bad_batches_are_refused_and_nothing_is_written(api: SyncASGIClient) -> None:
    outside = api.post(
        f"{TRANSFER}/write", json={"experiments": [{**EXPERIMENT, "artifact_location": "/etc"}]}
    )
    assert outside.status_code == 400 and "outside the server's artifact root" in outside.json()["message"]
    bad_id = api.post(f"{TRANSFER}/write", json={"runs": [{**RUN, "run_id": "../x"}]})
    assert bad_id.status_code == 400
    too_many = {"metrics": {"f" * 32: [["m", 1.0, i, i] for i in range(50_001)]}}
    assert api.post(f"{TRANSFER}/write", json=too_many).status_code == 400
    assert api.get("/api/2.0/mlflow/experiments/get", params={"experiment_id": "7"}).status_code == 404
