"""Registry methods of the Client, with MlflowClient's names, over ``self.registry_store``.

``bakehouse.client.client.Client`` inherits :class:`RegistryClientMixin`; it must provide ``registry_store`` and
``tracking_store``. ``register_model`` follows MLflow 3: create the registered model (continuing only when
it already exists), resolve ``runs:/`` URIs to the run's files or to the logged model the run produced, then
create the version. Stage APIs are kept, with MLflow's FutureWarning pointing at aliases.
"""

from __future__ import annotations

import logging
import posixpath
import warnings
from collections.abc import Sequence
from typing import Any

from bakehouse.entities import ModelVersion, PagedList, RegisteredModel, RegistryEvent
from bakehouse.errors import BakehouseError, ErrorCode, InvalidParameterError, NotFoundError
from bakehouse.settings import current_user
from bakehouse.store.registry.base import (
    HISTORY_MAX_RESULTS_DEFAULT,
    MODEL_VERSIONS_MAX_RESULTS_DEFAULT,
    REGISTERED_MODELS_MAX_RESULTS_DEFAULT,
    RegistryStore,
    link_logged_models,
)
from bakehouse.store.registry.uri import parse_models_uri, resolve_model_version, resolve_models_uri
from bakehouse.store.registry.validation import missing
from bakehouse.store.tracking.base import TrackingStore

logger = logging.getLogger(__name__)

STAGES_DEPRECATION = (
    "Model registry stages will be removed in a future major release. To learn more about the deprecation "
    "of model registry stages, see our migration guide here: https://mlflow.org/docs/latest/model-registry.html"
    "#migrating-from-stages"
)

#: the tag that marks a registered model as a prompt of MLflow's prompt registry
PROMPT_TAG = "mlflow.prompt.is_prompt"


