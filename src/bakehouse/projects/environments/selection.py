"""Choosing the environment manager for a project and an ``--env-manager`` flag."""

from __future__ import annotations

from pathlib import Path

from bakehouse.projects.environments.base import Environment, EnvironmentError_
from bakehouse.projects.environments.conda import conda_or_virtualenv
from bakehouse.projects.environments.docker import DockerEnvironment
from bakehouse.projects.environments.local import LocalEnvironment
from bakehouse.projects.environments.requirements import (
    PythonRequirements,
    from_conda_yaml,
    from_python_env,
)
from bakehouse.projects.environments.virtualenv import VirtualenvEnvironment
from bakehouse.projects.spec import ENV_CONDA, ENV_DOCKER, ENV_PYTHON, ProjectSpec

ENV_MANAGERS = ("local", "virtualenv", "uv", "conda")


def default_manager(project: ProjectSpec) -> str:
    return {ENV_CONDA: "conda", ENV_PYTHON: "virtualenv", ENV_DOCKER: "docker"}.get(project.env_type, "local")


def resolve_environment(
    project: ProjectSpec,
    manager: str | None,
    *,
    tracking_uri: str | None = None,
    artifact_root: str | None = None,
    host_env: dict[str, str] | None = None,
    cache_root: Path | None = None,
    docker_args: dict[str, str | bool] | None = None,
    strict_python: bool = False,
) -> Environment:
    """The environment ``manager`` (or the project's default) builds for ``project``.

    ``strict_python``: refuse when the exact Python the project asks for is not installed, instead of using
    the nearest installed one (and saying so).
    """
    if manager is not None and manager not in ENV_MANAGERS:
        raise EnvironmentError_(
            f"Unknown env manager {manager!r} (expected one of {', '.join(ENV_MANAGERS)})"
        )
    if project.env_type == ENV_DOCKER:
        if manager not in (None, "local"):
            raise EnvironmentError_(
                f"This project runs in its docker_env image; --env-manager {manager} does not apply to it"
            )
        assert project.docker_env is not None
        return DockerEnvironment(
            project.directory,
            project.docker_env,
            tracking_uri=tracking_uri,
            artifact_root=artifact_root,
            host_env=host_env,
            docker_args=docker_args,
        )
    chosen = manager or default_manager(project)
    if chosen == "local":
        return LocalEnvironment()
    if chosen == "conda":
        if project.env_type == ENV_PYTHON:
            raise EnvironmentError_(
                "A python_env project cannot run with conda; use --env-manager virtualenv, uv or local"
            )
        if project.env_type != ENV_CONDA or project.env_file is None:
            raise EnvironmentError_("--env-manager conda needs a conda.yaml (conda_env) in the project")
        return conda_or_virtualenv(project.env_file, cache_root, strict_python)
    requirements = _python_requirements(project)
    note = requirements.conda_note(project.env_file.name) if project.env_file is not None else None
    return VirtualenvEnvironment(
        requirements,
        use_uv=True if chosen == "uv" else None,
        manager=chosen,
        cache_root=cache_root,
        note=note,
        strict_python=strict_python,
    )


def _python_requirements(project: ProjectSpec) -> PythonRequirements:
    if project.env_file is None:
        return PythonRequirements()
    if project.env_type == ENV_PYTHON:
        return from_python_env(project.env_file)
    return from_conda_yaml(project.env_file)  # its conda packages are installed with pip
