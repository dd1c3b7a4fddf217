"""`bakehouse server` as a user runs it: options, start-up checks, workers, warnings."""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from server_process import BAKEHOUSE, start_server

pytestmark = pytest.mark.timeout(180)


def test_out_of_date_schema_is_refused_with_the_upgrade_command(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('0000_ancient')")
    proc = subprocess.run(
        [BAKEHOUSE, "server", "-p", "1", "--backend-store-uri", f"sqlite:///{db}"],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    assert "bakehouse db upgrade" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_unreachable_database_is_one_clear_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.run(
        [
            BAKEHOUSE,
            "server",
            "-p",
            "1",
            "--backend-store-uri",
            f"postgresql+psycopg://bh:hunter2@127.0.0.1:{port}/db",
        ],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert (
        "The database refused or could not be reached" in proc.stderr and "Connection refused" in proc.stderr
    )
    assert (
        "Traceback" not in proc.stderr and "sqlalche.me" not in proc.stderr and "hunter2" not in proc.stderr
    )


def test_help_lists_mlflow_options() -> None:
    out = subprocess.run(
        [BAKEHOUSE, "server", "--help"], check=False, capture_output=True, text=True, timeout=60
    ).stdout
    for option in (
        "--backend-store-uri",
        "--registry-store-uri",
        "--default-artifact-root",
        "--serve-artifacts",
        "--no-serve-artifacts",
        "--artifacts-destination",
        "--artifacts-only",
        "-h, --host",
        "-p, --port",
        "-w, --workers",
        "--allowed-hosts",
        "--cors-allowed-origins",
        "--static-prefix",
        "--app-name",
    ):
        assert option in out, option


def test_workers_share_the_port_and_keep_tcp_nodelay(tmp_path: Path) -> None:
    """Two worker processes; sequential keep-alive requests never pay the ~40 ms delayed-ACK stall."""
    server = start_server(tmp_path, extra_args=["--workers", "2", "--log-level", "warning"])
    try:
        with httpx.Client(base_url=server.url) as client:
            eid = client.post("/api/2.0/mlflow/experiments/create", json={"name": "w"}).json()[
                "experiment_id"
            ]
            rid = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": eid}).json()["run"][
                "info"
            ]["run_id"]
            samples = []
            for i in range(60):
                t0 = time.perf_counter()
                r = client.post(
                    "/api/2.0/mlflow/runs/log-metric",
                    json={"run_id": rid, "key": "m", "value": i, "timestamp": i, "step": i},
                )
                samples.append(time.perf_counter() - t0)
                assert r.status_code == 200
            history = client.get(
                "/api/2.0/mlflow/metrics/get-history", params={"run_id": rid, "metric_key": "m"}
            ).json()
        assert [m["step"] for m in history["metrics"]] == list(range(60))
        assert statistics.median(samples) < 0.035, (
            f"median {statistics.median(samples) * 1000:.1f} ms per call"
        )
        pids = subprocess.run(
            ["pgrep", "-s", str(server.proc.pid)], check=False, capture_output=True, text=True
        ).stdout.split()
        assert len(pids) >= 3  # the supervisor and two workers
    finally:
        server.stop()


def test_binding_all_interfaces_warns_about_exposure(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            BAKEHOUSE,
            "server",
            "-h",
            "0.0.0.0",
            "-p",
            "0",
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'x.db'}",
            "--artifacts-destination",
            str(tmp_path / "a"),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        cwd=tmp_path,
        start_new_session=True,
    )
    try:
        first = proc.stderr.readline() if proc.stderr else ""
        while "Warning" not in first and proc.poll() is None and first:
            first = proc.stderr.readline() if proc.stderr else ""
        assert "0.0.0.0" in first and "WITHOUT authentication" in first
    finally:
        import os
        import signal

        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def test_a_port_out_of_range_is_refused_before_anything_starts(tmp_path: Path) -> None:
    for command in (
        ["server", "--port", "99999"],
        ["models", "serve", "-m", str(tmp_path), "--port", "70000"],
    ):
        proc = subprocess.run(
            [BAKEHOUSE, *command], check=False, capture_output=True, text=True, timeout=60, cwd=tmp_path
        )
        assert proc.returncode == 2 and "is not in the range 0<=x<=65535" in proc.stderr, proc.stderr
