"""One small plug-in registry: stores and artifact repositories by URI scheme, flavors and project
backends by name.

Built-ins register through the same path as third-party plug-ins (Python entry points), as lazy
``"module:attribute"`` strings so that registering costs no import: ``import bakehouse`` stays fast and a
SQLAlchemy-backed store is only imported when a ``sqlite://`` URI is actually used.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from bakehouse.errors import InvalidParameterError

T = TypeVar("T")


class PluginRegistry(Generic[T]):
    """Maps a key (a URI scheme or a name) to an object or a lazy ``"module:attr"`` reference."""

    def __init__(self, kind: str, entry_point_group: str | None = None) -> None:
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T | str] = {}
        self._entry_points_loaded = False
        self._lock = threading.Lock()

    def register(self, key: str, target: T | str) -> None:
        self._items[key.lower()] = target

    def keys(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._items)

    def __contains__(self, key: str) -> bool:
        self._load_entry_points()
        return key.lower() in self._items

    def get(self, key: str) -> T:
        # a plug-in never replaces a built-in (``setdefault`` below): scanning every installed package's
        # entry points (tens of ms in a fresh process) is needed only for a key that is not built in
        target = self._items.get(key.lower())
        if target is None:
            self._load_entry_points()
            target = self._items.get(key.lower())
        if target is None:
            known = ", ".join(sorted(self._items)) or "none"
            raise InvalidParameterError(f"No {self.kind} registered for {key!r} (known: {known})")
        if isinstance(target, str):
            resolved: T = resolve_reference(target)
            self._items[key.lower()] = resolved
            return resolved
        return target

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded or self.entry_point_group is None:
            return
        with self._lock:
            if self._entry_points_loaded:
                return
            from importlib.metadata import entry_points  # only when a plug-in lookup happens

            for ep in entry_points(group=self.entry_point_group):
                self._items.setdefault(ep.name.lower(), ep.value)
            self._entry_points_loaded = True


def resolve_reference(reference: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module_name, _, attribute = reference.partition(":")
    target: Any = importlib.import_module(module_name)
    for part in attribute.split(".") if attribute else ():
        target = getattr(target, part)
    return target


#: tracking store factories by URI scheme: ``factory(uri: str, artifact_uri: str | None) -> TrackingStore``
tracking_stores: PluginRegistry[Callable[..., Any]] = PluginRegistry(
    "tracking store", "bakehouse.tracking_store"
)
#: registry store factories by URI scheme: ``factory(uri: str) -> RegistryStore``
registry_stores: PluginRegistry[Callable[..., Any]] = PluginRegistry(
    "registry store", "bakehouse.registry_store"
)
#: artifact repository classes by URI scheme: ``cls(artifact_uri: str) -> ArtifactRepository``
artifact_repositories: PluginRegistry[Callable[..., Any]] = PluginRegistry(
    "artifact repository", "bakehouse.artifact_repository"
)
#: model flavor modules by flavor name (``sklearn``, ``pytorch``, ``python_function``)
flavors: PluginRegistry[Any] = PluginRegistry("model flavor", "bakehouse.flavor")
#: project backends by name (``local``, ``kubernetes``)
project_backends: PluginRegistry[Any] = PluginRegistry("project backend", "bakehouse.project_backend")

#: the URI schemes of the built-in SQL stores
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgres", "mysql", "mssql")
for _scheme in DATABASE_SCHEMES:
    tracking_stores.register(_scheme, "bakehouse.store.tracking.sql.store:SqlTrackingStore.from_uri")
    registry_stores.register(_scheme, "bakehouse.store.registry.sql:SqlRegistryStore.from_uri")
for _scheme in ("http", "https"):
    tracking_stores.register(_scheme, "bakehouse.store.tracking.rest:RestTrackingStore.from_uri")
    registry_stores.register(_scheme, "bakehouse.store.registry.rest:RestRegistryStore.from_uri")

artifact_repositories.register("", "bakehouse.store.artifacts.local:LocalArtifactRepository")
artifact_repositories.register("file", "bakehouse.store.artifacts.local:LocalArtifactRepository")
artifact_repositories.register("s3", "bakehouse.store.artifacts.s3:S3ArtifactRepository")
artifact_repositories.register("gs", "bakehouse.store.artifacts.gcs:GcsArtifactRepository")
artifact_repositories.register("wasbs", "bakehouse.store.artifacts.azure:AzureBlobArtifactRepository")
artifact_repositories.register("abfss", "bakehouse.store.artifacts.azure:AzureBlobArtifactRepository")
artifact_repositories.register("mlflow-artifacts", "bakehouse.store.artifacts.http:ProxyArtifactRepository")
artifact_repositories.register("http", "bakehouse.store.artifacts.http:HttpArtifactRepository")
artifact_repositories.register("https", "bakehouse.store.artifacts.http:HttpArtifactRepository")
artifact_repositories.register("runs", "bakehouse.store.artifacts.logical:RunsArtifactRepository")
artifact_repositories.register("models", "bakehouse.store.artifacts.logical:ModelsArtifactRepository")
project_backends.register("local", "bakehouse.projects.backends.local:LocalBackend")
project_backends.register("kubernetes", "bakehouse.projects.backends.kubernetes")

flavors.register("python_function", "bakehouse.pyfunc.model")
for _flavor in (
    "sklearn",
    "pytorch",
    "xgboost",
    "lightgbm",
    "catboost",
    "keras",
    "onnx",
    "statsmodels",
    "transformers",
):
    flavors.register(_flavor, f"bakehouse.models.flavors.{_flavor}")
