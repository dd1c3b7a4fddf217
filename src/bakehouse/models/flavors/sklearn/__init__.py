"""The scikit-learn flavor: skops by default (no pickle needed to load), pickle/cloudpickle on opt-in.

Saved models are MLflow's format exactly (``model.skops``, ``serialization_format: skops``,
``loader_module: mlflow.sklearn``), so ``mlflow.sklearn.load_model`` reads them and we read MLflow's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Unpack

from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors import ModelLoadRefusedError, model_file
from bakehouse.models.flavors.sklearn.autologging import autolog  # as mlflow.sklearn.autolog()
from bakehouse.models.logged import log_flavor_model
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.saving import SaveOptions
from bakehouse.models.trust import CLI_FLAG, pickle_allowed, require_pickle_opt_in, untrusted_skops_types

__all__ = [
    "FLAVOR_NAME",
    "LOADER_MODULE",
    "SERIALIZATION_FORMAT_CLOUDPICKLE",
    "SERIALIZATION_FORMAT_PICKLE",
    "SERIALIZATION_FORMAT_SKOPS",
    "SUPPORTED_SERIALIZATION_FORMATS",
    "SklearnModelWrapper",
    "autolog",
    "deserialize",
    "load_model",
    "load_pyfunc",
    "log_model",
    "save_model",
    "serialize",
]

logger = logging.getLogger(__name__)

FLAVOR_NAME = "sklearn"
LOADER_MODULE = "mlflow.sklearn"
SERIALIZATION_FORMAT_SKOPS = "skops"
SERIALIZATION_FORMAT_PICKLE = "pickle"
SERIALIZATION_FORMAT_CLOUDPICKLE = "cloudpickle"
SUPPORTED_SERIALIZATION_FORMATS = (
    SERIALIZATION_FORMAT_SKOPS,
    SERIALIZATION_FORMAT_PICKLE,
    SERIALIZATION_FORMAT_CLOUDPICKLE,
)
_DATA_FILE = {
    SERIALIZATION_FORMAT_SKOPS: "model.skops",
    SERIALIZATION_FORMAT_PICKLE: "model.pkl",
    SERIALIZATION_FORMAT_CLOUDPICKLE: "model.pkl",
}
_FLAVOR_MODULES = ("sklearn", "numpy", "scipy", "pandas")
#: estimators that treat a DataFrame purely as a numeric matrix (no column selection by name)
_PLAIN_ESTIMATOR_MODULES = (
    "sklearn.linear_model",
    "sklearn.ensemble",
    "sklearn.tree",
    "sklearn.neighbors",
    "sklearn.svm",
    "sklearn.naive_bayes",
    "sklearn.discriminant_analysis",
    "sklearn.neural_network",
)


def save_model(
    sk_model: Any,
    path: str | Path,
    *,
    serialization_format: str = SERIALIZATION_FORMAT_SKOPS,
    skops_trusted_types: list[str] | None = None,
    pyfunc_predict_fn: str = "predict",
    **options: Unpack[SaveOptions],
) -> Model:
    """Save ``sk_model`` as an MLflow-format model directory at ``path``."""
    from bakehouse.models.environment import modules_of_object
    from bakehouse.models.saving import save_flavor

    if serialization_format not in SUPPORTED_SERIALIZATION_FORMATS:
        raise InvalidParameterError(
            f"Unrecognized serialization format {serialization_format!r}; use one of {list(SUPPORTED_SERIALIZATION_FORMATS)}"
        )
    if not callable(getattr(sk_model, pyfunc_predict_fn, None)):
        raise InvalidParameterError(
            f"The model has no method {pyfunc_predict_fn!r} to use as pyfunc_predict_fn"
        )
    import sklearn  # the caller has it: they are saving a scikit-learn model

    data_file = _DATA_FILE[serialization_format]

    def write(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        serialize(sk_model, model_dir / data_file, serialization_format, skops_trusted_types)
        flavor = {
            "pickled_model": data_file,
            "serialization_format": serialization_format,
            "sklearn_version": sklearn.__version__,
            "skops_trusted_types": skops_trusted_types,
        }
        return flavor, {"model_path": data_file, "predict_fn": pyfunc_predict_fn}

    modules = set(_FLAVOR_MODULES) | modules_of_object(sk_model)
    if serialization_format == SERIALIZATION_FORMAT_SKOPS:
        modules.add("skops")
    elif serialization_format == SERIALIZATION_FORMAT_CLOUDPICKLE:
        modules.add("cloudpickle")
    return save_flavor(
        path,
        flavor_name=FLAVOR_NAME,
        loader_module=LOADER_MODULE,
        write=write,
        modules=modules,
        predict=getattr(sk_model, pyfunc_predict_fn),
        **options,
    )


def serialize(sk_model: Any, target: Path, serialization_format: str, trusted: list[str] | None) -> None:
    if serialization_format == SERIALIZATION_FORMAT_SKOPS:
        import skops.io as sio  # only when saving in skops format

        try:
            sio.dump(sk_model, target)
        except Exception as e:
            raise InvalidParameterError(
                "The model could not be saved in the skops format (skops cannot store custom functions or "
                "classes that are not defined at module level). Use serialization_format='cloudpickle' "
                f"if you accept that loading it will need allow_pickle=True. Cause: {e}"
            ) from e
        return
    if serialization_format == SERIALIZATION_FORMAT_CLOUDPICKLE:
        import cloudpickle as dumper  # only for the opt-in pickle formats
    else:
        import pickle as dumper
    with open(target, "wb") as out:
        dumper.dump(sk_model, out)


def deserialize(
    path: Path, serialization_format: str, *, allow_pickle: bool | None, trusted_types: list[str] | None
) -> Any:
    if serialization_format == SERIALIZATION_FORMAT_SKOPS:
        import skops.io as sio  # only when loading skops files

        untrusted = list(sio.get_untrusted_types(file=path))
        blocked = untrusted_skops_types(untrusted, trusted_types)
        if blocked and not pickle_allowed(allow_pickle):
            refusal = f"Refusing to load {path.name}: it contains types outside the trusted set: {blocked}. "
            raise ModelLoadRefusedError(
                refusal + "Pass trusted_types=[...] to load_model if you trust them (or allow_pickle=True).",
                cli_message=refusal + f"If you trust them, add {CLI_FLAG}.",
            )
        return sio.load(path, trusted=untrusted)
    if serialization_format not in SUPPORTED_SERIALIZATION_FORMATS:
        raise InvalidParameterError(f"Unrecognized serialization format {serialization_format!r} in MLmodel")
    require_pickle_opt_in(allow_pickle, f"the scikit-learn model {path.name} ({serialization_format})")
    with open(path, "rb") as f:
        if serialization_format == SERIALIZATION_FORMAT_CLOUDPICKLE:
            import cloudpickle  # only for the opt-in pickle formats

            return cloudpickle.load(f)
        import pickle

        return pickle.load(f)


def _load_from_dir(
    model_dir: str | Path, model: Model, *, allow_pickle: bool | None, trusted_types: list[str] | None = None
) -> Any:
    conf = model.get_flavor(FLAVOR_NAME) if FLAVOR_NAME in model.flavors else {}
    pyfunc = model.flavors.get("python_function", {})
    path = model_file(model_dir, conf.get("pickled_model") or pyfunc.get("model_path"))
    fmt = conf.get("serialization_format", SERIALIZATION_FORMAT_PICKLE)
    return deserialize(path, fmt, allow_pickle=allow_pickle, trusted_types=trusted_types)


def load_model(
    model_uri: str,
    *,
    dst_path: str | None = None,
    allow_pickle: bool | None = None,
    trusted_types: list[str] | None = None,
) -> Any:
    """Load the scikit-learn estimator itself from a model URI."""
    from bakehouse.models.uri import download_model

    model_dir = download_model(model_uri, dst_path)
    return _load_from_dir(
        model_dir, Model.load(model_dir), allow_pickle=allow_pickle, trusted_types=trusted_types
    )


class SklearnModelWrapper:
    """The pyfunc face of an estimator: ``predict`` calls the configured ``predict_fn``."""

    def __init__(self, sk_model: Any, predict_fn: str = "predict") -> None:
        self.sk_model = sk_model
        self.predict_fn = predict_fn
        self._predict = getattr(sk_model, predict_fn)
        #: set by the scoring server: hand plain numeric estimators a numpy array instead of a DataFrame
        self.numpy_fast_path = False
        self._plain = type(sk_model).__module__.startswith(_PLAIN_ESTIMATOR_MODULES)
        names = getattr(sk_model, "feature_names_in_", None)
        self._feature_names = [str(n) for n in names] if names is not None else None

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        if self.numpy_fast_path and self._plain and hasattr(data, "columns"):
            data = self._as_array(data)
        return self._predict(data)

    def _as_array(self, frame: Any) -> Any:
        """A DataFrame whose columns are exactly the fitted features, all one numeric dtype -> its array.

        The estimator would convert it the same way; skipping pandas' checks saves most of a one-row
        prediction. The server filters sklearn's "X does not have valid feature names" warning.
        """
        if self._feature_names is not None and [str(c) for c in frame.columns] != self._feature_names:
            return frame
        dtypes = set(frame.dtypes)
        if len(dtypes) != 1 or getattr(next(iter(dtypes)), "kind", "O") not in "fiub":
            return frame
        return frame.to_numpy()

    def get_raw_model(self) -> Any:
        return self.sk_model


def load_pyfunc(model_dir: str, model: Model, *, allow_pickle: bool | None = None) -> SklearnModelWrapper:
    predict_fn = model.flavors.get("python_function", {}).get("predict_fn") or "predict"
    if not isinstance(predict_fn, str) or predict_fn.startswith("_"):
        raise ModelLoadRefusedError(f"predict_fn {predict_fn!r} is not a public method name")
    estimator = _load_from_dir(model_dir, model, allow_pickle=allow_pickle)
    if not callable(getattr(estimator, predict_fn, None)):
        raise InvalidParameterError(f"The scikit-learn model has no method {predict_fn!r}")
    return SklearnModelWrapper(estimator, predict_fn)


def log_model(sk_model: Any, name: str | None = None, **kwargs: Any) -> ModelInfo:
    """Save the estimator and record it as a logged model (MLflow 3: ``models:/<model_id>``); keywords are
    :func:`save_model`'s and :func:`bakehouse.models.logged.log_flavor_model`'s."""
    return log_flavor_model(save_model, sk_model, name, **kwargs)
