"""HTTP benchmark: `bakehouse server` vs `mlflow server` (and FastTrackML's `fml` when installed), one run.

    .venv/bin/python bench/bench_http.py                   # everything
    .venv/bin/python bench/bench_http.py --servers bakehouse,mlflow --repeat 5
    .venv/bin/python bench/bench_http.py --quick            # 10x smaller workloads (smoke run)
    FML=/path/to/fml .venv/bin/python bench/bench_http.py   # FastTrackML binary (default: `fml` on PATH or
                                                            # /tmp/fml-venv/bin/fml)

Every server runs as a subprocess in its own session on 127.0.0.1 with a fresh SQLite database and artifact
directory, with its default worker count (MLflow 4 uvicorn workers, Bakehouse 1; `bakehouse-w2` = 2
workers, to show TCP_NODELAY survives the worker processes). The clients are the official `mlflow` client
(the same code for every server) and, where named, Bakehouse's own client. Each workload prints the median
over --repeat runs; ratios are MLflow time / other time (higher = faster than MLflow).

FastTrackML needs `pip install fasttrackml`; it pins mlflow<3, so install it in a separate venv
(`uv venv /tmp/fml-venv && uv pip install -p /tmp/fml-venv/bin/python --no-deps fasttrackml`), never into
the project's venv.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def session_rss_mb(sid: int) -> float:
    """Resident memory of every process in the server's session (all workers), in MB."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[3]) != sid:  # field 6 (session) is index 3 after the command name
                continue
            with open(f"/proc/{entry}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total / 1024


@dataclass
class RunningServer:
    name: str
    url: str
    proc: subprocess.Popen[bytes]
    startup_s: float
    workdir: Path
    supports_artifacts: bool = True

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
                self.proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def fml_binary() -> str | None:
    for candidate in (os.environ.get("FML"), shutil.which("fml"), "/tmp/fml-venv/bin/fml"):
        if candidate and Path(candidate).exists():
            return candidate
    return None


def start(name: str, workdir: Path) -> RunningServer:
    port = free_port()
    db = f"sqlite:///{workdir / 'db.sqlite'}"
    art = str(workdir / "artifacts")
    health = "/health"
    supports_artifacts = True
    if name.startswith("bakehouse"):
        cmd = [str(VENV_BIN / "bakehouse"), "server", "-p", str(port), "--backend-store-uri", db,
               "--artifacts-destination", art, "--log-level", "warning"]
        if name == "bakehouse-w2":
            cmd += ["--workers", "2"]
    elif name == "mlflow":
        cmd = [str(VENV_BIN / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
               "--backend-store-uri", db, "--artifacts-destination", art]
    elif name == "fml":
        binary = fml_binary()
        if binary is None:
            raise FileNotFoundError("fml")
        cmd = [binary, "server", "--listen-address", f"127.0.0.1:{port}", "--database-uri",
               f"sqlite://{workdir / 'fml.db'}", "--default-artifact-root", art]
        supports_artifacts = False  # FastTrackML has no artifact proxy
    else:
        raise ValueError(name)
    log = open(workdir / "server.log", "wb")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=workdir,
                            start_new_session=True, env={k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")})
    url = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited:\n" + (workdir / "server.log").read_text(errors="replace")[-3000:])
        try:
            with urllib.request.urlopen(url + health, timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.01)
        if time.perf_counter() - t0 > 120:
            raise RuntimeError(f"{name} did not start in 120 s")
    return RunningServer(name, url, proc, time.perf_counter() - t0, workdir, supports_artifacts)


@dataclass
class Results:
    rows: dict[str, dict[str, float]] = field(default_factory=dict)  # workload -> server -> value
    units: dict[str, str] = field(default_factory=dict)
    higher_is_better: dict[str, bool] = field(default_factory=dict)

    def add(self, workload: str, server: str, value: float, unit: str, higher_is_better: bool = False) -> None:
        self.rows.setdefault(workload, {})[server] = value
        self.units[workload] = unit
        self.higher_is_better[workload] = higher_is_better
        print(f"  {server:<13} {workload:<38} {value:12.3f} {unit}", flush=True)


def timed(fn: Callable[[], Any], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples)


def run_workloads(server: RunningServer, results: Results, args: argparse.Namespace, scale: float) -> None:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    name = server.name
    time.sleep(1.0)  # let the workers settle before measuring idle memory
    results.add("server start-up (to /health)", name, server.startup_s, "s")
    results.add("idle memory (all processes)", name, session_rss_mb(server.proc.pid), "MB")

    client = MlflowClient(tracking_uri=server.url)
    eid = client.create_experiment(f"bench-{uuid.uuid4().hex[:8]}")
    rid = client.create_run(eid).info.run_id

    # --- log_metric loop with the official client (time-bounded: MLflow does ~17/s)
    n = 0
    t0 = time.perf_counter()
    budget = 6.0 * max(scale, 0.3)
    while n < int(3000 * scale) and time.perf_counter() - t0 < budget:
        client.log_metric(rid, "loop", float(n), step=n)
        n += 1
    results.add("log_metric loop, mlflow client", name, n / (time.perf_counter() - t0), "calls/s", True)

    if name.startswith("bakehouse"):
        from bakehouse.client.client import Client

        ours = Client(tracking_uri=server.url)
        orid = ours.create_run(eid).info.run_id
        count = int(100_000 * scale)
        t0 = time.perf_counter()
        for i in range(count):
            ours.log_metric(orid, "ours", float(i), step=i)
        ours.flush() if hasattr(ours, "flush") else None
        history = ours.get_metric_history(orid, "ours")
        elapsed = time.perf_counter() - t0
        assert len(history) == count, (len(history), count)
        results.add("log_metric loop, bakehouse client", name, count / elapsed, "calls/s", True)

    # --- log_batch: 10 x 1000 metrics
    brid = client.create_run(eid).info.run_id
    batches = max(1, int(10 * scale))
    t0 = time.perf_counter()
    for b in range(batches):
        client.log_batch(brid, metrics=[Metric(f"k{i % 10}", float(i), 1_700_000_000_000 + b, b * 1000 + i)
                                        for i in range(1000)])
    results.add("log_batch 10x1000 metrics", name, batches * 1000 / (time.perf_counter() - t0), "metrics/s", True)

    # --- search over 2,000 runs (setup not timed)
    seid = client.create_experiment(f"search-{uuid.uuid4().hex[:8]}")
    n_runs = int(2000 * scale)

    def make_run(i: int) -> None:
        r = client.create_run(seid, tags={"group": "a" if i % 2 else "b"}, run_name=f"r{i}")
        client.log_batch(
            r.info.run_id,
            metrics=[Metric("acc", (i % 100) / 100, 1_700_000_000_000, 0), Metric("loss", 1 - (i % 100) / 100, 1_700_000_000_000, 0)],
            params=[Param("model", "cnn" if i % 3 else "mlp"), Param("lr", str(i / 1000))],
            tags=[RunTag("note", f"n{i}")],
        )

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(make_run, range(n_runs)))
    print(f"  ({name}: created {n_runs} runs in {time.perf_counter() - t0:.1f} s, not timed)", flush=True)

    def search_all(filter_string: str = "", order_by: list[str] | None = None) -> int:
        total, token = 0, None
        while True:
            page = client.search_runs([seid], filter_string, max_results=1000, order_by=order_by, page_token=token)
            total += len(page)
            token = page.token
            if not token:
                return total

    assert search_all() == n_runs
    results.add(f"search {n_runs} runs, no filter", name, timed(search_all, args.repeat) * 1000, "ms")
    results.add(f"search {n_runs} runs, filter", name, timed(
        lambda: search_all("metrics.acc > 0.5 AND params.model = 'cnn'"), args.repeat) * 1000, "ms")
    results.add(f"search {n_runs} runs, order_by metric", name, timed(
        lambda: search_all("", ["metrics.loss DESC"]), args.repeat) * 1000, "ms")

    # --- metric history, 100k points
    hrid = client.create_run(eid).info.run_id
    points = int(100_000 * scale)
    for start_step in range(0, points, 1000):
        client.log_batch(hrid, metrics=[Metric("h", float(s), 1_700_000_000_000 + s, s)
                                        for s in range(start_step, min(points, start_step + 1000))])
    assert len(client.get_metric_history(hrid, "h")) == points
    results.add(f"get_metric_history {points} points", name,
                timed(lambda: client.get_metric_history(hrid, "h"), args.repeat) * 1000, "ms")

    # --- 100 MB artifact up and down
    if server.supports_artifacts:
        size_mb = max(1, int(100 * scale))
        src = server.workdir / "payload.bin"
        block = os.urandom(1 << 20)
        with open(src, "wb") as fh:
            for _ in range(size_mb):
                fh.write(block)
        digest = hashlib.sha256(src.read_bytes()).hexdigest()
        arid = client.create_run(eid).info.run_id
        up = timed(lambda: client.log_artifact(arid, str(src)), args.repeat)
        results.add(f"artifact upload {size_mb} MB", name, size_mb / up, "MB/s", True)

        def download() -> None:
            out = Path(tempfile.mkdtemp(dir=server.workdir))
            path = client.download_artifacts(arid, "payload.bin", str(out))
            if hashlib.sha256(Path(path).read_bytes()).hexdigest() != digest:
                raise AssertionError("download differs")
            shutil.rmtree(out)

        down = timed(download, args.repeat)
        results.add(f"artifact download {size_mb} MB", name, size_mb / down, "MB/s", True)
        if "disk copy (reference)" not in results.rows.get(f"artifact upload {size_mb} MB", {}):
            copy = timed(lambda: shutil.copyfile(src, server.workdir / "copy.bin"), args.repeat)
            results.add(f"artifact upload {size_mb} MB", "disk copy", size_mb / copy, "MB/s", True)
    mlflow.set_tracking_uri(None) if hasattr(mlflow, "set_tracking_uri") else None


def print_summary(results: Results, servers: list[str]) -> None:
    print("\n## Summary (medians; ratio = how many times faster than MLflow)\n")
    header = "| workload | " + " | ".join(servers) + " | " + " | ".join(f"{s} vs mlflow" for s in servers if s != "mlflow") + " |"
    print(header)
    print("|" + "---|" * (1 + len(servers) + len([s for s in servers if s != "mlflow"])))
    for workload, values in results.rows.items():
        unit = results.units[workload]
        cells = [f"{values[s]:.2f} {unit}" if s in values else "–" for s in servers]
        ratios = []
        for s in servers:
            if s == "mlflow":
                continue
            if s in values and "mlflow" in values and values[s] > 0 and values["mlflow"] > 0:
                ratio = values[s] / values["mlflow"] if results.higher_is_better[workload] else values["mlflow"] / values[s]
                ratios.append(f"{ratio:.1f}x")
            else:
                ratios.append("–")
        extra = values.get("disk copy")
        label = workload + (f" (disk copy {extra:.0f} MB/s)" if extra else "")
        print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default="bakehouse,bakehouse-w2,mlflow,fml")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10x smaller workloads")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    results = Results()
    done = []
    for name in servers:
        workdir = Path(tempfile.mkdtemp(prefix=f"bench-http-{name}-"))
        print(f"\n# {name}", flush=True)
        try:
            server = start(name, workdir)
        except FileNotFoundError:
            print("  (not installed: skipped)")
            continue
        try:
            run_workloads(server, results, args, scale)
            done.append(name)
        finally:
            server.stop()
            shutil.rmtree(workdir, ignore_errors=True)
    print_summary(results, done)


if __name__ == "__main__":
    main()
