"""Bulk loading of run entities: a fixed number of queries for any number of runs.

MLflow builds each run through the ORM with lazy relationships (one query per run per relation); here a
page of runs costs five queries, run rows straight into plain dataclasses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from bakehouse.entities import Metric, Run, RunData, RunInfo, RunInputs, RunOutputs
from bakehouse.entities.run import DatasetInput, ModelOutput
from bakehouse.store.db import schema as s
from bakehouse.store.tracking.sql import raw
from bakehouse.store.validation import decode_metric_value


def run_info_from_row(row: Any) -> RunInfo:
    return RunInfo(
        run_id=row.run_uuid,
        experiment_id=str(row.experiment_id),
        run_name=row.name or "",
        user_id=row.user_id or "",
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        artifact_uri=row.artifact_uri or "",
        lifecycle_stage=row.lifecycle_stage,
    )


_RUN_COLUMNS = (
    "run_uuid",
    "experiment_id",
    "name",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "artifact_uri",
    "lifecycle_stage",
)


def load_runs(conn: Connection, run_ids: Sequence[str], with_io: bool = False) -> list[Run]:
    """The runs with these ids, in the given order (missing ids are skipped).

    Five queries for any number of runs, read straight from the DB-API cursor (see ``raw.py``).
    """
    if not run_ids:
        return []
    infos: dict[str, RunInfo] = {}
    datas: dict[str, RunData] = {}
    for run_id, experiment_id, name, user_id, status, start, end, artifact_uri, stage in raw.fetch_in(
        conn, f"SELECT {raw.columns(conn, *_RUN_COLUMNS)} FROM runs WHERE run_uuid", run_ids
    ):
        infos[run_id] = RunInfo(
            run_id,
            str(experiment_id),
            name or "",
            user_id or "",
            status,
            start,
            end,
            artifact_uri or "",
            stage,
        )
        datas[run_id] = RunData()
    if not infos:
        return []
    present = list(infos)
    decode = decode_metric_value
    for run_id, key, value, kind, ts, step in raw.fetch_in(
        conn,
        f"SELECT {raw.columns(conn, 'run_uuid', 'key', 'value', 'value_kind', 'timestamp', 'step')} "
        "FROM latest_metrics WHERE run_uuid",
        present,
    ):
        real = decode(value, kind) if kind else value
        data = datas[run_id]
        data.metrics[key] = real
        data.metric_points.append(Metric(key, real, ts, step, run_id))
    for run_id, key, value in raw.fetch_in(
        conn, f"SELECT {raw.columns(conn, 'run_uuid', 'key', 'value')} FROM params WHERE run_uuid", present
    ):
        datas[run_id].params[key] = value
    for run_id, key, value in raw.fetch_in(
        conn, f"SELECT {raw.columns(conn, 'run_uuid', 'key', 'value')} FROM tags WHERE run_uuid", present
    ):
        datas[run_id].tags[key] = value
    inputs: dict[str, RunInputs] = {}
    outputs: dict[str, RunOutputs] = {}
    if with_io:
        inputs, outputs = _load_inputs_outputs(conn, present)
    return [
        Run(
            info=infos[i],
            data=datas[i],
            inputs=inputs.get(i) or RunInputs(),
            outputs=outputs.get(i) or RunOutputs(),
        )
        for i in run_ids
        if i in infos
    ]


def _load_inputs_outputs(
    conn: Connection, run_ids: Sequence[str]
) -> tuple[dict[str, RunInputs], dict[str, RunOutputs]]:
    inputs: dict[str, RunInputs] = {}
    outputs: dict[str, RunOutputs] = {}
    dataset_links: list[tuple[str, str, str]] = []
    mark = raw.marker(conn)
    for input_uuid, source_type, source_id, dest_id in raw.fetch_in(
        conn,
        f"SELECT {raw.columns(conn, 'input_uuid', 'source_type', 'source_id', 'destination_id')} FROM inputs "
        f"WHERE destination_type = {mark} AND destination_id",
        run_ids,
        params_before=["RUN"],
    ):
        if source_type == "DATASET":
            dataset_links.append((input_uuid, source_id, dest_id))
        elif source_type == "MODEL":
            inputs.setdefault(dest_id, RunInputs()).model_inputs.append(source_id)
    for source_id, dest_id, step in raw.fetch_in(
        conn,
        f"SELECT {raw.columns(conn, 'source_id', 'destination_id', 'step')} FROM inputs "
        f"WHERE source_type = {mark} AND source_id",
        run_ids,
        params_before=["RUN_OUTPUT"],
    ):
        outputs.setdefault(source_id, RunOutputs()).model_outputs.append(ModelOutput(dest_id, step or 0))
    if dataset_links:
        dataset_ids = list({d for _, d, _ in dataset_links})
        input_ids = [u for u, _, _ in dataset_links]
        datasets = {
            row.dataset_uuid: row
            for row in conn.execute(select(s.datasets).where(s.datasets.c.dataset_uuid.in_(dataset_ids)))
        }
        tags: dict[str, dict[str, str]] = {}
        for input_uuid, name, value in conn.execute(
            select(s.input_tags.c.input_uuid, s.input_tags.c.name, s.input_tags.c.value).where(
                s.input_tags.c.input_uuid.in_(input_ids)
            )
        ):
            tags.setdefault(input_uuid, {})[name] = value
        for input_uuid, dataset_uuid, run_id in dataset_links:
            d = datasets.get(dataset_uuid)
            if d is None:
                continue
            inputs.setdefault(run_id, RunInputs()).dataset_inputs.append(
                DatasetInput(
                    name=d.name,
                    digest=d.digest,
                    source_type=d.dataset_source_type,
                    source=d.dataset_source,
                    schema=d.dataset_schema,
                    profile=d.dataset_profile,
                    tags=tags.get(input_uuid, {}),
                )
            )
    return inputs, outputs
