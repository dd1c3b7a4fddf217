"""The XGBoost flavor: a Booster or a scikit-learn-API model in XGBoost's own UBJSON (or JSON) file.

Layout is MLflow's (``model.ubj``, ``xgboost.model_class``, ``model_format``, ``loader_module: mlflow.xgboost``),
so each tool loads the other's models. Loading never imports a class named by the file: ``model_class`` must
be one of XGBoost's own model classes, which are rebuilt empty and filled by ``load_model`` (no pickle).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors import ModelLoadRefusedError, import_library, model_file
from bakehouse.models.flavors.small_batches import is_small_batch
from bakehouse.models.flavors.xgboost.autologging import autolog as autolog
from bakehouse.models.logged import log_flavor_model
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.saving import SaveOptions

FLAVOR_NAME = "xgboost"
LOADER_MODULE = "mlflow.xgboost"
MODEL_FORMATS = ("ubj", "json")
#: the classes a saved model may name; anything else is refused before any import
MODEL_CLASSES = {
    f"xgboost.{module}.{name}": name
    for module, names in (
        ("core", ("Booster",)),
        ("sklearn", ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor")),
    )
    for name in names
}


def _xgb() -> Any:
    return import_library("xgboost", "xgboost")


def save_model(
    xgb_model: Any, path: str | Path, *, model_format: str = "ubj", **options: Unpack[SaveOptions]
) -> Model:
    """Save with ``xgb_model.save_model`` in XGBoost's own format (``ubj`` by default, or ``json``)."""
    from bakehouse.models.saving import save_flavor

    xgb = _xgb()
    if model_format not in MODEL_FORMATS:
        raise InvalidParameterError(
            f"model_format must be one of {list(MODEL_FORMATS)}, not {model_format!r}"
        )
    model_class = f"{type(xgb_model).__module__}.{type(xgb_model).__name__}"
    if model_class not in MODEL_CLASSES:
        raise InvalidParameterError(f"Expected an XGBoost Booster or XGBModel, got {model_class}")
    data_file = f"model.{model_format}"

    def write(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        xgb_model.save_model(str(model_dir / data_file))
        conf = {
            "data": data_file,
            "model_class": model_class,
            "model_format": model_format,
            "xgb_version": xgb.__version__,
        }
        return conf, {"data": data_file}

    return save_flavor(
        path,
        flavor_name=FLAVOR_NAME,
        loader_module=LOADER_MODULE,
        write=write,
        modules={"xgboost", "numpy", "pandas", "scipy"}
        | ({"sklearn"} if model_class != "xgboost.core.Booster" else set()),
        predict=XGBoostModelWrapper(xgb_model).predict,
        **options,
    )


def _load_from_dir(model_dir: Path, model: Model) -> Any:
    xgb = _xgb()
    conf = model.get_flavor(FLAVOR_NAME)
    model_class = conf.get("model_class", "xgboost.core.Booster")
    class_name = MODEL_CLASSES.get(model_class)
    if class_name is None:
        raise ModelLoadRefusedError(f"Refusing to load an XGBoost model of class {model_class!r}")
    loaded = getattr(xgb, class_name)()
    loaded.load_model(str(model_file(model_dir, conf.get("data"))))
    return loaded


def load_model(model_uri: str, dst_path: str | None = None) -> Any:
    """The XGBoost model itself (a Booster or the scikit-learn-API class it was saved as)."""
    from bakehouse.models.uri import download_flavor_model

    return _load_from_dir(*download_flavor_model(model_uri, dst_path))


class XGBoostModelWrapper:
    """MLflow's pyfunc semantics: a Booster predicts on a DMatrix of the input, others on the input;
    ``params`` go to ``predict`` when it takes them.

    Served (``prepare_for_serving``), small batches go to a one-thread copy of the model (see
    :mod:`bakehouse.models.flavors.small_batches`), and the scoring server's one-row fast path may hand
    ``_predict`` a float64 array of the fitted features (``numpy_fast_path``, ``_plain``, ``_feature_names``).
    """

    def __init__(self, xgb_model: Any) -> None:
        self.xgb_model = xgb_model
        self._booster = type(xgb_model).__name__ == "Booster"
        self._single_thread: Any = None
        self.numpy_fast_path = False
        self._plain = False
        self._feature_names: list[str] | None = None

    def prepare_for_serving(self) -> None:
        """Keep a one-thread copy for small batches, and describe the model for the numpy fast path."""
        import copy

        booster = self.xgb_model if self._booster else self.xgb_model.get_booster()
        single = copy.deepcopy(self.xgb_model)
        if self._booster:
            single.set_param({"nthread": 1})
        else:
            single.set_params(n_jobs=1)
        self._single_thread = single
        names = booster.feature_names
        self._feature_names = [str(n) for n in names] if names else None
        self._plain = not any(t == "c" for t in booster.feature_types or ())  # categorical: by name only

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self._predict(data, params)

    def _predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        model = self.xgb_model
        small = self._single_thread is not None and is_small_batch(data)
        if small:
            model = self._single_thread
        if self._booster:
            return model.predict(_xgb().DMatrix(data, nthread=1 if small else None), **(params or {}))
        return model.predict(data, **(params or {}))

    def get_raw_model(self) -> Any:
        return self.xgb_model


def load_pyfunc(model_dir: str, model: Model, *, allow_pickle: bool | None = None) -> XGBoostModelWrapper:
    return XGBoostModelWrapper(_load_from_dir(Path(model_dir), model))


def log_model(xgb_model: Any, name: str | None = None, **kwargs: Any) -> ModelInfo:
    """Save the model as a new logged model; keywords as :func:`save_model` and MLflow's ``log_model``."""
    return log_flavor_model(save_model, xgb_model, name, **kwargs)
