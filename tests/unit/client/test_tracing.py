"""Bakehouse's tracing API in-process over a real SQLite store: parenting in every kind of code, what a
span records, and an exporter that never slows or breaks traced code when the server is down."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import bakehouse as bh
from bakehouse.client.tracing import exporter as exporter_module
from bakehouse.entities.trace import Trace


@pytest.fixture
def traced(tmp_tracking_uri: str) -> Iterator[str]:
    bh.set_tracking_uri(tmp_tracking_uri)
    bh.set_experiment("tracing-unit")
    yield tmp_tracking_uri
    bh.flush_trace_async_logging()


def tree(trace: Trace) -> dict[str, str | None]:
    """name -> parent name (names are unique in these tests)."""
    by_id = {s.span_id: s for s in trace.spans}
    return {s.name: by_id[s.parent_span_id].name if s.parent_span_id else None for s in trace.spans}


def last_trace() -> Trace:
    trace_id = bh.get_last_active_trace_id()
    assert trace_id is not None
    return bh.get_trace(trace_id)


def test_sync_nesting_inputs_outputs_and_exceptions(traced: str) -> None:
    @bh.trace(span_type="TOOL", attributes={"version": 2})
    def tool(x: int, scale: float = 1.5) -> float:
        return x * scale

    @bh.trace
    def fails() -> None:
        raise KeyError("missing")

    @bh.trace(name="root")
    def root(q: str) -> str:
        tool(2)
        with pytest.raises(KeyError):
            fails()
        with bh.start_span("block", span_type="RETRIEVER") as span:
            span.set_inputs({"q": q})
            span.set_outputs(["a", "b"])
            assert bh.get_current_active_span() is span
        return q.upper()

    assert root("hi") == "HI"
    trace = last_trace()
    assert tree(trace) == {"root": None, "tool": "root", "fails": "root", "block": "root"}
    spans = {s.name: s for s in trace.spans}
    assert spans["tool"].inputs == {"x": 2, "scale": 1.5} and spans["tool"].outputs == 3.0
    assert spans["tool"].span_type == "TOOL" and spans["tool"].attributes["version"] == 2
    assert spans["fails"].status_code == "ERROR" and spans["fails"].status_message == "KeyError: 'missing'"
    assert spans["fails"].events[0].name == "exception"
    assert spans["fails"].events[0].attributes["exception.type"] == "KeyError"
    assert spans["block"].outputs == ["a", "b"] and spans["block"].span_type == "RETRIEVER"
    assert trace.info.state == "OK" and trace.info.tags["mlflow.traceName"] == "root"
    assert trace.info.request_preview == '{"q": "hi"}' and trace.info.response_preview == '"HI"'


def test_generators_and_async_generators_keep_their_children(traced: str) -> None:
    @bh.trace
    def leaf(i: int) -> int:
        return i * 10

    @bh.trace
    def numbers(n: int) -> Iterator[int]:
        for i in range(n):
            yield leaf(i)

    @bh.trace
    async def aleaf(i: int) -> int:
        return i

    @bh.trace
    async def anumbers(n: int) -> AsyncIterator[int]:
        for i in range(n):
            yield await aleaf(i)

    @bh.trace
    def root() -> list[int]:
        out = list(numbers(2))

        async def consume() -> list[int]:
            return [x async for x in anumbers(2)]

        return out + asyncio.run(consume())

    assert root() == [0, 10, 0, 1]
    trace = last_trace()
    parents = [(s.name, tree(trace)[s.name]) for s in trace.spans]
    assert sorted(parents) == sorted(
        [
            ("root", None),
            ("numbers", "root"),
            ("leaf", "numbers"),
            ("leaf", "numbers"),
            ("anumbers", "root"),
            ("aleaf", "anumbers"),
            ("aleaf", "anumbers"),
        ]
    )
    spans = {s.name: s for s in trace.spans}
    assert spans["numbers"].outputs == [0, 10] and spans["anumbers"].outputs == [0, 1]


def test_threads_and_asyncio_tasks_keep_the_right_parent(traced: str) -> None:
    @bh.trace
    def work(i: int) -> int:
        return i

    @bh.trace
    async def awork(i: int) -> int:
        await asyncio.sleep(0.001)
        return work(i)

    @bh.trace
    def root() -> None:
        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(contextvars.copy_context().run, work, i) for i in range(4)]
            assert [f.result() for f in futures] == [0, 1, 2, 3]

        async def tasks() -> None:
            await asyncio.gather(*(asyncio.create_task(awork(i)) for i in range(3)))

        asyncio.run(tasks())

    root()
    trace = last_trace()
    by_id = {s.span_id: s for s in trace.spans}
    root_span = next(s for s in trace.spans if s.parent_span_id is None)
    threaded = [s for s in trace.spans if s.name == "work" and s.parent_span_id == root_span.span_id]
    nested = [s for s in trace.spans if s.name == "work" and by_id[s.parent_span_id].name == "awork"]
    assert len(threaded) == 4 and len(nested) == 3
    assert all(by_id[s.parent_span_id].parent_span_id == root_span.span_id for s in nested)
    assert len({s.trace_id for s in trace.spans}) == 1


def test_traces_inside_a_run_are_found_by_run_and_tags(traced: str) -> None:
    @bh.trace
    def step(x: int) -> int:
        bh.update_current_trace(tags={"flavour": "plain"}, metadata={"customer": "c1"})
        return x

    with bh.start_run() as run:
        step(1)
    step(2)
    inside = bh.search_traces(run_id=run.info.run_id)
    assert len(inside) == 1 and inside[0].info.trace_metadata["mlflow.sourceRun"] == run.info.run_id
    assert len(bh.search_traces(filter_string="tags.flavour = 'plain' AND metadata.customer = 'c1'")) == 2
    assert bh.search_traces(filter_string="span.name = 'step'", return_type="pandas").shape[0] == 2
    feedback = bh.log_feedback(inside[0].info.trace_id, "good", True, rationale="yes")
    assert feedback.assessment_id
    assert [t.info.trace_id for t in bh.search_traces(filter_string="feedback.good = 'true'")] == [
        inside[0].info.trace_id
    ]


def test_update_current_trace_outside_a_span_is_refused(traced: str) -> None:
    with pytest.raises(bh.errors.InvalidParameterError, match="inside a traced function"):
        bh.update_current_trace(tags={"a": "b"})


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there once the socket is closed


def test_a_down_server_neither_slows_nor_breaks_traced_code(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bounded queue: traces beyond it are dropped and counted; failures are counted; one warning."""
    url = _closed_port_url()
    bh.set_tracking_uri(url)
    monkeypatch.setattr("bakehouse.client.fluent._resolve_experiment_id", lambda explicit: "0")
    exporter = exporter_module.configure_exporter(max_queue=5)
    gate = threading.Event()
    real_write = exporter._write

    def slow_write(batch: Any) -> None:  # hold the worker so the queue fills up deterministically
        gate.wait(10)
        real_write(batch)

    monkeypatch.setattr(exporter, "_write", slow_write)

    @bh.trace
    def handler(i: int) -> int:
        return i + 1

    caplog.set_level(logging.WARNING, logger="bakehouse.client.tracing.exporter")
    started = time.perf_counter()
    results = [handler(i) for i in range(200)]
    elapsed = time.perf_counter() - started
    assert results == list(range(1, 201))
    assert elapsed < 2.0, f"200 traced calls took {elapsed:.2f}s with the server down"
    stats = bh.tracing.export_stats()
    # held by the worker (what it drained at once: at most 1 + 5) plus a full queue (5); the rest dropped
    assert stats.dropped_traces >= 200 - 2 * 5 - 1 and stats.dropped_spans == stats.dropped_traces
    gate.set()
    assert bh.flush_trace_async_logging(timeout=60)
    stats = bh.tracing.export_stats()
    assert stats.failed_traces == 200 - stats.dropped_traces and stats.exported_traces == 0
    assert "TEMPORARILY_UNAVAILABLE" in (stats.last_error or "") or "reach" in (stats.last_error or "")
    warnings = [r for r in caplog.records if "dropping traces" in r.getMessage()]
    assert len(warnings) == 1
    exporter_module.configure_exporter()
