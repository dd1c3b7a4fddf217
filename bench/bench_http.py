"""HTTP benchmark: `bakehouse server` vs `mlflow server` (and FastTrackML's `fml` when installed), one run.

    .venv/bin/python bench/bench_http.py                   # everything
    .venv/bin/python bench/bench_http.py --servers bakehouse,mlflow --repeat 5
    .venv/bin/python bench/bench_http.py --quick            # 10x smaller workloads (smoke run)
    .venv/bin/python bench/bench_http.py --only artifacts   # start-up, memory and 100 MB transfers only
    .venv/bin/python bench/bench_http.py --only artifacts --workdir /dev/shm   # the same, in memory
    FML=/path/to/fml .venv/bin/python bench/bench_http.py   # FastTrackML binary (default: `fml` on PATH or
                                                            # /tmp/fml-venv/bin/fml)

Every server runs as a subprocess in its own session on 127.0.0.1 with a fresh SQLite database and artifact
directory, with its default worker count (MLflow 4 uvicorn workers, Bakehouse 1; `bakehouse-w2` = 2
workers, to show TCP_NODELAY survives the worker processes). The clients are the official `mlflow` client
(the same code for every server) and, where named, Bakehouse's own client. Each workload prints the median
over --repeat runs; ratios are MLflow time / other time (higher = faster than MLflow). Rows marked
"bakehouse client" run the same workload through Bakehouse's own client and are compared with MLflow's
figure for its own client. Rows marked "the mlflow client's own parsing" time the official client turning
the server's responses into entities with no server involved: the floor of that client, so the best ratio
any server can reach with it.

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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def start(name: str, workdir: Path, timeout: float = 120.0) -> RunningServer:
    port = free_port()
    db = f"sqlite:///{workdir / 'db.sqlite'}"
    art = str(workdir / "artifacts")
    health = "/health"
    supports_artifacts = True
    if name.startswith("bakehouse"):
        cmd = [
            str(VENV_BIN / "bakehouse"),
            "server",
            "-p",
            str(port),
            "--backend-store-uri",
            db,
            "--artifacts-destination",
            art,
            "--log-level",
            "warning",
        ]
        if name == "bakehouse-w2":
            cmd += ["--workers", "2"]
    elif name == "mlflow":
        cmd = [
            str(VENV_BIN / "mlflow"),
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--backend-store-uri",
            db,
            "--artifacts-destination",
            art,
        ]
    elif name == "fml":
        binary = fml_binary()
        if binary is None:
            raise FileNotFoundError("fml")
        cmd = [
            binary,
            "server",
            "--listen-address",
            f"127.0.0.1:{port}",
            "--database-uri",
            f"sqlite://{workdir / 'fml.db'}",
            "--default-artifact-root",
            art,
        ]
        supports_artifacts = False  # FastTrackML has no artifact proxy
    else:
        raise ValueError(name)
    t0 = time.perf_counter()
    with open(workdir / "server.log", "wb") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            start_new_session=True,
            env={k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        )
    url = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{name} exited:\n" + (workdir / "server.log").read_text(errors="replace")[-3000:]
            )
        try:
            with urllib.request.urlopen(url + health, timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.01)
        if time.perf_counter() - t0 > timeout:
            raise RuntimeError(f"{name} did not start in {timeout:.0f} s")
    return RunningServer(name, url, proc, time.perf_counter() - t0, workdir, supports_artifacts)


@dataclass
class Results:
    rows: dict[str, dict[str, float]] = field(default_factory=dict)  # workload -> server -> value
    units: dict[str, str] = field(default_factory=dict)
    higher_is_better: dict[str, bool] = field(default_factory=dict)
    #: workload -> the workload whose mlflow figure it is compared with (rows measured with our client)
    baseline: dict[str, str] = field(default_factory=dict)

    def mlflow_value(self, workload: str) -> float | None:
        values = self.rows.get(self.baseline.get(workload, workload), {})
        return values.get("mlflow")

    def add(
        self, workload: str, server: str, value: float, unit: str, higher_is_better: bool = False
    ) -> None:
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


class Workbench:
    """One running server plus the data its timed workloads use (set up before any clock starts)."""

    def __init__(self, server: RunningServer, scale: float) -> None:
        from mlflow import MlflowClient

        self.server = server
        self.name = server.name
        self.scale = scale
        self.client = MlflowClient(tracking_uri=server.url)
        self.eid = self.client.create_experiment(f"bench-{uuid.uuid4().hex[:8]}")
        self.loop_run = self.client.create_run(self.eid).info.run_id
        self.loop_step = 0
        self.batch_run = self.client.create_run(self.eid).info.run_id
        self.batch_step = 0
        self.search_eid = self.client.create_experiment(f"search-{uuid.uuid4().hex[:8]}")
        self.history_run = self.client.create_run(self.eid).info.run_id
        self.artifact_run = self.client.create_run(self.eid).info.run_id
        self.n_runs = int(2000 * scale)
        self.points = int(100_000 * scale)
        self.ours: Any = None
        if self.name.startswith("bakehouse"):
            from bakehouse.client.client import Client

            self.ours = Client(tracking_uri=server.url)

    # ------------------------------------------------------------------ setup (not timed)
    def populate(self) -> None:
        t0 = time.perf_counter()
        db = self.server.workdir / "db.sqlite"
        if self.name.startswith("bakehouse"):
            self._populate_bakehouse(f"sqlite:///{db}")
        elif self.name == "mlflow":
            self._populate_mlflow(f"sqlite:///{db}")
        else:
            self._populate_http()
        print(
            f"  ({self.name}: {self.n_runs} runs + {self.points} history points set up in "
            f"{time.perf_counter() - t0:.1f} s, not timed)",
            flush=True,
        )
        assert len(self.client.get_metric_history(self.history_run, "h")) == self.points

    def _run_rows(self, i: int) -> tuple[dict[str, str], list[tuple[str, float]], list[tuple[str, str]]]:
        tags = {"group": "a" if i % 2 else "b", "note": f"n{i}"}
        metrics = [("acc", (i % 100) / 100), ("loss", 1 - (i % 100) / 100)]
        params = [("model", "cnn" if i % 3 else "mlp"), ("lr", str(i / 1000))]
        return tags, metrics, params

    def _populate_bakehouse(self, uri: str) -> None:
        from bakehouse.entities import Metric, Param, RunTag
        from bakehouse.store.tracking.sql.store import SqlTrackingStore

        store = SqlTrackingStore(uri, "mlflow-artifacts:/")
        for i in range(self.n_runs):
            tags, metrics, params = self._run_rows(i)
            run = store.create_run(
                self.search_eid,
                "bench",
                1_700_000_000_000 + i,
                [RunTag(k, v) for k, v in tags.items()],
                f"r{i}",
            )
            store.log_batch(
                run.info.run_id,
                metrics=[Metric(k, v, 1_700_000_000_000, 0) for k, v in metrics],
                params=[Param(k, v) for k, v in params],
            )
        for start_step in range(0, self.points, 1000):
            store.log_batch(
                self.history_run,
                metrics=[
                    Metric("h", float(s), 1_700_000_000_000 + s, s)
                    for s in range(start_step, min(self.points, start_step + 1000))
                ],
            )
        store.engine.dispose()

    def _populate_mlflow(self, uri: str) -> None:
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = SqlAlchemyStore(uri, "mlflow-artifacts:/")
        for i in range(self.n_runs):
            tags, metrics, params = self._run_rows(i)
            run = store.create_run(
                self.search_eid,
                "bench",
                1_700_000_000_000 + i,
                [RunTag(k, v) for k, v in tags.items()],
                f"r{i}",
            )
            store.log_batch(
                run.info.run_id,
                metrics=[Metric(k, v, 1_700_000_000_000, 0) for k, v in metrics],
                params=[Param(k, v) for k, v in params],
                tags=[],
            )
        for start_step in range(0, self.points, 1000):
            store.log_batch(
                self.history_run,
                metrics=[
                    Metric("h", float(s), 1_700_000_000_000 + s, s)
                    for s in range(start_step, min(self.points, start_step + 1000))
                ],
                params=[],
                tags=[],
            )
        store.engine.dispose()

    def _populate_http(self) -> None:
        from mlflow.entities import Metric, Param

        def make_run(i: int) -> None:
            tags, metrics, params = self._run_rows(i)
            run = self.client.create_run(
                self.search_eid, start_time=1_700_000_000_000 + i, tags=tags, run_name=f"r{i}"
            )
            self.client.log_batch(
                run.info.run_id,
                metrics=[Metric(k, v, 1_700_000_000_000, 0) for k, v in metrics],
                params=[Param(k, v) for k, v in params],
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(make_run, range(self.n_runs)))
        for start_step in range(0, self.points, 1000):
            self.client.log_batch(
                self.history_run,
                metrics=[
                    Metric("h", float(s), 1_700_000_000_000 + s, s)
                    for s in range(start_step, min(self.points, start_step + 1000))
                ],
            )

    # ------------------------------------------------------------------ timed workloads (one sample each)
    def log_metric_loop(self) -> float:
        """calls/s of the official client's log_metric, for ~2 s or 1000 calls."""
        n, t0 = 0, time.perf_counter()
        while n < 1000 and time.perf_counter() - t0 < 2.0 * max(self.scale, 0.5):
            self.client.log_metric(self.loop_run, "loop", float(n), step=self.loop_step)
            self.loop_step += 1
            n += 1
        return n / (time.perf_counter() - t0)

    def log_metric_ours(self) -> float:
        from bakehouse.client.client import Client

        ours = Client(tracking_uri=self.server.url)
        rid = ours.create_run(self.eid).info.run_id
        count = int(50_000 * self.scale)
        t0 = time.perf_counter()
        for i in range(count):
            ours.log_metric(rid, "ours", float(i), step=i)
        got = len(ours.get_metric_history(rid, "ours"))  # flushes, then reads everything back
        elapsed = time.perf_counter() - t0
        assert got == count, (got, count)
        return count / elapsed

    def log_batch(self, ours: bool = False) -> float:
        """metrics/s of 3 calls of 1000 metrics, through the official client or (``ours``) Bakehouse's."""
        if ours:
            from bakehouse.entities import Metric
        else:
            from mlflow.entities import Metric
        client = self.ours if ours else self.client
        batches = 3
        t0 = time.perf_counter()
        for _ in range(batches):
            base = self.batch_step
            client.log_batch(
                self.batch_run,
                metrics=[Metric(f"k{i % 10}", float(i), 1_700_000_000_000, base + i) for i in range(1000)],
            )
            self.batch_step += 1000
        return batches * 1000 / (time.perf_counter() - t0)

    def search(self, filter_string: str = "", order_by: list[str] | None = None, ours: bool = False) -> float:
        client = self.ours if ours else self.client  # the two clients share this method's signature
        total, token = 0, None
        t0 = time.perf_counter()
        while True:
            page = client.search_runs(
                [self.search_eid], filter_string, max_results=1000, order_by=order_by, page_token=token
            )
            total += len(page)
            token = page.token
            if not token:
                break
        elapsed = time.perf_counter() - t0
        if not filter_string:
            assert total == self.n_runs, (total, self.n_runs)
        return elapsed * 1000

    def history(self, ours: bool = False) -> float:
        client = self.ours if ours else self.client
        t0 = time.perf_counter()
        got = len(client.get_metric_history(self.history_run, "h"))
        elapsed = time.perf_counter() - t0
        assert got == self.points
        return elapsed * 1000

    # ------------------------------------------------------------------ the official client's own floor
    def _raw_pages(self, kind: str) -> list[bytes]:
        """The responses the official client receives, fetched once, so its parsing can be timed alone."""
        import requests

        session, pages, token = requests.Session(), [], None
        while True:
            if kind == "search":
                body: dict[str, Any] = {"experiment_ids": [self.search_eid], "max_results": 1000}
                if token:
                    body["page_token"] = token
                response = session.post(self.server.url + "/api/2.0/mlflow/runs/search", json=body)
            else:
                params = {"run_id": self.history_run, "metric_key": "h", "max_results": 25000}
                if token:
                    params["page_token"] = token
                response = session.get(self.server.url + "/api/2.0/mlflow/metrics/get-history", params=params)
            response.raise_for_status()
            pages.append(response.content)
            token = response.json().get("next_page_token")
            if not token:
                return pages

    def client_parse_floor(self, kind: str, repeat: int) -> float:
        """ms the official client spends turning these responses into entities, with no server at all:
        json.loads, protobuf's ParseDict and from_proto, exactly as mlflow.utils.rest_utils.call_endpoint
        and RestStore do. No server can make that client faster than this."""
        import json

        from mlflow.entities import Metric, Run
        from mlflow.protos.service_pb2 import GetMetricHistory, SearchRuns
        from mlflow.utils.proto_json_utils import parse_dict

        pages = self._raw_pages(kind)

        def parse() -> None:
            for raw in pages:
                if kind == "search":
                    proto = SearchRuns.Response()
                    parse_dict(json.loads(raw.decode("utf-8")), proto)
                    [Run.from_proto(r) for r in proto.runs]
                else:
                    proto = GetMetricHistory.Response()
                    parse_dict(json.loads(raw.decode("utf-8")), proto)
                    [Metric.from_proto(m) for m in proto.metrics]

        return timed(parse, repeat) * 1000


