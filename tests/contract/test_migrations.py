"""The one Alembic chain builds exactly the schema in ``schema.py`` on SQLite, PostgreSQL and MySQL."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from bakehouse.store.db import engine as db_engine
from bakehouse.store.db.schema import SCHEMA_HEAD, metadata

MIGRATIONS = Path(db_engine.__file__).parent / "migrations"


@pytest.fixture(params=["sqlite", "postgres", "mysql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'migrate.db'}"
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_uri"))
    return str(request.getfixturevalue("mysql_uri"))


def test_head_revision_is_what_fresh_databases_are_stamped_with() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(config).get_heads() == [SCHEMA_HEAD]


def test_upgrade_builds_the_declared_schema(empty_database: str) -> None:
    steps: list[str] = []
    assert db_engine.upgrade(empty_database, progress=steps.append) == SCHEMA_HEAD
    assert any("0001_tracking" in s for s in steps) and any(SCHEMA_HEAD in s for s in steps)
    engine = db_engine.get_engine(empty_database)
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    # MySQL reports its implicit indexes on foreign keys; nothing else may differ anywhere.
    real = [
        d for d in differences if not (engine.dialect.name in ("mysql", "mariadb") and d[0] == "remove_index")
    ]
    assert real == []
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    assert store.get_experiment("0").name == "Default"
    assert store.get_experiment("0").creation_time > 0
    assert store.create_experiment("after-upgrade") == "1"
    assert db_engine.current_revision(engine) == SCHEMA_HEAD


def test_out_of_date_schema_is_refused_with_the_upgrade_command(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    db_engine.upgrade(uri)
    engine = db_engine.get_engine(uri)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001_tracking'")
    with pytest.raises(db_engine.SchemaOutOfDateError, match="bakehouse db upgrade"):
        db_engine.ensure_schema(engine)


def _upgrade_to(uri: str, revision: str) -> None:
    from alembic import command

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = db_engine.get_engine(uri)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)


def test_metrics_survive_the_move_to_primary_key_order(empty_database: str) -> None:
    """0004 rebuilds SQLite's metrics table WITHOUT ROWID (elsewhere it drops an index): no point is lost."""
    from sqlalchemy import text

    _upgrade_to(empty_database, "0003_auth")
    engine = db_engine.get_engine(empty_database)
    points = [("r" * 32, "loss", 1000 + i, i, float(i) / 3, 0) for i in range(50)]
    points.append(("r" * 32, "loss", 2000, 7, 0.0, 1))  # a NaN at a step that also has a finite value
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO experiments (experiment_id, name, lifecycle_stage) VALUES (7, 'e', 'active')")
        )
        conn.execute(
            text(
                "INSERT INTO runs (run_uuid, name, experiment_id, status, lifecycle_stage, artifact_uri) "
                "VALUES (:r, 'n', 7, 'RUNNING', 'active', 'a')"
            ),
            {"r": "r" * 32},
        )
        conn.execute(
            text(
                "INSERT INTO metrics (run_uuid, "
                + ("`key`" if engine.dialect.name in ("mysql", "mariadb") else "key")
                + ", timestamp, step, value, value_kind) VALUES (:r, :k, :t, :s, :v, :kind)"
            ),
            [dict(zip(("r", "k", "t", "s", "v", "kind"), p)) for p in points],
        )
    db_engine.upgrade(empty_database)
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    history = store.get_metric_history("r" * 32, "loss")
    assert len(history) == 51
    assert [(m.step, m.value) for m in history[:3]] == [(0, 0.0), (1, 1 / 3), (2, 2 / 3)]
    assert history[-1].step == 7 and history[-1].value != history[-1].value  # NaN kept, last by timestamp
    with engine.connect() as conn:
        indexes = {i["name"] for i in inspect_indexes(conn, "metrics")}
        assert "index_metrics_run_key_step" not in indexes
        if engine.dialect.name == "sqlite":
            ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'metrics'")).scalar_one()
            assert "WITHOUT ROWID" in ddl


