"""The scripted HTTP server (``tests/scripted_http.py``) as fixtures for the artifact repository's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from scripted_http import Script, ScriptedServer


@pytest.fixture(scope="module")
def scripted_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def script(scripted_server: ScriptedServer) -> Iterator[Script]:
    scripted_server.script.reset()
    yield scripted_server.script
    scripted_server.script.reset()
