"""Engines for every SQL backend, with SQLite's pragmas in one place, and the schema life cycle.

SQLite is tuned for several processes logging at once: WAL journal (readers never block the writer),
a long busy timeout, and ``BEGIN IMMEDIATE`` for write transactions so that two writers queue on the
lock instead of failing with "database is locked" when a read transaction tries to upgrade to a write.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

from bakehouse import settings
from bakehouse.clock import now_ms
from bakehouse.entities import LifecycleStage
from bakehouse.errors import BakehouseError, ErrorCode, InvalidParameterError, TemporarilyUnavailableError
from bakehouse.store.db.schema import SCHEMA_HEAD, metadata

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 60_000
#: how much of a SQLite file is read through a memory map (see ``_install_sqlite_hooks``)
SQLITE_MMAP_BYTES = 8 << 30
WRITE = "bakehouse_write"
#: set while a call runs on the server's event loop: a SQLite write must not wait for another writer's lock
#: (the whole server would wait with it); it raises WriteLockBusyError instead, before writing anything
_NO_LOCK_WAIT: ContextVar[bool] = ContextVar("bakehouse_no_lock_wait", default=False)


@contextlib.contextmanager
def no_lock_wait() -> Iterator[None]:
    """Within this block, SQLite write transactions fail at once (WriteLockBusyError) when the write lock is
    held elsewhere, instead of waiting up to the busy timeout."""
    token = _NO_LOCK_WAIT.set(True)
    try:
        yield
    finally:
        _NO_LOCK_WAIT.reset(token)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
#: processes sharing one connection budget (a server's workers); set by the server before it forks
_processes_sharing_budget = 1


def share_connection_budget(processes: int) -> None:
    """Split ``BAKEHOUSE_SQL_MAX_CONNECTIONS`` between this many processes (engines made from now on)."""
    global _processes_sharing_budget
    _processes_sharing_budget = max(1, processes)


def pool_sizing() -> tuple[int, int]:
    """``(pool_size, max_overflow)`` for a PostgreSQL/MySQL engine in this process.

    One server's workers together open at most ``BAKEHOUSE_SQL_MAX_CONNECTIONS`` (default 20): half kept
    open, half overflow opened under load. ``BAKEHOUSE_SQL_POOL_SIZE`` / ``..._MAX_OVERFLOW`` set one
    process's numbers directly instead."""
    share = max(2, settings.sql_max_connections() // _processes_sharing_budget)
    pool_size = settings.sql_pool_size()
    if pool_size is None:
        pool_size = (share + 1) // 2
    max_overflow = settings.sql_max_overflow()
    if max_overflow is None:
        max_overflow = max(0, share - pool_size)
    return pool_size, max_overflow


def open_engines() -> list[Engine]:
    with _engines_lock:
        return list(_engines.values())


def normalize_uri(uri: str) -> str:
    """Map the URI spellings users bring from MLflow onto SQLAlchemy drivers we ship."""
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri[len("postgres://") :]
    if uri.startswith("postgresql://"):
        uri = "postgresql+psycopg://" + uri[len("postgresql://") :]
    if uri.startswith("mysql://"):
        uri = "mysql+pymysql://" + uri[len("mysql://") :]
    return uri


def get_engine(uri: str) -> Engine:
    """One engine per database URI per process (engines own connection pools)."""
    uri = normalize_uri(uri)
    with _engines_lock:
        engine = _engines.get(uri)
        if engine is None:
            engine = _create_engine(uri)
            _engines[uri] = engine
        return engine


def _forget_engines_in_child() -> None:
    """A forked child must not share its parent's pooled connections; it opens its own."""
    for engine in _engines.values():
        engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_engines_in_child)


def dispose_engines() -> None:
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


class WriteLockBusyError(TemporarilyUnavailableError):
    """A write asked not to wait (see :func:`no_lock_wait`) found the database's write lock taken; nothing
    was written. The server then runs the call again on a worker thread, where it may wait."""


#: the database drivers Bakehouse maps URIs onto, and the extra that installs each
DRIVER_EXTRAS = {"psycopg": ("PostgreSQL", "postgres"), "pymysql": ("MySQL/MariaDB", "mysql")}


def _check_driver(driver: str) -> None:
    """An optional driver that is missing is named with the extra to install, before SQLAlchemy fails."""
    known = DRIVER_EXTRAS.get(driver)
    if known is not None and importlib.util.find_spec(driver) is None:
        database, extra = known
        raise InvalidParameterError(
            f"{database} needs the {driver} driver, which is not installed: pip install 'bakehouse[{extra}]'"
        )


