"""Metric points at scale: storage per point, a long history streamed to a client, and a chart of it.

    .venv/bin/python bench/bench_points.py                                   # 10^8 points, 10^4 runs, SQLite
    .venv/bin/python bench/bench_points.py --points 2000000 --history 1000000 --mlflow   # a dev-size run
    .venv/bin/python bench/bench_points.py --backend-uri postgresql+psycopg://user:pw@127.0.0.1:5432/db

Data: ``--runs`` runs in one experiment; run 0 holds one history of ``--history`` points (metric ``loss``,
step i, one point per step), the other runs share the rest of ``--points`` (metric ``loss``, their own
steps). The first ``--store-points`` points of the long history go through Bakehouse's SQL store
(``log_batch``, 1000 points a call: the store's rate is printed); every other point is written by the
database itself from a generated series (plain SQL into the same schema, as ``bench_scale.py`` does:
the store path would take days at 10^8 points on a shared 2-core machine).

Measured (``--repeat`` times, medians):

* bytes per point: the database's own accounting of the metrics table and its indexes (SQLite's
  ``dbstat``, PostgreSQL's ``pg_total_relation_size('metrics')``), divided by the points stored;
* the long history streamed to a client process: ``Client.iter_metric_history_arrays`` against
  ``bakehouse server`` (wall time in the client, its peak RSS, the server's peak RSS);
  MLflow's client ``get_metric_history`` against ``mlflow server`` on a copy (``--mlflow``, SQLite only),
  stopped after ``--timeout`` seconds;
* with ``--seal``: the long history packed into metric blocks first (time, bytes per sealed point); the
  stream then reads the blocks and the rows after them;
* a chart of that history over HTTP: ``get-history-bulk-interval`` (320 points, what MLflow's UI asks),
  on both servers, and Bakehouse's own UI request (``history-downsampled``, 1000 points).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from harness import VENV_BIN, copy_runs_to_mlflow, load_average, median, start_server

EXPERIMENT = "bench-points"
T0 = 1_600_000_000_000
KEY = "loss"

#: the client process: streams the history, prints {"points", "seconds", "checksum", "peak_rss_kb"}
BAKEHOUSE_CLIENT = """
import json, sys, time
import numpy as np
from bakehouse.client.client import Client
client = Client(sys.argv[1])
t = time.perf_counter()
points, checksum = 0, 0.0
for chunk in client.iter_metric_history_arrays(sys.argv[2], sys.argv[3]):
    points += len(chunk)
    checksum += float(chunk["value"].sum())
seconds = time.perf_counter() - t
peak = int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
print(json.dumps({"points": points, "seconds": seconds, "checksum": checksum, "peak_rss_kb": peak}))
"""

MLFLOW_CLIENT = """
import json, sys, time
from mlflow.tracking import MlflowClient
client = MlflowClient(sys.argv[1])
t = time.perf_counter()
history = client.get_metric_history(sys.argv[2], sys.argv[3])
seconds = time.perf_counter() - t
peak = int(next(line.split()[1] for line in open("/proc/self/status") if line.startswith("VmHWM")))
print(json.dumps({"points": len(history), "seconds": seconds, "checksum": sum(m.value for m in history),
                  "peak_rss_kb": peak}))
