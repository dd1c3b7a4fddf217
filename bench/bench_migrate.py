"""Migration benchmark: `bakehouse migrate` vs mlflow-export-import, moving the same MLflow store.

    .venv/bin/python bench/bench_migrate.py                        # 1,000 runs x (20 params, 20 metrics x 1,000 steps)
    .venv/bin/python bench/bench_migrate.py --runs 100 --repeat 3  # the same shape, 10x fewer runs
    .venv/bin/python bench/bench_migrate.py --tools bakehouse      # Bakehouse only (no MLflow servers)

The source is what a team's MLflow 3.17.2 server holds: its SQLite database (schema made by MLflow itself, rows
written in bulk in MLflow's layout, so building it takes a minute instead of hours) and its
``--artifacts-destination`` directory (every run has ``--artifact-files`` files of ``--artifact-kb`` KB).

- **bakehouse**: ``bakehouse migrate --from sqlite:///mlflow.db --artifacts-destination <dir> --to
  sqlite:///bakehouse.db`` (the database read directly, read-only; artifacts copied), whole process timed.
- **bakehouse-rest**: the same from the running MLflow server over its REST API into a Bakehouse database.
- **export-import**: ``databricks-mlflow-export-import`` 1.2.1 (the maintained release of mlflow-export-import;
  it works with MLflow 3.17.2), installed with ``mlflow==3.17.2`` into ``<workdir>/export-import-venv``:
  ``export-experiment`` from the source MLflow server into a directory, then ``import-experiment`` into a second
  MLflow server (both ``mlflow server --workers 1`` on SQLite, serving artifacts), both steps timed.

Every result is checked (run count, points per run, artifact files) so a fast wrong answer cannot win. Prints the
median of --repeat runs per tool and the ratio (export-import time / Bakehouse time).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

VENV_BIN = Path(sys.executable).parent
NOW = 1_790_000_000_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ------------------------------------------------------------------------------------------ the source


def build_source(root: Path, runs: int, params: int, metrics: int, steps: int, files: int, kb: int) -> Path:
    """An MLflow 3.17.2 database with ``runs`` runs, and the artifacts its server keeps, built once per shape."""
    done = root / "source.json"
    if done.exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    db = root / "mlflow.db"
    started = time.monotonic()
    subprocess.run(  # MLflow makes its own schema, at its head revision
        [
            sys.executable,
            "-c",
            (
                "import sys; from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as S; "
                "S(sys.argv[1], 'mlflow-artifacts:/')"
            ),
            f"sqlite:///{db}",
        ],
        check=True,
        capture_output=True,
    )
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO experiments (experiment_id, name, artifact_location, lifecycle_stage, creation_time, "
        "last_update_time, workspace) VALUES (1, 'bench', 'mlflow-artifacts:/1', 'active', ?, ?, 'default')",
        (NOW, NOW),
    )
    payload = os.urandom(kb * 1024)
    for r in range(runs):
        run_id = uuid.uuid5(uuid.NAMESPACE_URL, f"bench-run-{r}").hex
        start = NOW + r * 60_000
        conn.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
            "start_time, end_time, source_version, lifecycle_stage, artifact_uri, experiment_id) VALUES "
            "(?, ?, 'LOCAL', 'train.py', '', 'bench', 'FINISHED', ?, ?, '', 'active', ?, 1)",
            (run_id, f"run-{r}", start, start + 50_000, f"mlflow-artifacts:/1/{run_id}/artifacts"),
        )
        conn.executemany(
            "INSERT INTO params (key, value, run_uuid) VALUES (?, ?, ?)",
            [(f"param_{p}", f"value-{r}-{p}", run_id) for p in range(params)],
        )
        conn.executemany(
            "INSERT INTO tags (key, value, run_uuid) VALUES (?, ?, ?)",
            [("mlflow.runName", f"run-{r}", run_id), ("mlflow.user", "bench", run_id)],
        )
        rows = [
            (f"metric_{m}", (m + 1) / (s + 1), start + s, run_id, s, 0)
            for m in range(metrics)
            for s in range(steps)
        ]
        conn.executemany(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?, ?, ?, ?, ?, ?)",
            rows,
        )
        conn.executemany(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) VALUES (?, ?, ?, ?, 0, ?)",
            [(f"metric_{m}", (m + 1) / steps, start + steps - 1, steps - 1, run_id) for m in range(metrics)],
        )
        folder = root / "artifacts" / "1" / run_id / "artifacts"
        folder.mkdir(parents=True)
        for f in range(files):
            (folder / f"file-{f}.bin").write_bytes(payload[f:] + payload[:f])
        if r % 100 == 99:
            conn.commit()
    conn.commit()
    conn.close()
    done.write_text(json.dumps({"runs": runs, "seconds": time.monotonic() - started}))
    return root


# ------------------------------------------------------------------------------------------ servers


class MlflowServer:
    def __init__(self, workdir: Path, database: Path, artifacts: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = open(workdir / f"mlflow-{self.port}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "mlflow"),
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--workers",
                "1",
                "--backend-store-uri",
                f"sqlite:///{database}",
                "--artifacts-destination",
                str(artifacts),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=workdir,
        )
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError("mlflow server did not start")

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        self.log.close()


def export_import_python(workdir: Path) -> Path:
    venv = workdir / "export-import-venv"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        shutil.rmtree(venv, ignore_errors=True)
        uv = VENV_BIN / "uv"
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([str(uv), "venv", "-q", "-p", base, str(venv)], check=True)
        subprocess.run(
            [
                str(uv),
                "pip",
                "install",
                "-q",
                "-p",
                str(python),
                "mlflow==3.17.2",
                "databricks-mlflow-export-import==1.2.1",
            ],
            check=True,
        )
        (venv / ".complete").write_text("ok")
    return python


# ------------------------------------------------------------------------------------------ the tools


def check_bakehouse(dest: str, runs: int, points: int) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(dest)
    with engine.connect() as conn:
        got_runs = conn.execute(text("SELECT count(*) FROM runs WHERE experiment_id = 1")).scalar()
        got_points = conn.execute(text("SELECT count(*) FROM metrics")).scalar()
    engine.dispose()
    assert (got_runs, got_points) == (runs, runs * points), (got_runs, got_points)


def run_bakehouse_migrate(source_args: list[str], work: Path, runs: int, points: int) -> float:
    """``bakehouse migrate SOURCE_ARGS --to <work>/bakehouse.db``, whole process timed, result checked."""
    dest = f"sqlite:///{work / 'bakehouse.db'}"
    started = time.monotonic()
    subprocess.run(
        [
            str(VENV_BIN / "bakehouse"),
            "migrate",
            *source_args,
            "--to",
            dest,
            "--artifact-root",
            str(work / "artifacts"),
            "--json",
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    check_bakehouse(dest, runs, points)
    return elapsed


def time_bakehouse(source: Path, work: Path, runs: int, points: int, files: int) -> float:
    source_args = [
        "--from",
        f"sqlite:///{source / 'mlflow.db'}",
        "--artifacts-destination",
        str(source / "artifacts"),
    ]
    elapsed = run_bakehouse_migrate(source_args, work, runs, points)
    assert len(list((work / "artifacts").rglob("file-*.bin"))) == runs * files
    return elapsed


def time_bakehouse_rest(server: MlflowServer, work: Path, runs: int, points: int) -> float:
    return run_bakehouse_migrate(["--from", server.url], work, runs, points)


def time_export_import(python: Path, source: MlflowServer, work: Path, runs: int, points: int) -> float:
    target = MlflowServer(work / "target", work / "target.db", work / "target-artifacts")
    try:
        out = work / "exported"
        bin_dir = python.parent
        started = time.monotonic()
        subprocess.run(
            [str(bin_dir / "export-experiment"), "--experiment", "bench", "--output-dir", str(out)],
            check=True,
            env={**os.environ, "MLFLOW_TRACKING_URI": source.url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        subprocess.run(
            [str(bin_dir / "import-experiment"), "--experiment-name", "bench", "--input-dir", str(out)],
            check=True,
            env={**os.environ, "MLFLOW_TRACKING_URI": target.url},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        elapsed = time.monotonic() - started
        conn = sqlite3.connect(work / "target.db")
        got_runs = conn.execute("SELECT count(*) FROM runs").fetchone()[0]
        got_points = conn.execute("SELECT count(*) FROM metrics").fetchone()[0]
        conn.close()
        assert (got_runs, got_points) == (runs, runs * points), (got_runs, got_points)
        return elapsed
    finally:
        target.stop()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--params", type=int, default=20)
    parser.add_argument("--metrics", type=int, default=20)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--artifact-files", type=int, default=2)
    parser.add_argument("--artifact-kb", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--tools", default="bakehouse,bakehouse-rest,export-import")
    parser.add_argument(
        "--workdir", default=None, help="keeps the built source between runs (default: a temp dir)"
    )
    args = parser.parse_args()
    tools = args.tools.split(",")
    base = Path(args.workdir or tempfile.mkdtemp(prefix="bench-migrate-"))
    shape = (
        f"{args.runs}r-{args.params}p-{args.metrics}m-{args.steps}s-{args.artifact_files}x{args.artifact_kb}k"
    )
    print(f"building the source ({shape}) in {base}", flush=True)
    source = build_source(
        base / f"source-{shape}",
        args.runs,
        args.params,
        args.metrics,
        args.steps,
        args.artifact_files,
        args.artifact_kb,
    )
    points = args.metrics * args.steps
    print(
        f"source: {args.runs} runs, {args.runs * points:,} metric points, "
        f"{args.runs * args.artifact_files} artifact files",
        flush=True,
    )
    results: dict[str, list[float]] = {tool: [] for tool in tools}
    server = None
    if {"export-import", "bakehouse-rest"} & set(tools):
        server_copy = base / "served"
        shutil.rmtree(server_copy, ignore_errors=True)
        server_copy.mkdir()
        shutil.copy(source / "mlflow.db", server_copy / "mlflow.db")
        server = MlflowServer(server_copy, server_copy / "mlflow.db", source / "artifacts")
    python = export_import_python(base) if "export-import" in tools else None
    try:
        for attempt in range(args.repeat):
            for tool in tools:
                work = base / f"run-{tool}-{attempt}"
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir()
                if tool == "bakehouse":
                    seconds = time_bakehouse(source, work, args.runs, points, args.artifact_files)
                elif tool == "bakehouse-rest":
                    assert server is not None
                    seconds = time_bakehouse_rest(server, work, args.runs, points)
                else:
                    assert server is not None and python is not None
                    seconds = time_export_import(python, server, work, args.runs, points)
                results[tool].append(seconds)
                print(f"  {tool:<15} run {attempt + 1}: {seconds:8.1f} s", flush=True)
                shutil.rmtree(work, ignore_errors=True)
    finally:
        if server is not None:
            server.stop()
    print(f"\n{shape}, median of {args.repeat} (load average {os.getloadavg()[0]:.1f}):")
    medians = {tool: statistics.median(times) for tool, times in results.items() if times}
    for tool, median in medians.items():
        rate = args.runs * points / median
        print(f"  {tool:<15} {median:8.1f} s   {rate:>12,.0f} points/s")
    if "export-import" in medians:
        for tool in ("bakehouse", "bakehouse-rest"):
            if tool in medians:
                print(f"  ratio export-import / {tool}: {medians['export-import'] / medians[tool]:.1f}x")


if __name__ == "__main__":
    main()
