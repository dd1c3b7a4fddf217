"""A metric history sampled for a chart by index seeks: never a read of every point.

MLflow 3.17.2 samples ``get-history-bulk-interval`` by row: it numbers every point of the history in
(step, timestamp, value) order, keeps the first point of each of ``max_results`` equal NTILE buckets and
the last point. That reads and sorts the whole history (seconds at 10,000,000 points). Here:

* a history of at most ``max_results`` points (read with one bounded range read) comes back whole, as
  MLflow's does;
* a longer one is sampled on the step axis: the bucket starts are MLflow's NTILE starts computed as if the
  history held one point per step from its first step to its last, and each is found with one seek on
  ``index_metrics_step_seek`` (the first point at or after that step); then the last point is kept as
  MLflow keeps it. For a history with one point per step and no gaps (the usual ``step=i`` logging) the
  result is MLflow's, point for point. With gaps between steps, a seek lands on the next logged step
  (duplicates dropped, so fewer points may come back); with many points on one step, MLflow may return
  several points of that step where this returns its first.

The same seeks on the primary key (run, key, timestamp, ...) sample by time for the UI's time axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Connection

from bakehouse.store.tracking.sql import raw

#: a sampled point: (value, value_kind, timestamp, step)
Row = tuple[float, int, int, int]

#: the order of a history on each axis (ties broken as MLflow's sampler breaks them)
_ORDER = {
    "step": ("step", "timestamp", "value", "value_kind"),
    "timestamp": ("timestamp", "step", "value", "value_kind"),
}


def ntile_starts(first: int, last: int, buckets: int) -> list[int]:
    """The first position of each of ``buckets`` NTILE buckets over the positions ``first..last``
    (SQL's NTILE: the first ``span % buckets`` buckets hold one more)."""
    span = last - first + 1
    if span <= buckets:
        return list(range(first, last + 1))
    size, extra = divmod(span, buckets)
    return [first + i * size + min(i, extra) for i in range(buckets)]


def sample_history(
    conn: Connection,
    run_id: str,
    key: str,
    max_results: int,
    start_step: int | None = None,
    end_step: int | None = None,
    axis: str = "step",
) -> list[Row]:
    """Up to ``max_results`` points of a history, first and last kept (only the last when
    ``max_results`` is 1), in ``axis`` order; see the module docstring for how they are chosen."""
    order = _ORDER[axis]
    mark = raw.marker(conn)
    where = f"run_uuid = {mark} AND {raw.quoted(conn, 'key')} = {mark}"
    params: list[Any] = [run_id, key]
    if start_step is not None and end_step is not None:
        where += f" AND step >= {mark} AND step <= {mark}"
        params += [start_step, end_step]
    cols = raw.columns(conn, "value", "value_kind", "timestamp", "step")
    ascending = ", ".join(raw.columns(conn, c) for c in order)
    descending = ", ".join(f"{raw.columns(conn, c)} DESC" for c in order)
    select = f"SELECT {cols} FROM metrics WHERE {where}"
    head = [
        _row(r) for r in raw.fetch_all(conn, f"{select} ORDER BY {ascending} LIMIT {max_results + 1}", params)
    ]
    if len(head) <= max_results:
        return head[-1:] if max_results == 1 else head
    last = _row(raw.fetch_all(conn, f"{select} ORDER BY {descending} LIMIT 1", params)[0])
    if max_results == 1:
        return [last]
    if axis == "step":
        starts = ntile_starts(head[0][3], last[3], max_results)
    else:
        starts = ntile_starts(head[0][2], last[2], max_results)
    rows = _seek_each(conn, select, order, ascending, params, starts)
    sampled: list[Row] = []
    for row in rows:  # a start that falls in a gap lands on the same point as the next one
        if not sampled or sampled[-1] != row:
            sampled.append(row)
    if sampled[-1] != last:
        if len(sampled) >= max_results:
            sampled[-1] = last
        else:
            sampled.append(last)
    return sampled


def _seek_each(
    conn: Connection, select: str, order: Sequence[str], ascending: str, params: list[Any], starts: list[int]
) -> list[Row]:
    """The first point at or after each start on the axis ``order[0]``: one index seek each."""
    mark = raw.marker(conn)
    axis = raw.columns(conn, order[0])
    if conn.dialect.name == "postgresql":  # one round trip: a lateral seek per start
        sql = (
            f"SELECT s.* FROM unnest({mark}::bigint[]) AS b(start) CROSS JOIN LATERAL "
            f"({select} AND {axis} >= b.start ORDER BY {ascending} LIMIT 1) AS s ORDER BY "
            + ", ".join(f"s.{c}" for c in raw.columns(conn, *order).split(", "))
        )
        return [_row(r) for r in raw.fetch_all(conn, sql, [starts, *params])]
    cursor = conn.connection.cursor()
    sql = f"{select} AND {axis} >= {mark} ORDER BY {ascending} LIMIT 1"
    out: list[Row] = []
    try:
        for start in starts:
            cursor.execute(sql, (*params, start))
            found = cursor.fetchone()
            if found is not None:
                out.append(_row(found))
    finally:
        cursor.close()
    return out


def _row(r: Sequence[Any]) -> Row:
    return (float(r[0]), int(r[1]), int(r[2]), int(r[3]))
