"""Helpers for the in-process server tests: an app over fresh SQLite, and a sync client for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from bakehouse.server.app import create_app
from bakehouse.server.config import ServerConfig


def make_app(tmp_path: Path, **overrides: Any) -> Any:
    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path / 'server.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        serve_ui=False,
        **overrides,
    )
    return create_app(config)


class SyncASGIClient:
    """A synchronous facade over ``httpx.AsyncClient(transport=ASGITransport)`` (one event loop per client)."""

    def __init__(self, app: Any, base_url: str = "http://localhost") -> None:
        import asyncio

        self.app = app
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", url, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()