def run_all(benches: list[Workbench], results: Results, repeat: int, scale: float) -> None:
    """Each workload runs on every server in turn, ``repeat`` rounds: machine noise hits all servers alike."""
    n_runs, points = benches[0].n_runs, benches[0].points
    workloads: list[tuple[str, str, bool, Callable[[Workbench], float] | None]] = [
        ("log_metric loop, mlflow client", "calls/s", True, Workbench.log_metric_loop),
        ("log_metric loop, bakehouse client", "calls/s", True, None),
        ("log_batch 1000 metrics/call", "metrics/s", True, Workbench.log_batch),
        (f"search {n_runs} runs, no filter", "ms", False, lambda b: b.search()),
        (
            f"search {n_runs} runs, filter",
            "ms",
            False,
            lambda b: b.search("metrics.acc > 0.5 AND params.model = 'cnn'"),
        ),
        (
            f"search {n_runs} runs, order_by metric",
            "ms",
            False,
            lambda b: b.search("", ["metrics.loss DESC"]),
        ),
        (f"get_metric_history {points} points", "ms", False, Workbench.history),
    ]
    for title, unit, higher, fn in workloads:
        samples: dict[str, list[float]] = {b.name: [] for b in benches}
        for _ in range(repeat):
            for bench in benches:
                if fn is None:
                    if not bench.name.startswith("bakehouse"):
                        continue
                    samples[bench.name].append(bench.log_metric_ours())
                else:
                    samples[bench.name].append(fn(bench))
        for name, values in samples.items():
            if values:
                results.add(title, name, statistics.median(values), unit, higher)
    ours: list[tuple[str, str, str, bool, Callable[[Workbench], float]]] = [
        (
            "log_batch 1000 metrics/call, bakehouse client",
            "log_batch 1000 metrics/call",
            "metrics/s",
            True,
            lambda b: b.log_batch(ours=True),
        ),
        (
            f"search {n_runs} runs, no filter, bakehouse client",
            f"search {n_runs} runs, no filter",
            "ms",
            False,
            lambda b: b.search(ours=True),
        ),
        (
            f"search {n_runs} runs, order_by metric, bakehouse client",
            f"search {n_runs} runs, order_by metric",
            "ms",
            False,
            lambda b: b.search("", ["metrics.loss DESC"], ours=True),
        ),
        (
            f"get_metric_history {points} points, bakehouse client",
            f"get_metric_history {points} points",
            "ms",
            False,
            lambda b: b.history(ours=True),
        ),
    ]
    for title, baseline, unit, higher, fn in ours:
        samples = {b.name: [] for b in benches if b.ours is not None}
        for _ in range(repeat):
            for bench in benches:
                if bench.ours is not None:
                    samples[bench.name].append(fn(bench))
        for name, values in samples.items():
            results.add(title, name, statistics.median(values), unit, higher)
        results.baseline[title] = baseline
    # the official client's parsing alone, on the responses of the first server (all servers send the same)
    for kind, baseline in (
        ("search", f"search {n_runs} runs, no filter"),
        ("history", f"get_metric_history {points} points"),
    ):
        title = f"{baseline}: the mlflow client's own parsing"
        results.add(title, "no server", benches[0].client_parse_floor(kind, repeat), "ms", False)
        results.baseline[title] = baseline


