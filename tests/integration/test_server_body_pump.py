"""Large uploads read straight from the socket (bakehouse.server.body_pump), against a real server over raw
HTTP: byte-exact files, the connection's fate, 100-continue, errors the client can read, and the usual path
for small and chunked bodies."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

import pytest
from server_process import Server, start_server

pytestmark = pytest.mark.timeout(120)

API = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    srv = start_server(tmp_path_factory.mktemp("pump"))
    yield srv
    srv.stop()


def _connect(server: Server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk
        body += chunk
    return int(lines[0].split()[1]), headers, body[:length]


def _put_head(server: Server, path: str, length: int, extra: str = "") -> bytes:
    return (
        f"PUT {API}/{path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {length}\r\n{extra}\r\n"
    ).encode()


def _stored(server: Server, path: str) -> Path:
    return server.workdir / "artifacts" / path


def test_a_large_upload_is_stored_byte_exact_and_the_connection_then_closes(server: Server) -> None:
    body = os.urandom(8 * 1024 * 1024 + 3)
    with _connect(server) as sock:
        sock.sendall(_put_head(server, "pump/big.bin", len(body)) + body[:1000])  # some body with the head
        sock.sendall(body[1000:])
        status, headers, payload = _read_response(sock)
        assert (status, payload) == (200, b"{}")
        assert headers.get("connection") == "close"
        assert sock.recv(10) == b""  # closed by the server: the parser never saw the body
    assert (
        hashlib.sha256(_stored(server, "pump/big.bin").read_bytes()).digest() == hashlib.sha256(body).digest()
    )


def test_small_uploads_keep_the_connection(server: Server) -> None:
    with _connect(server) as sock:
        for i in range(2):
            body = bytes([i]) * 100_000
            sock.sendall(_put_head(server, f"pump/small-{i}.bin", len(body)) + body)
            status, headers, _ = _read_response(sock)
            assert status == 200
            assert headers.get("connection") != "close"
    for i in range(2):
        assert _stored(server, f"pump/small-{i}.bin").read_bytes() == bytes([i]) * 100_000


def test_expect_100_continue_is_answered_before_the_body(server: Server) -> None:
    body = os.urandom(2 * 1024 * 1024)
    with _connect(server) as sock:
        sock.sendall(_put_head(server, "pump/continue.bin", len(body), "Expect: 100-continue\r\n"))
        interim = sock.recv(4096)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        status, _, payload = _read_response(sock)
        assert (status, payload) == (200, b"{}")
    assert _stored(server, "pump/continue.bin").read_bytes() == body


def test_an_upload_that_cannot_be_stored_gets_a_readable_error(server: Server) -> None:
    (server.workdir / "artifacts" / "pump" / "a-directory").mkdir(parents=True)
    body = b"q" * (4 * 1024 * 1024)
    with _connect(server) as sock:
        sock.sendall(_put_head(server, "pump/a-directory", len(body)))
        sock.sendall(body)  # the server reads it all, so this never fails with a reset
        status, _, payload = _read_response(sock)
    assert status == 400
    assert b"INVALID_PARAMETER_VALUE" in payload and b"directory" in payload
    assert (server.workdir / "artifacts" / "pump" / "a-directory").is_dir()


def test_a_chunked_upload_takes_the_usual_path(server: Server) -> None:
    parts = [os.urandom(700_000) for _ in range(4)]
    with _connect(server) as sock:
        sock.sendall(
            f"PUT {API}/pump/chunked.bin HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        for part in parts:
            sock.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        status, headers, _ = _read_response(sock)
        assert status == 200
        assert headers.get("connection") != "close"
    assert _stored(server, "pump/chunked.bin").read_bytes() == b"".join(parts)
    assert "Traceback" not in server.log()


@pytest.mark.parametrize("declared", [500_000, 4 * 1024 * 1024], ids=["asgi-path", "socket-path"])
def test_stalled_uploads_do_not_starve_the_api(server: Server, declared: int) -> None:
    """60 clients that start an upload and then send nothing: uploads wait in their own line, so every
    JSON endpoint still answers at once (they shared the worker threads with uploads, and 40 stalled
    uploads hung the whole API)."""
    import json
    import time
    import urllib.request

    stalled = []
    try:
        for i in range(60):
            sock = _connect(server)
            sock.sendall(_put_head(server, f"pump/stalled-{declared}-{i}.bin", declared) + b"x" * 10)
            stalled.append(sock)
        time.sleep(1.0)
        started = time.monotonic()
        request = urllib.request.Request(
            f"{server.url}/api/2.0/mlflow/experiments/search",
            data=b'{"max_results": 5}',
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            assert response.status == 200
            assert "experiments" in json.loads(response.read())
        assert time.monotonic() - started < 5
    finally:
        for sock in stalled:
            sock.close()
