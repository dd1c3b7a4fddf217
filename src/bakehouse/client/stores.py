"""Which store a tracking URI means, one instance per URI per process."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import urlparse

from bakehouse import plugins, settings
from bakehouse.errors import InvalidParameterError
from bakehouse.store.registry.base import RegistryStore
from bakehouse.store.tracking.base import TrackingStore
from bakehouse.uri import uri_scheme

_tracking_stores: dict[str, TrackingStore] = {}
_registry_stores: dict[str, RegistryStore] = {}
_lock = threading.Lock()
# The process's chosen URIs (the fluent API's set_tracking_uri/set_registry_uri): held here, below both the
# Client and the fluent API, so that a Client built without a URI uses them without importing the fluent API.
_chosen_tracking_uri: str | None = None
_chosen_registry_uri: str | None = None


def choose_tracking_uri(uri: str | None) -> None:
    global _chosen_tracking_uri
    _chosen_tracking_uri = uri


def chosen_tracking_uri() -> str | None:
    return _chosen_tracking_uri


def choose_registry_uri(uri: str | None) -> None:
    global _chosen_registry_uri
    _chosen_registry_uri = uri


def chosen_registry_uri() -> str | None:
    return _chosen_registry_uri


def normalize_tracking_uri(uri: str) -> str:
    """A bare ``*.db`` path means SQLite; other bare paths are refused with a clear message."""
    scheme = uri_scheme(uri)
    if scheme in ("", "file"):
        path = Path(urlparse(uri).path if scheme == "file" else uri).expanduser()
        if path.suffix in (".db", ".sqlite", ".sqlite3"):
            return "sqlite:///" + str(path.resolve())
        raise InvalidParameterError(
            f"Unsupported tracking URI {uri!r}: Bakehouse stores tracking data in a database. Use "
            "'sqlite:///path/to/bakehouse.db', 'postgresql://...', 'mysql://...' or the URL of a tracking server."
        )
    return uri


def get_tracking_store(uri: str, artifact_uri: str | None = None) -> TrackingStore:
    key = f"{uri}|{artifact_uri or ''}"
    with _lock:
        store = _tracking_stores.get(key)
        if store is None:
            factory = plugins.tracking_stores.get(uri_scheme(uri))
            store = _tracking_stores[key] = factory(uri, artifact_uri)
        return store


def is_server_uri(uri: str) -> bool:
    """Whether a tracking URI names a tracking server (rather than a database or a directory)."""
    return uri_scheme(uri) in {"http", "https"}


def prepare_tracking_store(store: TrackingStore) -> None:
    """Do a server store's one-time local setup now: the HTTP client's imports, the TLS context, the pool.

    No request is sent. Called when a server's URI is chosen, so the first call of a process costs what
    later ones do.
    """
    # imported here: it brings the HTTP client, which a process that never talks to a server does not need
    from bakehouse.store.tracking.rest import RestTrackingStore

    if isinstance(store, RestTrackingStore):
        store.transport.prepare()


def load_database_store_code(uri: str) -> None:
    """Import a built-in SQL store's code now (SQLAlchemy and the schema's tables: most of what an embedded
    store's first call costs), without opening the database: choosing a URI must not create it."""
    scheme = uri_scheme(uri)
    if scheme in plugins.DATABASE_SCHEMES:
        plugins.tracking_stores.get(scheme)


def get_registry_store(uri: str) -> RegistryStore:
    with _lock:
        store = _registry_stores.get(uri)
        if store is None:
            factory = plugins.registry_stores.get(uri_scheme(uri))
            store = _registry_stores[uri] = factory(uri)
        return store


def clear_store_cache() -> None:
    """Forget every store; a server store's keep-alive connections are closed, not left to the collector
    (an unclosed socket warns when collected, at a random later moment)."""
    with _lock:
        dropped = [*_tracking_stores.values(), *_registry_stores.values()]
        _tracking_stores.clear()
        _registry_stores.clear()
    if any(hasattr(store, "transport") for store in dropped):
        # imported here: only a process that made server stores has the HTTP client loaded already
        from bakehouse.wire.transport import HttpTransport

        for store in dropped:
            transport = getattr(store, "transport", None)
            if isinstance(transport, HttpTransport):
                transport.close()


def resolve_tracking_uri(explicit: str | None, fluent_default: str | None = None) -> str:
    uri = explicit or fluent_default or settings.tracking_uri_from_env() or settings.default_tracking_uri()
    return normalize_tracking_uri(uri)
