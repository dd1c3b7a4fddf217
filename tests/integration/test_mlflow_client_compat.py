"""The official ``mlflow`` client (3.17.2), unchanged, against a real ``bakehouse server``.

One server per module (a subprocess in its own process group). Each test makes its own experiment, so tests
do not depend on each other; mlflow's process-global state is reset after every test by ``tests/conftest.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import uuid
from pathlib import Path

import pytest

mlflow = pytest.importorskip("mlflow")
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException, RestException
from server_process import Server, start_server

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    srv = start_server(tmp_path_factory.mktemp("compat"))
    yield srv
    srv.stop()


@pytest.fixture
def client(server: Server, monkeypatch: pytest.MonkeyPatch) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
    mlflow.set_tracking_uri(server.url)
    return MlflowClient(tracking_uri=server.url)


def _name(prefix: str = "exp") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------ experiments
def test_experiment_lifecycle(client: MlflowClient, server: Server) -> None:
    name = _name()
    eid = client.create_experiment(name, tags={"team": "bakers", "unicode": "été ✓"})
    exp = client.get_experiment(eid)
    assert exp.name == name
    assert exp.lifecycle_stage == "active"
    assert exp.tags == {"team": "bakers", "unicode": "été ✓"}
    assert exp.artifact_location == f"mlflow-artifacts:/{eid}"
    assert client.get_experiment_by_name(name).experiment_id == eid

    with pytest.raises(RestException) as info:
        client.create_experiment(name)
    assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"

    client.set_experiment_tag(eid, "stage", "dev")
    client.delete_experiment_tag(eid, "team")
    assert client.get_experiment(eid).tags == {"unicode": "été ✓", "stage": "dev"}

    new_name = _name("renamed")
    client.rename_experiment(eid, new_name)
    assert client.get_experiment(eid).name == new_name
    assert client.get_experiment_by_name(name) is None
    with pytest.raises(RestException) as info:  # MLflow requires the new name
        client.rename_experiment(eid, "")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE" and "new_name" in info.value.message
    assert client.get_experiment(eid).name == new_name

    client.delete_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "deleted"
    active = {e.experiment_id for e in client.search_experiments()}
    deleted = {
        e.experiment_id for e in client.search_experiments(view_type=mlflow.entities.ViewType.DELETED_ONLY)
    }
    assert eid not in active and eid in deleted
    client.restore_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "active"


def test_search_experiments_filter_order_and_pages(client: MlflowClient) -> None:
    prefix = _name("srch")
    ids = [client.create_experiment(f"{prefix}-{i}", tags={"i": str(i)}) for i in range(5)]
    found = client.search_experiments(filter_string=f"name LIKE '{prefix}-%'", order_by=["name DESC"])
    assert [e.name for e in found] == [f"{prefix}-{i}" for i in reversed(range(5))]
    tagged = client.search_experiments(filter_string=f"name LIKE '{prefix}-%' AND tags.i = '3'")
    assert [e.experiment_id for e in tagged] == [ids[3]]
    page1 = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", max_results=2, order_by=["name"]
    )
    assert len(page1) == 2 and page1.token
    page2 = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", max_results=2, order_by=["name"], page_token=page1.token
    )
    page3 = client.search_experiments(
        filter_string=f"name LIKE '{prefix}-%'", max_results=2, order_by=["name"], page_token=page2.token
    )
    assert [e.name for e in [*page1, *page2, *page3]] == [f"{prefix}-{i}" for i in range(5)]
    assert not page3.token
    # the Default experiment has a creation time too, as in MLflow, so time filters see it
    recent = client.search_experiments(filter_string="creation_time > 0", max_results=1000)
    assert "0" in {e.experiment_id for e in recent}
    assert client.get_experiment("0").creation_time > 0


def test_unknown_entities_map_to_mlflow_error_codes(client: MlflowClient) -> None:
    with pytest.raises(RestException) as info:
        client.get_run("0" * 32)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(RestException) as info:
        client.get_experiment("987654321")
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(RestException) as info:  # not an integer: a bad parameter, as in MLflow
        client.get_experiment("abc")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    assert "Invalid experiment ID 'abc'. Experiment ID must be a valid integer." in info.value.message
    with pytest.raises(MlflowException) as info:
        client.create_experiment("")
    assert "name" in str(info.value)
    # deleting twice or restoring an active experiment: MLflow's server cannot find it in that state
    eid = client.create_experiment(_name())
    with pytest.raises(RestException) as info:
        client.restore_experiment(eid)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.delete_experiment(eid)
    with pytest.raises(RestException) as info:
        client.delete_experiment(eid)
    assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.restore_experiment(eid)
    assert client.get_experiment(eid).lifecycle_stage == "active"


# ------------------------------------------------------------------------------------------------ runs
def test_run_params_metrics_tags_and_status(client: MlflowClient) -> None:
    eid = client.create_experiment(_name())
    run = client.create_run(eid, tags={"owner": "me"}, run_name="loaf-1")
    rid = run.info.run_id
    assert run.info.run_name == "loaf-1"
    assert run.info.status == "RUNNING"
    assert run.info.artifact_uri == f"mlflow-artifacts:/{eid}/{rid}/artifacts"

    client.log_param(rid, "lr", "0.01")
    client.log_param(rid, "unicode key ü", "naïve value")
    t0 = int(time.time() * 1000)
    for step in range(5):
        client.log_metric(rid, "loss", 1.0 / (step + 1), timestamp=t0 + step, step=step)
    client.log_metric(rid, "weird", float("nan"), timestamp=t0, step=0)
    client.log_metric(rid, "big", float("inf"), timestamp=t0, step=0)
    client.log_metric(rid, "small", float("-inf"), timestamp=t0, step=0)
    client.set_tag(rid, "note", "first")
    client.set_tag(rid, "gone", "x")
    client.delete_tag(rid, "gone")

    fetched = client.get_run(rid)
    assert fetched.data.params == {"lr": "0.01", "unicode key ü": "naïve value"}
    assert fetched.data.metrics["loss"] == pytest.approx(0.2)
    assert math.isnan(fetched.data.metrics["weird"])
    assert fetched.data.metrics["big"] > 1e308
    assert fetched.data.metrics["small"] < -1e308
    assert fetched.data.tags["note"] == "first"
    assert fetched.data.tags["owner"] == "me"
    assert "gone" not in fetched.data.tags

    history = client.get_metric_history(rid, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [
        (s, pytest.approx(1.0 / (s + 1)), t0 + s) for s in range(5)
    ]

    with pytest.raises(MlflowException, match="Changing param values is not allowed") as info:
        client.log_param(rid, "lr", "0.02")
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"

    client.set_terminated(rid, status="FINISHED", end_time=t0 + 1000)
    finished = client.get_run(rid)
    assert finished.info.status == "FINISHED"
    assert finished.info.end_time == t0 + 1000

    client.delete_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "deleted"
    client.restore_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "active"


def test_metric_history_of_many_points_is_paged_and_complete(client: MlflowClient) -> None:
    eid = client.create_experiment(_name())
    rid = client.create_run(eid).info.run_id
    t0 = 1_700_000_000_000
    metrics = [Metric("h", float(i), t0 + i, i) for i in range(30_000)]
    client.log_batch(rid, metrics=metrics)
    history = client.get_metric_history(rid, "h")
    assert len(history) == 30_000
    assert [m.step for m in history] == list(range(30_000))
    assert history[-1].value == 29_999.0


def test_log_batch_at_the_limits(client: MlflowClient) -> None:
    eid = client.create_experiment(_name())
    rid = client.create_run(eid).info.run_id
    t0 = int(time.time() * 1000)
    client.log_batch(
        rid,
        metrics=[Metric(f"m{i}", float(i), t0, 0) for i in range(900)],
        params=[Param(f"p{i}", f"v{i}") for i in range(50)],
        tags=[RunTag(f"t{i}", f"w{i}") for i in range(50)],
    )
    run = client.get_run(rid)
    assert len(run.data.metrics) == 900 and run.data.metrics["m899"] == 899.0
    assert len(run.data.params) == 50 and run.data.params["p49"] == "v49"
    assert run.data.tags["t49"] == "w49"


def test_log_batch_over_the_limits_is_split_by_client_and_refused_raw(
    client: MlflowClient, server: Server
) -> None:
    import requests

    eid = client.create_experiment(_name())
    rid = client.create_run(eid).info.run_id
    t0 = int(time.time() * 1000)
    # the official client splits an over-limit batch itself: everything arrives
    client.log_batch(
        rid,
        metrics=[Metric(f"m{i}", float(i), t0, 0) for i in range(2500)],
        params=[Param(f"p{i}", "v") for i in range(250)],
        tags=[RunTag(f"t{i}", "w") for i in range(150)],
    )
    run = client.get_run(rid)
    assert len(run.data.metrics) == 2500
    assert len(run.data.params) == 250
    assert sum(1 for k in run.data.tags if k.startswith("t")) == 150
    # one raw request over the limit: refused with MLflow's code, nothing written
    rid2 = client.create_run(eid).info.run_id
    body = {
        "run_id": rid2,
        "metrics": [{"key": f"x{i}", "value": 1.0, "timestamp": t0, "step": 0} for i in range(1001)],
    }
    response = requests.post(f"{server.url}/api/2.0/mlflow/runs/log-batch", json=body, timeout=30)
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "1000" in response.json()["message"]
    assert client.get_run(rid2).data.metrics == {}


# ---------------------------------------------------------------------------------------------- search
@pytest.fixture
def search_experiment(client: MlflowClient) -> tuple[str, dict[str, str]]:
    eid = client.create_experiment(_name("search"))
    ids = {}
    t0 = int(time.time() * 1000)
    for i in range(12):
        run = client.create_run(eid, run_name=f"r{i:02d}", start_time=t0 + i)
        rid = run.info.run_id
        client.log_batch(
            rid,
            metrics=[Metric("acc", i / 10, t0, 0)],
            params=[Param("model", "cnn" if i % 2 else "mlp")],
            tags=[RunTag("group", "a" if i < 6 else "b")],
        )
        if i % 3 == 0:
            client.set_terminated(rid, "FAILED")
        ids[f"r{i:02d}"] = rid
    return eid, ids


def test_search_runs_filters_order_and_pagination(client: MlflowClient, search_experiment) -> None:
    eid, ids = search_experiment
    runs = client.search_runs(
        [eid], "metrics.acc > 0.75 AND params.model = 'cnn'", order_by=["metrics.acc DESC"]
    )
    assert [r.info.run_name for r in runs] == ["r11", "r09"]
    failed = client.search_runs([eid], "attributes.status = 'FAILED'", order_by=["attributes.run_name ASC"])
    assert [r.info.run_name for r in failed] == ["r00", "r03", "r06", "r09"]
    tagged = client.search_runs([eid], "tags.group = 'b' AND params.model LIKE 'ml%'")
    assert {r.info.run_name for r in tagged} == {"r06", "r08", "r10"}
    by_id = client.search_runs([eid], f"attributes.run_id IN ('{ids['r01']}', '{ids['r02']}')")
    assert {r.info.run_name for r in by_id} == {"r01", "r02"}
    default_order = client.search_runs([eid])
    assert [r.info.run_name for r in default_order] == [f"r{i:02d}" for i in reversed(range(12))]

    seen = []
    token = None
    while True:
        page = client.search_runs([eid], order_by=["metrics.acc ASC"], max_results=5, page_token=token)
        seen += [r.info.run_name for r in page]
        token = page.token
        if not token:
            break
    assert seen == [f"r{i:02d}" for i in range(12)]

    with pytest.raises(MlflowException):
        client.search_runs([eid], "metrics.acc >")


def test_fluent_search_runs_dataframe(client: MlflowClient, search_experiment) -> None:
    eid, ids = search_experiment
    frame = mlflow.search_runs([eid], filter_string="params.model = 'mlp'", order_by=["metrics.acc ASC"])
    assert list(frame["tags.mlflow.runName"]) == ["r00", "r02", "r04", "r06", "r08", "r10"]
    assert list(frame["metrics.acc"]) == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert set(frame["params.model"]) == {"mlp"}
    assert list(frame["run_id"]) == [ids[f"r{i:02d}"] for i in (0, 2, 4, 6, 8, 10)]
    assert {"status", "start_time", "artifact_uri", "experiment_id"} <= set(frame.columns)


def test_fluent_nested_runs(client: MlflowClient) -> None:
    name = _name("nested")
    exp = mlflow.set_experiment(name)
    with mlflow.start_run(run_name="parent") as parent:
        mlflow.log_param("level", "0")
        with mlflow.start_run(run_name="child", nested=True) as child:
            mlflow.log_metric("depth", 1)
            mlflow.log_params({"a": 1, "b": "two"})
            mlflow.set_tags({"k": "v"})
    parent_run = client.get_run(parent.info.run_id)
    child_run = client.get_run(child.info.run_id)
    assert parent_run.info.status == "FINISHED" and child_run.info.status == "FINISHED"
    assert child_run.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child_run.data.params == {"a": "1", "b": "two"}
    assert child_run.data.metrics == {"depth": 1.0}
    children = client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent.info.run_id}'")
    assert [r.info.run_id for r in children] == [child.info.run_id]


# ------------------------------------------------------------------------------------------- artifacts
def test_artifacts_round_trip_byte_exact(client: MlflowClient, server: Server, tmp_path: Path) -> None:
    eid = client.create_experiment(_name("art"))
    rid = client.create_run(eid).info.run_id
    src = tmp_path / "src"
    (src / "sub dir" / "deeper").mkdir(parents=True)
    files = {
        "plain.txt": b"hello bakehouse\n",
        "with space.bin": os.urandom(70_000),
        "ünïcødé-名前.json": json.dumps({"k": "é"}).encode(),
        "sub dir/deeper/x.bin": os.urandom(1234),
        "sub dir/empty.txt": b"",
    }
    for rel, data in files.items():
        (src / rel).write_bytes(data)
    client.log_artifacts(rid, str(src), artifact_path="bundle")
    client.log_artifact(rid, str(src / "plain.txt"))
    client.log_text(rid, "some text ✓", "notes/readme.md")
    client.log_dict(rid, {"a": [1, 2, 3]}, "config/params.json")

    top = sorted((f.path, f.is_dir) for f in client.list_artifacts(rid))
    assert top == [("bundle", True), ("config", True), ("notes", True), ("plain.txt", False)]
    bundle = {f.path: f.file_size for f in client.list_artifacts(rid, "bundle")}
    assert bundle == {
        "bundle/plain.txt": len(files["plain.txt"]),
        "bundle/sub dir": None,
        "bundle/with space.bin": 70_000,
        "bundle/ünïcødé-名前.json": len(files["ünïcødé-名前.json"]),
    }

    out = Path(client.download_artifacts(rid, "bundle", str(tmp_path / "dl")))
    for rel, data in files.items():
        assert (out / rel).read_bytes() == data, rel
    single = Path(
        mlflow.artifacts.download_artifacts(
            run_id=rid, artifact_path="notes/readme.md", dst_path=str(tmp_path / "one")
        )
    )
    assert single.read_text(encoding="utf-8") == "some text ✓"
    assert mlflow.artifacts.load_dict(f"runs:/{rid}/config/params.json") == {"a": [1, 2, 3]}
    assert (
        mlflow.artifacts.load_text(f"{client.get_run(rid).info.artifact_uri}/plain.txt")
        == "hello bakehouse\n"
    )

    # the bytes are where --artifacts-destination says, under <exp>/<run>/artifacts
    stored = server.workdir / "artifacts" / eid / rid / "artifacts" / "bundle" / "with space.bin"
    assert stored.read_bytes() == files["with space.bin"]


@pytest.mark.slow
def test_200_mb_artifact_round_trip(client: MlflowClient, tmp_path: Path) -> None:
    eid = client.create_experiment(_name("big"))
    rid = client.create_run(eid).info.run_id
    big = tmp_path / "big file.bin"
    block = os.urandom(1 << 20)
    with open(big, "wb") as fh:
        fh.writelines(block[i:] + block[:i] for i in range(200))
    client.log_artifact(rid, str(big), "large")
    (info,) = client.list_artifacts(rid, "large")
    assert info.file_size == 200 * (1 << 20)
    out = Path(client.download_artifacts(rid, "large/big file.bin", str(tmp_path / "dl")))
    assert out.stat().st_size == big.stat().st_size
    assert _sha256(out) == _sha256(big)


# ---------------------------------------------------------------------------------------------- models
def test_sklearn_log_model_and_pyfunc_load(client: MlflowClient, tmp_path: Path) -> None:
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    y = np.array([0, 1, 0, 1])
    model = LogisticRegression().fit(X, y)
    mlflow.set_experiment(_name("models"))
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        mlflow.log_metric("train_acc", 1.0)
    assert info.model_id.startswith("m-")
    logged = client.get_logged_model(info.model_id)
    assert logged.status.to_proto() == 2 or str(logged.status).endswith("READY")
    assert logged.source_run_id == run.info.run_id

    for uri in (info.model_uri, f"runs:/{run.info.run_id}/model", f"models:/{info.model_id}"):
        loaded = mlflow.pyfunc.load_model(uri)
        assert list(loaded.predict(X)) == list(model.predict(X)), uri
    found = client.search_logged_models([run.info.experiment_id])
    assert [m.model_id for m in found] == [info.model_id]


def test_model_metrics_filter_and_order_logged_models(client: MlflowClient) -> None:
    """MLflow 3: metrics logged with ``model_id=`` show on the logged model and drive search_logged_models."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.2, 0.9], [0.9, 0.1]])
    y = np.array([0, 1, 0, 1])
    experiment = mlflow.set_experiment(_name("model-metrics"))
    ids = {}
    runs = {}
    for C, accuracy in ((0.1, 0.62), (10.0, 0.97)):
        with mlflow.start_run() as run:
            info = mlflow.sklearn.log_model(
                LogisticRegression(C=C).fit(X, y),
                name="model",
                params={"C": str(C)},
                pip_requirements=["scikit-learn"],
            )
            mlflow.log_metric("accuracy", accuracy, model_id=info.model_id)
            ids[C], runs[C] = info.model_id, run.info.run_id
    strong = client.get_logged_model(ids[10.0])
    assert [(m.key, m.value) for m in strong.metrics] == [("accuracy", 0.97)]
    found = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id],
        filter_string="metrics.accuracy > 0.9",
        output_format="list",
    )
    assert [m.model_id for m in found] == [ids[10.0]]
    ordered = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id],
        output_format="list",
        order_by=[{"field_name": "metrics.accuracy", "ascending": True}],
    )
    assert [m.model_id for m in ordered] == [ids[0.1], ids[10.0]]
    # the weak model scores best on a holdout set: the datasets argument narrows search to that set
    client.log_metric(
        runs[0.1], "accuracy", 0.99, model_id=ids[0.1], dataset_name="holdout", dataset_digest="h1"
    )
    holdout = [{"dataset_name": "holdout", "dataset_digest": "h1"}]
    on_holdout = mlflow.search_logged_models(
        experiment_ids=[experiment.experiment_id],
        datasets=holdout,
        filter_string="metrics.accuracy > 0.9",
        output_format="list",
    )
    assert [m.model_id for m in on_holdout] == [ids[0.1]]
    elsewhere = [{"dataset_name": "holdout", "dataset_digest": "other"}]
    assert (
        mlflow.search_logged_models(
            experiment_ids=[experiment.experiment_id], datasets=elsewhere, output_format="list"
        )
        == []
    )


