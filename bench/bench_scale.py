"""Search at scale: one experiment of up to a million runs, Bakehouse's server vs MLflow's, same rows.

    .venv/bin/python bench/bench_scale.py                          # 1,000,000 runs on SQLite (~25M rows)
    .venv/bin/python bench/bench_scale.py --runs 100000 --mlflow   # also MLflow, on a copy of the same rows
    .venv/bin/python bench/bench_scale.py --backend-uri postgresql+psycopg://user:pw@127.0.0.1:5432/db
    .venv/bin/python bench/bench_scale.py --runs 100000 --workdir kept --reuse    # search a kept database

Data: ``--runs`` runs in one experiment, each with 10 params, 10 metrics (one point each) and 5 tags.
The first ``--store-runs`` runs go through Bakehouse's SQL store (create_run + log_batch + set_terminated)
and give the store's population rate; the rest are bulk-inserted with plain SQL into the same schema (the
store path would take hours at 10^6 runs on a shared 2-core machine; the rows are identical).

Timed over HTTP against ``bakehouse server`` (and ``mlflow server`` with ``--mlflow``), warm (the server has
answered the same request once), medians of ``--repeat`` calls:

* ``first page``: the newest 100 runs (no filter, the default order);
* ``filtered, ordered``: ``metrics.m0 > 0.5 and params.p1 = 'v3'`` ordered by ``metrics.m2 DESC``, 100 runs;
* ``last page``: the last 100 runs by the token the previous page returns (the same token is built from
  the run before them, read with SQL, rather than by walking every page);
* ``filtered last page``: the same for the filtered, ordered search.

Bakehouse only, what its web UI asks (``ajax-api/2.0/bakehouse/runs/table``): the run count it shows
(alone and with the filter above) and the runs table's first 200 rows (unfiltered, and filtered and ordered);
and (``experiments/keys``) the metric, param and tag keys its column chooser offers.

A call that takes longer than ``--timeout`` seconds is recorded as such (MLflow at 10^6 runs).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import copy_runs_to_mlflow, load_average, median, post_json, start_server

EXPERIMENT = "bench-scale"
T0 = 1_600_000_000_000
PAGE = 100
BATCH = 5_000
SHAPES: dict[str, tuple[str, list[str]]] = {
    "first page": ("", []),
    "filtered, ordered": ("metrics.m0 > 0.5 and params.p1 = 'v3'", ["metrics.m2 DESC"]),
}


def run_rows(
    i: int, eid: int
) -> tuple[tuple[Any, ...], list[tuple[Any, ...]], list[tuple[Any, ...]], list[Any]]:
    """Run ``i``: its runs row, params, tags and (key, value) metrics."""
    run_id = uuid.UUID(int=(i * 2654435761) % (1 << 128) | (1 << 127)).hex
    start = T0 + i * 1000
    run = (
        run_id,
        f"r{i}",
        "LOCAL",
        "bench",
        "",
        "bench",
        "FINISHED" if i % 5 else "FAILED",
        start,
        start + 500,
        None,
        "",
        "active",
        f"mlflow-artifacts:/{eid}/{run_id}/artifacts",
        eid,
    )
    params = [(run_id, f"p{k}", f"v{(i * 7 + k) % 10}") for k in range(10)]
    tags = [(run_id, f"t{k}", f"g{(i + k) % 4}") for k in range(5)] + [(run_id, "mlflow.runName", f"r{i}")]
    metrics = [(f"m{k}", ((i * 37 + k * 101) % 1000) / 1000) for k in range(10)]
    return run, params, tags, metrics


def batches(start: int, stop: int) -> Iterator[range]:
    for b in range(start, stop, BATCH):
        yield range(b, min(b + BATCH, stop))


def populate(uri: str, n_runs: int, store_runs: int) -> tuple[str, dict[str, float]]:
    """The experiment and its runs; returns its id and the population rates."""
    from bakehouse.entities import Metric, Param, RunTag
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(uri, "mlflow-artifacts:/")
    eid = store.create_experiment(EXPERIMENT)
    rates: dict[str, float] = {}
    t = time.perf_counter()
    first = min(store_runs, n_runs)
    for i in range(first):
        _, params, tags, metrics = run_rows(i, int(eid))
        run = store.create_run(eid, "bench", T0 + i * 1000, [RunTag(k, v) for _, k, v in tags], f"r{i}")
        store.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, T0 + i * 1000, 0) for k, v in metrics],
            params=[Param(k, v) for _, k, v in params],
        )
        store.update_run_info(run.info.run_id, "FINISHED" if i % 5 else "FAILED", T0 + i * 1000 + 500, None)
    if first:
        rates["store runs/s"] = first / (time.perf_counter() - t)
    t = time.perf_counter()
    if store.engine.dialect.name in ("sqlite", "postgresql"):
        generate_in_database(store.engine, int(eid), first, n_runs)
    else:
        insert_from_python(store.engine, int(eid), first, n_runs)
    if n_runs > first:
        rates["bulk runs/s"] = (n_runs - first) / (time.perf_counter() - t)
    with store.engine.begin() as conn:
        if conn.dialect.name in ("sqlite", "postgresql"):
            conn.exec_driver_sql("ANALYZE")
    store.engine.dispose()
    return eid, rates


RUN_COLUMNS = (
    "run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, "
    "end_time, deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id"
)


def generate_in_database(engine: Any, eid: int, first: int, n_runs: int) -> None:
    """Runs ``first`` to ``n_runs`` written by the database itself (INSERT ... SELECT over a sequence of run
    indexes: a recursive CTE on SQLite, generate_series on PostgreSQL), the rows ``run_rows`` gives,
    100,000 runs per transaction: minutes for 10^6 runs where rows sent from Python took an hour."""
    sqlite = engine.dialect.name == "sqlite"
    # the run's id: uuid.UUID(int=(i * 2654435761) | 1 << 127).hex, i.e. '8' and 31 hex digits
    run_id = "printf('8%031x', i * 2654435761)" if sqlite else "'8' || lpad(to_hex(i * 2654435761), 31, '0')"
    start = f"({T0} + i * 1000)"

    def mod(x: str, n: int) -> str:  # no % operator in the SQL: psycopg reads % as a placeholder
        return f"(({x}) % {n})" if sqlite else f"mod({x}, {n})"

    value = (
        f"{mod('i * 37 + k * 101', 1000)} / 1000.0"
        if sqlite
        else f"{mod('i * 37 + k * 101', 1000)}::float8 / 1000"
    )

    def runs_of(lo: int, hi: int, per_run: int | None) -> tuple[str, str]:
        """FROM clause: run indexes lo..hi-1 (as ``i``), each with k in 0..per_run-1 when asked."""
        if sqlite:
            seq = f"WITH RECURSIVE seq(i) AS (SELECT {lo} UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < {hi})"
            if per_run is None:
                return seq, "FROM seq"
            ks = f", ks(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM ks WHERE k + 1 < {per_run})"
            return seq + ks, "FROM seq, ks ORDER BY i, k"
        series = f"FROM generate_series({lo}::bigint, {hi - 1}) AS i"
        return "", series if per_run is None else series + f", generate_series(0, {per_run - 1}) AS k"

    statements: list[tuple[str, str, int | None]] = [
        (
            f"runs ({RUN_COLUMNS})",
            (
                f"SELECT {run_id}, 'r' || i, 'LOCAL', 'bench', '', 'bench', CASE WHEN {mod('i', 5)} <> 0 THEN"
                f" 'FINISHED' ELSE 'FAILED' END, {start}, {start} + 500, NULL, '', 'active', "
                f"'mlflow-artifacts:/{eid}/' || {run_id} || '/artifacts', {eid}"
            ),
            None,
        ),
        ("params (run_uuid, key, value)", f"SELECT {run_id}, 'p' || k, 'v' || {mod('i * 7 + k', 10)}", 10),
        ("tags (run_uuid, key, value)", f"SELECT {run_id}, 't' || k, 'g' || {mod('i + k', 4)}", 5),
        ("tags (run_uuid, key, value)", f"SELECT {run_id}, 'mlflow.runName', 'r' || i", None),
        (
            "metrics (run_uuid, key, timestamp, step, value, value_kind, dataset_name, dataset_digest, model_id)",
            f"SELECT {run_id}, 'm' || k, {start}, 0, {value}, 0, NULL, NULL, NULL",
            10,
        ),
        (
            "latest_metrics (run_uuid, key, timestamp, step, value, value_kind, experiment_id)",
            f"SELECT {run_id}, 'm' || k, {start}, 0, {value}, 0, {eid}",
            10,
        ),
    ]
    for lo in range(first, n_runs, 100_000):
        hi = min(lo + 100_000, n_runs)
        with engine.begin() as conn:
            for table, select_rows, per_run in statements:
                with_clause, source = runs_of(lo, hi, per_run)
                conn.exec_driver_sql(f"{with_clause} INSERT INTO {table} {select_rows} {source}")
        print(f"  {hi:,} runs", flush=True)


def insert_from_python(engine: Any, eid: int, first: int, n_runs: int) -> None:
    """Runs ``first`` to ``n_runs`` sent from Python in batches (databases without a generator here)."""
    with engine.begin() as conn:
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        cursor = conn.connection.cursor()

        def insert(table: str, n_columns: int, rows: list[tuple[Any, ...]]) -> None:
            cursor.executemany(f"INSERT INTO {table} VALUES ({', '.join([mark] * n_columns)})", rows)

        columns = RUN_COLUMNS
        for chunk in batches(first, n_runs):
            runs, params, tags, metrics, latest = [], [], [], [], []
            for i in chunk:
                run, p, tg, m = run_rows(i, eid)
                runs.append(run)
                params += p
                tags += tg
                ts = T0 + i * 1000
                metrics += [(run[0], k, ts, 0, v, 0, None, None, None) for k, v in m]
                latest += [(run[0], k, ts, 0, v, 0, eid) for k, v in m]
            cursor.executemany(f"INSERT INTO runs ({columns}) VALUES ({', '.join([mark] * 14)})", runs)
            insert("params (run_uuid, key, value)", 3, params)
            insert("tags (run_uuid, key, value)", 3, tags)
            insert(
                "metrics (run_uuid, key, timestamp, step, value, value_kind, dataset_name, dataset_digest, "
                "model_id)",
                9,
                metrics,
            )
            insert(
                "latest_metrics (run_uuid, key, timestamp, step, value, value_kind, experiment_id)", 7, latest
            )
            if chunk.stop % 100_000 < BATCH:
                print(f"  {chunk.stop:,} runs", flush=True)


def existing_experiment(uri: str) -> tuple[str, dict[str, float]]:
    """The bench's experiment in a database written before (``--reuse``); no population rates."""
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(uri, "mlflow-artifacts:/")
    experiment = store.get_experiment_by_name(EXPERIMENT)
    store.engine.dispose()
    if experiment is None:
        raise SystemExit(f"--reuse: no experiment {EXPERIMENT!r} in {uri}")
    return experiment.experiment_id, {}


