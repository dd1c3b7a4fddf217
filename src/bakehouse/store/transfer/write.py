"""Bulk writes that keep every id and timestamp (write side of an import: ``bakehouse migrate``, ``sync``).

The store's usual methods make new ids and stamp the current time; an import must keep the source's, so these
write the rows directly, in the caller's transaction. Every write is idempotent: rows that exist are updated
(mutable fields) or skipped (metric points, params), so an interrupted import is finished by running it again.
Conflicts (an existing param with another value, a name taken by another experiment) are the caller's to
find first: ``bakehouse.migrate`` compares before it writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, func, select, text, update

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
from bakehouse.store.db import schema as s
from bakehouse.store.db.engine import allow_zero_id
from bakehouse.store.tracking.sql import raw
from bakehouse.store.tracking.sql.dialect import upsert, upsert_latest_metrics
from bakehouse.store.validation import encode_metric_value

_INF = float("inf")
_METRIC_COLUMNS = ("run_uuid", "key", "timestamp", "step", "value", "value_kind")
_MODEL_METRIC_COLUMNS = (
    "model_id",
    "metric_name",
    "metric_timestamp_ms",
    "metric_step",
    "metric_value",
    "value_kind",
    "run_id",
    "dataset_name",
    "dataset_digest",
)


def _insert_ignore(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    if rows:
        raw.execute_many(conn, raw.insert_ignore_sql(conn, table, columns), rows)


# ------------------------------------------------------------------------------------------ experiments


def write_experiments(conn: Connection, records: Sequence[ExperimentRecord]) -> None:
    """Insert or update experiments with their own ids; tags are set (tags missing here are kept)."""
    if not records:
        return
    allow_zero_id(conn)
    e = s.experiments.c
    ids = [int(r.experiment_id) for r in records]
    existing = {int(row[0]) for row in conn.execute(select(e.experiment_id).where(e.experiment_id.in_(ids)))}
    for record in records:
        values = {
            "name": record.name,
            "artifact_location": record.artifact_location,
            "lifecycle_stage": record.lifecycle_stage,
            "creation_time": record.creation_time,
            "last_update_time": record.last_update_time,
            "deleted_time": record.deleted_time,
        }
        experiment_id = int(record.experiment_id)
        if experiment_id in existing:
            conn.execute(update(s.experiments).where(e.experiment_id == experiment_id).values(**values))
        else:
            conn.execute(s.experiments.insert().values(experiment_id=experiment_id, **values))
    tag_rows = [
        {"experiment_id": int(r.experiment_id), "key": k, "value": v}
        for r in records
        for k, v in r.tags.items()
    ]
    upsert(conn, s.experiment_tags, tag_rows, ["value"])
    _advance_experiment_sequence(conn)


def _advance_experiment_sequence(conn: Connection) -> None:
    """PostgreSQL's serial does not see explicit ids: move it past them, as SQLite and MySQL do by themselves."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(
        text(
            "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), "
            "GREATEST((SELECT COALESCE(MAX(experiment_id), 0) FROM experiments), 1))"
        )
    )


# ------------------------------------------------------------------------------------------------ runs


def write_runs(conn: Connection, records: Sequence[RunRecord]) -> None:
    """Insert or update runs with their ids; params missing here are added, tags are set."""
    if not records:
        return
    r = s.runs.c
    ids = [record.run_id for record in records]
    existing = {row[0] for row in raw.fetch_in(conn, "SELECT run_uuid FROM runs WHERE run_uuid", ids)}
    for record in records:
        values = {
            "name": record.name,
            "user_id": record.user_id,
            "status": record.status,
            "start_time": record.start_time,
            "end_time": record.end_time,
            "deleted_time": record.deleted_time,
            "lifecycle_stage": record.lifecycle_stage,
            "artifact_uri": record.artifact_uri,
            "source_type": _cut(record.source_type, 20),
            "source_name": _cut(record.source_name, 500),
            "entry_point_name": _cut(record.entry_point_name, 50),
            "source_version": _cut(record.source_version, 50),
            "experiment_id": int(record.experiment_id),
        }
        if record.run_id in existing:
            conn.execute(update(s.runs).where(r.run_uuid == record.run_id).values(**values))
            # the latest points name their run's experiment (0011_latest_metrics_experiment)
            lm = s.latest_metrics.c
            conn.execute(
                update(s.latest_metrics)
                .where(lm.run_uuid == record.run_id, lm.experiment_id != values["experiment_id"])
                .values(experiment_id=values["experiment_id"])
            )
        else:
            conn.execute(s.runs.insert().values(run_uuid=record.run_id, **values))
    _insert_ignore(
        conn,
        "params",
        ("run_uuid", "key", "value"),
        [(rec.run_id, k, v) for rec in records for k, v in rec.params.items()],
    )
    upsert(
        conn,
        s.tags,
        [{"run_uuid": rec.run_id, "key": k, "value": v} for rec in records for k, v in rec.tags.items()],
        ["value"],
    )


