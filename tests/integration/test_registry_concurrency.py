"""Concurrent registrations of one model name get versions 1..N exactly once.

Two ``bakehouse server`` processes share one PostgreSQL database; registrations race through both, from
20 threads of one process and from 5 processes x 4 threads. Version numbers come from one atomic ``UPDATE ... next_version + 1``,
so nothing collides and nothing is skipped.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = [pytest.mark.timeout(300), pytest.mark.slow]

N = 20

PROCESSES = (
    5  # x THREADS_PER_PROCESS = N concurrent calls from separate processes (cheap to start on 2 cores)
)
THREADS_PER_PROCESS = N // PROCESSES

_REGISTER_SCRIPT = r"""
import sys, threading, time
from bakehouse.client.client import Client
url, name, source, start_at, threads = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
clients = [Client(tracking_uri=url) for _ in range(threads)]
versions = []
def register(client, i):
    while time.time() < start_at:  # every process fires at the same wall-clock instant
        time.sleep(0.001)
    versions.append(client.register_model(f"{source}-{i}", name).version)
workers = [threading.Thread(target=register, args=(c, i)) for i, c in enumerate(clients)]
for w in workers: w.start()
for w in workers: w.join()
print(" ".join(versions))
"""


@pytest.fixture
def two_servers_on_postgres(postgres_uri, bakehouse_server):
    first = bakehouse_server(backend_store_uri=postgres_uri)
    second = bakehouse_server(backend_store_uri=postgres_uri)
    return first.url, second.url


def _assert_exactly_once(versions: list[str], registry_url: str, name: str) -> None:
    from bakehouse.client.client import Client

    assert sorted(int(v) for v in versions) == list(range(1, N + 1))
    stored = Client(tracking_uri=registry_url).search_model_versions(f"name = '{name}'", max_results=100)
    assert sorted(int(v.version) for v in stored) == list(range(1, N + 1))


def test_threads_through_two_servers_sharing_postgres(two_servers_on_postgres, tmp_path):
    from bakehouse.client.client import Client

    urls = two_servers_on_postgres
    name = f"race-{uuid.uuid4().hex[:8]}"
    clients = [Client(tracking_uri=urls[i % 2]) for i in range(N)]
    barrier = threading.Barrier(N)

    def register(i: int) -> str:
        barrier.wait(timeout=30)
        return clients[i].register_model(f"s3://models/{name}/{i}", name).version

    with ThreadPoolExecutor(max_workers=N) as pool:
        versions = list(pool.map(register, range(N)))
    _assert_exactly_once(versions, urls[0], name)


def test_processes_through_two_servers_sharing_postgres(two_servers_on_postgres, tmp_path):
    urls = two_servers_on_postgres
    name = f"race-{uuid.uuid4().hex[:8]}"
    start_at = time.time() + 4.0  # every process is up by then; then all N calls fire at once
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _REGISTER_SCRIPT,
                urls[i % 2],
                name,
                f"s3://models/{name}/p{i}",
                str(start_at),
                str(THREADS_PER_PROCESS),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(PROCESSES)
    ]
    versions = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        versions.extend(out.strip().splitlines()[-1].split())
    _assert_exactly_once(versions, urls[1], name)


def test_threads_on_one_sqlite_file(tmp_path):
    """The embedded default: many threads on one SQLite file (BEGIN IMMEDIATE queues the writers)."""
    from bakehouse.client.client import Client

    uri = f"sqlite:///{tmp_path / 'bakehouse.db'}"
    name = "race"
    barrier = threading.Barrier(N)

    def register(i: int) -> str:
        barrier.wait(timeout=30)
        return Client(tracking_uri=uri).register_model(str(tmp_path / f"model-{i}"), name).version

    with ThreadPoolExecutor(max_workers=N) as pool:
        versions = list(pool.map(register, range(N)))
    _assert_exactly_once(versions, uri, name)