def token_before_last_page(uri: str, eid: str, n_matching: int, shape: str) -> str | None:
    """The page token whose page is the last ``PAGE`` runs of the search: the token the server hands out
    after the page before it (the run it names is read with SQL instead of walking every page)."""
    from bakehouse.entities import ViewType
    from bakehouse.store.db.filters import build_run_search
    from bakehouse.store.page_token import encode_run_metric_position_token, encode_run_position_token
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    target = max(0, n_matching - PAGE)
    if target == 0:
        return None
    filter_string, order_by = SHAPES[shape]
    store = SqlTrackingStore(uri, "mlflow-artifacts:/")
    query = build_run_search([eid], filter_string, ViewType.ACTIVE_ONLY, order_by, target - 1, 1)
    with store.engine.connect() as conn:
        run_id = conn.execute(query).scalar_one()
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        start = conn.exec_driver_sql(
            f"SELECT start_time FROM runs WHERE run_uuid = {mark}", (run_id,)
        ).scalar_one()
        if order_by:  # one metric, DESC: the run's place is (segment, stored value, start time, id)
            key = order_by[0].split()[0].removeprefix("metrics.")
            row = conn.exec_driver_sql(
                f"SELECT value, value_kind FROM latest_metrics WHERE run_uuid = {mark} AND key = {mark}",
                (run_id, key),
            ).first()
    store.engine.dispose()
    if not order_by:
        return encode_run_position_token(target, start, run_id)
    segment = 2 if row is None else 1 if row[1] == 1 else 0
    value = float(row[0]) if segment == 0 and row is not None else None
    return encode_run_metric_position_token(target, segment, value, start, run_id)