"""


def run_id_of(i: int) -> str:
    return uuid.UUID(int=(i * 2654435761) % (1 << 128) | (1 << 127)).hex


# ------------------------------------------------------------------------------------------- population
def populate(
    uri: str, n_points: int, n_runs: int, history: int, store_points: int
) -> tuple[str, dict[str, float]]:
    """The experiment, its runs and their points; returns the long history's run id and the rates."""
    from bakehouse.entities import Metric
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(uri, "mlflow-artifacts:/")
    eid = int(store.create_experiment(EXPERIMENT))
    rates: dict[str, float] = {}
    with store.engine.begin() as conn:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        cursor = conn.connection.cursor()
        cursor.executemany(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, user_id, status, "
            "start_time, end_time, deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id) "
            f"VALUES ({', '.join([mark] * 14)})",
            [
                (
                    run_id_of(i),
                    f"r{i}",
                    "LOCAL",
                    "bench",
                    "",
                    "bench",
                    "FINISHED",
                    T0 + i,
                    T0 + i + 1,
                    None,
                    "",
                    "active",
                    f"mlflow-artifacts:/{eid}/{run_id_of(i)}/artifacts",
                    eid,
                )
                for i in range(n_runs)
            ],
        )
    long_run = run_id_of(0)
    stored = min(store_points, history)
    t = time.perf_counter()
    for start in range(0, stored, 1000):
        store.log_batch(
            long_run,
            metrics=[Metric(KEY, _value(i), T0 + i, i) for i in range(start, min(start + 1000, stored))],
        )
    if stored:
        rates["store points/s"] = stored / (time.perf_counter() - t)
    t = time.perf_counter()
    per_run = (n_points - history) // max(1, n_runs - 1)
    with store.engine.begin() as conn:
        _generate(conn, long_run, stored, history)
    # a transaction per 1,000 runs: SQLite checkpoints its write-ahead log between them (in one
    # transaction, 10^8 points sat in a 15 GB WAL that the checkpoint then had to copy whole)
    for first in range(1, n_runs, 1000):
        with store.engine.begin() as conn:
            for i in range(first, min(first + 1000, n_runs)):
                _generate(conn, run_id_of(i), 0, per_run)
        print(f"  {history + min(first + 999, n_runs - 1) * per_run:,} points", flush=True)
    with store.engine.begin() as conn:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        latest = [
            (
                run_id_of(i),
                KEY,
                T0 + (history if i == 0 else per_run) - 1,
                (history if i == 0 else per_run) - 1,
                0.5,
                0,
                eid,
            )
            for i in range(n_runs)
            if (history if i == 0 else per_run)
        ]
        conn.connection.cursor().executemany(
            f"INSERT INTO latest_metrics (run_uuid, key, timestamp, step, value, value_kind, experiment_id) "
            f"VALUES ({', '.join([mark] * 7)}) ON CONFLICT (run_uuid, key) DO NOTHING",
            latest,
        )
    written = history - stored + per_run * (n_runs - 1)
    rates["bulk points/s"] = written / (time.perf_counter() - t)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")
    if store.engine.dialect.name == "postgresql":  # index-only scans need the visibility map
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM metrics")
    store.engine.dispose()
    return long_run, rates


def _value(i: int) -> float:
    return ((i * 7919) % 1000) / 1000


def _generate(conn: Any, run_id: str, start: int, stop: int) -> None:
    """Points ``start..stop-1`` of one run, generated by the database (step i, time T0 + i)."""
    if stop <= start:
        return
    value = "mod(i * 7919, 1000) / 1000.0"
    if conn.dialect.name == "postgresql":
        series = f"generate_series({start}::bigint, {stop - 1}::bigint) AS g(i)"
        conn.exec_driver_sql(
            f"INSERT INTO metrics (run_uuid, key, timestamp, step, value, value_kind) "
            f"SELECT '{run_id}', '{KEY}', {T0} + i, i, {value}, 0 FROM {series}"
        )
        return
    conn.exec_driver_sql(
        f"WITH RECURSIVE g(i) AS (SELECT {start} UNION ALL SELECT i + 1 FROM g WHERE i < {stop - 1}) "
        f"INSERT INTO metrics (run_uuid, key, timestamp, step, value, value_kind) "
        f"SELECT '{run_id}', '{KEY}', {T0} + i, i, {value}, 0 FROM g"
    )


# ---------------------------------------------------------------------------------------------- storage
def storage(uri: str, path: Path | None) -> dict[str, Any]:
    """Bytes of the metrics table with its indexes, from the database's own accounting."""
    from sqlalchemy import create_engine

    engine = create_engine(uri)
    with engine.connect() as conn:
        points = int(conn.exec_driver_sql("SELECT count(*) FROM metrics").scalar_one())
        if conn.dialect.name == "postgresql":
            size = int(conn.exec_driver_sql("SELECT pg_total_relation_size('metrics')").scalar_one())
            how = "pg_total_relation_size('metrics') (table, indexes, TOAST)"
        else:
            rows = conn.exec_driver_sql(
                "SELECT name, SUM(pgsize) FROM dbstat WHERE name = 'metrics' OR name IN "
                "(SELECT name FROM sqlite_master WHERE tbl_name = 'metrics') GROUP BY name"
            ).all()
            size = sum(int(r[1]) for r in rows)
            how = "dbstat: " + ", ".join(f"{r[0]} {int(r[1]) / 1e6:,.0f} MB" for r in rows)
    engine.dispose()
    out = {"points": points, "bytes": size, "bytes_per_point": size / max(1, points), "how": how}
    if path is not None:
        out["file_bytes"] = path.stat().st_size
    return out


