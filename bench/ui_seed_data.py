"""Seed the UI benchmark's data: N runs x 20 params x 20 metrics in one experiment, the same for both UIs.

Bakehouse's database is written through ``SqlTrackingStore`` (create_run + log_batch + update_run_info, the
real store path). MLflow's database is created by MLflow itself (its migrations), then the very same rows
are copied in with plain SQL, because writing 10,000 runs through MLflow's store takes many minutes.
"""

from __future__ import annotations

import math
import random
import sqlite3
import time
from pathlib import Path

N_PARAMS = 20
N_METRICS = 20
LONG_POINTS = 100_000


def seed_bakehouse(db_path: Path, art_root: Path, n_runs: int) -> dict[str, str]:
    from bakehouse.entities import Metric, Param, RunTag
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore.from_uri(f"sqlite:///{db_path}", str(art_root))
    rng = random.Random(42)
    eid = store.create_experiment("bench-10k")
    t0 = 1_700_000_000_000
    models = ["tree", "forest", "linear", "boosting", "knn"]
    for i in range(n_runs):
        start = t0 + i * 1000
        run = store.create_run(eid, user_id=f"user{i % 7}", start_time=start, run_name=f"run-{i:05d}",
                               tags=[RunTag("mlflow.source.name", "train.py"), RunTag("mlflow.source.type", "LOCAL")])
        lr = 10 ** rng.uniform(-4, -1)
        params = [Param("lr", f"{lr:.6f}"), Param("model", models[i % 5]), Param("depth", str(rng.randint(2, 12)))]
        params += [Param(f"p_{k:02d}", str(rng.randint(0, 1000))) for k in range(3, N_PARAMS)]
        base = rng.random()
        metrics = [Metric(f"m_{k:02d}", base * (k + 1) + rng.gauss(0, 0.1), start + 500, 10) for k in range(N_METRICS)]
        store.log_batch(run.info.run_id, metrics=metrics, params=params)
        store.update_run_info(run.info.run_id, "FINISHED", start + 500 + rng.randint(100, 100_000), f"run-{i:05d}")
    # one extra experiment with a 100,000-point metric for the chart benchmark
    long_eid = store.create_experiment("bench-long-metric")
    long_run = store.create_run(long_eid, user_id="bench", start_time=t0, run_name="long", tags=[])
    for b in range(0, LONG_POINTS, 1000):
        store.log_batch(long_run.info.run_id, metrics=[
            Metric("signal", math.sin(s / 2000) + 0.1 * math.sin(s / 7) + (3.0 if s == 54_321 else 0.0), t0 + s, s)
            for s in range(b, b + 1000)])
    store.update_run_info(long_run.info.run_id, "FINISHED", t0 + LONG_POINTS, "long")
    store.engine.dispose()
    return {"experiment_id": str(eid), "long_experiment_id": str(long_eid), "long_run_id": long_run.info.run_id}


def copy_to_mlflow(bh_db: Path, ml_db: Path, art_root: Path) -> None:
    """Create an MLflow database (MLflow's own migrations) holding exactly Bakehouse's runs."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{ml_db}", str(art_root))
    store.engine.dispose()
    con = sqlite3.connect(ml_db)
    con.execute("ATTACH DATABASE ? AS bh", (str(bh_db),))
    now = int(time.time() * 1000)
    for eid, name in con.execute("SELECT experiment_id, name FROM bh.experiments WHERE name LIKE 'bench-%'").fetchall():
        con.execute("INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, last_update_time) "
                    "VALUES (?, ?, ?, 'active', ?, ?)", (eid, name, f"{art_root}/{eid}", now, now))
    con.execute("INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, end_time, "
                "deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id) SELECT run_uuid, name, source_type, "
                "source_name, entry_point_name, user_id, status, start_time, end_time, deleted_time, source_version, lifecycle_stage, "
                "artifact_uri, experiment_id FROM bh.runs")
    con.execute("INSERT INTO params (key, value, run_uuid) SELECT key, value, run_uuid FROM bh.params")
    con.execute("INSERT INTO tags (key, value, run_uuid) SELECT key, value, run_uuid FROM bh.tags")
    con.execute("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
                "SELECT key, value, timestamp, run_uuid, step, value_kind = 1 FROM bh.metrics")
    con.execute("INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "SELECT key, value, timestamp, step, value_kind = 1, run_uuid FROM bh.latest_metrics")
    con.commit()
    con.close()
