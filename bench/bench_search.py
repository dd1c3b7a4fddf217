"""Run search over HTTP, cold and warm, in every shape: Bakehouse (own client + server) vs MLflow (own client + server).

    .venv/bin/python bench/bench_search.py                     # 2,000 runs, 3 processes per shape and tool
    .venv/bin/python bench/bench_search.py --runs 500 --repeat 1 --shapes none,order_metric   # a smoke run
    .venv/bin/python bench/bench_search.py --tools bakehouse   # Bakehouse only
    .venv/bin/python bench/bench_search.py --json results.json

Data: ``--runs`` runs in one experiment, each with 5 params, 5 metrics and 3 tags (plus ``mlflow.runName``),
written through Bakehouse's SQL store and copied row for row into a database made by MLflow 3.17.2.
Each tool's server runs on 127.0.0.1 (its default worker count) against its own SQLite file.

Every measurement is a fresh Python process, the way a script or a notebook meets a server: it imports the
tool's client, creates a client object, then makes ``--calls`` identical searches in a row. Reported per
shape and tool, medians over ``--repeat`` processes:

* ``cold``: the first search of the process (whatever the client still sets up on first use is in it);
* ``warm``: the median of the following searches;
* ``cold - warm``: what the first call of a process costs over a warm one (target <= 20 ms);
* ``process``: import + client + first search, i.e. what a one-search script waits for.

A "search" is one ``search_runs`` call with ``max_results=1000``, except ``paginate``: every page of 100
runs, following ``next_page_token`` to the end (one figure for the whole walk), and ``last_page``: the
last page of 100 fetched with the token the previous page returned (the walk up to it is not timed).
Each result is checked (count, order, last run id) so a fast wrong answer cannot win.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
from pathlib import Path
from typing import Any

from harness import copy_runs_to_mlflow, load_average, median, post_json, start_server

EXPERIMENT = "bench-search"
T0 = 1_700_000_000_000

# name -> (filter, order_by, expected count as a function of n_runs or None to only check consistency)
SHAPES: dict[str, tuple[str, list[str]]] = {
    "none": ("", []),
    "metric": ("metrics.acc > 0.5", []),
    "param": ("params.model = 'cnn'", []),
    "tag": ("tags.group = 'a'", []),
    "attribute": ("attributes.status = 'FINISHED' and attributes.run_name LIKE 'r1%'", []),
    "metric_and_param": ("metrics.acc > 0.5 and params.lr = '0.01'", []),
    "order_metric": ("", ["metrics.acc DESC"]),
    "order_param": ("", ["params.lr ASC"]),
    "filter_and_order": ("metrics.loss < 0.5 and tags.group = 'b'", ["metrics.acc DESC"]),
    "paginate": ("", []),
    "last_page": ("", []),
}
PAGE = 1000
SMALL_PAGE = 100


def run_values(i: int) -> tuple[dict[str, str], dict[str, float], dict[str, str]]:
    """Params, metrics and tags of run ``i`` (the same for both tools)."""
    params = {
        "model": "cnn" if i % 3 else "mlp",
        "lr": str(i / 1000),
        "depth": str(2 + i % 10),
        "optimizer": ("adam", "sgd", "rmsprop")[i % 3],
        "seed": str(i % 17),
    }
    metrics = {
        "acc": (i * 37 % 1000) / 1000,
        "loss": 1 - (i * 37 % 1000) / 1000,
        "f1": (i * 11 % 997) / 997,
        "auc": (i * 13 % 991) / 991,
        "epoch_time": float(i % 60),
    }
    tags = {"group": "a" if i % 2 else "b", "note": f"n{i}", "team": ("x", "y", "z", "w")[i % 4]}
    return params, metrics, tags


def seed(db: Path, n_runs: int) -> None:
    """Bakehouse's database through its SQL store (create_run + log_batch + set_terminated)."""
    from bakehouse.entities import Metric, Param, RunTag
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    store = SqlTrackingStore(f"sqlite:///{db}", "mlflow-artifacts:/")
    eid = store.create_experiment(EXPERIMENT)
    for i in range(n_runs):
        params, metrics, tags = run_values(i)
        run = store.create_run(eid, "bench", T0 + i, [RunTag(k, v) for k, v in tags.items()], f"r{i}")
        store.log_batch(
            run.info.run_id,
            metrics=[Metric(k, v, T0 + i, 0) for k, v in metrics.items()],
            params=[Param(k, v) for k, v in params.items()],
        )
        status = "FINISHED" if i % 5 else "FAILED"
        store.update_run_info(run.info.run_id, status, T0 + i + 1000, None)
    store.engine.dispose()


