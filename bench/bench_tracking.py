"""Tracking benchmark: Bakehouse vs MLflow on the same machine, in one run, embedded SQLite for both.

    .venv/bin/python bench/bench_tracking.py                 # everything, 3 repetitions
    .venv/bin/python bench/bench_tracking.py --repeat 5 --workloads log_metric,search_runs
    .venv/bin/python bench/bench_tracking.py --scale 0.1     # a quick smoke run (10x smaller workloads)

Every measurement runs in a fresh subprocess per tool (nothing warm is shared), in its own temporary
directory. Setup that is not being measured (creating the database, the runs to search, the points of a
history) happens before the clock starts. The parent prints the median of each workload, the rate, and the
ratio MLflow time / Bakehouse time (higher is better for Bakehouse).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TOOLS = ("bakehouse", "mlflow")
WORKLOADS = ("log_metric", "log_batch", "create_runs", "search_runs", "metric_history", "import")

#: Workload sizes at --scale 1.
SIZES = {
    "log_metric": 10_000,
    "log_batch": 10_000,
    "create_runs": 2_000,
    "search_runs": 2_000,  # runs searched over (made by the create_runs workload's setup)
    "metric_history": 100_000,
}
SEARCH_FILTER = "metrics.m0 > 0.5 and params.p0 = 'a'"
SEARCH_ORDER_BY = ["metrics.m1 DESC"]


# ================================================================================ worker side (child)


def _api(tool: str) -> Any:
    """The tool's module, client class and entity classes, imported inside the measured child."""
    if tool == "bakehouse":
        import bakehouse as module
        from bakehouse.client.client import Client
        from bakehouse.entities import Metric, Param, RunTag
    else:
        import mlflow as module
        from mlflow import MlflowClient as Client
        from mlflow.entities import Metric, Param, RunTag
    return module, Client, Metric, Param, RunTag


def _uri(workdir: Path) -> str:
    return f"sqlite:///{workdir / 'tracking.db'}"


def _client(tool: str, workdir: Path) -> Any:
    module, Client, *_ = _api(tool)
    module.set_tracking_uri(_uri(workdir))
    client = Client(tracking_uri=_uri(workdir))
    client.search_experiments()  # creates/opens the database: setup, not measured
    return client


def _experiment(client: Any, name: str = "bench") -> str:
    existing = client.get_experiment_by_name(name)
    return existing.experiment_id if existing is not None else client.create_experiment(name)


def work_log_metric(tool: str, workdir: Path, n: int) -> dict[str, Any]:
    module, *_ = _api(tool)
    client = _client(tool, workdir)
    experiment_id = _experiment(client)
    start = time.perf_counter()
    with module.start_run(experiment_id=experiment_id) as run:
        for i in range(n):
            module.log_metric("loss", 1.0 / (i + 1), step=i)
    elapsed = time.perf_counter() - start  # end_run (leaving the block) flushes any buffered points
    count = len(client.get_metric_history(run.info.run_id, "loss"))
    return {"seconds": elapsed, "check": count, "expected": n}


def work_log_batch(tool: str, workdir: Path, n: int) -> dict[str, Any]:
    _, _, Metric, _, _ = _api(tool)
    client = _client(tool, workdir)
    run_id = client.create_run(_experiment(client)).info.run_id
    now = int(time.time() * 1000)
    metrics = [Metric("loss", 1.0 / (i + 1), now + i, i) for i in range(n)]
    start = time.perf_counter()
    client.log_batch(run_id, metrics=metrics)
    elapsed = time.perf_counter() - start
    count = len(client.get_metric_history(run_id, "loss"))
    return {"seconds": elapsed, "check": count, "expected": n}


def _create_runs(tool: str, client: Any, experiment_id: str, n: int) -> None:
    _, _, Metric, Param, RunTag = _api(tool)
    now = int(time.time() * 1000)
    for i in range(n):
        run = client.create_run(experiment_id, run_name=f"run-{i}")
        client.log_batch(
            run.info.run_id,
            metrics=[Metric(f"m{j}", ((i * 7 + j * 13) % 100) / 100.0, now, 0) for j in range(5)],
            params=[Param(f"p{j}", "ab"[(i + j) % 2]) for j in range(5)],
            tags=[RunTag(f"t{j}", f"v{i % 10}") for j in range(3)],
        )
        client.set_terminated(run.info.run_id)


