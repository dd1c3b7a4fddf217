"""Traces (MLflow 3's record of one request through LLM or agent code): info, spans, assessments.

Field names and reserved keys are MLflow's, so traces written by either client read the same everywhere.
Span attribute values are plain JSON-like Python values (str, int, float, bool, None, lists, dicts); on
the wire they travel as OpenTelemetry ``AnyValue`` messages. Times: trace times in epoch milliseconds,
span times in epoch nanoseconds (OpenTelemetry's unit).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: A trace id is "tr-" followed by the 32 hex digits of the OpenTelemetry trace id.
TRACE_ID_PREFIX = "tr-"


class TraceState:
    OK = "OK"
    ERROR = "ERROR"
    IN_PROGRESS = "IN_PROGRESS"
    UNSPECIFIED = "STATE_UNSPECIFIED"
    ALL = (OK, ERROR, IN_PROGRESS, UNSPECIFIED)


class SpanStatusCode:
    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"


class SpanType:
    UNKNOWN = "UNKNOWN"
    LLM = "LLM"
    CHAT_MODEL = "CHAT_MODEL"
    CHAIN = "CHAIN"
    AGENT = "AGENT"
    TOOL = "TOOL"
    RETRIEVER = "RETRIEVER"
    EMBEDDING = "EMBEDDING"
    PARSER = "PARSER"
    RERANKER = "RERANKER"


class SpanAttribute:
    """Reserved span attribute keys (MLflow's ``SpanAttributeKey``)."""

    REQUEST_ID = "mlflow.traceRequestId"
    INPUTS = "mlflow.spanInputs"
    OUTPUTS = "mlflow.spanOutputs"
    SPAN_TYPE = "mlflow.spanType"
    FUNCTION_NAME = "mlflow.spanFunctionName"
    CHAT_USAGE = "mlflow.chat.tokenUsage"
    MODEL = "mlflow.llm.model"
    MODEL_PROVIDER = "mlflow.llm.provider"
    MESSAGE_FORMAT = "mlflow.message.format"


class TraceMetadata:
    """Reserved trace metadata keys (MLflow's ``TraceMetadataKey``)."""

    INPUTS = "mlflow.traceInputs"
    OUTPUTS = "mlflow.traceOutputs"
    SOURCE_RUN = "mlflow.sourceRun"
    TOKEN_USAGE = "mlflow.trace.tokenUsage"
    SIZE_BYTES = "mlflow.trace.sizeBytes"
    SCHEMA_VERSION = "mlflow.trace_schema.version"
    INFO_FINALIZED = "mlflow.trace.infoFinalized"
    USER = "mlflow.user"
    SOURCE_NAME = "mlflow.source.name"
    SOURCE_TYPE = "mlflow.source.type"
    TRACE_USER = "mlflow.trace.user"
    TRACE_SESSION = "mlflow.trace.session"


class TraceTag:
    """Reserved trace tag keys (MLflow's ``TraceTagKey``)."""

    NAME = "mlflow.traceName"
    SPANS_LOCATION = "mlflow.trace.spansLocation"
    ARTIFACT_LOCATION = "mlflow.artifactLocation"


#: The value of ``mlflow.trace.spansLocation`` when the spans live in the tracking store's tables.
SPANS_IN_TRACKING_STORE = "TRACKING_STORE"
#: Previews of a trace's request and response are cut to this many characters (MLflow's OSS limit).
PREVIEW_MAX_CHARS = 1000


def trace_id_from_otel(otel_trace_id_hex: str) -> str:
    return TRACE_ID_PREFIX + otel_trace_id_hex


def otel_id_of(trace_id: str) -> str:
    """The 32 hex digits of an OpenTelemetry trace id from a ``tr-`` trace id."""
    return trace_id.removeprefix(TRACE_ID_PREFIX)


@dataclass(slots=True)
class SpanEvent:
    name: str
    time_unix_nano: int
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Span:
    """One finished (or still open, ``end_time_unix_nano`` None) span of a trace."""

    trace_id: str  # "tr-<32 hex>"
    span_id: str  # 16 hex digits
    parent_span_id: str | None
    name: str
    start_time_unix_nano: int
    end_time_unix_nano: int | None
    status_code: str = SpanStatusCode.UNSET
    status_message: str = ""
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[SpanEvent] = field(default_factory=list)

    @property
    def span_type(self) -> str:
        value = self.attributes.get(SpanAttribute.SPAN_TYPE)
        return value if isinstance(value, str) and value else SpanType.UNKNOWN

    @property
    def inputs(self) -> Any:
        return self.attributes.get(SpanAttribute.INPUTS)

    @property
    def outputs(self) -> Any:
        return self.attributes.get(SpanAttribute.OUTPUTS)

    @property
    def duration_ns(self) -> int | None:
        if self.end_time_unix_nano is None:
            return None
        return self.end_time_unix_nano - self.start_time_unix_nano


@dataclass(slots=True)
class Assessment:
    """Feedback (a judgement of a trace) or an expectation (the ground truth), MLflow's assessment.

    ``kind`` is "feedback" or "expectation"; ``value`` the plain value; ``payload`` the message as sent
    (``{"value": ...}``, ``{"serialized_value": {...}}``, ``{"value": ..., "error": {...}}``), kept so it
    is answered back exactly.
    """

    assessment_id: str
    trace_id: str
    name: str
    kind: str
    value: Any
    payload: dict[str, Any]
    source_type: str = "SOURCE_TYPE_UNSPECIFIED"
    source_id: str = ""
    create_time_ms: int = 0
    last_update_time_ms: int = 0
    span_id: str | None = None
    rationale: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    overrides: str | None = None
    valid: bool = True


@dataclass(slots=True)
class TraceInfo:
    trace_id: str
    experiment_id: str
    request_time: int  # ms since the epoch
    execution_duration: int | None = None  # ms
    state: str = TraceState.OK
    request_preview: str | None = None
    response_preview: str | None = None
    client_request_id: str | None = None
    trace_metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    assessments: list[Assessment] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        return self.tags.get(TraceTag.NAME)

    @property
    def run_id(self) -> str | None:
        return self.trace_metadata.get(TraceMetadata.SOURCE_RUN)


@dataclass(slots=True)
class Trace:
    info: TraceInfo
    spans: list[Span] = field(default_factory=list)

    @property
    def root_span(self) -> Span | None:
        ids = {s.span_id for s in self.spans}
        for span in self.spans:
            if span.parent_span_id is None or span.parent_span_id not in ids:
                return span
        return None


def truncate_preview(text: str | None) -> str | None:
    if text is None or len(text) <= PREVIEW_MAX_CHARS:
        return text
    return text[: PREVIEW_MAX_CHARS - 3] + "..."
