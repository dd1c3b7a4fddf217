"""A metric history read in chunks of fixed-width records, never held whole.

Each database gives its fastest bounded read of the primary-key order (run, key, timestamp, step, ...):
PostgreSQL a binary ``COPY ... TO STDOUT`` parsed with numpy (no Python object per point), SQLite
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
#: one tuple of PostgreSQL's binary COPY of (step int8, timestamp int8, value float8, value_kind int2):
#: a field count, then each field's length and big-endian bytes
_PG_TUPLE = np.dtype(
    [
        ("fields", ">i2"),
        ("len_step", ">i4"),
        ("step", ">i8"),
        ("len_timestamp", ">i4"),
        ("timestamp", ">i8"),
        ("len_value", ">i4"),
        ("value", ">f8"),
        ("len_kind", ">i4"),
        ("kind", ">i2"),
    ]
)
_PG_HEADER = 19  # signature (11 bytes), flags (4), header extension length (4, zero)
_PG_TRAILER = 2  # a field count of -1


def history_chunks(
    engine: Engine, run_id: str, key: str, chunk_points: int = CHUNK_POINTS
) -> Iterator[np.ndarray]:
    """The history of ``key`` in ``run_id`` as arrays of ``RECORD``, in MLflow's order.

    Opens its own connection when first iterated and closes it when done or closed, so the thread that
    iterates it (the server's read-ahead thread) is the one that uses the connection.
    """
    with engine.connect() as conn, conn.begin():
        if conn.dialect.name == "postgresql":
            yield from _copy_chunks(conn, run_id, key, chunk_points)
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


def _copy_chunks(conn: Connection, run_id: str, key: str, chunk_points: int) -> Iterator[np.ndarray]:
    from psycopg import sql  # the PostgreSQL driver: present whenever this engine is

    statement = sql.SQL(
        "COPY (SELECT step, timestamp, value, value_kind FROM metrics WHERE run_uuid = {} AND key = {} "
        "ORDER BY timestamp, step, value) TO STDOUT (FORMAT BINARY)"
    ).format(sql.Literal(run_id), sql.Literal(key))
    want = chunk_points * _PG_TUPLE.itemsize
    pending = bytearray()
    header_left = _PG_HEADER
    driver: Any = conn.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for block in copy:
            pending += block
            if header_left:
                skipped = min(header_left, len(pending))
                del pending[:skipped]
                header_left -= skipped
            while len(pending) >= want + _PG_TRAILER:
                yield _parsed(pending, chunk_points)
    body = len(pending) - _PG_TRAILER
    if body > 0:
        yield _parsed(pending, body // _PG_TUPLE.itemsize)


def _parsed(pending: bytearray, count: int) -> np.ndarray:
    """The first ``count`` COPY tuples of ``pending`` as records, removed from it."""
    rows = np.frombuffer(pending, dtype=_PG_TUPLE, count=count)
    out = _records(rows)
    del rows  # the view must go before the buffer can shrink
    del pending[: count * _PG_TUPLE.itemsize]
    return out


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