class RawHttpPeer:
    """The least work an HTTP peer written in Python can do, in its own process: the reference transfers.

    A PUT's body (Content-Length bytes, ``recv_into`` a reused 1 MiB buffer) goes straight into a new file; a
    GET is answered with ``payload`` in 1 MiB reads and ``sendall``. No framework, no routing, no parsing
    beyond the header lines. Against it, :func:`raw_put` / :func:`raw_get` (the same loops on the client side)
    give the loopback limit of an HTTP transfer on this machine (every byte crosses user space once each
    way, as it must through any HTTP client and server), and each real client's figure is that client's own
    ceiling: no server, ours or anyone's, can move its bytes faster.
    """

    def __init__(self, payload: Path, sink: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--raw-peer", str(payload), str(sink)],
            stdout=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()

    @staticmethod
    def serve(payload: Path, sink: Path) -> None:
        import threading

        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        print(listener.getsockname()[1], flush=True)
        while True:
            conn, _ = listener.accept()
            threading.Thread(target=RawHttpPeer._serve, args=(conn, payload, sink), daemon=True).start()

    @staticmethod
    def _serve(conn: socket.socket, payload: Path, sink: Path) -> None:
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)
        pending = b""
        with conn:
            while True:
                head, pending = _read_head(conn, pending)
                if head is None:
                    return
                method = head.split(b" ", 1)[0]
                if method == b"PUT":
                    length = _content_length(head)
                    with open(sink / uuid.uuid4().hex, "xb") as out:
                        out.write(pending[:length])
                        got = len(pending[:length])
                        pending = pending[length:]
                        while got < length:
                            n = conn.recv_into(buffer, min(len(buffer), length - got))
                            if not n:
                                return
                            out.write(view[:n])
                            got += n
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
                    )
                elif method == b"GET":
                    conn.sendall(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                        b"Content-Length: %d\r\n\r\n" % payload.stat().st_size
                    )
                    with open(payload, "rb") as fh:
                        while n := fh.readinto(buffer):
                            conn.sendall(view[:n])
                else:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")


