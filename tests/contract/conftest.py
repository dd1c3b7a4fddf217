"""Store fixtures for the contract suites: the same tests run against every tracking store backend.

Backends: ``sqlite`` (a fresh file per test), ``postgres`` (a fresh database per test on the real
PostgreSQL server), and the REST store through a real ``bakehouse server`` (``rest`` over SQLite,
``rest-postgres`` over PostgreSQL) — see ``rest_stores.py``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from running_server import RunningServer

TRACKING_BACKENDS = ["sqlite", "postgres", "mysql", "rest", "rest-postgres"]


@pytest.fixture(params=TRACKING_BACKENDS)
def tracking_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    backend = request.param
    artifact_root = str(tmp_path / "artifacts")
    if backend == "sqlite":
        from bakehouse.store.tracking.sql.store import SqlTrackingStore

        yield SqlTrackingStore(f"sqlite:///{tmp_path / 'store.db'}", artifact_root)
    elif backend == "postgres":
        from bakehouse.store.tracking.sql.store import SqlTrackingStore

        uri = request.getfixturevalue("postgres_uri")
        yield SqlTrackingStore(uri, artifact_root)
    elif backend == "mysql":
        from bakehouse.store.tracking.sql.store import SqlTrackingStore

        yield SqlTrackingStore(request.getfixturevalue("mysql_uri"), artifact_root)
    else:
        from bakehouse.store.tracking.rest import RestTrackingStore

        fixture = "rest_postgres_server_url" if backend == "rest-postgres" else "rest_sqlite_server_url"
        yield RestTrackingStore.from_uri(request.getfixturevalue(fixture))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Any]:
    """A SQL tracking store on a fresh SQLite file, for tests that bulk-insert rows with Core."""
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(f"sqlite:///{tmp_path / 'store.db'}", str(tmp_path / "artifacts"))
    yield store
    store.engine.dispose()


@pytest.fixture(params=["postgres", "mysql"])
def server_database_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A SQL tracking store on the throwaway PostgreSQL, then MariaDB (one test each)."""
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    uri = request.getfixturevalue("postgres_uri" if request.param == "postgres" else "mysql_uri")
    store = SqlTrackingStore(uri, str(tmp_path / "artifacts"))
    yield store
    store.engine.dispose()


def _start_server(tmp_dir: Path, backend_store_uri: str) -> tuple[subprocess.Popen[bytes], str]:
    """A real `bakehouse server` for a whole module: starting one per test would dominate the suite."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    exe = Path(sys.executable).parent / "bakehouse"
    with open(tmp_dir / "server.log", "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [
                str(exe),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--backend-store-uri",
                backend_store_uri,
                "--artifacts-destination",
                str(tmp_dir / "artifacts"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=tmp_dir,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as response:
                if response.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(
        "bakehouse server did not start:\n" + (tmp_dir / "server.log").read_text(errors="replace")
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def rest_sqlite_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_dir = tmp_path_factory.mktemp("rest-sqlite")
    proc, url = _start_server(tmp_dir, f"sqlite:///{tmp_dir / 'server.db'}")
    yield url
    _stop(proc)


@pytest.fixture(scope="module")
def rest_postgres_server_url(
    tmp_path_factory: pytest.TempPathFactory, _postgres_server: str
) -> Iterator[str]:
    import psycopg  # test-only dependency

    name = f"bh_rest_{uuid.uuid4().hex[:12]}"
    admin = _postgres_server.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    tmp_dir = tmp_path_factory.mktemp("rest-postgres")
    proc, url = _start_server(tmp_dir, f"{_postgres_server.rpartition('/')[0]}/{name}")
    yield url
    _stop(proc)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------------------ registry contract suite
@pytest.fixture(scope="module")
def registry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    workdir = tmp_path_factory.mktemp("registry-server")
    server = RunningServer(f"sqlite:///{workdir / 'bakehouse.db'}", workdir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql", "rest"])
def registry_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A RegistryStore on each backend; model names must come from ``model_name`` (unique per test)."""
    if request.param == "rest":
        from bakehouse.store.registry.rest import RestRegistryStore

        server = request.getfixturevalue("registry_server")
        store = RestRegistryStore.from_uri(server.url)
        yield store
        store.transport.close()
        return
    from bakehouse.store.registry.sql import SqlRegistryStore

    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'registry.db'}"
    else:
        uri = request.getfixturevalue("postgres_uri")
    sql_store = SqlRegistryStore.from_uri(uri)
    yield sql_store
    sql_store.engine.dispose()  # close pooled connections before the database is dropped


@pytest.fixture
def model_name() -> str:
    """A unique prefix/name, so tests sharing one REST server never see each other's models."""
    return f"m{uuid.uuid4().hex[:10]}"
