"""Model URIs: turn any way of naming a model into a local directory holding its MLmodel.

Forms: local paths and ``file://``; ``runs:/<run_id>/<path>`` (MLflow 3: first the run's own artifacts,
then the logged model of that name whose source run is ``run_id``); ``models:/<model_id>``;
``models:/<name>/<version|stage|latest>`` and ``models:/<name>@<alias>`` (through the registry store);
any artifact URI (``s3://``, ``mlflow-artifacts:/``, ...). Local models are used in place, not copied.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from urllib.parse import urlparse

from bakehouse.client import fluent
from bakehouse.client.client import Client
from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.models.mlmodel import MLMODEL_FILE_NAME, Model
from bakehouse.store.artifacts import ArtifactRepository, get_artifact_repository
from bakehouse.store.registry.uri import resolve_models_uri

logger = logging.getLogger(__name__)


def _client(tracking_uri: str | None) -> Client:
    return Client(tracking_uri=tracking_uri)


def _local_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and Path(uri).exists()):
        return Path(uri).expanduser()
    return None


def _join(base: str, sub: str) -> str:
    return base.rstrip("/") + "/" + sub.strip("/") if sub.strip("/") else base


def repository_for(artifact_uri: str, tracking_uri: str | None) -> ArtifactRepository:
    """The artifact repository; ``mlflow-artifacts:`` and ``http(s):`` URIs need the tracking server's address."""
    return get_artifact_repository(artifact_uri, tracking_uri=tracking_uri or fluent.get_tracking_uri())


def _has_mlmodel(artifact_uri: str, tracking_uri: str | None = None) -> bool:
    local = _local_path(artifact_uri)
    if local is not None:
        return (local / MLMODEL_FILE_NAME).is_file()
    try:
        names = {Path(f.path).name for f in repository_for(artifact_uri, tracking_uri).list_artifacts(None)}
    except NotFoundError:
        return False
    return MLMODEL_FILE_NAME in names


def resolve_runs_model_uri(uri: str, tracking_uri: str | None = None) -> str:
    """``runs:/<run_id>/<path>`` -> an artifact URI (MLflow 3 semantics, see the module docstring)."""
    parsed = urlparse(uri)
    parts = [p for p in parsed.path.split("/") if p]
    if parsed.netloc or not parts:
        raise InvalidParameterError(f"Not a proper runs:/ URI: {uri!r} (expected runs:/<run_id>/<path>)")
    run_id, sub = parts[0], "/".join(parts[1:])
    client = _client(tracking_uri)
    store = client.tracking_store
    run = store.get_run(run_id)
    candidate = _join(run.info.artifact_uri, sub)
    if sub and _has_mlmodel(candidate, client.tracking_uri):
        return candidate
    name, _, rest = sub.partition("/")
    if name:
        found = store.search_logged_models(
            experiment_ids=[run.info.experiment_id],
            filter_string=f"name = '{name}' AND source_run_id = '{run_id}'",
            max_results=10,
        )
        models = sorted(found, key=lambda m: m.creation_timestamp, reverse=True)
        if models:
            return _join(models[0].artifact_location, rest)
    raise NotFoundError(
        f"No model found at {uri}: the run has no artifact '{sub}' and no logged model named '{name}'"
    )


def resolve_model_uri(uri: str, tracking_uri: str | None = None) -> str:
    """A URI another artifact repository can read: ``runs:/`` and ``models:/`` resolved, others unchanged."""
    if uri.startswith("runs:"):
        return resolve_runs_model_uri(uri, tracking_uri)
    if uri.startswith("models:"):
        client = _client(tracking_uri)
        parts = [p for p in urlparse(uri).path.split("/") if p]
        registry = None if parts and parts[0].startswith("m-") else client.registry_store
        return str(resolve_models_uri(uri, registry, client.tracking_store))
    return uri


def download_model(uri: str, dst_path: str | None = None, tracking_uri: str | None = None) -> str:
    """A local directory containing the model ``uri`` names (downloaded if it is remote)."""
    uri = str(uri)
    resolved = resolve_model_uri(uri, tracking_uri)
    local = _local_path(resolved)
    if local is not None:
        if not local.exists():
            raise NotFoundError(f"Model path not found: {local}")
        if local.is_file() and local.name == MLMODEL_FILE_NAME:
            local = local.parent
        if dst_path is not None:
            target = Path(dst_path) / local.name
            shutil.copytree(local, target, dirs_exist_ok=True)
            return str(target)
        return str(local.resolve())
    return str(repository_for(resolved, tracking_uri).download_artifacts(None, dst_path))


def download_flavor_model(uri: str, dst_path: str | None = None) -> tuple[Path, Model]:
    """A flavor's ``load_model(uri)``: the local model directory and its MLmodel."""
    model_dir = download_model(uri, dst_path)
    return Path(model_dir), Model.load(model_dir)
