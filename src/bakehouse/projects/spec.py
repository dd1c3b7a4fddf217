"""The MLproject file: name, environment, entry points and their typed parameters.

Parsing is strict where MLflow is silent (unknown parameter types, several environment keys, a missing
environment file) so that a broken project fails before a run is created, with a message that names the
offending key.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bakehouse.errors import InvalidParameterError

MLPROJECT_FILE_NAME = "mlproject"
PYTHON_ENV_FILE_NAME = "python_env.yaml"
CONDA_ENV_FILE_NAME = "conda.yaml"
PARAMETER_TYPES = ("string", "float", "int", "path", "uri")
DEFAULT_ENTRY_POINT = "main"

ENV_LOCAL = "local"
ENV_PYTHON = "python_env"
ENV_CONDA = "conda_env"
ENV_DOCKER = "docker_env"


class ProjectSpecError(InvalidParameterError):
    """The MLproject file (or the requested entry point) is invalid."""


@dataclass(frozen=True)
class ParameterSpec:
    """One declared entry-point parameter. ``default is None`` means the parameter is required."""

    name: str
    type: str = "string"
    default: str | None = None

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass(frozen=True)
class EntryPoint:
    name: str
    command: str
    parameters: dict[str, ParameterSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class DockerEnv:
    image: str
    volumes: tuple[str, ...] = ()
    #: ``(NAME, None)`` copies the host's value; ``(NAME, value)`` sets it
    environment: tuple[tuple[str, str | None], ...] = ()


@dataclass(frozen=True)
class ProjectSpec:
    """A loaded project directory."""

    directory: Path
    name: str | None
    env_type: str  # one of ENV_LOCAL, ENV_PYTHON, ENV_CONDA, ENV_DOCKER
    env_file: Path | None = None
    docker_env: DockerEnv | None = None
    entry_points: dict[str, EntryPoint] = field(default_factory=dict)
    has_mlproject_file: bool = False

    @property
    def display_name(self) -> str:
        return self.name or self.directory.name or "project"

    def get_entry_point(self, name: str) -> EntryPoint:
        """A declared entry point, or a ``.py`` / ``.sh`` file run with Python / the shell."""
        if name in self.entry_points:
            return self.entry_points[name]
        suffix = Path(name).suffix
        if suffix in (".py", ".sh"):
            if not (self.directory / name).is_file():
                raise ProjectSpecError(
                    f"Entry point {name!r} is not declared and no such file exists in the project"
                )
            runner = "python" if suffix == ".py" else "bash"
            return EntryPoint(name=name, command=f"{runner} {shlex.quote(name)}")
        declared = ", ".join(sorted(self.entry_points)) or "none"
        raise ProjectSpecError(
            f"Could not find entry point {name!r} (declared entry points: {declared}); "
            "a .py or .sh file in the project can also be run directly"
        )


def find_mlproject_file(directory: Path) -> Path | None:
    """The MLproject file, matched case-insensitively as MLflow does."""
    for child in sorted(directory.iterdir()):
        if child.name.lower() == MLPROJECT_FILE_NAME and child.is_file():
            return child
    return None


def load_project(directory: str | Path) -> ProjectSpec:
    """Parse ``directory``'s MLproject file; a directory without one is a plain Python project."""
    root = Path(directory).resolve()
    if not root.is_dir():
        raise ProjectSpecError(f"Project directory {str(root)!r} does not exist")
    mlproject = find_mlproject_file(root)
    document: dict[str, Any] = {}
    if mlproject is not None:
        document = _read_yaml(mlproject)
    env_keys = [key for key in (ENV_DOCKER, ENV_PYTHON, ENV_CONDA) if document.get(key)]
    if len(env_keys) > 1:
        raise ProjectSpecError(f"MLproject may declare at most one environment, found: {', '.join(env_keys)}")
    name = document.get("name")
    entry_points = _parse_entry_points(document.get("entry_points") or {})
    base = ProjectSpec(
        directory=root,
        name=str(name) if name is not None else None,
        env_type=ENV_LOCAL,
        entry_points=entry_points,
        has_mlproject_file=mlproject is not None,
    )
    if ENV_DOCKER in env_keys:
        return replace(base, env_type=ENV_DOCKER, docker_env=_parse_docker_env(document[ENV_DOCKER]))
    for key in (ENV_PYTHON, ENV_CONDA):
        if key in env_keys:
            env_file = root / str(document[key])
            if not env_file.is_file():
                raise ProjectSpecError(
                    f"MLproject names {key} file {document[key]!r}, but no such file exists"
                )
            return replace(base, env_type=key, env_file=env_file)
    for key, filename in ((ENV_PYTHON, PYTHON_ENV_FILE_NAME), (ENV_CONDA, CONDA_ENV_FILE_NAME)):
        if (root / filename).is_file():
            return replace(base, env_type=key, env_file=root / filename)
    return base


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml  # only needed when a project is loaded

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProjectSpecError(f"{path.name} is not valid YAML: {exc}") from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ProjectSpecError(f"{path.name} must be a YAML mapping, got {type(document).__name__}")
    return document


