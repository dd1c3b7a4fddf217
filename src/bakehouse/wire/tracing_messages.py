"""Tracing messages (MLflow 3's trace service); their rows are in ``bakehouse.wire.tracing``.

Paths, methods and field names are those MLflow's client 3.17 calls: the v3 trace API under
``/api/3.0/mlflow/traces``, the tag, delete and link calls it still makes under ``/api/2.0``, and
OpenTelemetry's span export at ``/v1/traces`` (the header ``x-mlflow-experiment-id`` names the
experiment). Message bodies that carry whole traces or assessments are kept as dicts here and read by
:mod:`bakehouse.wire.trace_json`, which knows their protobuf-JSON forms.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from bakehouse.wire.messages import Id, Int64, Text, WireModel

#: MLflow refuses more than this many traces per search page.
SEARCH_TRACES_MAX_RESULTS = 500
SEARCH_TRACES_DEFAULT_MAX_RESULTS = 100


class StartTrace(WireModel):
    trace: dict[str, Any]


class GetTraceInfo(WireModel):
    trace_id: Text


class GetTrace(WireModel):
    trace_id: Text
    allow_partial: bool = False


class BatchGetTraces(WireModel):
    trace_ids: list[Text] = Field(default_factory=list)
    experiment_ids: list[Id] | None = None


class ExperimentLocationMessage(WireModel):
    # a string in MLflow's protocol: ``"experiment_id": 13`` is refused like everywhere else
    experiment_id: Id | None = None


class TraceLocationMessage(WireModel):
    type: Text | None = None
    mlflow_experiment: ExperimentLocationMessage | None = None


class SearchTraces(WireModel):
    locations: list[TraceLocationMessage] = Field(default_factory=list)
    experiment_ids: list[Id] = Field(default_factory=list)  # the v2 spelling, accepted too
    filter: Text | None = None
    max_results: Int64 = SEARCH_TRACES_DEFAULT_MAX_RESULTS
    order_by: list[Text] = Field(default_factory=list)
    page_token: str | None = None

    def experiment_id_list(self) -> list[str]:
        ids = [str(e) for e in self.experiment_ids]
        for location in self.locations:
            experiment = location.mlflow_experiment
            if experiment is not None and experiment.experiment_id:
                ids.append(experiment.experiment_id)
        return ids


class SetTraceTag(WireModel):
    trace_id: Text | None = None
    request_id: Text | None = None  # the v2 path's name for the same id
    key: Text
    value: Text = ""

    def resolved_trace_id(self) -> str:
        return self.trace_id or self.request_id or ""


class DeleteTraceTag(WireModel):
    trace_id: Text | None = None
    request_id: Text | None = None
    key: Text

    def resolved_trace_id(self) -> str:
        return self.trace_id or self.request_id or ""


class DeleteTraces(WireModel):
    experiment_id: Id
    max_timestamp_millis: Int64 | None = None
    max_traces: Int64 | None = None
    request_ids: list[Text] = Field(default_factory=list)


class LinkTracesToRun(WireModel):
    trace_ids: list[Text] = Field(default_factory=list)
    run_id: Id


class CreateAssessment(WireModel):
    trace_id: Text
    assessment: dict[str, Any]


class AssessmentRef(WireModel):
    trace_id: Text
    assessment_id: Text


class UpdateAssessment(AssessmentRef):
    assessment: dict[str, Any] = Field(default_factory=dict)
    update_mask: str | dict[str, Any] | None = None

    def mask_paths(self) -> list[str]:
        """A FieldMask as protobuf JSON (``"assessmentName,feedback"``) or as ``{"paths": [...]}``."""
        raw = self.update_mask
        if isinstance(raw, dict):
            paths = [str(p) for p in raw.get("paths") or []]
        elif isinstance(raw, str):
            paths = [p for p in raw.split(",") if p]
        else:
            paths = []
        return ["".join("_" + c.lower() if c.isupper() else c for c in p.strip()) for p in paths]
