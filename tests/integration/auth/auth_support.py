"""Helpers for the authentication tests: start `bakehouse server --auth`, switch the mlflow client's user."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ADMIN = ("admin", "admin-secret-pw")
PASSWORD = "user-secret-pw"
ROLES = ("admin", "owner", "reader", "editor", "manager", "nobody")


@dataclass
class AuthServer:
    url: str
    log_path: str

    def http(self, username: str | None = None, password: str | None = None) -> httpx.Client:
        auth = (username, password or PASSWORD) if username else None
        if username == ADMIN[0]:
            auth = ADMIN
        return httpx.Client(base_url=self.url, auth=auth, timeout=30)


def start_auth_server(
    workdir: Path,
    backend_store_uri: str | None = None,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`bakehouse server --auth` in its own session on a free port, with the admin from the environment."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log_path = workdir / f"server-{port}.log"
    backend_store_uri = backend_store_uri or f"sqlite:///{workdir / 'auth.db'}"
    command = [
        str(Path(sys.executable).parent / "bakehouse"),
        "server",
        "--auth",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        str(workdir / "artifacts"),
        *extra_args,
    ]
    full_env = {
        **os.environ,
        "BAKEHOUSE_ADMIN_USERNAME": ADMIN[0],
        "BAKEHOUSE_ADMIN_PASSWORD": ADMIN[1],
        **(env or {}),
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=workdir,
            env=full_env,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url, log_path
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError("bakehouse server --auth did not start:\n" + log_path.read_text(errors="replace"))


def stop_server(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    try:
        os.killpg(proc.pid, sig)
        proc.wait(timeout=15)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@contextmanager
def credentials(username: str | None, password: str | None = None) -> Iterator[None]:
    """The official mlflow client reads MLFLOW_TRACKING_USERNAME/PASSWORD at every request."""
    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")}
    if username is None:
        os.environ.pop("MLFLOW_TRACKING_USERNAME", None)
        os.environ.pop("MLFLOW_TRACKING_PASSWORD", None)
    else:
        os.environ["MLFLOW_TRACKING_USERNAME"] = username
        os.environ["MLFLOW_TRACKING_PASSWORD"] = ADMIN[1] if username == ADMIN[0] else (password or PASSWORD)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def server_start_refused(workdir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run `bakehouse server --auth` expecting it to refuse to start; ``env`` is added to the environment
    without any *ADMIN* variable of the test's own."""
    base = {k: v for k, v in os.environ.items() if "ADMIN" not in k}
    return subprocess.run(
        [
            str(Path(sys.executable).parent / "bakehouse"),
            "server",
            "--auth",
            "--port",
            "0",
            "--backend-store-uri",
            f"sqlite:///{workdir / 'a.db'}",
        ],
        check=False,
        capture_output=True,
        text=True,
        env={**base, **env},
        cwd=workdir,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
