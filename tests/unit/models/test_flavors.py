"""Saving and loading the sklearn and custom pyfunc flavors; the MLmodel and environment files."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import bakehouse.pyfunc
import bakehouse.sklearn
from bakehouse.errors import AlreadyExistsError, InvalidParameterError
from bakehouse.models.enforcement import SchemaEnforcementError
from bakehouse.models.environment import infer_requirements, installed_version, modules_of_object
from bakehouse.models.mlmodel import Model
from bakehouse.plugins import flavors


def test_sklearn_save_writes_mlflow_layout(sklearn_model_dir: Path) -> None:
    names = sorted(p.name for p in sklearn_model_dir.iterdir())
    assert names == [
        "MLmodel",
        "conda.yaml",
        "input_example.json",
        "model.skops",
        "python_env.yaml",
        "requirements.txt",
        "serving_input_example.json",
    ]
    doc = yaml.safe_load((sklearn_model_dir / "MLmodel").read_text())
    assert doc["flavors"]["python_function"]["loader_module"] == "mlflow.sklearn"
    assert doc["flavors"]["python_function"]["model_path"] == "model.skops"
    assert doc["flavors"]["sklearn"]["serialization_format"] == "skops"
    assert doc["saved_input_example_info"] == {
        "artifact_path": "input_example.json",
        "type": "dataframe",
        "pandas_orient": "split",
        "serving_input_path": "serving_input_example.json",
    }
    assert json.loads(doc["signature"]["outputs"]) == [
        {"type": "long", "required": True}
    ]  # as mlflow writes it
    assert doc["model_size_bytes"] > 1000
    requirements = (sklearn_model_dir / "requirements.txt").read_text().split()
    assert f"scikit-learn=={installed_version('scikit-learn')}" in requirements
    assert f"skops=={installed_version('skops')}" in requirements
    assert not any(r.startswith(("bakehouse", "mlflow", "pytest")) for r in requirements)
    env = yaml.safe_load((sklearn_model_dir / "python_env.yaml").read_text())
    assert env["dependencies"] == ["-r requirements.txt"]
    conda = yaml.safe_load((sklearn_model_dir / "conda.yaml").read_text())
    assert conda["name"] == "mlflow-env" and conda["dependencies"][-1] == {"pip": requirements}
    serving = json.loads((sklearn_model_dir / "serving_input_example.json").read_text())
    assert list(serving) == ["dataframe_split"] and len(serving["dataframe_split"]["data"]) == 5


def test_sklearn_round_trip_and_predict_fn(
    sklearn_model_dir: Path, tmp_path: Path, iris: Any, iris_lr: Any
) -> None:
    X_test = iris[1]
    model = bakehouse.pyfunc.load_model(str(sklearn_model_dir))
    assert model.predict(X_test).tolist() == iris_lr.predict(X_test).tolist()
    assert type(bakehouse.sklearn.load_model(str(sklearn_model_dir))).__name__ == "LogisticRegression"
    path = tmp_path / "proba"
    bakehouse.sklearn.save_model(iris_lr, path, pyfunc_predict_fn="predict_proba")
    proba = bakehouse.pyfunc.load_model(str(path)).predict(X_test)
    np.testing.assert_allclose(proba, iris_lr.predict_proba(X_test))
    with pytest.raises(InvalidParameterError, match="no method 'predict_cheese'"):
        bakehouse.sklearn.save_model(iris_lr, tmp_path / "bad", pyfunc_predict_fn="predict_cheese")
    with pytest.raises(AlreadyExistsError, match="already exists"):
        bakehouse.sklearn.save_model(iris_lr, path)


def test_loaded_model_enforces_signature(sklearn_model_dir: Path, iris: Any) -> None:
    model = bakehouse.pyfunc.load_model(str(sklearn_model_dir))
    with pytest.raises(SchemaEnforcementError, match=r"Model is missing inputs \['petal width \(cm\)'\]"):
        model.predict(iris[1].drop(columns=["petal width (cm)"]))
    ints = iris[1].round().astype("int64")  # ints feed a double model (lossless)
    assert len(model.predict(ints)) == len(ints)


def test_mlmodel_preserves_unknown_keys(tmp_path: Path) -> None:
    text = """
artifact_path: mlflow-artifacts:/1/models/m-1/artifacts
flavors:
  python_function: {loader_module: mlflow.sklearn, model_path: model.skops}
future_key: {nested: [1, 2]}
auth_policy: null
env_vars: [OPENAI_API_KEY]
mlflow_version: 3.18.0
model_id: m-1
model_uuid: m-1
run_id: abc
utc_time_created: '2026-11-23 17:15:07.572388'
signature:
  inputs: '[{"type": "double", "name": "x", "required": true}]'
  outputs: null
  params: null
