"""UI-only read queries that the MLflow REST API cannot answer cheaply.

* which metric / param / tag keys exist in some experiments (for the column chooser and chart pickers)
  without the browser downloading every run first;
* which runs have a given metric;
* a metric history downsampled into buckets that keep each bucket's min and max, so a 100,000-point
  series draws as a few thousand points without losing its spikes; a series of more than 100,000 points
  is sampled by index seeks instead (evenly spaced steps, no envelope), so a chart of a 10,000,000-point
  history still answers in milliseconds.

They run directly on the SQL tracking store's engine and tables (``bakehouse.store.db.schema``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, exists, func, select
from sqlalchemy.engine import Connection, Engine

from bakehouse.entities import LifecycleStage
from bakehouse.store.db import schema
from bakehouse.store.tracking.sql.metric_sampling import sample_history

#: value_kind 0 = a finite float; NaN / infinities are left out of the min/max envelope.
FINITE = 0
#: a series longer than this is sampled by index seeks instead of aggregated into min/max buckets: the
#: aggregate reads every point (~1 s per million on SQLite), the probe reads at most this many index entries
SAMPLED_OVER = 100_000


def _stage_clause(view: str) -> Any:
    runs = schema.runs
    if view == "DELETED_ONLY":
        return runs.c.lifecycle_stage == LifecycleStage.DELETED.value
    if view == "ALL":
        return runs.c.lifecycle_stage.in_([LifecycleStage.ACTIVE.value, LifecycleStage.DELETED.value])
    return runs.c.lifecycle_stage == LifecycleStage.ACTIVE.value


def _experiment_ids(experiment_ids: Sequence[str]) -> list[int]:
    return [int(e) for e in experiment_ids]


#: up to this many runs (of the experiments, in the view) the keys are read by joining each run's rows; past
#: it, each distinct key is found by an index seek and kept when one run of the view holds it
_JOIN_KEYS_UP_TO_RUNS = 2_000


def experiment_keys(
    engine: Engine, experiment_ids: Sequence[str], view: str = "ACTIVE_ONLY"
) -> dict[str, Any]:
    """Distinct metric, param and tag keys over the runs of ``experiment_ids``, in the view.

    Joining every key row of every run cost seconds at 10^5 runs (10^6 rows per group). A large experiment
    is read key by key instead: the next key after the last one is one seek on an index that starts with
    the key (``latest_metrics`` by experiment and key; ``params`` and ``tags`` by key, all experiments), and
    the key is kept when some run of the experiments and view holds it (the first row looked at, usually).
    """
    runs = schema.runs
    ids = _experiment_ids(experiment_ids)
    where = and_(runs.c.experiment_id.in_(ids), _stage_clause(view))
    out: dict[str, Any] = {}
    with engine.connect() as conn:
        run_count = conn.execute(select(func.count()).select_from(runs).where(where)).scalar_one()
        for name, table in (
            ("metric_keys", schema.latest_metrics),
            ("param_keys", schema.params),
            ("tag_keys", schema.tags),
        ):
            if run_count <= _JOIN_KEYS_UP_TO_RUNS:
                stmt = (
                    select(table.c.key)
                    .distinct()
                    .select_from(table.join(runs, runs.c.run_uuid == table.c.run_uuid))
                    .where(where)
                    .order_by(table.c.key)
                )
                out[name] = [row[0] for row in conn.execute(stmt)]
            else:
                out[name] = _keys_by_seeks(conn, table, ids, where)
        out["run_count"] = run_count
    return out


def _keys_by_seeks(conn: Any, table: Any, ids: list[int], where: Any) -> list[str]:
    """The keys of ``table`` some run matching ``where`` holds: distinct keys one index seek at a time
    (per experiment where the table names it), each checked by an EXISTS that stops at its first run."""
    runs = schema.runs
    scopes: list[list[Any]] = (
        [[table.c.experiment_id == e] for e in sorted(set(ids))] if "experiment_id" in table.c else [[]]
    )
    found: dict[str, None] = {}  # in the database's key order (one scope), as the join's ORDER BY gives
    for scope in scopes:
        last: str | None = None
        while True:
            after = [table.c.key > last] if last is not None else []
            key = conn.execute(select(func.min(table.c.key)).where(*scope, *after)).scalar()
            if key is None:
                break
            last = key
            if key in found:
                continue
            held = exists().where(*scope, table.c.key == key, runs.c.run_uuid == table.c.run_uuid, where)
            if conn.execute(select(held)).scalar():
                found[key] = None
    return list(found) if len(scopes) == 1 else sorted(found)


def runs_with_metric(
    engine: Engine, experiment_ids: Sequence[str], key: str, view: str = "ACTIVE_ONLY"
) -> list[str]:
    """Run ids (of these experiments) that logged metric ``key``: one indexed lookup, no run scan."""
    runs, lm = schema.runs, schema.latest_metrics
    ids = _experiment_ids(experiment_ids)
    stmt = (
        select(lm.c.run_uuid)
        .select_from(lm.join(runs, runs.c.run_uuid == lm.c.run_uuid))
        # the metric rows name their run's experiment: (experiment, key) is the front of their index
        .where(
            lm.c.experiment_id.in_(ids), lm.c.key == key, runs.c.experiment_id.in_(ids), _stage_clause(view)
        )
    )
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(stmt)]


def downsampled_history(
    engine: Engine, run_id: str, key: str, max_points: int = 2000, axis: str = "step"
) -> dict[str, Any]:
    """The history of one metric as at most ``max_points`` buckets (min, max, mean, first step/time).

    Buckets are equal-width over the step range (or the timestamp range when ``axis`` is time-based or
    every point has the same step). Short series come back unchanged (``downsampled`` false).
    """
    m = schema.metrics
    base = and_(m.c.run_uuid == run_id, m.c.key == key)
    with engine.connect() as conn:
        probe = select(m.c.step).where(base).limit(SAMPLED_OVER + 1).subquery()
        if conn.execute(select(func.count()).select_from(probe)).scalar_one() > SAMPLED_OVER:
            return _sampled_history(conn, run_id, key, max_points, axis)
        lo_step, hi_step, lo_ts, hi_ts, total = conn.execute(
            select(
                func.min(m.c.step),
                func.max(m.c.step),
                func.min(m.c.timestamp),
                func.max(m.c.timestamp),
                func.count(),
            ).where(base)
        ).one()
        result: dict[str, Any] = {
            "run_id": run_id,
            "key": key,
            "total": int(total or 0),
            "downsampled": False,
            "steps": [],
            "timestamps": [],
            "values": [],
            "mins": [],
            "maxs": [],
        }
        if not total:
            return result
        if total <= max_points:
            rows = conn.execute(
                select(m.c.step, m.c.timestamp, m.c.value, m.c.value_kind)
                .where(base)
                .order_by(m.c.step, m.c.timestamp)
            ).all()
            for step, ts, value, kind in rows:
                v = _decode(value, kind)
                result["steps"].append(step)
                result["timestamps"].append(ts)
                result["values"].append(v)
                result["mins"].append(v)
                result["maxs"].append(v)
            return result
        by_time = axis != "step" or lo_step == hi_step
        col, lo, hi = (m.c.timestamp, lo_ts, hi_ts) if by_time else (m.c.step, lo_step, hi_step)
        span = int(hi) - int(lo) + 1
        buckets = max(1, min(max_points, span))
        bucket = ((col - int(lo)) * buckets) // span
        stmt = (
            select(
                func.min(m.c.step),
                func.min(m.c.timestamp),
                func.avg(m.c.value),
                func.min(m.c.value),
                func.max(m.c.value),
            )
            .where(base, m.c.value_kind == FINITE)
            .group_by(bucket)
            .order_by(bucket)
        )
        result["downsampled"] = True
        for step, ts, avg, vmin, vmax in conn.execute(stmt):
            result["steps"].append(int(step))
            result["timestamps"].append(int(ts))
            result["values"].append(float(avg))
            result["mins"].append(float(vmin))
            result["maxs"].append(float(vmax))
    return result


def _sampled_history(conn: Connection, run_id: str, key: str, max_points: int, axis: str) -> dict[str, Any]:
    """A series too long to aggregate within a chart's time budget: ``max_points`` points found by index
    seeks (``metric_sampling``), evenly spaced on the chart's axis; no envelope, and its size only as
    the lower bound the probe saw (counting it would read it all)."""
    rows = sample_history(conn, run_id, key, max_points, axis="step" if axis == "step" else "timestamp")
    if axis == "step" and rows[0][3] == rows[-1][3]:  # every point on one step: spread them by time
        rows = sample_history(conn, run_id, key, max_points, axis="timestamp")
    values = [_decode(value, kind) for value, kind, _, _ in rows]
    return {
        "run_id": run_id,
        "key": key,
        "total": None,
        "total_at_least": SAMPLED_OVER + 1,
        "downsampled": True,
        "sampled": True,
        "steps": [step for _, _, _, step in rows],
        "timestamps": [ts for _, _, ts, _ in rows],
        "values": values,
        "mins": values,
        "maxs": values,
    }


def _decode(value: float, kind: int) -> float | str:
    """JSON has no NaN/inf: send them as MLflow's JSON does, as strings."""
    if kind == 1:
        return "NaN"
    if kind == 2:
        return "Infinity"
    if kind == 3:
        return "-Infinity"
    return float(value)
