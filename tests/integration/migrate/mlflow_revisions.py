"""An MLflow database at every schema revision MLflow shipped from 2.0 to the installed 3.17.2, with data.

Run as a script by the test venv's interpreter (MLflow 3.17.2 carries the whole Alembic chain)::

    python mlflow_revisions.py WORKDIR

It builds the database MLflow 2.0 made (its initial tables, upgraded with MLflow's own migrations to 2.0's
head, ``97727af70f4d``), fills it as MLflow 2.0 would, then applies MLflow's migrations one at a time up to
head; where a revision adds a table (aliases, datasets, logged models) rows go in right after it, as a team
would have logged them then. After every revision the database file is copied. Prints a JSON list of
``[revision, path]`` in chain order.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from alembic import command
from alembic.script import ScriptDirectory
from mlflow.store.db.utils import _get_alembic_config
from mlflow.store.tracking.dbmodels.initial_models import Base as InitialBase
from sqlalchemy import create_engine, text

MLFLOW_2_0_HEAD = "97727af70f4d"
NOW = 1_700_000_000_000
RUN_A, RUN_B, RUN_C = "a" * 32, "b" * 32, "c" * 32


def _exec(engine, sql: str, *rows: dict) -> None:
    with engine.begin() as conn:
        conn.execute(text(sql), list(rows) if rows else {})


def fill_as_mlflow_2_0(engine) -> None:
    _exec(
        engine,
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
        "last_update_time) VALUES (:id, :name, :loc, :stage, :t, :t)",
        {"id": 0, "name": "Default", "loc": "/tmp/mlruns/0", "stage": "active", "t": NOW},
        {"id": 1, "name": "two-point-oh", "loc": "/tmp/mlruns/1", "stage": "active", "t": NOW + 1},
        {"id": 2, "name": "gone", "loc": "/tmp/mlruns/2", "stage": "deleted", "t": NOW + 2},
    )
    _exec(engine, "INSERT INTO experiment_tags (key, value, experiment_id) VALUES ('team', 'core', 1)")
    run = (
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, "
        "end_time, deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES (:id, :name, "
        "'LOCAL', 'train.py', '', 'ada', :status, :start, :end, :deleted, 'abc123', :stage, :uri, :exp)"
    )
    _exec(
        engine,
        run,
        {
            "id": RUN_A,
            "name": "parent",
            "status": "FINISHED",
            "start": NOW,
            "end": NOW + 5,
            "deleted": None,
            "stage": "active",
            "uri": f"/tmp/mlruns/1/{RUN_A}/artifacts",
            "exp": 1,
        },
        {
            "id": RUN_B,
            "name": "child",
            "status": "FAILED",
            "start": NOW + 1,
            "end": NOW + 4,
            "deleted": None,
            "stage": "active",
            "uri": f"/tmp/mlruns/1/{RUN_B}/artifacts",
            "exp": 1,
        },
        {
            "id": RUN_C,
            "name": "binned",
            "status": "KILLED",
            "start": NOW + 2,
            "end": NOW + 3,
            "deleted": NOW + 9,
            "stage": "deleted",
            "uri": f"/tmp/mlruns/2/{RUN_C}/artifacts",
            "exp": 2,
        },
    )
    _exec(
        engine,
        "INSERT INTO params (key, value, run_uuid) VALUES (:k, :v, :r)",
        {"k": "lr", "v": "0.1", "r": RUN_A},
        {"k": "long", "v": "x" * 500, "r": RUN_A},
        {"k": "fold", "v": "1", "r": RUN_B},
    )
    _exec(
        engine,
        "INSERT INTO tags (key, value, run_uuid) VALUES (:k, :v, :r)",
        {"k": "mlflow.runName", "v": "parent", "r": RUN_A},
        {"k": "mlflow.runName", "v": "child", "r": RUN_B},
        {"k": "mlflow.parentRunId", "v": RUN_A, "r": RUN_B},
        {"k": "mlflow.runName", "v": "binned", "r": RUN_C},
    )
    points = [
        {"k": "loss", "v": 1.0 / (i + 1), "t": NOW + i, "r": RUN_A, "s": i, "n": False} for i in range(50)
    ]
    points.append({"k": "nan", "v": 0.0, "t": NOW, "r": RUN_A, "s": 0, "n": True})
    points.append({"k": "inf", "v": 1.7976931348623157e308, "t": NOW, "r": RUN_A, "s": 0, "n": False})
    points.append({"k": "acc", "v": 0.5, "t": NOW, "r": RUN_B, "s": 3, "n": False})
    _exec(
        engine,
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (:k, :v, :t, :r, :s, :n)",
        *points,
    )
    latest = {}
    for p in points:
        key = (p["r"], p["k"])
        if key not in latest or (p["s"], p["t"]) > (latest[key]["s"], latest[key]["t"]):
            latest[key] = p
    _exec(
        engine,
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
        "VALUES (:k, :v, :t, :s, :n, :r)",
        *latest.values(),
    )
    _exec(
        engine,
        "INSERT INTO registered_models (name, creation_time, last_updated_time, description) "
        "VALUES ('model-2.0', :t, :t, 'made by MLflow 2.0')",
        {"t": NOW + 10},
    )
    _exec(engine, "INSERT INTO registered_model_tags (key, value, name) VALUES ('owner', 'ada', 'model-2.0')")
    _exec(
        engine,
        "INSERT INTO model_versions (name, version, creation_time, last_updated_time, description, user_id, "
        "current_stage, source, run_id, status, status_message, run_link) VALUES ('model-2.0', :v, :t, :t, "
        ":d, NULL, :stage, :src, :r, 'READY', NULL, NULL)",
        {
            "v": 1,
            "t": NOW + 11,
            "d": "first",
            "stage": "Production",
            "src": f"runs:/{RUN_A}/model",
            "r": RUN_A,
        },
        {"v": 2, "t": NOW + 12, "d": "", "stage": "Deleted_Internal", "src": "REDACTED", "r": None},
        {"v": 3, "t": NOW + 13, "d": "third", "stage": "Staging", "src": f"runs:/{RUN_A}/model", "r": RUN_A},
    )
    _exec(
        engine,
        "INSERT INTO model_version_tags (key, value, name, version) VALUES ('checked', 'yes', 'model-2.0', 3)",
    )


def after(revision: str, engine) -> None:
    """Rows a team would have logged once MLflow had the table a revision adds."""
    if revision == "3500859a5d39":  # registered model aliases (2.3)
        _exec(
            engine,
            "INSERT INTO registered_model_aliases (alias, version, name) VALUES ('champion', 3, 'model-2.0')",
        )
    elif revision == "7f2a7d5fae7d":  # datasets, inputs, input tags (2.4)
        _exec(
            engine,
            "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source, "
            "dataset_schema, dataset_profile) VALUES ('d' || '1', 1, 'iris', 'abc', 'http', "
            '\'{"url": "https://example.org/iris.csv"}\', \'{"mlflow_colspec": []}\', \'{"num_rows": 3}\')',
        )
        _exec(
            engine,
            "INSERT INTO inputs (input_uuid, source_type, source_id, destination_type, destination_id) "
            "VALUES ('i1', 'DATASET', 'd1', 'RUN', :r)",
            {"r": RUN_A},
        )
        _exec(
            engine,
            "INSERT INTO input_tags (input_uuid, name, value) VALUES ('i1', 'mlflow.data.context', 'train')",
        )
    elif revision == "400f98739977":  # logged models (3.0)
        _exec(
            engine,
            "INSERT INTO logged_models (model_id, experiment_id, name, artifact_location, creation_timestamp_ms, "
            "last_updated_timestamp_ms, status, lifecycle_stage, model_type, source_run_id, status_message) VALUES "
            "('m-0123456789abcdef0123456789abcdef', 1, 'model', '/tmp/mlruns/1/models/m-1/artifacts', :t, :t, 2, "
            "'active', 'classifier', :r, NULL)",
            {"t": NOW + 20, "r": RUN_A},
        )
        _exec(
            engine,
            "INSERT INTO logged_model_params (model_id, experiment_id, param_key, param_value) VALUES "
            "('m-0123456789abcdef0123456789abcdef', 1, 'alpha', '0.5')",
        )
        _exec(
            engine,
            "INSERT INTO logged_model_tags (model_id, experiment_id, tag_key, tag_value) VALUES "
            "('m-0123456789abcdef0123456789abcdef', 1, 'stage', 'candidate')",
        )
        _exec(
            engine,
            "INSERT INTO logged_model_metrics (model_id, metric_name, metric_timestamp_ms, metric_step, metric_value, "
            "experiment_id, run_id, dataset_uuid, dataset_name, dataset_digest) VALUES "
            "('m-0123456789abcdef0123456789abcdef', 'acc', :t, 0, 0.9, 1, :r, NULL, NULL, NULL)",
            {"t": NOW + 21, "r": RUN_A},
        )


def main() -> None:
    workdir = Path(sys.argv[1])
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "evolving.db"
    url = f"sqlite:///{db}"
    engine = create_engine(url)
    InitialBase.metadata.create_all(engine)
    config = _get_alembic_config(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, MLFLOW_2_0_HEAD)
    fill_as_mlflow_2_0(engine)
    script = ScriptDirectory.from_config(config)
    chain = [rev.revision for rev in script.walk_revisions(base="base", head="heads")][::-1]
    start = chain.index(MLFLOW_2_0_HEAD)
    out = []
    for index, revision in enumerate(chain[start:]):
        if revision != MLFLOW_2_0_HEAD:
            with engine.begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
            after(revision, engine)
        engine.dispose()
        copy = workdir / f"{index:03d}-{revision}.db"
        shutil.copy(db, copy)
        out.append([revision, str(copy)])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
