"""Tracing benchmark: `bakehouse server` vs `mlflow server` (3.17.2), same requests, one run.

    .venv/bin/python bench/bench_tracing.py                    # 100 traces x 50 spans, 10,000 traces searched
    .venv/bin/python bench/bench_tracing.py --repeat 5
    .venv/bin/python bench/bench_tracing.py --quick            # 10x smaller (smoke run)
    .venv/bin/python bench/bench_tracing.py --more-queries     # + by name, by run id, oldest first, page 10

Both servers run as subprocesses in their own sessions on 127.0.0.1 with a fresh SQLite database each,
with their default worker counts. The client sends exactly what MLflow's client sends, built once and
replayed to both servers over one keep-alive connection:

- ingestion: for each of 100 traces, its 50 spans as one OTLP protobuf request (``POST /v1/traces``)
  followed by the trace's ``StartTraceV3`` (``POST /api/3.0/mlflow/traces``); spans/s over the whole
  batch, and the servers' resident memory (every process of the session) sampled every 20 ms meanwhile.
  Every trace is then read back (``GET /api/3.0/mlflow/traces/get``) and its 50 spans counted.
- search: 10,000 traces (written beforehand through each tool's own SQL store, not timed), then
  ``POST /api/3.0/mlflow/traces/search`` pages of 100 with no filter, by status, by tag, by a time range;
  each query's result count is checked to be the same on both servers. ``--more-queries`` adds searches by
  trace name, by run id, oldest first, and the 10th page of the unfiltered and the tag searches. Each timed
  search is sent twice in a row: with httpx, then with the standard library's ``http.client`` (the layer
  MLflow's own client is built on), which costs ~0.2 ms of client CPU a page where httpx costs ~0.7 ms; both
  are printed, so the client's own share of a round trip can be told from the servers'.

Both servers are up at once and every workload alternates between them (ingestion rounds in turn, the
order swapped every round; search requests one by one in turn), so a swing of the shared machine's load
lands on both alike. Medians over --repeat rounds; ratios are MLflow time / Bakehouse time (higher =
Bakehouse faster), and the ingestion ratio of each round is printed too.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_http import RunningServer, session_rss_mb, start

from bakehouse.entities.trace import Span, SpanEvent, TraceInfo
from bakehouse.wire.otlp import encode_export_request
from bakehouse.wire.trace_json import trace_info_to_json

#: untimed requests before each timed workload, so every worker process has served some (MLflow runs 4)
WARMUP = 8
SEARCH_PATH = "/api/3.0/mlflow/traces/search"
SEARCH_QUERIES = {
    "no filter": None,
    "status = ERROR": "trace.status = 'ERROR'",
    "tag = value": "tags.team = 'team-3'",
    "time range": "trace.timestamp_ms >= {mid} AND trace.timestamp_ms < {end}",
}
#: --more-queries: other searches users run, (filter, order_by, page number); the traces then also carry a
#: source run (``mlflow.sourceRun``, 20 traces a run), which the four queries above do not look at
MORE_QUERIES: dict[str, tuple[str | None, list[str] | None, int]] = {
    "trace.name = value": ("trace.name = 'agent-2'", None, 1),
    "run id (20 traces)": ("trace.run_id = 'run-0007'", None, 1),
    "oldest first": (None, ["timestamp_ms ASC"], 1),
    "no filter, page 10": (None, None, 10),
    "tag = value, page 10": ("tags.team = 'team-3'", None, 10),
}


def make_trace(experiment_id: str, n_spans: int, t0_ns: int) -> tuple[str, bytes, dict[str, Any]]:
    """One trace as MLflow's client sends it: the OTLP body of its spans and its StartTraceV3 body."""
    otel = uuid.uuid4().hex
    trace_id = f"tr-{otel}"
    spans = []
    root_id = uuid.uuid4().hex[:16]
    for i in range(n_spans):
        start = t0_ns + i * 1_000_000
        attributes = {
            "mlflow.traceRequestId": trace_id,
            "mlflow.spanType": "LLM" if i % 3 == 0 else "TOOL",
            "mlflow.spanFunctionName": f"step_{i}",
            "mlflow.spanInputs": {
                "messages": [{"role": "user", "content": f"question {i} " * 8}],
                "temperature": 0.1,
            },
            "mlflow.spanOutputs": {"content": f"answer {i} " * 12, "finish_reason": "stop"},
            "mlflow.chat.tokenUsage": {"input_tokens": 30, "output_tokens": 40, "total_tokens": 70},
            "mlflow.spanLogLevel": 20,
        }
        # MLflow's client stores every span attribute as its JSON text (``dump_span_attribute_value``), so
        # each travels as an OTLP string value
        attributes = {key: json.dumps(value, ensure_ascii=False) for key, value in attributes.items()}
        spans.append(
            Span(
                trace_id,
                root_id if i == 0 else uuid.uuid4().hex[:16],
                None if i == 0 else root_id,
                "agent" if i == 0 else f"step_{i}",
                start,
                start + (n_spans * 1_000_000 if i == 0 else 800_000),
                "OK",
                "",
                attributes,
                [SpanEvent("retry", start + 10, {"attempt": 1})] if i % 10 == 5 else [],
            )
        )
    info = TraceInfo(
        trace_id,
        experiment_id,
        t0_ns // 1_000_000,
        n_spans,
        "OK",
        '{"messages": [{"role": "user", "content": "question 0"}]}',
        '{"content": "answer 0"}',
        trace_metadata={
            "mlflow.user": "bench",
            "mlflow.trace_schema.version": "3",
            "mlflow.source.name": "bench",
        },
        tags={"mlflow.traceName": "agent", "team": "bench"},
    )
    return trace_id, encode_export_request(spans), {"trace": {"trace_info": trace_info_to_json(info)}}


