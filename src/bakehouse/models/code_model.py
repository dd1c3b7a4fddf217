"""Models from code (MLflow 3's recommended form of a custom model): a Python file that builds the model and
hands it to ``set_model``; the file itself is what gets saved, so nothing is pickled.

Running that file is running the model author's code, exactly as unpickling would be: loading a code model
therefore needs the same "I trust this model" switch (``allow_pickle=True`` or ``BAKEHOUSE_ALLOW_PICKLE``).
Saving runs the file too (to infer the signature from an input example), but that is the user's own file.
Files written for MLflow call ``mlflow.models.set_model``; that works as well when mlflow is installed, and
a file calling ``bakehouse.models.set_model`` loads in MLflow too.
"""

from __future__ import annotations

import importlib.util
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

from bakehouse.errors import InvalidParameterError

#: MLflow's pyfunc loader for code models, written in MLmodel so that MLflow loads ours too
CODE_MODEL_LOADER = "mlflow.pyfunc.loaders.code_model"

_slot = threading.local()
_lock = threading.RLock()  # one code file runs at a time (a file may load another model from code)


def set_model(model: Any) -> None:
    """Called by a model's code file: this object is the model (a PythonModel, or a function of the input)."""
    if model is None:
        raise InvalidParameterError("set_model() needs a model, got None")
    _slot.model = model
    mlflow_slot = _mlflow_model_module()
    if mlflow_slot is not None:  # MLflow is loading this file: its loader reads its own slot
        mlflow_slot.__mlflow_model__ = model


def load_code_model(code_path: str | Path) -> Any:
    """Run ``code_path`` as a fresh module and return what it passed to ``set_model``."""
    path = Path(code_path)
    if not path.is_file():
        raise InvalidParameterError(f"The model code file {path} does not exist")
    with _lock:
        _slot.model = None
        mlflow_slot = _mlflow_model_module()
        if mlflow_slot is not None:
            mlflow_slot.__mlflow_model__ = None
        name = f"bakehouse_code_model_{uuid.uuid4().hex}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise InvalidParameterError(f"{path} is not a Python file")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # classes defined in the file resolve their module (pickling, inspection)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise InvalidParameterError(f"Running the model code file {path.name} failed: {exc!r}") from exc
        model = getattr(_slot, "model", None)
        mlflow_slot = _mlflow_model_module()  # the file may have imported mlflow just now
        if model is None and mlflow_slot is not None:
            model = getattr(mlflow_slot, "__mlflow_model__", None)
        _slot.model = None
    if model is None:
        raise InvalidParameterError(
            f"The model code file {path.name} never called set_model(...) "
            "(bakehouse.models.set_model, or mlflow.models.set_model)"
        )
    return model


def _mlflow_model_module() -> Any:
    return sys.modules.get("mlflow.models.model")


class FunctionModel:
    """A plain function given to ``set_model``: MLflow wraps it the same way (predict(model_input))."""

    def __init__(self, function: Any) -> None:
        self.function = function

    def load_context(self, context: Any) -> None:
        return None

    def predict(self, model_input: Any, params: Any = None) -> Any:
        return self.function(model_input)


def as_python_model(model: Any) -> Any:
    if callable(getattr(model, "predict", None)):
        return model
    if callable(model):
        return FunctionModel(model)
    raise InvalidParameterError(
        f"set_model() got a {type(model).__name__}: a model needs predict(...) or must be a function"
    )
