"""Buffered metric logging: the reason a ``log_metric`` loop runs at memory speed.

Points are validated synchronously (bad input raises at the call site), kept in memory, and written in
batches of up to 1000 per run: by the caller when a batch fills, by a background thread at least every
``flush_interval`` seconds, and synchronously by ``flush()`` — which the client calls before every read,
``end_run`` and at interpreter exit. A failed background write keeps its points and surfaces the error
on the next call; nothing validated is silently dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from bakehouse.entities import Metric
from bakehouse.errors import BakehouseError, ErrorCode
from bakehouse.store.validation import MAX_BATCH_METRICS

logger = logging.getLogger(__name__)

_TRANSIENT = {
    ErrorCode.TEMPORARILY_UNAVAILABLE,
    ErrorCode.REQUEST_LIMIT_EXCEEDED,
    ErrorCode.INTERNAL_ERROR,
    ErrorCode.DEADLINE_EXCEEDED,
    ErrorCode.IO_ERROR,
}


class MetricBatcher:
    def __init__(self, store: Any, flush_interval: float = 1.0, batch_size: int = MAX_BATCH_METRICS) -> None:
        self.store = store
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self._pending: dict[str, list[Metric]] = {}
        self._count = 0
        self._lock = threading.Lock()  # guards _pending
        self._flush_lock = threading.Lock()  # one writer at a time keeps points in order
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False

    def add(self, run_id: str, metric: Metric) -> None:
        self._raise_pending_error()
        with self._lock:
            self._pending.setdefault(run_id, []).append(metric)
            self._count += 1
            full = self._count >= self.batch_size
        if full:
            self.flush()
        else:
            self._ensure_thread()

    def pending_count(self) -> int:
        with self._lock:
            return self._count

    def flush(self, run_id: str | None = None) -> None:
        """Write everything pending (or only one run's points) before returning."""
        with self._flush_lock:
            with self._lock:
                if run_id is None:
                    work, self._pending, self._count = self._pending, {}, 0
                else:
                    points = self._pending.pop(run_id, [])
                    self._count -= len(points)
                    work = {run_id: points} if points else {}
            self._write(work)
        self._raise_pending_error()

    def _write(self, work: dict[str, list[Metric]]) -> None:
        for run_id, points in work.items():
            for start in range(0, len(points), self.batch_size):
                chunk = points[start : start + self.batch_size]
                try:
                    self.store.log_batch(run_id, metrics=chunk)
                except BakehouseError as exc:
                    if exc.code in _TRANSIENT:
                        self._requeue(run_id, points[start:])
                    raise
                except Exception:
                    self._requeue(run_id, points[start:])
                    raise

    def _requeue(self, run_id: str, points: list[Metric]) -> None:
        with self._lock:
            self._pending[run_id] = points + self._pending.get(run_id, [])
            self._count += len(points)

    def _raise_pending_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._thread = threading.Thread(target=self._run, name="bakehouse-metric-flusher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            if self.pending_count() == 0:
                if self._closed:
                    return
                continue
            try:
                self.flush()
            except BakehouseError as exc:
                logger.warning("Background metric flush failed: %s", exc)
                if exc.code not in _TRANSIENT:
                    self._error = exc  # permanent: surfaced on the caller's next call
                time.sleep(min(self.flush_interval, 1.0))
            except Exception as exc:  # the thread must outlive any error: points were re-queued, retry later
                # The REST transport turns network failures into BakehouseError, so what lands here is
                # unexpected (a database driver error, a bug): keep its traceback in the log.
                logger.warning("Background metric flush failed, will retry: %s", exc, exc_info=True)
                time.sleep(min(self.flush_interval, 1.0))

    def close(self) -> None:
        """Flush and stop the background thread (called at interpreter exit)."""
        self._closed = True
        self._wake.set()
        self.flush()