def _cut(value: str | None, limit: int) -> str | None:
    """Denormalised copies of tags (the tag itself keeps the whole value)."""
    return value[:limit] if value is not None else None


def write_metrics(conn: Connection, run_id: str, points: Iterable[MetricPoint]) -> int:
    """Every point (existing ones skipped) and the latest point per key; returns the points sent."""
    rows = []
    best: dict[str, tuple[int, int, float, int]] = {}
    encode = encode_metric_value
    # millions of points pass here: finite values (nearly all) skip the encoding call
    for key, value, timestamp, step in points:
        if -_INF < value < _INF:
            stored, kind = value, 0
        else:
            stored, kind = encode(value)
        rows.append((run_id, key, timestamp, step, stored, kind))
        current = best.get(key)
        if current is None or (step, timestamp, stored) > current[:3]:
            best[key] = (step, timestamp, stored, kind)
    _insert_ignore(conn, "metrics", _METRIC_COLUMNS, rows)
    if not best:
        return len(rows)
    # the run is written before its metrics (write_runs); its experiment goes with each latest point
    experiment_id = conn.execute(
        select(s.runs.c.experiment_id).where(s.runs.c.run_uuid == run_id)
    ).scalar_one()
    upsert_latest_metrics(
        conn,
        s.latest_metrics,
        [
            {
                "run_uuid": run_id,
                "key": key,
                "step": step,
                "timestamp": ts,
                "value": value,
                "value_kind": kind,
                "experiment_id": experiment_id,
            }
            for key, (step, ts, value, kind) in best.items()
        ],
    )
    return len(rows)


# ------------------------------------------------------------------------------------ datasets, inputs


def write_datasets(conn: Connection, records: Sequence[DatasetRecord]) -> None:
    _insert_ignore(
        conn,
        "datasets",
        (
            "dataset_uuid",
            "experiment_id",
            "name",
            "digest",
            "dataset_source_type",
            "dataset_source",
            "dataset_schema",
            "dataset_profile",
        ),
        [
            (
                d.dataset_id,
                int(d.experiment_id),
                d.name,
                d.digest,
                d.source_type,
                d.source,
                d.schema,
                d.profile,
            )
            for d in records
        ],
    )


def write_inputs(conn: Connection, records: Sequence[InputRecord]) -> None:
    _insert_ignore(
        conn,
        "inputs",
        ("input_uuid", "source_type", "source_id", "destination_type", "destination_id", "step"),
        [
            (i.input_id, i.source_type, i.source_id, i.destination_type, i.destination_id, i.step)
            for i in records
        ],
    )
    _insert_ignore(
        conn,
        "input_tags",
        ("input_uuid", "name", "value"),
        [(i.input_id, k, v) for i in records for k, v in i.tags.items()],
    )


# --------------------------------------------------------------------------------------- logged models


