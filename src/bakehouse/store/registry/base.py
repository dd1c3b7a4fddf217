"""The registry store contract: every backend (SQL, REST) implements these methods with MLflow's names.

Methods raise :mod:`bakehouse.errors` exceptions only, so ``except NotFoundError`` behaves the same on
SQLite, PostgreSQL and over HTTP. Versions are strings at this boundary (as in MLflow's JSON); tags are
plain ``dict[str, str]``. ``user_id`` arguments feed the audit trail ("who moved the alias").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from bakehouse.entities import LoggedModel, ModelVersion, PagedList, RegisteredModel, RegistryEvent

#: MLflow's search limits for the registry.
REGISTERED_MODELS_MAX_RESULTS_DEFAULT = 100
REGISTERED_MODELS_MAX_RESULTS_THRESHOLD = 1000
MODEL_VERSIONS_MAX_RESULTS_DEFAULT = 10000
MODEL_VERSIONS_MAX_RESULTS_THRESHOLD = 200_000
HISTORY_MAX_RESULTS_DEFAULT = 1000


@runtime_checkable
class RegistryStore(Protocol):
    # ------------------------------------------------------------------------------ registered models
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        user_id: str | None = None,
    ) -> RegisteredModel: ...

    def rename_registered_model(
        self, name: str, new_name: str, user_id: str | None = None
    ) -> RegisteredModel: ...

    def update_registered_model(self, name: str, description: str | None) -> RegisteredModel: ...

    def delete_registered_model(self, name: str) -> None: ...

    def get_registered_model(self, name: str) -> RegisteredModel: ...

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = REGISTERED_MODELS_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]: ...

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]: ...

    def set_registered_model_tag(self, name: str, key: str, value: str) -> None: ...

    def delete_registered_model_tag(self, name: str, key: str) -> None: ...

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
    ) -> ModelVersion: ...

    def update_model_version(
        self, name: str, version: str | int, description: str | None
    ) -> ModelVersion: ...

    def transition_model_version_stage(
        self,
        name: str,
        version: str | int,
        stage: str,
        archive_existing_versions: bool = False,
        user_id: str | None = None,
    ) -> ModelVersion: ...

    def delete_model_version(self, name: str, version: str | int, user_id: str | None = None) -> None: ...

    def get_model_version(self, name: str, version: str | int) -> ModelVersion: ...

    def get_model_version_download_uri(self, name: str, version: str | int) -> str: ...

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = MODEL_VERSIONS_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]: ...

    def set_model_version_tag(self, name: str, version: str | int, key: str, value: str) -> None: ...

    def delete_model_version_tag(self, name: str, version: str | int, key: str) -> None: ...

    # ---------------------------------------------------------------------------------------- aliases
    def set_registered_model_alias(
        self, name: str, alias: str, version: str | int, user_id: str | None = None
    ) -> None: ...

    def delete_registered_model_alias(self, name: str, alias: str, user_id: str | None = None) -> None: ...

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    # ---------------------------------------------------------------------------------- beyond MLflow
    def get_registry_history(
        self, name: str, max_results: int = HISTORY_MAX_RESULTS_DEFAULT
    ) -> list[RegistryEvent]: ...


@runtime_checkable
class ResolvesLoggedModels(Protocol):
    """A registry store that can look up a logged model in another (tracking) store: a version registered
    from ``models:/<model_id>`` takes its run and files from that logged model (the SQL registry store)."""

    #: ``resolver(model_id) -> LoggedModel``, None until someone links a tracking store
    logged_model_resolver: Callable[[str], LoggedModel] | None


def link_logged_models(registry: RegistryStore, resolve: Callable[[str], LoggedModel]) -> None:
    """Let ``registry`` resolve logged models through ``resolve`` (usually a tracking store's
    ``get_logged_model``), unless it already can or does not need to."""
    if isinstance(registry, ResolvesLoggedModels) and registry.logged_model_resolver is None:
        registry.logged_model_resolver = resolve
