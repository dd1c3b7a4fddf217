"""A short-lived tracking server for one ``bakehouse run`` on a local store, so that the official ``mlflow``
client in the project's process logs to the same store.

MLflow's client cannot open Bakehouse's SQLite database (it would run its own migrations on it and fail),
but it speaks REST to a Bakehouse server. While a project runs against a local store, this serves that store
on a free loopback port, in a thread of the ``bakehouse run`` process; the child gets its address as
``MLFLOW_TRACKING_URI`` while Bakehouse's own client keeps ``BAKEHOUSE_TRACKING_URI`` (the database itself).
Artifacts are not proxied: runs and models keep their local artifact paths, which both clients write
directly. A random token that only the run's processes know (``MLFLOW_TRACKING_TOKEN``) guards every route,
so other local users cannot write through it; the server stops when the run ends.
"""

from __future__ import annotations

import json
import logging
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bakehouse.errors import TemporarilyUnavailableError
from bakehouse.server.config import ServerConfig

logger = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class Bridge:
    """Where the run's processes reach the store: ``url`` with ``Authorization: Bearer <token>``."""

    url: str
    token: str


class TokenGuard:
    """Refuses every HTTP request that does not carry the bridge's bearer token (401, MLflow's error body)."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            given = dict(scope.get("headers") or ()).get(b"authorization", b"")
            if not secrets.compare_digest(given, self.expected):
                body = json.dumps(
                    {"error_code": "UNAUTHENTICATED", "message": "This server only serves one bakehouse run"}
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"application/json")],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


@contextmanager
def serve_local_store(tracking_uri: str, artifact_root: str) -> Iterator[Bridge]:
    """Serve ``tracking_uri`` (and its registry) on ``127.0.0.1`` for the duration of the ``with`` block."""
    import uvicorn

    from bakehouse.server.app import create_app

    config = ServerConfig(
        backend_store_uri=tracking_uri,
        default_artifact_root=artifact_root,
        serve_artifacts=False,
        serve_ui=False,
        log_level="warning",
    )
    token = secrets.token_urlsafe(32)
    app = TokenGuard(create_app(config), token)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    server = uvicorn.Server(
        uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False, ws="none")
    )
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="bakehouse-run-bridge", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise TemporarilyUnavailableError(
                    "The run's local tracking server (for the mlflow client) did not start"
                )
            time.sleep(0.01)
        logger.info("Serving %s to the run's processes at %s", tracking_uri, url)
        yield Bridge(url, token)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
