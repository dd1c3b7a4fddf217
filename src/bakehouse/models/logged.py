"""``log_model`` with MLflow 3 semantics, shared by every flavor.

1. create a LoggedModel (PENDING) in the run's experiment, 2. save the model into a temp dir with the
model id in its MLmodel, 3. upload it to the logged model's ``artifact_location``, 4. finalize READY (or
UPLOAD_FAILED and re-raise), 5. link it to the run as an output, 6. register a version if asked.
The run's own artifacts are untouched (``list_artifacts(run_id)`` stays empty, as in MLflow 3).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bakehouse.entities import LoggedModelStatus
from bakehouse.entities.run import ModelOutput
from bakehouse.errors import AlreadyExistsError, InvalidParameterError
from bakehouse.models.mlmodel import Model, ModelInfo

logger = logging.getLogger(__name__)

SaveFn = Callable[[str, Model], Model]


def _active_run_and_experiment(run_id: str | None, client: Any) -> tuple[str | None, str]:
    from bakehouse.client import fluent

    if run_id is None:
        active = fluent.active_run()
        run_id = active.info.run_id if active is not None else None
    if run_id is not None:
        return run_id, client.tracking_store.get_run(run_id).info.experiment_id
    return None, fluent._resolve_experiment_id(None)


def log_model(
    save: SaveFn,
    *,
    name: str,
    registered_model_name: str | None = None,
    run_id: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    model_type: str | None = None,
    client: Any = None,
) -> ModelInfo:
    if not name or "/" in name or ":" in name:
        raise InvalidParameterError(f"Invalid model name {name!r}: it may not be empty or contain '/' or ':'")
    if client is None:
        from bakehouse.client import fluent

        client = fluent._client()
    store = client.tracking_store
    run_id, experiment_id = _active_run_and_experiment(run_id, client)
    logged = store.create_logged_model(
        experiment_id,
        name=name,
        source_run_id=run_id,
        tags=tags,
        params={k: str(v) for k, v in (params or {}).items()} or None,
        model_type=model_type,
    )
    model = Model(artifact_path=logged.artifact_location, run_id=run_id, model_id=logged.model_id)
    model.model_uuid = logged.model_id
    try:
        with tempfile.TemporaryDirectory(prefix="bakehouse-model-") as tmp:
            local = Path(tmp) / "model"
            model = save(str(local), model)
            from bakehouse.store.artifacts import get_artifact_repository

            repository = get_artifact_repository(logged.artifact_location, tracking_uri=client.tracking_uri)
            repository.log_artifacts(str(local))
    except BaseException:
        store.finalize_logged_model(logged.model_id, LoggedModelStatus.UPLOAD_FAILED.value)
        raise
    store.finalize_logged_model(logged.model_id, LoggedModelStatus.READY.value)
    from bakehouse.client.logged_models_fluent import record_logged_model

    record_logged_model(logged.model_id)
    if run_id is not None:
        store.log_outputs(run_id, [ModelOutput(model_id=logged.model_id, step=0)])
    info = ModelInfo.from_model(model, f"models:/{logged.model_id}", name=name)
    info.artifact_path = name
    if registered_model_name:
        info.registered_model_version = _register(client, registered_model_name, info, run_id)
    return info


def _register(client: Any, name: str, info: ModelInfo, run_id: str | None) -> int:
    """Create the registered model if needed (continue only on ALREADY_EXISTS, as MLflow) and a version."""
    registry = client.registry_store
    try:
        registry.create_registered_model(name)
    except AlreadyExistsError:
        pass
    version = registry.create_model_version(name, info.model_uri, run_id=run_id, model_id=info.model_id)
    return int(version.version)


def log_flavor_model(
    save_model: Callable[..., Model],
    model_object: Any,
    name: str | None = None,
    *,
    artifact_path: str | None = None,
    registered_model_name: str | None = None,
    run_id: str | None = None,
    tags: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    model_type: str | None = None,
    **save_kwargs: Any,
) -> ModelInfo:
    """What every flavor's ``log_model(model, name, ...)`` does: ``save_model(model, path, **save_kwargs)``
    into a new logged model (``artifact_path`` is MLflow 2's name for ``name``)."""
    return log_model(
        lambda path, model: save_model(model_object, path, mlflow_model=model, **save_kwargs),
        name=name or artifact_path or "model",
        registered_model_name=registered_model_name,
        run_id=run_id,
        tags=tags,
        params=params,
        model_type=model_type,
    )
