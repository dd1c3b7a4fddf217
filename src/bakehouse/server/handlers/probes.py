"""``GET /ready`` (readiness) and ``GET /metrics`` (Prometheus); ``/health`` stays MLflow's liveness check.

- ``/health`` answers ``OK`` while the process can answer at all: restart it when this fails.
- ``/ready`` answers 200 only when the database and the artifact store both answer, else 503 with which
  one did not: a load balancer or Kubernetes stops sending traffic until it recovers (no restart).
- ``/metrics`` is the Prometheus text format for the whole server (all workers).

All three answer without credentials (probes and scrapers carry none) and say nothing about users' data:
the readiness body names the failing dependency and the exception type, never a host, a path or a message.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from bakehouse.server.metrics import exposition
from bakehouse.server.routing import JSONResponse

logger = logging.getLogger(__name__)

#: a dependency that has not answered within this many seconds counts as down for this probe
READY_TIMEOUT_SECONDS = 5.0


def _database_engines(state: Any) -> list[Any]:
    engines: list[Any] = []
    for store in (getattr(state, "tracking_store", None), getattr(state, "registry_store", None)):
        engine = getattr(store, "engine", None)
        if engine is not None and all(engine is not e for e in engines):
            engines.append(engine)
    return engines


def check_database(state: Any) -> None:
    for engine in _database_engines(state):
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")


def check_artifacts(state: Any) -> None:
    config = state.config
    if not config.serve_artifacts:
        return  # clients write to their own artifact store: nothing this server needs
    with state.artifact_access.destination_repo() as repo:
        repo.check_reachable()


async def _probe(name: str, check: Any, state: Any) -> str:
    outcome = "timeout"
    with anyio.move_on_after(READY_TIMEOUT_SECONDS):
        try:
            await anyio.to_thread.run_sync(check, state, abandon_on_cancel=True)
            outcome = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready"; the details go to the log
            logger.warning("Readiness: the %s does not answer: %s", name, " ".join(str(exc).split())[:300])
            outcome = f"unavailable ({type(exc).__name__})"
    if outcome == "timeout":
        logger.warning("Readiness: the %s did not answer within %.0f s", name, READY_TIMEOUT_SECONDS)
    return outcome


async def ready(request: Request) -> Response:
    state = request.app.state
    checks: dict[str, str] = {}
    if not state.config.artifacts_only:
        checks["database"] = await _probe("database", check_database, state)
    checks["artifacts"] = await _probe("artifact store", check_artifacts, state)
    ok = all(outcome == "ok" for outcome in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503
    )


async def metrics(request: Request) -> Response:
    body, content_type = await anyio.to_thread.run_sync(exposition)
    return Response(body, headers={"Content-Type": content_type})
