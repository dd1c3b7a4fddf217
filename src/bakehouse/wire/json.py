"""Entities <-> MLflow's proto-JSON shapes.

Both directions live here so the server (entity -> JSON) and the REST stores (JSON -> entity) can never
disagree. Conventions followed (MLflow's ``message_to_json``): snake_case names, empty and unset fields
omitted, int64 as JSON numbers, doubles that JSON cannot carry (NaN, +/-inf) as the strings ``"NaN"``,
``"Infinity"`` and ``"-Infinity"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from bakehouse.entities import (
    Experiment,
    FileInfo,
    LifecycleStage,
    LoggedModel,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunOutputs,
)
from bakehouse.entities.run import DatasetInput, ModelOutput

#: the range of protobuf's int64, which MLflow's ids, timestamps and steps use
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

_NONFINITE_OUT = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_NONFINITE_IN = {
    "nan": math.nan,
    "infinity": math.inf,
    "-infinity": -math.inf,
    "inf": math.inf,
    "-inf": -math.inf,
}


# ------------------------------------------------------------------------------------------ scalars
def float_to_json(value: float) -> float | str:
    """A double as MLflow writes it: finite numbers as numbers, the rest as proto-JSON strings."""
    if not isinstance(value, float):
        return value  # ints pass as they are; anything else is left for the receiver to refuse
    if math.isfinite(value):
        return value
    return _NONFINITE_OUT[repr(value)]


def float_from_json(value: Any) -> float:
    """A double from JSON; ValueError (not TypeError) for anything else, so pydantic reports it as invalid."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        special = _NONFINITE_IN.get(value.strip().lower())
        if special is not None:
            return special
        return float(value)
    raise ValueError("a boolean is not a number" if isinstance(value, bool) else f"{value!r} is not a number")


def _int_or_none(value: Any) -> int | None:
    if value is None or value == "":
        return None
    return int(value)


