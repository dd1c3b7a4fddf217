"""DirectDownloader against a real HTTP server on 127.0.0.1 (http.server in a thread)."""

from __future__ import annotations

import http.server
import io
import os
import threading
from collections.abc import Iterator
from typing import ClassVar

import pytest

from bakehouse.store.artifacts.direct_download import DirectDownloader, auth_header

PAYLOAD = os.urandom(3 * 1024 * 1024 + 5)


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections: ClassVar[list[int]] = []
    seen_headers: ClassVar[list[dict[str, str]]] = []

    def setup(self) -> None:
        super().setup()
        _Handler.connections.append(id(self.connection))

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        _Handler.seen_headers.append(dict(self.headers))
        if self.path.startswith("/file"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(PAYLOAD[:1000])
            self.close_connection = True
        elif self.path == "/moved":
            self.send_response(302)
            self.send_header("Location", "/file")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            body = b'{"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "nope"}'
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.fixture()
def server() -> Iterator[str]:
    _Handler.connections = []
    _Handler.seen_headers = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)


def _downloader(headers: dict[str, str] | None = None) -> DirectDownloader:
    return DirectDownloader(headers or {}, False, timeout=10)


def test_a_body_arrives_whole_with_progress_on_one_kept_alive_connection(server: str) -> None:
    downloader = _downloader()
    reports: list[tuple[int, int | None]] = []
    for _ in range(2):
        out = io.BytesIO()
        assert downloader.download(f"{server}/file", out, lambda n, total: reports.append((n, total))) == len(
            PAYLOAD
        )
        assert out.getvalue() == PAYLOAD
    assert len(_Handler.connections) == 1  # the second GET reused the first connection
    assert reports[0] == (0, len(PAYLOAD))
    assert sum(n for n, _ in reports) == 2 * len(PAYLOAD)
    downloader.close()


def test_anything_but_a_200_is_left_to_the_caller(server: str) -> None:
    downloader = _downloader()
    for path in ("/missing", "/moved"):
        out = io.BytesIO()
        assert downloader.download(f"{server}{path}", out) is None
        assert out.getvalue() == b""


def test_a_body_cut_short_raises(server: str) -> None:
    with pytest.raises(OSError, match=f"sent 1000 of {len(PAYLOAD)} bytes"):
        _downloader().download(f"{server}/short", io.BytesIO())


def test_no_server_is_left_to_the_caller() -> None:
    assert _downloader().download("http://127.0.0.1:9/file", io.BytesIO()) is None  # discard port: refused


def test_a_proxy_in_the_environment_is_left_to_the_caller(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    assert _downloader().download(f"{server}/file", io.BytesIO()) is None
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert _downloader().download(f"{server}/file", io.BytesIO()) == len(PAYLOAD)


def test_credentials_in_the_url_are_left_to_the_caller(server: str) -> None:
    url = server.replace("http://", "http://user:secret@") + "/file"
    assert _downloader().download(url, io.BytesIO()) is None
    assert _Handler.seen_headers == []


def test_the_auth_header_is_sent(server: str) -> None:
    _downloader(auth_header("t0ken", None, None)).download(f"{server}/file", io.BytesIO())
    _downloader(auth_header(None, "ann", "pw")).download(f"{server}/file", io.BytesIO())
    assert [h.get("Authorization") for h in _Handler.seen_headers] == ["Bearer t0ken", "Basic YW5uOnB3"]
    assert auth_header(None, None, None) == {}
    assert auth_header(None, "ann", None) == {
        "Authorization": "Basic YW5uOg=="
    }  # as the tracking client sends it


def test_a_forked_child_opens_its_own_connection(server: str) -> None:
    downloader = _downloader()
    assert downloader.download(f"{server}/file", io.BytesIO()) == len(PAYLOAD)
    pid = os.fork()
    if pid == 0:  # the child: download on a connection of its own, then report through the exit code
        try:
            ok = downloader.download(f"{server}/file", io.BytesIO()) == len(PAYLOAD)
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert downloader.download(f"{server}/file", io.BytesIO()) == len(PAYLOAD)  # the parent's still works
    assert len(_Handler.connections) == 2  # the parent's kept-alive one, and the child's own
