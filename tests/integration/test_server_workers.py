"""`bakehouse server --workers 2` as a supervisor: dead workers are replaced, workers die with their parent,
and a browser session (signed with the key the parent shares, no BAKEHOUSE_SECRET_KEY) works on both."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from deployment_support import Server, free_port, http_status, tail, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ADMIN_PASSWORD = "workers-admin-password"


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("BAKEHOUSE_SECRET_KEY", raising=False)
    monkeypatch.delenv("MLFLOW_FLASK_SERVER_SECRET_KEY", raising=False)
    handle = Server(
        free_port(),
        [
            "--workers=2",
            "--auth",
            f"--backend-store-uri=sqlite:///{tmp_path / 'workers.db'}",
            f"--artifacts-destination={tmp_path / 'artifacts'}",
        ],
        {"BAKEHOUSE_ADMIN_PASSWORD": ADMIN_PASSWORD},
        tmp_path,
    )
    handle.launch()
    try:
        handle.wait_healthy()
        yield handle
    finally:
        handle.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_a_session_works_on_every_worker_without_a_configured_key(server: Server) -> None:
    login = httpx.post(
        server.url + "/bakehouse/auth/login",
        json={"username": "admin", "password": ADMIN_PASSWORD},
        timeout=30,
    )
    assert login.status_code == 200, login.text
    headers = {"Cookie": f"bakehouse_session={login.cookies['bakehouse_session']}"}
    workers = server.worker_pids()
    assert len(workers) == 2
    for serving in workers:
        other = next(pid for pid in workers if pid != serving)
        os.kill(other, signal.SIGSTOP)  # only `serving` can accept the next connection
        try:
            status = http_status(
                server.url + "/ajax-api/2.0/mlflow/experiments/search?max_results=1", headers
            )
        finally:
            os.kill(other, signal.SIGCONT)
        assert status == 200, f"worker {serving} refused a session signed by its sibling"


def test_a_killed_worker_is_replaced_and_workers_die_with_their_parent(server: Server) -> None:
    first, second = server.worker_pids()
    os.kill(first, signal.SIGKILL)
    wait_until(
        lambda: len(server.worker_pids()) == 2 and first not in server.worker_pids(), 60, "a replacement"
    )
    replacement = next(pid for pid in server.worker_pids() if pid != second)
    assert "stopped with signal SIGKILL; starting a replacement" in tail(server.log_path)
    wait_until(lambda: http_status(server.url + "/ready") == 200, 30, "ready again")
    metrics = httpx.get(server.url + "/metrics", timeout=30).text
    assert "bakehouse_worker_restarts_total 1.0" in metrics

    server.kill_parent()
    wait_until(lambda: not _alive(second) and not _alive(replacement), 40, "workers gone with their parent")
    # nothing holds the port any more: the same server starts again at once
    started = time.monotonic()
    server.launch()
    server.wait_healthy()
    assert "address already in use" not in tail(server.log_path).lower()
    assert time.monotonic() - started < 60