def inspect_indexes(conn: object, table: str) -> list[dict[str, object]]:
    from sqlalchemy import inspect

    return inspect(conn).get_indexes(table)


def test_fresh_sqlite_databases_store_metrics_in_primary_key_order(tmp_path: Path) -> None:
    from sqlalchemy import text

    uri = f"sqlite:///{tmp_path / 'fresh.db'}"
    engine = db_engine.get_engine(uri)
    db_engine.ensure_schema(engine)
    with engine.connect() as conn:
        ddl = conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'metrics'")).scalar_one()
    assert "WITHOUT ROWID" in ddl


def _open_when_released(uri: str, barrier: object, results: object) -> None:
    from sqlalchemy import event

    engine = db_engine.get_engine(uri)  # this process's own engine and connections
    # Every commit is slowed down, so whatever a process does between giving up its lock and committing
    # is seen by the others (on a fast machine that window is too short to hit by chance).
    event.listen(engine, "commit", lambda _conn: time.sleep(0.2))
    barrier.wait()
    try:
        db_engine.ensure_schema(engine)
        results.put("ok")
    except Exception as exc:  # noqa: BLE001 - reported to the test
        results.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_database_at_once_all_get_one_schema(empty_database: str) -> None:
    """A team's servers or a sweep's workers starting together on a new database: every one of them must
    start (one creates the schema, the others wait for it), never 'tables but no schema version'."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    processes = 8
    barrier = context.Barrier(processes)
    results = context.Queue()
    workers = [
        context.Process(target=_open_when_released, args=(empty_database, barrier, results))
        for _ in range(processes)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in range(processes)]
    for worker in workers:
        worker.join(timeout=30)
    assert outcomes == ["ok"] * processes
    engine = db_engine.get_engine(empty_database)
    assert db_engine.current_revision(engine) == SCHEMA_HEAD
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar() == 1
        assert (
            conn.exec_driver_sql("SELECT count(*) FROM experiments").scalar() == 1
        )  # one Default experiment


def _upgrade_to_head_with_the_declared_schema(uri: str) -> None:
    """Upgrade to head; the database is then stamped with it and holds exactly ``schema.py`` (MySQL also
    reports its implicit indexes on foreign keys)."""
    _upgrade_to(uri, "head")
    engine = db_engine.get_engine(uri)
    assert db_engine.current_revision(engine) == SCHEMA_HEAD
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    mysql = engine.dialect.name in ("mysql", "mariadb")
    assert [d for d in differences if not (mysql and d[0] == "remove_index")] == []


def _downgrade_to(uri: str, revision: str) -> None:
    from alembic import command

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = db_engine.get_engine(uri)
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)


def test_the_default_permission_moves_into_the_database_and_back(empty_database: str) -> None:
    """0005 adds auth_settings, where every server reads the default permission; downgrade removes it."""
    from sqlalchemy import inspect

    from bakehouse.store.auth import AuthStore, Permission

    _upgrade_to(empty_database, "0004_metrics_clustered")
    engine = db_engine.get_engine(empty_database)
    with engine.connect() as conn:
        assert not inspect(conn).has_table("auth_settings")
    db_engine.upgrade(empty_database)
    store = AuthStore(empty_database)
    assert store.get_default_permission() is None  # never set: servers use READ until someone sets it
    assert store.set_default_permission("no_permissions") is None
    assert store.set_default_permission(Permission.EDIT) == Permission.NO_PERMISSIONS
    assert AuthStore(empty_database).get_default_permission() == Permission.EDIT  # another process agrees
    _downgrade_to(empty_database, "0004_metrics_clustered")
    with engine.connect() as conn:
        assert not inspect(conn).has_table("auth_settings")
        assert db_engine.current_revision(engine) == "0004_metrics_clustered"
    db_engine.upgrade(empty_database)
    assert AuthStore(empty_database).get_default_permission() is None


def test_traces_revision_downgrades_and_upgrades_again(empty_database: str) -> None:
    """0006 on every database: tables with a trace in them go on downgrade and come back empty on upgrade."""
    import uuid as uuid_module

    from sqlalchemy import inspect

    from bakehouse.entities.trace import Span
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    db_engine.upgrade(empty_database)
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    trace_id = f"tr-{uuid_module.uuid4().hex}"
    store.log_spans("0", [Span(trace_id, "a" * 16, None, "root", 1, 2, "OK")])
    assert store.get_trace(trace_id).spans[0].name == "root"
    engine = db_engine.get_engine(empty_database)
    _downgrade_to(empty_database, "0005_auth_settings")
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert not tables & {"trace_info", "spans", "assessments", "trace_tags", "trace_run_links"}
    assert "runs" in tables
    _upgrade_to(empty_database, SCHEMA_HEAD)
    assert db_engine.current_revision(engine) == SCHEMA_HEAD
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM trace_info").scalar() == 0


def test_experiment_ids_widen_to_64_bits_and_back(empty_database: str) -> None:
    """0007: MLflow file-store ids (random 63-bit integers) fit after the upgrade; rows survive both ways."""
    from sqlalchemy import text

    _upgrade_to(empty_database, "0006_traces")
    engine = db_engine.get_engine(empty_database)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO experiments (experiment_id, name, lifecycle_stage) VALUES (7, 'small', 'active')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO runs (run_uuid, name, experiment_id, status, lifecycle_stage, artifact_uri) "
                "VALUES (:r, 'n', 7, 'RUNNING', 'active', 'a')"
            ),
            {"r": "r" * 32},
        )
    db_engine.upgrade(empty_database)
    big = 478401539429613433
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO experiments (experiment_id, name, lifecycle_stage) VALUES (:i, 'big', 'active')"
            ),
            {"i": big},
        )
        conn.execute(
            text(
                "INSERT INTO runs (run_uuid, name, experiment_id, status, lifecycle_stage, artifact_uri) "
                "VALUES (:r, 'n', :i, 'RUNNING', 'active', 'a')"
            ),
            {"r": "b" * 32, "i": big},
        )
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    assert store.get_experiment(str(big)).name == "big"
    assert store.get_run("b" * 32).info.experiment_id == str(big)
    assert store.get_experiment(store.create_experiment("after")).name == "after"
    from bakehouse.entities.trace import Span

    trace_id = "tr-" + "c" * 32
    store.log_spans(str(big), [Span(trace_id, "a" * 16, None, "root", 1, 2, "OK")])
    assert store.get_trace(trace_id).info.experiment_id == str(big)
    store.hard_delete_traces([trace_id])
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM runs WHERE experiment_id > 2147483647"))
        conn.execute(text("DELETE FROM experiments WHERE experiment_id > 2147483647"))
    _downgrade_to(empty_database, "0006_traces")
    assert db_engine.current_revision(engine) == "0006_traces"
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM experiments WHERE experiment_id = 7")).scalar() == "small"


def test_webhooks_revision_downgrades_and_upgrades_again(empty_database: str) -> None:
    """0008 adds the webhook tables; taking it back leaves the rest intact, and it applies again cleanly."""
    from sqlalchemy import inspect

    webhook_tables = {"webhooks", "webhook_events", "webhook_deliveries", "webhook_delivery_attempts"}
    db_engine.upgrade(empty_database)
    engine = db_engine.get_engine(empty_database)
    assert webhook_tables <= set(inspect(engine).get_table_names())
    _downgrade_to(empty_database, "0007_experiment_ids_64bit")
    assert db_engine.current_revision(engine) == "0007_experiment_ids_64bit"
    tables = set(inspect(engine).get_table_names())
    assert not webhook_tables & tables and {"registered_models", "model_versions", "metrics"} <= tables
    _upgrade_to(empty_database, "head")
    assert db_engine.current_revision(engine) == SCHEMA_HEAD
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    mysql = engine.dialect.name in ("mysql", "mariadb")
    assert [d for d in differences if not (mysql and d[0] == "remove_index")] == []


def test_run_search_index_revision_downgrades_and_upgrades_again(empty_database: str) -> None:
    """0010 swaps the runs index for one that also holds the run id; both ways keep the runs and the schema."""
    from sqlalchemy import inspect

    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    def runs_indexes() -> set[str]:
        engine = db_engine.get_engine(empty_database)
        return {str(ix["name"]) for ix in inspect(engine).get_indexes("runs")}

    db_engine.upgrade(empty_database)
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    eid = store.create_experiment("index-swap")
    run_ids = {store.create_run(eid, "u", 1_000 + i, [], f"r{i}").info.run_id for i in range(3)}
    assert "index_runs_experiment_stage_start_id" in runs_indexes()
    assert "index_runs_experiment_stage_start" not in runs_indexes()
    _downgrade_to(empty_database, "0009_trace_indexes")
    assert "index_runs_experiment_stage_start" in runs_indexes()
    assert "index_runs_experiment_stage_start_id" not in runs_indexes()
    _upgrade_to_head_with_the_declared_schema(empty_database)
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    assert {r.info.run_id for r in store.search_runs([eid], "")} == run_ids


def test_latest_metrics_experiment_revision_backfills_and_downgrades(empty_database: str) -> None:
    """0011 gives each latest point its run's experiment: rows written before it are filled from ``runs``,
    the index moves to (experiment, key, value) and back, and searches ordered by a metric see the rows."""
    from sqlalchemy import column, inspect, table, text

    from bakehouse.entities import Metric
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    db_engine.upgrade(empty_database)
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    first, second = store.create_experiment("lm-first"), store.create_experiment("lm-second")
    runs = {}
    for eid in (first, second):
        for i in range(3):
            run_id = store.create_run(eid, "u", 1_000 + i, [], f"r{i}").info.run_id
            store.log_batch(run_id, metrics=[Metric("acc", i / 10, 1, 0), Metric("loss", 1 - i / 10, 1, 0)])
            runs[run_id] = int(eid)
    engine = db_engine.get_engine(empty_database)

    def latest_indexes() -> set[str]:
        return {str(ix["name"]) for ix in inspect(engine).get_indexes("latest_metrics")}

    _downgrade_to(empty_database, "0010_run_search_index")
    engine.dispose()
    assert "experiment_id" not in {c["name"] for c in inspect(engine).get_columns("latest_metrics")}
    assert "index_latest_metrics_key_value" in latest_indexes()
    old_latest = table(  # the table as 0010 had it, without the column
        "latest_metrics",
        *(column(c) for c in ("run_uuid", "key", "timestamp", "step", "value", "value_kind")),
    )
    late = next(r for r, e in runs.items() if e == int(second))
    with engine.begin() as conn:  # a point written by the code of 0010
        conn.execute(
            old_latest.insert().values(
                run_uuid=late, key="late", timestamp=1, step=0, value=0.5, value_kind=0
            )
        )
    _upgrade_to(empty_database, "head")
    engine.dispose()
    assert db_engine.current_revision(engine) == SCHEMA_HEAD
    assert "index_latest_metrics_experiment_key_value_run" in latest_indexes()  # 0016 widened it
    assert "index_latest_metrics_key_value" not in latest_indexes()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT run_uuid, experiment_id FROM latest_metrics")).all()
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert len(rows) == 13 and all(runs[run_id] == eid for run_id, eid in rows)
    mysql = engine.dialect.name in ("mysql", "mariadb")
    assert [d for d in differences if not (mysql and d[0] == "remove_index")] == []
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    ordered = store.search_runs([second], "", order_by=["metrics.late DESC"])
    assert len(ordered) == 3 and ordered[0].info.run_id == late
    assert [r.data.metrics["acc"] for r in store.search_runs([first], "", order_by=["metrics.acc"])] == [
        0.0,
        0.1,
        0.2,
    ]


def test_trace_tag_search_revision_fills_the_copies_and_goes_back(empty_database: str) -> None:
    """0012 gives trace tags their trace's experiment and time and an indexed value prefix, and trace metadata
    the prefix, filled from the rows already there (a non-ASCII value longer than the prefix included); tag
    and run searches then find them in order. Downgrading drops the copies and keeps every tag and metadata
    row; upgrading again fills them once more."""
    from sqlalchemy import inspect, text

    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    _upgrade_to(empty_database, "0011_latest_metrics_experiment")
    engine = db_engine.get_engine(empty_database)
    key = "`key`" if engine.dialect.name in ("mysql", "mariadb") else "key"
    long_value = "ü" * 120
    traces = [("tr-" + "a" * 32, 1_000), ("tr-" + "b" * 32, 3_000), ("tr-" + "c" * 32, 2_000)]
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO experiments (experiment_id, name, lifecycle_stage) VALUES (5, 'traces', 'active')"
            )
        )
        for trace_id, timestamp_ms in traces:
            conn.execute(
                text(
                    "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, status) "
                    "VALUES (:t, 5, :ts, 'OK')"
                ),
                {"t": trace_id, "ts": timestamp_ms},
            )
            conn.execute(
                text(f"INSERT INTO trace_tags (request_id, {key}, value) VALUES (:t, 'team', :v)"),
                {"t": trace_id, "v": long_value if trace_id != traces[1][0] else "other"},
            )
            conn.execute(
                text(
                    f"INSERT INTO trace_request_metadata (request_id, {key}, value) "
                    "VALUES (:t, 'mlflow.sourceRun', :v)"
                ),
                {"t": trace_id, "v": "run-a" if trace_id != traces[1][0] else "run-b"},
            )

    def tag_columns() -> set[str]:
        inspector = inspect(db_engine.get_engine(empty_database))
        names = {str(c["name"]) for c in inspector.get_columns("trace_tags")}
        return names | {f"metadata.{c['name']}" for c in inspector.get_columns("trace_request_metadata")}

    copies = {"experiment_id", "timestamp_ms", "value_prefix", "metadata.value_prefix"}
    assert not tag_columns() & copies
    for _ in range(2):
        _upgrade_to(empty_database, "head")
        assert copies <= tag_columns()
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT request_id, experiment_id, timestamp_ms, value_prefix FROM trace_tags ORDER BY request_id"
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            (traces[0][0], 5, 1_000, "ü" * 100),
            (traces[1][0], 5, 3_000, "other"),
            (traces[2][0], 5, 2_000, "ü" * 100),
        ]
        store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
        found, _ = store.search_traces(["5"], f"tags.team = '{long_value}'")
        assert [i.trace_id for i in found] == [traces[2][0], traces[0][0]]
        assert [i.trace_id for i in store.search_traces(["5"], "tags.team = 'other'")[0]] == [traces[1][0]]
        assert store.search_traces(["5"], "tags.team = '" + "ü" * 100 + "'")[0] == []
        found, _ = store.search_traces(["5"], "trace.run_id = 'run-a'")
        assert [i.trace_id for i in found] == [traces[2][0], traces[0][0]]
        _downgrade_to(empty_database, "0011_latest_metrics_experiment")
        assert not tag_columns() & copies
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM trace_tags")).scalar() == 3
            assert conn.execute(text("SELECT count(*) FROM trace_request_metadata")).scalar() == 3
            if engine.dialect.name == "sqlite":  # dropped in place: still clustered on (request_id, key)
                for table in ("trace_tags", "trace_request_metadata"):
                    ddl = conn.execute(
                        text(f"SELECT sql FROM sqlite_master WHERE name = '{table}'")
                    ).scalar_one()
                    assert "WITHOUT ROWID" in ddl
    _upgrade_to(empty_database, "head")
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    mysql = engine.dialect.name in ("mysql", "mariadb")
    assert [d for d in differences if not (mysql and d[0] == "remove_index")] == []


@pytest.mark.postgres
def test_an_upgrade_refreshes_postgresql_planner_statistics(postgres_uri: str) -> None:
    _upgrade_to(postgres_uri, "0010_run_search_index")
    engine = db_engine.get_engine(postgres_uri)
    steps: list[str] = []
    db_engine.upgrade(postgres_uri, progress=steps.append)
    assert any("ANALYZE" in s for s in steps)
    analysed = None
    deadline = time.monotonic() + 10  # the statistics views are updated shortly after a transaction ends
    while analysed is None and time.monotonic() < deadline:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
            analysed = conn.exec_driver_sql(
                "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'latest_metrics'"
            ).scalar()
        if analysed is None:
            time.sleep(0.2)
    assert analysed is not None
    steps.clear()
    db_engine.upgrade(postgres_uri, progress=steps.append)  # already at head: nothing to refresh
    assert not any("ANALYZE" in s for s in steps)


def test_metric_step_index_revision_downgrades_and_upgrades_again(empty_database: str) -> None:
    """0014 adds the index a chart's sampled history seeks on; both ways keep the points and the schema."""
    from sqlalchemy import inspect

    from bakehouse.entities import Metric
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    def metrics_indexes() -> set[str]:
        engine = db_engine.get_engine(empty_database)
        return {str(ix["name"]) for ix in inspect(engine).get_indexes("metrics")}

    db_engine.upgrade(empty_database)
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    run_id = store.create_run(store.create_experiment("seek"), "u", 1_000, [], "r").info.run_id
    store.log_batch(run_id, metrics=[Metric("loss", i / 7, 1_000 + i, i) for i in range(30)])
    assert "index_metrics_step_seek" in metrics_indexes()
    _downgrade_to(empty_database, "0012_trace_tag_search")
    assert "index_metrics_step_seek" not in metrics_indexes()
    _upgrade_to_head_with_the_declared_schema(empty_database)
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    assert [m.step for m in store.get_metric_history(run_id, "loss")] == list(range(30))
    sampled = store.get_metric_history_bulk_interval([run_id], "loss", 5)
    assert [m.step for m in sampled] == [0, 6, 12, 18, 29]


