"""The tracing endpoints: one row each (name, path, handler, permission, flags).

The request messages live in ``bakehouse.wire.tracing_messages`` and are named here as strings,
resolved on first use (``Endpoint.request_model``): the REST client reads paths and flags without
importing pydantic.
"""

from __future__ import annotations

from typing import Any

from bakehouse.wire.endpoints import Endpoint

M = "bakehouse.wire.tracing_messages:"  # prefix of a lazy message reference


# ------------------------------------------------------------------------------------------ the table
def _row(
    name: str,
    method: str,
    path: str,
    fn: str,
    request: Any,
    permission: tuple[str | None, str],
    version: str = "3.0",
    **kw: Any,
) -> Endpoint:
    return Endpoint(
        name=name,
        method=method,
        path=path,
        handler=f"tracing:{fn}",
        request=request,
        permission=permission,
        version=version,
        **kw,
    )


_TRACE_R = ("trace", "read")
_TRACE_U = ("trace", "update")
_EXP_U = ("experiment", "update")
_EXP_D = ("experiment", "delete")

# Order matters where paths overlap: /traces/get and /traces/batchGet before /traces/{trace_id}.
ENDPOINTS: list[Endpoint] = [
    _row(
        "StartTraceV3",
        "POST",
        "/mlflow/traces",
        "start_trace",
        M + "StartTrace",
        ("trace_start", "update"),
        inline=True,
    ),
    _row("GetTrace", "GET", "/mlflow/traces/get", "get_trace", M + "GetTrace", _TRACE_R, inline=True),
    _row(
        "BatchGetTraces", "GET", "/mlflow/traces/batchGet", "batch_get_traces", M + "BatchGetTraces", _TRACE_R
    ),
    _row(
        "BatchGetTraceInfos",
        "POST",
        "/mlflow/traces/batchGetInfos",
        "batch_get_trace_infos",
        M + "BatchGetTraces",
        _TRACE_R,
        idempotent=True,
    ),
    _row(
        "SearchTracesV3",
        "POST",
        "/mlflow/traces/search",
        "search_traces",
        M + "SearchTraces",
        (None, "read"),
        idempotent=True,
        inline=True,
    ),
    _row(
        "DeleteTracesV3", "POST", "/mlflow/traces/delete-traces", "delete_traces", M + "DeleteTraces", _EXP_D
    ),
    _row(
        "GetTraceInfoV3",
        "GET",
        "/mlflow/traces/{trace_id}",
        "get_trace_info",
        M + "GetTraceInfo",
        _TRACE_R,
        inline=True,
    ),
    _row(
        "SetTraceTagV3",
        "PATCH",
        "/mlflow/traces/{trace_id}/tags",
        "set_trace_tag",
        M + "SetTraceTag",
        _TRACE_U,
        idempotent=True,
    ),
    _row(
        "DeleteTraceTagV3",
        "DELETE",
        "/mlflow/traces/{trace_id}/tags",
        "delete_trace_tag",
        M + "DeleteTraceTag",
        _TRACE_U,
    ),
    _row(
        "CreateAssessment",
        "POST",
        "/mlflow/traces/{trace_id}/assessments",
        "create_assessment",
        M + "CreateAssessment",
        _TRACE_U,
    ),
    _row(
        "GetAssessment",
        "GET",
        "/mlflow/traces/{trace_id}/assessments/{assessment_id}",
        "get_assessment",
        M + "AssessmentRef",
        _TRACE_R,
    ),
    _row(
        "UpdateAssessment",
        "PATCH",
        "/mlflow/traces/{trace_id}/assessments/{assessment_id}",
        "update_assessment",
        M + "UpdateAssessment",
        _TRACE_U,
    ),
    _row(
        "DeleteAssessment",
        "DELETE",
        "/mlflow/traces/{trace_id}/assessments/{assessment_id}",
        "delete_assessment",
        M + "AssessmentRef",
        _TRACE_U,
    ),
    # the calls MLflow's client still makes on the 2.0 API
    _row(
        "SetTraceTag",
        "PATCH",
        "/mlflow/traces/{request_id}/tags",
        "set_trace_tag",
        M + "SetTraceTag",
        _TRACE_U,
        version="2.0",
        idempotent=True,
    ),
    _row(
        "DeleteTraceTag",
        "DELETE",
        "/mlflow/traces/{request_id}/tags",
        "delete_trace_tag",
        M + "DeleteTraceTag",
        _TRACE_U,
        version="2.0",
    ),
    _row(
        "DeleteTraces",
        "POST",
        "/mlflow/traces/delete-traces",
        "delete_traces",
        M + "DeleteTraces",
        _EXP_D,
        version="2.0",
    ),
    _row(
        "LinkTracesToRun",
        "POST",
        "/mlflow/traces/link-to-run",
        "link_traces_to_run",
        M + "LinkTracesToRun",
        ("run", "update"),
        version="2.0",
    ),
    # OpenTelemetry span export (protobuf or JSON body); the experiment comes in a header
    Endpoint(
        name="ExportTraces",
        method="POST",
        path="/v1/traces",
        handler="otlp:export_traces",
        raw=True,
        root=True,
        permission=("experiment_header", "update"),
        summary="OTLP/HTTP span export (application/x-protobuf or application/json)",
    ),
]

#: rows by RPC name, for the REST store
BY_NAME: dict[str, Endpoint] = {e.name: e for e in ENDPOINTS}