# ------------------------------------------------------------------------------------------- worker


def worker(tool: str, url: str, eid: str, shape: str, calls: int) -> dict[str, Any]:
    """One fresh process: import, client, then ``calls`` identical searches (printed as JSON)."""
    t0 = time.perf_counter()
    if tool == "mlflow":
        from mlflow import MlflowClient

        t1 = time.perf_counter()
        client: Any = MlflowClient(tracking_uri=url)
    else:
        from bakehouse.client.client import Client

        t1 = time.perf_counter()
        client = Client(tracking_uri=url)
    t2 = time.perf_counter()
    filter_string, order_by = SHAPES[shape]

    def one_search() -> tuple[int, str]:
        if shape in ("paginate", "last_page"):
            total, token, last = 0, None, ""
            while True:
                page = client.search_runs([eid], filter_string, max_results=SMALL_PAGE, page_token=token)
                total += len(page)
                last = page[-1].info.run_id if len(page) else last
                token = page.token
                if not token:
                    return total, last
        page = client.search_runs([eid], filter_string, max_results=PAGE, order_by=order_by or None)
        return len(page), ",".join(r.info.run_id for r in page[:3])

    times: list[float] = []
    results: list[tuple[int, str]] = []
    if shape == "last_page":
        # walk to the page before the last (untimed), then time fetching the last page by its token
        for _ in range(calls):
            token, pages = None, []
            while True:
                page = client.search_runs([eid], filter_string, max_results=SMALL_PAGE, page_token=token)
                pages.append(token)
                if not page.token:
                    break
                token = page.token
            last_token = pages[-1]
            a = time.perf_counter()
            page = client.search_runs([eid], filter_string, max_results=SMALL_PAGE, page_token=last_token)
            times.append((time.perf_counter() - a) * 1000)
            results.append((len(page), page[-1].info.run_id))
    else:
        for _ in range(calls):
            a = time.perf_counter()
            results.append(one_search())
            times.append((time.perf_counter() - a) * 1000)
    assert all(r == results[0] for r in results), results
    return {
        "import_ms": (t1 - t0) * 1000,
        "client_ms": (t2 - t1) * 1000,
        "calls_ms": times,
        "result": results[0],
    }


# ------------------------------------------------------------------------------------------- driver


def warm_server(url: str, eid: str, shape: str, requests: int = 8) -> None:
    """The server's own first requests (per worker process) are not what is measured: send the shape's
    search a few times first, with a plain HTTP client."""
    filter_string, order_by = SHAPES[shape]
    body = {"experiment_ids": [eid], "filter": filter_string, "max_results": PAGE, "order_by": order_by}
    for _ in range(requests):
        for attempt in range(5):  # MLflow's uvicorn replaces workers that miss a health check under load
            try:
                post_json(url + "/api/2.0/mlflow/runs/search", body)
                break
            except (ConnectionError, http.client.HTTPException, urllib.error.URLError):
                if attempt == 4:
                    raise
                time.sleep(1)


def measure(tool: str, url: str, eid: str, shape: str, calls: int, log: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--worker", tool, url, eid, shape, str(calls)]
    with open(log, "ab") as err:
        out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=err, timeout=1800)
    result: dict[str, Any] = json.loads(out.stdout.decode().strip().splitlines()[-1])
    return result


