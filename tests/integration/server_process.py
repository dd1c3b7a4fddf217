"""A real ``bakehouse server`` subprocess for module-scoped fixtures of the server integration tests.

Started in its own session on a free port; stopped by killing the whole process group (workers included).
The function-scoped ``bakehouse_server`` fixture of ``tests/conftest.py`` is the per-test equivalent.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

BAKEHOUSE = str(Path(sys.executable).parent / "bakehouse")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path
    workdir: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-20000:]
        except OSError:
            return ""

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=10)
                if sig == signal.SIGTERM:
                    os.killpg(self.proc.pid, signal.SIGKILL)  # stragglers in the group
            except (subprocess.TimeoutExpired, ProcessLookupError):
                continue


def start_server(
    workdir: Path,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    backend_store_uri = backend_store_uri or f"sqlite:///{workdir / 'bakehouse.db'}"
    artifacts_destination = artifacts_destination or str(workdir / "artifacts")
    port = free_port()
    log_path = workdir / f"server-{port}.log"
    cmd = [
        BAKEHOUSE,
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        artifacts_destination,
        *extra_args,
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env={**os.environ, **(env or {})},
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", port, proc, log_path, workdir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"bakehouse server exited ({proc.returncode}):\n{server.log()}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as response:
                if response.status == 200:
                    return server
        except OSError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"bakehouse server not healthy after {timeout} s:\n{server.log()}")


def raw_http(
    server: Server, method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """One request sent exactly as given (no client-side URL normalisation): status, headers (lower-case
    names) and body. A body defaults to ``Content-Type: application/json``."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        all_headers = {"Host": f"127.0.0.1:{server.port}", **(headers or {})}
        if body is not None:
            all_headers.setdefault("Content-Type", "application/json")
            all_headers["Content-Length"] = str(len(body))
        for key, value in all_headers.items():
            conn.putheader(key, value)
        conn.endheaders()
        if body is not None:
            conn.send(body)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()
