"""A model's Python environment: pinned requirements, ``python_env.yaml`` and ``conda.yaml``.

MLflow infers requirements by loading the model in a subprocess and recording every import (about 5 s a
``log_model``). We do it in-process: the flavor names the modules it needs, we add the modules of every
class reachable from the model object (and the modules the defining module of a custom model imports),
then map top-level module names to installed distributions with
``importlib.metadata.packages_distributions()`` and pin the installed versions.
"""

from __future__ import annotations

import functools
import platform
import sys
import types
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

REQUIREMENTS_FILE = "requirements.txt"
PYTHON_ENV_FILE = "python_env.yaml"
CONDA_ENV_FILE = "conda.yaml"

#: distributions never worth pinning for a model (the serving tool installs itself)
_SKIP_DISTRIBUTIONS = frozenset(
    {"bakehouse", "mlflow", "mlflow-skinny", "pip", "setuptools", "wheel", "pytest"}
)
_MAX_WALK = 2000


@functools.lru_cache(maxsize=1)
def _module_to_distributions() -> dict[str, list[str]]:
    return {k: list(v) for k, v in metadata.packages_distributions().items()}


def installed_version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def pinned(distribution: str) -> str:
    """``dist==version`` of the installed version, without a local label (``2.13.0+cpu`` -> ``2.13.0``):
    as MLflow writes it, so the requirement installs from a package index."""
    version = installed_version(distribution)
    return f"{distribution}=={version.split('+')[0]}" if version else distribution


def modules_of_object(obj: Any) -> set[str]:
    """Top-level module names of the classes reachable from ``obj`` (attributes, lists, dicts), bounded."""
    found: set[str] = set()
    seen: set[int] = set()
    stack = [obj]
    while stack and len(seen) < _MAX_WALK:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, types.ModuleType):
            found.add(item.__name__.split(".")[0])
            continue
        cls = item if isinstance(item, type) else type(item)
        for klass in cls.__mro__[:-1]:
            found.add(klass.__module__.split(".")[0])
        if isinstance(item, (str, bytes, int, float, bool, type(None), type)):
            continue
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(list(item)[:100])
        else:
            attributes = getattr(item, "__dict__", None)
            if isinstance(attributes, dict):
                stack.extend(attributes.values())
    return found


def modules_imported_by(module_name: str) -> set[str]:
    """The top-level modules a (custom model's) module has imported at its top level."""
    module = sys.modules.get(module_name)
    if module is None:
        return set()
    found: set[str] = set()
    for value in vars(module).values():
        if isinstance(value, types.ModuleType):
            found.add(value.__name__.split(".")[0])
        else:
            owner = getattr(value, "__module__", None)
            if isinstance(owner, str):
                found.add(owner.split(".")[0])
    return found


def infer_requirements(modules: Iterable[str]) -> list[str]:
    """Pinned ``dist==version`` lines for the non-stdlib distributions providing ``modules``."""
    mapping = _module_to_distributions()
    stdlib = sys.stdlib_module_names
    requirements: set[str] = set()
    for module in modules:
        top = module.split(".")[0]
        if not top or top in stdlib or top in ("builtins", "__main__") or top.startswith("_"):
            continue
        for dist in mapping.get(top, []):
            if dist.lower() in _SKIP_DISTRIBUTIONS:
                continue
            requirements.add(pinned(dist))
    return sorted(requirements, key=str.lower)


def merge_requirements(
    inferred: list[str], pip_requirements: Iterable[str] | None, extra_pip_requirements: Iterable[str] | None
) -> list[str]:
    """MLflow's rule: explicit ``pip_requirements`` replace the inferred list; extras are appended."""
    base = list(pip_requirements) if pip_requirements is not None else list(inferred)
    for extra in extra_pip_requirements or ():
        if extra not in base:
            base.append(extra)
    return base


def python_version() -> str:
    return platform.python_version()


def write_environment_files(model_dir: str | Path, requirements: list[str]) -> None:
    """Write requirements.txt, python_env.yaml and conda.yaml in MLflow's layout."""
    import yaml  # only when saving a model

    target = Path(model_dir)
    (target / REQUIREMENTS_FILE).write_text(
        "\n".join(requirements) + ("\n" if requirements else ""), encoding="utf-8"
    )
    build = [pinned(d) for d in ("pip", "setuptools")] + ["wheel"]
    python_env = {
        "python": python_version(),
        "build_dependencies": build,
        "dependencies": ["-r requirements.txt"],
    }
    (target / PYTHON_ENV_FILE).write_text(yaml.safe_dump(python_env, sort_keys=False), encoding="utf-8")
    pip_version = installed_version("pip")
    conda = {
        "channels": ["conda-forge"],
        "dependencies": [
            f"python={python_version()}",
            f"pip<={pip_version}" if pip_version else "pip",
            {"pip": requirements},
        ],
        "name": "mlflow-env",
    }
    (target / CONDA_ENV_FILE).write_text(yaml.safe_dump(conda, sort_keys=False), encoding="utf-8")


def read_requirements(model_dir: str | Path) -> list[str]:
    path = Path(model_dir) / REQUIREMENTS_FILE
    if not path.is_file():
        return []
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [line for line in lines if line and not line.startswith("#")]
