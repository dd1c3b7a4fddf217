"""``POST /v1/traces`` (OTLP protobuf and JSON, gzip) and the v3 trace endpoints' JSON, in-process."""

from __future__ import annotations

import gzip
import time
import uuid

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from server_app_helpers import SyncASGIClient

from bakehouse.entities.trace import Span, SpanEvent
from bakehouse.wire.otlp import encode_export_request

V3 = "/api/3.0/mlflow/traces"


def experiment(api: SyncASGIClient) -> str:
    return str(
        api.post("/api/2.0/mlflow/experiments/create", json={"name": uuid.uuid4().hex}).json()[
            "experiment_id"
        ]
    )


def spans(otel_id: str) -> list[Span]:
    now = time.time_ns()
    root = Span(
        f"tr-{otel_id}",
        "a" * 16,
        None,
        "root",
        now,
        now + 2_000_000,
        "OK",
        "",
        {"mlflow.spanInputs": {"q": 1}},
    )
    child = Span(
        f"tr-{otel_id}",
        "b" * 16,
        "a" * 16,
        "child",
        now + 1,
        now + 1_000_000,
        "ERROR",
        "bad",
        {"k": [1, "x"]},
        [SpanEvent("exception", now + 2, {"exception.type": "ValueError"})],
    )
    return [root, child]


def test_protobuf_export_then_read_back_as_mlflow_json(api: SyncASGIClient) -> None:
    eid = experiment(api)
    otel_id = uuid.uuid4().hex
    body = gzip.compress(encode_export_request(spans(otel_id), {"service.name": "svc"}))
    response = api.post(
        "/v1/traces",
        content=body,
        headers={
            "Content-Type": "application/x-protobuf",
            "Content-Encoding": "gzip",
            "x-mlflow-experiment-id": eid,
        },
    )
    assert response.status_code == 200 and response.headers["content-type"] == "application/x-protobuf"
    ExportTraceServiceResponse().ParseFromString(response.content)
    trace = api.get(f"{V3}/get", params={"trace_id": f"tr-{otel_id}"}).json()["trace"]
    info = trace["trace_info"]
    assert info["trace_location"] == {
        "type": "MLFLOW_EXPERIMENT",
        "mlflow_experiment": {"experiment_id": eid},
    }
    assert info["state"] == "OK" and info["request_preview"] == '{"q": 1}'
    assert info["request_time"].endswith("Z") and info["execution_duration"].endswith("s")
    child = next(s for s in trace["spans"] if s["name"] == "child")
    assert child["status"] == {"code": "STATUS_CODE_ERROR", "message": "bad"}
    assert child["attributes"] == [
        {"key": "k", "value": {"array_value": {"values": [{"int_value": 1}, {"string_value": "x"}]}}}
    ]
    assert child["events"][0]["name"] == "exception"
    assert child["parent_span_id"] == "qqqqqqqqqqo="  # base64 of the root id, 8 bytes 0xaa


def test_otlp_json_with_hex_ids(api: SyncASGIClient) -> None:
    eid = experiment(api)
    otel_id = uuid.uuid4().hex
    body = {
        "resourceSpans": [
            {
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": otel_id,
                                "spanId": "0102030405060708",
                                "name": "from-json",
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000500000000",
                                "attributes": [{"key": "n", "value": {"intValue": "7"}}],
                                "status": {"code": 1},
                            }
                        ]
                    }
                ]
            }
        ]
    }
    response = api.post("/v1/traces", json=body, headers={"x-mlflow-experiment-id": eid})
    assert response.status_code == 200, response.text
    info = api.get(f"{V3}/tr-{otel_id}").json()["trace"]["trace_info"]
    assert info["request_time"] == "2023-11-14T22:13:20Z" and info["execution_duration"] == "0.500s"
    span = api.get(f"{V3}/get", params={"trace_id": f"tr-{otel_id}"}).json()["trace"]["spans"][0]
    assert span["span_id"] == "AQIDBAUGBwg=" and span["attributes"][0]["value"] == {"int_value": 7}


def test_bad_otlp_requests_are_refused_cleanly(api: SyncASGIClient) -> None:
    eid = experiment(api)
    headers = {"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": eid}
    assert api.post("/v1/traces", content=b"\xff\x00garbage", headers=headers).status_code == 400
    no_experiment = {"Content-Type": "application/x-protobuf"}
    assert api.post("/v1/traces", content=b"", headers=no_experiment).status_code == 400
    text = {"Content-Type": "text/plain", "x-mlflow-experiment-id": eid}
    assert (
        api.post("/v1/traces", content=b"x", headers=text).json()["error_code"] == "INVALID_PARAMETER_VALUE"
    )
    missing = {**headers, "x-mlflow-experiment-id": "424242"}
    body = encode_export_request(spans(uuid.uuid4().hex))
    assert api.post("/v1/traces", content=body, headers=missing).status_code == 404


def test_start_trace_search_tags_and_assessments_over_json(api: SyncASGIClient) -> None:
    eid = experiment(api)
    trace_id = "tr-" + uuid.uuid4().hex
    info = {
        "trace_id": trace_id,
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": eid}},
        "request_time": "2026-01-02T03:04:05.120Z",
        "execution_duration": "1.500s",
        "state": "OK",
        "trace_metadata": {"m": "1"},
        "tags": {"mlflow.traceName": "t"},
    }
    stored = api.post(V3, json={"trace": {"trace_info": info}}).json()["trace"]["trace_info"]
    assert stored["request_time"] == "2026-01-02T03:04:05.120Z" and stored["execution_duration"] == "1.500s"
    assert stored["tags"]["mlflow.trace.spansLocation"] == "TRACKING_STORE"
    assert (
        api.patch(f"/api/2.0/mlflow/traces/{trace_id}/tags", json={"key": "k", "value": "v"}).status_code
        == 200
    )
    found = api.post(
        f"{V3}/search",
        json={
            "locations": [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": eid}}],
            "filter": "tags.k = 'v' OR tags.k = 'w'",
        },
    ).json()
    assert [t["trace_id"] for t in found["traces"]] == [trace_id]
    too_many = api.post(
        f"{V3}/search",
        json={"locations": [{"mlflow_experiment": {"experiment_id": eid}}], "max_results": 501},
    )
    assert too_many.status_code == 400
    created = api.post(
        f"{V3}/{trace_id}/assessments",
        json={
            "assessment": {
                "assessment_name": "ok",
                "source": {"source_type": "HUMAN", "source_id": "me"},
                "feedback": {"value": "yes"},
            }
        },
    ).json()["assessment"]
    assert (
        created["assessment_id"].startswith("a-")
        and created["feedback"] == {"value": "yes"}
        and created["valid"]
    )
    path = f"{V3}/{trace_id}/assessments/{created['assessment_id']}"
    updated = api.patch(
        path, json={"assessment": {"rationale": "because"}, "update_mask": "rationale"}
    ).json()["assessment"]
    assert updated["rationale"] == "because"
    assert api.delete(path).status_code == 200
    assert api.get(path).status_code == 404
    assert api.post(
        "/api/2.0/mlflow/traces/delete-traces", json={"experiment_id": eid, "request_ids": [trace_id]}
    ).json() == {"traces_deleted": 1}
