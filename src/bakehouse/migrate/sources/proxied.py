"""``mlflow-artifacts:/`` URIs found in a database or file store: where their bytes are without the server.

An MLflow server started with ``--artifacts-destination D`` records its runs' artifacts as
``mlflow-artifacts:/<path>`` and keeps the bytes at ``D/<path>``. Reading its database directly, a migration
needs ``D`` (a directory, an ``s3://`` URI...) or the server's URL to fetch them through its proxy.
"""

from __future__ import annotations

from urllib.parse import urlparse

from bakehouse.migrate.errors import MigrationError
from bakehouse.store.artifacts import ArtifactRepository, get_artifact_repository
from bakehouse.store.tracking.sql.connection import append_to_uri

PROXY_SCHEME = "mlflow-artifacts"


def open_artifacts(uri: str, artifacts_destination: str | None) -> ArtifactRepository:
    if not uri.lower().startswith(PROXY_SCHEME + ":"):
        return get_artifact_repository(uri)
    if not artifacts_destination:
        raise MigrationError(
            f"Artifacts at {uri} live behind an MLflow server's artifact proxy: pass --artifacts-destination with "
            "the server's --artifacts-destination (a directory or s3://...), or the server's URL"
        )
    if urlparse(artifacts_destination).scheme in ("http", "https"):
        return get_artifact_repository(uri, tracking_uri=artifacts_destination)
    path = urlparse(uri).path.lstrip("/")
    return get_artifact_repository(
        append_to_uri(artifacts_destination, path) if path else artifacts_destination
    )