def _read_head(conn: socket.socket, pending: bytes) -> tuple[bytes | None, bytes]:
    while b"\r\n\r\n" not in pending:
        data = conn.recv(65536)
        if not data:
            return None, b""
        pending += data
    head, rest = pending.split(b"\r\n\r\n", 1)
    return head, rest


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def raw_put(url: str, src: Path) -> None:
    """The loopback reference upload: headers, then the file in 1 MiB reads and ``sendall``."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock, open(src, "rb") as fh:
        sock.sendall(b"PUT /raw HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % src.stat().st_size)
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)
        while n := fh.readinto(buffer):
            sock.sendall(view[:n])
        head, _ = _read_head(sock, b"")
        assert head is not None and head.startswith(b"HTTP/1.1 200")


def raw_get(url: str, dst: Path) -> None:
    """The loopback reference download: ``recv_into`` a reused 1 MiB buffer, written to a new file."""
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as sock, open(dst, "xb") as out:
        sock.sendall(b"GET /raw HTTP/1.1\r\nHost: x\r\n\r\n")
        head, pending = _read_head(sock, b"")
        assert head is not None and head.startswith(b"HTTP/1.1 200")
        length = _content_length(head)
        out.write(pending)
        got = len(pending)
        buffer = bytearray(1 << 20)
        view = memoryview(buffer)
        while got < length:
            n = sock.recv_into(buffer, min(len(buffer), length - got))
            if not n:
                raise ConnectionError("raw peer closed early")
            out.write(view[:n])
            got += n


def raw_peer_round(
    peer: RawHttpPeer, src: Path, sink: Path, digest: str, size_mb: int
) -> dict[str, tuple[float, float]]:
    """(upload, download) MB/s against :class:`RawHttpPeer`: the loopback reference, then each client's own
    artifact code."""
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository as MlflowHttpRepo

    from bakehouse.store.artifacts.http import HttpArtifactRepository as BakehouseHttpRepo

    figures = {}
    root = f"{peer.url}/api/2.0/mlflow-artifacts/artifacts/raw"
    theirs = MlflowHttpRepo(root)
    ours = BakehouseHttpRepo(root)
    clients: dict[str, tuple[Callable[[], None], Callable[[Path], None]]] = {
        "loopback": (lambda: raw_put(peer.url, src), lambda out: raw_get(peer.url, out)),
        "mlflow client": (
            lambda: theirs.log_artifact(str(src)),
            lambda out: theirs._download_file("payload.bin", str(out)),
        ),
        "bakehouse client": (
            lambda: ours.log_artifact(str(src)),
            lambda out: ours._download_file("payload.bin", out, None),
        ),
    }
    for name, (upload, download) in clients.items():
        os.sync()  # the previous transfer's writeback must not compete with this one
        t0 = time.perf_counter()
        upload()
        up = size_mb / (time.perf_counter() - t0)
        out = sink / f"download-{uuid.uuid4().hex}.bin"
        os.sync()  # the previous transfer's writeback must not compete with this one
        t0 = time.perf_counter()
        download(out)
        down = size_mb / (time.perf_counter() - t0)
        if hashlib.sha256(out.read_bytes()).hexdigest() != digest:
            raise AssertionError(f"raw peer, {name}: downloaded bytes differ")
        figures[name] = (up, down)
    ours.close()
    return figures


def _transfer_clients(bench: Workbench) -> list[tuple[str, Callable[[str], Any]]]:
    """Each client's own artifact repository class, for the transfer-only rows."""
    from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository as MlflowHttpRepo

    from bakehouse.store.artifacts.http import HttpArtifactRepository as BakehouseHttpRepo

    clients: list[tuple[str, Callable[[str], Any]]] = [("mlflow client", MlflowHttpRepo)]
    if bench.ours is not None:
        clients.append(("bakehouse client", BakehouseHttpRepo))
    return clients