def work_create_runs(tool: str, workdir: Path, n: int) -> dict[str, Any]:
    client = _client(tool, workdir)
    experiment_id = _experiment(client)
    start = time.perf_counter()
    _create_runs(tool, client, experiment_id, n)
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed}


def prep_search_runs(tool: str, workdir: Path, n: int) -> dict[str, Any]:
    client = _client(tool, workdir)
    _create_runs(tool, client, _experiment(client, "search"), n)
    return {}


def work_search_runs(tool: str, workdir: Path, n: int) -> dict[str, Any]:
    client = _client(tool, workdir)
    experiment_id = _experiment(client, "search")
    start = time.perf_counter()
    runs = client.search_runs(
        [experiment_id], filter_string=SEARCH_FILTER, order_by=SEARCH_ORDER_BY, max_results=n
    )
    elapsed = time.perf_counter() - start
    values = [run.data.metrics["m1"] for run in runs]
    assert values == sorted(values, reverse=True), "order_by not applied"
    expected = sum(1 for i in range(n) if ((i * 7) % 100) / 100.0 > 0.5 and "ab"[i % 2] == "a")
    return {"seconds": elapsed, "check": len(runs), "expected": expected}


def prep_metric_history(tool: str, workdir: Path, n: int) -> dict[str, Any]:
    _, _, Metric, _, _ = _api(tool)
    client = _client(tool, workdir)
    run_id = client.create_run(_experiment(client, "history"), run_name="history").info.run_id
    now = int(time.time() * 1000)
    for chunk in range(0, n, 1000):
        client.log_batch(
            run_id,
            metrics=[Metric("loss", 1.0 / (i + 1), now + i, i) for i in range(chunk, min(n, chunk + 1000))],
        )
    (workdir / "history_run_id").write_text(run_id)
    return {}


def work_metric_history(tool: str, workdir: Path, n: int) -> dict[str, Any]:
    client = _client(tool, workdir)
    run_id = (workdir / "history_run_id").read_text()
    client.get_run(run_id)
    start = time.perf_counter()
    history = client.get_metric_history(run_id, "loss")
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "check": len(history), "expected": n}


WORKERS: dict[str, Callable[[str, Path, int], dict[str, Any]]] = {
    "log_metric": work_log_metric,
    "log_batch": work_log_batch,
    "create_runs": work_create_runs,
    "prep_search_runs": prep_search_runs,
    "search_runs": work_search_runs,
    "prep_metric_history": prep_metric_history,
    "metric_history": work_metric_history,
}


def worker_main(tool: str, workload: str, workdir: Path, n: int) -> None:
    os.chdir(workdir)  # default artifact roots (./mlruns, ./bakehouse-artifacts) land in the temp dir
    result = WORKERS[workload](tool, workdir, n)
    sys.stdout.write("BENCH_RESULT " + json.dumps(result) + "\n")
    sys.stdout.flush()
    os._exit(0)  # skip interpreter teardown (atexit hooks of either tool are not part of the workload)


# ================================================================================ parent side


@dataclass
class Result:
    workload: str
    tool: str
    n: int
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def child_env() -> dict[str, str]:
    # Both tools import from cached bytecode, as installed packages normally do.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MLFLOW_", "BAKEHOUSE_")) and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update({"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"})
    return env


def run_child(python: str, tool: str, workload: str, workdir: Path, n: int, log: Path) -> dict[str, Any]:
    cmd = [python, os.path.abspath(__file__), "--worker", tool, workload, str(workdir), str(n)]
    with open(log, "a") as log_file:
        log_file.write(f"\n$ {' '.join(cmd)}\n")
        log_file.flush()
        proc = subprocess.run(
            cmd,
            check=False,
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            env=child_env(),
            timeout=3600,
        )
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            if "expected" in result and result.get("check") != result["expected"]:
                raise SystemExit(
                    f"{tool} {workload}: got {result.get('check')} items, expected {result['expected']}"
                )
            return result
    raise SystemExit(f"{tool} {workload} failed (exit {proc.returncode}); see {log}")


