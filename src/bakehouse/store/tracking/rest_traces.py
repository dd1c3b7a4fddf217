"""The trace half of the REST tracking store: MLflow's trace API, against Bakehouse's server or MLflow's.

Spans go out as one OTLP protobuf request per batch (``POST /v1/traces``), exactly as MLflow's client
sends them, so an MLflow server (3.4 or later) keeps them in its tracking store too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bakehouse.entities.trace import Assessment, Span, Trace, TraceInfo
from bakehouse.wire.trace_json import (
    assessment_from_json,
    assessment_to_json,
    trace_from_json,
    trace_info_from_json,
    trace_info_to_json,
)
from bakehouse.wire.tracing import BY_NAME
from bakehouse.wire.transport import HttpTransport, quote_path


class RestTracesMixin:
    transport: HttpTransport

    def _trace_call(self, rpc: str, body: dict[str, Any] | None = None, **path_params: str) -> dict[str, Any]:
        endpoint = BY_NAME[rpc]
        path = endpoint.path
        for name, value in path_params.items():
            path = path.replace("{" + name + "}", quote_path(value).replace("/", "%2F"))
        body = {k: v for k, v in (body or {}).items() if v is not None}
        return self.transport.call(
            endpoint.method, f"/api/{endpoint.version}{path}", body, idempotent=endpoint.safe_to_repeat
        )

    def start_trace(self, info: TraceInfo) -> TraceInfo:
        out = self._trace_call("StartTraceV3", {"trace": {"trace_info": trace_info_to_json(info)}})
        return trace_info_from_json(out["trace"]["trace_info"])

    def log_spans(self, experiment_id: str, spans: Sequence[Span], run_id: str | None = None) -> int:
        if not spans:
            return 0
        # imported here: protobuf and the OTLP classes cost ~100 ms, which a client that never logs spans
        # (a script that searches runs) should not pay when it is created
        from bakehouse.wire import otlp

        headers = {"Content-Type": otlp.PROTOBUF, otlp.EXPERIMENT_ID_HEADER: str(experiment_id)}
        if run_id:
            headers[otlp.RUN_ID_HEADER] = run_id
        self.transport.send(
            "POST", otlp.OTLP_TRACES_PATH, content=otlp.encode_export_request(spans), headers=headers
        ).close()
        return len(spans)

    def get_trace_info(self, trace_id: str) -> TraceInfo:
        out = self._trace_call("GetTraceInfoV3", trace_id=trace_id)
        return trace_info_from_json(out["trace"]["trace_info"])

    def get_trace(self, trace_id: str, allow_partial: bool = False) -> Trace:
        out = self._trace_call("GetTrace", {"trace_id": trace_id, "allow_partial": allow_partial})
        return trace_from_json(out["trace"])

    def batch_get_traces(
        self, trace_ids: Sequence[str], experiment_ids: Sequence[str] | None = None
    ) -> list[Trace]:
        body: dict[str, Any] = {"trace_ids": list(trace_ids)}
        if experiment_ids is not None:
            body["experiment_ids"] = list(experiment_ids)
        return [trace_from_json(t) for t in self._trace_call("BatchGetTraces", body).get("traces", [])]

    def batch_get_trace_infos(
        self, trace_ids: Sequence[str], experiment_ids: Sequence[str] | None = None
    ) -> list[TraceInfo]:
        body: dict[str, Any] = {"trace_ids": list(trace_ids)}
        if experiment_ids is not None:
            body["experiment_ids"] = list(experiment_ids)
        out = self._trace_call("BatchGetTraceInfos", body)
        return [trace_info_from_json(t) for t in out.get("trace_infos", [])]

    def search_traces(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = 100,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[TraceInfo], str | None]:
        body = {
            "locations": [
                {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": str(e)}}
                for e in experiment_ids
            ],
            "filter": filter_string or None,
            "max_results": max_results,
            "order_by": list(order_by or []),
            "page_token": page_token,
        }
        out = self._trace_call("SearchTracesV3", body)
        return [trace_info_from_json(t) for t in out.get("traces", [])], out.get("next_page_token") or None

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        self._trace_call("SetTraceTag", {"key": key, "value": value}, request_id=trace_id)

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        self._trace_call("DeleteTraceTag", {"key": key}, request_id=trace_id)

    def delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int:
        body = {
            "experiment_id": str(experiment_id),
            "max_timestamp_millis": max_timestamp_millis,
            "max_traces": max_traces,
            "request_ids": list(trace_ids) if trace_ids else None,
        }
        return int(self._trace_call("DeleteTraces", body).get("traces_deleted", 0))

    def link_traces_to_run(self, trace_ids: Sequence[str], run_id: str) -> None:
        self._trace_call("LinkTracesToRun", {"trace_ids": list(trace_ids), "run_id": run_id})

    def create_assessment(self, assessment: Assessment) -> Assessment:
        body = assessment_to_json(assessment)
        body.pop("assessment_id", None)
        out = self._trace_call("CreateAssessment", {"assessment": body}, trace_id=assessment.trace_id)
        return assessment_from_json(out["assessment"])

    def get_assessment(self, trace_id: str, assessment_id: str) -> Assessment:
        out = self._trace_call("GetAssessment", trace_id=trace_id, assessment_id=assessment_id)
        return assessment_from_json(out["assessment"])

    def update_assessment(
        self,
        trace_id: str,
        assessment_id: str,
        name: str | None = None,
        kind: str | None = None,
        payload: dict[str, Any] | None = None,
        value: Any = None,
        rationale: str | None = None,
        metadata: dict[str, str] | None = None,
        valid: bool | None = None,
    ) -> Assessment:
        body: dict[str, Any] = {"assessment_id": assessment_id, "trace_id": trace_id}
        paths: list[str] = []
        if name is not None:
            body["assessment_name"], paths = name, [*paths, "assessmentName"]
        if payload is not None and kind:
            body[kind], paths = payload, [*paths, kind]
        if rationale is not None:
            body["rationale"], paths = rationale, [*paths, "rationale"]
        if metadata is not None:
            body["metadata"], paths = metadata, [*paths, "metadata"]
        if valid is not None:
            body["valid"], paths = valid, [*paths, "valid"]
        out = self._trace_call(
            "UpdateAssessment",
            {"assessment": body, "update_mask": ",".join(paths)},
            trace_id=trace_id,
            assessment_id=assessment_id,
        )
        return assessment_from_json(out["assessment"])

    def delete_assessment(self, trace_id: str, assessment_id: str) -> None:
        self._trace_call("DeleteAssessment", trace_id=trace_id, assessment_id=assessment_id)
