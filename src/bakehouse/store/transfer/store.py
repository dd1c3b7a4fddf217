"""The import side of a Bakehouse database, shared by ``bakehouse migrate`` (in process) and the server's
transfer endpoints (a migration or a sync into a Bakehouse server)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import Connection, Engine

from bakehouse.entities.transfer import ExperimentRecord, MetricPoint, TransferBatch
from bakehouse.store.db import schema as s
from bakehouse.store.db.transactions import write_transaction
from bakehouse.store.tracking.sql.connection import append_to_uri
from bakehouse.store.transfer import write
from bakehouse.store.transfer.state import DestinationState, StateQuery, read_metric_points, read_state


class SqlTransferStore:
    """Reads what exists and writes batches with their ids, in one transaction per batch."""

    def __init__(self, tracking: Engine, registry: Engine | None, default_artifact_root: str) -> None:
        self.tracking = tracking
        self.registry = registry
        self.default_artifact_root = default_artifact_root

    def experiment_location(self, experiment_id: str) -> str:
        return append_to_uri(self.default_artifact_root, experiment_id)

    def state(self, query: StateQuery) -> DestinationState:
        with self.tracking.connect() as conn, conn.begin():
            if self.registry is None or self.registry is self.tracking:
                return read_state(conn, conn if self.registry is not None else None, query)
            with self.registry.connect() as registry_conn, registry_conn.begin():
                return read_state(conn, registry_conn, query)

    def metric_points(self, run_ids: Sequence[str]) -> dict[str, list[MetricPoint]]:
        with self.tracking.connect() as conn, conn.begin():
            return read_metric_points(conn, run_ids)

    def write(self, batch: TransferBatch) -> list[str]:
        """Apply the batch; returns the ids chosen for ``batch.new_experiments``."""
        new_ids: list[str] = []
        with write_transaction(self.tracking) as conn:
            for record in batch.new_experiments:
                new_ids.append(self._create_experiment(conn, record))
            write.write_experiments(conn, batch.experiments)
            write.write_runs(conn, batch.runs)
            for run_id, points in batch.metrics.items():
                write.write_metrics(conn, run_id, points)
            write.write_datasets(conn, batch.datasets)
            write.write_inputs(conn, batch.inputs)
            write.write_logged_models(conn, batch.logged_models)
            if self.registry is self.tracking:
                self._write_registry(conn, batch)
        if self.registry is not None and self.registry is not self.tracking:
            with write_transaction(self.registry) as registry_conn:
                self._write_registry(registry_conn, batch)
        return new_ids

    @staticmethod
    def _write_registry(conn: Connection, batch: TransferBatch) -> None:
        write.write_registered_models(conn, batch.registered_models)
        write.write_model_versions(conn, batch.model_versions)
        write.write_aliases(conn, batch.registered_models)

    def _create_experiment(self, conn: Connection, record: ExperimentRecord) -> str:
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
        experiment_id = str(result.inserted_primary_key[0])  # type: ignore[index]  # a Row after an insert; typed Optional
        location = record.artifact_location or self.experiment_location(experiment_id)
        write.write_experiments(
            conn, [replace(record, experiment_id=experiment_id, artifact_location=location)]
        )
        return experiment_id
