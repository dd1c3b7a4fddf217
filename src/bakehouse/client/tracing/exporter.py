"""Asynchronous trace export: traced code hands finished traces to a queue and goes on.

One daemon thread drains a bounded queue and writes to the tracking store: the spans first (one
``log_spans`` call per store and experiment for everything waiting, i.e. one OTLP request to a server),
then each trace's info (``start_trace``). Putting into the queue never blocks: when it is full (the
server is down or slow), the trace is dropped and counted, and one warning is logged for the process;
a failed write is counted the same way. Nothing here ever raises into traced code.
"""

from __future__ import annotations

import atexit
import logging
import queue
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bakehouse.entities.trace import Span, TraceInfo

logger = logging.getLogger(__name__)

#: Traces (or late span batches) waiting to be written; beyond this, new ones are dropped and counted.
DEFAULT_QUEUE_SIZE = 2000
#: How long ``flush`` (and the exit hook) waits for the queue to drain.
DEFAULT_FLUSH_TIMEOUT = 30.0


@dataclass
class ExportItem:
    store: Any
    experiment_id: str
    spans: list[Span]
    info: TraceInfo | None = None  # None: spans of a trace already exported (they ended late)
    run_id: str | None = None


@dataclass
class ExportStats:
    exported_traces: int = 0
    exported_spans: int = 0
    dropped_traces: int = 0  # the queue was full
    dropped_spans: int = 0
    failed_traces: int = 0  # the store refused or could not be reached
    failed_spans: int = 0
    last_error: str | None = None
    warned: bool = field(default=False, repr=False)


class TraceExporter:
    def __init__(self, max_queue: int = DEFAULT_QUEUE_SIZE) -> None:
        self.queue: queue.Queue[ExportItem] = queue.Queue(maxsize=max_queue)
        self.stats = ExportStats()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._busy = 0

    # ------------------------------------------------------------------------------- producer side
    def submit(self, item: ExportItem) -> bool:
        """Queue ``item`` without ever blocking; False (and counted) when the queue is full."""
        self._ensure_worker()
        try:
            self.queue.put_nowait(item)
            return True
        except queue.Full:
            with self._lock:
                self.stats.dropped_traces += 1 if item.info is not None else 0
                self.stats.dropped_spans += len(item.spans)
            self._warn_once(
                f"the export queue is full ({self.queue.maxsize} traces waiting): the tracking server is slow "
                "or unreachable"
            )
            return False

    def _warn_once(self, why: str) -> None:
        with self._lock:
            if self.stats.warned:
                return
            self.stats.warned = True
        logger.warning(
            "Bakehouse tracing: dropping traces because %s. Traced code is not affected; counts are in "
            "bakehouse.client.tracing.export_stats(). This warning is shown once.",
            why,
        )

    # ------------------------------------------------------------------------------- worker side
    def _ensure_worker(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="bakehouse-trace-export", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            first = self.queue.get()
            batch = [first]
            while len(batch) < 500:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            with self._lock:
                self._busy += len(batch)
            try:
                self._write(batch)
            finally:
                with self._lock:
                    self._busy -= len(batch)
                for _ in batch:
                    self.queue.task_done()

    def _write(self, batch: list[ExportItem]) -> None:
        groups: dict[tuple[int, str, str | None], list[ExportItem]] = defaultdict(list)
        for item in batch:
            groups[(id(item.store), item.experiment_id, item.run_id)].append(item)
        for (_, experiment_id, run_id), items in groups.items():
            store = items[0].store
            spans = [span for item in items for span in item.spans]
            try:
                store.log_spans(experiment_id, spans, run_id)
                for item in items:
                    if item.info is not None:
                        store.start_trace(item.info)
            except Exception as exc:
                with self._lock:
                    self.stats.failed_traces += sum(1 for i in items if i.info is not None)
                    self.stats.failed_spans += len(spans)
                    self.stats.last_error = f"{type(exc).__name__}: {exc}"
                logger.debug("Trace export failed", exc_info=True)
                self._warn_once(f"writing them failed ({type(exc).__name__}: {exc})")
                continue
            with self._lock:
                self.stats.exported_traces += sum(1 for i in items if i.info is not None)
                self.stats.exported_spans += len(spans)

    def flush(self, timeout: float = DEFAULT_FLUSH_TIMEOUT) -> bool:
        """Wait until everything queued so far is written (or failed); False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                idle = self.queue.unfinished_tasks == 0 and self._busy == 0
            if idle:
                return True
            time.sleep(0.005)
        return False


_exporter: TraceExporter | None = None
_exporter_lock = threading.Lock()


def get_exporter() -> TraceExporter:
    global _exporter
    if _exporter is None:
        with _exporter_lock:
            if _exporter is None:
                _exporter = TraceExporter()
    return _exporter


def configure_exporter(max_queue: int = DEFAULT_QUEUE_SIZE) -> TraceExporter:
    """Start over with a new exporter (a different queue size); what the old one held is flushed first."""
    global _exporter
    with _exporter_lock:
        if _exporter is not None:
            _exporter.flush(timeout=5.0)
        _exporter = TraceExporter(max_queue)
    return _exporter


def _flush_at_exit() -> None:
    if _exporter is not None:
        _exporter.flush(timeout=DEFAULT_FLUSH_TIMEOUT)


atexit.register(_flush_at_exit)
