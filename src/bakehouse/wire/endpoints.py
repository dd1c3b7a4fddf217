"""The REST contract as data: one row per endpoint.

The server mounts its routes from this table, the REST stores build their calls from it, and the
OpenAPI document is generated from it; a test asserts the three agree. Each group of endpoints lives in
its own module (``wire/tracking.py``, ``wire/tracing.py``, ``wire/registry.py``, ``wire/artifacts.py``,
``wire/webhooks.py``, ``wire/auth.py``) and is gathered here.

Conventions:
- ``path`` is relative to the API root, e.g. ``/mlflow/runs/create``; the server mounts every row under
  ``/api/<version>`` and ``/ajax-api/<version>`` (plus ``--static-prefix``). A row with ``root=True`` is
  mounted at ``path`` itself instead (OpenTelemetry's ``/v1/traces``).
- ``request`` is a pydantic model (unknown fields ignored, MLflow's proto-JSON conventions), or None; it
  may be given as ``"module:Class"``, resolved by :meth:`Endpoint.request_model` on first use, so a client
  that only needs the paths (the REST stores) never imports pydantic.
- ``handler`` is ``"module:function"`` under ``bakehouse.server.handlers``; the function is called as
  ``handler(ctx: RequestContext, request: <request model instance>) -> dict`` and returns the JSON body.
  Streaming endpoints (artifact bytes) set ``raw=True`` and receive the Starlette request instead.
- ``permission`` names what the auth layer checks: ``(resource, level)`` where resource is
  ``"experiment" | "run" | "registered_model" | "logged_model" | "trace" (its experiment's) | "trace_start"
  (the experiment in the body's trace_location) | "experiment_header" (OTLP's x-mlflow-experiment-id) |
  "admin" | "user" | None`` and level is
  ``"read" | "update" | "delete" | "manage" | "create"``. ``None`` means no check beyond authentication.
- ``idempotent=True`` marks a POST/PATCH that is safe to send twice (searches, set-tag, log-batch: params
  must keep their value, tags are upserted, an identical metric point is stored once); the REST client
  retries those on 502/504 and timeouts (see ``bakehouse.wire.retry``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoint:
    name: str  # the RPC name, e.g. "CreateExperiment"
    method: str  # GET | POST | PATCH | DELETE | PUT
    path: str  # e.g. "/mlflow/experiments/create", may contain {placeholders}
    handler: str  # "tracking:create_experiment" -> bakehouse.server.handlers.tracking.create_experiment
    request: Any = None  # pydantic model class, "module:Class" (resolved on first use), or None
    response: Any = None  # pydantic model class (for OpenAPI) or None
    version: str = "2.0"
    raw: bool = False
    permission: tuple[str | None, str] = (None, "read")
    summary: str = ""
    extra_methods: tuple[str, ...] = field(default_factory=tuple)  # e.g. search accepts GET and POST
    #: sending the request twice leaves the same state as once (reads, upserts, log-batch): the client may
    #: then retry it after an answer that leaves in doubt whether it was processed (502/504, read timeout)
    idempotent: bool | None = None
    root: bool = False  # mounted at ``path`` under the server root, not under /api/<version>
    #: a short call (one small read, or one write transaction) that the server may run on its event loop
    #: when the store allows it (``answers_inline``), sparing two thread hand-offs per request
    inline: bool = False

    def request_model(self) -> Any:
        """The request's pydantic class (imported now if the row names it as ``"module:Class"``), or None."""
        return _resolve(self.request)

    @property
    def methods(self) -> tuple[str, ...]:
        return (self.method, *self.extra_methods)

    @property
    def safe_to_repeat(self) -> bool:
        """``idempotent`` when stated, else true for GET and PUT only."""
        return self.method in ("GET", "PUT") if self.idempotent is None else self.idempotent


def _resolve(ref: Any) -> Any:
    if not isinstance(ref, str):
        return ref
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


#: the modules of ``bakehouse.wire`` that hold an ``ENDPOINTS`` table, in the order they are served
GROUPS = ("tracking", "tracing", "artifacts", "registry", "webhooks", "auth", "transfer")


def endpoint_groups() -> dict[str, list[Endpoint]]:
    """Each group's endpoints. Imported on first use, so clients load only what they use."""
    return {name: list(importlib.import_module(f"bakehouse.wire.{name}").ENDPOINTS) for name in GROUPS}


def all_endpoints() -> list[Endpoint]:
    """Every endpoint of every group."""
    return [endpoint for group in endpoint_groups().values() for endpoint in group]
