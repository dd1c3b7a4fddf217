"""The HTTP artifact repository against a scripted real server: retries, auth, quoting, error mapping,
hostile listings and URI resolution."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from scripted_http import http_settings

from bakehouse.errors import (
    DeadlineExceededError,
    InvalidParameterError,
    NotFoundError,
    PermissionDeniedError,
    TemporarilyUnavailableError,
)
from bakehouse.store.artifacts import get_artifact_repository
from bakehouse.store.artifacts.http import ARTIFACTS_API, HttpArtifactRepository, ProxyArtifactRepository

if TYPE_CHECKING:  # the fixtures' types (tests/scripted_http.py)
    from scripted_http import Script, ScriptedServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def repo(scripted_server: ScriptedServer) -> Iterator[ProxyArtifactRepository]:
    repository = ProxyArtifactRepository(
        "mlflow-artifacts:/root", tracking_uri=scripted_server.url, http_settings=http_settings()
    )
    yield repository
    repository.close()


def test_listing_is_retried_on_503_and_429(repo: ProxyArtifactRepository, script: Script) -> None:
    script.reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "busy"})
    script.reply(429, b"slow down", headers={"Retry-After": "0"})
    script.reply(
        200, {"files": [{"path": "b.txt", "is_dir": False, "file_size": "12"}, {"path": "a", "is_dir": True}]}
    )
    infos = repo.list_artifacts("dir")
    assert [(i.path, i.is_dir, i.file_size) for i in infos] == [
        ("dir/a", True, None),
        ("dir/b.txt", False, 12),
    ]
    assert len(script.requests) == 3
    assert {(r.method, r.raw_path, r.query) for r in script.requests} == {
        ("GET", ARTIFACTS_API, "path=root%2Fdir")
    }


def test_retries_give_up_with_the_servers_error(repo: ProxyArtifactRepository, script: Script) -> None:
    for _ in range(4):
        script.reply(503, {"error_code": "TEMPORARILY_UNAVAILABLE", "message": "still busy"})
    with pytest.raises(TemporarilyUnavailableError, match="still busy"):
        repo.list_artifacts()
    assert len(script.requests) == 4  # 1 + max_retries


def test_connection_errors_are_retried_then_reported() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    repo = HttpArtifactRepository(
        f"http://ann:s3cret@127.0.0.1:{port}{ARTIFACTS_API}/x",
        http_settings=http_settings(max_retries=2, backoff_factor=0.05),
    )
    started = time.monotonic()
    with pytest.raises(TemporarilyUnavailableError, match="after 3 attempt") as info:
        repo.list_artifacts()
    assert "s3cret" not in info.value.message and f"http://127.0.0.1:{port}" in info.value.message
    assert time.monotonic() - started >= 0.75 * (0.05 + 0.1)  # backoff 0.05 then 0.1, jitter down to 75 %
    repo.close()


def test_stream_uploads_are_not_retried(repo: ProxyArtifactRepository, script: Script) -> None:
    script.reply(503, b"")
    with pytest.raises(TemporarilyUnavailableError):
        repo.write_stream("s.bin", iter([b"abc"]))
    assert len(script.requests) == 1
    assert script.requests[0].body == b"abc"


def test_file_upload_is_retried_with_the_whole_body(
    repo: ProxyArtifactRepository, script: Script, tmp_path: Path
) -> None:
    local = tmp_path / "f.bin"
    local.write_bytes(os.urandom(3 * 1024 * 1024 + 5))
    script.reply(502, b"bad gateway")
    reported: list[tuple[str, int, int | None]] = []
    repo.upload_file(local, "d/f.bin", progress=lambda *event: reported.append(event))
    assert [r.body for r in script.requests] == [local.read_bytes()] * 2
    assert reported[0] == ("d/f.bin", 0, local.stat().st_size)
    assert (
        sum(advance for _, advance, _ in reported) == local.stat().st_size
    )  # each byte once despite the retry


def test_timeouts_are_deadline_errors(scripted_server: ScriptedServer, script: Script) -> None:
    repo = ProxyArtifactRepository(
        "mlflow-artifacts:/r", tracking_uri=scripted_server.url, http_settings=http_settings(timeout=0.2)
    )
    for _ in range(4):  # a listing is safe to repeat: each of the 1 + 3 retries times out
        script.reply(200, {}, delay=1.0)
    with pytest.raises(DeadlineExceededError, match=r"timed out after 0.2 s \(gave up after 4 attempts"):
        repo.list_artifacts()
    repo.close()


def test_upload_is_one_put_with_content_length_and_quoted_path(
    repo: ProxyArtifactRepository, script: Script, tmp_path: Path
) -> None:
    local = tmp_path / "a b#c%d ü?.json"
    local.write_bytes(b'{"x": 1}')
    repo.log_artifact(local, "x y/z+")
    (request,) = script.requests
    assert request.method == "PUT"
    assert request.raw_path == f"{ARTIFACTS_API}/root/x%20y/z%2B/a%20b%23c%25d%20%C3%BC%3F.json"
    assert request.headers["content-length"] == "8"
    assert "transfer-encoding" not in request.headers
    assert request.headers["content-type"] == "application/json"
    assert request.body == b'{"x": 1}'


def test_auth_headers(scripted_server: ScriptedServer, script: Script) -> None:
    basic = ProxyArtifactRepository(
        "mlflow-artifacts:/r",
        tracking_uri=scripted_server.url,
        http_settings=http_settings(username="ann", password="pw"),
    )
    bearer = ProxyArtifactRepository(
        "mlflow-artifacts:/r", tracking_uri=scripted_server.url, http_settings=http_settings(token="tok-123")
    )
    basic.list_artifacts()
    bearer.list_artifacts()
    assert [r.headers.get("authorization") for r in script.requests] == ["Basic YW5uOnB3", "Bearer tok-123"]
    basic.close()
    bearer.close()


def test_auth_from_environment(
    scripted_server: ScriptedServer, script: Script, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "env-token")
    repo = ProxyArtifactRepository("mlflow-artifacts:/r", tracking_uri=scripted_server.url)
    repo.list_artifacts()
    assert script.requests[0].headers["authorization"] == "Bearer env-token"
    repo.close()


def test_error_bodies_become_the_same_exception_class(repo: ProxyArtifactRepository, script: Script) -> None:
    script.reply(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": "bad path"})
    with pytest.raises(InvalidParameterError, match="bad path"):
        repo.list_artifacts("x")
    script.reply(403, b"<html>nope</html>")
    with pytest.raises(PermissionDeniedError, match="HTTP 403"):
        repo.list_artifacts("x")
    script.reply(404, b"")
    with pytest.raises(NotFoundError, match="'gone.txt' does not exist"):
        repo.open_read("gone.txt")


def test_delete_tolerates_missing_and_refuses_the_store_root(
    repo: ProxyArtifactRepository, script: Script
) -> None:
    script.reply(404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no"})
    repo.delete_artifacts("nothing/here")
    assert [(r.method, r.raw_path) for r in script.requests] == [
        ("DELETE", f"{ARTIFACTS_API}/root/nothing/here")
    ]
    bare = ProxyArtifactRepository(
        "mlflow-artifacts:/", tracking_uri=repo.server_url, http_settings=http_settings()
    )
    with pytest.raises(InvalidParameterError, match="whole artifact store"):
        bare.delete_artifacts()
    bare.close()


@pytest.mark.parametrize(
    "hostile",
    ["..", "../escape.txt", "a/b.txt", "%2e%2e", "/abs", "a\\b", "", "."],
)
def test_hostile_names_from_the_server_are_refused(
    repo: ProxyArtifactRepository, script: Script, tmp_path: Path, hostile: str
) -> None:
    listing = {"files": [{"path": hostile, "is_dir": False, "file_size": 3}]}
    script.reply(200, listing)
    with pytest.raises(InvalidParameterError):
        repo.list_artifacts()
    script.reply(200, listing)
    dst = tmp_path / "sandbox" / "dl"
    with pytest.raises(InvalidParameterError):
        repo.download_artifacts(None, dst)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    assert [r.method for r in script.requests] == ["GET", "GET"]  # no file was ever fetched


def test_download_streams_to_disk(repo: ProxyArtifactRepository, script: Script, tmp_path: Path) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB
    script.reply(200, {})  # listing the file itself: not a directory
    script.reply(200, payload)
    seen: list[tuple[int, int | None]] = []
    local = repo.download_artifacts("m/w.bin", tmp_path, progress=lambda p, n, t: seen.append((n, t)))
    assert Path(local).read_bytes() == payload
    assert Path(local) == (tmp_path / "m" / "w.bin").resolve()
    assert seen[0] == (0, len(payload)) and sum(n for n, _ in seen) == len(payload)
    assert [(r.method, r.raw_path) for r in script.requests][1] == ("GET", f"{ARTIFACTS_API}/root/m/w.bin")


# ---------------------------------------------------------------------------------------- URI resolution


def test_proxy_uri_uses_the_tracking_uri() -> None:
    repo = ProxyArtifactRepository(
        "mlflow-artifacts:/1/abc/artifacts", tracking_uri="https://mlflow.example:8443/prefix/"
    )
    assert (repo.server_url, repo.root) == ("https://mlflow.example:8443/prefix", "1/abc/artifacts")
    assert repo._file_url("my file.txt") == (
        f"https://mlflow.example:8443/prefix{ARTIFACTS_API}/1/abc/artifacts/my%20file.txt"
    )


def test_proxy_uri_host_wins_over_tracking_host() -> None:
    repo = ProxyArtifactRepository("mlflow-artifacts://other:5000/x", tracking_uri="https://tracking:443")
    assert (repo.server_url, repo.root) == ("https://other:5000", "x")
    assert ProxyArtifactRepository("mlflow-artifacts://other:5000/x").server_url.startswith(
        "http://other:5000"
    )


def test_proxy_uri_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAKEHOUSE_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://envhost:5005")
    repo = get_artifact_repository("mlflow-artifacts:/5/r")
    assert isinstance(repo, ProxyArtifactRepository)
    assert repo.server_url == "http://envhost:5005"
    # an explicit tracking URI (what the Client passes) wins over the environment
    assert (
        get_artifact_repository("mlflow-artifacts:/5/r", tracking_uri="http://explicit:1").server_url
        == "http://explicit:1"
    )


@pytest.mark.parametrize("tracking", [None, "sqlite:///x.db", "/local/path"])
def test_proxy_uri_needs_an_http_tracking_uri(monkeypatch: pytest.MonkeyPatch, tracking: str | None) -> None:
    monkeypatch.delenv("BAKEHOUSE_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(InvalidParameterError, match="tracking server"):
        ProxyArtifactRepository("mlflow-artifacts:/1/x", tracking_uri=tracking)


@pytest.mark.parametrize(
    "uri",
    ["mlflow-artifacts://:5000/x", "mlflow-artifacts:/../etc", "mlflow-artifacts:/a/%2e%2e/%2e%2e/etc"],
)
def test_bad_proxy_uris(uri: str) -> None:
    with pytest.raises(InvalidParameterError):
        ProxyArtifactRepository(uri, tracking_uri="http://h:1")


def test_http_uri_splits_at_the_proxy_api() -> None:
    repo = get_artifact_repository(f"https://h:9/pre{ARTIFACTS_API}/exp%201/run")
    assert isinstance(repo, HttpArtifactRepository)
    assert (repo.server_url, repo.root) == ("https://h:9/pre", "exp 1/run")
    with pytest.raises(InvalidParameterError, match="artifact proxy"):
        get_artifact_repository("https://h:9/somewhere/else")
    with pytest.raises(InvalidParameterError):
        get_artifact_repository(f"http://h{ARTIFACTS_API}/%2e%2e/x")