def test_param_value_index_revision_downgrades_and_upgrades_again(empty_database: str) -> None:
    """0015 adds the (key, value, run) index of params and the narrow runs index of the UI's count; both
    ways keep the rows, the schema and what a param equality finds."""
    from sqlalchemy import inspect

    from bakehouse.entities import Param
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    def indexes(table: str) -> set[str]:
        engine = db_engine.get_engine(empty_database)
        return {str(ix["name"]) for ix in inspect(engine).get_indexes(table)}

    db_engine.upgrade(empty_database)
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    eid = store.create_experiment("param-values")
    run_ids = []
    for i, value in enumerate(["0.01", "0.1", "x" * 2_000, "0.01"]):
        run_id = store.create_run(eid, "u", 1_000 + i, [], f"r{i}").info.run_id
        store.log_batch(run_id, params=[Param("lr", value)])
        run_ids.append(run_id)
    assert "index_params_key_value" in indexes("params")
    assert "index_runs_experiment_stage" in indexes("runs")
    _downgrade_to(empty_database, "0014_metric_step_index")
    assert "index_params_key_value" not in indexes("params")
    assert "index_runs_experiment_stage" not in indexes("runs")
    _upgrade_to_head_with_the_declared_schema(empty_database)
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    assert {r.info.run_id for r in store.search_runs([eid], "params.lr = '0.01'")} == {run_ids[0], run_ids[3]}
    long_value = "x" * 2_000
    assert [r.info.run_id for r in store.search_runs([eid], f"params.lr = '{long_value}'")] == [run_ids[2]]