def _kv_list(mapping: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": k, "value": v} for k, v in mapping.items()]


def _kv_dict(items: Iterable[Mapping[str, Any]] | None) -> dict[str, str]:
    return {item["key"]: item.get("value", "") for item in items or ()}


def _compact(d: dict[str, Any]) -> dict[str, Any]:
    """Drop unset fields the way proto-JSON does (None and empty lists); keeps 0 and ""."""
    return {k: v for k, v in d.items() if v is not None and v != []}


# ---------------------------------------------------------------------------------------- experiment
def experiment_to_json(exp: Experiment) -> dict[str, Any]:
    return _compact(
        {
            "experiment_id": exp.experiment_id,
            "name": exp.name,
            "artifact_location": exp.artifact_location,
            "lifecycle_stage": exp.lifecycle_stage,
            "last_update_time": exp.last_update_time,
            "creation_time": exp.creation_time,
            "tags": _kv_list(exp.tags),
        }
    )


def experiment_from_json(d: Mapping[str, Any]) -> Experiment:
    return Experiment(
        experiment_id=str(d["experiment_id"]),
        name=d.get("name", ""),
        artifact_location=d.get("artifact_location", ""),
        lifecycle_stage=d.get("lifecycle_stage", LifecycleStage.ACTIVE.value),
        creation_time=_int_or_none(d.get("creation_time")),
        last_update_time=_int_or_none(d.get("last_update_time")),
        tags=_kv_dict(d.get("tags")),
    )


# -------------------------------------------------------------------------------------------- metric
def metric_to_json(m: Metric, with_run_id: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": m.key,
        "value": float_to_json(m.value),
        "timestamp": m.timestamp,
        "step": m.step,
    }
    if with_run_id and m.run_id is not None:
        out["run_id"] = m.run_id
    if m.dataset_name is not None:
        out["dataset_name"] = m.dataset_name
    if m.dataset_digest is not None:
        out["dataset_digest"] = m.dataset_digest
    if m.model_id is not None:
        out["model_id"] = m.model_id
    return out


def metric_from_json(d: Mapping[str, Any], run_id: str | None = None) -> Metric:
    return Metric(
        key=d["key"],
        value=float_from_json(d.get("value", 0.0)),
        timestamp=int(d.get("timestamp", 0) or 0),
        step=int(d.get("step", 0) or 0),
        run_id=d.get("run_id", run_id),
        dataset_name=d.get("dataset_name"),
        dataset_digest=d.get("dataset_digest"),
        model_id=d.get("model_id"),
    )


_PLAIN_POINT_FIELDS = frozenset(("key", "value", "timestamp", "step"))


def history_from_json(items: Iterable[Mapping[str, Any]], run_id: str | None) -> list[Metric]:
    """Metric points of a history response; plain points (the usual case) skip the general converter."""
    out = []
    for d in items:
        value, ts, step = d.get("value", 0.0), d.get("timestamp", 0), d.get("step", 0)
        if type(value) is float and type(ts) is int and type(step) is int and d.keys() <= _PLAIN_POINT_FIELDS:
            out.append(Metric(d["key"], value, ts, step, run_id))
        else:
            out.append(metric_from_json(d, run_id))
    return out


# ----------------------------------------------------------------------------------------------- run
def run_info_to_json(info: RunInfo) -> dict[str, Any]:
    out = {
        "run_id": info.run_id,
        "run_uuid": info.run_id,
        "run_name": info.run_name,
        "experiment_id": info.experiment_id,
        "user_id": info.user_id,
        "status": info.status,
        "start_time": info.start_time,
        "end_time": info.end_time,
        "artifact_uri": info.artifact_uri,
        "lifecycle_stage": info.lifecycle_stage,
    }
    if None in out.values():  # unset fields are omitted, as proto-JSON does
        out = {k: v for k, v in out.items() if v is not None}
    return out


def run_info_from_json(d: Mapping[str, Any]) -> RunInfo:
    return RunInfo(
        run_id=d.get("run_id") or d.get("run_uuid") or "",
        experiment_id=str(d.get("experiment_id", "")),
        run_name=d.get("run_name", ""),
        user_id=d.get("user_id", ""),
        status=d.get("status", "RUNNING"),
        start_time=_int_or_none(d.get("start_time")),
        end_time=_int_or_none(d.get("end_time")),
        artifact_uri=d.get("artifact_uri", ""),
        lifecycle_stage=d.get("lifecycle_stage", LifecycleStage.ACTIVE.value),
    )


def _metric_points(data: RunData) -> list[Metric]:
    if data.metric_points:
        return data.metric_points
    # a store that only filled the key->value dict: step and timestamp are unknown
    return [Metric(key=k, value=v, timestamp=0, step=0) for k, v in data.metrics.items()]


def _is_plain(m: Metric) -> bool:
    return (
        m.dataset_name is None and m.dataset_digest is None and m.model_id is None and math.isfinite(m.value)
    )


def run_data_to_json(data: RunData) -> dict[str, Any]:
    """Runs go out by the thousand in searches, so the common shapes are built directly."""
    out: dict[str, Any] = {}
    if data.metrics or data.metric_points:
        out["metrics"] = [
            {"key": m.key, "value": m.value, "timestamp": m.timestamp, "step": m.step}
            if _is_plain(m)
            else metric_to_json(m)
            for m in _metric_points(data)
        ]
    if data.params:
        out["params"] = [{"key": k, "value": v} for k, v in data.params.items()]
    if data.tags:
        out["tags"] = [{"key": k, "value": v} for k, v in data.tags.items()]
    return out


def run_data_from_json(d: Mapping[str, Any]) -> RunData:
    points = history_from_json(d.get("metrics") or (), None)
    return RunData(
        metrics={m.key: m.value for m in points},
        params=_kv_dict(d.get("params")),
        tags=_kv_dict(d.get("tags")),
        metric_points=points,
    )


def dataset_input_to_json(ds: DatasetInput) -> dict[str, Any]:
    return _compact(
        {
            "tags": _kv_list(ds.tags),
            "dataset": _compact(
                {
                    "name": ds.name,
                    "digest": ds.digest,
                    "source_type": ds.source_type,
                    "source": ds.source,
                    "schema": ds.schema,
                    "profile": ds.profile,
                }
            ),
        }
    )


def dataset_input_from_json(d: Mapping[str, Any]) -> DatasetInput:
    ds = d.get("dataset") or {}
    return DatasetInput(
        name=ds.get("name", ""),
        digest=ds.get("digest", ""),
        source_type=ds.get("source_type", ""),
        source=ds.get("source", ""),
        schema=ds.get("schema"),
        profile=ds.get("profile"),
        tags=_kv_dict(d.get("tags")),
    )


def run_inputs_to_json(inputs: RunInputs) -> dict[str, Any]:
    if not inputs.dataset_inputs and not inputs.model_inputs:
        return {}
    return _compact(
        {
            "dataset_inputs": [dataset_input_to_json(ds) for ds in inputs.dataset_inputs],
            "model_inputs": [{"model_id": m} for m in inputs.model_inputs],
        }
    )


def run_outputs_to_json(outputs: RunOutputs) -> dict[str, Any]:
    if not outputs.model_outputs:
        return {}
    return _compact(
        {"model_outputs": [{"model_id": m.model_id, "step": m.step} for m in outputs.model_outputs]}
    )


def run_to_json(run: Run) -> dict[str, Any]:
    return {
        "info": run_info_to_json(run.info),
        "data": run_data_to_json(run.data),
        "inputs": run_inputs_to_json(run.inputs),
        "outputs": run_outputs_to_json(run.outputs),
    }


def run_from_json(d: Mapping[str, Any]) -> Run:
    inputs = d.get("inputs") or {}
    outputs = d.get("outputs") or {}
    return Run(
        info=run_info_from_json(d.get("info") or {}),
        data=run_data_from_json(d.get("data") or {}),
        inputs=RunInputs(
            dataset_inputs=[dataset_input_from_json(x) for x in inputs.get("dataset_inputs") or ()],
            model_inputs=[x["model_id"] for x in inputs.get("model_inputs") or ()],
        ),
        outputs=RunOutputs(
            model_outputs=[
                ModelOutput(model_id=x["model_id"], step=int(x.get("step", 0) or 0))
                for x in outputs.get("model_outputs") or ()
            ]
        ),
    )


# -------------------------------------------------------------------------------------- logged model
def logged_model_to_json(model: LoggedModel) -> dict[str, Any]:
    info = _compact(
        {
            "model_id": model.model_id,
            "experiment_id": model.experiment_id,
            "name": model.name,
            "creation_timestamp_ms": model.creation_timestamp,
            "last_updated_timestamp_ms": model.last_updated_timestamp,
            "artifact_uri": model.artifact_location,
            "status": model.status,
            "creator_id": model.creator_id,
            "model_type": model.model_type,
            "source_run_id": model.source_run_id,
            "status_message": model.status_message,
            "tags": _kv_list(model.tags),
        }
    )
    data = _compact(
        {
            "params": _kv_list(model.params),
            "metrics": [metric_to_json(m, with_run_id=True) for m in model.metrics],
        }
    )
    return {"info": info, "data": data}


def logged_model_from_json(d: Mapping[str, Any]) -> LoggedModel:
    info = d.get("info") or {}
    data = d.get("data") or {}
    return LoggedModel(
        model_id=info["model_id"],
        experiment_id=str(info.get("experiment_id", "")),
        name=info.get("name", ""),
        artifact_location=info.get("artifact_uri", ""),
        creation_timestamp=int(info.get("creation_timestamp_ms", 0) or 0),
        last_updated_timestamp=int(info.get("last_updated_timestamp_ms", 0) or 0),
        status=info.get("status", "LOGGED_MODEL_PENDING"),
        model_type=info.get("model_type"),
        source_run_id=info.get("source_run_id"),
        status_message=info.get("status_message"),
        creator_id=info.get("creator_id"),
        tags=_kv_dict(info.get("tags")),
        params=_kv_dict(data.get("params")),
        metrics=[metric_from_json(m) for m in data.get("metrics") or ()],
    )


# ----------------------------------------------------------------------------------------- file info
def file_info_to_json(f: FileInfo) -> dict[str, Any]:
    out: dict[str, Any] = {"path": f.path, "is_dir": f.is_dir}
    if not f.is_dir and f.file_size is not None:
        out["file_size"] = f.file_size
    return out


def file_info_from_json(d: Mapping[str, Any]) -> FileInfo:
    size = d.get("file_size")
    return FileInfo(
        path=d["path"], is_dir=bool(d.get("is_dir", False)), file_size=int(size) if size is not None else None
    )
