"""How a span's attributes, events and status message are kept in the ``spans.content`` JSON column.

orjson writes a non-finite float as ``null``; such values (rare in span attributes) are wrapped as
``{"$double": "NaN"}`` before writing and unwrapped after reading, so NaN and infinities round-trip
exactly while the common case pays one substring test.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from bakehouse.entities.trace import Span, SpanEvent, SpanStatusCode

_MARKER = "$double"
_MARKER_BYTES = b'"$double"'


def _wrap_nonfinite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return {_MARKER: "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, dict):
        return {k: _wrap_nonfinite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wrap_nonfinite(v) for v in value]
    return value


def _unwrap_nonfinite(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and _MARKER in value:
            return float(value[_MARKER].replace("Infinity", "inf"))
        return {k: _unwrap_nonfinite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_nonfinite(v) for v in value]
    return value


def encode_content(span: Span) -> str:
    content: dict[str, Any] = {"attributes": span.attributes}
    if span.events:
        content["events"] = [
            {"name": e.name, "time_unix_nano": e.time_unix_nano, "attributes": e.attributes}
            for e in span.events
        ]
    if span.status_message:
        content["status_message"] = span.status_message
    encoded = orjson.dumps(content)
    if b"null" in encoded:  # maybe a NaN or an infinity turned into null: write them exactly
        encoded = orjson.dumps(_wrap_nonfinite(content))
    return encoded.decode("utf-8")


def decode_span(
    trace_id: str,
    span_id: str,
    parent_span_id: str | None,
    name: str | None,
    status: str,
    start: int,
    end: int | None,
    content: str,
) -> Span:
    raw = content.encode("utf-8")
    data = orjson.loads(raw)
    if _MARKER_BYTES in raw:
        data = _unwrap_nonfinite(data)
    return Span(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        name=name or "",
        start_time_unix_nano=int(start),
        end_time_unix_nano=int(end) if end is not None else None,
        status_code=status if status in (SpanStatusCode.OK, SpanStatusCode.ERROR) else SpanStatusCode.UNSET,
        status_message=data.get("status_message", ""),
        attributes=data.get("attributes") or {},
        events=[
            SpanEvent(e.get("name", ""), int(e.get("time_unix_nano") or 0), e.get("attributes") or {})
            for e in data.get("events") or []
        ],
    )
