"""Traces as MLflow's protobuf JSON: ``TraceInfoV3``, ``Trace`` (with OpenTelemetry spans), ``Assessment``.

Shapes follow what MLflow's server answers (snake_case field names, RFC 3339 timestamps such as
``2026-01-02T03:04:05.120Z``, durations such as ``"0.153s"``, span ids as base64 bytes, span times as
numbers), so MLflow's client parses our answers with its own protobuf parser, and our client reads MLflow's.
"""

from __future__ import annotations

import base64
import json
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from bakehouse.entities.trace import (
    Assessment,
    Span,
    SpanEvent,
    SpanStatusCode,
    Trace,
    TraceInfo,
    TraceState,
    otel_id_of,
    trace_id_from_otel,
)
from bakehouse.errors import InvalidParameterError
from bakehouse.wire.json import INT64_MAX, INT64_MIN

_STATUS_NAMES = {
    SpanStatusCode.OK: "STATUS_CODE_OK",
    SpanStatusCode.ERROR: "STATUS_CODE_ERROR",
    SpanStatusCode.UNSET: "STATUS_CODE_UNSET",
}
_STATUS_FROM_NAME = {v: k for k, v in _STATUS_NAMES.items()} | {
    "OK": "OK",
    "ERROR": "ERROR",
    "UNSET": "UNSET",
}


