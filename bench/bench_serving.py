"""Model serving: ``bakehouse models serve`` vs ``mlflow models serve --env-manager local``, same model, one run.

Workloads (per server, per repeat): start-to-ready (spawn until ``/ping`` answers 200), 2,000 sequential
one-row requests on one keep-alive connection (p50, p99, requests/s), 8 concurrent clients (requests/s,
p50), one 10,000-row request (median of 5). The model is a scikit-learn LogisticRegression on iris saved by
MLflow itself (skops), so both servers load the very same directory. Prints medians over the repeats and
the ratios; ``--json PATH`` also writes them.

    python bench/bench_serving.py --repeats 3
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
ONE_ROW = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": [[5.1, 3.5, 1.4, 0.2]]}}).encode()
HEADERS = {"Content-Type": "application/json"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def save_model(directory: Path) -> Path:
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    path = directory / "iris"
    mlflow.sklearn.save_model(model, str(path), input_example=X[:3], serialization_format="skops")
    return path


def command(kind: str, model: Path, port: int) -> list[str]:
    if kind == "bakehouse":
        return [sys.executable, "-m", "bakehouse.cli.models", "serve", "-m", str(model), "-p", str(port)]
    mlflow = str(Path(sys.executable).parent / "mlflow")
    return [mlflow, "models", "serve", "-m", str(model), "-p", str(port), "--env-manager", "local"]


def group_cpu_seconds(pgid: int) -> float:
    """CPU time (user + system) used so far by every process of the group: a start-up cost that a busy,
    shared machine inflates far less than wall-clock time."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields[2] is pgrp (after pid and comm)
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


class Server:
    def __init__(self, kind: str, model: Path, log_dir: Path) -> None:
        self.kind = kind
        self.port = free_port()
        # mlflow runs `uvicorn` through bash, so the venv's bin must be on PATH; MLflow 3.17 also refuses to
        # deserialize any model file (skops included) unless told it may
        path = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
        env = dict(os.environ, MLFLOW_ALLOW_PICKLE_DESERIALIZATION="true", PATH=path)
        self.log = log_dir / f"{kind}-{self.port}.log"
        start = time.perf_counter()
        with open(self.log, "wb") as log:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                command(kind, model, self.port),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {self.proc.returncode}; see {self.log}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", "/ping")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.perf_counter() - start > 180:
                raise RuntimeError(f"{kind} server not ready after 180 s")
            time.sleep(0.01)
        self.ready_seconds = time.perf_counter() - start
        self.ready_cpu_seconds = group_cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        try:
            os.killpg(self.proc.pid, 15)  # mlflow starts uvicorn as a child: stop the whole group we created
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)


def post(conn: http.client.HTTPConnection, body: bytes) -> bytes:
    conn.request("POST", "/invocations", body=body, headers=HEADERS)
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {data[:300]!r}")
    return data


def sequential(port: int, n: int) -> dict[str, float]:
    conn = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(50):
        post(conn, ONE_ROW)
    times = []
    start = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        post(conn, ONE_ROW)
        times.append(time.perf_counter() - t0)
    total = time.perf_counter() - start
    conn.close()
    times.sort()
    return {
        "p50_ms": times[len(times) // 2] * 1000,
        "p99_ms": times[int(len(times) * 0.99)] * 1000,
        "req_per_s": n / total,
    }


def concurrent(port: int, clients: int, per_client: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        post(conn, ONE_ROW)
        barrier.wait()
        mine = []
        for _ in range(per_client):
            t0 = time.perf_counter()
            post(conn, ONE_ROW)
            mine.append(time.perf_counter() - t0)
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    total = time.perf_counter() - start
    return {"req_per_s": clients * per_client / total, "p50_ms": statistics.median(latencies) * 1000}


def big_request(port: int, rows: int, repeats: int = 5) -> dict[str, float]:
    import random

    rng = random.Random(0)
    data = [[round(rng.uniform(0, 8), 1) for _ in COLUMNS] for _ in range(rows)]
    body = json.dumps({"dataframe_split": {"columns": COLUMNS, "data": data}}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port)
    post(conn, body)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = post(conn, body)
        times.append(time.perf_counter() - t0)
    conn.close()
    assert len(json.loads(out)["predictions"]) == rows
    return {"ms": statistics.median(times) * 1000}


def run_once(kind: str, model: Path, log_dir: Path, args: argparse.Namespace) -> dict[str, float]:
    server = Server(kind, model, log_dir)
    try:
        seq = sequential(server.port, args.sequential)
        conc = concurrent(server.port, args.clients, args.per_client)
        big = big_request(server.port, args.rows)
    finally:
        server.stop()
    return {
        "ready_s": server.ready_seconds,
        "ready_cpu_s": server.ready_cpu_seconds,
        "seq_p50_ms": seq["p50_ms"],
        "seq_p99_ms": seq["p99_ms"],
        "seq_req_per_s": seq["req_per_s"],
        "conc_req_per_s": conc["req_per_s"],
        "conc_p50_ms": conc["p50_ms"],
        "big_10k_ms": big["ms"],
    }


LOWER_IS_BETTER = {"ready_s", "ready_cpu_s", "seq_p50_ms", "seq_p99_ms", "conc_p50_ms", "big_10k_ms"}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sequential", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--per-client", type=int, default=250)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-serving-") as tmp:
        tmp_path = Path(tmp)
        model = save_model(tmp_path)
        results: dict[str, list[dict[str, float]]] = {"bakehouse": [], "mlflow": []}
        for repeat in range(args.repeats):
            order = ["bakehouse", "mlflow"] if repeat % 2 == 0 else ["mlflow", "bakehouse"]
            for kind in order:
                result = run_once(kind, model, tmp_path, args)
                results[kind].append(result)
                print(
                    f"run {repeat + 1} {kind:9s} " + " ".join(f"{k}={v:.2f}" for k, v in result.items()),
                    flush=True,
                )

    medians = {
        kind: {k: statistics.median(r[k] for r in runs) for k in runs[0]} for kind, runs in results.items()
    }
    print()
    print(f"{'metric':16s} {'bakehouse':>10s} {'mlflow':>10s} {'advantage':>10s}")
    ratios: dict[str, float] = {}
    for key in medians["bakehouse"]:
        ours, theirs = medians["bakehouse"][key], medians["mlflow"][key]
        ratio = theirs / ours if key in LOWER_IS_BETTER else ours / theirs
        ratios[key] = ratio
        print(f"{key:16s} {ours:10.2f} {theirs:10.2f} {ratio:9.2f}x")
    if args.json:
        args.json.write_text(json.dumps({"medians": medians, "advantage": ratios, "runs": results}, indent=2))


if __name__ == "__main__":
    main()
