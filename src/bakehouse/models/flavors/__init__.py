"""The flavor allowlist: which ``loader_module`` names a model may ask for, and the flavor that serves each.

Each library flavor lives in a subpackage here (``sklearn/``, ``pytorch/``, ``xgboost/``, ...: save, load,
pyfunc and autolog for one library) and saves through the one shared path, :func:`bakehouse.models.saving.
save_flavor` and :func:`bakehouse.models.logged.log_flavor_model`. ``bakehouse.<library>`` names the same
module, as ``mlflow.<library>`` does in MLflow.

An MLmodel is data, and data must not choose code. MLflow imports whatever module ``loader_module`` names;
we only map it to a flavor registered in :data:`bakehouse.plugins.flavors` (built-ins in plugins.py, third-party
flavors through the ``bakehouse.flavor`` entry point, i.e. installed on purpose). MLflow's own names
(``mlflow.sklearn``, ``mlflow.pyfunc.model``, ...) map to ours so MLflow-saved models load here, and we
write MLflow's names so our models load in MLflow. Anything else is refused before any import happens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from bakehouse.errors import InvalidParameterError
from bakehouse.extras import require
from bakehouse.plugins import flavors

PYFUNC_FLAVOR = "python_function"

#: the library flavors shipped with Bakehouse: flavor name -> the optional extra that installs its library
BUILTIN_FLAVORS: dict[str, str] = {
    "sklearn": "sklearn",
    "pytorch": "pytorch",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "catboost": "catboost",
    "keras": "keras",
    "onnx": "onnx",
    "statsmodels": "statsmodels",
    "transformers": "transformers",
}

#: loader_module -> flavor name. ``mlflow.<name>`` / ``bakehouse.<name>`` also map to any registered flavor.
LOADER_MODULE_FLAVORS: dict[str, str] = {
    "mlflow.pyfunc.model": PYFUNC_FLAVOR,
    "bakehouse.pyfunc.model": PYFUNC_FLAVOR,
    "mlflow.pyfunc.loaders.code_model": PYFUNC_FLAVOR,  # models from code (the flavor runs them on opt-in)
    **{f"{prefix}.{name}": name for name in BUILTIN_FLAVORS for prefix in ("mlflow", "bakehouse")},
}


class ModelLoadRefusedError(InvalidParameterError):
    """The model asks for code or deserialization we do not run without an explicit opt-in."""


class Flavor(Protocol):
    """What a flavor module offers to ``pyfunc.load_model``."""

    FLAVOR_NAME: str

    def load_pyfunc(self, model_dir: str, model: Any, *, allow_pickle: bool = False) -> Any: ...


def register_loader_module(loader_module: str, flavor_name: str) -> None:
    """Allow one more ``loader_module`` name, served by an already-registered flavor."""
    LOADER_MODULE_FLAVORS[loader_module] = flavor_name


def flavor_name_for_loader_module(loader_module: str) -> str:
    """Map a loader_module to a registered flavor name, or refuse — never importing the named module."""
    name = LOADER_MODULE_FLAVORS.get(loader_module)
    if name is None:
        prefix, _, rest = loader_module.partition(".")
        if prefix in ("mlflow", "bakehouse") and rest and "." not in rest and rest in flavors:
            name = rest
    if name is None or name not in flavors:
        allowed = ", ".join(sorted(LOADER_MODULE_FLAVORS))
        raise ModelLoadRefusedError(
            f"Refusing to load a model whose loader_module is {loader_module!r}: it is not a registered "
            f"flavor (allowed: {allowed}). Install and register a flavor plug-in for it to load such models."
        )
    return name


def flavor_for_loader_module(loader_module: str) -> Flavor:
    flavor: Flavor = flavors.get(flavor_name_for_loader_module(loader_module))
    return flavor


def model_file(model_dir: str | Path, relative: Any) -> Path:
    """``model_dir / relative`` for a path read from an MLmodel file, refused if it leaves the directory."""
    if not isinstance(relative, str) or not relative:
        raise InvalidParameterError(f"The MLmodel names no valid model file ({relative!r})")
    if Path(relative).is_absolute() or ".." in Path(relative).parts:
        raise ModelLoadRefusedError(f"Model file {relative!r} points outside the model directory")
    return Path(model_dir) / relative


def import_library(module: str, extra: str) -> Any:
    """Import a flavor's optional library, or say which extra installs it (an explicit check, no fallback)."""
    return require(module, extra, "This model")
