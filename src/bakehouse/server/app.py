"""``create_app(config)``: the tracking server as a Starlette application.

Routes come from the ENDPOINTS table (``bakehouse.wire.endpoints.all_endpoints``), mounted under
``/api/<version>`` and ``/ajax-api/<version>`` behind ``--static-prefix``; the non-RPC routes (health,
version, server-info, OpenAPI, UI downloads) and the web UI are added around them.

Extension hooks (the auth layer uses them): ``middleware_factories`` wrap the router (each takes the ASGI
app and returns one) inside the security middleware, and ``handler_wrapper(endpoint, handler)`` wraps
every RPC handler. With ``config.app_name`` set, ``bakehouse.server.auth:hooks(config)`` supplies both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from bakehouse import plugins
from bakehouse.errors import ErrorCode
from bakehouse.server.artifact_access import ArtifactAccess
from bakehouse.server.auth import hooks as auth_hooks
from bakehouse.server.config import ServerConfig
from bakehouse.server.error_boundary import ErrorBoundaryMiddleware
from bakehouse.server.forwarded import ForwardedHeadersMiddleware
from bakehouse.server.handlers.meta import meta_routes
from bakehouse.server.metrics import RequestMetricsMiddleware, record_pool_capacity, watch_database_pools
from bakehouse.server.middleware import SecurityMiddleware
from bakehouse.server.route_index import index_router
from bakehouse.server.routing import HandlerWrapper, JSONResponse, routes_for
from bakehouse.server.ui.routes import ui_routes
from bakehouse.store.db.engine import open_engines
from bakehouse.store.registry.base import RegistryStore
from bakehouse.store.tracking.base import TrackingStore
from bakehouse.uri import uri_scheme
from bakehouse.wire.artifacts import ENDPOINTS as ARTIFACT_ENDPOINTS
from bakehouse.wire.endpoints import Endpoint, all_endpoints
from bakehouse.wire.tracking import AJAX_ONLY_ENDPOINTS

logger = logging.getLogger(__name__)

ASGIApp = Callable[..., Any]
MiddlewareFactory = Callable[[ASGIApp], ASGIApp]


def create_tracking_store(config: ServerConfig) -> TrackingStore:
    """The tracking store for ``--backend-store-uri`` (where artifact locations may point is checked by the
    server itself, in :class:`~bakehouse.server.artifact_access.ArtifactAccess`, for every store alike)."""
    factory = plugins.tracking_stores.get(uri_scheme(config.backend_store_uri) or "sqlite")
    store: TrackingStore = factory(config.backend_store_uri, config.effective_artifact_root)
    return store


def create_registry_store(config: ServerConfig) -> RegistryStore:
    """The registry store for the registry URI; a store that cannot be built stops the server with its error."""
    uri = config.effective_registry_uri
    store: RegistryStore = plugins.registry_stores.get(uri_scheme(uri) or "sqlite")(uri)
    return store


class _FactoryMiddleware:
    """Adapts ``factory(app) -> app`` to Starlette's ``Middleware(cls, **kwargs)``."""

    def __init__(self, app: ASGIApp, factory: MiddlewareFactory) -> None:
        self.app = factory(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


async def _not_found(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {"error_code": ErrorCode.ENDPOINT_NOT_FOUND.value, "message": f"No endpoint {request.url.path}"},
        status_code=404,
    )


async def _method_not_allowed(request: Request, exc: Exception) -> Response:
    return JSONResponse(
        {
            "error_code": ErrorCode.BAD_REQUEST.value,
            "message": f"Method {request.method} is not allowed for {request.url.path}",
        },
        status_code=405,
    )


def _auth_hooks(config: ServerConfig) -> tuple[list[MiddlewareFactory], HandlerWrapper | None]:
    if not config.app_name:
        return [], None
    middleware, wrapper = auth_hooks(config)
    return list(middleware), wrapper


def served_endpoints(config: ServerConfig) -> list[Endpoint]:
    if config.artifacts_only:
        return list(ARTIFACT_ENDPOINTS)
    endpoints = all_endpoints()
    if not config.serve_artifacts:
        names = {e.name for e in ARTIFACT_ENDPOINTS}
        endpoints = [e for e in endpoints if e.name not in names]
    return endpoints


def create_app(
    config: ServerConfig | None = None,
    *,
    tracking_store: TrackingStore | None = None,
    registry_store: RegistryStore | None = None,
    middleware_factories: Sequence[MiddlewareFactory] = (),
    handler_wrapper: HandlerWrapper | None = None,
) -> Starlette:
    """Build the application. Stores are created from ``config`` unless given (tests pass their own)."""
    config = (config or ServerConfig()).normalized()
    auth_middleware, auth_wrapper = _auth_hooks(config)
    wrapper = handler_wrapper or auth_wrapper
    prefix = config.static_prefix

    endpoints = served_endpoints(config)
    routes: list[BaseRoute] = list(meta_routes(prefix, artifacts_only=config.artifacts_only))
    routes += routes_for(endpoints, prefix, wrapper)
    if not config.artifacts_only:
        routes += routes_for(AJAX_ONLY_ENDPOINTS, prefix, wrapper, ajax_only=True)
        if config.serve_ui:
            routes += ui_routes(prefix)

    # outermost first: the real client address, then counting every answer, then JSON for any failure
    middleware: list[Middleware] = [
        Middleware(ForwardedHeadersMiddleware, trusted=config.forwarded_allow_ips),
        Middleware(RequestMetricsMiddleware),
        Middleware(ErrorBoundaryMiddleware),
    ]
    if not config.disable_security_middleware:
        middleware.append(Middleware(SecurityMiddleware, config=config))
    for factory in [*auth_middleware, *middleware_factories]:
        middleware.append(Middleware(_FactoryMiddleware, factory=factory))

    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={404: _not_found, 405: _method_not_allowed},
    )
    index_router(app)  # fixed RPC paths found in one look-up instead of a scan of every route
    app.state.config = config
    app.state.endpoints = endpoints
    app.state.openapi = None  # generated from the same rows on first request
    app.state.artifact_access = ArtifactAccess(config)
    if config.artifacts_only:
        app.state.tracking_store = tracking_store
        app.state.registry_store = registry_store
    else:
        app.state.tracking_store = (
            tracking_store if tracking_store is not None else create_tracking_store(config)
        )
        app.state.registry_store = (
            registry_store if registry_store is not None else create_registry_store(config)
        )
    watch_database_pools()
    record_pool_capacity(open_engines())
    app.state.webhook_dispatcher = (
        start_webhook_dispatcher(app.state.registry_store) if config.deliver_webhooks else None
    )
    return app


def start_webhook_dispatcher(registry_store: Any) -> Any:
    """This process's sender of registry webhooks (None when the registry is not on a SQL database)."""
    from bakehouse.store.webhooks.sql import SqlWebhookStore

    store = getattr(registry_store, "webhooks", None)
    if not isinstance(store, SqlWebhookStore):
        return None
    from bakehouse.store.webhooks.delivery import WebhookDispatcher

    return WebhookDispatcher(store).start()
