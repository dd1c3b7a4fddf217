"""Models saved by the official ``mlflow`` load in Bakehouse, and models saved by Bakehouse load in MLflow."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import bakehouse.pyfunc
import bakehouse.sklearn
from bakehouse.models.mlmodel import Model
from bakehouse.models.schema_inference import infer_signature

pytest.importorskip("mlflow")
import mlflow
import mlflow.pyfunc
import mlflow.sklearn


@pytest.fixture(scope="module")
def iris() -> tuple[Any, Any, Any]:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y, LogisticRegression(max_iter=300).fit(X, y)


@pytest.fixture
def mlflow_may_deserialize(monkeypatch: pytest.MonkeyPatch) -> None:
    """MLflow 3.17 refuses to deserialize any model file (skops included) unless this is set."""
    monkeypatch.setenv("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")


class MlflowShift(mlflow.pyfunc.PythonModel):
    # no type hints on purpose: MLflow would try to derive a signature from them
    def load_context(self, context):
        self.shift = float(Path(context.artifacts["shift"]).read_text())

    def predict(self, context, model_input, params=None):
        factor = (params or {}).get("factor", 1.0)
        return (model_input["x"] + self.shift) * factor


class BakehouseShift(bakehouse.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.shift = float(Path(context.artifacts["shift"]).read_text())

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        factor = (params or {}).get("factor", 1.0)
        return (model_input["x"] + self.shift) * factor


def test_mlflow_sklearn_model_loads_in_bakehouse(tmp_path: Path, iris: Any) -> None:
    X, _, lr = iris
    path = tmp_path / "mlflow_sk"
    mlflow.sklearn.save_model(lr, str(path), input_example=X[:3], serialization_format="skops")
    assert (path / "model.skops").is_file()
    model = bakehouse.pyfunc.load_model(str(path))
    assert model.loader_module == "mlflow.sklearn"
    assert model.predict(X).tolist() == lr.predict(X).tolist()
    assert bakehouse.sklearn.load_model(str(path)).predict(X[:5]).tolist() == lr.predict(X[:5]).tolist()
    meta = Model.load(path)
    assert meta.mlflow_version == mlflow.__version__ and meta.extra["prompts"] is None
    assert meta.signature is not None and meta.signature.inputs is not None
    assert meta.signature.inputs.input_names() == list(X.columns)
    pickled = tmp_path / "mlflow_pickle"
    mlflow.sklearn.save_model(lr, str(pickled), serialization_format="cloudpickle")
    with pytest.raises(bakehouse.pyfunc.ModelLoadRefusedError):
        bakehouse.pyfunc.load_model(str(pickled))
    with pytest.warns(UserWarning, match="Unpickling the scikit-learn model model.pkl"):
        assert (
            bakehouse.pyfunc.load_model(str(pickled), allow_pickle=True).predict(X[:5]).tolist()
            == lr.predict(X[:5]).tolist()
        )


def test_mlflow_custom_pyfunc_loads_in_bakehouse(tmp_path: Path) -> None:
    (tmp_path / "shift.txt").write_text("10")
    path = tmp_path / "mlflow_custom"
    signature = mlflow.models.infer_signature(pd.DataFrame({"x": [1.0]}), params={"factor": 1.0})
    mlflow.pyfunc.save_model(
        str(path),
        python_model=MlflowShift(),
        artifacts={"shift": str(tmp_path / "shift.txt")},
        signature=signature,
    )
    with pytest.warns(UserWarning, match="Unpickling a custom Python model"):
        model = bakehouse.pyfunc.load_model(str(path), allow_pickle=True)
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    assert model.predict(frame).tolist() == [11.0, 12.0]
    assert model.predict(frame, params={"factor": 2.0}).tolist() == [22.0, 24.0]


def test_bakehouse_sklearn_model_loads_in_mlflow(
    tmp_path: Path, iris: Any, mlflow_may_deserialize: None
) -> None:
    X, _, lr = iris
    path = tmp_path / "bakehouse_sk"
    bakehouse.sklearn.save_model(lr, path, input_example=X[:3])
    loaded = mlflow.pyfunc.load_model(str(path))
    assert loaded.predict(X).tolist() == lr.predict(X).tolist()
    assert mlflow.sklearn.load_model(str(path)).predict(X[:5]).tolist() == lr.predict(X[:5]).tolist()
    meta = mlflow.models.Model.load(str(path))
    assert meta.signature.inputs.input_names() == list(X.columns)
    assert json.loads(meta.signature.outputs.to_json()) == [
        {"type": "long", "required": True}
    ]  # as mlflow writes
    assert meta.saved_input_example_info["serving_input_path"] == "serving_input_example.json"
    # MLflow's own parser accepts our serving example for this model
    from mlflow.pyfunc.scoring_server import infer_and_parse_data

    parsed = infer_and_parse_data(
        json.loads((path / "serving_input_example.json").read_text()), meta.signature.inputs
    )
    assert loaded.predict(parsed).tolist() == lr.predict(X[:3]).tolist()


def test_bakehouse_custom_pyfunc_loads_in_mlflow(tmp_path: Path, mlflow_may_deserialize: None) -> None:
    (tmp_path / "shift.txt").write_text("5")
    path = tmp_path / "bakehouse_custom"
    signature = infer_signature(pd.DataFrame({"x": [1.0]}), params={"factor": 1.0})
    bakehouse.pyfunc.save_model(
        path, BakehouseShift(), artifacts={"shift": str(tmp_path / "shift.txt")}, signature=signature
    )
    loaded = mlflow.pyfunc.load_model(str(path))
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    assert loaded.predict(frame).tolist() == [6.0, 7.0]
    assert loaded.predict(frame, params={"factor": 3.0}).tolist() == [18.0, 21.0]


def test_signature_json_is_identical_to_mlflows(iris: Any) -> None:
    X, y, _ = iris
    frame = X.assign(name=["a"] * len(X), flag=True, small=np.int32(1))
    ours = infer_signature(frame, y.to_numpy(), params={"k": 3, "temperature": 0.1}).to_dict()
    theirs = mlflow.models.infer_signature(frame, y.to_numpy(), params={"k": 3, "temperature": 0.1}).to_dict()
    assert json.loads(ours["inputs"]) == json.loads(theirs["inputs"])
    assert json.loads(ours["outputs"]) == json.loads(theirs["outputs"])
    assert json.loads(ours["params"]) == json.loads(theirs["params"])


@pytest.mark.slow
def test_logged_models_through_a_bakehouse_server_both_ways(
    bakehouse_server: Any, iris: Any, mlflow_may_deserialize: None
) -> None:
    """MLflow 3 semantics end to end over HTTP: logged models, runs:/ fallback, registry, proxied artifacts."""
    import bakehouse

    X, _, lr = iris
    server = bakehouse_server()
    bakehouse.set_tracking_uri(server.url)
    with bakehouse.start_run() as run:
        info = bakehouse.sklearn.log_model(
            lr, name="model", input_example=X[:3], registered_model_name="iris-http"
        )
    assert info.model_uri.startswith("models:/m-") and info.registered_model_version == 1
    expected = lr.predict(X[:3]).tolist()
    assert bakehouse.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(X[:3]).tolist() == expected

    mlflow.set_tracking_uri(server.url)
    assert mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model").predict(X[:3]).tolist() == expected
    assert mlflow.pyfunc.load_model("models:/iris-http/1").predict(X[:3]).tolist() == expected
    with mlflow.start_run() as theirs:
        mlflow_info = mlflow.sklearn.log_model(
            lr, name="mlflow_model", input_example=X[:3], serialization_format="skops"
        )
    assert (
        bakehouse.pyfunc.load_model(f"runs:/{theirs.info.run_id}/mlflow_model").predict(X[:3]).tolist()
        == expected
    )
    assert bakehouse.pyfunc.load_model(mlflow_info.model_uri).model_id == mlflow_info.model_id
