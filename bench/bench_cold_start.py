"""Cold start: a fresh process's first tracking call, and ``models serve`` until it answers, vs MLflow.

1. Client first call: a new interpreter imports the library, points it at a running ``bakehouse server``
   (the same server for both clients, so only the client differs) and calls ``search_runs`` three times;
   it reports the import, the first call and the median of the next two (warm). The embedded store
   (``sqlite:///``) is measured the same way, each tool on its own database file.
2. Serving: ``bakehouse models serve`` vs ``mlflow models serve --env-manager local`` on the same
   scikit-learn model (saved by MLflow, skops), from spawn to the first ``/ping`` 200 and to the first
   ``/invocations`` answer. ``--busy`` keeps one core busy with a spinning process meanwhile, the
   condition issue 20 sets (ready in under 2 s on a 2-core machine).

Whole-process wall times, alternating the two tools; prints medians and the ratios MLflow/Bakehouse.

    python bench/bench_cold_start.py --repeats 5 --busy
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_serving import ONE_ROW, command, save_model
from harness import free_port, load_average, median, start_server

CLIENT_SCRIPT = """
import sys, time
t0 = time.perf_counter()
import {module} as lib
lib.set_tracking_uri(sys.argv[1])
t1 = time.perf_counter()
times = []
for _ in range(3):
    start = time.perf_counter()
    lib.search_runs(experiment_ids=["0"], output_format="list", max_results=100)
    times.append(time.perf_counter() - start)
print(t1 - t0, times[0], sorted(times[1:])[0])
"""


def spin() -> None:
    while True:
        pass


def client_first_call(tool: str, uri: str) -> tuple[float, float, float]:
    """(import, first call, warm call) in seconds, measured inside a fresh interpreter."""
    module = "bakehouse" if tool == "bakehouse" else "mlflow"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BAKEHOUSE_"))}
    out = subprocess.run(
        [sys.executable, "-c", CLIENT_SCRIPT.format(module=module), uri],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.split()
    return float(out[-3]), float(out[-2]), float(out[-1])


def serve_ready(tool: str, model: Path) -> tuple[float, float]:
    """Seconds from spawn to the first /ping 200, and to the first /invocations answer."""
    port = free_port()
    # mlflow runs `uvicorn` through bash, so the venv's bin must be on PATH; MLflow 3.17 also refuses to
    # deserialize any model file (skops included) unless told it may (as in bench_serving.py)
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    env = dict(os.environ, MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true", PATH=path)
    start = time.perf_counter()
    proc = subprocess.Popen(
        command(tool, model, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{tool} models serve exited with {proc.returncode}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.01)
        ready = time.perf_counter() - start
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/invocations", ONE_ROW, {"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
        return ready, time.perf_counter() - start
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(30)


def row(label: str, ours: list[float], theirs: list[float]) -> dict[str, float | str]:
    a, b = median(ours), median(theirs)
    print(f"{label:<34} {a * 1000:>9.0f} ms {b * 1000:>9.0f} ms {b / a:>7.1f}x")
    return {"workload": label, "bakehouse_ms": a * 1000, "mlflow_ms": b * 1000, "ratio": b / a}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--busy", action="store_true", help="keep one core busy during the runs")
    parser.add_argument("--skip-serving", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-cold-"))
    spinner = multiprocessing.Process(target=spin, daemon=True) if args.busy else None
    if spinner is not None:
        spinner.start()
    print(f"load average before: {load_average()}; one core kept busy: {args.busy}")
    server = start_server("bakehouse", f"sqlite:///{work / 'server.db'}", work)
    results: dict[str, dict[str, list[float]]] = {}
    try:
        for _ in range(args.repeats):
            for tool in ("bakehouse", "mlflow"):
                uris = {"server": server.url, "sqlite": f"sqlite:///{work / (tool + '-embedded.db')}"}
                for kind, uri in uris.items():
                    imported, first, warm = client_first_call(tool, uri)
                    bucket = results.setdefault(f"{kind}:{tool}", {"import": [], "first": [], "warm": []})
                    bucket["import"].append(imported)
                    bucket["first"].append(first)
                    bucket["warm"].append(warm)
        if not args.skip_serving:
            model = save_model(work)
            for _ in range(args.repeats):
                for tool in ("bakehouse", "mlflow"):
                    ready, invoked = serve_ready(tool, model)
                    bucket = results.setdefault(f"serve:{tool}", {"ready": [], "invoked": []})
                    bucket["ready"].append(ready)
                    bucket["invoked"].append(invoked)
    finally:
        server.stop()
        if spinner is not None:
            spinner.terminate()
    print(f"load average after: {load_average()}; medians of {args.repeats}")
    print(f"{'workload':<34} {'bakehouse':>12} {'mlflow':>12} {'ratio':>8}")
    rows = []
    for kind in ("server", "sqlite"):
        ours, theirs = results[f"{kind}:bakehouse"], results[f"{kind}:mlflow"]
        rows.append(row(f"{kind}: import + set_tracking_uri", ours["import"], theirs["import"]))
        rows.append(row(f"{kind}: first search_runs", ours["first"], theirs["first"]))
        rows.append(row(f"{kind}: warm search_runs", ours["warm"], theirs["warm"]))
        extra_ours = [f - w for f, w in zip(ours["first"], ours["warm"], strict=True)]
        extra_theirs = [f - w for f, w in zip(theirs["first"], theirs["warm"], strict=True)]
        rows.append(row(f"{kind}: first call over warm", extra_ours, extra_theirs))
        total_ours = [i + f for i, f in zip(ours["import"], ours["first"], strict=True)]
        total_theirs = [i + f for i, f in zip(theirs["import"], theirs["first"], strict=True)]
        rows.append(row(f"{kind}: import + first call", total_ours, total_theirs))
    if not args.skip_serving:
        ours, theirs = results["serve:bakehouse"], results["serve:mlflow"]
        rows.append(row("models serve: spawn to /ping 200", ours["ready"], theirs["ready"]))
        rows.append(row("models serve: spawn to 1st predict", ours["invoked"], theirs["invoked"]))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