def test_run_walk_indexes_revision_downgrades_and_upgrades_again(empty_database: str) -> None:
    """0016 swaps the (experiment, key, value) index of latest metrics for one that also holds the value's
    kind and the run, and adds the (run, key, value, kind) index of latest metrics and the runs index led
    by the run id; both ways keep the rows, the schema and what a metric-ordered, filtered search returns."""
    from sqlalchemy import inspect

    from bakehouse.entities import Metric, Param
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    def indexes(table: str) -> set[str]:
        engine = db_engine.get_engine(empty_database)
        return {str(ix["name"]) for ix in inspect(engine).get_indexes(table)}

    db_engine.upgrade(empty_database)
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    eid = store.create_experiment("run-walk")
    values = [0.5, float("nan"), 2.0, float("inf"), 0.5, -1.0]
    run_ids = []
    for i, value in enumerate(values):
        run_id = store.create_run(eid, "u", 1_000 + i, [], f"r{i}").info.run_id
        store.log_batch(
            run_id, metrics=[Metric("acc", value, 1, 0)], params=[Param("lr", "a" if i % 2 else "b")]
        )
        run_ids.append(run_id)

    def searched() -> list[str]:
        pages, token = [], None
        while True:
            page = store.search_runs(
                [eid], "params.lr = 'b'", max_results=2, order_by=["metrics.acc DESC"], page_token=token
            )
            pages += [r.info.run_id for r in page]
            token = page.token
            if not token:
                return pages

    # params.lr = 'b': runs 0 (0.5), 2 (2.0), 4 (0.5, started later: first of the tie)
    expected = [run_ids[2], run_ids[4], run_ids[0]]
    assert searched() == expected
    assert "index_latest_metrics_experiment_key_value_run" in indexes("latest_metrics")
    assert "index_latest_metrics_run_key_value" in indexes("latest_metrics")
    assert "index_runs_id_experiment_stage_start" in indexes("runs")
    _downgrade_to(empty_database, "0015_param_value_index")
    assert "index_latest_metrics_experiment_key_value" in indexes("latest_metrics")
    assert "index_latest_metrics_experiment_key_value_run" not in indexes("latest_metrics")
    assert "index_latest_metrics_run_key_value" not in indexes("latest_metrics")
    assert "index_runs_id_experiment_stage_start" not in indexes("runs")
    _upgrade_to_head_with_the_declared_schema(empty_database)
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    assert searched() == expected