"""
    (tmp_path / "MLmodel").write_text(text)
    model = Model.load(tmp_path)
    assert model.model_id == "m-1" and model.run_id == "abc"
    assert model.signature is not None and model.signature.outputs is None
    model.save(tmp_path)
    again = yaml.safe_load((tmp_path / "MLmodel").read_text())
    assert again["future_key"] == {"nested": [1, 2]}
    assert again["env_vars"] == ["OPENAI_API_KEY"] and "auth_policy" in again
    assert again["mlflow_version"] == "3.18.0"
    assert again["utc_time_created"] == "2026-11-23 17:15:07.572388"


def test_requirements_are_inferred_fast_from_object_modules(iris_lr: Any) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), iris_lr)
    assert {"sklearn", "numpy"} <= modules_of_object(pipe)
    infer_requirements(["numpy"])  # warm the distribution map once
    start = time.perf_counter()
    reqs = infer_requirements(modules_of_object(pipe) | {"os", "json", "yaml"})
    elapsed = time.perf_counter() - start
    assert f"scikit-learn=={installed_version('scikit-learn')}" in reqs
    assert f"PyYAML=={installed_version('PyYAML')}" in reqs
    assert not any(r.split("==")[0] in ("os", "json") for r in reqs)
    assert elapsed < 0.5


class AddN(bakehouse.pyfunc.PythonModel):
    def load_context(self, context: Any) -> None:
        self.n = float(Path(context.artifacts["n"]).read_text())
        self.scale = context.model_config.get("scale", 1)

    def predict(self, context: Any, model_input: Any, params: dict[str, Any] | None = None) -> Any:
        shift = (params or {}).get("shift", 0)
        return (model_input["x"] + self.n + shift) * self.scale


def test_custom_python_model_with_artifacts_params_and_code(tmp_path: Path) -> None:
    (tmp_path / "n.txt").write_text("3")
    (tmp_path / "helper_mod.py").write_text("VALUE = 7\n")
    path = tmp_path / "custom"
    bakehouse.pyfunc.save_model(
        path,
        AddN(),
        artifacts={"n": str(tmp_path / "n.txt")},
        code_paths=[str(tmp_path / "helper_mod.py")],
        input_example=pd.DataFrame({"x": [1.0, 2.0]}),
        model_config={"scale": 2},
    )
    conf = Model.load(path).flavors["python_function"]
    assert conf["loader_module"] == "mlflow.pyfunc.model"
    assert conf["python_model"] == "python_model.pkl"
    assert conf["artifacts"]["n"]["path"] == "artifacts/n.txt"
    assert conf["code"] == "code" and (path / "code" / "helper_mod.py").is_file()
    from bakehouse.models.schema_inference import infer_signature

    sig = infer_signature(pd.DataFrame({"x": [1.0]}), params={"shift": 0.0})
    path2 = tmp_path / "custom2"
    bakehouse.pyfunc.save_model(path2, AddN(), artifacts={"n": str(tmp_path / "n.txt")}, signature=sig)
    with pytest.warns(UserWarning, match="Unpickling a custom Python model"):
        model = bakehouse.pyfunc.load_model(str(path2), allow_pickle=True)
    assert model.predict(pd.DataFrame({"x": [1.0]})).tolist() == [4.0]
    assert model.predict(pd.DataFrame({"x": [1.0]}), params={"shift": 10}).tolist() == [14.0]
    assert isinstance(model.unwrap_python_model(), AddN)
    with pytest.warns(UserWarning):
        scaled = bakehouse.pyfunc.load_model(str(path), allow_pickle=True)
    assert scaled.predict(pd.DataFrame({"x": [1.0]})).tolist() == [8.0]


def test_flavors_are_registered_by_name() -> None:
    assert {"python_function", "sklearn", "pytorch"} <= set(flavors.keys())
    assert flavors.get("sklearn") is bakehouse.sklearn


def test_batch_predict_large_csv_in_chunks(
    tmp_path: Path, sklearn_model_dir: Path, iris: Any, iris_lr: Any
) -> None:
    from bakehouse.models.batch import PROGRESS_MIN_ROWS, predict_file

    frame = pd.concat([iris[1]] * (PROGRESS_MIN_ROWS // len(iris[1]) + 1), ignore_index=True)
    frame.to_csv(tmp_path / "big.csv", index=False)
    payload = predict_file(str(sklearn_model_dir), str(tmp_path / "big.csv"), None, "csv", batch_size=7_000)
    assert payload is not None
    assert json.loads(payload)["predictions"] == iris_lr.predict(frame).tolist()


@pytest.mark.parametrize("example_kind", ["dataframe", "numpy"])
def test_signature_block_is_the_one_mlflow_writes(
    tmp_path: Path, iris: Any, iris_lr: Any, example_kind: str
) -> None:
    mlflow = pytest.importorskip("mlflow")
    import warnings

    X = iris[0]
    example = X.head(3) if example_kind == "dataframe" else X.head(3).to_numpy()
    with warnings.catch_warnings():  # sklearn warns on numpy input to a model fitted on named columns
        warnings.simplefilter("ignore")
        mlflow.sklearn.save_model(iris_lr, str(tmp_path / "theirs"), input_example=example)
        bakehouse.sklearn.save_model(iris_lr, str(tmp_path / "ours"), input_example=example)
    theirs, ours = (
        yaml.safe_load((tmp_path / d / "MLmodel").read_text())["signature"] for d in ("theirs", "ours")
    )
    assert ours == theirs


def test_signature_false_means_no_signature_even_with_an_example(
    tmp_path: Path, iris: Any, iris_lr: Any
) -> None:
    X = iris[0]
    bakehouse.sklearn.save_model(iris_lr, str(tmp_path / "plain"), input_example=X.head(2), signature=False)
    doc = yaml.safe_load((tmp_path / "plain" / "MLmodel").read_text())
    assert "signature" not in doc and doc["saved_input_example_info"]["type"] == "dataframe"

    class Echo(bakehouse.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return model_input

    bakehouse.pyfunc.save_model(
        str(tmp_path / "echo"), python_model=Echo(), input_example=X.head(2), signature=False
    )
    assert "signature" not in yaml.safe_load((tmp_path / "echo" / "MLmodel").read_text())
