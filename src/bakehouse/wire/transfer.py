"""Bakehouse's transfer endpoints: what a migration or a sync into a Bakehouse server sends (beyond MLflow's API).

MLflow's REST API has no way to create a run, an experiment or a logged model under a given id; these three
endpoints do, so ``bakehouse migrate --to http://...`` and ``bakehouse sync`` keep every id. They take the
records of :mod:`bakehouse.entities.transfer` as JSON (non-finite floats as ``"NaN"``, ``"Infinity"``,
``"-Infinity"``) and need an administrator when the server has ``--auth``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from pydantic import Field

from bakehouse.entities.transfer import (
    DatasetRecord,
    ExperimentRecord,
    InputRecord,
    LoggedModelRecord,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
)
from bakehouse.wire.endpoints import Endpoint
from bakehouse.wire.messages import Text, WireModel

#: most points one write request may carry (keeps a request well under the server's body limit)
MAX_POINTS_PER_REQUEST = 50_000
MAX_IDS_PER_REQUEST = 5_000


class TransferState(WireModel):
    experiment_ids: list[Text] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)
    experiment_names: list[Text] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)
    run_ids: list[Text] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)
    logged_model_ids: list[Text] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)
    registered_model_names: list[Text] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)


class TransferWrite(WireModel):
    experiments: list[ExperimentRecord] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)
    new_experiments: list[ExperimentRecord] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)
    runs: list[RunRecord] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)
    #: run id -> [[key, value, timestamp, step], ...]
    metrics: dict[str, list[tuple[str, float, int, int]]] = Field(default_factory=dict)
    datasets: list[DatasetRecord] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)
    inputs: list[InputRecord] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)
    logged_models: list[LoggedModelRecord] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)
    registered_models: list[RegisteredModelRecord] = Field(
        default_factory=list, max_length=MAX_IDS_PER_REQUEST
    )
    model_versions: list[ModelVersionRecord] = Field(default_factory=list, max_length=MAX_IDS_PER_REQUEST)


class TransferMetricPoints(WireModel):
    run_ids: list[Text] = Field(default_factory=list, max_length=1000)


def to_wire(value: Any) -> Any:
    """Records (dataclasses, tuples, dicts) as JSON-ready values; non-finite floats as proto-JSON strings."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_wire(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    return value


def _row(name: str, path: str, fn: str, request: Any, summary: str, *, reads: bool = False) -> Endpoint:
    return Endpoint(
        name=name,
        method="POST",
        path=path,
        handler=f"transfer:{fn}",
        request=request,
        permission=("admin", "manage"),
        summary=summary,
        idempotent=reads,  # the reads are safe to send again after a 502/504; writes are not retried then
    )


ENDPOINTS: list[Endpoint] = [
    _row(
        "TransferState",
        "/bakehouse/transfer/state",
        "transfer_state",
        TransferState,
        "What exists of the given experiments, runs, logged models and registered models (migrate, sync)",
        reads=True,
    ),
    _row(
        "TransferWrite",
        "/bakehouse/transfer/write",
        "transfer_write",
        TransferWrite,
        "Write experiments, runs, metric points, datasets, logged models and registry objects with their ids",
    ),
    _row(
        "TransferMetricPoints",
        "/bakehouse/transfer/metric-points",
        "transfer_metric_points",
        TransferMetricPoints,
        "Every metric point of the given runs (verification after a migration)",
        reads=True,
    ),
]