def time_import(python: str, tool: str) -> float:
    start = time.perf_counter()
    subprocess.run([python, "-c", f"import {tool}"], check=True, env=child_env(), cwd=tempfile.gettempdir())
    return time.perf_counter() - start


def measure(args: argparse.Namespace, log: Path) -> list[Result]:
    results: list[Result] = []
    tools = args.tools.split(",")
    for workload in args.workloads.split(","):
        for tool in tools:
            n = max(1, int(SIZES.get(workload, 0) * args.scale))
            result = Result(workload, tool, n)
            base = Path(tempfile.mkdtemp(prefix=f"bench-{tool}-{workload}-", dir=args.tmp))
            try:
                if workload == "import":
                    time_import(args.python, tool)  # warm the OS file cache once
                    result.seconds = [time_import(args.python, tool) for _ in range(args.repeat)]
                elif workload in ("search_runs", "metric_history"):
                    run_child(args.python, tool, f"prep_{workload}", base, n, log)
                    for _ in range(args.repeat):
                        result.seconds.append(run_child(args.python, tool, workload, base, n, log)["seconds"])
                else:
                    for i in range(args.repeat):
                        workdir = base / str(i)
                        workdir.mkdir()
                        result.seconds.append(
                            run_child(args.python, tool, workload, workdir, n, log)["seconds"]
                        )
            finally:
                shutil.rmtree(base, ignore_errors=True)
            print(
                f"  {workload:<15} {tool:<10} n={n:<7} " + " ".join(f"{s:.3f}s" for s in result.seconds),
                file=sys.stderr,
                flush=True,
            )
            results.append(result)
    return results


def report(results: list[Result], repeat: int) -> str:
    by_key = {(r.workload, r.tool): r for r in results}
    lines = [
        f"median of {repeat} run(s), each in a fresh process; ratio = MLflow time / Bakehouse time",
        "",
        f"| {'workload':<15} | {'n':>7} | {'Bakehouse':>20} | {'MLflow':>20} | {'ratio':>8} |",
        f"|{'-' * 17}|{'-' * 8}:|{'-' * 21}:|{'-' * 21}:|{'-' * 9}:|",
    ]
    for workload in dict.fromkeys(r.workload for r in results):
        bh, ml = by_key.get((workload, "bakehouse")), by_key.get((workload, "mlflow"))
        n = (bh or ml).n if (bh or ml) else 0
        ratio = f"{ml.median / bh.median:.1f}x" if bh and ml and bh.median > 0 else "-"
        lines.append(
            f"| {workload:<15} | {n if workload != 'import' else '':>7} | {_cell(bh):>20} | "
            f"{_cell(ml):>20} | {ratio:>8} |"
        )
    return "\n".join(lines)


def _cell(result: Result | None) -> str:
    if result is None:
        return "-"
    median = result.median
    if result.workload in ("log_metric", "log_batch") and median > 0:
        return f"{median:.3f} s ({result.n / median:,.0f}/s)"
    return f"{median:.3f} s"


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, tool, workload, workdir, n = sys.argv
        worker_main(tool, workload, Path(workdir), int(n))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every workload size (e.g. 0.1)")
    parser.add_argument("--python", default=sys.executable, help="interpreter with both packages installed")
    parser.add_argument("--tmp", default=None, help="where the temporary databases go")
    parser.add_argument("--json", dest="json_path", default=None, help="also write raw timings to this file")
    args = parser.parse_args()
    unknown = set(args.workloads.split(",")) - set(WORKLOADS)
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    log = Path(tempfile.gettempdir()) / "bench_tracking.log"
    log.write_text("")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs; child logs in {log}", file=sys.stderr)
    results = measure(args, log)
    print()
    print(report(results, args.repeat))
    if args.json_path:
        Path(args.json_path).write_text(
            json.dumps([r.__dict__ | {"median": r.median} for r in results], indent=2)
        )


if __name__ == "__main__":
    main()
