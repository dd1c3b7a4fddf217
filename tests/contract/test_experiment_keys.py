"""The keys the web UI offers for some experiments (``experiments/keys``) are the same whichever way they
are read: by joining every key row of the experiments' runs (small experiments), or key by key through
index seeks (large ones, see ``server/ui/queries.experiment_keys``).

Runs are bulk-inserted with Core next to a second experiment with keys of its own and a few deleted runs
whose keys no active run has, so that each read must keep to its experiments and to the view's stages.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import insert

from bakehouse.server.ui import queries
from bakehouse.store.db import schema as s


def _insert(engine: Any, experiment_id: str, n: int, prefix: str, salt: int) -> None:
    runs, metrics, params, tags = [], [], [], []
    for i in range(n):
        run_id = uuid.UUID(int=(i * 2654435761 + salt) % (1 << 128)).hex
        deleted = i % 50 == 7
        runs.append(
            {
                "run_uuid": run_id,
                "experiment_id": int(experiment_id),
                "name": f"r{i}",
                "status": "FINISHED",
                "start_time": i,
                "lifecycle_stage": "deleted" if deleted else "active",
            }
        )
        # every run has the shared keys; some only one of a few others; deleted runs one of their own
        extra = f"{prefix}only_deleted" if deleted else f"{prefix}k{i % 3}"
        for key in ("shared", extra):
            metrics.append(
                {
                    "run_uuid": run_id,
                    "key": f"m_{key}",
                    "timestamp": 1,
                    "step": 0,
                    "value": float(i),
                    "value_kind": 0,
                    "experiment_id": int(experiment_id),
                }
            )
            params.append({"run_uuid": run_id, "key": f"p_{key}", "value": "v"})
            tags.append({"run_uuid": run_id, "key": f"t_{key}", "value": "v"})
    with engine.begin() as conn:
        conn.execute(insert(s.runs), runs)
        conn.execute(insert(s.latest_metrics), metrics)
        conn.execute(insert(s.params), params)
        conn.execute(insert(s.tags), tags)


def _keys_both_ways(engine: Any, ids: list[str], view: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(queries, "_JOIN_KEYS_UP_TO_RUNS", 10**9)
    joined = queries.experiment_keys(engine, ids, view)
    monkeypatch.setattr(queries, "_JOIN_KEYS_UP_TO_RUNS", 0)
    seeks = queries.experiment_keys(engine, ids, view)
    assert seeks == joined, (view, ids)
    return seeks


def _check(store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    suffix = uuid.uuid4().hex[:8]
    eid, other = store.create_experiment(f"keys-{suffix}"), store.create_experiment(f"others-{suffix}")
    _insert(store.engine, eid, 300, "a_", 11)
    _insert(store.engine, other, 120, "b_", 99)
    active = _keys_both_ways(store.engine, [eid], "ACTIVE_ONLY", monkeypatch)
    for group, first in (("metric_keys", "m_"), ("param_keys", "p_"), ("tag_keys", "t_")):
        assert active[group] == [f"{first}a_k0", f"{first}a_k1", f"{first}a_k2", f"{first}shared"], group
    assert active["run_count"] == 294
    everything = _keys_both_ways(store.engine, [eid], "ALL", monkeypatch)
    assert "m_a_only_deleted" in everything["metric_keys"] and "t_a_only_deleted" in everything["tag_keys"]
    deleted = _keys_both_ways(store.engine, [eid], "DELETED_ONLY", monkeypatch)
    assert deleted["param_keys"] == ["p_a_only_deleted", "p_shared"] and deleted["run_count"] == 6
    both = _keys_both_ways(store.engine, [eid, other], "ACTIVE_ONLY", monkeypatch)
    assert "m_b_k2" in both["metric_keys"] and "t_a_k1" in both["tag_keys"]
    assert both["run_count"] == 294 + 117
    empty = store.create_experiment(f"empty-{suffix}")
    assert _keys_both_ways(store.engine, [empty], "ACTIVE_ONLY", monkeypatch) == {
        "metric_keys": [],
        "param_keys": [],
        "tag_keys": [],
        "run_count": 0,
    }


def test_keys_by_seeks_equal_keys_by_join_on_sqlite(
    sqlite_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(sqlite_store, monkeypatch)


def test_keys_by_seeks_equal_keys_by_join_on_every_database(
    server_database_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _check(server_database_store, monkeypatch)
