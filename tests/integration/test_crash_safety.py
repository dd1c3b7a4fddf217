"""Crash safety: SIGKILL the server (its whole process group) while 8 clients log; after a restart on the same
store every write the server acknowledged (HTTP 200) is there, and the database passes an integrity check
(SQLite with one and with two worker processes; PostgreSQL with two, checked with amcheck).

Writers go through our REST store (``RestTrackingStore`` over ``HttpTransport``) with retries off, so a
call that returned is exactly a write the server answered 200 to. Each write is unique (run, kind, n), so
"present after restart" is checked point by point: metric steps via get-history, params and tags via get-run.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from server_process import Server, start_server

from bakehouse.entities import Metric, Param, RunTag
from bakehouse.errors import BakehouseError
from bakehouse.settings import HttpSettings
from bakehouse.store.tracking.rest import RestTrackingStore
from bakehouse.wire.transport import HttpTransport

WRITERS = 8
#: acknowledged writes to collect before the kill (the writers keep going: the kill lands mid-stream)
ACKS_BEFORE_KILL = 160
NO_RETRIES = HttpSettings(
    username=None,
    password=None,
    token=None,
    insecure_tls=False,
    timeout=20.0,
    max_retries=0,
    backoff_factor=0.1,
)


def rest_store(server: Server) -> RestTrackingStore:
    return RestTrackingStore(HttpTransport(server.url, settings=NO_RETRIES))


@dataclass
class Writer:
    run_id: str
    metric_steps: list[int] = field(default_factory=list)  # log_metric "m", step n  (acknowledged)
    batch_steps: list[int] = field(default_factory=list)  # log_batch: metric "b" step n, param p<n>, tag t<n>
    failed: list[str] = field(default_factory=list)


def write_until_refused(server: Server, writer: Writer, stop: threading.Event) -> None:
    store = rest_store(server)
    n = 0
    while not stop.is_set():
        now = int(time.time() * 1000)
        try:
            if n % 2 == 0:
                store.log_metric(writer.run_id, Metric("m", float(n), now, n))
                writer.metric_steps.append(n)
            else:
                store.log_batch(
                    writer.run_id,
                    metrics=[Metric("b", n / 2, now, n)],
                    params=[Param(f"p{n}", str(n))],
                    tags=[RunTag(f"t{n}", f"v{n}")],
                )
                writer.batch_steps.append(n)
        except BakehouseError as exc:  # the server is gone: this write was never acknowledged
            writer.failed.append(f"{type(exc).__name__}: {exc}")
            return
        n += 1


def crash(tmp_path: Path, backend_store_uri: str, workers: int = 1) -> list[Writer]:
    """Log from 8 threads and SIGKILL the server's process group mid-stream; return what was acknowledged."""
    server = start_server(
        tmp_path / "first",
        backend_store_uri=backend_store_uri,
        artifacts_destination=str(tmp_path / "artifacts"),
        extra_args=["--workers", str(workers)],
    )
    try:
        setup = rest_store(server)
        experiment_id = setup.create_experiment("crash-safety")
        writers = [
            Writer(
                setup.create_run(
                    experiment_id,
                    user_id="crash",
                    start_time=int(time.time() * 1000),
                    tags=[],
                    run_name=f"writer-{i}",
                ).info.run_id
            )
            for i in range(WRITERS)
        ]
        stop = threading.Event()
        threads = [
            threading.Thread(target=write_until_refused, args=(server, w, stop), daemon=True) for w in writers
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        # kill only once every writer has had both kinds of write acknowledged (a busy 2-core machine can
        # leave one thread's first request queued long after the others have logged hundreds)
        while sum(len(w.metric_steps) + len(w.batch_steps) for w in writers) < ACKS_BEFORE_KILL or not all(
            w.metric_steps and w.batch_steps for w in writers
        ):
            assert time.monotonic() < deadline, f"the writers are too slow:\n{server.log()}"
            assert all(t.is_alive() for t in threads), [w.failed for w in writers]
            time.sleep(0.01)
        os.killpg(server.proc.pid, signal.SIGKILL)  # no shutdown, no flush: the whole group dies now
        server.proc.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=30)
        stop.set()
        assert not any(t.is_alive() for t in threads)
    finally:
        server.stop()
    assert server.proc.returncode == -signal.SIGKILL
    # every writer was cut off mid-stream by the kill
    assert all(w.failed for w in writers), [w.failed for w in writers]
    return writers


