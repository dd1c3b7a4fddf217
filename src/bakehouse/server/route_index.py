"""Starlette's router with a table of fixed paths in front of its scan of every route.

Starlette finds a request's route by trying each route's regular expression in turn: ~90 tries for an
RPC near the end of the table, ~0.1 ms of every answer. Most RPC paths have no placeholders, so a
dict from path to route answers the same question in one look-up. A path is in the table only when no
route before its own could match it (whatever the method): the route the table gives is then the one the
scan would reach first. Anything else (a path with placeholders, a method the route does not take, a
``root_path``, a route list changed since the table was built) goes through Starlette's scan unchanged.
Middleware, the auth layer and error handling sit outside the router or inside the route, so they see
every request exactly as before.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute, Match, Route, Router
from starlette.types import Receive, Scope, Send


def fixed_path_table(routes: list[BaseRoute]) -> dict[str, Route]:
    """Path -> route for the plain routes whose path has no placeholder and that no earlier route matches."""
    table: dict[str, Route] = {}
    for n, route in enumerate(routes):
        if type(route) is not Route or route.param_convertors or route.path in table:
            continue
        if not any(_may_match(earlier, route) for earlier in routes[:n]):
            table[route.path] = route
    return table


def _may_match(earlier: BaseRoute, route: Route) -> bool:
    if type(earlier) is Route:
        return earlier.path_regex.match(route.path) is not None
    for method in route.methods or ("GET",):  # a mount, a host, anything else: ask it
        scope = {"type": "http", "path": route.path, "root_path": "", "method": method, "headers": []}
        if earlier.matches(scope)[0] is not Match.NONE:
            return True
    return False


class PathIndexedRouter(Router):
    """A :class:`~starlette.routing.Router` that looks fixed paths up in a table (see the module doc)."""

    _table: dict[str, Route] | None = None
    _table_for: tuple[int, int] = (0, 0)

    def _fixed_paths(self) -> dict[str, Route]:
        key = (id(self.routes), len(self.routes))
        if self._table is None or self._table_for != key:
            self._table, self._table_for = fixed_path_table(self.routes), key
        return self._table

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            route = self._fixed_paths().get(scope["path"])
            if route is not None:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    if "router" not in scope:
                        scope["router"] = self
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.handle(scope, receive, send)
                    return
        await super().app(scope, receive, send)


def index_router(app: Any) -> None:
    """Give a Starlette application built without a lifespan or a default handler of its router a
    :class:`PathIndexedRouter` with the same routes (before its first request)."""
    app.router = PathIndexedRouter(app.router.routes, redirect_slashes=app.router.redirect_slashes)
