"""The Keras 3 flavor: the native ``.keras`` file (a zip of JSON config and HDF5 weights, no pickle),
loaded with Keras' ``safe_mode`` on (Lambda layers holding Python code are refused).

Layout is MLflow's (``data/model.keras``, ``data/keras_module.txt``, ``keras.keras_backend``, ``loader_module:
mlflow.keras``). Keras reads its backend from ``KERAS_BACKEND`` (or keras.json) when first imported; when
neither says, Bakehouse picks the backend the model was saved with if installed, else an installed one. As in
MLflow, no signature is inferred from an input example.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any, Unpack

from bakehouse import settings
from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors import import_library, model_file
from bakehouse.models.flavors.keras.autologging import autolog as autolog
from bakehouse.models.flavors.keras.traced import TracedBatches, traceable
from bakehouse.models.flavors.small_batches import serve_small_torch_model_on_one_thread
from bakehouse.models.logged import log_flavor_model
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.saving import SaveOptions

FLAVOR_NAME = "keras"
LOADER_MODULE = "mlflow.keras"
DATA_DIR = "data"
MODEL_FILE = "model.keras"
MODULE_SPEC_FILE = "keras_module.txt"


def _keras(backend: str | None = None) -> Any:
    """Keras, on ``backend`` (else an installed one) when neither ``KERAS_BACKEND`` nor keras.json names an
    installed backend: Keras' default, TensorFlow, is often not installed (torch is, here), and Keras writes
    that default into keras.json on its first import."""
    if "keras" not in sys.modules and settings.env("KERAS_BACKEND") is None:
        installed = [b for b in ("tensorflow", "jax", "torch") if importlib.util.find_spec(b) is not None]
        configured = _configured_backend()
        if configured not in installed:
            chosen = backend if backend in installed else (installed[0] if installed else None)
            if chosen:
                os.environ["KERAS_BACKEND"] = chosen  # Keras' own variable, read once when it is imported
    return import_library("keras", "keras")


def _configured_backend() -> str | None:
    import json

    home = settings.env("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as f:
            value = json.load(f).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return value if isinstance(value, str) else None


def save_model(keras_model: Any, path: str | Path, **options: Unpack[SaveOptions]) -> Model:
    """Save with ``keras_model.save(...model.keras)``."""
    from bakehouse.models.saving import save_flavor

    keras = _keras()
    if not isinstance(keras_model, keras.Model):
        raise InvalidParameterError(f"Expected a keras.Model, got {type(keras_model).__name__}")

    def write(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        (model_dir / DATA_DIR).mkdir()
        keras_model.save(str(model_dir / DATA_DIR / MODEL_FILE))
        (model_dir / DATA_DIR / MODULE_SPEC_FILE).write_text("keras", encoding="utf-8")
        conf = {
            "data": DATA_DIR,
            "keras_backend": keras.backend.backend(),
            "keras_version": keras.__version__,
            "save_exported_model": False,
        }
        return conf, {}

    if options.get("signature") is None:
        options["signature"] = False  # MLflow's keras flavor infers none from the example
    backend_module = {"torch": "torch", "jax": "jax", "tensorflow": "tensorflow"}.get(keras.backend.backend())
    return save_flavor(
        path,
        flavor_name=FLAVOR_NAME,
        loader_module=LOADER_MODULE,
        write=write,
        modules={"keras", "numpy", *([backend_module] if backend_module else [])},
        **options,
    )


def _load_from_dir(model_dir: Path, model: Model) -> Any:
    conf = model.get_flavor(FLAVOR_NAME)
    if conf.get("save_exported_model"):
        raise InvalidParameterError(
            "This Keras model was saved as a TensorFlow SavedModel (save_exported_model=True), which "
            "Bakehouse does not load; save it in the .keras format"
        )
    keras = _keras(conf.get("keras_backend"))
    path = model_file(model_dir, conf.get("data", DATA_DIR))
    if path.is_dir():
        path = path / MODEL_FILE
    return keras.saving.load_model(str(path), safe_mode=True)


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The ``keras.Model`` itself."""
    from bakehouse.models.uri import download_flavor_model

    return _load_from_dir(*download_flavor_model(model_uri, dst_path))


class KerasModelWrapper:
    """MLflow's pyfunc semantics: a DataFrame gives a DataFrame of outputs (same index), arrays give an
    array. One ``predict_on_batch`` (no ``Model.predict`` loop, no gradient tape: ~15x faster for a row).

    Served (``prepare_for_serving``) on the torch backend, small arrays go through a per-shape torch trace
    (:mod:`bakehouse.models.flavors.keras.traced`) and a small model gets one torch thread."""

    def __init__(self, keras_model: Any) -> None:
        self.keras_model = keras_model
        self._traced: TracedBatches | None = None

    def prepare_for_serving(self) -> None:
        """Trace small batches and use one torch thread for a small model, on the torch backend only."""
        if traceable(self.keras_model):
            self._traced = TracedBatches(self.keras_model)
            serve_small_torch_model_on_one_thread(int(self.keras_model.count_params()))

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np
        import pandas as pd

        if isinstance(data, pd.DataFrame):
            values = self._call(data.to_numpy())
            return pd.DataFrame(values, index=data.index)
        if not isinstance(data, (np.ndarray, list, tuple, dict)):
            raise InvalidParameterError(
                f"Keras models take a DataFrame, array, list or dict, not {type(data)}"
            )
        return self._call(data)

    def _call(self, data: Any) -> Any:
        if self._traced is not None:
            result = self._traced.predict(data)
            if result is not None:
                return result
        return self.keras_model.predict_on_batch(data)

    def get_raw_model(self) -> Any:
        return self.keras_model


def load_pyfunc(model_dir: str, model: Model, *, allow_pickle: bool | None = None) -> KerasModelWrapper:
    return KerasModelWrapper(_load_from_dir(Path(model_dir), model))


def log_model(keras_model: Any, name: str | None = None, **kwargs: Any) -> ModelInfo:
    """Save the model as a new logged model; keywords as :func:`save_model` and MLflow's ``log_model``."""
    return log_flavor_model(save_model, keras_model, name, **kwargs)
