"""The registry over HTTP: MLflow's REST 2.0 registry endpoints (any MLflow-compatible server works).

Requests are built from the ENDPOINTS rows in :mod:`bakehouse.wire.registry`, so paths and methods can never
drift from what the server mounts. Errors come back as the same exception classes the SQL store raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bakehouse.entities import ModelVersion, PagedList, RegisteredModel, RegistryEvent
from bakehouse.store.registry.base import (
    HISTORY_MAX_RESULTS_DEFAULT,
    MODEL_VERSIONS_MAX_RESULTS_DEFAULT,
    REGISTERED_MODELS_MAX_RESULTS_DEFAULT,
)
from bakehouse.wire.registry import (
    BY_NAME,
    model_version_from_json,
    registered_model_from_json,
    registry_event_from_json,
)
from bakehouse.wire.transport import HttpTransport

API_PREFIX = "/api/2.0"


def _kv(tags: dict[str, str] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in (tags or {}).items()]


def _drop_none(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if v is not None}


class RestRegistryStore:
    def __init__(self, transport: HttpTransport) -> None:
        self.transport = transport

    @classmethod
    def from_uri(cls, uri: str, **_: Any) -> RestRegistryStore:
        return cls(HttpTransport(uri))

    @property
    def webhooks(self) -> Any:
        """MLflow 3's webhook API on the same server."""
        from bakehouse.store.webhooks.rest import RestWebhookStore

        return RestWebhookStore(self.transport)

    def _call(self, rpc: str, body: dict[str, Any]) -> dict[str, Any]:
        endpoint = BY_NAME[rpc]
        return self.transport.call(
            endpoint.method,
            f"{API_PREFIX}{endpoint.path}",
            _drop_none(body),
            idempotent=endpoint.safe_to_repeat,
        )

    # ------------------------------------------------------------------------------ registered models
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        user_id: str | None = None,
    ) -> RegisteredModel:
        out = self._call(
            "CreateRegisteredModel", {"name": name, "tags": _kv(tags), "description": description}
        )
        return registered_model_from_json(out.get("registered_model") or {})

    def rename_registered_model(
        self, name: str, new_name: str, user_id: str | None = None
    ) -> RegisteredModel:
        out = self._call("RenameRegisteredModel", {"name": name, "new_name": new_name, "user_id": user_id})
        return registered_model_from_json(out.get("registered_model") or {})

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel:
        out = self._call("UpdateRegisteredModel", {"name": name, "description": description})
        return registered_model_from_json(out.get("registered_model") or {})

    def delete_registered_model(self, name: str) -> None:
        self._call("DeleteRegisteredModel", {"name": name})

    def get_registered_model(self, name: str) -> RegisteredModel:
        out = self._call("GetRegisteredModel", {"name": name})
        return registered_model_from_json(out.get("registered_model") or {})

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = REGISTERED_MODELS_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        out = self._call(
            "SearchRegisteredModels",
            {
                "filter": filter_string,
                "max_results": max_results,
                "order_by": list(order_by or []),
                "page_token": page_token,
            },
        )
        models = [registered_model_from_json(m) for m in out.get("registered_models") or ()]
        return PagedList(models, out.get("next_page_token") or "")

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        out = self._call("GetLatestVersions", {"name": name, "stages": list(stages or [])})
        return [model_version_from_json(v) for v in out.get("model_versions") or ()]

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None:
        self._call("SetRegisteredModelTag", {"name": name, "key": key, "value": value})

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self._call("DeleteRegisteredModelTag", {"name": name, "key": key})

    # --------------------------------------------------------------------------------- model versions
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, str] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        model_id: str | None = None,
        user_id: str | None = None,
    ) -> ModelVersion:
        out = self._call(
            "CreateModelVersion",
            {
                "name": name,
                "source": source,
                "run_id": run_id,
                "tags": _kv(tags),
                "run_link": run_link,
                "description": description,
                "model_id": model_id,
                "user_id": user_id,
            },
        )
        return model_version_from_json(out.get("model_version") or {})

    def update_model_version(self, name: str, version: str | int, description: str | None) -> ModelVersion:
        out = self._call(
            "UpdateModelVersion", {"name": name, "version": str(version), "description": description}
        )
        return model_version_from_json(out.get("model_version") or {})

    def transition_model_version_stage(
        self,
        name: str,
        version: str | int,
        stage: str,
        archive_existing_versions: bool = False,
        user_id: str | None = None,
    ) -> ModelVersion:
        out = self._call(
            "TransitionModelVersionStage",
            {
                "name": name,
                "version": str(version),
                "stage": stage,
                "archive_existing_versions": bool(archive_existing_versions),
                "user_id": user_id,
            },
        )
        return model_version_from_json(out.get("model_version") or {})

    def delete_model_version(self, name: str, version: str | int, user_id: str | None = None) -> None:
        self._call("DeleteModelVersion", {"name": name, "version": str(version), "user_id": user_id})

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        out = self._call("GetModelVersion", {"name": name, "version": str(version)})
        return model_version_from_json(out.get("model_version") or {})

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        out = self._call("GetModelVersionDownloadUri", {"name": name, "version": str(version)})
        return str(out.get("artifact_uri", ""))

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = MODEL_VERSIONS_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        out = self._call(
            "SearchModelVersions",
            {
                "filter": filter_string,
                "max_results": max_results,
                "order_by": list(order_by or []),
                "page_token": page_token,
            },
        )
        versions = [model_version_from_json(v) for v in out.get("model_versions") or ()]
        return PagedList(versions, out.get("next_page_token") or "")

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: str) -> None:
        self._call("SetModelVersionTag", {"name": name, "version": str(version), "key": key, "value": value})

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None:
        self._call("DeleteModelVersionTag", {"name": name, "version": str(version), "key": key})

    # ---------------------------------------------------------------------------------------- aliases
    def set_registered_model_alias(
        self, name: str, alias: str, version: str | int, user_id: str | None = None
    ) -> None:
        self._call(
            "SetRegisteredModelAlias",
            {"name": name, "alias": alias, "version": str(version), "user_id": user_id},
        )

    def delete_registered_model_alias(self, name: str, alias: str, user_id: str | None = None) -> None:
        self._call("DeleteRegisteredModelAlias", {"name": name, "alias": alias, "user_id": user_id})

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        out = self._call("GetModelVersionByAlias", {"name": name, "alias": alias})
        return model_version_from_json(out.get("model_version") or {})

    # ---------------------------------------------------------------------------------- beyond MLflow
    def get_registry_history(
        self, name: str, max_results: int = HISTORY_MAX_RESULTS_DEFAULT
    ) -> list[RegistryEvent]:
        out = self._call("GetRegistryHistory", {"name": name, "max_results": max_results})
        return [registry_event_from_json(e) for e in out.get("events") or ()]
