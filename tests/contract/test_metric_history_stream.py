"""A metric history iterated in chunks (every store, and Bakehouse's binary stream over real HTTP) and a
history sampled for charts by index seeks (MLflow's points where the steps are dense)."""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bakehouse.entities import Metric
from bakehouse.store.tracking.sql.store import SqlTrackingStore
from bakehouse.wire.metric_stream import RECORD

#: more than four of the store's 65,536-point chunks
BIG = 200_000
#: the history streamed over HTTP while the client's memory is traced: 12 MB as records
HTTP_POINTS = 500_000


def _run(store: Any) -> str:
    eid = store.create_experiment(f"stream-{id(store)}-{np.random.randint(1 << 30)}")
    return str(store.create_run(eid, "u", 1_000, [], "r").info.run_id)


def _expected(n: int) -> np.ndarray:
    """``n`` points in MLflow's history order (timestamp, step, value), with NaN / infinities and
    several points on one timestamp."""
    out = np.empty(n, dtype=RECORD)
    i = np.arange(n)
    out["timestamp"] = 1_000_000 + i // 3
    out["step"] = i
    out["value"] = np.sin(i / 1000.0)
    out["value"][7] = np.nan
    out["value"][65_536] = np.inf
    out["value"][n - 2] = -np.inf
    return out


def _bulk_insert(store: SqlTrackingStore, run_id: str, points: np.ndarray) -> None:
    """Rows straight into the metrics table (the store's log_batch takes 1,000 points per call)."""
    values = points["value"]
    kinds = np.select([np.isnan(values), values == np.inf, values == -np.inf], [1, 2, 3], 0)
    stored = np.where(kinds == 0, values, 0.0)
    rows = list(
        zip(
            [run_id] * len(points),
            ["loss"] * len(points),
            points["timestamp"].tolist(),
            points["step"].tolist(),
            stored.tolist(),
            kinds.tolist(),
            strict=True,
        )
    )
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # COPY: executemany of 10^5 rows takes half a minute here
            with (
                conn.connection.driver_connection.cursor() as pg,
                pg.copy(
                    "COPY metrics (run_uuid, key, timestamp, step, value, value_kind) FROM STDIN"
                ) as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        cursor = conn.connection.cursor()
        cursor.executemany(
            f"INSERT INTO metrics (run_uuid, key, timestamp, step, value, value_kind) VALUES ({', '.join([mark] * 6)})",
            rows,
        )


def _same(got: np.ndarray, want: np.ndarray) -> bool:
    return (
        np.array_equal(got["step"], want["step"])
        and np.array_equal(got["timestamp"], want["timestamp"])
        and np.array_equal(got["value"], want["value"], equal_nan=True)
    )


@pytest.fixture(params=["sqlite", "postgres"])
def sql_store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    uri = (
        f"sqlite:///{tmp_path / 'store.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_uri")
    )
    store = SqlTrackingStore(uri, str(tmp_path / "artifacts"))
    yield store
    store.engine.dispose()


def test_iterating_a_long_history_yields_every_point_once_in_order(sql_store: SqlTrackingStore) -> None:
    run_id = _run(sql_store)
    want = _expected(BIG)
    _bulk_insert(sql_store, run_id, want[::-1])  # written in reverse: the order comes from the read
    chunks = list(sql_store.iter_metric_history_arrays(run_id, "loss"))
    # at most 65,536 points a chunk; PostgreSQL's timestamp ranges may end in a shorter one
    assert len(chunks) >= math.ceil(BIG / 65_536) and all(c.dtype == RECORD for c in chunks)
    assert all(0 < len(c) <= 65_536 for c in chunks)
    assert _same(np.concatenate(chunks), want)
    assert list(sql_store.iter_metric_history_arrays(run_id, "other")) == []


def _shaped(timestamps: np.ndarray, steps: np.ndarray | None = None) -> np.ndarray:
    """Points on the given timestamps (NaN / infinities among them), in history order; by default a few
    points share a (timestamp, step), so their values decide the order."""
    out = np.empty(len(timestamps), dtype=RECORD)
    out["timestamp"] = timestamps
    out["step"] = np.arange(len(timestamps)) % 7 if steps is None else steps
    out["value"] = np.cos(np.arange(len(timestamps)) / 10.0)
    out["value"][::97] = np.nan
    out["value"][5::89] = np.inf
    out["value"][11::83] = -np.inf
    # the stored order: NaN, inf and -inf are stored as 0.0 with their kind (1, 2, 3) after it
    values = out["value"]
    kinds = np.select([np.isnan(values), values == np.inf, values == -np.inf], [1, 2, 3], 0)
    stored = np.where(kinds == 0, values, 0.0)
    return out[np.lexsort((kinds, stored, out["step"], out["timestamp"]))]


