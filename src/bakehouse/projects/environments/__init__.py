"""Where an entry point's command runs: the current interpreter, a cached virtualenv or conda env, or Docker.

``resolve_environment`` picks the manager for a project (``conda_env`` → conda, ``python_env`` →
virtualenv, ``docker_env`` → docker, nothing → local) and returns an object whose ``prepare`` builds the
environment once (cached by a hash of its spec) and whose result wraps the command to run.
"""

from bakehouse.projects.environments.base import (
    BuildProgress,
    Environment,
    EnvironmentError_,
    NullProgress,
    PreparedEnvironment,
)
from bakehouse.projects.environments.selection import ENV_MANAGERS, resolve_environment

__all__ = [
    "ENV_MANAGERS",
    "BuildProgress",
    "Environment",
    "EnvironmentError_",
    "NullProgress",
    "PreparedEnvironment",
    "resolve_environment",
]
