"""The PyTorch flavor (optional extra ``bakehouse[pytorch]``): ``torch.save`` of a module or a state dict.

Layout is MLflow's (``data/model.pth``, ``pytorch.model_data: data``, ``loader_module: mlflow.pytorch``).
A whole module is pickled by ``torch.save``, so loading it needs the pickle opt-in; a state dict is loaded
with ``torch.load(weights_only=True)`` (no code runs) and returned as a dict. Everything loads on CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors import import_library, model_file
from bakehouse.models.flavors.pytorch.autologging import autolog as autolog
from bakehouse.models.logged import log_flavor_model
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.saving import SaveOptions
from bakehouse.models.trust import require_pickle_opt_in

FLAVOR_NAME = "pytorch"
LOADER_MODULE = "mlflow.pytorch"
_DATA_DIR = "data"
_MODEL_FILE = "model.pth"
_STATE_DICT_FILE = "state_dict.pth"
_PICKLE_MODULE_FILE = "pickle_module_info.txt"
_MLFLOW_PICKLE_MODULE = "mlflow.pytorch.pickle_module"


def _torch() -> Any:
    return import_library("torch", "pytorch")


def save_model(pytorch_model: Any, path: str | Path, **options: Unpack[SaveOptions]) -> Model:
    """Save a ``torch.nn.Module`` (pickled by torch.save) or a state dict (tensors only)."""
    from bakehouse.models.environment import modules_of_object
    from bakehouse.models.saving import save_flavor

    torch = _torch()
    is_state_dict = isinstance(pytorch_model, dict)
    if not is_state_dict and not isinstance(pytorch_model, torch.nn.Module):
        raise InvalidParameterError("pytorch_model must be a torch.nn.Module or a state dict")

    def write(model_dir: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        (model_dir / _DATA_DIR).mkdir()
        if is_state_dict:
            torch.save(pytorch_model, model_dir / _DATA_DIR / _STATE_DICT_FILE)
        else:
            # cloudpickle, as MLflow: modules whose class is defined in __main__ or a function save too;
            # MLflow's loader reads the pickle module's name from this file (ours never imports it)
            import cloudpickle  # a whole module is pickled: cloudpickle is what MLflow writes with

            torch.save(pytorch_model, model_dir / _DATA_DIR / _MODEL_FILE, pickle_module=cloudpickle)
            (model_dir / _DATA_DIR / _PICKLE_MODULE_FILE).write_text(_MLFLOW_PICKLE_MODULE, encoding="utf-8")
        return {"model_data": _DATA_DIR, "pytorch_version": str(torch.__version__)}, {"data": _DATA_DIR}

    return save_flavor(
        path,
        flavor_name=FLAVOR_NAME,
        loader_module=LOADER_MODULE,
        write=write,
        modules={"torch", "numpy", *(() if is_state_dict else ("cloudpickle",))}
        | modules_of_object(pytorch_model),
        predict=None if is_state_dict else _TorchWrapper(pytorch_model).predict,
        **options,
    )


def _load_from_dir(model_dir: str | Path, model: Model, *, allow_pickle: bool | None) -> Any:
    torch = _torch()
    conf = model.get_flavor(FLAVOR_NAME)
    base = model_file(model_dir, conf.get("model_data", _DATA_DIR))
    state_dict = base / _STATE_DICT_FILE
    if state_dict.is_file():
        return torch.load(state_dict, map_location="cpu", weights_only=True)
    require_pickle_opt_in(allow_pickle, "a PyTorch module saved with torch.save")
    module = torch.load(base / _MODEL_FILE if base.is_dir() else base, map_location="cpu", weights_only=False)
    module.eval()
    return module


def load_model(model_uri: str, *, dst_path: str | None = None, allow_pickle: bool | None = None) -> Any:
    """The module (or state dict) itself, on CPU."""
    from bakehouse.models.uri import download_model

    model_dir = download_model(model_uri, dst_path)
    return _load_from_dir(model_dir, Model.load(model_dir), allow_pickle=allow_pickle)


class _TorchWrapper:
    def __init__(self, module: Any) -> None:
        self.module = module

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        import numpy as np

        torch = _torch()
        if hasattr(data, "to_numpy"):
            data = data.to_numpy()
        tensor = torch.as_tensor(np.asarray(data))
        with torch.no_grad():
            output = self.module(tensor)
        return output.detach().cpu().numpy() if hasattr(output, "detach") else output

    def get_raw_model(self) -> Any:
        return self.module


def load_pyfunc(model_dir: str, model: Model, *, allow_pickle: bool | None = None) -> _TorchWrapper:
    loaded = _load_from_dir(model_dir, model, allow_pickle=allow_pickle)
    if isinstance(loaded, dict):
        raise InvalidParameterError(
            "This PyTorch model is a state dict; load it with bakehouse.pytorch.load_model"
        )
    return _TorchWrapper(loaded)


def log_model(pytorch_model: Any, name: str | None = None, **kwargs: Any) -> ModelInfo:
    """Save the module (or state dict) as a new logged model; keywords as :func:`save_model`."""
    return log_flavor_model(save_model, pytorch_model, name, **kwargs)
