"""One tracing workload, run in its own process against one server by the official client or by ours.

``python tracing_script.py mlflow|bakehouse <tracking-uri> <out.json> <experiment>`` traces nested spans across
threads and asyncio, an exception recorded as span status and event, a failing trace, trace tags, a
run, feedback and an expectation; then reads everything back (get_trace, search by status, tags,
timestamps, run and feedback) and writes it as JSON with server-specific values (ids, times) replaced by
stable placeholders, so the outputs of two servers can be compared value by value.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

CLIENT, URI, OUT, EXPERIMENT = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

if CLIENT == "mlflow":
    import mlflow as api
else:
    import bakehouse as api

api.set_tracking_uri(URI)
experiment = api.set_experiment(EXPERIMENT)


@api.trace
def embed(text: str) -> list[float]:
    return [float(len(text)), 0.5]


@api.trace(span_type="RETRIEVER", attributes={"index": "docs"})
def retrieve(query: str, k: int = 2) -> list[str]:
    vectors = embed(query)
    return [f"doc-{i}-{vectors[0]:.0f}" for i in range(k)]


@api.trace(span_type="TOOL")
def flaky_tool(x: int) -> int:
    raise ValueError(f"tool failed on {x}")


@api.trace(span_type="LLM")
async def generate(prompt: str) -> str:
    await asyncio.sleep(0.001)
    return prompt.upper()


@api.trace(name="agent")
def agent(question: str) -> str:
    with ThreadPoolExecutor(max_workers=2) as pool:
        docs = [
            f.result()
            for f in [
                pool.submit(contextvars.copy_context().run, retrieve, q) for q in (question, question + "?")
            ]
        ]

    async def both() -> list[str]:
        return list(await asyncio.gather(generate("a"), generate("b")))

    answers = asyncio.run(both())
    with api.start_span("postprocess", span_type="PARSER") as span:
        span.set_inputs({"answers": answers})
        span.set_attribute("n_docs", len(docs))
        span.set_outputs("done")
    try:
        flaky_tool(3)
    except ValueError:
        pass
    api.update_current_trace(tags={"team": "search", "release": "1"})
    return " ".join(answers)


@api.trace(name="broken")
def broken() -> None:
    raise RuntimeError("the whole request failed")


before_ms = int(time.time() * 1000)
with api.start_run() as run:
    agent("what is tracing")
run_id = run.info.run_id
time.sleep(0.05)
middle_ms = int(time.time() * 1000)
try:
    broken()
except RuntimeError:
    pass
api.flush_trace_async_logging()

if CLIENT == "mlflow":
    from mlflow import MlflowClient

    client = MlflowClient()

    def search(filter_string: str | None = None, **kw: Any) -> list[Any]:
        return api.search_traces(
            locations=[experiment.experiment_id], filter_string=filter_string, return_type="list", **kw
        )

    agent_id = search("trace.name = 'agent'")[0].info.trace_id
    api.log_feedback(trace_id=agent_id, name="helpful", value=True, rationale="answered")
    api.log_feedback(trace_id=agent_id, name="score", value=0.8)
    api.log_expectation(trace_id=agent_id, name="expected", value={"answer": "A B"})

    def trace_of(trace_id: str) -> Any:
        return api.get_trace(trace_id)

    def info_dict(t: Any) -> dict[str, Any]:
        info = t.info
        return {
            "state": str(info.state.value if hasattr(info.state, "value") else info.state),
            "tags": dict(info.tags),
            "metadata": dict(info.trace_metadata),
            "request_preview": info.request_preview,
            "response_preview": info.response_preview,
            "experiment_id": info.experiment_id,
            "duration": info.execution_duration,
            "request_time": info.request_time,
            "assessments": sorted(
                (
                    {
                        "name": a.name,
                        "kind": "feedback" if a.feedback is not None else "expectation",
                        "value": a.value,
                        "source": [str(a.source.source_type), a.source.source_id],
                        "rationale": a.rationale,
                        "valid": a.valid,
                    }
                    for a in info.assessments
                ),
                key=lambda a: a["name"],
            ),
        }

    def span_dicts(t: Any) -> list[dict[str, Any]]:
        return [
            {
                "span_id": s.span_id,
                "parent_id": s.parent_id,
                "name": s.name,
                "type": s.span_type,
                "status": str(s.status.status_code.value),
                "status_message": s.status.description or "",
                "inputs": s.inputs,
                "outputs": s.outputs,
                "attributes": {k: v for k, v in s.attributes.items()},
                "events": [{"name": e.name, "attributes": dict(e.attributes)} for e in s.events],
                "start": s.start_time_ns,
                "end": s.end_time_ns,
            }
            for s in t.data.spans
        ]

else:
    client = api.Client()

    def search(filter_string: str | None = None, **kw: Any) -> list[Any]:
        return api.search_traces([experiment.experiment_id], filter_string, **kw)

    agent_id = search("trace.name = 'agent'")[0].info.trace_id
    api.log_feedback(trace_id=agent_id, name="helpful", value=True, rationale="answered")
    api.log_feedback(trace_id=agent_id, name="score", value=0.8)
    api.log_expectation(trace_id=agent_id, name="expected", value={"answer": "A B"})

    def trace_of(trace_id: str) -> Any:
        return api.get_trace(trace_id)

    def info_dict(t: Any) -> dict[str, Any]:
        info = t.info
        return {
            "state": info.state,
            "tags": dict(info.tags),
            "metadata": dict(info.trace_metadata),
            "request_preview": info.request_preview,
            "response_preview": info.response_preview,
            "experiment_id": info.experiment_id,
            "duration": info.execution_duration,
            "request_time": info.request_time,
            "assessments": sorted(
                (
                    {
                        "name": a.name,
                        "kind": a.kind,
                        "value": a.value,
                        "source": [a.source_type, a.source_id],
                        "rationale": a.rationale,
                        "valid": a.valid,
                    }
                    for a in info.assessments
                ),
                key=lambda a: a["name"],
            ),
        }

    def span_dicts(t: Any) -> list[dict[str, Any]]:
        return [
            {
                "span_id": s.span_id,
                "parent_id": s.parent_span_id,
                "name": s.name,
                "type": s.span_type,
                "status": s.status_code,
                "status_message": s.status_message,
                "inputs": s.inputs,
                "outputs": s.outputs,
                "attributes": dict(s.attributes),
                "events": [{"name": e.name, "attributes": dict(e.attributes)} for e in s.events],
                "start": s.start_time_unix_nano,
                "end": s.end_time_unix_nano,
            }
            for s in t.spans
        ]


def names(traces: list[Any]) -> list[str]:
    return sorted(t.info.tags.get("mlflow.traceName", "?") for t in traces)


agent_trace = trace_of(agent_id)
broken_id = search("trace.name = 'broken'")[0].info.trace_id
result = {
    "agent": {"info": info_dict(agent_trace), "spans": span_dicts(agent_trace)},
    "broken": {"info": info_dict(trace_of(broken_id)), "spans": span_dicts(trace_of(broken_id))},
    "search": {
        "all": names(search()),
        "status_error": names(search("trace.status = 'ERROR'")),
        "status_ok": names(search("attributes.status = 'OK'")),
        "tag": names(search("tags.team = 'search'")),
        "tag_like": names(search("tags.release LIKE '1%'")),
        "after_middle": names(search(f"trace.timestamp_ms >= {middle_ms}")),
        "before_start": names(search(f"trace.timestamp_ms < {before_ms}")),
        "run": names(search(f"metadata.`mlflow.sourceRun` = '{run_id}'")),
        "span_name": names(search("span.name = 'flaky_tool'")),
        "feedback": names(search("feedback.helpful = 'true'")),
        "ordered_oldest_first": [
            t.info.tags["mlflow.traceName"] for t in search(order_by=["timestamp_ms ASC"])
        ],
    },
    "ids": {"run": run_id, "experiment": experiment.experiment_id, "agent": agent_id, "broken": broken_id},
}
with open(OUT, "w") as fh:
    json.dump(result, fh, default=str, indent=1, sort_keys=True)
