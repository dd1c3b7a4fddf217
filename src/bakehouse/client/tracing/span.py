"""Live spans: what ``bh.trace`` and ``bh.start_span`` hand out while traced code runs.

A span is an ordinary object owned by the code that opened it; the only shared state is the trace it
belongs to (:class:`TraceBuffer`), which collects finished spans under a lock until the root span ends.
The current span is a ``ContextVar``, so asyncio tasks inherit their creator's span, and a thread started
through ``contextvars.copy_context().run`` does too.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime
import json
import random
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Self

from bakehouse.entities.trace import (
    Span,
    SpanAttribute,
    SpanEvent,
    SpanStatusCode,
    SpanType,
    trace_id_from_otel,
)

LOG_LEVEL = "mlflow.spanLogLevel"
_INFO_SPAN_TYPES = frozenset({"LLM", "CHAT_MODEL", "TOOL", "RETRIEVER", "AGENT", "EMBEDDING"})
DEBUG_LEVEL, INFO_LEVEL, ERROR_LEVEL = 10, 20, 40

_current: contextvars.ContextVar[LiveSpan | None] = contextvars.ContextVar("bakehouse_span", default=None)
_random = random.SystemRandom()


def current_span() -> LiveSpan | None:
    return _current.get()


def _new_id(bits: int) -> str:
    return f"{_random.getrandbits(bits):0{bits // 4}x}"


def jsonable(value: Any, depth: int = 0) -> Any:
    """A value as something JSON can hold (the form span inputs, outputs and attributes take)."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if depth > 20:
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, depth + 1) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", errors="replace")
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    dump = getattr(value, "model_dump", None)  # pydantic models (OpenAI's responses are)
    if callable(dump):
        try:
            return jsonable(dump(), depth + 1)
        except Exception:  # noqa: BLE001 - a model that cannot dump itself is shown as text
            return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value), depth + 1)
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        try:
            return jsonable(tolist(), depth + 1)
        except Exception:  # noqa: BLE001
            return str(value)
    return str(value)


def to_json_text(value: Any) -> str:
    return json.dumps(jsonable(value), ensure_ascii=False)


class TraceBuffer:
    """One trace in progress: its finished spans and the trace-level fields set while it runs."""

    def __init__(self, otel_trace_id: str, experiment_id: str, store: Any, metadata: dict[str, str]) -> None:
        self.trace_id = trace_id_from_otel(otel_trace_id)
        self.experiment_id = experiment_id
        self.store = store
        self.metadata = metadata
        self.tags: dict[str, str] = {}
        self.request_preview: str | None = None
        self.response_preview: str | None = None
        self.client_request_id: str | None = None
        self.state: str | None = None
        self.finished: list[Span] = []
        self.open_spans = 0
        self.root_done = False
        self.lock = threading.Lock()
        #: called with each span as it ends (the fluent API exports the trace when the root ends)
        self.on_span_end: Callable[[LiveSpan], None] | None = None


