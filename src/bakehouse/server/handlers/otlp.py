"""``POST /v1/traces``: OpenTelemetry span export (OTLP/HTTP, protobuf or JSON) into the tracking store.

MLflow's client sends every finished span here (with ``x-mlflow-experiment-id``) when the server reports
version 3.4 or later; any OTel SDK's OTLP exporter can point here too. A request is stored whole or not
at all; the answer is an empty ``ExportTraceServiceResponse`` in the request's encoding.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from bakehouse.errors import InvalidParameterError
from bakehouse.server.context import RequestContext
from bakehouse.server.inline import run_short_call
from bakehouse.server.routing import read_body
from bakehouse.wire import otlp

#: a request with at most this many spans (a trace or two: ~2 ms of work for 50) may be stored on the
#: event loop (``server.inline``); bigger batches always go to a worker thread
INLINE_MAX_SPANS = 200


async def export_traces(ctx: RequestContext, request: Request) -> Response:
    experiment_id = request.headers.get(otlp.EXPERIMENT_ID_HEADER)
    if not experiment_id:
        raise InvalidParameterError(f"Missing the {otlp.EXPERIMENT_ID_HEADER} header naming the experiment")
    run_id = request.headers.get(otlp.RUN_ID_HEADER) or None
    body = await read_body(request, request.app.state.config.max_json_body_bytes)
    content_type = request.headers.get("content-type")
    parsed = otlp.parse_export_request(body, content_type, request.headers.get("content-encoding"))
    spans, _resource = otlp.spans_from_request(parsed)
    if len(spans) > INLINE_MAX_SPANS:
        await run_in_threadpool(ctx.tracking_store.log_spans, experiment_id, spans, run_id)
    elif spans:
        await run_short_call(ctx.tracking_store, ctx.tracking_store.log_spans, experiment_id, spans, run_id)
    if (content_type or "").split(";", 1)[0].strip().lower() == otlp.JSON:
        return Response(b"{}", media_type=otlp.JSON)
    return Response(otlp.export_response(), media_type=otlp.PROTOBUF)
