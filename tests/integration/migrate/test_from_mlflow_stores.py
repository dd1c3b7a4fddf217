"""`bakehouse migrate` from stores the real MLflow wrote (3.17.2 and 2.22.5; SQLite, file store, PostgreSQL,
MySQL) into Bakehouse (SQLite, PostgreSQL, a Bakehouse server), compared field by field through the official
``mlflow`` client on both sides; the source's bytes never change; a second run writes nothing."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from compare import artifact_location_moved, compare
from migrate_support import BAKEHOUSE, FixtureStore, dump, fill_databases, run_python, sha256_of, tree_digest

pytestmark = pytest.mark.timeout(900)


def migrate_cli(*args: str, check: bool = True, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [*BAKEHOUSE, "migrate", *args, "--json"],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=cwd,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"bakehouse migrate failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def report_of(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    data = json.loads(proc.stdout)
    data["by_kind"] = {k["kind"]: k for k in data["kinds"]}
    return data


def empty_file_size(path: str, source: Any, destination: Any) -> bool:
    """MLflow's artifact proxy omits a zero size from its JSON (the client reads None); Bakehouse sends 0."""
    return (
        "/artifacts[" in path and path.endswith("][1]") and source in (None, 0) and destination in (None, 0)
    )


def identical_points_once(path: str, source: Any, destination: Any) -> bool:
    """A file store can hold the very same point twice (MLflow 3 writes some twice); a database keeps one
    (MLflow's SQL store too): the histories are equal as sets."""
    if "/history/" not in path or not isinstance(source, list) or not isinstance(destination, list):
        return False
    unique = sorted({json.dumps(p) for p in source})
    return len(unique) < len(source) and unique == sorted(json.dumps(p) for p in destination)


def assert_same(source: dict[str, Any], destination: dict[str, Any]) -> None:
    problems = compare(source, destination, [artifact_location_moved, empty_file_size, identical_points_once])
    assert problems == [], "\n".join(problems)


def assert_nothing_written(report: dict[str, Any]) -> None:
    assert report["metric_points_written"] == 0 and report["artifact_files_copied"] == 0
    for kind in report["kinds"]:
        assert kind["created"] == 0 and kind["updated"] == 0, kind
    assert report["verified"] is True


def test_mlflow3_sqlite_into_bakehouse_sqlite(
    mlflow3_stores: dict[str, FixtureStore], tmp_path: Path, read_through_server: Any
) -> None:
    """The big fixture: nested runs, NaN/inf, a 100k-point history, limits, datasets, logged models, registry,
    prompts and a 100 MB artifact. Copied exactly, the source untouched, a second run writes nothing."""
    store = mlflow3_stores["mlflow3-sqlite-big"].copy_to(tmp_path / "source")
    shared_artifacts = mlflow3_stores["mlflow3-sqlite-big"].root / "artifacts"
    db_before, artifacts_before = sha256_of(store.db), tree_digest(shared_artifacts)
    dest = f"sqlite:///{tmp_path / 'bakehouse.db'}"
    artifact_root = tmp_path / "bakehouse-artifacts"

    first = report_of(
        migrate_cli(
            "--from", store.uri, "--to", dest, "--artifact-root", str(artifact_root), "--verify", "points"
        )
    )
    assert first["verified"] is True
    kinds = first["by_kind"]
    assert kinds["runs"]["source"] == kinds["runs"]["created"] == 9
    assert kinds["model_versions"]["created"] == 5  # classifier 1, 2, 4 and the two prompt versions
    assert kinds["logged_models"]["created"] == 2
    assert first["metric_points_written"] > 100_000
    assert first["artifact_bytes_copied"] > 100 * 1024 * 1024
    assert sha256_of(store.db) == db_before, "the MLflow database changed"
    assert tree_digest(shared_artifacts) == artifacts_before, "the MLflow artifacts changed"
    assert sorted(p.name for p in store.root.iterdir()) == ["artifacts", "made.json", "mlflow.db"]

    second = report_of(migrate_cli("--from", store.uri, "--to", dest, "--artifact-root", str(artifact_root)))
    assert_nothing_written(second)
    assert sha256_of(store.db) == db_before

    # MLflow's own client writes when it loads a prompt (it links the prompt to the active experiment): it
    # reads a copy
    source_view = dump(store.copy_to(tmp_path / "read-by-mlflow").uri)
    dest_view = read_through_server(dest)
    assert_same(source_view, dest_view)
    history = dest_view["runs"][store.made["runs"]["history"]]["history"]["loss"]
    assert len(history) == 100_000 and history[-1][:2] == [99_999, history[-1][1]]
    edges = dest_view["runs"][store.made["runs"]["edges"]]["history"]
    assert edges["nan"] == [[0, edges["nan"][0][1], "nan"]]
    assert edges["pos_inf"][0][2] == 1.7976931348623157e308  # what MLflow's SQL store kept of +inf


