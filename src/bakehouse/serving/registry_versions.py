"""Which registry version a ``models:/`` URI points at, for the scoring server: the version it loads and
names (``/version``, the line printed at start-up), and what ``--watch`` polls.
"""

from __future__ import annotations

from collections.abc import Callable

from bakehouse.client.client import Client
from bakehouse.store.registry.uri import parse_models_uri, resolve_model_version, split_models_uri


def is_watchable(model_uri: str) -> bool:
    """Registry URIs that can move: ``name@alias``, ``name/<stage>``, ``name/latest`` (not a fixed version)."""
    if not model_uri.startswith("models:/"):
        return False
    parsed = parse_models_uri(model_uri)
    return parsed.model_id is None and parsed.version is None


def registry_resolver(model_uri: str) -> Callable[[], str]:
    """``() -> version`` through the registry of the current tracking/registry URI."""
    client = Client()

    def resolve() -> str:
        return str(resolve_model_version(client.registry_store, model_uri).version)

    return resolve


def pinned_uri(model_uri: str, version: str) -> str:
    """``models:/iris@champion`` + ``3`` -> ``models:/iris/3``: load exactly what was resolved."""
    _, sub_path = split_models_uri(model_uri)
    name = parse_models_uri(model_uri).name
    return f"models:/{name}/{version}" + (f"/{sub_path}" if sub_path else "")
