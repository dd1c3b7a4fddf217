"""Traversal and bad input against a real server, over raw HTTP (no client-side URL normalisation).

Every artifact route gets every spelling of "outside the root"; every JSON endpoint of the ENDPOINTS table
gets malformed and mistyped bodies. Afterwards: no file was written or read outside the artifact root, and
no request got a 500.
"""

from __future__ import annotations

import json
import os
import re
from urllib.parse import quote, unquote

import pytest
from server_process import Server, raw_http, start_server

from bakehouse.wire.endpoints import all_endpoints

pytestmark = pytest.mark.timeout(300)

CANARY = "TOP-SECRET-CANARY-4f1d"

EVIL_PATHS = [
    "../outside.txt",
    "../../outside.txt",
    "a/../../outside.txt",
    "..%2foutside.txt",
    "%2e%2e/outside.txt",
    "%2e%2e%2foutside.txt",
    "%252e%252e/outside.txt",
    "..%5coutside.txt",
    "..\\outside.txt",
    "/etc/passwd",
    "//etc/passwd",
    "%2fetc%2fpasswd",
    "C:/Windows/win.ini",
    "a/%00/b",
    "a%00.txt",
    "link-out/outside.txt",
    "link-out",
    "./../outside.txt",
    ".../outside.txt",
    "a//b",
    "%c0%ae%c0%ae/outside.txt",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    workdir = tmp_path_factory.mktemp("badinput")
    (workdir / "outside.txt").write_text(CANARY)
    artifacts = workdir / "artifacts"
    artifacts.mkdir()
    (artifacts / "inside.txt").write_text("inside")
    os.symlink(workdir, artifacts / "link-out")  # a symlink inside the root pointing out of it
    srv = start_server(workdir, artifacts_destination=str(artifacts))
    yield srv
    srv.stop()


def _raw(
    server: Server, method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    status, _, response = raw_http(server, method, target, body, headers)
    return status, response


def _snapshot_outside(server: Server) -> dict[str, bytes]:
    """Every file under the server's work dir except the artifact root and the server's own files."""
    out = {}
    for path in server.workdir.rglob("*"):
        rel = path.relative_to(server.workdir).as_posix()
        if rel.startswith("artifacts") or path.is_dir() or rel.endswith(".log") or "bakehouse.db" in rel:
            continue
        out[rel] = path.read_bytes()
    return out


@pytest.fixture(scope="module")
def run_id(server: Server) -> str:
    status, body = _raw(server, "POST", "/api/2.0/mlflow/experiments/create", b'{"name": "bad-input"}')
    assert status == 200
    eid = json.loads(body)["experiment_id"]
    status, body = _raw(
        server, "POST", "/api/2.0/mlflow/runs/create", json.dumps({"experiment_id": eid}).encode()
    )
    return str(json.loads(body)["run"]["info"]["run_id"])


def _assert_safe(status: int, body: bytes, what: str) -> None:
    if status == 501 and "/mpu/" in what:  # multipart is answered NOT_IMPLEMENTED (client falls back)
        assert b"NOT_IMPLEMENTED" in body
        return
    assert status < 500, f"{what}: HTTP {status} {body[:300]!r}"
    assert CANARY.encode() not in body, f"{what}: leaked a file outside the artifact root"
    assert b"root:" not in body and b"Traceback" not in body, what


def test_artifact_routes_never_leave_the_root(server: Server, run_id: str) -> None:
    before = _snapshot_outside(server)
    for evil in EVIL_PATHS:
        encoded = quote(evil, safe="/%\\")
        for method, target, body in [
            ("GET", f"/api/2.0/mlflow-artifacts/artifacts/{encoded}", None),
            ("PUT", f"/api/2.0/mlflow-artifacts/artifacts/{encoded}", b"pwned"),
            ("DELETE", f"/api/2.0/mlflow-artifacts/artifacts/{encoded}", None),
            ("GET", f"/api/2.0/mlflow-artifacts/artifacts?path={quote(evil)}", None),
            ("GET", f"/ajax-api/2.0/mlflow-artifacts/artifacts/{encoded}", None),
            ("POST", f"/api/2.0/mlflow-artifacts/mpu/create/{encoded}", json.dumps({"path": evil}).encode()),
            ("GET", f"/get-artifact?run_uuid={run_id}&path={quote(evil)}", None),
            ("GET", f"/api/2.0/mlflow/artifacts/list?run_id={run_id}&path={quote(evil)}", None),
        ]:
            status, response = _raw(
                server,
                method,
                target,
                body,
                {"Content-Type": "application/octet-stream"} if method == "PUT" else None,
            )
            _assert_safe(status, response, f"{method} {target}")
            escapes = ".." in re.split(r"[/\\]", unquote(unquote(evil)))
            if method in ("GET", "PUT") and "artifacts/" in target and "?" not in target and escapes:
                assert status >= 400, f"{method} {target} answered {status}"
    assert _snapshot_outside(server) == before
    assert (server.workdir / "outside.txt").read_text() == CANARY
    # a legitimate path still works after all that
    status, body = _raw(server, "GET", "/api/2.0/mlflow-artifacts/artifacts/inside.txt")
    assert (status, body) == (200, b"inside")


def test_large_uploads_never_leave_the_root_either(server: Server) -> None:
    """Bodies of 1 MiB and more take the socket-to-file path (body_pump): the same paths are refused, the
    client reads the refusal (the body is drained, not reset), and nothing lands outside the root."""
    link = server.workdir / "artifacts" / "big-link-out"  # its own: another test deletes "link-out" (legally)
    if not link.is_symlink():
        os.symlink(server.workdir, link)
    before = _snapshot_outside(server)
    body = b"P" * (2 * 1024 * 1024)
    for evil in [
        "../outside.txt",
        "big-link-out/outside.txt",
        "big-link-out/new.bin",
        "%2e%2e/outside.txt",
        "a/%00/b",
        "/etc/passwd",
        "..%5coutside.txt",
    ]:
        target = f"/api/2.0/mlflow-artifacts/artifacts/{quote(evil, safe='/%')}"
        status, response = _raw(server, "PUT", target, body, {"Content-Type": "application/octet-stream"})
        _assert_safe(status, response, f"PUT {target}")
        assert status >= 400, f"PUT {target} answered {status}"
    assert _snapshot_outside(server) == before
    assert (server.workdir / "outside.txt").read_text() == CANARY
    assert not (server.workdir / "new.bin").exists()


def test_percent_encoded_names_stay_literal_inside_the_root(server: Server) -> None:
    status, _ = _raw(
        server,
        "PUT",
        "/api/2.0/mlflow-artifacts/artifacts/lit/a%2520b.txt",
        b"x",
        {"Content-Type": "application/octet-stream"},
    )
    assert status in (200, 400)
    for path in server.workdir.rglob("*"):
        if path.is_file() and path.read_bytes() == b"x":
            assert (server.workdir / "artifacts") in path.parents


def _fill(path: str, value: str) -> str:
    return re.sub(r"\{[^}]+\}", value, path)


BAD_BODIES: list[bytes] = [
    b"{",
    b"[]",
    b"null",
    b"42",
    b'"\\"nested\\""',
    b"\xff\xfe\x00garbage",
    b'{"a":' * 2000 + b"1" + b"}" * 2000,
    json.dumps(
        {
            "run_id": ["x"],
            "experiment_id": {"a": 1},
            "name": 5,
            "key": None,
            "value": [],
            "metrics": "x",
            "params": [1, 2],
            "tags": [{"key": 1}],
            "max_results": "many",
            "timestamp": "soon",
            "step": 1e400 if False else "1e400",
            "page_token": 7,
            "order_by": "x",
            "version": {},
            "model_id": [],
            "alias": 3,
            "stage": 9,
            "status": [],
            "experiment_ids": "1",
        }
    ).encode(),
    json.dumps(
        {
            "run_id": "../../etc",
            "experiment_id": "../1",
            "name": "\x00",
            "key": "../x",
            "value": "v",
            "max_results": -1,
            "timestamp": -5,
            "step": 2**70,
            "page_token": "!!notbase64!!",
            "filter": "metrics.x > AND ((",
            "order_by": ["nope DESC DESC"],
            "version": "-1",
            "experiment_ids": ["'; DROP TABLE runs; --"],
            "model_id": "../../m",
            "alias": "latest",
        }
    ).encode(),
    json.dumps(
        {
            "run_id": "r" * 10000,
            "name": "n" * 100_000,
            "page_token": "eyJvZmZzZXQiOiAtMX0=",
            "max_results": 10**12,
            "metrics": [{"key": "k", "value": "NaN", "timestamp": 1}] * 3,
        }
    ).encode(),
]

BAD_QUERIES = [
    "",
    "run_id=&experiment_id=&name=",
    "run_id=../../etc&experiment_id=abc&max_results=x&page_token=%%%",
    "run_ids=a&run_ids=b&metric_key=m&max_results=-3&start_step=x",
    "experiment_id=1%00&name=a%00b&max_results=99999999999999999999999",
    "filter=metrics.x%20%3E%20AND&order_by=%3B%3B&view_type=BOGUS",
]


def test_every_json_endpoint_answers_bad_input_without_a_500(server: Server, run_id: str) -> None:
    failures = []
    endpoints = [e for e in all_endpoints() if not e.raw]
    assert len(endpoints) > 40
    for endpoint in endpoints:
        for placeholder in ("x", "..", "%2e%2e", "m-doesnotexist"):
            path = f"/api/{endpoint.version}" + _fill(endpoint.path, placeholder)
            for method in endpoint.methods:
                if method == "GET":
                    for query in BAD_QUERIES:
                        status, body = _raw(server, "GET", f"{path}?{query}" if query else path)
                        if status >= 500 and not (status == 501 and b"NOT_IMPLEMENTED" in body):
                            failures.append((endpoint.name, method, query, status, body[:200]))
                else:
                    for bad in BAD_BODIES:
                        status, body = _raw(server, method, path, bad)
                        if status >= 500 and not (status == 501 and b"NOT_IMPLEMENTED" in body):
                            failures.append((endpoint.name, method, bad[:60], status, body[:200]))
    assert not failures, "\n".join(map(str, failures[:30]))
    assert (server.workdir / "outside.txt").read_text() == CANARY


def test_wrong_content_and_oversized_bodies(server: Server) -> None:
    status, body = _raw(
        server,
        "POST",
        "/api/2.0/mlflow/experiments/create",
        b"name=x",
        {"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 400 and json.loads(body)["error_code"] == "INVALID_PARAMETER_VALUE"
    huge = b'{"name": "' + b"x" * (40 * 1024 * 1024) + b'"}'
    status, body = _raw(server, "POST", "/api/2.0/mlflow/experiments/create", huge)
    assert status == 400 and b"larger than the limit" in body


def test_unknown_routes_and_methods_are_json_errors(server: Server) -> None:
    status, body = _raw(server, "GET", "/api/2.0/mlflow/../../../etc/passwd")
    assert status == 404 and b"root:" not in body
    status, body = _raw(server, "TRACE", "/api/2.0/mlflow/runs/get")
    assert status in (404, 405)


def test_an_interrupted_upload_leaves_nothing_behind(server: Server) -> None:
    import socket
    import time

    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"PUT /api/2.0/mlflow-artifacts/artifacts/cut/half.bin HTTP/1.1\r\n"
            + f"Host: 127.0.0.1:{server.port}\r\n".encode()
            + b"Content-Type: application/octet-stream\r\nContent-Length: 10485760\r\n\r\n"
        )
        sock.sendall(b"x" * (3 * 1024 * 1024))
    deadline = time.monotonic() + 10
    leftovers = ["?"]
    while time.monotonic() < deadline and leftovers:
        leftovers = [
            p for p in (server.workdir / "artifacts").rglob("*") if p.is_file() and "cut" in p.as_posix()
        ]
        time.sleep(0.2)
    assert leftovers == []  # neither the file nor its hidden temporary
    status, body = _raw(server, "GET", "/api/2.0/mlflow-artifacts/artifacts/inside.txt")
    assert (status, body) == (200, b"inside")
    assert "Traceback" not in server.log()


def _open_files(pid: int, name: str) -> list[str]:
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.endswith(name):
            found.append(target)
    return found


def test_an_abandoned_download_releases_the_file(server: Server) -> None:
    """A client that reads a little of a big download and hangs up: the server's read-ahead stops and the
    file is closed (no descriptor or thread left behind), and the server keeps answering."""
    import socket
    import time

    big = server.workdir / "artifacts" / "abandoned.bin"
    big.write_bytes(os.urandom(1 << 20) * 24)
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"GET /api/2.0/mlflow-artifacts/artifacts/abandoned.bin HTTP/1.1\r\n"
            + f"Host: 127.0.0.1:{server.port}\r\n\r\n".encode()
        )
        got = sock.recv(65536)
        assert got.startswith(b"HTTP/1.1 200")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not _open_files(server.proc.pid, "abandoned.bin"):
            time.sleep(0.05)
        assert _open_files(server.proc.pid, "abandoned.bin")  # the download really is in flight
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _open_files(server.proc.pid, "abandoned.bin"):
        time.sleep(0.1)
    assert _open_files(server.proc.pid, "abandoned.bin") == []
    status, body = _raw(server, "GET", "/api/2.0/mlflow-artifacts/artifacts/inside.txt")
    assert (status, body) == (200, b"inside")
    assert "Traceback" not in server.log()
