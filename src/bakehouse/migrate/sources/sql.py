"""An MLflow (or Bakehouse) SQL database as a migration source, read directly and strictly read-only.

The tables are read with SQLAlchemy Core, never through MLflow's code: the columns are discovered from the
database itself, so every schema revision MLflow has shipped since 2.0 reads the same way (a table or column
that revision did not have yet simply yields nothing). The connection cannot write: SQLite is opened with a
``mode=ro`` URI (``immutable=1`` when even that needs a write, e.g. a read-only directory) and
``PRAGMA query_only``; PostgreSQL and MySQL run read-only transactions. The whole read is one transaction, so
the migration sees one consistent snapshot while the team keeps logging.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, event, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import StaticPool

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
from bakehouse.errors import InvalidParameterError, NotFoundError
from bakehouse.migrate.errors import MigrationError
from bakehouse.migrate.sources.proxied import open_artifacts
from bakehouse.store.artifacts import ArtifactRepository
from bakehouse.store.db.engine import normalize_uri
from bakehouse.store.validation import decode_metric_value

logger = logging.getLogger(__name__)

#: MLflow's numbers for run sources (its file store writes them; its SQL store writes the names)
SOURCE_TYPES = {1: "NOTEBOOK", 2: "JOB", 3: "PROJECT", 4: "LOCAL", 1000: "UNKNOWN"}
#: MLflow's integer logged-model statuses -> the names Bakehouse stores
LOGGED_MODEL_STATUSES = {
    0: "LOGGED_MODEL_STATUS_UNSPECIFIED",
    1: "LOGGED_MODEL_PENDING",
    2: "LOGGED_MODEL_READY",
    3: "LOGGED_MODEL_UPLOAD_FAILED",
}
#: MLflow marks a deleted model version with this stage instead of deleting the row
DELETED_VERSION_STAGE = "Deleted_Internal"
_RUN_BATCH = 900


def open_readonly_engine(uri: str) -> Engine:
    """An engine on ``uri`` that cannot change the database (see the module docstring)."""
    url = make_url(normalize_uri(uri))
    backend = url.get_backend_name()
    if backend == "sqlite":
        database = url.database or ""
        if not database or database == ":memory:":
            raise InvalidParameterError(f"{uri!r} names no database file")
        path = Path(database).expanduser().resolve()
        if not path.is_file():
            raise NotFoundError(f"No database file at {path}")
        return _sqlite_readonly(path)
    if backend == "postgresql":
        return create_engine(
            url,
            poolclass=StaticPool,
            execution_options={"postgresql_readonly": True, "isolation_level": "REPEATABLE READ"},
        )
    if backend in ("mysql", "mariadb"):
        engine = create_engine(url, poolclass=StaticPool, isolation_level="REPEATABLE READ")

        @event.listens_for(engine, "connect")
        def _read_only(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.close()

        return engine
    raise InvalidParameterError(f"Unsupported database {uri!r}: expected sqlite, postgresql or mysql")


def _sqlite_readonly(path: Path) -> Engine:
    for flags in ("mode=ro", "immutable=1"):
        target = f"file:{quote(str(path))}?{flags}"

        def connect(target: str = target) -> sqlite3.Connection:
            conn = sqlite3.connect(target, uri=True, check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            return conn

        engine = create_engine("sqlite://", creator=connect, poolclass=StaticPool)
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql("SELECT count(*) FROM sqlite_master").scalar()
            return engine
        except OperationalError as exc:  # e.g. a WAL database in a directory we may not write
            logger.debug("opening %s with %s failed: %s", path, flags, exc)
            engine.dispose()
    raise MigrationError(f"Cannot open {path} read-only")


def _finite_or_nan(value: Any, is_nan: Any) -> float:
    if is_nan or value is None:
        return math.nan
    return float(value)


class SqlSource:
    """Reads an MLflow database (any revision from 2.0 on) or a Bakehouse one, without writing to it."""

    def __init__(self, uri: str, description: str, artifacts_destination: str | None = None) -> None:
        self.uri = uri
        self.description = description
        self.artifacts_destination = artifacts_destination
        self.engine = open_readonly_engine(uri)
        self.conn: Connection = self.engine.connect()
        self.conn.begin()  # one snapshot for the whole migration
        names = set(inspect(self.conn).get_table_names())
        if "experiments" not in names or "runs" not in names:
            self.close()
            raise MigrationError(f"{description} holds no MLflow or Bakehouse tracking tables")
        metadata = MetaData()
        self.tables: dict[str, Table] = {}
        for name in names:
            self.tables[name] = Table(name, metadata, autoload_with=self.conn)
        self.revision = self._revision()
        self.flavor = "bakehouse" if "value_kind" in self.tables["metrics"].c else "mlflow"
        self._check_workspaces()

    # ------------------------------------------------------------------------------------- plumbing
    def close(self) -> None:
        try:
            if self.conn.in_transaction():
                self.conn.rollback()
            self.conn.close()
        finally:
            self.engine.dispose()

    def _revision(self) -> str | None:
        table = self.tables.get("alembic_version")
        if table is None:
            return None
        return self.conn.execute(select(table.c.version_num)).scalar()

    def _has(self, table: str, column: str | None = None) -> bool:
        t = self.tables.get(table)
        return t is not None and (column is None or column in t.c)

    def _rows(self, table: str, *columns: str) -> list[Any]:
        """Rows of ``table`` with the columns that exist (missing ones read as None)."""
        t = self.tables.get(table)
        if t is None:
            return []
        present = [t.c[c] for c in columns if c in t.c]
        rows = self.conn.execute(select(*present)).mappings().all()
        return [_Row({c: row.get(c) for c in columns}) for row in rows]

    def _check_workspaces(self) -> None:
        """MLflow 3's workspaces may reuse names; Bakehouse has one namespace, so only one workspace moves."""
        for table in ("experiments", "registered_models"):
            t = self.tables.get(table)
            if t is None or "workspace" not in t.c:
                continue
            used = {row[0] for row in self.conn.execute(select(t.c.workspace).distinct())}
            if used - {"default", None}:
                raise MigrationError(
                    f"{self.description} uses MLflow workspaces ({', '.join(sorted(map(str, used)))}); Bakehouse has "
                    "one namespace, and moving several workspaces is not supported yet"
                )

    # -------------------------------------------------------------------------------------- catalog
    def catalog(self) -> Catalog:
        catalog = Catalog()
        catalog.experiments = self._experiments()
        catalog.runs = self._runs()
        catalog.datasets, catalog.inputs = self._datasets_and_inputs()
        catalog.logged_models = self._logged_models()
        catalog.registered_models, catalog.model_versions = self._registry()
        return catalog

    def _experiments(self) -> list[ExperimentRecord]:
        out: dict[str, ExperimentRecord] = {}
        for row in self._rows(
            "experiments",
            "experiment_id",
            "name",
            "artifact_location",
            "lifecycle_stage",
            "creation_time",
            "last_update_time",
            "deleted_time",
        ):
            stage = row["lifecycle_stage"] or "active"
            deleted = row["deleted_time"]
            if deleted is None and stage == "deleted" and self.flavor == "mlflow":
                deleted = row[
                    "last_update_time"
                ]  # MLflow stamps the deletion there and keeps no deleted_time
            out[str(row["experiment_id"])] = ExperimentRecord(
                experiment_id=str(row["experiment_id"]),
                name=row["name"],
                artifact_location=row["artifact_location"],
                lifecycle_stage=stage,
                creation_time=row["creation_time"],
                last_update_time=row["last_update_time"],
                deleted_time=deleted,
            )
        for row in self._rows("experiment_tags", "experiment_id", "key", "value"):
            record = out.get(str(row["experiment_id"]))
            if record is not None:
                record.tags[row["key"]] = row["value"] if row["value"] is not None else ""
        return list(out.values())

    def _runs(self) -> list[RunRecord]:
        out: dict[str, RunRecord] = {}
        for row in self._rows(
            "runs",
            "run_uuid",
            "experiment_id",
            "name",
            "user_id",
            "status",
            "start_time",
            "end_time",
            "lifecycle_stage",
            "artifact_uri",
            "deleted_time",
            "source_type",
            "source_name",
            "entry_point_name",
            "source_version",
        ):
            source_type = row["source_type"]
            if isinstance(source_type, int):
                source_type = SOURCE_TYPES.get(source_type, str(source_type))
            out[row["run_uuid"]] = RunRecord(
                run_id=row["run_uuid"],
                experiment_id=str(row["experiment_id"]),
                name=row["name"],
                user_id=row["user_id"],
                status=row["status"] or "RUNNING",
                start_time=row["start_time"],
                end_time=row["end_time"],
                lifecycle_stage=row["lifecycle_stage"] or "active",
                artifact_uri=row["artifact_uri"],
                deleted_time=row["deleted_time"],
                source_type=source_type,
                source_name=row["source_name"],
                entry_point_name=row["entry_point_name"],
                source_version=row["source_version"],
            )
        for table, attribute in (("params", "params"), ("tags", "tags")):
            for run_id, key, value in self.conn.execute(
                select(self.tables[table].c.run_uuid, self.tables[table].c.key, self.tables[table].c.value)
            ):
                record = out.get(run_id)
                if record is not None:
                    getattr(record, attribute)[key] = value if value is not None else ""
        return list(out.values())

    def _datasets_and_inputs(self) -> tuple[list[DatasetRecord], list[InputRecord]]:
        datasets = [
            DatasetRecord(
                dataset_id=row["dataset_uuid"],
                experiment_id=str(row["experiment_id"]),
                name=row["name"],
                digest=row["digest"],
                source_type=row["dataset_source_type"],
                source=row["dataset_source"],
                schema=row["dataset_schema"],
                profile=row["dataset_profile"],
            )
            for row in self._rows(
                "datasets",
                "dataset_uuid",
                "experiment_id",
                "name",
                "digest",
                "dataset_source_type",
                "dataset_source",
                "dataset_schema",
                "dataset_profile",
            )
        ]
        inputs: dict[str, InputRecord] = {}
        for row in self._rows(
            "inputs", "input_uuid", "source_type", "source_id", "destination_type", "destination_id", "step"
        ):
            inputs[row["input_uuid"]] = InputRecord(
                row["input_uuid"],
                row["source_type"],
                row["source_id"],
                row["destination_type"],
                row["destination_id"],
                int(row["step"] or 0),
            )
        for row in self._rows("input_tags", "input_uuid", "name", "value"):
            record = inputs.get(row["input_uuid"])
            if record is not None:
                record.tags[row["name"]] = row["value"]
        return datasets, list(inputs.values())

    def _logged_models(self) -> list[LoggedModelRecord]:
        if not self._has("logged_models"):
            return []
        out: dict[str, LoggedModelRecord] = {}
        for row in self._rows(
            "logged_models",
            "model_id",
            "experiment_id",
            "name",
            "artifact_location",
            "creation_timestamp_ms",
            "last_updated_timestamp_ms",
            "status",
            "lifecycle_stage",
            "model_type",
            "source_run_id",
            "status_message",
            "creator_id",
        ):
            status = row["status"]
            if isinstance(status, int):
                status = LOGGED_MODEL_STATUSES.get(status, str(status))
            out[row["model_id"]] = LoggedModelRecord(
                model_id=row["model_id"],
                experiment_id=str(row["experiment_id"]),
                name=row["name"],
                artifact_location=row["artifact_location"],
                creation_timestamp=row["creation_timestamp_ms"],
                last_updated_timestamp=row["last_updated_timestamp_ms"],
                status=status,
                lifecycle_stage=row["lifecycle_stage"] or "active",
                model_type=row["model_type"],
                source_run_id=row["source_run_id"],
                status_message=row["status_message"],
                creator_id=row["creator_id"],
            )
        for row in self._rows("logged_model_tags", "model_id", "tag_key", "tag_value"):
            if row["model_id"] in out:
                out[row["model_id"]].tags[row["tag_key"]] = row["tag_value"]
        for row in self._rows("logged_model_params", "model_id", "param_key", "param_value"):
            if row["model_id"] in out:
                out[row["model_id"]].params[row["param_key"]] = row["param_value"]
        bakehouse = self.flavor == "bakehouse"
        for row in self._rows(
            "logged_model_metrics",
            "model_id",
            "metric_name",
            "metric_value",
            "value_kind",
            "metric_timestamp_ms",
            "metric_step",
            "run_id",
            "dataset_name",
            "dataset_digest",
        ):
            record = out.get(row["model_id"])
            if record is None:
                continue
            value = row["metric_value"]
            value = (
                decode_metric_value(value, row["value_kind"]) if bakehouse else _finite_or_nan(value, False)
            )
            record.metrics.append(
                (
                    row["metric_name"],
                    value,
                    row["metric_timestamp_ms"],
                    row["metric_step"],
                    row["run_id"],
                    row["dataset_name"],
                    row["dataset_digest"],
                )
            )
        return list(out.values())

    def _registry(self) -> tuple[list[RegisteredModelRecord], list[ModelVersionRecord]]:
        if not self._has("registered_models"):
            return [], []
        models: dict[str, RegisteredModelRecord] = {}
        for row in self._rows(
            "registered_models",
            "name",
            "creation_time",
            "last_updated_time",
            "description",
            "user_id",
            "next_version",
        ):
            models[row["name"]] = RegisteredModelRecord(
                name=row["name"],
                creation_time=row["creation_time"] or 0,
                last_updated_time=row["last_updated_time"] or row["creation_time"] or 0,
                description=row["description"],
                user_id=row["user_id"],
                next_version=int(row["next_version"] or 1),
            )
        for row in self._rows("registered_model_tags", "name", "key", "value"):
            if row["name"] in models:
                models[row["name"]].tags[row["key"]] = row["value"] if row["value"] is not None else ""
        versions: dict[tuple[str, int], ModelVersionRecord] = {}
        for row in self._rows(
            "model_versions",
            "name",
            "version",
            "creation_time",
            "last_updated_time",
            "description",
            "user_id",
            "current_stage",
            "source",
            "storage_location",
            "run_id",
            "run_link",
            "model_id",
            "status",
            "status_message",
        ):
            model = models.get(row["name"])
            if model is None:
                continue
            number = int(row["version"])
            model.next_version = max(model.next_version, number + 1)  # deleted numbers stay used
            if row["current_stage"] == DELETED_VERSION_STAGE:
                continue
            versions[(row["name"], number)] = ModelVersionRecord(
                name=row["name"],
                version=number,
                creation_time=row["creation_time"] or 0,
                last_updated_time=row["last_updated_time"] or row["creation_time"] or 0,
                current_stage=row["current_stage"] or "None",
                description=row["description"],
                user_id=row["user_id"],
                source=row["source"],
                storage_location=row["storage_location"],
                run_id=row["run_id"],
                run_link=row["run_link"],
                model_id=row["model_id"],
                status=row["status"] or "READY",
                status_message=row["status_message"],
            )
        for row in self._rows("model_version_tags", "name", "version", "key", "value"):
            record = versions.get((row["name"], int(row["version"])))
            if record is not None:
                record.tags[row["key"]] = row["value"] if row["value"] is not None else ""
        for row in self._rows("registered_model_aliases", "name", "alias", "version"):
            model = models.get(row["name"])
            if model is not None and (row["name"], int(row["version"])) in versions:
                model.aliases[row["alias"]] = int(row["version"])
        return list(models.values()), list(versions.values())

    # -------------------------------------------------------------------------------------- metrics
    def _metric_columns(self) -> tuple[str, str]:
        """(value column, marker column): MLflow's is_nan flag or Bakehouse's value_kind."""
        return ("value", "value_kind") if self.flavor == "bakehouse" else ("value", "is_nan")

    def _cursor_rows(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(sql, tuple(params))
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _in_clause(self, count: int) -> str:
        mark = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        return "(" + ", ".join([mark] * count) + ")"

    def _q(self, name: str) -> str:
        return str(self.conn.dialect.identifier_preparer.quote(name))

    def metric_summaries(self, run_ids: Sequence[str]) -> dict[str, dict[str, MetricSummary]]:
        out: dict[str, dict[str, MetricSummary]] = {}
        key, ts = self._q("key"), self._q("timestamp")
        for start in range(0, len(run_ids), _RUN_BATCH):
            chunk = list(run_ids[start : start + _RUN_BATCH])
            where = f"run_uuid IN {self._in_clause(len(chunk))}"
            for run_id, k, count, min_ts, max_ts, min_step, max_step in self._cursor_rows(
                f"SELECT run_uuid, {key}, COUNT(*), MIN({ts}), MAX({ts}), MIN(step), MAX(step) FROM metrics "
                f"WHERE {where} GROUP BY run_uuid, {key}",
                chunk,
            ):
                out.setdefault(run_id, {})[k] = MetricSummary(
                    int(count), int(min_ts), int(max_ts), int(min_step), int(max_step)
                )
            if "latest_metrics" not in self.tables:
                continue
            value, marker = self._metric_columns()
            for run_id, k, v, t, step, flag in self._cursor_rows(
                f"SELECT run_uuid, {key}, {value}, {ts}, step, {marker} FROM latest_metrics WHERE {where}",
                chunk,
            ):
                summary = out.get(run_id, {}).get(k)
                if summary is not None:
                    number = (
                        decode_metric_value(v, flag)
                        if self.flavor == "bakehouse"
                        else _finite_or_nan(v, flag)
                    )
                    summary.latest = (int(step), int(t), number)
        return out

    def metric_points(self, run_ids: Sequence[str]) -> Iterator[tuple[str, list[MetricPoint]]]:
        value, marker = self._metric_columns()
        key, ts = self._q("key"), self._q("timestamp")
        bakehouse = self.flavor == "bakehouse"
        for start in range(0, len(run_ids), 16):
            chunk = list(run_ids[start : start + 16])
            rows = self._cursor_rows(
                f"SELECT run_uuid, {key}, {value}, {ts}, step, {marker} FROM metrics "
                f"WHERE run_uuid IN {self._in_clause(len(chunk))} ORDER BY run_uuid, {key}, {ts}, step",
                chunk,
            )
            by_run: dict[str, list[MetricPoint]] = {run_id: [] for run_id in chunk}
            if bakehouse:
                for run_id, k, v, t, step, kind in rows:
                    by_run[run_id].append((k, decode_metric_value(v, kind) if kind else v, t, step))
            else:
                for run_id, k, v, t, step, is_nan in rows:
                    by_run[run_id].append((k, math.nan if is_nan or v is None else v, t, step))
            yield from by_run.items()

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        return open_artifacts(artifact_uri, self.artifacts_destination)


class _Row(dict[str, Any]):
    """A row as a dict whose absent columns read as None."""

    def __missing__(self, key: str) -> None:
        return None
