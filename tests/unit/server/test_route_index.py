"""The fixed-path table in front of Starlette's route scan picks the route the scan would pick."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Match, Mount, Route
from starlette.testclient import TestClient

from bakehouse.server.app import create_app
from bakehouse.server.config import ServerConfig
from bakehouse.server.route_index import PathIndexedRouter, fixed_path_table


def scanned(routes: list[Any], path: str, method: str) -> Any:
    """The route Starlette's own scan gives a request (FULL match first, else the first PARTIAL)."""
    scope = {"type": "http", "path": path, "root_path": "", "method": method, "headers": []}
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


def test_the_servers_table_gives_the_scans_route_for_every_fixed_path(tmp_path: Any) -> None:
    app = create_app(
        ServerConfig(
            backend_store_uri=f"sqlite:///{tmp_path / 'db.sqlite'}",
            artifacts_destination=str(tmp_path / "artifacts"),
        )
    )
    assert isinstance(app.router, PathIndexedRouter)
    routes = app.router.routes
    table = fixed_path_table(routes)
    assert "/api/3.0/mlflow/traces/search" in table and "/api/2.0/mlflow/runs/search" in table
    assert len(table) > 50
    for path, route in table.items():
        for method in ("GET", "POST", "PATCH", "DELETE"):
            expected = scanned(routes, path, method)
            if method in (route.methods or ()):
                assert expected is route, (path, method)


async def _named(request: Request) -> PlainTextResponse:
    return PlainTextResponse(request.scope["route"].path)


def test_a_path_an_earlier_route_can_match_is_left_to_the_scan() -> None:
    routes: list[Any] = [
        Route("/items/{name}", _named, methods=["GET"]),
        Route("/items/special", _named, methods=["GET", "POST"]),
        Mount("/files", app=PlainTextResponse("mounted")),
        Route("/files/fixed", _named, methods=["GET"]),
        Route("/plain", _named, methods=["POST"]),
        Route("/plain", _named, methods=["GET"]),
    ]
    table = fixed_path_table(routes)
    assert set(table) == {"/plain"} and table["/plain"] is routes[4]
    app = Starlette(routes=routes)
    app.router = PathIndexedRouter(app.router.routes)
    with TestClient(app) as client:
        assert client.get("/items/special").text == "/items/{name}"  # the earlier route, as the scan gives
        assert client.post("/items/special").text == "/items/special"
        assert client.get("/files/fixed").text == "mounted"
        assert client.post("/plain").text == "/plain"
        assert client.get("/plain").text == "/plain"  # the table's route takes POST only: the scan finds GET
        assert client.put("/plain").status_code == 405
        assert client.get("/nowhere").status_code == 404


@pytest.mark.parametrize("root_path", ["", "/prefix"])
def test_a_root_path_goes_through_the_scan(root_path: str) -> None:
    app = Starlette(routes=[Route("/plain", _named, methods=["GET"])])
    app.router = PathIndexedRouter(app.router.routes)
    with TestClient(app, root_path=root_path) as client:
        assert client.get(f"{root_path}/plain").text == "/plain"
