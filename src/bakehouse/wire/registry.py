"""Model registry messages (MLflow's ``ModelRegistryService``), their JSON shapes and ENDPOINTS rows.

Field names, defaults and paths follow ``mlflow/protos/model_registry.proto``. Versions are strings on the
wire. Bakehouse adds one endpoint, ``GET /bakehouse/registry/history``, and an optional ``user_id`` on the
requests that change aliases and stages (ignored when the server authenticates the caller itself): the
official client never sends it, so MLflow's contract is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import Field

from bakehouse.entities import ModelVersion, RegisteredModel, RegisteredModelAlias, RegistryEvent
from bakehouse.wire.endpoints import Endpoint
from bakehouse.wire.messages import Id, Int64, KeyValue, Text, WireModel


# ------------------------------------------------------------------------------------ registered models
class CreateRegisteredModel(WireModel):
    name: Text
    tags: list[KeyValue] = Field(default_factory=list)
    description: Text | None = None
    deployment_job_id: Text | None = None


class RenameRegisteredModel(WireModel):
    name: Text
    new_name: Text | None = None
    user_id: Text | None = None


class UpdateRegisteredModel(WireModel):
    name: Text
    description: Text | None = None
    deployment_job_id: Text | None = None


class DeleteRegisteredModel(WireModel):
    name: Text


class GetRegisteredModel(WireModel):
    name: Text


class SearchRegisteredModels(WireModel):
    filter: Text | None = None
    max_results: Int64 | None = None
    order_by: list[Text] = Field(default_factory=list)
    page_token: str | None = None


class GetLatestVersions(WireModel):
    name: Text
    stages: list[Text] = Field(default_factory=list)


class SetRegisteredModelTag(WireModel):
    name: Text
    key: Text
    value: Text = ""


class DeleteRegisteredModelTag(WireModel):
    name: Text
    key: Text


class SetRegisteredModelAlias(WireModel):
    name: Text
    alias: Text
    version: Id
    user_id: Text | None = None


class DeleteRegisteredModelAlias(WireModel):
    name: Text
    alias: Text
    user_id: Text | None = None


class GetModelVersionByAlias(WireModel):
    name: Text
    alias: Text


# ---------------------------------------------------------------------------------------- model versions
class CreateModelVersion(WireModel):
    name: Text
    source: Text
    run_id: Id | None = None
    tags: list[KeyValue] = Field(default_factory=list)
    run_link: Text | None = None
    description: Text | None = None
    model_id: Id | None = None
    user_id: Text | None = None


class UpdateModelVersion(WireModel):
    name: Text
    version: Id
    description: Text | None = None


class TransitionModelVersionStage(WireModel):
    name: Text
    version: Id
    stage: Text
    archive_existing_versions: bool = False
    user_id: Text | None = None


class DeleteModelVersion(WireModel):
    name: Text
    version: Id
    user_id: Text | None = None


class GetModelVersion(WireModel):
    name: Text
    version: Id


class SearchModelVersions(WireModel):
    filter: Text | None = None
    max_results: Int64 | None = None
    order_by: list[Text] = Field(default_factory=list)
    page_token: str | None = None


class GetModelVersionDownloadUri(WireModel):
    name: Text
    version: Id


class SetModelVersionTag(WireModel):
    name: Text
    version: Id
    key: Text
    value: Text = ""


class DeleteModelVersionTag(WireModel):
    name: Text
    version: Id
    key: Text


class GetRegistryHistory(WireModel):
    name: Text
    max_results: Int64 | None = None


# ------------------------------------------------------------------------------------------- JSON shapes
def _compact(d: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in d.items() if v is not None and v != []}


def _kv_list(mapping: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def _kv_dict(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {item["key"]: item.get("value", "") for item in items or ()}


def model_version_to_json(v: ModelVersion) -> dict[str, Any]:
    return _compact(
        {
            "name": v.name,
            "version": str(v.version),
            "creation_timestamp": v.creation_timestamp,
            "last_updated_timestamp": v.last_updated_timestamp,
            "user_id": v.user_id,
            "current_stage": v.current_stage,
            "description": v.description,
            "source": v.source,
            "run_id": v.run_id,
            "status": v.status,
            "status_message": v.status_message,
            "tags": _kv_list(v.tags),
            "run_link": v.run_link,
            "aliases": list(v.aliases),
            "model_id": v.model_id,
        }
    )


def model_version_from_json(d: Mapping[str, Any]) -> ModelVersion:
    return ModelVersion(
        name=d.get("name", ""),
        version=str(d.get("version", "")),
        creation_timestamp=int(d.get("creation_timestamp", 0) or 0),
        last_updated_timestamp=int(d.get("last_updated_timestamp", 0) or 0),
        current_stage=d.get("current_stage", "None"),
        description=d.get("description"),
        user_id=d.get("user_id"),
        source=d.get("source"),
        run_id=d.get("run_id"),
        run_link=d.get("run_link"),
        status=d.get("status", "READY"),
        status_message=d.get("status_message"),
        model_id=d.get("model_id"),
        tags=_kv_dict(d.get("tags")),
        aliases=list(d.get("aliases") or []),
    )


def registered_model_to_json(m: RegisteredModel) -> dict[str, Any]:
    return _compact(
        {
            "name": m.name,
            "creation_timestamp": m.creation_timestamp,
            "last_updated_timestamp": m.last_updated_timestamp,
            "user_id": m.user_id,
            "description": m.description,
            "latest_versions": [model_version_to_json(v) for v in m.latest_versions],
            "tags": _kv_list(m.tags),
            "aliases": [{"alias": a.alias, "version": str(a.version)} for a in m.aliases],
        }
    )


def registered_model_from_json(d: Mapping[str, Any]) -> RegisteredModel:
    return RegisteredModel(
        name=d.get("name", ""),
        creation_timestamp=int(d.get("creation_timestamp", 0) or 0),
        last_updated_timestamp=int(d.get("last_updated_timestamp", 0) or 0),
        description=d.get("description"),
        user_id=d.get("user_id"),
        latest_versions=[model_version_from_json(v) for v in d.get("latest_versions") or ()],
        tags=_kv_dict(d.get("tags")),
        aliases=[
            RegisteredModelAlias(alias=a["alias"], version=str(a["version"])) for a in d.get("aliases") or ()
        ],
    )


def registry_event_to_json(e: RegistryEvent) -> dict[str, Any]:
    return _compact(
        {
            "name": e.name,
            "kind": e.kind,
            "timestamp": e.timestamp,
            "user_id": e.user_id,
            "alias": e.alias,
            "version": e.version,
            "from_value": e.from_value,
            "to_value": e.to_value,
        }
    )


def registry_event_from_json(d: Mapping[str, Any]) -> RegistryEvent:
    return RegistryEvent(
        name=d.get("name", ""),
        kind=d.get("kind", ""),
        timestamp=int(d.get("timestamp", 0) or 0),
        user_id=d.get("user_id"),
        alias=d.get("alias"),
        version=d.get("version"),
        from_value=d.get("from_value"),
        to_value=d.get("to_value"),
    )


# ---------------------------------------------------------------------------------------------- the table
def _row(
    name: str, method: str, path: str, fn: str, request: Any, permission: tuple[str | None, str], **kw: Any
) -> Endpoint:
    return Endpoint(
        name=name,
        method=method,
        path=path,
        handler=f"registry:{fn}",
        request=request,
        permission=permission,
        **kw,
    )


_RM = "/mlflow/registered-models"
_MV = "/mlflow/model-versions"
_R = ("registered_model", "read")
_U = ("registered_model", "update")
_D = ("registered_model", "delete")
_M = ("registered_model", "manage")

ENDPOINTS: list[Endpoint] = [
    _row(
        "CreateRegisteredModel",
        "POST",
        f"{_RM}/create",
        "create_registered_model",
        CreateRegisteredModel,
        ("registered_model", "create"),
    ),
    _row(
        "RenameRegisteredModel", "POST", f"{_RM}/rename", "rename_registered_model", RenameRegisteredModel, _U
    ),
    _row(
        "UpdateRegisteredModel",
        "PATCH",
        f"{_RM}/update",
        "update_registered_model",
        UpdateRegisteredModel,
        _U,
        idempotent=True,
    ),
    _row(
        "DeleteRegisteredModel",
        "DELETE",
        f"{_RM}/delete",
        "delete_registered_model",
        DeleteRegisteredModel,
        _D,
    ),
    _row("GetRegisteredModel", "GET", f"{_RM}/get", "get_registered_model", GetRegisteredModel, _R),
    _row(
        "SearchRegisteredModels",
        "GET",
        f"{_RM}/search",
        "search_registered_models",
        SearchRegisteredModels,
        (None, "read"),
    ),
    _row(
        "GetLatestVersions",
        "POST",
        f"{_RM}/get-latest-versions",
        "get_latest_versions",
        GetLatestVersions,
        _R,
        extra_methods=("GET",),
        idempotent=True,
    ),
    _row(
        "SetRegisteredModelTag",
        "POST",
        f"{_RM}/set-tag",
        "set_registered_model_tag",
        SetRegisteredModelTag,
        _U,
        idempotent=True,
    ),
    _row(
        "DeleteRegisteredModelTag",
        "DELETE",
        f"{_RM}/delete-tag",
        "delete_registered_model_tag",
        DeleteRegisteredModelTag,
        _U,
    ),
    _row(
        "SetRegisteredModelAlias",
        "POST",
        f"{_RM}/alias",
        "set_registered_model_alias",
        SetRegisteredModelAlias,
        _U,
        idempotent=True,
    ),
    _row(
        "DeleteRegisteredModelAlias",
        "DELETE",
        f"{_RM}/alias",
        "delete_registered_model_alias",
        DeleteRegisteredModelAlias,
        _U,
    ),
    _row(
        "GetModelVersionByAlias",
        "GET",
        f"{_RM}/alias",
        "get_model_version_by_alias",
        GetModelVersionByAlias,
        _R,
    ),
    _row("CreateModelVersion", "POST", f"{_MV}/create", "create_model_version", CreateModelVersion, _U),
    _row(
        "UpdateModelVersion",
        "PATCH",
        f"{_MV}/update",
        "update_model_version",
        UpdateModelVersion,
        _U,
        idempotent=True,
    ),
    _row(
        "TransitionModelVersionStage",
        "POST",
        f"{_MV}/transition-stage",
        "transition_model_version_stage",
        TransitionModelVersionStage,
        _U,
    ),
    _row("DeleteModelVersion", "DELETE", f"{_MV}/delete", "delete_model_version", DeleteModelVersion, _D),
    _row("GetModelVersion", "GET", f"{_MV}/get", "get_model_version", GetModelVersion, _R),
    _row(
        "SearchModelVersions",
        "GET",
        f"{_MV}/search",
        "search_model_versions",
        SearchModelVersions,
        (None, "read"),
    ),
    _row(
        "GetModelVersionDownloadUri",
        "GET",
        f"{_MV}/get-download-uri",
        "get_model_version_download_uri",
        GetModelVersionDownloadUri,
        _R,
    ),
    _row(
        "SetModelVersionTag",
        "POST",
        f"{_MV}/set-tag",
        "set_model_version_tag",
        SetModelVersionTag,
        _U,
        idempotent=True,
    ),
    _row(
        "DeleteModelVersionTag",
        "DELETE",
        f"{_MV}/delete-tag",
        "delete_model_version_tag",
        DeleteModelVersionTag,
        _U,
    ),
    # Bakehouse's own: the audit trail of alias moves and stage transitions.
    _row(
        "GetRegistryHistory",
        "GET",
        "/bakehouse/registry/history",
        "get_registry_history",
        GetRegistryHistory,
        _R,
        summary="Every alias set/move/delete and stage transition of a registered model, oldest first.",
    ),
]

#: name -> row, for the REST store.
BY_NAME: dict[str, Endpoint] = {e.name: e for e in ENDPOINTS}
