"""The HTTP transport against a real HTTP server on 127.0.0.1: query encoding, retries with backoff, auth
headers, keep-alive connections the server closed, timeouts, errors rebuilt as exceptions."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from bakehouse.errors import (
    AlreadyExistsError,
    BadRequestError,
    DeadlineExceededError,
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
    return HttpSettings(**base)  # type: ignore[arg-type]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


# what a test's handler answers: (status, headers, body); body may be a dict (sent as JSON)
Answer = tuple[int, dict[str, str], Any]


@dataclass
class Peer:
    """A scripted HTTP/1.1 server: ``answer(seen)`` decides each reply; ``requests`` records them."""

    url: str
    answer: Callable[[Seen], Answer] = lambda seen: (200, {}, {})
    requests: list[Seen] = field(default_factory=list)
    connections: int = 0


@pytest.fixture
def peer() -> Iterator[Peer]:
    state = Peer(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            state.connections += 1
            super().setup()

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen = Seen(
                self.command,
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            state.requests.append(seen)
            status, headers, body = state.answer(seen)
            data = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            if "Content-Type" not in headers:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_query_encoding_follows_mlflow_get_conventions() -> None:
    assert encode_query({"run_ids": ["a", "b"], "flag": True, "n": 5, "skip": None}) == [
        ("run_ids", "a"),
        ("run_ids", "b"),
        ("flag", "true"),
        ("n", "5"),
    ]


def test_retries_on_503_and_429_then_succeeds(peer: Peer) -> None:
    answers: list[Answer] = [
        (503, {}, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"}),
        (429, {"Retry-After": "0"}, b""),
        (200, {}, {"ok": 1}),
    ]
    peer.answer = lambda seen: answers[len(peer.requests) - 1]
    transport = HttpTransport(peer.url, settings())
    assert transport.call("POST", "/api/2.0/x", {"a": 1}) == {"ok": 1}
    assert len(peer.requests) == 3
    assert peer.connections == 1  # the same keep-alive connection throughout


def test_gives_up_after_max_retries_with_the_server_error(peer: Peer) -> None:
    peer.answer = lambda seen: (503, {}, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "still busy"})
    transport = HttpTransport(peer.url, settings(max_retries=2))
    with pytest.raises(TemporarilyUnavailableError, match="still busy"):
        transport.call("GET", "/api/2.0/x")
    assert len(peer.requests) == 3


def test_connection_errors_are_retried_then_reported_clearly() -> None:
    """A server that accepts and hangs up at once: every attempt reaches it, then a clear message."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[int] = []

    def hang_up() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            accepted.append(1)
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    try:
        with pytest.raises(TemporarilyUnavailableError, match="Could not reach the tracking server"):
            HttpTransport(url, settings(max_retries=2)).call("GET", "/api/2.0/x")
    finally:
        listener.close()
    assert len(accepted) == 3


def test_a_port_nobody_listens_on_is_reported_as_unreachable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TemporarilyUnavailableError, match=f"127.0.0.1:{port}"):
        HttpTransport(f"http://127.0.0.1:{port}", settings(max_retries=1)).call("GET", "/x")


@pytest.mark.parametrize(
    "status, body, exc",
    [
        (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=x not found"}, NotFoundError),
        (400, {"error_code": "RESOURCE_ALREADY_EXISTS", "message": "exists"}, AlreadyExistsError),
        (400, b"<html>nope</html>", BadRequestError),
        (404, b"<html>nope</html>", NotFoundError),
    ],
)
def test_error_bodies_become_our_exception_classes(peer: Peer, status: int, body: object, exc: type) -> None:
    peer.answer = lambda seen: (status, {"Content-Type": "text/html"}, body)
    with pytest.raises(exc):
        HttpTransport(peer.url, settings()).call("GET", "/api/2.0/x")


def test_basic_and_bearer_auth_are_sent(peer: Peer) -> None:
    HttpTransport(peer.url, settings(username="u", password="p")).call("GET", "/x")
    HttpTransport(peer.url, settings(token="tok")).call("GET", "/x")
    assert [r.headers.get("authorization") for r in peer.requests] == [
        "Basic " + base64.b64encode(b"u:p").decode(),
        "Bearer tok",
    ]


def test_json_bodies_and_get_params_are_sent_as_mlflow_expects(peer: Peer) -> None:
    transport = HttpTransport(peer.url + "/prefix", settings())
    transport.call(
        "GET", "/api/2.0/mlflow/metrics/get-history-bulk-interval", {"run_ids": ["a", "b"], "metric_key": "m"}
    )
    transport.call("POST", "/api/2.0/mlflow/runs/log-batch", {"run_id": "r", "metrics": []})
    get, post = peer.requests
    assert (get.method, get.path) == (
        "GET",
        "/prefix/api/2.0/mlflow/metrics/get-history-bulk-interval?run_ids=a&run_ids=b&metric_key=m",
    )
    assert (post.method, post.path, post.headers["content-type"], post.body) == (
        "POST",
        "/prefix/api/2.0/mlflow/runs/log-batch",
        "application/json",
        b'{"run_id":"r","metrics":[]}',
    )


def test_a_keep_alive_connection_the_server_closed_is_replaced_without_using_a_retry(peer: Peer) -> None:
    """Servers drop idle keep-alive connections; the next call opens a new one, even with retries off."""
    transport = HttpTransport(peer.url, settings(max_retries=0))
    assert transport.call("GET", "/a") == {}
    peer.answer = lambda seen: (200, {"Connection": "close"}, {"n": len(peer.requests)})
    assert transport.call("GET", "/b") == {"n": 2}  # the server closes after answering
    peer.answer = lambda seen: (200, {}, {"n": len(peer.requests)})
    assert transport.call("GET", "/c") == {"n": 3}
    assert peer.connections == 2


def test_a_slow_answer_is_a_deadline_error_not_a_hang(peer: Peer) -> None:
    def slow(seen: Seen) -> Answer:
        time.sleep(1.5)
        return 200, {}, {}

    peer.answer = slow
    with pytest.raises(DeadlineExceededError, match="timed out"):
        HttpTransport(peer.url, settings(timeout=0.3, max_retries=0)).call("GET", "/slow")


def test_many_threads_share_one_transport(peer: Peer) -> None:
    peer.answer = lambda seen: (200, {}, {"path": seen.path})
    transport = HttpTransport(peer.url, settings())
    results: list[dict[str, Any]] = []

    def calls(i: int) -> None:
        for j in range(20):
            results.append(transport.call("GET", f"/t{i}-{j}"))

    threads = [threading.Thread(target=calls, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r["path"] for r in results) == sorted(f"/t{i}-{j}" for i in range(8) for j in range(20))
    assert peer.connections <= 8
