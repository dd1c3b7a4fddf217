"""How the server reaches artifact bytes: the proxy destination, and the artifact URIs of runs and models.

``mlflow-artifacts:/<path>`` is mapped onto ``--artifacts-destination`` here (the server never calls
itself over HTTP). A local artifact location is only served when it lies inside one of the server's own
artifact roots, so a run created with ``artifact_location=/etc`` cannot turn the server into a file reader.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from bakehouse.errors import InvalidParameterError, PermissionDeniedError
from bakehouse.server.config import ServerConfig
from bakehouse.store.artifacts import ArtifactRepository, get_artifact_repository
from bakehouse.store.artifacts.local import local_path_from_uri
from bakehouse.store.artifacts.paths import append_to_uri, is_within_root, safe_relative_path
from bakehouse.uri import is_local_uri


def proxy_relative_path(uri: str) -> str:
    """``mlflow-artifacts:/1/abc/artifacts`` or ``mlflow-artifacts://host:port/1/abc`` -> ``1/abc/...``."""
    parsed = urlparse(uri)
    return safe_relative_path(parsed.path.lstrip("/"))


class ArtifactAccess:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.destination = config.artifacts_destination
        roots = []
        for candidate in (config.artifacts_destination, config.default_artifact_root):
            if candidate and is_local_uri(candidate):
                roots.append(local_path_from_uri(candidate).resolve())
        self.local_roots = roots

    def destination_repo(self, relative: str = "") -> ArtifactRepository:
        if not self.config.serve_artifacts:
            raise InvalidParameterError(
                "This server does not serve artifacts (it was started with --no-serve-artifacts)"
            )
        if is_local_uri(self.destination):
            Path(local_path_from_uri(self.destination)).mkdir(parents=True, exist_ok=True)
        return get_artifact_repository(append_to_uri(self.destination, safe_relative_path(relative)))

    def repo_for_uri(self, uri: str) -> ArtifactRepository:
        """The repository behind a run's or model's artifact URI, as this server may reach it."""
        if uri.startswith("mlflow-artifacts:"):
            return self.destination_repo(proxy_relative_path(uri))
        if is_local_uri(uri):
            path = local_path_from_uri(uri).resolve()
            if not any(is_within_root(root, path) for root in self.local_roots):
                raise PermissionDeniedError(
                    f"The artifact location {uri!r} is outside this server's artifact roots and is not served"
                )
            return get_artifact_repository(str(path))
        return get_artifact_repository(uri)

    def check_new_location(self, location: str | None) -> None:
        """Refuse a local ``artifact_location`` outside the server's roots when an experiment is created."""
        if not location or not is_local_uri(location):
            return
        path = local_path_from_uri(location)
        if not path.is_absolute() or not any(is_within_root(root, path) for root in self.local_roots):
            raise InvalidParameterError(
                f"artifact_location {location!r} is a local path outside the server's artifact root; use a path "
                "under --artifacts-destination / --default-artifact-root, or an s3:// or mlflow-artifacts:/ URI"
            )
