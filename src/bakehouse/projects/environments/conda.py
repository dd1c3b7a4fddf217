"""The ``conda`` manager: ``conda env create`` into the cache when conda exists, else a virtualenv.

Without conda, a ``conda.yaml`` is honoured with a virtualenv of the requested Python version: its pip
packages as they are, its conda packages with pip under their pip names (the user is told so in one line);
only conda packages the Python package index does not have are refused, by name, when the environment is
built.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bakehouse.projects.environments import cache
from bakehouse.projects.environments.base import BuildProgress, EnvironmentError_, PreparedEnvironment
from bakehouse.projects.environments.requirements import from_conda_yaml
from bakehouse.projects.environments.virtualenv import VirtualenvEnvironment, link_bakehouse

logger = logging.getLogger(__name__)


def find_conda() -> str | None:
    for name in ("conda", "mamba", "micromamba"):
        found = shutil.which(name)
        if found:
            return found
    return None


class CondaEnvironment:
    name = "conda"

    def __init__(self, conda_yaml: Path, conda: str, cache_root: Path | None = None) -> None:
        self.conda_yaml = conda_yaml
        self.conda = conda
        self.cache_root = cache_root

    def cache_fields(self) -> dict[str, Any]:
        return {"kind": "conda", "yaml": self.conda_yaml.read_text(encoding="utf-8")}

    @property
    def path(self) -> Path:
        return cache.env_dir("conda", self.cache_fields(), self.cache_root)

    def describe(self) -> str:
        return f"conda environment from {self.conda_yaml.name} at {self.path} (with {self.conda})"

    def prepare(self, progress: BuildProgress) -> PreparedEnvironment:
        path = self.path
        with cache.build_lock(path):
            if cache.is_complete(path):
                return self._prepared(path, cached=True)
            cache.discard(path)
            started = time.monotonic()
            progress.begin(f"Creating conda environment {path.name}", 1)
            progress.advance(f"{Path(self.conda).name} env create -f {self.conda_yaml.name}")
            try:
                result = subprocess.run(
                    [
                        self.conda,
                        "env",
                        "create",
                        "--yes",
                        "--quiet",
                        "-p",
                        str(path),
                        "-f",
                        str(self.conda_yaml),
                    ],
                    check=False,
                    capture_output=True,
                    text=True,
                )
                if result.returncode != 0:
                    tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
                    raise EnvironmentError_(f"conda could not create the environment:\n{tail}")
                link_bakehouse(path / "bin" / "python")
            except BaseException:
                cache.discard(path)
                raise
            finally:
                progress.end()
            cache.mark_complete(path, self.cache_fields(), time.monotonic() - started)
        return self._prepared(path, cached=False)

    def _prepared(self, path: Path, cached: bool) -> PreparedEnvironment:
        return PreparedEnvironment(
            manager=self.name, bin_dir=path / "bin", env_vars={"CONDA_PREFIX": str(path)}, cached=cached
        )


def conda_or_virtualenv(
    conda_yaml: Path, cache_root: Path | None = None, strict_python: bool = False
) -> CondaEnvironment | VirtualenvEnvironment:
    conda = find_conda()
    if conda:
        return CondaEnvironment(conda_yaml, conda, cache_root)
    requirements = from_conda_yaml(conda_yaml)
    version = requirements.python or "the current version"
    if requirements.conda_only:
        note = (
            f"conda is not installed: {conda_yaml.name} runs in a virtualenv with Python {version}, its conda "
            f"packages installed with pip ({', '.join(requirements.pip_for_conda)})"
        )
    else:
        note = (
            f"conda is not installed; {conda_yaml.name} only asks for Python {version} and pip packages, "
            "so it runs in a virtualenv instead"
        )
    return VirtualenvEnvironment(
        requirements, manager="virtualenv", cache_root=cache_root, note=note, strict_python=strict_python
    )
