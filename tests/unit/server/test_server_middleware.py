"""Host allow-list (DNS rebinding guard), CORS closed to foreign origins, security headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from server_app_helpers import SyncASGIClient, make_app

from bakehouse.server.config import ServerConfig


@pytest.mark.parametrize(
    "host, allowed",
    [
        ("localhost:5000", True),
        ("127.0.0.1:5000", True),
        ("[::1]:5000", True),
        ("10.1.2.3:5000", True),
        ("192.168.0.7", True),
        ("evil.example.com", False),
        ("localhost.evil.com", False),
        ("8.8.8.8", False),
        ("", False),
    ],
)
def test_default_host_allow_list(host: str, allowed: bool) -> None:
    assert ServerConfig().host_allowed(host) is allowed


def test_configured_hosts_and_wildcards() -> None:
    config = ServerConfig(allowed_hosts=["tracking.example.com", "*.corp.internal"])
    assert config.host_allowed("tracking.example.com:443")
    assert config.host_allowed("ml.corp.internal")
    assert not config.host_allowed("corp.internal.evil.com")
    assert ServerConfig(allowed_hosts=["*"]).host_allowed("anything.at.all")


def test_foreign_host_header_is_refused(api: SyncASGIClient) -> None:
    r = api.get("/api/2.0/mlflow/experiments/search", headers={"Host": "attacker.example"})
    assert r.status_code == 403
    assert "--allowed-hosts" in r.json()["message"]
    assert api.get("/health", headers={"Host": "localhost:5000"}).status_code == 200


def test_security_headers_on_every_response(api: SyncASGIClient) -> None:
    r = api.get("/health")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "SAMEORIGIN"
    assert "access-control-allow-origin" not in r.headers


def test_cors_preflight_allowed_for_the_servers_own_origin(api: SyncASGIClient) -> None:
    r = api.request(
        "OPTIONS",
        "/api/2.0/mlflow/runs/log-batch",
        headers={"Origin": "http://localhost", "Access-Control-Request-Method": "POST"},
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "http://localhost"


@pytest.mark.parametrize(
    "origin", ["http://localhost:3000", "http://127.0.0.1:8888", "http://[::1]:1", "null"]
)
def test_another_local_origin_gets_no_cors_grant(api: SyncASGIClient, origin: str) -> None:
    """Another port on localhost is another origin (any local program or a DNS-rebinding page can serve one)."""
    preflight = api.request(
        "OPTIONS",
        "/api/2.0/mlflow/runs/log-batch",
        headers={"Origin": origin, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403
    read = api.get("/api/2.0/mlflow/experiments/search", headers={"Origin": origin})
    assert read.status_code == 200 and "access-control-allow-origin" not in read.headers


@pytest.mark.parametrize("method", ["OPTIONS", "POST"])
def test_foreign_origin_cannot_preflight_or_write(api: SyncASGIClient, method: str) -> None:
    headers = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    if method == "POST":
        r = api.post(
            "/api/2.0/mlflow/experiments/create",
            json={"name": "csrf"},
            headers={"Origin": "https://evil.example"},
        )
    else:
        r = api.request("OPTIONS", "/api/2.0/mlflow/experiments/create", headers=headers)
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    names = [
        e["name"]
        for e in api.post("/api/2.0/mlflow/experiments/search", json={}).json().get("experiments", [])
    ]
    assert "csrf" not in names


def test_foreign_origin_reads_get_no_cors_grant(api: SyncASGIClient) -> None:
    r = api.get("/api/2.0/mlflow/experiments/search", headers={"Origin": "https://evil.example"})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers


def test_configured_origin_is_granted(tmp_path: Path) -> None:
    app = make_app(tmp_path, cors_allowed_origins=["https://ui.example.com"])
    client = SyncASGIClient(app)
    try:
        r = client.post(
            "/api/2.0/mlflow/experiments/create",
            json={"name": "ok"},
            headers={"Origin": "https://ui.example.com"},
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "https://ui.example.com"
    finally:
        client.close()
        app.state.tracking_store.engine.dispose()


def test_middleware_hooks_wrap_the_router(tmp_path: Path) -> None:
    """The auth layer's hook: a middleware factory sees every request; a handler wrapper sees every RPC."""
    from bakehouse.server.app import create_app

    seen_paths: list[str] = []
    wrapped: list[str] = []

    def factory(app):
        async def middleware(scope, receive, send):
            seen_paths.append(scope["path"])
            await app(scope, receive, send)

        return middleware

    def wrapper(endpoint, handler):
        def run(ctx, req):
            wrapped.append(endpoint.name)
            return handler(ctx, req)

        return run

    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path / 'h.db'}",
        artifacts_destination=str(tmp_path / "a"),
        serve_ui=False,
    )
    app = create_app(config, middleware_factories=[factory], handler_wrapper=wrapper)
    client = SyncASGIClient(app)
    try:
        assert client.post("/api/2.0/mlflow/experiments/create", json={"name": "hooked"}).status_code == 200
    finally:
        client.close()
        app.state.tracking_store.engine.dispose()
    assert seen_paths == ["/api/2.0/mlflow/experiments/create"]
    assert wrapped == ["CreateExperiment"]
