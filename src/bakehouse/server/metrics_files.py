"""Where a multi-worker server's metrics meet: one directory of per-process files, made before the fork.

prometheus_client decides at import time whether it keeps numbers in memory or in files under
``PROMETHEUS_MULTIPROC_DIR``, so the directory must be exported before anything imports it: this module
does not.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from bakehouse import settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir() -> str | None:
    """Before forking workers: a fresh directory for their metric files, exported for them.

    Returns the directory to remove at exit (None when the operator chose one: theirs is left alone)."""
    if settings.prometheus_multiproc_dir():
        return None
    directory = tempfile.mkdtemp(prefix="bakehouse-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    return directory


def remove_multiprocess_dir(directory: str | None) -> None:
    if directory:
        shutil.rmtree(directory, ignore_errors=True)
