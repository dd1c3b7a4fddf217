"""A running tracking server (MLflow or Bakehouse) as a migration source, read through its REST API.

What the API does not expose is derived the way the server derives it: the run's source columns from its
``mlflow.source.*`` tags, a registered model's next version from its highest one. Datasets and links have no
ids over REST; they get stable ones (the same on every run of the migration), so a repeated migration finds
what it wrote before. Histories are read point by point with ``get-history``; artifacts through the server's
artifact proxy (``mlflow-artifacts:``) or wherever the run's artifact URI points.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bakehouse.entities import ViewType
from bakehouse.entities.run import Run
from bakehouse.entities.transfer import (
    Catalog,
    DatasetRecord,
    ExperimentRecord,
    InputRecord,
    LoggedModelRecord,
    MetricPoint,
    MetricSummary,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
)
from bakehouse.errors import BakehouseError, NotFoundError
from bakehouse.store.artifacts import ArtifactRepository, get_artifact_repository
from bakehouse.store.registry.rest import RestRegistryStore
from bakehouse.store.tracking.rest import RestTrackingStore
from bakehouse.wire.transport import HttpTransport

_ID_NAMESPACE = uuid.UUID("7c1f2e0a-4b9d-4e57-8a31-2f6d9c0b5e84")
_PAGE = 1000
_PARALLEL_HISTORIES = 4
_PROMPTS = "tags.`mlflow.prompt.is_prompt` = 'true'"


class RestSource:
    flavor = "mlflow"

    def __init__(self, url: str, description: str) -> None:
        self.url = url.rstrip("/")
        self.description = description
        self.transport = HttpTransport(self.url)
        self.tracking = RestTrackingStore(self.transport)
        self.registry = RestRegistryStore.from_uri(self.url)
        self._latest: dict[str, dict[str, MetricSummary]] = {}
        self._keys: dict[str, list[str]] = {}
        try:
            info = self.transport.call("GET", "/api/3.0/mlflow/server-info", {})
        except BakehouseError:
            info = {}  # MLflow before 3.x has no server-info
        if info.get("server") == "bakehouse":
            self.flavor = "bakehouse"

    def close(self) -> None:
        self.transport.close()

    # -------------------------------------------------------------------------------------- catalog
    def catalog(self) -> Catalog:
        catalog = Catalog()
        token: str | None = None
        experiments: list[Any] = []
        while True:
            page = self.tracking.search_experiments(ViewType.ALL, max_results=_PAGE, page_token=token)
            experiments.extend(page)
            token = page.token
            if not token:
                break
        for e in experiments:
            catalog.experiments.append(
                ExperimentRecord(
                    experiment_id=e.experiment_id,
                    name=e.name,
                    artifact_location=e.artifact_location,
                    lifecycle_stage=e.lifecycle_stage,
                    creation_time=e.creation_time,
                    last_update_time=e.last_update_time,
                    deleted_time=e.last_update_time if e.lifecycle_stage == "deleted" else None,
                    tags=dict(e.tags),
                )
            )
        ids = [e.experiment_id for e in experiments]
        datasets: dict[tuple[str, str, str], DatasetRecord] = {}
        for start in range(0, len(ids), 100):
            token = None
            while True:
                runs = self.tracking.search_runs(
                    ids[start : start + 100], run_view_type=ViewType.ALL, max_results=_PAGE, page_token=token
                )
                for run in runs:
                    self._add_run(run, catalog, datasets)
                token = runs.token
                if not token:
                    break
        catalog.datasets = list(datasets.values())
        catalog.logged_models = self._logged_models(ids)
        catalog.registered_models, catalog.model_versions = self._registry()
        return catalog

    def _add_run(
        self, run: Run, catalog: Catalog, datasets: dict[tuple[str, str, str], DatasetRecord]
    ) -> None:
        info, data = run.info, run.data
        tags = dict(data.tags)
        catalog.runs.append(
            RunRecord(
                run_id=info.run_id,
                experiment_id=info.experiment_id,
                name=info.run_name or tags.get("mlflow.runName"),
                user_id=info.user_id,
                status=info.status,
                start_time=info.start_time,
                end_time=info.end_time,
                lifecycle_stage=info.lifecycle_stage,
                artifact_uri=info.artifact_uri,
                source_type=tags.get("mlflow.source.type") or "UNKNOWN",
                source_name=tags.get("mlflow.source.name") or "",
                entry_point_name=tags.get("mlflow.project.entryPoint") or "",
                source_version=tags.get("mlflow.source.git.commit") or "",
                params=dict(data.params),
                tags=tags,
            )
        )
        self._latest[info.run_id] = {
            m.key: MetricSummary(None, latest=(int(m.step or 0), int(m.timestamp), float(m.value)))
            for m in data.metric_points
        }
        inputs = run.inputs
        for d in inputs.dataset_inputs:
            key = (info.experiment_id, d.name, d.digest)
            if key not in datasets:
                datasets[key] = DatasetRecord(
                    dataset_id=uuid.uuid5(_ID_NAMESPACE, "/".join(("dataset", *key))).hex,
                    experiment_id=info.experiment_id,
                    name=d.name,
                    digest=d.digest,
                    source_type=d.source_type,
                    source=d.source,
                    schema=d.schema,
                    profile=d.profile,
                )
            dataset_id = datasets[key].dataset_id
            catalog.inputs.append(
                InputRecord(
                    input_id=uuid.uuid5(_ID_NAMESPACE, f"input/{dataset_id}/{info.run_id}").hex,
                    source_type="DATASET",
                    source_id=dataset_id,
                    destination_type="RUN",
                    destination_id=info.run_id,
                    tags=dict(d.tags),
                )
            )
        for model_id in inputs.model_inputs:
            catalog.inputs.append(
                InputRecord(
                    uuid.uuid5(_ID_NAMESPACE, f"model-input/{model_id}/{info.run_id}").hex,
                    "MODEL",
                    model_id,
                    "RUN",
                    info.run_id,
                )
            )
        for output in run.outputs.model_outputs:
            catalog.inputs.append(
                InputRecord(
                    uuid.uuid5(_ID_NAMESPACE, f"output/{info.run_id}/{output.model_id}").hex,
                    "RUN_OUTPUT",
                    info.run_id,
                    "MODEL_OUTPUT",
                    output.model_id,
                    int(output.step or 0),
                )
            )

    def _logged_models(self, experiment_ids: list[str]) -> list[LoggedModelRecord]:
        out: list[LoggedModelRecord] = []
        for start in range(0, len(experiment_ids), 100):
            token = None
            while True:
                try:
                    page = self.tracking.search_logged_models(
                        experiment_ids[start : start + 100], max_results=100, page_token=token
                    )
                except NotFoundError:  # an MLflow 2.x server: no logged models
                    return out
                for m in page:
                    out.append(
                        LoggedModelRecord(
                            model_id=m.model_id,
                            experiment_id=m.experiment_id,
                            name=m.name,
                            artifact_location=m.artifact_location,
                            creation_timestamp=m.creation_timestamp,
                            last_updated_timestamp=m.last_updated_timestamp,
                            status=m.status,
                            lifecycle_stage=m.lifecycle_stage,
                            model_type=m.model_type or None,
                            source_run_id=m.source_run_id or None,
                            status_message=m.status_message or None,
                            creator_id=m.creator_id,
                            tags=dict(m.tags),
                            params=dict(m.params),
                            metrics=[
                                (
                                    x.key,
                                    x.value,
                                    x.timestamp,
                                    x.step,
                                    x.run_id or "",
                                    x.dataset_name,
                                    x.dataset_digest,
                                )
                                for x in m.metrics
                            ],
                        )
                    )
                token = page.token
                if not token:
                    break
        return out

    def _registry(self) -> tuple[list[RegisteredModelRecord], list[ModelVersionRecord]]:
        """Two searches each: MLflow 3 leaves prompts out of a search unless the filter asks for them."""
        models: dict[str, RegisteredModelRecord] = {}
        for filter_string in (None, _PROMPTS):
            self._registered_models(filter_string, models)
        versions: dict[tuple[str, int], ModelVersionRecord] = {}
        for filter_string in (None, _PROMPTS):
            self._model_versions(filter_string, models, versions)
        return list(models.values()), list(versions.values())

    def _registered_models(self, filter_string: str | None, models: dict[str, RegisteredModelRecord]) -> None:
        token = None
        while True:
            page = self.registry.search_registered_models(filter_string, max_results=_PAGE, page_token=token)
            for m in page:
                models[m.name] = RegisteredModelRecord(
                    name=m.name,
                    creation_time=m.creation_timestamp,
                    last_updated_time=m.last_updated_timestamp,
                    description=m.description or None,
                    user_id=m.user_id,
                    tags=dict(m.tags),
                    aliases={a.alias: int(a.version) for a in m.aliases},
                )
            token = page.token
            if not token:
                break

    def _model_versions(
        self,
        filter_string: str | None,
        models: dict[str, RegisteredModelRecord],
        versions: dict[tuple[str, int], ModelVersionRecord],
    ) -> None:
        token = None
        while True:
            found = self.registry.search_model_versions(filter_string, max_results=_PAGE, page_token=token)
            for v in found:
                model = models.get(v.name)
                if model is None:
                    continue
                number = int(v.version)
                model.next_version = max(model.next_version, number + 1)
                versions[(v.name, number)] = ModelVersionRecord(
                    name=v.name,
                    version=number,
                    creation_time=v.creation_timestamp,
                    last_updated_time=v.last_updated_timestamp,
                    current_stage=v.current_stage,
                    description=v.description or None,
                    user_id=v.user_id or None,
                    source=v.source,
                    run_id=v.run_id or None,
                    run_link=v.run_link or None,
                    model_id=v.model_id or None,
                    status=v.status,
                    status_message=v.status_message or None,
                    tags=dict(v.tags),
                )
            token = found.token
            if not token:
                break

    # -------------------------------------------------------------------------------------- metrics
    def metric_summaries(self, run_ids: Sequence[str]) -> dict[str, dict[str, MetricSummary]]:
        """Only the latest point of each key is known without reading the history (count unknown)."""
        return {run_id: self._latest[run_id] for run_id in run_ids if self._latest.get(run_id)}

    def metric_points(self, run_ids: Sequence[str]) -> Iterator[tuple[str, list[MetricPoint]]]:
        """Histories are fetched a few at a time: a server answers one ``get-history`` per key."""

        def history(job: tuple[str, str]) -> list[MetricPoint]:
            run_id, key = job
            return [
                (key, m.value, m.timestamp, m.step) for m in self.tracking.get_metric_history(run_id, key)
            ]

        with ThreadPoolExecutor(
            max_workers=_PARALLEL_HISTORIES, thread_name_prefix="migrate-history"
        ) as pool:
            for run_id in run_ids:
                jobs = [(run_id, key) for key in sorted(self._latest.get(run_id, {}))]
                points = [point for series in pool.map(history, jobs) for point in series]
                points.sort(key=lambda p: (p[0], p[2], p[3]))
                yield run_id, points

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        return get_artifact_repository(artifact_uri, tracking_uri=self.url)
