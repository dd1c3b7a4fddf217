"""A packed read copy of long metric histories: ``metric_blocks``, used by the streamed history alone.

Handing a point over from the database driver costs ~1 us of Python per row (a tuple and four objects):
10^7 points take ~10 s on SQLite however fast the database walks them. A block is up to 100,000 points of
one history, in history order, packed as ``RECORD`` bytes: reading it is one value and one
``np.frombuffer``.

The ``metrics`` rows stay the only source of truth; no reader but ``history_stream`` looks at blocks, and
no writer of rows (the store, imports, transfers, plain SQL) has to know about them. A history's blocks
are used only when they provably hold exactly its rows up to the last sealed sort key:

1. blocks ``0..k-1`` follow each other in sort order (each first key after the previous last key), so no
   point is in two blocks, and each payload holds its ``n_points`` records;
2. each block was sealed from the rows in its key range, read and written in one write transaction;
   rows are never changed nor deleted one by one (only with their run, and its blocks with it);
3. no row was added inside a sealed range since. SQLite: a trigger on ``metrics`` deletes, in the writing
   transaction, the blocks from the one a new point falls into onwards, so with one writer at a time the
   blocks left need no count. PostgreSQL and MySQL: the rows up to the last sealed key are counted in the
   stream's snapshot and must number the sealed points (a subset of the rows as large as the set is the
   set); a point a concurrent writer commits inside a range a sealer just read makes the counts disagree.
   A per-row trigger with an advisory lock made PostgreSQL's logging 35-45% slower, so it counts.

A history whose proof fails is read from rows as before; ``seal_history(verify=True)`` drops blocks that
no longer hold their rows and seals again. Sealing happens on the store's write path once a history's
unsealed tail may have reached a block (``seal_schedule``: the store counts the points it wrote and asks
the database only then), or when asked. Points younger than ``SEAL_LAG_MS`` before the history's newest
stay rows, so points logged a little late land after the sealed range. Two sealers at once collide on the
primary key (run, key, block number): the later one stops.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from bakehouse.store.db import schema as s
from bakehouse.store.db.transactions import write_transaction
from bakehouse.store.tracking.sql import raw
from bakehouse.store.tracking.sql.seal_schedule import BLOCK_POINTS, SEAL_LAG_MS
from bakehouse.wire.metric_stream import RECORD

#: a point's place in a history: (timestamp, step, stored value, value kind), the primary key's order
SortKey = tuple[int, int, float, int]

#: a row as the database hands it over for sealing
_ROW = np.dtype([("step", "<i8"), ("timestamp", "<i8"), ("value", "<f8"), ("kind", "<i2")])
_KIND_VALUES = {1: np.nan, 2: np.inf, 3: -np.inf}
#: databases whose trigger on ``metrics`` deletes the blocks a late point falls into (0017_metric_blocks)
TRIGGERED = ("sqlite",)


@dataclass(frozen=True)
class Block:
    """A sealed block's description (its payload is read only when streamed)."""

    block_no: int
    n_points: int
    first: SortKey
    last: SortKey


def blocks_of(conn: Connection, run_id: str, key: str) -> list[Block]:
    b = s.metric_blocks.c
    rows = conn.execute(
        select(
            b.block_no,
            b.n_points,
            b.first_timestamp,
            b.first_step,
            b.first_value,
            b.first_kind,
            b.last_timestamp,
            b.last_step,
            b.last_value,
            b.last_kind,
        )
        .where(b.run_uuid == run_id, b.key == key)
        .order_by(b.block_no)
    ).all()
    return [
        Block(
            int(r[0]),
            int(r[1]),
            (int(r[2]), int(r[3]), float(r[4]), int(r[5])),
            (int(r[6]), int(r[7]), float(r[8]), int(r[9])),
        )
        for r in rows
    ]


def _in_sequence(blocks: Sequence[Block]) -> bool:
    """Numbered from 0 without a gap, each block's keys after the previous block's (no point twice)."""
    previous: SortKey | None = None
    for i, blk in enumerate(blocks):
        if blk.block_no != i or blk.n_points <= 0 or blk.first > blk.last:
            return False
        if previous is not None and not blk.first > previous:
            return False
        previous = blk.last
    return True


