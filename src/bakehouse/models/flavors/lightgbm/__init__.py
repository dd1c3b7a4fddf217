"""The LightGBM flavor: a Booster in LightGBM's text format; a scikit-learn-API model (LGBMClassifier, ...)
in skops, as MLflow saves it, loaded with LightGBM's own types trusted (never pickle unless opted into).

Layout is MLflow's (``model.lgb`` or ``model.skops``, ``lightgbm.model_class``, ``loader_module:
mlflow.lightgbm``), so each tool loads the other's models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors import import_library, model_file
from bakehouse.models.flavors.lightgbm.autologging import autolog as autolog
from bakehouse.models.logged import log_flavor_model
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.saving import SaveOptions

FLAVOR_NAME = "lightgbm"
LOADER_MODULE = "mlflow.lightgbm"
BOOSTER_CLASS = "lightgbm.basic.Booster"
#: the types a skops file of a LightGBM scikit-learn model holds; trusted by this flavor (not by the file)
TRUSTED_SKOPS_TYPES = [
    "lightgbm.basic.Booster",
    "lightgbm.sklearn.LGBMClassifier",
    "lightgbm.sklearn.LGBMRegressor",
    "lightgbm.sklearn.LGBMRanker",
    "collections.OrderedDict",
]


def _lgb() -> Any:
    return import_library("lightgbm", "lightgbm")


def save_model(
    lgb_model: Any,
    path: str | Path,
    *,
    serialization_format: str = "skops",
    skops_trusted_types: list[str] | None = None,
    **options: Unpack[SaveOptions],
) -> Model:
    """A Booster goes to ``model.lgb`` (LightGBM's text format); a scikit-learn-API model to
    ``model.skops`` (``serialization_format="cloudpickle"``/``"pickle"`` on request, as in MLflow)."""
    from bakehouse.models.flavors import sklearn as sklearn_flavor
    from bakehouse.models.saving import save_flavor

    lgb = _lgb()
    is_booster = isinstance(lgb_model, lgb.Booster)
    if not is_booster and not isinstance(lgb_model, lgb.LGBMModel):
        raise InvalidParameterError(
            f"Expected a LightGBM Booster or LGBMModel, got {type(lgb_model).__name__}"
        )
    if serialization_format not in sklearn_flavor.SUPPORTED_SERIALIZATION_FORMATS:
        raise InvalidParameterError(f"Unrecognized serialization format {serialization_format!r}")
    trusted = sorted(set(TRUSTED_SKOPS_TYPES) | set(skops_trusted_types or ()))
    if is_booster:
        data_file = "model.lgb"
    else:
        data_file = "model.skops" if serialization_format == "skops" else "model.pkl"

    def write(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        if is_booster:
            lgb_model.save_model(str(model_dir / data_file))
        else:
            sklearn_flavor.serialize(lgb_model, model_dir / data_file, serialization_format, trusted)
        conf = {
            "data": data_file,
            "lgb_version": lgb.__version__,
            "model_class": f"{type(lgb_model).__module__}.{type(lgb_model).__name__}",
            "serialization_format": serialization_format,
            "skops_trusted_types": trusted if serialization_format == "skops" else None,
        }
        return conf, {"data": data_file}

    modules = {"lightgbm", "numpy", "pandas", "scipy"}
    if not is_booster:
        modules |= {"sklearn", "skops" if serialization_format == "skops" else "cloudpickle"}
    return save_flavor(
        path,
        flavor_name=FLAVOR_NAME,
        loader_module=LOADER_MODULE,
        write=write,
        modules=modules,
        predict=LightGBMModelWrapper(lgb_model).predict,
        **options,
    )


def _load_from_dir(
    model_dir: Path, model: Model, *, allow_pickle: bool | None = None, trusted_types: list[str] | None = None
) -> Any:
    conf = model.get_flavor(FLAVOR_NAME)
    path = model_file(model_dir, conf.get("data"))
    if conf.get("model_class", BOOSTER_CLASS) == BOOSTER_CLASS:
        return _lgb().Booster(model_file=str(path))
    from bakehouse.models.flavors import sklearn as sklearn_flavor

    return sklearn_flavor.deserialize(
        path,
        conf.get("serialization_format", "cloudpickle"),
        allow_pickle=allow_pickle,
        trusted_types=TRUSTED_SKOPS_TYPES + list(trusted_types or ()),
    )


def load_model(
    model_uri: str,
    dst_path: str | None = None,
    *,
    allow_pickle: bool | None = None,
    trusted_types: list[str] | None = None,
) -> Any:
    """The Booster or LightGBM scikit-learn model itself."""
    from bakehouse.models.uri import download_flavor_model

    model_dir, model = download_flavor_model(model_uri, dst_path)
    return _load_from_dir(model_dir, model, allow_pickle=allow_pickle, trusted_types=trusted_types)


class LightGBMModelWrapper:
    """MLflow's pyfunc semantics: ``predict`` of the model, with ``params`` as keywords. A tree model treats
    its input as a plain matrix, so the scoring server may hand it a float64 array of the fitted features
    (its one-row fast path: ``numpy_fast_path``, ``_plain``, ``_feature_names``, ``_predict``)."""

    def __init__(self, lgb_model: Any) -> None:
        self.lgb_model = lgb_model
        self.numpy_fast_path = False
        self._plain = True
        self._predict = lgb_model.predict
        names = lgb_model.feature_name() if callable(getattr(lgb_model, "feature_name", None)) else None
        names = names if names is not None else getattr(lgb_model, "feature_name_", None)
        self._feature_names = [str(n) for n in names] if names else None

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        return self.lgb_model.predict(data, **(params or {}))

    def get_raw_model(self) -> Any:
        return self.lgb_model


def load_pyfunc(model_dir: str, model: Model, *, allow_pickle: bool | None = None) -> LightGBMModelWrapper:
    return LightGBMModelWrapper(_load_from_dir(Path(model_dir), model, allow_pickle=allow_pickle))


def log_model(lgb_model: Any, name: str | None = None, **kwargs: Any) -> ModelInfo:
    """Save the model as a new logged model; keywords as :func:`save_model` and MLflow's ``log_model``."""
    return log_flavor_model(save_model, lgb_model, name, **kwargs)
