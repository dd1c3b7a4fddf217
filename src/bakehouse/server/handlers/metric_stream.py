"""``GET /bakehouse/metrics/get-history-stream``: a whole metric history as fixed-width binary records.

The JSON ``get-history`` pages stay for MLflow's clients; this route is what Bakehouse's client reads to
iterate a long history (``Client.iter_metric_history``) without the server or the client holding it:
the store reads the database in chunks on one thread, at most a few chunks ahead of the socket.
"""

from __future__ import annotations

from collections.abc import Iterator

import anyio.to_thread
import numpy as np
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bakehouse.errors import InvalidParameterError, NotImplementedFeatureError
from bakehouse.server.context import RequestContext
from bakehouse.server.handlers.artifacts import read_ahead
from bakehouse.store.tracking.base import MetricHistoryArrays
from bakehouse.wire.metric_stream import LAYOUT, LAYOUT_HEADER, MEDIA_TYPE

#: chunks read ahead of the socket (each at most 1.5 MiB): the server's memory per stream
READ_AHEAD_CHUNKS = 4


async def get_metric_history_stream(ctx: RequestContext, request: Request) -> Response:
    run_id = request.query_params.get("run_id") or request.query_params.get("run_uuid")
    key = request.query_params.get("metric_key")
    if not run_id:
        raise InvalidParameterError("Missing value for required parameter 'run_id'.")
    if not key:
        raise InvalidParameterError("Missing value for required parameter 'metric_key'.")
    store = ctx.tracking_store
    if not isinstance(store, MetricHistoryArrays):
        raise NotImplementedFeatureError("This server's tracking store cannot stream a metric history.")
    chunks = await anyio.to_thread.run_sync(store.iter_metric_history_arrays, run_id, key)
    return StreamingResponse(
        read_ahead(_as_bytes(chunks), depth=READ_AHEAD_CHUNKS),
        media_type=MEDIA_TYPE,
        headers={LAYOUT_HEADER: LAYOUT},
    )


def _as_bytes(chunks: Iterator[np.ndarray]) -> Iterator[bytes]:
    try:
        for chunk in chunks:
            yield chunk.tobytes()
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()