def _after(conn: Connection, after: SortKey) -> tuple[str, list[Any]]:
    """SQL condition (and parameters) for the points after ``after`` in sort order; the timestamp bound
    alone makes it an index range on every database."""
    mark = raw.marker(conn)
    cols = raw.columns(conn, "timestamp", "step", "value", "value_kind")
    ts = raw.quoted(conn, "timestamp")
    return (
        f"{ts} >= {mark} AND ({cols}) > ({mark}, {mark}, {mark}, {mark})",
        [after[0], *after],
    )


def _count(conn: Connection, run_id: str, key: str, after: SortKey | None = None) -> int:
    mark = raw.marker(conn)
    sql = f"SELECT count(*) FROM metrics WHERE run_uuid = {mark} AND {raw.quoted(conn, 'key')} = {mark}"
    params: list[Any] = [run_id, key]
    if after is not None:
        cond, more = _after(conn, after)
        sql += f" AND {cond}"
        params += more
    return int(raw.fetch_all(conn, sql, params)[0][0])


def proven_blocks(conn: Connection, run_id: str, key: str, count: bool | None = None) -> list[Block] | None:
    """The history's blocks when they hold exactly its rows up to the last sealed key (see the module's
    docstring), else None. ``count``: prove it by counting the history's rows (index entries only); by
    default only where no trigger keeps the blocks exact (MySQL)."""
    blocks = blocks_of(conn, run_id, key)
    if not blocks or not _in_sequence(blocks):
        return None
    if count is None:
        count = conn.dialect.name not in TRIGGERED
    if not count:
        return blocks
    sealed = sum(b.n_points for b in blocks)
    total = _count(conn, run_id, key)
    tail = _count(conn, run_id, key, blocks[-1].last)
    return blocks if total - tail == sealed else None


def payload_records(conn: Connection, run_id: str, key: str, block: Block) -> np.ndarray:
    """A block's points as a read-only ``RECORD`` array over its payload."""
    if conn.dialect.name == "postgresql":
        driver: Any = conn.connection.driver_connection
        with driver.cursor(binary=True) as cursor:  # bytea as raw bytes, not hex text twice the size
            cursor.execute(
                "SELECT payload FROM metric_blocks WHERE run_uuid = %s AND key = %s AND block_no = %s",
                (run_id, key, block.block_no),
            )
            (payload,) = cursor.fetchone()
    else:
        b = s.metric_blocks.c
        payload = conn.execute(
            select(b.payload).where(b.run_uuid == run_id, b.key == key, b.block_no == block.block_no)
        ).scalar_one()
    records = np.frombuffer(payload, dtype=RECORD)
    if len(records) != block.n_points:
        raise RuntimeError(
            f"metric block {block.block_no} of {run_id}/{key} holds {len(records)} points, "
            f"its row says {block.n_points}"
        )
    return records


def tail_sql(conn: Connection, after: SortKey | None, until: int | None = None) -> tuple[str, list[Any]]:
    """The history's points after ``after`` (all of them for None) with a timestamp up to ``until`` (None:
    any), in history order, as (step, timestamp, value, value_kind) rows; parameters after the run
    id and key."""
    mark = raw.marker(conn)
    sql = (
        f"SELECT {raw.columns(conn, 'step', 'timestamp', 'value', 'value_kind')} FROM metrics "
        f"WHERE run_uuid = {mark} AND {raw.quoted(conn, 'key')} = {mark}"
    )
    params: list[Any] = []
    if after is not None:
        cond, params = _after(conn, after)
        sql += f" AND {cond}"
    if until is not None:
        sql += f" AND {raw.quoted(conn, 'timestamp')} <= {mark}"
        params = [*params, until]
    return sql + f" ORDER BY {raw.columns(conn, 'timestamp', 'step', 'value', 'value_kind')}", params


def records_from_rows(rows: np.ndarray) -> np.ndarray:
    """``RECORD`` array from rows of ``_ROW`` (or any byte order), value kinds turned into NaN / +-inf."""
    out = np.empty(len(rows), dtype=RECORD)
    out["step"] = rows["step"]
    out["timestamp"] = rows["timestamp"]
    values = out["value"]
    values[:] = rows["value"]
    kinds = rows["kind"]
    special = kinds != 0
    if special.any():
        for kind, real in _KIND_VALUES.items():
            values[special & (kinds == kind)] = real
    return out