def session_pids(sid: int) -> list[int]:
    """The processes of the server's session (its workers included)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[3]) == sid:
                        pids.append(int(entry))
            except (OSError, ValueError, IndexError):
                continue
    return pids


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))
        except (OSError, ValueError, StopIteration):
            continue
    return total / 1024


def create_experiment(http: httpx.Client, name: str) -> str:
    response = http.post("/api/2.0/mlflow/experiments/create", json={"name": name})
    response.raise_for_status()
    return str(response.json()["experiment_id"])


def ingest(server: RunningServer, n_traces: int, n_spans: int) -> dict[str, float]:
    with httpx.Client(base_url=server.url, timeout=600) as http:
        experiment_id = create_experiment(http, f"ingest-{uuid.uuid4().hex[:8]}")
    # built before the timed connection opens: on a busy machine building them takes longer than a server's
    # keep-alive timeout (uvicorn: 5 s), and the next request would meet a closed connection
    t0 = time.time_ns()
    traces = [make_trace(experiment_id, n_spans, t0 + i * 10**9) for i in range(n_traces)]
    warmup = [make_trace(experiment_id, n_spans, t0 - (i + 1) * 10**9) for i in range(WARMUP)]
    with httpx.Client(base_url=server.url, timeout=600) as http:
        peak = [session_rss_mb(server.proc.pid)]
        done = threading.Event()

        def sample() -> None:
            # Listing the session's processes reads every /proc entry (~30 ms on a busy machine, holding this
            # client's GIL): done once a second; in between only the known processes' RSS is read (~0.1 ms).
            pids, listed = session_pids(server.proc.pid), time.monotonic()
            while not done.is_set():
                if time.monotonic() - listed > 1.0:
                    pids, listed = session_pids(server.proc.pid), time.monotonic()
                peak.append(rss_mb(pids))
                done.wait(0.02)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        headers = {"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id}
        retries = 0

        def post(path: str, **kwargs: Any) -> None:
            # MLflow's uvicorn supervisor kills a worker that misses its health pings (seen at a load
            # average of 35): the request on it is lost with the connection. It is sent again, once, and
            # the time lost stays in the measurement.
            nonlocal retries
            try:
                http.post(path, **kwargs).raise_for_status()
            except (httpx.RemoteProtocolError, httpx.ConnectError, httpx.ReadError):
                retries += 1
                http.post(path, **kwargs).raise_for_status()

        for _, otlp_body, start_body in warmup:  # every worker process warmed up first (MLflow runs 4)
            post("/v1/traces", content=otlp_body, headers=headers)
            post("/api/3.0/mlflow/traces", json=start_body)
        started = time.perf_counter()
        for _, otlp_body, start_body in traces:
            post("/v1/traces", content=otlp_body, headers=headers)
            post("/api/3.0/mlflow/traces", json=start_body)
        elapsed = time.perf_counter() - started
        done.set()
        sampler.join()
        for trace_id, _, _ in traces:
            got = http.get("/api/3.0/mlflow/traces/get", params={"trace_id": trace_id}).json()
            assert len(got["trace"]["spans"]) == n_spans, (server.name, trace_id)
    if retries:
        print(f"{server.name}: {retries} request(s) sent again after a dropped connection", flush=True)
    return {"spans_per_s": n_traces * n_spans / elapsed, "seconds": elapsed, "peak_rss_mb": max(peak)}


def populate_search(
    name: str, db_uri: str, artifacts: str, n_traces: int, base_ms: int, with_runs: bool = False
) -> str:
    """10,000 traces written through the tool's own SQL store (not timed): states, tags, times vary."""
    infos = []
    for i in range(n_traces):
        metadata = {"mlflow.user": "bench", "mlflow.source.name": "bench"}
        if with_runs:
            metadata["mlflow.sourceRun"] = f"run-{i % (n_traces // 20):04d}"
        infos.append(
            {
                "trace_id": f"tr-{uuid.uuid4().hex}",
                "request_time": base_ms + i * 1000,
                "execution_duration": 100 + i % 900,
                "state": "ERROR" if i % 10 == 0 else "OK",
                "tags": {"mlflow.traceName": f"agent-{i % 5}", "team": f"team-{i % 8}"},
                "metadata": metadata,
            }
        )
    if name == "mlflow":
        from mlflow.entities import TraceInfo as MTraceInfo
        from mlflow.entities import TraceLocation, TraceState
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        store = SqlAlchemyStore(db_uri, artifacts)
        experiment_id = store.create_experiment("search")
        # the first 200 through start_trace itself; the rest as the same rows, copied in one transaction
        # (10,000 separate start_trace transactions take ~10 minutes on a busy 2-core machine)
        for row in infos[:200]:
            store.start_trace(
                MTraceInfo(
                    trace_id=row["trace_id"],
                    trace_location=TraceLocation.from_experiment_id(experiment_id),
                    request_time=row["request_time"],
                    execution_duration=row["execution_duration"],
                    state=TraceState(row["state"]),
                    trace_metadata=row["metadata"],
                    tags=row["tags"],
                )
            )
        _copy_mlflow_trace_rows(store, infos[:200], infos[200:])
        store.engine.dispose()
        return str(experiment_id)
    from bakehouse.store.tracking.sql.store import SqlTrackingStore

    ours = SqlTrackingStore(db_uri, artifacts)
    experiment_id = ours.create_experiment("search")
    for row in infos:
        ours.start_trace(
            TraceInfo(
                row["trace_id"],
                experiment_id,
                row["request_time"],
                row["execution_duration"],
                row["state"],
                trace_metadata=row["metadata"],
                tags=row["tags"],
            )
        )
    ours.engine.dispose()
    return experiment_id


