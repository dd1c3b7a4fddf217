"""The HTTP transport: query encoding, retries with backoff, auth headers, errors rebuilt as exceptions."""

from __future__ import annotations

import base64
import socket

import pytest
from scripted_http import Script, ScriptedServer

from bakehouse.errors import (
    AlreadyExistsError,
    BadRequestError,
    NotFoundError,
    TemporarilyUnavailableError,
)
from bakehouse.settings import HttpSettings
from bakehouse.wire.transport import HttpTransport, encode_query


def settings(**overrides: object) -> HttpSettings:
    base = {
        "username": None,
        "password": None,
        "token": None,
        "insecure_tls": False,
        "timeout": 5.0,
        "max_retries": 3,
        "backoff_factor": 0.0,
    }
    base.update(overrides)
    return HttpSettings(**base)


def test_query_encoding_follows_mlflow_get_conventions() -> None:
    assert encode_query({"run_ids": ["a", "b"], "flag": True, "n": 5, "skip": None}) == [
        ("run_ids", "a"),
        ("run_ids", "b"),
        ("flag", "true"),
        ("n", "5"),
    ]


def test_retries_on_503_and_429_then_succeeds(scripted_server: ScriptedServer, script: Script) -> None:
    script.reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"})
    script.reply(429, b"", headers={"Retry-After": "0"})
    script.reply(200, {"ok": 1})
    transport = HttpTransport(scripted_server.url, settings())
    assert transport.call("POST", "/api/2.0/x", {"a": 1}) == {"ok": 1}
    assert [r.raw_path for r in script.requests] == ["/api/2.0/x"] * 3


def test_gives_up_after_max_retries_with_the_server_error(
    scripted_server: ScriptedServer, script: Script
) -> None:
    for _ in range(5):
        script.reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "still busy"})
    transport = HttpTransport(scripted_server.url, settings(max_retries=2))
    with pytest.raises(TemporarilyUnavailableError, match="still busy"):
        transport.call("GET", "/api/2.0/x")
    assert len(script.requests) == 3


def test_connection_errors_are_retried_then_reported_clearly() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nothing listens there
    transport = HttpTransport(f"http://127.0.0.1:{port}", settings(max_retries=2))
    with pytest.raises(TemporarilyUnavailableError, match="Could not reach the tracking server") as info:
        transport.call("GET", "/api/2.0/x")
    assert "connection refused" in info.value.message
    assert "gave up after 3 attempts" in info.value.message


@pytest.mark.parametrize(
    "status, body, exc",
    [
        (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=x not found"}, NotFoundError),
        (400, {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "exists"}, AlreadyExistsError),
        (400, None, BadRequestError),
        (404, None, NotFoundError),
    ],
)
def test_error_bodies_become_our_exception_classes(
    status: int, body: object, exc: type, scripted_server: ScriptedServer, script: Script
) -> None:
    script.reply(status, body if body is not None else b"<html>nope</html>")
    transport = HttpTransport(scripted_server.url, settings())
    with pytest.raises(exc) as info:
        transport.call("GET", "/api/2.0/x")
    if body is None:
        assert "GET /api/2.0/x failed with HTTP" in str(info.value) and "<html>nope</html>" in str(info.value)


def test_basic_and_bearer_auth_are_sent(scripted_server: ScriptedServer, script: Script) -> None:
    HttpTransport(scripted_server.url, settings(username="u", password="p")).call("GET", "/x")
    HttpTransport(scripted_server.url, settings(token="tok")).call("GET", "/x")
    seen = [r.headers.get("authorization") for r in script.requests]
    assert seen == ["Basic " + base64.b64encode(b"u:p").decode(), "Bearer tok"]


def test_json_bodies_and_get_params_are_sent_as_mlflow_expects(
    scripted_server: ScriptedServer, script: Script
) -> None:
    transport = HttpTransport(scripted_server.url + "/prefix", settings())
    transport.call(
        "GET",
        "/api/2.0/mlflow/metrics/get-history-bulk-interval",
        {"run_ids": ["a", "b"], "metric_key": "m m"},
    )
    transport.call("POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": "r", "metrics": []})
    get, post = script.requests
    assert (get.method, get.raw_path, get.query) == (
        "GET",
        "/prefix/api/2.0/mlflow/metrics/get-history-bulk-interval",
        "run_ids=a&run_ids=b&metric_key=m%20m",
    )
    assert (post.method, post.raw_path, post.query) == ("POST", "/prefix/api/2.0/mlflow/runs/log-batch", "")
    assert post.headers["content-type"] == "application/json"
    assert post.body == b'{"run_id":"r","metrics":[]}'
    assert get.headers["user-agent"].startswith("bakehouse/")


def test_a_plain_http_server_gets_connections_that_cannot_speak_tls() -> None:
    """An http:// transport follows no redirects, so it never needs CAs: no TLS context is built for it
    (loading a CA list costs 25-45 ms of a process's first call) and its connections could not open TLS."""
    import http.client

    from bakehouse.wire import tls

    tls._context.cache_clear()
    transport = HttpTransport("http://127.0.0.1:1", settings())
    transport.prepare()
    assert not isinstance(transport.pool.get(), http.client.HTTPSConnection)
    assert tls._context.cache_info().currsize == 0
