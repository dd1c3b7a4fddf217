"""One migration from two user-given locations: opens both ends, runs, closes them (the CLI's entry point)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bakehouse.migrate.engine import Migration, MigrationOptions, Progress
from bakehouse.migrate.errors import MigrationError
from bakehouse.migrate.locations import (
    destination_uri,
    open_source,
    redact,
    refuse_mlflow_database,
    server_kind,
)
from bakehouse.migrate.report import MigrationReport
from bakehouse.uri import is_local_uri


class MigrationSession:
    def __init__(self, source: Any, destination: Any, options: MigrationOptions, to_mlflow: bool) -> None:
        self.source = source
        self.destination = destination
        self.options = options
        self.to_mlflow = to_mlflow

    @property
    def source_description(self) -> str:
        return str(self.source.description)

    @property
    def destination_description(self) -> str:
        return str(self.destination.description)

    def run(self, progress: Progress | None = None) -> MigrationReport:
        if self.to_mlflow:
            from bakehouse.migrate.mlflow_export import MlflowExport

            return MlflowExport(self.source, self.destination, self.options, progress).run()
        return Migration(self.source, self.destination, self.options, progress).run()

    def close(self) -> None:
        try:
            self.source.close()
        finally:
            self.destination.close()


@contextmanager
def open_migration(
    source: str,
    destination: str,
    options: MigrationOptions,
    artifact_root: str | None = None,
    source_artifacts: str | None = None,
) -> Iterator[MigrationSession]:
    """``artifact_root``: where copied artifacts go in a database destination; ``source_artifacts``: the
    MLflow server's ``--artifacts-destination`` (or its URL) when the source is its database."""
    target = destination_uri(destination)
    if is_local_uri(target) and not target.startswith("file:"):
        raise MigrationError(f"Unsupported destination {destination!r}")
    if _same_store(source, target):
        raise MigrationError("The source and the destination are the same store")
    opened_source = open_source(source, source_artifacts)
    try:
        if options.experiments_by_name and opened_source.flavor != "bakehouse":
            raise MigrationError(
                f"{opened_source.description} is not a Bakehouse store: `bakehouse sync` pushes runs logged with "
                "Bakehouse; use `bakehouse migrate --from ... --to ...` to bring MLflow data in"
            )
        scheme = target.split(":", 1)[0].lower()
        if scheme in ("http", "https"):
            if server_kind(target) == "mlflow":
                from bakehouse.migrate.mlflow_export import MlflowServerDestination

                session = MigrationSession(
                    opened_source, MlflowServerDestination(target, redact(target)), options, to_mlflow=True
                )
            else:
                from bakehouse.migrate.destinations.server import ServerDestination

                session = MigrationSession(
                    opened_source, ServerDestination(target, redact(target)), options, False
                )
        else:
            refuse_mlflow_database(target)
            from bakehouse.migrate.destinations.sql import SqlDestination

            session = MigrationSession(
                opened_source,
                SqlDestination(target, redact(target), artifact_root, create=not options.dry_run),
                options,
                False,
            )
    except BaseException:
        opened_source.close()
        raise
    try:
        yield session
    finally:
        session.close()


def _same_store(source: str, target: str) -> bool:
    from bakehouse.store.db.engine import normalize_uri

    try:
        return normalize_uri(destination_uri(source)) == normalize_uri(target)
    except Exception:  # noqa: BLE001 - a source that is not a database URI cannot be the same store
        return False
