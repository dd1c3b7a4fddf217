"""The tracing API with MLflow's names: ``trace``, ``start_span``, ``update_current_trace``, ``get_trace``,
``search_traces``, ``log_feedback``, ``log_expectation``...

Parenting follows the current span (a ``ContextVar``): a decorated function called inside another
span is its child whether it is sync, async, a generator or an async generator; an asyncio task
inherits the span that was current when it was created; a thread does when started through
``contextvars.copy_context().run`` (as with MLflow). Traces are written by a background exporter when
their root span ends (:mod:`bakehouse.client.tracing.exporter`).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar, overload

from bakehouse.client import fluent as run_fluent
from bakehouse.client.system_tags import default_tags
from bakehouse.client.tracing import span as live
from bakehouse.client.tracing.exporter import ExportItem, get_exporter
from bakehouse.client.tracing.span import LiveSpan, TraceBuffer, current_span, jsonable, to_json_text
from bakehouse.entities.trace import (
    Assessment,
    SpanAttribute,
    SpanStatusCode,
    SpanType,
    Trace,
    TraceInfo,
    TraceMetadata,
    TraceState,
    TraceTag,
    truncate_preview,
)
from bakehouse.errors import InvalidParameterError
from bakehouse.store.tracking.rest import RestTrackingStore
from bakehouse.wire.transport import HttpTransport

if TYPE_CHECKING:
    from bakehouse.client.client import Client

F = TypeVar("F", bound=Callable[..., Any])
#: Trace metadata values are cut to this many characters (MLflow's limit for the inputs/outputs keys).
METADATA_MAX_CHARS = 250

_last_trace_id: str | None = None
_state_lock = threading.Lock()


# ------------------------------------------------------------------------------------------- spans
def _client() -> Client:
    return run_fluent._client()


def _open_span(name: str, span_type: str, attributes: dict[str, Any] | None) -> LiveSpan:
    parent = current_span()
    if parent is not None:
        return LiveSpan(name, parent.trace, parent, span_type, attributes)
    client = _client()
    metadata = {k: v for k, v in default_tags().items() if not k.startswith("mlflow.source.git")}
    metadata[TraceMetadata.SCHEMA_VERSION] = "3"
    active = run_fluent.active_run()
    run_id = active.info.run_id if active is not None else None
    if run_id:
        metadata[TraceMetadata.SOURCE_RUN] = run_id
    experiment_id = (
        active.info.experiment_id if active is not None else run_fluent._resolve_experiment_id(None)
    )
    trace = TraceBuffer(live.new_trace_id(), experiment_id, _export_store(client.tracking_store), metadata)
    trace.on_span_end = _span_ended
    return LiveSpan(name, trace, None, span_type, attributes)


_export_stores: dict[str, Any] = {}


def _export_store(store: Any) -> Any:
    """The store the exporter writes to: for a server, one whose HTTP calls give up quickly (one retry,
    10 s timeout), so a server that is down costs the exporter seconds, not minutes of backoff."""
    transport = getattr(store, "transport", None)
    if transport is None:
        return store
    with _state_lock:
        quick = _export_stores.get(transport.base_url)
        if quick is None:
            settings = dataclasses.replace(transport.settings, max_retries=1, timeout=10.0)
            quick = _export_stores[transport.base_url] = RestTrackingStore(
                HttpTransport(transport.base_url, settings), getattr(store, "artifact_uri", None)
            )
    return quick


def _span_ended(span: LiveSpan) -> None:
    global _last_trace_id
    trace = span.trace
    entity = span.to_entity()
    with trace.lock:
        trace.open_spans -= 1
        late = trace.root_done
        if not late:
            trace.finished.append(entity)
        spans: list[Any] = []
        if span.parent is None and not late:
            trace.root_done = True
            spans, trace.finished = trace.finished, []
    exporter = get_exporter()
    if late:  # a span that outlived its root (a background thread): sent on its own
        exporter.submit(ExportItem(trace.store, trace.experiment_id, [entity]))
        return
    if span.parent is not None:
        return
    info = _trace_info(trace, span, spans)
    with _state_lock:
        _last_trace_id = trace.trace_id
    exporter.submit(ExportItem(trace.store, trace.experiment_id, spans, info))


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _token_usage(spans: Sequence[Any]) -> dict[str, int] | None:
    """Summed ``mlflow.chat.tokenUsage`` of spans none of whose descendants carry usage (no double count
    when a parent span reports its children's total)."""
    with_usage = {s.span_id: s for s in spans if isinstance(s.attributes.get(SpanAttribute.CHAT_USAGE), dict)}
    if not with_usage:
        return None
    parents = {s.span_id: s.parent_span_id for s in spans}
    covered: set[str] = set()
    for span_id in with_usage:
        parent = parents.get(span_id)
        while parent is not None:
            covered.add(parent)
            parent = parents.get(parent)
    total: dict[str, int] = {}
    for span_id, span in with_usage.items():
        if span_id in covered:
            continue
        for key, value in span.attributes[SpanAttribute.CHAT_USAGE].items():
            if isinstance(value, int) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    return total or None


def _trace_info(trace: TraceBuffer, root: LiveSpan, spans: Sequence[Any]) -> TraceInfo:
    metadata = dict(trace.metadata)
    inputs, outputs = root.inputs, root.outputs
    inputs_text = json.dumps(inputs, ensure_ascii=False) if inputs is not None else ""
    outputs_text = json.dumps(outputs, ensure_ascii=False) if outputs is not None else ""
    metadata[TraceMetadata.INPUTS] = _cut(inputs_text, METADATA_MAX_CHARS)
    metadata[TraceMetadata.OUTPUTS] = _cut(outputs_text, METADATA_MAX_CHARS)
    usage = _token_usage(spans)
    if usage:
        metadata[TraceMetadata.TOKEN_USAGE] = json.dumps(usage)
    state = trace.state or (TraceState.ERROR if root.status_code == SpanStatusCode.ERROR else TraceState.OK)
    end = root.end_time_ns or root.start_time_ns
    return TraceInfo(
        trace_id=trace.trace_id,
        experiment_id=trace.experiment_id,
        request_time=root.start_time_ns // 1_000_000,
        execution_duration=(end - root.start_time_ns) // 1_000_000,
        state=state,
        request_preview=trace.request_preview
        if trace.request_preview is not None
        else truncate_preview(inputs_text),
        response_preview=(
            trace.response_preview if trace.response_preview is not None else truncate_preview(outputs_text)
        ),
        client_request_id=trace.client_request_id,
        trace_metadata=metadata,
        tags={TraceTag.NAME: root.name, **trace.tags},
    )


@contextmanager
def start_span(
    name: str = "span", span_type: str = SpanType.UNKNOWN, attributes: dict[str, Any] | None = None
) -> Iterator[LiveSpan]:
    """A span around a block: ``with bh.start_span("retrieve", span_type="RETRIEVER") as span: ...``.

    An exception leaving the block is recorded (an ``exception`` event, status ERROR) and re-raised."""
    span = _open_span(name, span_type, attributes)
    with span:
        yield span


def get_current_active_span() -> LiveSpan | None:
    return current_span()


def get_last_active_trace_id() -> str | None:
    """The id of the last trace whose root span ended in this process."""
    return _last_trace_id


def update_current_trace(
    tags: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    client_request_id: str | None = None,
    request_preview: str | None = None,
    response_preview: str | None = None,
    state: str | None = None,
) -> None:
    """Set trace-level fields of the trace being recorded (call it inside a span)."""
    span = current_span()
    if span is None:
        raise InvalidParameterError("update_current_trace must be called inside a traced function or span")
    trace = span.trace
    with trace.lock:
        trace.tags.update({str(k): str(v) for k, v in (tags or {}).items()})
        trace.metadata.update({str(k): str(v) for k, v in (metadata or {}).items()})
        if client_request_id is not None:
            trace.client_request_id = str(client_request_id)
        if request_preview is not None:
            trace.request_preview = request_preview
        if response_preview is not None:
            trace.response_preview = response_preview
        if state is not None:
            if state not in (TraceState.OK, TraceState.ERROR):
                raise InvalidParameterError(f"Invalid trace state {state!r}: use 'OK' or 'ERROR'")
            trace.state = state


# -------------------------------------------------------------------------------------- decorator
def _inputs(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        bound = inspect.signature(fn).bind(*args, **kwargs)
        bound.apply_defaults()
    except (TypeError, ValueError):
        return {"args": list(args), "kwargs": kwargs}
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    first = next(iter(arguments), None)
    if first == "cls" and isinstance(arguments["cls"], type):
        del arguments["cls"]
    return arguments


@overload
def trace(func: F) -> F: ...


@overload
def trace(
    func: None = None,
    name: str | None = None,
    span_type: str = SpanType.UNKNOWN,
    attributes: dict[str, Any] | None = None,
) -> Callable[[F], F]: ...


def trace(
    func: Any = None,
    name: str | None = None,
    span_type: str = SpanType.UNKNOWN,
    attributes: dict[str, Any] | None = None,
) -> Any:
    """Record a span for every call of the decorated function: inputs (its arguments), outputs (the
    return value; for a generator, the list of what it yielded) and any exception."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        span_name = name or fn.__name__

        def opened(args: tuple[Any, ...], kwargs: dict[str, Any]) -> LiveSpan:
            span = _open_span(span_name, span_type, attributes)
            span.set_attribute(SpanAttribute.FUNCTION_NAME, fn.__name__)
            span.set_inputs(_inputs(fn, args, kwargs))
            return span

        if inspect.isasyncgenfunction(fn):

            @functools.wraps(fn)
            async def async_gen_wrapper(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
                span = opened(args, kwargs)
                outputs: list[Any] = []
                agen = fn(*args, **kwargs)
                try:
                    while True:
                        token = live._current.set(span)
                        try:
                            item = await agen.__anext__()
                        except StopAsyncIteration:
                            break
                        finally:
                            live._current.reset(token)
                        outputs.append(item)
                        yield item
                except BaseException as exc:
                    span.record_exception(exc)
                    span.end()
                    raise
                span.set_outputs(outputs)
                span.end()

            return async_gen_wrapper

        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def gen_wrapper(*args: Any, **kwargs: Any) -> Iterator[Any]:
                span = opened(args, kwargs)
                outputs: list[Any] = []
                gen = fn(*args, **kwargs)
                try:
                    while True:
                        token = live._current.set(span)
                        try:
                            item = next(gen)
                        except StopIteration as stop:
                            if stop.value is not None:
                                outputs.append(stop.value)
                            break
                        finally:
                            live._current.reset(token)
                        outputs.append(item)
                        yield item
                except BaseException as exc:
                    if not isinstance(exc, GeneratorExit):
                        span.record_exception(exc)
                    span.set_outputs(outputs)
                    span.end()
                    raise
                span.set_outputs(outputs)
                span.end()

            return gen_wrapper

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with opened(args, kwargs) as span:
                    result = await fn(*args, **kwargs)
                    span.set_outputs(result)
                    return result

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with opened(args, kwargs) as span:
                result = fn(*args, **kwargs)
                span.set_outputs(result)
                return result

        return wrapper

    if func is not None and callable(func):
        return decorate(func)
    return decorate


# ------------------------------------------------------------------------------------- reading back
def flush_trace_async_logging(timeout: float = 30.0) -> bool:
    """Wait until every finished trace has been written (MLflow's name); False if it timed out."""
    return get_exporter().flush(timeout)


def export_stats() -> Any:
    """Counts of exported, dropped and failed traces and spans in this process."""
    return get_exporter().stats


def get_trace(trace_id: str) -> Trace:
    flush_trace_async_logging()
    trace: Trace = _client().get_trace(trace_id)
    return trace


def search_traces(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str | None = None,
    max_results: int | None = None,
    order_by: Sequence[str] | None = None,
    run_id: str | None = None,
    return_type: str = "list",
    include_spans: bool = True,
) -> Any:
    """Traces matching a filter (MLflow's trace fields, plus OR and parentheses), newest first.

    ``return_type="list"`` gives :class:`Trace` objects; ``"pandas"`` a DataFrame with one row per trace.
    """
    flush_trace_async_logging()
    ids = [str(e) for e in experiment_ids] if experiment_ids else [run_fluent._resolve_experiment_id(None)]
    if run_id:
        clause = f"trace.run_id = '{run_id}'"
        filter_string = f"({filter_string}) AND {clause}" if filter_string else clause
    traces = _client().search_traces(ids, filter_string, max_results, order_by, include_spans=include_spans)
    if return_type == "list":
        return traces
    if return_type != "pandas":
        raise InvalidParameterError(f"Unsupported return_type {return_type!r}: use 'list' or 'pandas'")
    import pandas as pd  # heavy: only for the DataFrame form

    rows = [
        {
            "trace_id": t.info.trace_id,
            "request_time": t.info.request_time,
            "execution_duration": t.info.execution_duration,
            "state": t.info.state,
            "request_preview": t.info.request_preview,
            "response_preview": t.info.response_preview,
            "trace_metadata": t.info.trace_metadata,
            "tags": t.info.tags,
            "assessments": t.info.assessments,
            "spans": t.spans,
        }
        for t in traces
    ]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------- assessments
def _log_assessment(
    kind: str,
    trace_id: str,
    name: str,
    value: Any,
    source_type: str,
    source_id: str,
    rationale: str | None,
    metadata: dict[str, Any] | None,
    span_id: str | None,
    error: dict[str, Any] | None = None,
) -> Assessment:
    value = jsonable(value)
    if kind == "expectation" and isinstance(value, (dict, list)):
        payload: dict[str, Any] = {
            "serialized_value": {"serialization_format": "JSON_FORMAT", "value": to_json_text(value)}
        }
    else:
        payload = {"value": value}
    if error:
        payload["error"] = error
    assessment = Assessment(
        assessment_id="",
        trace_id=trace_id,
        name=name,
        kind=kind,
        value=value,
        payload=payload,
        source_type=source_type,
        source_id=source_id,
        span_id=span_id,
        rationale=rationale,
        metadata={str(k): str(v) for k, v in (metadata or {}).items()},
    )
    flush_trace_async_logging()
    return _client().log_assessment(assessment)


def log_feedback(
    trace_id: str,
    name: str = "feedback",
    value: Any = None,
    source_type: str = "CODE",
    source_id: str = "default",
    rationale: str | None = None,
    metadata: dict[str, Any] | None = None,
    span_id: str | None = None,
    error: dict[str, Any] | None = None,
) -> Assessment:
    """A judgement of a trace (``True``, a score, a label...), MLflow's ``log_feedback``."""
    return _log_assessment(
        "feedback", trace_id, name, value, source_type, source_id, rationale, metadata, span_id, error
    )


def log_expectation(
    trace_id: str,
    name: str,
    value: Any,
    source_type: str = "HUMAN",
    source_id: str = "default",
    metadata: dict[str, Any] | None = None,
    span_id: str | None = None,
) -> Assessment:
    """The expected output for a trace (ground truth), MLflow's ``log_expectation``."""
    return _log_assessment(
        "expectation", trace_id, name, value, source_type, source_id, None, metadata, span_id
    )
