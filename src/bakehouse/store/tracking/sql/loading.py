"""Bulk loading of run entities: a fixed number of queries for any number of runs.

MLflow builds each run through the ORM with lazy relationships (one query per run per relation); here a
page of runs costs five queries, run rows straight into plain dataclasses.
"""

from __future__ import annotations

from typing import Any, Sequence

from sqlalchemy import Connection, select

from bakehouse.entities import Metric, Run, RunData, RunInfo, RunInputs, RunOutputs
from bakehouse.entities.run import DatasetInput, ModelOutput
from bakehouse.store.db import schema as s
from bakehouse.store.validation import decode_metric_value

_CHUNK = 500  # stay below SQLite's bound-parameter limits


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


def _chunks(items: Sequence[str]) -> list[Sequence[str]]:
    return [items[i : i + _CHUNK] for i in range(0, len(items), _CHUNK)] or [[]]


def load_runs(conn: Connection, run_ids: Sequence[str], with_io: bool = False) -> list[Run]:
    """The runs with these ids, in the given order (missing ids are skipped)."""
    if not run_ids:
        return []
    r, lm, p, t = s.runs.c, s.latest_metrics.c, s.params.c, s.tags.c
    infos: dict[str, RunInfo] = {}
    datas: dict[str, RunData] = {}
    for chunk in _chunks(run_ids):
        for row in conn.execute(select(s.runs).where(r.run_uuid.in_(chunk))):
            infos[row.run_uuid] = run_info_from_row(row)
            datas[row.run_uuid] = RunData()
    if not infos:
        return []
    present = list(infos)
    for chunk in _chunks(present):
        for run_id, key, value, kind, ts, step in conn.execute(
            select(lm.run_uuid, lm.key, lm.value, lm.value_kind, lm.timestamp, lm.step).where(lm.run_uuid.in_(chunk))
        ):
            real = decode_metric_value(value, kind) if kind else value
            data = datas[run_id]
            data.metrics[key] = real
            data.metric_points.append(Metric(key, real, ts, step, run_id))
        for run_id, key, value in conn.execute(select(p.run_uuid, p.key, p.value).where(p.run_uuid.in_(chunk))):
            datas[run_id].params[key] = value
        for run_id, key, value in conn.execute(select(t.run_uuid, t.key, t.value).where(t.run_uuid.in_(chunk))):
            datas[run_id].tags[key] = value
    inputs: dict[str, RunInputs] = {}
    outputs: dict[str, RunOutputs] = {}
    if with_io:
        inputs, outputs = _load_inputs_outputs(conn, present)
    return [
        Run(info=infos[i], data=datas[i], inputs=inputs.get(i) or RunInputs(), outputs=outputs.get(i) or RunOutputs())
        for i in run_ids
        if i in infos
    ]


def _load_inputs_outputs(conn: Connection, run_ids: Sequence[str]) -> tuple[dict[str, RunInputs], dict[str, RunOutputs]]:
    i = s.inputs.c
    inputs: dict[str, RunInputs] = {}
    outputs: dict[str, RunOutputs] = {}
    dataset_links: list[tuple[str, str, str]] = []
    for chunk in _chunks(run_ids):
        for input_uuid, source_type, source_id, dest_id in conn.execute(
            select(i.input_uuid, i.source_type, i.source_id, i.destination_id).where(
                i.destination_type == "RUN", i.destination_id.in_(chunk)
            )
        ):
            if source_type == "DATASET":
                dataset_links.append((input_uuid, source_id, dest_id))
            elif source_type == "MODEL":
                inputs.setdefault(dest_id, RunInputs()).model_inputs.append(source_id)
        for source_id, dest_id, step in conn.execute(
            select(i.source_id, i.destination_id, i.step).where(i.source_type == "RUN_OUTPUT", i.source_id.in_(chunk))
        ):
            outputs.setdefault(source_id, RunOutputs()).model_outputs.append(ModelOutput(dest_id, step or 0))
    if dataset_links:
        dataset_ids = list({d for _, d, _ in dataset_links})
        input_ids = [u for u, _, _ in dataset_links]
        datasets = {row.dataset_uuid: row for row in conn.execute(select(s.datasets).where(s.datasets.c.dataset_uuid.in_(dataset_ids)))}
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
