"""Concurrent registrations of one model name get versions 1..N exactly once.

Two ``bakehouse server`` processes share one PostgreSQL database; registrations race through both, from
threads and from separate processes. Version numbers come from one atomic ``UPDATE ... next_version + 1``,
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

_REGISTER_SCRIPT = r"""
import sys, time
from bakehouse.client.client import Client
url, name, source, start_at = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
client = Client(tracking_uri=url)
client.registry_store  # connect before the start line, so the race is on the registration itself
while time.time() < start_at:
    time.sleep(0.001)
print(client.register_model(source, name).version)
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
        return clients[i].register_model(str(tmp_path / f"model-{i}"), name).version

    with ThreadPoolExecutor(max_workers=N) as pool:
        versions = list(pool.map(register, range(N)))
    _assert_exactly_once(versions, urls[0], name)


def test_processes_through_two_servers_sharing_postgres(two_servers_on_postgres, tmp_path):
    urls = two_servers_on_postgres
    name = f"race-{uuid.uuid4().hex[:8]}"
    start_at = time.time() + 8.0  # every process is up and connected by then, then all fire at once
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _REGISTER_SCRIPT, urls[i % 2], name, str(tmp_path / f"m{i}"), str(start_at)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(N)
    ]
    versions = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        versions.append(out.strip().splitlines()[-1])
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
