"""What a Python environment needs, read from ``python_env.yaml`` or a ``conda.yaml``.

A ``conda.yaml`` maps onto the same shape when it only asks for Python and pip packages; anything else it
lists (``cudatoolkit``, ``r-base``) is kept in ``conda_only`` so the caller can say exactly what needs conda.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bakehouse.projects.environments.base import EnvironmentError_

_CONDA_PYTHON = re.compile(r"^python\s*(?:=|==|>=|~=)?\s*([0-9][0-9.*]*)?\s*$")
#: conda packages that exist to make pip work and have no meaning in a virtualenv
_CONDA_TOOLING = {"pip", "setuptools", "wheel", "python"}


@dataclass(frozen=True)
class PythonRequirements:
    python: str | None = None
    build_dependencies: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    #: conda (non-pip) packages that a virtualenv cannot provide
    conda_only: tuple[str, ...] = ()
    #: contents of requirement files named with ``-r``, keyed by path, so the cache key follows them
    referenced_files: dict[str, str] = field(default_factory=dict)

    def cache_fields(self) -> dict[str, Any]:
        return {
            "requested_python": self.python,
            "build": list(self.build_dependencies),
            "deps": list(self.dependencies),
            "files": self.referenced_files,
        }


def _load_yaml(path: Path) -> dict[str, Any]:
    import yaml  # only when an environment is built

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise EnvironmentError_(f"{path.name} is not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise EnvironmentError_(f"{path.name} must be a YAML mapping")
    return document


def _string_list(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, (str, int, float)) for v in value):
        raise EnvironmentError_(f"{what} must be a list of requirement strings")
    return tuple(str(v).strip() for v in value if str(v).strip())


def _absolutize(deps: tuple[str, ...], base: Path) -> tuple[tuple[str, ...], dict[str, str]]:
    """``-r requirements.txt`` / ``-c constraints.txt`` paths are relative to the env file."""
    result: list[str] = []
    files: dict[str, str] = {}
    for dep in deps:
        flag, _, rest = dep.partition(" ")
        if flag in ("-r", "-c", "--requirement", "--constraint") and rest.strip():
            path = (base / rest.strip()).resolve()
            if not path.is_file():
                raise EnvironmentError_(
                    f"Requirement file {rest.strip()!r} named in the environment does not exist"
                )
            files[str(path)] = path.read_text(encoding="utf-8")
            result.append(f"{flag} {path}")
        else:
            result.append(dep)
    return tuple(result), files


def from_python_env(path: Path) -> PythonRequirements:
    document = _load_yaml(path)
    python = document.get("python")
    deps, files = _absolutize(
        _string_list(document.get("dependencies"), "python_env dependencies"), path.parent
    )
    build = _string_list(document.get("build_dependencies"), "python_env build_dependencies")
    return PythonRequirements(
        python=str(python) if python is not None else None,
        build_dependencies=build,
        dependencies=deps,
        referenced_files=files,
    )


def from_conda_yaml(path: Path) -> PythonRequirements:
    document = _load_yaml(path)
    python: str | None = None
    pip_deps: list[str] = []
    conda_only: list[str] = []
    for dep in document.get("dependencies") or []:
        if isinstance(dep, dict):
            pip_deps.extend(_string_list(dep.get("pip"), "conda.yaml pip dependencies"))
            continue
        text = str(dep).strip()
        match = _CONDA_PYTHON.match(text)
        if match:
            python = (match.group(1) or "").rstrip(".*") or None
            continue
        name = re.split(r"[=<>!~ ]", text, maxsplit=1)[0]
        if name.lower() in _CONDA_TOOLING:
            continue
        conda_only.append(text)
    deps, files = _absolutize(tuple(pip_deps), path.parent)
    return PythonRequirements(
        python=python, dependencies=deps, conda_only=tuple(conda_only), referenced_files=files
    )