@pytest.mark.parametrize(
    "shape",
    [
        "dense",  # many small ranges, read by several connections on PostgreSQL
        "one_timestamp",  # nothing to cut by: read in one sequence
        "sparse_then_dense",  # the first chunk's density underestimates the rest: few ranges
        "dense_then_sparse",  # overestimates it: many ranges, most of them empty
    ],
)
def test_every_chunking_of_a_history_gives_every_point_once_in_order(
    sql_store: SqlTrackingStore, shape: str
) -> None:
    from bakehouse.store.tracking.sql.history_stream import history_chunks

    i = np.arange(12_345)
    timestamps = {
        "dense": 5_000 + i // 4,
        "one_timestamp": np.full(len(i), 77),
        "sparse_then_dense": np.where(i < 1_500, i * 1_000, 1_500_000 + i // 20),
        "dense_then_sparse": np.where(i < 1_500, i // 50, 10_000 + (i - 1_500) * 10_000),
    }[shape]
    want = _shaped(timestamps, i if shape == "one_timestamp" else None)
    run_id = _run(sql_store)
    shuffled = want[np.random.default_rng(3).permutation(len(want))]  # logged out of timestamp order
    _bulk_insert(sql_store, run_id, shuffled)
    chunks = list(history_chunks(sql_store.engine, run_id, "loss", chunk_points=1_000))
    assert all(0 < len(c) <= 1_000 for c in chunks)
    assert _same(np.concatenate(chunks), want)


def test_a_history_left_half_read_stops_its_readers(sql_store: SqlTrackingStore) -> None:
    import threading
    import time

    from bakehouse.store.tracking.sql.history_stream import history_chunks

    run_id = _run(sql_store)
    _bulk_insert(sql_store, run_id, _shaped(1_000 + np.arange(20_000) // 2))
    before = threading.active_count()
    chunks = history_chunks(sql_store.engine, run_id, "loss", chunk_points=500)
    assert len(next(chunks)) == 500 and len(next(chunks)) == 500
    chunks.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert threading.active_count() == before
    assert sql_store.engine.pool.checkedout() == 0


def test_a_history_streamed_over_http_arrives_whole_and_the_client_holds_one_chunk(
    bakehouse_server: Any, tmp_path: Path
) -> None:
    from bakehouse.client.client import Client
    from bakehouse.errors import NotFoundError

    db = tmp_path / "served.db"
    direct = SqlTrackingStore(f"sqlite:///{db}", str(tmp_path / "artifacts"))
    run_id = _run(direct)
    want = _expected(HTTP_POINTS)
    _bulk_insert(direct, run_id, want)
    direct.engine.dispose()
    server = bakehouse_server(backend_store_uri=f"sqlite:///{db}")
    client = Client(server.url)

    tracemalloc.start()
    try:
        count, total = 0, 0.0
        for chunk in client.iter_metric_history_arrays(run_id, "loss"):
            count += len(chunk)
            total += float(np.nansum(chunk["value"][np.isfinite(chunk["value"])]))
        _, streamed_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    finite = want["value"][np.isfinite(want["value"])]
    assert count == HTTP_POINTS and total == pytest.approx(float(finite.sum()))
    # the history is 12 MB as records (~75 MB as a list of Metric); the client held a few 0.8 MB chunks
    assert streamed_peak < 4_000_000, streamed_peak

    got = np.concatenate(list(client.iter_metric_history_arrays(run_id, "loss")))
    assert _same(got, want)
    first = [
        (m.step, m.timestamp, m.value) for _, m in zip(range(3), client.iter_metric_history(run_id, "loss"))
    ]
    assert first == want[:3].tolist()
    with pytest.raises(NotFoundError):
        client.iter_metric_history_arrays("0" * 32, "loss")


def test_the_history_stream_checks_its_arguments(bakehouse_server: Any) -> None:
    import httpx

    server = bakehouse_server()
    url = f"{server.url}/api/2.0/bakehouse/metrics/get-history-stream"
    missing_key = httpx.get(url, params={"run_id": "0" * 32})
    assert missing_key.status_code == 400 and missing_key.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    missing_run = httpx.get(url, params={"run_id": "0" * 32, "metric_key": "loss"})
    assert missing_run.status_code == 404 and missing_run.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


def test_every_store_iterates_a_history_as_get_metric_history_returns_it(tracking_store: Any) -> None:
    """SQLite, PostgreSQL, MySQL, and the REST store over Bakehouse's server (on SQLite and PostgreSQL):
    more than one chunk of points, with a NaN and infinities."""
    run_id = _run(tracking_store)
    n = 70_000
    values = [float(i % 97) for i in range(n)]
    values[3], values[65_540], values[-1] = math.nan, math.inf, -math.inf
    for start in range(0, n, 1000):
        tracking_store.log_batch(
            run_id, metrics=[Metric("acc", values[i], 5_000 + i // 2, i) for i in range(start, start + 1000)]
        )
    got = np.concatenate(list(tracking_store.iter_metric_history_arrays(run_id, "acc")))
    history = tracking_store.get_metric_history(run_id, "acc")
    want = np.array([(m.step, m.timestamp, m.value) for m in history], dtype=RECORD)
    assert len(got) == n and _same(got, want)


# ------------------------------------------------------------------------------------------- sampling
def _mlflow_sampling(rows: list[tuple[int, int, float]], n: int) -> list[int]:
    """MLflow 3.17.2's sampled steps, written from its SQL: NTILE(n) over (step, timestamp, value), the
    first row of each bucket, then the last row (replacing the last sample when already ``n``)."""
    rows = sorted(rows)
    total = len(rows)
    if total <= n:
        picked = rows
    else:
        size, extra = divmod(total, n)
        picked = [rows[i * size + min(i, extra)] for i in range(n)]
    if picked and picked[-1] != rows[-1]:
        if len(picked) >= n:
            picked[-1] = rows[-1]
        else:
            picked.append(rows[-1])
    return [step for step, _, _ in picked]


def test_sampling_dense_steps_gives_mlflows_points(tracking_store: Any) -> None:
    run_id = _run(tracking_store)
    rows = [(s, 10_000 + s, float(s % 13)) for s in range(3, 1_003)]
    for start in range(0, len(rows), 1000):
        tracking_store.log_batch(
            run_id, metrics=[Metric("loss", v, t, s) for s, t, v in rows[start : start + 1000]]
        )
    for n in (1, 2, 7, 320, 999, 1000, 2500):
        sampled = tracking_store.get_metric_history_bulk_interval([run_id], "loss", n)
        assert [m.step for m in sampled] == _mlflow_sampling(rows, n), n
        assert all(m.run_id == run_id and m.key == "loss" for m in sampled)
    window = [r for r in rows if 100 <= r[0] <= 400]
    sampled = tracking_store.get_metric_history_bulk_interval([run_id], "loss", 11, 100, 400)
    assert [m.step for m in sampled] == _mlflow_sampling(window, 11)


def test_sampling_with_gaps_keeps_first_and_last_and_at_most_n(tracking_store: Any) -> None:
    run_id = _run(tracking_store)
    steps = sorted({(i * i * 7) % 10_007 for i in range(900)} | {0, 10_006})
    tracking_store.log_batch(run_id, metrics=[Metric("loss", float(s), 100 + s, s) for s in steps[:1000]])
    for n in (2, 10, 100):
        sampled = [m.step for m in tracking_store.get_metric_history_bulk_interval([run_id], "loss", n)]
        assert sampled[0] == steps[0] and sampled[-1] == steps[-1] and len(sampled) <= n
        assert sampled == sorted(set(sampled)) and set(sampled) <= set(steps)


def test_dense_sampling_equals_mlflows_own_store(tmp_path: Path) -> None:
    """The same points in MLflow's own SQLAlchemy store (its SQL, its SQLite) and in ours."""
    from mlflow.entities import Metric as MlflowMetric
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    theirs = SqlAlchemyStore(f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "mlflow-artifacts"))
    ours = SqlTrackingStore(f"sqlite:///{tmp_path / 'ours.db'}", str(tmp_path / "artifacts"))
    their_run = theirs.create_run("0", "u", 1_000, [], "r").info.run_id
    our_run = _run(ours)
    points = [(s, 50_000 + s // 4, math.cos(s)) for s in range(5, 1_005)]
    theirs.log_batch(
        their_run, metrics=[MlflowMetric("m", v, t, s) for s, t, v in points], params=[], tags=[]
    )
    ours.log_batch(our_run, metrics=[Metric("m", v, t, s) for s, t, v in points])
    for n, start, end in (
        (1, None, None),
        (3, None, None),
        (320, None, None),
        (64, 200, 700),
        (2500, None, None),
    ):
        mine = ours.get_metric_history_bulk_interval([our_run], "m", n, start, end)
        their = theirs.get_metric_history_bulk_interval([their_run], "m", n, start, end)
        assert [(m.step, m.timestamp, m.value) for m in mine] == [
            (m.step, m.timestamp, m.value) for m in their
        ], (n, start, end)
    theirs.engine.dispose()
    ours.engine.dispose()


def test_the_charts_sample_a_very_long_series_instead_of_reading_it(sql_store: SqlTrackingStore) -> None:
    from bakehouse.server.ui import queries

    run_id = _run(sql_store)
    points = _expected(queries.SAMPLED_OVER + 1_000)
    _bulk_insert(sql_store, run_id, points)
    series = queries.downsampled_history(sql_store.engine, run_id, "loss", 500, "step")
    assert series["sampled"] and series["total"] is None and series["total_at_least"] > queries.SAMPLED_OVER
    assert len(series["steps"]) <= 500
    assert series["steps"][0] == 0 and series["steps"][-1] == len(points) - 1
    assert series["steps"] == sorted(series["steps"])
    by_time = queries.downsampled_history(sql_store.engine, run_id, "loss", 500, "wall")
    assert len(by_time["timestamps"]) <= 500 and by_time["timestamps"] == sorted(by_time["timestamps"])
    assert by_time["timestamps"][-1] == int(points["timestamp"][-1])