def test_mlflow2_sqlite_into_a_bakehouse_server(
    mlflow2_stores: dict[str, FixtureStore], mlflow2_python: str, tmp_path: Path, bakehouse_server: Any
) -> None:
    """MLflow 2.22.5's database into a running Bakehouse server (ids kept through its transfer endpoints,
    artifacts through its proxy); both sides read by MLflow 2.22.5's own client."""
    store = mlflow2_stores["mlflow2-sqlite"].copy_to(tmp_path / "source")
    before = sha256_of(store.db)
    server = bakehouse_server(artifacts_destination=str(tmp_path / "server-artifacts"))
    report = report_of(migrate_cli("--from", store.uri, "--to", server.url))
    assert report["verified"] is True and report["by_kind"]["runs"]["created"] == 8
    assert_nothing_written(report_of(migrate_cli("--from", store.uri, "--to", server.url)))
    assert sha256_of(store.db) == before
    assert_same(dump(store.uri, mlflow2_python), dump(server.url, mlflow2_python))


@pytest.mark.parametrize(
    ("fixture", "destination"),
    [("mlflow3-files", "postgres"), ("mlflow2-files", "sqlite")],
)
def test_file_stores(
    request: pytest.FixtureRequest,
    fixture: str,
    destination: str,
    tmp_path: Path,
    mlflow2_python: str,
    read_through_server: Any,
) -> None:
    """``./mlruns`` in both layouts (2.x; 3.x with logged models), random 63-bit experiment ids kept."""
    stores = request.getfixturevalue("mlflow3_stores" if fixture.startswith("mlflow3") else "mlflow2_stores")
    store = stores[fixture].copy_to(tmp_path / "source")
    python = sys.executable if fixture.startswith("mlflow3") else mlflow2_python
    before = tree_digest(store.root)
    dest = (
        request.getfixturevalue("postgres_uri")
        if destination == "postgres"
        else f"sqlite:///{tmp_path / 'b.db'}"
    )
    args = ("--from", store.uri, "--to", dest, "--artifact-root", str(tmp_path / "art"))
    report = report_of(migrate_cli(*args))
    assert report["verified"] is True
    assert tree_digest(store.root) == before
    assert_nothing_written(report_of(migrate_cli(*args)))
    # last: MLflow 3's client writes when it loads a prompt (it links the prompt to the active experiment)
    source_view = dump(store.uri, python)
    moved_ids = [int(e["experiment_id"]) for e in source_view["experiments"] if e["experiment_id"] != "0"]
    assert moved_ids and all(i > 2**31 for i in moved_ids)
    assert_same(source_view, read_through_server(dest, python))
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    tracking = SqlTrackingStore(dest, str(tmp_path / "art"))  # new experiments get ids past the moved ones
    new_id = tracking.create_experiment("after-the-move")
    assert tracking.get_experiment(new_id).name == "after-the-move" and int(new_id) > max(moved_ids)
    tracking.db.engine.dispose()


def _table_digest(uri: str) -> str:
    """Every row of every table, for databases whose files we cannot hash (PostgreSQL, MySQL)."""
    from sqlalchemy import MetaData, create_engine, select

    engine = create_engine(uri)
    try:
        metadata = MetaData()
        metadata.reflect(engine)
        rows = []
        with engine.connect() as conn:
            for name in sorted(metadata.tables):
                table = metadata.tables[name]
                rows.append([name, sorted(map(repr, conn.execute(select(table)).all()))])
        return json.dumps(rows)
    finally:
        engine.dispose()