def _ignore(value: float) -> None:
    """Where a warm-up round's figures go."""


def artifact_round(benches: list[Workbench], results: Results, repeat: int, scale: float) -> None:
    """Every transfer writes a new file, as a user's uploads to new runs do, and starts with nothing left to
    write back (``sync`` before each clock starts: a previous transfer's writeback would otherwise compete
    with the next one); what a round wrote is deleted after it, outside the clocks. Writing over an existing
    file is a different, slower case on ext4 (replacing a file flushes the new one first). Round 0 is a
    warm-up for every path and is not recorded."""
    size_mb = max(1, int(100 * scale))
    workdir = Path(tempfile.mkdtemp(prefix="bench-http-payload-"))
    src = workdir / "payload.bin"
    block = os.urandom(1 << 20)
    with open(src, "wb") as fh:
        fh.writelines(block[i:] + block[:i] for i in range(size_mb))
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    up: dict[str, list[float]] = {}
    down: dict[str, list[float]] = {}
    transfer_up: dict[tuple[str, str], list[float]] = {}
    transfer_down: dict[tuple[str, str], list[float]] = {}
    references: dict[str, list[float]] = {}

    def fresh_dir() -> Path:
        return Path(tempfile.mkdtemp(dir=workdir))

    sink = fresh_dir()
    peer = RawHttpPeer(src, sink)
    raw_put(peer.url, src)  # warm-up, not timed: a fresh process's first transfer is slower
    raw_get(peer.url, sink / "warm-up.bin")
    for leftover in sink.iterdir():
        leftover.unlink()

    for round_no in range(repeat + 1):  # round 0 warms every path up and is not recorded
        keep = round_no > 0
        trash: list[Path] = []  # deleted at the end of the round, outside every clock
        target = fresh_dir()
        os.sync()  # the previous transfer's writeback must not compete with this one
        t0 = time.perf_counter()
        shutil.copyfile(src, target / "copy.bin")
        (references.setdefault("disk copy", []).append if keep else _ignore)(
            size_mb / (time.perf_counter() - t0)
        )
        trash.append(target)
        for client, (up_mbs, down_mbs) in raw_peer_round(peer, src, sink, digest, size_mb).items():
            if keep:
                references.setdefault(f"raw peer up, {client}", []).append(up_mbs)
                references.setdefault(f"raw peer down, {client}", []).append(down_mbs)
        for bench in benches:
            if not bench.server.supports_artifacts:
                continue
            remote = f"round-{round_no}"
            os.sync()  # the previous transfer's writeback must not compete with this one
            t0 = time.perf_counter()
            bench.client.log_artifact(bench.artifact_run, str(src), remote)
            (up.setdefault(bench.name, []).append if keep else _ignore)(size_mb / (time.perf_counter() - t0))
            out = fresh_dir()
            os.sync()  # the previous transfer's writeback must not compete with this one
            t0 = time.perf_counter()
            path = bench.client.download_artifacts(bench.artifact_run, f"{remote}/payload.bin", str(out))
            (down.setdefault(bench.name, []).append if keep else _ignore)(
                size_mb / (time.perf_counter() - t0)
            )
            if hashlib.sha256(Path(path).read_bytes()).hexdigest() != digest:
                raise AssertionError(f"{bench.name}: downloaded bytes differ")
            trash.append(out)
            if bench.ours is not None:
                remote = f"ours-{round_no}"
                os.sync()  # the previous transfer's writeback must not compete with this one
                t0 = time.perf_counter()
                bench.ours.log_artifact(bench.artifact_run, str(src), remote)
                (up.setdefault(f"{bench.name}+client", []).append if keep else _ignore)(
                    size_mb / (time.perf_counter() - t0)
                )
                out = fresh_dir()
                os.sync()  # the previous transfer's writeback must not compete with this one
                t0 = time.perf_counter()
                path = bench.ours.download_artifacts(bench.artifact_run, f"{remote}/payload.bin", str(out))
                (down.setdefault(f"{bench.name}+client", []).append if keep else _ignore)(
                    size_mb / (time.perf_counter() - t0)
                )
                if hashlib.sha256(Path(path).read_bytes()).hexdigest() != digest:
                    raise AssertionError(f"{bench.name}: downloaded bytes differ (bakehouse client)")
                trash.append(out)
            # the transfer alone: each client's artifact repository against the proxy, the same calls as
            # against the minimal peer (no run lookup, no listing), so comparable with the limits
            for label, make in _transfer_clients(bench):
                repo = make(
                    f"{bench.server.url}/api/2.0/mlflow-artifacts/artifacts/transfer-{label}-{round_no}"
                )
                os.sync()  # the previous transfer's writeback must not compete with this one
                t0 = time.perf_counter()
                repo.log_artifact(str(src))
                (transfer_up.setdefault((label, bench.name), []).append if keep else _ignore)(
                    size_mb / (time.perf_counter() - t0)
                )
                out = fresh_dir() / "payload.bin"
                os.sync()  # the previous transfer's writeback must not compete with this one
                t0 = time.perf_counter()
                if label == "mlflow client":
                    repo._download_file("payload.bin", str(out))
                else:
                    repo._download_file("payload.bin", out, None)
                (transfer_down.setdefault((label, bench.name), []).append if keep else _ignore)(
                    size_mb / (time.perf_counter() - t0)
                )
                if hashlib.sha256(out.read_bytes()).hexdigest() != digest:
                    raise AssertionError(f"{bench.name}, {label}: downloaded bytes differ (transfer only)")
                trash.append(out.parent)
                if label == "bakehouse client":
                    repo.close()
            trash.append(bench.server.workdir / "artifacts")  # the server's copies of this round's files
        # Deleting 100 MB files makes the file system discard their blocks in the background (this disk is
        # mounted with online discard): done here, between rounds, it cannot slow any timed transfer.
        for path in trash:
            shutil.rmtree(path, ignore_errors=True)
        for leftover in sink.iterdir():
            leftover.unlink()
        os.sync()
        time.sleep(1.0)
    print("  samples (MB/s, round by round):", flush=True)
    for name, values in [
        *references.items(),
        *((f"{n} up", v) for n, v in up.items()),
        *((f"{n} down", v) for n, v in down.items()),
        *((f"{s} {c} up (transfer only)", v) for (c, s), v in transfer_up.items()),
        *((f"{s} {c} down (transfer only)", v) for (c, s), v in transfer_down.items()),
    ]:
        print(f"    {name:<52} " + " ".join(f"{v:7.0f}" for v in values), flush=True)
    for direction, samples in (("upload", up), ("download", down)):
        base = f"artifact {direction} {size_mb} MB"
        for name, values in samples.items():
            if name.endswith("+client"):  # Bakehouse's client against Bakehouse's server
                results.add(
                    f"{base}, bakehouse client",
                    name.removesuffix("+client"),
                    statistics.median(values),
                    "MB/s",
                    True,
                )
                results.baseline[f"{base}, bakehouse client"] = base
            else:
                results.add(base, name, statistics.median(values), "MB/s", True)
    for direction, samples in (("upload", transfer_up), ("download", transfer_down)):
        way = "up" if direction == "upload" else "down"
        for client in ("mlflow client", "bakehouse client"):
            title = f"artifact {direction} {size_mb} MB, transfer only, {client}"
            rows = {server: values for (label, server), values in samples.items() if label == client}
            if not rows:
                continue
            results.add(title, "disk copy", statistics.median(references["disk copy"]), "MB/s", True)
            results.add(
                title, "loopback", statistics.median(references[f"raw peer {way}, loopback"]), "MB/s", True
            )
            results.add(
                title, "raw peer", statistics.median(references[f"raw peer {way}, {client}"]), "MB/s", True
            )
            for server, values in rows.items():
                results.add(title, server, statistics.median(values), "MB/s", True)
            if client == "bakehouse client":
                results.baseline[title] = f"artifact {direction} {size_mb} MB, transfer only, mlflow client"
    peer.close()
    shutil.rmtree(workdir, ignore_errors=True)