def count_matching(uri: str, eid: str, shape: str) -> int:
    from sqlalchemy import func, select

    from bakehouse.entities import ViewType
    from bakehouse.store.db.filters import build_run_search
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(uri, "mlflow-artifacts:/")
    filter_string, _ = SHAPES[shape]
    query = build_run_search([eid], filter_string, ViewType.ACTIVE_ONLY, [], 0, None).subquery()
    with store.engine.connect() as conn:
        total = int(conn.execute(select(func.count()).select_from(query)).scalar_one())
    store.engine.dispose()
    return total


def timed_search(url: str, body: dict[str, Any], timeout: float) -> tuple[float, dict[str, Any] | None]:
    t = time.perf_counter()
    try:
        out = post_json(url + "/api/2.0/mlflow/runs/search", body, timeout=timeout)
    except (TimeoutError, ConnectionError, http.client.HTTPException, urllib.error.URLError) as exc:
        # no answer in time, or the server's worker was replaced while it searched (MLflow under load)
        print(f"    no answer: {exc!r}", flush=True)
        return math.nan, None
    return (time.perf_counter() - t) * 1000, out


def measure(url: str, eid: str, tokens: dict[str, str | None], repeat: int, timeout: float) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for shape, (filter_string, order_by) in SHAPES.items():
        for label, token in ((shape, None), (f"{shape} (last page)", tokens[shape])):
            body: dict[str, Any] = {
                "experiment_ids": [eid],
                "filter": filter_string,
                "order_by": order_by,
                "max_results": PAGE,
            }
            if token:
                body["page_token"] = token
            times, first_ids = [], None
            for _ in range(repeat + 1):  # the first call warms the server's caches and is not counted
                ms, answer = timed_search(url, body, timeout)
                times.append(ms)
                if answer is None:
                    break
                ids = [r["info"]["run_id"] for r in answer.get("runs", [])]
                first_ids = first_ids or ids[:3]
            counted = times[1:] or times
            out[label] = {"median_ms": median(counted), "calls_ms": times, "first_ids": first_ids}
            print(f"  {label:35} {[None if math.isnan(x) else round(x) for x in times]} ms", flush=True)
    return out


