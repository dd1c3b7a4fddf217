"""Artifacts by URI (``bakehouse.artifacts.download_artifacts``, ...), as ``mlflow.artifacts`` has them.

An artifact is named either by ``run_id`` + ``artifact_path`` or by one URI: ``runs:/<run_id>/<path>``,
``models:/...``, a local path or any artifact store URI (``s3://``, ``mlflow-artifacts:/``, ...).
"""

from __future__ import annotations

import json
import posixpath
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bakehouse.client.client import Client
from bakehouse.entities import FileInfo
from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.store.artifacts import ArtifactRepository


def _client(tracking_uri: str | None) -> Client:
    return Client(tracking_uri=tracking_uri)


def _run_and_path(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    parts = [p for p in parsed.path.split("/") if p]
    if parsed.netloc or not parts:
        raise InvalidParameterError(f"Not a proper runs:/ URI: {uri!r} (expected runs:/<run_id>/<path>)")
    return parts[0], "/".join(parts[1:])


def _check_arguments(artifact_uri: str | None, run_id: str | None, artifact_path: str | None) -> None:
    if artifact_uri is not None and (run_id is not None or artifact_path is not None):
        raise InvalidParameterError(
            "Give either artifact_uri, or run_id (with an optional artifact_path), not both"
        )
    if artifact_uri is None and run_id is None:
        raise InvalidParameterError("Give artifact_uri, or run_id with an optional artifact_path")


def _repository_and_path(uri: str, tracking_uri: str | None) -> tuple[ArtifactRepository, str]:
    """The repository that holds ``uri`` and the path inside it ('' for its root)."""
    from bakehouse.models.uri import repository_for, resolve_model_uri

    if uri.startswith("models:"):
        return repository_for(resolve_model_uri(uri, tracking_uri), tracking_uri), ""
    is_local = uri.startswith("file:") or ("://" not in uri and ":/" not in uri)
    if is_local:
        local = Path(urlparse(uri).path if uri.startswith("file:") else uri).expanduser()
        if not local.exists():
            raise NotFoundError(f"No such file or directory: {local}")
        if local.is_file():
            return repository_for(str(local.parent.resolve()), tracking_uri), local.name
        return repository_for(str(local.resolve()), tracking_uri), ""
    base, _, name = uri.rstrip("/").rpartition("/")
    repository = repository_for(base, tracking_uri)
    if any(f.path == name for f in repository.list_artifacts(None)):
        return repository, name
    return repository_for(uri, tracking_uri), ""


def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | None = None,
    tracking_uri: str | None = None,
) -> str:
    """Download a file or directory; returns its local path (under ``dst_path`` or a new temp directory)."""
    _check_arguments(artifact_uri, run_id, artifact_path)
    if artifact_uri is not None and artifact_uri.startswith("runs:"):
        run_id, artifact_path = _run_and_path(artifact_uri)
        artifact_uri = None
    if run_id is not None:
        client = _client(tracking_uri)
        try:
            return client.download_artifacts(run_id, artifact_path or "", dst_path)
        except NotFoundError:
            if not artifact_path:
                raise
            # MLflow 3: runs:/<run>/<name> also names the model <name> that the run logged
            from bakehouse.models.uri import resolve_runs_model_uri

            artifact_uri = resolve_runs_model_uri(f"runs:/{run_id}/{artifact_path}", tracking_uri)
    repository, path = _repository_and_path(str(artifact_uri), tracking_uri)
    return str(repository.download_artifacts(path or None, dst_path))


def list_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    tracking_uri: str | None = None,
) -> list[FileInfo]:
    """The files and directories directly under an artifact directory."""
    _check_arguments(artifact_uri, run_id, artifact_path)
    if artifact_uri is not None and artifact_uri.startswith("runs:"):
        run_id, artifact_path = _run_and_path(artifact_uri)
    if run_id is not None:
        return _client(tracking_uri).list_artifacts(run_id, artifact_path or None)
    repository, path = _repository_and_path(str(artifact_uri), tracking_uri)
    return repository.list_artifacts(path or None)


def _download_one(artifact_uri: str) -> Path:
    local = Path(
        download_artifacts(artifact_uri=artifact_uri, dst_path=tempfile.mkdtemp(prefix="bakehouse-"))
    )
    if not local.is_file():
        raise InvalidParameterError(f"{artifact_uri} is a directory, not a file")
    return local


def load_text(artifact_uri: str) -> str:
    return _download_one(artifact_uri).read_text(encoding="utf-8")


def load_dict(artifact_uri: str) -> Any:
    """A JSON or YAML artifact as Python data."""
    local = _download_one(artifact_uri)
    text = local.read_text(encoding="utf-8")
    if posixpath.splitext(local.name)[1] in (".yaml", ".yml"):
        import yaml

        return yaml.safe_load(text)
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidParameterError(f"{artifact_uri} is not valid JSON") from None


def load_image(artifact_uri: str) -> Any:
    """An image artifact as a PIL image (needs Pillow)."""
    from PIL import Image

    image = Image.open(_download_one(artifact_uri))
    image.load()
    return image
