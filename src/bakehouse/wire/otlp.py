"""OpenTelemetry's span export (OTLP over HTTP, ``POST /v1/traces``) <-> :class:`Span` entities.

Bodies are ``ExportTraceServiceRequest`` messages from the ``opentelemetry-proto`` package, as protobuf
(``application/x-protobuf``, what MLflow's client and the OTel SDK send) or as OTLP JSON
(``application/json``, where ids are hex strings rather than protobuf JSON's base64). Attribute values
travel as ``AnyValue``; they become plain Python values here (bytes as base64 text, since the stored form
is JSON), and turn back into the same ``AnyValue`` kinds on the way out.
"""

from __future__ import annotations

import base64
import gzip
import math
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status as ProtoStatus

from bakehouse.entities.trace import Span, SpanEvent, SpanStatusCode, otel_id_of, trace_id_from_otel
from bakehouse.errors import InvalidParameterError

OTLP_TRACES_PATH = "/v1/traces"
EXPERIMENT_ID_HEADER = "x-mlflow-experiment-id"
RUN_ID_HEADER = "x-mlflow-run-id"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_STATUS_FROM_PROTO = {
    ProtoStatus.STATUS_CODE_OK: SpanStatusCode.OK,
    ProtoStatus.STATUS_CODE_ERROR: SpanStatusCode.ERROR,
}
_STATUS_TO_PROTO = {
    SpanStatusCode.OK: ProtoStatus.STATUS_CODE_OK,
    SpanStatusCode.ERROR: ProtoStatus.STATUS_CODE_ERROR,
    SpanStatusCode.UNSET: ProtoStatus.STATUS_CODE_UNSET,
}
_HEX_ID_FIELDS = ("traceId", "spanId", "parentSpanId")


# ------------------------------------------------------------------------------------- AnyValue
def value_from_any(value: AnyValue) -> Any:
    """An ``AnyValue`` as a plain Python value (unset -> None)."""
    kind = value.WhichOneof("value")  # tested most common first: this runs for every value of every span
    if kind == "string_value":
        return value.string_value
    if kind == "kvlist_value":
        return {kv.key: value_from_any(kv.value) for kv in value.kvlist_value.values}
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        return value.double_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "array_value":
        return [value_from_any(v) for v in value.array_value.values]
    if kind is None:
        return None
    return base64.b64encode(value.bytes_value).decode("ascii")


def attributes_from_proto(attributes: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: value_from_any(kv.value) for kv in attributes}


def set_any(target: AnyValue, value: Any) -> None:
    """Fill ``target`` from a Python value, choosing the AnyValue kind MLflow's client chooses."""
    if value is None:
        return
    if isinstance(value, bool):
        target.bool_value = value
    elif isinstance(value, str):
        target.string_value = value
    elif isinstance(value, int):
        if -(2**63) <= value < 2**63:
            target.int_value = value
        else:
            target.string_value = str(value)
    elif isinstance(value, float):
        target.double_value = value
    elif isinstance(value, (bytes, bytearray)):
        target.bytes_value = bytes(value)
    elif isinstance(value, (list, tuple)):
        array = target.array_value
        array.SetInParent()  # an empty list stays an (empty) array, not an unset value
        for item in value:
            set_any(array.values.add(), item)
    elif isinstance(value, Mapping):
        kvlist = target.kvlist_value
        kvlist.SetInParent()
        for key, item in value.items():
            kv = kvlist.values.add()
            kv.key = str(key)
            set_any(kv.value, item)
    else:
        target.string_value = str(value)


def add_attributes(target: Any, attributes: Mapping[str, Any]) -> None:
    for key, value in attributes.items():
        kv = target.add()
        kv.key = key
        set_any(kv.value, value)


# ------------------------------------------------------------------------------------ decoding
def _decompress(body: bytes, encoding: str | None) -> bytes:
    if not encoding or encoding == "identity":
        return body
    try:
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
    except (OSError, EOFError, zlib.error):
        raise InvalidParameterError(f"The request body is not valid {encoding} data") from None
    raise InvalidParameterError(f"Unsupported Content-Encoding {encoding!r}: use gzip or deflate")


