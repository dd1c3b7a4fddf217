"""Serving start-up: ``bakehouse models serve`` vs ``mlflow models serve --env-manager local``, same model.

Times each server from the spawn of its process to its first successful ``POST /invocations`` (one row,
answered 200 with one prediction) and to its first ``GET /ping`` answered 200. Each server is started
``--repeats`` times on an idle core and again while a busy-loop process (``python -c 'while True: pass'``)
keeps one of the machine's cores busy, alternating the order. The model is a scikit-learn LogisticRegression
on iris saved by MLflow itself (skops), so both servers load the very same directory. Prints medians and the
ratio MLflow / Bakehouse; ``--json PATH`` also writes every run.

    python bench/bench_serve_start.py --repeats 5
    python bench/bench_serve_start.py --repeats 5 --no-mlflow        # Bakehouse only
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_serving import ONE_ROW, command, free_port, group_cpu_seconds, save_model
from harness import load_average

HEADERS = {"Content-Type": "application/json"}


def answers(port: int, method: str, path: str, body: bytes | None) -> bytes | None:
    """The body of a 200 answer, or None when the server does not (yet) answer."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request(method, path, body=body, headers=HEADERS if body else {})
        response = conn.getresponse()
        data = response.read()
        conn.close()
    except OSError:
        return None
    return data if response.status == 200 else None


def start_once(kind: str, model: Path, log_dir: Path) -> dict[str, float]:
    """Spawn one server; seconds to the first /ping and the first /invocations answered."""
    port = free_port()
    path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
    env = dict(os.environ, MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true", PATH=path)
    log = log_dir / f"{kind}-{port}.log"
    start = time.perf_counter()
    with open(log, "wb") as fh:
        proc = subprocess.Popen(
            command(kind, model, port), stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    times: dict[str, float] = {}
    try:
        while "invocations_s" not in times:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {proc.returncode}; see {log}")
            if time.perf_counter() - start > 180:
                raise RuntimeError(f"{kind} server not ready after 180 s; see {log}")
            out = answers(port, "POST", "/invocations", ONE_ROW)
            if out is not None:
                if len(json.loads(out)["predictions"]) != 1:
                    raise RuntimeError(f"{kind}: unexpected answer {out[:200]!r}")
                times["invocations_s"] = time.perf_counter() - start
                times.setdefault("ping_s", times["invocations_s"])
            elif "ping_s" not in times and answers(port, "GET", "/ping", None) is not None:
                times["ping_s"] = time.perf_counter() - start
            else:
                time.sleep(0.01)
        if answers(port, "GET", "/ping", None) is None:
            raise RuntimeError(f"{kind}: /ping does not answer 200 once /invocations does")
        times["cpu_s"] = group_cpu_seconds(proc.pid)
    finally:
        try:
            os.killpg(proc.pid, 15)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
    return times


def busy_core() -> subprocess.Popen[bytes]:
    """A process that keeps one core busy until killed."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-mlflow", action="store_true", help="time Bakehouse only")
    parser.add_argument("--model", type=Path, default=None, help="an MLflow sklearn model directory to serve")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    kinds = ["bakehouse"] if args.no_mlflow else ["bakehouse", "mlflow"]
    print(f"load average before: {load_average()}", flush=True)

    results: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-serve-start-") as tmp:
        tmp_path = Path(tmp)
        model = args.model or save_model(tmp_path)
        for repeat in range(args.repeats):
            for busy in (False, True):
                order = kinds if repeat % 2 == 0 else kinds[::-1]
                loop = busy_core() if busy else None
                try:
                    for kind in order:
                        label = f"{kind}, {'one core busy' if busy else 'idle'}"
                        result = start_once(kind, model, tmp_path)
                        results.setdefault(label, []).append(result)
                        print(
                            f"run {repeat + 1} {label:28s} "
                            + " ".join(f"{k}={v:.2f}" for k, v in result.items()),
                            flush=True,
                        )
                finally:
                    if loop is not None:
                        loop.kill()
                        loop.wait()

    print(f"\nload average after: {load_average()}")
    medians = {
        label: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for label, runs in results.items()
    }
    print(f"\n{'server, condition':30s} {'ping s':>8s} {'invocations s':>14s} {'CPU s':>8s}")
    for label, m in medians.items():
        print(f"{label:30s} {m['ping_s']:8.2f} {m['invocations_s']:14.2f} {m['cpu_s']:8.2f}")
    if not args.no_mlflow:
        for condition in ("idle", "one core busy"):
            ours = medians[f"bakehouse, {condition}"]["invocations_s"]
            theirs = medians[f"mlflow, {condition}"]["invocations_s"]
            print(f"first /invocations, {condition}: MLflow / Bakehouse = {theirs / ours:.1f}x")
    if args.json:
        args.json.write_text(json.dumps({"medians": medians, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
