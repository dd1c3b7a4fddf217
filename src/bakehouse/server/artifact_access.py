"""How the server reaches artifact bytes: the proxy destination, and the artifact URIs of runs and models.

``mlflow-artifacts:/<path>`` is mapped onto ``--artifacts-destination`` here (the server never calls
itself over HTTP). A location is only served when it lies inside one of the server's own artifact roots
(``--artifacts-destination``, ``--default-artifact-root``), so an experiment created with
``artifact_location=/etc`` or ``s3://someone-elses-bucket`` cannot turn the server into a reader of files
it was never meant to hold; the same rule refuses such a location when the experiment is created.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from bakehouse.errors import InvalidParameterError, PermissionDeniedError
from bakehouse.server.config import ServerConfig
from bakehouse.store.artifacts import ArtifactRepository, get_artifact_repository
from bakehouse.store.artifacts.local import local_path_from_uri
from bakehouse.store.artifacts.locations import check_location_spelling, location_within
from bakehouse.store.artifacts.paths import append_to_uri, is_within_root, safe_relative_path
from bakehouse.uri import is_local_uri

PROXY_SCHEME = "mlflow-artifacts"


def proxy_relative_path(uri: str) -> str:
    """``mlflow-artifacts:/1/abc/artifacts`` or ``mlflow-artifacts://host:port/1/abc`` -> ``1/abc/...``."""
    return safe_relative_path(urlsplit(uri).path.lstrip("/"))


class ArtifactAccess:
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.destination = config.artifacts_destination
        local_roots, remote_roots = [], []
        for candidate in (config.artifacts_destination, config.default_artifact_root):
            if not candidate:
                continue
            if is_local_uri(candidate):
                local_roots.append(local_path_from_uri(candidate).resolve())
            else:
                remote_roots.append(candidate)
        self.local_roots = local_roots
        #: remote roots (``s3://bucket/prefix``, ``mlflow-artifacts://host:port/``...) locations must lie under
        self.remote_roots = remote_roots

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
        if uri.startswith(f"{PROXY_SCHEME}:"):
            return self.destination_repo(proxy_relative_path(uri))
        if is_local_uri(uri):
            path = local_path_from_uri(uri).resolve()
            if not self._local_inside(path):
                raise PermissionDeniedError(
                    f"The artifact location {uri!r} is outside this server's artifact roots and is not served"
                )
            return get_artifact_repository(str(path))
        if self.config.serve_artifacts and not self._remote_inside(uri):
            raise PermissionDeniedError(
                f"The artifact location {uri!r} is outside this server's artifact roots and is not served"
            )
        return get_artifact_repository(uri)

    def check_new_location(self, location: str | None) -> None:
        """Refuse a hostile or foreign ``artifact_location`` when an experiment is created.

        Every location is checked for hostile spellings (:mod:`bakehouse.store.artifacts.locations`). A local
        one must lie inside the server's local artifact roots. While the server proxies artifacts, any other
        location must lie under one of its roots too: ``mlflow-artifacts:/...`` (the proxy itself) or a path
        under ``--artifacts-destination`` / ``--default-artifact-root``.
        """
        if location is None or location == "":
            return
        check_location_spelling(location, "artifact_location")
        if is_local_uri(location):
            path = local_path_from_uri(location)
            if not path.is_absolute() or not self._local_inside(path):
                raise InvalidParameterError(
                    f"artifact_location {location!r} is a local path outside the server's artifact root; use a "
                    "path under --artifacts-destination / --default-artifact-root, or an s3:// or "
                    "mlflow-artifacts:/ URI"
                )
            return
        if location.startswith(f"{PROXY_SCHEME}:"):
            proxy_relative_path(location)  # the same path rules as every proxied artifact path
        if self.config.serve_artifacts and not self._remote_inside(location):
            roots = ", ".join([f"{PROXY_SCHEME}:/", *self.remote_roots, *map(str, self.local_roots)])
            raise InvalidParameterError(
                f"artifact_location {location!r} is outside this server's artifact roots ({roots}); the server "
                "serves artifacts, so an experiment's artifacts must live where it serves them from"
            )

    def _local_inside(self, path: Path) -> bool:
        return any(is_within_root(root, path) for root in self.local_roots)

    def _remote_inside(self, uri: str) -> bool:
        parts = urlsplit(uri)
        if parts.scheme.lower() == PROXY_SCHEME and not parts.netloc:
            return True  # the proxy's own root (its path was validated like any proxied path)
        return any(location_within(uri, root) for root in self.remote_roots)
