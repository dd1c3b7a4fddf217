"""Custom Python models: ``PythonModel`` subclasses saved with cloudpickle, plus their artifacts.

A custom model *is* code, so it is necessarily pickled (MLflow does the same). Loading one is a trusted
local action: ``pyfunc.load_model`` on such a model needs ``allow_pickle=True`` (or
``BAKEHOUSE_ALLOW_PICKLE=true``), and the scoring server only loads the model its operator named on the
command line — nothing in an HTTP request is ever unpickled. The MLmodel layout is MLflow's
(``loader_module: mlflow.pyfunc.model``, ``python_model: python_model.pkl``, ``artifacts``), so MLflow loads
our custom models and we load MLflow's.
"""

from __future__ import annotations

import inspect
import os
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakehouse.errors import InvalidParameterError
from bakehouse.models.code_model import CODE_MODEL_LOADER, as_python_model, load_code_model
from bakehouse.models.flavors import ModelLoadRefusedError
from bakehouse.models.mlmodel import Model
from bakehouse.models.signature import ModelSignature
from bakehouse.models.trust import require_code_opt_in, require_pickle_opt_in

FLAVOR_NAME = "python_function"
LOADER_MODULE = "mlflow.pyfunc.model"
PYTHON_MODEL_FILE = "python_model.pkl"
ARTIFACTS_DIR = "artifacts"


@dataclass
class PythonModelContext:
    """What ``load_context`` receives: local paths of the model's artifacts, and its config."""

    artifacts: dict[str, str] = field(default_factory=dict)
    model_config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictTypeHints:
    """MLflow's loader reads ``python_model.predict_type_hints``; we declare no type hints."""

    input: Any = None
    output: Any = None


class PythonModel:
    """Subclass and implement ``predict(self, context, model_input, params=None)``."""

    def load_context(self, context: PythonModelContext) -> None:
        """Load artifacts (weights, vocabularies, ...) once, before the first ``predict``."""

    def predict(
        self, context: PythonModelContext, model_input: Any, params: dict[str, Any] | None = None
    ) -> Any:
        raise NotImplementedError

    @property
    def predict_type_hints(self) -> PredictTypeHints:
        return PredictTypeHints()


class PythonModelWrapper:
    """The pyfunc face of a custom model: passes ``context`` and ``params`` only if ``predict`` takes them."""

    def __init__(self, python_model: Any, context: PythonModelContext) -> None:
        self.python_model = python_model
        self.context = context
        parameters = inspect.signature(python_model.predict).parameters
        names = list(parameters)
        self._takes_params = "params" in parameters
        self._takes_context = (
            "context" in parameters or len(names) >= 3 or (len(names) >= 2 and names[1] == "model_input")
        )

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        kwargs = {"params": params} if self._takes_params else {}
        if self._takes_context:
            return self.python_model.predict(self.context, data, **kwargs)
        return self.python_model.predict(data, **kwargs)

    def get_raw_model(self) -> Any:
        return self.python_model