def _copy_mlflow_trace_rows(store: Any, written: list[dict[str, Any]], rest: list[dict[str, Any]]) -> None:
    """Insert ``rest`` as rows shaped exactly like those start_trace wrote for ``written`` (same columns,
    same extra tags and metadata), one transaction, through MLflow's own ORM models."""
    from mlflow.store.tracking.dbmodels.models import SqlTraceInfo, SqlTraceMetadata, SqlTraceTag

    template_id = written[0]["trace_id"]
    with store.ManagedSessionMaker(read_only=False) as session:
        template = session.query(SqlTraceInfo).filter(SqlTraceInfo.request_id == template_id).one()
        columns = [c.name for c in SqlTraceInfo.__table__.columns]
        base = {c: getattr(template, c) for c in columns}
        extra_tags = {t.key: t.value for t in template.tags if t.key not in written[0]["tags"]}
        extra_meta = {
            m.key: m.value for m in template.request_metadata if m.key not in written[0]["metadata"]
        }
        for row in rest:
            trace_id = row["trace_id"]
            info = SqlTraceInfo(
                **{
                    **base,
                    "request_id": trace_id,
                    "timestamp_ms": row["request_time"],
                    "execution_time_ms": row["execution_duration"],
                    "status": row["state"],
                    "trace_name": row["tags"]["mlflow.traceName"],
                }
            )
            tags = {k: v for k, v in row["tags"].items() if k != "mlflow.traceName"}
            tags.update({k: v.replace(template_id, trace_id) for k, v in extra_tags.items()})
            info.tags = [SqlTraceTag(request_id=trace_id, key=k, value=v) for k, v in tags.items()]
            meta = {**row["metadata"], **extra_meta}
            info.request_metadata = [
                SqlTraceMetadata(request_id=trace_id, key=k, value=v) for k, v in meta.items()
            ]
            session.add(info)