# What the web UI asks of a Bakehouse server (GET ajax-api/2.0/bakehouse/runs/table): the run count it
# shows (a request of its own, max_results=1&total=true, no order) and the runs table's first 200 rows;
# and (experiments/keys) the keys its column chooser offers.
UI_CALLS: dict[str, tuple[str, dict[str, Any]]] = {
    "UI run count": (
        "runs/table",
        {"max_results": 1, "include": "metrics", "run_fields": "run_id", "total": "true"},
    ),
    "UI run count, filtered": (
        "runs/table",
        {
            "max_results": 1,
            "include": "metrics",
            "run_fields": "run_id",
            "total": "true",
            "filter": SHAPES["filtered, ordered"][0],
        },
    ),
    "UI first 200 rows": ("runs/table", {"max_results": 200}),
    "UI first 200 rows, filtered, ordered": (
        "runs/table",
        {
            "max_results": 200,
            "filter": SHAPES["filtered, ordered"][0],
            "order_by": SHAPES["filtered, ordered"][1][0],
        },
    ),
    "UI experiment keys": ("experiments/keys", {}),
}


def measure_ui(url: str, eid: str, repeat: int, timeout: float) -> dict[str, Any]:
    """Warm medians of the UI's own requests (Bakehouse only: MLflow's UI has no count)."""
    out: dict[str, Any] = {}
    for label, (path, params) in UI_CALLS.items():
        query = urllib.parse.urlencode({"experiment_ids": eid, **params})
        times = []
        for _ in range(repeat + 1):  # the first call warms the server's caches and is not counted
            t = time.perf_counter()
            with urllib.request.urlopen(f"{url}/ajax-api/2.0/bakehouse/{path}?{query}", timeout=timeout) as r:
                json.loads(r.read())
            times.append((time.perf_counter() - t) * 1000)
        out[label] = {"median_ms": median(times[1:]), "calls_ms": times}
        print(f"  {label:35} {[round(x) for x in times]} ms", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=1_000_000)
    ap.add_argument("--store-runs", type=int, default=1_000, help="runs written through the store (timed)")
    ap.add_argument("--backend-uri", default=None, help="default: SQLite in the work directory")
    ap.add_argument("--mlflow", action="store_true", help="also MLflow's server on a copy (SQLite only)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--timeout", type=float, default=120.0, help="seconds before a call counts as not finished"
    )
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory, removed")
    ap.add_argument(
        "--reuse",
        action="store_true",
        help="search the runs already in the database (a kept --workdir or --backend-uri) instead of writing"
        " them: e.g. after `bakehouse db upgrade` of a database an older version wrote",
    )
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run(args, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, workdir: Path) -> None:
    uri = args.backend_uri or f"sqlite:///{workdir / 'bakehouse.db'}"
    loads = [load_average()]
    t = time.perf_counter()
    if args.reuse:
        eid, rates = existing_experiment(uri)
        print(f"searching the runs already in {uri} (--runs {args.runs:,} is the label of the results)")
    else:
        eid, rates = populate(uri, args.runs, args.store_runs)
        print(
            f"{args.runs:,} runs written in {time.perf_counter() - t:.0f} s: "
            + ", ".join(f"{k} {v:,.0f}" for k, v in rates.items())
        )
    matching = {shape: count_matching(uri, eid, shape) for shape in SHAPES}
    tokens = {shape: token_before_last_page(uri, eid, matching[shape], shape) for shape in SHAPES}
    results: dict[str, dict[str, Any]] = {}
    tools = ["bakehouse"] + (["mlflow"] if args.mlflow else [])
    for tool in tools:
        if tool == "mlflow":
            if not uri.startswith("sqlite"):
                print("MLflow is measured on SQLite only (its copy of the rows is made with sqlite3)")
                continue
            ml_db = workdir / "mlflow.db"
            copy_runs_to_mlflow(workdir / "bakehouse.db", ml_db, [EXPERIMENT])
            backend = f"sqlite:///{ml_db}"
        else:
            backend = uri
        print(f"{tool}:", flush=True)
        try:
            server = start_server(tool, backend, workdir)
        except RuntimeError as exc:  # MLflow's workers can fail their health checks on a loaded machine
            print(f"  {tool} server not ready: {str(exc).splitlines()[0]}", flush=True)
            continue
        try:
            results[tool] = measure(server.url, eid, tokens, args.repeat, args.timeout)
            if tool == "bakehouse":
                results[tool].update(measure_ui(server.url, eid, args.repeat, args.timeout))
        finally:
            server.stop()
        loads.append(load_average())
    print(
        f"\nsearch at {args.runs:,} runs ({uri.split(':')[0]}); medians of {args.repeat} warm calls; load {', '.join(loads)}"
    )
    print(
        f"{'search of 100 runs':35} "
        + " ".join(f"{t + ' ms':>14}" for t in tools)
        + ("      ratio" if len(tools) > 1 else "")
    )
    for label in results["bakehouse"]:
        cells = [results[t][label]["median_ms"] if label in results.get(t, {}) else None for t in tools]
        row = f"{label:35} " + " ".join(
            f"{'-':>14}" if c is None else f"{'no answer':>14}" if math.isnan(c) else f"{c:14.1f}"
            for c in cells
        )
        known = [c for c in cells if c is not None and not math.isnan(c)]
        if len(known) == len(cells) > 1:
            row += f" {known[1] / known[0]:9.1f}x"
        print(row)
    if args.json:
        args.json.write_text(
            json.dumps({"runs": args.runs, "rates": rates, "results": results, "load": loads})
        )


if __name__ == "__main__":
    main()