# ------------------------------------------------------------------------------------------- sealing
def seal_history(
    engine: Engine,
    run_id: str,
    key: str,
    block_points: int = BLOCK_POINTS,
    max_blocks: int | None = None,
    verify: bool = False,
    lag_ms: int = SEAL_LAG_MS,
) -> int:
    """Seal the history's unsealed tail into blocks of ``block_points`` while it holds that many; returns
    the blocks sealed. ``verify``: first prove the existing blocks (one count of the history) and delete
    them all when they do not hold exactly the rows up to their last key, so the history is sealed again
    from its start. At most ``max_blocks`` blocks (None: no limit); only points ``lag_ms`` older than the
    history's newest point."""
    if block_points <= 0:
        return 0
    if verify:
        with write_transaction(engine) as conn:
            if blocks_of(conn, run_id, key) and proven_blocks(conn, run_id, key, count=True) is None:
                b = s.metric_blocks.c
                conn.execute(delete(s.metric_blocks).where(b.run_uuid == run_id, b.key == key))
    sealed = 0
    while max_blocks is None or sealed < max_blocks:
        # the rows and their block in one write transaction (SQLite: one writer at a time, so the trigger
        # sees every block a later point falls into; elsewhere a point this read missed fails the count)
        try:
            with write_transaction(engine) as conn:
                blocks = blocks_of(conn, run_id, key)
                if not _in_sequence(blocks):
                    return sealed  # left to ``verify`` (the stream reads rows meanwhile)
                after = blocks[-1].last if blocks else None
                rows = _tail_rows(conn, run_id, key, after, block_points, _horizon(conn, run_id, key, lag_ms))
                if len(rows) < block_points:
                    return sealed
                _insert_block(conn, run_id, key, len(blocks), rows)
        except IntegrityError:  # another sealer took that block number first
            return sealed
        sealed += 1
    return sealed


def _horizon(conn: Connection, run_id: str, key: str, lag_ms: int) -> int | None:
    """The newest timestamp a sealed point may have (None: the history has no point)."""
    mark = raw.marker(conn)
    newest = raw.fetch_all(
        conn,
        f"SELECT max({raw.quoted(conn, 'timestamp')}) FROM metrics "
        f"WHERE run_uuid = {mark} AND {raw.quoted(conn, 'key')} = {mark}",
        [run_id, key],
    )[0][0]
    return None if newest is None else int(newest) - lag_ms


def _tail_rows(
    conn: Connection, run_id: str, key: str, after: SortKey | None, limit: int, until: int | None
) -> np.ndarray:
    """The first ``limit`` points after ``after`` with a timestamp up to ``until``, as ``_ROW`` values."""
    if until is None:
        return np.empty(0, dtype=_ROW)
    sql, params = tail_sql(conn, after, until)
    sql += f" LIMIT {int(limit)}"
    if conn.dialect.name == "sqlite":
        cursor = conn.connection.cursor()
        try:
            cursor.execute(sql, [run_id, key, *params])
            return np.array(cursor.fetchall(), dtype=_ROW)
        finally:
            cursor.close()
    return np.array([tuple(r) for r in raw.fetch_all(conn, sql, [run_id, key, *params])], dtype=_ROW)


def _insert_block(conn: Connection, run_id: str, key: str, block_no: int, rows: np.ndarray) -> None:
    """One block from ``rows`` (sort order, ``_ROW``)."""
    first, last = rows[0], rows[-1]
    conn.execute(
        s.metric_blocks.insert().values(
            run_uuid=run_id,
            key=key,
            block_no=block_no,
            n_points=len(rows),
            first_timestamp=int(first["timestamp"]),
            first_step=int(first["step"]),
            first_value=float(first["value"]),
            first_kind=int(first["kind"]),
            last_timestamp=int(last["timestamp"]),
            last_step=int(last["step"]),
            last_value=float(last["value"]),
            last_kind=int(last["kind"]),
            payload=records_from_rows(rows).tobytes(),
        )
    )


def block_chunks(
    conn: Connection, run_id: str, key: str, blocks: Sequence[Block], chunk_points: int
) -> Iterator[np.ndarray]:
    """The sealed points, block after block, in chunks of at most ``chunk_points``."""
    for blk in blocks:
        records = payload_records(conn, run_id, key, blk)
        for start in range(0, len(records), chunk_points):
            yield records[start : start + chunk_points]