def summarize(samples: list[dict[str, Any]]) -> dict[str, float]:
    cold = [s["calls_ms"][0] for s in samples]
    warm = [median(s["calls_ms"][1:]) for s in samples]
    process = [s["import_ms"] + s["client_ms"] + s["calls_ms"][0] for s in samples]
    return {
        "cold": median(cold),
        "warm": median(warm),
        "overhead": median([c - w for c, w in zip(cold, warm)]),
        "process": median(process),
        "import": median([s["import_ms"] for s in samples]),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3, help="fresh processes per shape and tool")
    ap.add_argument("--calls", type=int, default=4, help="searches per process (the first is the cold one)")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--tools", default="bakehouse,mlflow")
    ap.add_argument("--workdir", type=Path, default=None, help="default: a temporary directory, removed")
    ap.add_argument("--json", type=Path, default=None, help="also write the raw samples here")
    ap.add_argument(
        "--worker", nargs=5, metavar=("TOOL", "URL", "EID", "SHAPE", "CALLS"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.worker:
        tool, url, eid, shape, calls = args.worker
        print(json.dumps(worker(tool, url, eid, shape, int(calls))))
        return

    if sys.flags.dont_write_bytecode:
        print(
            "note: PYTHONDONTWRITEBYTECODE is set: modules without a compiled file are compiled from source in"
            " every process (cold calls and imports then cost more); `.venv/bin/python -m compileall -q src"
            " .venv/lib` once avoids it",
            flush=True,
        )
    shapes = [s for s in args.shapes.split(",") if s]
    tools = [t for t in args.tools.split(",") if t]
    unknown = [s for s in shapes if s not in SHAPES]
    if unknown:
        ap.error(f"unknown shapes {unknown}; choose from {', '.join(SHAPES)}")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-search-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        run(args, shapes, tools, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, shapes: list[str], tools: list[str], workdir: Path) -> None:
    bh_db, ml_db = workdir / "bakehouse.db", workdir / "mlflow.db"
    t = time.perf_counter()
    seed(bh_db, args.runs)
    if "mlflow" in tools:
        copy_runs_to_mlflow(bh_db, ml_db, [EXPERIMENT])
    print(f"{args.runs:,} runs written in {time.perf_counter() - t:.1f} s (not timed)", flush=True)
    import sqlite3

    with sqlite3.connect(bh_db) as con:
        eid = str(
            con.execute("SELECT experiment_id FROM experiments WHERE name = ?", (EXPERIMENT,)).fetchone()[0]
        )
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {tool: {} for tool in tools}
    loads: list[str] = [load_average()]
    for tool in tools:
        db = bh_db if tool == "bakehouse" else ml_db
        server = start_server(tool, f"sqlite:///{db}", workdir)
        try:
            for shape in shapes:
                warm_server(server.url, eid, shape)
                for _ in range(args.repeat):
                    sample = measure(tool, server.url, eid, shape, args.calls, workdir / "workers.log")
                    samples[tool].setdefault(shape, []).append(sample)
                    print(f"  {tool:9} {shape:17} {[round(x) for x in sample['calls_ms']]} ms", flush=True)
                loads.append(load_average())
        finally:
            server.stop()
    check_same_results(samples, shapes, tools)
    print(
        f"\nsearch over HTTP, {args.runs:,} runs; medians of {args.repeat} processes; load {', '.join(loads[::4])}"
    )
    header = f"{'shape':17} {'tool':9} {'cold ms':>9} {'warm ms':>9} {'cold-warm':>9} {'process ms':>10}"
    print(header + f" {'ratio cold':>10} {'ratio warm':>10}")
    summary: dict[str, dict[str, dict[str, float]]] = {}
    for shape in shapes:
        per_tool = {tool: summarize(samples[tool][shape]) for tool in tools}
        summary[shape] = per_tool
        for tool in tools:
            s = per_tool[tool]
            ratios = ""
            if tool == "bakehouse" and "mlflow" in per_tool:
                m = per_tool["mlflow"]
                ratios = f" {m['cold'] / s['cold']:9.1f}x {m['warm'] / s['warm']:9.1f}x"
            print(
                f"{shape:17} {tool:9} {s['cold']:9.1f} {s['warm']:9.1f} {s['overhead']:9.1f} {s['process']:10.0f}"
                + ratios
            )
    if args.json:
        args.json.write_text(
            json.dumps({"runs": args.runs, "samples": samples, "summary": summary, "load": loads})
        )


def check_same_results(
    samples: dict[str, dict[str, list[dict[str, Any]]]], shapes: list[str], tools: list[str]
) -> None:
    """Both tools must return the same runs (count and first ids) for every shape."""
    for shape in shapes:
        results = {tool: [tuple(s["result"]) for s in samples[tool][shape]] for tool in tools}
        firsts = {tool: r[0] for tool, r in results.items()}
        assert len(set(firsts.values())) == 1, (shape, firsts)


if __name__ == "__main__":
    main()
