"""The registry's fluent functions (``bakehouse.register_model``, ...), as ``mlflow.*`` has them.

They act on a Client for the current tracking/registry URI (``set_tracking_uri``/``set_registry_uri`` or
the environment), like the rest of the fluent API.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bakehouse.client.client import Client
from bakehouse.entities import ModelVersion, RegisteredModel
from bakehouse.entities.page import collect_pages
from bakehouse.store.registry.base import (
    MODEL_VERSIONS_MAX_RESULTS_DEFAULT,
    REGISTERED_MODELS_MAX_RESULTS_DEFAULT,
)


def _client() -> Client:
    return Client()


def register_model(
    model_uri: str, name: str, await_registration_for: int = 300, *, tags: dict[str, Any] | None = None
) -> ModelVersion:
    """Create ``name`` if missing, then a new version from ``model_uri`` (``runs:/``, ``models:/``, any URI)."""
    return _client().register_model(model_uri, name, tags=tags, await_registration_for=await_registration_for)


def search_registered_models(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[RegisteredModel]:
    """Every matching registered model (all pages unless ``max_results`` is given), as ``mlflow`` does."""
    return collect_pages(
        lambda token, n: _client().search_registered_models(filter_string, n, order_by, token),
        max_results,
        REGISTERED_MODELS_MAX_RESULTS_DEFAULT,
    )


def search_model_versions(
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
) -> list[ModelVersion]:
    return collect_pages(
        lambda token, n: _client().search_model_versions(filter_string, n, order_by, token),
        max_results,
        MODEL_VERSIONS_MAX_RESULTS_DEFAULT,
    )