def seal(uri: str, run_id: str) -> dict[str, Any]:
    """Pack the long history into metric blocks (a history written by plain SQL has none until sealed):
    the time it takes, and the blocks' bytes per point of the history (payload and row, the database's
    own accounting)."""
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(uri, "mlflow-artifacts:/")
    t = time.perf_counter()
    sealed = store.seal_metric_history(run_id, KEY)
    seconds = time.perf_counter() - t
    with store.engine.connect() as conn:
        points, blocks = conn.exec_driver_sql(
            f"SELECT coalesce(sum(n_points), 0), count(*) FROM metric_blocks WHERE run_uuid = '{run_id}'"
        ).one()
        if conn.dialect.name == "postgresql":
            size = int(conn.exec_driver_sql("SELECT pg_total_relation_size('metric_blocks')").scalar_one())
        else:
            size = int(
                conn.exec_driver_sql(
                    "SELECT SUM(pgsize) FROM dbstat WHERE name = 'metric_blocks' OR name IN "
                    "(SELECT name FROM sqlite_master WHERE tbl_name = 'metric_blocks')"
                ).scalar_one()
            )
    store.engine.dispose()
    return {
        "sealed_now": sealed,
        "blocks": int(blocks),
        "points": int(points),
        "seconds": seconds,
        "bytes": size,
        "bytes_per_sealed_point": size / max(1, int(points)),
    }


def mlflow_storage(ml_db: Path) -> dict[str, Any]:
    import sqlite3

    con = sqlite3.connect(ml_db)
    points = con.execute("SELECT count(*) FROM metrics").fetchone()[0]
    rows = con.execute(
        "SELECT name, SUM(pgsize) FROM dbstat WHERE name = 'metrics' OR name IN "
        "(SELECT name FROM sqlite_master WHERE tbl_name = 'metrics') GROUP BY name"
    ).fetchall()
    con.close()
    size = sum(int(r[1]) for r in rows)
    return {
        "points": points,
        "bytes": size,
        "bytes_per_point": size / max(1, points),
        "how": "dbstat: " + ", ".join(f"{r[0]} {int(r[1]) / 1e6:,.0f} MB" for r in rows),
    }


def copy_to_mlflow(bh_db: Path, ml_db: Path) -> float:
    """Bakehouse's experiment, runs and points into MLflow's SQLite schema (its own indexes built)."""
    import sqlite3

    t = time.perf_counter()
    copy_runs_to_mlflow(bh_db, ml_db, [EXPERIMENT])
    con = sqlite3.connect(ml_db)
    con.execute("ANALYZE")
    con.close()
    return time.perf_counter() - t


# ------------------------------------------------------------------------------------------ measurement
def tree_status_kb(pid: int, field: str) -> list[int]:
    """``field`` of /proc/<pid>/status (in kB) for the server process and each of its descendants
    (uvicorn / gunicorn workers)."""
    values = []
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            status = Path(f"/proc/{p}/status").read_text()
            values.append(
                int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith(field + ":")))
            )
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError, StopIteration):
            continue
    return values


def tree_peak_rss_kb(pid: int) -> int:
    """The largest VmHWM among the server process and its descendants."""
    return max(tree_status_kb(pid, "VmHWM"), default=0)


def tree_rss_anon_kb(pid: int) -> int:
    """The anonymous resident memory (RssAnon) of the server process and its descendants, now.

    VmHWM also counts file pages mapped into the process: SQLite reads the database through a memory
    map, so a server that has walked a 2 GB history shows ~2 GB of VmHWM that is the OS page cache, shared
    and dropped under pressure, not memory the server holds."""
    return sum(tree_status_kb(pid, "RssAnon"))