def write_logged_models(conn: Connection, records: Sequence[LoggedModelRecord]) -> None:
    if not records:
        return
    lm = s.logged_models.c
    ids = [r.model_id for r in records]
    existing = {row[0] for row in conn.execute(select(lm.model_id).where(lm.model_id.in_(ids)))}
    for record in records:
        values = {
            "experiment_id": int(record.experiment_id),
            "name": record.name,
            "artifact_location": record.artifact_location,
            "creation_timestamp_ms": record.creation_timestamp,
            "last_updated_timestamp_ms": record.last_updated_timestamp,
            "status": record.status,
            "lifecycle_stage": record.lifecycle_stage,
            "model_type": record.model_type,
            "source_run_id": record.source_run_id,
            "status_message": record.status_message,
            "creator_id": record.creator_id,
        }
        if record.model_id in existing:
            conn.execute(update(s.logged_models).where(lm.model_id == record.model_id).values(**values))
        else:
            conn.execute(s.logged_models.insert().values(model_id=record.model_id, **values))
    upsert(
        conn,
        s.logged_model_tags,
        [{"model_id": r.model_id, "tag_key": k, "tag_value": v} for r in records for k, v in r.tags.items()],
        ["tag_value"],
    )
    _insert_ignore(
        conn,
        "logged_model_params",
        ("model_id", "param_key", "param_value"),
        [(r.model_id, k, v) for r in records for k, v in r.params.items()],
    )
    metric_rows = []
    for r in records:
        for key, value, timestamp, step, run_id, dataset_name, dataset_digest in r.metrics:
            stored, kind = encode_metric_value(value)
            metric_rows.append(
                (r.model_id, key, timestamp, step, stored, kind, run_id, dataset_name, dataset_digest)
            )
    _insert_ignore(conn, "logged_model_metrics", _MODEL_METRIC_COLUMNS, metric_rows)


# -------------------------------------------------------------------------------------------- registry


def write_registered_models(conn: Connection, records: Sequence[RegisteredModelRecord]) -> None:
    """Insert or update; ``next_version`` only ever grows (a number handed out here stays used)."""
    if not records:
        return
    rm = s.registered_models.c
    names = [r.name for r in records]
    existing = {
        row[0]: int(row[1])
        for row in conn.execute(select(rm.name, rm.next_version).where(rm.name.in_(names)))
    }
    for record in records:
        values = {
            "creation_time": record.creation_time,
            "last_updated_time": record.last_updated_time,
            "description": record.description,
            "user_id": record.user_id,
        }
        if record.name in existing:
            values["next_version"] = max(existing[record.name], record.next_version)
            conn.execute(update(s.registered_models).where(rm.name == record.name).values(**values))
        else:
            conn.execute(
                s.registered_models.insert().values(
                    name=record.name, next_version=record.next_version, **values
                )
            )
    upsert(
        conn,
        s.registered_model_tags,
        [{"name": r.name, "key": k, "value": v} for r in records for k, v in r.tags.items()],
        ["value"],
    )


def write_aliases(conn: Connection, records: Sequence[RegisteredModelRecord]) -> None:
    """Aliases after versions: an alias names a version that must exist."""
    upsert(
        conn,
        s.registered_model_aliases,
        [{"name": r.name, "alias": a, "version": v} for r in records for a, v in r.aliases.items()],
        ["version"],
    )


def write_model_versions(conn: Connection, records: Sequence[ModelVersionRecord]) -> None:
    if not records:
        return
    mv = s.model_versions.c
    keys = {(r.name, r.version) for r in records}
    names = sorted({r.name for r in records})
    existing = {
        (row[0], int(row[1]))
        for row in conn.execute(select(mv.name, mv.version).where(mv.name.in_(names)))
        if (row[0], int(row[1])) in keys
    }
    for record in records:
        values = {
            "creation_time": record.creation_time,
            "last_updated_time": record.last_updated_time,
            "description": record.description,
            "user_id": record.user_id,
            "current_stage": record.current_stage,
            "source": record.source,
            "storage_location": record.storage_location,
            "run_id": record.run_id,
            "run_link": record.run_link,
            "model_id": record.model_id,
            "status": record.status,
            "status_message": record.status_message,
        }
        if (record.name, record.version) in existing:
            conn.execute(
                update(s.model_versions)
                .where(mv.name == record.name, mv.version == record.version)
                .values(**values)
            )
        else:
            conn.execute(s.model_versions.insert().values(name=record.name, version=record.version, **values))
    upsert(
        conn,
        s.model_version_tags,
        [
            {"name": r.name, "version": r.version, "key": k, "value": v}
            for r in records
            for k, v in r.tags.items()
        ],
        ["value"],
    )
    # a version number above the model's counter moves the counter past it
    for name in names:
        top = max(r.version for r in records if r.name == name)
        conn.execute(
            update(s.registered_models)
            .where(s.registered_models.c.name == name, s.registered_models.c.next_version <= top)
            .values(next_version=top + 1)
        )


def count_rows(conn: Connection, table: str) -> int:
    return int(conn.execute(select(func.count()).select_from(s.metadata.tables[table])).scalar_one())
