"""What several benchmark scripts share: servers in subprocesses, medians, machine load, MLflow's copy of data.

Imported by ``bench_search.py`` and ``bench_scale.py`` (the scripts' own directory is on ``sys.path``).
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_average() -> str:
    """The 1/5/15-minute load averages, as ``uptime`` prints them (the machine is shared)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f}"


def median(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else float("nan")


@dataclass
class Server:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


def server_command(tool: str, port: int, backend_uri: str, artifacts: Path, workers: int = 1) -> list[str]:
    """``bakehouse server`` or ``mlflow server`` (MLflow with its default worker count)."""
    if tool == "bakehouse":
        cmd = [str(VENV_BIN / "bakehouse"), "server", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--backend-store-uri", backend_uri, "--artifacts-destination", str(artifacts)]
        cmd += ["--log-level", "warning"]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        return cmd
    if tool == "mlflow":
        cmd = [str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["--backend-store-uri", backend_uri, "--artifacts-destination", str(artifacts)]
        if workers > 1:
            cmd += ["--workers", str(workers)]
        return cmd
    raise ValueError(tool)


def start_server(
    tool: str,
    backend_uri: str,
    workdir: Path,
    workers: int = 1,
    port: int | None = None,
    timeout: float = 240,
) -> Server:
    """Start a server in its own session and wait until /health answers; its output goes to a log file."""
    port = port or free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{tool}-{port}.log"
    cmd = server_command(tool, port, backend_uri, workdir / f"{tool}-artifacts", workers)
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            cmd,
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            start_new_session=True,
            env={k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BAKEHOUSE_"))},
        )
    url = f"http://127.0.0.1:{port}"
    server = Server(tool, url, proc, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{tool} server exited:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{tool} server did not answer in {timeout:.0f} s:\n{log.read_text()[-3000:]}")


def post_json(url: str, body: dict[str, Any], timeout: float = 600) -> dict[str, Any]:
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=timeout) as r:
        out: dict[str, Any] = json.loads(r.read())
        return out


# ----------------------------------------------------------------------------------- MLflow's copy of data


def create_mlflow_database(ml_db: Path) -> None:
    """An empty MLflow database made by MLflow itself (its own migrations)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore(f"sqlite:///{ml_db}", str(ml_db.parent / "mlflow-artifacts"))
    store.engine.dispose()


def copy_runs_to_mlflow(bh_db: Path, ml_db: Path, experiment_names: list[str]) -> None:
    """Copy Bakehouse's experiments (by name), runs, params, tags and metrics into MLflow's SQLite schema.

    Writing the same rows through MLflow's store would take hours at these sizes; the rows are identical,
    only the columns differ (MLflow's ``is_nan`` for Bakehouse's ``value_kind``).
    """
    create_mlflow_database(ml_db)
    con = sqlite3.connect(ml_db)
    con.execute("ATTACH DATABASE ? AS bh", (str(bh_db),))
    now = int(time.time() * 1000)
    marks = ", ".join("?" * len(experiment_names))
    ids = [
        r[0]
        for r in con.execute(
            f"SELECT experiment_id FROM bh.experiments WHERE name IN ({marks})", experiment_names
        )
    ]
    id_list = ", ".join(str(int(i)) for i in ids)
    art = ml_db.parent / "mlflow-artifacts"
    con.execute(f"DELETE FROM experiments WHERE experiment_id IN ({id_list})")
    for eid, name in con.execute(
        f"SELECT experiment_id, name FROM bh.experiments WHERE experiment_id IN ({id_list})"
    ).fetchall():
        con.execute(
            "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
            "last_update_time) VALUES (?, ?, ?, 'active', ?, ?)",
            (eid, name, f"{art}/{eid}", now, now),
        )
    runs = f"SELECT run_uuid FROM bh.runs WHERE experiment_id IN ({id_list})"
    con.execute(
        "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
        "start_time, end_time, deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
        "SELECT run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, "
        "end_time, deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id FROM bh.runs "
        f"WHERE experiment_id IN ({id_list})"
    )
    con.execute(
        f"INSERT INTO params (key, value, run_uuid) SELECT key, value, run_uuid FROM bh.params WHERE run_uuid IN ({runs})"
    )
    con.execute(
        f"INSERT INTO tags (key, value, run_uuid) SELECT key, value, run_uuid FROM bh.tags WHERE run_uuid IN ({runs})"
    )
    con.execute(
        "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
        f"SELECT key, value, timestamp, run_uuid, step, value_kind = 1 FROM bh.metrics WHERE run_uuid IN ({runs})"
    )
    con.execute(
        "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
        "SELECT key, value, timestamp, step, value_kind = 1, run_uuid FROM bh.latest_metrics "
        f"WHERE run_uuid IN ({runs})"
    )
    con.commit()
    con.close()
