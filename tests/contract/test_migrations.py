"""The one Alembic chain builds exactly the schema in ``schema.py`` on SQLite, PostgreSQL and MySQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.config import Config

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
    real = [d for d in differences if not (engine.dialect.name in ("mysql", "mariadb") and d[0] == "remove_index")]
    assert real == []
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(empty_database, "/tmp/unused-artifacts")
    assert store.get_experiment("0").name == "Default"
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
