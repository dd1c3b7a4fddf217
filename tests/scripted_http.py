"""A scripted HTTP server on 127.0.0.1 for the HTTP clients' unit tests (transport, artifact repository).

It records every request (method, raw path, query, headers, body) and answers from a queue of scripted
responses, falling back to ``200 {}``: enough to exercise retries, auth, quoting and hostile listings
over a real socket.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest
import uvicorn
from starlette.requests import Request
from starlette.responses import Response

from bakehouse.settings import HttpSettings


@dataclass
class Recorded:
    method: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    requests: list[Recorded] = field(default_factory=list)
    responses: list[tuple[int, dict[str, str], bytes, float]] = field(default_factory=list)

    def reply(
        self, status: int, body: Any = None, headers: dict[str, str] | None = None, delay: float = 0.0
    ) -> None:
        """Queue one response (sent after ``delay`` seconds); dict/list bodies are sent as JSON."""
        payload = json.dumps(body).encode() if isinstance(body, (dict, list)) else (body or b"")
        self.responses.append((status, headers or {}, payload, delay))

    def reset(self) -> None:
        self.requests.clear()
        self.responses.clear()


class ScriptedServer:
    """``port=0`` lets the kernel choose; a fixed port lets a test start the server where a client already
    tried to connect (a server that comes up, or back, late)."""

    def __init__(self, port: int = 0) -> None:
        self.script = Script()
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            ws="none",
            access_log=False,
            interface="asgi3",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.url = ""

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        body = await request.body()
        self.script.requests.append(
            Recorded(
                scope["method"],
                scope["raw_path"].decode("latin-1"),
                scope["query_string"].decode("latin-1"),
                {k.lower(): v for k, v in request.headers.items()},
                body,
            )
        )
        status, headers, payload, delay = (
            self.script.responses.pop(0) if self.script.responses else (200, {}, b"{}", 0.0)
        )
        if delay:
            await anyio.sleep(delay)
        media = "application/json" if payload[:1] in (b"{", b"[") else "application/octet-stream"
        await Response(payload, status_code=status, headers=headers, media_type=media)(scope, receive, send)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("scripted HTTP server did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self.server.servers[0].sockets[0].getsockname()[1]}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def scripted_server() -> Iterator[ScriptedServer]:
    """One scripted server per test module (import this fixture, and ``script``, where they are used)."""
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def script(scripted_server: ScriptedServer) -> Iterator[Script]:
    """The server's script, emptied before and after the test."""
    scripted_server.script.reset()
    yield scripted_server.script
    scripted_server.script.reset()


def http_settings(**overrides: object) -> HttpSettings:
    """Client settings for tests against the scripted server: no credentials, a tiny back-off."""
    values: dict[str, object] = {
        "username": None,
        "password": None,
        "token": None,
        "insecure_tls": False,
        "timeout": 10.0,
        "max_retries": 3,
        "backoff_factor": 0.01,
        "retry_timeout": 30.0,
    }
    values.update(overrides)
    return HttpSettings(**values)