def _create_engine(uri: str) -> Engine:
    url = make_url(uri)
    _check_driver(url.get_driver_name())
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        # Pooled connections keep the WAL open: closing the last connection checkpoints and deletes the
        # WAL, and re-creating it on the next write costs ~15 ms of fsyncs per transaction.
        # LIFO: a server answering one request at a time keeps using the connection whose page cache holds
        # what the last request read (FIFO handed the next request whichever pooled connection had waited
        # longest, with its own cold cache).
        engine = create_engine(
            url,
            pool_size=5,
            max_overflow=10,
            pool_use_lifo=True,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        _install_sqlite_hooks(engine)
        return engine
    pool_size, max_overflow = pool_sizing()
    return create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True)


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit BEGIN is DEFERRED).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.execute("PRAGMA cache_size=-16000")
        # Reads straight from the OS page cache, shared by every connection and process, instead of each
        # connection copying pages into its own 16 MB cache: a search over a 4 GB database walks far more
        # than that, and a connection that had not read those pages yet went back to the file for each one.
        # SQLite caps the size at its compile-time maximum (2 GiB in Debian's and Python's builds).
        cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(WRITE):
            if _NO_LOCK_WAIT.get():
                _begin_immediate_or_fail(connection)
            else:
                connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")


def _begin_immediate_or_fail(connection: Any) -> None:
    """BEGIN IMMEDIATE with no busy wait: the write lock now, or WriteLockBusyError."""
    cursor = connection.connection.dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout=0")
        try:
            cursor.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise WriteLockBusyError("The database's write lock is held by another writer") from exc
            raise
        finally:
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode (readers and one writer at once). The mode is stored in the file, so
    only the first connections to a new database switch it, and several processes may race to: the switch
    needs an exclusive lock and SQLite answers "database is locked" at once instead of waiting for it."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal" and _ours(cursor):
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def _ours(cursor: Any) -> bool:
    """Whether the file is empty or Bakehouse's: the journal mode is written into the file, and a database
    another tool made (MLflow's, which a user may point Bakehouse at by mistake) must stay byte for byte."""
    if cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'alembic_version'").fetchone() is None:
        return cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'runs'").fetchone() is None
    row = cursor.execute("SELECT version_num FROM alembic_version").fetchone()
    return row is None or _is_bakehouse_revision(row[0])


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# ------------------------------------------------------------------------------------- schema life cycle


class SchemaOutOfDateError(BakehouseError):
    default_code = ErrorCode.INVALID_STATE


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
        return row[0] if row else None


def ensure_schema(engine: Engine) -> None:
    """Create the schema in an empty database; refuse an out-of-date one with a clear message.

    Many processes may open one new database at the same moment (a team's servers starting together, a
    sweep's workers): the decision is taken again under a lock, since another process may have created the
    schema between the first look and this one."""
    revision = current_revision(engine)
    if revision == SCHEMA_HEAD:
        return
    if revision is not None:
        raise _foreign_schema(engine, revision) or _out_of_date(engine, revision)
    with engine.connect().execution_options(**{WRITE: True}) as conn, _schema_lock(conn), conn.begin():
        if (
            conn.dialect.name == "postgresql"
        ):  # held to the commit, so nobody looks before the schema is visible
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
        inspector = inspect(conn)
        if inspector.has_table("alembic_version"):
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
            if revision != SCHEMA_HEAD:
                raise _foreign_schema(engine, revision) or _out_of_date(engine, revision)
            return  # another process created it while we were looking
        if set(inspector.get_table_names()) & {"experiments", "runs"}:
            raise _foreign_schema(engine, revision) or SchemaOutOfDateError(
                f"The database at {_safe_url(engine)} has tables but no Bakehouse schema version. "
                f"Run `bakehouse db upgrade {_safe_url(engine)}` or point Bakehouse at an empty database."
            )
        _create_fresh(conn)


def _is_bakehouse_revision(revision: str | None) -> bool:
    """Bakehouse's revisions are named ``00NN_topic``; MLflow's are 12 hex digits."""
    return revision is not None and len(revision) > 5 and revision[:4].isdigit() and revision[4] == "_"


def _foreign_schema(engine: Engine, revision: str | None) -> SchemaOutOfDateError | None:
    """An MLflow database: name the command that copies it (``db upgrade`` cannot help, and must not try)."""
    if _is_bakehouse_revision(revision):
        return None
    with engine.connect() as conn:
        inspector = inspect(conn)
        if not inspector.has_table("metrics"):
            return None
        columns = {c["name"] for c in inspector.get_columns("metrics")}
    if "is_nan" not in columns:
        return None
    url = _safe_url(engine)
    return SchemaOutOfDateError(
        f"The database at {url} was made by MLflow (schema revision {revision!r}); Bakehouse keeps its own "
        f"schema and will not change MLflow's. Copy everything into a Bakehouse database with "
        f"`bakehouse migrate --from {url} --to sqlite:///bakehouse.db` (the MLflow database is only read)."
    )