# ------------------------------------------------------------------------------------- tables, both ways
def test_tables_logged_by_either_client_load_in_the_other(client: MlflowClient, server: Server) -> None:
    from bakehouse.client.client import Client

    ours = Client(tracking_uri=server.url)
    experiment_id = client.create_experiment(_name("tables"))
    theirs_run = client.create_run(experiment_id).info.run_id
    ours_run = ours.create_run(experiment_id).info.run_id
    client.log_table(theirs_run, {"q": ["a", "b"], "score": [0.5, 1.0]}, "eval/t.json")
    ours.log_table(ours_run, {"q": ["c"], "score": [0.25]}, "eval/t.json")
    ours.log_table(ours_run, {"q": ["d"], "score": [0.75]}, "eval/t.json")  # appended

    loaded_by_mlflow = client.load_table(experiment_id, "eval/t.json", extra_columns=["run_id"])
    loaded_by_us = ours.load_table(experiment_id, "eval/t.json", extra_columns=["run_id"])
    for frame in (loaded_by_mlflow, loaded_by_us):
        rows = sorted(zip(frame["q"], frame["score"], frame["run_id"]))
        assert rows == [
            ("a", 0.5, theirs_run),
            ("b", 1.0, theirs_run),
            ("c", 0.25, ours_run),
            ("d", 0.75, ours_run),
        ]