def save_custom_model(
    path: str | Path,
    python_model: Any,
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
    import cloudpickle  # custom models are code: cloudpickle is the only way to store them

    from bakehouse.models import saving
    from bakehouse.models.environment import modules_imported_by, modules_of_object

    code_file: Path | None = None
    if isinstance(python_model, (str, os.PathLike)):  # models from code: the file is saved, nothing pickled
        code_file = Path(python_model)
        if code_file.suffix != ".py" or not code_file.is_file():
            raise InvalidParameterError(
                f"python_model={os.fspath(python_model)!r} is not an existing .py file"
            )
        python_model = as_python_model(load_code_model(code_file))
    if not callable(getattr(python_model, "predict", None)):
        raise InvalidParameterError("python_model must define predict(context, model_input, params=None)")
    model_dir = saving.create_model_dir(path)
    saved_artifacts: dict[str, dict[str, str]] = {}
    if artifacts:
        (model_dir / ARTIFACTS_DIR).mkdir()
        for name, source in artifacts.items():
            src = Path(source.removeprefix("file://"))
            if not src.exists():
                raise InvalidParameterError(f"Artifact {name!r} not found at {source}")
            dst = model_dir / ARTIFACTS_DIR / src.name
            if src.is_dir():
                shutil.copytree(src, dst)
            else:
                shutil.copy2(src, dst)
            saved_artifacts[name] = {"path": f"{ARTIFACTS_DIR}/{src.name}", "uri": source}
    code = saving.copy_code_paths(model_dir, code_paths)
    conf: dict[str, Any] = {}
    if saved_artifacts:
        conf["artifacts"] = saved_artifacts
    conf.update(cloudpickle_version=cloudpickle.__version__, code=code)
    if code_file is not None:
        shutil.copy2(code_file, model_dir / code_file.name)
        conf.update(model_code_path=code_file.name, streamable=False)  # MLflow's loader takes the basename
        loader = CODE_MODEL_LOADER
    else:
        with open(model_dir / PYTHON_MODEL_FILE, "wb") as out:
            cloudpickle.dump(python_model, out)
        conf.update(python_model=PYTHON_MODEL_FILE, streamable=False)
        loader = LOADER_MODULE
    if model_config:
        conf["config"] = model_config
    model = mlflow_model or Model()
    model.add_flavor(FLAVOR_NAME, **saving.pyfunc_conf(loader, **conf))
    context = PythonModelContext(
        {k: str(model_dir / v["path"]) for k, v in saved_artifacts.items()}, dict(model_config or {})
    )
    predict = None
    if input_example is not None and signature is None:
        python_model.load_context(context)
        wrapper = PythonModelWrapper(python_model, context)
        predict = wrapper.predict
    signature = saving.resolve_signature(signature, input_example, predict)
    modules = {"cloudpickle"} | modules_of_object(python_model)
    for klass in type(python_model).__mro__:
        modules |= modules_imported_by(klass.__module__)
    return saving.finish_model(
        model_dir,
        model,
        modules=modules,
        input_example=input_example,
        signature=signature,
        metadata=metadata,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
    )


def _inside(model_dir: Path, relative: str) -> Path:
    if Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise ModelLoadRefusedError(f"Model path {relative!r} points outside the model directory")
    return model_dir / relative


def load_pyfunc(
    model_dir: str,
    model: Model,
    *,
    allow_pickle: bool | None = None,
    model_config: dict[str, Any] | None = None,
) -> PythonModelWrapper:
    """Unpickle a custom model (opt-in only), add its ``code/`` to sys.path, run ``load_context``."""
    root = Path(model_dir)
    conf = model.get_flavor(FLAVOR_NAME)
    code = conf.get("code")
    if code:
        code_dir = str(_inside(root, code))
        if code_dir not in sys.path:
            sys.path.insert(0, code_dir)
    if "model_code_path" in conf:
        require_code_opt_in(allow_pickle, "a model from code")
        code_file = _inside(root, Path(str(conf["model_code_path"])).name)  # MLflow writes the author's path
        python_model = as_python_model(load_code_model(code_file))
    else:
        python_model = _unpickle(root, conf, allow_pickle)
    artifacts = {
        name: str(_inside(root, info["path"])) for name, info in (conf.get("artifacts") or {}).items()
    }
    config = dict(conf.get("config") or {})
    config.update(model_config or {})
    context = PythonModelContext(artifacts, config)
    python_model.load_context(context)
    return PythonModelWrapper(python_model, context)


def _unpickle(root: Path, conf: dict[str, Any], allow_pickle: bool | None) -> Any:
    pickled = conf.get("python_model")
    if not pickled:
        raise InvalidParameterError("The MLmodel names no python_model file")
    require_pickle_opt_in(allow_pickle, "a custom Python model")
    import cloudpickle  # custom models are code: cloudpickle is the only way to read them

    path = _inside(root, pickled)
    if conf.get("compression"):
        raise InvalidParameterError(
            f"Compressed python_model files ({conf['compression']}) are not supported"
        )
    with open(path, "rb") as f:
        return cloudpickle.load(f)