def _json_ids_to_base64(body: bytes) -> bytes:
    """OTLP JSON writes trace and span ids as hex; protobuf's JSON parser expects base64 for bytes."""
    data = orjson.loads(body)
    if not isinstance(data, dict):
        raise TypeError("not an object")
    for resource_spans in data.get("resourceSpans") or []:
        for scope_spans in resource_spans.get("scopeSpans") or []:
            for span in scope_spans.get("spans") or []:
                for name in _HEX_ID_FIELDS:
                    hex_id = span.get(name)
                    if hex_id:
                        span[name] = base64.b64encode(bytes.fromhex(hex_id)).decode("ascii")
                for link in span.get("links") or []:
                    for name in ("traceId", "spanId"):
                        if link.get(name):
                            link[name] = base64.b64encode(bytes.fromhex(link[name])).decode("ascii")
    return orjson.dumps(data)


def parse_export_request(
    body: bytes, content_type: str | None, encoding: str | None
) -> ExportTraceServiceRequest:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media not in (PROTOBUF, JSON):
        raise InvalidParameterError(f"Invalid Content-Type {content_type!r}: expected {PROTOBUF} or {JSON}")
    raw = _decompress(body, (encoding or "").strip().lower() or None)
    request = ExportTraceServiceRequest()
    try:
        if media == JSON:
            json_format.Parse(_json_ids_to_base64(raw), request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(raw)
    except (DecodeError, json_format.ParseError, orjson.JSONDecodeError, ValueError, TypeError):
        raise InvalidParameterError("Invalid OpenTelemetry trace export request") from None
    return request


_MAX_UNIX_NANO = 2**63 - 1


def span_from_proto(proto: ProtoSpan) -> Span:
    if len(proto.trace_id) != 16 or len(proto.span_id) != 8:
        raise InvalidParameterError(
            "Every span needs a 16-byte trace_id and an 8-byte span_id "
            f"(got {len(proto.trace_id)} and {len(proto.span_id)} bytes)"
        )
    if proto.parent_span_id and len(proto.parent_span_id) != 8:
        raise InvalidParameterError(f"parent_span_id must be 8 bytes (got {len(proto.parent_span_id)})")
    if "\x00" in proto.name:  # a column of its own (PostgreSQL refuses NUL in text)
        raise InvalidParameterError(f"Invalid span name {proto.name!r}: NUL characters are not allowed")
    if max(proto.start_time_unix_nano, proto.end_time_unix_nano) > _MAX_UNIX_NANO:
        # fixed64 on the wire, a signed 64-bit integer in the database
        raise InvalidParameterError(
            f"Invalid span times {proto.start_time_unix_nano}/{proto.end_time_unix_nano}: "
            f"above {_MAX_UNIX_NANO} nanoseconds"
        )
    span = Span(
        trace_id=trace_id_from_otel(proto.trace_id.hex()),
        span_id=proto.span_id.hex(),
        parent_span_id=proto.parent_span_id.hex() if proto.parent_span_id else None,
        name=proto.name,
        start_time_unix_nano=proto.start_time_unix_nano,
        end_time_unix_nano=proto.end_time_unix_nano or None,
        status_code=_STATUS_FROM_PROTO.get(proto.status.code, SpanStatusCode.UNSET),
        status_message=proto.status.message,
        attributes=attributes_from_proto(proto.attributes),
        events=[
            SpanEvent(e.name, e.time_unix_nano, attributes_from_proto(e.attributes)) for e in proto.events
        ],
    )
    if "\x00" in span.span_type:  # stored in a column of its own too
        raise InvalidParameterError(f"Invalid span type {span.span_type!r}: NUL characters are not allowed")
    return span


def spans_from_request(request: ExportTraceServiceRequest) -> tuple[list[Span], dict[str, Any]]:
    """Every span of a request, and the resource attributes of the first resource that has any."""
    spans: list[Span] = []
    resource: dict[str, Any] = {}
    for resource_spans in request.resource_spans:
        if not resource and resource_spans.resource.attributes:
            resource = attributes_from_proto(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            spans.extend(span_from_proto(p) for p in scope_spans.spans)
    return spans, resource


def export_response() -> bytes:
    encoded: bytes = ExportTraceServiceResponse().SerializeToString()
    return encoded


# ------------------------------------------------------------------------------------ encoding
def span_to_proto(span: Span, out: ProtoSpan) -> None:
    out.trace_id = bytes.fromhex(otel_id_of(span.trace_id))
    out.span_id = bytes.fromhex(span.span_id)
    if span.parent_span_id:
        out.parent_span_id = bytes.fromhex(span.parent_span_id)
    out.name = span.name
    out.start_time_unix_nano = span.start_time_unix_nano
    if span.end_time_unix_nano:
        out.end_time_unix_nano = span.end_time_unix_nano
    out.status.code = _STATUS_TO_PROTO.get(span.status_code, ProtoStatus.STATUS_CODE_UNSET)
    if span.status_message:
        out.status.message = span.status_message
    add_attributes(out.attributes, span.attributes)
    for event in span.events:
        proto_event = out.events.add()
        proto_event.name = event.name
        proto_event.time_unix_nano = event.time_unix_nano
        add_attributes(proto_event.attributes, event.attributes)


def encode_export_request(spans: Iterable[Span], resource: Mapping[str, Any] | None = None) -> bytes:
    """One ``ExportTraceServiceRequest`` (protobuf bytes) carrying ``spans``."""
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    if resource:
        add_attributes(resource_spans.resource.attributes, resource)
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "bakehouse"
    for span in spans:
        span_to_proto(span, scope.spans.add())
    encoded: bytes = request.SerializeToString()
    return encoded


# ----------------------------------------------------------------------------- protobuf JSON
def any_to_json(value: Any) -> dict[str, Any]:
    """A Python value as protobuf-JSON ``AnyValue`` (snake_case names, as MLflow's server answers)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"bool_value": value}
    if isinstance(value, str):
        return {"string_value": value}
    if isinstance(value, int):
        return {"int_value": value} if -(2**63) <= value < 2**63 else {"string_value": str(value)}
    if isinstance(value, float):
        if math.isfinite(value):
            return {"double_value": value}
        return {"double_value": "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")}
    if isinstance(value, (list, tuple)):
        return {"array_value": {"values": [any_to_json(v) for v in value]}}
    if isinstance(value, Mapping):
        return {
            "kvlist_value": {"values": [{"key": str(k), "value": any_to_json(v)} for k, v in value.items()]}
        }
    return {"string_value": str(value)}


def attributes_to_json(attributes: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": any_to_json(v)} for k, v in attributes.items()]


def any_from_json(value: Any) -> Any:
    """The inverse of :func:`any_to_json` (accepts camelCase names too)."""
    if not isinstance(value, dict) or not value:
        return None
    (kind, inner), *_ = value.items()
    kind = {
        "stringValue": "string_value",
        "intValue": "int_value",
        "boolValue": "bool_value",
        "doubleValue": "double_value",
        "arrayValue": "array_value",
        "kvlistValue": "kvlist_value",
        "bytesValue": "bytes_value",
    }.get(kind, kind)
    if kind == "int_value":
        return int(inner)
    if kind == "double_value":
        return float(inner)
    if kind == "array_value":
        return [any_from_json(v) for v in (inner or {}).get("values", [])]
    if kind == "kvlist_value":
        return {kv.get("key", ""): any_from_json(kv.get("value")) for kv in (inner or {}).get("values", [])}
    return inner


def attributes_from_json(items: Any) -> dict[str, Any]:
    return {kv.get("key", ""): any_from_json(kv.get("value")) for kv in items or [] if isinstance(kv, dict)}