class LiveSpan:
    """A span being recorded. Setters are cheap; values are converted to JSON-able form once, at set."""

    def __init__(
        self,
        name: str,
        trace: TraceBuffer,
        parent: LiveSpan | None,
        span_type: str = SpanType.UNKNOWN,
        attributes: Mapping[str, Any] | None = None,
        start_time_ns: int | None = None,
    ) -> None:
        self.name = name
        self.trace = trace
        self.parent = parent
        self.span_id = _new_id(64)
        self.start_time_ns = start_time_ns or time.time_ns()
        self.end_time_ns: int | None = None
        self.status_code = SpanStatusCode.UNSET
        self.status_message = ""
        self.attributes: dict[str, Any] = {
            SpanAttribute.REQUEST_ID: trace.trace_id,
            SpanAttribute.SPAN_TYPE: span_type or SpanType.UNKNOWN,
        }
        self.events: list[SpanEvent] = []
        if attributes:
            self.set_attributes(attributes)
        with trace.lock:
            trace.open_spans += 1

    # -- identity
    @property
    def trace_id(self) -> str:
        return self.trace.trace_id

    @property
    def request_id(self) -> str:
        return self.trace.trace_id

    @property
    def parent_id(self) -> str | None:
        return self.parent.span_id if self.parent is not None else None

    @property
    def span_type(self) -> str:
        return str(self.attributes.get(SpanAttribute.SPAN_TYPE) or SpanType.UNKNOWN)

    @property
    def inputs(self) -> Any:
        return self.attributes.get(SpanAttribute.INPUTS)

    @property
    def outputs(self) -> Any:
        return self.attributes.get(SpanAttribute.OUTPUTS)

    # -- recording
    def set_inputs(self, inputs: Any) -> None:
        self.attributes[SpanAttribute.INPUTS] = jsonable(inputs)

    def set_outputs(self, outputs: Any) -> None:
        self.attributes[SpanAttribute.OUTPUTS] = jsonable(outputs)

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[str(key)] = jsonable(value)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_span_type(self, span_type: str) -> None:
        self.attributes[SpanAttribute.SPAN_TYPE] = span_type

    def set_status(self, status: str, message: str = "") -> None:
        """``"OK"``, ``"ERROR"`` or ``"UNSET"`` (case-insensitive), with an optional description."""
        code = str(status).upper().removeprefix("STATUS_CODE_")
        if code not in (SpanStatusCode.OK, SpanStatusCode.ERROR, SpanStatusCode.UNSET):
            raise ValueError(f"Invalid span status {status!r}: use OK, ERROR or UNSET")
        self.status_code = code
        self.status_message = message

    def add_event(
        self, name: str, attributes: Mapping[str, Any] | None = None, time_ns: int | None = None
    ) -> None:
        self.events.append(
            SpanEvent(
                name, time_ns or time.time_ns(), {str(k): jsonable(v) for k, v in (attributes or {}).items()}
            )
        )
        if name == "exception" and int(self.attributes.get(LOG_LEVEL) or 0) < ERROR_LEVEL:
            self.attributes[LOG_LEVEL] = ERROR_LEVEL

    def record_exception(self, exc: BaseException) -> None:
        """OpenTelemetry's exception event (type, message, stack trace) and an ERROR status."""
        self.add_event(
            "exception",
            {
                "exception.message": str(exc),
                "exception.type": type(exc).__name__,
                "exception.stacktrace": "".join(
                    traceback.format_exception(type(exc), exc, exc.__traceback__)
                ),
            },
        )
        self.set_status(SpanStatusCode.ERROR, f"{type(exc).__name__}: {exc}")

    def end(self, end_time_ns: int | None = None) -> None:
        """Finish the span (once); the trace is exported when its root span ends."""
        if self.end_time_ns is not None:
            return
        self.end_time_ns = end_time_ns or time.time_ns()
        if self.status_code == SpanStatusCode.UNSET:
            self.status_code = SpanStatusCode.OK
        if LOG_LEVEL not in self.attributes:
            self.attributes[LOG_LEVEL] = INFO_LEVEL if self.span_type in _INFO_SPAN_TYPES else DEBUG_LEVEL
        if self.trace.on_span_end is not None:
            self.trace.on_span_end(self)

    def to_entity(self) -> Span:
        return Span(
            trace_id=self.trace.trace_id,
            span_id=self.span_id,
            parent_span_id=self.parent_id,
            name=self.name,
            start_time_unix_nano=self.start_time_ns,
            end_time_unix_nano=self.end_time_ns,
            status_code=self.status_code,
            status_message=self.status_message,
            attributes=dict(self.attributes),
            events=list(self.events),
        )

    # -- context manager (``with bh.start_span(...) as span``)
    def __enter__(self) -> Self:
        self._token = _current.set(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc is not None:
            self.record_exception(exc)
        try:
            _current.reset(self._token)
        except ValueError:  # exited in another context (a generator resumed elsewhere): restore by hand
            _current.set(self.parent)
        self.end()

    def __repr__(self) -> str:
        return f"LiveSpan(name={self.name!r}, span_id={self.span_id!r}, trace_id={self.trace_id!r})"


def new_trace_id() -> str:
    return _new_id(128)
