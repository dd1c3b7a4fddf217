"""The PyTorch flavor (optional extra ``bakehouse[pytorch]``): ``torch.save`` of a module or a state dict.

Layout is MLflow's (``data/model.pth``, ``pytorch.model_data: data``, ``loader_module: mlflow.pytorch``).
A whole module is pickled by ``torch.save``, so loading it needs the pickle opt-in; a state dict is loaded
with ``torch.load(weights_only=True)`` (no code runs) and returned as a dict. Everything loads on CPU.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bakehouse.errors import InvalidParameterError
from bakehouse.models.flavors import ModelLoadRefusedError
from bakehouse.models.mlmodel import Model, ModelInfo
from bakehouse.models.signature import ModelSignature
from bakehouse.models.trust import require_pickle_opt_in

FLAVOR_NAME = "pytorch"
LOADER_MODULE = "mlflow.pytorch"
_DATA_DIR = "data"
_MODEL_FILE = "model.pth"
_STATE_DICT_FILE = "state_dict.pth"


def _torch() -> Any:
    try:
        import torch  # optional heavy dependency
    except ImportError as e:
        raise InvalidParameterError("The pytorch flavor needs torch: pip install 'bakehouse[pytorch]'") from e
    return torch


def save_model(
    pytorch_model: Any,
    path: str | Path,
    *,
    signature: ModelSignature | None | bool = None,
    input_example: Any = None,
    code_paths: Iterable[str] | None = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    mlflow_model: Model | None = None,
) -> Model:
    """Save a ``torch.nn.Module`` (pickled by torch.save) or a state dict (tensors only)."""
    from bakehouse.models import saving
    from bakehouse.models.environment import modules_of_object

    torch = _torch()
    is_state_dict = isinstance(pytorch_model, dict)
    if not is_state_dict and not isinstance(pytorch_model, torch.nn.Module):
        raise InvalidParameterError("pytorch_model must be a torch.nn.Module or a state dict")
    model_dir = saving.create_model_dir(path)
    (model_dir / _DATA_DIR).mkdir()
    file_name = _STATE_DICT_FILE if is_state_dict else _MODEL_FILE
    torch.save(pytorch_model, model_dir / _DATA_DIR / file_name)
    code = saving.copy_code_paths(model_dir, code_paths)
    model = mlflow_model or Model()
    model.add_flavor("python_function", **saving.pyfunc_conf(LOADER_MODULE, data=_DATA_DIR, code=code))
    model.add_flavor(FLAVOR_NAME, model_data=_DATA_DIR, pytorch_version=str(torch.__version__), code=code)
    predict = None
    if not is_state_dict:
        predict = _TorchWrapper(pytorch_model).predict
    signature = saving.resolve_signature(signature, input_example, predict)
    return saving.finish_model(
        model_dir,
        model,
        modules={"torch", "numpy"} | modules_of_object(pytorch_model),
        input_example=input_example,
        signature=signature,
        metadata=metadata,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
    )


def _load_from_dir(model_dir: str | Path, model: Model, *, allow_pickle: bool | None) -> Any:
    torch = _torch()
    conf = model.get_flavor(FLAVOR_NAME)
    data = Path(conf.get("model_data", _DATA_DIR))
    if data.is_absolute() or ".." in data.parts:
        raise ModelLoadRefusedError(f"model_data {str(data)!r} points outside the model directory")
    base = Path(model_dir) / data
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


def log_model(
    pytorch_model: Any,
    name: str | None = None,
    *,
    artifact_path: str | None = None,
    registered_model_name: str | None = None,
    run_id: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    model_type: str | None = None,
    **save_kwargs: Any,
) -> ModelInfo:
    from bakehouse.models.logged import log_model as _log

    return _log(
        lambda path, model: save_model(pytorch_model, path, mlflow_model=model, **save_kwargs),
        name=name or artifact_path or "model",
        registered_model_name=registered_model_name,
        run_id=run_id,
        tags=tags,
        params=params,
        model_type=model_type,
    )
