"""Where a dataset came from: MLflow's dataset sources, their JSON, and how a string or path resolves to one.

A run's dataset input stores a ``source_type`` and a ``source`` JSON string; both are written here in
MLflow's exact shapes (``{"uri": ...}`` for files and blob stores, ``{"url": ...}`` for HTTP, ``{"tags":
{...}}`` for code) so the MLflow client and UI read Bakehouse runs the same, and the other way round.
"""

from __future__ import annotations

import json
import os
from pathlib import PurePath
from typing import Any
from urllib.parse import urlparse

from bakehouse.errors import InvalidParameterError

#: URI schemes MLflow 3.17 turns into an artifact-backed source of the same type (its built-in artifact
#: repositories, minus http(s), runs, models, mlflow-artifacts and dbfs, which it excludes).
ARTIFACT_SCHEMES = ("s3", "r2", "b2", "gs", "wasbs", "ftp", "sftp", "hdfs", "viewfs", "abfss")


class DatasetSource:
    """Base of every source: a type name and a JSON-compatible dict."""

    source_type: str = ""

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, DatasetSource)
            and self.source_type == other.source_type
            and self.to_dict() == other.to_dict()
        )

    def __hash__(self) -> int:
        return hash((self.source_type, self.to_json()))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"


class FileSystemDatasetSource(DatasetSource):
    """A dataset stored at a URI: a local path (type ``local``) or a blob store (type = the URI scheme)."""

    def __init__(self, uri: str, source_type: str) -> None:
        self.uri = uri
        self.source_type = source_type

    def to_dict(self) -> dict[str, Any]:
        return {"uri": self.uri}


class LocalArtifactDatasetSource(FileSystemDatasetSource):
    """A local file or directory (a path, or a ``file:`` URI), MLflow's source type ``local``."""

    def __init__(self, uri: str) -> None:
        super().__init__(uri, "local")


class HTTPDatasetSource(DatasetSource):
    """A dataset at an http(s) URL, MLflow's source type ``http``."""

    source_type = "http"

    def __init__(self, url: str) -> None:
        self.url = url

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url}


class CodeDatasetSource(DatasetSource):
    """The code that built the dataset (no file behind it): the run context tags, MLflow's type ``code``."""

    source_type = "code"

    def __init__(self, tags: dict[str, Any] | None) -> None:
        self.tags = tags

    def to_dict(self) -> dict[str, Any]:
        return {"tags": self.tags}


class ForeignDatasetSource(DatasetSource):
    """A source type Bakehouse has no class for (``delta_table``, ``hugging_face``, ``spark``, a plug-in's):
    kept as its type and dict, so reading an MLflow run and logging the dataset again loses nothing."""

    def __init__(self, source_type: str, payload: dict[str, Any]) -> None:
        self.source_type = source_type
        self.payload = payload

    def to_dict(self) -> dict[str, Any]:
        return dict(self.payload)


def code_source() -> CodeDatasetSource:
    """The source MLflow records when none is given: the tags a new run would get (user, source name...)."""
    from bakehouse.client.system_tags import default_tags  # the one place run context tags are computed

    return CodeDatasetSource(default_tags())


def _is_local_uri(uri: str) -> bool:
    """MLflow's ``is_local_uri(uri, is_tracking_or_registry_uri=False)``."""
    if os.name == "nt" and uri.startswith("\\\\"):  # a Windows network share
        return False
    parsed = urlparse(uri)
    if parsed.scheme == "":
        return True
    host = parsed.hostname
    remote = bool(host) and not (host == "." or str(host).startswith(("localhost", "127.0.0.1")))
    if parsed.scheme == "file":
        return not remote  # MLflow refuses file://<remote host>/...; it then resolves to nothing
    if remote:
        return False
    drive = PurePath(uri).drive
    return os.name == "nt" and len(parsed.scheme) == 1 and bool(drive) and parsed.scheme == drive[0].lower()


def resolve_source(raw: Any) -> DatasetSource:
    """A source from what a user passed as ``source=``, with MLflow's precedence (HTTP over blob stores over
    local paths); an object that already is a source (Bakehouse's or MLflow's) is kept."""
    if isinstance(raw, DatasetSource):
        return raw
    if hasattr(raw, "_get_source_type") and hasattr(raw, "to_dict"):  # an mlflow.data DatasetSource
        return source_from_dict(raw._get_source_type(), raw.to_dict())
    if isinstance(raw, str | PurePath):
        text = str(raw)
        try:
            scheme = urlparse(text).scheme
        except ValueError:
            scheme = None
        if isinstance(raw, str) and scheme in ("http", "https"):
            return HTTPDatasetSource(raw)
        if scheme in ARTIFACT_SCHEMES:
            return FileSystemDatasetSource(text, scheme)
        try:
            local = _is_local_uri(text)
        except ValueError:
            local = False
        if local:
            return LocalArtifactDatasetSource(text)
    raise InvalidParameterError(
        f"Could not find a source information resolver for the specified dataset source: {raw}."
    )


def source_from_dict(source_type: str, data: dict[str, Any]) -> DatasetSource:
    """The source a ``(source_type, dict)`` pair describes, as MLflow's ``get_dataset_source_from_json``."""
    if not isinstance(data, dict):
        raise InvalidParameterError(f"A dataset source must be a JSON object, got {type(data).__name__}")
    if source_type == "http":
        if data.get("url") is None:
            raise InvalidParameterError('Failed to parse HTTPDatasetSource. Missing expected key: "url"')
        return HTTPDatasetSource(data["url"])
    if source_type == "local" or source_type in ARTIFACT_SCHEMES:
        if data.get("uri") is None:
            raise InvalidParameterError(
                f'Failed to parse a {source_type} dataset source. Missing expected key: "uri"'
            )
        if source_type == "local":
            return LocalArtifactDatasetSource(data["uri"])
        return FileSystemDatasetSource(data["uri"], source_type)
    if source_type == "code":
        return CodeDatasetSource(data.get("tags"))
    return ForeignDatasetSource(source_type, data)


def source_from_json(source_json: str, source_type: str) -> DatasetSource:
    """Parse a dataset input's ``source`` column (MLflow's argument order)."""
    try:
        data = json.loads(source_json)
    except (TypeError, ValueError) as exc:
        raise InvalidParameterError(f"Dataset source is not valid JSON: {source_json!r}") from exc
    return source_from_dict(source_type, data)