def _parse_entry_points(raw: Any) -> dict[str, EntryPoint]:
    if not isinstance(raw, dict):
        raise ProjectSpecError("MLproject 'entry_points' must be a mapping of name to entry point")
    entry_points: dict[str, EntryPoint] = {}
    for name, body in raw.items():
        if not isinstance(body, dict) or not isinstance(body.get("command"), str):
            raise ProjectSpecError(f"Entry point {name!r} needs a 'command' string")
        params_raw = body.get("parameters") or {}
        if not isinstance(params_raw, dict):
            raise ProjectSpecError(f"Entry point {name!r}: 'parameters' must be a mapping")
        parameters = {
            str(key): _parse_parameter(str(name), str(key), value) for key, value in params_raw.items()
        }
        entry_points[str(name)] = EntryPoint(name=str(name), command=body["command"], parameters=parameters)
    return entry_points


def _parse_parameter(entry_point: str, name: str, raw: Any) -> ParameterSpec:
    if isinstance(raw, str):
        type_, default = raw, None
    elif isinstance(raw, dict):
        type_ = str(raw.get("type", "string"))
        default = raw.get("default")
    elif raw is None:
        type_, default = "string", None
    else:
        raise ProjectSpecError(
            f"Entry point {entry_point!r}: parameter {name!r} must be a type name or a mapping"
        )
    if type_ not in PARAMETER_TYPES:
        raise ProjectSpecError(
            f"Entry point {entry_point!r}: parameter {name!r} has unknown type {type_!r} "
            f"(expected one of {', '.join(PARAMETER_TYPES)})"
        )
    return ParameterSpec(name=name, type=type_, default=None if default is None else _yaml_scalar(default))


def _yaml_scalar(value: Any) -> str:
    """YAML gives ``1.0`` / ``True``; the command line wants the text the user wrote, near enough."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parse_docker_env(raw: Any) -> DockerEnv:
    if not isinstance(raw, dict) or not raw.get("image"):
        raise ProjectSpecError("MLproject docker_env needs an 'image'")
    volumes = raw.get("volumes") or []
    if not isinstance(volumes, list) or not all(isinstance(v, str) for v in volumes):
        raise ProjectSpecError("docker_env 'volumes' must be a list of 'host:container' strings")
    environment: list[tuple[str, str | None]] = []
    for item in raw.get("environment") or []:
        if isinstance(item, str):
            environment.append((item, None))
        elif isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item):
            environment.append((item[0], item[1]))
        else:
            raise ProjectSpecError(
                "docker_env 'environment' entries must be a NAME (copied from the host) or a [NAME, value] pair"
            )
    return DockerEnv(image=str(raw["image"]), volumes=tuple(volumes), environment=tuple(environment))
