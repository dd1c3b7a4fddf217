"""A Bakehouse database (SQLite, PostgreSQL, MySQL) as the destination: bulk writes through the store layer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bakehouse import settings
from bakehouse.entities.transfer import MetricPoint, TransferBatch
from bakehouse.store.artifacts import ArtifactRepository, get_artifact_repository
from bakehouse.store.db.engine import ensure_schema, get_engine
from bakehouse.store.tracking.sql.connection import is_local_uri
from bakehouse.store.transfer.state import DestinationState, StateQuery
from bakehouse.store.transfer.store import SqlTransferStore


class SqlDestination:
    max_batch_points = 250_000

    def __init__(self, uri: str, description: str, artifact_root: str | None = None) -> None:
        self.description = description
        engine = get_engine(uri)
        ensure_schema(engine)
        root = artifact_root or settings.artifact_root_from_env() or settings.default_artifact_root()
        if is_local_uri(root) and not root.startswith("file:"):
            root = str(Path(root).expanduser().resolve())
        self.store = SqlTransferStore(engine, engine, root)

    def close(self) -> None:
        return None

    def state(self, query: StateQuery) -> DestinationState:
        return self.store.state(query)

    def experiment_location(self, experiment_id: str) -> str:
        return self.store.experiment_location(experiment_id)

    def write(self, batch: TransferBatch) -> list[str]:
        return self.store.write(batch)

    def metric_points(self, run_ids: Sequence[str]) -> dict[str, list[MetricPoint]]:
        return self.store.metric_points(run_ids)

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        return get_artifact_repository(artifact_uri)
