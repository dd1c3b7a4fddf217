"""A Bakehouse database (SQLite, PostgreSQL, MySQL) as the destination: bulk writes through the store layer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bakehouse import settings
from bakehouse.entities.transfer import MetricPoint, TransferBatch
from bakehouse.migrate.errors import MigrationError
from bakehouse.store.artifacts import ArtifactRepository, get_artifact_repository
from bakehouse.store.db.engine import current_revision, ensure_schema, get_engine, normalize_uri
from bakehouse.store.tracking.sql.connection import append_to_uri
from bakehouse.store.transfer.state import DestinationState, StateQuery
from bakehouse.store.transfer.store import SqlTransferStore
from bakehouse.uri import is_local_uri


class SqlDestination:
    """``create=False`` (a dry run) never creates the database or its schema: a missing one reads as empty."""

    max_batch_points = 250_000

    def __init__(
        self, uri: str, description: str, artifact_root: str | None = None, create: bool = True
    ) -> None:
        self.description = description
        root = artifact_root or settings.artifact_root_from_env() or settings.default_artifact_root()
        if is_local_uri(root) and not root.startswith("file:"):
            root = str(Path(root).expanduser().resolve())
        self.root = root
        self.store: SqlTransferStore | None = None
        if not create and not _exists(uri):
            return
        engine = get_engine(uri)
        if create:
            ensure_schema(engine)
        elif current_revision(engine) is None:
            return  # an empty database stays empty
        else:
            ensure_schema(engine)  # refuses an out-of-date or foreign schema; never writes to a current one
        self.store = SqlTransferStore(engine, engine, root)

    def close(self) -> None:
        return None

    def state(self, query: StateQuery) -> DestinationState:
        return self.store.state(query) if self.store is not None else DestinationState()

    def experiment_location(self, experiment_id: str) -> str:
        return append_to_uri(self.root, experiment_id)

    def write(self, batch: TransferBatch) -> list[str]:
        if self.store is None:
            raise MigrationError(f"{self.description} was opened for a dry run")
        return self.store.write(batch)

    def metric_points(self, run_ids: Sequence[str]) -> dict[str, list[MetricPoint]]:
        return self.store.metric_points(run_ids) if self.store is not None else {}

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        return get_artifact_repository(artifact_uri)


def _exists(uri: str) -> bool:
    """A SQLite file that is not there yet (connecting would create it); server databases always exist."""
    from sqlalchemy.engine import make_url

    url = make_url(normalize_uri(uri))
    if url.get_backend_name() != "sqlite":
        return True
    database = url.database
    return bool(database) and Path(str(database)).expanduser().is_file()
