"""The ``local`` manager: run in the current interpreter's environment, as it is."""

from __future__ import annotations

import sys
from pathlib import Path

from bakehouse.projects.environments.base import BuildProgress, PreparedEnvironment


class LocalEnvironment:
    name = "local"

    def describe(self) -> str:
        return f"the current environment ({sys.executable})"

    def prepare(self, progress: BuildProgress) -> PreparedEnvironment:
        # put this interpreter's bin first so "python" in a command means the interpreter bakehouse runs on
        return PreparedEnvironment(manager=self.name, bin_dir=Path(sys.executable).parent, cached=True)
