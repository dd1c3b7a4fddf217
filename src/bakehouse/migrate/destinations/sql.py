"""A Bakehouse database (SQLite, PostgreSQL, MySQL) as the destination: bulk writes through the store layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from sqlalchemy import select

from bakehouse import settings
from bakehouse.entities.transfer import (
    DatasetRecord,
    ExperimentRecord,
    InputRecord,
    LoggedModelRecord,
    MetricPoint,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
)
from bakehouse.store.artifacts import ArtifactRepository, get_artifact_repository
from bakehouse.store.db import schema as s
from bakehouse.store.db.engine import ensure_schema, get_engine, is_sqlite
from bakehouse.store.db.transactions import write_transaction
from bakehouse.store.tracking.sql.connection import append_to_uri, is_local_uri
from bakehouse.store.transfer import write
from bakehouse.store.transfer.state import DestinationState, StateQuery, read_metric_points, read_state


class SqlDestination:
    def __init__(self, uri: str, description: str, artifact_root: str | None = None) -> None:
        self.uri = uri
        self.description = description
        self.engine = get_engine(uri)
        ensure_schema(self.engine)
        root = artifact_root or settings.artifact_root_from_env() or settings.default_artifact_root()
        if is_local_uri(root) and not root.startswith("file:"):
            root = str(Path(root).expanduser().resolve())
        self.artifact_root = root

    def close(self) -> None:
        return None

    def state(self, query: StateQuery) -> DestinationState:
        with self.engine.connect() as conn, conn.begin():
            return read_state(conn, conn, query)

    def experiment_location(self, experiment_id: str | None) -> str:
        return append_to_uri(self.artifact_root, experiment_id or "")

    def create_experiment(self, record: ExperimentRecord) -> str:
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                s.experiments.insert().values(
                    name=record.name,
                    artifact_location=None,
                    lifecycle_stage=record.lifecycle_stage,
                    creation_time=record.creation_time,
                    last_update_time=record.last_update_time,
                    deleted_time=record.deleted_time,
                )
            )
            experiment_id = str(result.inserted_primary_key[0])
            location = record.artifact_location or self.experiment_location(experiment_id)
            conn.execute(
                s.experiments.update()
                .where(s.experiments.c.experiment_id == int(experiment_id))
                .values(artifact_location=location)
            )
            write.write_experiments(conn, [_with_id(record, experiment_id, location)])
        return experiment_id

    def write_experiments(self, records: Sequence[ExperimentRecord]) -> None:
        with write_transaction(self.engine) as conn:
            write.write_experiments(conn, records)

    def write_runs(self, records: Sequence[RunRecord], points: Mapping[str, Sequence[MetricPoint]]) -> None:
        with write_transaction(self.engine) as conn:
            write.write_runs(conn, records)
            for run_id, run_points in points.items():
                write.write_metrics(conn, run_id, run_points)

    def write_links(self, datasets: Sequence[DatasetRecord], inputs: Sequence[InputRecord]) -> None:
        with write_transaction(self.engine) as conn:
            write.write_datasets(conn, datasets)
            write.write_inputs(conn, inputs)

    def write_logged_models(self, records: Sequence[LoggedModelRecord]) -> None:
        with write_transaction(self.engine) as conn:
            write.write_logged_models(conn, records)

    def write_registry(
        self, models: Sequence[RegisteredModelRecord], versions: Sequence[ModelVersionRecord]
    ) -> None:
        with write_transaction(self.engine) as conn:
            write.write_registered_models(conn, models)
            write.write_model_versions(conn, versions)
            write.write_aliases(conn, models)

    def metric_points(self, run_ids: Sequence[str]) -> dict[str, list[MetricPoint]]:
        with self.engine.connect() as conn, conn.begin():
            return read_metric_points(conn, run_ids)

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        return get_artifact_repository(artifact_uri)

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.engine)

    def experiment_count(self) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(s.experiments.c.experiment_id)).all())


def _with_id(record: ExperimentRecord, experiment_id: str, location: str) -> ExperimentRecord:
    return ExperimentRecord(
        experiment_id=experiment_id,
        name=record.name,
        artifact_location=location,
        lifecycle_stage=record.lifecycle_stage,
        creation_time=record.creation_time,
        last_update_time=record.last_update_time,
        deleted_time=record.deleted_time,
        tags=dict(record.tags),
    )