def test_server_databases_as_sources(
    postgres_uri: str, mysql_uri: str, tmp_path: Path, read_through_server: Any
) -> None:
    """MLflow 3.17.2 writing into PostgreSQL and MySQL (one writer process for both); each migrated from there
    through read-only transactions, its tables unchanged."""
    made = fill_databases([postgres_uri, mysql_uri], tmp_path / "mlflow-artifacts")
    assert len(made) == 2
    for index, uri in enumerate((postgres_uri, mysql_uri)):
        before = _table_digest(uri)
        dest = f"sqlite:///{tmp_path / f'bakehouse-{index}.db'}"
        args = ("--from", uri, "--to", dest, "--artifact-root", str(tmp_path / f"art-{index}"))
        report = report_of(migrate_cli(*args))
        assert report["verified"] is True and report["by_kind"]["runs"]["created"] == 8
        assert_nothing_written(report_of(migrate_cli(*args)))
        assert _table_digest(uri) == before
        assert_same(dump(uri), read_through_server(dest))


def test_changes_made_after_a_migration_are_all_that_moves(
    mlflow3_stores: dict[str, FixtureStore], tmp_path: Path, read_through_server: Any
) -> None:
    """The team keeps logging into MLflow; the next migration brings exactly that."""
    store = mlflow3_stores["mlflow3-files"].copy_to(tmp_path / "source")
    dest = f"sqlite:///{tmp_path / 'bakehouse.db'}"
    args = ("--from", store.uri, "--to", dest, "--artifact-root", str(tmp_path / "art"))
    report_of(migrate_cli(*args))
    added = json.loads(
        run_python(
            sys.executable, [str(Path(__file__).parent / "mlflow_writer.py"), "--extra", "2", store.uri]
        )
    )
    report = report_of(migrate_cli(*args))
    kinds = report["by_kind"]
    assert kinds["runs"]["created"] == 2 and kinds["runs"]["updated"] == 1  # the run that finished since
    assert kinds["metrics"]["updated"] == 1  # five more points on one history
    assert kinds["experiments"]["created"] == 0 and kinds["model_versions"]["created"] == 0
    assert report["metric_points_written"] == 2 + 5 + 1  # the new runs' points and the whole updated history
    dest_view = read_through_server(dest)
    assert_same(dump(store.uri), dest_view)
    assert set(added["added"]) <= set(dest_view["runs"])


def test_dry_run_changes_nothing(mlflow2_stores: dict[str, FixtureStore], tmp_path: Path) -> None:
    store = mlflow2_stores["mlflow2-sqlite"].copy_to(tmp_path / "source")
    dest_file = tmp_path / "bakehouse.db"
    proc = subprocess.run(
        [*BAKEHOUSE, "migrate", "--from", store.uri, "--to", f"sqlite:///{dest_file}", "--dry-run"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Dry run: nothing was changed" in proc.stdout
    assert "runs" in proc.stdout and "8" in proc.stdout
    assert not dest_file.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["source"]


def test_a_conflict_stops_before_anything_is_written(
    mlflow2_stores: dict[str, FixtureStore], tmp_path: Path
) -> None:
    """Experiment 1 at the destination is another experiment: the migration refuses, and writes nothing."""
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = mlflow2_stores["mlflow2-sqlite"].copy_to(tmp_path / "source")
    dest = f"sqlite:///{tmp_path / 'bakehouse.db'}"
    tracking = SqlTrackingStore(dest, str(tmp_path / "art"))
    assert tracking.create_experiment("someone-elses") == "1"
    before = _table_digest(dest)
    proc = migrate_cli("--from", store.uri, "--to", dest, check=False)
    assert proc.returncode == 1
    assert "conflict" in proc.stderr and "nothing was changed" in proc.stderr
    assert "'migrate-a'" in proc.stderr and "'someone-elses'" in proc.stderr
    assert json.loads(proc.stdout)["changed"] is False
    assert _table_digest(dest) == before


def test_bakehouse_pointed_at_an_mlflow_database_names_migrate(
    mlflow3_stores: dict[str, FixtureStore], tmp_path: Path
) -> None:
    store = mlflow3_stores["mlflow3-sqlite-big"]
    db = tmp_path / "mlflow.db"
    shutil.copy(store.db, db)
    before = sha256_of(db)
    for args in (["runs", "list", "--tracking-uri", f"sqlite:///{db}"], ["db", "upgrade", f"sqlite:///{db}"]):
        proc = subprocess.run([*BAKEHOUSE, *args], capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 1
        assert f"bakehouse migrate --from sqlite:///{db}" in " ".join(proc.stderr.split())
        assert "Can't locate revision" not in proc.stderr and "Traceback" not in proc.stderr
    assert sha256_of(db) == before