def stream(tool: str, url: str, run_id: str, timeout: float, server_pid: int) -> dict[str, Any]:
    code = BAKEHOUSE_CLIENT if tool == "bakehouse" else MLFLOW_CLIENT
    peak_anon = [tree_rss_anon_kb(server_pid)]
    done = threading.Event()

    def sample() -> None:  # the server's anonymous memory, every 50 ms while the client reads
        while not done.wait(0.05):
            peak_anon[0] = max(peak_anon[0], tree_rss_anon_kb(server_pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t = time.perf_counter()
    try:
        out = subprocess.run(
            [str(VENV_BIN / "python"), "-c", code, url, run_id, KEY],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"finished": False, "why": f"no answer in {timeout:.0f} s", "wall": time.perf_counter() - t}
    finally:
        done.set()
        sampler.join()
    if out.returncode != 0:
        return {
            "finished": False,
            "why": out.stderr.strip().splitlines()[-1][:300] if out.stderr else "failed",
        }
    return {
        "finished": True,
        "server_peak_anon_kb": peak_anon[0],
        **json.loads(out.stdout.strip().splitlines()[-1]),
    }


def timed_get(url: str, timeout: float) -> tuple[float, Any]:
    t = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = json.loads(r.read())
    except OSError as exc:
        print(f"    no answer: {exc!r}", flush=True)
        return math.nan, None
    return (time.perf_counter() - t) * 1000, body


def charts(tool: str, url: str, run_id: str, repeat: int, timeout: float) -> dict[str, Any]:
    calls = {
        "bulk-interval (320)": "/ajax-api/2.0/mlflow/metrics/get-history-bulk-interval?"
        + urllib.parse.urlencode({"run_ids": run_id, "metric_key": KEY, "max_results": 320}),
    }
    if tool == "bakehouse":
        calls["UI history-downsampled (1000)"] = "/ajax-api/2.0/bakehouse/metrics/history-downsampled?" + (
            urllib.parse.urlencode(
                {"run_ids": run_id, "metric_key": KEY, "max_points": 1000, "x_axis": "step"}
            )
        )
    out: dict[str, Any] = {}
    for label, path in calls.items():
        times, points = [], None
        for _ in range(repeat + 1):  # the first call warms the server and is not counted
            ms, body = timed_get(url + path, timeout)
            times.append(ms)
            if body is None:
                break
            series = body.get("metrics") if "metrics" in body else body["series"][0]["steps"]
            points = len(series)
        counted = times[1:] or times
        out[label] = {"median_ms": median(counted), "calls_ms": times, "points": points}
        print(
            f"  {label:32} {[None if math.isnan(x) else round(x) for x in times]} ms, {points} points",
            flush=True,
        )
    return out


def measure(tool: str, backend: str, workdir: Path, run_id: str, args: argparse.Namespace) -> dict[str, Any]:
    server = start_server(tool, backend, workdir)
    try:
        base_rss = tree_peak_rss_kb(server.proc.pid)
        base_anon = tree_rss_anon_kb(server.proc.pid)
        streams = []
        for _ in range(args.repeat if tool == "bakehouse" else 1):  # MLflow's single try takes minutes
            result = stream(tool, server.url, run_id, args.timeout, server.proc.pid)
            streams.append(result)
            if result["finished"]:
                print(
                    f"  history: {result['points']:,} points in {result['seconds']:.2f} s, client peak RSS "
                    f"{result['peak_rss_kb'] / 1024:,.0f} MB, server RssAnon peak "
                    f"{result['server_peak_anon_kb'] / 1024:,.0f} MB (sampled every 50 ms)",
                    flush=True,
                )
            else:
                print(f"  history: not finished ({result['why']})", flush=True)
                break
        server_peak = tree_peak_rss_kb(server.proc.pid)
        out = {
            "streams": streams,
            "server_rss_before_mb": base_rss / 1024,
            "server_anon_before_mb": base_anon / 1024,
            "server_peak_rss_mb": server_peak / 1024,
            "charts": charts(tool, server.url, run_id, args.repeat, min(args.timeout, 600)),
        }
        print(
            f"  server peak RSS (VmHWM, with mapped file pages) {server_peak / 1024:,.0f} MB, at start "
            f"{base_rss / 1024:,.0f} MB; RssAnon at start {base_anon / 1024:,.0f} MB",
            flush=True,
        )
        return out
    finally:
        server.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=100_000_000)
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--history", type=int, default=10_000_000, help="points of the one long history")
    ap.add_argument("--store-points", type=int, default=100_000, help="of them, written through the store")
    ap.add_argument("--backend-uri", default=None, help="default: SQLite in the work directory")
    ap.add_argument("--mlflow", action="store_true", help="also MLflow's server on a copy (SQLite only)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds before a call counts as unfinished")
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory, removed")
    ap.add_argument("--reuse", action="store_true", help="measure the points already in the database")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument(
        "--seal",
        action="store_true",
        help="pack the long history into metric blocks before measuring (seal_metric_history)",
    )
    args = ap.parse_args()
    args.history = min(args.history, args.points)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-points-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run(args, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    db_path = None if args.backend_uri else workdir / "bakehouse.db"
    uri = args.backend_uri or f"sqlite:///{db_path}"
    loads = [load_average()]
    t = time.perf_counter()
    if args.reuse:
        run_id, rates = run_id_of(0), {}
    else:
        run_id, rates = populate(uri, args.points, args.runs, args.history, args.store_points)
        print(
            f"{args.points:,} points in {args.runs:,} runs written in {time.perf_counter() - t:.0f} s: "
            + ", ".join(f"{k} {v:,.0f}" for k, v in rates.items()),
            flush=True,
        )
    results: dict[str, Any] = {"bakehouse": {"storage": storage(uri, db_path)}}
    print(f"bakehouse storage: {results['bakehouse']['storage']}", flush=True)
    if args.seal:
        results["bakehouse"]["blocks"] = seal(uri, run_id)
        print(f"bakehouse blocks: {results['bakehouse']['blocks']}", flush=True)
    print("bakehouse:", flush=True)
    results["bakehouse"].update(measure("bakehouse", uri, workdir, run_id, args))
    loads.append(load_average())
    if args.mlflow:
        if db_path is None:
            print("MLflow is measured on SQLite only (its copy of the points is made with sqlite3)")
        else:
            ml_db = workdir / "mlflow.db"
            seconds = copy_to_mlflow(db_path, ml_db)
            results["mlflow"] = {"storage": mlflow_storage(ml_db), "copy_seconds": seconds}
            print(f"mlflow storage: {results['mlflow']['storage']} (copied in {seconds:.0f} s)", flush=True)
            print("mlflow:", flush=True)
            try:
                results["mlflow"].update(measure("mlflow", f"sqlite:///{ml_db}", workdir, run_id, args))
            except RuntimeError as exc:  # MLflow's workers can fail their health checks on a loaded machine
                print(f"  mlflow server not ready: {str(exc).splitlines()[0]}", flush=True)
            loads.append(load_average())
    report(args, uri, results, loads)


def report(args: argparse.Namespace, uri: str, results: dict[str, Any], loads: list[str]) -> None:
    tools = list(results)
    print(
        f"\n{args.points:,} points in {args.runs:,} runs, one history of {args.history:,} ({uri.split(':')[0]}); "
        f"medians of {args.repeat}; load {', '.join(loads)}"
    )
    print(f"{'':36}" + "".join(f"{t:>22}" for t in tools))
    print(
        f"{'bytes per point (metrics + indexes)':36}"
        + "".join(f"{results[t]['storage']['bytes_per_point']:22.1f}" for t in tools)
    )

    def stream_cell(t: str) -> str:
        streams = results[t].get("streams") or []
        done = [s for s in streams if s.get("finished")]
        if not done:
            return (streams[0]["why"] if streams else "-")[:21]
        return f"{median([s['seconds'] for s in done]):.2f} s"

    print(f"{'history streamed to a client':36}" + "".join(f"{stream_cell(t):>22}" for t in tools))

    def rss(t: str) -> str:
        done = [s for s in results[t].get("streams") or [] if s.get("finished")]
        client = f"{max(s['peak_rss_kb'] for s in done) / 1024:,.0f}" if done else "-"
        return f"{client} / {results[t].get('server_peak_rss_mb', math.nan):,.0f} MB"

    def anon(t: str) -> str:
        done = [s for s in results[t].get("streams") or [] if s.get("finished")]
        if not done:
            return "-"
        before = results[t].get("server_anon_before_mb", math.nan)
        return f"{max(s['server_peak_anon_kb'] for s in done) / 1024:,.0f} MB ({before:,.0f} before)"

    print(f"{'peak RSS client / server (VmHWM)':36}" + "".join(f"{rss(t):>22}" for t in tools))
    print(f"{'server RssAnon peak (sampled)':36}" + "".join(f"{anon(t):>22}" for t in tools))
    for label in results["bakehouse"].get("charts", {}):
        cells = []
        for t in tools:
            c = results[t].get("charts", {}).get(label)
            cells.append(
                "-"
                if c is None
                else "no answer"
                if math.isnan(c["median_ms"])
                else f"{c['median_ms']:.1f} ms"
            )
        print(f"{'chart: ' + label:36}" + "".join(f"{c:>22}" for c in cells))
    if args.json:
        args.json.write_text(
            json.dumps(
                {"args": {k: str(v) for k, v in vars(args).items()}, "results": results, "load": loads},
                default=str,
            )
        )


if __name__ == "__main__":
    main()
