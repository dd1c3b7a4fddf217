"""A model file never chooses code: unknown loader modules and unopted pickles are refused, nothing runs."""

from __future__ import annotations

import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

import bakehouse.pyfunc
import bakehouse.sklearn
from bakehouse.models.flavors import ModelLoadRefusedError
from bakehouse.models.mlmodel import Model
from bakehouse.models.trust import PickleWarning


def _copy_model(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_unknown_loader_module_is_refused_and_never_imported(
    sklearn_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "imported.marker"
    evil_dir = tmp_path / "site"
    evil_dir.mkdir()
    (evil_dir / "evil_loader.py").write_text(
        f"open({str(marker)!r}, 'w').write('pwned')\ndef _load_pyfunc(path):\n    return None\n"
    )
    monkeypatch.syspath_prepend(str(evil_dir))
    model_dir = _copy_model(sklearn_model_dir, tmp_path / "model")
    meta = Model.load(model_dir)
    meta.flavors["python_function"]["loader_module"] = "evil_loader"
    meta.save(model_dir)

    with pytest.raises(
        ModelLoadRefusedError, match="Refusing to load a model whose loader_module is 'evil_loader'"
    ):
        bakehouse.pyfunc.load_model(str(model_dir))
    assert not marker.exists()
    assert "evil_loader" not in sys.modules

    meta.flavors["python_function"]["loader_module"] = (
        "mlflow.evil_loader"  # looks official, is not registered
    )
    meta.save(model_dir)
    with pytest.raises(ModelLoadRefusedError, match="not a registered flavor"):
        bakehouse.pyfunc.load_model(str(model_dir))
    assert not marker.exists()


class _Boom:
    """Unpickling this writes a marker file: proof that code ran."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.write_text, (Path(self.marker), "pwned"))


def test_pickled_sklearn_model_needs_opt_in_and_runs_nothing_without_it(
    sklearn_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "unpickled.marker"
    model_dir = _copy_model(sklearn_model_dir, tmp_path / "model")
    (model_dir / "model.pkl").write_bytes(pickle.dumps(_Boom(str(marker))))
    meta = Model.load(model_dir)
    meta.flavors["sklearn"].update(pickled_model="model.pkl", serialization_format="pickle")
    meta.flavors["python_function"]["model_path"] = "model.pkl"
    meta.save(model_dir)

    with pytest.raises(ModelLoadRefusedError, match="Refusing to unpickle the scikit-learn model model.pkl"):
        bakehouse.pyfunc.load_model(str(model_dir))
    with pytest.raises(ModelLoadRefusedError, match="allow_pickle=True"):
        bakehouse.sklearn.load_model(str(model_dir))
    assert not marker.exists()

    # the explicit opt-in loads it (and so runs the payload: that is what pickle means) with a warning
    monkeypatch.setenv("BAKEHOUSE_ALLOW_PICKLE", "true")
    with pytest.warns(PickleWarning, match="only do this for models you trust"):
        bakehouse.sklearn.load_model(str(model_dir))
    assert marker.read_text() == "pwned"


def test_pickle_format_round_trips_with_explicit_opt_in(tmp_path: Path, iris: Any, iris_lr: Any) -> None:
    path = tmp_path / "pkl"
    bakehouse.sklearn.save_model(iris_lr, path, serialization_format="cloudpickle")
    meta = Model.load(path)
    assert meta.flavors["sklearn"]["serialization_format"] == "cloudpickle"
    assert (path / "model.pkl").is_file()
    with pytest.raises(ModelLoadRefusedError):
        bakehouse.pyfunc.load_model(str(path))
    with pytest.warns(PickleWarning):
        model = bakehouse.pyfunc.load_model(str(path), allow_pickle=True)
    assert model.predict(iris[1]).tolist() == iris_lr.predict(iris[1]).tolist()


def _double(x: Any) -> Any:
    return x * 2


def test_skops_file_with_untrusted_types_is_refused(tmp_path: Path, iris: Any) -> None:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.tree import DecisionTreeClassifier

    X_train, X_test, y_train, _ = iris
    pipe = make_pipeline(FunctionTransformer(_double), DecisionTreeClassifier(random_state=0)).fit(
        X_train, y_train
    )
    path = tmp_path / "pipe"
    bakehouse.sklearn.save_model(pipe, path)
    with pytest.raises(
        ModelLoadRefusedError,
        match=r"types outside the trusted set: \['(tests\.unit\.models\.)?test_loading_safety\._double'\]",
    ):
        bakehouse.pyfunc.load_model(str(path))
    # sklearn's own internal types (the tree) are trusted; the custom function only when the caller says so
    trusted = [f"{__name__}._double"]
    loaded = bakehouse.sklearn.load_model(str(path), trusted_types=trusted)
    assert loaded.predict(X_test).tolist() == pipe.predict(X_test).tolist()


def test_a_function_of_a_trusted_library_is_not_trusted_by_its_module(tmp_path: Path, iris: Any) -> None:
    """numpy's classes are trusted; numpy.save, which would write files when the model predicts, is not."""
    import numpy as np
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer
    from sklearn.tree import DecisionTreeClassifier

    X_train, X_test, y_train, _ = iris
    fitted = make_pipeline(FunctionTransformer(np.log1p), DecisionTreeClassifier(random_state=0))
    fitted.fit(X_train, y_train)
    bakehouse.sklearn.save_model(fitted, tmp_path / "log1p")
    assert bakehouse.pyfunc.load_model(str(tmp_path / "log1p")).predict(X_test).tolist() == (
        fitted.predict(X_test).tolist()
    )
    writer = make_pipeline(FunctionTransformer(np.save, kw_args={"arr": [1]}), DecisionTreeClassifier())
    bakehouse.sklearn.save_model(writer, tmp_path / "writer")
    with pytest.raises(ModelLoadRefusedError, match=r"types outside the trusted set: \['numpy.save'\]"):
        bakehouse.pyfunc.load_model(str(tmp_path / "writer"))


def test_custom_python_model_needs_opt_in(tmp_path: Path) -> None:
    marker = tmp_path / "custom.marker"

    class Model_(bakehouse.pyfunc.PythonModel):
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return model_input

    path = tmp_path / "custom"
    bakehouse.pyfunc.save_model(path, Model_())
    (path / "python_model.pkl").write_bytes(pickle.dumps(_Boom(str(marker))))
    with pytest.raises(ModelLoadRefusedError, match="Refusing to unpickle a custom Python model"):
        bakehouse.pyfunc.load_model(str(path))
    assert not marker.exists()


def test_paths_in_mlmodel_cannot_escape_the_model_dir(sklearn_model_dir: Path, tmp_path: Path) -> None:
    model_dir = _copy_model(sklearn_model_dir, tmp_path / "model")
    meta = Model.load(model_dir)
    meta.flavors["sklearn"]["pickled_model"] = "../../etc/passwd"
    meta.save(model_dir)
    with pytest.raises(ModelLoadRefusedError, match="points outside the model directory"):
        bakehouse.pyfunc.load_model(str(model_dir))