def test_metric_blocks_revision_downgrades_and_upgrades_again(empty_database: str) -> None:
    """0017 adds the packed read copy of long histories (and, on SQLite, the trigger that
    drops the blocks a late point falls into); both ways keep the points, and blocks sealed after the way
    back are used again."""
    from sqlalchemy import inspect

    from bakehouse.entities import Metric
    from bakehouse.store.tracking.sql.metric_blocks import proven_blocks
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    def tables() -> set[str]:
        return set(inspect(db_engine.get_engine(empty_database)).get_table_names())

    def triggers() -> set[str]:
        engine = db_engine.get_engine(empty_database)
        sql = {
            "sqlite": "SELECT name FROM sqlite_master WHERE type = 'trigger'",
            "postgresql": "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal",
        }.get(engine.dialect.name)
        if sql is None:
            return set()
        with engine.connect() as conn:
            return {r[0] for r in conn.exec_driver_sql(sql)}

    def sealed(run_id: str) -> int:
        store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
        store.metric_seals.block_points, store.metric_seals.lag_ms = 100, 0
        store.seal_metric_history(run_id, "loss")
        with store.engine.connect() as conn:
            blocks = proven_blocks(conn, run_id, "loss", count=True)
        return 0 if blocks is None else len(blocks)

    db_engine.upgrade(empty_database)
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    run_id = store.create_run(store.create_experiment("blocks"), "u", 1_000, [], "r").info.run_id
    store.log_batch(run_id, metrics=[Metric("loss", i / 7, 1_000 + i, i) for i in range(250)])
    assert sealed(run_id) == 2
    triggered = db_engine.get_engine(empty_database).dialect.name == "sqlite"
    assert "metric_blocks" in tables() and triggers() == ({"metric_blocks_unseal"} if triggered else set())
    _downgrade_to(empty_database, "0016_run_walk_indexes")
    assert "metric_blocks" not in tables() and triggers() == set()
    engine = db_engine.get_engine(empty_database)  # the schema is behind the store: count the rows in SQL
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM metrics").scalar_one() == 250
    _upgrade_to_head_with_the_declared_schema(empty_database)
    assert triggers() == ({"metric_blocks_unseal"} if triggered else set())
    assert sealed(run_id) == 2
    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    assert [m.step for m in store.get_metric_history(run_id, "loss")] == list(range(250))
