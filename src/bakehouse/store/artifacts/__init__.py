"""Artifact repositories: where run and model files live (local disk, S3, a server's proxy, ...).

``get_artifact_repository(uri)`` picks the implementation by URI scheme through
:data:`bakehouse.plugins.artifact_repositories`, so third-party schemes plug in the same way.
"""

from __future__ import annotations

from typing import Any

from bakehouse import plugins
from bakehouse.store.artifacts.base import ArtifactRepository, ChunkStream, ProgressCallback
from bakehouse.store.artifacts.paths import resolve_parent_under, resolve_under, safe_relative_path
from bakehouse.uri import uri_scheme

__all__ = [
    "ArtifactRepository",
    "ChunkStream",
    "ProgressCallback",
    "get_artifact_repository",
    "resolve_parent_under",
    "resolve_under",
    "safe_relative_path",
]


def get_artifact_repository(
    artifact_uri: str, tracking_uri: str | None = None, **kwargs: Any
) -> ArtifactRepository:
    """The repository for ``artifact_uri``.

    ``tracking_uri`` reaches the repositories that need a server address or a tracking store
    (``mlflow-artifacts:``, ``http(s):``, ``runs:``, ``models:``); others ignore it.
    """
    factory = plugins.artifact_repositories.get(uri_scheme(artifact_uri))
    if tracking_uri is not None and getattr(factory, "accepts_tracking_uri", False):
        kwargs["tracking_uri"] = tracking_uri
    repository: ArtifactRepository = factory(artifact_uri, **kwargs)
    return repository
