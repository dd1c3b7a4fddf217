"""Trace RPCs: parse, call the tracking store, answer in MLflow's protobuf JSON (``wire.trace_json``)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from bakehouse.errors import InvalidParameterError
from bakehouse.server.context import RequestContext
from bakehouse.wire import tracing_messages as w
from bakehouse.wire.trace_json import (
    assessment_from_json,
    assessment_to_json,
    payload_value,
    trace_info_from_json,
    trace_info_to_json,
    trace_to_json,
)


def start_trace(ctx: RequestContext, req: w.StartTrace) -> dict[str, Any]:
    info = trace_info_from_json((req.trace or {}).get("trace_info"))
    stored = ctx.tracking_store.start_trace(info)
    return {"trace": {"trace_info": trace_info_to_json(stored)}}


def get_trace_info(ctx: RequestContext, req: w.GetTraceInfo) -> dict[str, Any]:
    return {"trace": {"trace_info": trace_info_to_json(ctx.tracking_store.get_trace_info(req.trace_id))}}


def get_trace(ctx: RequestContext, req: w.GetTrace) -> dict[str, Any]:
    return {
        "trace": trace_to_json(ctx.tracking_store.get_trace(req.trace_id, allow_partial=req.allow_partial))
    }


def batch_get_traces(ctx: RequestContext, req: w.BatchGetTraces) -> dict[str, Any]:
    traces = ctx.tracking_store.batch_get_traces(req.trace_ids, req.experiment_ids)
    return {"traces": [trace_to_json(t) for t in traces]}


def batch_get_trace_infos(ctx: RequestContext, req: w.BatchGetTraces) -> dict[str, Any]:
    infos = ctx.tracking_store.batch_get_trace_infos(req.trace_ids, req.experiment_ids)
    return {"trace_infos": [trace_info_to_json(i) for i in infos]}


def search_traces(ctx: RequestContext, req: w.SearchTraces) -> dict[str, Any] | Response:
    ids = req.experiment_id_list()
    if not ids:
        raise InvalidParameterError("Missing value for required parameter 'locations'.")
    if int(req.max_results) > w.SEARCH_TRACES_MAX_RESULTS:
        raise InvalidParameterError(
            f"Invalid value {req.max_results} for parameter 'max_results': it must be at most "
            f"{w.SEARCH_TRACES_MAX_RESULTS}"
        )
    fast = getattr(ctx.tracking_store, "search_traces_json", None)
    if fast is not None:  # the SQL store keeps each trace's answer ready: splice the documents
        documents, token = fast(ids, req.filter, int(req.max_results), req.order_by, req.page_token or None)
        body = '{"traces":[' + ",".join(documents) + "]"
        if token:
            body += ',"next_page_token":' + orjson.dumps(token).decode("ascii")
        return Response(body + "}", media_type="application/json")
    infos, token = ctx.tracking_store.search_traces(
        ids, req.filter, req.max_results, req.order_by, req.page_token or None
    )
    out: dict[str, Any] = {"traces": [trace_info_to_json(i) for i in infos]}
    if token:
        out["next_page_token"] = token
    return out


def delete_traces(ctx: RequestContext, req: w.DeleteTraces) -> dict[str, Any]:
    count = ctx.tracking_store.delete_traces(
        req.experiment_id, req.max_timestamp_millis, req.max_traces, req.request_ids or None
    )
    return {"traces_deleted": count}


def set_trace_tag(ctx: RequestContext, req: w.SetTraceTag) -> dict[str, Any]:
    ctx.tracking_store.set_trace_tag(req.resolved_trace_id(), req.key, req.value)
    return {}


def delete_trace_tag(ctx: RequestContext, req: w.DeleteTraceTag) -> dict[str, Any]:
    ctx.tracking_store.delete_trace_tag(req.resolved_trace_id(), req.key)
    return {}


def link_traces_to_run(ctx: RequestContext, req: w.LinkTracesToRun) -> dict[str, Any]:
    ctx.tracking_store.link_traces_to_run(req.trace_ids, req.run_id)
    return {}


def create_assessment(ctx: RequestContext, req: w.CreateAssessment) -> dict[str, Any]:
    assessment = assessment_from_json(req.assessment, req.trace_id)
    assessment.assessment_id = ""  # the store assigns ids
    return {"assessment": assessment_to_json(ctx.tracking_store.create_assessment(assessment))}


def get_assessment(ctx: RequestContext, req: w.AssessmentRef) -> dict[str, Any]:
    return {
        "assessment": assessment_to_json(ctx.tracking_store.get_assessment(req.trace_id, req.assessment_id))
    }


def update_assessment(ctx: RequestContext, req: w.UpdateAssessment) -> dict[str, Any]:
    body = req.assessment or {}
    changes: dict[str, Any] = {}
    for path in req.mask_paths():
        if path == "assessment_name":
            changes["name"] = body.get("assessment_name")
        elif path in ("feedback", "expectation"):
            payload = body.get(path)
            if not isinstance(payload, dict):
                raise InvalidParameterError(f"The update mask names {path!r} but the assessment has none")
            changes.update(kind=path, payload=payload, value=payload_value(path, payload))
        elif path == "rationale":
            changes["rationale"] = body.get("rationale", "")
        elif path == "metadata":
            changes["metadata"] = {str(k): str(v) for k, v in (body.get("metadata") or {}).items()}
        elif path == "valid":
            changes["valid"] = bool(body.get("valid"))
        else:
            raise InvalidParameterError(f"Cannot update the assessment field {path!r}")
    updated = ctx.tracking_store.update_assessment(req.trace_id, req.assessment_id, **changes)
    return {"assessment": assessment_to_json(updated)}


def delete_assessment(ctx: RequestContext, req: w.AssessmentRef) -> dict[str, Any]:
    ctx.tracking_store.delete_assessment(req.trace_id, req.assessment_id)
    return {}
