"""A metric history read in chunks of fixed-width records, never held whole.

Each database gives its fastest bounded read of the primary-key order (run, key, timestamp, step, ...):
PostgreSQL packs each chunk into one binary value parsed with numpy (no Python object per point), SQLite
``fetchmany`` on the raw cursor (the table is that b-tree), MySQL a server-side cursor. Every chunk is an
array of ``wire.metric_stream.RECORD`` of at most ``chunk_points`` points; NaN and infinities come back as
IEEE values from ``value_kind``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection, Engine

from bakehouse.store.tracking.sql import raw
from bakehouse.wire.metric_stream import RECORD

#: points per chunk: 1.5 MiB of records
CHUNK_POINTS = 65536

#: what the database hands over per point before decoding
_ROW = np.dtype([("step", "<i8"), ("timestamp", "<i8"), ("value", "<f8"), ("kind", "<i2")])
#: one point as PostgreSQL's ``*send`` functions pack it (big-endian)
_PG_ROW = np.dtype([("step", ">i8"), ("timestamp", ">i8"), ("value", ">f8"), ("kind", ">i2")])


def history_chunks(
    engine: Engine, run_id: str, key: str, chunk_points: int = CHUNK_POINTS
) -> Iterator[np.ndarray]:
    """The history of ``key`` in ``run_id`` as arrays of ``RECORD``, in MLflow's order.

    Opens its own connection when first iterated and closes it when done or closed, so the thread that
    iterates it (the server's read-ahead thread) is the one that uses the connection.
    """
    with engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            yield from _keyset_chunks(conn, run_id, key, chunk_points)
        else:
            yield from _cursor_chunks(conn, run_id, key, chunk_points)


def _select(conn: Connection) -> str:
    mark = raw.marker(conn)
    return (
        f"SELECT {raw.columns(conn, 'step', 'timestamp', 'value', 'value_kind')} FROM metrics "
        f"WHERE run_uuid = {mark} AND {raw.quoted(conn, 'key')} = {mark} "
        f"ORDER BY {raw.columns(conn, 'timestamp', 'step', 'value')}"
    )


def _cursor_chunks(conn: Connection, run_id: str, key: str, chunk_points: int) -> Iterator[np.ndarray]:
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.cursor()
        try:
            cursor.execute(_select(conn), (run_id, key))
            while rows := cursor.fetchmany(chunk_points):
                yield _records(np.array(rows, dtype=_ROW))
        finally:
            cursor.close()
        return
    result = conn.execution_options(stream_results=True, max_row_buffer=chunk_points).exec_driver_sql(
        _select(conn), (run_id, key)
    )
    for part in result.partitions(chunk_points):
        yield _records(np.array([tuple(r) for r in part], dtype=_ROW))


def _keyset_chunks(conn: Connection, run_id: str, key: str, chunk_points: int) -> Iterator[np.ndarray]:
    """PostgreSQL: each chunk is one query that packs its points into one bytea (``int8send`` ...,
    ``string_agg``) and resumes after the previous chunk's last point (a seek on the primary key).

    Measured on a 10,000,000-point history (loaded machine, same run): 17 s this way, 24-28 s with a
    binary ``COPY ... TO STDOUT``, whose rows psycopg hands over one message (one Python call) at a time.
    """
    driver: Any = conn.connection.driver_connection
    pack = "int8send(step) || int8send(timestamp) || float8send(value) || int2send(value_kind)"
    inner = "SELECT step, timestamp, value, value_kind FROM metrics WHERE run_uuid = %s AND key = %s"
    order = f"ORDER BY timestamp, step, value, value_kind LIMIT {int(chunk_points)}"
    first = f"SELECT string_agg({pack}, ''::bytea) FROM ({inner} {order}) AS chunk"
    after = (
        f"SELECT string_agg({pack}, ''::bytea) FROM ({inner} "
        f"AND (timestamp, step, value, value_kind) > (%s, %s, %s, %s) {order}) AS chunk"
    )
    with driver.cursor() as cursor:
        cursor.execute(first, (run_id, key))
        while True:
            (packed,) = cursor.fetchone()
            if packed is None:
                return
            rows = np.frombuffer(packed, dtype=_PG_ROW)
            yield _records(rows)
            if len(rows) < chunk_points:
                return
            last = rows[-1]
            resume = (int(last["timestamp"]), int(last["step"]), float(last["value"]), int(last["kind"]))
            cursor.execute(after, (run_id, key, *resume))


def _records(rows: np.ndarray) -> np.ndarray:
    """``RECORD`` array from decoded rows (any byte order), the value kinds turned into NaN / +-inf."""
    out = np.empty(len(rows), dtype=RECORD)
    out["step"] = rows["step"]
    out["timestamp"] = rows["timestamp"]
    values = out["value"]
    values[:] = rows["value"]
    kinds = rows["kind"]
    special = kinds != 0
    if special.any():
        values[special & (kinds == 1)] = np.nan
        values[special & (kinds == 2)] = np.inf
        values[special & (kinds == 3)] = -np.inf
    return out
