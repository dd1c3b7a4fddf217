"""A team at once: many client processes log metric batches through 2 server processes sharing PostgreSQL.

    .venv/bin/python bench/bench_team.py                                # 64 clients, 10 minutes per tool
    .venv/bin/python bench/bench_team.py --minutes 1 --tools bakehouse  # a shorter run, Bakehouse only
    .venv/bin/python bench/bench_team.py --postgres-uri postgresql+psycopg://user@127.0.0.1:5432/db

For each tool (``bakehouse server``, then ``mlflow server`` with its default workers), in a fresh database
of one PostgreSQL server (started here with ``scripts/pg_up.sh`` unless ``--postgres-uri`` names one): two
server processes, ``--clients`` client processes. Each client creates one run, waits until every client is
ready, then for ``--minutes`` sends ``POST /api/2.0/mlflow/runs/log-batch`` with ``--points`` points of one
metric (consecutive steps), alternating between the two servers, on keep-alive connections. The clients
send the same bytes to both tools (a small standard-library HTTP client, so 64 processes fit on a small
machine; the tools' own clients would add their import time, not server work). A call that fails (an error
answer, a dropped connection, a timeout) is sent again, identical, up to 5 times; its points are then
expected once as well.

Reported per tool: points/s over the whole window (acknowledged points / window), p50 and p99 of the call
latency, failed attempts, and from PostgreSQL itself: points lost (acknowledged but not stored) and
duplicated (stored more than once), which must both be 0.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from harness import load_average, post_json, start_server

REPO = Path(__file__).resolve().parent.parent
KEY = "loss"


# ------------------------------------------------------------------------------------------------ client
def client_main(args: argparse.Namespace) -> None:
    """One client process: its run, the ready/go handshake, then log-batch calls until the deadline."""
    ports = [int(p) for p in args.ports.split(",")]
    workdir = Path(args.workdir)
    conns = [http.client.HTTPConnection("127.0.0.1", port, timeout=60) for port in ports]
    headers = {"Content-Type": "application/json"}

    def call(i: int, path: str, body: dict[str, Any]) -> tuple[bool, bytes]:
        conn = conns[i % len(conns)]
        try:
            conn.request("POST", "/api/2.0/mlflow/" + path, json.dumps(body), headers)
            response = conn.getresponse()
            data = response.read()
            return response.status == 200, data
        except (OSError, http.client.HTTPException) as exc:
            conn.close()  # reconnects on the next request
            return False, repr(exc).encode()

    ok, data = call(args.index, "runs/create", {"experiment_id": args.experiment_id, "start_time": 0})
    if not ok:
        raise SystemExit(f"create run failed: {data[:300]!r}")
    run_id = json.loads(data)["run"]["info"]["run_id"]
    (workdir / f"ready-{args.index}").touch()
    while not (workdir / "go").exists():
        time.sleep(0.05)
    deadline = float((workdir / "go").read_text())
    latencies: list[float] = []
    failed_attempts = 0
    batch = 0
    while time.time() < deadline:
        base = batch * args.points
        body = {
            "run_id": run_id,
            "metrics": [
                {"key": KEY, "value": float(base + i), "timestamp": 1_000 + batch, "step": base + i}
                for i in range(args.points)
            ],
        }
        for _attempt in range(6):
            start = time.perf_counter()
            ok, _ = call(args.index + batch, "runs/log-batch", body)
            latencies.append(time.perf_counter() - start)
            if ok:
                break
            failed_attempts += 1
            time.sleep(0.5)
        else:
            break  # this batch never went through: stop here, its points are not counted as sent
        batch += 1
    report = {"run_id": run_id, "batches": batch, "failed_attempts": failed_attempts, "latencies": latencies}
    (workdir / f"report-{args.index}.json").write_text(json.dumps(report))


# ------------------------------------------------------------------------------------------------ parent
def admin_url(uri: str) -> str:
    return uri.replace("postgresql+psycopg://", "postgresql://", 1)


def fresh_database(postgres_uri: str, tool: str) -> str:
    import psycopg

    name = f"bench_team_{tool}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url(postgres_uri), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_uri.rpartition("/")[0] + "/" + name


def stored_points(db_uri: str) -> dict[str, tuple[int, int]]:
    """run id -> (rows, distinct steps) of the benchmark's metric, straight from the database."""
    import psycopg

    with psycopg.connect(admin_url(db_uri)) as conn:
        rows = conn.execute(
            "SELECT run_uuid, count(*), count(DISTINCT step) FROM metrics WHERE key = %s GROUP BY run_uuid",
            (KEY,),
        ).fetchall()
    return {run_id: (int(n), int(distinct)) for run_id, n, distinct in rows}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_tool(tool: str, postgres_uri: str, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    db_uri = fresh_database(postgres_uri, tool)
    workdir = tmp / tool
    workdir.mkdir()
    servers = []
    clients: list[subprocess.Popen[bytes]] = []
    try:
        # one after the other: the first creates the schema (MLflow runs its migrations at start-up)
        for _ in range(args.servers):
            workers = args.mlflow_workers if tool == "mlflow" else 1
            servers.append(
                start_server(tool, db_uri, workdir / "servers", workers, timeout=args.start_timeout)
            )
        ports = ",".join(s.url.rpartition(":")[2] for s in servers)
        experiment_id = post_json(servers[0].url + "/api/2.0/mlflow/experiments/create", {"name": "team"})[
            "experiment_id"
        ]
        for index in range(args.clients):
            cmd = [sys.executable, __file__, "--client", "--index", str(index), "--ports", ports]
            cmd += ["--experiment-id", experiment_id, "--workdir", str(workdir), "--points", str(args.points)]
            clients.append(subprocess.Popen(cmd))
        while not all((workdir / f"ready-{i}").exists() for i in range(args.clients)):
            if any(c.poll() not in (None, 0) for c in clients):
                raise RuntimeError(f"{tool}: a client failed before the start")
            time.sleep(0.1)
        window = args.minutes * 60
        started = time.time()
        (workdir / "go.tmp").write_text(str(started + window))
        (workdir / "go.tmp").rename(workdir / "go")  # whole: a client never reads it half-written
        print(
            f"  {tool}: {args.clients} clients logging for {window:.0f} s (load {load_average()})", flush=True
        )
        for client in clients:
            client.wait(timeout=window + 600)
        if any(c.returncode != 0 for c in clients):
            raise RuntimeError(f"{tool}: {sum(c.returncode != 0 for c in clients)} clients failed (above)")
        elapsed = max(window, time.time() - started)
    finally:
        for client in clients:
            if client.poll() is None:
                client.kill()
        for server in servers:
            server.stop()
    reports = [json.loads((workdir / f"report-{i}.json").read_text()) for i in range(args.clients)]
    stored = stored_points(db_uri)
    acknowledged = sum(r["batches"] * args.points for r in reports)
    lost = duplicated = 0
    for r in reports:
        rows, distinct = stored.get(r["run_id"], (0, 0))
        lost += max(0, r["batches"] * args.points - distinct)
        duplicated += rows - distinct
    latencies = [x for r in reports for x in r["latencies"]]
    return {
        "points_per_s": acknowledged / window,
        "window_s": window,
        "elapsed_s": elapsed,
        "calls": len(latencies),
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "failed_attempts": sum(r["failed_attempts"] for r in reports),
        "points": acknowledged,
        "lost": lost,
        "duplicated": duplicated,
    }


def start_postgres() -> tuple[str, dict[str, str]]:
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "pg_up.sh")],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHON": sys.executable},
    ).stdout
    exported = dict(
        assignment.split("=", 1)
        for line in out.splitlines()
        for assignment in line.removeprefix("export ").split()
    )
    return exported["BAKEHOUSE_TEST_POSTGRES_URI"], exported


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--points", type=int, default=100, help="points per log-batch call")
    parser.add_argument("--tools", default="bakehouse,mlflow")
    parser.add_argument("--postgres-uri", default=None, help="postgresql+psycopg://... (default: start one)")
    parser.add_argument("--start-timeout", type=float, default=240)
    parser.add_argument(
        "--mlflow-workers",
        type=int,
        default=1,
        help="uvicorn workers per MLflow server (1 = its default of 4)",
    )
    parser.add_argument("--json", type=Path, default=None)
    # a client process (started by this script)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--ports", default="", help=argparse.SUPPRESS)
    parser.add_argument("--experiment-id", default="", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args)
        return

    exported: dict[str, str] = {}
    postgres_uri = args.postgres_uri
    if postgres_uri is None:
        postgres_uri, exported = start_postgres()
    results: dict[str, dict[str, Any]] = {}
    print(f"load average before: {load_average()}", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-team-") as tmp:
            for tool in args.tools.split(","):
                try:
                    results[tool] = run_tool(tool, postgres_uri, args, Path(tmp))
                except (RuntimeError, subprocess.TimeoutExpired) as exc:
                    print(f"  {tool} did not finish: {exc}", flush=True)
                    results[tool] = {"error": str(exc)[:500]}
    finally:
        if exported:
            subprocess.run(
                ["bash", str(REPO / "scripts" / "pg_down.sh")], env={**os.environ, **exported}, check=False
            )
    print(f"load average after: {load_average()}\n")
    columns = ["points_per_s", "p50_ms", "p99_ms", "calls", "failed_attempts", "points", "lost", "duplicated"]
    print(f"{'tool':10s} " + " ".join(f"{c:>15s}" for c in columns))
    for tool, r in results.items():
        if "error" in r:
            print(f"{tool:10s} did not finish: {r['error'][:200]}")
            continue
        print(f"{tool:10s} " + " ".join(f"{r[c]:15,.1f}" for c in columns))
    if "error" not in results.get("bakehouse", {"error": 1}) and "error" not in results.get(
        "mlflow", {"error": 1}
    ):
        ours, theirs = results["bakehouse"], results["mlflow"]
        print(f"\npoints/s: Bakehouse / MLflow = {ours['points_per_s'] / theirs['points_per_s']:.1f}x")
        print(f"p50 latency: MLflow / Bakehouse = {theirs['p50_ms'] / ours['p50_ms']:.1f}x")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
