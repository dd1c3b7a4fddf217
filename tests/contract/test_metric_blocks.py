"""A long history's packed read copy (``metric_blocks``) on SQLite, PostgreSQL and MySQL: the stream read
from blocks and rows equals the rows, whatever order, values or late points the history has; a late point
is returned exactly once; deleting a run deletes its blocks."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bakehouse.entities import Metric
from bakehouse.store.tracking.sql.history_stream import history_chunks
from bakehouse.store.tracking.sql.metric_blocks import blocks_of, proven_blocks
from bakehouse.store.tracking.sql.store import SqlTrackingStore
from bakehouse.wire.metric_stream import RECORD

#: small blocks, so a few thousand points cross several block boundaries
BLOCK = 1_000


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    uri = {
        "sqlite": lambda: f"sqlite:///{tmp_path / 'blocks.db'}",
        "postgres": lambda: request.getfixturevalue("postgres_uri"),
        "mysql": lambda: request.getfixturevalue("mysql_uri"),
    }[request.param]()
    out = SqlTrackingStore(uri, str(tmp_path / "artifacts"))
    out.metric_seals.block_points = BLOCK
    out.metric_seals.lag_ms = 0
    yield out
    out.engine.dispose()


def _run(store: SqlTrackingStore) -> str:
    eid = store.create_experiment(f"blocks-{np.random.randint(1 << 30)}")
    return str(store.create_run(eid, "u", 1_000, [], "r").info.run_id)


def _points(shape: str, n: int) -> list[tuple[int, int, float]]:
    """(step, timestamp, value) points of one history, in the order they are written."""
    i = np.arange(n)
    rng = np.random.default_rng(7)
    values = np.cos(i / 10.0)
    values[::97], values[5::89], values[11::83] = np.nan, np.inf, -np.inf
    values[13::101] = 0.0  # a finite zero beside NaN (stored 0.0, kind 1) on the same timestamp and step
    if shape == "dense":
        steps, stamps = i, 10_000 + i
    elif shape == "ties":  # many points on one timestamp, several on one (timestamp, step): values decide
        steps, stamps = i % 3, 10_000 + i // 50
    else:  # out of order: written shuffled, timestamps going back and forth
        steps, stamps = i, 10_000 + (i * 7_919) % n
    points = [(int(s), int(t), float(v)) for s, t, v in zip(steps, stamps, values, strict=True)]
    return [points[j] for j in rng.permutation(n)] if shape == "out_of_order" else points


def _log(
    store: SqlTrackingStore, run_id: str, points: list[tuple[int, int, float]], batch: int = 500
) -> None:
    for start in range(0, len(points), batch):
        store.log_batch(
            run_id, metrics=[Metric("loss", v, t, s) for s, t, v in points[start : start + batch]]
        )


def _rows(store: SqlTrackingStore, run_id: str) -> np.ndarray:
    """The history as the row reader returns it (get_metric_history), as ``RECORD`` values."""
    return np.array(
        [(m.step, m.timestamp, m.value) for m in store.get_metric_history(run_id, "loss")], dtype=RECORD
    )


def _streamed(store: SqlTrackingStore, run_id: str, chunk_points: int = 300) -> np.ndarray:
    chunks = list(history_chunks(store.engine, run_id, "loss", chunk_points=chunk_points))
    assert all(0 < len(c) <= chunk_points and c.dtype == RECORD for c in chunks)
    return np.concatenate(chunks) if chunks else np.empty(0, dtype=RECORD)


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    """Equal point for point, bit for bit (NaN, infinities and -0.0 included)."""
    return len(got) == len(want) and got.tobytes() == want.tobytes()


def _proven(store: SqlTrackingStore, run_id: str) -> int:
    """Blocks the stream would use (proven by counting on every database)."""
    with store.engine.connect() as conn:
        blocks = proven_blocks(conn, run_id, "loss", count=True)
        return 0 if blocks is None else len(blocks)


@pytest.mark.parametrize("shape", ["dense", "ties", "out_of_order"])
def test_a_sealed_history_streams_as_its_rows(store: SqlTrackingStore, shape: str) -> None:
    run_id = _run(store)
    store.metric_seals.block_points = 0  # written without sealing (an import), then sealed at once
    _log(store, run_id, _points(shape, 5_500))
    store.metric_seals.block_points = BLOCK
    want = _rows(store, run_id)
    assert _same(_streamed(store, run_id), want)  # from rows
    assert store.seal_metric_history(run_id, "loss") == 5 and _proven(store, run_id) == 5
    assert _same(_streamed(store, run_id), want)  # 5 blocks cut in chunks of 300, then 500 rows
    assert _same(_streamed(store, run_id, chunk_points=65_536), want)


def test_the_write_path_seals_a_history_logged_in_order(store: SqlTrackingStore) -> None:
    run_id = _run(store)
    _log(store, run_id, _points("dense", 4_700))
    with store.engine.connect() as conn:
        blocks = blocks_of(conn, run_id, "loss")
    assert [b.n_points for b in blocks] == [BLOCK] * 4 and _proven(store, run_id) == 4
    assert _same(_streamed(store, run_id), _rows(store, run_id))
    _log(store, run_id, [(s, 90_000 + s, 1.0) for s in range(4_700, 4_800)])  # after the sealed range
    assert _proven(store, run_id) == 4 and _same(_streamed(store, run_id), _rows(store, run_id))


def test_a_late_point_inside_a_sealed_range_is_streamed_once(store: SqlTrackingStore) -> None:
    run_id = _run(store)
    points = _points("dense", 4_200)
    _log(store, run_id, points)
    assert _proven(store, run_id) == 4
    late = (123_456, 10_000 + 1_500, 0.25)  # inside block 1, a new (timestamp, step)
    _log(store, run_id, [late, points[2_500]])  # and a point already stored (ignored: no new row)
    want = _rows(store, run_id)
    assert len(want) == 4_201 and int((want["step"] == 123_456).sum()) == 1
    assert _same(_streamed(store, run_id), want)
    assert _proven(store, run_id) in (0, 1)  # SQLite's trigger kept block 0; elsewhere the count fails
    store.seal_metric_history(run_id, "loss")  # sealed again from what stands
    assert _proven(store, run_id) == 4 and _same(_streamed(store, run_id), want)


def test_points_written_straight_into_a_sealed_range_are_streamed(store: SqlTrackingStore) -> None:
    """An import or a transfer writes rows without the store: the blocks must not hide them."""
    run_id = _run(store)
    _log(store, run_id, _points("dense", 3_000))
    assert _proven(store, run_id) == 3
    with store.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO metrics (run_uuid, {k}, {t}, step, value, value_kind) "
            "VALUES ('{r}', 'loss', 10500, -1, 0.0, 1)".format(
                r=run_id,
                k='"key"' if conn.dialect.name != "mysql" else "`key`",
                t='"timestamp"' if conn.dialect.name != "mysql" else "`timestamp`",
            )
        )
    want = _rows(store, run_id)
    assert len(want) == 3_001 and _same(_streamed(store, run_id), want)


def test_a_history_left_half_read_from_blocks_releases_its_connection(store: SqlTrackingStore) -> None:
    run_id = _run(store)
    _log(store, run_id, _points("dense", 3_300))
    assert _proven(store, run_id) == 3
    before = threading.active_count()
    chunks = history_chunks(store.engine, run_id, "loss", chunk_points=400)
    assert len(next(chunks)) == 400 and len(next(chunks)) == 400
    chunks.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before and store.engine.pool.checkedout() == 0


def test_deleting_a_run_or_its_experiment_deletes_its_blocks(store: SqlTrackingStore) -> None:
    def blocks(run_id: str) -> int:
        with store.engine.connect() as conn:
            return len(blocks_of(conn, run_id, "loss"))

    first, second = _run(store), _run(store)
    for run_id in (first, second):
        _log(store, run_id, _points("dense", 2_100))
        assert blocks(run_id) == 2
    store.delete_run(first)
    assert blocks(first) == 2  # a deleted run can be restored: its blocks stay until gc
    store.hard_delete_run(first)
    assert blocks(first) == 0
    experiment_id = store.get_run(second).info.experiment_id
    store.delete_experiment(experiment_id)
    store.hard_delete_experiment(experiment_id)
    assert blocks(second) == 0


def test_points_logged_while_the_history_is_sealed_are_streamed_once(store: SqlTrackingStore) -> None:
    """A writer logs late points all over the history while it is sealed again and again: whatever
    interleaving happened, the stream is the rows (SQLite: one writer at a time and its trigger; PostgreSQL
    and MySQL: the count in the stream's snapshot)."""
    run_id = _run(store)
    _log(store, run_id, _points("dense", 4_000))
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        rng = np.random.default_rng(11)
        while not stop.is_set() and len(written) < 2_000:
            stamps = rng.integers(10_000, 14_000, size=20)
            steps = [1_000_000 + len(written) + j for j in range(20)]
            store.log_batch(
                run_id, metrics=[Metric("loss", 0.5, int(t), s) for t, s in zip(stamps, steps, strict=True)]
            )
            written.extend(steps)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        for _ in range(6):
            store.seal_metric_history(run_id, "loss")
    finally:
        stop.set()
        writer.join()
    want = _rows(store, run_id)
    assert len(want) == 4_000 + len(written) and _same(_streamed(store, run_id), want)
    store.seal_metric_history(run_id, "loss")
    assert _proven(store, run_id) == len(want) // BLOCK and _same(_streamed(store, run_id), want)
