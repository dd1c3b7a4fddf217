"""Models from code: the model's Python file is saved (nothing pickled) and run on load, on opt-in."""

from __future__ import annotations

import textwrap
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml

import bakehouse
import bakehouse.pyfunc
from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors import ModelLoadRefusedError

ADD_ONE = textwrap.dedent(
    """
    import bakehouse

    class AddOne(bakehouse.pyfunc.PythonModel):
        def predict(self, context, model_input, params=None):
            return model_input + 1

    bakehouse.models.set_model(AddOne())
    """
)


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_the_code_file_is_saved_not_pickled_and_runs_only_on_opt_in(tmp_path: Path) -> None:
    code = _write(tmp_path, "add_one.py", ADD_ONE)
    out = tmp_path / "model"
    bakehouse.pyfunc.save_model(str(out), python_model=str(code), input_example=pd.DataFrame({"x": [1.0]}))
    flavor = yaml.safe_load((out / "MLmodel").read_text())["flavors"]["python_function"]
    assert flavor["loader_module"] == "mlflow.pyfunc.loaders.code_model"  # MLflow's loader name
    assert flavor["model_code_path"] == "add_one.py" and "python_model" not in flavor
    assert (out / "add_one.py").read_text() == ADD_ONE and not list(out.glob("*.pkl"))
    doc = yaml.safe_load((out / "MLmodel").read_text())
    assert doc["signature"]["inputs"] == '[{"type": "double", "name": "x", "required": true}]'

    with pytest.raises(ModelLoadRefusedError, match="code file"):
        bakehouse.pyfunc.load_model(str(out))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = bakehouse.pyfunc.load_model(str(out), allow_pickle=True)
    assert model.predict(pd.DataFrame({"x": [1.0, 2.5]}))["x"].tolist() == [2.0, 3.5]


def test_a_function_can_be_the_model(tmp_path: Path) -> None:
    code = _write(tmp_path, "double.py", "import bakehouse\nbakehouse.models.set_model(lambda df: df * 2)\n")
    bakehouse.pyfunc.save_model(str(tmp_path / "m"), python_model=str(code))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = bakehouse.pyfunc.load_model(str(tmp_path / "m"), allow_pickle=True)
    assert model.predict(pd.DataFrame({"x": [4.0]}))["x"].tolist() == [8.0]


def test_bad_code_files_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    silent = _write(tmp_path, "silent.py", "x = 1\n")
    with pytest.raises(InvalidParameterError, match="never called set_model"):
        bakehouse.pyfunc.save_model(str(tmp_path / "a"), python_model=str(silent))
    broken = _write(tmp_path, "broken.py", "raise RuntimeError('boom')\n")
    with pytest.raises(InvalidParameterError, match="broken.py failed: RuntimeError"):
        bakehouse.pyfunc.save_model(str(tmp_path / "b"), python_model=str(broken))
    with pytest.raises(InvalidParameterError, match="not an existing .py file"):
        bakehouse.pyfunc.save_model(str(tmp_path / "c"), python_model=str(tmp_path / "missing.py"))
    assert not any((tmp_path / d).exists() for d in "abc")


def test_code_models_load_both_ways_with_mlflow(tmp_path: Path) -> None:
    mlflow = pytest.importorskip("mlflow")
    ours = tmp_path / "ours"
    bakehouse.pyfunc.save_model(str(ours), python_model=str(_write(tmp_path, "add_one.py", ADD_ONE)))
    theirs_code = _write(
        tmp_path,
        "theirs.py",
        textwrap.dedent(
            """
        import mlflow
        from mlflow.pyfunc import PythonModel

        class Triple(PythonModel):
            def predict(self, context, model_input, params=None):
                return model_input * 3

        mlflow.models.set_model(Triple())
        """
        ),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlflow.pyfunc.save_model(str(tmp_path / "theirs"), python_model=str(theirs_code))
        frame = pd.DataFrame({"x": [2.0]})
        assert mlflow.pyfunc.load_model(str(ours)).predict(frame)["x"].tolist() == [3.0]
        assert bakehouse.pyfunc.load_model(str(tmp_path / "theirs"), allow_pickle=True).predict(frame)[
            "x"
        ].tolist() == [6.0]


def test_log_model_from_code_and_load_by_uri(tmp_tracking_uri: str, tmp_path: Path) -> None:
    code = _write(tmp_path, "add_one.py", ADD_ONE)
    with bakehouse.start_run():
        info = bakehouse.pyfunc.log_model(name="adder", python_model=str(code))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = bakehouse.pyfunc.load_model(info.model_uri, allow_pickle=True)
    assert model.predict(pd.DataFrame({"x": [0.5]}))["x"].tolist() == [1.5]
