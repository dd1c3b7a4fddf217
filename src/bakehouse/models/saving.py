"""The steps every flavor's ``save_model`` shares: directory, example, signature, environment, MLmodel."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypedDict

from bakehouse.errors import AlreadyExistsError
from bakehouse.models.environment import (
    infer_requirements,
    merge_requirements,
    python_version,
    write_environment_files,
)
from bakehouse.models.example import as_model_input, save_input_example
from bakehouse.models.mlmodel import Model
from bakehouse.models.schema_inference import infer_signature_from_example
from bakehouse.models.signature import ModelSignature

CODE_DIR = "code"

#: (flavor conf, extra python_function conf) that a flavor's writer returns once its files are written
FlavorConf = tuple[dict[str, Any], dict[str, Any]]


class SaveOptions(TypedDict, total=False):
    """The keywords every flavor's ``save_model`` takes (MLflow's names), passed through to :func:`save_flavor`."""

    signature: ModelSignature | None | bool
    input_example: Any
    code_paths: Iterable[str] | None
    pip_requirements: Iterable[str] | None
    extra_pip_requirements: Iterable[str] | None
    metadata: dict[str, Any] | None
    mlflow_model: Model | None


def create_model_dir(path: str | Path) -> Path:
    """A fresh directory for a model; refuse to mix files into a non-empty one (as MLflow does)."""
    target = Path(path)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise AlreadyExistsError(f"Path '{target}' already exists and is not empty")
    target.mkdir(parents=True, exist_ok=True)
    return target


def copy_code_paths(model_dir: Path, code_paths: Iterable[str] | None) -> str | None:
    """Copy ``code_paths`` into ``code/``; return the relative dir for the flavor config (or None)."""
    paths = list(code_paths or ())
    if not paths:
        return None
    code_dir = model_dir / CODE_DIR
    code_dir.mkdir()
    for source in paths:
        src = Path(source)
        if src.is_dir():
            shutil.copytree(src, code_dir / src.name)
        else:
            shutil.copy2(src, code_dir / src.name)
    return CODE_DIR


def pyfunc_conf(loader_module: str, **extra: Any) -> dict[str, Any]:
    conf: dict[str, Any] = {
        "env": {"conda": "conda.yaml", "virtualenv": "python_env.yaml"},
        "loader_module": loader_module,
        "python_version": python_version(),
    }
    conf.update({k: v for k, v in extra.items() if v is not None or k == "code"})
    return conf


def resolve_signature(
    signature: ModelSignature | None | bool,
    input_example: Any,
    predict: Callable[[Any], Any] | None,
) -> ModelSignature | None:
    """Use the given signature; ``False`` means none, not even inferred (MLflow's ``signature=False``); else
    infer it from the example (outputs by running ``predict`` on it) with MLflow's log_model rules: an example
    that cannot be typed or scored gives no signature at all."""
    if signature is False:
        return None
    if isinstance(signature, ModelSignature):
        return signature
    if input_example is None:
        return None
    return infer_signature_from_example(as_model_input(input_example), predict)


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def finish_model(
    model_dir: Path,
    model: Model,
    *,
    modules: Iterable[str],
    input_example: Any = None,
    signature: ModelSignature | None = None,
    metadata: dict[str, Any] | None = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
) -> Model:
    """Write the example, signature, environment files and MLmodel for a flavor that saved its data."""
    if input_example is not None:
        model.saved_input_example_info = save_input_example(model_dir, input_example)
    model.signature = signature
    if metadata is not None:
        model.metadata = metadata
    requirements = merge_requirements(infer_requirements(modules), pip_requirements, extra_pip_requirements)
    write_environment_files(model_dir, requirements)
    model.model_size_bytes = directory_size(model_dir)
    model.save(model_dir)
    return model


def save_flavor(
    path: str | Path,
    *,
    flavor_name: str,
    loader_module: str,
    write: Callable[[Path], FlavorConf],
    modules: Iterable[str],
    predict: Callable[[Any], Any] | None = None,
    signature: ModelSignature | None | bool = None,
    input_example: Any = None,
    code_paths: Iterable[str] | None = None,
    pip_requirements: Iterable[str] | None = None,
    extra_pip_requirements: Iterable[str] | None = None,
    metadata: dict[str, Any] | None = None,
    mlflow_model: Model | None = None,
) -> Model:
    """The one save path of every library flavor: a fresh directory, the flavor's own files (``write``
    returns its MLmodel confs), code paths, both flavor blocks, a signature inferred from the example with
    ``predict``, pinned requirements for ``modules``, and the MLmodel file."""
    model_dir = create_model_dir(path)
    flavor_conf, pyfunc_extra = write(model_dir)
    code = copy_code_paths(model_dir, code_paths)
    model = mlflow_model or Model()
    model.add_flavor("python_function", **pyfunc_conf(loader_module, code=code, **pyfunc_extra))
    model.add_flavor(flavor_name, code=code, **flavor_conf)
    return finish_model(
        model_dir,
        model,
        modules=modules,
        input_example=input_example,
        signature=resolve_signature(signature, input_example, predict),
        metadata=metadata,
        pip_requirements=pip_requirements,
        extra_pip_requirements=extra_pip_requirements,
    )
