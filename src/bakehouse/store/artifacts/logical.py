"""``runs:/<run_id>/<path>`` and ``models:/...`` URIs: names for artifacts stored somewhere else.

They resolve to a concrete artifact URI through a tracking store (never through ``bakehouse.client``: the
store layer sits below the client), then every operation is delegated to the repository of that URI.

``models:/m-<id>[/<path>]`` (a logged model) is resolved here; the registry forms
(``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<name>/<stage>``,
``models:/<name>/latest``) go through :func:`resolve_models_uri`, the hook the registry store extends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bakehouse import plugins, settings
from bakehouse.entities import FileInfo
from bakehouse.errors import InvalidParameterError
from bakehouse.store.artifacts import get_artifact_repository
from bakehouse.store.artifacts.base import ArtifactRepository, ChunkStream, ProgressCallback
from bakehouse.store.artifacts.paths import append_to_uri, safe_relative_path
from bakehouse.uri import uri_scheme


def _tracking_store(tracking_uri: str | None) -> Any:
    uri = tracking_uri or settings.tracking_uri_from_env() or settings.default_tracking_uri()
    return plugins.tracking_stores.get(uri_scheme(uri))(uri)


def _split_logical(uri: str, scheme: str) -> list[str]:
    parsed = urlparse(uri)
    if parsed.scheme != scheme:
        raise InvalidParameterError(f"Not a {scheme}:/ URI: {uri!r}")
    if parsed.netloc:
        raise InvalidParameterError(
            f"{scheme}:/ URIs take no host (use {scheme}:/<...> with a single slash): {uri!r}"
        )
    parts = [part for part in parsed.path.split("/") if part]
    if not parts:
        raise InvalidParameterError(f"Incomplete {scheme}:/ URI: {uri!r}")
    return parts


def resolve_runs_uri(uri: str, tracking_uri: str | None = None, tracking_store: Any = None) -> str:
    """``runs:/<run_id>/<path>`` → ``<the run's artifact_uri>/<path>``.

    MLflow 3 stores models outside the run's artifacts, so ``runs:/<run_id>/<name>/...`` falls back to the
    logged model called ``<name>`` created by that run when the run has no artifact of that name (what
    ``load_model("runs:/<run_id>/model")`` relies on).
    """
    run_id, *rest = _split_logical(uri, "runs")
    sub_path = safe_relative_path("/".join(rest))  # refuse a hostile path before any lookup
    store = tracking_store if tracking_store is not None else _tracking_store(tracking_uri)
    run = store.get_run(run_id)
    if sub_path:
        name, _, remainder = sub_path.partition("/")
        model = _run_model_without_artifact(store, run, name, tracking_uri)
        if model is not None:
            return append_to_uri(model.artifact_location, remainder)
    return append_to_uri(run.info.artifact_uri, sub_path)


def _run_model_without_artifact(store: Any, run: Any, name: str, tracking_uri: str | None) -> Any:
    """The logged model ``name`` of ``run``, only if the run's own artifacts have nothing called ``name``."""
    if "'" in name or not hasattr(store, "search_logged_models"):
        return None
    run_artifacts = get_artifact_repository(run.info.artifact_uri, tracking_uri=tracking_uri)
    if any(info.path == name for info in run_artifacts.list_dir("")):
        return None
    page_token = None
    while True:
        page = store.search_logged_models(
            experiment_ids=[run.info.experiment_id], filter_string=f"name = '{name}'", page_token=page_token
        )
        for model in page:
            if model.source_run_id == run.info.run_id:
                return model
        page_token = getattr(page, "token", None)
        if not page_token:
            return None


def _is_logged_model_id(segment: str) -> bool:
    return segment.startswith("m-") and "@" not in segment and len(segment) > 2


def resolve_models_uri(uri: str, tracking_uri: str | None = None, tracking_store: Any = None) -> str:
    """``models:/...`` → the concrete artifact URI of that model.

    ``models:/m-<id>[/<path>]`` is a logged model (via ``get_logged_model``); ``models:/<name>/<version>``,
    ``models:/<name>@<alias>``, ``models:/<name>/<stage>`` and ``models:/<name>/latest`` resolve through
    the registry store.
    """
    parts = _split_logical(uri, "models")
    if _is_logged_model_id(parts[0]):
        sub_path = safe_relative_path("/".join(parts[1:]))
        store = tracking_store if tracking_store is not None else _tracking_store(tracking_uri)
        return append_to_uri(store.get_logged_model(parts[0]).artifact_location, sub_path)
    from bakehouse.store.registry.uri import resolve_registered_models_uri  # registry: only for models:/ URIs

    if tracking_uri is None and tracking_store is not None:
        tracking_uri = getattr(tracking_store, "tracking_uri", None)
    return resolve_registered_models_uri(uri, tracking_uri=tracking_uri, tracking_store=tracking_store)


class _DelegatingArtifactRepository(ArtifactRepository):
    """Resolves once at construction, then forwards every primitive to the concrete repository."""

    accepts_tracking_uri = True

    def __init__(
        self, artifact_uri: str, tracking_uri: str | None = None, tracking_store: Any = None
    ) -> None:
        super().__init__(artifact_uri)
        self.resolved_uri = self._resolve(artifact_uri, tracking_uri, tracking_store)
        self.inner = get_artifact_repository(self.resolved_uri, tracking_uri=tracking_uri)
        self.max_workers = self.inner.max_workers

    def _resolve(self, uri: str, tracking_uri: str | None, tracking_store: Any) -> str:
        raise NotImplementedError

    def close(self) -> None:
        self.inner.close()

    def _upload_file(self, local_path: Path, dest: str, progress: ProgressCallback | None) -> None:
        self.inner._upload_file(local_path, dest, progress)

    def _download_file(self, src: str, local_path: Path, progress: ProgressCallback | None) -> None:
        self.inner._download_file(src, local_path, progress)

    def _list_dir(self, path: str) -> list[FileInfo]:
        return self.inner._list_dir(path)

    def _delete(self, path: str) -> None:
        self.inner._delete(path)

    def _open_read(self, path: str) -> ChunkStream:
        return self.inner._open_read(path)

    def _write_stream(self, path: str, chunks: Iterable[bytes]) -> int:
        return self.inner._write_stream(path, chunks)

    def _is_dir(self, path: str) -> bool:
        return self.inner._is_dir(path)

    def _walk(self, path: str) -> Iterator[FileInfo]:
        return self.inner._walk(path)


class RunsArtifactRepository(_DelegatingArtifactRepository):
    """``runs:/<run_id>/<path>``: the run's artifacts, wherever its ``artifact_uri`` points."""

    def _resolve(self, uri: str, tracking_uri: str | None, tracking_store: Any) -> str:
        return resolve_runs_uri(uri, tracking_uri, tracking_store)


class ModelsArtifactRepository(_DelegatingArtifactRepository):
    """``models:/m-<id>[/<path>]`` now; registry forms once :func:`resolve_models_uri` supports them."""

    def _resolve(self, uri: str, tracking_uri: str | None, tracking_store: Any) -> str:
        return resolve_models_uri(uri, tracking_uri, tracking_store)
