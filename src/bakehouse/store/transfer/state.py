"""What a Bakehouse database already holds of the objects a migration brings (read side of an import).

A migration compares every incoming object with what is here before it writes anything, so that a second
run creates nothing twice and a conflict is found before the first write. These reads are bulk queries keyed
by the incoming ids: a few statements for any number of objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, select

from bakehouse.entities.transfer import (
    DatasetRecord,
    ExperimentRecord,
    InputRecord,
    LoggedModelRecord,
    MetricSummary,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
)
from bakehouse.store.db import schema as s
from bakehouse.store.tracking.sql import raw
from bakehouse.store.validation import decode_metric_value

_CHUNK = 500


@dataclass(slots=True)
class StateQuery:
    """The keys a migration asks about."""

    experiment_ids: list[str] = field(default_factory=list)
    experiment_names: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    logged_model_ids: list[str] = field(default_factory=list)
    registered_model_names: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DestinationState:
    """The matching objects found at the destination (absent keys are simply missing)."""

    experiments: dict[str, ExperimentRecord] = field(default_factory=dict)
    #: name -> experiment id, for every asked name that exists
    experiment_names: dict[str, str] = field(default_factory=dict)
    runs: dict[str, RunRecord] = field(default_factory=dict)
    #: run id -> key -> summary
    metric_summaries: dict[str, dict[str, MetricSummary]] = field(default_factory=dict)
    datasets: list[DatasetRecord] = field(default_factory=list)
    inputs: list[InputRecord] = field(default_factory=list)
    logged_models: dict[str, LoggedModelRecord] = field(default_factory=dict)
    registered_models: dict[str, RegisteredModelRecord] = field(default_factory=dict)
    model_versions: dict[tuple[str, int], ModelVersionRecord] = field(default_factory=dict)


def _chunks(values: Sequence[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


def _experiment_ids(values: Iterable[str]) -> list[int]:
    out = []
    for value in values:
        try:
            number = int(value)
        except (TypeError, ValueError):
            continue  # not a SQL experiment id: it cannot exist here
        if 0 <= number < 2**63:
            out.append(number)
    return out


def read_state(tracking: Connection, registry: Connection | None, query: StateQuery) -> DestinationState:
    state = DestinationState()
    _read_experiments(tracking, query, state)
    _read_runs(tracking, query.run_ids, state)
    _read_logged_models(tracking, query.logged_model_ids, state)
    if registry is not None:
        _read_registry(registry, query.registered_model_names, state)
    return state


def _read_experiments(conn: Connection, query: StateQuery, state: DestinationState) -> None:
    e = s.experiments.c
    ids = set(_experiment_ids(query.experiment_ids))
    for names in _chunks(sorted(set(query.experiment_names))):
        for experiment_id, name in conn.execute(select(e.experiment_id, e.name).where(e.name.in_(names))):
            state.experiment_names[name] = str(experiment_id)
            ids.add(int(experiment_id))
    for chunk in _chunks(sorted(ids)):
        for row in conn.execute(select(s.experiments).where(e.experiment_id.in_(chunk))):
            state.experiments[str(row.experiment_id)] = ExperimentRecord(
                experiment_id=str(row.experiment_id),
                name=row.name,
                artifact_location=row.artifact_location,
                lifecycle_stage=row.lifecycle_stage,
                creation_time=row.creation_time,
                last_update_time=row.last_update_time,
                deleted_time=row.deleted_time,
            )
        t = s.experiment_tags.c
        for experiment_id, key, value in conn.execute(
            select(t.experiment_id, t.key, t.value).where(t.experiment_id.in_(chunk))
        ):
            state.experiments[str(experiment_id)].tags[key] = value if value is not None else ""
    found = sorted(int(i) for i in state.experiments)
    for chunk in _chunks(found):
        d = s.datasets.c
        for row in conn.execute(select(s.datasets).where(d.experiment_id.in_(chunk))):
            state.datasets.append(
                DatasetRecord(
                    dataset_id=row.dataset_uuid,
                    experiment_id=str(row.experiment_id),
                    name=row.name,
                    digest=row.digest,
                    source_type=row.dataset_source_type,
                    source=row.dataset_source,
                    schema=row.dataset_schema,
                    profile=row.dataset_profile,
                )
            )


_RUN_COLUMNS = (
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
)


def _read_runs(conn: Connection, run_ids: Sequence[str], state: DestinationState) -> None:
    if not run_ids:
        return
    for row in raw.fetch_in(
        conn, f"SELECT {raw.columns(conn, *_RUN_COLUMNS)} FROM runs WHERE run_uuid", run_ids
    ):
        values = dict(zip(_RUN_COLUMNS, row, strict=True))
        run_id = values.pop("run_uuid")
        state.runs[run_id] = RunRecord(
            run_id=run_id, **{**values, "experiment_id": str(values["experiment_id"])}
        )
    present = list(state.runs)
    if not present:
        return
    for table, target in (("params", "params"), ("tags", "tags")):
        for run_id, key, value in raw.fetch_in(
            conn,
            f"SELECT {raw.columns(conn, 'run_uuid', 'key', 'value')} FROM {table} WHERE run_uuid",
            present,
        ):
            getattr(state.runs[run_id], target)[key] = value if value is not None else ""
    for run_id, key, count, min_ts, max_ts, min_step, max_step in raw.fetch_in(
        conn,
        f"SELECT {raw.columns(conn, 'run_uuid', 'key')}, COUNT(*), MIN({raw.quoted(conn, 'timestamp')}), "
        f"MAX({raw.quoted(conn, 'timestamp')}), MIN(step), MAX(step) FROM metrics WHERE run_uuid",
        present,
        sql_suffix=f"GROUP BY {raw.columns(conn, 'run_uuid', 'key')}",
    ):
        state.metric_summaries.setdefault(run_id, {})[key] = MetricSummary(
            int(count), int(min_ts), int(max_ts), int(min_step), int(max_step)
        )
    for run_id, key, value, kind, ts, step in raw.fetch_in(
        conn,
        f"SELECT {raw.columns(conn, 'run_uuid', 'key', 'value', 'value_kind', 'timestamp', 'step')} "
        "FROM latest_metrics WHERE run_uuid",
        present,
    ):
        summary = state.metric_summaries.setdefault(run_id, {}).setdefault(key, MetricSummary(0))
        summary.latest = (int(step), int(ts), decode_metric_value(value, kind))
    _read_inputs(conn, present, state)


def _read_inputs(conn: Connection, run_ids: Sequence[str], state: DestinationState) -> None:
    i = s.inputs.c
    found: dict[str, InputRecord] = {}
    for chunk in _chunks(run_ids):
        for row in conn.execute(
            select(s.inputs).where(
                ((i.destination_type == "RUN") & i.destination_id.in_(chunk))
                | ((i.source_type == "RUN_OUTPUT") & i.source_id.in_(chunk))
            )
        ):
            found[row.input_uuid] = InputRecord(
                row.input_uuid,
                row.source_type,
                row.source_id,
                row.destination_type,
                row.destination_id,
                row.step,
            )
    t = s.input_tags.c
    for chunk in _chunks(list(found)):
        for input_id, name, value in conn.execute(
            select(t.input_uuid, t.name, t.value).where(t.input_uuid.in_(chunk))
        ):
            found[input_id].tags[name] = value
    state.inputs.extend(found.values())


def _read_logged_models(conn: Connection, model_ids: Sequence[str], state: DestinationState) -> None:
    lm = s.logged_models.c
    for chunk in _chunks(model_ids):
        for row in conn.execute(select(s.logged_models).where(lm.model_id.in_(chunk))):
            state.logged_models[row.model_id] = LoggedModelRecord(
                model_id=row.model_id,
                experiment_id=str(row.experiment_id),
                name=row.name,
                artifact_location=row.artifact_location,
                creation_timestamp=row.creation_timestamp_ms,
                last_updated_timestamp=row.last_updated_timestamp_ms,
                status=row.status,
                lifecycle_stage=row.lifecycle_stage,
                model_type=row.model_type,
                source_run_id=row.source_run_id,
                status_message=row.status_message,
                creator_id=row.creator_id,
            )
    present = list(state.logged_models)
    for chunk in _chunks(present):
        t = s.logged_model_tags.c
        for model_id, key, value in conn.execute(
            select(t.model_id, t.tag_key, t.tag_value).where(t.model_id.in_(chunk))
        ):
            state.logged_models[model_id].tags[key] = value
        p = s.logged_model_params.c
        for model_id, key, value in conn.execute(
            select(p.model_id, p.param_key, p.param_value).where(p.model_id.in_(chunk))
        ):
            state.logged_models[model_id].params[key] = value
        m = s.logged_model_metrics.c
        for row in conn.execute(select(s.logged_model_metrics).where(m.model_id.in_(chunk))):
            state.logged_models[row.model_id].metrics.append(
                (
                    row.metric_name,
                    decode_metric_value(row.metric_value, row.value_kind),
                    row.metric_timestamp_ms,
                    row.metric_step,
                    row.run_id,
                    row.dataset_name,
                    row.dataset_digest,
                )
            )


def _read_registry(conn: Connection, names: Sequence[str], state: DestinationState) -> None:
    rm, mv = s.registered_models.c, s.model_versions.c
    for chunk in _chunks(sorted(set(names))):
        for row in conn.execute(select(s.registered_models).where(rm.name.in_(chunk))):
            state.registered_models[row.name] = RegisteredModelRecord(
                name=row.name,
                creation_time=row.creation_time,
                last_updated_time=row.last_updated_time,
                description=row.description,
                user_id=row.user_id,
                next_version=row.next_version,
            )
        t = s.registered_model_tags.c
        for name, key, value in conn.execute(select(t.name, t.key, t.value).where(t.name.in_(chunk))):
            if name in state.registered_models:
                state.registered_models[name].tags[key] = value if value is not None else ""
        a = s.registered_model_aliases.c
        for name, alias, version in conn.execute(select(a.name, a.alias, a.version).where(a.name.in_(chunk))):
            if name in state.registered_models:
                state.registered_models[name].aliases[alias] = int(version)
        for row in conn.execute(select(s.model_versions).where(mv.name.in_(chunk))):
            state.model_versions[(row.name, int(row.version))] = ModelVersionRecord(
                name=row.name,
                version=int(row.version),
                creation_time=row.creation_time,
                last_updated_time=row.last_updated_time,
                current_stage=row.current_stage,
                description=row.description,
                user_id=row.user_id,
                source=row.source,
                storage_location=row.storage_location,
                run_id=row.run_id,
                run_link=row.run_link,
                model_id=row.model_id,
                status=row.status,
                status_message=row.status_message,
            )
        vt = s.model_version_tags.c
        for name, version, key, value in conn.execute(
            select(vt.name, vt.version, vt.key, vt.value).where(vt.name.in_(chunk))
        ):
            record = state.model_versions.get((name, int(version)))
            if record is not None:
                record.tags[key] = value if value is not None else ""


def read_metric_points(
    conn: Connection, run_ids: Sequence[str]
) -> dict[str, list[tuple[str, float, int, int]]]:
    """Every metric point of these runs, by run, in history order (for verification)."""
    out: dict[str, list[tuple[str, float, int, int]]] = {run_id: [] for run_id in run_ids}
    decode = decode_metric_value
    for run_id, key, value, kind, ts, step in raw.fetch_in(
        conn,
        f"SELECT {raw.columns(conn, 'run_uuid', 'key', 'value', 'value_kind', 'timestamp', 'step')} "
        "FROM metrics WHERE run_uuid",
        run_ids,
    ):
        out[run_id].append((key, decode(value, kind) if kind else value, ts, step))
    return out
