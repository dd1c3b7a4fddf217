"""What a request handler gets besides its parsed request: the stores, the settings, the caller."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from bakehouse.server.config import ServerConfig
from bakehouse.store.registry.base import RegistryStore
from bakehouse.store.tracking.base import TrackingStore


@dataclass
class RequestContext:
    #: an ``--artifacts-only`` server has none, and mounts no handler that would use it
    tracking_store: TrackingStore
    registry_store: RegistryStore | None  # None when the registry is disabled
    settings: ServerConfig
    request: Request  # for handlers that need headers or the base URL
    username: str | None = None  # the authenticated user, when auth is on
    is_admin: bool = False