def _out_of_date(engine: Engine, revision: str | None) -> SchemaOutOfDateError:
    return SchemaOutOfDateError(
        f"The database schema at {_safe_url(engine)} is at revision {revision!r} but this Bakehouse needs "
        f"{SCHEMA_HEAD!r}. Back up the database, then run `bakehouse db upgrade {_safe_url(engine)}`."
    )


#: PostgreSQL advisory-lock key and MySQL lock name that serialize schema creation between processes
_SCHEMA_LOCK_KEY = 0x62616B65
_SCHEMA_LOCK_NAME = "bakehouse-schema"


@contextlib.contextmanager
def _schema_lock(conn: Any) -> Iterator[None]:
    """Hold MySQL's named schema lock around the whole creating transaction, released only after its commit.

    MySQL commits DDL at once but the version row only at the end: a lock released before the commit let the
    next process see the tables without their version. The lock is taken and given back outside any
    transaction, so the next holder's snapshot starts after this commit. PostgreSQL takes a transaction-level
    advisory lock inside the transaction instead; SQLite's BEGIN IMMEDIATE already holds the write lock."""
    if conn.dialect.name not in ("mysql", "mariadb"):
        yield
        return
    conn.execute(text("SELECT GET_LOCK(:name, 120)"), {"name": _SCHEMA_LOCK_NAME})
    conn.commit()  # end the auto-begun transaction; the named lock belongs to the session
    try:
        yield
    finally:
        if conn.in_transaction():
            conn.rollback()
        conn.execute(text("SELECT RELEASE_LOCK(:name)"), {"name": _SCHEMA_LOCK_NAME})
        conn.commit()


def _create_fresh(conn: Any) -> None:
    """Fresh databases get the head schema straight from the metadata and are stamped at head."""
    metadata.create_all(conn)
    conn.execute(
        text("CREATE TABLE IF NOT EXISTS alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
    )
    conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": SCHEMA_HEAD})
    _ensure_default_experiment(conn)


def allow_zero_id(conn: Any) -> None:
    """MySQL turns an inserted 0 into the next AUTO_INCREMENT value unless told otherwise."""
    if conn.dialect.name in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")


def _ensure_default_experiment(conn: Any) -> None:
    from bakehouse.store.db.schema import experiments  # local: avoid a cycle at import time

    exists = conn.execute(experiments.select().where(experiments.c.experiment_id == 0)).first()
    if exists is None:
        allow_zero_id(conn)
        now = now_ms()  # as MLflow does: filters on creation_time see the Default experiment
        conn.execute(
            experiments.insert().values(
                experiment_id=0,
                name="Default",
                artifact_location=None,
                lifecycle_stage=LifecycleStage.ACTIVE.value,
                creation_time=now,
                last_update_time=now,
            )
        )


def upgrade(uri: str, progress: Callable[[str], None] | None = None) -> str:
    """Run the Alembic chain up to head (``bakehouse db upgrade``); returns the new revision."""
    from alembic import command  # heavy, only for upgrades
    from alembic.config import Config

    engine = get_engine(uri)
    migrations_dir = Path(__file__).parent / "migrations"
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", normalize_uri(uri).replace("%", "%%"))
    revision = current_revision(engine)
    foreign = (
        _foreign_schema(engine, revision)
        if revision is None or not _is_bakehouse_revision(revision)
        else None
    )
    if foreign is not None:
        raise foreign
    if revision is None:
        with engine.connect() as conn:
            existing = set(inspect(conn).get_table_names())
        if existing & {"experiments", "runs"}:
            raise InvalidParameterError(
                f"The database at {_safe_url(engine)} holds tables that Bakehouse did not create; refusing to upgrade it."
            )
    if progress:
        progress(f"Current revision: {revision or 'empty database'}; target: {SCHEMA_HEAD}")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        config.attributes["progress"] = progress
        command.upgrade(config, "head")
    if revision not in (None, SCHEMA_HEAD) and engine.dialect.name == "postgresql":
        _refresh_planner_statistics(engine, progress)
    if progress:
        progress(f"Database is at {SCHEMA_HEAD}")
    return SCHEMA_HEAD


def _refresh_planner_statistics(engine: Engine, progress: Callable[[str], None] | None) -> None:
    """ANALYZE after PostgreSQL migrations: a revision that backfills a column or builds an index leaves the
    planner with stale statistics until autovacuum gets to the tables, and in that window searches chose
    sequential scans (seen for about a minute after 0011 at 10^5 runs). ANALYZE samples a bounded number of
    rows per table, so this takes seconds even on a large database. SQLite is left without statistics on
    purpose: its plans are chosen by the indexes alone, which the search code is written against."""
    if progress:
        progress("Refreshing PostgreSQL's planner statistics (ANALYZE)")
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")


def _safe_url(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)