def search(
    servers: dict[str, tuple[RunningServer, str]],
    repeat: int,
    base_ms: int,
    n_traces: int,
    queries: dict[str, tuple[str | None, list[str] | None, int]],
) -> dict[str, dict[str, Any]]:
    """Every query sent to each server in turn, request by request (the order swapped every request), so a
    swing of the machine's load lands on both servers alike. A query for page N is sent with the page token
    each server gave for it (the pages before it are fetched once, untimed)."""
    out: dict[str, dict[str, Any]] = {name: {} for name in servers}
    mid, end = base_ms + (n_traces // 2) * 1000, base_ms + (n_traces // 2 + 500) * 1000
    clients = {name: httpx.Client(base_url=server.url, timeout=600) for name, (server, _) in servers.items()}
    plain = {name: PlainClient(server.url) for name, (server, _) in servers.items()}
    try:
        for label, (template, order_by, page) in queries.items():
            bodies: dict[str, dict[str, Any]] = {}
            for name, (_, experiment_id) in servers.items():
                location = {
                    "type": "MLFLOW_EXPERIMENT",
                    "mlflow_experiment": {"experiment_id": experiment_id},
                }
                bodies[name] = {"locations": [location], "max_results": 100}
                if template:
                    bodies[name]["filter"] = template.format(mid=mid, end=end)
                if order_by:
                    bodies[name]["order_by"] = order_by
                for _ in range(page - 1):
                    answer = clients[name].post(SEARCH_PATH, json=bodies[name])
                    bodies[name]["page_token"] = answer.raise_for_status().json()["next_page_token"]
                for _ in range(WARMUP):  # every worker process warmed up first (MLflow runs 4)
                    clients[name].post(SEARCH_PATH, json=bodies[name]).raise_for_status()
            raw = {name: json.dumps(body).encode() for name, body in bodies.items()}
            for name in servers:
                for _ in range(WARMUP):  # the stdlib client's connection warmed up too
                    plain[name].request(SEARCH_PATH, raw[name])
            times: dict[str, list[float]] = {name: [] for name in servers}
            plain_times: dict[str, list[float]] = {name: [] for name in servers}
            counts: dict[str, int] = {}
            for i in range(repeat):
                for name in list(servers)[:: 1 if i % 2 == 0 else -1]:
                    started = time.perf_counter()
                    response = clients[name].post(SEARCH_PATH, json=bodies[name])
                    times[name].append(time.perf_counter() - started)
                    response.raise_for_status()
                    counts[name] = len(response.json().get("traces", []))
                    started = time.perf_counter()
                    answer = plain[name].request(SEARCH_PATH, raw[name])
                    plain_times[name].append(time.perf_counter() - started)
                    assert len(json.loads(answer).get("traces", [])) == counts[name], (name, label)
            for name in servers:
                out[name][label] = {
                    "ms": statistics.median(times[name]) * 1000,
                    "plain_ms": statistics.median(plain_times[name]) * 1000,
                    "count": counts[name],
                }
    finally:
        for client in clients.values():
            client.close()
        for connection in plain.values():
            connection.close()
    return out


class PlainClient:
    """POSTs on one keep-alive ``http.client`` connection, the standard library's HTTP/1.1 client (the
    layer under MLflow's own client: requests -> urllib3 -> http.client): ~0.2 ms of client CPU a search
    page where httpx takes ~0.7 ms, so its timings show more of the servers' own share of a round trip."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").rsplit(":", 1)
        self.connection = http.client.HTTPConnection(host, int(port), timeout=600)

    def request(self, path: str, body: bytes) -> bytes:
        self.connection.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{path}: HTTP {response.status}: {data[:200]!r}")
        return data

    def close(self) -> None:
        self.connection.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10x smaller workloads")
    parser.add_argument("--json", default=None, help="also write the raw results to this file")
    parser.add_argument(
        "--more-queries",
        action="store_true",
        help="also time the searches in MORE_QUERIES (name, run id, paging)",
    )
    args = parser.parse_args()
    queries = {label: (template, None, 1) for label, template in SEARCH_QUERIES.items()}
    if args.more_queries:
        queries.update(MORE_QUERIES)
    n_traces, n_spans, n_search = (10, 50, 1000) if args.quick else (100, 50, 10000)
    base_ms = 1_700_000_000_000
    servers: dict[str, tuple[RunningServer, str]] = {}
    results: dict[str, Any] = {}
    try:
        for name in ("bakehouse", "mlflow"):  # both up at once: every workload alternates between them
            workdir = Path(tempfile.mkdtemp(prefix=f"bench-tracing-{name}-"))
            db_uri = f"sqlite:///{workdir / 'db.sqlite'}"
            print(f"{name}: writing {n_search} traces for the search workload (not timed)...", flush=True)
            search_experiment = populate_search(
                name, db_uri, str(workdir / "artifacts"), n_search, base_ms, with_runs=args.more_queries
            )
            server = start(name, workdir, timeout=600)  # MLflow takes minutes to start on a busy machine
            servers[name] = (server, search_experiment)
            print(f"{name}: up in {server.startup_s:.1f} s", flush=True)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in servers}
        for i in range(args.repeat):  # alternating, the order swapped every round
            for name in list(servers)[:: 1 if i % 2 == 0 else -1]:
                runs[name].append(ingest(servers[name][0], n_traces, n_spans))
                print(
                    f"{name}: ingestion round {i + 1}: {runs[name][-1]['spans_per_s']:,.0f} spans/s",
                    flush=True,
                )
        found = search(servers, args.repeat * 7, base_ms, n_search, queries)
        for name, (server, _) in servers.items():
            results[name] = {
                "spans_per_s": statistics.median(r["spans_per_s"] for r in runs[name]),
                "round_ratios": [],
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs[name]),
                "idle_rss_mb": session_rss_mb(server.proc.pid),
                "search": found[name],
            }
        results["bakehouse"]["round_ratios"] = [
            a["spans_per_s"] / b["spans_per_s"]
            for a, b in zip(runs["bakehouse"], runs["mlflow"], strict=True)
        ]
    finally:
        for server, _ in servers.values():
            server.stop()
    ours, theirs = results["bakehouse"], results["mlflow"]
    print(
        f"\nIngestion: {n_traces} traces x {n_spans} spans (OTLP protobuf + StartTraceV3 per trace), median of {args.repeat}"
    )
    print(f"{'':28}{'bakehouse':>14}{'mlflow':>14}{'ratio':>10}")
    print(
        f"{'spans/s':28}{ours['spans_per_s']:>14,.0f}{theirs['spans_per_s']:>14,.0f}"
        f"{ours['spans_per_s'] / theirs['spans_per_s']:>9.1f}x"
    )
    print("ratio per alternating round: " + ", ".join(f"{r:.1f}x" for r in ours["round_ratios"]))
    print(
        f"{'server RSS while ingesting':28}{ours['peak_rss_mb']:>11.0f} MB{theirs['peak_rss_mb']:>11.0f} MB"
    )
    print(f"\nsearch_traces over {n_search:,} traces, one page of 100, median ms of {args.repeat * 7}")
    print(f"{'query':28}{'bakehouse':>14}{'mlflow':>14}{'ratio':>10}")
    for label in queries:
        a, b = ours["search"][label], theirs["search"][label]
        assert a["count"] == b["count"], (label, a, b)
        print(f"{label:28}{a['ms']:>11.1f} ms{b['ms']:>11.1f} ms{b['ms'] / a['ms']:>9.1f}x")
    print(
        f"\nThe same requests on the standard library's http.client (sent right after each httpx request above), "
        f"median ms of {args.repeat * 7}"
    )
    print(f"{'query':28}{'bakehouse':>14}{'mlflow':>14}{'ratio':>10}")
    for label in queries:
        a, b = ours["search"][label], theirs["search"][label]
        print(
            f"{label:28}{a['plain_ms']:>11.1f} ms{b['plain_ms']:>11.1f} ms{b['plain_ms'] / a['plain_ms']:>9.1f}x"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    main()
