"""``log_model`` with MLflow 3 semantics against the real SQLite tracking store, and model URIs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import bakehouse
import bakehouse.pyfunc
import bakehouse.sklearn
from bakehouse.errors import NotFoundError


def test_iris_log_model_then_load_by_runs_uri(tmp_tracking_uri: str, iris: Any, iris_lr: Any) -> None:
    X_test = iris[1]
    with bakehouse.start_run() as run:
        info = bakehouse.sklearn.log_model(iris_lr, name="model", input_example=X_test[:5])
    run_id = run.info.run_id

    assert info.model_uri == f"models:/{info.model_id}" and info.model_id.startswith("m-")
    assert info.run_id == run_id and info.artifact_path == "model"
    assert set(info.flavors) == {"python_function", "sklearn"}
    assert info.signature is not None and info.signature.inputs is not None
    assert len(info.signature.inputs.inputs) == 4

    loaded = bakehouse.pyfunc.load_model(f"runs:/{run_id}/model")
    assert loaded.predict(X_test).tolist() == iris_lr.predict(X_test).tolist()
    assert loaded.model_id == info.model_id
    assert (
        bakehouse.pyfunc.load_model(info.model_uri).predict(X_test[:3]).tolist()
        == iris_lr.predict(X_test[:3]).tolist()
    )

    from bakehouse.client.client import Client

    client = Client()
    logged = client.get_logged_model(info.model_id)
    assert logged.status == "LOGGED_MODEL_READY"
    assert logged.source_run_id == run_id and logged.name == "model"
    assert client.get_run(run_id).outputs.model_outputs[0].model_id == info.model_id
    assert client.list_artifacts(run_id) == []  # MLflow 3: the run's own artifacts are untouched
    assert (Path(logged.artifact_location) / "MLmodel").is_file()
    assert bakehouse.pyfunc.get_model_info(f"runs:/{run_id}/model").model_id == info.model_id


def test_runs_uri_prefers_run_artifacts_and_reports_missing(
    tmp_tracking_uri: str, tmp_path: Path, iris_lr: Any
) -> None:
    model_dir = tmp_path / "saved"
    bakehouse.sklearn.save_model(iris_lr, model_dir)
    with bakehouse.start_run() as run:
        bakehouse.log_artifacts(str(model_dir), "legacy_model")
    loaded = bakehouse.pyfunc.load_model(f"runs:/{run.info.run_id}/legacy_model")
    assert loaded.model_id is None
    with pytest.raises(NotFoundError, match="no logged model named 'nothing'"):
        bakehouse.pyfunc.load_model(f"runs:/{run.info.run_id}/nothing")


def test_log_model_without_run_and_custom_pyfunc(tmp_tracking_uri: str) -> None:
    class Echo(bakehouse.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return [len(str(v)) for v in model_input]

    info = bakehouse.pyfunc.log_model(name="echo", python_model=Echo(), pip_requirements=["numpy"])
    assert info.run_id is None
    with pytest.warns(UserWarning, match="Unpickling"):
        model = bakehouse.pyfunc.load_model(info.model_uri, allow_pickle=True)
    assert model.predict(["ab", "c"]) == [2, 1]


def test_registered_model_name_creates_a_version(tmp_tracking_uri: str, iris: Any, iris_lr: Any) -> None:
    pytest.importorskip("bakehouse.store.registry.sql")
    with bakehouse.start_run():
        first = bakehouse.sklearn.log_model(iris_lr, name="model", registered_model_name="iris")
        second = bakehouse.sklearn.log_model(iris_lr, name="model2", registered_model_name="iris")
    assert (first.registered_model_version, second.registered_model_version) == (1, 2)
    X_test = iris[1]
    for uri in ("models:/iris/1", "models:/iris/latest"):
        assert bakehouse.pyfunc.load_model(uri).predict(X_test).tolist() == iris_lr.predict(X_test).tolist()
    assert bakehouse.pyfunc.load_model("models:/iris/latest").model_id == second.model_id
    from bakehouse.client.client import Client

    Client().registry_store.set_registered_model_alias("iris", "champion", "1")
    assert bakehouse.pyfunc.load_model("models:/iris@champion").model_id == first.model_id


@pytest.mark.s3
def test_model_loads_from_an_s3_artifact_uri(
    s3_bucket: str, sklearn_model_dir: Path, iris: Any, iris_lr: Any
) -> None:
    from bakehouse.store.artifacts import get_artifact_repository

    uri = f"s3://{s3_bucket}/models/iris"
    get_artifact_repository(uri).log_artifacts(str(sklearn_model_dir))
    model = bakehouse.pyfunc.load_model(uri)
    assert model.predict(iris[1]).tolist() == iris_lr.predict(iris[1]).tolist()