# ---------------------------------------------------------------------------------- time values
def timestamp_to_json(ms: int) -> str:
    """Epoch milliseconds as protobuf's RFC 3339 text (no fraction when it is a whole second)."""
    seconds, millis = divmod(int(ms), 1000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def timestamp_from_json(value: Any, name: str) -> int:
    """RFC 3339 text (or a number of milliseconds) -> epoch milliseconds."""
    if isinstance(value, bool):
        raise InvalidParameterError(f"Invalid {name} {value!r}: expected an RFC 3339 timestamp")
    if isinstance(value, int):
        if not INT64_MIN <= value <= INT64_MAX:  # the database's BIGINT
            raise InvalidParameterError(f"Invalid {name} {value!r}: out of the 64-bit range")
        return value
    if not isinstance(value, str):
        raise InvalidParameterError(f"Invalid {name} {value!r}: expected an RFC 3339 timestamp")
    # imported here, as the OTLP helpers below: protobuf costs ~100 ms, which creating a REST client (this
    # module comes with the trace API) should not pay when no trace is ever read
    from google.protobuf.timestamp_pb2 import Timestamp

    stamp = Timestamp()
    try:
        stamp.FromJsonString(value)
    except ValueError:
        raise InvalidParameterError(f"Invalid {name} {value!r}: expected an RFC 3339 timestamp") from None
    return int(stamp.seconds) * 1000 + int(stamp.nanos) // 1_000_000


def duration_to_json(ms: int) -> str:
    seconds, millis = divmod(int(ms), 1000)
    return f"{seconds}.{millis:03d}s" if millis else f"{seconds}s"


def duration_from_json(value: Any, name: str = "execution_duration") -> int:
    """``"1.500s"`` (protobuf JSON) -> 1500 milliseconds."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            seconds = Decimal(value[:-1])
        except InvalidOperation:
            seconds = None
        # kept in a BIGINT of milliseconds, and added to the start time when searching by end time
        if seconds is not None and seconds.is_finite() and 0 <= seconds * 1000 <= INT64_MAX // 2:
            return int(seconds * 1000)
    raise InvalidParameterError(f"Invalid {name} {value!r}: expected a duration such as '1.5s'")


# ------------------------------------------------------------------------------------ assessments
def assessment_to_json(a: Assessment) -> dict[str, Any]:
    out: dict[str, Any] = {
        "assessment_id": a.assessment_id,
        "assessment_name": a.name,
        "trace_id": a.trace_id,
    }
    if a.span_id:
        out["span_id"] = a.span_id
    out["source"] = {"source_type": a.source_type, "source_id": a.source_id}
    out["create_time"] = timestamp_to_json(a.create_time_ms)
    out["last_update_time"] = timestamp_to_json(a.last_update_time_ms)
    out[a.kind] = a.payload
    if a.rationale:
        out["rationale"] = a.rationale
    if a.error:
        out["error"] = a.error
    if a.metadata:
        out["metadata"] = a.metadata
    if a.overrides:
        out["overrides"] = a.overrides
    out["valid"] = a.valid
    return out


def payload_value(kind: str, payload: dict[str, Any]) -> Any:
    """The plain value inside a feedback/expectation message (a JSON-serialized expectation is decoded)."""
    if "value" in payload:
        return payload["value"]
    serialized = payload.get("serialized_value")
    if isinstance(serialized, dict) and isinstance(serialized.get("value"), str):
        try:
            return json.loads(serialized["value"])
        except ValueError:
            return serialized["value"]
    return None


def _optional_text(data: dict[str, Any], name: str, limit: int | None = None) -> str | None:
    """An optional string field (empty -> None), refused when it is another type or too long."""
    value = data.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise InvalidParameterError(f"Invalid {name} {value!r}: expected a string without NUL characters")
    if limit is not None and len(value) > limit:
        raise InvalidParameterError(f"Invalid {name}: longer than {limit} characters")
    return value


def assessment_from_json(data: Any, trace_id: str | None = None) -> Assessment:
    """An ``Assessment`` message from a request; ids and times may be left for the store to assign."""
    if not isinstance(data, dict):
        raise InvalidParameterError("Missing value for required parameter 'assessment'.")
    kinds = [k for k in ("feedback", "expectation") if isinstance(data.get(k), dict)]
    if len(kinds) != 1:
        raise InvalidParameterError("An assessment needs exactly one of 'feedback' or 'expectation'")
    kind = kinds[0]
    payload = data[kind]
    name = data.get("assessment_name") or data.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidParameterError("Missing value for required parameter 'assessment.assessment_name'.")
    source: dict[str, Any] = data["source"] if isinstance(data.get("source"), dict) else {}
    metadata: dict[str, Any] = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
    valid = data.get("valid", True)
    if not isinstance(valid, bool):
        raise InvalidParameterError(f"Invalid valid {valid!r}: expected true or false")
    error = data.get("error")
    if error is not None and not isinstance(error, dict):
        raise InvalidParameterError("Invalid error: expected an object")
    now = int(time.time() * 1000)
    created = data.get("create_time")
    updated = data.get("last_update_time")
    return Assessment(
        assessment_id=str(data.get("assessment_id") or ""),
        trace_id=trace_id or str(data.get("trace_id") or ""),
        name=name,
        kind=kind,
        value=payload_value(kind, payload),
        payload=payload,
        source_type=_optional_text(source, "source_type", 50) or "SOURCE_TYPE_UNSPECIFIED",
        source_id=_optional_text(source, "source_id", 250) or "",
        create_time_ms=timestamp_from_json(created, "create_time") if created else now,
        last_update_time_ms=timestamp_from_json(updated, "last_update_time") if updated else now,
        span_id=_optional_text(data, "span_id", 16),
        rationale=_optional_text(data, "rationale"),
        metadata={str(k): str(v) for k, v in metadata.items()},
        error=error or None,
        overrides=_optional_text(data, "overrides", 50),
        valid=valid,
    )


# ------------------------------------------------------------------------------------- trace info
def trace_info_to_json(info: TraceInfo) -> dict[str, Any]:
    out: dict[str, Any] = {
        "trace_id": info.trace_id,
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": str(info.experiment_id)},
        },
        "request_time": timestamp_to_json(info.request_time),
    }
    if info.execution_duration is not None:
        out["execution_duration"] = duration_to_json(info.execution_duration)
    out["state"] = info.state
    if info.client_request_id:
        out["client_request_id"] = info.client_request_id
    if info.trace_metadata:
        out["trace_metadata"] = info.trace_metadata
    if info.assessments:
        out["assessments"] = [assessment_to_json(a) for a in info.assessments]
    if info.tags:
        out["tags"] = info.tags
    if info.request_preview is not None:
        out["request_preview"] = info.request_preview
    if info.response_preview is not None:
        out["response_preview"] = info.response_preview
    return out


def _string_map(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameterError(f"Invalid {name}: expected an object of strings")
    out = {}
    for k, v in value.items():
        if not isinstance(v, str) or "\x00" in v or "\x00" in k:
            raise InvalidParameterError(
                f"Invalid {name} value for {k!r}: expected a string without NUL characters"
            )
        out[str(k)] = v
    return out


def trace_info_from_json(data: Any) -> TraceInfo:
    if not isinstance(data, dict):
        raise InvalidParameterError("Missing value for required parameter 'trace.trace_info'.")
    trace_id = data.get("trace_id")
    if not isinstance(trace_id, str) or not trace_id:
        raise InvalidParameterError("Missing value for required parameter 'trace.trace_info.trace_id'.")
    location = data.get("trace_location")
    experiment = location.get("mlflow_experiment") if isinstance(location, dict) else None
    experiment_id = experiment.get("experiment_id") if isinstance(experiment, dict) else None
    if experiment_id is None or experiment_id == "":
        raise InvalidParameterError(
            "Only traces located in an MLflow experiment are supported (trace_location.mlflow_experiment)"
        )
    if not isinstance(experiment_id, str) or "\x00" in experiment_id:
        # a string in MLflow's protocol: a number is refused here as on every other route
        raise InvalidParameterError(
            f"Invalid value {experiment_id!r} for parameter "
            "'trace.trace_info.trace_location.mlflow_experiment.experiment_id': expected a string"
        )
    state = data.get("state") or TraceState.UNSPECIFIED
    if not isinstance(state, str) or state not in TraceState.ALL:
        raise InvalidParameterError(
            f"Invalid trace state {state!r}; expected one of {', '.join(TraceState.ALL)}"
        )
    duration = data.get("execution_duration")
    assessments = data.get("assessments") or []
    if not isinstance(assessments, list):
        raise InvalidParameterError("Invalid assessments: expected a list")
    return TraceInfo(
        trace_id=trace_id,
        experiment_id=str(experiment_id),
        request_time=timestamp_from_json(data.get("request_time") or 0, "request_time"),
        execution_duration=duration_from_json(duration) if duration is not None else None,
        state=state,
        request_preview=_optional_text(data, "request_preview"),
        response_preview=_optional_text(data, "response_preview"),
        client_request_id=_optional_text(data, "client_request_id", 250),
        trace_metadata=_string_map(data.get("trace_metadata"), "trace_metadata"),
        tags=_string_map(data.get("tags"), "tags"),
        assessments=[assessment_from_json(a, trace_id) for a in assessments],
    )


# ------------------------------------------------------------------------------------------ spans
def _b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode("ascii")


def _hex(b64_id: str) -> str:
    return base64.b64decode(b64_id).hex()


def span_to_json(span: Span) -> dict[str, Any]:
    """An OpenTelemetry ``Span`` message in protobuf JSON (what MLflow's ``GetTrace`` answers)."""
    from bakehouse.wire.otlp import attributes_to_json

    out: dict[str, Any] = {
        "trace_id": _b64(otel_id_of(span.trace_id)),
        "span_id": _b64(span.span_id),
    }
    if span.parent_span_id:
        out["parent_span_id"] = _b64(span.parent_span_id)
    out["name"] = span.name
    out["start_time_unix_nano"] = span.start_time_unix_nano
    if span.end_time_unix_nano:
        out["end_time_unix_nano"] = span.end_time_unix_nano
    if span.attributes:
        out["attributes"] = attributes_to_json(span.attributes)
    if span.events:
        out["events"] = [
            {
                "time_unix_nano": e.time_unix_nano,
                "name": e.name,
                "attributes": attributes_to_json(e.attributes),
            }
            if e.attributes
            else {"time_unix_nano": e.time_unix_nano, "name": e.name}
            for e in span.events
        ]
    status: dict[str, Any] = {"code": _STATUS_NAMES.get(span.status_code, "STATUS_CODE_UNSET")}
    if span.status_message:
        status["message"] = span.status_message
    out["status"] = status
    return out


def span_from_json(data: dict[str, Any]) -> Span:
    from bakehouse.wire.otlp import attributes_from_json

    status = data.get("status") or {}
    end = data.get("end_time_unix_nano")
    return Span(
        trace_id=trace_id_from_otel(_hex(data["trace_id"])),
        span_id=_hex(data["span_id"]),
        parent_span_id=_hex(data["parent_span_id"]) if data.get("parent_span_id") else None,
        name=data.get("name", ""),
        start_time_unix_nano=int(data.get("start_time_unix_nano") or 0),
        end_time_unix_nano=int(end) if end else None,
        status_code=_STATUS_FROM_NAME.get(status.get("code", ""), SpanStatusCode.UNSET),
        status_message=status.get("message", ""),
        attributes=attributes_from_json(data.get("attributes")),
        events=[
            SpanEvent(
                e.get("name", ""),
                int(e.get("time_unix_nano") or 0),
                attributes_from_json(e.get("attributes")),
            )
            for e in data.get("events") or []
        ],
    )


def trace_to_json(trace: Trace) -> dict[str, Any]:
    out: dict[str, Any] = {"trace_info": trace_info_to_json(trace.info)}
    if trace.spans:
        out["spans"] = [span_to_json(s) for s in trace.spans]
    return out


def trace_from_json(data: dict[str, Any]) -> Trace:
    return Trace(
        trace_info_from_json(data.get("trace_info")), [span_from_json(s) for s in data.get("spans") or []]
    )