class RegistryClientMixin:
    tracking_store: TrackingStore

    @property
    def registry_store(self) -> RegistryStore:
        raise NotImplementedError  # the Client's property

    # ------------------------------------------------------------------------------ registered models
    def create_registered_model(
        self,
        name: str,
        tags: dict[str, Any] | None = None,
        description: str | None = None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        return self.registry_store.create_registered_model(
            name, tags=_str_tags(tags), description=description, user_id=current_user()
        )

    def rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        return self.registry_store.rename_registered_model(name, new_name, user_id=current_user())

    def update_registered_model(
        self, name: str, description: str | None = None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        return self.registry_store.update_registered_model(name, description)

    def delete_registered_model(self, name: str) -> None:
        self.registry_store.delete_registered_model(name)

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.registry_store.get_registered_model(name)

    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int = REGISTERED_MODELS_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RegisteredModel]:
        """Prompts of MLflow's prompt registry are registered models too; like MLflow's client, leave them out
        unless the filter itself mentions the prompt tag."""
        if PROMPT_TAG not in (filter_string or ""):
            not_a_prompt = f"tags.`{PROMPT_TAG}` != 'true'"
            filter_string = f"({filter_string}) AND {not_a_prompt}" if filter_string else not_a_prompt
        return self.registry_store.search_registered_models(filter_string, max_results, order_by, page_token)

    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[ModelVersion]:
        """Latest version per stage. Superseded by aliases (MLflow deprecates stages since 2.9)."""
        warnings.warn(STAGES_DEPRECATION, FutureWarning, stacklevel=2)
        return self.registry_store.get_latest_versions(name, stages)

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        self.registry_store.set_registered_model_tag(name, key, str(value))

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.registry_store.delete_registered_model_tag(name, key)

    # --------------------------------------------------------------------------------- model versions
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: dict[str, Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
        await_creation_for: int = 300,
        model_id: str | None = None,
    ) -> ModelVersion:
        self._wire_logged_model_resolver()
        return self.registry_store.create_model_version(
            name,
            source,
            run_id=run_id,
            tags=_str_tags(tags),
            run_link=run_link,
            description=description,
            model_id=model_id,
            user_id=current_user(),
        )

    def update_model_version(
        self, name: str, version: str | int, description: str | None = None
    ) -> ModelVersion:
        return self.registry_store.update_model_version(name, version, description)

    def transition_model_version_stage(
        self, name: str, version: str | int, stage: str, archive_existing_versions: bool = False
    ) -> ModelVersion:
        warnings.warn(STAGES_DEPRECATION, FutureWarning, stacklevel=2)
        return self.registry_store.transition_model_version_stage(
            name, version, stage, archive_existing_versions, user_id=current_user()
        )

    def delete_model_version(self, name: str, version: str | int) -> None:
        self.registry_store.delete_model_version(name, version, user_id=current_user())

    def get_model_version(self, name: str, version: str | int) -> ModelVersion:
        return self.registry_store.get_model_version(name, version)

    def get_model_version_download_uri(self, name: str, version: str | int) -> str:
        return self.registry_store.get_model_version_download_uri(name, version)

    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int = MODEL_VERSIONS_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[ModelVersion]:
        return self.registry_store.search_model_versions(filter_string, max_results, order_by, page_token)

    def set_model_version_tag(
        self,
        name: str,
        version: str | int | None = None,
        key: str | None = None,
        value: Any = None,
        stage: str | None = None,
    ) -> None:
        version = self._version_or_stage(name, version, stage)
        if key is None:
            raise missing("key")
        self.registry_store.set_model_version_tag(name, version, key, str(value))

    def delete_model_version_tag(
        self, name: str, version: str | int | None = None, key: str | None = None, stage: str | None = None
    ) -> None:
        version = self._version_or_stage(name, version, stage)
        if key is None:
            raise missing("key")
        self.registry_store.delete_model_version_tag(name, version, key)

    def _version_or_stage(self, name: str, version: str | int | None, stage: str | None) -> str | int:
        if version is not None and stage is not None:
            raise InvalidParameterError("version and stage cannot be set together")
        if version is not None:
            return version
        if stage is None:
            raise InvalidParameterError("version or stage must be set")
        latest = self.registry_store.get_latest_versions(name, [stage])
        if not latest:
            raise NotFoundError(f"Could not find any model version for {stage} stage")
        return latest[0].version

    # ---------------------------------------------------------------------------------------- aliases
    def set_registered_model_alias(self, name: str, alias: str, version: str | int) -> None:
        self.registry_store.set_registered_model_alias(name, alias, version, user_id=current_user())

    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        self.registry_store.delete_registered_model_alias(name, alias, user_id=current_user())

    def get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.registry_store.get_model_version_by_alias(name, alias)

    # ---------------------------------------------------------------------------------- beyond MLflow
    def get_registry_history(
        self, name: str, max_results: int = HISTORY_MAX_RESULTS_DEFAULT
    ) -> list[RegistryEvent]:
        """Every alias set/move/delete and stage transition of ``name`` (who, when, from -> to), oldest first."""
        return self.registry_store.get_registry_history(name, max_results)

    def resolve_model_version(self, model_uri: str) -> ModelVersion:
        """The version ``models:/name/<version|stage|latest>`` or ``models:/name@alias`` points at now."""
        return resolve_model_version(self.registry_store, model_uri)

    def resolve_models_uri(self, model_uri: str) -> str:
        """The artifact URI behind any ``models:/`` URI (registered version or logged model)."""
        return resolve_models_uri(model_uri, self.registry_store, getattr(self, "tracking_store", None))

    # ------------------------------------------------------------------------------------- registering
    def register_model(
        self,
        model_uri: str,
        name: str,
        tags: dict[str, Any] | None = None,
        await_registration_for: int = 300,
    ) -> ModelVersion:
        """Create ``name`` if needed, then a new version from ``model_uri`` (``runs:/``, ``models:/``, any URI)."""
        try:
            self.create_registered_model(name)
            logger.info("Successfully registered model '%s'.", name)
        except BakehouseError as exc:
            if exc.code not in (ErrorCode.RESOURCE_ALREADY_EXISTS, ErrorCode.ALREADY_EXISTS):
                raise
            logger.info("Registered model '%s' already exists. Creating a new version of this model...", name)
        source, run_id, model_id = self._resolve_registration_source(model_uri)
        version = self.create_model_version(name, source, run_id=run_id, tags=tags, model_id=model_id)
        logger.info("Created version '%s' of model '%s'.", version.version, version.name)
        return version

    def _resolve_registration_source(self, model_uri: str) -> tuple[str, str | None, str | None]:
        if model_uri.startswith("runs:"):
            return self._resolve_runs_uri(model_uri)
        if model_uri.startswith("models:/"):
            parsed = parse_models_uri(model_uri)
            if parsed.model_id is not None:
                return model_uri, None, parsed.model_id
        return model_uri, None, None

    def _resolve_runs_uri(self, model_uri: str) -> tuple[str, str | None, str | None]:
        """``runs:/<run>/<path>``: the run's own files if they hold an MLmodel, else the logged model
        the run produced under that name (MLflow 3 stores models outside the run's artifacts)."""
        rest = model_uri[len("runs:") :].lstrip("/")
        run_id, _, artifact_path = rest.partition("/")
        artifact_path = artifact_path.strip("/")
        if not run_id:
            raise InvalidParameterError(
                f"Not a proper runs:/ URI: {model_uri}. Expected runs:/<run_id>/<path>"
            )
        run = self.tracking_store.get_run(run_id)
        if self._run_has_mlmodel(run.info.artifact_uri, artifact_path):
            source = run.info.artifact_uri.rstrip("/") + ("/" + artifact_path if artifact_path else "")
            return source, run_id, None
        candidates = self._logged_models_of_run(run, artifact_path)
        if not candidates:
            raise NotFoundError(
                f"Unable to find a logged_model with artifact_path {artifact_path} under run {run_id}"
            )
        model_id = candidates[-1].model_id
        logger.warning(
            "Run with id %s has no artifacts at artifact path %r, registering model based on models:/%s instead",
            run_id,
            artifact_path,
            model_id,
        )
        return f"models:/{model_id}", run_id, model_id

    @staticmethod
    def _run_has_mlmodel(artifact_uri: str, artifact_path: str) -> bool:
        from bakehouse.store.artifacts import get_artifact_repository

        try:
            files = get_artifact_repository(artifact_uri).list_artifacts(artifact_path or None)
        except Exception:  # noqa: BLE001 - an unreachable or empty location just means "no files there"
            return False
        wanted = posixpath.join(artifact_path, "MLmodel") if artifact_path else "MLmodel"
        return any(f.path == wanted or posixpath.basename(f.path) == "MLmodel" for f in files if not f.is_dir)

    def _logged_models_of_run(self, run: Any, artifact_path: str) -> list[Any]:
        """Logged models named ``artifact_path`` produced by ``run``, highest output step last."""
        steps = {o.model_id: o.step for o in run.outputs.model_outputs}
        found: dict[str, Any] = {}
        for model_id in steps:
            try:
                model = self.tracking_store.get_logged_model(model_id)
            except NotFoundError:
                continue
            if model.name == artifact_path:
                found[model.model_id] = model
        if not found:
            page = self.tracking_store.search_logged_models([run.info.experiment_id], max_results=1000)
            for model in page:
                if model.source_run_id == run.info.run_id and model.name == artifact_path:
                    found[model.model_id] = model
        return sorted(found.values(), key=lambda m: (steps.get(m.model_id, 0), m.creation_timestamp))

    def _wire_logged_model_resolver(self) -> None:
        link_logged_models(self.registry_store, self.tracking_store.get_logged_model)


def _str_tags(tags: dict[str, Any] | None) -> dict[str, str] | None:
    return None if tags is None else {str(k): str(v) for k, v in tags.items()}
