"""Optional dependencies: one explicit check that names the extra to install, never a silent fallback.

``require("google.cloud.storage", "gcs", "gs:// artifact locations", package="google-cloud-storage")``
imports the module, or raises :class:`~bakehouse.errors.InvalidParameterError` saying
``pip install 'bakehouse[gcs]'``. The check looks for the module before importing it, so an installed
library that fails on import still shows its own error instead of being reported as missing.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from bakehouse.errors import InvalidParameterError


def is_installed(module: str) -> bool:
    """Whether ``module`` (dotted names too) can be imported, without importing it when it is missing."""
    parts = module.split(".")
    for depth in range(1, len(parts) + 1):
        if importlib.util.find_spec(".".join(parts[:depth])) is None:
            return False
    return True


def require(module: str, extra: str, needed_for: str, package: str | None = None) -> ModuleType:
    """Import ``module`` or refuse with a message naming ``pip install 'bakehouse[<extra>]'``."""
    if not is_installed(module):
        raise InvalidParameterError(
            f"{needed_for} needs the {package or module} package: pip install 'bakehouse[{extra}]'"
        )
    return importlib.import_module(module)
