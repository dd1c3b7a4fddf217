"""The CatBoost flavor: CatBoost's own ``cbm`` file (or its JSON format), in MLflow's layout
(``model.cb``, ``catboost.model_type``, ``save_format``, ``loader_module: mlflow.catboost``).

``model_type`` must be one of CatBoost's model classes; it is rebuilt empty and filled by ``load_model``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors import ModelLoadRefusedError, import_library, model_file
from bakehouse.models.logged import log_flavor_model
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.saving import SaveOptions

FLAVOR_NAME = "catboost"
LOADER_MODULE = "mlflow.catboost"
DATA_FILE = "model.cb"
MODEL_TYPES = ("CatBoost", "CatBoostClassifier", "CatBoostRegressor", "CatBoostRanker")
SAVE_FORMATS = ("cbm", "json")


def _catboost() -> Any:
    return import_library("catboost", "catboost")


def save_model(
    cb_model: Any, path: str | Path, *, save_format: str = "cbm", **options: Unpack[SaveOptions]
) -> Model:
    """Save with ``cb_model.save_model(format=save_format)``."""
    from bakehouse.models.saving import save_flavor

    catboost = _catboost()
    model_type = type(cb_model).__name__
    if model_type not in MODEL_TYPES or not isinstance(cb_model, catboost.CatBoost):
        raise InvalidParameterError(f"Expected a CatBoost model, got {type(cb_model).__name__}")
    if save_format not in SAVE_FORMATS:
        raise InvalidParameterError(f"save_format must be one of {list(SAVE_FORMATS)}, not {save_format!r}")

    def write(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        cb_model.save_model(str(model_dir / DATA_FILE), format=save_format)
        conf = {
            "catboost_version": catboost.__version__,
            "data": DATA_FILE,
            "model_type": model_type,
            "save_format": save_format,
        }
        return conf, {"data": DATA_FILE}

    return save_flavor(
        path,
        flavor_name=FLAVOR_NAME,
        loader_module=LOADER_MODULE,
        write=write,
        modules={"catboost", "numpy", "pandas", "scipy"},
        predict=CatBoostModelWrapper(cb_model).predict,
        **options,
    )


def _load_from_dir(model_dir: Path, model: Model) -> Any:
    conf = model.get_flavor(FLAVOR_NAME)
    model_type = conf.get("model_type", "CatBoost")
    save_format = conf.get("save_format", "cbm")
    if model_type not in MODEL_TYPES or save_format not in SAVE_FORMATS:
        raise ModelLoadRefusedError(
            f"Refusing to load a CatBoost model of type {model_type!r} ({save_format!r})"
        )
    loaded = getattr(_catboost(), model_type)()
    loaded.load_model(str(model_file(model_dir, conf.get("data", DATA_FILE))), format=save_format)
    return loaded


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The CatBoost model itself, of the class it was saved as."""
    from bakehouse.models.uri import download_flavor_model

    return _load_from_dir(*download_flavor_model(model_uri, dst_path))


class CatBoostModelWrapper:
    """MLflow's pyfunc semantics: ``cb_model.predict(data)``. The scoring server's one-row fast path may hand
    it a float64 array of the fitted features (``numpy_fast_path``, ``_plain``, ``_feature_names``)."""

    def __init__(self, cb_model: Any) -> None:
        self.cb_model = cb_model
        self.numpy_fast_path = False
        self._plain = not getattr(cb_model, "get_cat_feature_indices", list)()  # categorical: by name only
        self._predict = cb_model.predict
        names = getattr(cb_model, "feature_names_", None)
        self._feature_names = [str(n) for n in names] if names else None

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.cb_model.predict(data)

    def get_raw_model(self) -> Any:
        return self.cb_model


def load_pyfunc(model_dir: str, model: Model, *, allow_pickle: bool | None = None) -> CatBoostModelWrapper:
    return CatBoostModelWrapper(_load_from_dir(Path(model_dir), model))


def log_model(cb_model: Any, name: str | None = None, **kwargs: Any) -> ModelInfo:
    """Save the model as a new logged model; keywords as :func:`save_model` and MLflow's ``log_model``."""
    return log_flavor_model(save_model, cb_model, name, **kwargs)
