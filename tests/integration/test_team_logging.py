"""A team at once: client processes log metric batches through two `bakehouse server` processes sharing one
PostgreSQL, one server is killed (SIGKILL) and restarted on its port mid-run, and every point is stored
exactly once.

Each client (``team_client.py``, a separate process using the REST client and its retry policy) alternates
servers batch by batch and sends every fifth batch twice (a resend after a lost answer). The kill drops
requests in flight and refuses new ones until the restart: the clients retry them (``log-batch`` is safe to
repeat). Afterwards the rows in PostgreSQL, and the histories both servers answer, hold each client's points
exactly once: nothing lost, nothing duplicated. The timings of this workload live in bench/bench_team.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from server_process import BAKEHOUSE, free_port

from bakehouse.store.tracking.rest import RestTrackingStore

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(180)]

CLIENTS = 8
POINTS_PER_BATCH = 20
WARMUP_BATCHES = 4
CLIENT_SCRIPT = Path(__file__).with_name("team_client.py")


def _spawn_server(port: int, backend_store_uri: str, workdir: Path) -> tuple[subprocess.Popen[bytes], Path]:
    """``bakehouse server`` on ``port`` (its own session) and its log file."""
    cmd = [BAKEHOUSE, "server", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--backend-store-uri", backend_store_uri, "--artifacts-destination", str(workdir / "artifacts")]
    log_path = workdir / f"server-{port}-{time.monotonic_ns()}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    return proc, log_path


def _wait_healthy(port: int, proc: subprocess.Popen[bytes], log_path: Path) -> subprocess.Popen[bytes]:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited ({proc.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                if response.status == 200:
                    return proc
        except OSError:
            time.sleep(0.05)
    _kill(proc)
    raise AssertionError(f"server not healthy after 90 s:\n{log_path.read_text()[-3000:]}")


def _start_server(port: int, backend_store_uri: str, workdir: Path) -> subprocess.Popen[bytes]:
    """``bakehouse server`` on ``port``, once /health answers."""
    return _wait_healthy(port, *_spawn_server(port, backend_store_uri, workdir))


def _kill(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    proc.wait(timeout=30)


def _wait_for(paths: list[Path], clients: list[subprocess.Popen[str]], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        failed = [c for c in clients if c.poll() not in (None, 0)]
        assert not failed, f"a client failed early:\n{failed[0].communicate()[1][-3000:]}"
        assert time.monotonic() < deadline, "the clients did not start logging in time"
        time.sleep(0.02)


def _stored_steps(postgres_uri: str) -> dict[str, list[int]]:
    """Every stored ``loss`` step per run, read straight from PostgreSQL (duplicates would show twice)."""
    import psycopg  # test-only dependency

    url = postgres_uri.replace("postgresql+psycopg://", "postgresql://", 1)
    steps: dict[str, list[int]] = {}
    with psycopg.connect(url) as conn:
        for run_id, step in conn.execute(
            "SELECT run_uuid, step FROM metrics WHERE key = 'loss' ORDER BY run_uuid, step"
        ):
            steps.setdefault(run_id, []).append(step)
    return steps


def test_team_logging_through_two_servers_loses_and_duplicates_nothing(postgres_uri, tmp_path) -> None:
    port_a, port_b = free_port(), free_port()
    spawned = {
        name: _spawn_server(port, postgres_uri, tmp_path) for name, port in (("a", port_a), ("b", port_b))
    }
    servers = {name: proc for name, (proc, _) in spawned.items()}
    clients: list[subprocess.Popen[str]] = []
    try:
        for name, port in (("a", port_a), ("b", port_b)):  # both start at once
            _wait_healthy(port, *spawned[name])
        url_a, url_b = f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}"
        experiment_id = RestTrackingStore.from_uri(url_a).create_experiment("team")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BAKEHOUSE_", "MLFLOW_"))}
        env["BAKEHOUSE_HTTP_RETRY_TIMEOUT"] = "90"  # the restart below takes a while on a loaded machine
        env["BAKEHOUSE_HTTP_REQUEST_MAX_RETRIES"] = "20"
        for index in range(CLIENTS):
            args = [str(index), url_a, url_b, experiment_id, str(tmp_path), str(POINTS_PER_BATCH)]
            clients.append(
                subprocess.Popen(
                    [sys.executable, str(CLIENT_SCRIPT), *args, str(WARMUP_BATCHES)],
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                    env=env,
                )
            )
        _wait_for([tmp_path / f"started-{i}" for i in range(CLIENTS)], clients, timeout=90)

        # every client has reached both servers; kill B with requests in flight, restart it on its port
        _kill(servers["b"])
        time.sleep(0.3)
        servers["b"] = _start_server(port_b, postgres_uri, tmp_path)
        time.sleep(1.0)  # the clients' retries land on the new process and they log a few batches more
        (tmp_path / "stop").touch()

        reports = []
        for client in clients:
            out, err = client.communicate(timeout=120)
            assert client.returncode == 0, f"client failed:\n{err[-3000:]}"
            reports.append(json.loads(out.strip().splitlines()[-1]))

        assert sum(r["retries"] for r in reports) > 0, "no call was retried: the restart missed the clients"
        assert all(r["batches"] > WARMUP_BATCHES for r in reports)
        expected = {r["run_id"]: list(range(r["batches"] * POINTS_PER_BATCH)) for r in reports}
        stored = _stored_steps(postgres_uri)
        assert stored.keys() == expected.keys()
        for run_id, steps in expected.items():
            assert stored[run_id] == steps, f"{run_id}: points lost or duplicated in PostgreSQL"
        # the same through the API of both servers (B is the restarted process)
        for store in (RestTrackingStore.from_uri(url_a), RestTrackingStore.from_uri(url_b)):
            for run_id, steps in expected.items():
                history = store.get_metric_history(run_id, "loss")
                assert sorted(m.step for m in history) == steps
                assert all(m.value == float(m.step) for m in history)
                run = store.get_run(run_id)
                assert run.info.status == "FINISHED"
                assert run.data.metrics["loss"] == float(steps[-1])
            assert len(store.search_runs([experiment_id], max_results=100)) == CLIENTS
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
                client.wait()
        for proc in servers.values():
            _kill(proc)
