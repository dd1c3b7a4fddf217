"""What operators rely on, in process: /ready, /metrics, JSON for unexpected failures, forwarded headers."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from server_app_helpers import SyncASGIClient
from sqlalchemy.exc import OperationalError

from bakehouse.server.app import create_app
from bakehouse.server.config import ServerConfig


def make_app(tmp_path: Path, middleware: list[Callable[[Any], Any]] | None = None, **overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "backend_store_uri": f"sqlite:///{tmp_path / 'server.db'}",
        "artifacts_destination": str(tmp_path / "artifacts"),
        "serve_ui": False,
        **overrides,
    }
    return create_app(ServerConfig(**settings), middleware_factories=middleware or [])


def _samples(text: str, family: str) -> list[Any]:
    for parsed in text_string_to_metric_families(text):
        if parsed.name == family:
            return list(parsed.samples)
    raise AssertionError(f"no metric family {family}")


def _count(text: str, route: str, status: str, method: str = "GET") -> float:
    return sum(
        s.value
        for s in _samples(text, "bakehouse_http_requests")
        if s.name.endswith("_total") and s.labels == {"route": route, "method": method, "status": status}
    )


def test_metrics_count_unusual_methods_under_one_label(api: SyncASGIClient) -> None:
    """A client chooses the method word: WebDAV's and made-up ones share the label ``other``, so requests
    cannot add series to /metrics at will."""
    before = api.get("/metrics").text
    for method in ("PROPFIND", "MKCOL", "XMETHODX", "BREW"):
        assert api.request(method, "/health").status_code == 405
    after = api.get("/metrics").text
    assert _count(after, "/health", "405", "other") - _count(before, "/health", "405", "other") == 4
    for method in ("PROPFIND", "MKCOL", "XMETHODX", "BREW"):
        assert f'method="{method}"' not in after


def test_ready_answers_when_the_database_and_the_artifact_store_do(api: SyncASGIClient) -> None:
    response = api.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"database": "ok", "artifacts": "ok"}}
    assert api.get("/health").text == "OK"


def test_ready_fails_when_the_artifact_store_does_not_answer(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the artifact root should be")
    client = SyncASGIClient(make_app(tmp_path, artifacts_destination=str(blocker / "artifacts")))
    try:
        response = client.get("/ready")
    finally:
        client.close()
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["artifacts"].startswith("unavailable (")
    assert str(tmp_path) not in response.text  # no paths or hosts in an unauthenticated answer


def test_ready_fails_when_the_s3_bucket_is_missing(tmp_path: Path, s3_endpoint: str) -> None:
    client = SyncASGIClient(make_app(tmp_path, artifacts_destination="s3://no-such-bucket-here/artifacts"))
    try:
        response = client.get("/ready")
    finally:
        client.close()
    assert response.status_code == 503
    assert response.json()["checks"]["artifacts"].startswith("unavailable")


def test_metrics_count_route_templates_never_concrete_paths(api: SyncASGIClient, run_id: str) -> None:
    before = api.get("/metrics").text
    secret_name = "project-phoenix-salaries"
    api.post("/api/2.0/mlflow/experiments/create", json={"name": secret_name})
    api.put("/api/2.0/mlflow-artifacts/artifacts/0/secret-dir/file.txt", content=b"x")
    api.get("/api/2.0/mlflow/runs/get", params={"run_id": run_id})
    api.post(
        "/api/2.0/mlflow/runs/log-batch",
        json={
            "run_id": run_id,
            "metrics": [{"key": "m", "value": 1, "timestamp": 1, "step": i} for i in range(7)],
        },
    )
    api.get(f"/no/such/{secret_name}")
    response = api.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = response.text
    assert secret_name not in after and run_id not in after and "secret-dir" not in after
    artifacts_route = "/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}"
    assert _count(after, artifacts_route, "200", "PUT") - _count(before, artifacts_route, "200", "PUT") == 1
    assert (
        _count(after, "/api/2.0/mlflow/runs/get", "200") - _count(before, "/api/2.0/mlflow/runs/get", "200")
        == 1
    )
    assert _count(after, "unmatched", "404") - _count(before, "unmatched", "404") == 1
    points = [s for s in _samples(after, "bakehouse_logged_metric_points") if s.name.endswith("_total")]
    points_before = [
        s for s in _samples(before, "bakehouse_logged_metric_points") if s.name.endswith("_total")
    ]
    assert points[0].value - points_before[0].value == 7
    latency = _samples(after, "bakehouse_http_request_duration_seconds")
    assert any(
        s.name.endswith("_bucket") and s.labels["route"] == "/api/2.0/mlflow/runs/get" for s in latency
    )


def test_probes_and_metrics_need_no_credentials_when_auth_is_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAKEHOUSE_ADMIN_PASSWORD", "admin-password-1")
    client = SyncASGIClient(make_app(tmp_path, app_name="basic-auth"))
    try:
        assert client.get("/api/2.0/mlflow/experiments/search").status_code == 401
        assert client.get("/ready").status_code == 200
        assert client.get("/health").status_code == 200
        metrics = client.get("/metrics")
    finally:
        client.close()
    assert metrics.status_code == 200 and "admin" not in metrics.text


def _failing_middleware(exc: Exception) -> Callable[[Any], Any]:
    def factory(app: Any) -> Any:
        async def fail(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http" and scope["path"].startswith("/api/"):
                raise exc
            await app(scope, receive, send)

        return fail

    return factory


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (
            OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused")),
            503,
            "TEMPORARILY_UNAVAILABLE",
        ),
        (RuntimeError("a bug"), 500, "INTERNAL_ERROR"),
    ],
)
def test_failures_outside_handlers_are_answered_with_the_json_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, exc: Exception, status: int, code: str
) -> None:
    client = SyncASGIClient(make_app(tmp_path, [_failing_middleware(exc)]))
    try:
        with caplog.at_level(logging.WARNING, logger="bakehouse.server.error_boundary"):
            response = client.get("/api/2.0/mlflow/experiments/search")
        metrics = client.get("/metrics").text
    finally:
        client.close()
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["error_code"] == code
    assert "a bug" not in response.text and "refused" not in response.text  # details stay in the log
    assert caplog.records, "the failure was not logged"
    assert _count(metrics, "/api/2.0/mlflow/experiments/search", str(status)) >= 1


def _request_from(app: Any, peer: str, headers: dict[str, str]) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            return await client.get("/api/2.0/mlflow/experiments/search", headers=headers)

    return asyncio.run(go())


def _client_seen_by_the_app(seen: list[str]) -> Callable[[Any], Any]:
    def factory(app: Any) -> Any:
        async def record(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                seen.append(scope["client"][0])
            await app(scope, receive, send)

        return record

    return factory


def test_forwarded_headers_count_only_from_the_trusted_proxy(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    app = make_app(tmp_path, [_client_seen_by_the_app(seen)], forwarded_allow_ips="10.0.0.5")
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}
    with caplog.at_level(logging.WARNING, logger="bakehouse.server.forwarded"):
        _request_from(app, "10.0.0.5", forwarded)  # the proxy: its client's address is used
        _request_from(app, "10.0.0.7", forwarded)  # someone else: ignored, and said so once
        _request_from(app, "10.0.0.7", forwarded)
        _request_from(app, "10.0.0.8", {})  # no forwarded headers: nothing to say
    assert seen == ["203.0.113.9", "10.0.0.7", "10.0.0.7", "10.0.0.8"]
    warnings = [r.getMessage() for r in caplog.records if r.name == "bakehouse.server.forwarded"]
    assert len(warnings) == 1
    assert "10.0.0.7" in warnings[0] and "--forwarded-allow-ips 10.0.0.7" in warnings[0]


def test_without_a_trusted_proxy_every_forwarded_header_is_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    app = make_app(tmp_path, [_client_seen_by_the_app(seen)])
    with caplog.at_level(logging.WARNING, logger="bakehouse.server.forwarded"):
        _request_from(app, "127.0.0.1", {"X-Forwarded-For": "198.51.100.1"})
    assert seen == ["127.0.0.1"]
    assert any("not a trusted proxy" in r.getMessage() for r in caplog.records)
