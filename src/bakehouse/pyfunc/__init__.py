"""The generic model interface: load any flavor as something with ``predict(data, params=None)``.

``load_model`` reads the MLmodel, maps ``python_function.loader_module`` through the flavor allowlist
(:mod:`bakehouse.models.flavors`), loads the flavor, and wraps it so every ``predict`` is checked against
the signature. Nothing a model file says can make us import an arbitrary module.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bakehouse.errors import InvalidParameterError
from bakehouse.models.enforcement import enforce_params, enforce_schema
from bakehouse.models.flavors import ModelLoadRefusedError, flavor_for_loader_module
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.signature import ModelSignature
from bakehouse.pyfunc.model import PythonModel, PythonModelContext

FLAVOR_NAME = "python_function"

__all__ = [
    "FLAVOR_NAME",
    "ModelLoadRefusedError",
    "PyFuncModel",
    "PythonModel",
    "PythonModelContext",
    "get_model_info",
    "load_model",
    "log_model",
    "save_model",
    "spark_udf",
]


class PyFuncModel:
    """A loaded model: ``predict`` enforces the signature, then calls the flavor's implementation."""

    def __init__(self, model_meta: Model, model_impl: Any, model_dir: str) -> None:
        self._model_meta = model_meta
        self._model_impl = model_impl
        self.model_dir = model_dir
        signature = model_meta.signature
        self._input_schema = signature.inputs if signature is not None else None
        self._params_schema = signature.params if signature is not None else None

    @property
    def metadata(self) -> Model:
        return self._model_meta

    @property
    def loader_module(self) -> str:
        return str(self._model_meta.flavors[FLAVOR_NAME]["loader_module"])

    @property
    def model_id(self) -> str | None:
        return self._model_meta.model_id

    def prepare_input(self, data: Any) -> Any:
        """The signature-enforced form of ``data`` (what the flavor receives)."""
        if self._input_schema is None:
            return data
        return enforce_schema(data, self._input_schema)

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        data = self.prepare_input(data)
        return self._model_impl.predict(data, enforce_params(params, self._params_schema))

    def unwrap_python_model(self) -> Any:
        raw = getattr(self._model_impl, "python_model", None)
        if raw is None:
            raise InvalidParameterError("This model is not a custom PythonModel")
        return raw

    def get_raw_model(self) -> Any:
        return self._model_impl.get_raw_model()

    def __repr__(self) -> str:
        return f"PyFuncModel(loader_module={self.loader_module!r}, model_id={self.model_id!r})"


def load_model_from_dir(
    model_dir: str, *, allow_pickle: bool | None = None, model_config: dict[str, Any] | None = None
) -> PyFuncModel:
    meta = Model.load(model_dir)
    conf = meta.flavors.get(FLAVOR_NAME)
    if not conf:
        raise InvalidParameterError(
            f"Model does not have the {FLAVOR_NAME} flavor (it has: {', '.join(meta.flavors) or 'none'})"
        )
    loader_module = conf.get("loader_module")
    if not isinstance(loader_module, str):
        raise ModelLoadRefusedError("The python_function flavor names no loader_module")
    flavor = flavor_for_loader_module(loader_module)
    kwargs: dict[str, Any] = {"allow_pickle": allow_pickle}
    if model_config:
        kwargs["model_config"] = model_config
    impl = flavor.load_pyfunc(model_dir, meta, **kwargs)
    return PyFuncModel(meta, impl, model_dir)


def load_model(
    model_uri: str,
    *,
    dst_path: str | None = None,
    allow_pickle: bool | None = None,
    model_config: dict[str, Any] | None = None,
    suppress_warnings: bool = False,
) -> PyFuncModel:
    """Load a model from a path or URI (``runs:/``, ``models:/``, ``s3://``, ...) as a PyFuncModel."""
    from bakehouse.models.uri import download_model

    return load_model_from_dir(
        download_model(model_uri, dst_path), allow_pickle=allow_pickle, model_config=model_config
    )


def get_model_info(model_uri: str) -> ModelInfo:
    """The MLmodel of a model, as a ModelInfo, without loading the model itself."""
    from bakehouse.models.uri import download_model

    model_dir = download_model(model_uri, None)
    return ModelInfo.from_model(Model.load(model_dir), model_uri)


def save_model(
    path: str | Path,
    python_model: PythonModel | Any,
    *,
    artifacts: dict[str, str] | None = None,
    code_paths: Iterable[str] | None = None,
    signature: ModelSignature | None | bool = None,
    input_example: Any = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    model_config: dict[str, Any] | None = None,
    mlflow_model: Model | None = None,
) -> Model:
    """Save a custom PythonModel (cloudpickled, as MLflow does) with its artifacts and code."""
    from bakehouse.pyfunc.model import save_custom_model

    return save_custom_model(
        path,
        python_model,
        artifacts=artifacts,
        code_paths=code_paths,
        signature=signature,
        input_example=input_example,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
        metadata=metadata,
        model_config=model_config,
        mlflow_model=mlflow_model,
    )


def log_model(name: str | None = None, python_model: PythonModel | Any = None, **kwargs: Any) -> ModelInfo:
    """Save a custom model and record it as a logged model (MLflow 3: ``models:/<model_id>``)."""
    from bakehouse.models.logged import log_flavor_model

    if python_model is None:
        raise InvalidParameterError("log_model needs python_model=")
    return log_flavor_model(
        lambda model, path, **save_kwargs: save_model(path, model, **save_kwargs),
        python_model,
        name,
        **kwargs,
    )


def spark_udf(
    spark: Any,
    model_uri: str,
    result_type: Any = None,
    env_manager: str | None = None,
    params: dict[str, Any] | None = None,
    extra_env: dict[str, str] | None = None,
    model_config: dict[str, Any] | None = None,
    *,
    allow_pickle: bool | None = None,
) -> Any:
    """A Spark pandas UDF scoring with the model (MLflow's ``spark_udf``); needs ``bakehouse[spark]``."""
    from bakehouse.pyfunc.spark import spark_udf as make_udf  # pyspark is optional and heavy

    return make_udf(
        load_model_from_dir,
        spark,
        model_uri,
        result_type,
        env_manager,
        params,
        extra_env,
        model_config,
        allow_pickle=allow_pickle,
    )
