"""The HTTP transport: query encoding, retries with backoff, auth headers, errors rebuilt as exceptions."""

from __future__ import annotations

import base64

import httpx
import pytest

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


def test_retries_on_503_and_429_then_succeeds() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if len(calls) == 1:
            return httpx.Response(503, json={"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"})
        if len(calls) == 2:
            return httpx.Response(429, headers={"Retry-After": "0"})
        return httpx.Response(200, json={"ok": 1})

    transport = HttpTransport("http://server", settings(), transport=httpx.MockTransport(handler))
    assert transport.call("POST", "/api/2.0/x", {"a": 1}) == {"ok": 1}
    assert len(calls) == 3


def test_gives_up_after_max_retries_with_the_server_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"error_code": "TEMPORARILY_UNAVAILABLE", "message": "still busy"})

    transport = HttpTransport(
        "http://server", settings(max_retries=2), transport=httpx.MockTransport(handler)
    )
    with pytest.raises(TemporarilyUnavailableError, match="still busy"):
        transport.call("GET", "/api/2.0/x")


def test_connection_errors_are_retried_then_reported_clearly() -> None:
    attempts = []

    def handler(request: httpx.Request) -> httpx.Response:
        attempts.append(1)
        raise httpx.ConnectError("refused", request=request)

    transport = HttpTransport(
        "http://server:1", settings(max_retries=2), transport=httpx.MockTransport(handler)
    )
    with pytest.raises(TemporarilyUnavailableError, match="Could not reach the tracking server"):
        transport.call("GET", "/api/2.0/x")
    assert len(attempts) == 3


@pytest.mark.parametrize(
    "status, body, exc",
    [
        (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=x not found"}, NotFoundError),
        (400, {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "exists"}, AlreadyExistsError),
        (400, None, BadRequestError),
        (404, None, NotFoundError),
    ],
)
def test_error_bodies_become_our_exception_classes(status: int, body: object, exc: type) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if body is None:
            return httpx.Response(status, text="<html>nope</html>")
        return httpx.Response(status, json=body)

    transport = HttpTransport("http://server", settings(), transport=httpx.MockTransport(handler))
    with pytest.raises(exc):
        transport.call("GET", "/api/2.0/x")


def test_basic_and_bearer_auth_are_sent() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("authorization"))
        return httpx.Response(200, json={})

    HttpTransport(
        "http://s", settings(username="u", password="p"), transport=httpx.MockTransport(handler)
    ).call("GET", "/x")
    HttpTransport("http://s", settings(token="tok"), transport=httpx.MockTransport(handler)).call("GET", "/x")
    assert seen == ["Basic " + base64.b64encode(b"u:p").decode(), "Bearer tok"]


def test_json_bodies_and_get_params_are_sent_as_mlflow_expects() -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(
            (request.method, request.url.query.decode(), request.headers.get("content-type"), request.content)
        )
        return httpx.Response(200, json={})

    transport = HttpTransport("http://s/prefix", settings(), transport=httpx.MockTransport(handler))
    transport.call(
        "GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval", {"run_ids": ["a", "b"], "metric_key": "m"}
    )
    transport.call("POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": "r", "metrics": []})
    assert seen[0][:2] == ("GET", "run_ids=a&run_ids=b&metric_key=m")
    assert seen[1] == ("POST", "", "application/json", b'{"run_id":"r","metrics":[]}')


def test_a_plain_http_client_loads_no_ca_list_and_could_not_speak_tls_unverified() -> None:
    """An http:// transport follows no redirects, so it never needs CAs; its context still verifies (and,
    trusting nothing, would refuse any TLS peer), rather than being an unverified one."""
    import ssl

    from bakehouse.wire.tls import plain_http_only

    context = plain_http_only()
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0
