"""A Bakehouse server as the destination: its transfer endpoints keep every id (MLflow's API cannot)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bakehouse.entities.transfer import (
    DatasetRecord,
    ExperimentRecord,
    InputRecord,
    LoggedModelRecord,
    MetricPoint,
    MetricSummary,
    ModelVersionRecord,
    RegisteredModelRecord,
    RunRecord,
    TransferBatch,
)
from bakehouse.store.artifacts import ArtifactRepository, get_artifact_repository
from bakehouse.store.tracking.sql.connection import append_to_uri
from bakehouse.store.transfer.state import DestinationState, StateQuery
from bakehouse.wire import transfer as w
from bakehouse.wire.transport import HttpTransport

_API = "/api/2.0"


class _State(BaseModel):
    """The transfer-state answer, parsed into the records (the server sends them as plain JSON)."""

    model_config = ConfigDict(extra="ignore")
    experiments: dict[str, ExperimentRecord] = Field(default_factory=dict)
    experiment_names: dict[str, str] = Field(default_factory=dict)
    runs: dict[str, RunRecord] = Field(default_factory=dict)
    metric_summaries: dict[str, dict[str, MetricSummary]] = Field(default_factory=dict)
    datasets: list[DatasetRecord] = Field(default_factory=list)
    inputs: list[InputRecord] = Field(default_factory=list)
    logged_models: dict[str, LoggedModelRecord] = Field(default_factory=dict)
    registered_models: dict[str, RegisteredModelRecord] = Field(default_factory=dict)
    model_versions: list[ModelVersionRecord] = Field(default_factory=list)
    default_artifact_root: str = ""


class ServerDestination:
    max_batch_points = w.MAX_POINTS_PER_REQUEST

    def __init__(self, url: str, description: str) -> None:
        self.url = url.rstrip("/")
        self.description = description
        self.transport = HttpTransport(self.url)
        self.default_artifact_root = ""

    def close(self) -> None:
        self.transport.close()

    def _post(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        row = next(e for e in w.ENDPOINTS if e.name == endpoint)
        return self.transport.call("POST", _API + row.path, body, timeout=600, idempotent=row.safe_to_repeat)

    def state(self, query: StateQuery) -> DestinationState:
        out = DestinationState()
        names = [f.name for f in fields(StateQuery)]
        size = w.MAX_IDS_PER_REQUEST
        longest = max(len(getattr(query, n)) for n in names)
        for start in range(0, max(longest, 1), size):
            body = {n: getattr(query, n)[start : start + size] for n in names}
            part = _State.model_validate(self._post("TransferState", body))
            self.default_artifact_root = part.default_artifact_root
            out.experiments.update(part.experiments)
            out.experiment_names.update(part.experiment_names)
            out.runs.update(part.runs)
            out.metric_summaries.update(part.metric_summaries)
            out.datasets.extend(d for d in part.datasets if d not in out.datasets)
            out.inputs.extend(i for i in part.inputs if i not in out.inputs)
            out.logged_models.update(part.logged_models)
            out.registered_models.update(part.registered_models)
            out.model_versions.update({(v.name, v.version): v for v in part.model_versions})
        return out

    def experiment_location(self, experiment_id: str) -> str:
        if not self.default_artifact_root:
            self.state(StateQuery())
        return append_to_uri(self.default_artifact_root, experiment_id)

    def write(self, batch: TransferBatch) -> list[str]:
        """One request, or several when the points exceed a request's limit: each key's points go in order of
        (step, timestamp, value), so its latest point arrives last and only a complete history looks complete."""
        points = sum(len(p) for p in batch.metrics.values())
        if points <= self.max_batch_points:
            return self._write_one(batch)
        chunks: list[dict[str, list[MetricPoint]]] = [{}]
        size = 0
        for run_id, run_points in batch.metrics.items():
            ordered = sorted(run_points, key=lambda p: (p[0], p[3], p[2], 0.0 if p[1] != p[1] else p[1]))
            for start in range(0, len(ordered), self.max_batch_points):
                piece = ordered[start : start + self.max_batch_points]
                if size + len(piece) > self.max_batch_points and chunks[-1]:
                    chunks.append({})
                    size = 0
                chunks[-1].setdefault(run_id, []).extend(piece)
                size += len(piece)
        head = TransferBatch(
            experiments=batch.experiments, new_experiments=batch.new_experiments, runs=batch.runs
        )
        new_ids = self._write_one(head)
        for chunk in chunks:
            self._write_one(TransferBatch(metrics=chunk))
        rest = TransferBatch(
            datasets=batch.datasets,
            inputs=batch.inputs,
            logged_models=batch.logged_models,
            registered_models=batch.registered_models,
            model_versions=batch.model_versions,
        )
        self._write_one(rest)
        return new_ids

    def _write_one(self, batch: TransferBatch) -> list[str]:
        out = self._post("TransferWrite", w.to_wire(batch))
        return [str(i) for i in out.get("new_experiment_ids") or []]

    def metric_points(self, run_ids: Sequence[str]) -> dict[str, list[MetricPoint]]:
        result: dict[str, list[MetricPoint]] = {}
        for start in range(0, len(run_ids), 20):
            out = self._post("TransferMetricPoints", {"run_ids": list(run_ids[start : start + 20])})
            for run_id, points in (out.get("metrics") or {}).items():
                result[run_id] = [(k, _float(v), int(t), int(s)) for k, v, t, s in points]
        return result

    def artifact_repository(self, artifact_uri: str) -> ArtifactRepository:
        return get_artifact_repository(artifact_uri, tracking_uri=self.url)


def _float(value: Any) -> float:
    if isinstance(value, str):
        return float(value.replace("Infinity", "inf"))
    return float(value)
