"""The real components the suite runs against (PostgreSQL, MariaDB, the S3 server, Chromium, the official
``mlflow`` client, uv): without one, its tests skip on a developer's machine, but under ``CI=true`` they
fail, so that a run can never print "passed" while a part of the product went untested.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def component_missing(component: str, reason: str) -> NoReturn:
    """Skip the test (a developer's machine) or fail it (``CI=true``) because ``component`` is missing."""
    message = f"{component} is not available: {reason}"
    if running_in_ci():
        pytest.fail(f"CI=true and {message}; a missing component fails the run", pytrace=False)
    pytest.skip(message)
