"""``models:/`` URIs: parse them, and resolve them through a registry store to a version or a download URI.

Forms (MLflow's, spec 3.6): ``models:/<name>/<version>``, ``models:/<name>/<stage>`` (case-insensitive;
the highest version in that stage), ``models:/<name>/latest`` (the highest version), ``models:/<name>@<alias>``
and MLflow 3's ``models:/<model_id>`` (a logged model). Anything after the version part is a path inside
the model: ``models:/iris@champion/MLmodel``.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Any

from bakehouse import plugins, settings
from bakehouse.entities import ModelVersion, Stage
from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.store.registry.base import RegistryStore
from bakehouse.uri import uri_scheme


@dataclass(frozen=True)
class ParsedModelsUri:
    name: str | None = None
    version: str | None = None
    stage: str | None = None
    alias: str | None = None
    model_id: str | None = None

    @property
    def is_latest(self) -> bool:
        return self.name is not None and self.version is None and self.stage is None and self.alias is None


def _improper(uri: str) -> InvalidParameterError:
    return InvalidParameterError(
        f"Not a proper models:/ URI: {uri}. Models URIs must be of the form 'models:/model_name/suffix' "
        "or 'models:/model_name@alias' where suffix is a model version, stage, or the string 'latest' "
        "and where alias is a registered model alias. Only one of suffix or alias can be defined at a time."
    )


def split_models_uri(uri: str) -> tuple[str, str]:
    """``models:/name/1/sub/path`` -> (``models:/name/1``, ``sub/path``); same for ``name@alias/sub``."""
    if not uri.startswith("models:/"):
        raise _improper(uri)
    path = uri[len("models:") :].lstrip("/").rstrip("/")
    parts = path.split("/")
    cut = 1 if "@" in parts[0] or len(parts) == 1 else 2
    return "models:/" + "/".join(parts[:cut]), "/".join(parts[cut:])


def parse_models_uri(uri: str) -> ParsedModelsUri:
    """Parse the model part of a ``models:/`` URI (any trailing sub-path is ignored)."""
    if not uri.startswith("models:/") or uri.startswith("models://"):
        raise _improper(uri)
    base, _ = split_models_uri(uri)
    parts = base[len("models:/") :].split("/")
    if not parts or parts[0].strip() == "":
        raise _improper(uri)
    if len(parts) == 2:
        name, suffix = parts
        if suffix.strip() == "":
            raise _improper(uri)
        if suffix.isdigit():
            return ParsedModelsUri(name=name, version=suffix)
        if suffix.lower() == "latest":
            return ParsedModelsUri(name=name)
        return ParsedModelsUri(name=name, stage=Stage.parse(suffix).value)
    if "@" in parts[0]:
        name, _, alias = parts[0].rpartition("@")
        if not name or not alias.strip():
            raise _improper(uri)
        return ParsedModelsUri(name=name, alias=alias)
    return ParsedModelsUri(model_id=parts[0])


def resolve_model_version(registry_store: RegistryStore, uri: str) -> ModelVersion:
    """The registered model version a ``models:/name/...`` URI points at right now."""
    parsed = parse_models_uri(uri)
    if parsed.model_id is not None:
        raise InvalidParameterError(f"'{uri}' names a logged model, not a registered model version.")
    assert parsed.name is not None
    if parsed.version is not None:
        return registry_store.get_model_version(parsed.name, parsed.version)
    if parsed.alias is not None:
        return registry_store.get_model_version_by_alias(parsed.name, parsed.alias)
    stages = [parsed.stage] if parsed.stage is not None else None
    candidates = registry_store.get_latest_versions(parsed.name, stages)
    if not candidates:
        if parsed.stage is not None:
            raise NotFoundError(
                f"No versions of model with name '{parsed.name}' and stage '{parsed.stage}' found"
            )
        raise NotFoundError(f"No versions of model with name '{parsed.name}' found")
    return max(candidates, key=lambda v: int(v.version))


def resolve_models_uri(uri: str, registry_store: Any, tracking_store: Any = None) -> str:
    """The artifact URI (``s3://…``, ``mlflow-artifacts:/…``, a path) that holds what ``uri`` names.

    ``tracking_store`` is only needed for ``models:/<model_id>`` (a logged model's artifact location).
    """
    base, sub_path = split_models_uri(uri)
    parsed = parse_models_uri(base)
    if parsed.model_id is not None:
        if tracking_store is None:
            raise InvalidParameterError(
                f"Resolving '{uri}' needs a tracking store (it names a logged model)."
            )
        location = tracking_store.get_logged_model(parsed.model_id).artifact_location
    else:
        version = resolve_model_version(registry_store, base)
        location = registry_store.get_model_version_download_uri(version.name, version.version)
        if location.startswith("models:/"):  # a version registered from a logged model on another store
            location = resolve_models_uri(location, registry_store, tracking_store)
    return _join(location, sub_path)


def _join(location: str, sub_path: str) -> str:
    if not sub_path:
        return location
    return location.rstrip("/") + "/" + posixpath.normpath(sub_path).lstrip("/")


def registry_store_for(registry_uri: str | None = None, tracking_uri: str | None = None) -> Any:
    """The registry store a URI names (default: ``BAKEHOUSE_REGISTRY_URI``, else the tracking URI)."""
    uri = (
        registry_uri
        or settings.registry_uri_from_env()
        or tracking_uri
        or settings.tracking_uri_from_env()
        or settings.default_tracking_uri()
    )
    return plugins.registry_stores.get(uri_scheme(uri))(uri)


def resolve_registered_models_uri(
    uri: str,
    tracking_uri: str | None = None,
    tracking_store: Any = None,
    registry_uri: str | None = None,
    registry_store: Any = None,
) -> str:
    """The artifact layer's hook (``store/artifacts/logical.py``): any ``models:/`` URI -> artifact URI."""
    store = registry_store if registry_store is not None else registry_store_for(registry_uri, tracking_uri)
    if tracking_store is None and parse_models_uri(uri).model_id is not None:
        t_uri = tracking_uri or settings.tracking_uri_from_env() or settings.default_tracking_uri()
        tracking_store = plugins.tracking_stores.get(uri_scheme(t_uri))(t_uri)
    return resolve_models_uri(uri, store, tracking_store)
