"""``bh.openai.autolog()``: a span for every call of the OpenAI Python client, with MLflow's attributes.

Chat completions (sync, async and streamed), the Responses API and embeddings are traced: inputs are the
call's keyword arguments, outputs the response (for a stream, the chunks' text once it is consumed),
plus the model, the token usage (``mlflow.chat.tokenUsage``) and the span type (``CHAT_MODEL``,
``EMBEDDING``). A call inside a traced function is its child span; a call outside starts its own trace.
Works against any OpenAI-compatible server the client is pointed at.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import threading
from collections.abc import Callable, Iterator
from typing import Any, Self

from bakehouse.client.tracing.fluent import _open_span
from bakehouse.client.tracing.span import LiveSpan, jsonable
from bakehouse.entities.trace import SpanAttribute, SpanType
from bakehouse.errors import InvalidParameterError

#: (module, class, method, span name, span type)
_TARGETS = [
    ("openai.resources.chat.completions", "Completions", "create", "Completions", SpanType.CHAT_MODEL),
    (
        "openai.resources.chat.completions",
        "AsyncCompletions",
        "create",
        "AsyncCompletions",
        SpanType.CHAT_MODEL,
    ),
    ("openai.resources.responses", "Responses", "create", "Responses", SpanType.CHAT_MODEL),
    ("openai.resources.responses", "AsyncResponses", "create", "AsyncResponses", SpanType.CHAT_MODEL),
    ("openai.resources.embeddings", "Embeddings", "create", "Embeddings", SpanType.EMBEDDING),
    ("openai.resources.embeddings", "AsyncEmbeddings", "create", "AsyncEmbeddings", SpanType.EMBEDDING),
]
_originals: dict[tuple[str, str], Callable[..., Any]] = {}
_lock = threading.Lock()


def _import_openai() -> Any:
    try:
        import openai  # optional dependency: only needed when autologging it
    except ImportError as exc:
        raise InvalidParameterError(
            "bh.openai.autolog() needs the OpenAI client: pip install 'bakehouse[openai]'"
        ) from exc
    return openai


def _usage(response: Any) -> dict[str, int] | None:
    usage = getattr(response, "usage", None)
    if usage is None:
        return None
    prompt = getattr(usage, "prompt_tokens", None)
    if prompt is None:
        prompt = getattr(usage, "input_tokens", None)
    completion = getattr(usage, "completion_tokens", None)
    if completion is None:
        completion = getattr(usage, "output_tokens", None)
    total = getattr(usage, "total_tokens", None)
    out = {"input_tokens": prompt, "output_tokens": completion, "total_tokens": total}
    return {k: int(v) for k, v in out.items() if isinstance(v, int)} or None


def _begin(name: str, span_type: str, kwargs: dict[str, Any]) -> LiveSpan:
    span = _open_span(name, span_type, None)
    span.set_inputs(kwargs)
    span.set_attribute(SpanAttribute.MESSAGE_FORMAT, "openai")
    span.set_attribute(SpanAttribute.MODEL_PROVIDER, "openai")
    if kwargs.get("model") is not None:
        span.set_attribute(SpanAttribute.MODEL, kwargs["model"])
    if kwargs.get("tools"):
        span.set_attribute("mlflow.chat.tools", kwargs["tools"])
    return span


def _finish(span: LiveSpan, response: Any) -> None:
    span.set_outputs(response)
    usage = _usage(response)
    if usage:
        span.set_attribute(SpanAttribute.CHAT_USAGE, usage)
    model = getattr(response, "model", None)
    if isinstance(model, str):
        span.set_attribute(SpanAttribute.MODEL, model)
    span.end()


class _TracedStream:
    """A streamed chat completion: chunks pass through unchanged; the span ends when the stream does."""

    def __init__(self, stream: Any, span: LiveSpan) -> None:
        self._stream = stream
        self._span = span
        self._text: list[str] = []
        self._usage: dict[str, int] | None = None
        self._count = 0

    def _record(self, chunk: Any) -> None:
        self._count += 1
        for choice in getattr(chunk, "choices", None) or []:
            delta = getattr(choice, "delta", None)
            content = getattr(delta, "content", None)
            if content:
                self._text.append(content)
        self._usage = _usage(chunk) or self._usage

    def _done(self, exc: BaseException | None = None) -> None:
        if self._span.end_time_ns is not None:
            return
        if exc is not None:
            self._span.record_exception(exc)
        self._span.set_outputs({"content": "".join(self._text), "chunks": self._count})
        if self._usage:
            self._span.set_attribute(SpanAttribute.CHAT_USAGE, self._usage)
        self._span.end()

    def __iter__(self) -> Iterator[Any]:
        try:
            for chunk in self._stream:
                self._record(chunk)
                yield chunk
        except BaseException as exc:
            self._done(exc)
            raise
        self._done()

    async def __aiter__(self) -> Any:
        try:
            async for chunk in self._stream:
                self._record(chunk)
                yield chunk
        except BaseException as exc:
            self._done(exc)
            raise
        self._done()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        closer = getattr(self._stream, "close", None)
        result = closer() if closer else None
        if inspect.isawaitable(result):
            await result
        self._done()

    def close(self) -> None:
        closer = getattr(self._stream, "close", None)
        if closer is not None:
            closer()
        self._done()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _wrap(original: Callable[..., Any], name: str, span_type: str) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def traced_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            span = _begin(name, span_type, jsonable(kwargs))
            try:
                response = await original(self, *args, **kwargs)
            except BaseException as exc:
                span.record_exception(exc)
                span.end()
                raise
            if kwargs.get("stream"):
                return _TracedStream(response, span)
            _finish(span, response)
            return response

        return traced_async

    @functools.wraps(original)
    def traced(self: Any, *args: Any, **kwargs: Any) -> Any:
        span = _begin(name, span_type, jsonable(kwargs))
        try:
            response = original(self, *args, **kwargs)
        except BaseException as exc:
            span.record_exception(exc)
            span.end()
            raise
        if kwargs.get("stream"):
            return _TracedStream(response, span)
        _finish(span, response)
        return response

    return traced


def autolog(disable: bool = False, log_traces: bool = True) -> None:
    """Trace every OpenAI client call from now on (``disable=True`` or ``log_traces=False`` undoes it)."""
    _import_openai()
    with _lock:
        for module_name, class_name, method, span_name, span_type in _TARGETS:
            try:
                cls = getattr(importlib.import_module(module_name), class_name)
            except (ImportError, AttributeError):  # an older client without this API: nothing to trace
                continue
            key = (module_name, f"{class_name}.{method}")
            if disable or not log_traces:
                if key in _originals:
                    setattr(cls, method, _originals.pop(key))
                continue
            if key in _originals:
                continue
            original = getattr(cls, method)
            _originals[key] = original
            setattr(cls, method, _wrap(original, span_name, span_type))
