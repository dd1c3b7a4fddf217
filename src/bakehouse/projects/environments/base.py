"""What every environment manager provides, and how build progress is reported."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bakehouse.errors import InvalidParameterError

logger = logging.getLogger(__name__)


class EnvironmentError_(InvalidParameterError):
    """The project's environment cannot be created (missing tool, unsatisfiable spec, failed install)."""


class BuildProgress(Protocol):
    """Receives build steps; the CLI shows them with rich, the library default logs them."""

    def begin(self, title: str, steps: int) -> None: ...

    def advance(self, message: str) -> None: ...

    def note(self, message: str) -> None: ...

    def end(self) -> None: ...


class NullProgress:
    """Progress reporting through logging only (library code never prints)."""

    def begin(self, title: str, steps: int) -> None:
        logger.info("%s", title)

    def advance(self, message: str) -> None:
        logger.info("  %s", message)

    def note(self, message: str) -> None:
        logger.info("%s", message)

    def end(self) -> None:
        pass


@dataclass(frozen=True)
class PreparedEnvironment:
    """A ready environment: how to turn a shell command into the argv that runs it there."""

    manager: str
    #: variables added to the child's environment (PATH, VIRTUAL_ENV, ...)
    env_vars: dict[str, str] = field(default_factory=dict)
    #: directory put first on PATH (a venv's or conda prefix's ``bin``)
    bin_dir: Path | None = None
    #: built now (False) or reused from the cache (True)
    cached: bool = False
    #: for docker: the ``docker run ...`` argv before the shell command
    wrapper: tuple[str, ...] = ()

    def argv(self, command: str) -> list[str]:
        shell = shutil.which("bash") or "/bin/sh"
        if self.wrapper:
            return [*self.wrapper, "bash", "-c", command]
        return [shell, "-c", command]

    def child_env(self, base: dict[str, str]) -> dict[str, str]:
        env = dict(base)
        if self.bin_dir is not None:
            env["PATH"] = f"{self.bin_dir}:{base.get('PATH', '')}"
            env.pop("PYTHONHOME", None)
        env.update(self.env_vars)
        return env


class Environment(Protocol):
    """An environment manager bound to one project."""

    name: str

    def describe(self) -> str:
        """One line for ``--dry-run`` and logs: what would be built or used."""
        ...

    def prepare(self, progress: BuildProgress) -> PreparedEnvironment:
        """Build (or reuse) the environment. Idempotent and safe to call from parallel processes."""
        ...