def assert_acknowledged_writes_survived(
    tmp_path: Path, backend_store_uri: str, writers: list[Writer]
) -> None:
    restarted = start_server(
        tmp_path / "second",
        backend_store_uri=backend_store_uri,
        artifacts_destination=str(tmp_path / "artifacts"),
    )
    try:
        store = rest_store(restarted)
        for writer in writers:
            assert writer.metric_steps and writer.batch_steps, (
                "each writer got writes acknowledged before the kill"
            )
            m_steps = {int(p.step) for p in store.get_metric_history(writer.run_id, "m")}
            b_points = {int(p.step): p.value for p in store.get_metric_history(writer.run_id, "b")}
            missing_m = set(writer.metric_steps) - m_steps
            missing_b = set(writer.batch_steps) - set(b_points)
            assert not missing_m and not missing_b, f"acknowledged metric steps lost: {missing_m} {missing_b}"
            assert all(b_points[n] == n / 2 for n in writer.batch_steps)
            data = store.get_run(writer.run_id).data
            for n in writer.batch_steps:
                assert data.params.get(f"p{n}") == str(n), f"acknowledged param p{n} lost"
                assert data.tags.get(f"t{n}") == f"v{n}", f"acknowledged tag t{n} lost"
            # latest value = the point with the greatest step, as acknowledged (or the unacknowledged next one)
            assert data.metrics["m"] >= float(max(writer.metric_steps))
        assert "Traceback" not in restarted.log()
    finally:
        restarted.stop()


def assert_latest_metrics_consistent(rows: Callable[[str], list[tuple[Any, ...]]]) -> None:
    """latest_metrics holds, per (run, key), the point with the greatest (step, timestamp, value)."""
    best: dict[tuple[str, str], tuple[int, int, float]] = {}
    for run_uuid, key, step, timestamp, value in rows(
        "SELECT run_uuid, key, step, timestamp, value FROM metrics"
    ):
        point = (int(step), int(timestamp), float(value))
        best[(run_uuid, key)] = max(best.get((run_uuid, key), point), point)
    latest = {
        (r, k): (int(s), int(t), float(v))
        for r, k, s, t, v in rows("SELECT run_uuid, key, step, timestamp, value FROM latest_metrics")
    }
    assert latest == best
    orphans = rows("SELECT count(*) FROM metrics WHERE run_uuid NOT IN (SELECT run_uuid FROM runs)")
    assert orphans == [(0,)]


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2], ids=["one-worker", "two-workers"])
def test_sqlite_survives_sigkill_mid_stream(tmp_path: Path, workers: int) -> None:
    """With two workers, two processes write the same SQLite file when the kill lands (one may hold the lock)."""
    db_path = tmp_path / "crash.db"
    uri = f"sqlite:///{db_path}"
    writers = crash(tmp_path, uri, workers)
    assert_acknowledged_writes_survived(tmp_path, uri, writers)

    conn = sqlite3.connect(db_path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert_latest_metrics_consistent(lambda sql: conn.execute(sql).fetchall())
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.postgres
def test_postgresql_survives_sigkill_mid_stream(tmp_path: Path, postgres_uri: str) -> None:
    import psycopg  # test-only dependency

    writers = crash(tmp_path, postgres_uri, workers=2)
    assert_acknowledged_writes_survived(tmp_path, postgres_uri, writers)

    with psycopg.connect(
        postgres_uri.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True
    ) as conn:

        def rows(sql: str) -> list[tuple[Any, ...]]:
            return list(conn.execute(sql).fetchall())

        assert_latest_metrics_consistent(rows)
        # amcheck (contrib, part of the server package): every B-tree index matches its heap, every heap page is sane
        conn.execute("CREATE EXTENSION IF NOT EXISTS amcheck")
        indexes = rows(
            "SELECT c.oid, c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_am am ON am.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE am.amname = 'btree' AND n.nspname = 'public'"
        )
        assert len(indexes) >= 10
        for oid, name in indexes:
            conn.execute("SELECT bt_index_check(index => %s, heapallindexed => true)", (oid,))
        tables = rows(
            "SELECT c.oid, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = 'public'"
        )
        for oid, name in tables:
            assert rows(f"SELECT * FROM verify_heapam({int(oid)}::regclass)") == [], (
                f"heap corruption in {name}"
            )
