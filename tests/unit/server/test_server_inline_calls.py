"""Short trace calls run on the event loop with SQLite, and fall back to a worker thread when the write lock
is held by another connection (nothing written twice, nothing lost)."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from server_app_helpers import SyncASGIClient

from bakehouse.entities.trace import Span
from bakehouse.errors import WriteLockBusyError
from bakehouse.store.db.engine import no_lock_wait
from bakehouse.store.tracking.sql.store import SqlTrackingStore
from bakehouse.wire.otlp import encode_export_request

V3 = "/api/3.0/mlflow/traces"


def test_a_write_that_would_wait_fails_at_once_and_writes_nothing(tmp_path: Path) -> None:
    store = SqlTrackingStore(f"sqlite:///{tmp_path / 'db.sqlite'}", str(tmp_path / "artifacts"))
    eid = store.create_experiment("kept")
    other = sqlite3.connect(tmp_path / "db.sqlite", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        started = time.perf_counter()
        with no_lock_wait(), pytest.raises(WriteLockBusyError):
            store.create_experiment("not written")
        assert time.perf_counter() - started < 1.0  # no busy wait (the timeout is 60 s)
        with no_lock_wait():  # readers never wait in WAL mode
            assert store.get_experiment(eid).name == "kept"
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert {e.name for e in store.search_experiments()} == {"kept", "Default"}
    assert store.create_experiment("after") != eid  # the pooled connection waits again as usual


def _spans(otel_id: str) -> list[Span]:
    now = time.time_ns()
    return [Span(f"tr-{otel_id}", "a" * 16, None, "root", now, now + 1_000_000, "OK", "", {"k": 1})]


def test_spans_and_trace_info_wait_for_a_busy_lock_on_a_worker_thread(app: Any, api: SyncASGIClient) -> None:
    eid = str(api.post("/api/2.0/mlflow/experiments/create", json={"name": "e"}).json()["experiment_id"])
    database = app.state.tracking_store.db.engine.url.database
    assert app.state.tracking_store.answers_inline
    otel_id = uuid.uuid4().hex
    holder = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(0.5, lambda: holder.execute("ROLLBACK"))
    release.start()
    try:
        started = time.perf_counter()
        response = api.post(
            "/v1/traces",
            content=encode_export_request(_spans(otel_id)),
            headers={"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": eid},
        )
        assert response.status_code == 200, response.text
        assert time.perf_counter() - started >= 0.4  # it waited for the lock (on a thread), then wrote
    finally:
        release.join()
        holder.close()
    got = api.get(f"{V3}/get", params={"trace_id": f"tr-{otel_id}"}).json()["trace"]
    assert [s["name"] for s in got["spans"]] == ["root"]
    assert got["trace_info"]["state"] == "OK"
