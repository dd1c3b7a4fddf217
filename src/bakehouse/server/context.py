"""What a request handler gets besides its parsed request: the stores, the settings, the caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class RequestContext:
    tracking_store: Any  # bakehouse.store.tracking.base.TrackingStore
    registry_store: Any  # bakehouse.store.registry.base.RegistryStore (None when the registry is disabled)
    settings: Any  # bakehouse.server.config.ServerConfig
    username: str | None = None  # the authenticated user, when auth is on
    is_admin: bool = False
    request: Any = None  # the starlette Request, for handlers that need headers or the base URL
