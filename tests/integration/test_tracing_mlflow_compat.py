"""Tracing, value by value: the same workload against ``bakehouse server`` and a real ``mlflow server``.

``tracing_script.py`` runs in a fresh process per (client, server): the official ``mlflow`` 3.17.2 client
and Bakehouse's own client, each against both servers. Everything read back (trace info, tags,
metadata, previews, every span's parent, type, status, inputs, outputs, attributes and events,
assessments, and the results of searches by status, tags, timestamps, run, span and feedback) must be
equal once ids and clock readings are replaced by placeholders; the workload's facts (nesting across
threads and asyncio, the exception recorded as status and event) are asserted on their own too.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server_process import Server, free_port, start_server

SCRIPT = Path(__file__).with_name("tracing_script.py")
MLFLOW = str(Path(sys.executable).parent / "mlflow")
VOLATILE_METADATA = {"mlflow.trace.sizeStats", "mlflow.trace.sizeBytes"}


@pytest.fixture(scope="module")
def bakehouse_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server: Server = start_server(tmp_path_factory.mktemp("bakehouse"))
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def mlflow_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("mlflow")
    port = free_port()
    log_path = workdir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BAKEHOUSE_"))}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                MLFLOW,
                "server",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--backend-store-uri",
                f"sqlite:///{workdir / 'mlflow.db'}",
                "--artifacts-destination",
                str(workdir / "artifacts"),
                "--workers",
                "1",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env=env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{log_path.read_text(errors='replace')[-5000:]}")
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server not up:\n{log_path.read_text(errors='replace')[-5000:]}")
            time.sleep(0.2)
        yield url
    finally:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass


def run_script(client: str, url: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / f"{client}-{url.rsplit(':', 1)[1]}.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "BAKEHOUSE_"))}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), client, url, str(out), f"tracing-{client}-{uuid.uuid4().hex[:8]}"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    return json.loads(out.read_text())


def normalize(result: dict[str, Any]) -> dict[str, Any]:
    """Ids become placeholders, clock readings are checked for sense and dropped."""
    ids = result["ids"]
    out: dict[str, Any] = {"search": result["search"]}
    for which in ("agent", "broken"):
        trace = result[which]
        info = dict(trace["info"])
        assert info.pop("experiment_id") == ids["experiment"]
        assert info.pop("duration") >= 0 and info.pop("request_time") > 0
        tags = dict(info["tags"])
        location = tags.pop("mlflow.artifactLocation")
        assert location.endswith(f"/traces/{ids[which]}/artifacts"), location
        info["tags"] = tags
        metadata = {k: v for k, v in info["metadata"].items() if k not in VOLATILE_METADATA}
        if metadata.get("mlflow.sourceRun") == ids["run"]:
            metadata["mlflow.sourceRun"] = "<run>"
        info["metadata"] = metadata
        spans = trace["spans"]
        by_id = {s["span_id"]: s for s in spans}

        def path(span: dict[str, Any], by_id: dict[str, Any] = by_id) -> str:
            parent = by_id.get(span["parent_id"]) if span["parent_id"] else None
            return (path(parent) + "/" if parent else "") + span["name"]

        normalized = []
        for span in spans:
            assert span["end"] >= span["start"] > 0
            parent = by_id.get(span["parent_id"]) if span["parent_id"] else None
            if parent is not None:
                assert parent["start"] <= span["start"] and span["end"] <= parent["end"], span["name"]
            attributes = dict(span["attributes"])
            assert attributes.pop("mlflow.traceRequestId") == ids[which]
            normalized.append(
                {
                    "path": path(span),
                    **{
                        k: span[k]
                        for k in ("type", "status", "status_message", "inputs", "outputs", "events")
                    },
                    "attributes": attributes,
                }
            )
        out[which] = {"info": info, "spans": sorted(normalized, key=lambda s: json.dumps(s, sort_keys=True))}
    return out


def check_workload_facts(result: dict[str, Any]) -> None:
    """The workload did what it says, whichever server stored it (so equality is not vacuous)."""
    spans = result["agent"]["spans"]
    paths = sorted(s["path"] for s in spans)
    assert paths == sorted(
        [
            "agent",
            "agent/retrieve",
            "agent/retrieve",
            "agent/retrieve/embed",
            "agent/retrieve/embed",
            "agent/generate",
            "agent/generate",
            "agent/postprocess",
            "agent/flaky_tool",
        ]
    )
    tool = next(s for s in spans if s["path"] == "agent/flaky_tool")
    assert tool["status"] == "ERROR" and tool["status_message"] == "ValueError: tool failed on 3"
    (event,) = tool["events"]
    assert event["name"] == "exception" and event["attributes"]["exception.type"] == "ValueError"
    assert event["attributes"]["exception.message"] == "tool failed on 3"
    assert next(s for s in spans if s["path"] == "agent")["outputs"] == "A B"
    retrieve = next(s for s in spans if s["path"] == "agent/retrieve")
    assert retrieve["type"] == "RETRIEVER" and retrieve["attributes"]["index"] == "docs"
    post = next(s for s in spans if s["path"] == "agent/postprocess")
    assert post["inputs"] == {"answers": ["A", "B"]} and post["attributes"]["n_docs"] == 2
    info = result["agent"]["info"]
    assert info["state"] == "OK" and info["tags"]["team"] == "search"
    assert info["tags"]["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert info["metadata"]["mlflow.sourceRun"] == "<run>"
    assert [(a["name"], a["value"]) for a in info["assessments"]] == [
        ("expected", {"answer": "A B"}),
        ("helpful", True),
        ("score", 0.8),
    ]
    assert result["broken"]["info"]["state"] == "ERROR"
    assert result["search"] == {
        "all": ["agent", "broken"],
        "status_error": ["broken"],
        "status_ok": ["agent"],
        "tag": ["agent"],
        "tag_like": ["agent"],
        "after_middle": ["broken"],
        "before_start": [],
        "run": ["agent"],
        "span_name": ["agent"],
        "feedback": ["agent"],
        "ordered_oldest_first": ["agent", "broken"],
    }


@pytest.mark.parametrize("client", ["mlflow", "bakehouse"])
def test_the_same_tracing_workload_reads_back_the_same_from_both_servers(
    client: str, bakehouse_url: str, mlflow_url: str, tmp_path: Path
) -> None:
    ours = normalize(run_script(client, bakehouse_url, tmp_path))
    theirs = normalize(run_script(client, mlflow_url, tmp_path))
    check_workload_facts(theirs)
    check_workload_facts(ours)
    assert ours == theirs


def test_no_trace_artifacts_are_uploaded_to_bakehouse(bakehouse_url: str, tmp_path: Path) -> None:
    """Spans live in the tracking store: MLflow's client uploads no traces.json next to them."""
    result = run_script("mlflow", bakehouse_url, tmp_path)
    import httpx

    listing = httpx.get(
        f"{bakehouse_url}/api/2.0/mlflow-artifacts/artifacts",
        params={"path": f"{result['ids']['experiment']}/traces/{result['ids']['agent']}/artifacts"},
    ).json()
    assert listing.get("files", []) == []


def test_a_trace_written_by_one_client_reads_the_same_through_the_other(
    bakehouse_url: str, tmp_path: Path
) -> None:
    """Bakehouse's client writes, MLflow's reads back the span tree and inputs (and the other way round)."""
    import mlflow

    import bakehouse as bh

    ours = run_script("bakehouse", bakehouse_url, tmp_path)
    mlflow.set_tracking_uri(bakehouse_url)
    trace = mlflow.get_trace(ours["ids"]["agent"])
    spans = {s.name: s for s in trace.data.spans}
    assert spans["postprocess"].inputs == {"answers": ["A", "B"]}
    assert spans["flaky_tool"].status.status_code.value == "ERROR"
    assert trace.info.tags["team"] == "search"

    theirs = run_script("mlflow", bakehouse_url, tmp_path)
    bh.set_tracking_uri(bakehouse_url)
    back = bh.get_trace(theirs["ids"]["agent"])
    names = sorted(s.name for s in back.spans)
    assert names.count("embed") == 2 and "flaky_tool" in names
    assert back.info.assessments and {a.name for a in back.info.assessments} == {
        "helpful",
        "score",
        "expected",
    }