def print_summary(results: Results, servers: list[str]) -> None:
    print("\n## Summary (medians; ratio = how many times faster than MLflow)\n")
    header = (
        "| workload | "
        + " | ".join(servers)
        + " | "
        + " | ".join(f"{s} vs mlflow" for s in servers if s != "mlflow")
        + " |"
    )
    print(header)
    print("|" + "---|" * (1 + len(servers) + len([s for s in servers if s != "mlflow"])))
    for workload, values in results.rows.items():
        unit = results.units[workload]
        mlflow = results.mlflow_value(workload)
        borrowed = "mlflow" not in values and mlflow is not None
        if "no server" in values:  # the client's own floor: one figure, the best ratio any server could reach
            floor = values["no server"]
            home = "mlflow" if "mlflow" in servers else servers[0]  # the figure belongs to no server
            cells = [f"{floor:.2f} {unit}" if s == home else "–" for s in servers]
            ceiling = f"at most {mlflow / floor:.1f}x" if mlflow else "–"
            ratios = [ceiling for s in servers if s != "mlflow"]
            print(f"| {workload} (no server) | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
            continue
        cells = []
        for s in servers:
            if s in values:
                cells.append(f"{values[s]:.2f} {unit}")
            elif s == "mlflow" and borrowed:
                cells.append(f"({mlflow:.2f} {unit}, its own client)")
            else:
                cells.append("–")
        ratios = []
        for s in servers:
            if s == "mlflow":
                continue
            if s in values and mlflow and values[s] > 0:
                ratio = values[s] / mlflow if results.higher_is_better[workload] else mlflow / values[s]
                ratios.append(f"{ratio:.1f}x")
            else:
                ratios.append("–")
        label = workload
        if "disk copy" in values:  # the limits this transfer is measured against, in the row's label
            label += (
                f" (disk copy {values['disk copy']:.0f} MB/s, HTTP loopback limit {values['loopback']:.0f} MB/s, "
                f"this client against a minimal peer {values['raw peer']:.0f} MB/s)"
            )
        print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--raw-peer":  # the reference peer's own process
        RawHttpPeer.serve(Path(sys.argv[2]), Path(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--servers", default="bakehouse,bakehouse-w2,mlflow,fml")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10x smaller workloads")
    parser.add_argument(
        "--workdir",
        help="where servers, payloads and downloads live (default: the temp "
        "directory); /dev/shm takes the disk out of the artifact figures",
    )
    parser.add_argument(
        "--only",
        choices=["all", "artifacts"],
        default="all",
        help="'artifacts': start-up, memory and the artifact transfers only (no data to set up)",
    )
    args = parser.parse_args()
    if args.workdir:
        tempfile.tempdir = args.workdir
    scale = 0.1 if args.quick else 1.0
    names = [s.strip() for s in args.servers.split(",") if s.strip()]
    results = Results()
    running: list[RunningServer] = []
    try:
        print("\n# start-up and idle memory (each server started alone, on an empty database)", flush=True)
        for name in names:
            workdir = Path(tempfile.mkdtemp(prefix=f"bench-http-{name}-"))
            try:
                server = start(name, workdir)
            except FileNotFoundError:
                print(f"  {name}: not installed, skipped")
                continue
            time.sleep(1.5)  # let every worker finish booting before reading memory
            results.add("server start-up (to /health)", name, server.startup_s, "s")
            results.add("idle memory (all processes)", name, session_rss_mb(server.proc.pid), "MB")
            running.append(server)
        print("\n# setup (not timed)", flush=True)
        benches = [Workbench(server, scale) for server in running]
        if args.only == "all":
            for bench in benches:
                bench.populate()
        print(f"\n# workloads (each one on every server in turn, {args.repeat} rounds, medians)", flush=True)
        if args.only == "all":
            run_all(benches, results, args.repeat, scale)
        artifact_round(benches, results, args.repeat, scale)
    finally:
        for server in running:
            server.stop()
            shutil.rmtree(server.workdir, ignore_errors=True)
    print_summary(results, [s.name for s in running])


if __name__ == "__main__":
    main()
