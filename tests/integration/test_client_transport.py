"""The REST client's HTTP transport against a real ``bakehouse server``: one keep-alive connection carries a
process's calls, a forked child gets its own, a stream left half read does not poison the pool, requests
go out with TCP_NODELAY, and proxy variables of the environment are not used."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest
from server_process import Server, free_port, start_server

from bakehouse.client.client import Client
from bakehouse.entities import Metric
from bakehouse.settings import HttpSettings
from bakehouse.store.tracking.rest import RestTrackingStore
from bakehouse.wire.transport import HttpTransport

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("transport-server"))
    try:
        yield running
    finally:
        running.stop()


def _store(url: str) -> RestTrackingStore:
    return RestTrackingStore(HttpTransport(url, HttpSettings.from_env()))


def _idle_connections(transport: HttpTransport) -> list[socket.socket]:
    """The sockets of the pool's idle keep-alive connections."""
    return [conn.sock for conn in transport.pool.idle() if conn.sock is not None]


def test_one_keep_alive_connection_carries_a_process_s_calls(server: Server) -> None:
    store = _store(server.url)
    experiment_id = store.create_experiment(f"keepalive-{time.time_ns()}")
    (sock,) = _idle_connections(store.transport)
    local_address = sock.getsockname()
    for _ in range(20):
        store.search_runs([experiment_id], None)
        store.get_experiment(experiment_id)
    assert _idle_connections(store.transport) == [sock]
    assert sock.getsockname() == local_address  # the same TCP connection, never reopened
    assert store.transport.pool.opened == 1
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    store.transport.close()


def test_a_forked_child_opens_its_own_connection_and_the_parent_keeps_its(server: Server) -> None:
    store = _store(server.url)
    experiment_id = store.create_experiment(f"fork-{time.time_ns()}")
    parent_pool = store.transport.pool
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a call on the inherited store must not touch the parent's socket
        try:
            run = store.create_run(experiment_id, "child", 1)
            fresh = store.transport.pool is not parent_pool and store.transport.pool.opened == 1
            os.write(write, f"{run.info.run_id} {fresh}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child_run_id, fresh = pipe.read().split()
    os.waitpid(pid, 0)
    assert fresh == "True"
    assert store.get_run(child_run_id).info.experiment_id == experiment_id
    assert store.transport.pool is parent_pool and parent_pool.opened == 1
    store.transport.close()


def test_a_history_stream_left_half_read_does_not_poison_the_next_call(server: Server) -> None:
    store = _store(server.url)
    experiment_id = store.create_experiment(f"stream-{time.time_ns()}")
    run_id = store.create_run(experiment_id, "u", 1).info.run_id
    points = 40_000  # ~1.3 MB of records: several chunks of the stream
    for start in range(0, points, 1000):
        store.log_batch(run_id, metrics=[Metric("loss", float(i), i, i) for i in range(start, start + 1000)])
    chunks = store.iter_metric_history_arrays(run_id, "loss")
    first = next(iter(chunks))
    assert 0 < len(first) < points
    chunks.close()  # the rest of the body is never read
    assert store.get_run(run_id).data.metrics == {"loss": float(points - 1)}
    assert sum(len(c) for c in store.iter_metric_history_arrays(run_id, "loss")) == points
    assert store.get_run(run_id).info.run_id == run_id  # had the unread bytes been left, this would read them
    store.transport.close()


def test_proxy_variables_of_the_environment_are_not_used(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # a proxy that is not there: using it would fail
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, nobody)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = Client(tracking_uri=server.url)
    assert client.get_experiment("0").name == "Default"
