"""What a Python environment needs, read from ``python_env.yaml`` or a ``conda.yaml``.

A ``conda.yaml`` maps onto the same shape: Python's version, its pip packages, and the conda packages it
lists besides (``scikit-learn``, ``cudatoolkit``) in ``conda_only``. Without conda, a virtualenv installs
those with pip under their pip names (:func:`conda_to_pip`), and only the ones the package index does not
have are refused.
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
#: conda names whose pip package is called differently (most are the same on both sides)
CONDA_TO_PIP_NAMES = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "py-xgboost": "xgboost",
    "py-xgboost-cpu": "xgboost",
    "pytables": "tables",
    "tensorflow-base": "tensorflow",
    "matplotlib-base": "matplotlib",
    "msgpack-python": "msgpack",
    "python-graphviz": "graphviz",
    "pillow-simd": "pillow",
}
_CONDA_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)\s*(?P<rest>.*)$")


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
            "conda": list(self.conda_only),
            "files": self.referenced_files,
        }

    @property
    def pip_for_conda(self) -> tuple[str, ...]:
        """The conda-only packages as pip requirements (what a virtualenv installs in their place)."""
        return tuple(conda_to_pip(c) for c in self.conda_only)

    def conda_note(self, file_name: str) -> str | None:
        """One line saying that conda packages are installed with pip, when there are any."""
        if not self.conda_only:
            return None
        return f"{file_name}'s conda packages are installed with pip in a virtualenv: " + ", ".join(
            self.pip_for_conda
        )


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


def conda_to_pip(spec: str) -> str:
    """A conda requirement as pip writes it: ``scikit-learn=1.3`` -> ``scikit-learn==1.3.*``,
    ``numpy>=1.24`` stays, ``pytorch 2.1.*`` -> ``torch==2.1.*``; a build string (``=py310_0``) is dropped
    and a channel prefix (``conda-forge::``) too."""
    text = spec.strip().split("::")[-1]
    match = _CONDA_SPEC.match(text)
    if match is None:
        return text
    name = CONDA_TO_PIP_NAMES.get(match.group("name").lower(), match.group("name"))
    rest = match.group("rest").replace(" ", "")
    if not rest:
        return name
    if rest[0] in "<>!~":
        return f"{name}{rest}"
    if rest.startswith("=="):
        return f"{name}=={rest[2:].split('=')[0]}"
    rest = rest.removeprefix("=")
    version = rest.split("=")[0]  # conda's "name=version=build"
    if not version:
        return name
    if "*" in version or version.count(".") >= 2:
        return f"{name}=={version}"
    return f"{name}=={version}.*"  # conda's "=1.3" means any 1.3.x


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
