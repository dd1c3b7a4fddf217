"""Prometheus metrics for ``GET /metrics``: requests by route and status, latencies, DB pool use, logging.

Labels never carry user data: a request is counted under its route *template* (``/api/2.0/mlflow/runs/get``,
``/api/2.0/mlflow-artifacts/artifacts/{artifact_path:path}``), never its concrete path or query, and paths
that match no route are counted together as ``unmatched``.

With several workers every process writes its numbers to files in one directory
(``PROMETHEUS_MULTIPROC_DIR``, made by the parent before it forks) and whichever worker answers
``/metrics`` adds them all up, so a scrape sees the whole server, not the one worker it happened to reach.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.routing import Match

logger = logging.getLogger(__name__)

from bakehouse import settings

UNMATCHED_ROUTE = "unmatched"
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]


@dataclass(frozen=True)
class ServerMetrics:
    requests: Counter
    latency: Histogram
    in_progress: Gauge
    pool_in_use: Gauge
    pool_capacity: Gauge
    logged_metrics: Counter
    logged_params: Counter
    logged_tags: Counter
    worker_restarts: Counter


#: the registry our metrics are declared in (never prometheus_client's global one, which a host app owns)
REGISTRY = CollectorRegistry(auto_describe=True)


@functools.cache
def server_metrics() -> ServerMetrics:
    """Declared on first use, i.e. in each worker after the fork (multiprocess files are per process)."""
    return ServerMetrics(
        requests=Counter(
            "bakehouse_http_requests",
            "HTTP requests answered, by route template, method and status code",
            ("route", "method", "status"),
            registry=REGISTRY,
        ),
        latency=Histogram(
            "bakehouse_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by route template and method",
            ("route", "method"),
            buckets=LATENCY_BUCKETS,
            registry=REGISTRY,
        ),
        in_progress=Gauge(
            "bakehouse_http_requests_in_progress",
            "Requests being answered right now",
            registry=REGISTRY,
            multiprocess_mode="livesum",
        ),
        pool_in_use=Gauge(
            "bakehouse_db_pool_connections_in_use",
            "Database connections checked out of the pools of the live workers",
            registry=REGISTRY,
            multiprocess_mode="livesum",
        ),
        pool_capacity=Gauge(
            "bakehouse_db_pool_connections_max",
            "Most database connections the live workers' pools may open (pool size + overflow)",
            registry=REGISTRY,
            multiprocess_mode="livesum",
        ),
        logged_metrics=Counter(
            "bakehouse_logged_metric_points", "Metric points received for logging", registry=REGISTRY
        ),
        logged_params=Counter("bakehouse_logged_params", "Params received for logging", registry=REGISTRY),
        logged_tags=Counter("bakehouse_logged_tags", "Run tags received for logging", registry=REGISTRY),
        worker_restarts=Counter(
            "bakehouse_worker_restarts",
            "Worker processes that died and were replaced by the server's parent process",
            registry=REGISTRY,
        ),
    )


def count_logged(metrics: int = 0, params: int = 0, tags: int = 0) -> None:
    """Logging throughput: called by the logging handlers with what one request carried."""
    m = server_metrics()
    if metrics:
        m.logged_metrics.inc(metrics)
    if params:
        m.logged_params.inc(params)
    if tags:
        m.logged_tags.inc(tags)


# ------------------------------------------------------------------------------------ several workers
def forget_worker(pid: int) -> None:
    """A worker died: its live gauges (requests in flight, pool use) no longer count."""
    if settings.prometheus_multiproc_dir():
        prometheus_multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]  # prometheus_client leaves it unannotated


def exposition() -> tuple[bytes, str]:
    """The text format a Prometheus scrape reads, for every worker of this server."""
    server_metrics()  # declared even before the first request, so a scrape always lists them
    if settings.prometheus_multiproc_dir():
        registry = CollectorRegistry()
        prometheus_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # unannotated upstream
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


# --------------------------------------------------------------------------------------- DB pools
_pool_events_installed = False


def watch_database_pools() -> None:
    """Count checked-out connections of every SQLAlchemy pool in this process (tracking, registry, auth)."""
    global _pool_events_installed
    if _pool_events_installed:
        return
    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    m = server_metrics()
    event.listen(Pool, "checkout", lambda *_: m.pool_in_use.inc())
    event.listen(Pool, "checkin", lambda *_: m.pool_in_use.dec())
    _pool_events_installed = True


def record_pool_capacity(engines: list[Any]) -> None:
    """This worker's most connections: the sum over its engines of pool size + overflow (SQLite included)."""
    capacity = 0
    for engine in engines:
        pool = engine.pool
        size = pool.size() if callable(getattr(pool, "size", None)) else 0
        capacity += size + max(0, int(getattr(pool, "_max_overflow", 0) or 0))
    server_metrics().pool_capacity.set(capacity)


# ------------------------------------------------------------------------------------- middleware
def _template_of(scope: Scope) -> str:
    """The route a request was for when it was answered before routing (refused by authentication, a
    failure in a middleware): matched here, on that rare path only."""
    router = getattr(scope.get("app"), "router", None)
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match != Match.NONE:
            return str(getattr(route, "path", UNMATCHED_ROUTE))
    return UNMATCHED_ROUTE


#: the methods counted under their own name; any other (WebDAV's PROPFIND, made-up words) is OTHER_METHOD,
#: so clients cannot add series to the metrics at will
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "other"


class RequestMetricsMiddleware:
    """Counts and times every HTTP request; the route template is read after routing has matched it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.metrics = server_metrics()
        #: labelled series by (route, method, status): looked up once, then one dict access per request
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def _record(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or _template_of(scope)
        method = scope.get("method", "GET")
        if method not in _METHODS:  # a client picks the method: other words share one label
            method = OTHER_METHOD
        key = (template, method, status)
        series = self._series.get(key)
        if series is None:
            m = self.metrics
            series = (m.requests.labels(template, method, str(status)), m.latency.labels(template, method))
            self._series[key] = series
        series[0].inc()
        series[1].observe(seconds)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500  # unless a response starts: an exception that escapes everything is a 500

        async def send_and_record(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_progress = self.metrics.in_progress
        in_progress.inc()
        try:
            await self.app(scope, receive, send_and_record)
        finally:
            in_progress.dec()
            self._record(scope, status, time.perf_counter() - start)
