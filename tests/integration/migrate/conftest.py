"""Fixtures of the migration tests (defined in ``migrate_support.py``, which the tests also import)."""

from migrate_support import (  # noqa: F401 - pytest finds fixtures by name in this module
    mlflow2_python,
    mlflow2_stores,
    mlflow3_stores,
    mlflow_servers,
    read_through_server,
)
